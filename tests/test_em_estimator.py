"""MixtureEM: the scikit-learn estimator API (parametrize_with_checks and behaviour)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixagg as ma
from mixagg import MixtureEM


def _expected_failures(estimator):
    if estimator.penalty == "auto":
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the check fits 15 samples in 30 dimensions, where the Chen-Tan penalty is undefined (singular "
                "sample covariance); fit_mixture raises a ValueError recommending penalty=None with reg > 0"
            )
        }
    return {}


@parametrize_with_checks(
    [MixtureEM(), MixtureEM(n_components=2, penalty=None, random_state=0)], expected_failed_checks=_expected_failures
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_singular_sample_covariance_error_recommends_the_unpenalised_fit():
    x = np.random.default_rng(0).random((15, 30))
    with pytest.raises(ValueError, match="sample covariance of X is singular.*penalty=None with reg > 0"):
        MixtureEM().fit(x)
    with pytest.warns(UserWarning, match="boundary imposed by the regulariser"):  # 15 points span 14 dimensions
        assert MixtureEM(penalty=None).fit(x).converged_


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(0, 1, (400, 2)), rng.normal([6, 2], 0.8, (600, 2))]


def test_fit_predict_and_attributes(data):
    est = MixtureEM(n_components=2, n_init=2, random_state=0).fit(data)
    mix = est.to_mixture()
    assert isinstance(mix, ma.FittedMixture) and est.mixture_ is mix
    np.testing.assert_array_equal(est.weights_, mix.weights)
    assert est.params_["mean"].shape == (2, 2) and est.n_features_in_ == 2
    assert est.converged_ and est.n_iter_ == mix.n_iter
    assert est.lower_bound_ == est.lower_bounds_[-1] == pytest.approx(mix.objective / 1000)
    np.testing.assert_array_equal(est.predict(data), mix.predict(data))
    np.testing.assert_allclose(est.predict_proba(data), mix.responsibilities(data))
    np.testing.assert_allclose(est.score_samples(data), mix.logpdf(data))
    assert est.score(data) == pytest.approx(np.mean(mix.logpdf(data)))
    np.testing.assert_array_equal(est.fit_predict(data), est.predict(data))


def test_information_criteria(data):
    est = MixtureEM(n_components=2, random_state=0).fit(data)
    ll = est.score_samples(data).sum()
    n_params = 1 + 2 * (2 + 3)  # K - 1 weights, K * (mean + vech cov)
    assert est.bic(data) == pytest.approx(-2 * ll + n_params * np.log(1000))
    assert est.aic(data) == pytest.approx(-2 * ll + 2 * n_params)
    # BIC prefers the true number of components
    bics = [MixtureEM(n_components=k, n_init=2, random_state=0).fit(data).bic(data) for k in (1, 2, 3)]
    assert int(np.argmin(bics)) == 1


def test_sample_returns_data_and_labels(data):
    est = MixtureEM(n_components=2, random_state=0).fit(data)
    x, y = est.sample(500)
    assert x.shape == (500, 2) and y.shape == (500,) and set(np.unique(y)) <= {0, 1}
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        est.sample(0)


def test_other_families_and_params_round_trip():
    rng = np.random.default_rng(1)
    counts = np.r_[rng.poisson(2, 300), rng.poisson(15, 300)].reshape(-1, 1)
    est = MixtureEM(family="poisson", n_components=2, n_init=2, random_state=0).fit(counts)
    assert sorted(np.round(est.params_["rate"]).tolist()) == [2.0, 15.0]
    params = est.get_params()
    assert params["family"] == "poisson" and params["n_components"] == 2
    twin = clone(est).set_params(n_init=3)
    assert twin.n_init == 3 and not hasattr(twin, "mixture_")
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples,\)"):
        MixtureEM(family="poisson").fit(np.ones((10, 2)))


def test_sample_weight_and_reproducibility(data):
    w = np.random.default_rng(2).integers(0, 3, size=1000).astype(float)
    a = MixtureEM(n_components=2, random_state=3).fit(data, sample_weight=w)
    b = MixtureEM(n_components=2, random_state=3).fit(data, sample_weight=w)
    assert a.mixture_ == b.mixture_
    assert a.score(data, sample_weight=w) == pytest.approx(np.average(a.score_samples(data), weights=w))


def test_unfitted_estimator_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MixtureEM().predict(np.zeros((3, 2)))


def test_random_state_conventions(data):
    a = MixtureEM(n_components=2, random_state=np.random.RandomState(0)).fit(data)
    assert a.converged_
    b = MixtureEM(n_components=2, random_state=np.random.default_rng(0)).fit(data)
    assert b.converged_
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(1000,\)"):
        a.score(data, sample_weight=np.ones(3))
