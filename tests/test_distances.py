"""L2 distances against direct numerical integration, and the properties of the distance matrix."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import mixagg as ma
from mixagg.exceptions import NumericalWarning
from mixagg.families import Exponential, Gamma, Gaussian, Poisson


def random_mixture(family, k, rng):
    return ma.MixingDistribution(family, rng.dirichlet(np.ones(k) * 2), family.random_params(k, rng))


def l2_norm(mix):
    """||f_G||_2 from the closed-form kernel, summed term by term."""
    fam, p = mix.family, dict(mix.params)
    gram = np.exp(fam.log_product_integral(fam.expand(p, 1), fam.expand(p, 0)))
    return float(np.sqrt(mix.weights @ gram @ mix.weights))


def quad_line(fun, breaks):
    edges = [-np.inf, *sorted(breaks), np.inf]
    return sum(integrate.quad(fun, a, b, epsabs=0, epsrel=1e-12, limit=500)[0] for a, b in zip(edges[:-1], edges[1:]))


def test_gaussian_1d_matches_quadrature():
    rng = np.random.default_rng(11)
    fam = Gaussian(1)
    for _ in range(3):
        g, h = random_mixture(fam, 3, rng), random_mixture(fam, 3, rng)

        def pdf(mix, t):
            return sum(
                mix.weights[k] * stats.norm.pdf(t, mix.params["mean"][k, 0], np.sqrt(mix.params["cov"][k, 0, 0]))
                for k in range(3)
            )

        breaks = np.concatenate([g.params["mean"][:, 0], h.params["mean"][:, 0]])
        want = np.sqrt(quad_line(lambda t: (pdf(g, t) - pdf(h, t)) ** 2, breaks))
        assert abs(ma.l2_distance(g, h) / want - 1) < 1e-8
        assert abs(ma.l2_distance_matrix([g, h])[0, 1] / want - 1) < 1e-8


def test_gaussian_2d_matches_dblquad():
    rng = np.random.default_rng(12)
    fam = Gaussian(2)
    g, h = random_mixture(fam, 3, rng), random_mixture(fam, 3, rng)

    def dens(mix):
        comps = [stats.multivariate_normal(mix.params["mean"][k], mix.params["cov"][k]) for k in range(3)]
        return lambda x, y: sum(w * c.pdf([x, y]) for w, c in zip(mix.weights, comps))

    fg, fh = dens(g), dens(h)
    lo = min(g.params["mean"].min(), h.params["mean"].min()) - 12
    hi = max(g.params["mean"].max(), h.params["mean"].max()) + 12
    sq, _ = integrate.dblquad(lambda y, x: (fg(x, y) - fh(x, y)) ** 2, lo, hi, lo, hi, epsabs=1e-14, epsrel=1e-10)
    assert abs(ma.l2_distance(g, h) / np.sqrt(sq) - 1) < 1e-7


def test_gamma_matches_quadrature():
    g = ma.MixingDistribution("gamma", [0.32, 0.35, 0.33], {"shape": [1.0, 8.0, 30.0], "scale": [1.0, 6.0, 10.0]})
    h = ma.MixingDistribution("gamma", [0.3, 0.4, 0.3], {"shape": [1.2, 7.0, 28.0], "scale": [0.9, 6.5, 10.5]})
    f = lambda t: (g.pdf(np.array(t)) - h.pdf(np.array(t))) ** 2  # noqa: E731
    edges = [0, 1, 5, 20, 50, 150, 300, 500, np.inf]
    sq = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-12, limit=500)[0] for a, b in zip(edges[:-1], edges[1:]))
    assert abs(ma.l2_distance(g, h) / np.sqrt(sq) - 1) < 1e-8


def test_poisson_matches_series():
    g = ma.MixingDistribution("poisson", [0.2, 0.5, 0.3], {"rate": [1.0, 6.0, 20.0]})
    h = ma.MixingDistribution("poisson", [0.25, 0.45, 0.3], {"rate": [1.3, 5.5, 21.0]})
    x = np.arange(0, 200)
    fg = sum(w * stats.poisson.pmf(x, r) for w, r in zip(g.weights, g.params["rate"]))
    fh = sum(w * stats.poisson.pmf(x, r) for w, r in zip(h.weights, h.params["rate"]))
    assert abs(ma.l2_distance(g, h) / np.sqrt(np.sum((fg - fh) ** 2)) - 1) < 1e-9


def test_exponential_matches_quadrature():
    g = ma.MixingDistribution("exponential", [0.6, 0.4], {"rate": [0.5, 4.0]})
    h = ma.MixingDistribution("exponential", [0.5, 0.3, 0.2], {"rate": [0.6, 3.0, 10.0]})
    f = lambda t: (g.pdf(np.array(t)) - h.pdf(np.array(t))) ** 2  # noqa: E731
    sq = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-12)[0] for a, b in [(0, 1), (1, 10), (10, np.inf)])
    assert abs(ma.l2_distance(g, h) / np.sqrt(sq) - 1) < 1e-9


@pytest.fixture(params=["gaussian-2", "gaussian-5", "gamma", "poisson", "exponential"])
def mixtures(request):
    rng = np.random.default_rng(5)
    fam = {
        "gaussian-2": Gaussian(2),
        "gaussian-5": Gaussian(5),
        "gamma": Gamma(),
        "poisson": Poisson(),
        "exponential": Exponential(),
    }[request.param]
    return [random_mixture(fam, int(k), rng) for k in rng.integers(1, 5, size=12)]


def test_matrix_properties_and_entrywise_agreement(mixtures):
    mat = ma.l2_distance_matrix(mixtures)
    m = len(mixtures)
    assert mat.shape == (m, m)
    assert np.array_equal(mat, mat.T)
    assert np.all(np.diag(mat) == 0) and np.all(mat >= 0)
    for i in range(m):
        for j in range(i + 1, m):
            assert mat[i, j] == pytest.approx(ma.l2_distance(mixtures[i], mixtures[j]), rel=1e-10, abs=1e-14)
    # triangle inequality on every triple
    assert np.all(mat[:, None, :] <= mat[:, :, None] + mat[None, :, :] + 1e-12)


def test_label_switching_invariance(mixtures):
    rng = np.random.default_rng(9)
    shuffled = [g.permute(rng.permutation(g.n_components)) for g in mixtures]
    np.testing.assert_allclose(ma.l2_distance_matrix(shuffled), ma.l2_distance_matrix(mixtures), rtol=1e-12, atol=1e-15)
    order = rng.permutation(len(mixtures))
    reordered = ma.l2_distance_matrix([mixtures[i] for i in order])
    np.testing.assert_allclose(reordered, ma.l2_distance_matrix(mixtures)[np.ix_(order, order)], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_chunking_does_not_change_the_result(mixtures, chunk):
    np.testing.assert_allclose(
        ma.l2_distance_matrix(mixtures, pairs_per_chunk=chunk), ma.l2_distance_matrix(mixtures), rtol=1e-13, atol=1e-16
    )


def test_affine_map_scales_gaussian_distances():
    # x -> A x + b multiplies every D by |det A|^{-1/2} (docs/distances.md)
    rng = np.random.default_rng(2)
    fam = Gaussian(3)
    mixes = [random_mixture(fam, 3, rng) for _ in range(6)]
    a = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    b = rng.normal(size=3)
    moved = [
        ma.MixingDistribution(fam, g.weights, {"mean": g.params["mean"] @ a.T + b, "cov": a @ g.params["cov"] @ a.T})
        for g in mixes
    ]
    ratio = abs(np.linalg.det(a)) ** -0.5
    np.testing.assert_allclose(ma.l2_distance_matrix(moved), ratio * ma.l2_distance_matrix(mixes), rtol=1e-9)


def test_near_singular_byzantine_estimate_does_not_erase_honest_distances():
    rng = np.random.default_rng(3)
    fam = Gaussian(10)
    truth = random_mixture(fam, 3, rng)
    honest = [
        ma.MixingDistribution(
            fam,
            truth.weights,
            {"mean": truth.params["mean"] + rng.normal(0, 0.01, (3, 10)), "cov": truth.params["cov"]},
        )
        for _ in range(8)
    ]
    cov = np.array(truth.params["cov"])
    cov[0] = 1e-60 * np.eye(10)  # self-kernel ~ exp(+678)
    byz = ma.MixingDistribution(fam, truth.weights, {"mean": truth.params["mean"], "cov": cov})
    clean = ma.l2_distance_matrix(honest)
    with_byz = ma.l2_distance_matrix([*honest, byz])
    np.testing.assert_allclose(with_byz[:8, :8], clean, rtol=1e-12)
    assert np.all(clean[np.triu_indices(8, 1)] > 0)
    assert np.all(np.isfinite(with_byz)) and np.all(with_byz[8, :8] > 1e100)


def test_ragged_numbers_of_components():
    rng = np.random.default_rng(4)
    fam = Gaussian(2)
    mixes = [random_mixture(fam, k, rng) for k in (1, 5, 2)]
    mat = ma.l2_distance_matrix(mixes)
    assert mat[0, 1] == pytest.approx(ma.l2_distance(mixes[0], mixes[1]), rel=1e-10)
    assert mat[1, 2] == pytest.approx(ma.l2_distance(mixes[1], mixes[2]), rel=1e-10)


def test_zero_weight_components_are_ignored():
    g = ma.MixingDistribution("poisson", [0.0, 1.0], {"rate": [50.0, 3.0]})
    h = ma.MixingDistribution("poisson", [1.0], {"rate": [3.0]})
    assert ma.l2_distance(g, h) == 0.0
    assert ma.l2_distance_matrix([g, h])[0, 1] == 0.0


def test_weight_zero_components_with_infinite_norm_do_not_matter():
    # a weight-zero Gamma atom with shape 0.25 (divergent kernels, gammaln pole at r_a + r_b - 1 = -0.5 - ...)
    g = ma.MixingDistribution("gamma", [1.0, 0.0], {"shape": [2.0, 0.25], "scale": [1.0, 1.0]})
    h = ma.MixingDistribution("gamma", [1.0], {"shape": [2.5], "scale": [1.0]})
    want = ma.l2_distance(ma.MixingDistribution("gamma", [1.0], {"shape": [2.0], "scale": [1.0]}), h)
    assert ma.l2_distance(g, h) == pytest.approx(want, rel=1e-12)
    assert ma.l2_distance_matrix([g, h])[0, 1] == pytest.approx(want, rel=1e-12)


def test_identical_and_single_inputs():
    g = ma.MixingDistribution("exponential", [0.3, 0.7], {"rate": [1.0, 2.0]})
    assert ma.l2_distance(g, g) == 0.0
    assert ma.l2_distance_matrix([g]).tolist() == [[0.0]]
    assert ma.l2_distance_matrix([g, g])[0, 1] == 0.0
    assert ma.l2_distance_matrix([g.to_dict(), g])[0, 1] == 0.0  # dicts (R named lists) are accepted


def test_bad_input():
    g = ma.MixingDistribution("exponential", [1.0], {"rate": [1.0]})
    p = ma.MixingDistribution("poisson", [1.0], {"rate": [1.0]})
    with pytest.raises(ValueError, match=r"mixtures\[1\] has family Poisson\(\) but mixtures\[0\] has Exponential\(\)"):
        ma.l2_distance_matrix([g, p])
    g2 = ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.0, 0.0]], "cov": [np.eye(2)]})
    g3 = ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.0, 0.0, 0.0]], "cov": [np.eye(3)]})
    with pytest.raises(ValueError, match=r"Gaussian\(d=3\) but mixtures\[0\] has Gaussian\(d=2\)"):
        ma.l2_distance_matrix([g2, g3])
    with pytest.raises(ValueError, match=r"H has family Poisson\(\) but G has Exponential\(\)"):
        ma.l2_distance(g, p)
    with pytest.raises(ValueError, match="at least one"):
        ma.l2_distance_matrix([])
    with pytest.raises(TypeError, match=r"mixtures\[1\] must be a MixingDistribution"):
        ma.l2_distance_matrix([g, [1.0]])
    with pytest.raises(TypeError, match="sequence of mixtures"):
        ma.l2_distance_matrix(g)
    with pytest.raises(ValueError, match="pairs_per_chunk must be >= 1"):
        ma.l2_distance_matrix([g, g], pairs_per_chunk=0)


def test_gamma_with_infinite_norm_is_rejected_by_name():
    ok = ma.MixingDistribution("gamma", [1.0], {"shape": [2.0], "scale": [1.0]})
    bad = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 0.45], "scale": [1.0, 1.0]})
    with pytest.raises(ValueError, match=r"mixtures\[1\] component 1 has an infinite L2 norm.*shape > 1/2"):
        ma.l2_distance_matrix([ok, bad])
    with pytest.raises(ValueError, match="H component 1 has an infinite L2 norm"):
        ma.l2_distance(ok, bad)


def test_inconsistent_kernel_is_reported_and_clipped():
    class InflatedCrossKernel(Exponential):
        name = "inflated"

        def _log_product_integral_pairs(self, params, ia, ib):
            return super()._log_product_integral_pairs(params, ia, ib) + 0.05 * (ia != ib)

    fam = InflatedCrossKernel()
    g = ma.MixingDistribution(fam, [1.0], {"rate": [1.0]})
    h = ma.MixingDistribution(fam, [1.0], {"rate": [1.01]})
    with pytest.warns(NumericalWarning, match="negative beyond rounding"):
        mat = ma.l2_distance_matrix([g, h])
    assert mat[0, 1] == 0.0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.floats(0.05, 50.0), min_size=1, max_size=4), min_size=2, max_size=6),
    st.integers(0, 2**32 - 1),
)
def test_random_rate_mixtures_property(rate_lists, seed):
    rng = np.random.default_rng(seed)
    for fam in (Poisson(), Exponential()):
        mixes = [ma.MixingDistribution(fam, rng.dirichlet(np.ones(len(r))), {"rate": r}) for r in rate_lists]
        mat = ma.l2_distance_matrix(mixes)
        assert np.array_equal(mat, mat.T) and np.all(np.diag(mat) == 0)
        i, j = 0, len(mixes) - 1
        # D is resolved to ~sqrt(eps) * ||f|| (cancellation in D^2, docs/distances.md "Resolution and warnings")
        resolution = 1e-7 * max(l2_norm(mixes[i]), l2_norm(mixes[j]))
        assert mat[i, j] == pytest.approx(ma.l2_distance(mixes[i], mixes[j]), rel=1e-9, abs=resolution)


def test_components_too_far_apart_for_float64_kernels():
    # every cross kernel underflows to exactly 0: D^2 = ||f_a||^2 + ||f_b||^2 = 2 / (4 pi) for unit Gaussians in d = 2
    a = ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.0, 0.0]], "cov": [np.eye(2)]})
    far = ma.MixingDistribution("gaussian", [1.0], {"mean": [[1e160, 0.0]], "cov": [np.eye(2)]})
    want = np.sqrt(2 / (4 * np.pi))
    assert ma.l2_distance(a, far) == pytest.approx(want, rel=1e-14)
    np.testing.assert_allclose(ma.l2_distance_matrix([a, far]), [[0, want], [want, 0]], rtol=1e-14)


def test_extreme_rates_stay_finite():
    # Poisson: sqrt(la * lb) used to overflow; Exponential: la + lb used to overflow
    p = [ma.MixingDistribution("poisson", [1.0], {"rate": [r]}) for r in (1e200, 3e200)]
    assert np.isfinite(ma.l2_distance_matrix(p)).all()
    e = [ma.MixingDistribution("exponential", [1.0], {"rate": [r]}) for r in (1e308, 1.7e308)]
    mat = ma.l2_distance_matrix(e)
    # ||f||^2 = rate / 2 for an exponential density; the two are far apart relative to their norms
    la, lb = 1e308, 1.7e308
    want = np.sqrt(la / 2 + lb / 2 - 2 * (la / (1 + la / lb)))  # cross term la*lb/(la+lb) without overflow
    assert mat[0, 1] == pytest.approx(want, rel=1e-12)


def test_overflowing_norm_is_reported_as_infinite_never_nan():
    huge = ma.MixingDistribution("gamma", [1.0], {"shape": [1e307], "scale": [1e-300]})
    small = ma.MixingDistribution("gamma", [1.0], {"shape": [2.0], "scale": [1.0]})
    with pytest.warns(NumericalWarning, match="overflows float64"):
        mat = ma.l2_distance_matrix([huge, small])
    assert mat[0, 1] == np.inf and mat[0, 0] == 0
    with pytest.warns(NumericalWarning, match="overflows float64"):
        assert ma.l2_distance(huge, small) == np.inf
