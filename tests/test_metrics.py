"""W1, ARI, detection rates, and the POT adapter."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import linalg

import mixagg as ma
from mixagg._ot import transport
from mixagg.exceptions import SolverError, SolverWarning
from mixagg.families import Gaussian


def _d1_gauss(a, b):
    return np.linalg.norm(a[0] - b[0]) + np.linalg.norm(linalg.sqrtm(a[1]).real - linalg.sqrtm(b[1]).real)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_w1_of_equal_weight_mixtures_is_the_best_permutation_average(k):
    # with equal weights 1/K the optimal plan is a permutation (Birkhoff): brute force over all of them
    rng = np.random.default_rng(k)
    fam = Gaussian(2)
    g = ma.MixingDistribution(fam, np.full(k, 1 / k), fam.random_params(k, rng))
    h = ma.MixingDistribution(fam, np.full(k, 1 / k), fam.random_params(k, rng))
    comps_g = [(g.params["mean"][i], g.params["cov"][i]) for i in range(k)]
    comps_h = [(h.params["mean"][i], h.params["cov"][i]) for i in range(k)]
    best = min(
        np.mean([_d1_gauss(comps_g[i], comps_h[p[i]]) for i in range(k)]) for p in itertools.permutations(range(k))
    )
    assert ma.metrics.w1(g, h) == pytest.approx(best, rel=1e-9)


def test_w1_gamma_uses_the_shape_scale_cost_and_is_permutation_invariant():
    g = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 8.0], "scale": [1.0, 3.0]})
    h = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [8.5, 2.5], "scale": [2.0, 1.5]})
    want = 0.5 * (abs(2.0 - 2.5) + abs(1.0 - 1.5)) + 0.5 * (abs(8.0 - 8.5) + abs(3.0 - 2.0))
    assert ma.metrics.w1(g, h) == pytest.approx(want, rel=1e-12)
    assert ma.metrics.w1(g.permute([1, 0]), h) == pytest.approx(want, rel=1e-12)
    assert ma.metrics.w1(g, g) == 0.0


def test_w1_with_different_numbers_of_atoms():
    g = ma.MixingDistribution("poisson", [1.0], {"rate": [5.0]})
    h = ma.MixingDistribution("poisson", [0.25, 0.75], {"rate": [1.0, 9.0]})
    assert ma.metrics.w1(g, h) == pytest.approx(0.25 * 4 + 0.75 * 4)
    with pytest.raises(ValueError, match="family"):
        ma.metrics.w1(g, ma.MixingDistribution("exponential", [1.0], {"rate": [1.0]}))


def test_ari_is_sklearns_on_map_labels():
    rng = np.random.default_rng(1)
    fam = Gaussian(2)
    truth = ma.MixingDistribution(fam, [0.5, 0.5], {"mean": [[0.0, 0.0], [3.0, 0.0]], "cov": [np.eye(2)] * 2})
    est = ma.MixingDistribution(fam, [0.4, 0.6], {"mean": [[3.2, 0.1], [0.3, 0.0]], "cov": [np.eye(2)] * 2})
    x = truth.sample(2000, rng)
    # the contingency-table formula of Hubert & Arabie (1985), computed here from the two MAP labellings
    a, b = truth.predict(x), est.predict(x)
    table = np.array([[np.sum((a == i) & (b == j)) for j in range(2)] for i in range(2)])
    comb = lambda v: v * (v - 1) / 2  # noqa: E731
    index, rows, cols, total = comb(table).sum(), comb(table.sum(1)).sum(), comb(table.sum(0)).sum(), comb(len(x))
    expected = rows * cols / total
    want = (index - expected) / (0.5 * (rows + cols) - expected)
    assert ma.metrics.ari(est, truth, x) == pytest.approx(want, rel=1e-12)
    assert ma.metrics.ari(truth, truth, x) == 1.0


def test_detection_rates():
    mask = np.array([True, False, True, False, False])
    assert ma.metrics.detection_rates([0, 2], mask) == {
        "detected_rate": 0.4,
        "precision": 1.0,
        "recall": 1.0,
        "exact": 1.0,
    }
    out = ma.metrics.detection_rates([0, 1], mask)
    assert out["precision"] == 0.5 and out["recall"] == 0.5 and out["exact"] == 0.0
    assert ma.metrics.detection_rates([], np.zeros(3, dtype=bool))["recall"] == 1.0


# ----------------------------------------------------------------------------- the POT adapter


def test_transport_normalises_masses_and_checks_marginals():
    res = transport([1.0, 1.0], [0.6, 1.4], [[0.0, 1.0], [1.0, 0.0]])
    assert res.value == pytest.approx(0.2) and res.status == "optimal" and res.mass_defect == 0.0
    np.testing.assert_allclose(res.plan.sum(axis=1), [0.5, 0.5])


def test_transport_bad_input():
    with pytest.raises(ValueError, match="equal total mass"):
        transport([1.0], [2.0], [[0.0]])
    with pytest.raises(ValueError, match="non-negative"):
        transport([-1.0, 2.0], [1.0], [[0.0], [1.0]])
    with pytest.raises(ValueError, match=r"cost must have shape \(2, 1\)"):
        transport([0.5, 0.5], [1.0], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="finite"):
        transport([1.0], [1.0], [[np.nan]])


def test_iteration_limit_gives_a_warning_or_an_error():
    rng = np.random.default_rng(2)
    a, b, c = np.ones(60), np.ones(60), rng.random((60, 60))
    with pytest.raises(SolverError, match="marginals are off.*increase max_iter"):
        transport(a, b, c, max_iter=5)
    # somewhere between "far from feasible" and "optimal", the solver stops at a feasible, suboptimal plan
    outcomes = set()
    for limit in range(20, 400, 5):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = transport(a, b, c, max_iter=limit)
            except SolverError:
                outcomes.add("error")
                continue
        outcomes.add(res.status)
        if res.status == "max_iter_reached":
            assert any(issubclass(w.category, SolverWarning) and "max_iter" in str(w.message) for w in caught)
    assert {"error", "max_iter_reached", "optimal"} <= outcomes


def test_detection_rates_validate_indices():
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        ma.metrics.detection_rates([-1], np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="boolean mask"):
        ma.metrics.detection_rates([0], [0, 1, 0])
