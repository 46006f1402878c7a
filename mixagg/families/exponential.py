"""Exponential family (rate)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from .core import ExponentialFamily, Params, ParamSpec, positive_problems

__all__ = ["Exponential"]


class Exponential(ExponentialFamily):
    r"""Exponential distribution with rate :math:`\lambda`: :math:`f(x)=\lambda e^{-\lambda x}`, :math:`x\ge0`.

    Notes
    -----
    ``docs/families.md``, "Exponential": :math:`T(x)=x`, :math:`\theta=-\lambda`, :math:`A=-\log(-\theta)`,
    :math:`h(x)=1\{x\ge0\}`, :math:`\eta=1/\lambda`,
    :math:`\mathrm{KL}=\log(\lambda_0/\lambda_1)+\lambda_1/\lambda_0-1`,
    :math:`k(a,b)=\lambda_a\lambda_b/(\lambda_a+\lambda_b)`, and
    :math:`D_1=|\lambda-\lambda'|` (this library's choice).
    """

    name = "exponential"
    support = "nonnegative"
    discrete = False
    event_shape = ()
    n_natural = 1
    product_log_constant = 0.0
    #: Regulariser of the unpenalised M-step: floor on each component's mean 1/rate, as a fraction of the data's mean.
    default_reg = 1e-6
    param_spec = MappingProxyType({"rate": ParamSpec((), description="rate lambda > 0")})

    def _validate(self, params: Params) -> list[str]:
        return positive_problems("rate", params["rate"])

    def _natural_from_params(self, params: Params) -> np.ndarray:
        return -np.array(params["rate"])[..., None]

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        return {"rate": -theta[..., 0]}

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        return np.full(np.shape(params["rate"]) + (1, 1), -1.0)  # theta = -rate

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        return -np.log(-theta[..., 0])

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return theta[..., 0] < 0

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return -1.0 / theta

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(eta > 0, -1.0 / np.where(eta > 0, eta, 1.0), np.nan)

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        return (1.0 / theta**2)[..., None]  # Var X = 1 / rate^2

    def _regularise_expectation(self, eta: np.ndarray, reg: float, reference: np.ndarray) -> np.ndarray:
        # floor on the mean 1/rate relative to the data's mean (scale-free), e.g. for a component of zeros
        return np.maximum(eta, reg * reference)

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        floor = reg * (weights @ np.where(x >= 0, x, 0.0)) / weights.sum()
        return (
            np.asarray(1.0 / params["rate"] <= floor * (1 + 1e-9))
            if reg > 0
            else np.zeros(np.shape(params["rate"]), dtype=bool)
        )

    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        return np.where(x >= 0, x, 0.0)[..., None]

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        return np.where(x >= 0, 0.0, -np.inf)

    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        l0, l1 = pa["rate"], pb["rate"]
        return np.maximum(np.log(l0 / l1) + l1 / l0 - 1.0, 0.0)

    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        la, lb = pa["rate"], pb["rate"]
        log_a, log_b = np.log(la), np.log(lb)
        return log_a + log_b - np.logaddexp(log_a, log_b)  # la + lb may overflow

    def _pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        return np.ones(np.broadcast_shapes(self.batch_shape(pa), self.batch_shape(pb)), dtype=bool)

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        rate = params["rate"]
        return rng.exponential(1.0 / rate, size=size + rate.shape)

    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        return np.abs(pa["rate"] - pb["rate"])

    def _mean(self, params: Params) -> np.ndarray:
        return 1.0 / params["rate"]

    def _cov(self, params: Params) -> np.ndarray:
        return 1.0 / params["rate"] ** 2

    def _invalid_params(self) -> list[Params]:
        return [{"rate": 0.0}, {"rate": -2.0}]

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        return {"rate": np.exp(rng.uniform(np.log(0.05), np.log(20.0), size))}
