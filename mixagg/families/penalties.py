"""Penalties for the penalised MLE of finite mixtures ([J] App. A.1; ``docs/em.md``).

The penalised log-likelihood is :math:`p\\ell_n(G)=\\ell_n(G)-a_n\\sum_kp(\\theta_k)`.
A :class:`Penalty` knows :math:`a_n`, the per-component :math:`p(\\theta)` and
the penalised M-step :math:`\\arg\\max_\\theta\\{\\sum_j\\tau_{jk}\\log f(x_j;\\theta)-a_np(\\theta)\\}`,
so the EM never branches on the family: a family proposes its penalty through
the EM capability ``_default_penalty`` (:mod:`mixagg.em_support`) and the EM calls
``penalty.m_step``. Each concrete penalty lives with its family and checks the
family by type: :class:`ChenTanPenalty` in :mod:`mixagg.families.gaussian`,
:class:`GammaShapePenalty` in :mod:`mixagg.families.gamma`; both are re-exported
here (loaded on first access, so that the family modules can import :class:`Penalty`).
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from .core import Params

__all__ = ["ChenTanPenalty", "GammaShapePenalty", "Penalty"]  # noqa: F822 (the first two are loaded on access)


class Penalty(abc.ABC):
    """:math:`a_n\\sum_kp(\\theta_k)`: a penalty on component parameters with its penalised M-step.

    Parameters
    ----------
    strength : float
        :math:`a_n > 0`; the papers use :math:`n^{-1/2}` ([J] §5.1.2).
    """

    def __init__(self, strength: float):
        strength = float(strength)
        if not np.isfinite(strength) or strength <= 0:
            raise ValueError(f"strength must be a positive finite number, got {strength!r}")
        self.strength = strength

    @abc.abstractmethod
    def value(self, params: Params) -> np.ndarray:
        """:math:`p(\\theta_k)` for each component (without the strength), shape = batch shape."""

    @abc.abstractmethod
    def m_step(self, x: np.ndarray, resp: np.ndarray) -> Params:
        """Penalised weighted MLE: one component per row of ``resp`` ``(K, n)`` (non-negative weights)."""

    def check(self, family: Any, x: np.ndarray) -> None:
        """Raise ``TypeError``/``ValueError`` if the penalty does not fit this family and data.

        Called before fitting.
        """

    def total(self, params: Params) -> float:
        """:math:`a_n\\sum_kp(\\theta_k)`, the amount subtracted from the log-likelihood."""
        return float(self.strength * np.sum(self.value(params)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength:.6g})"


_CONCRETE = {"ChenTanPenalty": "gaussian", "GammaShapePenalty": "gamma", "SHAPE_BOUNDARY_GAP": "gamma"}


def __getattr__(name: str) -> Any:
    if name in _CONCRETE:
        import importlib

        return getattr(importlib.import_module(f".{_CONCRETE[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_CONCRETE])
