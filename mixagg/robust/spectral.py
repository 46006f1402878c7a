"""The spectral stage: colluders pushed one way inflate the kept estimates' spread along that way.

Estimates that pass the distance filter can still move the aggregate if they all lean in one
direction (threshold hugging, ALIE, inner-product manipulation: ``docs/attacks.md``). Leaning
together costs them variance along the direction of their lean, and the honest variance is
known from the theory: failure-free estimates are :math:`z_i\\sim N(0,\\operatorname{diag}\\lambda/n_i)`
in coordinates where the L2 distance is Euclidean ([J] Lemma 3.1, 4.1; ``docs/theory.md``). The
stage compares the largest eigenvalue of the kept estimates' covariance in the L2 space of
densities with its simulated honest law and, while it is too large, takes weight from the
estimates that lie farthest along the leading direction: the weighted filter of robust mean estimation
(Diakonikolas and Kane 2019, §2.4) in the Hilbert space of densities, computed from the distance
matrix alone. ``docs/aggregation.md``, "The spectral stage".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .coat import coat_radii

__all__ = [
    "SPECTRAL_COVERAGE",
    "SPECTRAL_TOP",
    "SpectralStage",
    "spectral_filter",
    "spectral_thresholds",
    "spread_scale",
    "spread_spectrum",
]

#: Probability that the stage removes nothing from failure-free estimates (by the simulated law).
SPECTRAL_COVERAGE = 0.99
#: How many of the largest spreads are tested (the first: see ``docs/aggregation.md``, "The spectral stage").
SPECTRAL_TOP = 1


@dataclass(frozen=True)
class SpectralStage:
    """What the spectral stage saw and did.

    Attributes
    ----------
    statistic : float
        :math:`\\max_l\\mu_l/(sq_l)` of the estimates the distance filter kept: :math:`\\mu_l` the
        largest eigenvalues of their weighted covariance in :math:`L^2`, :math:`s` the scale
        (:func:`spread_scale`), :math:`q_l` their honest quantiles. Above 1: a spread the honest law
        does not explain.
    thresholds : ndarray
        :math:`q_l`, the honest quantiles of :math:`\\mu_l/s`, largest spread first.
    positions : ndarray of int
        The estimates the distance filter kept (positions in the estimates).
    factors : ndarray of float
        The factor :math:`\\omega_i\\in[0,1]` of each of them on its MR weight (1: untouched, 0: removed).
    final : float
        The statistic after the reweighting.
    """

    statistic: float
    thresholds: np.ndarray
    positions: np.ndarray
    factors: np.ndarray
    final: float

    @property
    def removed(self) -> np.ndarray:
        """Positions whose factor is 0."""
        return self.positions[self.factors == 0.0]

    @property
    def reweighted(self) -> dict[int, float]:
        """Position to factor, for the estimates whose factor is below 1."""
        return {int(i): float(f) for i, f in zip(self.positions, self.factors) if f < 1.0}

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {
            "statistic": self.statistic,
            "thresholds": self.thresholds.tolist(),
            "reweighted": {str(k): v for k, v in self.reweighted.items()},
            "final": self.final,
        }


def _centred_gram(d2: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:math:`\\langle f_i-\\bar f,f_j-\\bar f\\rangle` from squared distances, :math:`\\bar f=\\sum_kw_kf_k`."""
    row = d2 @ w
    return -0.5 * (d2 - row[:, None] - row[None, :] + w @ row)


def spread_spectrum(d2: np.ndarray, w: np.ndarray, n_top: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_top`` largest spreads of the estimates in :math:`L^2` and each estimate's coordinates on them.

    The spreads are the eigenvalues of :math:`\\sum_iw_i(f_i-\\bar f)\\otimes(f_i-\\bar f)`.

    From the squared distances ``d2`` ``(k, k)`` and weights ``w`` summing to 1: the non-zero spectrum
    of the covariance operator is that of :math:`W^{1/2}G_cW^{1/2}`, :math:`G_c` the centred Gram
    matrix, and the coordinate of :math:`f_j-\\bar f` on the eigenfunction of :math:`\\mu_l` is
    :math:`(G_cW^{1/2}u_l)_j/\\sqrt{\\mu_l}`. Returns ``mu`` ``(n_top,)``, largest first, and the
    coordinates ``(k, n_top)`` (zero where :math:`\\mu_l=0`).
    """
    gc = _centred_gram(d2, w)
    sw = np.sqrt(w)
    mu, vec = np.linalg.eigh(sw[:, None] * gc * sw[None, :])
    mu = np.maximum(mu[::-1][:n_top], 0.0)
    vec = vec[:, ::-1][:, :n_top]
    scale = np.divide(1.0, np.sqrt(mu), out=np.zeros_like(mu), where=mu > 0)
    return mu, (gc @ (sw[:, None] * vec)) * scale


def spectral_thresholds(
    draws,
    honest: np.ndarray,
    m: int,
    radius: str,
    rho: float,
    lambdas: np.ndarray,
    coverage: float,
    n_top: int,
    *,
    absolute: bool,
) -> tuple[np.ndarray, float]:
    """Honest quantiles of the ``n_top`` largest spreads :math:`\\mu_l/s`, jointly at level ``coverage``.

    ``draws`` are the honest offsets of :func:`~mixagg.theory.suggest_rho` for the ``honest``
    machines; the others are infinitely far. Each replicate runs the COAT step and the filter
    :math:`\\mathsf D_{ci}\\le\\rho\\,r` and computes the spectrum of what the filter keeps, weighted by
    ``lambdas``, as :func:`spectral_filter` computes it on the data. Each :math:`\\mu_l/s` gets the
    quantile :math:`1-(1-\\text{coverage})/n_{\\rm top}` (Bonferroni).

    The scale :math:`s` (:func:`spread_scale`): with ``absolute`` (the draws carry the sample sizes),
    :math:`s=\\max(1,r^2/r_{\\rm med}^2)`, :math:`r_{\\rm med}` the median simulated radius, so the law's own
    scale is used unless the observed radius says the estimates spread more; otherwise :math:`s=r^2`.
    Returns the quantiles and :math:`r_{\\rm med}^2`.
    """
    k = honest.size
    lam = lambdas[honest]
    tops, radii = [], []
    for zs in draws.chunks(honest):  # (b, k, nu)
        sq = np.sum(zs * zs, axis=-1)
        d2 = np.maximum(sq[:, :, None] + sq[:, None, :] - 2.0 * zs @ np.swapaxes(zs, 1, 2), 0.0)
        d2[:, np.arange(k), np.arange(k)] = 0.0
        c, r2 = coat_radii(d2, radius, n_far=m - k) if radius != "median" else _median_radii(d2, m - k)
        dc2 = d2[np.arange(zs.shape[0]), c]
        w = np.where(dc2 <= rho * rho * r2[:, None], lam[None, :], 0.0)
        w /= w.sum(axis=1, keepdims=True)
        mean = np.einsum("bk,bkv->bv", w, zs)
        y = (zs - mean[:, None, :]) * np.sqrt(w)[:, :, None]
        small = y @ np.swapaxes(y, 1, 2) if k <= zs.shape[-1] else np.swapaxes(y, 1, 2) @ y
        top = np.linalg.eigvalsh(small)[:, ::-1][:, :n_top]
        tops.append(np.pad(top, ((0, 0), (0, n_top - top.shape[1]))))
        radii.append(r2)
    top, r2 = np.concatenate(tops), np.concatenate(radii)
    ok = np.isfinite(r2) & (r2 > 0)
    top, r2 = top[ok], r2[ok]
    reference = float(np.median(r2))
    values = top / spread_scale(r2, reference, absolute)[:, None]
    return np.quantile(values, 1.0 - (1.0 - coverage) / n_top, axis=0), reference


def spread_scale(r2: np.ndarray | float, reference: float, absolute: bool) -> np.ndarray | float:
    """The scale :math:`s` of the spreads: :math:`\\max(1,r^2/r_{\\rm med}^2)` with ``absolute``, else :math:`r^2`.

    With the sample sizes the honest law has an absolute scale, which colluders cannot shrink (an
    :math:`r^2` scale they can: identical copies near the COAT shrink the radius and make honest
    estimates look spread); a radius larger than the law's median says the estimates spread more
    than the limit predicts (small :math:`n`), and the scale follows it.
    """
    return np.maximum(np.divide(r2, reference), 1.0) if absolute else r2


def _median_radii(d2: np.ndarray, n_far: int) -> tuple[np.ndarray, np.ndarray]:
    c, r = coat_radii(np.sqrt(d2), "median", n_far=n_far)
    return c, r * r


def spectral_filter(
    d2: np.ndarray, lambdas: np.ndarray, scale: float, thresholds: np.ndarray, floor: float, max_steps: int = 200
) -> tuple[np.ndarray, float, float]:
    """Down-weight estimates along the most excessive spread until none exceeds its honest quantile.

    ``d2`` ``(k, k)``: squared distances among the estimates the distance filter kept; ``lambdas``:
    their weights; ``scale``: :math:`s` (:func:`spread_scale`); ``thresholds``: honest quantiles of the
    largest spreads :math:`\\mu_l/s` (:func:`spectral_thresholds`). The statistic is
    :math:`\\max_l\\mu_l/(sq_l)`; honest estimates exceed 1 with probability ``1 - coverage``.
    While it exceeds 1, every estimate's factor :math:`\\omega_i` is multiplied by
    :math:`1-\\tau_i/\\max_j\\tau_j`, :math:`\\tau_i=(c_i^2-sq_l)_+` the excess of its squared
    coordinate :math:`c_i` on the eigenfunction of the most excessive :math:`\\mu_l` of the
    :math:`\\omega\\lambda`-weighted covariance over the honest spread (the weighted filter of
    Diakonikolas and Kane 2019, §2.4): the estimate farthest along it drops out, the others lose
    weight in proportion to their excess, which lies mostly with the colluders; estimates within the
    honest spread keep theirs.
    It stops before :math:`\\sum_i\\omega_i` would fall below ``floor``. Returns :math:`\\omega` ``(k,)``
    and the statistic before and after.
    """
    omega = np.ones(d2.shape[0])
    first = None
    for _ in range(max_steps):
        w = omega * lambdas
        w = w / w.sum()
        mu, coord = spread_spectrum(d2, w, thresholds.size)
        ratios = mu / (scale * thresholds[: mu.size])
        worst = int(np.argmax(ratios))
        stat = float(ratios[worst])
        if first is None:
            first = stat
        tau = np.where(omega > 0, np.maximum(coord[:, worst] ** 2 - scale * thresholds[worst], 0.0), 0.0)
        if stat <= 1.0 or tau.max() == 0.0:
            break
        step = omega * (1.0 - tau / tau.max())
        if step.sum() < floor:
            break
        omega = step
    return omega, float(first), float(stat)
