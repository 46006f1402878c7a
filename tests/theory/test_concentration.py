"""Empirical n D^2 of local EM fits against the predicted generalized chi-squared law ([J] Lemma 4.1-4.2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import GAUSS_TRUTH, N_LOCAL, POISSON_TRUTH
from scipy import stats

import mixagg as ma
from mixagg.theory import DistanceLaw, concentration_report, predicted_distance_law
from mixagg.theory.concentration import _cdf_at

#: The issue's bound on the KS distance with m = 400 fits (the KS 1% critical value at m = 400 is 0.081).
KS_BOUND = 0.08


@pytest.fixture(scope="module")
def gaussian_law():
    return predicted_distance_law(GAUSS_TRUTH, N_LOCAL, rng=1)


def test_gaussian_fits_follow_the_predicted_law(gaussian_fits, gaussian_law):
    report = concentration_report(gaussian_fits, GAUSS_TRUTH, law=gaussian_law)
    assert report.values.shape == (400,)
    assert report.ks_statistic <= KS_BOUND, str(report)
    # the statistic is the exact one-sample KS distance (scipy, direct cdf at the 400 values)
    assert report.ks_statistic == pytest.approx(stats.kstest(report.values, gaussian_law.cdf).statistic, abs=1e-9)
    # power: a law 1.5 times too wide is rejected on the same fits
    wrong = DistanceLaw(1.5 * gaussian_law.eigenvalues, N_LOCAL)
    assert concentration_report(gaussian_fits, GAUSS_TRUTH, law=wrong).ks_statistic > 2 * KS_BOUND


def test_pairwise_distances_follow_twice_the_law(gaussian_fits):
    report = concentration_report(gaussian_fits, GAUSS_TRUTH, pairwise=True, rng=1)
    assert report.values.shape == (400 * 399 // 2,)
    assert report.ks_n == 200  # disjoint pairs behind the p-value
    assert report.ks_statistic <= KS_BOUND, str(report)
    np.testing.assert_allclose(report.law.weights, 2 * report.law.eigenvalues[report.law.eigenvalues > 0])
    # the non-pairwise law is rejected for pairs: the factor 2 matters (docs/theory.md, [A] Lemma B.1)
    halved = DistanceLaw(0.5 * report.law.eigenvalues, N_LOCAL, pairwise=True)  # weights lambda, not 2 lambda
    assert concentration_report(gaussian_fits, GAUSS_TRUTH, pairwise=True, law=halved).ks_statistic > 3 * KS_BOUND


def test_poisson_fits_follow_the_predicted_law(poisson_fits):
    report = concentration_report(poisson_fits, POISSON_TRUTH)
    assert report.ks_statistic <= KS_BOUND, str(report)
    twice = DistanceLaw(report.law.eigenvalues, N_LOCAL, pairwise=True)
    pairs = concentration_report(poisson_fits, POISSON_TRUTH, pairwise=True, law=twice)
    assert pairs.ks_statistic <= KS_BOUND, str(pairs)


def test_report_contents(gaussian_fits, gaussian_law):
    report = concentration_report(gaussian_fits, GAUSS_TRUTH, law=gaussian_law)
    d = ma.l2_distance_matrix([GAUSS_TRUTH, *gaussian_fits])[0, 1:]
    np.testing.assert_allclose(report.values, N_LOCAL * d**2)  # n taken from the fits' n_samples
    q = report.quantiles
    np.testing.assert_allclose(q["probability"], [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])
    np.testing.assert_allclose(gaussian_law.cdf(q["predicted"]), q["probability"], atol=1e-9)
    # the empirical quantiles lie within a few binomial standard errors of the predicted ones
    se = np.sqrt(q["probability"] * (1 - q["probability"]) / 400)
    assert np.all(np.abs(gaussian_law.cdf(q["empirical"]) - q["probability"]) < 4 * se + 1 / 400)
    assert np.all(np.diff(report.qq["theoretical"]) > 0) and np.all(np.diff(report.qq["sample"]) >= 0)
    assert report.ecdf(np.inf) == 1.0 and report.ecdf(0.0) == 0.0
    json.dumps(report.to_dict())
    assert "KS statistic" in str(report)
    fig = report.plot(title="K=2, d=2")
    assert len(fig.axes) == 2
    assert report.qq["theoretical"].size == 400


def test_interpolated_cdf_is_accurate():
    law = DistanceLaw(np.geomspace(1.0, 0.01, 11), 100)
    values = np.sort(law.rvs(20_000, rng=4))
    approx = _cdf_at(law, values)
    idx = np.random.default_rng(0).choice(values.size, 300, replace=False)
    np.testing.assert_allclose(approx[idx], law.cdf(values[idx]), atol=1e-5)  # KS resolution here: ~1e-2


def test_distance_law_on_distances():
    law = DistanceLaw([0.3, 0.1], n=500)
    d = np.array([0.01, 0.02, 0.05])
    np.testing.assert_allclose(law.distance_cdf(d), law.cdf(500 * d**2))
    np.testing.assert_allclose(law.distance_ppf(law.distance_cdf(d)), d, rtol=1e-8)
    with pytest.raises(ValueError, match="eigenvalues"):
        DistanceLaw([-1.0], n=10)
    with pytest.raises(ValueError, match="eigenvalues"):
        DistanceLaw([0.0, 0.0], n=10)
    with pytest.raises(ValueError, match="n must"):
        DistanceLaw([1.0], n=0)


def test_report_errors(poisson_fits):
    plain = [ma.MixingDistribution(g.family, g.weights, g.params) for g in poisson_fits[:5]]
    with pytest.raises(ValueError, match="n is required"):
        concentration_report(plain, POISSON_TRUTH)
    with pytest.raises(ValueError, match="family"):
        concentration_report(poisson_fits[:5], GAUSS_TRUTH)
    law = predicted_distance_law(POISSON_TRUTH, N_LOCAL)
    with pytest.raises(ValueError, match="pairwise"):
        concentration_report(poisson_fits[:5], POISSON_TRUTH, pairwise=True, law=law)
    with pytest.raises(ValueError, match="one entry per estimate"):
        concentration_report(poisson_fits[:5], POISSON_TRUTH, n=[1, 2])
    with pytest.raises(ValueError, match="probabilities"):
        concentration_report(poisson_fits[:5], POISSON_TRUTH, law=law, probabilities=[0.5, 1.0])
