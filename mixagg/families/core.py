"""The exponential-family contract: what a family must write, and how its input is checked.

A family is a small immutable object (one instance per family and fixed
setting, e.g. ``Gaussian(d=10)``) whose methods work on **batched** parameters:
every array may carry any number of leading batch axes, so one call evaluates
all components of all mixtures at once. Three parameterisations are named
([J] App. B.9.1, Table 3; ``docs/families.md``):

``params``
    the family's ordinary parameters, a mapping of arrays (Gaussian ``mean``
    ``(..., d)`` and ``cov`` ``(..., d, d)``; Gamma ``shape``, ``scale``; ...).
``natural``
    :math:`\\theta`, a flat array ``(..., n_natural)``.
``expectation``
    :math:`\\eta = \\nabla A(\\theta) = E_\\theta T(X)`, same shape as natural.

This module holds the contract only: the required hooks, identity and settings.
Input checking is in :mod:`mixagg.families.checks`; the operations derived from the hooks (log-density, KL,
barycentre, weighted MLE, L2 inner products, moments) are in
:mod:`mixagg.families.derived`; the validated-input fast path is
:attr:`ExponentialFamily.unchecked`. ``docs/family_contract.md`` lists the hooks
with their meaning, and the optional capabilities each consumer reads.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from .checks import InputChecks
from .derived import DerivedOperations, Params, vech_indices
from .unchecked import UncheckedOperations

__all__ = [
    "ExponentialFamily",
    "Params",
    "ParamSpec",
    "ProductIntegralDerivatives",
    "positive_problems",
    "vech_indices",
]


class ParamSpec(NamedTuple):
    """Description of one standard parameter of a family.

    Attributes
    ----------
    shape : tuple of int
        Shape of the parameter for a *single* component (its event shape),
        e.g. ``(d, d)`` for a covariance, ``()`` for a rate.
    symmetric : bool
        Whether the parameter is a symmetric matrix; it then enters parameter
        vectors through ``vech`` (entries on and below the diagonal).
    description : str
        One line for docs and error messages.
    """

    shape: tuple[int, ...]
    symmetric: bool = False
    description: str = ""


class ProductIntegralDerivatives(NamedTuple):
    """The kernel :math:`k(\\theta_a,\\theta_b)=\\int f_af_b` and its derivatives in natural coordinates.

    The derivatives are relative to :math:`k`.

    ``log_k`` ``(*batch,)``; ``grad_a`` :math:`=\\nabla_ak/k` and ``grad_b`` :math:`=\\nabla_bk/k`
    ``(*batch, n_natural)``; ``mixed`` :math:`=\\nabla_a\\nabla_b^\\top k/k` ``(*batch, n_natural, n_natural)``
    (rows: coordinates of :math:`\\theta_a`). Relative values stay finite where :math:`k` underflows.
    """

    log_k: np.ndarray
    grad_a: np.ndarray
    grad_b: np.ndarray
    mixed: np.ndarray


def positive_problems(name: str, value: np.ndarray, *, lower: float = 0.0) -> list[str]:
    """Problems list for a parameter that must exceed ``lower`` elementwise."""
    bad = ~(value > lower)
    if not np.any(bad):
        return []
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return [f"{name} must be > {lower:g}, got {value[idx]!r} at component index {list(idx)}"]


class ExponentialFamily(InputChecks, DerivedOperations, abc.ABC):
    """Base class of all component families: :math:`f(x;\\theta)=h(x)\\exp\\{\\theta^\\top T(x)-A(\\theta)\\}`.

    Subclasses set the class attribute ``name`` (the registry key) and, per class
    or instance, ``param_spec``, ``event_shape``, ``n_natural``, ``support`` and
    ``discrete``; optionally ``product_log_constant`` (:math:`\\log c` when
    :math:`h^2=c\\,h`, which makes the product integral generic), ``divergence_hint``
    and ``default_rho`` (DFMR's default inflation factor).

    Required hooks (validated, broadcast float64 input; vectorised over batch axes):

    ``_natural_from_params(params) -> theta``,
    ``_params_from_natural(theta) -> params``,
    ``_log_partition(theta)`` (inside the domain),
    ``_expectation_from_natural(theta) -> eta``,
    ``_natural_from_expectation(eta) -> theta`` (closed form or Newton; ``nan`` outside the mean space),
    ``_in_natural_domain(theta) -> bool array``,
    ``_sufficient_stats(x) -> (..., n_natural)`` (any finite value outside the support),
    ``_log_base_measure(x)`` (``-inf`` outside the support),
    ``_validate(params) -> list[str]``,
    ``_sample(params, size, rng)``,
    ``_ground_distance(pa, pb)``,
    ``_random_params(size, rng)``;
    and ``_log_product_integral(pa, pb)`` when ``product_log_constant`` is ``None``
    (:math:`h^2\\ne c\\,h`), with ``_pair_integrable(pa, pb)`` if that integral can diverge.

    Optional hooks with generic defaults (override for speed or accuracy):
    ``_logpdf(x, params)``, ``_kl_divergence(pa, pb)``, ``_barycentre(params, weights)``,
    ``_weighted_mle(x, weights, reg)``, ``_log_product_integral_pairs(params, ia, ib)``,
    ``_pair_integrable(pa, pb)``, ``_expectation_from_params(params)``,
    ``_params_from_expectation(eta)``, ``_natural_and_log_partition(params)``,
    ``_canonical(params)``, ``_coerce_shapes(arrays)``, ``_encode_vector(params)``,
    ``_decode_vector(vec)``, ``_support_points(max_points)``, ``_mixture_problems(params)`` (with
    ``shared_params``: what the components of a mixture share); for the conformance suite
    ``_invalid_params()`` (known-invalid examples; :func:`check_family` fails a family without them).

    Optional hooks without a default: ``_mean(params)`` and ``_cov(params)`` (the moments of
    :math:`X`; :meth:`mean` and :meth:`cov` raise ``NotImplementedError`` without them).

    Optional capabilities, each owned by the consumer that reads it, with that
    consumer's generic fallback (:data:`mixagg._capabilities.CAPABILITIES`):
    the EM (:mod:`mixagg.em_support`: ``default_reg``, ``_default_penalty``,
    ``_regularise_expectation``, ``_regularisation_binding``, ``_component_problems``,
    ``_log_component_densities``), the mixture reduction (:mod:`mixagg.reduction`:
    ``_kl_frame``) and the theory module (:mod:`mixagg.theory.derivatives`:
    ``_log_partition_hessian``, ``_natural_jacobian``, ``_product_integral_derivatives``).
    """

    #: Registry name of the family (lower case); ``register_family(cls)`` registers the class under it.
    name: str = ""
    #: Parameter layout: name -> :class:`ParamSpec`. Set per instance or class.
    param_spec: Mapping[str, ParamSpec] = MappingProxyType({})
    #: Shape of one observation: ``()`` for scalar families, ``(d,)`` for vectors.
    event_shape: tuple[int, ...] = ()
    #: Length of the natural / expectation parameter vectors.
    n_natural: int = 0
    #: ``"real"``, ``"positive"``, ``"nonnegative"`` or ``"count"`` (non-negative integers).
    support: str = "real"
    #: Whether the base measure is counting measure.
    discrete: bool = False
    #: :math:`\\log c` if :math:`h(x)^2 = c\\,h(x)`, else ``None`` ([J] App. C.1; ``docs/families.md``).
    product_log_constant: float | None = None
    #: Extra text appended to the error raised when a product integral diverges.
    divergence_hint: str = ""
    #: Default inflation factor of DFMR's filter (1.3 for Gaussian mixtures, [J] §5.1.3).
    default_rho: float = 1.3

    # ------------------------------------------------------------------ identity and settings
    def __init__(self) -> None:
        """Freeze the instance; subclasses set their attributes first, then call ``super().__init__()``."""
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} instances are immutable; create a new family instead")
        object.__setattr__(self, name, value)

    def settings(self) -> dict[str, Any]:
        """The fixed settings of this instance (e.g. ``{"d": 10}``); JSON-safe.

        Must be exactly the constructor's keywords: pickling, the wire format and
        :func:`~mixagg.engine.fit_partitions` rebuild the family as ``type(self)(**settings())``
        or through the registry as ``get_family(name, **settings())``.
        """
        return {}

    @classmethod
    def infer_settings(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Settings implied by a parameter mapping (e.g. ``d`` from a mean's length)."""
        return {}

    @classmethod
    def settings_for_data(cls, x: np.ndarray) -> dict[str, Any]:
        """Settings implied by a data matrix (e.g. ``d`` from its number of columns)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **settings}``: enough to rebuild with :func:`get_family`."""
        return {"name": self.name, **self.settings()}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.settings() == other.settings()  # type: ignore[attr-defined]

    def __reduce__(self):
        # rebuilt from the constructor settings (subclasses: settings() must be the constructor's keywords)
        return (_rebuild_family, (type(self), self.settings()))

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.settings().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"

    @functools.cached_property
    def unchecked(self) -> UncheckedOperations:
        """The fast path on already-validated input: :class:`~mixagg.families.unchecked.UncheckedOperations`."""
        return UncheckedOperations(self)

    @property
    def n_features(self) -> int:
        """Number of coordinates of one observation (1 for scalar families)."""
        return int(np.prod(self.event_shape, dtype=int))

    @property
    def n_params(self) -> int:
        """Length of the standard parameter vector of one component (``vech`` for symmetric matrices)."""
        return sum(self._vector_size(spec) for spec in self.param_spec.values())

    # ------------------------------------------------------------------ product integral (generic when h^2 = c h)
    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        """:math:`\\log\\int f_af_b=\\log c+A(\\theta_a+\\theta_b)-A(\\theta_a)-A(\\theta_b)` when :math:`h^2=c\\,h`.

        [J] App. C.1; ``docs/families.md``. A family with ``product_log_constant = None`` must write it.
        """
        if self.product_log_constant is None:
            raise NotImplementedError(
                f"{self!r} has a non-constant base measure (h^2 != c h), so the generic product-integral "
                "identity does not apply; the family must define _log_product_integral"
            )
        ta = self._natural_from_params(pa)
        tb = self._natural_from_params(pb)
        return (
            self.product_log_constant + self._log_partition(ta + tb) - self._log_partition(ta) - self._log_partition(tb)
        )

    def _pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        """Whether :math:`\\int f_af_b<\\infty`; default :math:`\\theta_a+\\theta_b\\in\\Theta` when :math:`h^2=ch`.

        With a non-constant base measure (``product_log_constant = None``) the default says
        "always integrable": a family whose product integral can diverge must override this.
        """
        if self.product_log_constant is None:
            return np.ones(np.broadcast_shapes(self.batch_shape(pa), self.batch_shape(pb)), dtype=bool)
        return np.asarray(self._in_natural_domain(self._natural_from_params(pa) + self._natural_from_params(pb)))

    # ------------------------------------------------------------------ required hooks
    @abc.abstractmethod
    def _natural_from_params(self, params: Params) -> np.ndarray:
        """Natural parameters :math:`\\theta` ``(*batch, n_natural)`` of valid standard parameters."""

    @abc.abstractmethod
    def _params_from_natural(self, theta: np.ndarray) -> Params:
        """Standard parameters of natural parameters inside the domain."""

    @abc.abstractmethod
    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        """:math:`A(\\theta)` inside the domain, shape ``theta.shape[:-1]``."""

    @abc.abstractmethod
    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        """The mean map :math:`\\eta=\\nabla A(\\theta)=E_\\theta T(X)`."""

    @abc.abstractmethod
    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        """The inverse mean map; ``nan`` (or a point outside the domain) where ``eta`` is not in the mean space."""

    @abc.abstractmethod
    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        """Boolean array ``theta.shape[:-1]``: whether :math:`A(\\theta)<\\infty`."""

    @abc.abstractmethod
    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        """:math:`T(x)` ``(*x_batch, n_natural)``; any finite value outside the support."""

    @abc.abstractmethod
    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\log h(x)` ``x_batch``; ``-inf`` outside the support."""

    @abc.abstractmethod
    def _validate(self, params: Params) -> list[str]:
        """Problems of structurally valid parameters (values outside the parameter space); empty when valid."""

    @abc.abstractmethod
    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """``size`` draws from every component: shape ``(*size, *batch, *event_shape)``."""

    @abc.abstractmethod
    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        """The :math:`D_1` cost between components of the :math:`W_1` metric ([J] App. C.2), a metric."""

    @abc.abstractmethod
    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        """Random, well-conditioned parameters of batch shape ``size`` (tests and :func:`check_family`)."""


def _rebuild_family(cls: type, settings: dict[str, Any]) -> ExponentialFamily:
    return cls(**settings)
