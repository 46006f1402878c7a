"""R <-> numpy layouts (docs/mixsim.md pitfall 1-3): column-major arrays, p x p x K covariance arrays, 1-based indices.

R stores every array column-major: element ``S[a, b, k]`` (1-based) of a ``p x p x K`` array
sits at flat position ``(a-1) + p(b-1) + p^2(k-1)``. mixagg keeps covariances as
``(K, p, p)`` and means as ``(K, p)`` (row ``k`` is component ``k``). These functions work
on the flat vector and ``dim`` attribute R holds, so they are exact and need no R.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_float_array

__all__ = ["covariances_from_r", "covariances_to_r", "index_from_r", "matrix_from_r", "matrix_to_r"]


def _dims(dim: Any, ndim: int, name: str) -> tuple[int, ...]:
    arr = as_float_array(dim, name).reshape(-1)
    if arr.size != ndim or np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ValueError(f"{name} must hold {ndim} positive integers, got {arr.tolist()}")
    return tuple(int(v) for v in arr)


def _flat(values: Any, size: int, name: str) -> np.ndarray:
    flat = as_float_array(values, name).reshape(-1)
    if flat.size != size:
        raise ValueError(f"{name} has {flat.size} values but its dim needs {size}")
    return flat


def covariances_to_r(covs: Any) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``(K, p, p)`` covariances to R's ``p x p x K`` array: its column-major values and ``dim``."""
    arr = as_float_array(covs, "covs", ndim=3)
    k, p, q = arr.shape
    if p != q:
        raise ValueError(f"covs must have shape (K, p, p), got {arr.shape}")
    return arr.transpose(1, 2, 0).ravel(order="F"), (p, p, k)


def covariances_from_r(values: Any, dim: Any) -> np.ndarray:
    """R's ``p x p x K`` array (column-major ``values`` and ``dim``) to ``(K, p, p)``, unchanged bit for bit.

    MixSim's matrices are symmetric only to about 1 ulp; symmetrise before factorising.
    """
    p, q, k = _dims(dim, 3, "dim")
    if p != q:
        raise ValueError(f"dim must be (p, p, K) for covariance arrays, got {(p, q, k)}")
    return _flat(values, p * p * k, "values").reshape((p, p, k), order="F").transpose(2, 0, 1)


def matrix_to_r(matrix: Any) -> tuple[np.ndarray, tuple[int, int]]:
    """A 2-D array to R's column-major values and ``dim`` (``nrow, ncol``)."""
    arr = as_float_array(matrix, "matrix", ndim=2)
    return arr.ravel(order="F"), arr.shape


def matrix_from_r(values: Any, dim: Any) -> np.ndarray:
    """R's matrix (column-major ``values``, ``dim = (nrow, ncol)``) to a 2-D array with the same ``[i, j]`` entries.

    A C-order reshape would transpose it: for ``OmegaMap`` that silently swaps :math:`o_{j|i}` and
    :math:`o_{i|j}` (docs/mixsim.md, pitfall 2).
    """
    n, m = _dims(dim, 2, "dim")
    return _flat(values, n * m, "values").reshape((n, m), order="F")


def index_from_r(indices: Any) -> tuple[int, ...]:
    """1-based R indices (doubles in R, e.g. ``rcMax``) to 0-based Python ints; non-integral or < 1 raises."""
    arr = as_float_array(indices, "indices").reshape(-1)
    if np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ValueError(f"indices must be 1-based integers, got {arr.tolist()}")
    return tuple(int(v) - 1 for v in arr)
