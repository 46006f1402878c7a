"""``aggregate`` over a mix of received estimates and ``Rejected`` records
(``docs/aggregation.md``, "Rejected and missing machines")."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import mixagg as ma
from mixagg import wire
from mixagg.families import Gaussian


@pytest.fixture(scope="module")
def setting():
    """d = 2, K = 3, 50 machines with n = 1000 each, fitted from the truth."""
    truth = ma.MixingDistribution(
        "gaussian", [0.2, 0.3, 0.5],
        {"mean": [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]], "cov": [np.eye(2), [[1.0, 0.3], [0.3, 0.6]], 0.8 * np.eye(2)]},
    )  # fmt: skip
    rng = np.random.default_rng(5)
    fits = [ma.fit_mixture(truth.sample(1000, rng), "gaussian", 3, init=truth) for _ in range(50)]
    return truth, fits


def test_fifty_machines_ten_malformed_ten_byzantine(setting):
    """The issue's scenario: the result is produced, 10 are rejected with reasons, DFMR filters the corrupted ones."""
    truth, fits = setting
    corrupted, failed = ma.attacks.mean_failure(fits, 0.2, rng=1)  # 10 Byzantine machines
    texts = [wire.dumps(g, machine_id=f"m{i}") for i, g in enumerate(corrupted)]
    honest = np.flatnonzero(~failed)
    broken = honest[:10]  # 10 honest machines whose payloads arrive malformed, in assorted ways
    manglers = [
        lambda t: t[: len(t) // 2],
        lambda t: t.replace('"weights":[', '"weights":[NaN,', 1),
        lambda t: t.replace('"version":1', '"version":2', 1),
        lambda t: json.dumps({**json.loads(t), "n_components": 4}),
        lambda t: "{not json at all",
    ]
    for j, i in enumerate(broken):
        texts[i] = manglers[j % len(manglers)](texts[i])
    received = wire.load_many(texts, family=Gaussian(2), n_components=3)
    assert sum(isinstance(r, wire.Rejected) for r in received) == 10
    with pytest.warns(UserWarning, match="10 of the 50 estimates were rejected"):
        res = ma.aggregate(received, "dfmr", rho=1.3)
    assert sorted(res.rejected) == sorted(broken.tolist())
    assert all(r.reason for r in res.rejected.values())
    assert set(np.flatnonzero(failed)) <= set(res.excluded.tolist())  # every Byzantine machine filtered
    assert set(broken.tolist()) <= set(res.excluded.tolist())
    assert not set(res.selected.tolist()) & set(broken.tolist())
    assert np.all(np.isnan(res.distance_to_coat[broken])) and res.coat_index not in broken
    with pytest.warns(UserWarning, match="rejected"):
        oracle = ma.aggregate(received, "oracle", failure_free=~failed)
    assert set(oracle.selected.tolist()) == set(honest.tolist()) - set(broken.tolist())
    w_dfmr, w_oracle = ma.metrics.w1(res.mixture, truth), ma.metrics.w1(oracle.mixture, truth)
    assert w_dfmr <= 1.1 * w_oracle, (w_dfmr, w_oracle)
    assert (
        ma.metrics.w1(ma.aggregate([g for g in received if not isinstance(g, wire.Rejected)], "vanilla").mixture, truth)
        > 10 * w_oracle
    )
    d = res.to_dict()
    assert len(d["rejected"]) == 10 and {"index", "machine_id", "reason", "source"} <= set(d["rejected"][0])
    json.dumps(d)


def test_rejected_machines_count_against_the_majority(setting):
    """6 valid estimates of 10 expected: the majority ball must hold 6 (of 10), not 4 (of 6)."""
    _, fits = setting
    items = fits[:6]
    d = ma.l2_distance_matrix(items)
    entries = items + [wire.Rejected(f"x{i}", "bad") for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = ma.aggregate(entries, "coat")
    expected_r = np.min(np.sort(d, axis=1)[:, 5])  # order statistic floor(10/2) = 5, self included
    assert res.coat_radius == pytest.approx(expected_r)
    assert ma.robust.coat_radius(d, n_missing=4) == (res.coat_index, pytest.approx(expected_r))
    plain = ma.aggregate(items, "coat")
    assert plain.coat_radius == pytest.approx(np.min(np.sort(d, axis=1)[:, 3]))


def test_a_rejected_majority_keeps_everything_and_says_so(setting):
    _, fits = setting
    entries = fits[:3] + [wire.Rejected(None, "bad")] * 4
    with (
        pytest.warns(UserWarning, match="no majority"),
        pytest.warns(UserWarning, match="4 of the 7 estimates were rejected"),
    ):
        res = ma.aggregate(entries, "dfmr")
    assert res.selected.tolist() == [0, 1, 2] and np.isinf(res.coat_radius)
    assert res.to_dict()["coat_radius"] is None


def test_per_machine_options_are_given_for_all_machines(setting):
    _, fits = setting
    entries = [fits[0], wire.Rejected("r", "bad"), *fits[1:5]]
    sizes = np.array([1000, 5, 1000, 1000, 2000, 1000])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = ma.aggregate(entries, "vanilla", sample_sizes=sizes)
        b = ma.aggregate(fits[:5], "vanilla", sample_sizes=sizes[[0, 2, 3, 4, 5]])
        o = ma.aggregate(entries, "oracle", failure_free=[0, 2, 3])
    assert a.mixture == b.mixture and a.selected.tolist() == [0, 2, 3, 4, 5] and list(a.rejected) == [1]
    assert o.selected.tolist() == [0, 2, 3]


def test_all_rejected_is_a_clear_error():
    with pytest.raises(ValueError, match="all 2 estimates were rejected"):
        ma.aggregate([wire.Rejected(1, "truncated JSON"), wire.Rejected(2, "NaN weight")], "dfmr")
