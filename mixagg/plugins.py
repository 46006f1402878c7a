"""Families and aggregation rules from other packages: entry points and modules named by the user.

An installed package offers a family or a rule by declaring an entry point in its
``pyproject.toml``::

    [project.entry-points."mixagg.families"]
    rayleigh = "my_package.rayleigh:Rayleigh"       # an ExponentialFamily subclass

    [project.entry-points."mixagg.rules"]
    median = "my_package.rules:GeometricMedian"      # an AggregationRule subclass or instance

An entry point may also name a module, whose import registers what it defines (with
:func:`~mixagg.families.register_family` / :func:`~mixagg.robust.register_method`).
:func:`~mixagg.families.get_family` and :func:`~mixagg.robust.get_method` load the entry points
the first time a name is not found, and the ``mixagg`` command loads them at start, so
installed plug-ins appear by name everywhere. A module that is not installed as a package is
named with :func:`import_plugin` (``mixagg --import MODULE`` on the command line).

A plug-in that fails to load is reported with a :class:`~mixagg.exceptions.PluginWarning`
and left out; the others and the built-in families and rules stay available. See
``docs/plugins.md``; a rule is written as in ``docs/aggregation.md``, "Writing a rule".
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["ENTRY_POINT_GROUPS", "PluginLoad", "import_plugin", "load_entry_points"]

#: What each entry-point group offers: ``"mixagg.families"`` families, ``"mixagg.rules"`` rules.
ENTRY_POINT_GROUPS = ("mixagg.families", "mixagg.rules")

_LOADED: dict[str, tuple[PluginLoad, ...]] = {}


@dataclass(frozen=True)
class PluginLoad:
    """What loading one entry point did: ``registered`` names, or the ``error`` that left it out."""

    group: str
    name: str
    value: str
    registered: tuple[str, ...] = ()
    error: str | None = None


def import_plugin(module: str) -> ModuleType:
    """Import a module by its dotted name, so that the families and rules it registers become available.

    Raises
    ------
    TypeError
        ``module`` is not a str.
    ValueError
        The module cannot be imported (the message names it and gives the reason).
    """
    if not isinstance(module, str):
        raise TypeError(f"module must be a dotted module name (str), got {type(module).__name__}")
    if not module.strip():
        raise ValueError("module must be a non-empty dotted module name")
    try:
        return importlib.import_module(module.strip())
    except Exception as exc:
        raise ValueError(f"cannot import plug-in module {module!r}: {type(exc).__name__}: {exc}") from exc


def _register(group: str, obj: Any) -> tuple[str, ...]:
    """Register what an entry point names; returns the names registered (none for a module)."""
    if isinstance(obj, ModuleType):
        return ()
    if group == "mixagg.families":
        from .families import ExponentialFamily, register_family
        from .families.registry import registered_factory

        if not (isinstance(obj, type) and issubclass(obj, ExponentialFamily)):
            raise TypeError(f"a mixagg.families entry point must name an ExponentialFamily subclass, got {obj!r}")
        if registered_factory(obj.name) is not obj:
            register_family(obj)
        return (obj.name,)
    from .robust import METHODS, AggregationRule, register_method

    instance = obj() if isinstance(obj, type) and issubclass(obj, AggregationRule) else obj
    if not isinstance(instance, AggregationRule):
        raise TypeError(f"a mixagg.rules entry point must name an AggregationRule subclass or instance, got {obj!r}")
    known = METHODS.get(instance.name)
    if known is None or type(known) is not type(instance):
        register_method(instance)
    return (instance.name,)


def load_entry_points(group: str | None = None) -> tuple[PluginLoad, ...]:
    """Load the installed plug-ins of one group (or of both), once per process.

    Parameters
    ----------
    group : {"mixagg.families", "mixagg.rules"}, optional
        Default: both.

    Returns
    -------
    tuple of PluginLoad
        One record per entry point, loaded or not; a failure is also a
        :class:`~mixagg.exceptions.PluginWarning` naming the entry point and the reason.
    """
    if group is not None and group not in ENTRY_POINT_GROUPS:
        raise ValueError(f"group must be one of {ENTRY_POINT_GROUPS} or None, got {group!r}")
    out: list[PluginLoad] = []
    for g in ENTRY_POINT_GROUPS if group is None else (group,):
        if g not in _LOADED:
            _LOADED[g] = ()  # a plug-in whose import asks for names again must not recurse
            _LOADED[g] = tuple(_load_one(g, ep) for ep in _entry_points(g))
        out.extend(_LOADED[g])
    return tuple(out)


def _entry_points(group: str) -> list[Any]:
    from importlib.metadata import entry_points

    seen: dict[tuple[str, str], Any] = {}
    for ep in entry_points(group=group):  # a distribution found twice on sys.path lists its entry points twice
        seen.setdefault((ep.name, ep.value), ep)
    return sorted(seen.values(), key=lambda ep: ep.name)


def _load_one(group: str, ep: Any) -> PluginLoad:
    from .exceptions import PluginWarning

    try:
        registered = _register(group, ep.load())
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"the {group} plug-in {ep.name!r} ({ep.value}) was not loaded: {reason}", PluginWarning, stacklevel=3
        )
        return PluginLoad(group, ep.name, ep.value, error=reason)
    return PluginLoad(group, ep.name, ep.value, registered=registered)
