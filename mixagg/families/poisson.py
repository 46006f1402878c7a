"""Poisson family (rate)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
from scipy import special

from .core import ExponentialFamily, Params, ParamSpec, ProductIntegralDerivatives, positive_problems

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    r"""Poisson family with rate :math:`\lambda` on the counts :math:`\{0,1,2,\dots\}`.

    Notes
    -----
    ``docs/families.md``, "Poisson": :math:`T(x)=x`, :math:`\theta=\log\lambda`, :math:`A=e^\theta`,
    :math:`h(x)=1/x!`, :math:`\eta=\lambda`,
    :math:`\mathrm{KL}=\lambda_0\log(\lambda_0/\lambda_1)-\lambda_0+\lambda_1`.
    Because :math:`h^2\not\propto h` the "L2" inner product is the
    :math:`\ell^2` sum over counts, in closed form through the modified Bessel
    function, evaluated stably with ``scipy.special.i0e``:

    .. math::

        \log k = -(\sqrt{\lambda_a}-\sqrt{\lambda_b})^2 + \log\mathrm{i0e}(2\sqrt{\lambda_a\lambda_b}).

    :math:`D_1=|\lambda-\lambda'|` (a choice of this library; ``docs/families.md``, "Poisson").
    """

    name = "poisson"
    support = "count"
    discrete = True
    event_shape = ()
    n_natural = 1
    product_log_constant = None
    #: Regulariser of the unpenalised M-step: floor on the rate (expectation parameter).
    default_reg = 1e-6
    param_spec = MappingProxyType({"rate": ParamSpec((), description="rate lambda > 0")})

    def _validate(self, params: Params) -> list[str]:
        return positive_problems("rate", params["rate"])

    def _natural_from_params(self, params: Params) -> np.ndarray:
        return np.log(params["rate"])[..., None]

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        return {"rate": np.exp(theta[..., 0])}

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        return (1.0 / np.asarray(params["rate"], dtype=float))[..., None, None]  # d log(rate) / d rate

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        return np.exp(theta[..., 0])

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return np.isfinite(theta[..., 0])

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return np.exp(theta)

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(eta > 0, np.log(np.where(eta > 0, eta, 1.0)), np.nan)

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        return np.array(params["rate"])[..., None]

    def _regularise_expectation(self, eta: np.ndarray, reg: float, reference: np.ndarray) -> np.ndarray:
        return np.maximum(eta, reg)  # floor on the rate (counts have a natural unit), e.g. for a component of zeros

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return (
            np.asarray(params["rate"] <= reg * (1 + 1e-9))
            if reg > 0
            else np.zeros(np.shape(params["rate"]), dtype=bool)
        )

    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        return np.where(self._in_support(x), x, 0.0)[..., None]

    @staticmethod
    def _in_support(x: np.ndarray) -> np.ndarray:
        return (x >= 0) & (x == np.floor(x))

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        ok = self._in_support(x)
        return np.where(ok, -special.gammaln(np.where(ok, x, 0.0) + 1.0), -np.inf)

    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        l0, l1 = pa["rate"], pb["rate"]
        return np.maximum(l0 * np.log(l0 / l1) - l0 + l1, 0.0)

    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        la, lb = pa["rate"], pb["rate"]
        sa, sb = np.sqrt(la), np.sqrt(lb)  # not sqrt(la * lb): the product overflows for rates ~1e154
        return -((sa - sb) ** 2) + np.log(special.i0e(2.0 * sa * sb))

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        return np.exp(theta)[..., None]  # Var X = lambda = e^theta

    def _product_integral_derivatives(self, pa: Params, pb: Params) -> ProductIntegralDerivatives:
        """With :math:`s=2\\sqrt{\\lambda_a\\lambda_b}` and :math:`\\varrho=I_1(s)/I_0(s)`,
        in :math:`\\theta=\\log\\lambda`: :math:`\\partial_ak/k=-\\lambda_a+\\tfrac s2\\varrho`,
        :math:`\\partial_a\\partial_bk/k=2\\lambda_a\\lambda_b-\\tfrac s2(\\lambda_a+\\lambda_b)\\varrho`
        (from :math:`I_0'=I_1`, :math:`(sI_1)'=sI_0`)."""
        la, lb = np.broadcast_arrays(pa["rate"], pb["rate"])
        half_s = np.sqrt(la) * np.sqrt(lb)
        ratio = special.ive(1, 2.0 * half_s) / special.i0e(2.0 * half_s)
        ga = -la + half_s * ratio
        gb = -lb + half_s * ratio
        mixed = 2.0 * la * lb - half_s * (la + lb) * ratio
        return ProductIntegralDerivatives(
            self._log_product_integral(pa, pb), ga[..., None], gb[..., None], mixed[..., None, None]
        )

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        rate = params["rate"]
        return rng.poisson(rate, size=size + rate.shape).astype(np.float64)

    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        return np.abs(pa["rate"] - pb["rate"])

    def _mean(self, params: Params) -> np.ndarray:
        return np.array(params["rate"])

    def _cov(self, params: Params) -> np.ndarray:
        return np.array(params["rate"])

    def _invalid_params(self) -> list[Params]:
        return [{"rate": 0.0}, {"rate": -2.0}]

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        return {"rate": np.exp(rng.uniform(np.log(0.5), np.log(40.0), size))}
