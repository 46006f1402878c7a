"""The rules' defences against what one lying machine can send (``docs/aggregation.md``, "Defences").

The atom screen against low-mass broad or far components, reductions that survive values near the
wire's limit, reported sample sizes as claims, one vote per machine id, and the loud majority edge.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import warnings

import numpy as np
import pytest

import mixagg as ma
from mixagg import wire
from mixagg.cli import main
from mixagg.exceptions import AggregationWarning, MajorityWarning, NumericalWarning, ReductionError
from mixagg.rejection import Rejected
from mixagg.robust.pipeline import bound_sample_sizes
from mixagg.robust.screen import SCREEN_FACTOR, screen_atoms

M, N = 20, 3000
#: A truth with a component of weight 2%: the case the L2 filter cannot protect.
SMALL = ma.MixingDistribution(
    "gaussian", [0.49, 0.49, 0.02],
    {"mean": [[0.0, 0.0], [5.0, 0.0], [0.0, 6.0]], "cov": [np.eye(2), [[1.5, 0.3], [0.3, 1.0]], 3 * np.eye(2)]},
)  # fmt: skip


@pytest.fixture(scope="module")
def honest():
    rng = np.random.default_rng(11)
    return [ma.fit_mixture(SMALL.sample(N, rng), "gaussian", 3, init=SMALL) for _ in range(M)]


def _replace_small(g, *, weight, mean=None, cov_factor=1.0):
    """``g`` with its smallest component given ``weight`` (others rescaled) and a new mean / inflated covariance."""
    w = np.array(g.weights)
    j = int(np.argmin(w))
    w[j] = 0.0
    w *= (1.0 - weight) / w.sum()
    w[j] = weight
    mu, cov = np.array(g.params["mean"]), np.array(g.params["cov"])
    if mean is not None:
        mu[j] = mean
    cov[j] *= cov_factor
    return ma.MixingDistribution("gaussian", w, {"mean": mu, "cov": cov})


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AggregationWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------- the atom screen


@pytest.mark.parametrize(
    "attack",
    [
        {"weight": 0.01, "cov_factor": 1e12},  # very broad
        {"weight": 0.001, "mean": [1e99, 0.0]},  # very far
        {"weight": 0.005, "mean": [1e6, 0.0]},
    ],
    ids=["broad", "far-1e99", "far-1e6"],
)
def test_one_machine_cannot_drag_a_small_component_with_a_low_mass_one(honest, attack):
    coat = ma.aggregate(honest, "coat").mixture
    bad = _replace_small(coat, weight=attack.pop("weight"), **attack)
    sent = [bad, *honest[1:]]
    oracle = ma.aggregate(honest[1:], "vanilla").mixture
    w_oracle = ma.metrics.w1(oracle, SMALL)
    for method in ("dfmr", "cred", "ared"):
        res = _quiet(ma.aggregate, sent, method)
        assert 0 in res.selected  # the L2 filter keeps it: the distance barely sees a low-mass component
        assert res.screened == {0: (int(np.argmin(bad.weights)),)}
        assert ma.metrics.w1(res.mixture, SMALL) < 2.0 * w_oracle, method
        assert np.min(res.mixture.weights) > 0.015  # the true 2% component survives
    unscreened = _quiet(ma.aggregate, sent, "dfmr", screen=None)  # what the screen prevents
    assert ma.metrics.w1(unscreened.mixture, SMALL) > 100 * w_oracle


def test_the_screen_leaves_honest_estimates_alone(honest):
    res = ma.aggregate(honest, "dfmr")
    assert res.screened == {} and not any("atom screen" in w for w in res.warnings)
    plain = ma.aggregate(honest, "dfmr", screen=None)
    assert res.mixture == plain.mixture


def _poisson_kl(a, b):
    return a * np.log(a / b) - a + b


def test_the_screen_score_is_the_mass_times_the_median_nearest_kl():
    """Recomputed from the closed-form Poisson KL, atom by atom, machine by machine."""
    rng = np.random.default_rng(3)
    rates = rng.uniform([1.0, 6.0], [1.5, 7.0], size=(7, 2))
    weights = rng.dirichlet([20, 20], size=7)
    items = [ma.MixingDistribution("poisson", w, {"rate": r}) for w, r in zip(weights, rates)]
    lambdas = rng.dirichlet(np.full(7, 10.0))
    screen = screen_atoms(items, lambdas)
    expected = np.empty((7, 2))
    for i in range(7):
        for k in range(2):
            nearest = [min(_poisson_kl(rates[i, k], rates[j, c]) for c in range(2)) for j in range(7) if j != i]
            share = lambdas[i] / (1 + lambdas[i] / np.median(lambdas))
            expected[i, k] = share * weights[i, k] * np.median(nearest)
    np.testing.assert_allclose(screen.score, expected, rtol=1e-9)
    assert screen.threshold == pytest.approx(SCREEN_FACTOR * np.median(expected), rel=1e-9)
    assert not screen.excluded.any()


def test_the_screen_refuses_what_overflows_and_explains_its_factor():
    items = [ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0 + 0.01 * i, 8.0]}) for i in range(5)]
    items.append(ma.MixingDistribution("poisson", [0.999, 0.001], {"rate": [1.0, 1e99]}))
    screen = screen_atoms(items, np.full(6, 1 / 6))
    assert screen.dropped == {5: (1,)}
    with pytest.raises(ValueError, match="factor"):
        screen_atoms(items, np.full(6, 1 / 6), factor=0.5)
    with pytest.raises(ValueError, match="screen"):
        ma.aggregate(items, "dfmr", screen=0.5)


# ---------------------------------------------------------------------------- values near the wire's limit


def _extreme(coat):
    bad = _replace_small(coat, weight=0.02, mean=[1e99, 1e99], cov_factor=1e99 / 3)
    return ma.wire.loads(ma.wire.dumps(bad, "byz", n_samples=N), family="gaussian", n_components=3)


@pytest.mark.parametrize("method", ["dfmr", "cred", "ared", "coat", "trim", "vanilla"])
def test_every_rule_survives_a_wire_valid_payload_near_1e99(honest, method):
    sent = [_extreme(ma.aggregate(honest, "coat").mixture), *honest[1:]]
    res = _quiet(ma.aggregate, sent, method)
    mix = res.mixture
    assert all(np.all(np.isfinite(v)) for v in mix.params.values()) and np.all(np.isfinite(mix.weights))
    assert np.all(np.linalg.eigvalsh(mix.params["cov"]) > 0)


def test_vanilla_isolates_what_it_cannot_pool_and_only_fails_when_no_start_can(honest):
    """The start from the extreme estimate keeps its far atom alone; without that start no partition is carried."""
    bad = _extreme(ma.aggregate(honest, "coat").mixture)
    res = ma.reduction.mixture_reduction([bad, *honest[1:]], 3)
    assert np.max(np.abs(res.mixture.params["mean"])) > 1e98  # the far atom is one of the 3 centres (vanilla breaks)
    assert math.isinf(min(res.start_objectives[1:])) or res.best_start == 0
    # one centre for two atoms 2e160 apart: the pooled covariance overflows from every start
    far = [ma.MixingDistribution("gaussian", [1.0], {"mean": [[s * 1e160, 0.0]], "cov": [np.eye(2)]}) for s in (1, -1)]
    with pytest.raises(ReductionError, match="every one of its 2 starts"):
        ma.reduction.mixture_reduction(far, 1)


def test_trim_survives_gamma_shapes_near_the_limit():
    truth = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 9.0], "scale": [1.0, 1.0]})
    rng = np.random.default_rng(2)
    fits = [ma.fit_mixture(truth.sample(1000, rng), "gamma", 2, init=truth) for _ in range(20)]
    sent = [ma.MixingDistribution("gamma", g.weights, {"shape": [1e99, 1e99], "scale": g.params["scale"]})
            for g in fits[:4]] + fits[4:]  # fmt: skip
    for method in ("trim", "dfmr", "vanilla"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no floating-point noise escapes either
            if method == "dfmr":
                with pytest.warns(NumericalWarning, match="overflows float64"):  # their L2 norms: reported as +inf
                    res = _quiet(ma.aggregate, sent, method)
            else:
                res = _quiet(ma.aggregate, sent, method)
        assert np.all(np.isfinite(res.mixture.params["shape"]))


# ---------------------------------------------------------------------------- reported sample sizes


def test_sample_sizes_are_clipped_around_their_median():
    sizes = np.array([3000.0, 2900.0, 3100.0, 1e6, 1.0])
    np.testing.assert_array_equal(bound_sample_sizes(sizes, 2.0), [3000.0, 2900.0, 3000.0, 3000.0, 1500.0])
    np.testing.assert_array_equal(bound_sample_sizes(sizes, 4.0), [3000.0, 2900.0, 3000.0, 3000.0, 750.0])
    np.testing.assert_array_equal(bound_sample_sizes(sizes, None), sizes)


def test_an_inflated_claim_weighs_no_more_than_the_median(honest):
    """One machine inside the filter claims 1e6 observations: bounded, it cannot steer the aggregate."""
    coat = ma.aggregate(honest[1:], "coat").mixture

    def liar(t):
        mu = np.array(coat.params["mean"])
        mu[1] += t * np.array([1.0, 0.25])
        return ma.MixingDistribution("gaussian", coat.weights, {"mean": mu, "cov": coat.params["cov"]})

    step = max(t for t in np.linspace(0.02, 0.5, 25) if 0 in ma.aggregate([liar(t), *honest[1:]]).selected)
    sent = [liar(step), *honest[1:]]
    claims = [1e6] + [N] * (M - 1)
    res = _quiet(ma.aggregate, sent, "dfmr", sample_sizes=claims)
    assert res.clipped_sizes.tolist() == [0] and 0 in res.selected
    assert any("clipped" in w for w in res.warnings)
    assert res.mixture == ma.aggregate(sent, "dfmr").mixture  # the median claim for everyone: equal weights
    equal = ma.metrics.w1(ma.aggregate(sent, "dfmr").mixture, SMALL)
    trusted = ma.metrics.w1(ma.aggregate(sent, "dfmr", sample_sizes=claims, sample_size_bound=None).mixture, SMALL)
    assert trusted > 2 * equal  # believed, the claim steers the aggregate


def test_rho_auto_reads_bounded_claims_even_without_sample_sizes(honest):
    rng = np.random.default_rng(0)
    gross = ma.MixingDistribution(
        "gaussian", honest[0].weights, {"mean": rng.normal(0, 100, (3, 2)), "cov": honest[0].params["cov"]}
    )
    rhos = []
    for claim in (N, 1):
        sent = [wire.loads(wire.dumps(gross, 0, n_samples=claim), family="gaussian", n_components=3)]
        sent += [wire.loads(wire.dumps(g, i, n_samples=N), family="gaussian", n_components=3)
                 for i, g in enumerate(honest[1:], start=1)]  # fmt: skip
        res = _quiet(ma.aggregate, sent, "dfmr", rho="auto")
        assert 0 in res.excluded
        rhos.append(res.rho)
    assert rhos[1] < 1.5 * rhos[0]  # unbounded, a claim of 1 made rho about 30 times larger


@pytest.mark.parametrize("claim", [0.5, 1e-300, 0, 1e100, float("nan"), True, "3000"])
def test_the_wire_refuses_sample_sizes_that_are_no_count(claim):
    g = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 5.0]})
    with pytest.raises((ValueError, TypeError), match="n_samples"):
        wire.dumps(g, "m", n_samples=claim)
    payload = json.loads(wire.dumps(g, "m"))
    payload["n_samples"] = claim if not (isinstance(claim, float) and math.isnan(claim)) else "NaN"
    got = wire.loads(json.dumps(payload), family="poisson")
    assert isinstance(got, Rejected) and "n_samples" in got.reason


def test_the_wire_reads_an_integral_double_as_a_count():
    g = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 5.0]})
    text = wire.dumps(g, "m").replace('"n_samples":null', '"n_samples":3000.0')
    got = wire.loads(text, family="poisson")
    assert got.n_samples == 3000 and isinstance(got.n_samples, int)


# ---------------------------------------------------------------------------- one machine, one vote


def _payloads(fits, ids):
    return [wire.loads(wire.dumps(g, i, n_samples=N), family="gaussian", n_components=3) for g, i in zip(fits, ids)]


def test_copies_under_one_id_count_once(honest):
    ids = [f"m{i}" for i in range(M)]
    sent = _payloads(honest, ids) + _payloads([honest[3], honest[3]], ["m3", "m3"])
    with pytest.warns(UserWarning, match="2 of the 22 estimates were rejected"):
        res = ma.aggregate(sent, "dfmr")
    assert sorted(res.rejected) == [M, M + 1]
    assert all("a copy of estimate [3]" in r.reason for r in res.rejected.values())
    assert 3 in res.selected
    assert res.coat_radius == ma.aggregate(sent[:M], "dfmr").coat_radius  # the copies are no missing machines


def test_different_estimates_under_one_id_are_all_refused(honest):
    ids = [f"m{i}" for i in range(M - 1)] + ["m0"]
    sent = _payloads(honest, ids)
    with pytest.warns(UserWarning, match="2 of the 20 estimates were rejected"):
        res = ma.aggregate(sent, "dfmr")
    assert sorted(res.rejected) == [0, M - 1]
    assert all("2 different estimates" in r.reason for r in res.rejected.values())
    one_missing = ma.aggregate(sent[1 : M - 1], "dfmr", n_missing=1)  # the id stands for one machine, not two
    assert res.coat_radius == one_missing.coat_radius and res.coat_index == one_missing.coat_index + 1


# ---------------------------------------------------------------------------- the majority edge


def _edge(honest):
    """3 honest, 1 with a mean set to 1e6, 2 rejected: 4 of 6 valid, exactly the fewest a majority needs."""
    wild = ma.MixingDistribution("gaussian", honest[3].weights, {**honest[3].params})
    mu = np.array(wild.params["mean"])
    mu[0] = [1e6, 0.0]
    wild = ma.MixingDistribution("gaussian", wild.weights, {"mean": mu, "cov": wild.params["cov"]})
    return [*honest[:3], wild, Rejected("r1", "malformed"), Rejected("r2", "malformed")]


def test_the_majority_edge_is_loud(honest):
    with pytest.warns(MajorityWarning, match="tolerates no failure"):
        res = ma.aggregate(_edge(honest), "dfmr")
    assert res.majority_doubtful and "MAJORITY DOUBTFUL" in res.summary()
    full = _quiet(ma.aggregate, honest, "dfmr")
    assert not full.majority_doubtful


def test_the_command_line_exits_with_3_at_the_majority_edge(honest, tmp_path, capsys):
    files = []
    for i, g in enumerate(_edge(honest)):
        path = tmp_path / f"m{i}.json"
        path.write_text("{broken" if isinstance(g, Rejected) else wire.dumps(g, f"m{i}", n_samples=N))
        files.append(str(path))
    out = str(tmp_path / "out.json")
    assert main(["aggregate", *files, "-o", out]) == 3
    assert "majority" in capsys.readouterr().err
    assert main(["aggregate", *files, "-o", out, "--allow-no-majority"]) == 0
    assert json.loads(open(out).read())["aggregation"]["majority_doubtful"] is True


class _Impostor(cf.ThreadPoolExecutor):
    """A worker pool whose partition 2 answers under partition 0's id (a compromised worker)."""

    def submit(self, fn, /, *args, **kwargs):
        def run():
            data = json.loads(fn(*args, **kwargs))
            if data["machine_id"] == 2:
                data["machine_id"] = 0
            return json.dumps(data)

        return super().submit(run)


def test_the_engine_refuses_a_payload_under_another_partitions_id():
    truth = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 9.0]})
    rng = np.random.default_rng(4)
    parts = [truth.sample(500, rng).reshape(-1, 1) for _ in range(5)]
    with _Impostor(2) as pool:
        local = ma.engine.fit_partitions(parts, family="poisson", n_components=2, executor=pool, progress=False)
    assert isinstance(local.estimates[2], Rejected)
    assert "partition 2 carries machine_id 0" in local.estimates[2].reason
    assert all(local.estimates[i].machine_id == i for i in (0, 1, 3, 4))


@pytest.mark.parametrize("bound", [0.5, -1, float("inf"), "two"])
def test_a_bad_sample_size_bound_is_refused_by_name(honest, bound):
    with pytest.raises((ValueError, TypeError), match="sample_size_bound"):
        ma.aggregate(honest, "dfmr", sample_sizes=[N] * M, sample_size_bound=bound)


def test_copies_that_capture_the_filter_do_not_capture_the_screen():
    """8 of 20 identical copies carrying a broad 1% component are most of what the filter keeps; the screen's
    medians run over all machines, of which they are a minority."""
    rng = np.random.default_rng(5)
    local = [ma.fit_mixture(SMALL.sample(1000, rng), "gaussian", 3, init=SMALL) for _ in range(20)]
    sent, failed = ma.attacks.tiny_component(local, 0.4, rng=1, mode="broad")
    res = _quiet(ma.aggregate, sent, "dfmr", rho=1.3)
    kept_failed = np.flatnonzero(failed)
    assert set(kept_failed) <= set(res.selected) and 2 * kept_failed.size > res.selected.size
    assert set(res.screened) == set(kept_failed.tolist())
    oracle = ma.metrics.w1(ma.aggregate(sent, "oracle", failure_free=~failed).mixture, SMALL)
    assert ma.metrics.w1(res.mixture, SMALL) < 10 * oracle
    unscreened = _quiet(ma.aggregate, sent, "dfmr", rho=1.3, screen=None)
    assert ma.metrics.w1(unscreened.mixture, SMALL) > 1000 * oracle
