"""The family contract, checked generically over every built-in family."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma

from mixagg.families import Bernoulli, Categorical, Exponential, Gamma, Gaussian, Poisson


def test_batched_shapes_broadcast(family, rng):
    params = family.random_params((2, 3), rng)
    assert family.batch_shape(params) == (2, 3)
    theta = family.natural_from_params(params)
    assert theta.shape == (2, 3, family.n_natural)
    x = family.sample(params, size=4, rng=rng)
    assert x.shape == (4, 2, 3) + family.event_shape
    # every draw against every component: x_batch (4, 1, 1) vs params (2, 3)
    xb = x[:, :1, :1]
    assert family.logpdf(xb, params).shape == (4, 2, 3)
    a = family.take(params, (slice(None), 0))
    assert family.kl_divergence(family.expand(a, 1), family.expand(a, 0)).shape == (2, 2)
    assert family.ground_distance(a, a).shape == (2,)
    assert family.mean(params).shape == (2, 3) + family.event_shape


def test_params_vector_round_trip(family, rng):
    params = family.random_params(4, rng)
    vec = family.params_to_vector(params)
    assert vec.shape == (4, family.n_params)
    back = family.params_from_vector(vec)
    for key in params:
        np.testing.assert_allclose(back[key], params[key], rtol=1e-15)
    with pytest.raises(ValueError, match="vector must have shape"):
        family.params_from_vector(vec[:, :-1])


def test_log_partition_is_infinite_outside_the_domain(family):
    theta = np.full((1, family.n_natural), 5.0)
    theta_out = theta  # positive precision-diagonal coordinates / non-negative rate coordinates
    if isinstance(family, (Poisson, Bernoulli, Categorical)):  # every real theta is valid
        assert np.isfinite(family.log_partition(theta)).all()
        return
    inside = family.in_natural_domain(theta_out)
    assert not inside.any()
    assert np.isposinf(family.log_partition(theta_out)).all()
    with pytest.raises(ValueError, match="outside the natural parameter space"):
        family.params_from_natural(theta_out)


def test_observation_validation(family):
    params = family.random_params(1, 0)
    bad_shape = np.zeros((3, family.n_features + 1))
    if len(family.event_shape) == 1 and family.n_features > 1:
        with pytest.raises(ValueError, match="x must have shape"):
            family.logpdf(bad_shape, params)
    with pytest.raises(ValueError, match="finite"):
        family.logpdf(np.full((2,) + family.event_shape, np.nan), params)
    with pytest.raises(TypeError, match="numeric"):
        family.logpdf(np.array(["a"]), params)


def test_masses_validation(family, rng):
    params = family.random_params(3, rng)
    with pytest.raises(ValueError, match="non-negative"):
        family.barycentre(params, [0.5, -0.1, 0.6])
    with pytest.raises(ValueError, match="positive sum"):
        family.barycentre(params, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        family.barycentre(params, [0.5, 0.5])


def test_public_methods_validate_params(family):
    bad = {k: np.full((1,) + s.shape, np.nan) for k, s in family.param_spec.items()}
    for method in (family.natural_from_params, family.expectation_from_params, family.mean):
        with pytest.raises(ValueError):
            method(bad)
    with pytest.raises(ValueError):
        family.kl_divergence(bad, bad)
    with pytest.raises(ValueError):
        family.log_product_integral(bad, bad)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.floats(0.51, 5e3),
    scale=st.floats(1e-3, 1e3),
    shape2=st.floats(0.51, 5e3),
    scale2=st.floats(1e-3, 1e3),
)
def test_gamma_round_trips_and_kl_properties(shape, scale, shape2, scale2):
    fam = Gamma()
    p, q = {"shape": shape, "scale": scale}, {"shape": shape2, "scale": scale2}
    theta = fam.natural_from_params(p)
    eta = fam.expectation_from_natural(theta)
    # s = log(eta2) - eta1 with eta1 = digamma(r) + log(beta): its rounding is eps times the addends' sizes
    s = np.log(eta[1]) - eta[0]
    addends = abs(digamma(shape)) + abs(np.log(scale)) + abs(np.log(eta[1]))
    tol = max(1e-12, 16 * np.finfo(float).eps * addends / s)
    assert abs(fam.params_from_expectation(eta)["shape"] / shape - 1) < tol
    assert fam.kl_divergence(p, q) >= 0
    assert fam.kl_divergence(p, p) == 0
    assert np.isfinite(fam.log_product_integral(p, q))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_gaussian_round_trips(d, seed):
    fam = Gaussian(d)
    rng = np.random.default_rng(seed)
    params = fam.random_params(2, rng)
    theta = fam.natural_from_params(params)
    back = fam.natural_from_expectation(fam.expectation_from_natural(theta))
    np.testing.assert_allclose(back, theta, rtol=1e-8, atol=1e-10)
    kl = fam.kl_divergence(fam.take(params, 0), fam.take(params, 1))
    assert kl > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=6))
def test_rate_families_are_symmetric_in_product_integral(rates):
    for fam in (Poisson(), Exponential()):
        r = np.array(rates)
        p = {"rate": r}
        m = fam.log_product_integral(fam.expand(p, 1), fam.expand(p, 0))
        np.testing.assert_allclose(m, m.T, rtol=1e-13)
        # Cauchy-Schwarz: k(a,b)^2 <= k(a,a) k(b,b)
        d = np.diag(m)
        assert np.all(2 * m <= d[:, None] + d[None, :] + 1e-12)


def test_family_instances_are_immutable(family):
    with pytest.raises(AttributeError, match="immutable"):
        family.n_natural = 3
    with pytest.raises(TypeError):
        family.param_spec["extra"] = None
    assert hash(family) == hash(type(family)(**family.settings()))
