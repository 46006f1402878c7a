"""Adaptive attacks: the protocol, each attack's defining property checked independently, and bad input."""

from __future__ import annotations

import math
import warnings
from types import MappingProxyType

import numpy as np
import pytest
from scipy.stats import norm

import mixagg as ma
from mixagg.families import Exponential
from mixagg.families.core import ParamSpec
from mixagg.robust import coat_radius

A = ma.attacks

GAUSS_TRUTH = ma.MixingDistribution(
    "gaussian",
    [0.3, 0.7],
    {"mean": [[0.0, 0.0], [4.0, 1.0]], "cov": [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]]},
)
POIS_TRUTH = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 9.0]})
GAMMA_TRUTH = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 8.0], "scale": [1.0, 3.0]})
EXPO_TRUTH = ma.MixingDistribution("exponential", [0.5, 0.5], {"rate": [0.5, 4.0]})


def quiet_aggregate(estimates, method="dfmr", **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ma.aggregate(estimates, method, **options)


@pytest.fixture(scope="module")
def gauss():
    """24 local EM fits of a two-component bivariate Gaussian mixture."""
    rng = np.random.default_rng(11)
    return [ma.fit_mixture(GAUSS_TRUTH.sample(1000, rng), "gaussian", 2, init=GAUSS_TRUTH) for _ in range(24)]


@pytest.fixture(scope="module")
def pois():
    rng = np.random.default_rng(12)
    return [ma.fit_mixture(POIS_TRUTH.sample(600, rng), "poisson", 2, init=POIS_TRUTH) for _ in range(16)]


def jitter(truth: ma.MixingDistribution, m: int, seed: int) -> list[ma.MixingDistribution]:
    """``m`` valid estimates scattered around ``truth`` (multiplicative noise on positive parameters)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(m):
        w = truth.weights * np.exp(rng.normal(0, 0.05, truth.n_components))
        params = {}
        for key, v in truth.params.items():
            v = np.asarray(v)
            if key == "mean":
                params[key] = v + rng.normal(0, 0.05, v.shape)
            elif key == "cov":
                params[key] = v * np.exp(rng.normal(0, 0.05, (v.shape[0], 1, 1)))
            else:
                params[key] = v * np.exp(rng.normal(0, 0.05, v.shape))
        out.append(ma.MixingDistribution(truth.family, w / w.sum(), params))
    return out


SMALL = {
    "gaussian": jitter(GAUSS_TRUTH, 12, 1),
    "poisson": jitter(POIS_TRUTH, 12, 2),
    "gamma": jitter(GAMMA_TRUTH, 12, 3),
    "exponential": jitter(EXPO_TRUTH, 12, 4),
}
SIZES = [500 + 10 * i for i in range(12)]

ATTACK_CASES = [
    ("alie", {}),
    ("alie", {"z": "search"}),
    ("inner_product_manipulation", {"epsilon": 0.1}),  # 0.5 takes Gamma shapes below 1/2 (no L2 distance)
    ("inner_product_manipulation", {"epsilon": "search"}),
    ("min_max", {}),
    ("min_sum", {"direction": "unit"}),
    ("threshold_hugging", {}),
    ("tiny_component", {}),
    ("tiny_component", {"mode": "far"}),
    ("sample_size_claims", {"sample_sizes": SIZES}),
    ("coat_capture", {"position": 1.5}),
    ("mimic", {}),
]


def honest_view(estimates, mask):
    """The honest estimates, their COAT and the honest aligned vectors (the attacker's view)."""
    honest = [g for g, f in zip(estimates, mask) if not f]
    d = ma.l2_distance_matrix(honest)
    c = coat_radius(d)[0]
    space = A.AlignedSpace(honest[c])
    return honest, d, c, space, space.to_vectors(honest)


# ---------------------------------------------------------------------------------------------- the protocol
@pytest.mark.parametrize("family", sorted(SMALL))
@pytest.mark.parametrize(
    "name, options", ATTACK_CASES, ids=[f"{n}{o and '-' + str(list(o)[0])}" for n, o in ATTACK_CASES]
)
def test_protocol(family, name, options):
    ests = SMALL[family]
    before = [g.to_dict() for g in ests]
    attack = A.ATTACKS[name].function
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", A.AttackWarning)
        out, mask = attack(ests, 0.25, rng=5, **options)
        again, mask2 = attack(ests, 0.25, rng=5, **options)
    assert [g.to_dict() for g in ests] == before  # the input is untouched
    assert mask.dtype == bool and mask.sum() == math.floor(0.25 * 12)
    assert np.array_equal(mask, mask2) and all(a == b for a, b in zip(out, again))  # deterministic given rng
    k = ests[0].n_components
    for i, (g, failed) in enumerate(zip(out, mask)):
        assert g.family == ests[0].family and g.n_components == k and g.validate() == []
        back = ma.wire.loads(ma.wire.dumps(g), family=g.family, n_components=k)
        assert not isinstance(back, ma.wire.Rejected), back  # the server's validation accepts it
        if not failed:
            assert g == ests[i]
            if name != "sample_size_claims":
                assert g is ests[i]
    failed = [g for g, f in zip(out, mask) if f]
    assert all(g == failed[0] for g in failed)  # the failed machines collude: one estimate for all


def test_nobody_fails_below_one_machine():
    out, mask = A.alie(SMALL["poisson"], 0.05, rng=1)
    assert not mask.any() and all(a is b for a, b in zip(out, SMALL["poisson"]))


# ---------------------------------------------------------------------------------------------- the aligned space
@pytest.mark.parametrize("family", sorted(SMALL))
def test_aligned_map_round_trip(family):
    ests = SMALL[family]
    space = A.AlignedSpace.of(ests)
    aligned = space.align(ests)
    back = space.from_vectors(space.to_vectors(aligned, align=False))
    for g, h in zip(aligned, back):
        np.testing.assert_allclose(h.weights, g.weights, rtol=1e-10, atol=1e-14)
        for key in g.params:
            np.testing.assert_allclose(h.params[key], g.params[key], rtol=1e-10, atol=1e-12)
    assert space.to_vectors(ests).shape == (len(ests), space.dim) == (len(ests), len(space.labels))


def test_aligned_coordinates_are_the_stated_maps():
    g = SMALL["gaussian"][0]
    space = A.AlignedSpace(g)
    assert space.kinds == {"mean": "identity", "cov": "log-cholesky"}
    assert A.AlignedSpace(SMALL["gamma"][0]).kinds == {"shape": "log", "scale": "log"}
    v = dict(zip(space.labels, space.to_vectors([g])[0]))
    chol = np.linalg.cholesky(g.params["cov"][1])
    assert v["log(w0/w1)"] == pytest.approx(np.log(g.weights[0] / g.weights[1]), abs=1e-12)
    assert v["mean[1][0]"] == g.params["mean"][1][0]
    assert v["log chol(cov[1])[1,1]"] == pytest.approx(np.log(chol[1, 1]), abs=1e-12)
    assert v["chol(cov[1])[1,0]"] == pytest.approx(chol[1, 0], abs=1e-12)


def test_alignment_undoes_a_permutation():
    g = SMALL["gaussian"][3]
    space = A.AlignedSpace(g)
    assert space.permutations([g.permute([1, 0])]).tolist() == [[1, 0]]
    assert space.align([g.permute([1, 0])])[0] == g


def test_a_real_scalar_parameter_is_mapped_as_it_is():
    class Shifted(Exponential):  # rate > 0 and a location the family accepts on the whole line
        name = "shifted-exponential-test"
        param_spec = MappingProxyType({"rate": ParamSpec(()), "loc": ParamSpec(())})

        def _validate(self, params):
            return [] if np.all(np.asarray(params["rate"]) > 0) else ["rate must be positive"]

        def _natural_from_params(self, params):
            return -np.asarray(params["rate"])[..., None]

        def _params_from_natural(self, theta):
            return {"rate": -theta[..., 0], "loc": np.zeros(theta.shape[:-1])}

    g = ma.MixingDistribution(Shifted(), [0.5, 0.5], {"rate": [1.0, 2.0], "loc": [-1.0, 3.0]})
    assert A.AlignedSpace(g).kinds == {"rate": "log", "loc": "identity"}


# ---------------------------------------------------------------------------------------------- ALIE
def test_alie_z_max_is_baruchs():
    for m, f in [(20, 6), (24, 6), (50, 24), (7, 1)]:
        s = math.floor(m / 2 + 1) - f
        assert A.alie_z_max(m, f) == pytest.approx(norm.ppf((m - s) / m), abs=1e-14)


def test_alie_sends_mean_minus_z_std_in_aligned_space(gauss):
    out, mask = A.alie(gauss, 0.25, rng=3)
    m, f = len(gauss), int(mask.sum())
    z = norm.ppf((m - (math.floor(m / 2 + 1) - f)) / m)
    honest, _, _, space, vectors = honest_view(out, mask)
    expected = vectors.mean(axis=0) - z * vectors.std(axis=0, ddof=1)
    sent = space.to_vectors([out[int(np.flatnonzero(mask)[0])]])[0]
    np.testing.assert_allclose(sent, expected, rtol=1e-8, atol=1e-10)


def test_alie_on_poisson_from_the_rates_themselves(pois):
    out, mask = A.alie(pois, 0.25, rng=4, z=1.5)
    honest = [g for g, f in zip(out, mask) if not f]
    rates = np.array([np.sort(g.params["rate"]) for g in honest])  # rates 2 and 9: sorting aligns them
    weights = np.array([g.weights[np.argsort(g.params["rate"])] for g in honest])
    bad = out[int(np.flatnonzero(mask)[0])]
    order = np.argsort(bad.params["rate"])
    log_rates = np.log(rates)
    np.testing.assert_allclose(
        np.log(bad.params["rate"][order]), log_rates.mean(0) - 1.5 * log_rates.std(0, ddof=1), rtol=1e-9
    )
    ratio = np.log(weights[:, 0] / weights[:, 1])
    assert np.log(bad.weights[order][0] / bad.weights[order][1]) == pytest.approx(
        ratio.mean() - 1.5 * ratio.std(ddof=1), rel=1e-9
    )


def failed_vector(out, mask, space):
    return space.to_vectors([out[int(np.flatnonzero(mask)[0])]])[0]


def replace_failed(out, mask, g):
    return [g if f else e for e, f in zip(out, mask)]


def test_alie_search_is_the_largest_z_inside_the_filter(gauss):
    out, mask = A.alie(gauss, 0.25, rng=3, z="search")
    failed = np.flatnonzero(mask)
    assert set(failed) <= set(quiet_aggregate(out, "dfmr").selected)
    _, _, _, space, vectors = honest_view(out, mask)
    mean, std = vectors.mean(axis=0), vectors.std(axis=0, ddof=1)
    z = float(np.median((mean - failed_vector(out, mask, space)) / std))
    assert z > 0
    beyond = space.from_vectors(mean - 1.05 * z * std)[0]
    assert not set(failed) <= set(quiet_aggregate(replace_failed(out, mask, beyond), "dfmr").selected)


# ---------------------------------------------------------------------------------------------- IPM
def test_inner_product_manipulation_reverses_the_update(gauss):
    ref = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[1.0, 0.0], [3.0, 1.0]], "cov": [np.eye(2)] * 2})
    out, mask = A.inner_product_manipulation(gauss, 0.25, rng=2, epsilon=0.3, reference=ref)
    _, _, _, space, vectors = honest_view(out, mask)
    v_ref = space.to_vectors([ref])[0]
    delta = vectors.mean(axis=0) - v_ref
    sent = failed_vector(out, mask, space)
    np.testing.assert_allclose(sent, v_ref - 0.3 * delta, rtol=1e-8, atol=1e-10)
    assert np.dot(sent - v_ref, delta) < 0  # the inner product with the honest update is negative


def test_inner_product_manipulation_search_warns_when_nothing_passes(gauss):
    # the default reference (one pooled component) is far from every honest estimate: the filter holds
    with pytest.warns(A.AttackWarning, match="no point of the attack passes"):
        out, mask = A.inner_product_manipulation(gauss, 0.25, rng=2, epsilon="search")
    assert not set(np.flatnonzero(mask)) & set(quiet_aggregate(out, "dfmr").selected)


# ---------------------------------------------------------------------------------------------- min-max, min-sum
@pytest.mark.parametrize("direction", ["std", "sign"])
def test_min_max_meets_its_budget_with_equality(gauss, direction):
    out, mask = A.min_max(gauss, 0.25, rng=6, direction=direction)
    honest = [g for g, f in zip(out, mask) if not f]
    bad = out[int(np.flatnonzero(mask)[0])]
    d = ma.l2_distance_matrix([*honest, bad])
    assert d[-1, :-1].max() == pytest.approx(d[:-1, :-1].max(), rel=1e-6)
    assert d[-1, :-1].max() <= d[:-1, :-1].max() * (1 + 1e-12)


def test_min_sum_meets_its_budget_with_equality(gauss):
    out, mask = A.min_sum(gauss, 0.25, rng=6)
    honest = [g for g, f in zip(out, mask) if not f]
    bad = out[int(np.flatnonzero(mask)[0])]
    d = ma.l2_distance_matrix([*honest, bad])
    budget = (d[:-1, :-1] ** 2).sum(axis=1).max()
    assert (d[-1, :-1] ** 2).sum() == pytest.approx(budget, rel=1e-6)


def test_min_max_moves_against_the_standard_deviations(gauss):
    out, mask = A.min_max(gauss, 0.25, rng=6)
    _, _, _, space, vectors = honest_view(out, mask)
    step = (failed_vector(out, mask, space) - vectors.mean(axis=0)) / -vectors.std(axis=0, ddof=1)
    assert np.all(step > 0) and np.ptp(step) < 1e-6 * step.mean()  # one gamma for every coordinate


# ---------------------------------------------------------------------------------------------- threshold hugging
@pytest.mark.parametrize("rule, options", [("dfmr", {}), ("cred", {})])
def test_threshold_hugging_sits_just_inside_the_filter(gauss, rule, options):
    out, mask = A.threshold_hugging(gauss, 0.25, rng=7, rule=rule, rule_options=options)
    failed = np.flatnonzero(mask)
    assert set(failed) <= set(quiet_aggregate(out, rule, **options).selected)  # the filter on the corrupted set
    _, _, _, space, vectors = honest_view(out, mask)
    mean = vectors.mean(axis=0)
    centre = space.from_vectors(mean)[0]
    honest = [g for g, f in zip(out, mask) if not f]
    far = int(np.argmax(ma.l2_distance_matrix([centre, *honest])[0, 1:]))
    u = vectors[far] - mean
    offset = failed_vector(out, mask, space) - mean
    t = float(offset @ u / (u @ u))
    np.testing.assert_allclose(offset, t * u, atol=1e-8 * np.abs(u).max())  # along the default direction
    beyond = space.from_vectors(mean + 1.1 * t * u)[0]
    kept = quiet_aggregate(replace_failed(out, mask, beyond), rule, **options).selected
    assert not set(failed) <= set(kept)  # a step 10% larger leaves at least one failed machine out


def test_threshold_hugging_takes_a_direction(gauss):
    space_dim = A.AlignedSpace(gauss[0]).dim
    u = np.zeros(space_dim)
    u[1] = 1.0  # the first coordinate of component 0's mean
    out, mask = A.threshold_hugging(gauss, 0.25, rng=7, direction=u)
    out2, _ = A.threshold_hugging(gauss, 0.25, rng=7, direction=lambda vectors: u)
    assert out[int(np.flatnonzero(mask)[0])] == out2[int(np.flatnonzero(mask)[0])]
    assert set(np.flatnonzero(mask)) <= set(quiet_aggregate(out, "dfmr").selected)
    with pytest.raises(ValueError, match="direction must be an aligned vector of length"):
        A.threshold_hugging(gauss, 0.25, rng=7, direction=np.ones(3))


# ---------------------------------------------------------------------------------------------- tiny component
@pytest.fixture(scope="module")
def light():
    """Honest fits of a mixture with a light component (3% of the mass)."""
    truth = ma.MixingDistribution(
        "gaussian", [0.03, 0.97], {"mean": [[0.0, 0.0], [3.0, 1.0]], "cov": [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]]}
    )
    rng = np.random.default_rng(0)
    return [ma.fit_mixture(truth.sample(1000, rng), "gaussian", 2, init=truth) for _ in range(20)]


@pytest.mark.parametrize("mode", ["broad", "far"])
def test_tiny_component_is_nearly_invisible_in_l2(light, mode):
    out, mask = A.tiny_component(light, 0.25, rng=1, mode=mode, weight=0.01, factor=1e10, offset=1e6)
    honest = [g for g, f in zip(out, mask) if not f]
    coat = honest[coat_radius(ma.l2_distance_matrix(honest))[0]]
    bad = out[int(np.flatnonzero(mask)[0])]
    _, radius = coat_radius(ma.l2_distance_matrix(out))
    assert ma.l2_distance(bad, coat) < radius  # inside the majority ball of the corrupted set's COAT
    k = int(np.argmin(coat.weights))
    assert bad.weights[k] == pytest.approx(0.01)
    rest = np.arange(2) != k
    np.testing.assert_allclose(bad.weights[rest], coat.weights[rest] * 0.99 / coat.weights[rest].sum())
    if mode == "broad":
        np.testing.assert_allclose(bad.params["cov"][k], coat.params["cov"][k] * 1e10, rtol=1e-12)
        np.testing.assert_array_equal(bad.params["mean"], coat.params["mean"])
    else:
        np.testing.assert_allclose(bad.params["mean"][k], coat.params["mean"][k] + [1e6, 0.0])
        np.testing.assert_array_equal(bad.params["cov"], coat.params["cov"])
    np.testing.assert_array_equal(bad.params["mean"][rest], coat.params["mean"][rest])


def test_tiny_component_drags_the_moment_match(light):
    out, mask = A.tiny_component(light, 0.25, rng=1)
    fam = out[0].family

    def pooled_cov(estimates):  # the KL barycentre (moment match) of every component of every estimate
        params = {key: np.concatenate([g.params[key] for g in estimates]) for key in ("mean", "cov")}
        masses = np.concatenate([g.weights for g in estimates]) / len(estimates)
        return np.linalg.eigvalsh(fam.barycentre(params, masses)["cov"]).max()

    assert pooled_cov(out) > 1e6 * pooled_cov([g for g, f in zip(out, mask) if not f])


@pytest.mark.parametrize(
    "family, key, broad, far",
    [
        ("poisson", "rate", lambda r: r * 1e10, lambda r: r + 1e6),
        ("exponential", "rate", lambda r: r / 1e10, lambda r: r / 1e6),
        ("gamma", "scale", lambda s: s * 1e10, lambda s: s * 1e6),
    ],
)
def test_tiny_component_in_the_scalar_families(family, key, broad, far):
    ests = SMALL[family]
    for mode, expect in (("broad", broad), ("far", far)):
        out, mask = A.tiny_component(ests, 0.25, rng=2, mode=mode)
        honest = [g for g, f in zip(out, mask) if not f]
        coat = honest[coat_radius(ma.l2_distance_matrix(honest))[0]]
        k = int(np.argmin(coat.weights))
        bad = out[int(np.flatnonzero(mask)[0])]
        assert bad.params[key][k] == pytest.approx(expect(coat.params[key][k]), rel=1e-12)


# ---------------------------------------------------------------------------------------------- sample sizes
def test_sample_size_claims_travel_in_the_payloads(gauss):
    out, mask = A.sample_size_claims(gauss, 0.25, rng=8, claim=1e6)
    assert all(isinstance(e, ma.wire.TransmittedEstimate) for e in out)
    assert [e.machine_id for e in out] == list(range(len(gauss)))
    claims = np.array([e.n_samples for e in out])
    assert np.all(claims[mask] == 1_000_000)
    assert np.all(claims[~mask] == [g.n_samples for g, f in zip(gauss, mask) if not f])
    honest = [g for g, f in zip(gauss, mask) if not f]
    coat = honest[coat_radius(ma.l2_distance_matrix(honest))[0]]
    assert all(e == coat for e, f in zip(out, mask) if f)  # an exact copy of the honest COAT
    text = ma.wire.dumps(out[int(np.flatnonzero(mask)[0])])
    back = ma.wire.loads(text, family="gaussian", n_components=2)
    assert back.n_samples == 1_000_000 and back.machine_id == int(np.flatnonzero(mask)[0])
    res = quiet_aggregate(out, "dfmr", sample_sizes=claims)
    assert set(np.flatnonzero(mask)) <= set(res.selected)  # the claims come with estimates inside the filter


def test_sample_size_claims_need_the_honest_sizes():
    with pytest.raises(ValueError, match="sample_sizes="):
        A.sample_size_claims(SMALL["poisson"], 0.25, rng=1)
    out, mask = A.sample_size_claims(SMALL["poisson"], 0.25, rng=1, claim=1, sample_sizes=SIZES, shift=0.5)
    assert [e.n_samples for e in out] == [1 if f else n for f, n in zip(mask, SIZES)]


# ---------------------------------------------------------------------------------------------- COAT capture, mimic
def test_coat_capture_moves_the_coat_to_the_honest_fringe(gauss):
    out, mask = A.coat_capture(gauss, 0.4, rng=9)
    honest_index = np.flatnonzero(~mask)
    honest = [gauss[i] for i in honest_index]
    d = ma.l2_distance_matrix(honest)
    c = coat_radius(d)[0]
    extreme = honest_index[int(np.argmax(d[c]))]
    assert all(out[i] == gauss[extreme] for i in np.flatnonzero(mask))
    d_all = ma.l2_distance_matrix(out)
    new_coat, radius = coat_radius(d_all)
    first_failed = int(np.flatnonzero(mask)[0])
    # the COAT is a copy or the extreme itself, or an honest estimate whose majority ball the copies fill
    assert mask[new_coat] or new_coat == extreme or d_all[new_coat, first_failed] <= radius
    assert d_all[new_coat, extreme] < d_all[honest_index[c], extreme]  # the filter's centre moved to the fringe


def test_mimic_copies_the_most_extreme_honest_estimate(gauss):
    out, mask = A.mimic(gauss, 0.25, rng=10)
    honest_index = np.flatnonzero(~mask)
    copies = [out[i] for i in np.flatnonzero(mask)]
    matches = [i for i in honest_index if gauss[i] == copies[0]]
    assert len(matches) == 1 and all(g == copies[0] for g in copies)
    _, _, _, space, vectors = honest_view(out, mask)
    centred = vectors - vectors.mean(axis=0)
    eigval, eigvec = np.linalg.eigh(centred.T @ centred)  # the top principal direction, independently of SVD
    projection = np.abs(centred @ eigvec[:, -1])
    assert honest_index[int(np.argmax(projection))] == matches[0]


# ---------------------------------------------------------------------------------------------- data poisoning
def test_data_poisoning_outliers():
    rng = np.random.default_rng(3)
    parts = [rng.normal(size=(200, 2)) for _ in range(10)]
    copies = [p.copy() for p in parts]
    out, mask = A.data_poisoning(parts, 0.3, rng=4, kind="outliers", fraction=0.15, scale=10.0)
    assert mask.sum() == 3
    for p, c in zip(parts, copies):
        np.testing.assert_array_equal(p, c)  # the input is untouched
    for p, q, failed in zip(parts, out, mask):
        if not failed:
            assert q is p
            continue
        changed = np.any(q != p, axis=1)
        assert changed.sum() == round(0.15 * 200)
        lo, hi = p.min(axis=0), p.max(axis=0)
        half = 5.0 * (hi - lo)
        assert np.all(np.abs(q[changed] - 0.5 * (lo + hi)) <= half)
        assert np.mean(np.any((q[changed] < lo) | (q[changed] > hi), axis=1)) > 0.5  # most land outside the data


def test_data_poisoning_shift_and_unit_keep_counts_integers():
    parts = [POIS_TRUTH.sample(300, rng=i).astype(np.int64) for i in range(8)]
    out, mask = A.data_poisoning(parts, 0.25, rng=1, kind="shift", scale=3.0)
    for p, q, failed in zip(parts, out, mask):
        if failed:
            assert q.dtype == p.dtype
            np.testing.assert_array_equal(q - p, np.rint(3.0 * p.std()))
    out, mask = A.data_poisoning(parts, 0.25, rng=1, kind="unit", scale=10.0)
    for p, q, failed in zip(parts, out, mask):
        if failed:
            np.testing.assert_array_equal(q, 10 * p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EM on data in tens: a component may sit at the regulariser's bound
        local = [ma.fit_mixture(x, "poisson", 2, init=POIS_TRUTH) for x in out]
    res = quiet_aggregate(local, "dfmr")
    assert set(np.flatnonzero(mask)) <= set(res.excluded)  # a unit change is far off: the filter sees it


# ---------------------------------------------------------------------------------------------- the filter, registry
def test_passes_filter_agrees_with_the_rule(gauss):
    far, mask = A.mean_failure(gauss, 0.25, rng=1)
    assert not A.passes_filter(far, mask)
    assert A.passes_filter(far, mask, rule="trim")  # no machine-level filter
    res = quiet_aggregate(gauss, "dfmr", rho=1.3)
    assert A.passes_filter(gauss, res.selected[:5], rule="dfmr", rule_options={"rho": 1.3})
    assert res.excluded.size and not A.passes_filter(gauss, res.excluded[:1], rule_options={"rho": 1.3})


def test_registry():
    assert set(A.ADAPTIVE_ATTACKS) <= set(A.ATTACKS)
    for name, info in A.ATTACKS.items():
        assert info.name == name and callable(info.function) and info.description
        assert info.knowledge in ("omniscient", "oblivious") and info.level in ("estimates", "data")
        assert getattr(A, info.function.__name__) is info.function
    assert A.ATTACKS["alie"].takes_rule and not A.ATTACKS["mimic"].takes_rule
    assert set(A.available_attacks(level="data")) == {"data_poisoning"}
    assert all(v.knowledge == "oblivious" for v in A.available_attacks(knowledge="oblivious").values())


# ---------------------------------------------------------------------------------------------- bad input
class RateOnly(Exponential):
    name = "rate-only-test"


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda e: A.alie(e, 0.5), ValueError, r"alpha must lie in \[0, 0.5\)"),
        (lambda e: A.mimic(e, -0.1), ValueError, "alpha"),
        (lambda e: A.alie(e, 0.25, z="large"), ValueError, "z must be a number or 'search'"),
        (lambda e: A.alie(e, 0.25, z=[1.0]), TypeError, "z must be a real number"),
        (lambda e: A.alie(e, 0.25, z="search", rule="nope"), ValueError, "rule: method must be one of"),
        (lambda e: A.alie(e, 0.25, rule=3), TypeError, "rule must be a registered rule name"),
        (lambda e: A.threshold_hugging(e, 0.25, rule_options=[1]), TypeError, "rule_options must be a dict"),
        (lambda e: A.threshold_hugging(e, 0.25, rule_options={"bogus": 1}), TypeError, "rule_options"),
        (lambda e: A.threshold_hugging(e, 0.25, rule_options={"distances": 1}), ValueError, "distances"),
        (lambda e: A.threshold_hugging(e, 0.25, margin=0.0), ValueError, "margin"),
        (lambda e: A.threshold_hugging(e, 0.25, direction="up"), TypeError, "direction"),
        (lambda e: A.inner_product_manipulation(e, 0.25, epsilon=-1.0), ValueError, "epsilon"),
        (lambda e: A.inner_product_manipulation(e, 0.25, reference=POIS_TRUTH), ValueError, "reference has family"),
        (lambda e: A.inner_product_manipulation(e, 0.25, reference="x"), TypeError, "reference"),
        (lambda e: A.min_max(e, 0.25, direction="down"), ValueError, "direction must be one of"),
        (lambda e: A.min_sum(e, 0.25, direction=1), TypeError, "direction"),
        (lambda e: A.tiny_component(e, 0.25, mode="wide"), ValueError, "mode"),
        (lambda e: A.tiny_component(e, 0.25, weight=1.5), ValueError, "weight"),
        (lambda e: A.tiny_component(e, 0.25, factor=0.5), ValueError, "factor"),
        (lambda e: A.tiny_component(e, 0.25, offset=-1.0), ValueError, "offset"),
        (lambda e: A.sample_size_claims(e, 0.25, claim=0), ValueError, "claim"),
        (lambda e: A.sample_size_claims(e, 0.25, claim=2.5), ValueError, "claim"),
        (lambda e: A.sample_size_claims(e, 0.25, base="median"), ValueError, "base"),
        (lambda e: A.sample_size_claims(e, 0.25, sample_sizes=[1, 2]), ValueError, "sample_sizes"),
        (lambda e: A.coat_capture(e, 0.25, position=0.5), ValueError, "position"),
        (lambda e: A.alie(e[0], 0.25), TypeError, "estimates must be a sequence"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(SMALL["gaussian"])


def test_families_an_attack_cannot_handle():
    g = ma.MixingDistribution(RateOnly(), [0.5, 0.5], {"rate": [1.0, 3.0]})
    with pytest.raises(ValueError, match="rate-only-test|RateOnly"):
        A.tiny_component([g] * 6, 0.2, rng=1)
    with pytest.raises(ValueError, match="at least 2 components"):
        A.tiny_component([ma.MixingDistribution("poisson", [1.0], {"rate": [2.0]})] * 6, 0.2)
    mixed = [*SMALL["poisson"][:3], ma.MixingDistribution("poisson", [1.0], {"rate": [2.0]})]
    with pytest.raises(ValueError, match=r"estimates\[3\] has 1 components"):
        A.alie(mixed, 0.25)


def test_data_poisoning_bad_input():
    parts = [np.zeros((5, 2))] * 4
    with pytest.raises(TypeError, match="parts must be a list"):
        A.data_poisoning(np.zeros((4, 5, 2)), 0.25)
    with pytest.raises(ValueError, match="kind must be one of"):
        A.data_poisoning(parts, 0.25, kind="noise")
    with pytest.raises(ValueError, match="fraction"):
        A.data_poisoning(parts, 0.25, fraction=0.0)
    with pytest.raises(ValueError, match="scale"):
        A.data_poisoning(parts, 0.25, scale=-2.0)
    with pytest.raises(TypeError, match=r"parts\[1\] must be a numeric array"):
        A.data_poisoning([np.zeros(3), np.array(["a", "b"])], 0.25)
    with pytest.raises(ValueError, match="alpha"):
        A.data_poisoning(parts, 0.6)


# ---------------------------------------------------------------------------------------------- new families
def _local_fits(truth: ma.MixingDistribution, m: int = 12, n: int = 400, seed: int = 0) -> list:
    gen = np.random.default_rng(seed)
    return [
        ma.fit_mixture(truth.sample(n, rng=gen), truth.family, truth.n_components, init=truth, progress=False)
        for _ in range(m)
    ]


FAMILY_CASES = {
    "bernoulli": (
        ma.MixingDistribution("bernoulli", [0.4, 0.6], {"p": [[0.2, 0.7, 0.5], [0.8, 0.3, 0.6]]}),
        {"p": "logit"},
    ),
    "categorical": (
        ma.MixingDistribution(
            ma.families.Categorical([3, 2]),
            [0.5, 0.5],
            {"probs": [[[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]], [[0.5, 0.4, 0.1], [0.3, 0.7, 0.0]]]},
        ),
        {"probs": "log-ratio"},
    ),
    "tied": (
        ma.MixingDistribution(
            ma.families.Gaussian(2, "tied"), [0.5, 0.5], {"mean": [[0, 0], [3, 1]], "cov": [np.eye(2)] * 2}
        ),
        {"mean": "identity", "cov": "log-cholesky"},
    ),
    "product": (
        ma.MixingDistribution(
            ma.families.Product([ma.families.Gaussian(2, "diag"), ma.families.Poisson(), ma.families.Categorical([3])]),
            [0.4, 0.6],
            {
                "gaussian.mean": [[0, 0], [3, 3]],
                "gaussian.var": [[1, 2], [1, 1]],
                "poisson.rate": [2.0, 7.0],
                "categorical.probs": [[[0.2, 0.3, 0.5]], [[0.6, 0.3, 0.1]]],
            },
        ),
        {"gaussian.mean": "identity", "gaussian.var": "log", "poisson.rate": "log", "categorical.probs": "log-ratio"},
    ),
}


@pytest.mark.parametrize("name", sorted(FAMILY_CASES))
def test_aligned_space_of_probabilities_structures_and_products(name):
    """Probabilities by logits, probability vectors by log-ratios on their support, variances by logs: the map
    round-trips, and every vector near the honest ones maps to a valid mixture (a tied one keeps one covariance)."""
    truth, kinds = FAMILY_CASES[name]
    ests = _local_fits(truth)
    space = A.AlignedSpace.of(ests)
    assert space.kinds == kinds
    aligned = space.align(ests)
    vectors = space.to_vectors(aligned, align=False)
    assert vectors.shape == (len(ests), space.dim) == (len(ests), len(space.labels))
    for g, h in zip(aligned, space.from_vectors(vectors)):
        for key in g.params:
            np.testing.assert_allclose(h.params[key], g.params[key], rtol=1e-10, atol=1e-13)
    gen = np.random.default_rng(1)
    spread = vectors.std(axis=0) + 1e-3
    far = vectors.mean(axis=0) + 5 * spread * gen.standard_normal((20, space.dim))
    assert all(g.validate() == [] for g in space.from_vectors(far))


def test_aligned_coordinates_of_probabilities_are_the_stated_maps():
    g = _local_fits(FAMILY_CASES["categorical"][0], m=1)[0]
    v = dict(zip(A.AlignedSpace(g).labels, A.AlignedSpace(g).to_vectors([g])[0]))
    probs = g.params["probs"]
    assert v["log(probs[1][0][0]/probs[1][0][2])"] == pytest.approx(np.log(probs[1][0][0] / probs[1][0][2]), abs=1e-12)
    assert v["log(probs[0][1][0]/probs[0][1][1])"] == pytest.approx(np.log(probs[0][1][0] / probs[0][1][1]), abs=1e-12)
    assert not any("probs[0][1][2]" in label for label in v)  # beyond the second feature's two levels
    b = _local_fits(FAMILY_CASES["bernoulli"][0], m=1)[0]
    w = dict(zip(A.AlignedSpace(b).labels, A.AlignedSpace(b).to_vectors([b])[0]))
    p = b.params["p"][1][2]
    assert w["logit p[1][2]"] == pytest.approx(np.log(p / (1 - p)), abs=1e-12)


@pytest.mark.parametrize("name", ["bernoulli", "categorical", "product"])
@pytest.mark.parametrize("attack", ["alie", "threshold_hugging", "inner_product_manipulation"])
def test_adaptive_attacks_stay_in_the_parameter_space_of_the_new_families(name, attack):
    truth = FAMILY_CASES[name][0]
    ests = _local_fits(truth, m=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sent, failed = A.ATTACKS[attack].function(ests, 0.2, rng=2)
    assert failed.sum() == 4
    assert all(g.validate() == [] for g in sent)
    assert any(not (g == e) for g, e, f in zip(sent, ests, failed) if f)  # the attack moved them


def test_probabilities_that_happen_to_sum_to_one_stay_logits():
    """Bernoulli columns that are complementary (one-hot pairs) sum to one per component, yet the family does not
    require it: they stay logits; and a logit beyond 37 still decodes to a probability below one."""
    g = ma.MixingDistribution("bernoulli", [0.5, 0.5], {"p": [[0.3, 0.7], [0.8, 0.2]]})
    space = A.AlignedSpace(g)
    assert space.kinds == {"p": "logit"} and space.dim == 5
    v = space.to_vectors([g])[0]
    v[1] = 40.0
    assert space.from_vectors(v)[0].validate() == []
