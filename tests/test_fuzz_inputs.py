"""Arbitrary input to the public constructors raises only TypeError / ValueError, never anything else."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixagg as ma

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**2000), 2**2000),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=12)
names = st.sampled_from(["gaussian", "gamma", "poisson", "exponential", "nope", ""])
params = st.dictionaries(st.sampled_from(["mean", "cov", "shape", "scale", "rate", "x"]), values, max_size=3)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names, values, params)
def test_constructor_only_raises_value_or_type_errors(family, weights, prms):
    try:
        mix = ma.MixingDistribution(family, weights, prms)
    except (TypeError, ValueError):
        return
    assert mix.validate() == []
    assert np.all(np.isfinite(mix.weights)) and abs(mix.weights.sum() - 1) < 1e-12


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        values, st.dictionaries(st.sampled_from(["family", "weights", "params"]), st.one_of(values, names, params))
    )
)
def test_from_dict_only_raises_value_or_type_errors(data):
    try:
        ma.MixingDistribution.from_dict(data)
    except (TypeError, ValueError):
        pass


@settings(max_examples=200, deadline=None)
@given(values)
def test_logpdf_only_raises_value_or_type_errors(x):
    mix = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [1.0, 1.0]], "cov": [np.eye(2)] * 2})
    try:
        out = mix.logpdf(x)
    except (TypeError, ValueError):
        return
    assert not np.any(np.isnan(out))  # -inf is a legitimate float64 log-density far in a tail
