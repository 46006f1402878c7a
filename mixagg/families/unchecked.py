"""The fast path of a family on already-validated input: ``family.unchecked``.

Consumers inside the package (EM, mixture reduction, L2 distances, metrics,
theory) work on parameters they validated once; re-validating inside every
iteration would dominate their cost. They call ``family.unchecked.<operation>``,
which goes straight to the family's hook. Nothing is checked: the caller
guarantees float64 arrays of the right shapes, parameters inside the parameter
space (as returned by :meth:`~mixagg.families.ExponentialFamily.check_params`)
and observations as returned by :meth:`~mixagg.families.ExponentialFamily.check_x`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .core import ExponentialFamily

__all__ = ["UNCHECKED_OPERATIONS", "UncheckedOperations"]

Params = dict[str, np.ndarray]

#: The operations of :class:`UncheckedOperations`; each agrees with the checked method of the same name on valid input.
UNCHECKED_OPERATIONS = (
    "logpdf",
    "kl_divergence",
    "barycentre",
    "weighted_mle",
    "sample",
    "mean",
    "cov",
    "log_product_integral",
    "log_product_integral_pairs",
    "pair_integrable",
    "natural_from_params",
    "params_from_natural",
    "expectation_from_params",
    "expectation_from_natural",
    "natural_and_log_partition",
    "log_partition",
    "in_natural_domain",
    "sufficient_stats",
    "log_base_measure",
    "ground_distance",
    "canonical",
    "validate",
    "vectors_valid",
    "decode_vector",
)


class UncheckedOperations:
    """Operations of one family on validated input; the caller guarantees validity (nothing is checked).

    Obtained as ``family.unchecked``. Every method equals the family's public method
    of the same name on valid input, without input checks and without
    canonicalising the result (call :meth:`canonical` before handing parameters
    to users); :func:`~mixagg.families.testing.check_family` verifies the agreement.
    """

    __slots__ = ("family",)

    def __init__(self, family: ExponentialFamily):
        self.family = family

    def __repr__(self) -> str:
        return f"{self.family!r}.unchecked"

    def logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        """Log-density of observations ``(*x_batch, *event)`` under broadcast components."""
        return self.family._logpdf(x, params)

    def kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        """:math:`\\mathrm{KL}(f_a\\Vert f_b)`, broadcast over batch axes."""
        return self.family._kl_divergence(pa, pb)

    def barycentre(self, params: Params, weights: np.ndarray) -> Params:
        """KL barycentres of atoms ``(n_atoms,)``, one per row of masses ``(..., n_atoms)``.

        The rows of masses have positive sums.
        """
        return self.family._barycentre(params, weights)

    def weighted_mle(self, x: np.ndarray, weights: np.ndarray, reg: float = 0.0) -> Params:
        """Weighted MLE per row of ``weights`` ``(..., n)``; ``nan``/invalid where the MLE does not exist."""
        return self.family._weighted_mle(x, weights, reg)

    def sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """``size`` draws from every component: ``(*size, *batch, *event)``."""
        return self.family._sample(params, size, rng)

    def mean(self, params: Params) -> np.ndarray:
        """Mean of :math:`X` per component (``NotImplementedError`` if the family has no ``_mean``)."""
        return self.family._mean(params)

    def cov(self, params: Params) -> np.ndarray:
        """Covariance of :math:`X` per component (``NotImplementedError`` if the family has no ``_cov``)."""
        return self.family._cov(params)

    def log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        """:math:`\\log\\int f_af_b`; meaningful where :meth:`pair_integrable` holds."""
        return self.family._log_product_integral(pa, pb)

    def log_product_integral_pairs(self, params: Params, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        """:math:`\\log\\int f_{ia[t]}f_{ib[t]}` for index arrays into one stack of components."""
        return self.family._log_product_integral_pairs(params, ia, ib)

    def pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        """Whether :math:`\\int f_af_b<\\infty`, broadcast over batch axes."""
        return np.asarray(self.family._pair_integrable(pa, pb))

    def natural_from_params(self, params: Params) -> np.ndarray:
        """Natural parameters :math:`\\theta`."""
        return self.family._natural_from_params(params)

    def params_from_natural(self, theta: np.ndarray) -> Params:
        """Standard parameters of natural parameters inside the domain."""
        return self.family._params_from_natural(theta)

    def expectation_from_params(self, params: Params) -> np.ndarray:
        """Expectation parameters :math:`\\eta` of standard parameters."""
        return self.family._expectation_from_params(params)

    def expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        """The mean map :math:`\\eta=\\nabla A(\\theta)`."""
        return self.family._expectation_from_natural(theta)

    def natural_and_log_partition(self, params: Params) -> tuple[np.ndarray, np.ndarray]:
        """:math:`\\theta` and :math:`A(\\theta)` of standard parameters, together."""
        return self.family._natural_and_log_partition(params)

    def log_partition(self, theta: np.ndarray) -> np.ndarray:
        """:math:`A(\\theta)` for natural parameters inside the domain."""
        return self.family._log_partition(theta)

    def in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        """Whether natural parameters (finite, right shape) lie in the domain."""
        return np.asarray(self.family._in_natural_domain(theta))

    def sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        """:math:`T(x)` ``(*x_batch, n_natural)``."""
        return self.family._sufficient_stats(x)

    def log_base_measure(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\log h(x)`; ``-inf`` outside the support."""
        return self.family._log_base_measure(x)

    def ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        """The :math:`D_1` cost between components, broadcast over batch axes."""
        return self.family._ground_distance(pa, pb)

    def canonical(self, params: Params) -> Params:
        """Canonical form of valid parameters (e.g. a symmetrised covariance), as the checked API returns them."""
        return self.family._canonical(params)

    def validate(self, params: Params) -> list[str]:
        """Problems of structurally valid parameters (values outside the parameter space)."""
        return self.family._validate(params)

    def vectors_valid(self, vec: np.ndarray) -> np.ndarray:
        """Which parameter vectors ``(..., n_params)`` decode to valid parameters."""
        return self.family._vectors_valid(vec)

    def decode_vector(self, vec: np.ndarray) -> Params:
        """Standard parameters of parameter vectors ``(..., n_params)``, unchecked."""
        return self.family._decode_vector(vec)
