"""Reading and writing one machine's data file (``docs/data_files.md``).

:func:`read_table` reads ``.csv``, ``.tsv``, whitespace-separated ``.txt`` (each also compressed:
``.gz``, ``.bz2``, ``.xz``, ``.zip``), ``.parquet`` and ``.npy`` (never pickled objects) with pandas
(and pyarrow for Parquet); it detects a header line, selects columns by name or position, sets an
id/row-name column aside, and applies a missing-value policy. :func:`read_data` is the same returning
only the numbers. Used by :mod:`mixagg.engine` (a partition may be a path, read where the task runs)
and by the ``mixagg`` command line (``fit`` reads one file, ``simulate`` writes shards).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import DataWarning

__all__ = [
    "COMPRESSIONS",
    "DATA_SUFFIXES",
    "NA_STRINGS",
    "DataTable",
    "parse_columns",
    "read_data",
    "read_table",
    "write_data",
]

#: File types :func:`read_table` understands (``.pq`` is Parquet too).
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".npy")
#: Compression suffixes accepted after ``.csv``, ``.tsv`` and ``.txt``.
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip")
#: Cells read as missing values in text files (R writes ``NA``; an empty cell is missing too).
NA_STRINGS = ("", "NA", "NaN", "nan", "NAN", "N/A", "NULL", "null")
#: Column names taken for ids or row numbers: never fitted unless asked for (``docs/data_files.md``).
_ID_NAMES = re.compile(r"^(id|index|row|rownames|row\.names|row_names|rowid|unnamed: ?0|)$|_id$", re.I)
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": r"\s+"}
_WRITABLE = (".npy", ".csv", ".txt")

Column = str | int


@dataclass(frozen=True)
class DataTable:
    """A data file as read: the numbers, their column names, the id column and what was dropped.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_columns)
        The selected columns as floats, one observation per row.
    columns : tuple of str
        Their names (``"0"``, ``"1"``, ... for a file without header and for ``.npy``).
    index : tuple or None
        The values of the id/row-name column of the kept rows, or None without one.
    source : str
        The file.
    n_dropped : int
        Rows left out because of missing values (``na="drop"``).
    """

    values: np.ndarray
    columns: tuple[str, ...]
    index: tuple[Any, ...] | None
    source: str
    n_dropped: int = 0

    def __repr__(self) -> str:
        n, d = self.values.shape
        shown = ", ".join(self.columns[:6]) + (", ..." if d > 6 else "")
        dropped = f", {self.n_dropped} dropped" if self.n_dropped else ""
        index = "" if self.index is None else ", with an index column"
        return f"DataTable({self.source!r}: {n} rows x {d} columns ({shown}){index}{dropped})"

    @property
    def data(self) -> np.ndarray:
        """``values``, or its only column as a vector (what :func:`read_data` returns)."""
        return self.values[:, 0] if self.values.shape[1] == 1 else self.values


def parse_columns(text: str) -> list[Column]:
    """Column names and 0-based positions from a comma-separated list: ``"a,b,4"`` -> ``["a", "b", 4]``.

    A token made of digits is a position; names that are numbers must therefore be given by position.

    Raises
    ------
    TypeError
        ``text`` is not a str.
    ValueError
        An empty item (``"a,,b"``) or an empty list.
    """
    if not isinstance(text, str):
        raise TypeError(f"columns must be a comma-separated str, got {type(text).__name__}")
    tokens = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in tokens):
        raise ValueError(f"columns must be a comma-separated list of names or 0-based positions, got {text!r}")
    return [int(t) if t.isdigit() else t for t in tokens]


def _kind(path: Path) -> tuple[str, str | None]:
    """The file type and compression of ``path`` from its suffixes."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in COMPRESSIONS else None
    kind = suffixes[-1] if suffixes else ""
    accepted = ", ".join(DATA_SUFFIXES)
    if kind not in DATA_SUFFIXES:
        raise ValueError(
            f"data file {str(path)!r} must end in one of {accepted} (text files also with "
            f"{', '.join(COMPRESSIONS)}), got {path.name!r}"
        )
    if compression is not None and kind not in _SEPARATORS:
        raise ValueError(f"data file {str(path)!r}: only .csv, .tsv and .txt files may be compressed")
    return (".parquet" if kind == ".pq" else kind), compression


def _is_number(cells: Any) -> np.ndarray:
    import pandas as pd

    return pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").notna().to_numpy()


def _is_na(cells: Any) -> np.ndarray:
    return np.isin(np.asarray(cells, dtype=object), NA_STRINGS)


def _has_header(rows: Any, header: bool | str) -> bool:
    """The header rule: a first row with a name over a number (or all names) is a header; see the docs."""
    if header != "infer":
        return bool(header)
    first = rows.iloc[0].to_numpy(dtype=object)
    text = ~_is_number(first) & ~_is_na(first)
    if len(rows) == 1 or text.all():
        return bool(text.any())
    second = rows.iloc[1].to_numpy(dtype=object)
    return bool((text & (_is_number(second) | _is_na(second))).any())


def _csv(path: Path, kind: str, **options: Any) -> Any:
    import pandas as pd

    return pd.read_csv(
        path,
        sep=_SEPARATORS[kind],
        header=None,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=True,
        compression="infer",
        **options,
    )


def _read_text(path: Path, kind: str, header: bool | str) -> tuple[Any, list[str], bool]:
    """All cells as strings, the column names, and whether a column of row names leads.

    R writes row names under an empty name (``write.csv``) or under no name at all (``write.table``,
    whose header line then has one field fewer than the rows).
    """
    import pandas as pd

    try:
        try:
            rows = _csv(path, kind)
        except pd.errors.ParserError:
            first, body = _csv(path, kind, nrows=1), _csv(path, kind, skiprows=1)
            if header is False or body.shape[1] != first.shape[1] + 1:
                raise
            names = ["", *(str(v).strip() for v in first.iloc[0])]
            return body, names, True
    except pd.errors.EmptyDataError:
        raise ValueError(f"{str(path)!r} has no data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable {kind} table: {' '.join(str(exc).split())}") from None
    if rows.empty:
        raise ValueError(f"{str(path)!r} has no data rows")
    if not _has_header(rows, header):
        return rows.reset_index(drop=True), [str(j) for j in range(rows.shape[1])], False
    names = [str(v).strip() for v in rows.iloc[0]]
    body = rows.iloc[1:].reset_index(drop=True)
    if body.empty:
        raise ValueError(f"{str(path)!r} has no data rows")
    return body, names, names[0] == ""


def _read_frame(path: Path, kind: str) -> tuple[Any, list[str], Any]:
    """A Parquet or ``.npy`` file as a DataFrame, its column names, and a stored index (or None)."""
    import pandas as pd

    if kind == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:  # object arrays need pickle: refused; empty or corrupt files
            raise ValueError(f"{str(path)!r} is not a numeric .npy array ({exc})") from None
        if not isinstance(x, np.ndarray):  # an .npz archive under an .npy name
            x.close()
            raise ValueError(f"{str(path)!r} is an .npz archive, not an .npy array")
        if x.dtype.kind not in "biuf":
            raise ValueError(f"{str(path)!r} holds {x.dtype} values, not numbers")
        if x.ndim not in (1, 2) or x.shape[0] == 0:
            raise ValueError(f"{str(path)!r} must hold a non-empty vector or matrix, got shape {x.shape}")
        x = x.reshape(x.shape[0], -1)
        return pd.DataFrame(x), [str(j) for j in range(x.shape[1])], None
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise ImportError(f"reading {str(path)!r} needs pyarrow: pip install pyarrow ({exc})") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable Parquet file: {' '.join(str(exc).split())}") from None
    stored = None if isinstance(frame.index, pd.RangeIndex) else frame.index
    return frame.reset_index(drop=True), [str(c) for c in frame.columns], stored


def _position(column: Column, names: list[str], path: Path, argument: str) -> int:
    if isinstance(column, bool) or not isinstance(column, (str, int, np.integer)):
        raise TypeError(f"{argument} must hold column names (str) or 0-based positions (int), got {column!r}")
    if isinstance(column, str):
        if column not in names:
            raise ValueError(
                f"{argument}: {str(path)!r} has no column {column!r}; its columns are {', '.join(map(repr, names))}"
            )
        return names.index(column)
    if not 0 <= int(column) < len(names):
        raise ValueError(
            f"{argument}: {str(path)!r} has {len(names)} columns (positions 0 to {len(names) - 1}), got {int(column)}"
        )
    return int(column)


def _positions(columns: Any, names: list[str], path: Path, argument: str) -> list[int]:
    if columns is None:
        return []
    if isinstance(columns, str):
        columns = parse_columns(columns)
    elif not isinstance(columns, Sequence):
        columns = [columns]
    out = [_position(c, names, path, argument) for c in columns]
    if len(set(out)) != len(out):
        raise ValueError(f"{argument} names a column twice: {list(columns)}")
    return out


def _selection(names: list[str], path: Path, columns: Any, drop: Any, index: int | None) -> list[int]:
    """Positions of the columns to fit, refusing id-like columns nobody asked for."""
    chosen = _positions(columns, names, path, "columns")
    dropped = set(_positions(drop, names, path, "drop"))
    if index is not None and index in chosen:
        raise ValueError(f"column {names[index]!r} of {str(path)!r} cannot be both the index column and fitted")
    if chosen:
        return [j for j in chosen if j not in dropped]
    keep = [j for j in range(len(names)) if j not in dropped and j != index]
    ids = [names[j] for j in keep if _ID_NAMES.search(names[j])]
    if ids:
        raise ValueError(
            f"{str(path)!r}: column {ids[0]!r} looks like an id or row number, not a measurement; name it as the "
            f"index column (index_col= / --index-col {ids[0]}) or leave it out (drop= / --drop {ids[0]})"
        )
    return keep


def _numbers(cells: Any, names: list[str], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The cells as floats, and the mask of missing ones; text and infinite cells are refused by column."""
    import pandas as pd

    values = np.empty(cells.shape, dtype=float)
    missing = np.zeros(cells.shape, dtype=bool)
    bad = []
    for j, name in enumerate(names):
        column = cells.iloc[:, j]
        if column.dtype == bool or str(column.dtype) == "boolean":
            bad.append(f"{name!r} (true/false values)")
            continue
        if column.dtype.kind in "biuf":
            values[:, j] = column.to_numpy(dtype=float, na_value=np.nan)
            missing[:, j] = np.isnan(values[:, j])
        else:
            raw = column.to_numpy(dtype=object)
            na = pd.isna(raw) | _is_na(np.where(pd.isna(raw), "", raw).astype(str))
            parsed = pd.to_numeric(pd.Series(np.where(na, np.nan, raw), dtype=object), errors="coerce")
            text = parsed.isna().to_numpy() & ~na
            if text.any():
                r = int(np.argmax(text))
                bad.append(f"{name!r} (data row {r + 1}: {str(raw[r])!r})")
                continue
            values[:, j] = np.nan
            values[~na, j] = raw[~na].astype(str).astype(float)  # numpy's parser rounds correctly; pandas' may not
            missing[:, j] = na
        infinite = np.isinf(values[:, j])
        if infinite.any():
            r = int(np.argmax(infinite))
            raise ValueError(f"{str(path)!r}: column {name!r}, data row {r + 1} is infinite; only finite numbers fit")
    if bad:
        raise ValueError(
            f"{str(path)!r} has non-numeric columns: {', '.join(bad)}; leave them out with drop= / --drop "
            "(or choose the columns to fit with columns= / --columns)"
        )
    return values, missing


def _apply_na(values: np.ndarray, missing: np.ndarray, names: list[str], path: Path, na: str) -> np.ndarray:
    """The rows to keep under the missing-value policy (all of them, or an error, for ``"error"``)."""
    incomplete = missing.any(axis=1)
    if not incomplete.any():
        return np.ones(len(values), dtype=bool)
    if na == "error":
        r = int(np.argmax(incomplete))
        j = int(np.argmax(missing[r]))
        count = int(incomplete.sum())
        raise ValueError(
            f"{str(path)!r}: missing value in column {names[j]!r}, data row {r + 1} "
            f"({count} incomplete row{'s' if count > 1 else ''} in all); drop them with na='drop' / --na drop"
        )
    if incomplete.all():
        raise ValueError(f"{str(path)!r}: every row has a missing value; nothing is left to fit")
    warnings.warn(
        f"{str(path)!r}: dropped {int(incomplete.sum())} of {len(values)} rows with missing values (na='drop')",
        DataWarning,
        stacklevel=4,
    )
    return ~incomplete


def read_table(
    path: str | os.PathLike,
    *,
    columns: Any = None,
    drop: Any = None,
    index_col: Column | None = None,
    header: bool | str = "infer",
    na: str = "error",
) -> DataTable:
    """Read a data file: one observation per row, measurements in columns (``docs/data_files.md``).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.tsv``, ``.txt`` (whitespace-separated), ``.parquet``/``.pq`` or ``.npy`` file;
        the text formats may be compressed (``data.csv.gz``, ``.bz2``, ``.xz``, ``.zip``).
    columns : list of str or int, or str, optional
        The columns to fit, by name or 0-based position in the file (a str is split at commas, as
        by :func:`parse_columns`). Default: every column except ``drop`` and the index column.
    drop : list of str or int, or str, optional
        Columns to leave out, by name or position.
    index_col : str or int, optional
        The id or row-name column: read into ``index``, not fitted. R's ``write.csv`` files (an
        unnamed first column of row names) get theirs without being told.
    header : {"infer", True, False}, default "infer"
        Whether the first line of a text file names the columns. ``"infer"``: it does when one of its
        fields is a name (not a number, not a missing value) above a number or a missing value, or when
        all its fields are names. Without a header, the columns are named ``"0"``, ``"1"``, ...
    na : {"error", "drop"}, default "error"
        A missing value (an empty cell, ``NA``, ``NaN``, ...: :data:`NA_STRINGS`) in a fitted column:
        stop with a ``ValueError`` naming the file, the data row (1-based, the header not counted) and
        the column, or drop its row (a :class:`~mixagg.exceptions.DataWarning` says how many).

    Returns
    -------
    DataTable

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unknown file type, an unreadable file, no data rows, an unknown column, an id-like column
        (``id``, ``index``, ``row``, ``..._id``, ``Unnamed: 0``) that is neither the index column nor
        dropped nor chosen in ``columns``, non-numeric or infinite values, or a missing value under
        ``na="error"``.
    TypeError
        ``path`` or a column is of the wrong type.
    ImportError
        A Parquet file without pyarrow installed.

    Examples
    --------
    >>> import mixagg as ma
    >>> table = ma.data_files.read_table("heights.csv", index_col="id", drop=["note"])  # doctest: +SKIP
    >>> table.values.shape, table.columns  # doctest: +SKIP
    ((250, 2), ('height', 'weight'))
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if na not in ("error", "drop"):
        raise ValueError(f"na must be 'error' or 'drop', got {na!r}")
    if header not in ("infer", True, False):
        raise ValueError(f"header must be 'infer', True or False, got {header!r}")
    p = Path(path)
    kind, _ = _kind(p)
    if not p.is_file():
        raise FileNotFoundError(f"data file {str(p)!r} does not exist")
    stored = None
    if kind in _SEPARATORS:
        cells, names, row_names = _read_text(p, kind, header)
    else:
        cells, names, stored = _read_frame(p, kind)
        row_names = False
    index = _position(index_col, names, p, "index_col") if index_col is not None else (0 if row_names else None)
    chosen = _selection(names, p, columns, drop, index)
    if not chosen:
        raise ValueError(f"no column of {str(p)!r} is left to fit (columns={columns!r}, drop={drop!r})")
    fitted = [names[j] for j in chosen]
    values, missing = _numbers(cells.iloc[:, chosen], fitted, p)
    keep = _apply_na(values, missing, fitted, p, na)
    ids = cells.iloc[:, index].to_numpy(dtype=object) if index is not None else stored
    return DataTable(
        values=values[keep],
        columns=tuple(fitted),
        index=None if ids is None else tuple(np.asarray(ids, dtype=object)[keep].tolist()),
        source=str(p),
        n_dropped=int((~keep).sum()),
    )


def read_data(
    path: str | os.PathLike,
    *,
    columns: Any = None,
    drop: Any = None,
    index_col: Column | None = None,
    header: bool | str = "infer",
    na: str = "error",
) -> np.ndarray:
    """The numbers of a data file, one observation per row (a single column is returned as a vector).

    The options are those of :func:`read_table` (``docs/data_files.md``); ``.npy`` is read with
    ``allow_pickle=False``.
    """
    return read_table(path, columns=columns, drop=drop, index_col=index_col, header=header, na=na).data


def write_data(path: str | os.PathLike, x: Any, *, header: list[str] | None = None) -> Path:
    """Write a vector or matrix as ``.npy``, ``.csv`` or ``.txt`` (full double precision); returns the path."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _WRITABLE:
        raise ValueError(f"path must end in one of {', '.join(_WRITABLE)}, got {str(p)!r}")
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
