"""Compiled kernels for the Gaussian L2 Gram: the hot path of ``l2_distance_matrix``.

For each listed pair ``(a, b)`` it evaluates

.. math:: \\log k = -\\tfrac12\\{d\\log 2\\pi + \\log\\det S + \\delta^\\top S^{-1}\\delta\\},
          \\quad S=\\Sigma_a+\\Sigma_b,\\ \\delta=\\mu_a-\\mu_b

([J] App. C.1; ``docs/families.md``, "Closed forms of the shipped families") with an in-register :math:`LDL^\\top`
factorisation of :math:`S`: no square roots, one logarithm per pair, no
allocation per pair. Pairs are split into contiguous chunks run in parallel.
The numpy implementation ``Gaussian._log_product_integral`` (batched Cholesky)
is the tested reference. With diagonal covariances (``log_product_pairs_axis``) :math:`S` is diagonal and a pair
costs :math:`O(d)`; its reference is ``AxisGaussian._log_product_integral``. Imported lazily: ``import mixagg``
does not import numba.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

__all__ = ["log_product_pairs", "log_product_pairs_axis"]

# numba's default "workqueue" threading layer must not be entered from two
# Python threads at once; serialise calls (the kernel itself is parallel).
_LOCK = threading.Lock()

#: The determinant is accumulated as a product of pivots, folded into a logarithm
#: whenever it leaves this range (pivots outside it are logged directly), so it
#: never over/underflows while typical pairs need one logarithm.
_PROD_HI = 1e150
_PROD_LO = 1e-150


@numba.njit(parallel=True, cache=True, nogil=True)
def _kernel(means, covs, ia, ib, n_chunks, out):  # pragma: no cover - compiled
    n_pairs = ia.size
    d = means.shape[1]
    const = d * np.log(2.0 * np.pi)
    step = (n_pairs + n_chunks - 1) // n_chunks
    for ch in numba.prange(n_chunks):
        lower = np.empty((d, d))
        dinv = np.empty(d)
        work = np.empty(d)
        z = np.empty(d)
        start = ch * step
        stop = min(n_pairs, start + step)
        for p in range(start, stop):
            a = ia[p]
            b = ib[p]
            prod = 1.0
            logdet = 0.0
            # LDL^T of S = covs[a] + covs[b], row by row (unit lower L, pivots D).
            for i in range(d):
                for k in range(i):
                    s = covs[a, i, k] + covs[b, i, k]
                    for t in range(k):
                        s -= work[t] * lower[k, t]
                    work[k] = s  # = L[i, k] * D[k]
                    lower[i, k] = s * dinv[k]
                s = covs[a, i, i] + covs[b, i, i]
                for t in range(i):
                    s -= work[t] * lower[i, t]
                dinv[i] = 1.0 / s
                # Pivots outside [_PROD_LO, _PROD_HI] go straight to the log; the running
                # product of the others stays inside [_PROD_LO**2, _PROD_HI**2]: no overflow.
                if s > _PROD_HI or s < _PROD_LO:
                    logdet += np.log(s)
                else:
                    prod *= s
                    if prod > _PROD_HI or prod < _PROD_LO:
                        logdet += np.log(prod)
                        prod = 1.0
            logdet += np.log(prod)
            # delta' S^{-1} delta = sum_i z_i^2 / D_i with L z = delta.
            q = 0.0
            for i in range(d):
                s = means[a, i] - means[b, i]
                for k in range(i):
                    s -= lower[i, k] * z[k]
                z[i] = s
                q += s * s * dinv[i]
            out[p] = -0.5 * (const + logdet + q)


def log_product_pairs(means: np.ndarray, covs: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """``log k(a, b)`` for the listed pairs of stacked Gaussian components.

    Parameters
    ----------
    means : ndarray of shape (n_components, d)
    covs : ndarray of shape (n_components, d, d)
        Symmetric positive definite (only the lower triangle is read).
    ia, ib : ndarray of int, shape (n_pairs,)

    Returns
    -------
    ndarray of shape (n_pairs,)
    """
    means = np.ascontiguousarray(means, dtype=np.float64)
    covs = np.ascontiguousarray(covs, dtype=np.float64)
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    out = np.empty(ia.size)
    if ia.size == 0:
        return out
    n_chunks = int(max(1, min(ia.size // 256, 16 * numba.get_num_threads())))
    with _LOCK:
        _kernel(means, covs, ia, ib, n_chunks, out)
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _axis_kernel(means, variances, ia, ib, n_chunks, out):  # pragma: no cover - compiled
    n_pairs = ia.size
    d = means.shape[1]
    const = d * np.log(2.0 * np.pi)
    step = (n_pairs + n_chunks - 1) // n_chunks
    for ch in numba.prange(n_chunks):
        start = ch * step
        stop = min(n_pairs, start + step)
        for p in range(start, stop):
            a = ia[p]
            b = ib[p]
            prod = 1.0
            logdet = 0.0
            q = 0.0
            for j in range(d):
                s = variances[a, j] + variances[b, j]
                delta = means[a, j] - means[b, j]
                q += delta * delta / s
                if s > _PROD_HI or s < _PROD_LO:
                    logdet += np.log(s)
                else:
                    prod *= s
                    if prod > _PROD_HI or prod < _PROD_LO:
                        logdet += np.log(prod)
                        prod = 1.0
            out[p] = -0.5 * (const + logdet + np.log(prod) + q)


def log_product_pairs_axis(means: np.ndarray, variances: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """``log k(a, b)`` for the listed pairs of stacked Gaussian components with diagonal covariances.

    Parameters
    ----------
    means, variances : ndarray of shape (n_components, d)
        The means and the variance of every coordinate (positive).
    ia, ib : ndarray of int, shape (n_pairs,)

    Returns
    -------
    ndarray of shape (n_pairs,)
    """
    means = np.ascontiguousarray(means, dtype=np.float64)
    variances = np.ascontiguousarray(variances, dtype=np.float64)
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    out = np.empty(ia.size)
    if ia.size == 0:
        return out
    n_chunks = int(max(1, min(ia.size // 256, 16 * numba.get_num_threads())))
    with _LOCK:
        _axis_kernel(means, variances, ia, ib, n_chunks, out)
    return out
