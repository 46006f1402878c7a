"""Results a person can read: one-line reprs, summary() and the per-machine audit table."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixagg as ma

TRUTH = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [2.0, 12.0]})
M = 12


@pytest.fixture(scope="module")
def received():
    rng = np.random.default_rng(0)
    local = [ma.fit_mixture(TRUTH.sample(2000, rng), "poisson", 2, init=TRUTH, progress=False) for _ in range(M)]
    sent, failed = ma.attacks.rate_failure(local, alpha=0.25, rng=1)
    texts = [ma.wire.dumps(g, machine_id=f"site-{i:02d}", n_samples=2000) for i, g in enumerate(sent)]
    texts[5] = texts[5].replace('"weights":[', '"weights":[7,')  # K + 1 weights: rejected
    return [ma.wire.loads(t, family="poisson", n_components=2) for t in texts], failed


@pytest.fixture(scope="module")
def result(received):
    entries, _ = received
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ma.exceptions.RejectedEstimatesWarning)
        return ma.aggregate(entries, "dfmr", rho=1.3)


def test_the_repr_is_one_short_line(result):
    text = repr(result)
    assert "\n" not in text and len(text) < 150
    assert f"kept={result.selected.size}/{M}" in text and "dfmr" in text


def test_the_audit_table_recomputes_from_the_distances(received, result):
    entries, failed = received
    frame = result.to_frame()
    assert list(frame.columns) == [
        "machine_id",
        "distance_to_coat",
        "ratio_to_radius",
        "kept",
        "screened",
        "weight_factor",
        "reason",
    ]
    assert frame.index.name == "machine" and len(frame) == M
    assert frame["machine_id"].tolist() == [f"site-{i:02d}" for i in range(M)]  # the rejected one's id too
    valid = [i for i in range(M) if i != 5]
    d = ma.l2_distance_matrix([entries[i] for i in valid])  # an independent computation of the distances
    c = valid.index(result.coat_index)
    np.testing.assert_allclose(frame["distance_to_coat"].to_numpy()[valid], d[c], rtol=1e-10, atol=1e-14)
    radius = result.coat_radius
    np.testing.assert_allclose(frame["ratio_to_radius"].to_numpy()[valid], d[c] / radius, rtol=1e-10)
    assert np.isnan(frame.loc[5, "distance_to_coat"])
    kept = frame["kept"].to_numpy()
    np.testing.assert_array_equal(kept[valid], d[c] <= 1.3 * radius)  # the filter of [J] eq. (11)
    assert frame.loc[5, "reason"].startswith("rejected:") and "weights" in frame.loc[5, "reason"]
    assert frame.loc[result.coat_index, "reason"] == "the COAT"
    assert all("farther than rho" in r for r in frame["reason"][~kept].drop(index=5))
    assert not kept[np.flatnonzero(failed)].any()  # gross failures are filtered out


def test_the_summary_names_excluded_machines_the_coat_rho_and_the_rejection(result):
    text = result.summary()
    lines = text.splitlines()
    assert len(lines) < 15
    for i in result.excluded:
        assert f"[{i}] site-{i:02d}" in text
    assert f"COAT: [{result.coat_index}] site-{result.coat_index:02d}" in text
    assert f"radius r = {result.coat_radius:.4g}" in text and "rho = 1.3 (fixed)" in text
    assert "rejected [5] site-05: weights must have length 2" in text


def test_a_suggested_rho_says_how_it_was_chosen(received):
    entries, _ = received
    valid = [e for e in entries if not isinstance(e, ma.rejection.Rejected)]
    res = ma.aggregate(valid, "dfmr", rho="auto", rho_options={"rng": 0})
    assert f"rho = {res.rho:.4g} (chosen by suggest_rho" in res.summary()
    assert "\n" not in repr(res.rho_suggestion) and "RhoSuggestion(rho=" in repr(res.rho_suggestion)


def test_plain_mixtures_have_no_ids_and_positions_label_them():
    rng = np.random.default_rng(4)
    local = [ma.fit_mixture(TRUTH.sample(500, rng), "poisson", 2, init=TRUTH, progress=False) for _ in range(5)]
    res = ma.aggregate(local, "trim", eta=0.2)
    assert res.machine_ids is None and res.to_frame()["machine_id"].isna().all()
    assert set(res.to_frame()["reason"]) <= {"kept by trim", "excluded by trim"}


def test_fits_and_split_and_conquer_print_short_and_summarise():
    x = TRUTH.sample(3000, rng=5)
    fit = ma.fit_mixture(x, "poisson", 2, n_init=2, rng=0, progress=False)
    assert repr(fit).startswith("FittedMixture(") and "\n" not in repr(fit)
    assert f"converged after {fit.n_iter} iterations" in repr(fit)
    summary = fit.summary()
    assert f"log-likelihood {fit.loglik:.8g}" in summary and "starts: 2 (kmeans++)" in summary
    # the log-likelihood printed is the data's: recomputed from the mixture's own density
    assert abs(float(np.sum(fit.logpdf(x))) - fit.loglik) < 1e-6 * abs(fit.loglik)
    shards = [TRUTH.sample(800, rng=i) for i in range(6)]
    out = ma.engine.split_and_conquer(shards, family="poisson", n_components=2, rng=1, progress=False)
    assert "\n" not in repr(out) and "LocalFits(partitions=6" in repr(out)
    assert out.summary().startswith("6 partitions fitted in") and "dfmr aggregation of 6 estimates" in out.summary()


def test_other_results_have_one_line_reprs():
    rng = np.random.default_rng(6)
    fits = [ma.fit_mixture(TRUTH.sample(1000, rng), "poisson", 2, init=TRUTH, progress=False) for _ in range(8)]
    report = ma.theory.concentration_report(fits, TRUTH, rng=0, progress=False)
    objects = [
        report,
        ma.reduction.mixture_reduction(fits, 2),
        ma.theory.fisher_information(TRUTH),
    ]
    for obj in objects:
        text = repr(obj)
        assert "\n" not in text and len(text) < 200, text
    assert report.summary() == str(report) and "KS statistic" in report.summary()
