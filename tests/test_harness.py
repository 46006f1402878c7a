"""The worst-case harness (``docs/attacks.md``, "The worst-case harness"): its bookkeeping and what it measures."""

from __future__ import annotations

import numpy as np
import pytest

import mixagg as ma
from mixagg.harness import Setting, worst_case
from mixagg.robust import AggregationRule

TRUTH = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 9.0]})


class _Broken(AggregationRule):
    name = "broken-for-the-harness"

    def run(self, estimates):
        raise RuntimeError("this rule always fails")


RULES = (("DFMR(1.3)", "dfmr", {"rho": 1.3}), ("vanilla", "vanilla", {}), ("broken", _Broken(), {}))


@pytest.fixture(scope="module")
def result():
    setting = Setting("poisson", TRUTH, n_machines=12, n_samples=400)
    return worst_case(
        [setting],
        alphas=(0.0, 0.25),
        attacks=["rate", "threshold_hugging", "mimic", "sample_size_claims"],
        rules=RULES,
        rng=3,
        progress=False,
    )


def test_without_failures_vanilla_is_the_oracle(result):
    frame = result.frame()
    row = frame[(frame.rule == "vanilla") & (frame.alpha == 0)]
    assert row.ratio.tolist() == [1.0] and row.attack.tolist() == ["none"]


def _check_worst_of_means(result):
    frame = result.frame()
    frame = frame[frame.error.isna()]
    means = frame.groupby(["rule", "alpha", "attack"]).ratio.mean()
    table = result.table().set_index(["rule", "alpha"])
    for (rule, alpha), cell in means.groupby(level=["rule", "alpha"]):
        assert table.loc[(rule, alpha), "worst_ratio"] == pytest.approx(cell.max(), rel=1e-12)
        best = cell[cell >= cell.max() * (1 - 1e-12)].index.get_level_values("attack")
        assert table.loc[(rule, alpha), "worst_attack"] in set(best)


def test_the_table_holds_the_worst_record_of_each_cell(result):
    _check_worst_of_means(result)
    assert set(result.table().n_replicates) == {1}


SMALL = dict(attacks=["rate", "mimic"], rules=RULES[:2], rng=3, progress=False)


def test_replicates_are_averaged_before_the_worst_attack_is_taken():
    setting = Setting("poisson", TRUTH, n_machines=12, n_samples=400)
    two = worst_case([setting], alphas=(0.25,), n_replicates=2, **SMALL)
    frame = two.frame()
    assert sorted(set(frame.replicate)) == [0, 1]
    first, second = (frame[frame.replicate == r].set_index(["rule", "attack"]).ratio for r in (0, 1))
    assert not np.allclose(first, second)  # new data in each replicate
    _check_worst_of_means(two)
    assert set(two.table().n_replicates) == {2}


def test_a_cell_does_not_depend_on_the_rest_of_the_grid():
    setting = Setting("poisson", TRUTH, n_machines=12, n_samples=400)
    alone = worst_case([setting], alphas=(0.25,), **SMALL).frame()
    grid = worst_case([setting], alphas=(0.0, 0.1, 0.25), **SMALL).frame()
    grid = grid[grid.alpha == 0.25].reset_index(drop=True)
    assert alone[["rule", "attack", "ratio"]].equals(grid[["rule", "attack", "ratio"]])


def test_what_each_attack_achieves_is_measured(result):
    frame = result.frame().set_index(["rule", "alpha", "attack"])
    hug = frame.loc[("DFMR(1.3)", 0.25, "threshold hugging")]
    assert hug.failed_kept == 1.0  # tuned to the rule, every failed machine passes its filter
    gross = frame.loc[("DFMR(1.3)", 0.25, "rate")]
    assert gross.failed_kept == 0.0
    assert frame.loc[("vanilla", 0.25, "rate")].ratio > 2 * gross.ratio  # vanilla pools the failed ones
    assert {"size inflation", "size deflation"} <= set(frame.index.get_level_values("attack"))


def test_a_rule_that_raises_is_a_finding_not_a_crash(result):
    table = result.table()
    broken = table[table.rule == "broken"]
    assert np.all(np.isinf(broken.worst_ratio))
    errors = result.frame().query("rule == 'broken'").error
    assert all("RuntimeError: this rule always fails" in e for e in errors)


def test_the_report_and_the_heatmap(result, tmp_path):
    text = result.to_markdown()
    assert "**poisson**" in text and "| DFMR(1.3) |" in text and "alpha = 0.25" in text
    path = result.heatmap(tmp_path / "worst.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments_are_named():
    setting = Setting("poisson", TRUTH, n_machines=5, n_samples=100)
    with pytest.raises(ValueError, match="attacks"):
        worst_case([setting], attacks=["no-such-attack"], progress=False)
    with pytest.raises(ValueError, match="alphas"):
        worst_case([setting], alphas=(0.5,), progress=False)
    with pytest.raises(ValueError, match="n_replicates"):
        worst_case([setting], n_replicates=0, progress=False)
    with pytest.raises(ValueError, match="n_machines"):
        Setting("x", TRUTH, n_machines=2)
