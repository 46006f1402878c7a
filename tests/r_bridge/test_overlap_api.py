"""``mixagg.r_bridge.overlap``: inputs, the R-hazard screen (docs/mixsim.md pitfalls 5-7), the Chernoff
screen, results as plain data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

import mixagg as ma
from mixagg.r_bridge.dispatch import r_overlap_hazard
from mixagg.r_bridge.native_overlap import _chernoff_log_bounds, _heterogeneous, pair_quantities

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
    weights, means, covs = _inputs(case)
    assert r_overlap_hazard(pair_quantities(weights, means, covs), covs) is None


@pytest.mark.parametrize(
    "quirk",
    [
        "quirk_q01_swapped_diagonals",
        "quirk_q02_partial_equal_cov_first",
        "quirk_q03_partial_equal_cov_reordered",
        "quirk_q04_unit_eigenvalue_hang",
    ],
)
def test_hazard_flags_every_mixsim_quirk(quirk):
    case = json.loads((REFERENCE / f"{quirk}.json").read_text())
    weights, means, covs = _inputs(case)
    assert r_overlap_hazard(pair_quantities(weights, means, covs), covs) is not None


@pytest.mark.parametrize("second", [np.diag([1.0, 1 + 1e-9]), (1 + 1e-10) * np.eye(2), np.diag([1.0, 2.0])])
def test_hazard_flags_eigenvalues_at_one_unless_all_covariances_are_identical(second):
    """Only bitwise-identical covariances take MixSim's homogeneous branch; anything else near 1 hangs or fails."""
    weights, means = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]])
    covs = np.stack([np.eye(2), second])
    assert r_overlap_hazard(pair_quantities(weights, means, covs), covs) is not None
    same = np.stack([second, second])
    assert r_overlap_hazard(pair_quantities(weights, means, same), same) is None


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
        exact = np.array([_heterogeneous(lam[i, j], d[i, j], kappa[i, j]) for i, j in zip(rows, cols)])
        assert np.all(exact <= np.exp(lower) + 1e-12)
        assert np.all(1 - exact <= np.exp(upper) + 1e-12)
        tight += np.sum(np.exp(lower) < 1e-3)
    assert tight > 5  # the bounds are informative, not just <= 1


def test_far_apart_components_have_zero_overlap_and_close_ones_do_not():
    mix = ma.MixingDistribution(
        "gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [60.0, 0.0]], "cov": [np.eye(2), np.diag([2.0, 0.5])]}
    )
    assert ma.r_bridge.overlap(mix, backend="python").max_omega == 0.0
    near = ma.MixingDistribution(
        "gaussian", [0.5, 0.5], {"mean": [[0.0, 0.0], [1.0, 0.0]], "cov": [np.eye(2), np.diag([2.0, 0.5])]}
    )
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


def _reduced_by_quadrature(a: float, b_norm: float, c_total: float, kappa: float, rest_dof: int) -> float:
    """P(a W1^2 + |b| W1 + a R + c < kappa), R ~ chi2(rest_dof) independent of W1: quad over R of a 1-D normal interval.

    Written from scratch for the test: for a spherical pair every coordinate has the same a = lambda - 1,
    and a rotation puts all of b on the first coordinate.
    """

    def inner(r: float) -> float:
        # a w^2 + B w + C < 0 with C = c + a r - kappa
        big_c = c_total + a * r - kappa
        disc = b_norm * b_norm - 4 * a * big_c
        if disc <= 0:
            return 0.0 if a > 0 else 1.0
        q = -0.5 * (b_norm + np.sqrt(disc))  # b_norm >= 0; stable roots q / a and C / q (no cancellation for tiny a)
        r1, r2 = sorted([q / a, big_c / q])
        inside = stats.norm.cdf(r2) - stats.norm.cdf(r1)
        return inside if a > 0 else 1.0 - inside

    dist = stats.chi2(rest_dof)
    return integrate.quad(lambda r: inner(r) * dist.pdf(r), 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=500)[0]


@pytest.mark.parametrize("eps", [1e-2, 1e-4, 1e-6, 1e-7, 1e-8, 5e-9])
def test_generalized_eigenvalues_near_one_are_exact(eps):
    """Sigma_2 = (1 + eps) Sigma_1: completing the square would cancel 1/eps-sized terms
    (MixSim fails or hangs there)."""
    p, scale = 3, 0.05
    means = np.array([[0.0, 0.0, 0.0], [0.3, 0.2, 0.1]])
    mix = ma.MixingDistribution(
        "gaussian", [0.4, 0.6], {"mean": means, "cov": [scale * np.eye(p), scale * (1 + eps) * np.eye(p)]}
    )
    res = ma.r_bridge.overlap(mix, backend="python")
    for i, j in ((0, 1), (1, 0)):
        lam = (scale if i == 0 else scale * (1 + eps)) / (scale * (1 + eps) if i == 0 else scale)
        d_norm = np.linalg.norm(means[i] - means[j]) / np.sqrt(scale if i == 0 else scale * (1 + eps))
        kappa = 2 * np.log(mix.weights[j] / mix.weights[i]) + p * np.log(lam)
        exact = _reduced_by_quadrature(lam - 1, 2 * lam * d_norm, lam * d_norm**2, kappa, p - 1)
        assert abs(res.omega_map[i, j] - exact) < 1e-9, (i, j, res.omega_map[i, j], exact)


def _interval_probability(a: float, b: float, y: float) -> float:
    """P(a W^2 + b W < y), W ~ N(0, 1), with numerically stable roots."""
    disc = b * b + 4 * a * y
    if disc <= 0:
        return 0.0 if a > 0 else 1.0
    q = -0.5 * (b + np.copysign(np.sqrt(disc), b))
    r1, r2 = sorted([q / a, -y / q])
    inside = stats.norm.cdf(r2) - stats.norm.cdf(r1)
    return inside if a > 0 else 1.0 - inside


@pytest.mark.parametrize("eps", [1e-3, 1e-6, 1e-8, 3e-9])
def test_one_eigenvalue_near_one_beside_a_generic_one(eps):
    """Sigma_1 = I, Sigma_2 = diag(0.1, 1 + eps): axis-aligned, so o_{2|1} is a 1-D quadrature over the
    near-unit axis."""
    mu = np.array([[0.0, 0.0], [0.3, 0.1]])
    mix = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": mu, "cov": [np.eye(2), np.diag([0.1, 1 + eps])]})
    lam = np.array([1 / 0.1, 1 / (1 + eps)])
    d = mu[0] - mu[1]
    a, b, c = lam - 1, 2 * lam * d, lam * d * d
    kappa = -np.log(0.1 * (1 + eps))  # kappa_12 = log(pi_2^2 / pi_1^2) + log(|Sigma_1| / |Sigma_2|), equal weights
    y0 = kappa - c.sum()
    exact = integrate.quad(
        lambda w: stats.norm.pdf(w) * _interval_probability(a[0], b[0], y0 - a[1] * w * w - b[1] * w), -12, 12,
        epsabs=1e-13, epsrel=1e-12, limit=400,
    )[0]  # fmt: skip
    got = ma.r_bridge.overlap(mix, backend="python").omega_map[0, 1]
    assert abs(got - exact) < 1e-9, (got, exact)
