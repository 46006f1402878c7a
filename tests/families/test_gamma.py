"""Gamma family against scipy.stats, quadrature and reference values computed by hand (docs/families.md, "Gamma")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import digamma

from mixagg.families import Gamma
from mixagg.families.gamma import inverse_log_minus_digamma


def test_logpdf_matches_scipy(rng):
    fam = Gamma()
    shape = np.array([0.6, 1.0, 3.5, 40.0])
    scale = np.array([2.0, 0.5, 1.3, 0.1])
    x = rng.gamma(2.0, 2.0, size=(30, 1))
    got = fam.logpdf(x, {"shape": shape, "scale": scale})
    want = stats.gamma(shape, scale=scale).logpdf(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(np.isneginf(fam.logpdf(np.array([-1.0, 0.0]), {"shape": 2.0, "scale": 1.0})))


def test_product_integral_reference_value():
    # by the closed form of docs/families.md, "Closed forms of the shipped families":
    # Gamma (1.3, 2.0) x (3.1, 0.7) gives k = 0.198827
    k = np.exp(Gamma().log_product_integral({"shape": 1.3, "scale": 2.0}, {"shape": 3.1, "scale": 0.7}))
    assert abs(k - 0.198827) < 5e-7


@pytest.mark.parametrize(
    "ra, ba, rb, bb", [(1.3, 2.0, 3.1, 0.7), (0.6, 1.0, 0.7, 3.0), (8.0, 6.0, 30.0, 10.0), (1.0, 1.0, 1.0, 1.0)]
)
def test_product_integral_matches_quad(ra, ba, rb, bb):
    f = lambda t: stats.gamma.pdf(t, ra, scale=ba) * stats.gamma.pdf(t, rb, scale=bb)  # noqa: E731
    mid = max(ra * ba, rb * bb)
    want = sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=500)[0] for lo, hi in [(0, mid), (mid, np.inf)])
    got = np.exp(Gamma().log_product_integral({"shape": ra, "scale": ba}, {"shape": rb, "scale": bb}))
    assert abs(got / want - 1) < 1e-8


def test_divergent_product_integral_raises():
    fam = Gamma()
    with pytest.raises(ValueError, match=r"diverges.*shape > 1/2"):
        fam.log_product_integral({"shape": 0.4, "scale": 1.0}, {"shape": 0.5, "scale": 2.0})
    with pytest.raises(ValueError, match="diverges"):
        fam.log_product_integral({"shape": [0.3, 2.0], "scale": 1.0}, {"shape": 0.3, "scale": 1.0})
    # r_a + r_b > 1 is finite even with one shape below 1/2 (the pair, not each density, matters here)
    assert np.isfinite(fam.log_product_integral({"shape": 0.4, "scale": 1.0}, {"shape": 0.7, "scale": 1.0}))
    np.testing.assert_array_equal(
        fam.square_integrable({"shape": [0.4, 0.5, 0.51], "scale": 1.0}), [False, False, True]
    )


def test_kl_matches_quadrature():
    p0, p1 = stats.gamma(2.5, scale=1.5), stats.gamma(4.0, scale=0.6)
    want, _ = integrate.quad(lambda t: p0.pdf(t) * (p0.logpdf(t) - p1.logpdf(t)), 0, np.inf, epsrel=1e-12, limit=500)
    got = Gamma().kl_divergence({"shape": 2.5, "scale": 1.5}, {"shape": 4.0, "scale": 0.6})
    assert abs(got / want - 1) < 1e-9


@pytest.mark.parametrize("shape", [1e-3, 0.1, 0.5, 1.0, 7.5, 1e3, 2e3, 1e5, 1e8])
def test_inverse_mean_map_round_trip_over_extreme_shapes(shape):
    fam = Gamma()
    p = {"shape": shape, "scale": 0.37}
    eta = fam.expectation_from_params(p)
    back = fam.params_from_expectation(eta)
    # The map is ill-conditioned for large shapes: s = log(eta2) - eta1 ~ 1/(2r) is a difference of numbers of
    # size |eta1|, so storing eta alone perturbs s by ~eps * (|eta1| + |log eta2|), and r relatively by that / s.
    s = np.log(eta[1]) - eta[0]
    addends = abs(digamma(shape)) + abs(np.log(0.37)) + abs(np.log(eta[1]))
    tol = max(1e-12, 8 * np.finfo(float).eps * addends / s)
    assert abs(back["shape"] / shape - 1) < tol
    assert abs(back["scale"] / 0.37 - 1) < tol


def test_inverse_log_minus_digamma_solves_the_equation():
    from scipy.special import digamma

    r = np.exp(np.linspace(np.log(1e-4), np.log(900.0), 60))  # direct branch, no series
    s = np.log(r) - digamma(r)
    np.testing.assert_allclose(inverse_log_minus_digamma(s), r, rtol=1e-11)
    assert np.isnan(inverse_log_minus_digamma(np.array([0.0, -1.0]))).all()


def test_invalid_expectation_raises():
    # s = log(eta2) - eta1 must be positive (Jensen); here it is negative
    with pytest.raises(ValueError, match="interior of the mean space"):
        Gamma().natural_from_expectation([1.0, 2.0])


def test_weighted_mle_matches_scipy_fit(rng):
    x = rng.gamma(3.0, 2.0, size=4000)
    mle = Gamma().weighted_mle(x)
    a, _, scale = stats.gamma.fit(x, floc=0)
    assert abs(mle["shape"] / a - 1) < 1e-5
    assert abs(mle["scale"] / scale - 1) < 1e-5


@pytest.mark.parametrize(
    "params, match",
    [({"shape": -1.0, "scale": 1.0}, "shape must be > 0"), ({"shape": 1.0, "scale": 0.0}, "scale must be > 0")],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        Gamma().check_params(params)


@pytest.mark.parametrize("shape", [1.5, 1e4, 1e8, 1e10, 1e12])
def test_barycentre_of_identical_atoms_is_the_atom(shape):
    # docs/families.md, "Gamma": the expectation route loses ~eps*|eta1|/s relative accuracy (0.2% at r = 1e12)
    out = Gamma().barycentre({"shape": [shape, shape, shape], "scale": [0.7, 0.7, 0.7]}, [0.2, 0.5, 0.3])
    assert abs(out["shape"] / shape - 1) < 1e-12
    assert abs(out["scale"] / 0.7 - 1) < 1e-12


@pytest.mark.parametrize("spread", [0.3, 1e-3, 1e-5])
def test_weighted_mle_matches_high_precision_reference(spread):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    rng = np.random.default_rng(17)
    x = 1e6 * np.exp(spread * rng.standard_normal(400))  # nearly equal data: huge shape
    w = rng.uniform(0.5, 2.0, 400)
    xs = [mpmath.mpf(float(v)) for v in x]
    ws = [mpmath.mpf(float(v)) for v in w]
    total = mpmath.fsum(ws)
    s = (
        mpmath.log(mpmath.fsum(wi * xi for wi, xi in zip(ws, xs)) / total)
        - mpmath.fsum(wi * mpmath.log(xi) for wi, xi in zip(ws, xs)) / total
    )
    r_ref = mpmath.findroot(lambda r: mpmath.log(r) - mpmath.digamma(r) - s, 1 / (2 * s))
    mle = Gamma().weighted_mle(x, w)
    assert abs(mle["shape"] / float(r_ref) - 1) < 1e-9
    mean = mpmath.fsum(wi * xi for wi, xi in zip(ws, xs)) / total
    assert abs(mle["scale"] / float(mean / r_ref) - 1) < 1e-9


def test_weighted_mle_of_constant_data_raises():
    with pytest.raises(ValueError, match="MLE does not exist"):
        Gamma().weighted_mle(np.full(6, 2.5))
