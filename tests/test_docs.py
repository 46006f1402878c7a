"""The documentation stands alone: what the code cites exists in the repository, and the README's layout
matches the tree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    p
    for folder in ("mixagg", "tests", "vignettes", "benchmarks", "docs")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in {".py", ".md", ".R", ".txt"} and p != Path(__file__).resolve()
) + [ROOT / "README.md"]
#: Documents that exist only outside the repository, and markers of the development process.
FOREIGN = re.compile(r"\b(MATH|MIXSIM|DESIGN|STYLE)\.md\b|\.\./shared|\bOURS\b|\[FLAG\]|\bSPEC \d|§11 #")
#: ``docs/page.md`` optionally followed by ``, "Heading"`` (how docstrings cite a section).
CITATION = re.compile(r"docs/([A-Za-z0-9_]+\.md)`{0,2}(?:,\s*\"([^\"]+)\")?")


def headings(page: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")}


def test_nothing_cites_documents_outside_the_repository():
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
        for p in SOURCES
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), start=1)
        if FOREIGN.search(line)
    ]
    assert not found, "\n".join(found)


def test_every_cited_docs_page_and_section_exists():
    missing = []
    for p in SOURCES:
        text = p.read_text(errors="replace")
        for match in CITATION.finditer(text):
            page = ROOT / "docs" / match.group(1)
            if not page.exists():
                missing.append(f"{p.relative_to(ROOT)}: docs/{match.group(1)} does not exist")
            elif match.group(2) and match.group(2) not in headings(page):
                missing.append(f"{p.relative_to(ROOT)}: docs/{match.group(1)} has no section {match.group(2)!r}")
    assert not missing, "\n".join(missing)


def test_the_docs_index_lists_every_page():
    index = (ROOT / "docs" / "README.md").read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md")
    assert pages and [p for p in pages if p not in index] == []


def layout_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Layout")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT / "mixagg"))
        for p in (ROOT / "mixagg").rglob("*.py")
        if p.name not in {"__init__.py", "__main__.py"}
    ),
)
def test_the_readme_layout_names_every_module(path):
    """Each module appears in the layout section by its name (``robust/pipeline.py`` or ``pipeline.py``
    under its folder)."""
    section = layout_section()
    assert Path(path).name in section, f"README's layout section does not mention mixagg/{path}"
