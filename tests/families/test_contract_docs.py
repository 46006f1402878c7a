"""The hook tables of docs/family_contract.md and the base-class docstring match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mixagg.em_support  # noqa: F401  (declares the EM capability)
import mixagg.reduction  # noqa: F401  (declares the KL-frame capability)
import mixagg.theory.derivatives  # noqa: F401  (declares the theory capability)
from mixagg._capabilities import CAPABILITIES
from mixagg.families import ExponentialFamily
from mixagg.families.derived import MOMENT_HOOKS, OVERRIDABLE_HOOKS
from mixagg.families.unchecked import UNCHECKED_OPERATIONS, UncheckedOperations

PAGE = Path(__file__).parents[2] / "docs" / "family_contract.md"


def _section(heading: str) -> str:
    text = PAGE.read_text()
    start = text.index(heading + "\n")
    level = heading.split(" ", 1)[0]
    rest = text[start + len(heading) + 1 :]
    end = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def _tables(section: str) -> list[list[str]]:
    """The names in backticks at the start of the first cell of each row, one list per table."""
    tables, current = [], None
    for line in section.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            cell = line.split("|")[1].strip()
            match = re.match(r"`([A-Za-z_][A-Za-z0-9_]*)", cell)
            if match:
                current.append(match.group(1))
        else:
            current = None
    return tables


def test_required_hooks_table_is_the_abstract_methods():
    (table,) = _tables(_section("## Required hooks"))
    assert sorted(table) == sorted(ExponentialFamily.__abstractmethods__)


def test_derived_operations_tables_match_the_declared_hooks():
    overridable, moments = _tables(_section("## Derived operations"))
    assert overridable == list(OVERRIDABLE_HOOKS)
    assert moments == list(MOMENT_HOOKS)
    for name in (*OVERRIDABLE_HOOKS, *MOMENT_HOOKS):
        assert callable(getattr(ExponentialFamily, name)), name


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_each_capability_has_its_table(capability):
    cap = CAPABILITIES[capability]
    headings = re.findall(r"^### .*\(`([\w.]+)`\)$", PAGE.read_text(), re.M)
    assert cap.owner in headings
    heading = next(h for h in PAGE.read_text().splitlines() if h.startswith("### ") and f"(`{cap.owner}`)" in h)
    (table,) = _tables(_section(heading))
    assert table == list(cap.hook_names)
    for name in cap.hook_names:  # the base class provides no default: the consumer's fallback is the default
        assert not hasattr(ExponentialFamily, name), name


def test_the_page_lists_every_capability():
    documented = re.findall(r"^### .*\(`([\w.]+)`\)$", _section("## Optional capabilities"), re.M)
    assert sorted(documented) == sorted(c.owner for c in CAPABILITIES.values())


def test_unchecked_table_matches_the_fast_path():
    (table,) = _tables(_section("## The unchecked fast path"))
    assert table == list(UNCHECKED_OPERATIONS)
    for name in UNCHECKED_OPERATIONS:
        assert callable(getattr(UncheckedOperations, name)), name
    public = {n for n in vars(UncheckedOperations) if not n.startswith("_") and callable(vars(UncheckedOperations)[n])}
    assert public == set(UNCHECKED_OPERATIONS)


def test_base_class_docstring_names_every_hook():
    doc = ExponentialFamily.__doc__
    names = [*ExponentialFamily.__abstractmethods__, *OVERRIDABLE_HOOKS, *MOMENT_HOOKS]
    names += [n for c in CAPABILITIES.values() for n in c.hook_names]
    missing = [n for n in names if f"``{n}" not in doc]
    assert not missing
    for cap in CAPABILITIES.values():
        assert cap.owner in doc
