"""Central finite differences with Richardson extrapolation, vectorised over batch axes.

Used where a family or a coordinate map has no analytic derivative, e.g. the kernel derivatives behind H*
(docs/theory.md, "H*"), with an error estimate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Default step relative to each coordinate's scale: Richardson-extrapolated central differences then have
#: truncation error O(h^4) ~ 1e-12 and rounding error ~ eps / h ~ 1e-13 (relative, first derivatives).
REL_STEP = 1e-3


def central_jacobian(
    fun: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    rel_step: float = REL_STEP,
    inside: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Jacobian of ``fun`` at ``x`` by Richardson-extrapolated central differences.

    Parameters
    ----------
    fun : callable
        Maps an array of shape ``(*lead, n)`` to ``(*lead, *out)`` for any leading
        axes ``lead`` (it is called once, on every perturbed point at once, with
        ``lead = (2, 2, n, *batch)``).
    x : ndarray of shape (*batch, n)
    rel_step : float
        :math:`h_i=` ``rel_step`` :math:`\\times\\max(|x_i|,10^{-2}\\max_j|x_j|)`.
    inside : callable, optional
        Boolean domain test of points ``(..., n)``; a step is halved (up to 30
        times) until :math:`x\\pm h_ie_i/` ``rel_step`` lie inside, so that no step
        exceeds ``rel_step`` times the distance to the domain's edge.

    Returns
    -------
    jacobian : ndarray of shape (*batch, *out, n)
        :math:`R=(4D(h/2)-D(h))/3` with :math:`D(h)=(f(x+he_i)-f(x-he_i))/(2h)`: error :math:`O(h^4)`.
    error : ndarray of shape (*batch, *out, n)
        :math:`|D(h/2)-D(h)|/3`, the estimated error of :math:`D(h/2)` (a conservative bound for ``jacobian``).
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    batch = x.shape[:-1]
    scale = np.maximum(np.abs(x), 1e-2 * np.max(np.abs(x), axis=-1, keepdims=True))
    h = rel_step * np.where(scale > 0, scale, 1.0)  # (*batch, n)
    signs = np.array([1.0, -1.0])[None, :, None, None]
    factors = np.array([1.0, 0.5])[:, None, None, None]
    eye = np.eye(n)
    for _ in range(30):
        step = np.moveaxis(h, -1, 0)  # (n, *batch)
        # points[f, s, i] = x + s * factor_f * h_i * e_i, shape (2, 2, n, *batch, n)
        offsets = (factors * signs).reshape((2, 2, 1) + (1,) * len(batch) + (1,)) * (
            step[..., None] * eye.reshape((n,) + (1,) * len(batch) + (n,))
        )
        points = x + offsets
        if inside is None:
            break
        # the domain's edge must be at least 1 / rel_step steps away, so the differences see a smooth function
        ok = np.all(np.asarray(inside(x + offsets / rel_step)), axis=(0, 1))  # (n, *batch)
        if np.all(ok):
            break
        h = np.where(np.moveaxis(ok, 0, -1), h, h / 2)
    values = np.asarray(fun(points))
    out_ndim = values.ndim - 3 - len(batch)
    denom = 2.0 * step.reshape(step.shape + (1,) * out_ndim)
    coarse = (values[0, 0] - values[0, 1]) / denom
    fine = (values[1, 0] - values[1, 1]) / (0.5 * denom)
    jac = np.moveaxis((4.0 * fine - coarse) / 3.0, 0, -1)
    err = np.moveaxis(np.abs(fine - coarse) / 3.0, 0, -1)
    return jac, err
