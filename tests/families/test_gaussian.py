"""Gaussian family against scipy.stats, quadrature and the explicit formulas of docs/families.md, "Gaussian"."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, linalg, stats

from mixagg.families import Gaussian


def spd(rng, d, n=None, cond=None):
    shape = (d, d) if n is None else (n, d, d)
    a = rng.normal(size=shape)
    out = a @ np.swapaxes(a, -1, -2) / d + 0.3 * np.eye(d)
    return 0.5 * (out + np.swapaxes(out, -1, -2))


@pytest.mark.parametrize("d", [1, 2, 4])
def test_logpdf_matches_scipy(rng, d):
    fam = Gaussian(d)
    mean = rng.normal(size=(3, d))
    cov = spd(rng, d, 3)
    x = rng.normal(size=(50, d)) * 2
    got = fam.logpdf(x[:, None, :], {"mean": mean, "cov": cov})
    want = np.stack([stats.multivariate_normal(mean[k], cov[k]).logpdf(x) for k in range(3)], axis=1)
    assert got.shape == (50, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_univariate_accepts_flat_observations():
    fam = Gaussian(1)
    p = {"mean": [1.5], "cov": [[2.0]]}
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(fam.logpdf(x, p), stats.norm(1.5, np.sqrt(2.0)).logpdf(x), rtol=1e-13)


def test_univariate_coordinates_match_math_section_2_7b(rng):
    fam = Gaussian(1)
    mu, s2 = -0.7, 2.3
    theta = fam.natural_from_params({"mean": [mu], "cov": [[s2]]})
    np.testing.assert_allclose(theta, [mu / s2, -1 / (2 * s2)], rtol=1e-14)
    np.testing.assert_allclose(fam.log_partition(theta), mu**2 / (2 * s2) + 0.5 * np.log(s2), rtol=1e-14)
    np.testing.assert_allclose(fam.expectation_from_natural(theta), [mu, mu**2 + s2], rtol=1e-14)
    m1, s1 = 0.4, 0.8
    kl = fam.kl_divergence({"mean": [mu], "cov": [[s2]]}, {"mean": [m1], "cov": [[s1]]})
    want = np.log(np.sqrt(s1) / np.sqrt(s2)) + (s2 + (mu - m1) ** 2) / (2 * s1) - 0.5
    np.testing.assert_allclose(kl, want, rtol=1e-13)


def test_natural_layout_pairs_offdiagonal_once():
    # theta.T(x) must equal mu' P x - x' P x / 2 for the vech layout of docs/families.md, "Symmetric matrices and vech"
    fam = Gaussian(3)
    rng = np.random.default_rng(1)
    cov = spd(rng, 3)
    mean = rng.normal(size=3)
    x = rng.normal(size=3)
    theta = fam.natural_from_params({"mean": mean, "cov": cov})
    prec = np.linalg.inv(cov)
    want = mean @ prec @ x - 0.5 * x @ prec @ x
    np.testing.assert_allclose(theta @ fam.sufficient_stats(x), want, rtol=1e-12)


@pytest.mark.parametrize("d", [1, 3])
def test_kl_matches_monte_carlo_from_scipy_draws(d):
    rng = np.random.default_rng(7)
    fam = Gaussian(d)
    m0, m1 = rng.normal(size=d), rng.normal(size=d)
    c0, c1 = spd(rng, d), spd(rng, d)
    p0 = stats.multivariate_normal(m0, c0)
    p1 = stats.multivariate_normal(m1, c1)
    x = p0.rvs(size=200_000, random_state=rng).reshape(-1, d)
    ratio = p0.logpdf(x) - p1.logpdf(x)
    se = ratio.std(ddof=1) / np.sqrt(ratio.size)
    kl = float(fam.kl_divergence({"mean": m0, "cov": c0}, {"mean": m1, "cov": c1}))
    assert abs(ratio.mean() - kl) < 4 * se


def test_product_integral_matches_quad_1d(rng):
    fam = Gaussian(1)
    for _ in range(5):
        ma, mb = rng.normal(0, 2, 2)
        va, vb = np.exp(rng.normal(0, 0.7, 2))
        want, _ = integrate.quad(
            lambda t: stats.norm.pdf(t, ma, np.sqrt(va)) * stats.norm.pdf(t, mb, np.sqrt(vb)),
            -np.inf,
            np.inf,
            epsabs=0,
            epsrel=1e-12,
            points=None,
        )
        got = np.exp(fam.log_product_integral({"mean": [ma], "cov": [[va]]}, {"mean": [mb], "cov": [[vb]]}))
        assert abs(got / want - 1) < 1e-8


def test_product_integral_matches_dblquad_2d():
    rng = np.random.default_rng(3)
    fam = Gaussian(2)
    for _ in range(3):
        ma, mb = rng.normal(0, 1, (2, 2))
        ca, cb = spd(rng, 2), spd(rng, 2)
        fa, fb = stats.multivariate_normal(ma, ca), stats.multivariate_normal(mb, cb)
        lo, hi = -12, 12
        want, _ = integrate.dblquad(
            lambda y, x: fa.pdf([x, y]) * fb.pdf([x, y]), lo, hi, lo, hi, epsabs=1e-13, epsrel=1e-10
        )
        got = np.exp(fam.log_product_integral({"mean": ma, "cov": ca}, {"mean": mb, "cov": cb}))
        assert abs(got / want - 1) < 1e-8


@pytest.mark.parametrize("d", [1, 2, 5, 10])
def test_compiled_pairs_kernel_matches_numpy_reference(d):
    rng = np.random.default_rng(d)
    fam = Gaussian(d)
    n = 40
    mean = rng.normal(0, 3, (n, d))
    cov = spd(rng, d, n)
    cov[0] = np.eye(d) * 1e-7 + 1e-9 * spd(rng, d)  # nearly singular (Byzantine-like)
    cov[1] = np.eye(d) * 1e6
    ia, ib = np.triu_indices(n)
    p = {"mean": mean, "cov": cov}
    fast = fam.log_product_integral_pairs(p, ia, ib)
    ref = fam.log_product_integral(fam.take(p, ia), fam.take(p, ib))
    np.testing.assert_allclose(fast, ref, rtol=1e-11, atol=1e-11)


def test_barycentre_is_the_moment_matching_projection(rng):
    # The KL barycentre has the mean and covariance of the sub-mixture sum_g pi_g f_g / Pi
    # (docs/families.md, "KL barycentre (moment matching)");
    # computed here by the law of total variance, one atom at a time.
    fam = Gaussian(3)
    mean = rng.normal(size=(4, 3))
    cov = spd(rng, 3, 4)
    pi = np.array([0.1, 0.4, 0.2, 0.3]) * 2.5
    bar = fam.barycentre({"mean": mean, "cov": cov}, pi)
    w = pi / pi.sum()
    mu = sum(w[g] * mean[g] for g in range(4))
    sig = sum(w[g] * (cov[g] + np.outer(mean[g] - mu, mean[g] - mu)) for g in range(4))
    np.testing.assert_allclose(bar["mean"], mu, rtol=1e-13)
    np.testing.assert_allclose(bar["cov"], sig, rtol=1e-12)


def test_several_barycentres_at_once(rng):
    fam = Gaussian(2)
    params = {"mean": rng.normal(size=(5, 2)), "cov": spd(rng, 2, 5)}
    weights = rng.uniform(size=(3, 5))
    many = fam.barycentre(params, weights)
    for k in range(3):
        single = fam.barycentre(params, weights[k])
        np.testing.assert_allclose(many["mean"][k], single["mean"], rtol=1e-13)
        np.testing.assert_allclose(many["cov"][k], single["cov"], rtol=1e-13)


def test_weighted_mle_matches_numpy_and_frequency_semantics(rng):
    fam = Gaussian(3)
    x = rng.normal(size=(200, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.2], [0, 0, 2.0]])
    w = rng.integers(0, 4, size=200).astype(float)
    mle = fam.weighted_mle(x, w)
    np.testing.assert_allclose(mle["mean"], np.average(x, axis=0, weights=w), rtol=1e-12)
    np.testing.assert_allclose(mle["cov"], np.cov(x.T, aweights=w, bias=True), rtol=1e-12)
    repeated = np.repeat(x, w.astype(int), axis=0)
    plain = fam.weighted_mle(repeated)
    np.testing.assert_allclose(mle["cov"], plain["cov"], rtol=1e-12)


def test_weighted_mle_without_spread_raises():
    fam = Gaussian(2)
    with pytest.raises(ValueError, match="positive definite"):
        fam.weighted_mle(np.ones((10, 2)))
    x = np.column_stack([np.arange(10.0), np.full(10, 3.0)])  # constant column
    with pytest.raises(ValueError, match="boundary of the mean space"):
        fam.weighted_mle(x)


def test_ground_distance_matches_scipy_sqrtm(rng):
    fam = Gaussian(3)
    ca, cb = spd(rng, 3), spd(rng, 3)
    ma, mb = rng.normal(size=3), rng.normal(size=3)
    want = np.linalg.norm(ma - mb) + np.linalg.norm(linalg.sqrtm(ca).real - linalg.sqrtm(cb).real)
    got = fam.ground_distance({"mean": ma, "cov": ca}, {"mean": mb, "cov": cb})
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_sampling_moments(rng):
    fam = Gaussian(2)
    p = {"mean": np.array([1.0, -2.0]), "cov": np.array([[2.0, 0.6], [0.6, 0.5]])}
    x = fam.sample(p, 100_000, rng)
    assert x.shape == (100_000, 2)
    se = np.sqrt(np.diag(p["cov"]) / x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - p["mean"]) < 4 * se)
    # covariance entries: var of x_i x_j products gives the standard error
    c = x - p["mean"]
    prods = c[:, :, None] * c[:, None, :]
    se_c = prods.std(axis=0) / np.sqrt(x.shape[0])
    assert np.all(np.abs(prods.mean(axis=0) - p["cov"]) < 4 * se_c)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"mean": [0.0, 0.0], "cov": [[1.0, 2.0], [2.0, 1.0]]}, "not positive definite"),
        ({"mean": [0.0, 0.0], "cov": [[1.0, 0.5], [0.2, 1.0]]}, "not symmetric"),
        ({"mean": [0.0, 0.0, 0.0], "cov": [[1.0, 0.0], [0.0, 1.0]]}, r"params\['mean'\] must have shape \(\.\.\., 2\)"),
        ({"mean": [0.0, np.nan], "cov": np.eye(2)}, "must be finite"),
        ({"mean": [0.0, 0.0]}, "missing"),
        ({"mean": [0.0, 0.0], "cov": np.eye(2), "df": 3}, "unknown"),
        ({"mean": [[0.0, 0.0]] * 3, "cov": [np.eye(2)] * 2}, "do not broadcast"),
    ],
)
def test_bad_parameters_raise_valueerror_naming_the_problem(params, match):
    with pytest.raises(ValueError, match=match):
        Gaussian(2).check_params(params)


def test_bad_types_and_settings():
    with pytest.raises(TypeError, match="mapping"):
        Gaussian(2).check_params([0.0, 1.0])
    with pytest.raises(TypeError, match="numeric"):
        Gaussian(1).check_params({"mean": ["a"], "cov": [[1.0]]})
    with pytest.raises(ValueError, match="d must be >= 1"):
        Gaussian(0)
    with pytest.raises(ValueError, match="integer"):
        Gaussian(2.5)
    assert Gaussian(2.0) == Gaussian(2)  # R sends doubles
    assert Gaussian(2) != Gaussian(3)


def test_rounding_asymmetry_is_symmetrised():
    cov = np.array([[1.0, 0.3], [0.3 + 1e-15, 2.0]])
    out = Gaussian(2).check_params({"mean": [0, 0], "cov": cov})
    assert np.array_equal(out["cov"], out["cov"].T)


def test_vech_is_the_standard_column_order():
    # R: vech(S) stacks the lower triangle column by column: S11, S21, S31, S22, S32, S33
    cov = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]]) + 10 * np.eye(3)
    vec = Gaussian(3).params_to_vector({"mean": [0.1, 0.2, 0.3], "cov": cov})
    np.testing.assert_array_equal(vec, [0.1, 0.2, 0.3, 11.0, 2.0, 3.0, 14.0, 5.0, 16.0])


def test_univariate_parameters_as_plain_vectors():
    # R users send K means and K variances as plain vectors
    fam = Gaussian(1)
    p = fam.check_params({"mean": [0.0, 3.0, -1.0], "cov": [1.0, 2.0, 0.5]})
    assert p["mean"].shape == (3, 1) and p["cov"].shape == (3, 1, 1)
    x = np.linspace(-2, 4, 5)[:, None]
    want = stats.norm(loc=[0.0, 3.0, -1.0], scale=np.sqrt([1.0, 2.0, 0.5])).logpdf(x)
    np.testing.assert_allclose(fam.logpdf(x[:, None, :], p), want, rtol=1e-13)  # (5, 1, 1): 5 points x 3 components


def test_extreme_pivots_in_the_compiled_kernel():
    # pivots of 1e-250 and 1e160 must not over/underflow the running determinant
    fam = Gaussian(2)
    for diag in ([1e-100, 1e-250], [1e149, 1e160], [1e-200, 1e200]):
        p = {"mean": np.zeros((2, 2)), "cov": np.stack([np.eye(2), np.diag(diag)])}
        ia, ib = np.array([0, 0, 1]), np.array([0, 1, 1])
        fast = fam.log_product_integral_pairs(p, ia, ib)
        d = np.array(diag)
        log_dets = np.array([np.log(4.0), np.sum(np.log1p(d)), np.sum(np.log(2 * d))])  # never form the products
        want = -np.log(2 * np.pi) - 0.5 * log_dets
        np.testing.assert_allclose(fast, want, rtol=1e-12)


def test_non_broadcasting_batches_name_the_arguments(rng):
    fam = Gaussian(2)
    a, b = fam.random_params(3, rng), fam.random_params(4, rng)
    with pytest.raises(ValueError, match=r"params_a \(3,\), params_b \(4,\)"):
        fam.kl_divergence(a, b)
    with pytest.raises(ValueError, match=r"x \(5,\), params \(3,\)"):
        fam.logpdf(np.zeros((5, 2)), a)


def test_huge_covariance_is_valid():
    out = Gaussian(2).check_params({"mean": [0.0, 0.0], "cov": 1e308 * np.eye(2)})
    assert np.all(np.isfinite(out["cov"]))
