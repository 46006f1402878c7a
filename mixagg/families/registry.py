"""Name -> family registry: ``get_family("gaussian", d=10)`` and ``register_family``."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from .bernoulli import Bernoulli
from .categorical import Categorical
from .core import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .gaussian import Gaussian
from .poisson import Poisson
from .product import Product

__all__ = [
    "available_families",
    "family_for_data",
    "get_family",
    "register_family",
    "registered_factory",
    "resolve_family",
]

FamilyFactory = Callable[..., ExponentialFamily]

_REGISTRY: dict[str, FamilyFactory] = {}


def _key(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"family name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    if not key:
        raise ValueError("family name must not be empty")
    return key


def register_family(
    family: str | type[ExponentialFamily] | None = None,
    factory: FamilyFactory | None = None,
    *,
    overwrite: bool = False,
):
    """Register a family; the key is the class attribute ``name`` (case-insensitive).

    Forms:

    * ``register_family(MyFamily)`` or the decorator ``@register_family`` /
      ``@register_family(overwrite=True)``: a subclass of :class:`ExponentialFamily`,
      registered under ``MyFamily.name``, so the key always matches ``to_dict()["name"]``
      (the wire format and :func:`~mixagg.engine.fit_partitions` rebuild families by that name);
    * ``register_family("name", factory)`` or ``@register_family("name")``: a plain
      function returning a family instance needs an explicit name.

    Passing a name together with a family *class* is deprecated (``DeprecationWarning``):
    when it repeats ``cls.name`` it is redundant, and when it differs the family
    could not be found again from its own ``to_dict()``. It still registers under the given name.

    Parameters
    ----------
    family : ExponentialFamily subclass or str, optional
        The class to register, or the registry name of a factory function.
    factory : callable, optional
        With a name: a callable returning an instance; it receives the settings
        passed to :func:`get_family`. When omitted, a decorator is returned.
    overwrite : bool, default False
        Replace an existing registration instead of raising.

    Raises
    ------
    ValueError
        If the name is taken and ``overwrite`` is False, or a class has no ``name``.
    TypeError
        If the factory is not callable, or a factory function is given without a name.

    Examples
    --------
    >>> from mixagg.families import Exponential, get_family, register_family
    >>> @register_family(overwrite=True)
    ... class MyExponential(Exponential):
    ...     name = "my-exponential"
    >>> get_family("my-exponential")
    MyExponential()
    """
    if family is None:
        return lambda cls: _register_class(cls, overwrite)
    if isinstance(family, type):
        if factory is not None:
            raise TypeError(
                "register_family(cls) takes no factory; use register_family('name', factory) for a function"
            )
        return _register_class(family, overwrite)
    if not isinstance(family, str):
        if callable(family):
            raise TypeError("a factory function needs a name: register_family('name', factory)")
        raise TypeError(f"family name must be a str, got {type(family).__name__}")
    key = _key(family)

    def decorate(fac: FamilyFactory) -> FamilyFactory:
        if isinstance(fac, type) and issubclass(fac, ExponentialFamily):
            _warn_named_class(key, fac)
        return _store(key, fac, overwrite)

    if factory is None:
        return decorate
    return decorate(factory)


def _register_class(cls: Any, overwrite: bool) -> type[ExponentialFamily]:
    if not (isinstance(cls, type) and issubclass(cls, ExponentialFamily)):
        raise TypeError(f"register_family(cls) needs a subclass of ExponentialFamily, got {cls!r}")
    if not isinstance(cls.name, str) or not cls.name.strip():
        raise ValueError(f"{cls.__name__} has no registry name: set the class attribute name = '...'")
    return _store(_key(cls.name), cls, overwrite)


def _warn_named_class(key: str, cls: type[ExponentialFamily]) -> None:
    if key == _key(cls.name or " "):
        why = "the name repeats the class attribute name"
    else:
        why = f"{cls.__name__}.to_dict() names it {cls.name!r}, which the registry would not find"
    warnings.warn(
        f"register_family({key!r}, {cls.__name__}) is deprecated: {why}; call register_family({cls.__name__}) "
        "(the key is the class attribute name)",
        DeprecationWarning,
        stacklevel=3,
    )


def _store(key: str, fac: Any, overwrite: bool) -> Any:
    if not callable(fac):
        raise TypeError(f"factory must be callable (a family class or function), got {type(fac).__name__}")
    if key in _REGISTRY and not overwrite and _REGISTRY[key] is not fac:
        raise ValueError(f"a family named {key!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[key] = fac
    return fac


def available_families() -> list[str]:
    """Sorted names of the registered families (installed plug-ins included, ``docs/plugins.md``)."""
    _load_plugins()
    return sorted(_REGISTRY)


def registered_factory(name: str) -> FamilyFactory | None:
    """The class or factory registered as ``name`` (case-insensitive), or None; plug-ins are loaded on a miss."""
    key = _key(name)
    if key not in _REGISTRY:
        _load_plugins()
    return _REGISTRY.get(key)


def _load_plugins() -> None:
    from ..plugins import load_entry_points

    load_entry_points("mixagg.families")


def get_family(family: str | ExponentialFamily, **settings: Any) -> ExponentialFamily:
    """Return a family instance from its name and settings.

    Parameters
    ----------
    family : str or ExponentialFamily
        A registered name (case-insensitive) or an instance, returned unchanged.
    **settings
        Fixed settings of the family, e.g. ``d=10`` for ``"gaussian"``.
        Integral floats are accepted (R sends doubles).

    Raises
    ------
    ValueError
        Unknown name (the message lists the registered ones).
    TypeError
        Missing or unexpected settings, or an instance given together with settings.

    Examples
    --------
    >>> from mixagg.families import get_family
    >>> get_family("gaussian", d=3)
    Gaussian(d=3)
    >>> get_family("Poisson")
    Poisson()
    """
    if isinstance(family, ExponentialFamily):
        if settings:
            extra = {k: v for k, v in settings.items() if family.settings().get(k, object()) != v}
            if extra:
                raise TypeError(f"family is already an instance ({family!r}); settings {extra} conflict with it")
        return family
    key = _key(family)
    factory = registered_factory(key)
    if factory is None:
        raise ValueError(f"unknown family {family!r}; registered families: {', '.join(available_families())}")
    try:
        inspect.signature(factory).bind(**settings)
    except TypeError as exc:
        raise TypeError(
            f"get_family({key!r}) settings do not match {factory.__name__}{inspect.signature(factory)}: {exc}"
        ) from exc
    except ValueError:  # builtins without a signature
        pass
    out = factory(**settings)
    if not isinstance(out, ExponentialFamily):
        raise TypeError(f"the factory registered as {key!r} returned {type(out).__name__}, not an ExponentialFamily")
    return out


def family_for_data(name: str, x: Any) -> ExponentialFamily:
    """The family registered as ``name`` with settings read off a data matrix (e.g. ``d`` = columns of ``x``)."""
    key = _key(name)
    factory = registered_factory(key)
    settings: dict[str, Any] = {}
    if isinstance(factory, type) and issubclass(factory, ExponentialFamily):
        settings = factory.settings_for_data(x)
    return get_family(key, **settings)


def resolve_family(family: Any, params: Mapping[str, Any] | None = None) -> ExponentialFamily:
    """A family instance from an instance, a name, or a ``{"name": ..., **settings}`` mapping.

    Settings missing from a bare name are inferred from ``params`` when possible
    (e.g. ``d`` from a Gaussian mean), which lets R users write ``family = "gaussian"``.
    """
    if isinstance(family, ExponentialFamily):
        return family
    if isinstance(family, Mapping):
        spec = dict(family)
        if "name" not in spec:
            raise ValueError(f"a family mapping needs a 'name' entry, got keys {sorted(spec)}")
        name = spec.pop("name")
        return get_family(name, **spec)
    if isinstance(family, str):
        key = _key(family)
        factory = registered_factory(key)
        settings: dict[str, Any] = {}
        if params is not None and isinstance(factory, type) and issubclass(factory, ExponentialFamily):
            settings = factory.infer_settings(params)
        return get_family(key, **settings)
    raise TypeError(
        "family must be an ExponentialFamily, a registered name or a {'name': ..., **settings} mapping; "
        f"got {type(family).__name__}"
    )


for _cls in (Gaussian, Gamma, Poisson, Exponential, Bernoulli, Categorical, Product):
    register_family(_cls)
