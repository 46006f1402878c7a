"""Mixture reduction (MR) and the composite transportation divergence ([J] §3.1–3.2, App. A.2; MATH.md §5).

The average of the local estimates, :math:`\\overline G=\\sum_i\\lambda_i\\widetilde G_i`
(:math:`\\lambda_i=n_i/\\sum n`), has up to :math:`mK` atoms; MR reduces it to
:math:`K` atoms by minimising the composite transportation divergence

.. math:: T_c(\\overline G,G)=\\min_\\pi\\sum_{\\gamma k}\\pi_{\\gamma k}\\,c(\\theta_\\gamma,\\theta_k),
          \\qquad c(\\theta',\\theta)=\\mathrm{KL}(f_{\\theta'}\\Vert f_\\theta),

over :math:`G` with at most :math:`K` atoms, a "K-means in the family" solved by an
MM algorithm ([J] Algorithm 2): assign every atom to its cheapest centre, move
every centre to the KL barycentre of its atoms (moment matching, MATH.md §2.4).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _ot
from ._validation import as_float_array, check_int, external_stacklevel
from .exceptions import ConvergenceWarning, NumericalWarning
from .families.base import ExponentialFamily, Params
from .mixture import MixingDistribution, as_mixture, as_mixture_list

__all__ = [
    "ReductionResult",
    "TrimmedReductionResult",
    "average_mixture",
    "composite_transport_divergence",
    "composite_transport_plan",
    "mixture_reduction",
    "trimmed_reduction",
]

#: Relative size of an objective increase that is not rounding (MATH.md §5.3 item 4: it signals a bug).
INCREASE_TOLERANCE = 1e-10
#: Starts whose matrix-product objective lies within this relative band of the best are re-ranked with the
#: family's exact KL (the matrix product is accurate to rounding of the terms it adds).
NEAR_TIE = 1e-8


@dataclass(frozen=True)
class ReductionResult:
    """Outcome of :func:`mixture_reduction`.

    Attributes
    ----------
    mixture : MixingDistribution
        The reduced mixture (at most ``n_components`` atoms; fewer if clusters emptied).
    objective : float
        :math:`J=\\sum_\\gamma\\pi_\\gamma\\,\\mathrm{KL}(f_\\gamma\\Vert f_{\\theta_{k(\\gamma)}})`, the composite
        transportation divergence from the average mixture to the result.
    n_iter : int
        MM iterations of the kept start.
    converged : bool
    assignment : ndarray of int, shape (m, K_max)
        ``assignment[i, k]``: the reduced component that component ``k`` of
        estimate ``i`` was assigned to (``-1`` for atoms of mass zero or padding).
    start_objectives : tuple of float
        Final objective of every start: the matrix-product form of the cost, and
        the family's exact KL for the starts within rounding of the best (the
        lowest exact objective is kept; ties to the earliest start).
    best_start : int
    dropped : int
        Centres dropped because no atom chose them (MATH.md §5.3 item 2).
    """

    mixture: MixingDistribution
    objective: float
    n_iter: int
    converged: bool
    assignment: np.ndarray
    start_objectives: tuple[float, ...]
    best_start: int
    dropped: int


# ---------------------------------------------------------------------------- the average mixture


def _lambdas(sample_sizes: Any, m: int) -> np.ndarray:
    """:math:`\\lambda_i=n_i/\\sum n` (MATH.md §5.1); equal when ``sample_sizes`` is None."""
    if sample_sizes is None:
        return np.full(m, 1.0 / m)
    n = as_float_array(sample_sizes, "sample_sizes", ndim=1)
    if n.shape != (m,):
        raise ValueError(f"sample_sizes must have one entry per estimate ({m}), got shape {n.shape}")
    if np.any(n <= 0):
        raise ValueError("sample_sizes must be positive")
    return n / n.sum()


@dataclass(frozen=True)
class _Atoms:
    """The atoms of :math:`\\overline G` in the family's KL frame, with cached natural/expectation coordinates."""

    family: ExponentialFamily
    params: Params  # in the KL frame (e.g. Gaussian means centred)
    mass: np.ndarray  # (M,), sums to one
    owner: np.ndarray  # (M, 2): estimate index, component index
    eta: np.ndarray  # (M, n_natural)
    self_term: np.ndarray  # theta . eta - A(theta), so that KL(atom || centre) = A(centre) - centre . eta + self_term
    shape: tuple[int, int]  # (m, K_max)
    to_frame: Callable[[Params], Params]
    from_frame: Callable[[Params], Params]


def _atoms(items: list[MixingDistribution], lambdas: np.ndarray) -> _Atoms:
    fam = items[0].family
    owner = np.array([(i, k) for i, g in enumerate(items) for k in range(g.n_components)], dtype=np.intp)
    mass = np.concatenate([lam * g.weights for lam, g in zip(lambdas, items)])
    params = {key: np.concatenate([g.params[key] for g in items]) for key in fam.param_spec}
    keep = mass > 0
    owner, mass = owner[keep], mass[keep]
    to_frame, from_frame = fam._kl_frame(fam.take(params, keep), mass)
    params = to_frame(fam.take(params, keep))
    theta, log_partition = fam._natural_and_log_partition(params)  # A from the parameters themselves
    eta = fam._expectation_from_params(params)
    self_term = np.einsum("ij,ij->i", theta, eta) - log_partition
    k_max = max(g.n_components for g in items)
    return _Atoms(fam, params, mass / mass.sum(), owner, eta, self_term, (len(items), k_max), to_frame, from_frame)


def average_mixture(estimates: Sequence[Any], *, sample_sizes: Any = None) -> MixingDistribution:
    """:math:`\\overline G=\\sum_i\\lambda_i\\widetilde G_i` with all the atoms of all estimates (MATH.md §5.1)."""
    items = as_mixture_list(estimates, "estimates")
    atoms = _atoms(items, _lambdas(sample_sizes, len(items)))
    return MixingDistribution._trusted(atoms.family, atoms.mass, atoms.from_frame(atoms.params))


# ---------------------------------------------------------------------------- the MM algorithm


def _cost(atoms: _Atoms, centres: Params) -> np.ndarray:
    """``C[g, k] = KL(f_atom_g || f_centre_k)`` for all atoms and centres, as one matrix product."""
    theta_c, log_partition = atoms.family._natural_and_log_partition(centres)
    return log_partition[None, :] - atoms.eta @ theta_c.T + atoms.self_term[:, None]


def _exact_objective(atoms: _Atoms, centres: Params, assign: np.ndarray, mass: np.ndarray) -> float:
    """:math:`\\sum\\pi_\\gamma\\mathrm{KL}` from the family's own (cancellation-free) KL, one centre at a time."""
    fam = atoms.family
    total = 0.0
    for k in range(fam.batch_shape(centres)[0]):
        idx = np.flatnonzero(assign == k)
        if idx.size:
            total += float(mass[idx] @ fam._kl_divergence(fam.take(atoms.params, idx), fam.take(centres, k)))
    return total


def _drop_empty(fam: ExponentialFamily, centres: Params, assign: np.ndarray) -> tuple[Params, np.ndarray]:
    """Remove centres no atom chose and relabel the assignment (MATH.md §5.3 item 2)."""
    used = np.unique(assign)
    if used.size == fam.batch_shape(centres)[0]:
        return centres, assign
    return fam.take(centres, used), np.searchsorted(used, assign)


def _mm(atoms: _Atoms, centres: Params, tol: float, max_iter: int) -> tuple[Params, np.ndarray, np.ndarray, float, int, bool]:
    """One MM run from ``centres`` (in the KL frame); returns (centres, weights, assignment, objective, iterations, converged)."""
    fam = atoms.family
    rows = np.arange(atoms.mass.size)
    assign = None
    objective = np.inf
    current: float | None = None
    converged = False
    n_iter = 0
    scale = float(atoms.mass @ np.abs(atoms.self_term)) + 1.0
    while n_iter < max_iter:
        cost = _cost(atoms, centres)
        new_assign = np.argmin(cost, axis=1)  # ties: the lowest index (MATH.md §5.3)
        current = float(atoms.mass @ cost[rows, new_assign])
        if current > objective + INCREASE_TOLERANCE * (abs(objective) + scale):
            warnings.warn(
                f"the MR objective increased from {objective!r} to {current!r} (iteration {n_iter}); "
                "this signals a KL or barycentre inconsistent with the family",
                NumericalWarning,
                stacklevel=external_stacklevel(),
            )
        stationary = assign is not None and np.array_equal(new_assign, assign)
        assign = new_assign
        if stationary or (np.isfinite(objective) and (objective - current) / max(abs(objective), abs(current), 1.0) < tol):
            converged = True
            break
        objective, current = current, None  # the centres move: the objective must be recomputed
        centres, assign = _drop_empty(fam, centres, assign)
        masses = np.zeros((fam.batch_shape(centres)[0], atoms.mass.size))
        masses[assign, rows] = atoms.mass
        centres = fam._barycentre(atoms.params, masses)
        n_iter += 1
    if current is None:  # stopped by max_iter right after an update: evaluate, and see whether it is stationary
        cost = _cost(atoms, centres)
        new_assign = np.argmin(cost, axis=1)
        converged = bool(np.array_equal(new_assign, assign))
        assign = new_assign
        current = float(atoms.mass @ cost[rows, assign])
    centres, assign = _drop_empty(fam, centres, assign)
    weights = np.bincount(assign, weights=atoms.mass, minlength=fam.batch_shape(centres)[0])
    return centres, weights, assign, current, n_iter, converged


def _best_run(atoms: _Atoms, candidates: list[tuple[Params, np.ndarray, np.ndarray, float]]) -> tuple[int, list[float]]:
    """The start with the lowest objective; candidates are ``(centres, assignment, masses, matrix objective)``.

    Ranked by the matrix-product objective; starts within :data:`NEAR_TIE` of the
    best are re-ranked by the family's exact KL (ties to the earliest start).
    """
    approx = np.array([c[3] for c in candidates])
    best = float(approx.min())
    band = np.flatnonzero(approx <= best + NEAR_TIE * (abs(best) + float(atoms.mass @ np.abs(atoms.self_term)) + 1.0))
    exact: dict[int, float] = {}
    seen: dict[tuple[bytes, float], float] = {}  # starts that reached the same solution share one evaluation
    for j in band:
        key = (candidates[j][1].tobytes(), float(approx[j]))
        if key not in seen:
            seen[key] = _exact_objective(atoms, candidates[j][0], candidates[j][1], candidates[j][2])
        exact[int(j)] = seen[key]
    winner = min(exact, key=lambda j: (exact[j], j))
    return winner, [exact.get(j, float(v)) for j, v in enumerate(approx)]


def _starts(items: list[MixingDistribution], k: int, init: Any, restarts: Any, to_frame) -> list[Params]:
    given: list[MixingDistribution] = []
    if init is not None:
        inits = [init] if isinstance(init, (MixingDistribution, dict)) else list(init)
        for j, g in enumerate(inits):
            g = as_mixture(g, f"init[{j}]")
            if g.family != items[0].family:
                raise ValueError(f"init[{j}] has family {g.family!r} but the estimates have {items[0].family!r}")
            if g.n_components != k:
                raise ValueError(f"init[{j}] has {g.n_components} components but n_components={k}")
            given.append(g)
    if restarts == "auto":
        given.extend(g for g in items if g.n_components == k and not any(g is h for h in given))
    elif restarts != "none":
        raise ValueError(f"restarts must be 'auto' or 'none', got {restarts!r}")
    if not given:
        raise ValueError(
            f"no starting mixture with {k} components: pass init=..., or restarts='auto' with estimates of {k} components"
        )
    return [to_frame(dict(g.params)) for g in given]


def mixture_reduction(
    estimates: Sequence[Any],
    n_components: int,
    *,
    sample_sizes: Any = None,
    init: Any = None,
    restarts: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> ReductionResult:
    """Reduce the average of the estimates to ``n_components`` atoms (MR, [J] §3.1–3.2, Algorithm 2).

    Parameters
    ----------
    estimates : sequence of MixingDistribution or dict
        Local estimates of one family (their numbers of components may differ).
    n_components : int
        :math:`K`, the order of the reduced mixture.
    sample_sizes : array-like of shape (m,), optional
        Local sample sizes :math:`n_i`; the estimates are weighted by
        :math:`\\lambda_i=n_i/\\sum n` ([J] App. A.2). Default: equal.
    init : MixingDistribution or sequence of them, optional
        Explicit starts (e.g. the COAT, [J] §5.1.2); tried first.
    restarts : {"auto", "none"}, default "auto"
        ``"auto"`` also starts from every estimate with ``n_components``
        components (the reference code, MATH.md §5.4); the lowest objective wins,
        ties to the earliest start.
    tol : float, default 1e-8
        Stop when the objective's relative decrease falls below ``tol`` (or the
        assignment repeats, which makes it exactly stationary).
    max_iter : int, default 1000
        MM iterations per start.

    Returns
    -------
    ReductionResult

    Warns
    -----
    ConvergenceWarning
        The kept start reached ``max_iter``.
    NumericalWarning
        The objective increased (a KL or barycentre inconsistent with the family).

    Notes
    -----
    The cost :math:`c(\\theta_\\gamma,\\theta_k)=\\mathrm{KL}(f_\\gamma\\Vert f_k)` has the first
    argument at the atom (MATH.md §2.3), so the update is the KL barycentre:
    the mass-weighted average of expectation parameters mapped back (moment
    matching). For an exponential family,
    :math:`\\mathrm{KL}=A(\\theta_k)-\\theta_k^\\top\\eta_\\gamma+(\\theta_\\gamma^\\top\\eta_\\gamma-A(\\theta_\\gamma))`,
    so the whole :math:`M\\times K` cost matrix is one matrix product; the
    reported objective uses the family's own KL. Near the truth, with
    well-separated components, MR is aligned averaging ([J] Lemma B.5).

    Examples
    --------
    >>> import mixagg as ma
    >>> a = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 10.0]})
    >>> b = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [1.2, 9.0]})
    >>> res = ma.reduction.mixture_reduction([a, b], 2)
    >>> [round(float(r), 2) for r in sorted(res.mixture.params["rate"])]
    [1.09, 9.45]
    """
    items = as_mixture_list(estimates, "estimates")
    k = check_int(n_components, "n_components", minimum=1)
    tol = float(tol)
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a non-negative finite number, got {tol!r}")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    atoms = _atoms(items, _lambdas(sample_sizes, len(items)))
    runs = [_mm(atoms, start, tol, max_iter) for start in _starts(items, k, init, restarts, atoms.to_frame)]
    best, objectives = _best_run(atoms, [(r[0], r[2], atoms.mass, r[3]) for r in runs])
    centres, weights, assign, _, n_iter, converged = runs[best]
    if not converged:
        warnings.warn(
            f"mixture reduction did not converge within max_iter={max_iter} iterations", ConvergenceWarning,
            stacklevel=external_stacklevel(),
        )
    m, k_max = atoms.shape
    assignment = np.full((m, k_max), -1, dtype=np.intp)
    assignment[atoms.owner[:, 0], atoms.owner[:, 1]] = assign
    fam = atoms.family
    mixture = MixingDistribution._trusted(fam, weights / weights.sum(), fam._canonical(atoms.from_frame(centres)))
    return ReductionResult(
        mixture, objectives[best], n_iter, converged, assignment, tuple(objectives), best, k - mixture.n_components
    )


# ---------------------------------------------------------------------------- transportation divergence


def _kl_matrix(g: MixingDistribution, h: MixingDistribution) -> np.ndarray:
    fam = g.family
    return fam._kl_divergence(fam.expand(dict(g.params), 1), fam.expand(dict(h.params), 0))


def composite_transport_plan(G: Any, H: Any, *, max_iter: int = 100_000) -> _ot.TransportResult:
    """Optimal plan of :math:`T_c(G,H)` with :math:`c=\\mathrm{KL}` ([J] eq. (2); MATH.md §5.2), via POT's ``emd``.

    Returns the :class:`~mixagg._ot.TransportResult` (value, plan, status).
    """
    g, h = as_mixture(G, "G"), as_mixture(H, "H")
    if g.family != h.family:
        raise ValueError(f"H has family {h.family!r} but G has {g.family!r}")
    return _ot.transport(g.weights, h.weights, _kl_matrix(g, h), max_iter=max_iter)


def composite_transport_divergence(G: Any, H: Any, *, max_iter: int = 100_000) -> float:
    """:math:`T_c(G,H)=\\min_\\pi\\sum\\pi_{kk'}\\mathrm{KL}(f_{\\theta_k}\\Vert f_{\\theta'_{k'}})` ([J] eq. (2); MATH.md §5.2).

    Not symmetric (KL is not); zero for identical mixtures.
    :func:`composite_transport_plan` also returns the plan.

    Examples
    --------
    >>> import mixagg as ma
    >>> g = ma.MixingDistribution("exponential", [0.5, 0.5], {"rate": [1.0, 5.0]})
    >>> ma.reduction.composite_transport_divergence(g, g)
    0.0
    """
    return composite_transport_plan(G, H, max_iter=max_iter).value


# ---------------------------------------------------------------------------- trimmed K-barycentres (TRIM)


@dataclass(frozen=True)
class TrimmedReductionResult:
    """Outcome of :func:`trimmed_reduction`.

    Attributes
    ----------
    mixture : MixingDistribution
        Centres with weights :math:`w_k=(1-\\eta)^{-1}\\sum_{\\gamma\\to k}\\kappa_\\gamma`.
    objective : float
        :math:`J^{\\rm trim}=\\sum_\\gamma\\kappa_\\gamma\\,\\mathrm{KL}(f_\\gamma\\Vert f_{k(\\gamma)})`.
    n_iter : int
    converged : bool
    kept_mass : ndarray of shape (m, K_max)
        :math:`\\kappa` of every component of every estimate (0 where trimmed or padding).
    assignment : ndarray of int, shape (m, K_max)
    start_objectives : tuple of float
    best_start : int
    dropped : int
        Centres dropped because they kept no mass.
    """

    mixture: MixingDistribution
    objective: float
    n_iter: int
    converged: bool
    kept_mass: np.ndarray
    assignment: np.ndarray
    start_objectives: tuple[float, ...]
    best_start: int
    dropped: int


#: Slack of the "cumulative mass >= 1 - eta" test of TRIM's trimming step (MATH.md §6.5).
TRIM_MASS_SLACK = 1e-12


def _trim_masses(mass: np.ndarray, loss: np.ndarray, keep: float) -> np.ndarray:
    """:math:`\\kappa`: the cheapest atoms' masses up to a total of exactly ``keep``.

    The atoms at the boundary loss share what is left in proportion to their
    masses, so atoms with equal losses (e.g. identical machines) are treated
    alike whatever their order (MATH.md §6.5 keeps a single boundary atom).
    """
    order = np.argsort(loss, kind="stable")
    cum = np.cumsum(mass[order])
    tau = min(int(np.searchsorted(cum, keep - TRIM_MASS_SLACK)), mass.size - 1)
    boundary = loss[order[tau]]
    below = loss < boundary
    tied = loss == boundary
    kappa = np.where(below, mass, 0.0)
    left = keep - kappa.sum()
    kappa[tied] = mass[tied] * min(1.0, left / mass[tied].sum())
    return kappa


def _trim_run(atoms: _Atoms, centres: Params, eta: float, tol: float, max_iter: int):
    fam = atoms.family
    keep = 1.0 - eta
    rows = np.arange(atoms.mass.size)
    previous = None
    objective = np.inf
    converged = False
    n_iter = 0
    while True:
        cost = _cost(atoms, centres)
        assign = np.argmin(cost, axis=1)
        loss = cost[rows, assign]
        kappa = _trim_masses(atoms.mass, loss, keep)
        current = float(kappa @ loss)
        key = (assign.tobytes(), kappa.tobytes())
        if key == previous or (
            np.isfinite(objective) and (objective - current) / max(abs(objective), abs(current), 1.0) < tol
        ):
            converged = True
            break
        if n_iter >= max_iter:
            break
        previous, objective = key, current
        live = kappa > 0
        used = np.unique(assign[live])  # centres with no kept mass are dropped (MATH.md §6.5 item 3)
        masses = np.zeros((used.size, atoms.mass.size))
        masses[np.searchsorted(used, assign[live]), rows[live]] = kappa[live]
        centres = fam._barycentre(atoms.params, masses)
        n_iter += 1
    live = kappa > 0
    used = np.unique(assign[live])
    centres = fam.take(centres, used)
    relabel = np.full(int(assign.max()) + 1, -1)
    relabel[used] = np.arange(used.size)
    assign = relabel[assign]
    weights = np.bincount(assign[live], weights=kappa[live], minlength=used.size) / keep
    return centres, weights, assign, kappa, current, n_iter, converged


def trimmed_reduction(
    estimates: Sequence[Any],
    n_components: int,
    *,
    eta: float = 0.5,
    sample_sizes: Any = None,
    init: Any = None,
    restarts: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> TrimmedReductionResult:
    """Trimmed :math:`K`-barycentres of the atoms of all estimates (del Barrio et al. 2019; [J] App. A.3, Algorithm 3).

    Iterates: assign every atom to its cheapest centre (KL cost); keep the
    cheapest atoms up to a total mass :math:`1-\\eta` (atoms tied at the boundary
    share what is left); move every centre to the KL barycentre of its kept
    mass. The objective :math:`J^{\\rm trim}` never increases. Stops when the
    assignment and the kept masses repeat, or the relative decrease is below
    ``tol``. Restarts as :func:`mixture_reduction`; the lowest objective wins.
    This follows the corrected Algorithm 3 of MATH.md §6.5 ([J]'s printed
    version has four slips).

    Parameters
    ----------
    eta : float in (0, 1), default 0.5
        Trimmed fraction of the mass ([J] §5.1.2).
    Other parameters as :func:`mixture_reduction`.
    """
    items = as_mixture_list(estimates, "estimates")
    k = check_int(n_components, "n_components", minimum=1)
    eta = float(eta)
    if not 0 < eta < 1:
        raise ValueError(f"eta must lie in (0, 1), got {eta!r}")
    tol = float(tol)
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a non-negative finite number, got {tol!r}")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    atoms = _atoms(items, _lambdas(sample_sizes, len(items)))
    runs = [_trim_run(atoms, start, eta, tol, max_iter) for start in _starts(items, k, init, restarts, atoms.to_frame)]
    best, objectives = _best_run(atoms, [(r[0], r[2], r[3], r[4]) for r in runs])
    centres, weights, assign, kappa, _, n_iter, converged = runs[best]
    if not converged:
        warnings.warn(
            f"TRIM did not converge within max_iter={max_iter} iterations", ConvergenceWarning, stacklevel=external_stacklevel()
        )
    m, k_max = atoms.shape
    kept = np.zeros((m, k_max))
    kept[atoms.owner[:, 0], atoms.owner[:, 1]] = kappa
    assignment = np.full((m, k_max), -1, dtype=np.intp)
    assignment[atoms.owner[:, 0], atoms.owner[:, 1]] = assign
    fam = atoms.family
    mixture = MixingDistribution._trusted(fam, weights / weights.sum(), fam._canonical(atoms.from_frame(centres)))
    return TrimmedReductionResult(
        mixture, objectives[best], n_iter, converged, kept, assignment, tuple(objectives), best, k - mixture.n_components
    )
