"""COAT, DFMR, CRED, ARED, TRIM, vanilla, oracle and the aggregate() dispatcher."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import mixagg as ma
from mixagg.families import Gaussian
from mixagg.robust import ared_threshold, coat_radius

TRUTH = ma.MixingDistribution(
    Gaussian(2),
    [0.3, 0.3, 0.4],
    {"mean": [[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]], "cov": [np.eye(2), [[1.0, 0.4], [0.4, 1.0]], 0.5 * np.eye(2)]},
)


RICH = ma.MixingDistribution(
    Gaussian(5),
    [0.15, 0.35, 0.5],
    {
        "mean": [np.zeros(5), np.full(5, 4.0), np.r_[4.0, -4.0, 0.0, 0.0, 0.0]],
        "cov": [np.eye(5), 0.7 * np.eye(5), np.eye(5) + 0.3],
    },
)


def honest_rich(m, rng, size=0.03):
    """Estimates perturbed in every coordinate (nu = 62 for d = 5, K = 3): honest distances concentrate,
    as in [J] §5.2."""
    out = []
    for _ in range(m):
        w = RICH.weights * np.exp(rng.normal(0, size, 3))
        a = rng.normal(0, size, (3, 5, 5))
        cov = np.array(RICH.params["cov"]) + 0.5 * (a + np.swapaxes(a, 1, 2))
        out.append(
            ma.MixingDistribution(
                RICH.family, w / w.sum(), {"mean": RICH.params["mean"] + rng.normal(0, size, (3, 5)), "cov": cov}
            )
        )
    return out


def honest(m, rng, size=0.05):
    out = []
    for _ in range(m):
        g = ma.MixingDistribution(
            TRUTH.family,
            TRUTH.weights,
            {"mean": TRUTH.params["mean"] + rng.normal(0, size, (3, 2)), "cov": TRUTH.params["cov"]},
        )
        out.append(g.permute(rng.permutation(3)))
    return out


# ----------------------------------------------------------------------------- COAT radius


def test_radius_rules_on_a_hand_made_matrix():
    # points on a line: 0, 1.5, 2, 3, 10 (odd m = 5): all rules agree; the COAT is the point 2, radius 1
    x = np.array([0.0, 1.5, 2.0, 3.0, 10.0])
    d = np.abs(x[:, None] - x[None, :])
    for rule in ("majority", "half", "median", "code"):
        assert coat_radius(d, rule) == (2, 1.0)
    # even m = 6: 0, 1, 2, 3, 10, 11. Sorted rows include the self-distance 0.
    x = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 11.0])
    d = np.abs(x[:, None] - x[None, :])
    assert coat_radius(d, "majority") == (1, 2.0)  # d^(3): 4 estimates in the closed ball (a strict majority)
    assert coat_radius(d, "half") == (1, 1.0)  # d^(2): 3 estimates, exactly half
    assert coat_radius(d, "median") == (1, 1.5)  # mean of d^(2), d^(3) (Algorithm 1 as printed)
    assert coat_radius(d, "code") == (1, 2.0)


def test_radius_ties_small_m_and_bad_rule():
    d = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    assert coat_radius(d) == (0, 1.0)  # ties: the smallest index
    assert coat_radius(np.zeros((1, 1))) == (0, 0.0)
    assert coat_radius(np.array([[0.0, 2.0], [2.0, 0.0]])) == (0, 2.0)
    with pytest.raises(ValueError, match="radius must be one of"):
        coat_radius(d, "mean")


def test_figure_one_configuration():
    # [J] Fig. 1 in spirit: m = 10, seven close estimates and three far outliers
    rng = np.random.default_rng(0)
    good = honest(7, rng)
    bad = [
        ma.MixingDistribution(
            g.family, g.weights, {"mean": np.array(g.params["mean"]) + 50.0 * (i + 1), "cov": g.params["cov"]}
        )
        for i, g in enumerate(honest(3, rng))
    ]
    ests = good + bad
    res = ma.aggregate(ests, "dfmr", rho=1.3)
    assert (
        res.coat_index < 7 and set(res.selected.tolist()) <= set(range(7)) and set(res.excluded.tolist()) >= {7, 8, 9}
    )
    assert len(res.selected) >= 10 // 2 + 1


# ----------------------------------------------------------------------------- constructed failure scenarios


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.3, 0.4])
@pytest.mark.parametrize("attack", ["mean", "covariance"])
def test_coat_is_failure_free_and_dfmr_and_ared_exclude_exactly_the_failures(alpha, attack):
    rng = np.random.default_rng(int(alpha * 100))
    ests = honest_rich(50, rng)
    if attack == "mean":
        bad, mask = ma.attacks.mean_failure(ests, alpha, rng=2)
    else:
        bad, mask = ma.attacks.covariance_failure(ests, alpha, rng=2, scale=25.0)  # well separated
    failed = set(np.flatnonzero(mask).tolist())
    assert ma.aggregate(bad, "coat").coat_index not in failed
    dfmr = ma.aggregate(bad, "dfmr", rho=1.3)
    assert failed <= set(dfmr.excluded.tolist())
    ared = ma.aggregate(bad, "ared")
    assert set(ared.detected.tolist()) == failed
    assert ma.metrics.detection_rates(ared.detected, mask)["exact"] == 1.0


def test_selected_set_grows_with_rho_and_holds_a_majority():
    rng = np.random.default_rng(3)
    bad, _ = ma.attacks.mean_failure(honest(31, rng, size=0.3), 0.3, rng=4)
    d = ma.l2_distance_matrix(bad)
    sizes = [len(ma.robust.dfmr(bad, rho, distances=d).selected) for rho in (1.0, 1.2, 1.5, 2.0, 3.0)]
    assert sizes == sorted(sizes) and sizes[0] >= 31 // 2 + 1


def test_invariance_to_machine_and_component_order():
    rng = np.random.default_rng(5)
    bad, _ = ma.attacks.mean_failure(honest(20, rng, size=0.2), 0.3, rng=6)
    base = ma.aggregate(bad, "dfmr")
    order = rng.permutation(20)
    other = ma.aggregate([bad[i].permute(rng.permutation(3)) for i in order], "dfmr")
    assert sorted(order[other.selected].tolist()) == base.selected.tolist()
    assert other.mr_objective == pytest.approx(base.mr_objective, rel=1e-9)
    assert ma.metrics.w1(other.mixture, base.mixture) < 1e-9


def test_radius_rules_agree_for_odd_m():
    rng = np.random.default_rng(7)
    bad, _ = ma.attacks.mean_failure(honest(21, rng, size=0.2), 0.3, rng=8)
    d = ma.l2_distance_matrix(bad)
    results = {
        rule: ma.robust.dfmr(bad, 1.3, radius=rule, distances=d) for rule in ("majority", "half", "median", "code")
    }
    first = results["majority"]
    for res in results.values():
        assert res.coat_index == first.coat_index and res.coat_radius == first.coat_radius
        assert res.selected.tolist() == first.selected.tolist()


def test_alignments_map_each_selected_estimate_to_the_aggregate():
    rng = np.random.default_rng(9)
    ests = honest(9, rng)
    res = ma.aggregate(ests, "dfmr")
    for i, perm in res.alignments.items():
        aligned = ests[i].permute(perm)
        assert np.abs(aligned.params["mean"] - res.mixture.params["mean"]).max() < 0.5  # the right components
        assert perm.tolist() == ests[i].permutation_to(res.mixture).tolist()


def test_result_to_dict_is_json_safe():
    with pytest.warns(UserWarning, match="kappa_m"):
        res = ma.aggregate(honest(9, np.random.default_rng(10)), "ared")
    text = json.dumps(res.to_dict())
    assert json.loads(text)["method"] == "ared"
    assert res.mr_n_iter == res.reduction.n_iter


def test_more_than_half_identical_estimates():
    ests = [TRUTH] * 6 + honest(4, np.random.default_rng(11), size=0.5)
    with pytest.warns(UserWarning, match="COAT radius is 0: 6 of the 10 estimates coincide"):
        res = ma.aggregate(ests, "dfmr")
    assert res.selected.tolist() == list(range(6))
    aligned = res.mixture.permute(res.mixture.permutation_to(TRUTH))
    np.testing.assert_allclose(aligned.params["mean"], TRUTH.params["mean"], atol=1e-12)  # MR of identical estimates


def test_no_majority_cluster_is_warned_about():
    rng = np.random.default_rng(12)
    scattered = [
        ma.MixingDistribution(
            TRUTH.family, TRUTH.weights, {"mean": rng.normal(0, 100, (3, 2)), "cov": TRUTH.params["cov"]}
        )
        for _ in range(11)
    ]
    with pytest.warns(UserWarning, match="no majority cluster"):
        res = ma.aggregate(scattered, "dfmr")
    assert any("majority" in w for w in res.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a healthy configuration does not warn
        bad, _ = ma.attacks.mean_failure(honest(11, rng), 0.4, rng=13)
        ma.aggregate(bad, "dfmr")


# ----------------------------------------------------------------------------- CRED, ARED, TRIM, vanilla, oracle


def test_ared_threshold_matches_the_reference_table():
    # [A] eq. (5): kappa_m for m = 8, 16, 20, 30, 50, 64, 100, 128, 256
    table = {8: 0.712, 16: 1.030, 20: 1.124, 30: 1.287, 50: 1.482, 64: 1.572, 100: 1.728, 128: 1.812, 256: 2.039}
    for m, value in table.items():
        assert ared_threshold(m) == pytest.approx(value, abs=5e-4)
    with pytest.raises(ValueError, match="m >= 3"):
        ared_threshold(2)


def test_ared_small_m_uses_rho_one_with_a_warning():
    ests = honest(8, np.random.default_rng(14))
    with pytest.warns(UserWarning, match="kappa_m = 0.712 < 1"):
        res = ma.aggregate(ests, "ared")
    assert res.rho == 1.0 and res.warnings[0].startswith("kappa_m")


def test_cred_default_and_strict():
    rng = np.random.default_rng(15)
    bad, _ = ma.attacks.mean_failure(honest(20, rng, size=0.3), 0.2, rng=16)
    loose = ma.aggregate(bad, "cred")
    strict = ma.aggregate(bad, "cred", strict=True)
    assert loose.rho == 1.0 and len(loose.selected) >= 11
    assert len(strict.selected) < len(loose.selected)  # the literal rule of [A] keeps fewer than half (+ ties)


def test_trim_vanilla_oracle():
    rng = np.random.default_rng(17)
    bad, mask = ma.attacks.mean_failure(honest(20, rng), 0.3, rng=18)
    trim = ma.aggregate(bad, "trim")
    # every failed machine is trimmed entirely (50% of the mass is trimmed, so some honest atoms go too)
    assert set(np.flatnonzero(mask).tolist()) <= set(trim.excluded.tolist())
    assert trim.reduction.kept_mass.sum() == pytest.approx(0.5)
    van = ma.aggregate(bad, "vanilla")
    assert van.selected.tolist() == list(range(20)) and van.coat_index is None
    ora = ma.aggregate(bad, "oracle", failure_free=~mask)
    assert ora.selected.tolist() == np.flatnonzero(~mask).tolist()
    ora_idx = ma.aggregate(bad, "oracle", failure_free=np.flatnonzero(~mask))
    assert ora_idx.mixture == ora.mixture
    assert ma.metrics.w1(van.mixture, TRUTH) > 10 * ma.metrics.w1(ora.mixture, TRUTH)


def test_sample_sizes_enter_the_reduction():
    ests = honest(9, np.random.default_rng(19), size=0.3)
    sizes = np.arange(1, 10) * 100.0
    res = ma.aggregate(ests, "dfmr", sample_sizes=sizes, sample_size_bound=None)  # sizes the server knows
    direct = ma.reduction.mixture_reduction([ests[i] for i in res.selected], 3, sample_sizes=sizes[res.selected])
    assert res.mr_objective == pytest.approx(direct.objective, rel=1e-9)
    with pytest.warns(UserWarning, match="clipped"):  # reported sizes: clipped to [median / 2, median]
        bounded = ma.aggregate(ests, "dfmr", sample_sizes=sizes)
    clipped = np.clip(sizes, 250.0, 500.0)[bounded.selected]
    direct = ma.reduction.mixture_reduction([ests[i] for i in bounded.selected], 3, sample_sizes=clipped)
    assert bounded.mr_objective == pytest.approx(direct.objective, rel=1e-9)


# ----------------------------------------------------------------------------- errors


def test_errors_name_the_problem():
    ests = honest(5, np.random.default_rng(20))
    with pytest.raises(ValueError, match="at least one"):
        ma.aggregate([], "dfmr")
    with pytest.raises(ValueError, match=r"estimates\[1\] has family"):
        ma.aggregate([ests[0], ma.MixingDistribution("poisson", [1.0], {"rate": [1.0]})], "coat")
    with pytest.raises(ValueError, match=r"estimates\[1\] has family Gaussian\(d=3\)"):
        ma.aggregate(
            [ests[0], ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.0, 0.0, 0.0]], "cov": [np.eye(3)]})], "coat"
        )
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        ma.aggregate(ests, "dfmr", n_components=0)
    with pytest.raises(ValueError, match="rho must be a finite number >= 1"):
        ma.aggregate(ests, "dfmr", rho=0.9)
    with pytest.raises(ValueError, match="oracle needs failure_free"):
        ma.aggregate(ests, "oracle")
    with pytest.raises(ValueError, match=r"failure_free as a mask must have shape \(5,\)"):
        ma.aggregate(ests, "oracle", failure_free=np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="selects no estimate"):
        ma.aggregate(ests, "oracle", failure_free=np.zeros(5, dtype=bool))
    with pytest.raises(ValueError, match="method must be one of"):
        ma.aggregate(ests, "median")
    with pytest.raises(ValueError, match=r"distances must have shape \(5, 5\)"):
        ma.aggregate(ests, "dfmr", distances=np.zeros((4, 4)))
    with pytest.raises(TypeError, match="single mixture"):
        ma.aggregate(ests[0], "dfmr")


# ----------------------------------------------------------------------------- statistical behaviour on EM fits


@pytest.mark.slow
def test_dfmr_matches_the_oracle_on_em_fits():
    # Gaussian d = 5, K = 3, m = 50 machines of n = 2000, 5 seeds ([J] §5.1 setting, smaller). Unequal weights,
    # as MixSim draws them: weights near the Dirichlet failure's mean (about uniform) would make weight failures
    # indistinguishable from honest estimates at this size (nu = 62).
    fam = Gaussian(5)
    truth = ma.MixingDistribution(
        fam,
        [0.15, 0.35, 0.5],
        {
            "mean": [np.zeros(5), np.full(5, 2.0), np.r_[2.0, -2.0, 0.0, 0.0, 0.0]],
            "cov": [np.eye(5), 0.7 * np.eye(5), np.eye(5) + 0.3],
        },
    )
    w1 = {key: [] for key in ("mean-oracle", "mean-dfmr", "mean-vanilla", "weight-oracle", "weight-dfmr")}
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        local = [ma.fit_mixture(truth.sample(2000, rng), fam, 3, init=truth) for _ in range(50)]
        for attack in ("mean", "weight"):
            bad, mask = getattr(ma.attacks, f"{attack}_failure")(local, 0.3, rng=seed)
            w1[f"{attack}-oracle"].append(ma.metrics.w1(ma.aggregate(bad, "oracle", failure_free=~mask).mixture, truth))
            w1[f"{attack}-dfmr"].append(ma.metrics.w1(ma.aggregate(bad, "dfmr", rho=1.3).mixture, truth))
            if attack == "mean":
                w1["mean-vanilla"].append(ma.metrics.w1(ma.aggregate(bad, "vanilla").mixture, truth))
    med = {key: float(np.median(v)) for key, v in w1.items()}
    assert med["mean-dfmr"] <= 1.10 * med["mean-oracle"], med
    assert med["mean-vanilla"] >= 3.0 * med["mean-oracle"], med
    assert med["weight-dfmr"] <= 1.15 * med["weight-oracle"], med


def test_noisy_honest_fits_do_not_raise_the_majority_alarm():
    # 120 observations per machine for 329 parameters: honest estimates are far apart relative to small-noise
    # settings, yet their densities still overlap; the heuristic must not cry wolf
    rng = np.random.default_rng(21)
    fam = Gaussian(10)
    truth = ma.MixingDistribution(fam, np.full(5, 0.2), {"mean": rng.normal(0, 3, (5, 10)), "cov": [np.eye(10)] * 5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = [ma.fit_mixture(truth.sample(120, rng), fam, 5, init=truth, max_iter=200) for _ in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ma.aggregate(local, "coat")


# ----------------------------------------------------------------------------- review regressions


def test_alignments_are_full_permutations_when_the_aggregate_is_smaller():
    ests = [ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [3 + 0.01 * i] * 2}) for i in range(5)]
    res = ma.aggregate(ests, "dfmr")
    assert res.mixture.n_components < 2
    for i, perm in res.alignments.items():
        assert sorted(perm.tolist()) == [0, 1]
        ests[i].permute(perm)  # a valid permutation


def test_failed_majority_is_warned_about():
    # 6 of 11 machines failed, scattered: the honest 5 are a minority cluster
    rng = np.random.default_rng(22)
    good = honest_rich(5, rng)
    bad = [
        ma.MixingDistribution(
            RICH.family,
            RICH.weights,
            {"mean": RICH.params["mean"] + rng.normal(0, 10, (3, 5)), "cov": RICH.params["cov"]},
        )
        for _ in range(6)
    ]
    with pytest.warns(UserWarning, match="no majority cluster"):
        ma.aggregate(good + bad, "dfmr")


def test_unequal_sample_sizes_do_not_raise_the_majority_alarm():
    rng = np.random.default_rng(23)
    sizes = np.r_[np.full(10, 100_000.0), np.full(9, 1_000.0)]
    ests = [
        ma.MixingDistribution(
            RICH.family,
            RICH.weights,
            {"mean": RICH.params["mean"] + rng.normal(0, 3 / np.sqrt(n), (3, 5)), "cov": RICH.params["cov"]},
        )
        for n in sizes
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ma.aggregate(ests, "dfmr", sample_sizes=sizes, sample_size_bound=None)


def test_oracle_rejects_a_numeric_zero_one_mask():
    ests = honest(5, np.random.default_rng(24))
    with pytest.raises(ValueError, match="repeated indices.*boolean mask"):
        ma.aggregate(ests, "oracle", failure_free=[1, 1, 0, 1, 1])


def test_ared_kappa_boundary_and_options():
    assert ared_threshold(14) < 1 < ared_threshold(15)
    ests = honest(15, np.random.default_rng(25))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no small-m warning from m = 15 on
        ma.aggregate(ests, "ared")
    with pytest.raises(TypeError, match="ared sets rho"):
        ma.aggregate(ests, "ared", rho=2)
    with pytest.raises(TypeError, match="single mixture"):
        ma.aggregate(ests[0], "ared")
    with pytest.raises(TypeError, match="unexpected options"):
        ma.aggregate(ests, "cred", strict=True, bogus=3)


def test_restarts_all_also_starts_from_filtered_estimates():
    rng = np.random.default_rng(26)
    bad, _ = ma.attacks.mean_failure(honest(11, rng), 0.3, rng=27)
    auto = ma.aggregate(bad, "dfmr", restarts="auto")
    everything = ma.aggregate(bad, "dfmr", restarts="all")
    assert len(everything.reduction.start_objectives) == 11 + 1 - 1  # COAT + every other estimate
    assert len(auto.reduction.start_objectives) == len(auto.selected)  # COAT + the other selected
    assert everything.mr_objective <= auto.mr_objective + 1e-12


def test_warnings_point_at_the_caller():
    ests = [TRUTH] * 6 + honest(4, np.random.default_rng(28), size=0.5)
    with pytest.warns(UserWarning) as caught:
        ma.aggregate(ests, "dfmr")
    assert caught[0].filename == __file__
