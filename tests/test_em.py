"""fit_mixture: monotonicity, agreement with scikit-learn and scipy.optimize, consistency, bad input."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
from scipy import optimize, special, stats
from sklearn.mixture import GaussianMixture

import mixagg as ma
from mixagg.exceptions import ConvergenceWarning, DegenerateComponentError
from mixagg.families import Exponential, Gamma, Gaussian, Poisson

TRUTHS = {
    "gaussian": ma.MixingDistribution(
        Gaussian(2),
        [0.3, 0.3, 0.4],
        {
            "mean": [[0.0, 0.0], [4.0, 0.5], [0.5, 4.0]],
            "cov": [[[1.0, 0.3], [0.3, 0.8]], np.eye(2), [[0.6, -0.2], [-0.2, 1.2]]],
        },
    ),
    "gamma": ma.MixingDistribution(Gamma(), [0.32, 0.35, 0.33], {"shape": [1.0, 8.0, 30.0], "scale": [1.0, 6.0, 10.0]}),
    "poisson": ma.MixingDistribution(Poisson(), [0.3, 0.4, 0.3], {"rate": [1.0, 8.0, 25.0]}),
    "exponential": ma.MixingDistribution(Exponential(), [0.5, 0.3, 0.2], {"rate": [0.1, 1.0, 10.0]}),
}


def fit_quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ma.fit_mixture(*args, **kwargs)


# ----------------------------------------------------------------------------- monotonicity


@pytest.mark.parametrize("name", sorted(TRUTHS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_penalised_objective_never_decreases(name, seed):
    truth = TRUTHS[name]
    x = truth.sample(1500, rng=seed)
    fit = fit_quiet(x, name, 3, init="random", tol=0.0, max_iter=150, rng=seed)
    trace = np.array(fit.diagnostics.objective_trace)
    assert trace.size == 151
    assert np.all(np.diff(trace) >= -1e-10 * (1 + np.abs(trace[:-1])))
    assert not any("decreased" in w for w in fit.diagnostics.warnings)


@pytest.mark.parametrize("seed", [0, 1])
def test_unpenalised_gaussian_loglik_never_decreases(seed):
    x = TRUTHS["gaussian"].sample(1500, rng=seed)
    fit = fit_quiet(x, "gaussian", 3, penalty=None, reg=0.0, init="random", tol=0.0, max_iter=150, rng=seed)
    trace = np.array(fit.diagnostics.objective_trace)
    assert np.all(np.diff(trace) >= -1e-10 * (1 + np.abs(trace[:-1])))


# ----------------------------------------------------------------------------- scikit-learn


def _start(x, k, seed):
    """A common starting mixture: sklearn's k-means init run for one iteration."""
    gm = GaussianMixture(k, covariance_type="full", max_iter=1, random_state=seed, reg_covar=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x)
    return ma.MixingDistribution.from_sklearn(gm)


def _sklearn_from(g0, **options):
    return GaussianMixture(
        g0.n_components,
        covariance_type="full",
        reg_covar=0.0,
        weights_init=g0.weights,
        means_init=g0.params["mean"],
        precisions_init=np.linalg.inv(g0.params["cov"]),
        **options,
    )


@pytest.mark.parametrize("iterations", [25, 500])
def test_gaussian_agrees_with_sklearn(iterations):
    # same start, same number of EM iterations, plain MLE (reg_covar = 0): the same iterates
    x = TRUTHS["gaussian"].sample(3000, rng=5)
    g0 = _start(x, 3, 5)
    ours = fit_quiet(x, "gaussian", 3, penalty=None, reg=0.0, init=g0, tol=0.0, max_iter=iterations)
    gm = _sklearn_from(g0, tol=0.0, max_iter=iterations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x)
    theirs = ma.MixingDistribution.from_sklearn(gm)
    np.testing.assert_allclose(ours.weights, theirs.weights, rtol=1e-6)
    np.testing.assert_allclose(ours.params["mean"], theirs.params["mean"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.params["cov"], theirs.params["cov"], rtol=1e-6, atol=1e-9)
    assert ours.loglik == pytest.approx(gm.score(x) * x.shape[0], rel=1e-6)


def test_stopping_rule_matches_sklearn():
    # both stop when the mean log-likelihood changes by less than tol; scikit-learn evaluates that change
    # after its M-step, so it always performs exactly one more M-step than we do
    x = TRUTHS["gaussian"].sample(3000, rng=6)
    g0 = _start(x, 3, 6)
    ours = ma.fit_mixture(x, "gaussian", 3, penalty=None, reg=0.0, init=g0, tol=1e-8)
    gm = _sklearn_from(g0, tol=1e-8, max_iter=1000).fit(x)
    assert ours.converged and gm.converged_
    assert gm.n_iter_ == ours.n_iter + 1
    assert ours.diagnostics.objective_trace[-1] == pytest.approx(gm.lower_bound_, rel=1e-9)


# ----------------------------------------------------------------------------- scipy.optimize


def _direct_mle(family, x, start, loglik_fn, unpack, pack):
    res = optimize.minimize(
        lambda v: -loglik_fn(*unpack(v), x), pack(start), method="BFGS", options={"gtol": 1e-12, "maxiter": 20000}
    )
    return unpack(res.x), -res.fun


def _softmax(z):
    e = np.exp(np.r_[z, 0.0] - max(np.max(z), 0.0))
    return e / e.sum()


@pytest.mark.parametrize("name", ["gamma", "poisson", "exponential"])
def test_em_fixed_point_is_the_mle(name):
    truth = TRUTHS[name]
    x = truth.sample(300, rng=11)
    start = truth.permute([1, 2, 0])  # the same start for EM and the optimiser
    fit = fit_quiet(x, name, 3, penalty=None, reg=0.0, init=start, tol=1e-13, max_iter=100_000)

    if name == "gamma":

        def loglik(w, shape, scale, data):
            return np.sum(special.logsumexp(np.log(w) + stats.gamma.logpdf(data[:, None], shape, scale=scale), axis=1))

        def unpack(v):
            return _softmax(v[:2]), np.exp(v[2:5]), np.exp(v[5:8])

        def pack(g):
            w = np.asarray(g.weights)
            return np.r_[np.log(w[:2] / w[2]), np.log(g.params["shape"]), np.log(g.params["scale"])]

        (w, shape, scale), best = _direct_mle(Gamma(), x, start, loglik, unpack, pack)
        direct = ma.MixingDistribution("gamma", w, {"shape": shape, "scale": scale})
    else:
        logpmf = (
            (lambda data, r: stats.poisson.logpmf(data, r))
            if name == "poisson"
            else (lambda data, r: stats.expon.logpdf(data, scale=1 / r))
        )

        def loglik(w, rate, data):
            return np.sum(special.logsumexp(np.log(w) + logpmf(data[:, None], rate), axis=1))

        def unpack(v):
            return _softmax(v[:2]), np.exp(v[2:5])

        def pack(g):
            w = np.asarray(g.weights)
            return np.r_[np.log(w[:2] / w[2]), np.log(g.params["rate"])]

        (w, rate), best = _direct_mle(None, x, start, loglik, unpack, pack)
        direct = ma.MixingDistribution(name, w, {"rate": rate})

    aligned = fit.permute(fit.permutation_to(direct))
    np.testing.assert_allclose(aligned.weights, direct.weights, rtol=1e-5, atol=1e-7)
    for key in direct.params:
        np.testing.assert_allclose(aligned.params[key], direct.params[key], rtol=1e-5)
    assert fit.loglik == pytest.approx(best, rel=1e-9)


def test_penalised_gamma_fixed_point_maximises_the_penalised_likelihood():
    truth = TRUTHS["gamma"]
    x = truth.sample(300, rng=12)
    fit = fit_quiet(x, "gamma", 3, init=truth, tol=1e-13, max_iter=100_000)
    a_n = 300**-0.5

    def objective(v):
        w, r, b = _softmax(v[:2]), np.exp(v[2:5]), np.exp(v[5:8])
        ll = np.sum(special.logsumexp(np.log(w) + stats.gamma.logpdf(x[:, None], r, scale=b), axis=1))
        return ll - a_n * np.sum(r - np.log(r))

    v0 = np.r_[
        np.log(truth.weights[:2] / truth.weights[2]), np.log(truth.params["shape"]), np.log(truth.params["scale"])
    ]
    res = optimize.minimize(lambda v: -objective(v), v0, method="BFGS", options={"gtol": 1e-12, "maxiter": 20000})
    assert fit.objective == pytest.approx(-res.fun, rel=1e-9)
    np.testing.assert_allclose(np.sort(fit.params["shape"]), np.sort(np.exp(res.x[2:5])), rtol=1e-5)


def test_penalised_gaussian_fixed_point_maximises_the_penalised_likelihood():
    # univariate Chen-Tan: p = s_x^2 / sigma^2 + log sigma^2 ([J] App. A.1)
    truth = ma.MixingDistribution("gaussian", [0.4, 0.6], {"mean": [0.0, 3.0], "cov": [1.0, 0.5]})
    x = truth.sample(200, rng=13)[:, 0]
    fit = fit_quiet(x, "gaussian", 2, init=truth, tol=1e-14, max_iter=100_000)
    a_n, s2 = 200**-0.5, np.var(x, ddof=1)

    def objective(v):
        w, mu, var = _softmax(v[:1]), v[1:3], np.exp(v[3:5])
        ll = np.sum(special.logsumexp(np.log(w) + stats.norm.logpdf(x[:, None], mu, np.sqrt(var)), axis=1))
        return ll - a_n * np.sum(s2 / var + np.log(var))

    v0 = np.r_[np.log(0.4 / 0.6), 0.0, 3.0, 0.0, np.log(0.5)]
    res = optimize.minimize(lambda v: -objective(v), v0, method="BFGS", options={"gtol": 1e-12})
    assert fit.objective == pytest.approx(-res.fun, rel=1e-10)
    np.testing.assert_allclose(fit.params["mean"][:, 0], res.x[1:3], rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- sample weights


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_sample_weight_has_frequency_semantics(name):
    truth = TRUTHS[name]
    x = truth.sample(400, rng=3)
    w = np.random.default_rng(4).integers(0, 4, size=400).astype(float)
    weighted = fit_quiet(x, name, 3, sample_weight=w, init=truth, tol=1e-10, max_iter=500)
    repeated = fit_quiet(np.repeat(x, w.astype(int), axis=0), name, 3, init=truth, tol=1e-10, max_iter=500)
    dropped = fit_quiet(x[w > 0], name, 3, sample_weight=w[w > 0], init=truth, tol=1e-10, max_iter=500)
    for other in (repeated, dropped):
        np.testing.assert_allclose(weighted.weights, other.weights, rtol=1e-9)
        for key in weighted.params:
            np.testing.assert_allclose(weighted.params[key], other.params[key], rtol=1e-8)
        assert weighted.loglik == pytest.approx(other.loglik, rel=1e-10)
    assert weighted.n_samples == w.sum() and weighted.diagnostics.n_observations == int(np.count_nonzero(w))


# ----------------------------------------------------------------------------- consistency


def _fisher_natural(mix, x):
    """Fisher information of the mixture in (K-1 weights, natural parameters), by the score outer product.

    Scores (docs/theory.md, "Fisher information"): s_wk = (f_k - f_K) / f and s_theta_k = tau_k (T(x) - eta_k).
    """
    fam = mix.family
    logf = np.stack([stats_logpdf(fam, x, mix.component(k)) for k in range(mix.n_components)], axis=1)
    logmix = special.logsumexp(logf + np.log(mix.weights), axis=1)
    ratio = np.exp(logf - logmix[:, None])
    tau = ratio * mix.weights
    t = fam.sufficient_stats(x)
    eta = fam.expectation_from_params(dict(mix.params))
    scores = [ratio[:, :-1] - ratio[:, -1:]] + [tau[:, [k]] * (t - eta[k]) for k in range(mix.n_components)]
    s = np.concatenate(scores, axis=1)
    return s.T @ s / x.shape[0]


def stats_logpdf(fam, x, p):
    """Component log-densities from scipy.stats (independent of the family code)."""
    if isinstance(fam, Gaussian):
        return stats.multivariate_normal(p["mean"], p["cov"]).logpdf(x)
    if isinstance(fam, Gamma):
        return stats.gamma.logpdf(x, p["shape"], scale=p["scale"])
    if isinstance(fam, Poisson):
        return stats.poisson.logpmf(x, p["rate"])
    return stats.expon.logpdf(x, scale=1 / p["rate"])


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_consistency_within_four_standard_errors(name):
    # The papers' protocol ([J] §5.1.2): EM started at the truth; tol small enough that the stopping error
    # (~ sqrt(2 tol / (1 - rate))) is far below the standard errors (~ n^-1/2 = 2e-3).
    truth = TRUTHS[name]
    n = 200_000
    x = truth.sample(n, rng=21)
    fit = ma.fit_mixture(x, name, 3, init=truth, tol=1e-11, max_iter=10_000)
    assert fit.converged
    aligned = fit.permute(fit.permutation_to(truth, cost="d1"))
    fam = truth.family
    vec = lambda g: np.r_[g.weights[:-1], fam.natural_from_params(dict(g.params)).ravel()]  # noqa: E731
    info = _fisher_natural(truth, truth.sample(400_000, rng=23))
    se = np.sqrt(np.diag(np.linalg.inv(info)) / n)
    z = np.abs(vec(aligned) - vec(truth)) / se
    assert np.all(z < 4), z.round(2)


# ----------------------------------------------------------------------------- diagnostics


def test_diagnostics_are_recomputable():
    truth = TRUTHS["gaussian"]
    x = truth.sample(2000, rng=31)
    fit = ma.fit_mixture(x, "gaussian", 3, n_init=3, rng=32)
    assert fit.loglik == pytest.approx(float(np.sum(fit.logpdf(x))), rel=1e-12)
    s_x = np.cov(x.T)
    pen = sum(np.trace(np.linalg.solve(c, s_x)) + np.linalg.slogdet(c)[1] for c in fit.params["cov"])
    assert fit.objective == pytest.approx(fit.loglik - 2000**-0.5 * pen, rel=1e-12)
    d = fit.diagnostics
    assert d.objective_trace[-1] == pytest.approx(fit.objective / 2000, rel=1e-12)
    assert d.converged and d.n_iter + 1 == len(d.objective_trace)
    assert len(d.init_objectives) == 3 and d.objective == max(d.init_objectives)
    assert d.penalty.startswith("ChenTanPenalty") and d.reg == 0.0
    assert json.loads(json.dumps(fit.to_dict()))["diagnostics"]["n_iter"] == d.n_iter
    assert isinstance(fit, ma.MixingDistribution)
    back = pickle.loads(pickle.dumps(fit))
    assert back == fit and back.diagnostics == d


def test_family_name_instance_and_univariate_shapes():
    x = TRUTHS["poisson"].sample(500, rng=41)
    a = ma.fit_mixture(x, "poisson", 3, init=TRUTHS["poisson"])
    b = ma.fit_mixture(x[:, None], Poisson(), 3, init=TRUTHS["poisson"])  # one column is accepted
    assert a == b
    g = ma.fit_mixture(
        np.r_[np.zeros(50), np.ones(50) * 5] + np.random.default_rng(0).normal(0, 1, 100), "gaussian", 2, rng=0
    )
    assert g.family == Gaussian(1)


def test_init_from_truth_and_random_init():
    truth = TRUTHS["exponential"]
    x = truth.sample(3000, rng=42)
    a = ma.fit_mixture(x, "exponential", 3, init=truth)
    b = ma.fit_mixture(x, "exponential", 3, init=truth.to_dict())  # R users send named lists
    assert a == b and a.diagnostics.init == "mixture"
    r = fit_quiet(x, "exponential", 3, init="random", n_init=2, rng=1)
    assert r.diagnostics.init == "random" and np.all(np.isfinite(r.params["rate"]))


# ----------------------------------------------------------------------------- robustness, bad input


def test_non_convergence_warns_with_the_iteration_count():
    x = TRUTHS["gaussian"].sample(500, rng=51)
    with pytest.warns(ConvergenceWarning, match="did not converge within max_iter=3 iterations"):
        fit = ma.fit_mixture(x, "gaussian", 3, max_iter=3, rng=0)
    assert not fit.converged and fit.n_iter == 3
    assert any("max_iter=3" in w for w in fit.diagnostics.warnings)


def test_vanishing_component_is_reinitialised_with_a_warning():
    rng = np.random.default_rng(52)
    x = np.r_[rng.normal(0, 1, (300, 1)), rng.normal(8, 1, (100, 1))]
    far = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [0.0, 1e3], "cov": [1.0, 1.0]})
    with pytest.warns(UserWarning, match="component 1 vanished at iteration 1; re-initialised"):
        fit = ma.fit_mixture(x, "gaussian", 2, init=far, max_iter=200)
    assert fit.diagnostics.reseeded[0] == (1, 1) and fit.converged
    np.testing.assert_allclose(np.sort(fit.params["mean"][:, 0]), [0.0, 8.0], atol=0.3)  # it found the second cluster


def test_collapsing_component_names_the_component_and_remedies():
    # 30 copies of one point: with the plain MLE (reg=0) a component collapses onto them
    rng = np.random.default_rng(53)
    x = np.r_[rng.normal(0, 1, (200, 2)), np.tile([[5.0, 5.0]], (30, 1))]
    start = ma.MixingDistribution(
        "gaussian", [0.87, 0.13], {"mean": [[0.0, 0.0], [5.0, 5.0]], "cov": [np.eye(2), np.eye(2)]}
    )
    with pytest.raises(
        DegenerateComponentError, match=r"component 1 degenerated at iteration \d+.*penalty='auto'.*reg"
    ) as info:
        ma.fit_mixture(x, "gaussian", 2, penalty=None, reg=0.0, init=start)
    assert info.value.component == 1
    # the penalised MLE handles it; the regularised MLE too, with a recorded warning (a documented recovery)
    fit = ma.fit_mixture(x, "gaussian", 2, init=start)
    assert np.all(np.linalg.eigvalsh(fit.params["cov"]) > 0) and np.isfinite(fit.loglik)
    with pytest.warns(UserWarning, match="component 1 sits on the boundary imposed by the regulariser"):
        fit = ma.fit_mixture(x, "gaussian", 2, init=start, penalty=None)
    assert np.isfinite(fit.loglik) and any("boundary" in w for w in fit.diagnostics.warnings)


def test_degenerate_count_components_are_regularised():
    # one component holds only zeros: its Poisson rate would be 0 (outside the parameter space)
    x = np.r_[np.zeros(100), np.random.default_rng(54).poisson(10, 100)].astype(float)
    start = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1e-3, 10.0]})
    with pytest.warns(UserWarning, match="component 0 sits on the boundary imposed by the regulariser reg=1e-06"):
        fit = ma.fit_mixture(x, "poisson", 2, init=start)
    assert fit.params["rate"].min() == pytest.approx(1e-6)  # the floor of Poisson.default_reg is what keeps it valid
    assert np.isfinite(fit.loglik)


@pytest.mark.parametrize(
    "x, family, k, kwargs, exc, match",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "gaussian", 1, {}, ValueError, "X must be finite"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "gaussian", 1, {}, ValueError, "X must be finite"),
        (np.array([1.0, -2.0, 3.0]), "gamma", 1, {}, ValueError, r"X\[1\] is outside the support \(positive\)"),
        (np.array([1.0, 2.5, 3.0]), "poisson", 1, {}, ValueError, r"X\[1\] is outside the support \(count\)"),
        (np.arange(3.0)[:, None], "gaussian", 4, {}, ValueError, "n_samples=3 should be >= n_components=4"),
        (np.r_[np.ones(10), 2 * np.ones(10)], "poisson", 3, {}, ValueError, "only 2 distinct observation"),
        (np.column_stack([np.arange(20.0), np.ones(20)]), "gaussian", 2, {}, ValueError, r"constant column\(s\) \[1\]"),
        (
            np.arange(20.0),
            "poisson",
            2,
            {"sample_weight": np.ones(19)},
            ValueError,
            r"sample_weight must have shape \(20,\)",
        ),
        (np.arange(20.0), "poisson", 2, {"sample_weight": -np.ones(20)}, ValueError, "non-negative"),
        (np.arange(20.0), "poisson", 2, {"sample_weight": np.zeros(20)}, ValueError, "must not be all zero"),
        (np.arange(20.0), "poisson", 2, {"penalty": "chen-tan"}, ValueError, "penalty must be 'auto', None"),
        (np.arange(20.0), "poisson", 2, {"penalty": 3}, TypeError, "penalty must be"),
        (np.arange(1.0, 21.0), "gamma", 2, {"reg": 1e-3}, ValueError, "pass penalty=None"),
        (np.arange(20.0), "poisson", 2, {"reg": -1.0}, ValueError, "reg must be a non-negative"),
        (np.arange(20.0), "poisson", 2, {"init": "kmeans"}, ValueError, "init must be one of"),
        (np.arange(20.0), "poisson", 2, {"init": 3}, TypeError, "init must be"),
        (np.arange(20.0), "poisson", 2, {"n_init": 0}, ValueError, "n_init must be >= 1"),
        (np.arange(20.0), "poisson", 2, {"tol": -1.0}, ValueError, "tol must be"),
        (np.arange(20.0), "poisson", 2.5, {}, ValueError, "n_components must be an integer"),
        (np.arange(20.0), "weibull", 2, {}, ValueError, "unknown family"),
        (np.ones((20, 2, 2)), "gaussian", 2, {}, ValueError, r"X must have shape \(n_samples, 2\)"),
    ],
)
def test_bad_input(x, family, k, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ma.fit_mixture(x, family, k, **kwargs)


def test_bad_init_mixtures():
    x = np.arange(20.0)
    with pytest.raises(ValueError, match="init has family Exponential"):
        ma.fit_mixture(x, "poisson", 2, init=ma.MixingDistribution("exponential", [0.5, 0.5], {"rate": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="init has 1 components but n_components=2"):
        ma.fit_mixture(x, "poisson", 2, init=ma.MixingDistribution("poisson", [1.0], {"rate": [1.0]}))
    with pytest.raises(ValueError, match="n_init must be 1 when init is a MixingDistribution"):
        ma.fit_mixture(x, "poisson", 1, n_init=2, init=ma.MixingDistribution("poisson", [1.0], {"rate": [1.0]}))


def test_float32_and_integer_input_are_upcast():
    x = TRUTHS["gaussian"].sample(500, rng=61)
    a = ma.fit_mixture(x, "gaussian", 3, init=TRUTHS["gaussian"])
    b = ma.fit_mixture(x.astype(np.float32), "gaussian", 3, init=TRUTHS["gaussian"])
    assert b.params["mean"].dtype == np.float64
    np.testing.assert_allclose(a.params["mean"], b.params["mean"], rtol=1e-5, atol=1e-5)
    c = ma.fit_mixture(np.arange(30), "poisson", 2, rng=0)  # integer counts
    assert c.params["rate"].dtype == np.float64


def test_kmeans_start_recovers_well_separated_components():
    truth = TRUTHS["gaussian"]
    fit = ma.fit_mixture(truth.sample(20_000, rng=71), "gaussian", 3, n_init=3, rng=72)
    aligned = fit.permute(fit.permutation_to(truth))
    np.testing.assert_allclose(aligned.params["mean"], truth.params["mean"], atol=0.05)
    np.testing.assert_allclose(aligned.weights, truth.weights, atol=0.02)


def test_kmeans_start_ignores_row_order_and_duplication():
    truth = TRUTHS["gaussian"]
    x = truth.sample(600, rng=81)
    w = np.random.default_rng(82).integers(1, 4, size=600).astype(float)
    base = ma.fit_mixture(x, "gaussian", 3, sample_weight=w, rng=7)
    order = np.random.default_rng(83).permutation(600)
    shuffled = ma.fit_mixture(x[order], "gaussian", 3, sample_weight=w[order], rng=7)
    repeated = ma.fit_mixture(np.repeat(x, w.astype(int), axis=0), "gaussian", 3, rng=7)
    for other in (shuffled, repeated):
        np.testing.assert_allclose(other.params["mean"], base.params["mean"], rtol=1e-8)
        assert other.loglik == pytest.approx(base.loglik, rel=1e-10)


# ----------------------------------------------------------------------------- review regressions


def test_two_components_vanishing_at_once_get_disjoint_observations():
    x = np.random.default_rng(0).normal(size=(200, 10))
    far = ma.MixingDistribution(
        "gaussian",
        [0.4, 0.3, 0.3],
        {"mean": [np.zeros(10), np.full(10, 1e3), np.full(10, -1e3)], "cov": [np.eye(10)] * 3},
    )
    with pytest.warns(UserWarning, match="vanished"):
        fit = fit_quiet(x, "gaussian", 3, init=far)
    assert {c for _, c in fit.diagnostics.reseeded} == {1, 2}
    assert np.all(fit.weights > 0.1) and np.isfinite(fit.loglik)


def test_a_component_that_keeps_vanishing_is_reported(monkeypatch):
    # make "vanishing" mean "below 90% of the sample": with K = 2 one component always is, and after
    # MAX_RESEEDS re-initialisations the fit gives up with a clear error
    import mixagg.em as em

    monkeypatch.setattr(em, "VANISHING_FRACTION", 0.9)
    x = TRUTHS["poisson"].sample(300, rng=1)
    with pytest.raises(DegenerateComponentError, match=r"vanished 4 times .* use fewer components"):
        ma.fit_mixture(x, "poisson", 2, rng=0)


def test_reseeding_respects_frequency_semantics():
    rng = np.random.default_rng(52)
    x = np.r_[rng.normal(0, 1, (300, 1)), rng.normal(8, 1, (100, 1))]
    w = rng.integers(1, 4, size=400).astype(float)
    far = ma.MixingDistribution("gaussian", [0.5, 0.5], {"mean": [0.0, 1e3], "cov": [1.0, 1.0]})
    with pytest.warns(UserWarning, match="vanished"):
        weighted = ma.fit_mixture(x, "gaussian", 2, sample_weight=w, init=far)
    with pytest.warns(UserWarning, match="vanished"):
        repeated = ma.fit_mixture(np.repeat(x, w.astype(int), axis=0), "gaussian", 2, init=far)
    np.testing.assert_allclose(weighted.diagnostics.objective_trace, repeated.diagnostics.objective_trace, rtol=1e-9)


@pytest.mark.parametrize("name", ["gamma", "exponential", "poisson"])
def test_random_and_kmeans_starts_respect_frequency_semantics(name):
    truth = TRUTHS[name]
    x = truth.sample(300, rng=91)
    w = np.random.default_rng(92).integers(1, 4, size=300).astype(float)
    for init in ("kmeans++", "random"):
        a = fit_quiet(x, name, 3, sample_weight=w, init=init, rng=5, max_iter=300)
        b = fit_quiet(np.repeat(x, w.astype(int), axis=0), name, 3, init=init, rng=5, max_iter=300)
        for key in a.params:
            np.testing.assert_allclose(a.params[key], b.params[key], rtol=1e-7)


@pytest.mark.parametrize("scale", [1e160, 1e-170])
def test_scale_equivariance_of_the_whole_fit(scale):
    # Gamma: shapes unchanged and scales multiplied; Exponential: rates divided (the floor is relative)
    g = TRUTHS["gamma"].sample(2000, rng=93)
    base, moved = (
        ma.fit_mixture(g, "gamma", 3, rng=3, max_iter=3000),
        ma.fit_mixture(g * scale, "gamma", 3, rng=3, max_iter=3000),
    )
    np.testing.assert_allclose(moved.params["shape"], base.params["shape"], rtol=1e-9)
    np.testing.assert_allclose(moved.params["scale"], base.params["scale"] * scale, rtol=1e-9)
    e = TRUTHS["exponential"].sample(2000, rng=94)
    base_e = fit_quiet(e, "exponential", 3, rng=4)
    moved_e = fit_quiet(e * scale, "exponential", 3, rng=4)
    np.testing.assert_allclose(moved_e.params["rate"] * scale, base_e.params["rate"], rtol=1e-9)


def test_gaussian_affine_equivariance_with_the_penalty():
    x = TRUTHS["gaussian"].sample(3000, rng=95)
    a = np.array([[2.0, 0.5], [0.0, 1e-4]])
    b = np.array([1e5, -3.0])
    # run both to the fixed point (2000 iterations, no early stop): the stopping error is then far below rtol
    base = fit_quiet(x, "gaussian", 3, rng=6, tol=0.0, max_iter=2000)
    moved = fit_quiet(x @ a.T + b, "gaussian", 3, rng=6, tol=0.0, max_iter=2000)
    image = ma.MixingDistribution(
        "gaussian", base.weights, {"mean": base.params["mean"] @ a.T + b, "cov": a @ base.params["cov"] @ a.T}
    )
    aligned = moved.permute(moved.permutation_to(image, cost="d1"))  # the seeding order may differ under a linear map
    np.testing.assert_allclose(aligned.params["mean"], image.params["mean"], rtol=1e-7)
    np.testing.assert_allclose(aligned.params["cov"], image.params["cov"], rtol=1e-6)
    assert moved.loglik == pytest.approx(base.loglik - 3000 * np.log(abs(np.linalg.det(a))), rel=1e-9)


def test_small_scale_regularised_fit_stays_monotone_and_reports_the_binding_floor():
    rng = np.random.default_rng(96)
    x = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(5, 1, (300, 2))] * 1e-3  # variances ~ 1e-6 = reg
    with pytest.warns(UserWarning, match="boundary imposed by the regulariser reg=1e-06"):
        fit = ma.fit_mixture(x, "gaussian", 2, penalty=None, rng=0)
    trace = np.array(fit.diagnostics.objective_trace)
    assert np.all(np.diff(trace) >= -1e-10 * (1 + np.abs(trace[:-1])))  # an exact constrained M-step
    assert np.all(np.linalg.eigvalsh(fit.params["cov"]) >= 1e-6 * (1 - 1e-12))


def test_eigenvalue_floor_is_the_constrained_mle():
    # max over {Sigma >= reg I} of the Gaussian log-likelihood given scatter S: clip S's eigenvalues at reg
    rng = np.random.default_rng(97)
    x = rng.normal(size=(50, 2)) @ np.diag([1.0, 1e-3])
    fam = Gaussian(2)
    out = fam.weighted_mle(x, reg=1e-4)
    s = np.cov(x.T, bias=True)
    vals, vecs = np.linalg.eigh(s)
    np.testing.assert_allclose(out["cov"], vecs @ np.diag(np.maximum(vals, 1e-4)) @ vecs.T, rtol=1e-10)

    def loglik(cov):
        return stats.multivariate_normal(out["mean"], cov).logpdf(x).sum()

    for _ in range(20):  # feasible perturbations never do better
        a = rng.normal(size=(2, 2)) * 1e-5
        cand = out["cov"] + a @ a.T
        assert loglik(cand) <= loglik(out["cov"]) + 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_collapse_onto_duplicates_is_never_returned_as_success(seed):
    x = np.r_[np.random.default_rng(seed).normal(0, 3e4, 30), np.full(15, 12345.678)]
    try:
        fit = fit_quiet(x, "gaussian", 2, penalty=None, reg=0.0, rng=seed)
    except DegenerateComponentError as exc:
        assert exc.component in (0, 1) and "penalty='auto'" in str(exc)
    else:  # a genuine local maximum that avoided the duplicates
        assert np.linalg.eigvalsh(fit.params["cov"]).min() > 1e-6


def test_mismatched_penalty_is_rejected_up_front():
    from mixagg.families import ChenTanPenalty, GammaShapePenalty

    g = TRUTHS["gamma"].sample(100, rng=1)
    with pytest.raises(TypeError, match="ChenTanPenalty penalises Gaussian mixtures"):
        ma.fit_mixture(g, "gamma", 2, penalty=ChenTanPenalty(0.1, np.eye(1)))
    with pytest.raises(TypeError, match="GammaShapePenalty penalises Gamma mixtures"):
        ma.fit_mixture(np.arange(20.0), "poisson", 2, penalty=GammaShapePenalty(0.1))
    with pytest.raises(ValueError, match="sample_cov is 3x3 but the data have d=2"):
        ma.fit_mixture(TRUTHS["gaussian"].sample(100, rng=2), "gaussian", 2, penalty=ChenTanPenalty(0.1, np.eye(3)))


def test_default_gamma_fit_stays_square_integrable():
    rng = np.random.default_rng(98)
    x = np.r_[rng.gamma(0.3, 1.0, 300), rng.gamma(30.0, 1.0, 300)]
    fit = ma.fit_mixture(x, "gamma", 2, rng=0)
    assert fit.params["shape"].min() >= 0.5 + 1e-8  # [J] §D.1: the space {shape > 1/2}
    assert ma.l2_distance(fit, TRUTHS["gamma"]) > 0  # L2 distances exist
    free = ma.fit_mixture(x, "gamma", 2, penalty=None, rng=0)
    assert free.params["shape"].min() < 0.5  # the plain MLE is not constrained


def test_no_floating_point_exceptions_escape():
    rng = np.random.default_rng(99)
    data = {
        "gaussian": np.r_[rng.normal(0, 1, (300, 2)), rng.normal(5, 1, (300, 2))],
        "gamma": np.r_[rng.gamma(0.3, 1, 300), rng.gamma(30, 1, 300)],
        "exponential": np.r_[rng.exponential(1, 500), rng.exponential(20, 500)],
        "poisson": rng.poisson(3, 500).astype(float),
    }
    with np.errstate(all="raise"):
        for name, d in data.items():
            for init in ("kmeans++", "random"):
                fit_quiet(d, name, 2, init=init, rng=0)


def test_max_iter_zero_evaluates_the_start():
    truth = TRUTHS["poisson"]
    x = truth.sample(200, rng=1)
    with pytest.warns(ConvergenceWarning, match="max_iter=0 iterations were allowed"):
        fit = ma.fit_mixture(x, "poisson", 3, init=truth, max_iter=0)
    assert fit == truth and fit.loglik == pytest.approx(float(truth.logpdf(x).sum()), rel=1e-12)


@pytest.mark.parametrize("scale", [1e160, 1e-170])
def test_gaussian_outside_float64_range_asks_to_rescale(scale):
    x = TRUTHS["gaussian"].sample(200, rng=3) * scale
    with pytest.raises(ValueError, match="outside the range of float64.*rescale X"):
        ma.fit_mixture(x, "gaussian", 2)
