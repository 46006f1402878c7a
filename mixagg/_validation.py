"""Argument checking shared by the public entry points.

Every helper raises ``TypeError`` for a wrong *type* and ``ValueError`` for a
wrong *value*, naming the argument, the expectation and what was received.
Integers accept integral floats (``2.0``) because R callers send doubles.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

__all__ = [
    "WEIGHT_SUM_ATOL",
    "as_float_array",
    "as_generator",
    "as_index_array",
    "check_choice",
    "check_int",
    "check_masses",
    "check_real",
    "check_weights",
    "external_stacklevel",
]

#: Tolerance on ``|sum(weights) - 1|`` for float64 weights (``docs/families.md``, "Weight-sum tolerance");
#: float32 input gets ``WEIGHT_SUM_ATOL_FLOAT32``. Within the tolerance the
#: weights are renormalised; beyond it they are rejected.
WEIGHT_SUM_ATOL = 1e-8
WEIGHT_SUM_ATOL_FLOAT32 = 1e-6


def as_generator(rng: Any = None, name: str = "rng") -> np.random.Generator:
    """Resolve ``rng`` to a :class:`numpy.random.Generator` (NumPy's recommended seeding: one ``Generator`` per stream).

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` gives fresh OS entropy; an int or ``SeedSequence`` seeds a new
        generator; a ``Generator`` is returned as is (shared, not copied).
    name : str
        Argument name used in error messages.
    """
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (numbers.Integral, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name} must be a non-negative integer seed, got {rng}")
        return np.random.default_rng(int(rng))
    if isinstance(rng, (float, np.floating)):  # R passes every number as a double: 5.0 is a seed, 5.5 is not
        if not (np.isfinite(rng) and float(rng).is_integer() and rng >= 0):
            raise ValueError(f"{name} must be a non-negative integral seed, got {rng!r}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be None, a non-negative int, a numpy.random.SeedSequence or a "
        f"numpy.random.Generator; got {type(rng).__name__}"
    )


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int; integral floats such as ``2.0`` are accepted."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got a boolean")
    if isinstance(value, (numbers.Integral, np.integer)):
        out = int(value)
    elif isinstance(value, (numbers.Real, np.floating)):
        if not np.isfinite(value) or not float(value).is_integer():
            raise ValueError(f"{name} must be an integer, got {value!r}")
        out = int(value)
    else:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    if maximum is not None and out > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {out}")
    return out


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
    finite: bool = True,
    hint: str = "",
) -> float:
    """Return ``value`` as a Python float within ``[minimum, maximum]``.

    ``strict_minimum`` / ``strict_maximum`` make the bounds exclusive; ``finite=False`` admits
    ``inf`` (never NaN). ``hint`` is appended to the message of a value out of range.
    Booleans and strings are a ``TypeError``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            value = value.item()
        else:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    low = "" if minimum is None else (f" > {minimum:g}" if strict_minimum else f" >= {minimum:g}")
    high = "" if maximum is None else (f" < {maximum:g}" if strict_maximum else f" <= {maximum:g}")
    if minimum is not None and maximum is not None:
        interval = f"{'(' if strict_minimum else '['}{minimum:g}, {maximum:g}{')' if strict_maximum else ']'}"
        what = f"lie in {interval}"
    elif minimum == 0 and maximum is None:
        what = f"be a {'positive' if strict_minimum else 'non-negative'}{' finite' if finite else ''} number"
    else:
        what = f"be {'a finite' if finite else 'a'} number{low}{high}"
    bad = np.isnan(out) or (finite and not np.isfinite(out))
    bad = bad or (minimum is not None and (out <= minimum if strict_minimum else out < minimum))
    bad = bad or (maximum is not None and (out >= maximum if strict_maximum else out > maximum))
    if bad:
        raise ValueError(f"{name} must {what}{hint}, got {value!r}")
    return out


def check_choice(value: Any, name: str, choices: Any, *, case: bool = False) -> str:
    """Return ``value`` if it is one of the strings ``choices`` (lower-cased unless ``case``)."""
    options = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(options)}, got {type(value).__name__} {value!r}")
    key = value if case else value.lower()
    if key not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return key


def as_float_array(value: Any, name: str, *, ndim: int | None = None, finite: bool = True) -> np.ndarray:
    """Convert to a float64 array (float32 and integers are upcast).

    Raises ``TypeError`` for non-numeric input (strings, booleans, objects,
    complex) and ``ValueError`` for a wrong number of dimensions or non-finite
    entries (including integers too large for float64).
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object:
        # ragged lists, None entries, mixed content, integers beyond int64
        if any(isinstance(v, (bool, np.bool_)) for v in arr.reshape(-1)):
            raise TypeError(f"{name} must be numeric, got booleans")
        try:
            arr = arr.astype(np.float64)
        except OverflowError as exc:
            raise ValueError(f"{name} must be finite; it holds an integer too large for float64") from exc
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric, got an array of Python objects") from exc
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be numeric, got booleans")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric (real), got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        where = tuple(int(i) for i in bad[0]) if arr.ndim else ()
        raise ValueError(f"{name} must be finite; found {arr[where]!r} at index {where}")
    return arr


def check_weights(value: Any, name: str = "weights", *, atol: float | None = None) -> np.ndarray:
    """Validate mixing weights: 1-D, finite, non-negative, summing to one.

    Weights within ``atol`` of summing to one are renormalised exactly; the
    default tolerance is :data:`WEIGHT_SUM_ATOL` (1e-8) for float64 input and
    :data:`WEIGHT_SUM_ATOL_FLOAT32` for float32 input (``docs/families.md``, "Weight-sum tolerance").
    """
    raw = np.asarray(value) if not isinstance(value, np.ndarray) else value
    arr = as_float_array(value, name)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional (one weight per component), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must contain at least one weight")
    if np.any(arr < 0):
        k = int(np.argmin(arr))
        raise ValueError(f"{name} must be non-negative; {name}[{k}] = {arr[k]!r}")
    if atol is None:
        atol = WEIGHT_SUM_ATOL_FLOAT32 if getattr(raw, "dtype", None) == np.float32 else WEIGHT_SUM_ATOL
    total = float(arr.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(
            f"{name} must sum to 1 (tolerance {atol:g}); they sum to {total!r}. "
            f"Normalise them first (weights / weights.sum())."
        )
    # Weights summing to one up to rounding are kept bit for bit (so dict/pickle round trips are exact);
    # anything further off, within the tolerance, is renormalised.
    if abs(total - 1.0) <= 4 * arr.size * np.finfo(np.float64).eps:
        return arr
    return arr / total


def check_masses(
    value: Any, name: str, n: int, *, positive: bool = False, batched: bool = False, what: str = ""
) -> np.ndarray:
    """Non-negative finite masses over the last axis of length ``n`` (sample weights, sample sizes, responsibilities).

    Every row must have a positive sum; ``positive`` requires every entry to be positive;
    ``batched`` admits leading axes (one row of masses each). ``what`` names the axis in the
    shape error (e.g. "one weight per row of X").
    """
    w = as_float_array(value, name)
    if w.ndim < 1 or w.shape[-1] != n or (w.ndim > 1 and not batched):
        expected = f"(..., {n})" if batched else f"({n},)"
        raise ValueError(f"{name} must have shape {expected}{f' ({what})' if what else ''}, got {w.shape}")
    if positive and np.any(w <= 0):
        raise ValueError(f"{name} must be positive; {name}[{int(np.argmin(w.reshape(-1)))}] = {w.min()!r}")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative; {name}[{int(np.argmin(w.reshape(-1)))}] = {w.min()!r}")
    if np.any(w.sum(axis=-1) <= 0):
        raise ValueError(f"{name} must not be all zero: every row needs a positive sum")
    return w


def as_index_array(value: Any, name: str) -> np.ndarray:
    """1-D integer index array; integral floats are accepted (R sends doubles)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iu":
        out = arr.astype(np.intp, copy=False)
    elif arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        out = arr.astype(np.intp)
    else:
        raise TypeError(f"{name} must be an array of integers, got dtype {arr.dtype}")
    if out.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {out.shape}")
    return out


def external_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first caller outside ``mixagg``.

    Call it from the function that calls ``warnings.warn``; however deep inside
    the package the warning arises, it is attributed to the user's line.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] == "mixagg":
        frame = frame.f_back
        level += 1
    return level
