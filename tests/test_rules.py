"""Aggregation rules as an extension point: a rule added with one class reaches every entry point,
and every registered rule honours the same contract (``docs/aggregation.md``, "Writing a rule")."""

from __future__ import annotations

import inspect
import json
import warnings

import numpy as np
import pytest

import mixagg as ma
from mixagg import cli, wire
from mixagg._validation import check_int
from mixagg.exceptions import RejectedEstimatesWarning
from mixagg.rejection import Rejected
from mixagg.robust import AggregationRule, Option, pipeline, register_method

TRUTH = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 12.0]})


class L2MedianReduction(AggregationRule):
    """The L2 geometric median of the estimates' densities, then MR of the estimates near it.

    The geometric median :math:`g=\\sum_jw_jf_j` minimises :math:`\\sum_i\\lVert f_i-g\\rVert_2`; in the
    span of the estimates :math:`\\lVert f_i-g\\rVert^2=\\sum_jw_jD_{ij}^2-\\tfrac12w^\\top D^{\\circ2}w`,
    so Weiszfeld's iteration :math:`w\\propto1/\\lVert f_i-g\\rVert` needs only the distance matrix.
    The estimates within twice the median distance to :math:`g` are reduced by MR.
    """

    name = "l2-median"
    options = (
        Option(
            "median_iter",
            100,
            check=lambda v, n: check_int(v, n, minimum=1),
            command_line=int,
            help="Weiszfeld iterations of the geometric median",
        ),
        Option("distances", None, per_machine="matrix", help="precomputed (m, m) L2 distances"),
    )

    def run(self, estimates, *, median_iter, distances):
        sq = pipeline.pairwise_distances(estimates, distances) ** 2
        w = np.full(estimates.m, 1.0 / estimates.m)
        for _ in range(median_iter):
            to_median = np.sqrt(np.maximum(sq @ w - 0.5 * w @ sq @ w, 0.0))
            w = 1.0 / np.maximum(to_median, 1e-12 * (to_median.max() + 1e-300))
            w /= w.sum()
        selected = np.flatnonzero(to_median <= 2.0 * np.median(to_median))
        reduction = pipeline.reduce_selected(estimates, selected)
        return pipeline.finish(self.name, estimates, selected, pipeline.Log(), reduction=reduction)


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_method(L2MedianReduction, overwrite=True)
    yield
    ma.robust.rules._RULES.pop("l2-median", None)


@pytest.fixture(scope="module")
def local():
    rng = np.random.default_rng(3)
    return [ma.fit_mixture(TRUTH.sample(1500, rng), "poisson", 2, init=TRUTH) for _ in range(11)]


def failing(local):
    sent, failed = ma.attacks.rate_failure(local, alpha=3 / 11, rng=4)
    return sent, failed


def test_a_new_rule_reaches_aggregate(local):
    sent, failed = failing(local)
    res = ma.aggregate(sent, "l2-median")
    assert res.method == "l2-median"
    assert set(res.excluded.tolist()) == set(np.flatnonzero(failed).tolist())  # the 3 failed machines, and only they
    oracle = ma.aggregate(sent, "oracle", failure_free=~failed)
    assert np.allclose(np.sort(res.mixture.params["rate"]), np.sort(oracle.mixture.params["rate"]), rtol=1e-9)
    vanilla = ma.aggregate(sent, "vanilla")
    assert ma.metrics.w1(res.mixture, TRUTH) < ma.metrics.w1(vanilla.mixture, TRUTH) / 5


def test_a_new_rule_declares_its_options(local):
    params = inspect.signature(ma.robust.get_method("l2-median")).parameters
    assert list(params) == [
        "estimates",
        "sample_sizes",
        "sample_size_bound",
        "n_components",
        "median_iter",
        "distances",
    ]
    assert params["median_iter"].default == 100 and params["median_iter"].kind is inspect.Parameter.KEYWORD_ONLY
    dfmr = inspect.signature(ma.robust.dfmr).parameters
    assert dfmr["rho"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and dfmr["n_missing"].default == 0
    assert list(inspect.signature(L2MedianReduction).parameters) == []  # the class: its constructor
    with pytest.raises(TypeError, match=r"l2-median got unexpected options \['rho'\]"):
        ma.aggregate(local, "l2-median", rho=1.3)
    with pytest.raises(ValueError, match="median_iter must be >= 1"):
        ma.aggregate(local, "l2-median", median_iter=0)
    with pytest.raises(ValueError, match=r"oracle needs failure_free=\.\.\. \(a boolean mask"):
        ma.aggregate(local, "oracle", failure_free=None)  # an explicit None is no value either


def test_a_new_rule_reaches_split_and_conquer():
    rng = np.random.default_rng(5)
    shards = [TRUTH.sample(800, rng) for _ in range(7)]
    shards[2] = np.full(800, -1.0)  # refused by the fit: a missing machine
    with pytest.warns(RejectedEstimatesWarning, match="1 of the 7 estimates were rejected"):
        res = ma.engine.split_and_conquer(
            shards,
            family="poisson",
            n_components=2,
            method="l2-median",
            aggregate_options={"median_iter": 20},
            rng=1,
            progress=False,
        )
    assert res.aggregation.method == "l2-median" and sorted(res.missing) == [2] and 2 in res.aggregation.excluded
    assert ma.metrics.w1(res.mixture, TRUTH) < 0.3
    with pytest.raises(TypeError, match="unknown key 'eta' for method 'l2-median'"):
        ma.engine.split_and_conquer(
            shards,
            family="poisson",
            n_components=2,
            method="l2-median",
            aggregate_options={"eta": 0.2},
            rng=1,
            progress=False,
        )


def test_a_new_rule_reaches_the_command_line(local, tmp_path, capsys):
    sent, failed = failing(local)
    files = []
    for i, g in enumerate(sent):
        path = tmp_path / f"m{i}.json"
        path.write_text(wire.dumps(g, machine_id=f"m{i}", n_samples=1500))
        files.append(str(path))
    out = tmp_path / "r.json"
    assert cli.main(["aggregate", *files, "--method", "l2-median", "--median-iter", "30", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["aggregation"]["method"] == "l2-median"
    assert set(report["aggregation"]["excluded"]) == set(np.flatnonzero(failed).tolist())
    assert cli.main(["aggregate", *files, "--method", "dfmr", "--median-iter", "30", "-o", str(out)]) == 1
    assert "--median-iter applies to --method l2-median, not dfmr" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the contract of every rule


def required_options(rule, m):
    """Values for a rule's required options: a selection of machines gets 'all of them'."""
    out = {}
    for name, option in rule.declared_options().items():
        if option.required:
            assert option.per_machine == "selection", f"{rule.name}: no way to build a value of {name!r} here"
            out[name] = np.ones(m, dtype=bool)
    return out


def same_mixture(g, h):
    """Equal up to a relabelling of the components (rates sorted), to rounding."""
    a, b = np.argsort(g.params["rate"]), np.argsort(h.params["rate"])
    return np.allclose(g.weights[a], h.weights[b], rtol=1e-9, atol=1e-12) and np.allclose(
        g.params["rate"][a], h.params["rate"][b], rtol=1e-9
    )


@pytest.mark.parametrize("name", sorted(ma.robust.available_methods() + ["l2-median"]))
def test_every_rule_honours_the_contract(name, local):
    rule = ma.robust.get_method(name)
    sent, _ = failing(local)
    m = len(sent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ma.exceptions.AggregationWarning)
        res = ma.aggregate(sent, name, **required_options(rule, m))
        # selected and excluded partition the input
        assert res.selected.dtype.kind == "i" and np.all(np.diff(res.selected) > 0)
        assert np.array_equal(np.union1d(res.selected, res.excluded), np.arange(m))
        assert np.intersect1d(res.selected, res.excluded).size == 0
        assert set(res.alignments) == set(res.selected.tolist())
        # invariant to the order of the estimates
        perm = np.random.default_rng(6).permutation(m)
        shuffled = ma.aggregate([sent[i] for i in perm], name, **required_options(rule, m))
        assert sorted(perm[shuffled.selected].tolist()) == res.selected.tolist()
        assert same_mixture(shuffled.mixture, res.mixture)
        # the JSON summary round-trips
        summary = res.to_dict()
        assert json.loads(json.dumps(summary)) == summary
        back = ma.MixingDistribution.from_dict(summary["mixture"])
        assert np.array_equal(back.weights, res.mixture.weights)
        assert np.array_equal(back.params["rate"], res.mixture.params["rate"])
        # a rejected estimate is reported and left out, the others are still aggregated
        entries = sent[:4] + [Rejected("m-bad", "truncated payload")] + sent[4:]
        with pytest.warns(RejectedEstimatesWarning, match="1 of the 12 estimates were rejected"):
            got = ma.aggregate(entries, name, **required_options(rule, m + 1))
    assert list(got.rejected) == [4] and got.rejected[4].reason == "truncated payload"
    assert 4 in got.excluded and np.array_equal(np.union1d(got.selected, got.excluded), np.arange(m + 1))
    valid = np.delete(np.arange(m + 1), 4)
    if not rule.counts_missing:  # the majority is not involved: the same aggregate as without the record
        assert got.selected.tolist() == valid[res.selected].tolist()
        assert same_mixture(got.mixture, res.mixture)


def test_registering_checks_the_rule():
    with pytest.raises(TypeError, match="AggregationRule subclass or instance"):
        register_method(len)
    with pytest.raises(ValueError, match="already registered"):
        register_method(ma.robust.DFMR)

    class Nameless(AggregationRule):
        def run(self, estimates):
            raise AssertionError

    with pytest.raises(ValueError, match="non-empty lower-case"):
        register_method(Nameless)
