"""The R-facing surface: R passes every number as a double, so integral doubles must work where integers are
expected (5 and 5.0 pass, 5.5 raises a ValueError naming the argument); results convert to named lists."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mixagg as ma
from mixagg import theory

G = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [3.0, 0.0]], "cov": [np.eye(2), np.eye(2)]})


@pytest.fixture(scope="module")
def fits():
    return [ma.fit_mixture(G.sample(300, rng=i), "gaussian", 2, rng=i) for i in range(8)]


# name -> (call taking the value v, the argument named in the error)
CALLS = {
    "sample": (lambda v, f: G.sample(v, rng=0), "n"),
    "sample seed": (lambda v, f: G.sample(10, rng=v), "rng"),
    "component": (lambda v, f: G.component(v - 4), "k"),
    "family d": (lambda v, f: ma.get_family("gaussian", d=v - 3), "d"),
    "fit_mixture": (
        lambda v, f: ma.fit_mixture(G.sample(200, rng=0), "gaussian", v - 3, max_iter=v * 40, rng=0),
        "n_components",
    ),
    "MixtureEM": (
        lambda v, f: ma.MixtureEM(n_components=v - 3, random_state=0).fit(G.sample(200, rng=0)),
        "n_components",
    ),
    "component_failure": (lambda v, f: ma.attacks.component_failure(f, 0.25, rng=0, n_corrupt=v - 4), "n_corrupt"),
    "w1": (lambda v, f: ma.metrics.w1(f[0], G, max_iter=v * 1000 if float(v).is_integer() else v), "max_iter"),
    "l2_distance_matrix": (lambda v, f: ma.l2_distance_matrix(f, pairs_per_chunk=v), "pairs_per_chunk"),
    "aggregate": (lambda v, f: ma.aggregate(f, "dfmr", max_iter=v * 100 if float(v).is_integer() else v), "max_iter"),
    "ared_threshold": (lambda v, f: ma.robust.ared_threshold(v), "m"),
    "gchisq rvs": (lambda v, f: theory.GeneralizedChiSquared([1.0, 2.0]).rvs(v, rng=0), "size"),
    "mixsim": (lambda v, f: ma.mixsim(v - 2, v - 3, max_omega=0.05, seed=0, backend="python"), "K"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_integral_doubles_pass_and_fractions_raise(name, fits):
    call, argument = CALLS[name]
    as_int, as_double = call(5, fits), call(5.0, fits)
    if isinstance(as_int, np.ndarray):
        np.testing.assert_array_equal(as_int, as_double)
    with pytest.raises(ValueError, match=argument):
        call(5.5, fits)


def test_covariances_as_a_list_of_matrices():
    """R hands over list(S1, S2) as a list of 2-D arrays; it means the same as a (K, d, d) array."""
    covs = [np.array([[1.0, 0.2], [0.2, 0.5]]), np.array([[2.0, 0.0], [0.0, 1.0]])]
    a = ma.MixingDistribution("gaussian", [0.3, 0.7], {"mean": [[0.0, 0.0], [1.0, 1.0]], "cov": covs})
    b = ma.MixingDistribution(
        "gaussian", [0.3, 0.7], {"mean": np.array([[0.0, 0.0], [1.0, 1.0]]), "cov": np.stack(covs)}
    )
    assert a == b


def _plain(obj) -> bool:
    """Only dicts with str keys, lists, str, bool, numbers and None: what reticulate turns into named R lists."""
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_plain(v) for v in obj)
    return obj is None or isinstance(obj, (str, bool, int, float))


def test_to_dict_results_are_plain_named_lists(fits):
    sim = ma.mixsim(3, 2, max_omega=0.05, seed=1, backend="python")
    results = {
        "MixSimResult": sim.to_dict(),
        "OverlapResult": ma.r_bridge.overlap(sim).to_dict(),
        "MixingDistribution": G.to_dict(),
        "FittedMixture": fits[0].to_dict(),
        "AggregationResult": ma.aggregate(fits, "dfmr").to_dict(),
    }
    for name, d in results.items():
        assert _plain(d), name
        json.dumps(d)
