"""Data poisoning: failed machines fit the honest EM to contaminated data (``docs/attacks.md``, "Data poisoning")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import as_generator, check_choice, check_real
from .gross import _failed_machines

__all__ = ["data_poisoning"]

_KINDS = ("outliers", "shift", "unit")


def _part(value: Any, i: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"parts[{i}] must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"parts[{i}] must be a non-empty (n,) or (n, d) array, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"parts[{i}] has non-finite entries")
    return arr


def _poison(x: np.ndarray, kind: str, fraction: float, scale: float, gen: np.random.Generator) -> np.ndarray:
    integer = x.dtype.kind in "iu"
    n = x.shape[0]
    cols = x.astype(float).reshape(n, -1)
    if kind == "outliers":
        rows = gen.choice(n, size=math.floor(fraction * n + 0.5), replace=False)
        lo, hi = cols.min(axis=0), cols.max(axis=0)
        centre = 0.5 * (lo + hi)
        width = np.where(hi > lo, hi - lo, np.maximum(np.abs(centre), 1.0))
        low, high = centre - 0.5 * scale * width, centre + 0.5 * scale * width
        low = np.where(lo >= 0, np.maximum(low, 0.0), low)  # non-negative data stay non-negative
        draws = gen.uniform(low, high, size=(rows.size, cols.shape[1]))
        cols[rows] = np.floor(draws) if integer else draws
    elif kind == "shift":
        step = scale * cols.std(axis=0)
        cols = cols + (np.rint(step) if integer else step)
    else:
        cols = np.rint(cols * scale) if integer else cols * scale
    return cols.reshape(x.shape).astype(x.dtype if integer else float)


def data_poisoning(
    parts: Sequence[Any],
    alpha: float,
    rng: Any = None,
    *,
    kind: str = "outliers",
    fraction: float = 0.2,
    scale: float = 10.0,
) -> tuple[list[Any], np.ndarray]:
    """Contaminate the data of :math:`\\lfloor\\alpha m\\rfloor` machines; the honest EM is then run on every part.

    The failed machines are honest software on bad data: the caller fits every part with the
    same EM, and the failed estimates are whatever that EM makes of the contaminated data. Per
    failed part (rows are observations, columns coordinates):

    * ``"outliers"``: :math:`\\mathrm{round}(\\text{fraction}\\cdot n)` rows, chosen uniformly,
      replaced by uniform draws in the box centred on the data's mid-range with ``scale`` times
      the data's range per column (a constant column counts as range :math:`\\max(|c|,1)`);
      the box is cut at 0 for non-negative columns, and integer data get integer draws;
    * ``"shift"``: every row moved by ``scale`` times the column's standard deviation;
    * ``"unit"``: every value multiplied by ``scale`` (a change of unit).

    Integer data (counts) stay integers (shift and unit results rounded). ``docs/attacks.md``, "Data poisoning".

    Knowledge model: oblivious. It sees neither the honest data nor the rule.

    Parameters
    ----------
    parts : list of array-like
        One dataset per machine, ``(n_i,)`` or ``(n_i, d)``.
    alpha : float
        Fraction of failed machines, in :math:`[0, 1/2)`.
    rng : None, int or numpy.random.Generator
        Chooses the failed machines, then the contaminated rows and the draws.
    kind : {"outliers", "shift", "unit"}
    fraction : float in (0, 1], default 0.2
        Share of the rows replaced (``"outliers"`` only).
    scale : float > 0, default 10

    Returns
    -------
    (list, ndarray of bool)
        The parts (failed ones new arrays, others the objects given) and the failure mask.

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 9.0]})
    >>> parts = [truth.sample(400, rng=i).astype(int) for i in range(10)]
    >>> bad, failed = ma.attacks.data_poisoning(parts, 0.2, rng=0, kind="outliers", fraction=0.1)
    >>> local = [ma.fit_mixture(x, "poisson", 2, init=truth) for x in bad]
    >>> res = ma.aggregate(local, "dfmr")
    >>> int(failed.sum()), bool(np.all(np.isin(np.flatnonzero(failed), res.excluded)))
    (2, True)
    """
    kind = check_choice(kind, "kind", _KINDS, case=True)
    fraction = check_real(fraction, "fraction", minimum=0.0, maximum=1.0, strict_minimum=True)
    scale = check_real(scale, "scale", minimum=0.0, strict_minimum=True)
    if not isinstance(parts, (list, tuple)):
        raise TypeError(f"parts must be a list of per-machine data arrays, got {type(parts).__name__}")
    if not parts:
        raise ValueError("parts must hold at least one data array")
    arrays = [_part(p, i) for i, p in enumerate(parts)]
    gen = as_generator(rng)
    mask = _failed_machines(len(arrays), alpha, gen)
    out = list(parts)
    for i in np.flatnonzero(mask):
        out[i] = _poison(arrays[i], kind, fraction, scale, gen)
    return out, mask
