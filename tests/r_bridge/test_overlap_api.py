"""``mixagg.r_bridge.overlap``: inputs, the R-hazard screen (traps 5.5-5.7), the Chernoff screen, results as plain data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma
from mixagg.r_bridge.dispatch import r_overlap_hazard
from mixagg.r_bridge.native_overlap import _chernoff_log_bounds, _chi2_part, pair_quantities

REFERENCE = Path(__file__).parent / "mixsim_reference"


def _inputs(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    block = case["input"] if "input" in case else case["result"]
    return np.array(block["Pi"], float), np.array(block["Mu"], float), np.array(block["S"], float)


def _safe_cases() -> list[str]:
    """The overlap cases and the successful MixSim calls of the reference set (MixSim is right on all of them)."""
    cases = [json.loads(p.read_text()) for p in sorted(REFERENCE.glob("*_v*.json"))]
    return [c["id"] for c in cases if c["kind"] == "overlap" or c.get("outcome") == "ok"]


@pytest.mark.parametrize("case_id", _safe_cases())
def test_no_hazard_on_mixtures_mixsim_handles(case_id):
    case = json.loads((REFERENCE / f"{case_id}.json").read_text())
    assert r_overlap_hazard(pair_quantities(*_inputs(case))) is None


@pytest.mark.parametrize("quirk", ["quirk_q01_swapped_diagonals", "quirk_q02_partial_equal_cov_first", "quirk_q03_partial_equal_cov_reordered", "quirk_q04_unit_eigenvalue_hang"])
def test_hazard_flags_every_mixsim_quirk(quirk):
    case = json.loads((REFERENCE / f"{quirk}.json").read_text())
    assert r_overlap_hazard(pair_quantities(*_inputs(case))) is not None


def test_chernoff_bounds_bound_the_exact_probabilities():
    """exp(bound) >= o_{j|i} and >= 1 - o_{j|i} for every heterogeneous pair of a p = 4 mixture at several scales."""
    rng = np.random.default_rng(4)
    k, p = 5, 4
    z = rng.standard_normal((k, p + 2, p))
    covs = np.swapaxes(z, 1, 2) @ z / (p + 2)
    pairs = pair_quantities(rng.dirichlet(np.ones(k)), rng.uniform(size=(k, p)), covs)
    rows, cols = np.nonzero(~np.eye(k, dtype=bool))
    tight = 0
    for scale in (0.01, 0.1, 1.0):
        lam, d, kappa = pairs.scaled(scale)
        lower, upper = _chernoff_log_bounds(lam[rows, cols], d[rows, cols], kappa[rows, cols])
        exact = np.array([_chi2_part(lam[i, j], d[i, j], kappa[i, j]) for i, j in zip(rows, cols)])
        assert np.all(exact <= np.exp(lower) + 1e-12)
        assert np.all(1 - exact <= np.exp(upper) + 1e-12)
        tight += np.sum(np.exp(lower) < 1e-3)
    assert tight > 5  # the bounds are informative, not just <= 1


def test_far_apart_components_have_zero_overlap_and_close_ones_do_not():
    mix = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [60.0, 0.0]], "cov": [np.eye(2), np.diag([2.0, 0.5])]})
    assert ma.r_bridge.overlap(mix, backend="python").max_omega == 0.0
    near = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [1.0, 0.0]], "cov": [np.eye(2), np.diag([2.0, 0.5])]})
    assert ma.r_bridge.overlap(near, backend="python").max_omega > 0.3


def test_bad_mixtures_are_refused_with_named_errors():
    with pytest.raises(TypeError, match="Gaussian"):
        ma.r_bridge.overlap(ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 3.0]}), backend="python")
    one = ma.MixingDistribution("gaussian", [1.0], {"mean": [[0.0]], "cov": [[[1.0]]]})
    with pytest.raises(ValueError, match="at least 2"):
        ma.r_bridge.overlap(one, backend="python")
    zero = ma.MixingDistribution("gaussian", [1.0, 0.0], {"mean": [[0.0], [1.0]], "cov": [[[1.0]], [[1.0]]]})
    with pytest.raises(ValueError, match="positive"):
        ma.r_bridge.overlap(zero, backend="python")
    two = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [[0.0], [1.0]], "cov": [[[1.0]], [[1.0]]]})
    with pytest.raises(ValueError, match="eps"):
        ma.r_bridge.overlap(two, eps=0.0, backend="python")
    with pytest.raises(ValueError, match="backend"):
        ma.r_bridge.overlap(two, backend="R")
    with pytest.raises(TypeError, match="mixture"):
        ma.r_bridge.overlap([0.5, 0.5], backend="python")


def test_results_are_plain_data_and_accept_mixsim_results():
    sim = ma.mixsim(3, 2, max_omega=0.1, seed=2, backend="python")
    res = ma.r_bridge.overlap(sim, backend="python")
    d = res.to_dict()
    assert d["backend"] == "python" and d["rc_max"] == list(sim.rc_max)
    assert np.array(d["omega_map"]).shape == (3, 3)
    json.dumps(d)
