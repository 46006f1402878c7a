"""The native MixSim generator (docs/mixsim.md): targets hit, the properties of §3.8, the draws' laws, failures.

Achieved overlaps are checked against computations that do not use mixagg's evaluator: a
Monte Carlo count of misclassifications (10^6 draws per component, within 4 standard errors),
the normal closed form for homogeneous mixtures and the interval form for p = 1.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mixagg as ma
from mixagg.exceptions import MixSimError
from mixagg.r_bridge import native_mixsim

EPS = 1e-6
REFERENCE = Path(__file__).parent / "mixsim_reference"
GRID = list(itertools.product((2, 5, 10), (1, 2, 10), ((False, False), (True, False), (False, True), (True, True))))


def _pairwise(omega: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(omega.shape[0], 1)
    return omega[i, j] + omega[j, i]


def _parts(sim):
    return np.array(sim.weights), sim.means, np.array(sim.mixture.params["cov"])


def _closed_form_map(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray | None:
    """o_{j|i} without mixagg: Phi(-D/2 + log(pi_j/pi_i)/D) for equal covariances, normal-cdf intervals for p = 1."""
    k, p = means.shape
    omega = np.eye(k)
    if np.allclose(covs, covs[0], rtol=1e-12, atol=0):
        inv = np.linalg.inv(covs[0])
        for i, j in itertools.permutations(range(k), 2):
            diff = means[i] - means[j]
            delta = np.sqrt(diff @ inv @ diff)
            omega[i, j] = stats.norm.cdf(-delta / 2 + np.log(weights[j] / weights[i]) / delta)
        return omega
    if p != 1:
        return None
    for i, j in itertools.permutations(range(k), 2):
        # log pi_j phi_j - log pi_i phi_i > 0  <=>  a x^2 + b x + c > 0
        mi, mj, vi, vj = means[i, 0], means[j, 0], covs[i, 0, 0], covs[j, 0, 0]
        a = 0.5 / vi - 0.5 / vj
        b = mj / vj - mi / vi
        c = np.log(weights[j] / weights[i]) - 0.5 * np.log(vj / vi) - 0.5 * mj**2 / vj + 0.5 * mi**2 / vi
        disc = b * b - 4 * a * c
        sd = np.sqrt(vi)
        if disc <= 0:
            omega[i, j] = 1.0 if a > 0 else 0.0
            continue
        lo, hi = sorted([(-b - np.sqrt(disc)) / (2 * a), (-b + np.sqrt(disc)) / (2 * a)])
        inside = stats.norm.cdf((hi - mi) / sd) - stats.norm.cdf((lo - mi) / sd)
        omega[i, j] = 1.0 - inside if a > 0 else inside
    return omega


def _monte_carlo_map(weights, means, covs, n, rng):
    """Fraction of n draws from component i with pi_i phi_i(x) < pi_j phi_j(x); plain numpy Cholesky densities."""
    k, p = means.shape
    chol = np.linalg.cholesky(covs)
    logdet = 2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    counts = np.zeros((k, k))
    for i in range(k):
        x = means[i] + rng.standard_normal((n, p)) @ chol[i].T
        scores = np.empty((k, n))
        for j in range(k):
            z = np.linalg.solve(chol[j], (x - means[j]).T)
            scores[j] = np.log(weights[j]) - 0.5 * logdet[j] - 0.5 * np.sum(z * z, axis=0)
        counts[i] = np.sum(scores[i] < scores, axis=1)
    return counts / n


def _check_properties(sim, k, p, sph, hom, ecc=0.9, pi_low=1.0, box=(0.0, 1.0)):
    """docs/mixsim.md: proportions, means in the box, eccentricity, spherical / homogeneous structure, reported map."""
    weights, means, covs = _parts(sim)
    assert weights.shape == (k,) and means.shape == (k, p) and covs.shape == (k, p, p)
    assert abs(weights.sum() - 1) < 1e-12
    assert np.all(weights >= pi_low - 1e-12) or np.allclose(weights, 1 / k)
    assert np.all((means >= box[0]) & (means <= box[1]))
    vals = np.linalg.eigvalsh(covs)
    assert np.all(vals > 0)
    assert np.all(np.sqrt(1 - vals[:, 0] / vals[:, -1]) <= ecc + 1e-9)
    if sph:
        np.testing.assert_allclose(covs, covs[:, :1, :1] * np.eye(p), rtol=0, atol=0)
    if hom:
        assert np.all(covs == covs[0])
    # the reported map is the map of the returned (scaled) parameters, recomputed from scratch
    fresh = ma.r_bridge.overlap(sim.mixture, backend="python")
    np.testing.assert_allclose(fresh.omega_map, sim.omega_map, rtol=0, atol=1e-9)
    assert sim.rc_max == fresh.rc_max
    assert np.all(np.diag(sim.omega_map) == 1)


@pytest.mark.parametrize(("k", "p", "shape"), GRID, ids=[f"K{k}-p{p}-sph{int(s)}-hom{int(h)}" for k, p, (s, h) in GRID])
def test_max_mode_hits_target(k, p, shape):
    sph, hom = shape
    target = 0.05 if k > 2 else 0.2
    sim = ma.mixsim(k, p, max_omega=target, sph=sph, hom=hom, seed=k * 100 + p, backend="python")
    assert sim.backend == "python" and sim.attempts >= 1
    assert abs(sim.max_omega - target) <= EPS
    assert abs(_pairwise(sim.omega_map).max() - target) <= EPS
    _check_properties(sim, k, p, sph, hom)
    exact = _closed_form_map(*_parts(sim))
    if exact is not None:  # homogeneous or p = 1: independent closed forms
        np.testing.assert_allclose(sim.omega_map, exact, rtol=0, atol=1e-9)
        assert abs(_pairwise(exact).max() - target) <= EPS + 1e-9


@pytest.mark.parametrize(
    ("k", "p", "sph", "hom"),
    [(2, 10, False, False), (5, 1, True, False), (5, 10, False, True), (10, 2, False, False), (10, 10, True, True)],
)
def test_bar_mode_hits_target(k, p, sph, hom):
    target = 0.01 if k == 10 else 0.05
    sim = ma.mixsim(k, p, bar_omega=target, sph=sph, hom=hom, seed=7, backend="python")
    assert abs(sim.bar_omega - target) <= EPS
    assert abs(_pairwise(sim.omega_map).mean() - target) <= EPS
    _check_properties(sim, k, p, sph, hom)


@pytest.mark.parametrize(
    ("k", "p", "sph", "bar", "top", "pi_low"),
    [
        (5, 5, False, 0.05, 0.15, 1.0),
        (4, 3, False, 0.02, 0.1, 0.1),
        (5, 2, True, 0.02, 0.08, 1.0),
        (3, 1, False, 0.02, 0.05, 1.0),
    ],
)
def test_both_mode_hits_both_targets(k, p, sph, bar, top, pi_low):
    sim = ma.mixsim(k, p, bar_omega=bar, max_omega=top, sph=sph, pi_low=pi_low, seed=3, backend="python")
    assert abs(sim.bar_omega - bar) <= EPS
    assert abs(sim.max_omega - top) <= EPS
    _check_properties(sim, k, p, sph, False, pi_low=pi_low)


def test_both_mode_at_the_admissible_boundary_never_returns_zero_covariances():
    """docs/mixsim.md, pitfall 8 / quirk_q05: MaxOmega = BarOmega K(K-1)/2 forces the other pairs' overlaps to 0."""
    case = json.loads((REFERENCE / "quirk_q05_both_targets_zero_cov.json").read_text())["call"]
    try:
        sim = ma.mixsim(3, 1, bar_omega=case["BarOmega"], max_omega=case["MaxOmega"], seed=5, backend="python", resN=20)
    except MixSimError:
        return
    assert np.all(np.linalg.eigvalsh(np.array(sim.mixture.params["cov"])) > 0)
    assert abs(sim.max_omega - case["MaxOmega"]) <= EPS and abs(sim.bar_omega - case["BarOmega"]) <= EPS


@pytest.mark.parametrize(
    ("kwargs", "seed"),
    [
        (dict(K=5, p=2, max_omega=0.1), 11),
        (dict(K=2, p=10, bar_omega=0.3), 12),
        (dict(K=10, p=2, max_omega=0.05, sph=True, pi_low=0.05), 13),
        (dict(K=3, p=5, bar_omega=0.05, max_omega=0.1), 14),
    ],
)
def test_monte_carlo_agrees_within_four_standard_errors(kwargs, seed):
    sim = ma.mixsim(**kwargs, seed=seed, backend="python")
    weights, means, covs = _parts(sim)
    n = 10**6
    estimate = _monte_carlo_map(weights, means, covs, n, np.random.default_rng(seed))
    off = ~np.eye(len(weights), dtype=bool)
    exact = sim.omega_map[off]
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(estimate[off] - exact) <= 4 * se + 0.5 / n), np.max(
        np.abs(estimate[off] - exact) / np.maximum(se, 1e-300)
    )
    assert exact.max() > 0.01  # the check is not vacuous


REFERENCE_CALLS = sorted(
    case["id"]
    for case in (json.loads(f.read_text()) for f in REFERENCE.glob("mixsim_v*.json"))
    if case["outcome"] == "ok"
    and case["call"]["K"] * case["call"]["p"] < 100  # the K=10, p=10 cases run in the grid above
)


@pytest.mark.parametrize("case_id", REFERENCE_CALLS)
def test_reference_calls_reach_the_same_targets(case_id):
    """Every successful MixSim call of the reference set, run natively with another seed, reaches its target(s)."""
    call = json.loads((REFERENCE / f"{case_id}.json").read_text())["call"]
    sim = ma.mixsim(
        call["K"], call["p"], max_omega=call["MaxOmega"], bar_omega=call["BarOmega"], sph=call["sph"], hom=call["hom"],
        ecc=call["ecc"], pi_low=call["PiLow"], int=call["int"], resN=call["resN"], eps=call["eps"], lim=call["lim"],
        seed=2026, backend="python",
    )  # fmt: skip
    if call["MaxOmega"] is not None:
        assert abs(sim.max_omega - call["MaxOmega"]) <= call["eps"]
    if call["BarOmega"] is not None:
        assert abs(sim.bar_omega - call["BarOmega"]) <= call["eps"]
    both = call["MaxOmega"] is not None and call["BarOmega"] is not None
    _check_properties(
        sim, call["K"], call["p"], call["sph"], call["hom"] and not both, call["ecc"], call["PiLow"], tuple(call["int"])
    )


def test_unreachable_target_raises_after_res_n_attempts():
    """reference mixsim_v14: MaxOmega = 0.99 with heterogeneous p = 5 covariances is out of reach (MixSim: NULL)."""
    call = json.loads((REFERENCE / "mixsim_v14_null_unreachable.json").read_text())["call"]
    with pytest.raises(MixSimError, match="resN=3"):
        ma.mixsim(call["K"], call["p"], max_omega=call["MaxOmega"], resN=call["resN"], seed=1, backend="python")


def test_invalid_target_combinations_raise_value_errors():
    v15 = json.loads((REFERENCE / "mixsim_v15_null_invalid_both.json").read_text())["call"]
    with pytest.raises(ValueError, match="inadmissible"):
        ma.mixsim(v15["K"], v15["p"], bar_omega=v15["BarOmega"], max_omega=v15["MaxOmega"], backend="python")
    v16 = json.loads((REFERENCE / "mixsim_v16_error_hom_both.json").read_text())["call"]
    with pytest.raises(ValueError, match="hom=True"):
        ma.mixsim(v16["K"], v16["p"], bar_omega=v16["BarOmega"], max_omega=v16["MaxOmega"], hom=True, backend="python")
    with pytest.raises(ValueError, match="at least one"):
        ma.mixsim(3, 2, backend="python")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(K=1), ValueError, "K must be >= 2"),
        (dict(K=2.5), ValueError, "K must be an integer"),
        (dict(p=0), ValueError, "p must be >= 1"),
        (dict(max_omega=1.5), ValueError, "max_omega must lie in"),
        (dict(max_omega="0.1"), TypeError, "max_omega"),
        (dict(ecc=0.0), ValueError, "ecc"),
        (dict(pi_low=1.2), ValueError, "pi_low"),
        (dict(int=(1.0, 0.0)), ValueError, "int must be"),
        (dict(resN=0), ValueError, "resN"),
        (dict(eps=-1e-6), ValueError, "eps"),
        (dict(lim=0.5), ValueError, "lim"),
        (dict(sph="yes"), TypeError, "sph"),
        (dict(seed=1.5), ValueError, "seed"),
        (dict(backend="julia"), ValueError, "backend"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    args = dict(K=3, p=2, max_omega=0.05, backend="python")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        ma.mixsim(args.pop("K"), args.pop("p"), **args)


def test_integral_doubles_from_r_are_accepted():
    a = ma.mixsim(3.0, 2.0, max_omega=0.05, resN=100.0, lim=1e6, seed=4.0, backend="python")
    b = ma.mixsim(3, 2, max_omega=0.05, resN=100, lim=1_000_000, seed=4, backend="python")
    assert a.mixture == b.mixture


def test_auto_without_mixsim_uses_python_and_results_are_reproducible():
    a = ma.mixsim(4, 3, max_omega=0.1, seed=9)
    b = ma.mixsim(4, 3, max_omega=0.1, seed=np.random.default_rng(9))
    assert a.backend == b.backend == "python"  # R's MixSim cannot be installed on these machines
    assert a.mixture == b.mixture
    d = a.to_dict()
    assert set(d) == {
        "weights",
        "means",
        "covariances",
        "omega_map",
        "bar_omega",
        "max_omega",
        "rc_max",
        "backend",
        "attempts",
    }
    assert len(d["covariances"]) == 4 and np.array(d["covariances"][0]).shape == (3, 3)
    json.dumps(d)


# ---------------------------------------------------------------------------------------------- the raw draws
def _settings(**kw):
    base = dict(
        n_components=3,
        dim=3,
        bar_omega=None,
        max_omega=0.1,
        sph=False,
        hom=False,
        ecc=1.0,
        pi_low=1.0,
        box=(0.0, 1.0),
        res_n=1,
        eps=EPS,
    )
    base.update(kw)
    return native_mixsim.GenerationSettings(**base)


def test_general_covariances_are_wishart_over_p():
    """Wishart_p(p, I)/p: E S = I, Var S_aa = 2/p, Var S_ab = 1/p (no eccentricity cap at ecc = 1)."""
    p, n = 3, 4000
    rng = np.random.default_rng(0)
    covs = np.concatenate([native_mixsim.draw_parameters(_settings(dim=p), rng, hom=False)[2] for _ in range(n)])
    diag, off = covs[:, 0, 0], covs[:, 0, 1]
    m = covs.shape[0]
    assert abs(diag.mean() - 1) <= 4 * np.sqrt(2 / p / m)
    assert abs(off.mean()) <= 4 * np.sqrt(1 / p / m)
    # variance of a sample variance: (mu4 - sigma^4) / m, with S_aa ~ Gamma(p/2, scale 2/p),
    # mu4 = (3 + excess kurtosis) sigma^4
    var, kurt = stats.gamma(p / 2, scale=2 / p).stats("vk")
    assert abs(var - 2 / p) < 1e-12
    assert abs(diag.var() - var) <= 4 * np.sqrt((3 + kurt - 1) * var**2 / m)


def test_eccentricity_cap_keeps_the_largest_eigenvalue_and_sets_e_to_ecc():
    settings = _settings(dim=4, ecc=0.5, n_components=200)
    raw_rng, capped_rng = np.random.default_rng(1), np.random.default_rng(1)
    raw = native_mixsim.draw_parameters(_settings(dim=4, ecc=1.0, n_components=200), raw_rng, hom=False)[2]
    capped = native_mixsim.draw_parameters(settings, capped_rng, hom=False)[2]
    raw_vals, capped_vals = np.linalg.eigvalsh(raw), np.linalg.eigvalsh(capped)
    e_raw = np.sqrt(1 - raw_vals[:, 0] / raw_vals[:, -1])
    e_cap = np.sqrt(1 - capped_vals[:, 0] / capped_vals[:, -1])
    hit = e_raw > 0.5
    assert hit.sum() > 100 and np.all(~hit | np.isclose(e_cap, 0.5, rtol=0, atol=1e-12))
    np.testing.assert_allclose(capped_vals[:, -1], raw_vals[:, -1], rtol=1e-12)
    np.testing.assert_array_equal(capped[~hit], raw[~hit])
    # middle eigenvalues move affinely: their relative position in [min, max] is kept
    rel_raw = (raw_vals[hit, 1] - raw_vals[hit, 0]) / (raw_vals[hit, -1] - raw_vals[hit, 0])
    rel_cap = (capped_vals[hit, 1] - capped_vals[hit, 0]) / (capped_vals[hit, -1] - capped_vals[hit, 0])
    np.testing.assert_allclose(rel_cap, rel_raw, atol=1e-9)


def test_proportions_are_pi_low_plus_scaled_dirichlet():
    k, pi_low, n = 4, 0.1, 20000
    rng = np.random.default_rng(2)
    w = np.array(
        [
            native_mixsim.draw_parameters(_settings(n_components=k, dim=1, pi_low=pi_low), rng, hom=False)[0]
            for _ in range(n)
        ]
    )
    assert np.all(w >= pi_low) and np.allclose(w.sum(axis=1), 1)
    scaled = (w - pi_low) / (1 - k * pi_low)  # Dirichlet(1, ..., 1): mean 1/K, variance (K-1) / (K^2 (K+1))
    var = (k - 1) / (k**2 * (k + 1))
    assert np.all(np.abs(scaled.mean(axis=0) - 1 / k) <= 4 * np.sqrt(var / n))
    assert stats.kstest(scaled[:, 0], stats.beta(1, k - 1).cdf).pvalue > 1e-3
    equal = native_mixsim.draw_parameters(_settings(n_components=k, dim=1, pi_low=0.3), rng, hom=False)[0]
    np.testing.assert_array_equal(equal, np.full(k, 1 / k))  # K * PiLow > 1: MixSim falls back to 1/K


def test_spherical_and_homogeneous_draws():
    rng = np.random.default_rng(3)
    _, means, covs = native_mixsim.draw_parameters(_settings(sph=True, n_components=5, box=(-2.0, 3.0)), rng, hom=False)
    assert np.all((means >= -2) & (means <= 3))
    radii = covs[:, 0, 0]
    np.testing.assert_array_equal(covs, radii[:, None, None] * np.eye(3))
    assert len(set(radii)) == 5 and np.all((radii > 0) & (radii < 1))
    _, _, covs = native_mixsim.draw_parameters(_settings(n_components=5), rng, hom=True)
    assert np.all(covs == covs[0])
