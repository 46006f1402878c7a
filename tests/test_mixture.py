"""MixingDistribution: validation, densities vs scipy/sklearn, sampling, alignment, conversions."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from scipy import stats
from sklearn.mixture import GaussianMixture

import mixagg as ma
from mixagg.families import Gamma, Gaussian, Poisson
from mixagg.mixture import as_mixture


@pytest.fixture
def gmix():
    return ma.MixingDistribution(
        Gaussian(2),
        [0.2, 0.5, 0.3],
        {
            "mean": [[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]],
            "cov": [[[1.0, 0.2], [0.2, 0.5]], [[2.0, 0.0], [0.0, 1.0]], [[0.7, -0.3], [-0.3, 1.2]]],
        },
    )


def test_logpdf_matches_sum_of_scipy_densities(gmix, rng):
    x = rng.normal(0, 3, size=(100, 2))
    want = sum(
        gmix.weights[k] * stats.multivariate_normal(gmix.params["mean"][k], gmix.params["cov"][k]).pdf(x)
        for k in range(3)
    )
    np.testing.assert_allclose(gmix.pdf(x), want, rtol=1e-12)
    np.testing.assert_allclose(gmix.logpdf(x), np.log(want), rtol=1e-12)
    assert gmix.logpdf(x[0]).shape == ()
    assert gmix.logpdf(x.reshape(10, 10, 2)).shape == (10, 10)


def test_gamma_and_poisson_mixture_densities():
    g = ma.MixingDistribution("gamma", [0.32, 0.35, 0.33], {"shape": [1.0, 8.0, 30.0], "scale": [1.0, 6.0, 10.0]})
    x = np.linspace(0.1, 400, 50)
    want = (
        0.32 * stats.gamma.pdf(x, 1, scale=1)
        + 0.35 * stats.gamma.pdf(x, 8, scale=6)
        + 0.33 * stats.gamma.pdf(x, 30, scale=10)
    )
    np.testing.assert_allclose(g.pdf(x), want, rtol=1e-12)
    p = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [1.5, 9.0]})
    k = np.arange(30.0)
    np.testing.assert_allclose(p.pdf(k), 0.4 * stats.poisson.pmf(k, 1.5) + 0.6 * stats.poisson.pmf(k, 9.0), rtol=1e-12)


def test_far_tails_stay_finite_in_log_space(gmix):
    # every component density underflows here; the log-sum-exp keeps the answer
    x = np.array([[200.0, -300.0]])
    lp = gmix.logpdf(x)
    assert np.isfinite(lp).all() and lp[0] < -1e4
    np.testing.assert_allclose(gmix.responsibilities(x).sum(axis=-1), 1.0)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_from_sklearn_agrees_with_sklearn(covariance_type, rng):
    x = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(4, 0.7, (300, 2))])
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(x)
    mix = ma.MixingDistribution.from_sklearn(gm)
    np.testing.assert_allclose(mix.logpdf(x), gm.score_samples(x), rtol=1e-10)
    np.testing.assert_allclose(mix.responsibilities(x), gm.predict_proba(x), atol=1e-10)
    np.testing.assert_array_equal(mix.predict(x), gm.predict(x))


def test_from_sklearn_errors():
    with pytest.raises(ValueError, match="not fitted"):
        ma.MixingDistribution.from_sklearn(GaussianMixture(2))
    with pytest.raises(TypeError, match="GaussianMixture-like"):
        ma.MixingDistribution.from_sklearn(object())


def test_sampling_proportions_and_moments(gmix, rng):
    n = 200_000
    x, labels = gmix.sample_with_labels(n, rng)
    assert x.shape == (n, 2) and labels.shape == (n,)
    counts = np.bincount(labels, minlength=3)
    se = np.sqrt(n * gmix.weights * (1 - gmix.weights))
    assert np.all(np.abs(counts - n * gmix.weights) < 4.5 * se)
    # mixture mean and covariance (law of total variance) vs the sample, within Monte Carlo error
    mean_se = np.sqrt(np.diag(gmix.cov()) / n)
    assert np.all(np.abs(x.mean(axis=0) - gmix.mean()) < 4.5 * mean_se)
    c = x - gmix.mean()
    prods = c[:, :, None] * c[:, None, :]
    assert np.all(np.abs(prods.mean(axis=0) - gmix.cov()) < 4.5 * prods.std(axis=0) / np.sqrt(n))
    # the labels are the true components: each block has that component's mean
    for k in range(3):
        xk = x[labels == k]
        assert np.all(
            np.abs(xk.mean(axis=0) - gmix.params["mean"][k]) < 4.5 * np.sqrt(np.diag(gmix.params["cov"][k]) / len(xk))
        )


def test_scalar_mixture_moments():
    g = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 5.0], "scale": [1.0, 2.0]})
    x = g.sample(400_000, rng=1)
    assert abs(x.mean() - g.mean()) < 4.5 * np.sqrt(g.cov() / x.size)
    assert g.mean() == pytest.approx(0.5 * 2 + 0.5 * 10)


def test_predict_is_map_and_responsibilities_sum_to_one(gmix, rng):
    x = rng.normal(0, 3, size=(500, 2))
    joint = np.stack(
        [
            gmix.weights[k] * stats.multivariate_normal(gmix.params["mean"][k], gmix.params["cov"][k]).pdf(x)
            for k in range(3)
        ],
        axis=1,
    )
    np.testing.assert_array_equal(gmix.predict(x), joint.argmax(axis=1))
    np.testing.assert_allclose(gmix.responsibilities(x), joint / joint.sum(axis=1, keepdims=True), rtol=1e-10)


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "weights, params, exc, match",
    [
        ([0.5, 0.6], {"rate": [1.0, 2.0]}, ValueError, "weights must sum to 1"),
        ([1.2, -0.2], {"rate": [1.0, 2.0]}, ValueError, r"weights must be non-negative; weights\[1\]"),
        ([0.5, np.nan], {"rate": [1.0, 2.0]}, ValueError, "weights must be finite"),
        ([[0.5, 0.5]], {"rate": [1.0, 2.0]}, ValueError, "weights must be 1-dimensional"),
        ([0.5, 0.5], {"rate": [1.0, 2.0, 3.0]}, ValueError, "leading component axis of length 2"),
        ([0.5, 0.5], {"rate": [1.0, -2.0]}, ValueError, "rate must be > 0"),
        ([0.5, 0.5], {"lam": [1.0, 2.0]}, ValueError, "must have keys"),
        ([0.5, 0.5], [1.0, 2.0], TypeError, "params must be a mapping"),
        (["a", "b"], {"rate": [1.0, 2.0]}, TypeError, "weights must be numeric"),
    ],
)
def test_bad_input_names_the_argument(weights, params, exc, match):
    with pytest.raises(exc, match=match):
        ma.MixingDistribution("poisson", weights, params)


def test_bad_gaussian_input():
    with pytest.raises(ValueError, match=r"params is not a valid Gaussian\(d=2\).*cov\[1\] is not positive definite"):
        ma.MixingDistribution(
            "gaussian", [0.5, 0.5], {"mean": np.zeros((2, 2)), "cov": [np.eye(2), [[1.0, 3.0], [3.0, 1.0]]]}
        )
    with pytest.raises(ValueError, match=r"params\['mean'\] must be finite"):
        ma.MixingDistribution("gaussian", [1.0], {"mean": [[np.inf, 0.0]], "cov": [np.eye(2)]})
    with pytest.raises(ValueError, match="unknown family"):
        ma.MixingDistribution("student", [1.0], {"mean": [0.0]})


def test_weight_tolerance_and_renormalisation():
    g = ma.MixingDistribution("poisson", [0.5, 0.5 + 5e-9], {"rate": [1.0, 2.0]})
    assert g.weights.sum() == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="sum to 1"):
        ma.MixingDistribution("poisson", [0.5, 0.5 + 1e-6], {"rate": [1.0, 2.0]})
    # float32 weights get the float32 tolerance
    w32 = np.array([0.3, 0.7], dtype=np.float32)
    assert ma.MixingDistribution("poisson", w32, {"rate": [1.0, 2.0]}).weights.dtype == np.float64


def test_single_component_without_component_axis():
    g = ma.MixingDistribution("gaussian", 1.0, {"mean": [0.0, 1.0], "cov": np.eye(2)})
    assert g.n_components == 1 and g.params["mean"].shape == (1, 2)


def test_immutable(gmix):
    with pytest.raises(AttributeError, match="immutable"):
        gmix.weights = np.ones(3) / 3
    with pytest.raises(ValueError, match="read-only"):
        gmix.weights[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        gmix.params["mean"][0, 0] = 5.0
    with pytest.raises(TypeError):
        gmix.params["mean"] = None


# ------------------------------------------------------------------------ alignment, conversions


def test_permutation_alignment_and_vectorize(gmix):
    perm = np.array([2, 0, 1])
    shuffled = gmix.permute(perm)
    back = shuffled.permutation_to(gmix)
    assert shuffled.permute(back) == gmix
    np.testing.assert_array_equal(shuffled.vectorize(reference=gmix), gmix.vectorize())
    np.testing.assert_array_equal(shuffled.permutation_to(gmix, cost="d1"), back)
    # (K - 1) weights + K * (d + d(d+1)/2) parameters
    assert gmix.vectorize().shape == (2 + 3 * 5,)
    assert gmix.vectorize()[:2].tolist() == [0.2, 0.5]


def test_alignment_of_a_noisy_estimate(gmix, rng):
    noisy = ma.MixingDistribution(
        gmix.family,
        gmix.weights[[1, 2, 0]],
        {"mean": gmix.params["mean"][[1, 2, 0]] + rng.normal(0, 0.05, (3, 2)), "cov": gmix.params["cov"][[1, 2, 0]]},
    )
    np.testing.assert_array_equal(noisy.permutation_to(gmix), [2, 0, 1])


def test_alignment_errors(gmix):
    with pytest.raises(ValueError, match="reference has 2 components"):
        gmix.permutation_to(
            ma.MixingDistribution(gmix.family, [0.5, 0.5], {"mean": np.zeros((2, 2)), "cov": [np.eye(2)] * 2})
        )
    with pytest.raises(ValueError, match="family"):
        gmix.permutation_to(ma.MixingDistribution("poisson", [1.0], {"rate": [1.0]}))
    with pytest.raises(ValueError, match="cost must be one of"):
        gmix.permutation_to(gmix, cost="kl")
    with pytest.raises(ValueError, match="permutation"):
        gmix.permute([0, 0, 1])


def test_dict_round_trip_is_json_safe(gmix):
    data = gmix.to_dict()
    text = json.dumps(data)
    back = ma.MixingDistribution.from_dict(json.loads(text))
    assert back == gmix
    assert data["family"] == {"name": "gaussian", "d": 2}
    assert isinstance(data["weights"][0], float)
    assert as_mixture(data) == gmix


def test_r_style_input_with_family_name_and_scalars():
    # reticulate sends length-1 vectors as scalars and names as strings
    g = ma.MixingDistribution.from_dict({"family": "exponential", "weights": 1.0, "params": {"rate": 2.0}})
    assert g.n_components == 1 and g.params["rate"].tolist() == [2.0]
    with pytest.raises(ValueError, match="missing the entries"):
        ma.MixingDistribution.from_dict({"weights": [1.0]})


def test_pickle_round_trip(gmix):
    assert pickle.loads(pickle.dumps(gmix)) == gmix


def test_equality_and_repr(gmix):
    assert gmix == ma.MixingDistribution.from_dict(gmix.to_dict())
    assert gmix != gmix.permute([1, 0, 2])
    text = repr(gmix)
    assert text.startswith("MixingDistribution(family=Gaussian(d=2), weights=[0.2, 0.5, 0.3]")
    assert "cov=[[[ 1. ,  0.2]," in text  # small arrays in full
    big = ma.MixingDistribution("gaussian", [1.0], {"mean": np.zeros((1, 4)), "cov": [np.eye(4)]})
    assert "cov=<array 1x4x4>" in repr(big)  # large ones summarised
    assert gmix.validate() == []


def test_component_accessor(gmix):
    c = gmix.component(1)
    np.testing.assert_array_equal(c["mean"], [3.0, 1.0])
    with pytest.raises(ValueError):
        gmix.component(3)


def test_families_are_checked_for_equality_not_identity():
    a = ma.MixingDistribution(Gamma(), [1.0], {"shape": [2.0], "scale": [1.0]})
    b = ma.MixingDistribution("gamma", [1.0], {"shape": [2.0], "scale": [1.0]})
    assert a == b
    assert a != ma.MixingDistribution(Poisson(), [1.0], {"rate": [2.0]})


def test_posterior_outside_the_support_raises():
    g = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 3.0], "scale": [1.0, 1.0]})
    assert np.isneginf(g.logpdf(np.array([-1.0]))).all()
    with pytest.raises(ValueError, match=r"x\[1\] has density 0 under every component"):
        g.responsibilities(np.array([1.0, -1.0]))
    p = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [2.0, 3.0]})
    with pytest.raises(ValueError, match="outside the support"):
        p.predict(np.array([2.5]))


def test_untrusted_numbers_raise_value_or_type_errors():
    with pytest.raises(ValueError, match="too large for float64"):
        ma.MixingDistribution("poisson", [1.0], {"rate": [2**2000]})
    with pytest.raises(ValueError, match="too large for float64"):
        ma.MixingDistribution("poisson", [2**2000], {"rate": [1.0]})
    with pytest.raises(TypeError, match="booleans"):
        ma.MixingDistribution("poisson", [True], {"rate": [1.0]})
    with pytest.raises(TypeError, match="numeric"):
        ma.MixingDistribution("poisson", np.array([1.0]), {"rate": np.array([True])})


def test_univariate_gaussian_from_plain_vectors():
    g = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [0.0, 3.0], "cov": [1.0, 2.0]})
    assert g.family == Gaussian(1)
    x = np.array([-1.0, 0.5, 2.0])
    want = 0.5 * stats.norm.pdf(x, 0, 1) + 0.5 * stats.norm.pdf(x, 3, np.sqrt(2))
    np.testing.assert_allclose(g.pdf(x), want, rtol=1e-13)


def test_permutation_accepts_integral_floats(gmix):
    assert gmix.permute([2.0, 0.0, 1.0]) == gmix.permute([2, 0, 1])
    with pytest.raises(TypeError, match="integers"):
        gmix.permute([0.5, 1.0, 2.0])
