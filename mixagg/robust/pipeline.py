"""The stages every distance-based rule is built from: estimates -> distances -> COAT -> filter -> reduce -> align.

Each stage is a plain function taking and returning small frozen values, so a rule reads as
the sequence of its stages (:class:`mixagg.robust.methods.DFMR` is the canonical one, [J]
Algorithm 1). The estimates are validated once, by :func:`prepare`; later stages trust them.
Warnings raised on the way are recorded in a :class:`Log` and end up in
``AggregationResult.warnings`` (``docs/aggregation.md``, "The pipeline").
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _ot
from .._validation import check_int, external_stacklevel
from ..distances import l2_distance_matrix, l2_norms
from ..exceptions import AggregationWarning, MajorityWarning
from ..families import ExponentialFamily
from ..mixture import MixingDistribution, as_mixture_list
from ..reduction import ReductionResult, TrimmedReductionResult, machine_weights, mixture_reduction
from .coat import check_distance_matrix, coat_radii, majority_member, majority_problem
from .result import AggregationResult
from .screen import AtomScreen, screen_atoms

#: :math:`b` of :func:`bound_sample_sizes`: no machine weighs more than the median machine, nor less than half of it.
SIZE_BOUND = 2.0

__all__ = [
    "SIZE_BOUND",
    "CoatStep",
    "Estimates",
    "Log",
    "align",
    "bound_sample_sizes",
    "distance_filter",
    "finish",
    "heaviest_atoms",
    "locate_coat",
    "lower_median",
    "pairwise_distances",
    "prepare",
    "reduce_selected",
    "screen_selected",
]


def lower_median(orders: np.ndarray) -> int:
    """The lower median of integers: the :math:`\\lceil s/2\\rceil`-th smallest of :math:`s`, always one of them."""
    ordered = np.sort(np.asarray(orders, dtype=int))
    return int(ordered[(ordered.size - 1) // 2])


@dataclass(frozen=True)
class Estimates:
    """Validated local estimates of one family, with their weights in the reduction.

    Their orders may differ (``docs/aggregation.md``, "Estimates of different orders"): the aggregate has
    ``target`` components when it is given, else the lower median of the orders of the estimates a rule keeps.

    Attributes
    ----------
    mixtures : tuple of MixingDistribution
    lambdas : ndarray of shape (m,)
        :math:`\\lambda_i=n_i/\\sum n` ([J] App. A.2); equal without sample sizes.
    n_missing : int
        Machines expected but missing or rejected; the majority rule counts them as failed.
    sample_sizes : ndarray of shape (m,) or None
        The sample sizes after :func:`bound_sample_sizes`: the given ones, or without them the
        estimates' own ``n_samples`` (``None`` when none reports one); the theory reads these.
    clipped : ndarray of int
        The estimates whose given sample size the bound changed.
    target : int or None
        The order of the aggregate asked for (``n_components=``), or ``None`` for the consensus.
    """

    mixtures: tuple[MixingDistribution, ...]
    lambdas: np.ndarray
    n_missing: int = 0
    sample_sizes: np.ndarray | None = None
    clipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    target: int | None = None

    @property
    def m(self) -> int:
        """Number of estimates received (valid ones)."""
        return len(self.mixtures)

    @property
    def n_expected(self) -> int:
        """Machines expected: the estimates received and the missing ones."""
        return self.m + self.n_missing

    @property
    def family(self) -> ExponentialFamily:
        return self.mixtures[0].family

    @property
    def orders(self) -> np.ndarray:
        """The order :math:`K_i` of every estimate."""
        return np.array([g.n_components for g in self.mixtures], dtype=np.intp)

    @property
    def n_components(self) -> int:
        """The order of an aggregate of all the estimates: ``target``, else the lower median of their orders."""
        return self.order_of(np.arange(self.m))

    def order_of(self, selected: np.ndarray) -> int:
        """The order of the aggregate of the ``selected`` estimates: ``target``, else the lower median of theirs."""
        if self.target is not None:
            return self.target
        return lower_median(self.orders[np.asarray(selected, dtype=np.intp)])

    def order_rule(self, selected: np.ndarray) -> str:
        """How :meth:`order_of` chose, in words, for the result."""
        orders = self.orders[np.asarray(selected, dtype=np.intp)]
        if self.target is not None:
            return f"n_components={self.target} (given)"
        if orders.size and np.all(orders == orders[0]):
            return f"K = {int(orders[0])}, the order of every kept estimate"
        return f"K = {lower_median(orders)}, the lower median of the orders of the {orders.size} kept estimates"


def bound_sample_sizes(sizes: np.ndarray, bound: float | None) -> np.ndarray:
    """Reported sample sizes clipped to :math:`[\\tilde n/b,\\,\\tilde n]`, :math:`\\tilde n` their median.

    A machine's size is what it says it is: unbounded, one claim of :math:`10^{6}` among sizes of
    3,000 gives that machine almost all the weight of the reduction, and a claim of 1 makes the
    predicted distance law of ``rho="auto"`` so wide that the filter keeps everything. Clipped, no
    machine weighs more than the median machine (a claim above the median gains nothing) nor less
    than :math:`1/b` of it, and no minority of claims moves the median
    (``docs/aggregation.md``, "Reported sample sizes"). Machines that really hold more data than the
    median lose that extra weight: the price of not trusting the claims. ``bound=None``: the sizes
    are trusted (e.g. known to the server) and returned as given.
    """
    if bound is None or sizes.size == 0:
        return sizes
    middle = float(np.median(sizes))
    return np.clip(sizes, middle / bound, middle)


def _claimed_sizes(items: list[MixingDistribution]) -> np.ndarray | None:
    """The sample sizes the estimates report (``n_samples``), the median filling the unknown ones; ``None`` if none."""
    found = np.array([getattr(g, "n_samples", None) or np.nan for g in items], dtype=float)
    known = np.isfinite(found) & (found > 0)
    if not known.any():
        return None
    return np.where(known, found, np.median(found[known]))


def prepare(
    estimates: Sequence[Any],
    sample_sizes: Any = None,
    n_missing: int = 0,
    size_bound: float | None = SIZE_BOUND,
    n_components: int | None = None,
) -> Estimates:
    """Validate the estimates (one family; any orders) and the sample sizes: the entry point of every rule.

    The sample sizes (given, or for the theory the estimates' own ``n_samples``) are clipped by
    :func:`bound_sample_sizes` with ``size_bound``; without ``sample_sizes`` the reduction weighs the
    estimates equally, whatever they report. ``n_components``: the order of the aggregate (default: the
    consensus of the kept estimates, :meth:`Estimates.order_of`).
    """
    items = as_mixture_list(estimates, "estimates")
    target = None if n_components is None else check_int(n_components, "n_components", minimum=1)
    m = len(items)
    if sample_sizes is None:
        lambdas = machine_weights(None, m)
        reported = _claimed_sizes(items)
    else:
        machine_weights(sample_sizes, m)  # checks them: positive, finite, one per estimate
        reported = np.asarray(sample_sizes, dtype=float)
    sizes = None if reported is None else bound_sample_sizes(reported, size_bound)
    if sample_sizes is not None:
        lambdas = sizes / sizes.sum()
    clipped = np.zeros(0, dtype=np.intp) if sample_sizes is None else np.flatnonzero(sizes != reported)
    return Estimates(tuple(items), lambdas, check_int(n_missing, "n_missing", minimum=0), sizes, clipped, target)


@dataclass
class Log:
    """The warnings a rule raises, raised at once and recorded for the result."""

    messages: list[str] = field(default_factory=list)
    majority_doubtful: bool = False

    def warn(self, text: str, category: type[Warning] = AggregationWarning) -> None:
        self.messages.append(text)
        self.majority_doubtful |= issubclass(category, MajorityWarning)
        warnings.warn(text, category, stacklevel=external_stacklevel())


@dataclass(frozen=True)
class CoatStep:
    """The COAT :math:`c`, its radius :math:`r^{\\rm COAT}` and the distances it was found from ([J] eq. (10))."""

    distances: np.ndarray
    index: int
    radius: float

    @property
    def distance_to_coat(self) -> np.ndarray:
        """:math:`\\mathsf D_{ci}` for every estimate :math:`i`."""
        return self.distances[self.index]


def pairwise_distances(est: Estimates, distances: Any = None) -> np.ndarray:
    """The ``(m, m)`` L2 distances between the estimates' densities, or the checked precomputed ``distances``."""
    if distances is None:
        return l2_distance_matrix(list(est.mixtures))
    return check_distance_matrix(distances, est.m)


def locate_coat(est: Estimates, distances: np.ndarray, radius: str, log: Log) -> CoatStep:
    """The COAT of the estimates, the missing machines counted as infinitely far; warns when the majority is doubtful.

    :class:`~mixagg.exceptions.MajorityWarning` when the valid estimates are no majority of the
    expected machines, when they are exactly the fewest a majority needs (:math:`\\lfloor n/2\\rfloor+1`
    of :math:`n\\ge3` expected, some missing: then no failure among them is tolerated), or when the
    COAT's majority ball does not look like one cluster (:func:`~mixagg.robust.coat.majority_problem`).
    """
    c, r = coat_radii(distances, radius, n_far=est.n_missing)
    step = CoatStep(distances, int(c), float(r))
    if np.isinf(step.radius):
        log.warn(
            f"{est.n_missing} of the {est.n_expected} expected machines are missing or rejected, so the others are "
            "no majority: the majority rule cannot hold and every remaining estimate is kept",
            MajorityWarning,
        )
    elif est.n_missing and est.n_expected >= 3 and est.m == est.n_expected // 2 + 1:
        log.warn(
            f"only {est.m} of the {est.n_expected} expected machines sent usable estimates, the fewest a majority "
            f"needs: every one of them must be failure-free, so the rule tolerates no failure among them and cannot "
            "tell a wild estimate from an honest one",
            MajorityWarning,
        )
    if est.m >= 3 and step.radius > 0 and np.isfinite(step.radius):
        dc = step.distance_to_coat
        far = majority_member(dc)
        norm_c, norm_far = l2_norms([est.mixtures[step.index], est.mixtures[far]])
        problem = majority_problem(dc, (norm_c, norm_far), est.lambdas)
        if problem:
            log.warn(problem, MajorityWarning)
    return step


def distance_filter(est: Estimates, coat: CoatStep, rho: float, log: Log, *, strict: bool = False) -> np.ndarray:
    """:math:`\\mathbb S_\\rho=\\{i:\\mathsf D_{ci}\\le\\rho\\,r^{\\rm COAT}\\}` ([J] eq. (11)).

    ``strict``: ``<`` ([A] eq. (4)).

    [J] eq. (11) keeps the boundary, Algorithm 1 prints a strict inequality; the default follows
    the equation (``docs/aggregation.md``, "DFMR"). With :math:`r^{\\rm COAT}=0` (more than half of the
    estimates identical) every ratio to the radius is undefined: only the estimates at the
    COAT are kept, with a warning.
    """
    dc = coat.distance_to_coat
    if coat.radius == 0:
        selected = np.flatnonzero(dc == 0)
        if est.m > 1:
            log.warn(
                f"the COAT radius is 0: {selected.size} of the {est.m} estimates coincide with the COAT, "
                "so every ratio to the radius is undefined; only those are kept"
            )
        return selected
    bound = rho * coat.radius
    return np.flatnonzero(dc < bound if strict else dc <= bound)


def screen_selected(est: Estimates, selected: np.ndarray, factor: float | None, log: Log) -> AtomScreen | None:
    """The atom screen's verdict on the selected estimates; ``None`` when off.

    The atoms are scored among all the estimates and the missing machines
    (:func:`~mixagg.robust.screen.screen_atoms`), so that a filter which kept a majority of colluding
    copies does not make them the reference. Warns when it leaves atoms out, naming the estimates
    (positions in ``est``); the rows of the screen follow ``selected``.
    """
    if factor is None:
        return None
    whole = screen_atoms(list(est.mixtures), est.lambdas, factor=factor, n_missing=est.n_missing)
    screen = AtomScreen(whole.score[selected], whole.threshold, whole.excluded[selected])
    if screen.excluded.any():
        where = ", ".join(f"[{int(selected[i])}] component(s) {list(c)}" for i, c in list(screen.dropped.items())[:5])
        more = " ..." if len(screen.dropped) > 5 else ""
        log.warn(
            f"the atom screen left {int(screen.excluded.sum())} component(s) out of the reduction, whose share of "
            f"its objective exceeds {factor:g} times the median share (low-mass components that are too broad or "
            f"too far to be honest): {where}{more}"
        )
    return screen


def reduce_selected(
    est: Estimates,
    selected: np.ndarray,
    *,
    init: MixingDistribution | None = None,
    restarts: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
    screen: AtomScreen | None = None,
    factors: np.ndarray | None = None,
) -> ReductionResult:
    """MR of the selected estimates to :math:`K` components ([J] §3.1–3.2; ``docs/mixture_reduction.md``).

    :math:`K` is :meth:`Estimates.order_of` the selected estimates. ``init`` (e.g. the COAT, [J] §5.1.2) is
    tried first when it has :math:`K` components; ``restarts="auto"`` also starts from every selected estimate
    of order :math:`K`, ``"all"`` from every estimate of order :math:`K` including those filtered out (the
    authors' code), ``"none"`` from ``init`` only. Without any such start, the :math:`K` heaviest atoms of the
    selected estimates start it. ``screen`` (:func:`screen_selected`) leaves its atoms out; ``factors`` (one per
    selected estimate) multiply their weights.
    """
    chosen = [est.mixtures[i] for i in selected]
    k = est.order_of(selected)
    if init is not None and init.n_components != k:
        init = None
    if restarts == "all":
        starts = ([init] if init is not None else []) + [
            g for g in est.mixtures if g is not init and g.n_components == k
        ]
        init, restarts = starts or None, "none"
    if init is None and (restarts == "none" or not any(g.n_components == k for g in chosen)):
        init, restarts = heaviest_atoms(chosen, est.lambdas[selected], k), "none"
    return mixture_reduction(
        chosen,
        k,
        sample_sizes=est.lambdas[selected] if factors is None else est.lambdas[selected] * factors,
        init=init,
        restarts=restarts,
        tol=tol,
        max_iter=max_iter,
        exclude=None if screen is None or not screen.excluded.any() else screen.excluded,
    )


def heaviest_atoms(chosen: list[MixingDistribution], lambdas: np.ndarray, k: int) -> MixingDistribution:
    """A start of order ``k`` for the reduction: the ``k`` heaviest components of the estimates (mass
    :math:`\\lambda_iw_{ik}`), their weights renormalised."""
    fam = chosen[0].family
    mass = np.concatenate([lam * g.weights for lam, g in zip(lambdas, chosen)])
    if mass.size < k:
        raise ValueError(
            f"the selected estimates have {mass.size} components in all, fewer than the n_components={k} asked for"
        )
    stacked = {key: np.concatenate([np.asarray(g.params[key]) for g in chosen]) for key in fam.param_spec}
    top = np.sort(np.argsort(-mass, kind="stable")[:k])
    params = fam.take(stacked, top)
    if fam.shared_params:  # a tied structure: the start shares the heaviest component's parameter
        heaviest = int(np.argmax(mass[top]))
        params = {
            key: np.broadcast_to(v[heaviest], v.shape).copy() if key in fam.shared_params else v
            for key, v in params.items()
        }
    return MixingDistribution(fam, mass[top] / mass[top].sum(), params)


def align(
    est: Estimates, selected: np.ndarray, aggregate: MixingDistribution
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """For each selected estimate, the match of its components to the aggregate's (minimum total KL).

    Returns ``(alignments, matches)``. ``matches[i][j]`` is the component of estimate ``i`` matched to component
    ``j`` of the aggregate (Hungarian algorithm on :math:`\\mathrm{KL}(f_{ik}\\Vert f_j)`), ``-1`` when the
    estimate has fewer components than the aggregate and none is left for ``j``. ``alignments[i]`` is a
    permutation of the estimate's components: the matched ones in the order of the aggregate components they
    match, then the unmatched ones in increasing order. With equal orders the two coincide.
    """
    fam = aggregate.family
    agg = fam.expand(dict(aggregate.params), 0)
    alignments, matches = {}, {}
    for i in selected:
        g = est.mixtures[i]
        cost = fam.unchecked.kl_divergence(fam.expand(dict(g.params), 1), agg)  # (K, K_agg): KL(est_k || agg_j)
        rows, cols = _ot.assignment(cost.T)  # rows: aggregate components, cols: the estimate's
        matched = np.full(aggregate.n_components, -1, dtype=np.intp)
        matched[rows] = cols
        used = matched[matched >= 0]
        rest = np.setdiff1d(np.arange(g.n_components), used)
        alignments[int(i)] = np.concatenate([used, rest]).astype(np.intp)
        matches[int(i)] = matched
    return alignments, matches


def finish(
    method: str,
    est: Estimates,
    selected: Any,
    log: Log,
    *,
    reduction: ReductionResult | TrimmedReductionResult | None = None,
    mixture: MixingDistribution | None = None,
    coat: CoatStep | None = None,
    screen: AtomScreen | None = None,
    **fields: Any,
) -> AggregationResult:
    """Assemble the :class:`AggregationResult`: selected/excluded machines, the aggregate, the COAT and alignments.

    ``screen`` is that of the estimates ``selected`` (in their order).
    """
    if est.clipped.size:
        shown = ", ".join(f"[{int(i)}]" for i in est.clipped[:8]) + (" ..." if est.clipped.size > 8 else "")
        text = (
            f"the reported sample sizes of {est.clipped.size} estimate(s) were clipped to [median / b, median] "
            f"= [{est.sample_sizes.min():.6g}, {est.sample_sizes.max():.6g}]: {shown}; reported sizes are untrusted "
            "(pass sample_size_bound=None for sizes the server knows)"
        )
        log.warn(text)
        fields["clipped_sizes"] = est.clipped
    order = np.asarray([int(i) for i in selected], dtype=np.intp)
    if screen is not None:
        fields["screened"] = {int(order[i]): comps for i, comps in screen.dropped.items()}
    selected = np.sort(order)
    if mixture is None:
        mixture = reduction.mixture
    alignments, matches = align(est, selected, mixture)
    if coat is not None:
        fields.update(
            coat_index=coat.index,
            coat_radius=coat.radius,
            distance_to_coat=coat.distance_to_coat,
            distances=coat.distances,
        )
    return AggregationResult(
        method=method,
        majority_doubtful=log.majority_doubtful,
        mixture=mixture,
        selected=selected,
        excluded=np.setdiff1d(np.arange(est.m), selected),
        reduction=reduction,
        alignments=alignments,
        matches=matches,
        orders=est.orders,
        order_rule=est.order_rule(selected),
        warnings=tuple(log.messages),
        **fields,
    )
