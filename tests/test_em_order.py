"""Information criteria and order selection: BIC and ICL against R's mclust (its sign convention is the opposite),
parameter counts per covariance structure, and the choice among several orders."""

from __future__ import annotations

import numpy as np
import pytest

import mixagg as ma
from mixagg.families import Gaussian
from mixagg.families.covariance import MCLUST_MODEL_NAMES

TRUTH = ma.MixingDistribution(
    "gaussian",
    [0.3, 0.3, 0.4],
    {
        "mean": [[0.0, 0.0], [5.0, 0.5], [0.5, 5.0]],
        "cov": [[[1.0, 0.3], [0.3, 0.8]], np.eye(2), [[0.6, -0.2], [-0.2, 1.2]]],
    },
)


def _r_matrix(ro, a):
    return ro.r.matrix(ro.FloatVector(a.ravel(order="F")), nrow=a.shape[0], ncol=a.shape[1])


@pytest.mark.r
@pytest.mark.parametrize("model", ["EII", "VII", "EEI", "VVI", "EEE", "VVV"])
def test_bic_is_mclusts_with_the_opposite_sign(robjects, model):
    """mclust's bic(modelName, loglik, n, d, G) = 2 loglik - npar log n, with mclust's own parameter count."""
    ro = robjects
    x = TRUTH.sample(800, rng=1)
    fit = ma.fit_mixture(x, "gaussian", 3, covariance_type=model, n_init=2, rng=0, progress=False)
    theirs = float(ro.r(f"mclust::bic('{model}', {fit.loglik!r}, 800, 2, 3)")[0])
    assert -fit.bic() == pytest.approx(theirs, rel=1e-12)
    assert fit.diagnostics.n_parameters == int(ro.r(f"mclust::nMclustParams('{model}', 2, 3)")[0])


@pytest.mark.r
def test_icl_is_mclusts_at_mclusts_fit(robjects):
    """At mclust's own maximum (our EM started there, no iteration), ICL is mclust's with the opposite sign."""
    ro = robjects
    x = TRUTH.sample(900, rng=2)
    ro.globalenv["x"] = _r_matrix(ro, x)
    ro.r("m <- mclust::Mclust(x, G = 3, modelNames = 'VVV', verbose = FALSE)")
    weights = np.array(ro.r("m$parameters$pro"))
    means = np.array(ro.r("m$parameters$mean")).reshape(2, 3, order="F").T
    covs = np.moveaxis(np.array(ro.r("m$parameters$variance$sigma")).reshape(2, 2, 3, order="F"), -1, 0)
    theirs = ma.MixingDistribution("gaussian", weights, {"mean": means, "cov": covs})
    at = ma.fit_mixture(x, "gaussian", 3, init=theirs, max_iter=0, penalty=None, reg=0.0, progress=False)
    # mclust's E-step and criteria at exactly these parameters (m$loglik is one step behind m$parameters)
    ro.r(
        "e <- mclust::estep('VVV', data = x, parameters = m$parameters); "
        "r <- list(n = nrow(x), z = e$z, bic = mclust::bic('VVV', e$loglik, nrow(x), 2, 3))"
    )
    assert at.loglik == pytest.approx(float(ro.r("e$loglik")[0]), rel=1e-12)
    assert -at.bic() == pytest.approx(float(ro.r("r$bic")[0]), rel=1e-12)
    assert -at.icl() == pytest.approx(float(ro.r("mclust:::icl.Mclust(r)")[0]), rel=1e-10)


@pytest.mark.parametrize("covariance_type", sorted(set(MCLUST_MODEL_NAMES.values())))
def test_parameter_counts_per_structure(covariance_type):
    """K - 1 weights, K d means, and the covariances: K d(d+1)/2 (full), d(d+1)/2 (tied), K d (diag), d (tied
    diag), K (spherical), 1 (tied spherical)."""
    k, d = 4, 3
    cov = {"full": k * 6, "tied": 6, "diag": k * d, "tied_diag": d, "spherical": k, "tied_spherical": 1}
    assert ma.em.n_free_parameters(Gaussian(d, covariance_type), k) == k - 1 + k * d + cov[covariance_type]


def test_the_order_with_the_lowest_criterion_is_returned():
    x = TRUTH.sample(1500, rng=3)
    fit = ma.fit_mixture(x, "gaussian", range(1, 6), n_init=3, rng=0, progress=False)
    rows = fit.diagnostics.criteria
    assert [r["n_components"] for r in rows] == [1, 2, 3, 4, 5]
    for r in rows:  # the criteria from the row's own log-likelihood and parameter count
        nu = r["n_components"] - 1 + r["n_components"] * 5
        assert r["n_parameters"] == nu
        assert r["bic"] == pytest.approx(-2 * r["loglik"] + nu * np.log(1500), rel=1e-12)
        assert r["aic"] == pytest.approx(-2 * r["loglik"] + 2 * nu, rel=1e-12)
        assert r["icl"] >= r["bic"]
    assert fit.n_components == 3 == min(rows, key=lambda r: r["bic"])["n_components"]
    assert fit.diagnostics.criterion == "bic" and fit.bic() == pytest.approx(rows[2]["bic"], rel=1e-12)
    by_icl = ma.fit_mixture(x, "gaussian", [1, 2, 3, 4, 5], n_init=3, rng=0, criterion="icl", progress=False)
    assert by_icl.n_components == min(by_icl.diagnostics.criteria, key=lambda r: r["icl"])["n_components"]
    est = ma.MixtureEM(n_components=range(1, 5), random_state=0).fit(x)
    assert est.mixture_.n_components == 3
    assert est.bic(x) == pytest.approx(est.mixture_.bic(), rel=1e-9)


def test_order_selection_errors():
    x = TRUTH.sample(200, rng=4)
    with pytest.raises(ValueError, match="criterion must be one of"):
        ma.fit_mixture(x, "gaussian", range(1, 3), criterion="bayes")
    with pytest.raises(ValueError, match="n_components lists no order"):
        ma.fit_mixture(x, "gaussian", [])
    with pytest.raises(ValueError, match="init must be 'kmeans\\+\\+' or 'random'"):
        ma.fit_mixture(x, "gaussian", [2, 3], init=TRUTH)
    few = np.repeat(x[:2], 5, axis=0)
    fit = ma.fit_mixture(few, "gaussian", [1, 2, 3], penalty=None, reg=1e-3, progress=False)
    assert "distinct rows" in fit.diagnostics.criteria[2]["error"]
