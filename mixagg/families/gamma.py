"""Two-parameter Gamma family (shape, scale)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import special

from .._validation import check_real
from .core import ExponentialFamily, Params, ParamSpec, positive_problems
from .penalties import Penalty

__all__ = ["Gamma", "GammaShapePenalty", "inverse_log_minus_digamma", "jensen_gap", "solve_shape"]

#: Above this shape, ``log r - digamma(r)`` and its derivative are evaluated by
#: their asymptotic series (``docs/families.md``, "Gamma"): the direct difference loses
#: ``~r * eps`` relative accuracy to cancellation; the series' first omitted
#: term is below 1e-26 here.
SERIES_CUTOFF = 1e3
#: Relative step size at which the Newton iteration of the inverse mean map stops.
NEWTON_RTOL = 1e-14
NEWTON_MAX_ITER = 100
#: With ``min_shape``, penalised estimates stay at ``min_shape + SHAPE_BOUNDARY_GAP`` or above: strictly inside the
#: open space {shape > min_shape} (``docs/em.md``).
SHAPE_BOUNDARY_GAP = 1e-8


def _log_minus_digamma(r: np.ndarray) -> np.ndarray:
    """:math:`\\log r-\\psi(r)`, accurate for large ``r`` (series above :data:`SERIES_CUTOFF`)."""
    r = np.asarray(r, dtype=float)
    big = r > SERIES_CUTOFF
    rs = np.where(big, r, 1.0)
    inv = 1.0 / rs  # powers of 1/r, which underflow quietly where powers of r would overflow
    series = inv / 2 + inv**2 / 12 - inv**4 / 120 + inv**6 / 252
    rd = np.where(big, 1.0, r)
    direct = np.log(rd) - special.digamma(rd)
    return np.where(big, series, direct)


def _dlog_minus_digamma(r: np.ndarray) -> np.ndarray:
    """Derivative :math:`1/r-\\psi'(r)` (negative), series above :data:`SERIES_CUTOFF`."""
    r = np.asarray(r, dtype=float)
    big = r > SERIES_CUTOFF
    rs = np.where(big, r, 1.0)
    series = -(1 / (2 * rs**2) + 1 / (6 * rs**3) - 1 / (30 * rs**5) + 1 / (42 * rs**7))
    rd = np.where(big, 1.0, r)
    direct = 1 / rd - special.polygamma(1, rd)
    return np.where(big, series, direct)


def solve_shape(s: np.ndarray, c: np.ndarray | float = 0.0) -> np.ndarray:
    r"""Solve :math:`\log r-\psi(r)-s-c(1-1/r)=0` for :math:`r>0`, elementwise.

    ``c = 0`` is the inverse mean map of the Gamma family; ``c = a_n / n_k`` is
    the penalised M-step of :class:`GammaShapePenalty`
    (``docs/em.md``, "Gamma shape penalty and constraint"). The left side decreases strictly from :math:`+\infty` to
    :math:`-s-c`, and :math:`1/(2r)<\log r-\psi(r)<1/r` puts the root in
    :math:`[1/(2(s+c)),\,(1+c)/(s+c)]`; Newton's method from the start value of
    ``docs/families.md``, "Gamma", kept inside the bracket by bisection, converges in a few
    steps. Returns ``nan`` where ``s + c <= 0`` (no root).
    """
    s, c = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(c, dtype=float))
    total = s + c
    valid = np.isfinite(total) & (total > 0) & (c >= 0)
    sv = np.where(valid, s, 1.0)
    cv = np.where(valid, c, 0.0)
    tv = sv + cv
    lo = 1.0 / (2.0 * tv)
    hi = (1.0 + cv) / tv
    start_s = np.maximum(sv, 1e-300)
    r = (3.0 - start_s + np.sqrt((start_s - 3.0) ** 2 + 24.0 * start_s)) / (12.0 * start_s)
    r = np.clip(r, lo, hi)
    for _ in range(NEWTON_MAX_ITER):
        g = _log_minus_digamma(r) - sv - cv * (1.0 - 1.0 / r)
        # g > 0 means r is left of the root.
        lo = np.where(g > 0, r, lo)
        hi = np.where(g < 0, r, hi)
        step = g / (_dlog_minus_digamma(r) - cv / r**2)
        new = r - step
        outside = ~((new > lo) & (new < hi))
        new = np.where(outside, np.sqrt(lo * hi), new)
        done = np.abs(new - r) <= NEWTON_RTOL * r
        r = new
        if np.all(done):
            break
    return np.where(valid, r, np.nan)


def inverse_log_minus_digamma(s: np.ndarray) -> np.ndarray:
    r"""Solve :math:`\log r-\psi(r)=s` for :math:`r>0` (``nan`` where ``s <= 0``).

    It is :func:`solve_shape` with ``c = 0``.
    """
    return solve_shape(s, 0.0)


#: Above this shape :math:`r\log r-r-\log\Gamma(r)` is evaluated by Stirling's series (first omitted term < 1e-21).
STIRLING_CUTOFF = 100.0


def _log_ratio_gap(ratio: np.ndarray) -> np.ndarray:
    r""":math:`\log t-t+1\le0` for :math:`t>0`, accurate near :math:`t=1` (series in :math:`u=t-1`, :math:`|u|<0.1`)."""
    ratio = np.asarray(ratio, dtype=float)
    u = ratio - 1.0
    near = np.abs(u) < 0.1
    un = np.where(near, u, 0.0)
    # log1p(u) - u = sum_{k>=2} (-1)^(k+1) u^k / k, Horner form (18 terms: error < 1e-19 for |u| < 0.1)
    acc = np.zeros_like(un)
    for k in range(19, 1, -1):
        acc = un * acc + (-1.0) ** (k + 1) / k
    series = un * un * acc
    with np.errstate(divide="ignore"):
        direct = np.log(np.where(near, 1.0, ratio)) - u
    return np.where(near, series, direct)


def _stirling_gap(r: np.ndarray) -> np.ndarray:
    r""":math:`r\log r-r-\log\Gamma(r)` without cancellation for large ``r``."""
    r = np.asarray(r, dtype=float)
    big = r > STIRLING_CUTOFF
    rb = np.where(big, r, STIRLING_CUTOFF)
    series = (
        0.5 * np.log(rb / (2.0 * np.pi)) - 1 / (12 * rb) + 1 / (360 * rb**3) - 1 / (1260 * rb**5) + 1 / (1680 * rb**7)
    )
    rs = np.where(big, 1.0, r)
    direct = rs * np.log(rs) - rs - special.gammaln(rs)
    return np.where(big, series, direct)


def jensen_gap(values: np.ndarray, pi: np.ndarray) -> np.ndarray:
    r""":math:`\log\sum_\gamma\pi_\gamma v_\gamma-\sum_\gamma\pi_\gamma\log v_\gamma\ge0` without cancellation.

    ``values`` has shape ``(M,)``, ``pi`` ``(..., M)`` with rows summing to one.
    With :math:`\delta_\gamma=\log v_\gamma-c` for any :math:`c`, the gap equals
    :math:`\operatorname{log1p}(\sum\pi\,\operatorname{expm1}\delta)-\sum\pi\delta`;
    taking :math:`c=\sum\pi\log v` makes both terms tiny and the first-order
    rounding of :math:`\log v_\gamma` cancel exactly, so the gap keeps full relative
    accuracy even when it is ~1e-12 (nearly equal values).
    """
    logv = np.log(values)
    centre = pi @ logv
    delta = logv - centre[..., None]
    return np.log1p(np.sum(pi * np.expm1(delta), axis=-1)) - np.sum(pi * delta, axis=-1)


class Gamma(ExponentialFamily):
    r"""Gamma family with shape :math:`r` and scale :math:`\beta` (mean :math:`r\beta`).

    Notes
    -----
    :math:`f(x;r,\beta)=x^{r-1}e^{-x/\beta}/\{\beta^r\Gamma(r)\}` for :math:`x>0`
    (``docs/families.md``, "Gamma"; [J] Table 3):

    .. math::

        T(x) &= (\log x,\ x),\quad h(x)=1\{x>0\},\quad \theta=(r-1,\ -1/\beta),\\
        A(\theta) &= \log\Gamma(r) + r\log\beta,\qquad \eta=(\psi(r)+\log\beta,\ r\beta).

    The inverse mean map solves :math:`\log r-\psi(r)=\log\eta_2-\eta_1` by
    safeguarded Newton; the barycentre and the weighted MLE form the right-hand
    side without cancellation (:func:`jensen_gap`), so they stay accurate for
    shapes up to ~1e12. The L2 kernel ([J] App. C.1)

    .. math::

        \log k = \log\Gamma(r_a+r_b-1) + (r_b-1)\log\beta_a + (r_a-1)\log\beta_b
                 - (r_a+r_b-1)\log(\beta_a+\beta_b) - \log\Gamma(r_a) - \log\Gamma(r_b)

    is finite only for :math:`r_a+r_b>1`; a Gamma density is square integrable
    iff :math:`r>1/2` ([J] §D.1, Remark 4.1). :math:`D_1=|r-r'|+|\beta-\beta'|` ([J] App. C.2).
    """

    name = "gamma"
    support = "positive"
    discrete = False
    event_shape = ()
    n_natural = 2
    product_log_constant = 0.0
    #: DFMR's default inflation factor for Gamma mixtures ([J] §D.3: rho close to 2).
    default_rho = 2.0
    #: Regulariser used without a penalty: floors log(mean) - mean(log x) at 1e-10 (shape <~ 5e9).
    default_reg = 1e-10
    param_spec = MappingProxyType(
        {
            "shape": ParamSpec((), description="shape r > 0"),
            "scale": ParamSpec((), description="scale beta > 0"),
        }
    )
    divergence_hint = (
        "Gamma densities are square integrable only for shape > 1/2, and the product integral of two of "
        'them is finite iff shape_a + shape_b > 1 ([J] App. C.1; docs/families.md, "Square integrability").'
    )

    def _validate(self, params: Params) -> list[str]:
        return positive_problems("shape", params["shape"]) + positive_problems("scale", params["scale"])

    def _natural_from_params(self, params: Params) -> np.ndarray:
        return np.stack([params["shape"] - 1.0, -1.0 / params["scale"]], axis=-1)

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        return {"shape": theta[..., 0] + 1.0, "scale": -1.0 / theta[..., 1]}

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        # theta = (r - 1, -1/beta)
        scale = np.asarray(params["scale"], dtype=float)
        out = np.zeros(scale.shape + (2, 2))
        out[..., 0, 0] = 1.0
        out[..., 1, 1] = 1.0 / scale**2
        return out

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        shape = theta[..., 0] + 1.0
        return special.gammaln(shape) - shape * np.log(-theta[..., 1])

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return (theta[..., 0] > -1.0) & (theta[..., 1] < 0.0)

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return self._expectation_from_params(self._params_from_natural(theta))

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        r, b = params["shape"], params["scale"]
        return np.stack([special.digamma(r) + np.log(b), r * b], axis=-1)

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        # Var log X = psi'(r), Cov(log X, X) = beta, Var X = r beta^2 (docs/families.md, "Gamma")
        r, b = theta[..., 0] + 1.0, -1.0 / theta[..., 1]
        return np.stack([np.stack([special.polygamma(1, r), b], -1), np.stack([b, r * b * b], -1)], -2)

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.log(eta[..., 1]) - eta[..., 0]
        r = inverse_log_minus_digamma(s)
        return np.stack([r - 1.0, -r / eta[..., 1]], axis=-1)

    def _logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        # log f = -log x + r (log t - t + 1) + (r log r - r - log Gamma(r)) with t = x / (r beta): every term stays
        # moderate, so the density keeps full accuracy for shapes of 1e15 and more (the textbook form cancels terms
        # of size r log x).
        r, b = params["shape"], params["scale"]
        pos = x > 0
        xs = np.where(pos, x, 1.0)
        out = -np.log(xs) + r * _log_ratio_gap(xs / (r * b)) + _stirling_gap(r)
        return np.where(pos, out, -np.inf)

    def _barycentre(self, params: Params, weights: np.ndarray) -> Params:
        # s = log(eta2) - eta1 = [log sum pi m - sum pi log m] + sum pi (log r - psi(r)), m = r * beta:
        # both brackets are computed without the cancellation of the expectation route (docs/families.md, "Gamma").
        r, m = params["shape"], params["shape"] * params["scale"]
        pi = weights / weights.sum(axis=-1, keepdims=True)
        s = jensen_gap(m, pi) + pi @ _log_minus_digamma(r)
        shape = inverse_log_minus_digamma(s)
        return {"shape": shape, "scale": (pi @ m) / shape}

    def _weighted_mle(self, x: np.ndarray, weights: np.ndarray, reg: float = 0.0) -> Params:
        # The data are atoms of infinite shape: s = log(weighted mean) - weighted mean of log x.
        # The regulariser floors s at reg, i.e. caps the shape near 1 / (2 reg).
        # where all observations with positive weight are equal, s = 0 and the MLE does not exist: shape = nan
        pi = weights / weights.sum(axis=-1, keepdims=True)
        s = np.maximum(jensen_gap(x, pi), reg)
        shape = inverse_log_minus_digamma(s)
        return {"shape": shape, "scale": (pi @ x) / shape}

    def _default_penalty(self, x: np.ndarray, weights: np.ndarray) -> Penalty:
        n = weights.sum()
        if n <= 1:
            raise ValueError(f"n_samples={n:g} is too few for the Gamma shape penalty (strength n^-1/2 would exceed 1)")
        # [J] §D.1 estimates in the space {shape > 1/2}, where Gamma densities are square integrable (L2 distances)
        return GammaShapePenalty(strength=n**-0.5, min_shape=0.5)

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        # the floor on log(mean) - mean(log x) caps the shape near 1 / (2 reg)
        return (
            np.asarray(params["shape"] >= inverse_log_minus_digamma(reg) * (1 - 1e-9))
            if reg > 0
            else np.zeros(np.shape(params["shape"]), dtype=bool)
        )

    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        pos = x > 0
        xs = np.where(pos, x, 1.0)
        return np.stack([np.where(pos, np.log(xs), 0.0), np.where(pos, x, 0.0)], axis=-1)

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        return np.where(x > 0, 0.0, -np.inf)

    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        r0, b0, r1, b1 = pa["shape"], pa["scale"], pb["shape"], pb["scale"]
        out = (
            (r0 - r1) * special.digamma(r0)
            - special.gammaln(r0)
            + special.gammaln(r1)
            + r1 * np.log(b1 / b0)
            + r0 * (b0 / b1 - 1.0)
        )
        return np.maximum(out, 0.0)

    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        ra, ba, rb, bb = pa["shape"], pa["scale"], pb["shape"], pb["scale"]
        s = ra + rb - 1.0
        return (
            special.gammaln(s)
            + (rb - 1.0) * np.log(ba)
            + (ra - 1.0) * np.log(bb)
            - s * np.log(ba + bb)
            - special.gammaln(ra)
            - special.gammaln(rb)
        )

    def _pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        return np.asarray(pa["shape"] + pb["shape"] > 1.0)

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        shape = params["shape"]
        return rng.gamma(shape, params["scale"], size=size + shape.shape)

    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        return np.abs(pa["shape"] - pb["shape"]) + np.abs(pa["scale"] - pb["scale"])

    def _mean(self, params: Params) -> np.ndarray:
        return params["shape"] * params["scale"]

    def _cov(self, params: Params) -> np.ndarray:
        return params["shape"] * params["scale"] ** 2

    def _invalid_params(self) -> list[Params]:
        return [{"shape": -1.0, "scale": 1.0}, {"shape": 0.0, "scale": 1.0}, {"shape": 2.0, "scale": -0.5}]

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        return {
            "shape": np.exp(rng.uniform(np.log(0.8), np.log(30.0), size)),
            "scale": np.exp(rng.normal(0.0, 1.0, size)),
        }


class GammaShapePenalty(Penalty):
    r"""Shape penalty of Chen, Li & Tan (2016) for Gamma mixtures: :math:`p(\theta)=r-\log r`.

    Minimised at :math:`r=1` and growing at both ends, it keeps the likelihood
    bounded ([A] App. A.1; [J] App. A.1 prints "r log r", a typesetting slip; ``docs/em.md``).

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
    Penalised M-step (``docs/em.md``): :math:`\beta_k=\bar x_k/r_k`
    and :math:`r_k` the unique root of
    :math:`\log r-\psi(r)-s_k-(a_n/n_k)(1-1/r)=0` with
    :math:`s_k=\log\bar x_k-\overline{\log x}_k\ge0`, solved by safeguarded Newton
    in a bracket. The penalty keeps the root finite even when :math:`s_k=0`.
    """

    def __init__(self, strength: float, min_shape: float = 0.0):
        super().__init__(strength)
        min_shape = check_real(min_shape, "min_shape", minimum=0.0)
        self.min_shape = min_shape

    def value(self, params: Params) -> np.ndarray:
        r = params["shape"]
        return r - np.log(r)

    def m_step(self, x: np.ndarray, resp: np.ndarray) -> Params:
        nk = resp.sum(axis=1)
        pi = resp / nk[:, None]
        s = jensen_gap(x, pi)
        shape = solve_shape(s, self.strength / nk)
        if self.min_shape > 0:
            # the profiled objective is concave in r: below the bound, the bound is the constrained maximiser
            shape = np.maximum(shape, self.min_shape + SHAPE_BOUNDARY_GAP)
        return {"shape": shape, "scale": (pi @ x) / shape}

    def check(self, family: Any, x: np.ndarray) -> None:
        if not isinstance(family, Gamma):
            raise TypeError(f"GammaShapePenalty penalises Gamma mixtures, not {family!r}")

    def __repr__(self) -> str:
        extra = f", min_shape={self.min_shape:g}" if self.min_shape else ""
        return f"{type(self).__name__}(strength={self.strength:.6g}{extra})"
