"""EM against R's mclust (model VVV) through rpy2: an independent implementation of the Gaussian mixture MLE."""

from __future__ import annotations

import numpy as np
import pytest

import mixagg as ma

pytestmark = pytest.mark.r

TRUTH = ma.MixingDistribution(
    "gaussian",
    [0.3, 0.3, 0.4],
    {
        "mean": [[0.0, 0.0], [4.0, 0.5], [0.5, 4.0]],
        "cov": [[[1.0, 0.3], [0.3, 0.8]], np.eye(2), [[0.6, -0.2], [-0.2, 1.2]]],
    },
)


@pytest.mark.parametrize("seed", [1, 2])
def test_best_loglik_agrees_with_mclust(robjects, seed):
    ro = robjects
    x = TRUTH.sample(1500, rng=seed)
    ro.globalenv["x"] = ro.r.matrix(ro.FloatVector(x.ravel(order="F")), nrow=x.shape[0], ncol=2)
    fit_r = ro.r("mclust::Mclust(x, G = 3, modelNames = 'VVV', verbose = FALSE)")
    loglik_r = float(ro.r("function(f) f$loglik")(fit_r)[0])
    means_r = np.array(ro.r("function(f) f$parameters$mean")(fit_r)).reshape(2, 3, order="F").T

    ours = ma.fit_mixture(x, "gaussian", 3, penalty=None, reg=0.0, n_init=10, tol=1e-10, rng=seed)
    assert ours.loglik == pytest.approx(loglik_r, rel=1e-4)
    aligned = ours.permute(
        ours.permutation_to(
            ma.MixingDistribution("gaussian", np.full(3, 1 / 3), {"mean": means_r, "cov": [np.eye(2)] * 3}), cost="d1"
        )
    )
    np.testing.assert_allclose(aligned.params["mean"], means_r, atol=1e-2)
