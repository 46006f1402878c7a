"""The L2 Hessian :math:`H^*` and the mixture Fisher information :math:`I(G^*)`.

See [J] App. B.2, Lemma 3.1 and ``docs/theory.md``.

Both are matrices in the parameter vector of :meth:`~mixagg.MixingDistribution.vectorize`,
:math:`\\boldsymbol G=(w_1,\\dots,w_{K-1},v_1,\\dots,v_K)` with :math:`v_k` the standard
parameters of component :math:`k` (``coordinates="params"``), or with the natural
parameters :math:`\\theta_k` in place of :math:`v_k` (``coordinates="natural"``).
The change of coordinates is the block Jacobian :math:`J=\\partial\\boldsymbol G_\\theta/\\partial\\boldsymbol G_v`:
:math:`H_v=J^\\top H_\\theta J`, :math:`I_v=J^\\top I_\\theta J`, so the eigenvalues of :math:`I^{-1}H`
do not depend on the choice (``docs/theory.md``, "Invariance to the parameterisation").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, linalg
from scipy.linalg import blas
from scipy.special import logsumexp

from .._display import one_line
from .._validation import as_generator, check_int, external_stacklevel
from ..exceptions import NumericalWarning, TheoryError
from ..families.core import ExponentialFamily
from ..mixture import MixingDistribution, as_mixture, tying
from ..reduction import kl_frame
from .derivatives import natural_jacobian, product_integral_derivatives

__all__ = ["FisherInformation", "fisher_information", "l2_hessian", "score"]

COORDINATES = ("params", "natural")
FISHER_METHODS = ("auto", "quadrature", "series", "monte_carlo")
#: ``fisher_information`` raises when the smallest eigenvalue of I's correlation matrix is at most this times the
#: largest (made free of units; ``docs/theory.md``, "Fisher information").
SINGULAR_RATIO = 1e-10
#: The Monte Carlo mean score may be at most this many standard errors from 0 (else a NumericalWarning).
MEAN_SCORE_Z = 6.0
#: Relative accuracy asked of the one-dimensional quadrature of :math:`E[ss^\top]`.
QUAD_RTOL = 1e-10
#: Draws per Monte Carlo batch (bounds memory at ``MC_BATCH * nu`` floats).
MC_BATCH = 20_000
#: Draws from the mixture that place the quadrature breakpoints (a fixed seed: the integral does not depend on them).
ANCHOR_DRAWS = 20_000
#: Counts are summed until the pmf of the mixture falls below this (relative to its maximum) and the mass is complete.
SERIES_CUTOFF = 1e-300
#: ``method="series"`` sums a finite support (Bernoulli, Categorical) of at most this many points exactly ...
SERIES_MAX_POINTS = 2**20
#: ... and ``method="auto"`` chooses it up to this many points, then draws.
AUTO_SERIES_MAX_POINTS = 2**16


def _check_model(mixture: Any, name: str = "G") -> MixingDistribution:
    g = as_mixture(mixture, name)
    if np.any(g.weights <= 0):
        raise TheoryError(
            f"{name} has a zero weight: the model is not identifiable there and H*, I(G*) are singular; "
            "drop the empty component first"
        )
    return g


def _check_coordinates(coordinates: Any) -> str:
    if coordinates not in COORDINATES:
        raise ValueError(f"coordinates must be one of {COORDINATES}, got {coordinates!r}")
    return coordinates


def _in_frame(g: MixingDistribution) -> MixingDistribution:
    """``g`` moved to its family's frame (Gaussian: means centred).

    There H* and I in standard coordinates are unchanged.

    Translations leave L2 distances, the likelihood and the derivatives with respect to
    :math:`(\\mu,\\Sigma)` unchanged, and keep the natural parameters small, so the
    change to standard coordinates does not cancel for data far from the origin.
    """
    to, _ = kl_frame(g.family, dict(g.params), g.weights)
    return MixingDistribution._trusted(g.family, g.weights, to(dict(g.params)))


def _full_jacobian(blocks: np.ndarray) -> np.ndarray:
    """Block-diagonal :math:`J` of the whole vector.

    Identity on the weights, the family's ``natural_jacobian`` blocks.
    """
    return linalg.block_diag(np.eye(blocks.shape[0] - 1), *blocks)


def _scores_to_params(s: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Natural-coordinate scores ``(..., nu)`` to standard ones, block by block.

    :math:`s_{v_k}=J_k^\\top s_{\\theta_k}`.
    """
    k, q, _ = blocks.shape
    lead = s.shape[:-1]
    s_theta = np.moveaxis(s[..., k - 1 :].reshape(-1, k, q), 1, 0)  # (K, N, q): one matrix product per component
    s_v = np.moveaxis(s_theta @ blocks, 0, 1).reshape(lead + (-1,))
    return np.concatenate([s[..., : k - 1], s_v], axis=-1)


def _tie(g: MixingDistribution, mat: np.ndarray, *, quadratic: bool) -> np.ndarray:
    """A matrix (``quadratic``: :math:`L^\top ML`) or scores (:math:`sL`) in the free coordinates of a tied
    structure, whose components share part of their parameters (:func:`mixagg.mixture.tying`); unchanged
    otherwise. The shared part sits at the same positions of the standard and the natural vector."""
    _, tie = tying(g.family, g.n_components)
    if tie is None:
        return mat
    return tie.T @ mat @ tie if quadratic else mat @ tie


def l2_hessian(G: Any, *, coordinates: str = "params") -> np.ndarray:
    """The matrix :math:`H^*` of the quadratic approximation of :math:`D^2`.

    See [J] App. B.2, eq. (17), Lemma 4.1 and ``docs/theory.md``, "H*".

    Near :math:`G^*`,

    .. math::

        D^2(G,G')=(\\boldsymbol G-\\boldsymbol G')^\\top H^*(\\boldsymbol G-\\boldsymbol G')
        +O(\\lVert\\cdot\\rVert^3).

    It is the :math:`L^2` Gram matrix of the functions
    :math:`\\{f_k-f_K\\}_{k<K}\\cup\\{w_k\\partial_jf_k\\}_{k,j}`, computed from the family's
    product-integral kernel :math:`k(\\theta_a,\\theta_b)=\\int f_af_b` and its derivatives
    (:func:`~mixagg.theory.derivatives.product_integral_derivatives`: exact
    for families with :math:`h^2=ch` and for Poisson, nested central differences
    otherwise), all :math:`K^2` component pairs at once:

    .. math::

        S_{11}[k_1,k_2]&=k_{k_1k_2}-k_{k_1K}-k_{Kk_2}+k_{KK},\\\\
        S_{12}[k_1,k_2]&=w_{k_2}\\{\\nabla_bk(\\theta_{k_1},\\theta_{k_2})-\\nabla_bk(\\theta_K,\\theta_{k_2})\\}^\\top,\\\\
        S_{22}[k_1,k_2]&=w_{k_1}w_{k_2}\\nabla_a\\nabla_b^\\top k(\\theta_{k_1},\\theta_{k_2}).

    Parameters
    ----------
    G : MixingDistribution
        The point :math:`G^*` (positive weights, square-integrable components).
    coordinates : {"params", "natural"}, default "params"
        ``"params"``: the vector of :meth:`~mixagg.MixingDistribution.vectorize`
        (standard parameters, ``vech`` of covariances); ``"natural"``: natural
        parameters per component (:math:`H_v=J^\\top H_\\theta J` with the family's
        :func:`~mixagg.theory.derivatives.natural_jacobian`).

    Returns
    -------
    ndarray of shape (nu, nu)
        Symmetric positive semi-definite; :math:`\\nu=(K-1)+K\\,p` (less the repeated shared parts of a
        tied structure, :func:`mixagg.mixture.tying`).

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> g = ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.0]], "cov": [[[4.0]]]})
    >>> h = ma.theory.l2_hessian(g)     # (mean, variance) of N(0, 4)
    >>> bool(  # one N(0, 2^2) component: H = 1 / (4 sqrt(pi) sigma^3)
    ...     np.isclose(h[0, 0], 1 / (4 * np.sqrt(np.pi) * 2.0**3))
    ... )
    True
    """
    g = _check_model(G)
    coordinates = _check_coordinates(coordinates)
    if coordinates == "params":
        g = _in_frame(g)
    fam = g.family
    k = g.n_components
    w = g.weights
    p = dict(g.params)
    if not np.all(fam.square_integrable(p)):
        raise TheoryError(f"H* needs square-integrable components; {fam.divergence_hint}".rstrip())
    d = product_integral_derivatives(fam, fam.expand(p, 1), fam.expand(p, 0))  # pair (k1, k2): theta_a = k1
    kern = np.exp(d.log_k)  # (K, K)
    q = d.grad_a.shape[-1]
    s11 = kern[:-1, :-1] - kern[:-1, -1:] - kern[-1:, :-1] + kern[-1, -1]
    db = kern[..., None] * d.grad_b  # nabla_b k(theta_k1, theta_k2): (K, K, q)
    s12 = w[None, :, None] * (db[:-1] - db[-1:])  # (K-1, K, q)
    s22 = (w[:, None] * w[None, :] * kern)[..., None, None] * d.mixed  # (K, K, q, q)
    nu = k - 1 + k * q
    h = np.empty((nu, nu))
    h[: k - 1, : k - 1] = s11
    h[: k - 1, k - 1 :] = s12.reshape(k - 1, k * q)
    h[k - 1 :, : k - 1] = h[: k - 1, k - 1 :].T
    h[k - 1 :, k - 1 :] = s22.transpose(0, 2, 1, 3).reshape(k * q, k * q)
    h = 0.5 * (h + h.T)
    if coordinates == "params":
        jac = _full_jacobian(natural_jacobian(g.family, dict(g.params)))
        h = jac.T @ h @ jac
    h = _tie(g, h, quadratic=True)
    return 0.5 * (h + h.T)


# ---------------------------------------------------------------------------------------------- score


def _natural_score(g: MixingDistribution, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score in natural coordinates at observations ``x`` (already checked) and :math:`\\log f_G(x)`.

    The score is set to zero where every component density underflows (there :math:`f_G=0`).
    """
    fam = g.family
    p = dict(g.params)
    nd = len(fam.event_shape)
    log_comp = fam.unchecked.logpdf(x[(..., None) + (slice(None),) * nd], p)  # (*b, K)
    log_joint = log_comp + np.log(g.weights)
    log_f = logsumexp(log_joint, axis=-1, keepdims=True)
    alive = np.isfinite(log_f)
    log_f = np.where(alive, log_f, 0.0)
    with np.errstate(invalid="ignore"):
        ratio = np.where(alive, np.exp(log_comp - log_f), 0.0)  # f_k / f_G
    s_w = ratio[..., :-1] - ratio[..., -1:]
    tau = g.weights * ratio
    stats = fam.unchecked.sufficient_stats(x)  # (*b, q)
    eta = fam.unchecked.expectation_from_params(p)  # (K, q)
    s_theta = tau[..., None] * (stats[..., None, :] - eta)  # (*b, K, q)
    s_theta = np.where(np.isfinite(s_theta), s_theta, 0.0)
    s = np.concatenate([s_w, s_theta.reshape(s_theta.shape[:-2] + (-1,))], axis=-1)
    return s, np.where(alive, log_f, -np.inf)[..., 0]


def score(G: Any, x: Any, *, coordinates: str = "params") -> np.ndarray:
    """Score :math:`s(x)=\\nabla_{\\boldsymbol G}\\log f_G(x)` of one observation.

    In the vector of :func:`l2_hessian` ([J] Lemma 3.1; ``docs/theory.md``, "Fisher information").

    .. math::

        s_{w_k}=\\frac{f_k(x)-f_K(x)}{f_G(x)}\\ (k<K),\\qquad
        s_{\\theta_k}=\\tau_k(x)\\{T(x)-\\eta_k\\}\\ \\text{(natural)},\\qquad
        s_{v_k}=J_k^\\top s_{\\theta_k}\\ \\text{(params)},

    densities in log space.

    Parameters
    ----------
    G : MixingDistribution
    x : array-like of shape (..., *event_shape)
    coordinates : {"params", "natural"}

    Returns
    -------
    ndarray of shape (..., nu)
    """
    g = _check_model(G)
    coordinates = _check_coordinates(coordinates)
    xa = g.family.check_x(x)
    g._log_joint_in_support(xa)  # observations no component can produce have no score
    s = _natural_score(g, xa)[0]
    if coordinates == "params":
        s = _scores_to_params(s, natural_jacobian(g.family, dict(g.params)))
    return _tie(g, s, quadratic=False)


# ------------------------------------------------------------------------------------ Fisher information


@dataclass(frozen=True, eq=False)
class FisherInformation:
    """The Fisher information matrix of a mixture and how it was computed.

    Attributes
    ----------
    matrix : ndarray of shape (nu, nu)
        :math:`I(G^*)=E_{G^*}[s(X)s(X)^\\top]`, symmetric positive definite.
    standard_error : ndarray of shape (nu, nu)
        Per entry: the Monte Carlo standard error; the quadrature's error
        estimate; zero for an exact series (truncated below :data:`SERIES_CUTOFF`).
    method : str
        ``"quadrature"``, ``"series"`` or ``"monte_carlo"``.
    n_samples : int or None
        Monte Carlo draws (``None`` otherwise).
    coordinates : str
        ``"params"`` or ``"natural"``.
    """

    matrix: np.ndarray
    standard_error: np.ndarray
    method: str
    n_samples: int | None
    coordinates: str

    def __repr__(self) -> str:
        return one_line("FisherInformation", matrix=self.matrix, method=self.method, n_samples=self.n_samples)


def _support_limits(fam: ExponentialFamily) -> tuple[float, float]:
    limits = {"real": (-math.inf, math.inf), "positive": (0.0, math.inf), "nonnegative": (0.0, math.inf)}
    if fam.support not in limits:
        raise ValueError(f"quadrature supports continuous supports {tuple(limits)}, not {fam.support!r}")
    return limits[fam.support]


def _scalar_x(fam: ExponentialFamily, t: np.ndarray) -> np.ndarray:
    return t[..., None] if fam.event_shape == (1,) else t


def _scores(g: MixingDistribution, x: np.ndarray, blocks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Scores at checked ``x``, and log f_G.

    The scores are in natural coordinates, or standard ones when the Jacobian ``blocks`` are given.
    """
    s, log_f = _natural_score(g, x)
    return _tie(g, s if blocks is None else _scores_to_params(s, blocks), quadratic=False), log_f


def _fisher_quadrature(g: MixingDistribution, blocks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\int s s^\\top f_G\\,dx` by ``scipy.integrate.quad_vec`` between breakpoints.

    The breakpoints are quantiles of draws from :math:`G` (fixed seed), so every
    component's bulk lies in its own pieces; the two outer pieces extend to the
    support's edges.
    """
    fam = g.family
    lo, hi = _support_limits(fam)
    anchors = g.sample(ANCHOR_DRAWS, rng=np.random.default_rng(0)).reshape(-1)
    probs = np.array([1e-3, 0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.98, 0.999])
    pts = np.unique(np.quantile(anchors, probs))
    pts = pts[(pts > lo) & (pts < hi)]
    edges = np.concatenate([[lo], pts, [hi]])

    def integrand(t: float) -> np.ndarray:
        with np.errstate(all="ignore"):  # far out in the tails the sufficient statistics may overflow; f_G is 0 there
            s, log_f = _scores(g, _scalar_x(fam, np.array([t])), blocks)
            out = np.outer(s[0], s[0]) * math.exp(float(log_f[0]))
        return np.where(np.isfinite(out), out, 0.0)

    total = 0.0
    err = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        val, e = integrate.quad_vec(integrand, a, b, epsabs=0.0, epsrel=QUAD_RTOL, norm="max", limit=2000)
        total = total + val
        err = err + e
    total = np.asarray(total)
    return total, np.full(total.shape, float(err))


def _fisher_series(g: MixingDistribution, blocks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\sum_x s(x)s(x)^\\top f_G(x)` over the support: every point of a finite support
    (``family._support_points``, Bernoulli and Categorical), the counts until the remaining mass is negligible
    for count families."""
    fam = g.family
    points = fam._support_points(SERIES_MAX_POINTS)
    if points is not None:
        x = points
        log_f = g.logpdf(x)
    elif fam.support == "count":
        top = int(np.max(g.sample(ANCHOR_DRAWS, rng=np.random.default_rng(0)))) * 2 + 100
        while True:
            x = _scalar_x(fam, np.arange(top + 1, dtype=float))
            log_f = g.logpdf(x)
            if log_f[-1] - np.max(log_f) < math.log(SERIES_CUTOFF) or top > 10**8:
                break
            top *= 2
    else:
        raise ValueError(
            f"the series method sums over the counts or over a finite support of at most {SERIES_MAX_POINTS} "
            f"points; {fam!r} has neither"
        )
    f = np.exp(log_f)
    s = _scores(g, x, blocks)[0]
    return np.einsum("n,ni,nj->ij", f, s, s), np.zeros((s.shape[1], s.shape[1]))


def _fisher_monte_carlo(
    g: MixingDistribution, n_mc: int, rng: np.random.Generator, blocks: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:math:`M^{-1}\\sum_ts(X_t)s(X_t)^\\top`, per-entry standard errors from :math:`\\sum_t(s_is_j)^2`.

    Scores are mapped to standard coordinates by the Jacobian ``blocks`` if given.
    """
    total = total_sq = total_s = None
    done = 0
    while done < n_mc:
        b = min(MC_BATCH, n_mc - done)
        s = _scores(g, g.sample(b, rng=rng), blocks)[0]
        total_s = s.sum(axis=0) if total_s is None else total_s + s.sum(axis=0)
        # upper triangles of s's and (s*s)'(s*s) by symmetric rank-b updates (half a matrix product each)
        total = blas.dsyrk(1.0, s.T, beta=1.0, c=total, overwrite_c=True) if total is not None else blas.dsyrk(1.0, s.T)
        sq = s * s
        total_sq = (
            blas.dsyrk(1.0, sq.T, beta=1.0, c=total_sq, overwrite_c=True)
            if total_sq is not None
            else blas.dsyrk(1.0, sq.T)
        )
        done += b
    total = np.triu(total) + np.triu(total, 1).T
    total_sq = np.triu(total_sq) + np.triu(total_sq, 1).T
    mean = total / n_mc
    var = np.maximum(total_sq / n_mc - mean**2, 0.0)
    mean_score = total_s / n_mc
    z = np.abs(mean_score) / np.sqrt(np.maximum(np.diag(mean) - mean_score**2, 1e-300) / n_mc)
    if np.max(z) > MEAN_SCORE_Z:  # E s = 0 at the model: a larger sample mean means the score or the sampler is wrong
        warnings.warn(
            f"the Monte Carlo mean of the score is {np.max(z):.1f} standard errors from 0 (coordinate "
            f"{int(np.argmax(z))}); the Fisher information is unreliable",
            NumericalWarning,
            stacklevel=external_stacklevel(),
        )
    return mean, np.sqrt(var / n_mc)


def fisher_information(
    G: Any,
    *,
    method: str = "auto",
    n_mc: int = 200_000,
    rng: Any = None,
    coordinates: str = "params",
) -> FisherInformation:
    """Fisher information :math:`I(G^*)=E[s(X)s(X)^\\top]` of a finite mixture.

    See [J] Lemma 3.1 and ``docs/theory.md``, "Fisher information".

    In the vector of :func:`l2_hessian` (same coordinates), so that
    :math:`\\operatorname{eig}(I^{-1}H^*)` gives the limit law of :math:`nD^2(\\widehat G,G^*)`.
    The score is :func:`score`; densities stay in log space.

    Parameters
    ----------
    G : MixingDistribution
        Positive weights, distinct components.
    method : {"auto", "quadrature", "series", "monte_carlo"}
        ``"quadrature"``: one-dimensional continuous families, the integral
        :math:`\\int ss^\\top f_G` by ``scipy.integrate.quad_vec`` between
        breakpoints at the mixture's quantiles (relative accuracy 1e-10).
        ``"series"``: count families, the sum over the counts until the pmf falls
        below 1e-300; families with a finite support (Bernoulli, Categorical), the exact sum
        over its points (at most :math:`2^{20}`). ``"monte_carlo"``: :math:`M^{-1}\\sum_t s(X_t)s(X_t)^\\top`,
        :math:`X_t\\sim G` (any dimension), with per-entry standard errors.
        ``"auto"``: series for counts and for finite supports of up to :math:`2^{16}` points, quadrature in
        one dimension, else Monte Carlo.
    n_mc : int, default 200_000
        Monte Carlo draws (``docs/theory.md``, "Fisher information": :math:`M\\ge10^5` for :math:`\\nu\\le30`,
        :math:`10^6` for :math:`\\nu\\approx300`).
    rng : None, int, SeedSequence or Generator
        For Monte Carlo.
    coordinates : {"params", "natural"}

    Returns
    -------
    FisherInformation

    Raises
    ------
    TheoryError
        If :math:`\\lambda_{\\min}\\le10^{-10}\\lambda_{\\max}` for the correlation matrix
        :math:`D^{-1/2}ID^{-1/2}`, :math:`D=\\operatorname{diag}I` (a units-free test): the model
        is (nearly) not identifiable at :math:`G` (e.g. two equal components).

    Warns
    -----
    NumericalWarning
        Monte Carlo: the sample mean of the score is more than 6 standard errors from 0.

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> g = ma.MixingDistribution("poisson", [1.0], {"rate": [3.0]})
    >>> fi = ma.theory.fisher_information(g)
    >>> fi.method, round(float(fi.matrix[0, 0]), 12)      # 1 / rate
    ('series', 0.333333333333)
    """
    g = _check_model(G)
    coordinates = _check_coordinates(coordinates)
    if method not in FISHER_METHODS:
        raise ValueError(f"method must be one of {FISHER_METHODS}, got {method!r}")
    fam = g.family
    one_d = fam.event_shape in ((), (1,))
    if method == "auto":
        enumerable = fam._support_points(AUTO_SERIES_MAX_POINTS) is not None
        method = "series" if fam.discrete and (one_d or enumerable) else "quadrature" if one_d else "monte_carlo"
    n_samples = None
    blocks = None
    if coordinates == "params":
        g = _in_frame(g)  # the sample's frame: scores in standard coordinates without cancellation
        blocks = natural_jacobian(fam, dict(g.params))
    if method == "quadrature":
        if not one_d or fam.discrete:
            raise ValueError(f"method='quadrature' needs a one-dimensional continuous family, not {fam!r}")
        info, se = _fisher_quadrature(g, blocks)
    elif method == "series":
        info, se = _fisher_series(g, blocks)
    else:
        n_samples = check_int(n_mc, "n_mc", minimum=2)
        info, se = _fisher_monte_carlo(g, n_samples, as_generator(rng), blocks)
    info = 0.5 * (info + info.T)
    scale = 1.0 / np.sqrt(np.maximum(np.diag(info), 1e-300))
    eig = linalg.eigvalsh(scale[:, None] * info * scale[None, :])  # the correlation matrix: free of units
    if eig[0] <= SINGULAR_RATIO * eig[-1]:
        raise TheoryError(
            f"the Fisher information of G is singular (smallest/largest eigenvalue of its correlation matrix "
            f"{eig[0] / eig[-1]:.2g}): the mixture is not identifiable at G (equal components, or a component the "
            "data cannot see)"
        )
    return FisherInformation(info, se, method, n_samples, coordinates)
