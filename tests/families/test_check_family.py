"""check_family passes on every built-in family and catches deliberately broken ones."""

from __future__ import annotations

import numpy as np
import pytest

from mixagg.exceptions import FamilyConformanceError
from mixagg.families import Exponential, Gamma, Gaussian, Poisson
from mixagg.families.testing import PROPERTIES, check_family


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_builtin_families_conform(family, seed):
    report = check_family(family, rng=seed, n_mc=50_000)
    assert report.passed, str(report)
    assert [r.name for r in report.results] == list(PROPERTIES)


def test_gaussian_d10_conforms():
    assert check_family(Gaussian(10), rng=3, n_mc=40_000).passed


def test_gamma_small_shapes_conform():
    # shapes below 1 (unbounded density at 0) and above 1e3 (series branch of the inverse map)
    params = {"shape": np.array([0.55, 0.9, 2.5e3]), "scale": np.array([2.0, 0.3, 1e-3])}
    assert check_family(Gamma(), params, rng=4, n_mc=50_000).passed


def test_report_is_readable():
    report = check_family(Poisson(), rng=0, n_mc=20_000)
    text = str(report)
    assert "PASSED" in text and "product_integral" in text
    assert report["validate"].passed
    with pytest.raises(KeyError):
        report["no-such-property"]


# -------------------------------------------------------------------- broken families


class WrongMeanMap(Exponential):
    name = "broken-mean-map"

    def _expectation_from_natural(self, theta):
        return -1.001 / theta


class WrongProductIntegral(Gamma):
    name = "broken-product"

    def _log_product_integral(self, pa, pb):
        return super()._log_product_integral(pa, pb) + 1e-3


class NaturalAveragingBarycentre(Gaussian):
    """A classic bug: averaging natural instead of expectation parameters
    (docs/families.md, "KL barycentre (moment matching)")."""

    name = "broken-barycentre"

    def _barycentre(self, params, weights):
        theta = self._natural_from_params(params)
        avg = (weights @ theta) / weights.sum(axis=-1, keepdims=True)
        return self._params_from_natural(avg)


class BiasedSampler(Poisson):
    name = "broken-sampler"

    def _sample(self, params, size, rng):
        return super()._sample({"rate": params["rate"] * 1.02}, size, rng)


class UnnormalisedBaseMeasure(Exponential):
    name = "broken-normalisation"

    def _log_base_measure(self, x):
        return super()._log_base_measure(x) + 1e-4


class WrongKL(Exponential):
    name = "broken-kl"

    def _kl_divergence(self, pa, pb):
        l0, l1 = pa["rate"], pb["rate"]
        return np.maximum(np.log(l0 / l1) + l1 / l0 - 0.99, 0.0)


class UnbiasedCovarianceMLE(Gaussian):
    """Another classic bug: the n-1 divisor in the M-step is not the MLE."""

    name = "broken-mle"

    def _weighted_mle(self, x, weights):
        out = super()._weighted_mle(x, weights)
        n = x.shape[0]
        return {"mean": out["mean"], "cov": out["cov"] * n / (n - 1)}


class AsymmetricGroundDistance(Gamma):
    name = "broken-d1"

    def _ground_distance(self, pa, pb):
        return np.abs(pa["shape"] - pb["shape"]) + np.maximum(pa["scale"] - pb["scale"], 0.0)


class WrongPairsKernel(Gaussian):
    """A compiled pairs kernel that disagrees with the broadcast reference."""

    name = "broken-pairs"

    def _log_product_integral_pairs(self, params, ia, ib):
        return super()._log_product_integral_pairs(params, ia, ib) * (1 + 1e-6)


class ValidateAcceptsEverything(Gamma):
    name = "broken-validate"

    def _validate(self, params):
        return []


class NoInvalidExamples(Exponential):
    name = "no-invalid-examples"

    def _invalid_params(self):
        return []


class NanTails(Gaussian):
    """A log-density that is NaN beyond 4.5 standard deviations: NaN must never be read as agreement."""

    name = "broken-nan-tails"

    def _logpdf(self, x, params):
        out = super()._logpdf(x, params)
        z = (x[..., 0] - params["mean"][..., 0]) / np.sqrt(params["cov"][..., 0, 0])
        return np.where(np.abs(z) > 4.5, np.nan, out)


class ZeroGroundDistance(Poisson):
    name = "broken-zero-d1"

    def _ground_distance(self, pa, pb):
        return np.zeros(np.broadcast_shapes(pa["rate"].shape, pb["rate"].shape))


class KernelIgnoresMeans(Gaussian):
    """In several dimensions, without the generic identity to compare with, only Monte Carlo can catch this."""

    name = "broken-kernel-means"
    product_log_constant = None

    def __init__(self, d):
        super().__init__(d)
        object.__setattr__(self, "product_log_constant", None)

    def _log_product_integral(self, pa, pb):
        return super()._log_product_integral(
            {"mean": pa["mean"] * 0, "cov": pa["cov"]}, {"mean": pb["mean"] * 0, "cov": pb["cov"]}
        )

    def _log_product_integral_pairs(self, params, ia, ib):
        return self._log_product_integral(self.take(params, ia), self.take(params, ib))


class IsserlisWithoutMeans(Gaussian):
    """Cov T at mean zero: right for centred components only."""

    name = "broken-isserlis"

    def _log_partition_hessian(self, theta):
        p = self._params_from_natural(theta)
        return super()._log_partition_hessian(self._natural_from_params({"mean": p["mean"] * 0, "cov": p["cov"]}))


class PoissonMixedDerivativeSign(Poisson):
    name = "broken-kernel-derivative"

    def _product_integral_derivatives(self, pa, pb):
        d = super()._product_integral_derivatives(pa, pb)
        return d._replace(mixed=d.mixed - 2 * d.grad_a[..., :, None] * d.grad_b[..., None, :])


class GammaJacobianOnePower(Gamma):
    name = "broken-natural-jacobian"

    def _natural_jacobian(self, params):
        jac = super()._natural_jacobian(params)
        jac[..., 1, 1] *= params["scale"]  # d(-1/beta)/d beta = 1/beta^2, not 1/beta
        return jac


@pytest.mark.parametrize(
    "family, prop",
    [
        (ValidateAcceptsEverything(), "validate"),
        (NoInvalidExamples(), "validate"),
        (NanTails(1), "density_normalised"),
        (ZeroGroundDistance(), "ground_distance"),
        (KernelIgnoresMeans(10), "product_integral"),
        (WrongMeanMap(), "expectation_map"),
        (WrongProductIntegral(), "product_integral"),
        (NaturalAveragingBarycentre(2), "barycentre"),
        (BiasedSampler(), "sampling_moments"),
        (UnnormalisedBaseMeasure(), "density_normalised"),
        (WrongKL(), "kl_divergence"),
        (UnbiasedCovarianceMLE(1), "weighted_mle"),
        (AsymmetricGroundDistance(), "ground_distance"),
        (WrongPairsKernel(3), "product_integral"),
        (IsserlisWithoutMeans(2), "kernel_derivatives"),
        (PoissonMixedDerivativeSign(), "kernel_derivatives"),
        (GammaJacobianOnePower(), "kernel_derivatives"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_broken_family_is_caught(family, prop):
    report = check_family(family, rng=0, n_mc=50_000, raise_on_failure=False)
    assert not report[prop].passed, str(report)
    with pytest.raises(FamilyConformanceError) as info:
        check_family(family, rng=0, n_mc=50_000)
    assert info.value.property_name == report.failures()[0].name
    assert info.value.property_name in str(info.value)


def test_kl_monte_carlo_catches_wrong_logpdf():
    class ShiftedLogpdf(Gaussian):
        name = "broken-logpdf"

        def _logpdf(self, x, params):
            return super()._logpdf(x, params) * 1.05

    report = check_family(ShiftedLogpdf(1), rng=0, n_mc=50_000, raise_on_failure=False)
    assert not report["logpdf_generic"].passed
    assert not report["kl_monte_carlo"].passed


def test_property_subset_and_bad_arguments():
    report = check_family(Exponential(), rng=0, n_mc=5000, properties=["validate", "kl_divergence"])
    assert [r.name for r in report.results] == ["validate", "kl_divergence"]
    with pytest.raises(ValueError, match="unknown properties"):
        check_family(Exponential(), properties=["nope"])
    with pytest.raises(TypeError, match="ExponentialFamily instance"):
        check_family("gaussian")
    with pytest.raises(ValueError, match="at least 2 components"):
        check_family(Exponential(), {"rate": [1.0]})
