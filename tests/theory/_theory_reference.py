"""Independent references for the theory tests: densities rebuilt from parameter vectors,
finite differences of the density itself, and composite Gauss-Legendre grids.

Nothing here uses the kernel derivatives, the score or the Jacobians under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import mixagg as ma


def mixture_from_vector(template: ma.MixingDistribution, v: np.ndarray, to_params=None) -> ma.MixingDistribution:
    """The mixture with vector ``v = (w_1..w_{K-1}, per-component block)``; ``to_params`` maps a block to params."""
    fam = template.family
    k = template.n_components
    w = np.append(v[: k - 1], 1.0 - np.sum(v[: k - 1]))
    blocks = v[k - 1 :].reshape(k, -1)
    params = fam.params_from_vector(blocks) if to_params is None else to_params(blocks)
    return ma.MixingDistribution(fam, w, params)


def gradient(fun: Callable[[np.ndarray], np.ndarray], v: np.ndarray, rel: float = 1e-3) -> np.ndarray:
    """Five-point central differences of ``fun`` (vector -> array) at ``v``: shape ``(len(v), *out)``, error O(h^4)."""
    rows = []
    for i in range(v.size):
        h = rel * max(abs(v[i]), 0.1)
        e = np.zeros(v.size)
        e[i] = h
        rows.append((-fun(v + 2 * e) + 8 * fun(v + e) - 8 * fun(v - e) + fun(v - 2 * e)) / (12 * h))
    return np.array(rows)


def legendre_grid(a: float, b: float, panels: int, nodes: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [a, b]."""
    t, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(a, b, panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * t).ravel(), (half[:, None] * w).ravel()


def legendre_grid_2d(
    box: tuple[float, float, float, float], panels: int, nodes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product composite Gauss-Legendre points ``(N, 2)`` and weights on a box (x0, x1, y0, y1)."""
    x, wx = legendre_grid(box[0], box[1], panels, nodes)
    y, wy = legendre_grid(box[2], box[3], panels, nodes)
    xx, yy = np.meshgrid(x, y, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=-1), np.outer(wx, wy).ravel()


def log_grid(lo: float, hi: float, panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on (0, inf) through x = exp(t), t in [lo, hi]."""
    t, w = legendre_grid(lo, hi, panels)
    return np.exp(t), w * np.exp(t)
