"""R interoperability: mclust densities through rpy2, and mixagg driven from R through reticulate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma
from mixagg.families import Gaussian

pytestmark = pytest.mark.r


def test_mixture_density_matches_mclust_dens(robjects, rng):
    """mclust::dens (model VVV) is an independent implementation of the Gaussian mixture density."""
    ro = robjects
    d, k = 3, 4
    fam = Gaussian(d)
    mix = ma.MixingDistribution(fam, rng.dirichlet(np.ones(k)), fam.random_params(k, rng))
    x = mix.sample(200, rng)
    # R stores the p x p x K covariance array and the p x K mean matrix column-major
    env = ro.globalenv
    env["sigma"] = ro.r.array(
        ro.FloatVector(np.transpose(mix.params["cov"], (1, 2, 0)).ravel(order="F")), dim=ro.IntVector([d, d, k])
    )
    env["mu"] = ro.r.matrix(ro.FloatVector(mix.params["mean"].T.ravel(order="F")), nrow=d, ncol=k)
    env["pro"] = ro.FloatVector(mix.weights)
    env["x"] = ro.r.matrix(ro.FloatVector(x.ravel(order="F")), nrow=x.shape[0], ncol=d)
    got = np.array(
        ro.r(
            "mclust::dens(data = x, modelName = 'VVV', logarithm = TRUE, parameters = list(pro = pro, mean = mu, "
            "variance = list(modelName = 'VVV', d = nrow(mu), G = ncol(mu), sigma = sigma, "
            "cholsigma = array(apply(sigma, 3, chol), dim(sigma)))))"
        )
    )
    np.testing.assert_allclose(mix.logpdf(x), got, rtol=1e-10)


def test_mixagg_from_r_through_reticulate(rscript, tmp_path):
    script = Path(__file__).parent / "r" / "reticulate_mixture.R"
    env = dict(os.environ, RETICULATE_PYTHON=sys.executable)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ma.__file__).parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([rscript, str(script), sys.executable], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    g = ma.MixingDistribution(
        "gaussian",
        [0.4, 0.6],
        {"mean": [[0, 0], [3, 1]], "cov": [[[1.0, 0.3], [0.3, 0.5]], [[2.0, -0.4], [-0.4, 1.0]]]},
    )
    h = ma.MixingDistribution("gaussian", [1.0], {"mean": [[1, 1]], "cov": [np.eye(2)]})
    assert float(out["D12"]) == pytest.approx(ma.l2_distance(g, h), rel=1e-13)
    assert float(out["logpdf"]) == pytest.approx(float(g.logpdf([0.5, -0.2])), rel=1e-13)
    assert out["error"] == "TRUE"


def test_an_r_data_frame_fits_with_family_auto(rscript, tmp_path):
    """numeric -> Gaussian, integer -> Poisson, logical -> Bernoulli, factor -> Categorical (its 3 levels), and the
    column names in the estimate R reads back; the Poisson rates near the simulated 2 and 9 (within 4 standard
    errors of a rate estimated from about 300 counts)."""
    script = Path(__file__).parent / "r" / "reticulate_frame.R"
    env = dict(os.environ, RETICULATE_PYTHON=sys.executable)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ma.__file__).parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([rscript, str(script), sys.executable], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = {line.split(" ", 1)[0]: line.split(" ", 1)[1].strip() for line in proc.stdout.strip().splitlines()}
    assert out["columns"] == "height,smoker,region,visits"
    assert out["params"] == "gaussian.mean,gaussian.cov,bernoulli.p,categorical.probs,visits.rate"
    assert out["levels"] == "3"
    rates = [float(r) for r in out["rates"].split(",")]
    for got, true in zip(rates, (2.0, 9.0)):
        assert abs(got - true) < 4 * np.sqrt(true / 300)
