"""GeneralizedChiSquared against scipy.stats, x-space quadrature and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from mixagg.theory import GeneralizedChiSquared


@pytest.mark.parametrize(
    "w, h, nc", [(1.0, 1, 0.0), (0.7, 1, 2.5), (2.0, 3, 0.0), (-1.5, 1, 1.0), (0.3, 4, 7.0), (-2.0, 2, 0.0)]
)
def test_one_term_is_scipys_chi2(w, h, nc):
    law = GeneralizedChiSquared([w], dof=h, noncentrality=nc)
    x = np.sign(w) * np.linspace(0.01, 40 * abs(w), 60)
    ref = stats.ncx2(h, nc) if nc else stats.chi2(h)
    want = ref.cdf(x / w) if w > 0 else ref.sf(x / w)
    np.testing.assert_allclose(law.cdf(x), want, atol=1e-10)
    np.testing.assert_allclose(law.sf(x), 1 - want, atol=1e-10)
    dens = ref.pdf(x / w) / abs(w)
    np.testing.assert_allclose(law.pdf(x), dens, rtol=1e-7, atol=1e-10)


def test_reference_values_of_math_section_9_6():
    law = GeneralizedChiSquared([3, 1, 0.5, 0.2, 0.05])
    np.testing.assert_allclose(law.sf([0.5, 2, 5, 10, 20]), [0.9651, 0.7035, 0.3327, 0.1069, 0.01456], atol=6e-5)


def _convolution_cdf(x, w1, h1, nc1, rest_cdf):
    """P(w1 X1 + R <= x) = int P(R <= x - w1 s) f_X1(s) ds by adaptive quadrature in x-space (independent of Imhof)."""
    dens = stats.ncx2(h1, nc1).pdf if nc1 else stats.chi2(h1).pdf
    pieces = [(0, 1), (1, 10), (10, 60), (60, np.inf)]
    return sum(
        integrate.quad(lambda s: rest_cdf(x - w1 * s) * dens(s), a, b, epsabs=1e-14, epsrel=1e-13, limit=500)[0]
        for a, b in pieces
    )


@pytest.mark.parametrize(
    "w, h, nc, sd",
    [
        ((1.0, 0.5), (1, 1), (0.0, 0.0), 0.0),
        ((1.0, -0.8), (1, 1), (0.0, 0.0), 0.0),
        ((2.0, 0.3), (1, 2), (1.5, 0.0), 0.0),
        ((-1.0, 0.6), (1, 1), (0.5, 2.0), 0.0),
        ((1.5, -0.5), (1, 3), (0.0, 1.0), 0.0),
        ((1.0,), (1,), (0.7,), 0.8),
    ],
)
def test_two_term_cdf_matches_high_precision_quadrature(w, h, nc, sd):
    """Two independent terms: P(w1 X1 + R <= x) by x-space quadrature against the closed-form cdf of R."""
    law = GeneralizedChiSquared(w, dof=h, noncentrality=nc, normal_sd=sd)
    if len(w) == 2:
        ref2 = stats.ncx2(h[1], nc[1]) if nc[1] else stats.chi2(h[1])

        def rest(y):
            return ref2.cdf(y / w[1]) if w[1] > 0 else ref2.sf(y / w[1])
    else:

        def rest(y):
            return stats.norm.cdf(y / sd)

    xs = law.mean() + law.std() * np.array([-1.5, -0.5, 0.0, 0.7, 2.0])
    want = [_convolution_cdf(x, w[0], h[0], nc[0], rest) for x in xs]
    np.testing.assert_allclose(law.cdf(xs), want, atol=1e-8)


@pytest.mark.parametrize(
    "w, h, nc, sd, c",
    [
        ([3, 1, 0.5, 0.2, 0.05], 1, 0.0, 0.0, 0.0),
        ([1.0, -0.7, 0.4], [1, 2, 1], [0.0, 1.5, 3.0], 0.0, 0.0),
        ([2.0, -1.0], 1, [1.0, 0.5], 1.3, -2.0),
        ([-0.5, -0.2, 1.5], [3, 1, 1], 0.0, 0.5, 1.0),
    ],
)
def test_matches_a_million_monte_carlo_draws(w, h, nc, sd, c):
    law = GeneralizedChiSquared(w, dof=h, noncentrality=nc, normal_sd=sd, offset=c)
    draws = np.sort(law.rvs(1_000_000, rng=np.random.default_rng(1)))
    grid = np.linspace(draws[0], draws[-1], 3000)
    cdf = np.interp(draws, grid, law.cdf(grid))  # the cdf is smooth: interpolation error << 1e-4
    n = draws.size
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert stats.kstwo.sf(ks, n) > 0.01
    assert abs(draws.mean() - law.mean()) < 5 * law.std() / np.sqrt(n)
    assert abs(draws.var() / law.var() - 1) < 5 * np.sqrt(2 / n) * 3


def test_monotone_cdf_and_quantiles_invert_it():
    for law in (
        GeneralizedChiSquared([0.2, 0.9, 0.05], noncentrality=[0, 1, 0]),
        GeneralizedChiSquared([1.0, -0.8]),
        GeneralizedChiSquared([0.5, -2.0], normal_sd=0.3, offset=4),
    ):
        x = np.linspace(law.mean() - 6 * law.std(), law.mean() + 6 * law.std(), 200)
        c = law.cdf(x)
        assert np.all(np.diff(c) >= -1e-12) and np.all((c >= 0) & (c <= 1))
        p = np.array([1e-4, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.9999])
        q = law.ppf(p)
        np.testing.assert_allclose(law.cdf(q[:5]), p[:5], atol=1e-10)
        np.testing.assert_allclose(law.sf(q[5:]), 1 - p[5:], atol=1e-10)
        inner = x[(c > 1e-6) & (c < 1 - 1e-6)]
        np.testing.assert_allclose(law.ppf(law.cdf(inner)), inner, rtol=1e-7, atol=1e-7 * law.std())


def test_support_edges_and_pdf():
    law = GeneralizedChiSquared([1.0, 0.5])
    assert law.cdf(0.0) == 0.0 and law.cdf(-1.0) == 0.0 and law.ppf(0.0) == 0.0
    neg = GeneralizedChiSquared([-1.0, -0.5])
    assert neg.sf(0.0) == 0.0 and neg.ppf(1.0) == 0.0
    one = GeneralizedChiSquared([1.0])
    assert one.pdf(0.0) == np.inf
    law = GeneralizedChiSquared([1.0, -0.6, 0.3], noncentrality=[0.5, 0, 1.0], normal_sd=0.2)
    x = np.linspace(-8, 12, 41)
    h = 1e-4
    numeric = (law.cdf(x + h) - law.cdf(x - h)) / (2 * h)
    np.testing.assert_allclose(law.pdf(x), numeric, atol=1e-6)
    nodes, weights = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(-30, 60, 91)  # the density is smooth (normal term): 40-point Gauss-Legendre per unit panel
    t = (0.5 * (edges[:-1, None] + edges[1:, None]) + 0.5 * np.diff(edges)[:, None] * nodes).ravel()
    total = float(np.sum(law.pdf(t) * np.tile(weights, 90) * 0.5))
    assert abs(total - 1) < 1e-8
    assert GeneralizedChiSquared([1.0, 1.0]).pdf(0.0) == pytest.approx(0.5)  # chi2_2 / 1: density 1/2 at 0
    assert GeneralizedChiSquared([2.0, 0.5]).pdf(0.0) == pytest.approx(1 / (2 * np.sqrt(2.0 * 0.5)))
    assert GeneralizedChiSquared([1.0], dof=3).pdf(0.0) == 0.0


def test_scaled_and_errors():
    law = GeneralizedChiSquared([1.0, 0.5], normal_sd=0.2, offset=1.0)
    twice = law.scaled(-2.0)
    x = np.array([-3.0, 0.0, 2.0])
    np.testing.assert_allclose(twice.cdf(-2.0 * x), law.sf(x), atol=1e-10)
    assert twice.mean() == pytest.approx(-2 * law.mean()) and twice.var() == pytest.approx(4 * law.var())
    with pytest.raises(ValueError, match="dof must be positive"):
        GeneralizedChiSquared([1.0], dof=0)
    with pytest.raises(ValueError, match="noncentrality must be non-negative"):
        GeneralizedChiSquared([1.0], noncentrality=-1)
    with pytest.raises(ValueError, match="normal_sd"):
        GeneralizedChiSquared([1.0], normal_sd=-1)
    with pytest.raises(ValueError, match="point mass"):
        GeneralizedChiSquared([0.0])
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        law.ppf(1.5)


def test_imhof_integral_matches_scipy_quad_on_a_spread_spectrum():
    """The vectorised adaptive head against ``scipy.integrate.quad`` of Imhof's formula, point by point.

    Eleven central terms with eigenvalues spread over two decades (a typical
    distance law): ``quad`` on many sub-intervals of [0, U], U from the truncation bound.
    """
    lam = np.geomspace(1.0, 0.01, 11)
    law = GeneralizedChiSquared(lam)
    x = np.array([0.05, 0.4, 1.0, 2.5, 6.0, 12.0])
    upper = law.sf(x)

    def integrand(u, xi):
        if u == 0.0:
            return 0.5 * (lam.sum() - xi)
        phase = 0.5 * np.sum(np.arctan(lam * u)) - 0.5 * xi * u
        return np.sin(phase) / (u * np.prod((1 + (lam * u) ** 2) ** 0.25))

    u_max = (1e-13 * 5.5 * np.prod(np.sqrt(lam))) ** (-1 / 5.5)  # tail of the envelope below 1e-13
    edges = np.concatenate([[0.0], np.geomspace(1e-2, u_max, 400)])
    for xi, value in zip(x, upper):
        integral = sum(
            integrate.quad(integrand, a, b, args=(xi,), epsabs=1e-15, epsrel=1e-13, limit=200)[0]
            for a, b in zip(edges[:-1], edges[1:])
        )
        assert abs(value - (0.5 + integral / np.pi)) < 1e-10


def test_a_normal_term_alone_and_shape_errors():
    law = GeneralizedChiSquared([], normal_sd=2.0, offset=1.0)
    x = np.array([-4000.0, -3.0, 1.0, 2.5, 4000.0])
    np.testing.assert_allclose(law.cdf(x), stats.norm.cdf(x, 1.0, 2.0), atol=1e-10)
    np.testing.assert_allclose(law.pdf(x), stats.norm.pdf(x, 1.0, 2.0), atol=1e-10)
    with pytest.raises(ValueError, match="dof"):
        GeneralizedChiSquared([1.0, 2.0], dof=[1, 2, 3])
    with pytest.raises(ValueError, match="noncentrality"):
        GeneralizedChiSquared([1.0, 2.0], noncentrality=[[1.0, 2.0]])


@pytest.mark.parametrize(
    "law",
    [
        GeneralizedChiSquared([-0.5, 1.0], noncentrality=[1.0, 2.0]),  # MixSim quirk q01: evaluated at t = 0 alone
        GeneralizedChiSquared([1.0]),
        GeneralizedChiSquared([0.3, 0.01], normal_sd=0.2),
        GeneralizedChiSquared(np.geomspace(1.0, 0.01, 11)),
    ],
)
def test_one_point_alone_equals_the_same_point_in_a_batch(law):
    """A lone point takes the single-frequency path (the head runs to the truncation point, ~1e13 for H = 1):
    the integrand's peak near 0 must still be resolved."""
    grid = np.linspace(law.mean() - 2 * law.std(), law.mean() + 2 * law.std(), 7)
    batch = law.cdf(grid)
    for x, value in zip(grid, batch):
        assert abs(float(law.cdf(x)) - value) < 1e-10
    assert abs(float(law.cdf(0.0)) - float(np.mean(law.rvs(400_000, rng=3) <= 0.0))) < 5 * 0.5 / np.sqrt(400_000)
