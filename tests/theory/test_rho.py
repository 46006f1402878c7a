"""suggest_rho: coverage of honest estimates on real EM fits, docs/suggest_rho.md reference values, dfmr(rho="auto")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import N_MACHINES

import mixagg as ma
from mixagg.robust import RADIUS_RULES, coat_radius
from mixagg.robust.coat import coat_radii
from mixagg.theory import rho_for_eigenvalues, suggest_rho


def kept_fraction(estimates, rho, honest=None):
    d = ma.l2_distance_matrix(estimates)
    c, r = coat_radius(d)
    inside = d[c] <= rho * r
    return float(np.mean(inside if honest is None else inside[honest])), inside


@pytest.mark.parametrize("fits", ["gaussian_fits", "poisson_fits"])
def test_the_filter_keeps_the_requested_fraction_of_honest_fits(fits, request):
    estimates = request.getfixturevalue(fits)
    s = suggest_rho(estimates, coverage=0.99, rng=1)
    fraction, _ = kept_fraction(estimates, s.rho)
    assert abs(fraction - 0.99) <= 0.03, (s.rho, fraction)
    assert s.n_honest >= 0.95 * N_MACHINES
    # the observed COAT radius is of the predicted size (the law's scale, n from the fits)
    lo, hi = s.predicted_radius_interval
    assert 0.9 * lo <= s.coat_radius <= 1.1 * hi
    # target="all": every honest fit is kept
    s_all = suggest_rho(estimates, coverage=0.9, target="all", rng=1)
    assert s_all.rho > s.rho and kept_fraction(estimates, s_all.rho)[0] == 1.0


def test_coverage_holds_among_honest_fits_when_a_fifth_fail(gaussian_fits):
    local, failed = ma.attacks.mean_failure(gaussian_fits, alpha=0.2, rng=3)
    s = suggest_rho(local, coverage=0.99, rng=1)
    fraction, inside = kept_fraction(local, s.rho, honest=~failed)
    assert abs(fraction - 0.99) <= 0.03
    assert not np.any(inside[failed])
    assert abs(s.n_honest - np.count_nonzero(~failed)) <= 0.03 * N_MACHINES


@pytest.mark.parametrize(
    "nu, m, n_honest, expected",
    [(8, 64, None, 1.93), (29, 100, None, 1.45), (329, 100, 70, 1.09)],
)
def test_reference_values_of_math_section_9_7(nu, m, n_honest, expected):
    """Equal eigenvalues, probability 0.95 that every honest estimate is kept (target="all" of docs/suggest_rho.md)."""
    rho = rho_for_eigenvalues(np.ones(nu), m, n_honest=n_honest, coverage=0.95, target="all", n_boot=2000, rng=0)
    assert rho == pytest.approx(expected, abs=0.04)


@pytest.mark.parametrize("coverage, n_failed", [(0.8, 0), (0.9, 0), (0.9, 20), (0.99, 0)])
def test_rho_is_calibrated_in_the_limit_model(coverage, n_failed):
    """Fresh data sets from the limit model (honest z_i ~ N(0, diag lambda), failures far away), the COAT by
    robust.coat_radius: the mean kept fraction of honest estimates is the coverage (both sides checked)."""
    lam = np.array([1.0, 0.6, 0.3, 0.1, 0.05])
    m = 100
    rho = rho_for_eigenvalues(lam, m, n_honest=m - n_failed, coverage=coverage, n_boot=1000, rng=0)
    rng = np.random.default_rng(99)
    fractions = []
    for _ in range(300):
        z = rng.standard_normal((m, lam.size)) * np.sqrt(lam)
        z[:n_failed] += 1e3 * rng.standard_normal((n_failed, lam.size))
        d = np.linalg.norm(z[:, None] - z[None], axis=-1)
        c, r = coat_radius(d)
        fractions.append(np.mean(d[c, n_failed:] <= rho * r))
    se = np.std(fractions) / np.sqrt(len(fractions))
    assert abs(np.mean(fractions) - coverage) < 4 * se + 1e-3, (np.mean(fractions), se)


@pytest.mark.parametrize("radius", RADIUS_RULES)
def test_coat_rule_with_far_estimates_equals_explicit_padding(radius):
    rng = np.random.default_rng(radius.encode()[0])
    for k, n_far in [(7, 0), (7, 3), (6, 5), (9, 4), (5, 6)]:
        z = rng.standard_normal((k, 3))
        d = np.linalg.norm(z[:, None] - z[None], axis=-1)
        m = k + n_far
        padded = np.full((m, m), np.inf)
        padded[:k, :k] = d
        np.fill_diagonal(padded, 0.0)
        c, r = coat_radii(d[None], radius, n_far=n_far)
        c_ref, r_ref = coat_radius(padded, radius)
        assert (int(c[0]), float(r[0])) == (c_ref, r_ref)


def test_dfmr_auto_rho(poisson_fits):
    local, failed = ma.attacks.rate_failure(poisson_fits[:60], alpha=0.3, rng=2)
    res = ma.aggregate(local, "dfmr", rho="auto")
    s = suggest_rho(local, rng=0)
    assert res.rho == s.rho and res.rho_suggestion.to_dict() == s.to_dict()
    assert set(np.flatnonzero(failed)) <= set(res.excluded.tolist())
    again = ma.aggregate(local, "dfmr", rho="auto")
    assert again.rho == res.rho  # reproducible: the bootstrap is seeded
    other = ma.aggregate(local, "dfmr", rho="auto", rho_options={"coverage": 0.9, "rng": 5})
    assert other.rho < res.rho and other.rho_suggestion.coverage == 0.9
    assert res.to_dict()["rho_suggestion"]["rho"] == res.rho


def test_dfmr_auto_falls_back_when_the_theory_does_not_apply():
    """Every estimate has two equal components: the Fisher information at the COAT is singular."""
    rng = np.random.default_rng(0)
    twins = [
        ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [r, r]}) for r in 5.0 + 0.05 * rng.standard_normal(9)
    ]
    with pytest.warns(UserWarning, match="rho='auto' failed"):
        res = ma.aggregate(twins, "dfmr", rho="auto")
    assert res.rho == ma.families.Poisson().default_rho and res.rho_suggestion is None


def test_errors(poisson_fits):
    few = poisson_fits[:10]
    with pytest.raises(ValueError, match="rho must be"):
        ma.aggregate(few, "dfmr", rho="fast")
    with pytest.raises(ValueError, match="rho_options"):
        ma.aggregate(few, "dfmr", rho=1.3, rho_options={"coverage": 0.9})
    with pytest.raises(ValueError, match="must not set"):
        ma.aggregate(few, "dfmr", rho="auto", rho_options={"radius": "half"})
    with pytest.raises(ValueError, match="coverage"):
        ma.aggregate(few, "dfmr", rho="auto", rho_options={"coverage": 1.5})
    with pytest.raises(ValueError, match="target"):
        suggest_rho(few, target="most")
    with pytest.raises(ValueError, match="at least 3"):
        suggest_rho(few[:2])
    with pytest.raises(ValueError, match="sample_sizes"):
        suggest_rho(few, sample_sizes=[1.0] * 3)
    with pytest.raises(ValueError, match="eigenvalues"):
        rho_for_eigenvalues([0.0, 0.0], 10)
    with pytest.raises(ValueError, match="n_honest"):
        rho_for_eigenvalues([1.0], 10, n_honest=11)
    with pytest.raises(ValueError, match="n_honest"):
        rho_for_eigenvalues([1.0], 10, n_honest=5)  # no majority
    with pytest.raises(TypeError, match="rho_options"):
        ma.aggregate(few, "dfmr", rho="auto", rho_options=["coverage", 0.9])
    d = ma.l2_distance_matrix(few)
    with pytest.raises(ValueError, match="distances"):
        suggest_rho(few, distances=-d)
    with pytest.raises(ValueError, match="distances"):
        suggest_rho(few, distances=d[:, ::-1])
    with pytest.warns(UserWarning, match="at least 3"):
        assert ma.aggregate(few[:2], "dfmr", rho="auto").rho == ma.families.Poisson().default_rho
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert suggest_rho(few, n_boot=50, rng=0).n_boot == 50
