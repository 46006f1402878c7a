"""A data-driven inflation factor :math:`\\rho` for DFMR (an extension, not in the papers; docs/suggest_rho.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._display import one_line
from .._validation import as_float_array, as_generator, check_choice, check_int
from ..distances import l2_distance_matrix
from ..exceptions import TheoryError
from ..mixture import as_mixture_list
from ..robust.coat import RADIUS_RULES, check_distance_matrix, coat_radii
from .concentration import _sample_sizes, distance_eigenvalues

__all__ = ["RhoSuggestion", "rho_for_eigenvalues", "suggest_rho"]

TARGETS = ("fraction", "all")
#: Bootstrap replicates simulated at once (bounds memory at ``BOOT_CHUNK * m**2`` floats).
BOOT_CHUNK = 16


@dataclass(frozen=True, eq=False)
class RhoSuggestion:
    """The outcome of :func:`suggest_rho`.

    Attributes
    ----------
    rho : float
        The suggested inflation factor (at least 1).
    coverage : float
        The target: the expected fraction of honest estimates kept (``target="fraction"``),
        or the probability that all of them are kept (``target="all"``).
    target : str
    coat_index : int
        The COAT of the estimates, whose plug-in law was used.
    coat_radius : float
        The observed :math:`r^{\\rm COAT}`.
    predicted_radius : float
        Median of the simulated :math:`r^{\\rm COAT}` in distance units (needs the sample sizes).
    predicted_radius_interval : tuple of float
        Its 5% and 95% simulated quantiles: an observed radius far outside says the
        Gaussian limit does not describe these estimates (small :math:`n`, a
        misspecified :math:`K`) or that failures crowd the majority ball.
    eigenvalues : ndarray
        :math:`\\widehat\\lambda=\\operatorname{eig}(I^{-1}H^*)` at the COAT, largest first.
    n_honest : int
        :math:`m_{\\rm ff}`: the assumed number of failure-free estimates in the final pass
        (step 4 of :func:`suggest_rho`).
    n_boot : int
        Bootstrap replicates.
    """

    rho: float
    coverage: float
    target: str
    coat_index: int
    coat_radius: float
    predicted_radius: float
    predicted_radius_interval: tuple[float, float]
    eigenvalues: np.ndarray
    n_honest: int
    n_boot: int

    def __repr__(self) -> str:
        return one_line(
            "RhoSuggestion",
            rho=self.rho,
            target=self.target,
            coverage=self.coverage,
            coat_radius=self.coat_radius,
            predicted_radius=self.predicted_radius,
            n_honest=self.n_honest,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (R-friendly)."""
        return {
            "rho": self.rho,
            "coverage": self.coverage,
            "target": self.target,
            "coat_index": self.coat_index,
            "coat_radius": self.coat_radius,
            "predicted_radius": self.predicted_radius,
            "predicted_radius_interval": list(self.predicted_radius_interval),
            "eigenvalues": self.eigenvalues.tolist(),
            "n_honest": self.n_honest,
            "n_boot": self.n_boot,
        }


@dataclass(frozen=True)
class _Draws:
    """Honest offsets :math:`z_i\\sim N(0,\\operatorname{diag}(\\lambda)/n_i)`.

    They are regenerated chunk by chunk from fixed seeds.

    Both passes of :func:`suggest_rho` see the same draws (common random numbers)
    while memory stays at one chunk of ``BOOT_CHUNK * m * nu`` floats.
    """

    seeds: tuple[np.random.SeedSequence, ...]
    scale: np.ndarray  # (m, nu): sqrt(lambda / n_i)
    n_boot: int

    @classmethod
    def make(cls, eigenvalues: np.ndarray, sizes: np.ndarray, n_boot: int, gen: np.random.Generator) -> _Draws:
        n_chunks = -(-n_boot // BOOT_CHUNK)
        seeds = tuple(np.random.SeedSequence(gen.integers(2**63, size=4)).spawn(n_chunks))
        return cls(seeds, np.sqrt(eigenvalues[None, :] / sizes[:, None]), n_boot)

    def chunks(self, rows: np.ndarray):
        for i, seed in enumerate(self.seeds):
            b = min(BOOT_CHUNK, self.n_boot - i * BOOT_CHUNK)
            z = np.random.default_rng(seed).standard_normal((b,) + self.scale.shape) * self.scale
            yield z[:, rows]


def _simulate(draws: _Draws, honest: np.ndarray, m: int, radius: str) -> tuple[np.ndarray, np.ndarray]:
    """COAT step on the simulated offsets of the ``honest`` machines; the other ``m - len(honest)`` infinitely far.

    Returns the ratios :math:`\\mathsf D_{ci}/r^{\\rm COAT}` of the honest estimates ``(B, m_ff)``
    (the COAT's own is 0) and the radii ``(B,)``.
    """
    ratios, radii = [], []
    k = honest.size
    for zs in draws.chunks(honest):  # (b, m_ff, nu)
        sq = np.sum(zs * zs, axis=-1)
        d2 = np.maximum(sq[:, :, None] + sq[:, None, :] - 2.0 * zs @ np.swapaxes(zs, 1, 2), 0.0)
        d2[:, np.arange(k), np.arange(k)] = 0.0
        if radius == "median":  # averages two distances: needs them unsquared
            c, r = coat_radii(np.sqrt(d2), radius, n_far=m - k)
        else:  # order statistics commute with the square root
            c, r = coat_radii(d2, radius, n_far=m - k)  # failed estimates: infinitely far from everything
            r = np.sqrt(r)
        dc = np.sqrt(d2[np.arange(zs.shape[0]), c])
        ratios.append(dc / r[:, None])
        radii.append(r)
    return np.concatenate(ratios), np.concatenate(radii)


def _check_target(coverage: Any, target: Any, n_boot: Any) -> tuple[float, str, int]:
    coverage = float(coverage)
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must lie in (0, 1), got {coverage!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    return coverage, target, check_int(n_boot, "n_boot", minimum=1)


def _rho_from_draws(
    draws: _Draws, honest: np.ndarray, m: int, radius: str, coverage: float, target: str
) -> tuple[float, np.ndarray]:
    """The ``coverage`` quantile of the simulated ratios (pooled, or their per-replicate maximum), and the radii."""
    ratios, radii = _simulate(draws, honest, m, radius)
    ok = np.isfinite(radii)
    if not np.any(ok):
        raise TheoryError(f"{honest.size} failure-free estimates of {m} are no majority: the COAT rule cannot hold")
    stat = ratios[ok].reshape(-1) if target == "fraction" else ratios[ok].max(axis=1)
    return max(1.0, float(np.quantile(stat, coverage))), radii[ok]


def rho_for_eigenvalues(
    eigenvalues: Any,
    m: int,
    *,
    n_honest: int | None = None,
    coverage: float = 0.99,
    target: str = "fraction",
    radius: str = "majority",
    n_boot: int = 500,
    rng: Any = None,
) -> float:
    """The :math:`\\rho` of :func:`suggest_rho` for a given limit law.

    Given eigenvalues :math:`\\lambda`, :math:`m` machines and equal sizes.

    The simulation of :func:`suggest_rho` (steps 2–3) without the plug-in and the
    refinement: ``n_honest`` (default ``m``) failure-free estimates, the others
    infinitely far. Useful to plan experiments, e.g. the reference values of docs/suggest_rho.md.

    Examples
    --------
    >>> from mixagg.theory import rho_for_eigenvalues
    >>> round(rho_for_eigenvalues([1.0] * 8, 64, coverage=0.95, target="all", n_boot=2000, rng=0), 1)
    1.9
    """
    coverage, target, n_boot = _check_target(coverage, target, n_boot)
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    if np.any(lam < 0) or not np.any(lam > 0):
        raise ValueError("eigenvalues must be non-negative, with at least one positive")
    m = check_int(m, "m", minimum=3)
    k = m if n_honest is None else check_int(n_honest, "n_honest", minimum=m // 2 + 1, maximum=m)
    radius = check_choice(radius, "radius", RADIUS_RULES, case=True)
    draws = _Draws.make(lam, np.ones(k), n_boot, as_generator(rng))
    return _rho_from_draws(draws, np.arange(k), m, radius, coverage, target)[0]


def suggest_rho(
    estimates: Any,
    *,
    coverage: float = 0.99,
    target: str = "fraction",
    sample_sizes: Any = None,
    distances: Any = None,
    radius: str = "majority",
    n_boot: int = 500,
    fisher_method: str = "auto",
    n_mc: int = 200_000,
    rng: Any = None,
) -> RhoSuggestion:
    """Suggest the DFMR inflation factor :math:`\\rho` from the predicted law of honest distances (an extension).

    DFMR keeps :math:`\\{i:\\mathsf D_{ci}\\le\\rho\\,r^{\\rm COAT}\\}`. Failure-free estimates satisfy
    :math:`\\widehat{\\boldsymbol G}_i-\\boldsymbol G^*\\approx N(0,I^{-1}/n_i)` ([J] Lemma 3.1) and
    :math:`D^2` is locally the quadratic form of :math:`H^*` ([J] Lemma 4.1), so in the
    coordinates :math:`u=\\Lambda^{-1/2}V^\\top I^{1/2}\\boldsymbol G` that diagonalise both,
    honest estimates are :math:`z_i\\sim N(0,\\operatorname{diag}\\lambda/n_i)` and distances are
    Euclidean: :math:`\\mathsf D_{ij}\\approx\\lVert z_i-z_j\\rVert`, :math:`\\lambda=\\operatorname{eig}(I^{-1}H^*)`.
    The COAT is itself a random honest estimate, chosen by the data, so the law of
    :math:`\\mathsf D_{ci}/r^{\\rm COAT}` has no closed form; it is simulated (a parametric
    bootstrap of the whole COAT step):

    1. :math:`G^*` is replaced by the COAT estimate and
       :math:`\\widehat\\lambda=\\operatorname{eig}(I^{-1}H^*)` computed there.
    2. For :math:`b=1..B`: draw :math:`z_i` for the :math:`m_{\\rm ff}` honest machines, put the
       :math:`m-m_{\\rm ff}` others infinitely far (failures far from the honest cloud), apply
       the COAT rule, and record the ratios :math:`\\mathsf D_{ci}/r^{\\rm COAT}` of the honest estimates.
    3. ``target="fraction"``: :math:`\\rho` is the ``coverage`` quantile of all ratios pooled,
       so the filter keeps that fraction of honest estimates in expectation.
       ``target="all"``: the ``coverage`` quantile of :math:`\\max_i\\mathsf D_{ci}/r^{\\rm COAT}`,
       so it keeps all of them with that probability (docs/suggest_rho.md, target="all").
    4. :math:`m_{\\rm ff}` is first :math:`m`, then estimated from the filter's selection
       :math:`\\mathbb S_\\rho` with the first :math:`\\rho`: :math:`|\\mathbb S_\\rho|` for ``"all"``,
       :math:`|\\mathbb S_\\rho|/` ``coverage`` for ``"fraction"`` (the filter keeps about that
       fraction of the honest estimates), at most :math:`m`; the honest set is taken to be
       the :math:`m_{\\rm ff}` estimates nearest the COAT (one refinement; the same draws are reused).

    The unknown scale cancels in the ratio; only the relative eigenvalues and sample
    sizes matter. :math:`\\rho<1` is raised to 1 (the majority ball is always kept).
    Caveats: the Gaussian limit understates heavy finite-:math:`n` tails, and failures
    near the honest cloud pass any inclusive :math:`\\rho`.

    Parameters
    ----------
    estimates : sequence of MixingDistribution
        All local estimates (failed ones included).
    coverage : float in (0, 1), default 0.99
    target : {"fraction", "all"}, default "fraction"
    sample_sizes : array-like of shape (m,), optional
        Local sample sizes; by default the estimates' ``n_samples`` (from
        :func:`~mixagg.fit_mixture`), the median of those for estimates without one
        (e.g. replaced by a failure), and 1 if none has one (then the predicted
        radius is in units of :math:`n^{-1/2}`).
    distances : ndarray of shape (m, m), optional
        Precomputed :func:`~mixagg.l2_distance_matrix` of ``estimates``.
    radius : {"majority", "half", "median", "code"}
        The COAT rule (:func:`~mixagg.robust.coat_radius`).
    n_boot : int, default 500
    fisher_method, n_mc
        Fisher information options (:func:`~mixagg.theory.fisher_information`).
    rng : None, int, SeedSequence or Generator
        For the bootstrap and a Monte Carlo Fisher information.

    Returns
    -------
    RhoSuggestion

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [2.0, 12.0]})
    >>> rng = np.random.default_rng(0)
    >>> local = [ma.fit_mixture(truth.sample(2000, rng), "poisson", 2, init=truth) for _ in range(30)]
    >>> s = ma.theory.suggest_rho(local, rng=0)
    >>> 1.0 < s.rho < 3.0, s.n_honest
    (True, 30)
    """
    items = as_mixture_list(estimates, "estimates")
    m = len(items)
    coverage, target, n_boot = _check_target(coverage, target, n_boot)
    radius = check_choice(radius, "radius", RADIUS_RULES, case=True)
    if m < 3:
        raise ValueError(f"suggest_rho needs at least 3 estimates (a COAT and a majority ball), got {m}")
    sizes = _sample_sizes(items, sample_sizes, "sample_sizes", fill=True)
    d = l2_distance_matrix(items) if distances is None else check_distance_matrix(distances, m)
    c_arr, r_arr = coat_radii(d, radius)
    c, r_obs = int(c_arr), float(r_arr)
    gen = as_generator(rng)
    lam = distance_eigenvalues(items[c], method=fisher_method, n_mc=n_mc, rng=gen)
    draws = _Draws.make(lam, sizes, n_boot, gen)

    rho, _ = _rho_from_draws(draws, np.arange(m), m, radius, coverage, target)
    kept = int(np.count_nonzero(d[c] <= rho * r_obs)) if r_obs > 0 else m
    n_honest = kept if target == "all" else min(m, round(kept / coverage))  # the filter keeps ~coverage of them
    honest = np.sort(np.argsort(d[c], kind="stable")[:n_honest])  # the estimates nearest the COAT
    rho, radii = _rho_from_draws(draws, honest, m, radius, coverage, target)
    lo, mid, hi = np.quantile(radii, [0.05, 0.5, 0.95])
    return RhoSuggestion(
        rho=rho,
        coverage=coverage,
        target=target,
        coat_index=c,
        coat_radius=r_obs,
        predicted_radius=float(mid),
        predicted_radius_interval=(float(lo), float(hi)),
        eigenvalues=lam,
        n_honest=int(honest.size),
        n_boot=n_boot,
    )
