"""Covariance structures of Gaussian mixtures: scikit-learn's names, mclust's model names, and what they mean.

A structure is a shape of each covariance (``full``, ``diag`` or ``spherical``) and whether all components
share one covariance (``tied``). scikit-learn's four names are ``full``, ``tied`` (shared full), ``diag`` and
``spherical``; the two shared axis-aligned structures that scikit-learn has no name for are ``tied_diag`` and
``tied_spherical``. mclust's names read volume, shape and orientation (E: equal across components, V: varying,
I: identity), see ``docs/covariance.md``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "COVARIANCE_TYPES",
    "MCLUST_MODEL_NAMES",
    "MCLUST_UNSUPPORTED",
    "CovarianceStructure",
    "covariance_structure",
    "mclust_model_name",
]

#: The covariance structures, by the name this library uses.
COVARIANCE_TYPES = ("full", "tied", "diag", "tied_diag", "spherical", "tied_spherical")

#: mclust's model names with a closed-form M-step, mapped to the structure of the same model.
MCLUST_MODEL_NAMES = MappingProxyType(
    {
        "VVV": "full",
        "EEE": "tied",
        "VVI": "diag",
        "EEI": "tied_diag",
        "VII": "spherical",
        "EII": "tied_spherical",
        # univariate models: equal or varying variance
        "E": "tied_spherical",
        "V": "spherical",
    }
)

_ITERATIVE = (
    "its M-step has no closed form (mclust solves it by an inner iteration over the eigen-decomposition of "
    "Celeux & Govaert 1995), and the moment-matching barycentre of the mixture reduction leaves the structure"
)

#: mclust's other model names and why they are not offered.
MCLUST_UNSUPPORTED = MappingProxyType(
    {name: _ITERATIVE for name in ("EVI", "VEI", "EVE", "VEE", "VVE", "EEV", "VEV", "EVV")}
)


class CovarianceStructure(NamedTuple):
    """A covariance structure: its name, the shape of each covariance, and whether components share it."""

    name: str
    shape: str
    tied: bool


def covariance_structure(covariance_type: Any, d: int | None = None) -> CovarianceStructure:
    """The structure named by ``covariance_type``: one of :data:`COVARIANCE_TYPES` or an mclust model name.

    Parameters
    ----------
    covariance_type : str
        ``"full"``, ``"tied"``, ``"diag"``, ``"tied_diag"``, ``"spherical"``, ``"tied_spherical"``, or one of
        mclust's names in :data:`MCLUST_MODEL_NAMES` (upper case, e.g. ``"VVI"``).
    d : int, optional
        The dimension, to check that a univariate mclust name (``"E"``, ``"V"``) is used with ``d = 1``.

    Raises
    ------
    TypeError
        If ``covariance_type`` is not a string.
    ValueError
        If it names no structure, or an mclust model without a closed-form M-step (the message says why).
    """
    if not isinstance(covariance_type, str):
        raise TypeError(f"covariance_type must be a str, got {type(covariance_type).__name__}")
    name = covariance_type
    if name in MCLUST_MODEL_NAMES:
        if len(name) == 1 and d is not None and d != 1:
            raise ValueError(f"covariance_type={name!r} is mclust's univariate model; the data have d = {d}")
        name = MCLUST_MODEL_NAMES[name]
    elif name in MCLUST_UNSUPPORTED:
        raise ValueError(f"covariance_type={name!r} (mclust) is not supported: {MCLUST_UNSUPPORTED[name]}")
    if name not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES} or an mclust model name "
            f"{tuple(MCLUST_MODEL_NAMES)}, got {covariance_type!r}"
        )
    tied = name.startswith("tied")
    shape = name.removeprefix("tied_") if name != "tied" else "full"
    return CovarianceStructure(name, shape, tied)


def mclust_model_name(covariance_type: str, d: int) -> str:
    """mclust's name of a structure (``"E"``/``"V"`` in one dimension, where mclust uses those)."""
    structure = covariance_structure(covariance_type, d)
    if d == 1:
        return "E" if structure.tied else "V"
    return next(key for key, value in MCLUST_MODEL_NAMES.items() if value == structure.name and len(key) == 3)
