"""Shared by the family tests: local fits against the theory's limit law, and DFMR against gross failures."""

from __future__ import annotations

import warnings

import numpy as np

import mixagg as ma


def assert_fits_follow_the_law(truth: ma.MixingDistribution, *, n: int, reps: int, seed: int) -> None:
    """n D^2(G_hat, G*) against its limit law sum_j lambda_j chi^2_1 ([J] Thm 3.2): the mean over ``reps`` fits
    (EM started at the truth) within 4 standard errors, sqrt(2 sum lambda_j^2 / reps), of sum lambda_j."""
    lam = ma.theory.distance_eigenvalues(truth)
    gen = np.random.default_rng(seed)
    nd2 = np.empty(reps)
    for r in range(reps):
        fit = ma.fit_mixture(truth.sample(n, rng=gen), truth.family, truth.n_components, init=truth, progress=False)
        nd2[r] = n * ma.l2_distance(fit, truth) ** 2
    se = np.sqrt(2 * np.sum(lam**2) / reps)
    assert abs(nd2.mean() - lam.sum()) < 4 * se, (nd2.mean(), lam.sum(), se)


def assert_dfmr_filters_probability_failures(truth: ma.MixingDistribution, *, seed: int) -> None:
    """20 machines of 1,000, 4 sending ``probability_failure`` estimates: DFMR keeps none of them and is within
    10% of the oracle's W1, while vanilla pooling is at least twice the oracle's."""
    gen = np.random.default_rng(seed)
    local = [
        ma.fit_mixture(truth.sample(1000, rng=gen), truth.family, truth.n_components, init=truth, progress=False)
        for _ in range(20)
    ]
    sent, failed = ma.attacks.probability_failure(local, 0.2, rng=seed + 1)
    assert all(g.validate() == [] for g in sent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ma.aggregate(sent, "dfmr")
        oracle = ma.aggregate(sent, "oracle", failure_free=~failed)
        vanilla = ma.aggregate(sent, "vanilla")
    assert not np.any(res.kept[failed])
    w1 = ma.metrics.w1
    assert w1(res.mixture, truth) <= 1.1 * w1(oracle.mixture, truth)
    assert w1(vanilla.mixture, truth) >= 2 * w1(oracle.mixture, truth)


def assert_dfmr_near_the_oracle(
    truth: ma.MixingDistribution, attack: str, *, seed: int, replicates: int = 8, rho: float | str = "auto"
) -> None:
    """20 machines of 1,000, 4 sending ``<attack>_failure`` estimates, in ``replicates`` independent replicates:
    DFMR keeps no failed machine, and its W1 averaged over the replicates is within 5% of the oracle's.

    The average is the claim: in one replicate, dropping one honest machine of 16 moves W1 by up to 30%."""
    dfmr, oracle = [], []
    for r in range(replicates):
        gen = np.random.default_rng([seed, r])
        local = [
            ma.fit_mixture(truth.sample(1000, rng=gen), truth.family, truth.n_components, init=truth, progress=False)
            for _ in range(20)
        ]
        sent, failed = getattr(ma.attacks, f"{attack}_failure")(local, 0.2, rng=np.random.SeedSequence([seed, r, 1]))
        assert all(g.validate() == [] for g in sent)  # the failures stay inside the parameter space
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ma.aggregate(sent, "dfmr", rho=rho)
            best = ma.aggregate(sent, "oracle", failure_free=~failed)
        assert not np.any(res.kept[failed]), r
        dfmr.append(ma.metrics.w1(res.mixture, truth))
        oracle.append(ma.metrics.w1(best.mixture, truth))
    assert np.mean(dfmr) <= 1.05 * np.mean(oracle), (np.mean(dfmr) / np.mean(oracle), dfmr, oracle)
