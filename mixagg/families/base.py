"""Older import path of the family contract: re-exports :mod:`mixagg.families.core`."""

from .core import ExponentialFamily, Params, ParamSpec, ProductIntegralDerivatives, positive_problems, vech_indices

__all__ = [
    "ExponentialFamily",
    "Params",
    "ParamSpec",
    "ProductIntegralDerivatives",
    "positive_problems",
    "vech_indices",
]
