"""Bernoulli family: ``d`` independent binary features per component (success probabilities ``p``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import special

from .._validation import check_int
from .core import ExponentialFamily, Params, ParamSpec

__all__ = ["BINARY_POINTS_MAX_D", "Bernoulli", "binary_points"]

#: The largest number of binary features whose 2^d points :func:`binary_points` enumerates (sums over the support
#: in the conformance suite and the theory module).
BINARY_POINTS_MAX_D = 20


def binary_points(d: int) -> np.ndarray:
    r"""Every point of :math:`\{0,1\}^d`, shape ``(2**d, d)`` (float64), for exact sums over the support."""
    d = check_int(d, "d", minimum=1)
    if d > BINARY_POINTS_MAX_D:
        raise ValueError(
            f"d = {d} binary features have 2^{d} points; exact sums enumerate at most d = {BINARY_POINTS_MAX_D}"
        )
    codes = np.arange(2**d, dtype=np.int64)[:, None]
    return ((codes >> np.arange(d)) & 1).astype(np.float64)


class Bernoulli(ExponentialFamily):
    r"""Product of ``d`` independent Bernoulli features, :math:`x\in\{0,1\}^d`.

    Parameters
    ----------
    d : int
        Number of binary features.

    Notes
    -----
    ``docs/families.md``, "Bernoulli": :math:`T(x)=x`, :math:`\theta_j=\operatorname{logit}p_j`,
    :math:`A(\theta)=\sum_j\log(1+e^{\theta_j})`, :math:`h=1` on :math:`\{0,1\}^d` (counting measure),
    :math:`\eta=p`,
    :math:`\mathrm{KL}=\sum_j p_j\log\frac{p_j}{q_j}+(1-p_j)\log\frac{1-p_j}{1-q_j}`. Because :math:`h^2=h`
    the L2 inner product (a sum over the :math:`2^d` points) is the generic identity
    ([J] App. C.1) and factorises over the features:
    :math:`k(p,q)=\prod_j\{p_jq_j+(1-p_j)(1-q_j)\}`. :math:`D_1=\sum_j|p_j-q_j|` (a choice of this library).

    A mixture of products of Bernoulli distributions is identifiable only when there are enough features
    for the number of components (Allman, Matias & Rhodes 2009: generically when
    :math:`d\ge2\lceil\log_2K\rceil+1`); below that the Fisher information of the theory module is singular.
    """

    name = "bernoulli"
    support = "binary"
    discrete = True
    product_log_constant = 0.0
    #: Regulariser of the unpenalised M-step: the probabilities are kept in [reg, 1 - reg], so that a feature
    #: constant within a component does not put its natural parameter at infinity.
    default_reg = 1e-6

    def __init__(self, d: int):
        d = check_int(d, "d", minimum=1)
        self.d = d
        self.event_shape = (d,)
        self.n_natural = d
        self.param_spec = MappingProxyType(
            {"p": ParamSpec((d,), description="success probabilities, each in the open interval (0, 1)")}
        )
        super().__init__()

    def settings(self) -> dict[str, Any]:
        return {"d": self.d}

    @classmethod
    def infer_settings(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``d`` from the mixture's ``p`` ``(K, d)``; a scalar or a plain vector (one probability per
        component, as R users send it) means ``d = 1``; ``{}`` without ``p``."""
        if "p" not in params:
            return {}
        arr = np.asarray(params["p"], dtype=object)
        return {"d": int(arr.shape[-1]) if arr.ndim >= 2 else 1}

    def _coerce_shapes(self, arrays: Params) -> Params:
        """For ``d = 1``, a plain vector of probabilities gains its trailing axis."""
        p = arrays["p"]
        if self.d == 1 and (p.ndim == 0 or p.shape[-1] != 1):
            p = p[..., None]
        return {"p": p}

    @classmethod
    def settings_for_data(cls, x: np.ndarray) -> dict[str, Any]:
        arr = np.asarray(x)
        return {"d": int(arr.shape[-1]) if arr.ndim >= 2 else 1}

    def _validate(self, params: Params) -> list[str]:
        p = params["p"]
        bad = ~((p > 0) & (p < 1))
        if not np.any(bad):
            return []
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return [f"p must lie in the open interval (0, 1), got {p[idx]!r} at index {list(idx)}"]

    def _natural_from_params(self, params: Params) -> np.ndarray:
        return special.logit(params["p"])

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        return {"p": special.expit(theta)}

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        p = np.asarray(params["p"], dtype=float)
        return (1.0 / (p * (1.0 - p)))[..., None] * np.eye(self.d)  # d logit(p) / dp

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        return np.sum(np.logaddexp(0.0, theta), axis=-1)

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        p = special.expit(theta)
        return (p * (1.0 - p))[..., None] * np.eye(self.d)

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return np.all(np.isfinite(theta), axis=-1)

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return special.expit(theta)

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        inside = (eta > 0) & (eta < 1)
        return np.where(inside, special.logit(np.where(inside, eta, 0.5)), np.nan)

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        return np.array(params["p"], dtype=float)

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        return {"p": np.array(eta, dtype=float)}

    def _regularise_expectation(self, eta: np.ndarray, reg: float, reference: np.ndarray) -> np.ndarray:
        return np.clip(eta, reg, 1.0 - reg)

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        p = np.asarray(params["p"])
        if reg <= 0:
            return np.zeros(p.shape[:-1], dtype=bool)
        edge = reg * (1 + 1e-9)
        return np.any((p <= edge) | (p >= 1.0 - edge), axis=-1)

    @staticmethod
    def _in_support(x: np.ndarray) -> np.ndarray:
        return np.all((x == 0) | (x == 1), axis=-1)

    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        return np.where(self._in_support(x)[..., None], x, 0.0)

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        return np.where(self._in_support(x), 0.0, -np.inf)

    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        p, q = pa["p"], pb["p"]
        terms = special.xlogy(p, p / q) + special.xlogy(1.0 - p, (1.0 - p) / (1.0 - q))
        return np.maximum(np.sum(terms, axis=-1), 0.0)

    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        p, q = pa["p"], pb["p"]
        return np.sum(np.log(p * q + (1.0 - p) * (1.0 - q)), axis=-1)

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        p = params["p"]
        return (rng.random(size + p.shape) < p).astype(np.float64)

    def _support_points(self, max_points: int) -> np.ndarray | None:
        return binary_points(self.d) if self.d <= BINARY_POINTS_MAX_D and 2**self.d <= max_points else None

    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        return np.sum(np.abs(pa["p"] - pb["p"]), axis=-1)

    def _mean(self, params: Params) -> np.ndarray:
        return np.array(params["p"], dtype=float)

    def _cov(self, params: Params) -> np.ndarray:
        p = np.asarray(params["p"], dtype=float)
        return (p * (1.0 - p))[..., None] * np.eye(self.d)

    def _invalid_params(self) -> list[Params]:
        inside = np.full(self.d, 0.5)
        return [{"p": np.where(np.arange(self.d) == 0, value, inside)} for value in (0.0, 1.0, -0.2, 1.5)]

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        return {"p": rng.uniform(0.05, 0.95, size + (self.d,))}
