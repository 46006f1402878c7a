"""``mixagg.wire``: exact round trips, named rejections, and >= 10,000 generated malformed or adversarial payloads.

The fuzz tests assert the two promises of the reliability rules: ``loads`` never raises on any
content, and whatever it accepts is a valid mixture of the family and K the server expects.
"""

from __future__ import annotations

import copy
import json
import pickle
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixagg as ma
from mixagg import wire
from mixagg.families import Exponential, Gamma, Gaussian, Poisson

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _valid(seed: int = 0, d: int = 2, k: int = 3) -> ma.MixingDistribution:
    fam = Gaussian(d)
    rng = np.random.default_rng(seed)
    return ma.MixingDistribution(fam, rng.dirichlet(np.ones(k)), fam.random_params(k, rng))


BASE = _valid()
BASE_TEXT = wire.dumps(BASE, machine_id="m0", n_samples=1000, metadata={"site": "a"})
BASE_PAYLOAD = json.loads(BASE_TEXT)


def _check_outcome(result, family=Gaussian(2), k=3):
    """What every fuzz test asserts: a Rejected with a reason, or a valid mixture of the expected family and K."""
    if isinstance(result, wire.Rejected):
        assert isinstance(result.reason, str) and result.reason
        return False
    assert isinstance(result, wire.TransmittedEstimate)
    assert result.family == family and result.n_components == k
    assert result.validate() == []
    assert np.all(np.isfinite(result.weights)) and abs(result.weights.sum() - 1) < 1e-12
    return True


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("fam", [Gaussian(1), Gaussian(3), Gamma(), Poisson(), Exponential()], ids=repr)
def test_round_trip_is_exact_for_every_family(fam):
    rng = np.random.default_rng(1)
    g = ma.MixingDistribution(fam, rng.dirichlet(np.ones(4)), fam.random_params(4, rng))
    text = wire.dumps(g, machine_id=7, metadata={"note": "x", "nested": {"a": [1, 2]}})
    back = wire.loads(text, family=fam, n_components=4)
    assert (
        back == g
        and back.machine_id == 7
        and back.n_samples is None
        and back.metadata == {"note": "x", "nested": {"a": [1, 2]}}
    )
    assert wire.dumps(back) == text  # a received estimate re-serialises to the same bytes


def test_fitted_mixtures_send_their_sample_size():
    x = BASE.sample(500, rng=2)
    fit = ma.fit_mixture(x, "gaussian", 3, rng=0)
    back = wire.loads(wire.dumps(fit, machine_id="m1"), family=Gaussian(2), n_components=3)
    assert back == fit and back.n_samples == fit.n_samples == 500


@settings(FUZZ, max_examples=300)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), k=st.integers(1, 6), fam_id=st.integers(0, 3))
def test_generated_valid_estimates_round_trip_exactly(seed, d, k, fam_id):
    fam = [Gaussian(d), Gamma(), Poisson(), Exponential()][fam_id]
    rng = np.random.default_rng(seed)
    g = ma.MixingDistribution(fam, rng.dirichlet(np.ones(k)), fam.random_params(k, rng))
    if fam_id == 1:  # the wire format only carries square-integrable Gamma components (shape > 1/2)
        g = ma.MixingDistribution(
            fam, g.weights, {"shape": np.asarray(g.params["shape"]) + 0.5, "scale": g.params["scale"]}
        )
    back = wire.loads(wire.dumps(g, machine_id=seed), family=fam, n_components=k)
    assert back == g and back.machine_id == seed


# ---------------------------------------------------------------------------------------------- named rejections
def _mutated(path, value):
    payload = copy.deepcopy(BASE_PAYLOAD)
    node = payload
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(payload)


_DELETE = object()
CASES = {
    "not json": ("{'format': 1}", "not valid JSON"),
    "truncated": (BASE_TEXT[: len(BASE_TEXT) // 2], "not valid JSON"),
    "json array": ("[1, 2]", "must be a JSON object"),
    "not text": (12345, "must be a str or bytes"),
    "pickle bytes": (pickle.dumps(BASE), "not UTF-8"),
    "NaN literal": (BASE_TEXT.replace('"weights":[', '"weights":[NaN,', 1), "non-finite constant NaN"),
    "duplicate key": (BASE_TEXT.replace('{"format"', '{"version":1,"format"', 1), "repeats the key"),
    "too large": (BASE_TEXT + " " * 100, "more than the limit"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "nested too deeply|not valid JSON"),
    "wrong format": (_mutated(["format"], "other"), "format must be"),
    "wrong version": (_mutated(["version"], 2), "version must be 1"),
    "bool version": (_mutated(["version"], True), "version must be 1"),
    "missing weights": (_mutated(["weights"], _DELETE), "missing keys"),
    "extra key": (_mutated(["extra"], 1), "unknown keys"),
    "machine id type": (_mutated(["machine_id"], [1]), "machine_id must be"),
    "wrong family": (_mutated(["family"], {"name": "poisson"}), "server expects Gaussian"),
    "wrong dimension": (_mutated(["family", "d"], 3), "server expects Gaussian"),
    "unknown family": (_mutated(["family", "name"], "weibull2"), "not usable"),
    "huge setting": (_mutated(["family", "d"], 10**9), "out of range"),
    "wrong K": (_mutated(["n_components"], 4), "server expects 3"),
    "negative weight": (_mutated(["weights"], [1.2, -0.2, 0.0]), "non-negative"),
    "weights not summing to 1": (_mutated(["weights"], [0.5, 0.5, 0.5]), "sum to 1"),
    "string number": (_mutated(["weights", 0], "0.3"), "must be a number"),
    "bool number": (_mutated(["weights", 0], True), "must be a number"),
    "extra nesting": (_mutated(["weights"], [[w] for w in BASE_PAYLOAD["weights"]]), "must be a number"),
    "short mean": (_mutated(["params", "mean", 0], [0.0]), "must have length 2"),
    "huge number": (_mutated(["params", "mean", 0, 0], 1e300), "at most 1e\\+100"),
    "overflowing literal": (BASE_TEXT.replace('"mean":[[', '"mean":[[1e999,', 1), "must have length|finite"),
    "non-PD covariance": (_mutated(["params", "cov", 1], [[1.0, 2.0], [2.0, 1.0]]), "not positive definite"),
    "asymmetric covariance": (_mutated(["params", "cov", 1], [[1.0, 0.5], [0.1, 1.0]]), "not symmetric"),
    "missing param": (_mutated(["params", "cov"], _DELETE), "exactly the keys"),
    "metadata not object": (_mutated(["metadata"], [1, 2]), "metadata must be"),
    "negative n_samples": (_mutated(["n_samples"], -5), r"lie in \[1, 1e\+15\]"),
    "fractional n_samples": (_mutated(["n_samples"], 0.5), "whole number"),
    "tiny n_samples": (_mutated(["n_samples"], 1e-300), "whole number"),
    "huge n_samples": (_mutated(["n_samples"], 1e100), r"lie in \[1"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_kind_of_malformed_payload_is_rejected_with_its_reason(name):
    text, reason = CASES[name]
    limit = len(BASE_TEXT) + 10 if name == "too large" else wire.MAX_PAYLOAD_BYTES
    result = wire.loads(text, family=Gaussian(2), n_components=3, max_bytes=limit)
    assert isinstance(result, wire.Rejected), result
    assert re.search(reason, result.reason), result.reason
    if name in ("wrong K", "negative weight", "non-PD covariance"):
        assert result.machine_id == "m0"  # the sender is named whenever its id was readable


def test_gamma_shapes_at_most_one_half_are_rejected_as_not_square_integrable():
    g = ma.MixingDistribution(Gamma(), [0.5, 0.5], {"shape": [0.4, 3.0], "scale": [1.0, 1.0]})
    result = wire.loads(wire.dumps(g))
    assert isinstance(result, wire.Rejected) and "square integrable" in result.reason


def test_arguments_are_validated_not_the_payload():
    with pytest.raises(ValueError, match="n_components"):
        wire.loads(BASE_TEXT, n_components=0)
    with pytest.raises(ValueError, match="unknown family"):
        wire.loads(BASE_TEXT, family="no-such-family")
    assert _check_outcome(wire.loads(BASE_TEXT, family={"name": "gaussian", "d": 2.0}, n_components=3.0))


def test_load_many_reads_files_and_texts_and_reports_unreadable_ones(tmp_path):
    good = tmp_path / "m1.json"
    good.write_text(BASE_TEXT)
    bad = tmp_path / "m2.json"
    bad.write_text(BASE_TEXT[:40])
    big = tmp_path / "m3.json"
    big.write_text(BASE_TEXT + " " * 50)
    results = wire.load_many(
        [good, str(bad), tmp_path / "missing.json", BASE_TEXT, big], family=Gaussian(2), max_bytes=len(BASE_TEXT) + 10
    )
    assert isinstance(results[0], wire.TransmittedEstimate) and results[0] == BASE
    assert isinstance(results[1], wire.Rejected) and results[1].source == str(bad)
    assert isinstance(results[2], wire.Rejected) and "could not be read" in results[2].reason
    assert isinstance(results[3], wire.TransmittedEstimate)
    assert isinstance(results[4], wire.Rejected) and "more than the limit" in results[4].reason
    with pytest.raises(TypeError, match="iterable"):
        wire.load_many(BASE_TEXT)


def test_the_parser_never_unpickles_or_evaluates():
    source = open(wire.__file__).read()
    assert "import pickle" not in source and "eval(" not in source and "exec(" not in source


# ----------------------------------------------------------------------------------------- fuzzing (>= 10,000 payloads)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _paths(child, prefix + (i,))


ALL_PATHS = [p for p in _paths(BASE_PAYLOAD) if p]


@settings(FUZZ, max_examples=4000)
@given(path=st.sampled_from(ALL_PATHS), value=JSON_VALUES, action=st.sampled_from(["replace", "delete", "wrap", "add"]))
def test_fuzz_mutated_payloads(path, value, action):
    payload = copy.deepcopy(BASE_PAYLOAD)
    node = payload
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if action == "replace":
        node[last] = value
    elif action == "delete":
        node.pop(last) if isinstance(node, (dict, list)) else None
    elif action == "wrap":
        node[last] = [node[last]]
    elif isinstance(node, dict):
        node[f"extra-{last}"] = value
    else:
        node.append(value)
    text = json.dumps(payload, allow_nan=True)
    _check_outcome(wire.loads(text, family=Gaussian(2), n_components=3))


@settings(FUZZ, max_examples=2500)
@given(value=JSON_VALUES)
def test_fuzz_arbitrary_json(value):
    _check_outcome(wire.loads(json.dumps(value, allow_nan=True), family=Gaussian(2), n_components=3))


@settings(FUZZ, max_examples=2000)
@given(cut=st.integers(0, len(BASE_TEXT)), junk=st.text(max_size=20), raw=st.binary(max_size=64))
def test_fuzz_truncated_and_corrupted_text(cut, junk, raw):
    _check_outcome(wire.loads(BASE_TEXT[:cut] + junk, family=Gaussian(2), n_components=3))
    _check_outcome(wire.loads(raw, family=Gaussian(2), n_components=3))


@settings(FUZZ, max_examples=1500)
@given(
    weights=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=3, max_size=3),
    scale=st.floats(min_value=-1e200, max_value=1e200),
    off=st.floats(min_value=-10, max_value=10),
)
def test_fuzz_numbers(weights, scale, off):
    """Adversarial numbers in the right places: weights, covariance scales, off-diagonals, huge means."""
    payload = copy.deepcopy(BASE_PAYLOAD)
    payload["weights"] = weights
    payload["params"]["cov"][0] = [[scale, off], [off, abs(scale)]]
    payload["params"]["mean"][2] = [scale, -scale]
    accepted = _check_outcome(wire.loads(json.dumps(payload, allow_nan=True), family=Gaussian(2), n_components=3))
    if accepted:
        assert np.all(np.linalg.eigvalsh(np.array(payload["params"]["cov"][0])) > 0)


def test_agree_with_majority_rejects_the_minority_and_handles_ties():
    g2 = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 4.0]})
    g3 = ma.MixingDistribution("poisson", [0.2, 0.3, 0.5], {"rate": [1.0, 4.0, 9.0]})
    gam = ma.MixingDistribution("gamma", [0.5, 0.5], {"shape": [2.0, 3.0], "scale": [1.0, 2.0]})
    bad = ma.rejection.Rejected("x", "broken")
    entries = [wire.loads(wire.dumps(g, machine_id=i)) for i, g in enumerate([g3, g2, g2, gam])] + [bad]
    out = wire.agree_with_majority(entries, family_name="poisson")
    assert [type(e).__name__ for e in out] == [
        "Rejected",
        "TransmittedEstimate",
        "TransmittedEstimate",
        "Rejected",
        "Rejected",
    ]
    assert out[0].reason == "Poisson() with K = 3 differs from the majority's Poisson() with K = 2"
    assert out[3].reason == "family Gamma() is not the expected 'poisson'" and out[4] is bad
    tie = entries[:2]
    with pytest.raises(ValueError, match="disagree with no majority: Poisson\\(\\) with K = 3 \\(1 estimates\\)"):
        wire.agree_with_majority(tie)
    first = wire.agree_with_majority(tie, ties="first")
    assert first[0] is tie[0] and isinstance(first[1], ma.rejection.Rejected)


def test_a_bare_family_name_takes_the_settings_from_the_payload():
    g = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [3.0, 3.0]], "cov": [np.eye(2)] * 2})
    text = ma.wire.dumps(g, machine_id="a")
    back = ma.wire.loads(text, family="gaussian", n_components=2)
    assert not isinstance(back, ma.rejection.Rejected) and back.family == ma.families.Gaussian(2)
    np.testing.assert_array_equal(back.params["mean"], g.params["mean"])
    other = ma.wire.dumps(ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 4.0]}), machine_id="b")
    refused = ma.wire.loads(other, family="gaussian", n_components=2)
    assert isinstance(refused, ma.rejection.Rejected) and refused.machine_id == "b"
    assert "Poisson()" in refused.reason and "'gaussian'" in refused.reason  # names both families
    assert isinstance(ma.wire.loads(text, family="gaussian", n_components=3), ma.rejection.Rejected)
    with pytest.raises(ValueError, match="unknown family 'gausian'"):
        ma.wire.loads(text, family="gausian")
