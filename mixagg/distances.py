"""L2 (integrated squared error) distances between mixture densities.

.. math::

    D^2(G,H) = w^\\top S_{GG}\\,w - 2\\,w^\\top S_{GH}\\,v + v^\\top S_{HH}\\,v,
    \\qquad S_{ab} = \\int f(x;\\theta_a)f(x;\\theta_b)\\,dx

([J] eq. (7), App. C.1; ``docs/distances.md``). For ``m`` mixtures the kernel is
evaluated once for every component pair of the upper triangle, in log space,
in chunks that bound memory; there is no Python loop over pairs of mixtures.
Each of the three terms is a log-sum-exp, and they are combined with a
per-pair shift (``docs/distances.md``, "Why the shift is per pair"): a Byzantine component with a near-singular
covariance has a huge self-kernel, and a global shift by it would underflow
every honest distance to zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ._validation import check_int
from .exceptions import NumericalWarning
from .families.core import ExponentialFamily, Params
from .mixture import MixingDistribution, as_mixture, as_mixture_list

__all__ = ["l2_distance", "l2_distance_matrix", "l2_norms"]

#: A clearly negative squared distance, beyond this fraction of the two
#: positive terms, cannot come from rounding; it is reported (``docs/distances.md``, "Resolution and warnings").
NEGATIVE_TOLERANCE = 1e-10
#: Memory budget of one chunk of gathered component parameters.
CHUNK_BYTES = 256 * 2**20
MAX_PAIRS_PER_CHUNK = 2**18


def _combine(s_i: np.ndarray, s_j: np.ndarray, c_ij: np.ndarray) -> np.ndarray:
    """``D`` from log self-terms and log cross-terms, with a per-pair shift; clips cancellation.

    A self-term that overflows float64 (an L2 norm beyond ~1e154, only from
    absurd parameters) makes the distance unresolvable: it is reported as
    ``+inf`` with a :class:`NumericalWarning`, never as NaN.
    """
    s_i, s_j, c_ij = np.broadcast_arrays(*map(np.asarray, (s_i, s_j, c_ij)))
    shift = np.maximum(s_i, s_j)
    overflow = ~np.isfinite(shift)
    shift = np.where(overflow, 0.0, shift)
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.exp(s_i - shift)
        b = np.exp(s_j - shift)
        q = a + b - 2.0 * np.exp(c_ij - shift)
        dist = np.exp(0.5 * shift) * np.sqrt(np.maximum(q, 0.0))
    bad = ~overflow & (q < -NEGATIVE_TOLERANCE * (a + b))
    if np.any(bad):
        warnings.warn(
            f"{int(np.count_nonzero(bad))} squared L2 distance(s) came out negative beyond rounding "
            f"(worst relative value {float(np.min(q[bad] / (a + b)[bad])):.3g}); they are set to 0. "
            "This signals a product-integral kernel inconsistent with the densities.",
            NumericalWarning,
            stacklevel=3,
        )
    unresolved = overflow | ~np.isfinite(dist)
    if np.any(unresolved):
        warnings.warn(
            f"{int(np.count_nonzero(unresolved))} L2 distance(s) involve a density whose squared L2 norm overflows "
            "float64; they are reported as +inf",
            NumericalWarning,
            stacklevel=3,
        )
        dist = np.where(unresolved, np.inf, dist)
    return dist


def _check_integrable(family: ExponentialFamily, params: Params, owner: Callable[[int], str]) -> None:
    """Raise naming the first component with an infinite L2 norm (then every distance to it is undefined)."""
    ok = family.unchecked.pair_integrable(params, params)
    if not np.all(ok):
        first = int(np.argmin(ok))
        raise ValueError(
            (
                f"{owner(first)} has an infinite L2 norm, so its L2 distances are undefined. {family.divergence_hint}"
            ).rstrip()
        )


def l2_distance(G: Any, H: Any) -> float:
    """L2 distance :math:`D(G,H)=\\lVert f_G-f_H\\rVert_2` between two mixtures of one family.

    Computed directly from the three Gram blocks (the reference
    implementation; :func:`l2_distance_matrix` gives the same numbers for many
    mixtures at once).

    Parameters
    ----------
    G, H : MixingDistribution or dict
        Mixtures of the same family (a dict is read with ``MixingDistribution.from_dict``).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Different families, or a component with an infinite L2 norm (e.g. Gamma shape <= 1/2).

    Examples
    --------
    >>> import mixagg as ma
    >>> G = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 6.0]})
    >>> H = ma.MixingDistribution("poisson", [1.0], {"rate": [3.0]})
    >>> round(ma.l2_distance(G, H), 6)
    0.264513
    >>> ma.l2_distance(G, G)
    0.0
    """
    g = as_mixture(G, "G")
    h = as_mixture(H, "H")
    if g.family != h.family:
        raise ValueError(f"H has family {h.family!r} but G has {g.family!r}; L2 distances need one family")
    family = g.family
    live_g, live_h = np.flatnonzero(g.weights > 0), np.flatnonzero(h.weights > 0)  # weight-zero atoms do not count
    pg, ph = family.take(dict(g.params), live_g), family.take(dict(h.params), live_h)
    _check_integrable(family, pg, lambda k: f"G component {live_g[k]}")
    _check_integrable(family, ph, lambda k: f"H component {live_h[k]}")
    lwg, lwh = np.log(g.weights[live_g]), np.log(h.weights[live_h])

    def block(pa: Params, pb: Params, la: np.ndarray, lb: np.ndarray) -> float:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # extremes end as +inf in _combine
            ell = family.unchecked.log_product_integral(family.expand(pa, 1), family.expand(pb, 0))
            return float(logsumexp(ell + la[:, None] + lb[None, :]))

    if g == h:
        return 0.0
    s_g = block(pg, pg, lwg, lwg)
    s_h = block(ph, ph, lwh, lwh)
    c = block(pg, ph, lwg, lwh)
    return float(_combine(np.array(s_g), np.array(s_h), np.array(c)))


def _stack(family: ExponentialFamily, mixtures: list[MixingDistribution]) -> tuple[Params, np.ndarray, int]:
    """Stack all components as ``(m * K, ...)`` with log-weights ``(m, K)``.

    Components of weight zero do not change a density; they and the padding of
    shorter mixtures become copies of the mixture's heaviest component with
    log-weight ``-inf``, so their (possibly divergent) kernels are never evaluated.
    """
    sizes = np.array([g.n_components for g in mixtures])
    k_max = int(sizes.max())
    if np.all(sizes == k_max) and all(np.all(g.weights > 0) for g in mixtures):
        stacked = {key: np.concatenate([g.params[key] for g in mixtures]) for key in family.param_spec}
        return stacked, np.log(np.stack([g.weights for g in mixtures])), k_max
    index = []
    logw = np.full((len(mixtures), k_max), -np.inf)
    for i, g in enumerate(mixtures):
        idx = np.full(k_max, int(np.argmax(g.weights)))
        live = np.flatnonzero(g.weights > 0)
        idx[live] = live
        logw[i, live] = np.log(g.weights[live])
        index.append(idx)
    stacked = {
        key: np.concatenate([g.params[key][idx] for g, idx in zip(mixtures, index)]) for key in family.param_spec
    }
    return stacked, logw, k_max


def _log_inner_products(
    family: ExponentialFamily,
    params: Params,
    logw: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    k: int,
    pairs_per_chunk: int,
) -> np.ndarray:
    """``log <f_i, f_j>`` for the listed mixture pairs ``(rows[t], cols[t])``, chunked."""
    out = np.empty(rows.size)
    ka, kb = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    ka, kb = ka.ravel(), kb.ravel()
    per_chunk = max(1, pairs_per_chunk // (k * k))
    for start in range(0, rows.size, per_chunk):
        r = rows[start : start + per_chunk]
        c = cols[start : start + per_chunk]
        ia = (r[:, None] * k + ka[None, :]).ravel()
        ib = (c[:, None] * k + kb[None, :]).ravel()
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # extremes are handled below
            ell = family.unchecked.log_product_integral_pairs(params, ia, ib).reshape(r.size, k, k)
        ell += logw[r][:, :, None]
        ell += logw[c][:, None, :]
        ell = ell.reshape(r.size, k * k)
        top = ell.max(axis=1)
        # A block whose kernels all underflow (components ~1e160 apart) has inner product 0: log = -inf.
        shift = np.where(np.isfinite(top), top, 0.0)
        ell -= shift[:, None]
        np.exp(ell, out=ell)
        with np.errstate(divide="ignore"):
            out[start : start + r.size] = np.where(np.isneginf(top), -np.inf, shift + np.log(ell.sum(axis=1)))
    return out


def l2_distance_matrix(mixtures: Iterable[Any], *, pairs_per_chunk: int | None = None) -> np.ndarray:
    """Pairwise L2 distances :math:`\\mathsf D_{ij}=D(G_i,G_j)` between ``m`` mixtures of one family.

    The product-integral kernel is evaluated once for every component pair in
    the upper triangle of the ``m x m`` mixture pairs (a compiled kernel for the
    Gaussian family), in chunks, then contracted with the weights in log space
    ([J] eq. (7); ``docs/distances.md``, "Pairwise distance matrix"). Mixtures may have different numbers of components.

    Parameters
    ----------
    mixtures : iterable of MixingDistribution or dict
        ``m >= 1`` mixtures of the same family.
    pairs_per_chunk : int, optional
        Number of component pairs evaluated per chunk (bounds memory). The
        default is derived from the size of one component's parameters.

    Returns
    -------
    ndarray of shape (m, m)
        Symmetric, exactly zero on the diagonal, non-negative. Squared distances
        below zero from cancellation are clipped to 0 (a clearly negative one
        raises a :class:`~mixagg.exceptions.NumericalWarning`).

    Raises
    ------
    ValueError
        Empty input, mixtures of different families, or a component with an
        infinite L2 norm (e.g. Gamma shape <= 1/2).
    TypeError
        An entry that is neither a ``MixingDistribution`` nor its dict form.

    Notes
    -----
    Resolution: :math:`D` is resolved down to about :math:`10^{-8}\\lVert f\\rVert_2`
    (cancellation in :math:`D^2`), far below honest distances of order
    :math:`n^{-1/2}\\lVert f\\rVert_2` (``docs/distances.md``, "Resolution and warnings").

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> fam = ma.families.Gaussian(d=1)
    >>> Gs = [ma.MixingDistribution(fam, [1.0], {"mean": [[mu]], "cov": [[[1.0]]]}) for mu in (0.0, 1.0, 3.0)]
    >>> D = ma.l2_distance_matrix(Gs)
    >>> D.shape, bool(np.allclose(D, D.T)), float(D[0, 0])
    ((3, 3), True, 0.0)
    """
    items = as_mixture_list(mixtures)
    family = items[0].family
    m = len(items)
    params, logw, k = _stack(family, items)
    real = np.flatnonzero(np.isfinite(logw).ravel())
    _check_integrable(family, family.take(params, real), lambda t: f"mixtures[{real[t] // k}] component {real[t] % k}")

    if pairs_per_chunk is None:
        floats = sum(int(np.prod(s.shape, dtype=int)) for s in family.param_spec.values())
        pairs_per_chunk = int(np.clip(CHUNK_BYTES // (16 * floats + 64), 1024, MAX_PAIRS_PER_CHUNK))
    else:
        pairs_per_chunk = check_int(pairs_per_chunk, "pairs_per_chunk", minimum=1)

    diag = np.arange(m)
    self_terms = _log_inner_products(family, params, logw, diag, diag, k, pairs_per_chunk)
    out = np.zeros((m, m))
    if m > 1:
        rows, cols = np.triu_indices(m, k=1)
        cross = _log_inner_products(family, params, logw, rows, cols, k, pairs_per_chunk)
        dist = _combine(self_terms[rows], self_terms[cols], cross)
        out[rows, cols] = dist
        out[cols, rows] = dist
    return out


def l2_norms(mixtures: Iterable[Any]) -> np.ndarray:
    """:math:`\\lVert f_{G_i}\\rVert_2` for each mixture (the scale against which L2 distances are read).

    Returns
    -------
    ndarray of shape (m,)
    """
    items = as_mixture_list(mixtures)
    family = items[0].family
    params, logw, k = _stack(family, items)
    diag = np.arange(len(items))
    with np.errstate(over="ignore"):
        return np.exp(0.5 * _log_inner_products(family, params, logw, diag, diag, k, MAX_PAIRS_PER_CHUNK))
