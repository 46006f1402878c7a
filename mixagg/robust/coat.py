"""The Centre Of ATtention: its radius on stacks of distance matrices, and the check of the majority around it.

Shared by the aggregation rules and by :mod:`mixagg.theory` ([J] eq. (10), Algorithm 1;
``docs/aggregation.md``, "COAT radius").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_float_array, check_choice, check_int

__all__ = ["MAJORITY_JUMP", "MAJORITY_OVERLAP", "RADIUS_RULES", "coat_radius", "majority_problem"]

#: How the COAT radius counts "half" (see :func:`coat_radius`).
RADIUS_RULES = ("majority", "half", "median", "code")

#: The majority ball of the COAT is flagged when its farthest member overlaps the COAT by less
#: than this: :math:`\omega=2\langle f_c,f_i\rangle/(\lVert f_c\rVert^2+\lVert f_i\rVert^2)`,
#: which equals :math:`1-D_{ci}^2/(\lVert f_c\rVert^2+\lVert f_i\rVert^2)`,
#: is 1 for equal densities and 0 for disjoint ones; noisy honest fits (e.g. 120 observations per
#: machine for 329 parameters) still give about 0.4.
MAJORITY_OVERLAP = 0.1
#: ... or when the radius of the majority ball exceeds this multiple of the distance to the COAT's
#: nearest quarter of the estimates (see :func:`majority_problem`).
MAJORITY_JUMP = 4.0


def check_distance_matrix(distances: Any, m: int) -> np.ndarray:
    """A precomputed L2 distance matrix of ``m`` estimates: ``(m, m)``, symmetric, non-negative, zero diagonal."""
    d = as_float_array(distances, "distances", ndim=2, finite=False)
    if d.shape != (m, m):
        raise ValueError(f"distances must have shape ({m}, {m}), got {d.shape}")
    if np.any(np.isnan(d)) or np.any(d < 0) or not np.array_equal(d, d.T) or np.any(np.diag(d) != 0):
        raise ValueError("distances must be a symmetric, non-negative matrix with a zero diagonal")
    return d


def _order_statistic(ordered: np.ndarray, j: int) -> np.ndarray:
    """The ``j``-th smallest entry (0-based) of each sorted row, padded with infinitely many ``inf``."""
    if j >= ordered.shape[-1]:
        return np.full(ordered.shape[:-1], np.inf)
    return ordered[..., j]


def coat_radii(distances: np.ndarray, radius: str, n_far: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """COAT index and radius of each ``(k, k)`` matrix in a stack ``(..., k, k)``; ties go to the smallest index.

    ``n_far`` further estimates are infinitely far from all others (so :math:`m=k+` ``n_far``);
    the COAT is then among the first ``k`` unless its radius is ``inf``.
    """
    radius = check_choice(radius, "radius", RADIUS_RULES, case=True)
    k = distances.shape[-1]
    m = k + n_far
    if m == 1:
        batch = distances.shape[:-2]
        return np.zeros(batch, dtype=np.intp), np.zeros(batch)
    half = m // 2
    ordered = np.sort(distances, axis=-1)  # numpy's vectorised sort beats np.partition here
    if radius == "majority":
        r = _order_statistic(ordered, half)
    elif radius == "half":
        r = _order_statistic(ordered, math.ceil(m / 2) - 1)
    elif m % 2:
        r = _order_statistic(ordered, half)
    else:  # the median of an even number of entries: the mean of the two middle ones
        r = 0.5 * (_order_statistic(ordered, half - 1) + _order_statistic(ordered, half))
    c = np.argmin(r, axis=-1)
    if radius == "code":  # the COAT by the median, the radius by the majority rule on its row
        r = _order_statistic(ordered, half)
    return c, np.take_along_axis(r, c[..., None], axis=-1)[..., 0]


def coat_radius(distances: Any, radius: str = "majority", *, n_missing: int = 0) -> tuple[int, float]:
    """COAT index and radius from a pairwise distance matrix ([J] eq. (10), Algorithm 1).

    Each row is sorted **including the self-distance** :math:`d_i^{(0)}=0`. The
    radius :math:`r_i` of estimate :math:`i` is the smallest radius of a ball
    centred at it that holds "half" of the estimates; the COAT minimises it
    (ties: the smallest index). "Half" is read four ways in the sources
    (``docs/aggregation.md``, "COAT radius"):

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


def majority_problem(distance_to_coat: np.ndarray, norms: tuple[float, float], lambdas: np.ndarray) -> str | None:
    """Why the estimates nearest the COAT do not look like one cluster, or ``None`` when they do.

    ``norms`` are the L2 norms of the COAT and of the farthest member of its majority ball
    (the :math:`\\lfloor m/2\\rfloor`-th nearest estimate, :func:`majority_member`). Two signs,
    either of which is reported (``docs/aggregation.md``, "Majority check"):

    * the farthest member of the majority ball barely overlaps the COAT:
      :math:`\\omega=1-D_{ci}^2/(\\lVert f_c\\rVert^2+\\lVert f_i\\rVert^2)<` :data:`MAJORITY_OVERLAP`
      (1 for equal densities, 0 for disjoint ones);
    * the ball is two populations: its radius exceeds :data:`MAJORITY_JUMP` times the
      distance to the COAT's :math:`\\lceil h/2\\rceil`-th neighbour (:math:`h=\\lfloor m/2\\rfloor`);
      honest distances grow smoothly (about 1.1 to 2), a failed majority jumps.
      Distances are scaled by :math:`(1/n_c+1/n_i)^{-1/2}` so unequal sample sizes do not count as a jump.
    """
    m = distance_to_coat.size
    c = int(np.argmin(distance_to_coat))
    scaled = distance_to_coat / np.sqrt(1.0 / lambdas + 1.0 / lambdas[c])  # honest distances ~ (1/n_i + 1/n_c)^{1/2}
    order = np.argsort(scaled, kind="stable")
    half = m // 2
    far = majority_member(distance_to_coat)
    overlap = 1.0 - distance_to_coat[far] ** 2 / (norms[0] ** 2 + norms[1] ** 2)
    inner = scaled[order[math.ceil(half / 2)]]
    jump = scaled[order[half]] / inner if inner > 0 else np.inf
    if overlap < MAJORITY_OVERLAP or (m >= 5 and jump > MAJORITY_JUMP):
        return (
            f"no majority cluster around the COAT: its {half + 1} nearest estimates overlap it by as little as "
            f"{max(overlap, 0.0):.2f} (1 = identical, 0 = disjoint) and their distances jump by a factor {jump:.3g}; "
            "the majority assumption (fewer than half of the machines failed) may not hold"
        )
    return None


def majority_member(distance_to_coat: np.ndarray) -> int:
    """The member of the COAT's majority ball at distance :math:`r^{\\rm COAT}`.

    It is the :math:`\\lfloor m/2\\rfloor`-th nearest.
    """
    return int(np.argsort(distance_to_coat, kind="stable")[distance_to_coat.size // 2])
