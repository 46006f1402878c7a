"""The Bernoulli family against scipy.stats, sums over {0,1}^d, a direct EM, R's flexmix and the theory's law."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from family_test_helpers import (
    assert_dfmr_filters_probability_failures,
    assert_dfmr_near_the_oracle,
    assert_fits_follow_the_law,
)
from scipy import stats

import mixagg as ma
from mixagg import wire
from mixagg.families import Bernoulli, get_family
from mixagg.families.bernoulli import binary_points

P3 = np.array([[0.9, 0.8, 0.7, 0.2, 0.1], [0.1, 0.2, 0.3, 0.8, 0.9], [0.5, 0.9, 0.1, 0.5, 0.8]])
TRUTH = ma.MixingDistribution("bernoulli", [0.3, 0.4, 0.3], {"p": P3})


def _every_point(d):
    return np.array(list(itertools.product([0.0, 1.0], repeat=d)))


def _pmf(x, p):
    """scipy's Bernoulli pmfs, multiplied over the features: (n_points, n_components)."""
    return np.prod(stats.bernoulli.pmf(x[:, None, :], p[None, :, :]), axis=-1)


def test_binary_points_enumerate_the_cube():
    pts = binary_points(4)
    assert pts.shape == (16, 4)
    assert {tuple(r) for r in pts} == {tuple(r) for r in _every_point(4)}
    with pytest.raises(ValueError, match="at most d = 20"):
        binary_points(21)


def test_logpmf_matches_scipy_and_is_minus_infinity_off_the_cube():
    x = _every_point(5)
    got = Bernoulli(5).logpdf(x[:, None, :], {"p": P3})
    np.testing.assert_allclose(np.exp(got), _pmf(x, P3), rtol=1e-13)
    off = np.array([[0.0, 1.0, 0.5, 0.0, 1.0], [2.0, 0.0, 0.0, 0.0, 1.0], [-1.0, 0.0, 0.0, 0.0, 1.0]])
    assert np.all(np.isneginf(Bernoulli(5).logpdf(off, {"p": P3[0]})))


def test_kl_and_product_integral_match_sums_over_the_cube():
    x = _every_point(5)
    f = _pmf(x, P3)
    fam = Bernoulli(5)
    for a, b in itertools.product(range(3), repeat=2):
        kl = np.sum(f[:, a] * np.log(f[:, a] / f[:, b]))
        assert fam.kl_divergence({"p": P3[a]}, {"p": P3[b]}) == pytest.approx(kl, rel=1e-12, abs=1e-15)
        k = np.sum(f[:, a] * f[:, b])
        assert np.exp(fam.log_product_integral({"p": P3[a]}, {"p": P3[b]})) == pytest.approx(k, rel=1e-12)


def test_l2_distance_between_mixtures_matches_the_sum_over_the_cube():
    other = ma.MixingDistribution(
        "bernoulli", [0.5, 0.5], {"p": [[0.6, 0.6, 0.6, 0.4, 0.4], [0.2, 0.3, 0.9, 0.9, 0.1]]}
    )
    x = _every_point(5)
    fg = _pmf(x, P3) @ TRUTH.weights
    fh = _pmf(x, np.asarray(other.params["p"])) @ other.weights
    assert ma.l2_distance(TRUTH, other) == pytest.approx(np.sqrt(np.sum((fg - fh) ** 2)), rel=1e-10)


def test_settings_are_read_from_params_and_data():
    assert get_family("bernoulli", d=5) == Bernoulli(5)
    assert ma.MixingDistribution.from_dict(TRUTH.to_dict()) == TRUTH
    assert ma.MixingDistribution("bernoulli", [0.4, 0.6], {"p": [0.2, 0.7]}).family == Bernoulli(1)
    with pytest.raises(ValueError, match="open interval"):
        ma.MixingDistribution("bernoulli", [0.4, 0.6], {"p": [[0.2, 1.0], [0.5, 0.5]]})


def _direct_em(x, weights, p, n_iter):
    """EM for a mixture of products of Bernoullis written out: E-step in logs, M-step weighted means."""
    for _ in range(n_iter):
        log_r = np.log(weights) + x @ np.log(p).T + (1 - x) @ np.log1p(-p).T
        log_r -= log_r.max(axis=1, keepdims=True)
        r = np.exp(log_r)
        r /= r.sum(axis=1, keepdims=True)
        nk = r.sum(axis=0)
        weights, p = nk / x.shape[0], (r.T @ x) / nk[:, None]
    log_f = np.log(np.exp(np.log(weights) + x @ np.log(p).T + (1 - x) @ np.log1p(-p).T).sum(axis=1))
    return weights, p, log_f.sum()


def _start():
    return ma.MixingDistribution(
        "bernoulli", [0.34, 0.33, 0.33], {"p": [[0.6, 0.6, 0.6, 0.4, 0.4], [0.4, 0.4, 0.4, 0.6, 0.6], [0.5] * 5]}
    )


def test_em_reaches_the_fixed_point_of_a_direct_implementation():
    x = TRUTH.sample(4000, rng=3)
    start = _start()
    fit = ma.fit_mixture(x, "bernoulli", 3, init=start, reg=0, tol=1e-13, max_iter=20_000, progress=False)
    w, p, loglik = _direct_em(x, start.weights, np.asarray(start.params["p"]), fit.diagnostics.n_iter)
    np.testing.assert_allclose(fit.weights, w, atol=1e-9)
    np.testing.assert_allclose(fit.params["p"], p, atol=1e-9)
    assert fit.loglik == pytest.approx(loglik, rel=1e-12)


def _r_matrix(ro, a):
    return ro.r.matrix(ro.FloatVector(a.ravel(order="F")), nrow=a.shape[0], ncol=a.shape[1])


#: Well separated profiles, so that EM converges in a few dozen steps and both implementations stop near the
#: fixed point (with P3's overlap EM creeps, and each stops ~1e-5 away from it at its own criterion).
SEPARATED = ma.MixingDistribution(
    "bernoulli",
    [0.3, 0.4, 0.3],
    {
        "p": [
            [0.9, 0.9, 0.8, 0.1, 0.1, 0.2, 0.9, 0.1],
            [0.1, 0.2, 0.1, 0.9, 0.8, 0.9, 0.8, 0.2],
            [0.2, 0.9, 0.1, 0.2, 0.9, 0.1, 0.1, 0.9],
        ]
    },
)


@pytest.mark.r
def test_em_matches_flexmix_mvbinary(flexmix):
    """The same start (flexmix's ``cluster=`` posterior is the E-step at the start) gives the same fixed point
    and log-likelihood as R's ``flexmix(..., model = FLXMCmvbinary())``."""
    ro = flexmix
    x = SEPARATED.sample(3000, rng=4)
    start = ma.MixingDistribution(
        "bernoulli",
        [0.34, 0.33, 0.33],
        {"p": [[0.6] * 4 + [0.4] * 4, [0.4] * 4 + [0.6] * 4, [0.5, 0.6, 0.4] * 2 + [0.5, 0.6]]},
    )
    fit = ma.fit_mixture(x, "bernoulli", 3, init=start, reg=0, tol=1e-12, max_iter=20_000, progress=False)
    ro.globalenv["x"] = _r_matrix(ro, x)
    ro.globalenv["post"] = _r_matrix(ro, start.responsibilities(x))
    ro.r(
        "m <- flexmix(x ~ 1, k = 3, model = FLXMCmvbinary(), cluster = post, "
        "control = list(tolerance = 1e-12, iter.max = 20000, minprior = 0))"
    )
    p_r = np.array(ro.r("parameters(m)")).reshape(8, 3, order="F").T
    w_r = np.array(ro.r("prior(m)"))
    np.testing.assert_allclose(fit.params["p"], p_r, atol=1e-6)
    np.testing.assert_allclose(fit.weights, w_r, atol=1e-6)
    assert fit.loglik == pytest.approx(float(ro.r("as.numeric(logLik(m))")[0]), rel=1e-10)


def test_fisher_information_sums_the_cube_and_equals_the_expected_hessian():
    g = ma.MixingDistribution("bernoulli", [0.4, 0.6], {"p": [[0.8, 0.7, 0.2, 0.3], [0.2, 0.4, 0.9, 0.6]]})
    fi = ma.theory.fisher_information(g)
    assert fi.method == "series"
    x = _every_point(4)
    f_true = _pmf(x, np.asarray(g.params["p"])) @ g.weights

    def expected_loglik(v):  # E_G log f_v(X), v = (w_1, p_1, p_2) in the library's vector order
        w = np.array([v[0], 1 - v[0]])
        return float(np.sum(f_true * np.log(_pmf(x, v[1:].reshape(2, 4)) @ w)))

    v0 = g.vectorize()
    h = 1e-4
    n = v0.size
    hess = np.empty((n, n))
    eye = np.eye(n) * h
    for i in range(n):
        for j in range(n):
            hess[i, j] = (
                expected_loglik(v0 + eye[i] + eye[j])
                - expected_loglik(v0 + eye[i] - eye[j])
                - expected_loglik(v0 - eye[i] + eye[j])
                + expected_loglik(v0 - eye[i] - eye[j])
            ) / (4 * h * h)
    np.testing.assert_allclose(fi.matrix, -hess, atol=2e-5 * np.abs(hess).max())


def test_distance_law_predicts_the_spread_of_local_fits():
    g = ma.MixingDistribution("bernoulli", [0.4, 0.6], {"p": [[0.8, 0.7, 0.2, 0.3, 0.6], [0.2, 0.4, 0.9, 0.6, 0.1]]})
    assert_fits_follow_the_law(g, n=4000, reps=200, seed=5)


def test_wire_round_trip_and_rejections():
    fit = ma.fit_mixture(TRUTH.sample(2000, rng=6), "bernoulli", 3, init=TRUTH, progress=False)
    text = wire.dumps(fit, machine_id="site-1")
    back = wire.loads(text)
    assert back.family == Bernoulli(5)
    np.testing.assert_array_equal(back.params["p"], fit.params["p"])
    bad = text.replace(str(float(fit.params["p"][0][0])), "1.0", 1)
    assert bad != text
    rejected = wire.loads(bad)
    assert isinstance(rejected, wire.Rejected) and "open interval" in rejected.reason


def test_dfmr_filters_probability_failures():
    assert_dfmr_filters_probability_failures(TRUTH, seed=7)


def test_dfmr_near_the_oracle_under_probability_failures():
    """DFMR(auto)'s mean W1 over eight replicates within 5% of the oracle's (measured 1.000; DFMR(1.3) 1.053)."""
    assert_dfmr_near_the_oracle(TRUTH, "probability", seed=100)
