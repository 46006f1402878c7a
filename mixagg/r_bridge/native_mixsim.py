"""MixSim's generation algorithm in Python (docs/mixsim.md): random parameters, then a covariance scale
hitting the overlap target.

Written from the description in docs/mixsim.md, not from MixSim's sources. It follows MixSim's distributions and
sequence of steps (proportions, means, covariances; reachability; bracketed root search on
the common covariance scale :math:`c`; resampling up to ``resN`` attempts) but draws from a
``numpy.random.Generator``, so it reproduces MixSim's achieved overlaps, not its draws.
Differences, all deliberate:

* the root finder is Brent's method on :math:`\\log c` inside MixSim's brackets
  :math:`(0,4],(4,16],(16,256]` with MixSim's stopping rule :math:`|T(c)-T^*|\\le\\varepsilon`
  (allowed: the draws differ from R's anyway); roots beyond 256 are discarded as in MixSim (pitfall 15);
* overlaps come from :mod:`.native_overlap` (per-pair homogeneity, unit-eigenvalue split);
* in both-target mode a second-stage search that does not converge fails the attempt instead of
  returning zero covariance matrices as success (docs/mixsim.md, pitfall 8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .native_overlap import OverlapResult, PairQuantities, limit_overlap, overlap_from_pairs, pair_quantities

__all__ = ["GenerationSettings", "Generated", "draw_parameters", "generate", "pair_overlap"]

#: Upper ends of MixSim's root-search brackets for c; its fourth bracket (256, 65536] is dead (docs/mixsim.md, step 4).
SCALE_BRACKETS = (4.0, 16.0, 256.0)
#: First upper end of the both-target search for c (docs/mixsim.md, "Generation algorithm", step 5).
BOTH_MODE_UPPER = 1024.0
#: MixSim's iteration limit per bisection; also our limit for Brent's method and for downward bracketing.
MAX_ITERATIONS = 1000
#: Factor by which a lower bracket end is searched downwards from the upper end.
DOWN_STEP = 16.0


@dataclass(frozen=True)
class GenerationSettings:
    """Validated arguments of :func:`mixagg.r_bridge.mixsim` that the native algorithm uses (docs/mixsim.md)."""

    n_components: int
    dim: int
    bar_omega: float | None
    max_omega: float | None
    sph: bool
    hom: bool
    ecc: float
    pi_low: float
    box: tuple[float, float]
    res_n: int
    eps: float


@dataclass(frozen=True)
class Generated:
    """A successful attempt: parameters (scaled), the overlaps at the final scale, the attempt number (1-based)."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    overlap: OverlapResult
    attempt: int


def draw_parameters(
    settings: GenerationSettings, rng: np.random.Generator, *, hom: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One attempt's raw proportions, means and (unit-scale) covariances, in MixSim's order (docs/mixsim.md, steps 1-3).

    * proportions: all :math:`1/K` if PiLow >= 1; else :math:`\\pi_k=\\text{PiLow}+(1-K\\,\\text{PiLow})g_k/\\sum g`
      with :math:`g_k\\sim\\text{Exp}(1)`, falling back to :math:`1/K` when some :math:`\\pi_k<\\text{PiLow}`;
    * means: iid uniform on the ``int`` box;
    * general covariances: the sample covariance (divisor p) of p+1 standard normal vectors,
      i.e. Wishart_p(p, I)/p, with the eccentricity cap
      :math:`\\ell'=\\ell_{\\max}(1-e^2(\\ell_{\\max}-\\ell)/(\\ell_{\\max}-\\ell_{\\min}))` when
      :math:`\\sqrt{1-\\ell_{\\min}/\\ell_{\\max}}>e`; spherical: :math:`r\\,I_p`, :math:`r\\sim U(0,1)`
      (one draw, then one per component when heterogeneous).
    """
    k, p = settings.n_components, settings.dim
    weights = np.full(k, 1.0 / k)
    if settings.pi_low < 1.0:
        g = rng.standard_exponential(k)
        drawn = settings.pi_low + (1.0 - k * settings.pi_low) * g / g.sum()
        if np.all(drawn >= settings.pi_low):
            weights = drawn
    lo, hi = settings.box
    means = rng.uniform(lo, hi, size=(k, p))
    if settings.sph:
        r = rng.uniform()
        radii = np.full(k, r) if hom else rng.uniform(size=k)
        covs = radii[:, None, None] * np.eye(p)
        return weights, means, covs
    n_raw = 1 if hom else k
    z = rng.standard_normal((n_raw, p + 1, p))
    z -= z.mean(axis=1, keepdims=True)
    raw = np.swapaxes(z, 1, 2) @ z / p
    covs = _cap_eccentricity(0.5 * (raw + np.swapaxes(raw, 1, 2)), settings.ecc)
    return weights, means, np.repeat(covs, k, axis=0) if hom else covs


def _cap_eccentricity(covs: np.ndarray, ecc: float) -> np.ndarray:
    """Affinely shrink each spectrum whose eccentricity exceeds ``ecc`` onto eccentricity ``ecc`` (step 3)."""
    vals, vecs = np.linalg.eigh(covs)
    top, bottom = vals[:, -1:], vals[:, :1]
    too_eccentric = (1.0 - bottom[:, 0] / top[:, 0]) > ecc**2
    if not np.any(too_eccentric):
        return covs
    with np.errstate(divide="ignore", invalid="ignore"):
        capped = top * (1.0 - ecc**2 * (top - vals) / (top - bottom))
    vals = np.where(too_eccentric[:, None], capped, vals)
    out = (vecs * vals[:, None, :]) @ np.swapaxes(vecs, 1, 2)
    return 0.5 * (out + np.swapaxes(out, 1, 2))


class _Found(Exception):
    """Raised inside Brent's method to stop at the first point meeting the tolerance."""

    def __init__(self, x: float, value: object):
        super().__init__()
        self.x, self.value = x, value


def _solve(
    evaluate: Callable[[float], tuple[float, object]], target: float, eps: float, lower: float, upper: float
) -> tuple[float, object] | None:
    """A root of ``T(c) = target`` in ``(lower, upper]`` with MixSim's stopping rule ``|T(c) - target| <= eps``.

    ``lower`` may be 0.

    ``evaluate(c)`` returns ``(T(c), payload)``. T is taken as increasing in c (docs/mixsim.md).
    ``T(upper) < target - eps`` means no root here (``None``). With ``lower = 0`` a finite lower
    end is found by stepping down from ``upper`` by :data:`DOWN_STEP`. Then Brent's method on
    :math:`\\log c`, stopped as soon as an evaluation meets the tolerance; ``None`` when none does
    (a discontinuity, or an ``eps`` below the evaluator's accuracy).
    """
    value, payload = evaluate(upper)
    if abs(value - target) <= eps:
        return upper, payload
    if value < target:
        return None
    if lower > 0:
        value, payload = evaluate(lower)
        if abs(value - target) <= eps:
            return lower, payload
        if value > target:
            return None
    else:
        lower = upper
        for _ in range(MAX_ITERATIONS):
            lower /= DOWN_STEP
            if lower == 0.0:
                return None
            value, payload = evaluate(lower)
            if abs(value - target) <= eps:
                return lower, payload
            if value < target:
                break
        else:
            return None

    def f(log_c: float) -> float:
        c = math.exp(log_c)
        val, load = evaluate(c)
        if abs(val - target) <= eps:
            raise _Found(c, load)
        return val - target

    try:
        optimize.brentq(
            f, math.log(lower), math.log(upper), xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=MAX_ITERATIONS
        )
    except _Found as found:
        return found.x, found.value
    except RuntimeError:  # brentq's iteration limit
        return None
    return None


def pair_overlap(pairs: PairQuantities, a: int, b: int, scale: float) -> float:
    """:math:`w_{ab}(c)=o_{b|a}+o_{a|b}` of the two-component sub-mixture.

    The sub-mixture keeps the original (not renormalised) weights.
    """
    sub = PairQuantities(
        pairs.eigenvalues[np.ix_([a, b], [a, b])],
        pairs.d[np.ix_([a, b], [a, b])],
        pairs.kappa[np.ix_([a, b], [a, b])],
        pairs.log_ratio[np.ix_([a, b], [a, b])],
    )
    return overlap_from_pairs(sub, scale).max_omega


def _single_target(pairs: PairQuantities, settings: GenerationSettings) -> tuple[float, OverlapResult] | None:
    """docs/mixsim.md, step 4: reachability, then the bracketed root search for the common scale c."""
    statistic = "max_omega" if settings.max_omega is not None else "bar_omega"
    target = settings.max_omega if settings.max_omega is not None else settings.bar_omega
    eps = settings.eps
    if getattr(limit_overlap(pairs), statistic) < target - eps:
        return None

    cache: dict[float, tuple[float, OverlapResult]] = {}

    def evaluate(c: float) -> tuple[float, OverlapResult]:
        if c not in cache:
            result = overlap_from_pairs(pairs, c)
            cache[c] = (getattr(result, statistic), result)
        return cache[c]

    lower = 0.0
    for upper in SCALE_BRACKETS:  # the first bracket whose upper end reaches the target holds the root
        if evaluate(upper)[0] >= target - eps:
            return _solve(evaluate, target, eps, lower, upper)  # type: ignore[return-value]
        lower = upper
    return None


def _both_targets(pairs: PairQuantities, settings: GenerationSettings) -> tuple[np.ndarray, OverlapResult] | None:
    """docs/mixsim.md, step 5: calibrate the maximal pair to MaxOmega, then shrink the other components to BarOmega.

    Returns the per-component scales and the overlaps there, or ``None`` when the attempt fails.
    """
    bar, top, eps = settings.bar_omega, settings.max_omega, settings.eps
    k = settings.n_components
    limit = limit_overlap(pairs)
    if limit.max_omega < top - eps:
        return None
    current, upper = limit.rc_max, BOTH_MODE_UPPER
    for _ in range(k * (k - 1) // 2 + 1):  # each round moves to a pair still above the target at a smaller c
        a, b = current
        found = _solve(lambda c: (pair_overlap(pairs, a, b, c), None), top, eps, 0.0, upper)
        if found is None:
            return None
        c = found[0]
        full = overlap_from_pairs(pairs, c)
        upper = c
        if full.bar_omega < bar - eps:
            return None
        if full.max_omega < top + eps:
            break
        current = full.rc_max
    else:
        return None
    fixed = np.zeros(k, dtype=bool)
    fixed[list(full.rc_max)] = True  # the final map's maximal pair (usually the pair just calibrated)

    def evaluate(c_prime: float) -> tuple[float, tuple[np.ndarray, OverlapResult]]:
        scales = np.where(fixed, c, c * c_prime)
        result = overlap_from_pairs(pairs, scales)
        return result.bar_omega, (scales, result)

    if abs(full.bar_omega - bar) <= eps:
        return np.full(k, c), full
    second = _solve(evaluate, bar, eps, 0.0, 1.0)
    return None if second is None else second[1]  # type: ignore[return-value]


def generate(settings: GenerationSettings, rng: np.random.Generator) -> Generated | None:
    """Up to ``resN`` attempts of docs/mixsim.md; ``None`` when none reaches the target (MixSim's ``NULL``)."""
    both = settings.bar_omega is not None and settings.max_omega is not None
    for attempt in range(1, settings.res_n + 1):
        weights, means, covs = draw_parameters(settings, rng, hom=settings.hom and not both)
        pairs = pair_quantities(weights, means, covs)
        if both:
            outcome = _both_targets(pairs, settings)
            if outcome is not None:
                scales, result = outcome
                return Generated(weights, means, covs * scales[:, None, None], result, attempt)
        else:
            found = _single_target(pairs, settings)
            if found is not None:
                c, result = found
                return Generated(weights, means, covs * c, result, attempt)
    return None
