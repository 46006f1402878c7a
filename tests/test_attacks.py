"""Byzantine failure generators: protocol, corruption laws, no mutation, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import mixagg as ma
from mixagg.families import Gaussian

G = ma.MixingDistribution(Gaussian(3), [0.2, 0.3, 0.5], {"mean": np.arange(9.0).reshape(3, 3), "cov": [np.eye(3)] * 3})
GAMMA = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 8.0], "scale": [1.0, 3.0]})
POIS = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [2.0, 9.0]})
EXPO = ma.MixingDistribution("exponential", [0.5, 0.5], {"rate": [0.5, 4.0]})
BERN = ma.MixingDistribution("bernoulli", [0.5, 0.5], {"p": [[0.9, 0.8, 0.1], [0.2, 0.1, 0.7]]})
CAT = ma.MixingDistribution(
    "categorical", [0.5, 0.5], {"probs": [[[0.7, 0.2, 0.1], [0.4, 0.6, 0.0]], [[0.1, 0.1, 0.8], [0.9, 0.1, 0.0]]]}
)


@pytest.mark.parametrize(
    "attack, base, options",
    [
        (ma.attacks.mean_failure, G, {}),
        (ma.attacks.covariance_failure, G, {}),
        (ma.attacks.weight_failure, G, {}),
        (ma.attacks.shape_failure, GAMMA, {}),
        (ma.attacks.scale_failure, GAMMA, {}),
        (ma.attacks.rate_failure, POIS, {}),
        (ma.attacks.rate_failure, EXPO, {}),
        (ma.attacks.probability_failure, BERN, {}),
        (ma.attacks.probability_failure, CAT, {}),
        (ma.attacks.component_failure, G, {"kind": "mean"}),
        (ma.attacks.component_failure, BERN, {"kind": "probability"}),
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3, 0.49])
def test_protocol(attack, base, options, alpha):
    ests = [base] * 20
    before = [g.to_dict() for g in ests]
    out, mask = attack(ests, alpha, rng=1, **options)
    assert mask.dtype == bool and mask.sum() == int(np.floor(alpha * 20))
    assert [g.to_dict() for g in ests] == before  # the input is not mutated
    for g, failed in zip(out, mask):
        assert (g is base) != bool(failed)  # failure-free estimates are passed through untouched
        assert g.validate() == []  # a corrupted estimate is still a valid parameter
        if failed:
            assert g != base
    again, mask2 = attack(ests, alpha, rng=1, **options)
    assert np.array_equal(mask, mask2) and all(a == b for a, b in zip(out, again))


def test_mean_failure_draws_from_the_stated_normal():
    out, mask = ma.attacks.mean_failure([G] * 400, 0.49, rng=2, scale=100.0)
    means = np.concatenate([np.asarray(g.params["mean"]).ravel() for g, f in zip(out, mask) if f])
    n = means.size
    assert abs(means.mean()) < 4 * 100 / np.sqrt(n)
    assert abs(means.std() / 100 - 1) < 4 * np.sqrt(0.5 / n)


@pytest.mark.parametrize("variant, c", [("jrssb", 1 / 9), ("arxiv", 1.0)])
def test_covariance_failure_variants(variant, c):
    # E[c B B^T] = c d I: the added matrix averages to c * d on the diagonal
    out, mask = ma.attacks.covariance_failure([G] * 400, 0.49, rng=3, variant=variant)
    added = np.concatenate([np.asarray(g.params["cov"]) - np.eye(3) for g, f in zip(out, mask) if f])
    diag = added[:, np.arange(3), np.arange(3)].ravel()
    assert abs(diag.mean() / (3 * c) - 1) < 4 * np.sqrt(2 / 3) / np.sqrt(diag.size)  # chi2_3 / 3 has s.d. sqrt(2/3)
    assert np.all(np.linalg.eigvalsh(added) > -1e-12)


def test_weight_failure_concentration_range():
    out, mask = ma.attacks.weight_failure([G] * 300, 0.49, rng=4, concentration=(200, 1000))
    w = np.array([g.weights for g, f in zip(out, mask) if f])
    # Dirichlet with a_k in [200, 1000]: weights within [200/2200, 1000/1400] and close to a_k / sum a
    assert w.min() > 200 / 2400 and w.max() < 1000 / 1300
    assert np.allclose(w.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="low <= high"):
        ma.attacks.weight_failure([G], 0.0, concentration=(5, 2))


def test_gamma_and_rate_failures():
    out, mask = ma.attacks.shape_failure([GAMMA] * 100, 0.4, rng=5)
    shapes = np.concatenate([g.params["shape"] for g, f in zip(out, mask) if f])
    assert shapes.min() >= 1.0 and shapes.max() <= 10.0
    out, mask = ma.attacks.scale_failure([GAMMA] * 100, 0.4, rng=6)
    for g, f in zip(out, mask):
        if f:
            assert np.all(g.params["scale"] >= GAMMA.params["scale"]) and np.all(
                g.params["scale"] <= GAMMA.params["scale"] + 10
            )
    out, mask = ma.attacks.rate_failure([POIS] * 50, 0.4, rng=7)
    assert all(np.all(g.params["rate"] >= POIS.params["rate"]) for g in out)
    out, mask = ma.attacks.rate_failure([EXPO] * 50, 0.4, rng=8)
    assert all(np.all(g.params["rate"] <= EXPO.params["rate"]) for g in out)  # the mean 1/rate grows


def test_probability_failure_draws_uniform_probabilities():
    out, mask = ma.attacks.probability_failure([BERN] * 400, 0.49, rng=10, low=0.2, high=0.6)
    p = np.concatenate([np.asarray(g.params["p"]).ravel() for g, f in zip(out, mask) if f])
    assert p.min() >= 0.2 and p.max() <= 0.6
    # U(0.2, 0.6): mean 0.4, s.d. 0.4 / sqrt(12)
    assert abs(p.mean() - 0.4) < 4 * 0.4 / np.sqrt(12 * p.size)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        ma.attacks.probability_failure([BERN], 0.0, low=0.0)
    with pytest.raises(ValueError, match="corrupts bernoulli or categorical mixtures"):
        ma.attacks.probability_failure([G] * 4, 0.25, rng=0)


def test_probability_failure_keeps_categorical_rows_on_their_levels():
    out, mask = ma.attacks.probability_failure([CAT] * 40, 0.49, rng=11)
    for g, f in zip(out, mask):
        probs = np.asarray(g.params["probs"])
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-12)
        assert np.all(probs[:, 1, 2] == 0)  # the second feature has two levels
        assert f == (not np.array_equal(probs, np.asarray(CAT.params["probs"])))


def test_component_failure_corrupts_exactly_n_components():
    out, mask = ma.attacks.component_failure([G] * 30, 0.3, rng=9, kind="mean", n_corrupt=2)
    for g, f in zip(out, mask):
        changed = np.any(np.asarray(g.params["mean"]) != np.asarray(G.params["mean"]), axis=1)
        assert changed.sum() == (2 if f else 0)
        np.testing.assert_array_equal(g.weights, G.weights)


def test_bad_input():
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 0.5\)"):
        ma.attacks.mean_failure([G] * 4, 0.5)
    with pytest.raises(ValueError, match=r"alpha must lie"):
        ma.attacks.weight_failure([G] * 4, -0.1)
    with pytest.raises(ValueError, match="mean_failure corrupts gaussian mixtures, not Gamma"):
        ma.attacks.mean_failure([GAMMA] * 4, 0.3, rng=0)
    with pytest.raises(ValueError, match="shape_failure corrupts gamma mixtures"):
        ma.attacks.shape_failure([G] * 4, 0.3, rng=0)
    with pytest.raises(ValueError, match="variant must be"):
        ma.attacks.covariance_failure([G] * 4, 0.3, variant="paper")
    with pytest.raises(ValueError, match="kind must be one of"):
        ma.attacks.component_failure([G] * 4, 0.3, kind="weights")
    with pytest.raises(ValueError, match="at least one"):
        ma.attacks.mean_failure([], 0.1)


def test_failure_count_is_exact_for_awkward_fractions():
    _, mask = ma.attacks.weight_failure([G] * 100, 0.29, rng=0)
    assert mask.sum() == 29


def test_option_validation():
    with pytest.raises(ValueError, match="0.5 <= low < high"):
        ma.attacks.shape_failure([GAMMA] * 4, 0.3, low=0.2)
    with pytest.raises(ValueError, match="scale must be a positive"):
        ma.attacks.mean_failure([G] * 4, 0.3, scale=-1.0)
    with pytest.raises(ValueError, match="pair"):
        ma.attacks.weight_failure([G] * 4, 0.3, concentration=(1, 2, 3))
    with pytest.raises(TypeError, match="options it does not take"):
        ma.attacks.component_failure([G] * 4, 0.3, kind="mean", sigma=3)


def test_scale_failure_applies_to_any_family_with_a_scalar_scale():
    from types import MappingProxyType

    from mixagg.families import Exponential
    from mixagg.families.base import ParamSpec

    class ScaledExponential(Exponential):  # the exponential family written with scale = 1/rate
        name = "scaled-exponential-test"
        param_spec = MappingProxyType({"scale": ParamSpec((), description="scale > 0")})

        def _validate(self, params):
            return [] if np.all(np.asarray(params["scale"]) > 0) else ["scale must be positive"]

        def _natural_from_params(self, params):
            return -1.0 / np.array(params["scale"])[..., None]

        def _params_from_natural(self, theta):
            return {"scale": -1.0 / theta[..., 0]}

        def _natural_jacobian(self, params):
            return (np.asarray(params["scale"], dtype=float) ** -2.0)[..., None, None]

    g = ma.MixingDistribution(ScaledExponential(), [0.5, 0.5], {"scale": [1.0, 2.0]})
    out, mask = ma.attacks.scale_failure([g] * 10, 0.3, rng=1, high=10.0)
    for i in np.flatnonzero(mask):
        shift = out[i].params["scale"] - g.params["scale"]
        assert np.all((shift > 0) & (shift < 10))
    assert mask.sum() == 3
    with pytest.raises(ValueError, match="scale_failure corrupts mixtures with a scalar 'scale' parameter"):
        ma.attacks.scale_failure([ma.MixingDistribution(ma.get_family("poisson"), [1.0], {"rate": [2.0]})] * 4, 0.25)


def test_the_gross_failures_live_in_the_gross_module():
    from mixagg.attacks import gross

    for name in gross.__all__:
        assert getattr(ma.attacks, name) is getattr(gross, name)
        assert ma.attacks.ATTACKS[name.removesuffix("_failure")].function is getattr(gross, name)
        assert ma.attacks.ATTACKS[name.removesuffix("_failure")].knowledge == "oblivious"
