"""Mixture reduction (MR) and the composite transportation divergence.

See [J] §3.1–3.2, App. A.2 and ``docs/mixture_reduction.md``.

The average of the local estimates, :math:`\\overline G=\\sum_i\\lambda_i\\widetilde G_i`
(:math:`\\lambda_i=n_i/\\sum n`), has up to :math:`mK` atoms; MR reduces it to
:math:`K` atoms by minimising the composite transportation divergence

.. math:: T_c(\\overline G,G)=\\min_\\pi\\sum_{\\gamma k}\\pi_{\\gamma k}\\,c(\\theta_\\gamma,\\theta_k),
          \\qquad c(\\theta',\\theta)=\\mathrm{KL}(f_{\\theta'}\\Vert f_\\theta),

over :math:`G` with at most :math:`K` atoms, a "K-means in the family" solved by an
MM algorithm ([J] Algorithm 2): assign every atom to its cheapest centre, move
every centre to the KL barycentre of its atoms (moment matching, [J] eq. (6);
``docs/families.md``, "KL barycentre (moment matching)").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _ot, exceptions
from ._capabilities import Hook, declare_capability
from ._display import one_line
from ._validation import check_int, check_masses, check_real, external_stacklevel
from .exceptions import NumericalWarning
from .families.core import ExponentialFamily, Params
from .mixture import MixingDistribution, as_mixture, as_mixture_list

__all__ = [
    "ReductionResult",
    "TrimmedReductionResult",
    "average_mixture",
    "composite_transport_divergence",
    "composite_transport_plan",
    "kl_frame",
    "machine_weights",
    "mixture_reduction",
    "trimmed_reduction",
]

#: Relative size of an objective increase that is not rounding (an increase signals a KL or barycentre
#: inconsistent with the family).
INCREASE_TOLERANCE = 1e-10
#: Unit roundoff of double precision, :math:`u=2^{-53}` (Higham 2002, *Accuracy and Stability of Numerical
#: Algorithms*, §2.2).
UNIT_ROUNDOFF = float(np.finfo(float).eps) / 2


def _reduction_repr(result: Any) -> str:
    """One line for a reduction result: its order, objective, iterations and kept start."""
    return one_line(
        type(result).__name__,
        K=result.mixture.n_components,
        objective=result.objective,
        n_iter=result.n_iter,
        converged=result.converged,
        best_start=result.best_start,
    )


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
        Objective of the solution every start reached: the family's exact KL for
        the solutions within rounding of the best, the matrix-product form of the
        cost for the others (see :func:`mixture_reduction` for the rule that
        picks the kept solution).
    best_start : int
        The earliest start that reached the kept solution; the reduced mixture
        carries its component labels.
    dropped : int
        Centres dropped because no atom chose them.
    """

    mixture: MixingDistribution
    objective: float
    n_iter: int
    converged: bool
    assignment: np.ndarray
    start_objectives: tuple[float, ...]
    best_start: int
    dropped: int

    __repr__ = _reduction_repr


# ---------------------------------------------------------------------------- the KL frame (a family capability)

#: The reduction's optional capability: a family may name a frame in which to run mixture reduction.
KL_FRAME = declare_capability(
    "reduction",
    "mixagg.reduction",
    (
        Hook(
            "_kl_frame(params, mass) -> (to, back)",
            "a change of coordinates of standard parameters that leaves KL divergences unchanged and commutes with "
            "KL barycentres, chosen to centre the atoms params with masses mass (Gaussian: translate the means)",
            "the identity frame",
        ),
    ),
)


def _identity(params: Params) -> Params:
    return params


def kl_frame(
    family: ExponentialFamily, params: Params, mass: np.ndarray
) -> tuple[Callable[[Params], Params], Callable[[Params], Params]]:
    """The maps ``(to, back)`` into and out of the family's KL frame for atoms ``params`` with masses ``mass``.

    Mixture reduction (and :math:`H^*` in standard coordinates) runs in that frame, so that the
    matrix-product form of the KL cost does not cancel for badly located data. The frame must leave
    :math:`\\mathrm{KL}(f_a\\Vert f_b)` unchanged and map KL barycentres to KL barycentres
    ([J] App. B.9.2; ``docs/families.md``). Fallback: the identity.
    """
    hook = KL_FRAME.find(family, "_kl_frame")
    return (_identity, _identity) if hook is None else hook(params, mass)


# ---------------------------------------------------------------------------- the average mixture


def _check_exclude(exclude: Any, items: list[MixingDistribution]) -> np.ndarray | None:
    """The ``(m, K_max)`` boolean mask of atoms left out of a reduction (``None``: none)."""
    if exclude is None:
        return None
    shape = (len(items), max(g.n_components for g in items))
    mask = np.asarray(exclude)
    if mask.dtype != bool or mask.shape != shape:
        raise ValueError(f"exclude must be a boolean array of shape {shape} (estimates x components)")
    weights = np.zeros(shape)
    for i, g in enumerate(items):
        weights[i, : g.n_components] = g.weights
    if not np.any(weights[~mask] > 0):
        raise ValueError("exclude leaves out every atom: nothing is left to reduce")
    return mask


def machine_weights(sample_sizes: Any, m: int) -> np.ndarray:
    """:math:`\\lambda_i=n_i/\\sum n` from positive sample sizes, one per estimate ([J] App. A.2).

    Equal when ``None``.
    """
    if sample_sizes is None:
        return np.full(m, 1.0 / m)
    n = check_masses(sample_sizes, "sample_sizes", m, positive=True, what="one entry per estimate")
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
    eta_l1: np.ndarray  # ||eta||_1 of every atom, for the rounding-error bound of the costs
    shape: tuple[int, int]  # (m, K_max)
    to_frame: Callable[[Params], Params]
    from_frame: Callable[[Params], Params]


def _atoms(items: list[MixingDistribution], lambdas: np.ndarray, exclude: np.ndarray | None = None) -> _Atoms:
    fam = items[0].family
    owner = np.array([(i, k) for i, g in enumerate(items) for k in range(g.n_components)], dtype=np.intp)
    mass = np.concatenate([lam * g.weights for lam, g in zip(lambdas, items)])
    params = {key: np.concatenate([g.params[key] for g in items]) for key in fam.param_spec}
    keep = mass > 0
    if exclude is not None:
        keep &= ~exclude[owner[:, 0], owner[:, 1]]
    owner, mass = owner[keep], mass[keep]
    to_frame, from_frame = kl_frame(fam, fam.take(params, keep), mass)
    params = to_frame(fam.take(params, keep))
    theta, log_partition = fam.unchecked.natural_and_log_partition(params)  # A from the parameters themselves
    eta = fam.unchecked.expectation_from_params(params)
    self_term = np.einsum("ij,ij->i", theta, eta) - log_partition
    k_max = max(g.n_components for g in items)
    eta_l1 = np.abs(eta).sum(axis=1)
    return _Atoms(
        fam, params, mass / mass.sum(), owner, eta, self_term, eta_l1, (len(items), k_max), to_frame, from_frame
    )


def average_mixture(estimates: Sequence[Any], *, sample_sizes: Any = None) -> MixingDistribution:
    """:math:`\\overline G=\\sum_i\\lambda_i\\widetilde G_i` with all the atoms of all estimates ([J] §3.1)."""
    items = as_mixture_list(estimates, "estimates")
    atoms = _atoms(items, machine_weights(sample_sizes, len(items)))
    return MixingDistribution._trusted(atoms.family, atoms.mass, atoms.from_frame(atoms.params))


# ---------------------------------------------------------------------------- the MM algorithm


def _cost(atoms: _Atoms, centres: Params) -> np.ndarray:
    """``C[g, k] = KL(f_atom_g || f_centre_k)`` for all atoms and centres, as one matrix product."""
    theta_c, log_partition = atoms.family.unchecked.natural_and_log_partition(centres)
    return log_partition[None, :] - atoms.eta @ theta_c.T + atoms.self_term[:, None]


#: A KL cost whose rounding-error bound exceeds this many nats is not known at all: it is treated as infinite.
COST_PRECISION = 1e-3


def cost_error_bound(eta_l1: np.ndarray, self_term: np.ndarray, theta: np.ndarray, log_partition: np.ndarray):
    """Bound on the rounding error of every entry of the matrix-product KL cost ``(M, K)``.

    ``eta_l1`` holds :math:`\\lVert\\eta_\\gamma\\rVert_1` of the atoms, ``self_term`` their :math:`s_\\gamma`.

    :math:`\\gamma_{p+2}(|A(\\theta_k)|+\\lVert\\eta_\\gamma\\rVert_1\\lVert\\theta_k\\rVert_\\infty+|s_\\gamma|)`
    (Higham 2002, §3.1): an atom or a centre far beyond the others (a mean near :math:`10^{99}`, a Gamma
    shape near :math:`10^{99}`) makes it astronomically large, and its costs meaningless
    (``docs/mixture_reduction.md``, "Numerical range").
    """
    n = theta.shape[-1] + 2
    gamma = n * UNIT_ROUNDOFF / (1.0 - n * UNIT_ROUNDOFF)
    with np.errstate(over="ignore", invalid="ignore"):
        rows = eta_l1[:, None] * np.abs(theta).max(axis=1)[None, :]
        return gamma * (np.abs(log_partition)[None, :] + rows + np.abs(self_term)[:, None])


def _reliable_cost(atoms: _Atoms, centres: Params) -> np.ndarray:
    """:func:`_cost`; where its rounding error may exceed :data:`COST_PRECISION`, the family's own KL.

    The family's KL avoids the cancellation of the matrix-product form (for the Gaussian it works
    with mean differences), so an atom far beyond the others still costs 0 at its own centre; what
    is still not a number costs ``inf``.
    """
    fam = atoms.family
    with np.errstate(over="ignore", invalid="ignore"):
        theta_c, log_partition = fam.unchecked.natural_and_log_partition(centres)
        cost = log_partition[None, :] - atoms.eta @ theta_c.T + atoms.self_term[:, None]
        unknown = ~(cost_error_bound(atoms.eta_l1, atoms.self_term, theta_c, log_partition) <= COST_PRECISION)
        if unknown.any():
            a, k = np.nonzero(unknown)
            cost[a, k] = fam.unchecked.kl_divergence(fam.take(atoms.params, a), fam.take(centres, k))
    return np.where(np.isnan(cost), np.inf, cost)


def _exact_objective(atoms: _Atoms, centres: Params, assign: np.ndarray, mass: np.ndarray) -> float:
    """:math:`\\sum\\pi_\\gamma\\mathrm{KL}` from the family's own (cancellation-free) KL, one centre at a time."""
    fam = atoms.family
    total = 0.0
    for k in range(fam.batch_shape(centres)[0]):
        idx = np.flatnonzero(assign == k)
        if idx.size:
            total += float(mass[idx] @ fam.unchecked.kl_divergence(fam.take(atoms.params, idx), fam.take(centres, k)))
    return total


@dataclass(frozen=True)
class _Solution:
    """A partition of the atoms reached by one or more starts, with its barycentres and objective."""

    labels: np.ndarray  # (M,) cluster of every atom, numbered by first appearance; -1 where the atom carries no mass
    mass: np.ndarray  # (M,) the mass each atom gives its cluster (all of it for MR, the kept mass for TRIM)
    centres: Params  # KL barycentres of the clusters, in the order of ``labels``
    weights: np.ndarray  # the clusters' shares of the total mass, in the same order
    objective: float  # sum_g mass_g KL(atom_g || centre of g): the matrix-product form, or the exact KL once ranked
    bound: float  # bound on the rounding error of ``objective``


def _first_appearance_labels(assign: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Relabel the clusters of the atoms with mass in the order in which they first appear (``-1`` elsewhere)."""
    live = mass > 0
    used, first = np.unique(assign[live], return_index=True)
    relabel = np.full(int(used.max()) + 1, -1, dtype=np.intp)
    relabel[used[np.argsort(first)]] = np.arange(used.size)
    return np.where(live, relabel[np.where(live, assign, used[0])], -1)


def _settle(atoms: _Atoms, labels: np.ndarray, mass: np.ndarray) -> _Solution:
    """Barycentres of the partition ``labels`` and the objective they reach, with its rounding-error bound.

    The bound is the first-order bound of the matrix-product form
    :math:`\\sum_\\gamma\\pi_\\gamma\\,(A(\\theta_k)-\\theta_k^\\top\\eta_\\gamma+s_\\gamma)` as a sum of
    :math:`N=p+M+2` rounded products (:math:`p` natural parameters, :math:`M` atoms):
    :math:`\\gamma_N\\sum_\\gamma\\pi_\\gamma(|A(\\theta_k)|+|\\theta_k|^\\top|\\eta_\\gamma|+|s_\\gamma|)` with
    :math:`\\gamma_N=Nu/(1-Nu)` (Higham 2002, §3.1). It dominates the error of the family's exact KL,
    which avoids the cancellation between these terms.
    """
    fam = atoms.family
    live = np.flatnonzero(labels >= 0)
    masses = np.zeros((int(labels.max()) + 1, labels.size))
    masses[labels[live], live] = mass[live]
    centres = fam.unchecked.barycentre(atoms.params, masses)
    theta, log_partition = fam.unchecked.natural_and_log_partition(centres)
    k = labels[live]
    terms = log_partition[k] - np.einsum("ij,ij->i", atoms.eta[live], theta[k]) + atoms.self_term[live]
    scale = np.abs(log_partition[k]) + np.einsum("ij,ij->i", np.abs(atoms.eta[live]), np.abs(theta[k]))
    scale += np.abs(atoms.self_term[live])
    n = fam.n_natural + labels.size + 2
    gamma = n * UNIT_ROUNDOFF / (1.0 - n * UNIT_ROUNDOFF)
    share = masses.sum(axis=1)
    return _Solution(
        labels, mass, centres, share / share.sum(), float(mass[live] @ terms), gamma * float(mass[live] @ scale)
    )


def _tie_key(atoms: _Atoms, solution: _Solution) -> list[tuple[float, ...]]:
    """Summaries of the clusters, heaviest first: (-weight, mass-weighted mean expectation parameters).

    Computed with exactly rounded sums (``math.fsum``) of each cluster's own atoms, so that a cluster
    two solutions share gets the same summary in both, whatever the BLAS or the labels.
    """
    key = []
    for c in range(int(solution.labels.max()) + 1):
        idx = np.flatnonzero(solution.labels == c)
        w = math.fsum(solution.mass[idx])
        eta = [math.fsum(solution.mass[idx] * atoms.eta[idx, j]) / w for j in range(atoms.eta.shape[1])]
        key.append((-w, *eta))
    return sorted(key)


def _select(atoms: _Atoms, runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[int, _Solution, list[float]]:
    """The kept solution among the final partitions ``(assignment, mass)`` of the starts.

    The rule is that of :func:`mixture_reduction`.

    Returns the earliest start that reached it, the solution (in that start's labels), and the
    objective of every start's solution.
    """
    groups: dict[bytes, list[int]] = {}
    solutions: list[_Solution] = []
    for j, (assign, mass) in enumerate(runs):
        labels = _first_appearance_labels(assign, mass)
        key = labels.tobytes() + mass.tobytes()
        if key not in groups:
            groups[key] = []
            solutions.append(_settle(atoms, labels, mass))
        groups[key].append(j)
    members = list(groups.values())
    approx = np.array([s.objective for s in solutions])
    bound = np.array([s.bound for s in solutions])
    lo = int(np.argmin(approx))
    near = np.flatnonzero(approx - approx[lo] <= bound + bound[lo])
    value = approx.copy()
    for g in near:
        s = solutions[g]
        value[g] = _exact_objective(atoms, s.centres, s.labels, s.mass)
    lo = int(near[np.argmin(value[near])])
    tied = [int(g) for g in near if value[g] - value[lo] <= bound[g] + bound[lo]]
    winner = tied[0] if len(tied) == 1 else min(tied, key=lambda g: (_tie_key(atoms, solutions[g]), members[g][0]))
    start = members[winner][0]
    chosen = solutions[winner]
    assign, _ = runs[start]
    live = np.flatnonzero(chosen.labels >= 0)
    own = np.empty(int(chosen.labels.max()) + 1, dtype=np.intp)
    own[chosen.labels[live]] = assign[live]  # the start's label of every cluster
    order = np.argsort(own)
    labelled = _Solution(
        assign,
        chosen.mass,
        atoms.family.take(chosen.centres, order),
        chosen.weights[order],
        value[winner],
        bound[winner],
    )
    objectives = [0.0] * len(runs)
    for g, js in enumerate(members):
        for j in js:
            objectives[j] = float(value[g])
    return start, labelled, objectives


def _select_runs(atoms: _Atoms, runs: list[_Run], what: str) -> tuple[int, _Solution, list[float]]:
    """:func:`_select` over the runs that reached a usable partition; the others get an infinite objective.

    A run fails when a moment-matched centre lies beyond what the floating point can carry (e.g. an
    atom with a mean near :math:`10^{99}` pooled with ordinary ones); when every run fails, a
    :class:`~mixagg.exceptions.ReductionError` says why.
    """
    usable = [j for j, r in enumerate(runs) if r.failure is None]
    if not usable:
        raise exceptions.ReductionError(
            f"{what} failed from every one of its {len(runs)} starts: {runs[0].failure}; some atoms lie beyond "
            "what the floating point can pool with the others (a robust rule screens them out: "
            'docs/mixture_reduction.md, "Numerical range")'
        )
    best, solution, found = _select(atoms, [(runs[j].labels, runs[j].kept) for j in usable])
    objectives = [np.inf] * len(runs)
    for j, value in zip(usable, found):
        objectives[j] = value
    return usable[best], solution, objectives


@dataclass(frozen=True)
class _Run:
    """Where one MM run from one start ended: its partition, the mass each atom keeps, iterations, convergence."""

    labels: np.ndarray  # (M,) cluster of each atom, -1 for an atom that keeps no mass
    kept: np.ndarray  # (M,) the mass each atom keeps (all of it in MR)
    n_iter: int
    converged: bool
    failure: str | None = None  # why the run stopped without a usable partition (a centre beyond the numerics)


def _mm(atoms: _Atoms, centres: Params, keep: Callable[[np.ndarray], np.ndarray], tol: float, max_iter: int) -> _Run:
    """The MM iteration shared by MR and TRIM, from ``centres`` in the KL frame ([J] Algorithms 2 and 3).

    Each iteration assigns every atom to its cheapest centre, lets ``keep(loss)`` decide the mass
    each atom keeps (MR: all of it; TRIM: the cheapest :math:`1-\\eta`, :func:`_trim_masses`), and
    moves every centre that kept some mass to the KL barycentre of that mass; centres that kept
    none are dropped (``docs/mixture_reduction.md``). The objective :math:`\\sum\\kappa_\\gamma c_\\gamma`
    never increases; an increase beyond rounding raises a ``NumericalWarning`` (a KL or barycentre
    inconsistent with the family). Stops when the assignment and the kept masses repeat (an exact
    fixed point) or the relative decrease falls below ``tol``.
    """
    fam = atoms.family
    rows = np.arange(atoms.mass.size)
    scale = float(atoms.mass @ np.abs(atoms.self_term)) + 1.0
    previous = None
    objective = np.inf
    converged = False
    n_iter = 0
    while True:
        try:
            cost = _reliable_cost(atoms, centres)
        except np.linalg.LinAlgError as exc:  # a moment-matched centre the floating point cannot carry
            return _Run(np.zeros(rows.size, dtype=np.intp), atoms.mass, n_iter, False, f"iteration {n_iter}: {exc}")
        assign = np.argmin(cost, axis=1)  # ties: the lowest index
        loss = cost[rows, assign]
        kept = keep(loss)
        if not np.isfinite(kept @ np.where(kept > 0, loss, 0.0)):
            return _Run(
                assign,
                kept,
                n_iter,
                False,
                f"iteration {n_iter}: some atoms have no KL cost to any centre that the floating point can compute",
            )
        current = float(kept @ np.where(kept > 0, loss, 0.0))
        if current > objective + INCREASE_TOLERANCE * (abs(objective) + scale):
            warnings.warn(
                f"the reduction's objective increased from {objective!r} to {current!r} (iteration {n_iter}); "
                "this signals a KL or barycentre inconsistent with the family",
                NumericalWarning,
                stacklevel=external_stacklevel(),
            )
        key = (assign.tobytes(), kept.tobytes())
        if key == previous or (
            np.isfinite(objective) and (objective - current) / max(abs(objective), abs(current), 1.0) < tol
        ):
            converged = True
            break
        if n_iter >= max_iter:
            break
        previous, objective = key, current
        live = kept > 0
        used = np.unique(assign[live])
        masses = np.zeros((used.size, atoms.mass.size))
        masses[np.searchsorted(used, assign[live]), rows[live]] = kept[live]
        with np.errstate(over="ignore", invalid="ignore"):
            centres = fam.unchecked.barycentre(atoms.params, masses)
        n_iter += 1
    used = np.unique(assign[kept > 0])
    relabel = np.full(int(assign.max()) + 1, -1, dtype=np.intp)
    relabel[used] = np.arange(used.size)
    return _Run(relabel[assign], kept, n_iter, converged)


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
            f"no starting mixture with {k} components: pass init=..., "
            f"or restarts='auto' with estimates of {k} components"
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
    exclude: Any = None,
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
        components (as the authors' code does; ``docs/mixture_reduction.md``, "Starts"); the solution with the
        lowest objective is kept (ties: see Notes).
    tol : float, default 1e-8
        Stop when the objective's relative decrease falls below ``tol`` (or the
        assignment repeats, which makes it exactly stationary).
    max_iter : int, default 1000
        MM iterations per start.
    exclude : ndarray of bool, shape (m, K_max), optional
        Atoms left out of the average: ``exclude[i, k]`` drops component ``k`` of estimate ``i``
        (with its mass, so the others keep theirs). The distance-filtered rules pass the atoms their
        screen refuses (:func:`mixagg.robust.screen.screen_atoms`).

    Returns
    -------
    ReductionResult

    Raises
    ------
    ReductionError
        Every start met a barycentre beyond the floating point (``docs/mixture_reduction.md``,
        "Numerical range"); a start that meets one is abandoned and the others are kept.

    Warns
    -----
    ConvergenceWarning
        The kept start reached ``max_iter``.
    NumericalWarning
        The objective increased (a KL or barycentre inconsistent with the family).

    Notes
    -----
    The cost :math:`c(\\theta_\\gamma,\\theta_k)=\\mathrm{KL}(f_\\gamma\\Vert f_k)` has the first
    argument at the atom ([J] Assumption 3.5; ``docs/families.md``, "Argument order in mixture reduction"),
    so the update is the KL barycentre:
    the mass-weighted average of expectation parameters mapped back (moment
    matching). For an exponential family,
    :math:`\\mathrm{KL}=A(\\theta_k)-\\theta_k^\\top\\eta_\\gamma+(\\theta_\\gamma^\\top\\eta_\\gamma-A(\\theta_\\gamma))`,
    so the whole :math:`M\\times K` cost matrix is one matrix product; the
    reported objective uses the family's own KL. Near the truth, with
    well-separated components, MR is aligned averaging ([J] Lemma B.5).

    **Which start is kept.** Every start ends at a partition of the atoms. A
    partition is one solution however many starts reach it and however they
    label its clusters: its centres are the KL barycentres of its clusters and
    its objective is computed once, so the result does not depend on which
    start found it. Solutions are ranked by the family's exact KL objective.
    Two objectives closer than the sum of their rounding-error bounds
    (:math:`\\gamma_N\\sum_\\gamma\\pi_\\gamma(|A(\\theta_k)|+|\\theta_k|^\\top|\\eta_\\gamma|+|s_\\gamma|)`,
    :math:`\\gamma_N=Nu/(1-Nu)`, :math:`N` = natural parameters + atoms + 2,
    Higham 2002 §3.1) are a tie. Among tied solutions the kept one has the
    heaviest clusters: its clusters, sorted by decreasing weight, are compared
    by weight and then by their mean expectation parameters (the smaller
    first), lexicographically, from exactly rounded sums of each cluster's own
    atoms. These summaries do not change with the order of the estimates or
    the starts, nor (for the Gaussian, in its centred KL frame) with a
    translation of the data, beyond rounding; only solutions equal in all of
    them fall back to the earliest start. The reported labels, ``n_iter`` and
    ``converged`` are those of the earliest start that reached the kept
    solution (``best_start``). See ``docs/mixture_reduction.md``.

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
    tol = check_real(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    atoms = _atoms(items, machine_weights(sample_sizes, len(items)), _check_exclude(exclude, items))
    runs = [
        _mm(atoms, start, lambda loss: atoms.mass, tol, max_iter)
        for start in _starts(items, k, init, restarts, atoms.to_frame)
    ]
    best, solution, objectives = _select_runs(atoms, runs, "mixture reduction")
    n_iter, converged = runs[best].n_iter, runs[best].converged
    assign = solution.labels
    if not converged:
        warnings.warn(
            f"mixture reduction did not converge within max_iter={max_iter} iterations",
            exceptions.ConvergenceWarning,
            stacklevel=external_stacklevel(),
        )
    m, k_max = atoms.shape
    assignment = np.full((m, k_max), -1, dtype=np.intp)
    assignment[atoms.owner[:, 0], atoms.owner[:, 1]] = assign
    fam = atoms.family
    centres = fam.unchecked.canonical(atoms.from_frame(solution.centres))
    mixture = MixingDistribution._trusted(fam, solution.weights, centres)
    return ReductionResult(
        mixture, solution.objective, n_iter, converged, assignment, tuple(objectives), best, k - mixture.n_components
    )


# ---------------------------------------------------------------------------- transportation divergence


def _kl_matrix(g: MixingDistribution, h: MixingDistribution) -> np.ndarray:
    fam = g.family
    return fam.unchecked.kl_divergence(fam.expand(dict(g.params), 1), fam.expand(dict(h.params), 0))


def composite_transport_plan(G: Any, H: Any, *, max_iter: int = 100_000) -> _ot.TransportResult:
    """Optimal plan of :math:`T_c(G,H)` with :math:`c=\\mathrm{KL}` ([J] eq. (2)), via POT's ``emd``.

    Returns the :class:`~mixagg._ot.TransportResult` (value, plan, status).
    """
    g, h = as_mixture(G, "G"), as_mixture(H, "H")
    if g.family != h.family:
        raise ValueError(f"H has family {h.family!r} but G has {g.family!r}")
    return _ot.transport(g.weights, h.weights, _kl_matrix(g, h), max_iter=max_iter)


def composite_transport_divergence(G: Any, H: Any, *, max_iter: int = 100_000) -> float:
    """:math:`T_c(G,H)=\\min_\\pi\\sum\\pi_{kk'}\\mathrm{KL}(f_{\\theta_k}\\Vert f_{\\theta'_{k'}})` ([J] eq. (2)).

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

    __repr__ = _reduction_repr


#: Slack of the "cumulative mass >= 1 - eta" test of TRIM's trimming step (``docs/aggregation.md``, "TRIM").
TRIM_MASS_SLACK = 1e-12


def _trim_masses(mass: np.ndarray, loss: np.ndarray, keep: float) -> np.ndarray:
    """:math:`\\kappa`: the cheapest atoms' masses up to a total of exactly ``keep``.

    The atoms at the boundary loss share what is left in proportion to their
    masses, so atoms with equal losses (e.g. identical machines) are treated
    alike whatever their order (a single boundary atom would make the result depend on the order).
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
    ``tol``. Restarts as :func:`mixture_reduction`, and the kept solution is
    chosen by the same rule (a solution is a partition with its kept masses).
    This follows [J] Algorithm 3 as corrected in ``docs/aggregation.md``, "TRIM" ([J]'s printed
    version has four slips).

    Parameters
    ----------
    eta : float in (0, 1), default 0.5
        Trimmed fraction of the mass ([J] §5.1.2).
    Other parameters as :func:`mixture_reduction`.
    """
    items = as_mixture_list(estimates, "estimates")
    k = check_int(n_components, "n_components", minimum=1)
    eta = check_real(eta, "eta", minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    tol = check_real(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    atoms = _atoms(items, machine_weights(sample_sizes, len(items)))
    runs = [
        _mm(atoms, start, lambda loss: _trim_masses(atoms.mass, loss, 1.0 - eta), tol, max_iter)
        for start in _starts(items, k, init, restarts, atoms.to_frame)
    ]
    best, solution, objectives = _select_runs(atoms, runs, "TRIM")
    kappa, n_iter, converged = runs[best].kept, runs[best].n_iter, runs[best].converged
    assign = solution.labels
    if not converged:
        warnings.warn(
            f"TRIM did not converge within max_iter={max_iter} iterations",
            exceptions.ConvergenceWarning,
            stacklevel=external_stacklevel(),
        )
    m, k_max = atoms.shape
    kept = np.zeros((m, k_max))
    kept[atoms.owner[:, 0], atoms.owner[:, 1]] = kappa
    assignment = np.full((m, k_max), -1, dtype=np.intp)
    assignment[atoms.owner[:, 0], atoms.owner[:, 1]] = assign
    fam = atoms.family
    mixture = MixingDistribution._trusted(
        fam, solution.weights, fam.unchecked.canonical(atoms.from_frame(solution.centres))
    )
    return TrimmedReductionResult(
        mixture,
        solution.objective,
        n_iter,
        converged,
        kept,
        assignment,
        tuple(objectives),
        best,
        k - mixture.n_components,
    )
