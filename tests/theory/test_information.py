"""H* and the Fisher information against direct integration of finite-difference gradients of the density.

References never touch the kernel derivatives, the score or the Jacobians under test: they
rebuild the mixture density from a perturbed parameter vector and integrate by Gauss-Legendre
grids (or sum over the counts).
"""

from __future__ import annotations

import numpy as np
import pytest
from _theory_reference import gradient, legendre_grid, legendre_grid_2d, log_grid, mixture_from_vector
from scipy import linalg, special

import mixagg as ma
from mixagg.exceptions import TheoryError
from mixagg.theory import distance_eigenvalues, fisher_information, l2_hessian, score

GAUSS1 = ma.MixingDistribution("gaussian", [0.35, 0.65], {"mean": [[-1.0], [2.0]], "cov": [[[0.8]], [[1.5]]]})
GAUSS2 = ma.MixingDistribution(
    "gaussian",
    [0.4, 0.6],
    {"mean": [[0.0, 0.0], [3.0, 1.0]], "cov": [[[1.0, 0.3], [0.3, 1.0]], [[1.5, -0.4], [-0.4, 0.8]]]},
)
GAMMA = ma.MixingDistribution("gamma", [0.4, 0.6], {"shape": [2.0, 8.0], "scale": [1.0, 0.5]})
POISSON = ma.MixingDistribution("poisson", [0.3, 0.3, 0.4], {"rate": [1.0, 6.0, 15.0]})


def grid_for(g: ma.MixingDistribution) -> tuple[np.ndarray, np.ndarray]:
    """Integration points (shaped as observations) and weights covering the mixture's mass."""
    if g is GAUSS1:
        x, w = legendre_grid(-16.0, 20.0, 240)
        return x[:, None], w
    if g is GAUSS2:
        return legendre_grid_2d((-10.0, 14.0, -9.0, 11.0), 40)
    if g is GAMMA:
        return log_grid(-25.0, 5.5, 300)
    return np.arange(0.0, 160.0), np.ones(160)


def vector(g: ma.MixingDistribution, natural: bool) -> tuple[np.ndarray, object]:
    fam = g.family
    if natural:
        blocks = fam.natural_from_params(dict(g.params))
        return np.concatenate([g.weights[:-1], blocks.ravel()]), fam.params_from_natural
    return g.vectorize(), None


@pytest.mark.parametrize("g", [GAUSS1, GAUSS2, GAMMA, POISSON], ids=["gaussian-1", "gaussian-2", "gamma", "poisson"])
@pytest.mark.parametrize("coordinates", ["params", "natural"])
def test_l2_hessian_is_the_integral_of_grad_f_grad_f(g, coordinates):
    """H* = int grad f_G grad f_G^T dx ([J] App. B.2), the gradient by finite differences of the density itself."""
    x, wts = grid_for(g)
    v, to_params = vector(g, coordinates == "natural")
    grad = gradient(lambda u: mixture_from_vector(g, u, to_params).pdf(x), v)  # (nu, N)
    reference = (grad * wts) @ grad.T
    h = l2_hessian(g, coordinates=coordinates)
    assert h.shape == reference.shape
    np.testing.assert_allclose(h, reference, rtol=0, atol=1e-7 * np.abs(reference).max())
    assert np.all(linalg.eigvalsh(h) > 0)  # first-order strong identifiability at these mixtures


@pytest.mark.parametrize("g", [GAUSS1, GAUSS2, GAMMA, POISSON], ids=["gaussian-1", "gaussian-2", "gamma", "poisson"])
def test_lemma_4_1_the_quadratic_form_is_exact_to_third_order(g):
    """D^2(G, G + e delta) - e^2 delta' H delta = O(e^3): the relative error shrinks tenfold per decade of e."""
    h = l2_hessian(g)
    v = g.vectorize()
    rng = np.random.default_rng(7)
    delta = rng.standard_normal(v.size) * np.maximum(np.abs(v), 0.1)
    delta /= np.linalg.norm(delta)
    eps = np.array([1e-1, 3e-2, 1e-2, 3e-3, 1e-3]) * 0.2
    gaps = []
    for e in eps:
        d2 = ma.l2_distance(g, mixture_from_vector(g, v + e * delta)) ** 2
        gaps.append(abs(d2 - e**2 * delta @ h @ delta) / (e**2 * delta @ h @ delta))
    slope = np.polyfit(np.log(eps), np.log(gaps), 1)[0]
    assert 0.75 < slope < 1.4, (slope, gaps)  # relative gap O(e): slope 1 (2 if the cubic term vanishes by symmetry)
    assert gaps[-1] < 5e-3


def test_closed_form_oracle_single_gaussian():
    """N(mu, s^2): H* = diag(1/(4 sqrt(pi) s^3), 3/(32 sqrt(pi) s^5)), I = diag(1/s^2, 1/(2 s^4)) (docs/theory.md)."""
    s = 1.7
    g = ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.4]], "cov": [[[s * s]]]})
    rp = np.sqrt(np.pi)
    np.testing.assert_allclose(
        l2_hessian(g), np.diag([1 / (4 * rp * s**3), 3 / (32 * rp * s**5)]), rtol=1e-10, atol=1e-14
    )
    fi = fisher_information(g)
    np.testing.assert_allclose(fi.matrix, np.diag([1 / s**2, 1 / (2 * s**4)]), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(distance_eigenvalues(g), [3 / (16 * rp * s), 1 / (4 * rp * s)][::-1], rtol=1e-8)


@pytest.mark.parametrize(
    "g, expected",
    [
        (ma.MixingDistribution("poisson", [1.0], {"rate": [3.5]}), [[1 / 3.5]]),
        (ma.MixingDistribution("exponential", [1.0], {"rate": [0.6]}), [[1 / 0.36]]),
        (
            ma.MixingDistribution("gamma", [1.0], {"shape": [2.5], "scale": [1.5]}),
            [[special.polygamma(1, 2.5), 1 / 1.5], [1 / 1.5, 2.5 / 1.5**2]],
        ),
    ],
    ids=["poisson", "exponential", "gamma"],
)
def test_fisher_information_of_one_component(g, expected):
    fi = fisher_information(g)
    np.testing.assert_allclose(fi.matrix, expected, rtol=1e-8)


def test_fisher_of_a_bivariate_gaussian_by_monte_carlo_matches_the_closed_form():
    """I(mean) = S^-1, I(vech S)_ab = tr(S^-1 E_a S^-1 E_b) / 2: the Monte Carlo estimate within 4.5 s.e. per entry."""
    cov = np.array([[1.3, 0.5], [0.5, 0.9]])
    g = ma.MixingDistribution("gaussian", [1.0], {"mean": [[1.0, -2.0]], "cov": [cov]})
    prec = np.linalg.inv(cov)
    units = [np.array([[1.0, 0], [0, 0]]), np.array([[0, 1.0], [1.0, 0]]), np.array([[0, 0], [0, 1.0]])]
    r, c = np.triu_indices(2)  # vech order of params_to_vector: check it is the one assumed here
    assert list(zip(r, c)) == [(0, 0), (0, 1), (1, 1)]
    cov_block = np.array([[0.5 * np.trace(prec @ a @ prec @ b) for b in units] for a in units])
    expected = linalg.block_diag(prec, cov_block)
    fi = fisher_information(g, method="monte_carlo", n_mc=200_000, rng=11)
    assert fi.method == "monte_carlo" and fi.n_samples == 200_000
    z = np.abs(fi.matrix - expected) / fi.standard_error
    assert z.max() < 4.5, z


@pytest.mark.parametrize("g", [GAUSS1, GAMMA, POISSON], ids=["gaussian-1", "gamma", "poisson"])
def test_fisher_quadrature_and_series_against_integrated_finite_difference_scores(g):
    """E[s s^T] with s = grad log f_G by finite differences, integrated on a grid (an independent reference)."""
    x, wts = grid_for(g)
    v = g.vectorize()
    s = gradient(lambda u: mixture_from_vector(g, u).logpdf(x), v)  # (nu, N)
    f = g.pdf(x)
    reference = (s * (wts * f)) @ s.T
    fi = fisher_information(g)
    assert fi.method == ("series" if g is POISSON else "quadrature")
    np.testing.assert_allclose(fi.matrix, reference, rtol=0, atol=1e-7 * np.abs(reference).max())
    mean_score = s @ (wts * f)
    assert np.abs(mean_score).max() < 1e-7 * np.sqrt(np.abs(reference).max())  # the score is centred


@pytest.mark.parametrize("g", [GAUSS1, GAMMA, POISSON], ids=["gaussian-1", "gamma", "poisson"])
def test_fisher_monte_carlo_agrees_with_quadrature_within_its_standard_error(g):
    exact = fisher_information(g).matrix
    mc = fisher_information(g, method="monte_carlo", n_mc=200_000, rng=5)
    z = np.abs(mc.matrix - exact) / np.where(mc.standard_error > 0, mc.standard_error, np.inf)
    assert z.max() < 4.5, z


def test_fisher_of_a_bivariate_mixture_against_grid_integration():
    x, wts = grid_for(GAUSS2)
    v = GAUSS2.vectorize()
    s = gradient(lambda u: mixture_from_vector(GAUSS2, u).logpdf(x), v)
    reference = (s * (wts * GAUSS2.pdf(x))) @ s.T
    mc = fisher_information(GAUSS2, rng=3)
    assert mc.method == "monte_carlo"
    z = np.abs(mc.matrix - reference) / mc.standard_error
    assert z.max() < 4.5, z


@pytest.mark.parametrize("g", [GAUSS2, GAMMA, POISSON], ids=["gaussian-2", "gamma", "poisson"])
@pytest.mark.parametrize("coordinates", ["params", "natural"])
def test_score_is_the_gradient_of_the_log_density(g, coordinates):
    x = g.sample(7, rng=np.random.default_rng(2))
    v, to_params = vector(g, coordinates == "natural")
    expected = gradient(lambda u: mixture_from_vector(g, u, to_params).logpdf(x), v).T
    np.testing.assert_allclose(score(g, x, coordinates=coordinates), expected, rtol=1e-7, atol=1e-9)


def test_eigenvalues_do_not_depend_on_the_parametrisation():
    """eig(I^-1 H) in standard vs natural coordinates, after permuting components, and with a
    Cholesky-factor parametrisation built from scratch (H and I integrated on a grid)."""
    fi_params = fisher_information(GAUSS1)
    fi_nat = fisher_information(GAUSS1, coordinates="natural")
    lam_params = distance_eigenvalues(GAUSS1, fisher=fi_params)
    np.testing.assert_allclose(distance_eigenvalues(GAUSS1, fisher=fi_nat), lam_params, rtol=1e-7)
    np.testing.assert_allclose(distance_eigenvalues(GAUSS1.permute([1, 0])), lam_params, rtol=1e-7)

    # bivariate: the covariance through its Cholesky factor L (vech of L), H and I from grid integrals
    x, wts = grid_for(GAUSS2)
    k = 2

    def chol_params(blocks):
        mean = blocks[:, :2]
        lower = np.zeros((k, 2, 2))
        lower[:, 0, 0], lower[:, 1, 0], lower[:, 1, 1] = blocks[:, 2], blocks[:, 3], blocks[:, 4]
        return {"mean": mean, "cov": lower @ np.swapaxes(lower, 1, 2)}

    chol = np.linalg.cholesky(GAUSS2.params["cov"])
    blocks = np.concatenate([GAUSS2.params["mean"], chol[:, 0, :1], chol[:, 1, :1], chol[:, 1, 1:]], axis=1)
    v = np.concatenate([GAUSS2.weights[:-1], blocks.ravel()])
    dens = gradient(lambda u: mixture_from_vector(GAUSS2, u, chol_params).pdf(x), v)
    logd = gradient(lambda u: mixture_from_vector(GAUSS2, u, chol_params).logpdf(x), v)
    h_chol = (dens * wts) @ dens.T
    i_chol = (logd * (wts * GAUSS2.pdf(x))) @ logd.T
    lam_chol = np.sort(linalg.eigh(h_chol, i_chol, eigvals_only=True))[::-1]
    v2 = GAUSS2.vectorize()
    s = gradient(lambda u: mixture_from_vector(GAUSS2, u).logpdf(x), v2)
    i_params = (s * (wts * GAUSS2.pdf(x))) @ s.T
    lam_ours = np.sort(linalg.eigh(l2_hessian(GAUSS2), i_params, eigvals_only=True))[::-1]
    np.testing.assert_allclose(lam_ours, lam_chol, rtol=1e-6)


def test_eigenvalues_scale_with_the_jacobian_of_an_affine_map_of_the_data():
    """x -> A x + b multiplies every lambda by 1/|det A| (docs/theory.md), whatever the location and units."""
    base = distance_eigenvalues(GAUSS1)
    for shift, scale in [(300.0, 1.0), (1e4, 1.0), (0.0, 1e-3), (0.0, 1e4), (500.0, 0.01)]:
        moved = ma.MixingDistribution(
            "gaussian",
            GAUSS1.weights,
            {"mean": GAUSS1.params["mean"] * scale + shift, "cov": GAUSS1.params["cov"] * scale**2},
        )
        np.testing.assert_allclose(distance_eigenvalues(moved) * scale, base, rtol=1e-8)
    a = np.array([[0.02, 0.0], [0.01, 0.05]])  # lower triangular: the Monte Carlo draws map exactly (same Cholesky)
    moved2 = ma.MixingDistribution(
        "gaussian", GAUSS2.weights, {"mean": GAUSS2.params["mean"] @ a.T + 700.0, "cov": a @ GAUSS2.params["cov"] @ a.T}
    )
    lam2 = distance_eigenvalues(GAUSS2, rng=1)
    np.testing.assert_allclose(distance_eigenvalues(moved2, rng=1) * abs(np.linalg.det(a)), lam2, rtol=1e-8)
    for scale in (1e-4, 1e4):
        moved = ma.MixingDistribution(
            "gamma", GAMMA.weights, {"shape": GAMMA.params["shape"], "scale": GAMMA.params["scale"] * scale}
        )
        np.testing.assert_allclose(distance_eigenvalues(moved) * scale, distance_eigenvalues(GAMMA), rtol=1e-6)


def test_errors():
    twins = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0], [0.0]], "cov": [[[1.0]], [[1.0]]]})
    with pytest.raises(TheoryError, match="singular"):
        fisher_information(twins)
    empty = ma.MixingDistribution("poisson", [1.0, 0.0], {"rate": [1.0, 3.0]})
    with pytest.raises(TheoryError, match="zero weight"):
        l2_hessian(empty)
    with pytest.raises(ValueError, match="method"):
        fisher_information(POISSON, method="simpson")
    with pytest.raises(ValueError, match="quadrature"):
        fisher_information(GAUSS2, method="quadrature")
    with pytest.raises(ValueError, match="coordinates"):
        l2_hessian(POISSON, coordinates="cholesky")
    thin = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [0.4, 3.0], "scale": [1.0, 1.0]})
    with pytest.raises(TheoryError, match="square-integrable"):
        l2_hessian(thin)
    with pytest.raises(ValueError, match="support"):
        score(POISSON, [-1.0])
    with pytest.raises(TypeError, match="fisher"):
        distance_eigenvalues(POISSON, fisher=np.eye(5))
