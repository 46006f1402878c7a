"""Exact pairwise misclassification probabilities of a Gaussian mixture (MixSim's overlap, MIXSIM.md §1.3, §2).

:math:`o_{j|i}=P[\\pi_i\\phi(X;\\mu_i,\\Sigma_i)<\\pi_j\\phi(X;\\mu_j,\\Sigma_j)]`, :math:`X\\sim N(\\mu_i,\\Sigma_i)`,
reduced to the law of a linear combination of non-central :math:`\\chi^2_1` terms plus a normal
term (MIXSIM.md §2.1) and evaluated with :class:`mixagg.theory.GeneralizedChiSquared`.
Written from MIXSIM.md; unlike MixSim it decides homogeneity per pair and splits the
coordinates with a unit generalized eigenvalue into the normal term (traps 5.5, 5.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ..theory.gchisq import GeneralizedChiSquared

__all__ = ["OverlapResult", "PairQuantities", "native_overlap", "overlap_from_pairs", "pair_quantities"]

#: Generalized eigenvalues within this distance of 1 are treated as exactly 1 (MIXSIM.md §2.1).
UNIT_EIGENVALUE_TOL = 1e-9


@dataclass(frozen=True)
class PairQuantities:
    """Per ordered pair :math:`(i,j)`: generalized eigenvalues :math:`\\lambda`, :math:`d=\\Gamma^\\top\\Sigma_i^{-1/2}(\\mu_i-\\mu_j)`, :math:`\\kappa_{ij}`.

    Arrays are indexed ``[i, j]``; the diagonal is unused. Scaling every covariance by
    :math:`c` leaves :math:`\\lambda,\\kappa` unchanged and maps :math:`d\\to d/\\sqrt c` (MIXSIM.md §2.2).
    """

    eigenvalues: np.ndarray  # (K, K, p)
    d: np.ndarray  # (K, K, p)
    kappa: np.ndarray  # (K, K)


@dataclass(frozen=True, eq=False)
class OverlapResult:
    """MixSim's overlap summary (MIXSIM.md §1.3).

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
    """

    omega_map: np.ndarray
    bar_omega: float
    max_omega: float
    rc_max: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "omega_map": self.omega_map.tolist(),
            "bar_omega": self.bar_omega,
            "max_omega": self.max_omega,
            "rc_max": list(self.rc_max),
        }


def pair_quantities(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> PairQuantities:
    """:math:`\\lambda,d,\\kappa` of every ordered pair from one eigen-decomposition per covariance and per pair.

    :math:`A_{ij}=\\Sigma_i^{1/2}\\Sigma_j^{-1}\\Sigma_i^{1/2}=\\Gamma\\operatorname{diag}\\lambda\\Gamma^\\top`,
    :math:`\\kappa_{ij}=\\log(\\pi_j^2/\\pi_i^2)+\\log(|\\Sigma_i|/|\\Sigma_j|)` (MIXSIM.md §2.1), all pairs batched.
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
    kappa = 2.0 * (logw[None, :] - logw[:, None]) + (logdet[:, None] - logdet[None, :])
    return PairQuantities(lam, d, kappa)


def _misclassification(lam: np.ndarray, d: np.ndarray, kappa: float) -> float:
    """:math:`o_{j|i}=P(\\sum_{k\\in F}(\\lambda_k-1)\\chi^2_1(\\delta_k^2)+\\sigma Z<t)` for one ordered pair (MIXSIM.md §2.1)."""
    unit = np.abs(lam - 1.0) <= UNIT_EIGENVALUE_TOL
    lf, df = lam[~unit], d[~unit]
    sigma = 2.0 * float(np.sqrt(np.sum(d[unit] ** 2)))
    t = float(kappa + np.sum(lf * df**2 / (lf - 1.0)) - np.sum(d[unit] ** 2))
    if lf.size == 0:
        if sigma == 0.0:  # identical components: the strict inequality 0 < t
            return 1.0 if t > 0 else 0.0
        return float(stats.norm.cdf(t / sigma))  # homogeneous pair: Phi((kappa - Delta^2) / (2 Delta))
    law = GeneralizedChiSquared(lf - 1.0, 1.0, (lf * df / (lf - 1.0)) ** 2, normal_sd=sigma)
    return float(law.cdf(t))


def overlap_from_pairs(pairs: PairQuantities, scale: float = 1.0) -> OverlapResult:
    """The overlap summary with every covariance multiplied by ``scale`` (:math:`d\\to d/\\sqrt c`, MIXSIM.md §2.2)."""
    k = pairs.kappa.shape[0]
    omega = np.eye(k)
    root = np.sqrt(scale)
    for i in range(k):  # K(K-1) independent laws (different weights per pair): no shared vectorisation
        for j in range(k):
            if i != j:
                omega[i, j] = _misclassification(pairs.eigenvalues[i, j], pairs.d[i, j] / root, pairs.kappa[i, j])
    return summarise(omega)


def summarise(omega: np.ndarray) -> OverlapResult:
    """BarOmega, MaxOmega and the first maximising pair of an OmegaMap (MIXSIM.md §1.3)."""
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
