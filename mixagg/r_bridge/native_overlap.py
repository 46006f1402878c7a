"""Exact pairwise misclassification probabilities of a Gaussian mixture (MixSim's overlap).

See docs/mixsim.md, "Overlaps and misclassification probabilities".

:math:`o_{j|i}=P[\\pi_i\\phi(X;\\mu_i,\\Sigma_i)<\\pi_j\\phi(X;\\mu_j,\\Sigma_j)]`, :math:`X\\sim N(\\mu_i,\\Sigma_i)`,
reduced to the law of a quadratic form in independent normals, i.e. a linear combination of
non-central :math:`\\chi^2_1` terms plus a normal term (docs/mixsim.md), and evaluated by Imhof's
integral with the machinery of :class:`mixagg.theory.GeneralizedChiSquared`; homogeneous pairs
and p = 1 in closed form. Written from docs/mixsim.md; unlike MixSim it decides homogeneity per pair
and stays exact when a generalized eigenvalue is (near) 1, where MixSim is wrong, fails or
hangs (pitfalls 5-7 of docs/mixsim.md). Absolute error about 1e-10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from .._display import one_line
from ..theory.gchisq import IMHOF_ATOL, GeneralizedChiSquared

__all__ = [
    "OverlapResult",
    "PairQuantities",
    "limit_overlap",
    "native_overlap",
    "overlap_from_pairs",
    "pair_quantities",
    "summarise",
]

#: Generalized eigenvalues within this distance of 1 are treated as exactly 1 (docs/mixsim.md).
UNIT_EIGENVALUE_TOL = 1e-9
#: A probability whose Chernoff bound is below exp(this) is set to 0 (or its complement to 1): error < 1e-14.
NEGLIGIBLE_LOG_PROBABILITY = math.log(1e-14)
#: Coordinates whose noncentrality exceeds this are integrated without completing the square (:class:`_QuadraticForm`).
DIRECT_NONCENTRALITY = 1e3


@dataclass(frozen=True)
class PairQuantities:
    """Per ordered pair :math:`(i,j)`: generalized eigenvalues :math:`\\lambda`, :math:`d` and :math:`\\kappa_{ij}`.

    Here :math:`d=\\Gamma^\\top\\Sigma_i^{-1/2}(\\mu_i-\\mu_j)`.

    Arrays are indexed ``[i, j]``; the diagonal is unused. ``log_ratio[i, j]`` is
    :math:`\\log(\\pi_j/\\pi_i)` (the c -> infinity limit of homogeneous pairs needs it).
    Scaling covariances changes :math:`\\lambda,d,\\kappa` in closed form (docs/mixsim.md, :meth:`scaled`).
    """

    eigenvalues: np.ndarray  # (K, K, p)
    d: np.ndarray  # (K, K, p)
    kappa: np.ndarray  # (K, K)
    log_ratio: np.ndarray  # (K, K)

    def scaled(self, scale: Any = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:math:`(\\lambda,d,\\kappa)` after :math:`\\Sigma_k\\to s_k\\Sigma_k`.

        ``scale`` is a number or one :math:`s_k` per component.

        :math:`\\lambda_{ij}\\to\\lambda_{ij}s_i/s_j`, :math:`d_{ij}\\to d_{ij}/\\sqrt{s_i}`,
        :math:`\\kappa_{ij}\\to\\kappa_{ij}+p\\log(s_i/s_j)` (docs/mixsim.md; all components scaled
        alike leave :math:`\\lambda,\\kappa` unchanged).
        """
        k, p = self.kappa.shape[0], self.d.shape[-1]
        s = np.broadcast_to(np.asarray(scale, dtype=float), (k,))
        ratio = s[:, None] / s[None, :]
        lam = self.eigenvalues * ratio[..., None]
        d = self.d / np.sqrt(s)[:, None, None]
        return lam, d, self.kappa + p * np.log(ratio)


@dataclass(frozen=True, eq=False)
class OverlapResult:
    """MixSim's overlap summary (docs/mixsim.md, "Overlaps and misclassification probabilities").

    Attributes
    ----------
    omega_map : ndarray of shape (K, K)
        ``omega_map[i, j]`` :math:`=o_{j|i}` (row: the component X comes from); diagonal 1.
    bar_omega : float
        Mean of :math:`w_{ij}=o_{j|i}+o_{i|j}` over the :math:`K(K-1)/2` pairs.
    max_omega : float
        :math:`\\max_{i<j}w_{ij}`.
    rc_max : tuple of int
        The 0-based pair :math:`(i,j)`, :math:`i<j`, of the maximum (first in (0,1),(0,2),... order on ties).
    backend : str
        ``"python"`` (the native evaluator) or ``"r"`` (MixSim through rpy2).
    """

    omega_map: np.ndarray
    bar_omega: float
    max_omega: float
    rc_max: tuple[int, int]
    backend: str = "python"

    def __repr__(self) -> str:
        return one_line(
            "OverlapResult",
            K=self.omega_map.shape[0],
            bar_omega=self.bar_omega,
            max_omega=self.max_omega,
            rc_max=self.rc_max,
            backend=self.backend,
        )

    def with_backend(self, backend: str) -> OverlapResult:
        """The same values, labelled with the back-end that computed them."""
        return replace(self, backend=backend)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types (a named list in R)."""
        return {
            "omega_map": self.omega_map.tolist(),
            "bar_omega": self.bar_omega,
            "max_omega": self.max_omega,
            "rc_max": list(self.rc_max),
            "backend": self.backend,
        }


def pair_quantities(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> PairQuantities:
    """:math:`\\lambda,d,\\kappa` of every ordered pair from one eigen-decomposition per covariance and per pair.

    :math:`A_{ij}=\\Sigma_i^{1/2}\\Sigma_j^{-1}\\Sigma_i^{1/2}=\\Gamma\\operatorname{diag}\\lambda\\Gamma^\\top`,
    :math:`\\kappa_{ij}=\\log(\\pi_j^2/\\pi_i^2)+\\log(|\\Sigma_i|/|\\Sigma_j|)` (docs/mixsim.md), all pairs batched.
    """
    covs = 0.5 * (covs + np.swapaxes(covs, -1, -2))
    vals, vecs = np.linalg.eigh(covs)  # (K, p), (K, p, p)
    sqrt = (vecs * np.sqrt(vals)[:, None, :]) @ np.swapaxes(vecs, -1, -2)
    inv_sqrt = (vecs / np.sqrt(vals)[:, None, :]) @ np.swapaxes(vecs, -1, -2)
    inv = (vecs / vals[:, None, :]) @ np.swapaxes(vecs, -1, -2)
    logdet = np.sum(np.log(vals), axis=-1)
    a = sqrt[:, None] @ inv[None, :] @ sqrt[:, None]  # (K, K, p, p): A_ij
    lam, gamma = np.linalg.eigh(0.5 * (a + np.swapaxes(a, -1, -2)))
    m = np.einsum("iab,ijb->ija", inv_sqrt, means[:, None, :] - means[None, :, :])  # Sigma_i^{-1/2}(mu_i - mu_j)
    d = np.einsum("ijab,ija->ijb", gamma, m)
    logw = np.log(weights)
    log_ratio = logw[None, :] - logw[:, None]
    kappa = 2.0 * log_ratio + (logdet[:, None] - logdet[None, :])
    return PairQuantities(lam, d, kappa, log_ratio)


class _QuadraticForm(GeneralizedChiSquared):
    """The law of :math:`\\sum_k(a_kW_k^2+b_kW_k)`, :math:`W\\sim N(0,I)`.

    It is exact for every :math:`a_k` including :math:`a_k\\approx0`.

    Completing the square gives :math:`a_k\\chi^2_1(\\delta_k^2)-b_k^2/4a_k` with :math:`\\delta_k^2=b_k^2/4a_k^2`
    (docs/mixsim.md). When :math:`\\delta_k^2` is huge (an eigenvalue near 1, where MixSim hangs or
    fails) the noncentral phase term and the shift both grow like :math:`1/a_k` and cancel. Those
    coordinates use the phase with the cancellation done analytically, in Imhof's variable :math:`v`,

    .. math:: \\tfrac12\\Big[\\arctan(a_kv)-\\frac{b_k^2}{4}\\frac{a_kv^3}{1+a_k^2v^2}\\Big]
              \\quad\\text{instead of}\\quad
              \\tfrac12\\Big[\\arctan(a_kv)+\\frac{\\delta_k^2a_kv}{1+a_k^2v^2}\\Big]-\\frac{b_k^2v}{8a_k},

    exact also at :math:`a_k=0` (a normal term with sd :math:`|b_k|`); both share
    :math:`\\log\\varrho_k=\\tfrac14\\log(1+a_k^2v^2)+\\tfrac{b_k^2}{8}v^2/(1+a_k^2v^2)`. The other coordinates
    keep the completed square, whose phase is linear at large v as :class:`GeneralizedChiSquared`'s
    oscillating tail expects; the analytic form is used only where :math:`\\delta_k^2>` :data:`DIRECT_NONCENTRALITY`,
    so its amplitude is below :math:`e^{-\\delta_k^2/2}` long before its phase turns linear.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray):
        quarter_b2 = 0.25 * b * b
        direct = (a == 0) | (quarter_b2 > DIRECT_NONCENTRALITY * a * a)
        safe_a = np.where(direct, 1.0, a)
        shift = -float(np.sum(np.where(direct, 0.0, quarter_b2 / safe_a)))
        super().__init__(a, 1.0, 0.0, normal_sd=float(np.sqrt(np.sum(np.where(direct, b * b, 0.0)))), offset=shift)
        self._a, self._quarter_b2, self._direct, self._safe_a = a, quarter_b2, direct, safe_a

    def _phase_and_log_rho(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=float)[..., None]
        au = self._a * u
        sq = 1.0 + au * au
        shifted = np.where(self._direct, -self._quarter_b2 * au * u * u, self._quarter_b2 / self._safe_a * u) / sq
        phase = 0.5 * np.sum(np.arctan(au) + shifted, axis=-1)
        log_rho = np.sum(0.25 * np.log1p(au * au) + 0.5 * self._quarter_b2 * u * u / sq, axis=-1)
        return phase, log_rho

    def _truncation(self) -> float:
        """A point V beyond which :math:`\\int_V^\\infty|{\\rm integrand}|` is below the Imhof tolerance.

        Every factor of :math:`1/\\varrho` decreases in :math:`v`, and for the n coordinates with
        :math:`|a_k|V\\ge1`, :math:`(1+a_k^2V^2)/(1+a_k^2u^2)\\le2V^2/u^2` (u > V), so
        :math:`\\int_V^\\infty\\varrho^{-1}(u)\\,du/u\\le\\varrho^{-1}(V)\\,2^{n/4}\\,2/n`; with all :math:`a=0`
        the Gaussian bound :math:`\\varrho^{-1}(V)\\,4/(\\|b\\|^2V^2)`. The first grid point meeting it.
        """
        grid = np.geomspace(1e-8, 1e30, 457) / max(float(np.max(np.abs(self._a), initial=0.0)), self.normal_sd)
        log_amp = -self._phase_and_log_rho(grid)[1]
        n = np.sum(np.abs(self._a)[None, :] * grid[:, None] >= 1.0, axis=1)
        with np.errstate(divide="ignore"):
            if np.all(self._a == 0):
                tail = log_amp + np.log(4.0 / (self.normal_sd**2 * grid**2))
            else:
                tail = np.where(n > 0, log_amp + n * math.log(2) / 4 + np.log(2.0 / np.maximum(n, 1)), np.inf)
        ok = np.flatnonzero(tail < math.log(IMHOF_ATOL * 0.01))
        return float(grid[ok[0]]) if ok.size else math.inf


def _heterogeneous(lam: np.ndarray, d: np.ndarray, kappa: float) -> float:
    """:math:`o_{j|i}=P(\\sum_k[(\\lambda_k-1)W_k^2+2\\lambda_kd_kW_k]<\\kappa-\\sum_k\\lambda_kd_k^2)` for one pair
    (docs/mixsim.md).

    Equivalent to the split into :math:`\\sum_{k\\in F}(\\lambda_k-1)\\chi^2_1(\\delta_k^2)+\\sigma Z<t` over
    :math:`\\lambda_k\\ne1` and a normal term over :math:`\\lambda_k=1`, but evaluated without completing
    the square (:class:`_QuadraticForm`), so eigenvalues near 1 are as exact as any other.
    """
    law = _QuadraticForm(lam - 1.0, 2.0 * lam * d)
    return float(law.cdf(kappa - np.sum(lam * d * d)))


def _chernoff_log_bounds(lam: np.ndarray, d: np.ndarray, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chernoff bounds on :math:`\\log o_{j|i}` and :math:`\\log(1-o_{j|i})` for many pairs at once.

    One pair per row of ``lam`` and ``d``.

    Misclassification is :math:`Q=\\sum_k g_k(W_k)<\\kappa` with :math:`g_k(w)=a_kw^2+b_kw+c_k`,
    :math:`a=\\lambda-1`, :math:`b=2\\lambda d`, :math:`c=\\lambda d^2` (docs/mixsim.md) and
    :math:`\\log E e^{sg_k(W)}=-\\tfrac12\\log(1-2sa_k)+sc_k+s^2b_k^2/(2(1-2sa_k))` for :math:`1-2sa_k>0`.
    Every admissible :math:`s>0` bounds :math:`P(Q<\\kappa)\\le E e^{-sQ}e^{s\\kappa}` and
    :math:`P(Q\\ge\\kappa)\\le E e^{sQ}e^{-s\\kappa}`; the minimum over a grid of s is a valid
    (slightly loose) bound. Davies' routine uses the same device to skip negligible tails.
    """
    a, b, c = lam - 1.0, 2.0 * lam * d, lam * d * d

    def best(sign: float) -> np.ndarray:
        neg = np.max(
            -sign * a, axis=-1
        )  # the constraint 1 + 2 s sign a_k > 0 binds through the most negative sign * a_k
        s_max = np.where(neg > 0, 0.5 / np.where(neg > 0, neg, 1.0), np.inf)
        grid = np.geomspace(1e-10, 1e10, 201)
        edge = np.where(np.isfinite(s_max), s_max, 1e10)[:, None] * (1.0 - np.logspace(-1, -12, 12))[None, :]
        s = np.concatenate([np.broadcast_to(grid, (a.shape[0], grid.size)), edge], axis=1)[..., None]  # (P, S, 1)
        den = 1.0 + 2.0 * s * sign * a[:, None, :]
        ok = np.all(den > 0, axis=-1) & (s[..., 0] < s_max[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = -0.5 * np.log(den) - sign * s * c[:, None, :] + s * s * b[:, None, :] ** 2 / (2.0 * den)
            value = np.sum(terms, axis=-1) + sign * s[..., 0] * kappa[:, None]
        return np.min(np.where(ok, value, np.inf), axis=1)

    return best(1.0), best(-1.0)


def _univariate(lam: np.ndarray, d: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """:math:`o_{j|i}` for p = 1 heterogeneous pairs: :math:`P(aW^2+bW+c<0)`, :math:`W\\sim N(0,1)`, from the roots
    (docs/mixsim.md).

    :math:`a=\\lambda-1`, :math:`b=2\\lambda d`, :math:`c=\\lambda d^2-\\kappa`: the probability of the
    interval between the roots (a > 0) or of its complement (a < 0), with numerically stable roots.
    """
    a, b, c = lam - 1.0, 2.0 * lam * d, lam * d * d - kappa
    disc = b * b - 4.0 * a * c
    real = disc > 0
    root = np.sqrt(np.where(real, disc, 1.0))
    q = -0.5 * (b + np.copysign(root, b))
    r1, r2 = q / a, c / q  # q != 0: |b + sign(b) root| >= root > 0 where the roots are real
    lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
    between = np.where(lo > 0, stats.norm.sf(lo) - stats.norm.sf(hi), stats.norm.cdf(hi) - stats.norm.cdf(lo))
    between = np.where(real, between, 0.0)
    return np.where(a > 0, between, 1.0 - between)


def _omega_map(lam: np.ndarray, d: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """OmegaMap from per-pair :math:`(\\lambda,d,\\kappa)`; homogeneous pairs in closed form, all at once.

    A pair whose generalized eigenvalues all equal 1 (within :data:`UNIT_EIGENVALUE_TOL`) has
    :math:`o_{j|i}=\\Phi((\\kappa-\\Delta^2)/(2\\Delta))`, and for :math:`\\Delta=0` the strict
    inequality :math:`0<\\kappa` (docs/mixsim.md); for p = 1 every pair has a closed form
    (:func:`_univariate`). Otherwise pairs whose Chernoff bound shows a probability within 1e-14
    of 0 or 1 get that value, and each remaining pair is its own generalized chi-squared law
    (different coefficients per pair), evaluated one by one.
    """
    k = kappa.shape[0]
    omega = np.eye(k)
    off = ~np.eye(k, dtype=bool)
    homogeneous = np.all(np.abs(lam - 1.0) <= UNIT_EIGENVALUE_TOL, axis=-1) & off
    delta2 = np.sum(d**2, axis=-1)
    delta = np.sqrt(delta2)
    with np.errstate(divide="ignore", invalid="ignore"):
        normal = stats.norm.cdf((kappa - delta2) / (2.0 * delta))
    omega[homogeneous] = np.where(delta[homogeneous] > 0, normal[homogeneous], (kappa[homogeneous] > 0).astype(float))
    rest = off & ~homogeneous
    if lam.shape[-1] == 1:
        omega[rest] = _univariate(lam[rest][:, 0], d[rest][:, 0], kappa[rest])
        return omega
    rows, cols = np.nonzero(rest)
    log_lower, log_upper = _chernoff_log_bounds(lam[rows, cols], d[rows, cols], kappa[rows, cols])
    omega[rows, cols] = np.where(log_lower < NEGLIGIBLE_LOG_PROBABILITY, 0.0, 1.0)  # kept where a tail is negligible
    needed = (log_lower >= NEGLIGIBLE_LOG_PROBABILITY) & (log_upper >= NEGLIGIBLE_LOG_PROBABILITY)
    for i, j in zip(rows[needed], cols[needed]):
        omega[i, j] = _heterogeneous(lam[i, j], d[i, j], kappa[i, j])
    return omega


def overlap_from_pairs(pairs: PairQuantities, scale: Any = 1.0) -> OverlapResult:
    """The overlap summary after :math:`\\Sigma_k\\to s_k\\Sigma_k` (``scale`` a number or ``(K,)``; docs/mixsim.md)."""
    return summarise(_omega_map(*pairs.scaled(scale)))


def limit_overlap(pairs: PairQuantities) -> OverlapResult:
    """The :math:`c\\to\\infty` limit of :func:`overlap_from_pairs` (docs/mixsim.md): the largest reachable overlaps.

    Heterogeneous pairs: :math:`P(\\sum_{k\\in F}(\\lambda_k-1)\\chi^2_1<\\kappa_{ij})` (central; the
    unit-eigenvalue coordinates vanish with :math:`d`). Homogeneous pairs: 1, 0 or 1/2 as
    :math:`\\pi_j>\\pi_i`, :math:`\\pi_j<\\pi_i` or equal, MixSim's convention (docs/mixsim.md, pitfall 11).
    """
    lam, kappa = pairs.eigenvalues, pairs.kappa
    k = kappa.shape[0]
    omega = np.eye(k)
    off = ~np.eye(k, dtype=bool)
    homogeneous = np.all(np.abs(lam - 1.0) <= UNIT_EIGENVALUE_TOL, axis=-1) & off
    omega[homogeneous] = 0.5 * (1.0 + np.sign(pairs.log_ratio[homogeneous]))
    for i, j in zip(*np.nonzero(off & ~homogeneous)):
        lf = lam[i, j][np.abs(lam[i, j] - 1.0) > UNIT_EIGENVALUE_TOL]
        omega[i, j] = float(GeneralizedChiSquared(lf - 1.0, 1.0).cdf(kappa[i, j]))
    return summarise(omega)


def summarise(omega: np.ndarray) -> OverlapResult:
    """BarOmega, MaxOmega and the first maximising pair of an OmegaMap.

    See docs/mixsim.md, "Overlaps and misclassification probabilities".
    """
    k = omega.shape[0]
    i, j = np.triu_indices(k, 1)
    w = omega[i, j] + omega[j, i]
    if w.size == 0:
        return OverlapResult(omega, 0.0, 0.0, (0, 0))
    best = int(np.argmax(w))  # the first maximum in (0,1),(0,2),...,(1,2),... order, as MixSim's strict ">"
    rc = (int(i[best]), int(j[best])) if w[best] > 0 else (0, 0)
    return OverlapResult(omega, float(w.mean()), float(w[best]), rc)


def native_overlap(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> OverlapResult:
    """Exact overlaps of a Gaussian mixture (weights ``(K,)``, means ``(K, p)``, covariances ``(K, p, p)``)."""
    return overlap_from_pairs(pair_quantities(weights, means, covs))
