"""Penalties for the penalised MLE of finite mixtures ([J] App. A.1; MATH.md §4.1, §4.3).

The penalised log-likelihood is :math:`p\\ell_n(G)=\\ell_n(G)-a_n\\sum_kp(\\theta_k)`.
A :class:`Penalty` knows :math:`a_n`, the per-component :math:`p(\\theta)` and
the penalised M-step :math:`\\arg\\max_\\theta\\{\\sum_j\\tau_{jk}\\log f(x_j;\\theta)-a_np(\\theta)\\}`,
so the EM never branches on the family: a family proposes its penalty through
``ExponentialFamily.default_penalty`` and the EM calls ``penalty.m_step``.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from .._validation import as_float_array
from .base import Params

__all__ = ["ChenTanPenalty", "GammaShapePenalty", "Penalty"]

#: With ``min_shape``, estimates stay at ``min_shape + SHAPE_BOUNDARY_GAP`` or above: strictly inside the
#: open space {shape > min_shape} (MATH.md §4.3 uses 0.5 + 1e-8).
SHAPE_BOUNDARY_GAP = 1e-8


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
        """Raise ``TypeError``/``ValueError`` if the penalty does not fit this family and data (called before fitting)."""

    def total(self, params: Params) -> float:
        """:math:`a_n\\sum_kp(\\theta_k)`, the amount subtracted from the log-likelihood."""
        return float(self.strength * np.sum(self.value(params)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength:.6g})"


class ChenTanPenalty(Penalty):
    r"""Chen–Tan (2009) penalty for Gaussian mixtures: :math:`p(\theta)=\operatorname{tr}(\Sigma^{-1}S_x)+\log\det\Sigma`.

    Parameters
    ----------
    strength : float
        :math:`a_n`.
    sample_cov : array-like of shape (d, d)
        :math:`S_x`, the sample covariance of the local data (divisor
        :math:`n-1`), symmetric positive definite.

    Notes
    -----
    The penalised M-step is closed form ([J] App. A.1, eq. (15)):
    :math:`\mu_k=n_k^{-1}\sum_j\tau_{jk}x_j` and
    :math:`\Sigma_k=\{2a_nS_x+\sum_j\tau_{jk}(x_j-\mu_k)(x_j-\mu_k)^\top\}/(2a_n+n_k)`,
    so :math:`\Sigma_k\succeq 2a_n/(n+2a_n)S_x\succ0` and no covariance can collapse.
    """

    def __init__(self, strength: float, sample_cov: Any):
        super().__init__(strength)
        cov = as_float_array(sample_cov, "sample_cov", ndim=2)
        if cov.shape[0] != cov.shape[1]:
            raise ValueError(f"sample_cov must be square, got shape {cov.shape}")
        try:
            self._chol = np.linalg.cholesky(0.5 * cov + 0.5 * cov.T)
        except np.linalg.LinAlgError:
            raise ValueError("sample_cov must be positive definite") from None
        self.sample_cov = 0.5 * cov + 0.5 * cov.T

    def check(self, family: Any, x: np.ndarray) -> None:
        if getattr(family, "name", None) != "gaussian":
            raise TypeError(f"ChenTanPenalty penalises Gaussian mixtures, not {family!r}")
        if self.sample_cov.shape[0] != family.d:
            raise ValueError(f"sample_cov is {self.sample_cov.shape[0]}x{self.sample_cov.shape[0]} but the data have d={family.d}")

    def value(self, params: Params) -> np.ndarray:
        cov = params["cov"]
        lower = np.linalg.cholesky(cov)
        eye = np.broadcast_to(np.eye(cov.shape[-1]), cov.shape)
        inv_chol = np.tril(np.linalg.solve(lower, eye))  # Sigma^{-1} = M^T M
        trace = np.sum(np.square(inv_chol @ self._chol), axis=(-2, -1))  # tr(M S M^T), S = C C^T
        log_det = 2.0 * np.log(np.diagonal(lower, axis1=-2, axis2=-1)).sum(axis=-1)
        return trace + log_det

    def m_step(self, x: np.ndarray, resp: np.ndarray) -> Params:
        nk = resp.sum(axis=1)
        means = (resp @ x) / nk[:, None]
        covs = np.empty((resp.shape[0], x.shape[1], x.shape[1]))
        for k in range(resp.shape[0]):  # one GEMM per component (K is small; n and d are not)
            diff = x - means[k]
            covs[k] = (resp[k][:, None] * diff).T @ diff
        covs = (2.0 * self.strength * self.sample_cov + covs) / (2.0 * self.strength + nk)[:, None, None]
        return {"mean": means, "cov": 0.5 * covs + 0.5 * np.swapaxes(covs, -1, -2)}


class GammaShapePenalty(Penalty):
    r"""Shape penalty of Chen, Li & Tan (2016) for Gamma mixtures: :math:`p(\theta)=r-\log r`.

    Minimised at :math:`r=1` and growing at both ends, it keeps the likelihood
    bounded ([A] App. A.1; [J] App. A.1 prints "r log r", a typesetting slip,
    MATH.md §4.1 [FLAG]).

    Parameters
    ----------
    strength : float
        :math:`a_n`.
    min_shape : float, default 0
        Estimate in the space :math:`\{r>\text{min\_shape}\}`; the default penalty of
        the Gamma family uses 1/2, the space of [J] §D.1 in which densities are
        square integrable (so L2 distances between estimates exist).

    Notes
    -----
    Penalised M-step (MATH.md §4.3, our derivation): :math:`\beta_k=\bar x_k/r_k`
    and :math:`r_k` the unique root of
    :math:`\log r-\psi(r)-s_k-(a_n/n_k)(1-1/r)=0` with
    :math:`s_k=\log\bar x_k-\overline{\log x}_k\ge0`, solved by safeguarded Newton
    in a bracket. The penalty keeps the root finite even when :math:`s_k=0`.
    """

    def __init__(self, strength: float, min_shape: float = 0.0):
        super().__init__(strength)
        min_shape = float(min_shape)
        if not (np.isfinite(min_shape) and min_shape >= 0):
            raise ValueError(f"min_shape must be a non-negative finite number, got {min_shape!r}")
        self.min_shape = min_shape

    def value(self, params: Params) -> np.ndarray:
        r = params["shape"]
        return r - np.log(r)

    def m_step(self, x: np.ndarray, resp: np.ndarray) -> Params:
        from .gamma import jensen_gap, solve_shape

        nk = resp.sum(axis=1)
        pi = resp / nk[:, None]
        s = jensen_gap(x, pi)
        shape = solve_shape(s, self.strength / nk)
        if self.min_shape > 0:
            # the profiled objective is concave in r: below the bound, the bound is the constrained maximiser
            shape = np.maximum(shape, self.min_shape + SHAPE_BOUNDARY_GAP)
        return {"shape": shape, "scale": (pi @ x) / shape}

    def check(self, family: Any, x: np.ndarray) -> None:
        if getattr(family, "name", None) != "gamma":
            raise TypeError(f"GammaShapePenalty penalises Gamma mixtures, not {family!r}")

    def __repr__(self) -> str:
        extra = f", min_shape={self.min_shape:g}" if self.min_shape else ""
        return f"{type(self).__name__}(strength={self.strength:.6g}{extra})"
