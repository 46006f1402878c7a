"""Poisson and Exponential families against scipy.stats, series sums and quadrature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from mixagg.families import Exponential, Poisson


def test_poisson_logpmf_matches_scipy():
    x = np.arange(0, 40, dtype=float)[:, None]
    rate = np.array([0.3, 4.0, 25.0])
    got = Poisson().logpdf(x, {"rate": rate})
    np.testing.assert_allclose(got, stats.poisson(rate).logpmf(x), rtol=1e-12)
    assert np.all(np.isneginf(Poisson().logpdf(np.array([-1.0, 2.5]), {"rate": 3.0})))


def test_poisson_product_integral_reference_value():
    # by the closed form of docs/families.md, "Closed forms of the shipped families":
    # Poisson 3.2 x 5.7 gives k = 0.096895
    k = np.exp(Poisson().log_product_integral({"rate": 3.2}, {"rate": 5.7}))
    assert abs(k - 0.096895) < 5e-7


@pytest.mark.parametrize("la, lb", [(3.2, 5.7), (0.01, 0.02), (1.0, 80.0), (500.0, 520.0), (2000.0, 2000.0)])
def test_poisson_product_integral_matches_series(la, lb):
    x = np.arange(0, int(max(la, lb) * 3 + 200))
    terms = stats.poisson.logpmf(x, la) + stats.poisson.logpmf(x, lb)
    want = np.log(np.sum(np.exp(terms - terms.max()))) + terms.max()
    got = Poisson().log_product_integral({"rate": la}, {"rate": lb})
    assert abs(np.exp(got - want) - 1) < 1e-10


def test_poisson_kl_matches_series():
    x = np.arange(0, 200)
    p0, p1 = stats.poisson.pmf(x, 4.2), stats.poisson.pmf(x, 7.5)
    want = np.sum(p0 * (np.log(p0) - np.log(p1)))
    assert abs(Poisson().kl_divergence({"rate": 4.2}, {"rate": 7.5}) / want - 1) < 1e-10


def test_poisson_weighted_mle_and_degenerate_data():
    x = np.array([0.0, 2.0, 5.0, 1.0])
    w = np.array([1.0, 2.0, 0.0, 3.0])
    assert Poisson().weighted_mle(x, w)["rate"] == pytest.approx(np.average(x, weights=w), rel=1e-14)
    with pytest.raises(ValueError, match="mean space"):
        Poisson().weighted_mle(np.zeros(5))
    with pytest.raises(ValueError, match="outside the support"):
        Poisson().weighted_mle(np.array([1.0, 2.5]))


def test_exponential_logpdf_matches_scipy():
    x = np.linspace(0, 5, 11)[:, None]
    rate = np.array([0.2, 1.0, 7.0])
    np.testing.assert_allclose(
        Exponential().logpdf(x, {"rate": rate}), stats.expon(scale=1 / rate).logpdf(x), rtol=1e-13
    )
    assert np.isneginf(Exponential().logpdf(-0.1, {"rate": 1.0}))


@pytest.mark.parametrize("la, lb", [(0.3, 2.0), (5.0, 5.0), (1e-3, 50.0)])
def test_exponential_product_integral_matches_quad(la, lb):
    f = lambda t: stats.expon.pdf(t, scale=1 / la) * stats.expon.pdf(t, scale=1 / lb)  # noqa: E731
    want, _ = integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=500)
    got = np.exp(Exponential().log_product_integral({"rate": la}, {"rate": lb}))
    assert abs(got / want - 1) < 1e-8


def test_exponential_kl_matches_quad():
    p0, p1 = stats.expon(scale=1 / 0.7), stats.expon(scale=1 / 2.2)
    want, _ = integrate.quad(lambda t: p0.pdf(t) * (p0.logpdf(t) - p1.logpdf(t)), 0, np.inf, epsrel=1e-12)
    assert abs(Exponential().kl_divergence({"rate": 0.7}, {"rate": 2.2}) / want - 1) < 1e-10


def test_exponential_barycentre_is_harmonic_mean_of_rates():
    # docs/families.md, "Exponential": 1/lambda* = sum pi / lambda / Pi
    rates = np.array([0.5, 2.0, 4.0])
    pi = np.array([0.2, 0.5, 0.3])
    bar = Exponential().barycentre({"rate": rates}, pi)
    assert bar["rate"] == pytest.approx(1 / np.sum(pi / rates), rel=1e-14)
