"""Component families: the exponential-family contract and its implementations.

See :class:`ExponentialFamily` for the contract and
:func:`mixagg.families.testing.check_family` for the conformance suite a new
family must pass.
"""

from . import frames  # noqa: F401 (the submodule, as mixagg.families.frames)
from .bernoulli import Bernoulli
from .categorical import Categorical
from .core import ExponentialFamily, ParamSpec, ProductIntegralDerivatives
from .exponential import Exponential
from .gamma import Gamma, GammaShapePenalty
from .gaussian import ChenTanPenalty, Gaussian
from .penalties import Penalty
from .poisson import Poisson
from .product import Product
from .registry import available_families, family_for_data, get_family, register_family, resolve_family

__all__ = [
    "Bernoulli",
    "Categorical",
    "Exponential",
    "ChenTanPenalty",
    "ExponentialFamily",
    "Gamma",
    "GammaShapePenalty",
    "Gaussian",
    "ParamSpec",
    "Penalty",
    "Poisson",
    "Product",
    "ProductIntegralDerivatives",
    "available_families",
    "family_for_data",
    "get_family",
    "register_family",
    "resolve_family",
]
