"""DataFrames in, the right family out: the column-type mapping, its overrides, reading by name, and the column
names in the estimate and on the wire."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixagg as ma
from mixagg import wire
from mixagg.families import Bernoulli, Categorical, Gaussian, Poisson, Product
from mixagg.families.frames import auto_column_family, family_for_frame, frame_values


def frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    gen = np.random.default_rng(seed)
    z = gen.random(n) < 0.4
    return pd.DataFrame(
        {
            "age": np.where(z, gen.normal(30, 3, n), gen.normal(60, 5, n)),
            "visits": np.where(z, gen.poisson(1.0, n), gen.poisson(6.0, n)),
            "smoker": np.where(z, gen.random(n) < 0.7, gen.random(n) < 0.1),
            "plan": pd.Categorical(np.where(z, "a", gen.choice(["b", "c"], n)), categories=["a", "b", "c"]),
            "score": np.where(z, gen.normal(0, 1, n), gen.normal(2, 1, n)),
        }
    )


def test_column_types_map_to_families():
    df = frame()
    df["delta"] = np.arange(len(df)) - 3  # integers with negative values: Gaussian
    df["town"] = np.where(np.arange(len(df)) % 2 == 0, "x", "y")  # object: categorical
    assert [auto_column_family(df[c]) for c in df.columns] == [
        "gaussian",
        "poisson",
        "bernoulli",
        "categorical",
        "gaussian",
        "gaussian",
        "categorical",
    ]
    fam = family_for_frame(df, covariance_type="diag")
    assert fam.blocks == (Gaussian(3, "diag"), Bernoulli(1), Categorical([3, 2]), Poisson())
    assert fam.names == ("gaussian", "bernoulli", "categorical", "visits")
    assert fam.columns == ("age", "score", "delta", "smoker", "plan", "town", "visits")


def test_overrides_and_errors():
    df = frame()
    fam = family_for_frame(df, column_families={"visits": "gaussian", "score": "drop", "smoker": "categorical"})
    assert fam.columns == ("age", "visits", "smoker", "plan")
    assert fam.blocks == (Gaussian(2), Categorical([2, 3]))
    with pytest.raises(ValueError, match="does not have: \\['nope'\\]"):
        family_for_frame(df, column_families={"nope": "poisson"})
    with pytest.raises(ValueError, match="must map columns to one of"):
        family_for_frame(df, column_families={"age": "normal"})
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        family_for_frame(df.to_numpy())
    with pytest.raises(ValueError, match="every column"):
        family_for_frame(df[["age"]], column_families={"age": "drop"})
    holes = df.copy()
    holes.loc[7, "age"] = np.nan
    with pytest.raises(ValueError, match="column 'age' has missing values \\(first at row 7\\)"):
        ma.fit_mixture(holes, "auto", 2)
    with pytest.raises(ValueError, match="column_families applies to family='auto'"):
        ma.fit_mixture(df[["age", "score"]].to_numpy(), "gaussian", 2, column_families={"age": "drop"})


def test_values_codes_and_booleans():
    df = frame(10)
    x = frame_values(df, ["plan", "smoker", "visits"])
    np.testing.assert_array_equal(x[:, 0], df["plan"].cat.codes.to_numpy())
    np.testing.assert_array_equal(x[:, 1], df["smoker"].to_numpy(dtype=float))
    np.testing.assert_array_equal(x[:, 2], df["visits"].to_numpy(dtype=float))
    with pytest.raises(ValueError, match="lacks the column\\(s\\) \\['x'\\]"):
        frame_values(df, ["x"])


def test_fit_keeps_the_column_names_and_reads_frames_by_name():
    df = frame(1500, seed=1)
    fit = ma.fit_mixture(df, "auto", 2, rng=0, n_init=3, progress=False)
    assert isinstance(fit.family, Product)
    assert fit.to_dict()["family"]["columns"] == ["age", "score", "smoker", "plan", "visits"]
    back = wire.loads(wire.dumps(fit))
    assert back.family.columns == fit.family.columns
    # the simulated profiles: ages 30 and 60, visit rates 1 and 6 (each within 5 standard errors)
    order = np.argsort(fit.params["gaussian.mean"][:, 0])
    ages = fit.params["gaussian.mean"][order, 0]
    rates = fit.params["visits.rate"][order]
    n = fit.weights[order] * len(df)
    assert abs(ages[0] - 30) < 5 * 3 / np.sqrt(n[0]) and abs(ages[1] - 60) < 5 * 5 / np.sqrt(n[1])
    assert abs(rates[0] - 1) < 5 * np.sqrt(1 / n[0]) and abs(rates[1] - 6) < 5 * np.sqrt(6 / n[1])
    # a product with column names reads a DataFrame by name, whatever the column order
    shuffled = df[["visits", "plan", "score", "smoker", "age"]]
    np.testing.assert_allclose(
        fit.logpdf(fit.family.encode_frame(shuffled)), fit.logpdf(fit.family.encode_frame(df)), rtol=0
    )
    refit = ma.fit_mixture(shuffled, fit.family, 2, init=fit, tol=1e-12, progress=False)
    np.testing.assert_allclose(refit.params["gaussian.mean"], fit.params["gaussian.mean"], rtol=1e-6)


def test_a_numeric_column_overridden_to_categorical_is_recoded():
    """A Likert column 1..5 (and one with the values 0, 2, 4) as categories: each value's rank among the column's
    distinct values, so the codes are 0..L-1."""
    gen = np.random.default_rng(2)
    df = pd.DataFrame(
        {"likert": gen.integers(1, 6, 300), "even": 2 * gen.integers(0, 3, 300), "y": gen.normal(size=300)}
    )
    fam = family_for_frame(df, column_families={"likert": "categorical", "even": "categorical"})
    assert fam.blocks[1] == Categorical([5, 3])
    x = fam.encode_frame(df)
    np.testing.assert_array_equal(x[:, 1], df["likert"].to_numpy() - 1)
    np.testing.assert_array_equal(x[:, 2], df["even"].to_numpy() // 2)
    fit = ma.fit_mixture(df, "auto", 2, column_families={"likert": "categorical", "even": "categorical"}, rng=0)
    assert fit.family == fam


def test_many_columns_travel_on_the_wire():
    names = [f"c{i}" for i in range(300)]
    fam = Product([Gaussian(300, "diag")], columns=names)
    g = ma.MixingDistribution(fam, [1.0], fam.random_params((1,), rng=0))
    assert wire.loads(wire.dumps(g)).family.columns == tuple(names)
