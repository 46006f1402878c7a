"""The generalized chi-squared law :math:`Q=\\sum_jw_j\\chi^2_{h_j}(\\delta_j^2)+\\sigma Z+c` (docs/theory.md).

Used for the limit laws of L2 distances between mixture estimates ([J] Lemma 4.1–4.2)
and for MixSim's exact overlaps (non-central terms of both signs plus a normal term).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import as_float_array, as_generator, check_int, check_real

__all__ = ["GeneralizedChiSquared"]

#: Absolute accuracy asked of the Imhof integral (so the cdf is accurate to ~1e-10 in the bulk).
IMHOF_ATOL = 1e-11
#: When the truncated Imhof integral holds at most this many oscillations, it is computed in one vectorised pass.
MAX_HEAD_OSCILLATIONS = 2000.0
#: Otherwise its head runs to this many multiples of ``1 / max|w_j|``, and the tail is summed by half-periods.
HEAD_SPAN = 10.0
#: Gauss-Legendre nodes per panel, log panels and half-periods of the vectorised tail; points per chunk.
TAIL_NODES = 16
LOG_PANELS = 48
HALF_PERIODS = 40
TAIL_CHUNK = 256
#: Gauss-Legendre nodes per panel of the adaptive head integral, its initial panels, bisection rounds and
#: points per chunk.
PANEL_NODES = 10
INITIAL_PANELS = 16
PANELS_PER_DECADE = 4
PANEL_BUDGET = 2000
MAX_BISECTIONS = 60
INTEGRAL_CHUNK = 128
_EPS = float(np.finfo(float).eps)
#: Relative tolerance of the quantile function's root finding, and the grid that brackets the roots.
PPF_XTOL = 1e-10
PPF_GRID = 65


class GeneralizedChiSquared:
    """Law of :math:`Q=\\sum_j w_j\\,\\chi^2_{h_j}(\\delta_j^2)+\\sigma Z+c` (independent terms, :math:`Z\\sim N(0,1)`).

    Parameters
    ----------
    weights : array-like of shape (J,)
        :math:`w_j`, of any sign (zeros are dropped).
    dof : array-like of shape (J,) or float, default 1
        Degrees of freedom :math:`h_j>0`.
    noncentrality : array-like of shape (J,) or float, default 0
        Non-centrality parameters :math:`\\delta_j^2\\ge0`.
    normal_sd : float, default 0
        :math:`\\sigma\\ge0`.
    offset : float, default 0
        :math:`c`.

    Notes
    -----
    The cdf and sf come from Imhof's (1961) inversion formula (docs/theory.md, "Imhof inversion"),

    .. math::

        P(Q>x)=\\frac12+\\frac1\\pi\\int_0^\\infty\\frac{\\sin\\vartheta(u)}{u\\,\\varrho(u)}\\,du,\\quad
        \\vartheta(u)=\\frac12\\sum_j\\Big[h_j\\arctan(w_ju)+\\frac{\\delta_j^2w_ju}{1+w_j^2u^2}\\Big]-\\frac{(x-c)u}2,

    :math:`\\varrho(u)=\\prod_j(1+w_j^2u^2)^{h_j/4}\\exp\\{\\frac12\\sum_j\\delta_j^2w_j^2u^2/(1+w_j^2u^2)\\}\\exp(\\sigma^2u^2/8)`.
    The integral is computed for all evaluation points at once: its head by
    adaptive bisection with Gauss–Legendre panels shared by the points
    (absolute error target :data:`IMHOF_ATOL`; tested against
    ``scipy.integrate.quad`` of the same integral), up
    to the point where the integrand's envelope :math:`1/(u\\varrho)` has
    integrated below the target. When that head would hold too many oscillations
    (few terms, no normal term: :math:`\\varrho` grows slowly), the tail beyond
    :math:`10/\\max_j|w_j|` is a Fourier integral with smooth amplitude: a
    log-mapped Gauss–Legendre stretch, then half-periods whose partial sums are
    extrapolated by Wynn's epsilon algorithm. ``cdf`` and ``sf`` are each
    :math:`\\tfrac12\\mp` the integral, with absolute error about 1e-11: a small
    tail probability is not the difference of two numbers near 1, but its
    relative accuracy does degrade below about 1e-9. The density is Imhof's
    :math:`\\frac1{2\\pi}\\int_0^\\infty\\cos\\vartheta(u)/\\varrho(u)\\,du`.
    Quantiles solve ``cdf(x) = p`` by Illinois false position from brackets
    found in one vectorised pass over a grid of the bulk.

    Examples
    --------
    >>> from mixagg.theory import GeneralizedChiSquared
    >>> q = GeneralizedChiSquared([3, 1, 0.5, 0.2, 0.05])
    >>> [round(float(v), 4) for v in q.sf([0.5, 2, 5, 10, 20])]   # docs/theory.md, "Imhof inversion"
    [0.9651, 0.7035, 0.3327, 0.1069, 0.0146]
    """

    def __init__(self, weights: Any, dof: Any = 1, noncentrality: Any = 0, normal_sd: float = 0.0, offset: float = 0.0):
        w = as_float_array(weights, "weights")
        w = w.reshape(-1)
        h = _per_term(dof, "dof", w.shape)
        nc = _per_term(noncentrality, "noncentrality", w.shape)
        if np.any(h <= 0):
            raise ValueError("dof must be positive")
        if np.any(nc < 0):
            raise ValueError("noncentrality must be non-negative")
        sd = check_real(normal_sd, "normal_sd", minimum=0.0)
        c = float(offset)
        if not np.isfinite(c):
            raise ValueError(f"offset must be finite, got {offset!r}")
        keep = w != 0
        self.weights, self.dof, self.noncentrality = w[keep], h[keep], nc[keep]
        self.normal_sd, self.offset = sd, c
        if self.weights.size == 0 and sd == 0:
            raise ValueError("the law is a point mass: give at least one non-zero weight or a positive normal_sd")
        # the integrand's decay: rho(u) >= prod |w u|^{h/2} = C u^H
        self._H = 0.5 * float(self.dof.sum())
        self._log_c = float(np.sum(0.5 * self.dof * np.log(np.abs(self.weights)))) if self.weights.size else 0.0

    # ------------------------------------------------------------------ moments and sampling
    def mean(self) -> float:
        """:math:`E\\,Q=\\sum_jw_j(h_j+\\delta_j^2)+c`."""
        return float(np.sum(self.weights * (self.dof + self.noncentrality)) + self.offset)

    def var(self) -> float:
        """:math:`\\operatorname{Var}Q=2\\sum_jw_j^2(h_j+2\\delta_j^2)+\\sigma^2`."""
        return float(2.0 * np.sum(self.weights**2 * (self.dof + 2.0 * self.noncentrality)) + self.normal_sd**2)

    def std(self) -> float:
        return math.sqrt(self.var())

    def rvs(self, size: int | tuple[int, ...] = 1, rng: Any = None) -> np.ndarray:
        """Random draws, shape ``size``."""
        gen = as_generator(rng)
        sizes = [size] if np.ndim(size) == 0 else list(size)
        shape = tuple(check_int(v, "size", minimum=0) for v in sizes)
        out = np.full(shape, self.offset)
        for w, h, nc in zip(self.weights, self.dof, self.noncentrality):
            draws = gen.noncentral_chisquare(h, nc, size=shape) if nc > 0 else gen.chisquare(h, size=shape)
            out += w * draws
        if self.normal_sd:
            out += self.normal_sd * gen.standard_normal(shape)
        return out

    def scaled(self, factor: float) -> GeneralizedChiSquared:
        """The law of ``factor * Q``."""
        factor = float(factor)
        if not (np.isfinite(factor) and factor != 0):
            raise ValueError(f"factor must be finite and non-zero, got {factor!r}")
        return GeneralizedChiSquared(
            self.weights * factor, self.dof, self.noncentrality, abs(factor) * self.normal_sd, self.offset * factor
        )

    def __repr__(self) -> str:
        with np.printoptions(precision=4, threshold=8, edgeitems=3):
            return (
                f"GeneralizedChiSquared(weights={self.weights}, dof={self.dof}, noncentrality={self.noncentrality}, "
                f"normal_sd={self.normal_sd:g}, offset={self.offset:g})"
            )

    # ------------------------------------------------------------------ Imhof's integral
    def _phase_and_log_rho(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:math:`\\vartheta_0(u)` (without the ``-(x-c)u/2`` term) and :math:`\\log\\varrho(u)`.

        ``u`` may have any shape.
        """
        u = np.asarray(u, dtype=float)[..., None]
        wu = self.weights * u
        sq = 1.0 + wu * wu
        phase = 0.5 * np.sum(self.dof * np.arctan(wu) + self.noncentrality * wu / sq, axis=-1)
        log_rho = np.sum(0.25 * self.dof * np.log1p(wu * wu) + 0.5 * self.noncentrality * wu * wu / sq, axis=-1)
        return phase, log_rho + (self.normal_sd**2) * u[..., 0] ** 2 / 8.0

    def _truncation(self) -> float:
        """A point beyond which the integrand's absolute integral is below IMHOF_ATOL (possibly inf)."""
        bounds = []
        if self._H > 0:
            # int_U^inf du / (u C u^H) = U^-H / (H C)
            bounds.append(math.exp((-math.log(IMHOF_ATOL * 0.01 * self._H) - self._log_c) / self._H))
        if self.normal_sd > 0:
            # int_U^inf exp(-s^2 u^2 / 8) / u du <= exp(-s^2 U^2 / 8) * 4 / (s^2 U^2); take s^2 U^2 / 8 = 40
            bounds.append(math.sqrt(8 * 40.0) / self.normal_sd)
        return min(bounds) if bounds else math.inf

    def _imhof(self, x: np.ndarray, kind: str) -> np.ndarray:
        """Imhof's integral for ``kind``.

        ``kind="sf"``: :math:`\\int_0^\\infty\\sin\\vartheta/(u\\varrho)`;
        ``kind="pdf"``: :math:`\\int_0^\\infty\\cos\\vartheta/\\varrho`.
        """
        omega = 0.5 * (x - self.offset)
        u_trunc = self._truncation()
        oscillations = float(np.max(np.abs(omega), initial=0.0)) * u_trunc / (2 * np.pi)
        if oscillations <= MAX_HEAD_OSCILLATIONS or self.weights.size == 0:
            u_head = u_trunc  # the vectorised head covers the whole (truncated) integral (Gaussian decay without terms)
        else:
            u_head = min(u_trunc, HEAD_SPAN / float(np.max(np.abs(self.weights))))

        def head(u: np.ndarray, om: np.ndarray) -> np.ndarray:
            return self._integrand(u[:, None], om[None, :], kind)

        # the integrand changes on the scale 1 / max(|w_j|, sigma): start with panels graded from there up to u_head
        feature = 1.0 / max(float(np.max(np.abs(self.weights), initial=0.0)), self.normal_sd)
        total = _vectorised_integral(head, omega, 0.0, u_head, feature)
        if u_head < u_trunc:
            total = total + self._tail(omega, u_head, kind)
        return total

    def _integrand(self, u: np.ndarray, omega: np.ndarray, kind: str) -> np.ndarray:
        """Imhof integrand at nodes ``u`` (same shape as ``omega``, broadcast)."""
        phase, log_rho = self._phase_and_log_rho(u)
        if kind == "sf":
            return np.sin(phase - omega * u) * np.exp(-log_rho) / u
        return np.cos(phase - omega * u) * np.exp(-log_rho)

    def _tail(self, omega: np.ndarray, start: float, kind: str) -> np.ndarray:
        """:math:`\\int_{\\rm start}^\\infty` of the Imhof integrand, vectorised over the points.

        Three parts per point, all on common normalised nodes: a log-mapped
        stretch up to :math:`U_i=\\max(\\text{start},\\,30/|\\omega_i|)` (at most ~5
        oscillations, amplitude possibly decaying fast), then half-periods of
        length :math:`\\pi/|\\omega_i|` whose partial sums Wynn's epsilon algorithm
        extrapolates. Points with :math:`\\omega=0` have no oscillation: their tail
        is integrated in the variable :math:`\\log u`.
        """
        out = np.zeros(omega.shape)
        freq = np.abs(omega)
        zero = freq == 0
        if np.any(zero):
            span = 2.0 * math.log(1e13) / max(self._H, 1e-3)  # e^{-H s} decay of u * integrand in s = log(u / start)

            def flat(sv: np.ndarray, om: np.ndarray) -> np.ndarray:
                u = start * np.exp(sv)[:, None]
                return self._integrand(u, om[None, :], kind) * u

            out[zero] = _vectorised_integral(flat, omega[zero], 0.0, span)
        idx = np.flatnonzero(~zero)
        for chunk in np.array_split(idx, max(1, idx.size // TAIL_CHUNK + 1)):
            if chunk.size:
                out[chunk] = self._oscillating_tail(omega[chunk], start, kind)
        return out

    def _oscillating_tail(self, omega: np.ndarray, start: float, kind: str) -> np.ndarray:
        freq = np.abs(omega)
        nodes, weights = np.polynomial.legendre.leggauss(TAIL_NODES)
        # 1. log-mapped stretch [start, U_i]: u = start * (U_i / start)^s, composite Gauss-Legendre in s
        u_i = np.maximum(start, 30.0 / freq)
        ratio = np.log(u_i / start)
        panels = (np.arange(LOG_PANELS)[:, None] + 0.5 * (nodes[None, :] + 1.0)).ravel() / LOG_PANELS
        s_w = np.tile(weights, LOG_PANELS) / (2.0 * LOG_PANELS)
        u = start * np.exp(ratio[:, None] * panels[None, :])
        values = self._integrand(u, omega[:, None], kind) * u * ratio[:, None]
        first = values @ s_w
        # 2. half-periods [U_i + k pi / |w|, U_i + (k + 1) pi / |w|], partial sums extrapolated (Wynn epsilon)
        half = np.pi / freq
        t = (np.arange(HALF_PERIODS)[:, None] + 0.5 * (nodes[None, :] + 1.0)).ravel()
        u = u_i[:, None] + t[None, :] * half[:, None]
        values = self._integrand(u, omega[:, None], kind).reshape(omega.size, HALF_PERIODS, TAIL_NODES)
        pieces = 0.5 * half[:, None] * (values @ weights)
        return first + _wynn_epsilon(np.cumsum(pieces, axis=1))

    def _support_edge(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points below the support (all weights positive, no normal term) or above it (all negative)."""
        if self.normal_sd == 0 and np.all(self.weights > 0):
            return x <= self.offset, np.zeros(x.shape, dtype=bool)
        if self.normal_sd == 0 and np.all(self.weights < 0):
            return np.zeros(x.shape, dtype=bool), x >= self.offset
        return np.zeros(x.shape, dtype=bool), np.zeros(x.shape, dtype=bool)

    def _tail_probability(self, x: Any, upper: bool) -> np.ndarray:
        arr = as_float_array(x, "x")
        flat = arr.reshape(-1)
        below, above = self._support_edge(flat)
        out = np.empty(flat.shape)
        out[below] = 1.0 if upper else 0.0
        out[above] = 0.0 if upper else 1.0
        inside = ~(below | above)
        if np.any(inside):
            integral = self._imhof(flat[inside], "sf")
            out[inside] = 0.5 + integral / np.pi if upper else 0.5 - integral / np.pi
        return np.clip(out, 0.0, 1.0).reshape(arr.shape)

    def cdf(self, x: Any) -> np.ndarray:
        """:math:`P(Q\\le x)`, vectorised over ``x`` (absolute error about 1e-10)."""
        return self._tail_probability(x, upper=False)

    def sf(self, x: Any) -> np.ndarray:
        """:math:`P(Q>x)`, computed directly (not as ``1 - cdf``)."""
        return self._tail_probability(x, upper=True)

    def pdf(self, x: Any) -> np.ndarray:
        """Density, vectorised over ``x``.

        It is Imhof's :math:`\\frac1{2\\pi}\\int_0^\\infty\\cos\\vartheta(u)/\\varrho(u)\\,du`.

        At the edge :math:`x=c` of a one-sided support (all weights of one sign, no
        normal term) the density behaves like :math:`|x-c|^{H-1}`, :math:`H=\\sum_jh_j/2`:
        it is ``inf`` for :math:`H<1`, :math:`e^{-\\sum_j\\delta_j^2/2}/\\prod_j(2|w_j|)^{h_j/2}`
        for :math:`H=1` and 0 for :math:`H>1`. It may also be unbounded where
        terms of both signs cancel (e.g. :math:`\\chi^2_1-\\chi^2_1` at 0).
        """
        arr = as_float_array(x, "x")
        flat = arr.reshape(-1)
        below, above = self._support_edge(flat)
        out = np.zeros(flat.shape)
        edge = (below | above) & (flat == self.offset)
        if np.any(edge):
            if self._H < 1.0:
                out[edge] = np.inf
            elif self._H == 1.0:
                out[edge] = math.exp(
                    -0.5 * float(self.noncentrality.sum())
                    - float(np.sum(0.5 * self.dof * np.log(2.0 * np.abs(self.weights))))
                )
        inside = ~(below | above)
        if np.any(inside):
            out[inside] = np.maximum(self._imhof(flat[inside], "pdf") / (2.0 * np.pi), 0.0)
        return out.reshape(arr.shape)

    # ------------------------------------------------------------------ quantiles
    def ppf(self, p: Any) -> np.ndarray:
        """Quantiles :math:`F^{-1}(p)` by bracketed false position, vectorised over ``p`` (relative ``xtol`` 1e-10).

        The root is as accurate as the cdf allows: for :math:`p` or :math:`1-p` near the
        cdf's absolute error (about 1e-11) the quantile is only rough (e.g. off by
        1e-5 relative at :math:`p=10^{-12}`); far tails need an asymptotic expansion.
        """
        parr = as_float_array(p, "p")
        if np.any((parr < 0) | (parr > 1)):
            raise ValueError("p must lie in [0, 1]")
        flat = parr.reshape(-1)
        out = np.empty(flat.shape)
        below, _ = self._support_edge(np.array([self.offset]))
        lower_edge = self.offset if below[0] else -np.inf
        _, above = self._support_edge(np.array([self.offset]))
        upper_edge = self.offset if above[0] else np.inf
        out[flat == 0] = lower_edge
        out[flat == 1] = upper_edge
        todo = np.flatnonzero((flat > 0) & (flat < 1))
        if todo.size:
            out[todo] = self._solve(flat[todo])
        return out.reshape(parr.shape)

    def _solve(self, p: np.ndarray) -> np.ndarray:
        """Roots of ``cdf(x) = p``: brackets from one vectorised pass over a grid, then Illinois false position.

        ``cdf`` and ``sf`` are both :math:`\\tfrac12\\mp` the same Imhof integral, so
        ``cdf(x) - p`` is as accurate above the median as ``(1 - p) - sf(x)``.
        """
        below, _ = self._support_edge(np.array([self.offset]))
        _, above = self._support_edge(np.array([self.offset]))
        mu, sd = self.mean(), self.std()
        grid = np.linspace(self.offset if below[0] else mu - 8 * sd, self.offset if above[0] else mu + 8 * sd, PPF_GRID)
        values = np.maximum.accumulate(self.cdf(grid))
        j = np.clip(np.searchsorted(values, p, side="left") - 1, -1, PPF_GRID - 1)  # values[j] < p <= values[j + 1]
        lo, hi = grid[np.clip(j, 0, PPF_GRID - 1)], grid[np.clip(j + 1, 0, PPF_GRID - 1)]
        g_lo, g_hi = values[np.clip(j, 0, PPF_GRID - 1)] - p, values[np.clip(j + 1, 0, PPF_GRID - 1)] - p
        for _ in range(200):  # widen the brackets of quantiles beyond the grid (unbounded sides only)
            need_lo, need_hi = g_lo >= 0, g_hi < 0
            if not (need_lo.any() or need_hi.any()):
                break
            lo = np.where(need_lo, lo - 4 * sd, lo)
            hi = np.where(need_hi, hi + 4 * sd, hi)
            idx = np.flatnonzero(need_lo | need_hi)
            g = self.cdf(np.where(need_lo, lo, hi)[idx]) - p[idx]
            g_lo[idx] = np.where(need_lo[idx], g, g_lo[idx])
            g_hi[idx] = np.where(need_hi[idx], g, g_hi[idx])
        side = np.zeros(p.shape)  # Illinois modification: halve the value at the end that stays put twice
        for _ in range(200):
            width = hi - lo
            active = width > PPF_XTOL * np.maximum(np.abs(lo) + np.abs(hi), 1e-300)
            if not active.any():
                break
            idx = np.flatnonzero(active)
            lo_i, hi_i, glo_i, ghi_i, side_i = lo[idx], hi[idx], g_lo[idx], g_hi[idx], side[idx]
            w_i = width[idx]
            denom = ghi_i - glo_i
            x = np.where(denom > 0, lo_i - glo_i * w_i / np.where(denom > 0, denom, 1.0), 0.5 * (lo_i + hi_i))
            x = np.clip(x, lo_i + 1e-3 * w_i, hi_i - 1e-3 * w_i)  # strictly inside
            g = self.cdf(x) - p[idx]
            go_low = g < 0  # the root is above x
            exact = g == 0
            new_lo = np.where(go_low | exact, x, lo_i)
            new_hi = np.where(~go_low | exact, x, hi_i)
            new_glo = np.where(go_low, g, np.where(side_i == 1, glo_i / 2, glo_i))
            new_ghi = np.where(~go_low, g, np.where(side_i == -1, ghi_i / 2, ghi_i))
            lo[idx], hi[idx], g_lo[idx], g_hi[idx] = new_lo, new_hi, new_glo, new_ghi
            side[idx] = np.where(go_low, -1.0, 1.0)
        return 0.5 * (lo + hi)


def _per_term(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = as_float_array(value, name)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != shape):
        raise ValueError(f"{name} must be a number or have one entry per weight ({shape[0]}), got shape {arr.shape}")
    return np.broadcast_to(arr, shape).astype(float)


def _vectorised_integral(
    fun: Callable[[np.ndarray, np.ndarray], np.ndarray],
    omega: np.ndarray,
    a: float,
    b: float,
    feature: float | None = None,
) -> np.ndarray:
    """:math:`\\int_a^b` ``fun(u, omega)`` :math:`du` for every entry of ``omega``.

    Computed by adaptive bisection with Gauss–Legendre panels.

    ``fun(u, om)`` maps nodes ``(N,)`` and points ``(P,)`` to ``(N, P)``. Points are
    sorted and processed in chunks of :data:`INTEGRAL_CHUNK` sharing one partition
    of :math:`[a,b]` (similar frequencies refine alike). The initial partition is
    :data:`INITIAL_PANELS` equal panels, or, given the length scale ``feature`` of
    the integrand, panels growing geometrically (:data:`PANELS_PER_DECADE`) from
    ``feature / 100`` to ``b``: bisection cannot find what a coarse panel's nodes
    do not see (a peak near 0 on a range of 1e13). A panel's estimate is
    replaced by the sum over its two halves; the halves are accepted when they
    change it by at most :data:`IMHOF_ATOL` times the larger of the panel's share of
    :math:`b-a` and ``1 /`` :data:`PANEL_BUDGET` (so the accepted errors sum to a few
    :data:`IMHOF_ATOL` unless thousands of panels are needed; with a floor at rounding
    level), otherwise each half is bisected in turn. The
    difference bounds the error of the coarser estimate; the accepted finer one
    is far more accurate. One vectorised evaluation per round serves every panel
    and point, where ``scipy.integrate.quad_vec`` would evaluate scalar nodes one
    by one (6x slower on 1,000 points).
    """
    nodes, weights = np.polynomial.legendre.leggauss(PANEL_NODES)
    out = np.zeros(omega.shape)
    order = np.argsort(omega, kind="stable")
    length = b - a

    def rule(lo: np.ndarray, hi: np.ndarray, om: np.ndarray) -> np.ndarray:
        half = 0.5 * (hi - lo)
        u = (0.5 * (hi + lo))[:, None] + half[:, None] * nodes
        values = fun(u.reshape(-1), om).reshape(lo.size, PANEL_NODES, om.size)
        return half[:, None] * np.einsum("inp,n->ip", values, weights)

    for chunk in np.array_split(order, max(1, math.ceil(order.size / INTEGRAL_CHUNK))):
        if not chunk.size:
            continue
        om = omega[chunk]
        if feature is not None and b > 1e-2 * feature + a:
            decades = math.log10((b - a) / (1e-2 * feature))
            edges = np.concatenate(
                [[a], a + np.geomspace(1e-2 * feature, b - a, max(2, math.ceil(decades * PANELS_PER_DECADE)))]
            )
        else:
            edges = np.linspace(a, b, INITIAL_PANELS + 1)
        lo, hi = edges[:-1], edges[1:]
        estimate = rule(lo, hi, om)
        total = np.zeros(om.size)
        for _ in range(MAX_BISECTIONS):
            mid = 0.5 * (lo + hi)
            left, right = rule(lo, mid, om), rule(mid, hi, om)
            refined = left + right
            change = np.max(np.abs(refined - estimate), axis=1)
            tol = np.maximum(
                IMHOF_ATOL * np.maximum((hi - lo) / length, 1.0 / PANEL_BUDGET),
                64 * _EPS * np.max(np.abs(refined), axis=1),
            )
            done = change <= tol
            total += refined[done].sum(axis=0)
            todo = ~done
            if not np.any(todo):
                break
            lo, hi = np.concatenate([lo[todo], mid[todo]]), np.concatenate([mid[todo], hi[todo]])
            estimate = np.concatenate([left[todo], right[todo]])
        else:
            total += estimate.sum(axis=0)
        out[chunk] = total
    return out


def _wynn_epsilon(partial_sums: np.ndarray) -> np.ndarray:
    """Limits of sequences of partial sums (one sequence per row) by Wynn's epsilon algorithm.

    :math:`\\varepsilon_{-1}^{(k)}=0`, :math:`\\varepsilon_0^{(k)}=S_k`,
    :math:`\\varepsilon_{j+1}^{(k)}=\\varepsilon_{j-1}^{(k+1)}+1/(\\varepsilon_j^{(k+1)}-\\varepsilon_j^{(k)})`;
    the even columns are the estimates. The deepest finite estimate is returned.
    """
    prev = np.zeros((partial_sums.shape[0], partial_sums.shape[1] + 1))  # epsilon_{-1}: one entry more than S
    curr = partial_sums.astype(float)
    best = curr[:, -1].copy()
    j = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while curr.shape[1] > 1:
            diff = curr[:, 1:] - curr[:, :-1]
            nxt = prev[:, 1 : curr.shape[1]] + 1.0 / diff
            prev, curr = curr, nxt
            j += 1
            if j % 2 == 0:
                candidate = curr[:, -1]
                ok = np.isfinite(candidate)
                best = np.where(ok, candidate, best)
    return best
