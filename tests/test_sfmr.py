"""SFMR's spectral stage (``docs/aggregation.md``, "The spectral stage").

The spectrum computed from distances against the one computed in coordinates, the honest law's
quantiles against fresh honest draws, the weighted filter against colluders that lean one way, and
the rule against threshold hugging tuned to DFMR.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixagg as ma
from mixagg.attacks import passes_filter, threshold_hugging
from mixagg.exceptions import AggregationWarning
from mixagg.robust.coat import coat_radii
from mixagg.robust.spectral import spectral_filter, spectral_thresholds, spread_scale, spread_spectrum
from mixagg.theory.rho import _Draws

LAM = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
TRUTH = ma.MixingDistribution(
    "gaussian", [0.3, 0.3, 0.4], {"mean": [[0, 0], [3, 0], [0, 3]], "cov": [np.eye(2)] * 3}
)  # fmt: skip


def _d2(z: np.ndarray) -> np.ndarray:
    return np.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1)


def test_spread_spectrum_is_the_weighted_covariance_of_the_points():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((12, 5)) * np.sqrt(LAM)
    w = rng.uniform(0.5, 2.0, 12)
    w /= w.sum()
    y = z - w @ z
    cov = (w[:, None] * y).T @ y
    mu, vec = np.linalg.eigh(cov)
    mu, vec = mu[::-1], vec[:, ::-1]
    got_mu, coords = spread_spectrum(_d2(z), w, 5)
    np.testing.assert_allclose(got_mu, mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.abs(coords), np.abs(y @ vec), rtol=1e-8, atol=1e-10)


def test_honest_quantiles_hold_on_fresh_honest_sets():
    """On fresh honest sets, run through distances, COAT and filter, the stage fires at most 1 - coverage."""
    m, rho, coverage = 30, 1.5, 0.9
    ones = np.ones(m)
    draws = _Draws.make(LAM, ones, 2000, np.random.default_rng(1))
    q, reference = spectral_thresholds(draws, np.arange(m), m, "majority", rho, ones / m, coverage, 1, absolute=True)
    rng = np.random.default_rng(2)
    reps = 400
    fired = 0
    for _ in range(reps):
        d2 = _d2(rng.standard_normal((m, LAM.size)) * np.sqrt(LAM))
        c, r = coat_radii(np.sqrt(d2), "majority")
        kept = np.flatnonzero(np.sqrt(d2[int(c)]) <= rho * float(r))
        scale = spread_scale(float(r) ** 2, reference, True)
        _, first, _ = spectral_filter(d2[np.ix_(kept, kept)], ones[kept], scale, q, floor=m // 2 + 1)
        fired += first > 1.0
    se = np.sqrt(coverage * (1 - coverage) / reps)
    assert abs(fired / reps - (1 - coverage)) <= 3 * se


@pytest.mark.parametrize("sds", [3.0, 5.0])
def test_colluders_leaning_one_way_lose_their_weight(sds):
    """15 identical colluders ``sds`` standard deviations out along the direction of largest honest spread.

    Closer in (about two standard deviations) the stage cannot tell them from the honest tail: see
    ``docs/aggregation.md``, "The spectral stage".
    """
    rng = np.random.default_rng(3)
    honest = rng.standard_normal((35, LAM.size)) * np.sqrt(LAM)
    lean = np.zeros(LAM.size)
    lean[0] = sds * np.sqrt(LAM[0])
    z = np.vstack([honest, np.tile(lean, (15, 1))])
    m = z.shape[0]
    ones = np.ones(m)
    draws = _Draws.make(LAM, ones, 1000, np.random.default_rng(4))
    d2 = _d2(z)
    c, r = coat_radii(np.sqrt(d2), "majority")
    q, reference = spectral_thresholds(draws, np.arange(35), m, "majority", np.inf, ones / m, 0.99, 1, absolute=True)
    omega, first, final = spectral_filter(d2, ones, spread_scale(float(r) ** 2, reference, True), q, floor=m // 2 + 1)
    assert first > 1.0 >= final  # the lean is seen, and the reweighting stops once the spread is honest
    assert omega[35:].mean() < 0.5 * omega[:35].mean()
    if sds >= 5:  # beyond the honest cloud: the colluders drop out
        assert omega[35:].max() < 0.05
    bias_before = np.linalg.norm(z.mean(axis=0) - honest.mean(axis=0))
    bias_after = np.linalg.norm(omega @ z / omega.sum() - honest.mean(axis=0))
    assert bias_after < 0.6 * bias_before


@pytest.fixture(scope="module")
def honest():
    rng = np.random.default_rng(5)
    return [ma.fit_mixture(TRUTH.sample(2000, rng), "gaussian", 3, init=TRUTH) for _ in range(30)]


def _aggregate(est, rule, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AggregationWarning)
        return ma.aggregate(est, rule, **options)


def test_without_failures_sfmr_is_dfmr_auto(honest):
    res = _aggregate(honest, "sfmr")
    assert res.spectral.statistic <= 1.0 and not res.spectral.reweighted
    auto = _aggregate(honest, "dfmr", rho="auto")
    assert res.rho == auto.rho
    np.testing.assert_array_equal(res.selected, auto.selected)
    for key in ("mean", "cov"):
        np.testing.assert_allclose(res.mixture.params[key], auto.mixture.params[key], rtol=1e-12)


def test_sfmr_resists_threshold_hugging_tuned_to_dfmr(honest):
    est, mask = threshold_hugging(honest, 0.3, 0, rule="dfmr", rule_options={"rho": "auto"})
    oracle = _aggregate([g for g, f in zip(honest, mask) if not f], "vanilla").mixture
    dfmr = _aggregate(est, "dfmr", rho="auto")
    with pytest.warns(AggregationWarning, match="spectral stage reweighted"):
        sfmr = ma.aggregate(est, "sfmr")
    assert mask[dfmr.selected].sum() == mask.sum()  # the colluders pass DFMR's filter ...
    factor = sfmr.to_frame()["weight_factor"].to_numpy()
    assert factor[mask].mean() < 0.5 * factor[~mask].mean()  # ... and lose their weight in SFMR's stage
    assert ma.metrics.w1(sfmr.mixture, oracle) < 0.5 * ma.metrics.w1(dfmr.mixture, oracle)
    assert "spectral stage" in sfmr.summary()
    assert sfmr.to_dict()["spectral"]["reweighted"]
    assert not passes_filter(est, mask, "sfmr")
    assert passes_filter(est, mask, "dfmr", {"rho": "auto"})


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5])
def test_spectral_coverage_is_a_probability(honest, value):
    with pytest.raises(ValueError, match="spectral_coverage"):
        ma.aggregate(honest, "sfmr", spectral_coverage=value)
