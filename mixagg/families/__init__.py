"""Component families: the exponential-family contract and its implementations.

See :class:`ExponentialFamily` for the contract and
:func:`mixagg.families.testing.check_family` for the conformance suite a new
family must pass.
"""

from .base import ExponentialFamily, ParamSpec
from .exponential import Exponential
from .gamma import Gamma
from .gaussian import Gaussian
from .poisson import Poisson
from .registry import available_families, get_family, register_family, resolve_family

__all__ = [
    "Exponential",
    "ExponentialFamily",
    "Gamma",
    "Gaussian",
    "ParamSpec",
    "Poisson",
    "available_families",
    "get_family",
    "register_family",
    "resolve_family",
]
