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
