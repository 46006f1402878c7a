"""Byzantine-tolerant aggregation of local mixture estimates ([J] §3–4, Algorithm 1; [A] §3; MATH.md §6).

All estimators take the list of received local estimates (one family, one
order :math:`K`) and return an :class:`AggregationResult` holding the aggregate
and everything needed to audit the decision. The distance-based ones (COAT,
DFMR, CRED, ARED) rest on the **majority rule**: they tolerate any behaviour of
fewer than half of the machines (:math:`|\\mathbb B|<m/2`, breakdown point just
below 1/2), provided the failure-free estimates concentrate around the truth
(the L2 distances of honest estimates are :math:`O_P(n^{-1/2})`, [J] Lemma 4.2).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._coat import RADIUS_RULES, check_distance_matrix, coat_radii
from ._validation import as_float_array, as_index_array, check_int, external_stacklevel
from .distances import l2_distance_matrix, l2_norms
from .exceptions import TheoryError
from .mixture import MixingDistribution, as_mixture_list
from .rejection import Rejected
from .reduction import (
    ReductionResult,
    TrimmedReductionResult,
    _lambdas,
    mixture_reduction,
    trimmed_reduction,
)

if TYPE_CHECKING:
    from .theory.rho import RhoSuggestion

__all__ = [
    "AggregationResult",
    "METHODS",
    "RADIUS_RULES",
    "aggregate",
    "ared",
    "ared_threshold",
    "coat",
    "coat_radius",
    "cred",
    "dfmr",
    "oracle",
    "trim",
    "vanilla",
]

#: The majority ball of the COAT is flagged when its farthest member overlaps the COAT by less
#: than this: :math:`\omega=2\langle f_c,f_i\rangle/(\lVert f_c\rVert^2+\lVert f_i\rVert^2)=1-D_{ci}^2/(\lVert f_c\rVert^2+\lVert f_i\rVert^2)`
#: is 1 for equal densities and 0 for disjoint ones; noisy honest fits (e.g. 120 observations per
#: machine for 329 parameters) still give about 0.4.
MAJORITY_OVERLAP = 0.1
#: ... or when the radius of the majority ball exceeds this multiple of the distance to the COAT's
#: nearest quarter of the estimates (see ``_check_majority``).
MAJORITY_JUMP = 4.0


@dataclass(frozen=True)
class AggregationResult:
    """An aggregate and the audit trail of how it was obtained.

    Attributes
    ----------
    method : str
    mixture : MixingDistribution
        The aggregate.
    selected : ndarray of int
        Indices of the estimates that entered the aggregate.
    excluded : ndarray of int
        The others (ARED's detected failure set; DFMR's filtered estimates).
    coat_index : int or None
        Index of the COAT estimate (distance-based methods).
    coat_radius : float or None
        :math:`r^{\\rm COAT}`.
    rho : float or None
        The inflation factor of the filter :math:`\\mathsf D_{ci}\\le\\rho\\,r^{\\rm COAT}`.
    rho_suggestion : RhoSuggestion or None
        With ``rho="auto"``: how :func:`mixagg.theory.suggest_rho` chose it.
    distance_to_coat : ndarray of shape (m,) or None
    distances : ndarray of shape (m, m) or None
        The pairwise L2 distance matrix.
    reduction : ReductionResult, TrimmedReductionResult or None
        The mixture reduction (objective, iterations, assignment).
    alignments : dict of int to ndarray
        For each selected estimate ``i``, a permutation of its components:
        ``alignments[i][j]`` for ``j < K_agg`` is the component matched to
        component ``j`` of the aggregate (minimum total KL, Hungarian algorithm);
        the components left unmatched (when the aggregate has fewer than ``K``)
        follow in increasing order. ``estimates[i].permute(alignments[i])`` is
        aligned with the aggregate. Returned, never applied.
    warnings : tuple of str
        Messages of the warnings raised.
    rejected : dict of int to Rejected
        Positions (in the input of :func:`aggregate`) of the estimates refused by
        :func:`mixagg.wire.loads`, with the reasons. They are also in ``excluded``,
        and their rows of ``distances`` / ``distance_to_coat`` are NaN.
    """

    method: str
    mixture: MixingDistribution
    selected: np.ndarray
    excluded: np.ndarray
    coat_index: int | None = None
    coat_radius: float | None = None
    rho: float | None = None
    rho_suggestion: RhoSuggestion | None = None
    distance_to_coat: np.ndarray | None = None
    distances: np.ndarray | None = None
    reduction: ReductionResult | TrimmedReductionResult | None = None
    alignments: dict[int, np.ndarray] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    rejected: dict[int, Rejected] = field(default_factory=dict)

    @property
    def detected(self) -> np.ndarray:
        """Estimates flagged as failed (= ``excluded``; ARED's :math:`\\widehat{\\mathbb B}`, [A] eq. (5))."""
        return self.excluded

    @property
    def mr_objective(self) -> float | None:
        """Objective of the mixture reduction (``None`` for COAT)."""
        return None if self.reduction is None else self.reduction.objective

    @property
    def mr_n_iter(self) -> int | None:
        """Iterations of the mixture reduction (``None`` for COAT)."""
        return None if self.reduction is None else self.reduction.n_iter

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (lists and floats; R-friendly)."""

        def plain(a):  # NaN (rejected machines) and inf become None, so the dict stays JSON
            if a is None:
                return None
            arr = np.asarray(a)
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                return np.where(np.isfinite(arr), arr, None).tolist()
            return arr.tolist()

        return {
            "method": self.method,
            "mixture": self.mixture.to_dict(),
            "selected": plain(self.selected),
            "excluded": plain(self.excluded),
            "coat_index": self.coat_index,
            "coat_radius": self.coat_radius if self.coat_radius is None or np.isfinite(self.coat_radius) else None,
            "rho": self.rho,
            "rho_suggestion": None if self.rho_suggestion is None else self.rho_suggestion.to_dict(),
            "distance_to_coat": plain(self.distance_to_coat),
            "distances": plain(self.distances),
            "mr_objective": self.mr_objective,
            "mr_n_iter": self.mr_n_iter,
            "alignments": {str(i): plain(p) for i, p in self.alignments.items()},
            "warnings": list(self.warnings),
            "rejected": [{"index": int(i), **r.to_dict()} for i, r in sorted(self.rejected.items())],
        }


# ---------------------------------------------------------------------------- shared steps


def _prepare(estimates: Any, sample_sizes: Any) -> tuple[list[MixingDistribution], np.ndarray]:
    items = as_mixture_list(estimates, "estimates")
    k = items[0].n_components
    for i, g in enumerate(items[1:], start=1):
        if g.n_components != k:
            raise ValueError(
                f"estimates[{i}] has {g.n_components} components but estimates[0] has {k}; robust aggregation "
                "needs local estimates of one order K"
            )
    return items, _lambdas(sample_sizes, len(items))


def _distances(items: list[MixingDistribution], distances: Any) -> np.ndarray:
    if distances is None:
        return l2_distance_matrix(items)
    return check_distance_matrix(distances, len(items))


def coat_radius(distances: Any, radius: str = "majority", *, n_missing: int = 0) -> tuple[int, float]:
    """COAT index and radius from a pairwise distance matrix ([J] eq. (10), Algorithm 1; MATH.md §6.2).

    Each row is sorted **including the self-distance** :math:`d_i^{(0)}=0`. The
    radius :math:`r_i` of estimate :math:`i` is the smallest radius of a ball
    centred at it that holds "half" of the estimates; the COAT minimises it
    (ties: the smallest index). "Half" is read four ways in the sources:

    ``"majority"`` (default)
        :math:`r_i=d_i^{(\\lfloor m/2\\rfloor)}`: the closed ball holds at least
        :math:`\\lfloor m/2\\rfloor+1>m/2` estimates counting the centre, a strict
        majority, so it holds a failure-free estimate whenever :math:`|\\mathbb B|<m/2`.
    ``"half"``
        :math:`d_i^{(\\lceil m/2\\rceil-1)}`, [J] eq. (10) and [A] §3.1 (at least :math:`m/2`).
    ``"median"``
        The median of the row, self included: [J] Algorithm 1 as printed (for
        even :math:`m` the mean of the two middle order statistics).
    ``"code"``
        COAT chosen by the median, radius :math:`d_c^{(\\lfloor m/2\\rfloor)}`: the authors' code.

    For odd :math:`m` all four coincide. Duplicate estimates and ties need no
    special care: order statistics are well defined. ``n_missing`` machines that
    were expected but sent nothing usable (rejected or lost) count in :math:`m` as
    infinitely far from everything, so the majority is judged on all expected
    machines; the radius is ``inf`` when the others are no majority.

    Returns
    -------
    (int, float)
        The COAT index :math:`c` and :math:`r^{\\rm COAT}`.
    """
    d = as_float_array(distances, "distances", ndim=2, finite=False)
    c, r = coat_radii(d, radius, n_far=check_int(n_missing, "n_missing", minimum=0))
    return int(c), float(r)


def _alignments(items: list[MixingDistribution], selected: np.ndarray, aggregate: MixingDistribution) -> dict[int, np.ndarray]:
    """For each selected estimate: its component matched to each aggregate component (minimum total KL)."""
    fam = aggregate.family
    agg = fam.expand(dict(aggregate.params), 0)
    out = {}
    for i in selected:
        cost = fam.unchecked.kl_divergence(fam.expand(dict(items[i].params), 1), agg)  # (K, K_agg): KL(est_k || agg_j)
        rows, cols = linear_sum_assignment(cost.T)
        matched = np.empty(aggregate.n_components, dtype=np.intp)
        matched[rows] = cols
        rest = np.setdiff1d(np.arange(items[i].n_components), matched)
        out[int(i)] = np.concatenate([matched, rest])
    return out


class _Log:
    """Warnings raised and recorded."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def warn(self, text: str, category: type[Warning] = UserWarning) -> None:
        self.messages.append(text)
        warnings.warn(text, category, stacklevel=external_stacklevel())


def _check_majority(
    items: list[MixingDistribution], dist_to_coat: np.ndarray, r: float, lambdas: np.ndarray, log: _Log
) -> None:
    """Warn when the estimates nearest the COAT do not look like one cluster (the majority assumption looks violated).

    Two signs, either of which triggers the warning:

    * the farthest member of the majority ball barely overlaps the COAT:
      :math:`\\omega=1-D_{ci}^2/(\\lVert f_c\\rVert^2+\\lVert f_i\\rVert^2)<` :data:`MAJORITY_OVERLAP`
      (1 for equal densities, 0 for disjoint ones);
    * the ball is two populations: its radius exceeds :data:`MAJORITY_JUMP` times the
      distance to the COAT's :math:`\\lceil h/2\\rceil`-th neighbour (:math:`h=\\lfloor m/2\\rfloor`);
      honest distances grow smoothly (about 1.1 to 2), a failed majority jumps.
      Distances are scaled by :math:`(1/n_c+1/n_i)^{-1/2}` so unequal sample sizes do not count as a jump.
    """
    m = len(items)
    if m < 3 or r == 0:
        return
    c = int(np.argmin(dist_to_coat))
    scaled = dist_to_coat / np.sqrt(1.0 / lambdas + 1.0 / lambdas[c])  # honest distances ~ (1/n_i + 1/n_c)^{1/2}
    order = np.argsort(scaled, kind="stable")
    half = m // 2
    far = int(np.argsort(dist_to_coat, kind="stable")[half])  # the member of the majority ball at distance r
    norm_c, norm_far = l2_norms([items[c], items[far]])
    overlap = 1.0 - dist_to_coat[far] ** 2 / (norm_c**2 + norm_far**2)
    inner = scaled[order[math.ceil(half / 2)]]
    jump = scaled[order[half]] / inner if inner > 0 else np.inf
    if overlap < MAJORITY_OVERLAP or (m >= 5 and jump > MAJORITY_JUMP):
        log.warn(
            f"no majority cluster around the COAT: its {half + 1} nearest estimates overlap it by as little as "
            f"{max(overlap, 0.0):.2f} (1 = identical, 0 = disjoint) and their distances jump by a factor {jump:.3g}; "
            "the majority assumption (fewer than half of the machines failed) may not hold"
        )


def _coat_step(items, lambdas, distances, radius, log, n_missing=0) -> tuple[np.ndarray, int, float, np.ndarray]:
    d = _distances(items, distances)
    c, r = coat_radius(d, radius, n_missing=n_missing)
    if np.isinf(r):
        log.warn(
            f"{n_missing} of the {len(items) + n_missing} expected machines are missing or rejected, so the others are "
            "no majority: the majority rule cannot hold and every remaining estimate is kept"
        )
    else:
        _check_majority(items, d[c], r, lambdas, log)
    return d, c, r, d[c]


def _reduce(items, lambdas, selected, k, init, restarts, tol, max_iter) -> ReductionResult:
    """MR of the selected estimates; ``restarts="all"`` also starts from the estimates left out (MATH.md §5.4)."""
    sel = [items[i] for i in selected]
    if restarts == "all":
        inits = ([init] if init is not None else []) + [g for g in items if not any(g is h for h in (init,))]
        return mixture_reduction(sel, k, sample_sizes=lambdas[selected], init=inits, restarts="none", tol=tol, max_iter=max_iter)
    return mixture_reduction(sel, k, sample_sizes=lambdas[selected], init=init, restarts=restarts, tol=tol, max_iter=max_iter)


def _result(method, items, selected, reduction, log, **fields) -> AggregationResult:
    m = len(items)
    selected = np.asarray(sorted(int(i) for i in selected), dtype=np.intp)
    excluded = np.setdiff1d(np.arange(m), selected)
    mixture = reduction.mixture if reduction is not None else fields.pop("mixture")
    return AggregationResult(
        method=method,
        mixture=mixture,
        selected=selected,
        excluded=excluded,
        reduction=reduction,
        alignments=_alignments(items, selected, mixture),
        warnings=tuple(log.messages),
        **fields,
    )


def _check_rho(rho: Any) -> float:
    rho = float(rho)
    if not (np.isfinite(rho) and rho >= 1):
        raise ValueError(f"rho must be a finite number >= 1 (the COAT radius itself), got {rho!r}")
    return rho


# ---------------------------------------------------------------------------- estimators


def coat(
    estimates: Sequence[Any], *, sample_sizes: Any = None, radius: str = "majority", distances: Any = None, n_missing: int = 0
) -> AggregationResult:
    """Centre Of ATtention: the estimate with the smallest majority radius ([J] eq. (10); MATH.md §6.2).

    A single local estimate, so only :math:`n^{-1/2}`-consistent ([J] Prop. 4.3),
    but tolerant of any failure of fewer than half of the machines (breakdown
    point just below 1/2): its majority ball always holds a failure-free
    estimate. See :func:`coat_radius` for how "half" is counted.

    Parameters
    ----------
    estimates : sequence of MixingDistribution
        Local estimates of one family and one order :math:`K`.
    sample_sizes : array-like, optional
        Unused by COAT itself (accepted for a uniform interface).
    radius : {"majority", "half", "median", "code"}
    distances : ndarray of shape (m, m), optional
        A precomputed :func:`~mixagg.l2_distance_matrix` of ``estimates``.
    n_missing : int
        Machines expected but missing or rejected; they count against the majority (:func:`coat_radius`).
    """
    items, lambdas = _prepare(estimates, sample_sizes)
    log = _Log()
    d, c, r, dc = _coat_step(items, lambdas, distances, radius, log, n_missing)
    return _result("coat", items, [c], None, log, mixture=items[c], coat_index=c, coat_radius=r, distance_to_coat=dc, distances=d)


def dfmr(
    estimates: Sequence[Any],
    rho: float | str | None = None,
    *,
    sample_sizes: Any = None,
    radius: str = "majority",
    distances: Any = None,
    restarts: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
    rho_options: dict[str, Any] | None = None,
    n_missing: int = 0,
    _method: str = "dfmr",
) -> AggregationResult:
    """Distance-Filtered Mixture Reduction ([J] eq. (11)–(12), Algorithm 1; MATH.md §6.3).

    Keeps :math:`\\mathbb S_\\rho=\\{i:\\mathsf D_{ci}\\le\\rho\\,r^{\\rm COAT}\\}` and reduces their
    average (weights :math:`\\lambda_i\\propto n_i`) to :math:`K` components by MR,
    starting from the COAT and from every selected estimate.

    Breakdown point just below 1/2 (the majority rule). Assumes the failure-free
    estimates concentrate ([J] Lemma 4.2) and, for DFMR to match the oracle,
    that failed estimates rarely fall close to the truth ([J] Cor. 4.5).

    Parameters
    ----------
    rho : float >= 1 or "auto", optional
        Inflation factor; default ``family.default_rho`` (1.3 Gaussian, 2 Gamma; [J] §5.1.3, §D.3).
        ``"auto"``: :func:`mixagg.theory.suggest_rho` (our extension: the :math:`\\rho` that keeps
        ``coverage`` = 99% of the failure-free estimates by their predicted distance law,
        reported in ``result.rho_suggestion``).
    sample_sizes : array-like of shape (m,), optional
        Local sample sizes (MR weights :math:`\\lambda_i=n_i/\\sum n`); default equal.
    radius : {"majority", "half", "median", "code"}
        How the COAT radius counts "half" (:func:`coat_radius`).
    distances : ndarray of shape (m, m), optional
        Precomputed pairwise L2 distances (e.g. to scan many ``rho``).
    restarts : {"auto", "all", "none"}, default "auto"
        MR starts besides the COAT: every selected estimate (``"auto"``), every
        estimate including those filtered out (``"all"``, as the reference code), or none.
    tol, max_iter
        Passed to :func:`~mixagg.reduction.mixture_reduction`.
    rho_options : dict, optional
        With ``rho="auto"``: options of :func:`~mixagg.theory.suggest_rho` (``coverage``,
        ``target``, ``n_boot``, ``rng``, ...). Its bootstrap is seeded with 0 unless
        ``rng`` is given, so the aggregate is reproducible.
    n_missing : int
        Machines expected but missing or rejected; they count against the majority (:func:`coat_radius`).

    Warns
    -----
    UserWarning
        :math:`r^{\\rm COAT}=0` (more than half of the estimates identical: only those
        are kept), or no majority cluster.
    """
    items, lambdas = _prepare(estimates, sample_sizes)
    auto = isinstance(rho, str)
    if auto and rho != "auto":
        raise ValueError(f"rho must be a number >= 1 or 'auto', got {rho!r}")
    if rho_options is not None and not auto:
        raise ValueError("rho_options applies to rho='auto' only")
    if not auto:
        rho = _check_rho(items[0].family.default_rho if rho is None else rho)
    log = _Log()
    d, c, r, dc = _coat_step(items, lambdas, distances, radius, log, n_missing)
    suggestion = None
    if auto:
        from .theory.rho import suggest_rho

        if rho_options is not None and not isinstance(rho_options, Mapping):
            raise TypeError(f"rho_options must be a dict of suggest_rho options, got {type(rho_options).__name__}")
        options = {"rng": 0, **(rho_options or {})}
        for key in ("distances", "radius", "sample_sizes"):
            if key in options:
                raise ValueError(f"rho_options must not set {key!r}: dfmr passes its own")
        rho = _check_rho(items[0].family.default_rho)
        if len(items) < 3 or r == 0 or np.isinf(r):
            if len(items) > 1:
                log.warn(f"rho='auto' needs at least 3 distinct estimates; using the family's default rho = {rho:g}")
        else:
            try:
                suggestion = suggest_rho(items, distances=d, radius=radius, sample_sizes=sample_sizes, **options)
                rho = suggestion.rho
            except TheoryError as exc:  # e.g. the COAT has two equal components: its Fisher information is singular
                log.warn(f"rho='auto' failed ({exc}); using the family's default rho = {rho:g}")
    if r == 0:
        selected = np.flatnonzero(dc == 0)
        if len(items) > 1:
            log.warn(
                f"the COAT radius is 0: {selected.size} of the {len(items)} estimates coincide with the COAT, "
                "so every ratio to the radius is undefined; only those are kept"
            )
    else:
        selected = np.flatnonzero(dc <= rho * r)  # "<=" as [J] eq. (11); Algorithm 1 prints "<" (MATH.md §11 #2)
    reduction = _reduce(items, lambdas, selected, items[0].n_components, items[c], restarts, tol, max_iter)
    return _result(
        _method, items, selected, reduction, log, coat_index=c, coat_radius=r, rho=rho, rho_suggestion=suggestion,
        distance_to_coat=dc, distances=d,
    )


def cred(estimates: Sequence[Any], *, strict: bool = False, **options: Any) -> AggregationResult:
    """COAT-based REDuction ([A] eq. (4); MATH.md §6.4): DFMR with :math:`\\rho=1`.

    With ``strict=True``, the literal rule of [A]: the radius of [A] §3.1
    (``radius="half"``) and the strict inequality :math:`\\mathsf D_{cj}<r^{\\rm COAT}`,
    which keeps :math:`\\lceil m/2\\rceil-1` estimates besides ties, fewer than half (MATH.md §11 #22).
    Breakdown point just below 1/2.
    """
    if not strict:
        return dfmr(estimates, 1.0, _method="cred", **options)
    unknown = set(options) - {"sample_sizes", "distances", "restarts", "tol", "max_iter", "n_missing"}
    if unknown:
        raise TypeError(f"cred(strict=True) got unexpected options {sorted(unknown)} (the literal rule fixes radius='half')")
    items, lambdas = _prepare(estimates, options.get("sample_sizes"))
    log = _Log()
    d, c, r, dc = _coat_step(items, lambdas, options.get("distances"), "half", log, options.get("n_missing", 0))
    selected = np.flatnonzero(dc < r) if r > 0 else np.flatnonzero(dc == 0)
    reduction = _reduce(
        items, lambdas, selected, items[0].n_components, items[c],
        options.get("restarts", "auto"), options.get("tol", 1e-8), options.get("max_iter", 1000),
    )
    return _result("cred", items, selected, reduction, log, coat_index=c, coat_radius=r, rho=1.0, distance_to_coat=dc, distances=d)


def ared_threshold(m: int) -> float:
    """:math:`\\kappa_m=\\sqrt{\\tfrac12\\log(m/2)\\,\\log\\log m}` of ARED ([A] eq. (5)); defined for :math:`m\\ge3`."""
    m = check_int(m, "m")
    if m < 3:
        raise ValueError(f"kappa_m is defined for m >= 3, got m={m}")
    return math.sqrt(0.5 * math.log(m / 2) * math.log(math.log(m)))


def ared(estimates: Sequence[Any], **options: Any) -> AggregationResult:
    """Adaptive REDuction ([A] eq. (5); MATH.md §6.4): DFMR with :math:`\\rho=\\max(1,\\kappa_m)`.

    The excluded set is ARED's detected failure set :math:`\\widehat{\\mathbb B}`
    (``result.detected``). :math:`\\kappa_m<1` for :math:`m\\le14` (then :math:`\\rho=1`
    and a warning). Breakdown point just below 1/2; [A] Thm 4.1 claims exact
    detection when failed estimates are well separated from the honest ones.
    """
    if "rho" in options:
        raise TypeError("ared sets rho = max(1, kappa_m) itself; use dfmr(rho=...) for another value")
    items, _ = _prepare(estimates, options.get("sample_sizes"))
    m = len(items) + check_int(options.get("n_missing", 0), "n_missing", minimum=0)  # kappa_m counts every expected machine
    if m < 3:
        kappa, note = 1.0, f"ARED's threshold kappa_m is undefined for m={m} < 3; rho = 1 is used"
    else:
        kappa = ared_threshold(m)
        note = f"kappa_m = {kappa:.3g} < 1 for m={m} <= 14; rho = max(1, kappa_m) = 1 is used" if kappa < 1 else None
    if note:
        warnings.warn(note, UserWarning, stacklevel=external_stacklevel())
    result = dfmr(items, max(1.0, kappa), _method="ared", **options)
    if note:
        result = _with_warning(result, note)
    return result


def _with_warning(result: AggregationResult, text: str) -> AggregationResult:
    return replace(result, warnings=(text, *result.warnings))


def vanilla(
    estimates: Sequence[Any], *, sample_sizes: Any = None, restarts: str = "auto", tol: float = 1e-8, max_iter: int = 1000
) -> AggregationResult:
    """Mixture reduction of all estimates, no filtering ("GMR" in [A]; MATH.md §6.6).

    Not Byzantine tolerant: a single failed machine can move the aggregate
    arbitrarily far (breakdown point 0). Started from every estimate.
    """
    items, lambdas = _prepare(estimates, sample_sizes)
    selected = np.arange(len(items))
    reduction = _reduce(items, lambdas, selected, items[0].n_components, None, restarts, tol, max_iter)
    return _result("vanilla", items, selected, reduction, _Log())


def oracle(
    estimates: Sequence[Any],
    *,
    failure_free: Any = None,
    sample_sizes: Any = None,
    restarts: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> AggregationResult:
    """Mixture reduction of the failure-free estimates only (OMR; a benchmark, it needs the true failure set).

    Parameters
    ----------
    failure_free : array-like of bool (m,) or of int indices
        Which estimates are failure-free (required).
    """
    items, lambdas = _prepare(estimates, sample_sizes)
    m = len(items)
    if failure_free is None:
        raise ValueError("oracle needs failure_free=... (a boolean mask or the indices of the failure-free estimates)")
    arr = np.asarray(failure_free)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise ValueError(f"failure_free as a mask must have shape ({m},), got {arr.shape}")
        selected = np.flatnonzero(arr)
    else:
        idx = as_index_array(arr, "failure_free")
        if idx.size and (idx.min() < 0 or idx.max() >= m):
            raise ValueError(f"failure_free has indices outside [0, {m})")
        selected = np.unique(idx)
        if selected.size != idx.size:
            raise ValueError(
                "failure_free has repeated indices; a 0/1 vector is read as indices: pass a boolean mask "
                "(a logical vector in R) or the indices of the failure-free estimates"
            )
    if selected.size == 0:
        raise ValueError("failure_free selects no estimate")
    reduction = _reduce(items, lambdas, selected, items[0].n_components, None, restarts, tol, max_iter)
    return _result("oracle", items, selected, reduction, _Log())


def trim(
    estimates: Sequence[Any],
    *,
    eta: float = 0.5,
    sample_sizes: Any = None,
    restarts: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> AggregationResult:
    """Trimmed :math:`K`-barycentres of all atoms (del Barrio et al. 2019; [J] App. A.3; MATH.md §6.5).

    Trims a fraction ``eta`` of the mass of the atoms that are worst fitted by
    :math:`K` KL barycentres. It ignores machine structure and weights, so it
    cannot see weight failures ([J] §5.1.4); it tolerates location failures of
    less than ``eta`` of the mass. ``selected`` lists the machines with some kept
    mass, ``excluded`` those trimmed entirely; per-component kept mass is in
    ``result.reduction.kept_mass``.
    """
    items, lambdas = _prepare(estimates, sample_sizes)
    reduction = trimmed_reduction(
        items, items[0].n_components, eta=eta, sample_sizes=lambdas, restarts=restarts, tol=tol, max_iter=max_iter
    )
    selected = np.flatnonzero(reduction.kept_mass.sum(axis=1) > 0)
    return _result("trim", items, selected, reduction, _Log())


#: ``aggregate(method=...)`` names.
METHODS: dict[str, Callable[..., AggregationResult]] = {
    "coat": coat,
    "dfmr": dfmr,
    "cred": cred,
    "ared": ared,
    "trim": trim,
    "vanilla": vanilla,
    "oracle": oracle,
}


def aggregate(estimates: Sequence[Any], method: str = "dfmr", **options: Any) -> AggregationResult:
    """Aggregate local estimates with one of :data:`METHODS` (``"dfmr"`` by default).

    ``options`` are passed to the estimator, e.g. ``aggregate(est, "dfmr", rho=1.3)``,
    ``aggregate(est, "trim", eta=0.5)``, ``aggregate(est, "oracle", failure_free=mask)``.

    ``estimates`` may mix estimates with :class:`~mixagg.rejection.Rejected` records (what
    :func:`mixagg.wire.loads` returns for a malformed payload): those are left out before the
    COAT, listed with their reasons in ``result.rejected`` and in ``result.excluded``, and
    counted as failed machines by the majority rule (``n_missing``), which is judged on all
    expected machines. Indices in the result refer to positions in ``estimates``; per-machine
    options may be given for all of them.

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [2.0, 12.0]})
    >>> rng = np.random.default_rng(0)
    >>> local = [ma.fit_mixture(truth.sample(2000, rng), "poisson", 2, init=truth) for _ in range(10)]
    >>> local, failed = ma.attacks.rate_failure(local, alpha=0.3, rng=1)
    >>> res = ma.aggregate(local, "dfmr")
    >>> set(np.flatnonzero(failed).tolist()) <= set(res.excluded.tolist())  # every failed machine is filtered out
    True
    >>> round(ma.metrics.w1(res.mixture, truth), 2)
    0.11
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    method = method.lower()
    try:  # a generator is read once, here
        entries = estimates if isinstance(estimates, (MixingDistribution, str, Mapping)) else list(estimates)
    except TypeError:
        entries = estimates  # not iterable: the estimator's own check names the problem
    if not isinstance(entries, list) or not any(isinstance(e, Rejected) for e in entries):
        return METHODS[method](entries, **options)
    return _without_rejected(entries, method, options)


#: Estimators whose majority rule counts the rejected machines (``n_missing``).
_MAJORITY_METHODS = ("coat", "dfmr", "cred", "ared")


def _without_rejected(entries: list[Any], method: str, options: dict[str, Any]) -> AggregationResult:
    """Aggregate the valid entries; report the :class:`Rejected` ones and count them as failed machines.

    Per-machine options (``sample_sizes``, ``distances``, ``failure_free`` as a mask) may be given
    for all machines and are restricted to the valid ones; result indices refer to ``entries``.
    """
    m = len(entries)
    rejected = {i: e for i, e in enumerate(entries) if isinstance(e, Rejected)}
    valid = np.array([i for i in range(m) if i not in rejected], dtype=np.intp)
    if valid.size == 0:
        reasons = "; ".join(f"[{i}] {r.reason}" for i, r in list(rejected.items())[:3])
        raise ValueError(f"all {m} estimates were rejected, nothing to aggregate (first reasons: {reasons})")
    options = dict(options)
    if options.get("sample_sizes") is not None and np.ndim(options["sample_sizes"]) == 1 and len(options["sample_sizes"]) == m:
        options["sample_sizes"] = np.asarray(options["sample_sizes"])[valid]
    if options.get("distances") is not None and np.shape(options["distances"]) == (m, m):
        options["distances"] = np.asarray(options["distances"])[np.ix_(valid, valid)]
    if method == "oracle" and options.get("failure_free") is not None:
        mask = np.asarray(options["failure_free"])
        if mask.dtype == bool and mask.shape == (m,):
            options["failure_free"] = mask[valid]
        else:  # indices into entries
            keep = np.isin(valid, as_index_array(mask, "failure_free"))
            options["failure_free"] = keep
    if method in _MAJORITY_METHODS:
        options["n_missing"] = int(options.get("n_missing", 0)) + len(rejected)
    result = METHODS[method]([entries[i] for i in valid], **options)
    note = f"{len(rejected)} of the {m} estimates were rejected and left out: " + "; ".join(
        f"[{i}] {r.reason}" for i, r in list(rejected.items())[:5]
    ) + (" ..." if len(rejected) > 5 else "")
    warnings.warn(note, UserWarning, stacklevel=external_stacklevel())

    def spread(values: np.ndarray | None, axes: int) -> np.ndarray | None:
        if values is None:
            return None
        out = np.full((m,) * axes, np.nan)
        out[np.ix_(*([valid] * axes))] = values
        return out

    return replace(
        result,
        selected=valid[result.selected],
        excluded=np.union1d(valid[result.excluded], np.fromiter(rejected, dtype=np.intp)),
        coat_index=None if result.coat_index is None else int(valid[result.coat_index]),
        distance_to_coat=spread(result.distance_to_coat, 1),
        distances=spread(result.distances, 2),
        alignments={int(valid[i]): perm for i, perm in result.alignments.items()},
        warnings=(note, *result.warnings),
        rejected=rejected,
    )
