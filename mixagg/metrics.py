"""Performance metrics: :math:`W_1` between mixing distributions, ARI of MAP clusterings, detection rates
([J] App. C.2; [A] App. C.1; ``docs/distances.md``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from . import _ot
from ._validation import as_index_array
from .mixture import as_mixture

__all__ = ["ari", "detection_rates", "w1"]


def w1(G_hat: Any, G_true: Any, *, max_iter: int = 100_000) -> float:
    """Wasserstein-1 distance between mixing distributions, solved exactly.

    It uses POT's ``emd`` (``docs/distances.md``, "W1 between mixing distributions").

    .. math:: W_1(\\widehat G,G)=\\min_\\pi\\sum_{kj}\\pi_{kj}D_1(\\widehat\\theta_k,\\theta_j),
              \\quad\\pi\\mathbf 1=\\widehat w,\\ \\pi^\\top\\mathbf 1=w

    with the family's ground cost :math:`D_1` (``family.ground_distance``):
    Gaussian :math:`\\lVert\\mu-\\mu'\\rVert_2+\\lVert\\Sigma^{1/2}-\\Sigma'^{1/2}\\rVert_F`; Gamma
    :math:`|r-r'|+|\\beta-\\beta'|` ([J] App. C.2); Poisson and Exponential
    :math:`|\\lambda-\\lambda'|` (this library's choice). Works when the two have different numbers of
    atoms; invariant to permuting components; zero for identical mixtures.
    """
    g, h = as_mixture(G_hat, "G_hat"), as_mixture(G_true, "G_true")
    if g.family != h.family:
        raise ValueError(f"G_true has family {h.family!r} but G_hat has {g.family!r}")
    fam = g.family
    cost = fam.unchecked.ground_distance(fam.expand(dict(g.params), 1), fam.expand(dict(h.params), 0))
    return _ot.transport(g.weights, h.weights, cost, max_iter=max_iter).value


def ari(G_hat: Any, G_true: Any, X: Any) -> float:
    """Adjusted Rand index between the MAP clusterings of ``X`` under the two mixtures (``docs/distances.md``, "ARI").

    The simulations compare with the Bayes clustering of the truth on the data
    ([J] §5.1.2); ``sklearn.metrics.adjusted_rand_score`` does the counting.
    """
    g, h = as_mixture(G_hat, "G_hat"), as_mixture(G_true, "G_true")
    if g.family != h.family:
        raise ValueError(f"G_true has family {h.family!r} but G_hat has {g.family!r}")
    return float(adjusted_rand_score(h.predict(X), g.predict(X)))


def detection_rates(detected: Any, failed: Any) -> dict[str, float]:
    """How well a detected failure set recovers the true one (``docs/distances.md``, "Detection rates").

    Parameters
    ----------
    detected : array-like of int
        Indices flagged as failed (e.g. ``AggregationResult.detected``).
    failed : array-like of bool, shape (m,)
        The true failure mask.

    Returns
    -------
    dict
        ``detected_rate`` (:math:`|\\widehat{\\mathbb B}|/m`), ``precision``, ``recall`` (1 when
        nothing was to be found / flagged), and ``exact`` (1.0 if the sets are equal).
    """
    mask = np.asarray(failed)
    if mask.dtype != bool or mask.ndim != 1:
        raise ValueError("failed must be a 1-D boolean mask")
    m = mask.size
    idx = as_index_array(detected, "detected") if np.size(detected) else np.zeros(0, dtype=np.intp)
    if idx.size and (idx.min() < 0 or idx.max() >= m):
        raise ValueError(f"detected has indices outside [0, {m})")
    flagged = np.zeros(m, dtype=bool)
    flagged[idx] = True
    hits = int(np.count_nonzero(flagged & mask))
    return {
        "detected_rate": float(flagged.sum() / m),
        "precision": float(hits / flagged.sum()) if flagged.any() else 1.0,
        "recall": float(hits / mask.sum()) if mask.any() else 1.0,
        "exact": float(np.array_equal(flagged, mask)),
    }
