"""DataFrames in, the right family out: pandas column types mapped to component families (``docs/families.md``,
"DataFrames").

``fit_mixture(df, "auto", K)`` builds the family with :func:`family_for_frame` and reads the records with
:func:`frame_values`; the column names travel with the family (``Product(..., columns=[...])``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .bernoulli import Bernoulli
from .categorical import Categorical
from .core import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .gaussian import Gaussian
from .poisson import Poisson
from .product import Product

__all__ = ["COLUMN_FAMILIES", "auto_column_family", "family_for_frame", "frame_values"]

#: The families a column can be assigned to (``column_families=``), and ``"drop"`` to leave it out.
COLUMN_FAMILIES = ("gaussian", "poisson", "bernoulli", "categorical", "gamma", "exponential", "drop")

#: The order of the blocks: grouped families first (one block each), then one block per scalar column.
_GROUPED = ("gaussian", "bernoulli", "categorical")


def _pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a dependency of scikit-learn's DataFrame paths
        raise ImportError("reading DataFrames needs pandas: pip install pandas") from exc
    return pd


def _check_frame(frame: Any, name: str = "X") -> Any:
    pd = _pandas()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame for family='auto', got {type(frame).__name__}")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"{name} has repeated column names: {sorted({c for c in names if names.count(c) > 1})}")
    return frame


def auto_column_family(series: Any) -> str:
    """The family ``family="auto"`` gives one column.

    Booleans: ``"bernoulli"``; ``category``, ``object`` and string columns: ``"categorical"``; integers that are
    all non-negative: ``"poisson"``; other numbers (floats, integers with negative values): ``"gaussian"``.
    """
    pd = _pandas()
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bernoulli"
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype):
        values = series.dropna()
        return "poisson" if values.size == 0 or values.min() >= 0 else "gaussian"
    if pd.api.types.is_numeric_dtype(dtype):
        return "gaussian"
    raise ValueError(f"column {series.name!r} has dtype {dtype}, which maps to no family; drop it or convert it")


def _levels(series: Any) -> int:
    pd = _pandas()
    if isinstance(series.dtype, pd.CategoricalDtype):
        n = len(series.cat.categories)
    else:
        n = series.dropna().nunique()
    return max(int(n), 2)


def family_for_frame(
    frame: Any, *, column_families: Mapping[str, str] | None = None, covariance_type: str = "full"
) -> Product:
    """The family of a DataFrame's records: one block per family, with the column names.

    Parameters
    ----------
    frame : pandas.DataFrame
    column_families : mapping of str to str, optional
        Overrides of :func:`auto_column_family` by column name: one of :data:`COLUMN_FAMILIES`
        (``"drop"`` leaves the column out). A 0/1 integer column is a count unless it is boolean or overridden
        to ``"bernoulli"``.
    covariance_type : str, default "full"
        The covariance structure of the Gaussian block (``docs/covariance.md``).

    Returns
    -------
    Product
        Blocks in the order Gaussian (all its columns, in the frame's order), Bernoulli, Categorical, then one
        block per Poisson, Gamma or Exponential column, named after that column. ``columns`` lists the columns in
        that order.

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame.
    ValueError
        An unknown column or family in ``column_families``, a column of an unusable dtype, or no column left.
    """
    frame = _check_frame(frame)
    overrides = dict(column_families or {})
    names = [str(c) for c in frame.columns]
    unknown = [c for c in overrides if c not in names]
    if unknown:
        raise ValueError(f"column_families names columns the DataFrame does not have: {unknown}")
    bad = {c: f for c, f in overrides.items() if f not in COLUMN_FAMILIES}
    if bad:
        raise ValueError(f"column_families must map columns to one of {COLUMN_FAMILIES}, got {bad}")
    assigned = {name: overrides.get(name) or auto_column_family(frame[col]) for name, col in zip(names, frame.columns)}
    grouped: dict[str, list[str]] = {g: [c for c in names if assigned[c] == g] for g in _GROUPED}
    scalar = [c for c in names if assigned[c] not in (*_GROUPED, "drop")]
    blocks: list[ExponentialFamily] = []
    block_names: list[str] = []
    columns: list[str] = []
    if grouped["gaussian"]:
        blocks.append(Gaussian(len(grouped["gaussian"]), covariance_type))
        block_names.append("gaussian")
        columns += grouped["gaussian"]
    if grouped["bernoulli"]:
        blocks.append(Bernoulli(len(grouped["bernoulli"])))
        block_names.append("bernoulli")
        columns += grouped["bernoulli"]
    if grouped["categorical"]:
        cols = grouped["categorical"]
        blocks.append(Categorical([_levels(frame[frame.columns[names.index(c)]]) for c in cols]))
        block_names.append("categorical")
        columns += cols
    simple = {"poisson": Poisson, "gamma": Gamma, "exponential": Exponential}
    for c in scalar:
        blocks.append(simple[assigned[c]]())
        block_names.append(c if c not in block_names and "." not in c else f"{assigned[c]}_{c.replace('.', '_')}")
        columns.append(c)
    if not blocks:
        raise ValueError("every column of the DataFrame was dropped")
    return Product(blocks, names=block_names, columns=columns)


def frame_values(frame: Any, columns: Sequence[str], categorical: Sequence[str] = ()) -> np.ndarray:
    """The named columns of a DataFrame as a float array ``(n, len(columns))``.

    Booleans become 0/1; a ``category`` column its codes (in the order of its categories, so every machine
    that shares the categories codes alike); an ``object`` or string column, or any column named in
    ``categorical`` (e.g. numbers 1..5 overridden to a category), the position of each value among its sorted
    distinct values; other numbers stay as they are.

    Raises
    ------
    ValueError
        A missing column, or missing values (the column and the first row named).
    """
    pd = _pandas()
    frame = _check_frame(frame)
    by_name = {str(c): c for c in frame.columns}
    missing = [c for c in columns if c not in by_name]
    if missing:
        raise ValueError(f"the DataFrame lacks the column(s) {missing} of the family")
    out = np.empty((frame.shape[0], len(columns)))
    for j, name in enumerate(columns):
        series = frame[by_name[name]]
        if series.isna().any():
            row = series.index[np.flatnonzero(series.isna().to_numpy())[0]]
            raise ValueError(f"column {name!r} has missing values (first at row {row!r}); drop or impute them")
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[:, j] = series.cat.codes.to_numpy()
        elif (
            name in categorical
            or pd.api.types.is_object_dtype(series.dtype)
            or pd.api.types.is_string_dtype(series.dtype)
        ):
            values = series.to_numpy() if pd.api.types.is_numeric_dtype(series.dtype) else series.astype(str).to_numpy()
            out[:, j] = np.searchsorted(np.unique(values), values)
        else:
            out[:, j] = series.to_numpy(dtype=float)
    return out
