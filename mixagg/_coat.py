"""The COAT rule on stacks of distance matrices (shared by :mod:`mixagg.robust` and :mod:`mixagg.theory`).

Documented in :func:`mixagg.robust.coat_radius` ([J] eq. (10), Algorithm 1; MATH.md §6.2).
"""

from __future__ import annotations

import math

from typing import Any

import numpy as np

from ._validation import as_float_array

#: How the COAT radius counts "half" (see :func:`mixagg.robust.coat_radius`).
RADIUS_RULES = ("majority", "half", "median", "code")


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
    if radius not in RADIUS_RULES:
        raise ValueError(f"radius must be one of {RADIUS_RULES}, got {radius!r}")
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
