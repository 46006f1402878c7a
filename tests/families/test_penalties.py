"""Penalised M-steps against direct numerical maximisation (docs/em.md, "Penalties")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special, stats

from mixagg.em_support import default_penalty
from mixagg.families import ChenTanPenalty, Exponential, Gamma, GammaShapePenalty, Gaussian, Poisson


def test_chen_tan_m_step_maximises_the_penalised_objective():
    rng = np.random.default_rng(0)
    d, n = 2, 60
    x = rng.normal(size=(n, d)) @ np.array([[1.0, 0.4], [0.0, 0.7]])
    resp = rng.uniform(0.05, 1.0, size=(1, n))
    s_x = np.cov(x.T)
    pen = ChenTanPenalty(strength=0.3, sample_cov=s_x)  # a strong penalty, so it matters
    got = pen.m_step(x, resp)

    def objective(mean, cov):  # the penalised objective, written independently with scipy
        ll = resp[0] @ stats.multivariate_normal(mean, cov).logpdf(x)
        return ll - 0.3 * (np.trace(np.linalg.solve(cov, s_x)) + np.linalg.slogdet(cov)[1])

    def unpack(v):  # (mean, log-Cholesky factor of Sigma)
        lower = np.array([[np.exp(v[2]), 0.0], [v[3], np.exp(v[4])]])
        return v[:2], lower @ lower.T

    res = optimize.minimize(lambda v: -objective(*unpack(v)), np.zeros(5), method="BFGS", options={"gtol": 1e-10})
    mean_opt, cov_opt = unpack(res.x)
    np.testing.assert_allclose(got["mean"][0], mean_opt, atol=1e-6)
    np.testing.assert_allclose(got["cov"][0], cov_opt, rtol=1e-6)
    assert objective(got["mean"][0], got["cov"][0]) >= objective(mean_opt, cov_opt) - 1e-9


def test_chen_tan_lower_bound_on_covariances():
    # Sigma_k >= 2 a_n / (n + 2 a_n) S_x for every component, whatever the responsibilities ([J] App. A.1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    s_x = np.cov(x.T)
    a = 200**-0.5
    resp = np.zeros((2, 200))
    resp[0, :3] = 1.0  # a component holding three points: its scatter is nearly singular
    resp[1] = 1.0 - resp[0]
    covs = ChenTanPenalty(a, s_x).m_step(x, resp)["cov"]
    floor = 2 * a / (200 + 2 * a) * s_x
    for cov in covs:
        assert np.linalg.eigvalsh(cov - floor).min() > -1e-12


def test_chen_tan_value_matches_definition():
    rng = np.random.default_rng(2)
    s_x = np.cov(rng.normal(size=(50, 3)).T)
    cov = Gaussian(3).random_params(4, rng)["cov"]
    want = [np.trace(np.linalg.solve(c, s_x)) + np.linalg.slogdet(c)[1] for c in cov]
    np.testing.assert_allclose(ChenTanPenalty(0.1, s_x).value({"cov": cov}), want, rtol=1e-12)


@pytest.mark.parametrize("strength", [0.05, 1.0, 20.0])
def test_gamma_shape_m_step_maximises_the_penalised_objective(strength):
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 1.5, size=80)
    resp = rng.uniform(0.1, 1.0, size=(1, 80))
    got = GammaShapePenalty(strength).m_step(x, resp)

    def negative(v):
        r, b = np.exp(v)
        return -(resp[0] @ stats.gamma.logpdf(x, r, scale=b) - strength * (r - np.log(r)))

    res = optimize.minimize(negative, np.log([1.0, 1.0]), method="BFGS", options={"gtol": 1e-11})
    np.testing.assert_allclose([got["shape"][0], got["scale"][0]], np.exp(res.x), rtol=1e-6)


def test_gamma_shape_penalty_keeps_degenerate_components_finite():
    # s_k = 0 (all points equal) has an infinite-shape MLE; the penalty gives a finite root
    # (docs/em.md, "Gamma shape penalty and constraint")
    x = np.full(10, 2.5)
    out = GammaShapePenalty(0.1).m_step(x, np.ones((1, 10)))
    assert np.isfinite(out["shape"]).all() and out["shape"][0] > 10
    # root of log r - psi(r) = (a/n)(1 - 1/r) with s = 0
    r = out["shape"][0]
    assert np.log(r) - special.digamma(r) == pytest.approx(0.01 * (1 - 1 / r), rel=1e-10)


def test_default_penalties_per_family(rng):
    x2 = rng.normal(size=(100, 2))
    pen = default_penalty(Gaussian(2), x2)
    assert isinstance(pen, ChenTanPenalty) and pen.strength == pytest.approx(100**-0.5)
    np.testing.assert_allclose(pen.sample_cov, np.cov(x2.T), rtol=1e-12)
    w = rng.integers(1, 4, size=100).astype(float)
    pen_w = default_penalty(Gaussian(2), x2, w)  # frequency weights: as if rows were repeated
    np.testing.assert_allclose(pen_w.sample_cov, np.cov(np.repeat(x2, w.astype(int), axis=0).T), rtol=1e-12)
    assert pen_w.strength == pytest.approx(w.sum() ** -0.5)
    assert isinstance(default_penalty(Gamma(), rng.gamma(2, 1, 50)), GammaShapePenalty)
    assert default_penalty(Poisson(), np.arange(5.0)) is None
    assert default_penalty(Exponential(), np.arange(5.0)) is None


def test_penalty_argument_errors():
    with pytest.raises(ValueError, match="strength must be a positive"):
        GammaShapePenalty(0.0)
    with pytest.raises(ValueError, match="positive definite"):
        ChenTanPenalty(0.1, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="constant column"):
        default_penalty(Gaussian(2), np.column_stack([np.arange(10.0), np.ones(10)]))


def test_family_default_penalty_is_deprecated_and_still_works(rng):
    x = rng.gamma(2, 1, 50)
    with pytest.deprecated_call(match="mixagg.em_support.default_penalty"):
        pen = Gamma().default_penalty(x)
    assert isinstance(pen, GammaShapePenalty) and pen.strength == pytest.approx(50**-0.5)


def test_penalties_check_the_family_by_type():
    class Renamed(Gaussian):  # a Gaussian under another registry name is still a Gaussian
        name = "renamed-gaussian"

    ChenTanPenalty(0.1, np.eye(2)).check(Renamed(2), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="penalises Gaussian mixtures"):
        ChenTanPenalty(0.1, np.eye(1)).check(Exponential(), np.zeros(3))
    with pytest.raises(TypeError, match="penalises Gamma mixtures"):
        GammaShapePenalty(0.1).check(Poisson(), np.zeros(3))
