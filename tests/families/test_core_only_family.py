"""A family written with the core hooks only (Rayleigh) passes check_family and runs EM -> DFMR -> suggest_rho.

Nothing outside this file knows the family: no closed-form KL, barycentre, derivatives or EM support; every
derived operation and optional capability falls back to its generic implementation. The assertions are checked
against quantities computed here from the Rayleigh density alone (quadrature of the score, chi-square laws).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest
from scipy import integrate

import mixagg as ma
from mixagg.families import ExponentialFamily, ParamSpec, register_family, registry
from mixagg.families.core import positive_problems
from mixagg.families.testing import check_family

TRUE_WEIGHTS = np.array([0.4, 0.6])
TRUE_SCALES = np.array([1.0, 4.0])
N_PER_MACHINE = 2000
N_MACHINES = 10


class Rayleigh(ExponentialFamily):
    r"""Rayleigh with scale :math:`\sigma`: :math:`f(x)=x\sigma^{-2}e^{-x^2/(2\sigma^2)}`, :math:`x>0`.

    :math:`T(x)=x^2`, :math:`\theta=-1/(2\sigma^2)`, :math:`A=-\log(-2\theta)`, :math:`h(x)=x` (so :math:`h^2\ne ch`),
    :math:`\eta=2\sigma^2`; :math:`\int f_af_b=\sqrt\pi/(4s^{3/2}\sigma_a^2\sigma_b^2)` with
    :math:`s=1/(2\sigma_a^2)+1/(2\sigma_b^2)`.
    """

    name = "rayleigh-core-only"
    support = "positive"
    n_natural = 1
    param_spec = MappingProxyType({"scale": ParamSpec((), description="scale sigma > 0")})

    def _natural_from_params(self, params):
        return (-0.5 / np.asarray(params["scale"]) ** 2)[..., None]

    def _params_from_natural(self, theta):
        return {"scale": np.sqrt(-0.5 / theta[..., 0])}

    def _log_partition(self, theta):
        return -np.log(-2.0 * theta[..., 0])

    def _expectation_from_natural(self, theta):
        return -1.0 / theta

    def _natural_from_expectation(self, eta):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(eta > 0, -1.0 / eta, np.nan)

    def _in_natural_domain(self, theta):
        return theta[..., 0] < 0

    def _sufficient_stats(self, x):
        return np.where(x > 0, x * x, 0.0)[..., None]

    def _log_base_measure(self, x):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)

    def _validate(self, params):
        return positive_problems("scale", params["scale"])

    def _invalid_params(self):
        return [{"scale": 0.0}, {"scale": -1.0}]

    def _sample(self, params, size, rng):
        scale = params["scale"]
        return rng.rayleigh(scale, size=size + scale.shape)

    def _random_params(self, size, rng):
        return {"scale": np.exp(rng.uniform(np.log(0.3), np.log(3.0), size))}

    def _ground_distance(self, pa, pb):
        return np.abs(pa["scale"] - pb["scale"])

    def _log_product_integral(self, pa, pb):
        va, vb = np.asarray(pa["scale"]) ** 2, np.asarray(pb["scale"]) ** 2
        s = 0.5 / va + 0.5 / vb
        return np.log(np.sqrt(np.pi) / 4.0) - 1.5 * np.log(s) - np.log(va) - np.log(vb)


def _mixture_fisher_information() -> np.ndarray:
    """E[s s^T] for the vector (w_1, sigma_1, sigma_2) of the true mixture, by quadrature of the analytic score."""

    def comp(x, s):
        return x / s**2 * np.exp(-(x**2) / (2 * s**2))

    def dcomp(x, s):  # d f / d sigma
        return comp(x, s) * (x**2 / s**3 - 2.0 / s)

    def score(x):
        w1, w2 = TRUE_WEIGHTS
        s1, s2 = TRUE_SCALES
        f = w1 * comp(x, s1) + w2 * comp(x, s2)
        return np.array([comp(x, s1) - comp(x, s2), w1 * dcomp(x, s1), w2 * dcomp(x, s2)]) / f, f

    info = np.empty((3, 3))
    for i in range(3):
        for j in range(i, 3):

            def integrand(x, i=i, j=j):
                s, f = score(x)
                return s[i] * s[j] * f

            pieces = ((0, 2), (2, 8), (8, 60))
            info[i, j] = info[j, i] = sum(
                integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-11, limit=200)[0] for a, b in pieces
            )
    return info


@pytest.fixture
def rayleigh():
    saved = dict(registry._REGISTRY)
    register_family(Rayleigh)
    yield Rayleigh()
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def test_the_core_hooks_are_all_it_defines():
    extra = {k for k, v in vars(Rayleigh).items() if callable(v) and k.startswith("_") and not k.startswith("__")}
    required = set(ExponentialFamily.__abstractmethods__)
    assert extra - required == {"_invalid_params", "_log_product_integral"}  # h^2 != c h: the kernel is a core hook
    assert required <= extra


def test_product_integral_against_quadrature(rayleigh):
    for sa, sb in ((0.5, 0.5), (1.0, 4.0), (3.0, 0.7)):
        pa, pb = {"scale": sa}, {"scale": sb}

        def product(x):
            return np.exp(rayleigh.logpdf(x, pa) + rayleigh.logpdf(x, pb))

        value = integrate.quad(product, 0, np.inf, epsrel=1e-12)[0]
        assert np.exp(rayleigh.log_product_integral(pa, pb)) == pytest.approx(value, rel=1e-9)


def test_passes_check_family(rayleigh):
    report = check_family(rayleigh, rng=0, n_mc=20_000)
    assert report.passed
    assert report["moments"].detail.startswith("the optional hooks")  # honestly optional, not faked


def test_em_dfmr_and_suggest_rho(rayleigh):
    rng = np.random.default_rng(2024)
    truth = ma.MixingDistribution(rayleigh.name, TRUE_WEIGHTS, {"scale": TRUE_SCALES})
    fits = []
    for _ in range(N_MACHINES):
        x = truth.sample(N_PER_MACHINE, rng=rng)
        fits.append(ma.fit_mixture(x, rayleigh.name, 2, init=truth, rng=rng))
    assert all(f.converged for f in fits)
    # each fitted (w_1, sigma_1, sigma_2) within 4.5 standard errors of the truth (I from quadrature of the score),
    # and their average within 4 standard errors of the average (each z ~ N(0, 1) asymptotically)
    info = _mixture_fisher_information()
    se = np.sqrt(np.diag(np.linalg.inv(info)) / N_PER_MACHINE)
    est = np.array([[f.weights[0], *f.params["scale"]] for f in fits])
    z = (est - np.array([TRUE_WEIGHTS[0], *TRUE_SCALES])) / se
    assert np.all(np.abs(z) < 4.5), z
    assert np.all(np.abs(z.mean(axis=0)) < 4.0 / np.sqrt(N_MACHINES)), z.mean(axis=0)
    # the theory module's Fisher information (generic derivatives of the family) agrees with the quadrature above
    np.testing.assert_allclose(ma.theory.fisher_information(truth).matrix, info, rtol=1e-5)

    # a gross failure (scales multiplied by 20) is filtered out by DFMR; the aggregate stays near the truth
    sent = [
        ma.MixingDistribution(rayleigh, f.weights, {"scale": f.params["scale"] * (20.0 if i == 0 else 1.0)})
        for i, f in enumerate(fits)
    ]
    res = ma.aggregate(sent, method="dfmr")
    assert 0 in res.excluded.tolist()
    agg = res.mixture
    order = np.argsort(agg.params["scale"])
    assert np.all(np.abs(agg.params["scale"][order] - TRUE_SCALES) < 4.5 * se[1:])

    # suggest_rho: a finite rho >= 1, and the mean of its predicted law of n D^2 (sum of the eigenvalues of
    # I^{-1} H*) matches the Monte Carlo mean of n D^2(G_i, G*) over the honest fits within 4.5 standard errors
    # of a generalised chi-square (variance 2 sum(lambda^2) per fit)
    suggestion = ma.theory.suggest_rho(fits, sample_sizes=[N_PER_MACHINE] * N_MACHINES, n_boot=200, rng=0)
    assert np.isfinite(suggestion.rho) and suggestion.rho >= 1.0
    lam = np.asarray(suggestion.eigenvalues)
    nd2 = np.array([N_PER_MACHINE * ma.l2_distance(f, truth) ** 2 for f in fits])
    assert abs(nd2.mean() - lam.sum()) < 4.5 * np.sqrt(2.0 * np.sum(lam**2) / N_MACHINES)
