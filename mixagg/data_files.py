"""Reading and writing one machine's data: ``.npy`` (never pickled objects), ``.csv`` and whitespace ``.txt``.

Used by :mod:`mixagg.engine` (a partition may be a path, read where the task runs) and by the
``mixagg`` command line (``simulate`` writes shards, ``fit`` reads one).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DATA_SUFFIXES", "read_data", "write_data"]

#: File types :func:`read_data` understands.
DATA_SUFFIXES = (".npy", ".csv", ".txt")


def _suffix(path: Path, name: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise ValueError(f"{name} must end in one of {', '.join(DATA_SUFFIXES)}, got {str(path)!r}")
    return suffix


def read_data(path: str | os.PathLike) -> np.ndarray:
    """Read a data matrix: one observation per row (a single column is returned as a vector).

    ``.npy`` is read with ``allow_pickle=False``; ``.csv`` is comma-separated and ``.txt``
    whitespace-separated, with an optional header line (skipped when its first field is not a number).

    Raises
    ------
    ValueError
        Unknown suffix, unreadable or non-numeric content, or no rows.
    FileNotFoundError
        The file does not exist.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    suffix = _suffix(p, "path")
    if not p.is_file():
        raise FileNotFoundError(f"data file {str(p)!r} does not exist")
    if suffix == ".npy":
        try:
            x = np.load(p, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:  # object arrays need pickle: refused; empty or corrupt files
            raise ValueError(f"{str(p)!r} is not a numeric .npy array ({exc})") from None
        if not isinstance(x, np.ndarray):  # an .npz archive under an .npy name
            x.close()
            raise ValueError(f"{str(p)!r} is an .npz archive, not an .npy array")
        if x.dtype.kind not in "biuf":
            raise ValueError(f"{str(p)!r} holds {x.dtype} values, not numbers")
        x = np.asarray(x, dtype=float)
    else:
        delimiter = "," if suffix == ".csv" else None
        with p.open() as fh:
            first = fh.readline()
        fields = first.replace(",", " ").split()
        header = False
        if fields:
            try:
                float(fields[0])
            except ValueError:
                header = True
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", UserWarning)  # numpy warns "input contained no data"
                x = np.loadtxt(p, delimiter=delimiter, skiprows=int(header), ndmin=2, dtype=float)
        except UserWarning:
            raise ValueError(f"{str(p)!r} has no data rows") from None
        except ValueError as exc:
            raise ValueError(f"{str(p)!r} is not a numeric table: {exc}") from None
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(f"{str(p)!r} must hold a non-empty vector or matrix, got shape {x.shape}")
    return x


def write_data(path: str | os.PathLike, x: Any, *, header: list[str] | None = None) -> Path:
    """Write a vector or matrix as ``.npy``, ``.csv`` or ``.txt`` (full double precision); returns the path."""
    p = Path(path)
    suffix = _suffix(p, "path")
    arr = np.asarray(x, dtype=float)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"x must be a non-empty vector or matrix, got shape {arr.shape}")
    columns = 1 if arr.ndim == 1 else arr.shape[1]
    if header is not None and len(header) != columns:
        raise ValueError(f"header has {len(header)} names for {columns} columns")
    if suffix == ".npy":
        np.save(p, arr, allow_pickle=False)
    else:
        delimiter = "," if suffix == ".csv" else " "
        np.savetxt(
            p,
            arr.reshape(arr.shape[0], -1),
            fmt="%.17g",
            delimiter=delimiter,
            header="" if header is None else delimiter.join(header),
            comments="",
        )
    return p
