"""Local EM fits shared by the concentration and rho tests (computed once per session, seeds fixed).

Issue scale: m = 400 machines with n = 2000 observations each, EM started at the truth
(penalised for the Gaussian: Chen-Tan with a_n = n^-1/2, the paper's estimator).
"""

from __future__ import annotations

import numpy as np
import pytest

import mixagg as ma

N_LOCAL = 2000
N_MACHINES = 400

GAUSS_TRUTH = ma.MixingDistribution(
    "gaussian",
    [0.4, 0.6],
    {"mean": [[0.0, 0.0], [3.0, 1.0]], "cov": [[[1.0, 0.3], [0.3, 1.0]], [[1.5, -0.4], [-0.4, 0.8]]]},
)
POISSON_TRUTH = ma.MixingDistribution("poisson", [0.3, 0.3, 0.4], {"rate": [1.0, 6.0, 15.0]})


def _fits(truth: ma.MixingDistribution, family: str, seed: int) -> list[ma.FittedMixture]:
    rng = np.random.default_rng(seed)
    return [
        ma.fit_mixture(truth.sample(N_LOCAL, rng), family, truth.n_components, init=truth, tol=1e-8)
        for _ in range(N_MACHINES)
    ]


@pytest.fixture(scope="session")
def gaussian_fits() -> list[ma.FittedMixture]:
    return _fits(GAUSS_TRUTH, "gaussian", 2026)


@pytest.fixture(scope="session")
def poisson_fits() -> list[ma.FittedMixture]:
    return _fits(POISSON_TRUTH, "poisson", 2027)
