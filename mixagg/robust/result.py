"""The result of an aggregation rule: the aggregate and the audit trail of the decision (``docs/aggregation.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..mixture import MixingDistribution
from ..reduction import ReductionResult, TrimmedReductionResult
from ..rejection import Rejected

if TYPE_CHECKING:
    from ..theory.rho import RhoSuggestion
    from .spectral import SpectralStage

__all__ = ["AggregationResult"]


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
        aligned with the aggregate. Returned, never applied. For an estimate with
        fewer components than the aggregate, its components come in the order of the
        aggregate components they match (``matches`` says which).
    matches : dict of int to ndarray
        For each selected estimate ``i``, ``matches[i][j]`` is its component matched to
        component ``j`` of the aggregate, ``-1`` when it has fewer components and none is left.
    orders : ndarray of int or None
        The order of every estimate (``-1`` for a rejected one).
    order_rule : str
        How the aggregate's order was chosen: given (``n_components=``), or the lower median of the
        kept estimates' orders (``docs/aggregation.md``, "Estimates of different orders").
    warnings : tuple of str
        Messages of the warnings raised.
    rejected : dict of int to Rejected
        Positions (in the input of :func:`aggregate`) of the estimates refused by
        :func:`mixagg.wire.loads`, with the reasons. They are also in ``excluded``,
        and their rows of ``distances`` / ``distance_to_coat`` are NaN.
    machine_ids : tuple or None
        The id each estimate carried (:attr:`mixagg.wire.TransmittedEstimate.machine_id`,
        or the :class:`~mixagg.rejection.Rejected` record's), ``None`` where there was none;
        ``None`` altogether when no estimate carried one.
    screened : dict of int to tuple of int
        Selected estimates some of whose components the atom screen left out of the reduction
        (:func:`mixagg.robust.screen.screen_atoms`), with those components' indices.
    clipped_sizes : ndarray of int
        Estimates whose reported sample size was clipped (option ``sample_size_bound``,
        :func:`mixagg.robust.pipeline.bound_sample_sizes`).
    majority_doubtful : bool
        A :class:`~mixagg.exceptions.MajorityWarning` was raised: the valid estimates are no
        majority of the expected machines, exactly the fewest one needs (no failure tolerated), or
        the COAT's ball does not look like one cluster. The guarantee of the rule does not hold;
        ``mixagg aggregate`` then exits with status 3.
    spectral : SpectralStage or None
        SFMR's spectral stage (:mod:`mixagg.robust.spectral`): its statistic, threshold and the
        estimates it removed.

    Notes
    -----
    ``print(result)`` is one line; :meth:`summary` is the report a person reads (the
    method, the machines kept and excluded by id, the COAT and its radius, how
    :math:`\\rho` was chosen, the rejections and the warnings) and :meth:`to_frame` the
    per-machine audit as a table (``docs/aggregation.md``, "Reading a result").
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
    matches: dict[int, np.ndarray] = field(default_factory=dict)
    orders: np.ndarray | None = None
    order_rule: str = ""
    warnings: tuple[str, ...] = ()
    rejected: dict[int, Rejected] = field(default_factory=dict)
    machine_ids: tuple[str | int | None, ...] | None = None
    screened: dict[int, tuple[int, ...]] = field(default_factory=dict)
    clipped_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    majority_doubtful: bool = False
    spectral: SpectralStage | None = None

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

    @property
    def n_machines(self) -> int:
        """Number of estimates given to the rule (rejected ones included)."""
        return int(self.selected.size + self.excluded.size)

    @property
    def kept(self) -> np.ndarray:
        """Boolean mask of shape ``(n_machines,)``: which estimates entered the aggregate."""
        mask = np.zeros(self.n_machines, dtype=bool)
        mask[self.selected] = True
        return mask

    def _label(self, i: int) -> str:
        ident = None if self.machine_ids is None else self.machine_ids[i]
        return f"[{i}]" if ident is None or str(ident) == str(i) else f"[{i}] {ident}"

    def _ratios(self) -> np.ndarray | None:
        if self.distance_to_coat is None or not self.coat_radius:
            return None
        return self.distance_to_coat / self.coat_radius

    def _reasons(self) -> list[str]:
        """Why each estimate was kept or excluded, in a few words."""
        kept, ratios = self.kept, self._ratios()
        factors = {} if self.spectral is None else self.spectral.reweighted
        out = []
        for i in range(self.n_machines):
            if i in self.rejected:
                out.append(f"rejected: {self.rejected[i].reason}")
            elif i in factors:
                out.append(
                    f"reweighted by the spectral stage (factor {factors[i]:.3g})"
                    if factors[i] > 0
                    else "removed by the spectral stage"
                )
            elif i == self.coat_index:
                out.append("the COAT")
            elif self.rho is not None and ratios is not None:
                out.append(
                    f"within rho = {self.rho:.4g} times the COAT radius"
                    if kept[i]
                    else f"farther than rho = {self.rho:.4g} times the COAT radius"
                )
            else:
                out.append(f"kept by {self.method}" if kept[i] else f"excluded by {self.method}")
        return out

    def to_frame(self) -> Any:
        """The per-machine audit as a pandas DataFrame, one row per estimate given to the rule.

        Columns ``machine_id``, ``distance_to_coat`` (:math:`\\mathsf D_{ci}`, [J] eq. (11)),
        ``ratio_to_radius`` (:math:`\\mathsf D_{ci}/r^{\\rm COAT}`, compared with
        :math:`\\rho`), ``kept``, ``screened`` (components the atom screen left out), ``weight_factor``
        (the factor on the MR weight: 0 for an estimate left out, below 1 where SFMR's spectral stage
        reweighted it) and ``reason``;
        the index is the position in the input
        (named ``machine``). Distances are NaN for rejected estimates and for rules without a
        COAT.
        """
        import pandas as pd  # imported on use: ``import mixagg`` loads no pandas

        n = self.n_machines
        ratios = self._ratios()
        return pd.DataFrame(
            {
                "machine_id": list(self.machine_ids) if self.machine_ids is not None else [None] * n,
                "distance_to_coat": np.full(n, np.nan) if self.distance_to_coat is None else self.distance_to_coat,
                "ratio_to_radius": np.full(n, np.nan) if ratios is None else ratios,
                "kept": self.kept,
                "screened": [len(self.screened.get(i, ())) for i in range(n)],
                "weight_factor": self._factors(),
                "reason": self._reasons(),
            },
            index=pd.RangeIndex(n, name="machine"),
        )

    def _factors(self) -> np.ndarray:
        out = self.kept.astype(float)
        if self.spectral is not None:
            for i, f in self.spectral.reweighted.items():
                out[i] = f
        return out

    def _listing(self, indices: np.ndarray, limit: int = 8) -> str:
        names = [self._label(int(i)) for i in indices[:limit]]
        more = f", ... ({indices.size - limit} more)" if indices.size > limit else ""
        return ", ".join(names) + more

    def summary(self) -> str:
        """A short report of the aggregation (``docs/aggregation.md``, "Reading a result")."""
        mix = self.mixture
        lines = [
            f"{self.method} aggregation of {self.n_machines} estimates: {mix.n_components}-component {mix.family!r}",
            f"  kept {self.selected.size}: {self._listing(self.selected) or '-'}",
            f"  excluded {self.excluded.size}: {self._listing(self.excluded) or '-'}",
        ]
        if self.orders is not None and len(set(self.orders[self.orders >= 0].tolist())) > 1:
            lines.append(f"  order: {self.order_rule}")
        if self.coat_index is not None:
            lines.append(f"  COAT: {self._label(self.coat_index)}, radius r = {self.coat_radius:.4g}")
        if self.rho is not None:
            if self.rho_suggestion is not None:
                s = self.rho_suggestion
                how = (
                    f"chosen by suggest_rho: target {s.target!r} with coverage {s.coverage:g}, "
                    f"{s.n_honest} honest estimates assumed, {s.n_boot} bootstrap replicates"
                )
            elif self.method == "dfmr":
                how = "fixed"
            else:
                how = f"set by the {self.method} rule"
            lines.append(f"  rho = {self.rho:.4g} ({how})")
            if self.coat_radius:
                lines.append(f"  filter radius rho r = {self.rho * self.coat_radius:.4g} around the COAT")
        if self.reduction is not None:
            r = self.reduction
            lines.append(f"  mixture reduction: objective {r.objective:.6g} after {r.n_iter} iterations")
        if self.spectral is not None:
            st = self.spectral
            lines.append(
                f"  spectral stage: largest spread {st.statistic:.3g} times its honest quantile, "
                f"{len(st.reweighted)} estimate(s) reweighted ({st.removed.size} to 0)"
            )
        if self.majority_doubtful:
            lines.append("  MAJORITY DOUBTFUL: the rule's guarantee does not hold (see the warnings)")
        for i, comps in sorted(self.screened.items()):
            lines.append(f"  screened {self._label(i)}: component(s) {list(comps)} left out of the reduction")
        for i, r in sorted(self.rejected.items()):
            where = f" ({r.source})" if r.source else ""
            lines.append(f"  rejected {self._label(i)}{where}: {r.reason}")
        lines += [f"  warning: {w}" for w in self.warnings if "estimates were rejected and left out:" not in w]
        return "\n".join(lines)

    def __repr__(self) -> str:
        coat = "" if self.coat_index is None else f", coat={self.coat_index}"
        rho = "" if self.rho is None else f", rho={self.rho:.4g}"
        return (
            f"AggregationResult(method={self.method!r}, K={self.mixture.n_components}, "
            f"kept={self.selected.size}/{self.n_machines}{coat}{rho}, warnings={len(self.warnings)})"
        )

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
            "matches": {str(i): plain(p) for i, p in self.matches.items()},
            "orders": plain(self.orders),
            "order_rule": self.order_rule,
            "warnings": list(self.warnings),
            "rejected": [{"index": int(i), **r.to_dict()} for i, r in sorted(self.rejected.items())],
            "machine_ids": None if self.machine_ids is None else list(self.machine_ids),
            "screened": {str(i): list(c) for i, c in self.screened.items()},
            "clipped_sizes": plain(self.clipped_sizes),
            "majority_doubtful": self.majority_doubtful,
            "spectral": None if self.spectral is None else self.spectral.to_dict(),
        }
