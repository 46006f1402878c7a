"""Reading data files: formats, headers, column selection, id columns, R's files and the missing-value policy.

Every file is written here from known numbers (by numpy, the standard library's compressors, pandas/pyarrow or R
itself), and the reader must give those numbers back, or refuse with a message naming the file, row and column.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mixagg.data_files import parse_columns, read_data, read_table, write_data
from mixagg.exceptions import DataWarning

X = np.random.default_rng(0).normal(size=(25, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]


def csv_text(x: np.ndarray, names: list[str] | None = None, sep: str = ",") -> str:
    lines = [] if names is None else [sep.join(names)]
    lines += [sep.join(repr(float(v)) for v in row) for row in x]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("header", [True, False])
def test_csv_with_and_without_header_gives_the_numbers_back(tmp_path, header):
    path = tmp_path / "x.csv"
    path.write_text(csv_text(X, ["a", "b", "c"] if header else None))
    table = read_table(path)
    np.testing.assert_array_equal(table.values, X)
    assert table.columns == (("a", "b", "c") if header else ("0", "1", "2"))
    assert table.index is None and table.n_dropped == 0


def test_header_can_be_forced_either_way(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(csv_text(X))  # no header: forcing one takes the first row as names
    forced = read_table(path, header=True)
    np.testing.assert_array_equal(forced.values, X[1:])
    assert forced.columns == tuple(repr(float(v)) for v in X[0])
    named = tmp_path / "y.csv"
    named.write_text(csv_text(X, ["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"non-numeric columns: '0' \(data row 1: 'a'\)"):
        read_table(named, header=False)
    with pytest.raises(ValueError, match="header must be"):
        read_table(named, header="yes")


def test_tsv_whitespace_text_and_npy(tmp_path):
    (tmp_path / "x.tsv").write_text(csv_text(X, ["a", "b", "c"], sep="\t"))
    (tmp_path / "x.txt").write_text(csv_text(X, ["a", "b", "c"], sep="   "))
    np.save(tmp_path / "x.npy", X)
    for name in ("x.tsv", "x.txt", "x.npy"):
        np.testing.assert_array_equal(read_data(tmp_path / name), X, err_msg=name)
    np.testing.assert_array_equal(read_data(tmp_path / "x.npy", columns=[2, 0]), X[:, [2, 0]])


@pytest.mark.parametrize(
    "suffix, opener",
    [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)],
)
def test_compressed_text_files(tmp_path, suffix, opener):
    path = tmp_path / f"x.csv{suffix}"
    with opener(path, "wt") as fh:
        fh.write(csv_text(X, ["a", "b", "c"]))
    np.testing.assert_array_equal(read_data(path), X)


def test_zipped_tsv(tmp_path):
    path = tmp_path / "x.tsv.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.tsv", csv_text(X, ["a", "b", "c"], sep="\t"))
    np.testing.assert_array_equal(read_data(path), X)


def test_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install pyarrow")
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=pd.Index([f"s{i}" for i in range(25)], name="sample"))
    frame["label"] = "x"
    frame.to_parquet(tmp_path / "x.parquet")
    table = read_table(tmp_path / "x.parquet", drop=["label"])
    np.testing.assert_array_equal(table.values, X)
    assert table.columns == ("a", "b", "c") and table.index == tuple(f"s{i}" for i in range(25))
    with pytest.raises(ValueError, match="non-numeric columns: 'label'"):
        read_table(tmp_path / "x.parquet")


def test_columns_and_drop_by_name_and_position(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(csv_text(X, ["a", "b", "c"]))
    np.testing.assert_array_equal(read_data(path, columns=["c", "a"]), X[:, [2, 0]])
    np.testing.assert_array_equal(read_data(path, columns="c,0"), X[:, [2, 0]])
    np.testing.assert_array_equal(read_data(path, drop=[1]), X[:, [0, 2]])
    np.testing.assert_array_equal(read_data(path, drop="b,c"), X[:, 0])  # one column: a vector
    with pytest.raises(ValueError, match=r"columns: '.*x.csv' has no column 'z'; its columns are 'a', 'b', 'c'"):
        read_data(path, columns=["z"])
    with pytest.raises(ValueError, match="drop: .* has 3 columns \\(positions 0 to 2\\), got 7"):
        read_data(path, drop=[7])
    with pytest.raises(ValueError, match="no column .* is left to fit"):
        read_data(path, drop="a,b,c")
    with pytest.raises(TypeError, match="columns must hold column names"):
        read_data(path, columns=[1.5])


def test_parse_columns():
    assert parse_columns("a, b,4") == ["a", "b", 4]
    for bad in ("", "a,,b", " , "):
        with pytest.raises(ValueError, match="comma-separated list"):
            parse_columns(bad)
    with pytest.raises(TypeError):
        parse_columns(["a"])


def test_an_id_column_is_refused_unless_named(tmp_path):
    path = tmp_path / "x.csv"
    ids = np.arange(300, 325)
    path.write_text(csv_text(np.column_stack([ids, X]), ["id", "a", "b", "c"]))
    with pytest.raises(ValueError, match=r"column 'id' looks like an id.*--index-col id.*--drop id"):
        read_data(path)
    table = read_table(path, index_col="id")
    np.testing.assert_array_equal(table.values, X)
    assert table.index == tuple(repr(float(i)) for i in ids)
    np.testing.assert_array_equal(read_data(path, drop="id"), X)
    np.testing.assert_array_equal(read_data(path, columns="id,a"), np.column_stack([ids, X[:, 0]]))  # asked for
    for name in ("patient_id", "Unnamed: 0", "INDEX", "row"):
        other = tmp_path / "y.csv"
        other.write_text(csv_text(np.column_stack([ids, X]), [name, "a", "b", "c"]))
        with pytest.raises(ValueError, match="looks like an id"):
            read_data(other)


def test_a_text_column_is_refused_by_name_and_can_be_dropped(tmp_path):
    path = tmp_path / "x.csv"
    rows = [f"{float(a)!r},{'ok' if i else 'high'},{float(b)!r}" for i, (a, b) in enumerate(X[:, :2])]
    path.write_text("a,note,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"non-numeric columns: 'note' \(data row 1: 'high'\).*--drop"):
        read_data(path)
    np.testing.assert_array_equal(read_data(path, drop="note"), X[:, :2])
    np.testing.assert_array_equal(read_data(path, drop=[1]), X[:, :2])


def test_true_false_columns_are_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,flag\n1.5,TRUE\n2.5,FALSE\n")
    with pytest.raises(ValueError, match="non-numeric columns: 'flag'"):
        read_data(path)


def test_missing_values_name_file_row_and_column_or_are_dropped(tmp_path):
    path = tmp_path / "x.csv"
    rows = csv_text(X, ["a", "b", "c"]).splitlines()
    rows[5] = rows[5].split(",")[0] + ",NA," + rows[5].split(",")[2]  # data row 5, column b
    rows[9] = rows[9].split(",")[0] + ",," + rows[9].split(",")[2]  # data row 9: an empty cell
    rows[12] = "NaN," + ",".join(rows[12].split(",")[1:])
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError) as info:
        read_data(path)
    message = str(info.value)
    assert str(path) in message and "column 'b'" in message and "data row 5 " in message
    assert "3 incomplete rows" in message and "nan" not in message.lower().replace("na='drop'", "")
    with pytest.warns(DataWarning, match="dropped 3 of 25 rows"):
        table = read_table(path, na="drop")
    keep = np.setdiff1d(np.arange(25), [4, 8, 11])
    np.testing.assert_array_equal(table.values, X[keep])
    assert table.n_dropped == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(read_data(path, columns=["c"]), X[:, 2])  # no missing value in c
    with pytest.raises(ValueError, match="na must be"):
        read_data(path, na="ignore")


def test_infinite_values_are_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,inf\n")
    with pytest.raises(ValueError, match="column 'b', data row 2 is infinite"):
        read_data(path)


R_WRITE_CSV = '"","x1","x2"\n"1",-0.626453810742332,1.5\n"2",0.183643324222082,NA\n"3",-0.835628612410047,2\n'


def test_r_write_csv_output_literal(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(R_WRITE_CSV)  # what R 4.2 writes for write.csv(data.frame(x1, x2)): quoted row names
    with pytest.warns(DataWarning):
        table = read_table(path, na="drop")
    np.testing.assert_array_equal(table.values, [[-0.626453810742332, 1.5], [-0.835628612410047, 2.0]])
    assert table.columns == ("x1", "x2") and table.index == ("1", "3")


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed: sudo apt-get install r-base-core")
@pytest.mark.parametrize(
    "writer", ["write.csv(d, path)", "write.table(d, path)", "write.csv(d, path, row.names = FALSE)"]
)
def test_files_written_by_r(tmp_path, writer):
    path = tmp_path / ("r.txt" if writer.startswith("write.table") else "r.csv")
    values = X[:6, :2]
    code = (
        f"path <- '{path}'; d <- data.frame(height = c({', '.join((repr(float(v)) for v in values[:, 0]))}), "
        f"weight = c({', '.join((repr(float(v)) for v in values[:, 1]))})); rownames(d) <- paste0('p', 1:6); {writer}"
    )
    subprocess.run(["Rscript", "-e", code], check=True, capture_output=True)
    table = read_table(path)
    np.testing.assert_allclose(table.values, values, rtol=1e-14)  # R writes 15 significant digits
    assert table.columns == ("height", "weight")
    assert table.index == (None if "FALSE" in writer else tuple(f"p{i}" for i in range(1, 7)))


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_data(tmp_path / "none.csv")
    with pytest.raises(ValueError, match="must end in one of .csv, .tsv, .txt, .parquet, .pq, .npy"):
        read_data(tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="only .csv, .tsv and .txt files may be compressed"):
        read_data(tmp_path / "x.npy.gz")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b\n")
    for name in ("empty.csv", "header.csv"):
        with pytest.raises(ValueError, match="has no data rows"):
            read_data(tmp_path / name)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a numeric .npy array"):
        read_data(tmp_path / "obj.npy")
    with pytest.raises(TypeError, match="path must be"):
        read_data(3)


def test_write_data_round_trip(tmp_path):
    for suffix in (".csv", ".txt", ".npy"):
        path = write_data(tmp_path / f"x{suffix}", X, header=["a", "b", "c"] if suffix == ".csv" else None)
        np.testing.assert_array_equal(read_data(Path(path)), X)
    with pytest.raises(ValueError, match="path must end in one of"):
        write_data(tmp_path / "x.parquet", X)
