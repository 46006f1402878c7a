"""Name -> family registry: ``get_family("gaussian", d=10)`` and ``register_family``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from .core import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .gaussian import Gaussian
from .poisson import Poisson

__all__ = ["available_families", "family_for_data", "get_family", "register_family", "resolve_family"]

FamilyFactory = Callable[..., ExponentialFamily]

_REGISTRY: dict[str, FamilyFactory] = {}


def _key(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"family name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    if not key:
        raise ValueError("family name must not be empty")
    return key


def register_family(name: str, factory: FamilyFactory | None = None, *, overwrite: bool = False):
    """Register a family under ``name`` (case-insensitive).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"weibull"``.
    factory : callable, optional
        A subclass of :class:`ExponentialFamily` or any callable returning an
        instance; it receives the settings passed to :func:`get_family`. When
        omitted, ``register_family`` returns a class decorator.
    overwrite : bool, default False
        Replace an existing registration instead of raising.

    Raises
    ------
    ValueError
        If ``name`` is taken and ``overwrite`` is False.
    TypeError
        If ``factory`` is not callable.

    Examples
    --------
    >>> from mixagg.families import Exponential, get_family, register_family
    >>> @register_family("my-exponential", overwrite=True)
    ... class MyExponential(Exponential):
    ...     name = "my-exponential"
    >>> get_family("my-exponential")
    MyExponential()
    """
    key = _key(name)

    def decorate(fac: FamilyFactory) -> FamilyFactory:
        if not callable(fac):
            raise TypeError(f"factory must be callable (a family class or function), got {type(fac).__name__}")
        if key in _REGISTRY and not overwrite and _REGISTRY[key] is not fac:
            raise ValueError(f"a family named {key!r} is already registered; pass overwrite=True to replace it")
        _REGISTRY[key] = fac
        return fac

    if factory is None:
        return decorate
    return decorate(factory)


def available_families() -> list[str]:
    """Sorted names of the registered families."""
    return sorted(_REGISTRY)


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
    if key not in _REGISTRY:
        raise ValueError(f"unknown family {family!r}; registered families: {', '.join(available_families())}")
    factory = _REGISTRY[key]
    try:
        inspect.signature(factory).bind(**settings)
    except TypeError as exc:
        raise TypeError(f"get_family({key!r}) settings do not match {factory.__name__}{inspect.signature(factory)}: {exc}") from exc
    except ValueError:  # builtins without a signature
        pass
    out = factory(**settings)
    if not isinstance(out, ExponentialFamily):
        raise TypeError(f"the factory registered as {key!r} returned {type(out).__name__}, not an ExponentialFamily")
    return out


def family_for_data(name: str, x: Any) -> ExponentialFamily:
    """The family registered as ``name`` with settings read off a data matrix (e.g. ``d`` = columns of ``x``)."""
    key = _key(name)
    factory = _REGISTRY.get(key)
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
        factory = _REGISTRY.get(key)
        settings: dict[str, Any] = {}
        if params is not None and isinstance(factory, type) and issubclass(factory, ExponentialFamily):
            settings = factory.infer_settings(params)
        return get_family(key, **settings)
    raise TypeError(
        "family must be an ExponentialFamily, a registered name or a {'name': ..., **settings} mapping; "
        f"got {type(family).__name__}"
    )


for _cls in (Gaussian, Gamma, Poisson, Exponential):
    register_family(_cls.name, _cls)
