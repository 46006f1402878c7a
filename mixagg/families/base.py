"""The exponential-family contract every ``mixagg`` family implements.

A family is a small immutable object (one instance per family and fixed
setting, e.g. ``Gaussian(d=10)``) whose methods work on **batched**
parameters: every array may carry any number of leading batch axes, so one
call evaluates all components of all mixtures at once.

Three parameterisations are always named (MATH.md §2.1, DESIGN.md "The family
contract"):

``params``
    the family's ordinary parameters, a mapping of arrays (Gaussian ``mean``
    ``(..., d)`` and ``cov`` ``(..., d, d)``; Gamma ``shape``, ``scale``; ...).
``natural``
    :math:`\\theta`, a flat array ``(..., n_natural)``.
``expectation``
    :math:`\\eta = \\nabla A(\\theta) = E_\\theta T(X)`, same shape as natural.

Writing a family
----------------
Subclass :class:`ExponentialFamily` and implement the private hooks listed in
its docstring. Hooks receive validated, broadcast float64 input and must be
vectorised over leading batch axes. The public methods of the base class
validate user input, then call the hooks; everything else (log-density, KL as a
Bregman divergence, KL barycentre, weighted MLE, product integrals when
:math:`h^2 = c\\,h`) is derived generically and may be overridden for speed or
accuracy. Run :func:`mixagg.families.testing.check_family` on the result.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from .._differences import central_jacobian
from .._validation import as_float_array, as_generator, as_index_array, check_int

__all__ = ["ExponentialFamily", "ParamSpec", "ProductIntegralDerivatives", "positive_problems", "vech_indices"]

Params = dict[str, np.ndarray]


def vech_indices(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of ``vech``: the lower triangle stacked column by column.

    ``(0,0), (1,0), ..., (d-1,0), (1,1), (2,1), ...`` — the standard order (R's
    ``vech``), used for symmetric matrices in parameter vectors (MATH.md §1.3).
    """
    cols, rows = np.triu_indices(d)
    return rows, cols


class ParamSpec(NamedTuple):
    """Description of one standard parameter of a family.

    Attributes
    ----------
    shape : tuple of int
        Shape of the parameter for a *single* component (its event shape),
        e.g. ``(d, d)`` for a covariance, ``()`` for a rate.
    symmetric : bool
        Whether the parameter is a symmetric matrix; it then enters parameter
        vectors through ``vech`` (entries on and below the diagonal), MATH.md §1.3.
    description : str
        One line for docs and error messages.
    """

    shape: tuple[int, ...]
    symmetric: bool = False
    description: str = ""


class ProductIntegralDerivatives(NamedTuple):
    """The kernel :math:`k(\\theta_a,\\theta_b)=\\int f_af_b` and its derivatives in natural coordinates, relative to :math:`k`.

    ``log_k`` ``(*batch,)``; ``grad_a`` :math:`=\\nabla_ak/k` and ``grad_b`` :math:`=\\nabla_bk/k`
    ``(*batch, n_natural)``; ``mixed`` :math:`=\\nabla_a\\nabla_b^\\top k/k` ``(*batch, n_natural, n_natural)``
    (rows: coordinates of :math:`\\theta_a`). Relative values stay finite where :math:`k` underflows.
    """

    log_k: np.ndarray
    grad_a: np.ndarray
    grad_b: np.ndarray
    mixed: np.ndarray


class ExponentialFamily(abc.ABC):
    """Base class of all component families: :math:`f(x;\\theta)=h(x)\\exp\\{\\theta^\\top T(x)-A(\\theta)\\}`.

    Subclasses set the class attribute ``name`` and, per instance,
    ``param_spec``, ``event_shape``, ``n_natural``, ``support`` and
    ``discrete``; optionally ``product_log_constant`` (:math:`\\log c` when
    :math:`h^2=c\\,h`, enabling the generic product integral of MATH.md §2.6).

    Required hooks (validated, broadcast float64 input; vectorised over batch axes):

    ``_natural_from_params(params) -> theta``,
    ``_params_from_natural(theta) -> params``,
    ``_log_partition(theta)`` (inside the domain),
    ``_expectation_from_natural(theta) -> eta``,
    ``_natural_from_expectation(eta) -> theta`` (closed form or Newton),
    ``_in_natural_domain(theta) -> bool array``,
    ``_sufficient_stats(x) -> (..., n_natural)`` (any finite value outside the support),
    ``_log_base_measure(x)`` (``-inf`` outside the support),
    ``_validate(params) -> list[str]``,
    ``_sample(params, size, rng)``,
    ``_ground_distance(pa, pb)``,
    ``_random_params(size, rng)``.

    Hook for the conformance suite: ``_invalid_params() -> list of params``
    (known-invalid examples that ``validate`` must reject).

    Optional hooks (generic defaults exist): ``_logpdf``, ``_kl_divergence``,
    ``_barycentre``, ``_weighted_mle``, ``_log_product_integral``,
    ``_log_product_integral_pairs``, ``_pair_integrable``,
    ``_expectation_from_params``, ``_params_from_expectation``, ``_canonical``,
    ``_coerce_shapes``, ``_mean``, ``_cov``.

    Hooks of the EM (:func:`mixagg.fit_mixture`; generic defaults exist):
    ``_log_component_densities(x, params)`` (the E-step's ``(n, K)`` log-densities),
    ``_weighted_mle(x, weights, reg)`` (the M-step), ``_regularise_expectation(eta, reg)``
    with the class attribute ``default_reg``, and ``_default_penalty(x, weights)``
    returning a :class:`~mixagg.families.penalties.Penalty` (or ``None``) for ``penalty="auto"``.
    """

    #: Registry name of the family (lower case).
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
    #: :math:`\\log c` if :math:`h(x)^2 = c\\,h(x)`, else ``None`` (MATH.md §2.6).
    product_log_constant: float | None = None
    #: Extra text appended to the error raised when a product integral diverges.
    divergence_hint: str = ""
    #: Default inflation factor of DFMR's filter (MATH.md §6.3: 1.3 for Gaussian mixtures, [J] §5.1.3).
    default_rho: float = 1.3
    #: Default regulariser of the unpenalised M-step (the spirit of scikit-learn's ``reg_covar``),
    #: see :meth:`weighted_mle`.
    default_reg: float = 0.0

    # ------------------------------------------------------------------ identity
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

    @property
    def n_features(self) -> int:
        """Number of coordinates of one observation (1 for scalar families)."""
        return int(np.prod(self.event_shape, dtype=int))

    @property
    def n_params(self) -> int:
        """Length of the standard parameter vector of one component (``vech`` for symmetric matrices)."""
        total = 0
        for spec in self.param_spec.values():
            if spec.symmetric:
                d = spec.shape[-1]
                total += int(np.prod(spec.shape[:-2], dtype=int)) * d * (d + 1) // 2
            else:
                total += int(np.prod(spec.shape, dtype=int))
        return total

    # ------------------------------------------------------------------ parameter handling
    def check_params(self, params: Any, name: str = "params") -> Params:
        """Validate a parameter mapping and return it as broadcast float64 arrays.

        Parameters
        ----------
        params : mapping of str to array-like
            Standard parameters, each with shape ``(*batch, *spec.shape)``.
        name : str
            Argument name used in error messages.

        Returns
        -------
        dict of str to numpy.ndarray
            Float64 arrays broadcast to a common batch shape.

        Raises
        ------
        TypeError
            If ``params`` is not a mapping or an entry is not numeric.
        ValueError
            On missing/unknown keys, wrong shapes, non-finite values, or values
            outside the parameter space (the message lists every problem).
        """
        out = self._structure(params, name)
        problems = self._validate(out)
        if problems:
            raise ValueError(f"{name} is not a valid {self!r} parameter: " + "; ".join(problems))
        return self._canonical(out)

    def validate(self, params: Any) -> list[str]:
        """List the problems of a parameter mapping (empty when valid). Never raises for bad content."""
        try:
            out = self._structure(params, "params")
        except (TypeError, ValueError) as exc:
            return [str(exc)]
        return self._validate(out)

    def _structure(self, params: Any, name: str) -> Params:
        """Keys, numeric types, finiteness, event shapes and batch broadcasting."""
        if not isinstance(params, Mapping):
            raise TypeError(
                f"{name} must be a mapping with keys {sorted(self.param_spec)}, got {type(params).__name__}"
            )
        missing = [k for k in self.param_spec if k not in params]
        extra = [k for k in params if k not in self.param_spec]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unknown {extra}")
            raise ValueError(f"{name} must have keys {sorted(self.param_spec)} for {self!r}: " + ", ".join(parts))
        arrays: Params = {k: as_float_array(params[k], f"{name}[{k!r}]") for k in self.param_spec}
        arrays = self._coerce_shapes(arrays)
        batches = []
        for key, spec in self.param_spec.items():
            arr = arrays[key]
            nd = len(spec.shape)
            if arr.ndim < nd or tuple(arr.shape[arr.ndim - nd :]) != tuple(spec.shape):
                want = "(..., " + ", ".join(map(str, spec.shape)) + ")" if nd else "(...)"
                raise ValueError(f"{name}[{key!r}] must have shape {want} for {self!r}, got {arr.shape}")
            batches.append(arr.shape[: arr.ndim - nd])
        try:
            batch = np.broadcast_shapes(*batches)
        except ValueError as exc:
            raise ValueError(f"the batch shapes of {name} do not broadcast: {dict(zip(self.param_spec, batches))}") from exc
        return {k: np.broadcast_to(v, batch + self.param_spec[k].shape) for k, v in arrays.items()}

    def batch_shape(self, params: Params) -> tuple[int, ...]:
        """Batch shape of validated ``params``."""
        key, spec = next(iter(self.param_spec.items()))
        arr = params[key]
        return tuple(arr.shape[: arr.ndim - len(spec.shape)])

    def take(self, params: Params, index: Any) -> Params:
        """Index ``params`` along their batch axes (``params[key][index]`` for every key)."""
        return {k: np.asarray(v)[index] for k, v in params.items()}

    def expand(self, params: Params, axis: int) -> Params:
        """Insert a new batch axis at position ``axis`` (counted within the batch axes)."""
        nb = len(self.batch_shape(params))
        if axis < 0:
            axis += nb + 1
        return {k: np.expand_dims(v, axis) for k, v in params.items()}

    def params_to_vector(self, params: Any) -> np.ndarray:
        """Flatten standard parameters to ``(*batch, n_params)``; symmetric matrices via ``vech`` (MATH.md §1.3)."""
        p = self.check_params(params)
        batch = self.batch_shape(p)
        parts = []
        for key, spec in self.param_spec.items():
            arr = p[key]
            if spec.symmetric:
                r, c = vech_indices(spec.shape[-1])
                parts.append(arr[..., r, c].reshape(batch + (-1,)))
            else:
                parts.append(arr.reshape(batch + (-1,)))
        return np.concatenate(parts, axis=-1)

    def params_from_vector(self, vector: Any) -> Params:
        """Inverse of :meth:`params_to_vector`; the result is validated."""
        vec = as_float_array(vector, "vector")
        if vec.ndim < 1 or vec.shape[-1] != self.n_params:
            raise ValueError(f"vector must have shape (..., {self.n_params}) for {self!r}, got {vec.shape}")
        return self.check_params(self._decode_vector(vec), "params decoded from vector")

    def _decode_vector(self, vec: np.ndarray) -> Params:
        """Standard parameters from vectors ``(..., n_params)``, unchecked (symmetric matrices rebuilt from ``vech``)."""
        batch = vec.shape[:-1]
        out: Params = {}
        pos = 0
        for key, spec in self.param_spec.items():
            if spec.symmetric:
                d = spec.shape[-1]
                n = d * (d + 1) // 2
                r, c = vech_indices(d)
                mat = np.zeros(batch + (d, d))
                mat[..., r, c] = vec[..., pos : pos + n]
                mat[..., c, r] = vec[..., pos : pos + n]
                out[key] = mat
            else:
                n = int(np.prod(spec.shape, dtype=int))
                out[key] = vec[..., pos : pos + n].reshape(batch + spec.shape)
            pos += n
        return out

    def _vectors_valid(self, vec: np.ndarray) -> np.ndarray:
        """Boolean mask ``vec.shape[:-1]``: which parameter vectors decode to valid parameters."""
        flat = vec.reshape(-1, vec.shape[-1])
        if not self._validate(self._decode_vector(flat)):
            return np.ones(vec.shape[:-1], dtype=bool)
        ok = [not self._validate(self._decode_vector(flat[i : i + 1])) for i in range(flat.shape[0])]  # the rare slow path
        return np.array(ok).reshape(vec.shape[:-1])

    def _canonical(self, params: Params) -> Params:
        """Hook: bring valid params to canonical form (e.g. symmetrise a covariance)."""
        return params

    def _coerce_shapes(self, arrays: Params) -> Params:
        """Hook: accept convenient shapes before the shape check (e.g. plain vectors for a univariate Gaussian)."""
        return arrays

    def _check_broadcast(self, *named_shapes: tuple[str, tuple[int, ...]]) -> None:
        """Raise a ``ValueError`` naming the arguments whose batch shapes do not broadcast."""
        try:
            np.broadcast_shapes(*(shape for _, shape in named_shapes))
        except ValueError:
            desc = ", ".join(f"{n} {shape}" for n, shape in named_shapes)
            raise ValueError(f"batch shapes do not broadcast: {desc}") from None

    def check_x(self, x: Any, name: str = "x") -> np.ndarray:
        """Validate observations: float64, finite, trailing axes equal to ``event_shape``.

        For a family with ``event_shape == (1,)`` an array whose last axis is not
        of length 1 is read as a batch of scalars (as :func:`scipy.stats.multivariate_normal` does).
        """
        arr = as_float_array(x, name)
        ev = self.event_shape
        if ev == (1,) and (arr.ndim == 0 or arr.shape[-1] != 1):
            arr = arr[..., None]
        nd = len(ev)
        if arr.ndim < nd or tuple(arr.shape[arr.ndim - nd :]) != ev:
            raise ValueError(f"{name} must have shape (..., {', '.join(map(str, ev))}) for {self!r}, got {arr.shape}")
        return arr

    def _x_batch(self, x: np.ndarray) -> tuple[int, ...]:
        return tuple(x.shape[: x.ndim - len(self.event_shape)])

    def check_natural(self, theta: Any, name: str = "theta") -> np.ndarray:
        """Validate natural parameters: shape ``(..., n_natural)``, finite, inside the domain."""
        arr = as_float_array(theta, name)
        if arr.ndim < 1 or arr.shape[-1] != self.n_natural:
            raise ValueError(f"{name} must have shape (..., {self.n_natural}) for {self!r}, got {arr.shape}")
        inside = self._in_natural_domain(arr)
        if not np.all(inside):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(inside))[0])
            raise ValueError(f"{name}{list(idx) if idx else ''} is outside the natural parameter space of {self!r}")
        return arr

    def check_expectation(self, eta: Any, name: str = "eta") -> np.ndarray:
        """Validate expectation parameters: shape ``(..., n_natural)`` and finite."""
        arr = as_float_array(eta, name)
        if arr.ndim < 1 or arr.shape[-1] != self.n_natural:
            raise ValueError(f"{name} must have shape (..., {self.n_natural}) for {self!r}, got {arr.shape}")
        return arr

    # ------------------------------------------------------------------ coordinate maps
    def natural_from_params(self, params: Any) -> np.ndarray:
        """Natural parameters :math:`\\theta` ``(*batch, n_natural)`` of standard ``params``."""
        return self._natural_from_params(self.check_params(params))

    def params_from_natural(self, theta: Any) -> Params:
        """Standard parameters of natural parameters ``theta`` ``(..., n_natural)``."""
        return self._canonical(self._params_from_natural(self.check_natural(theta)))

    def expectation_from_natural(self, theta: Any) -> np.ndarray:
        """Mean map :math:`\\eta=\\nabla A(\\theta)=E_\\theta T(X)` (MATH.md §2.1)."""
        return self._expectation_from_natural(self.check_natural(theta))

    def natural_from_expectation(self, eta: Any) -> np.ndarray:
        """Inverse mean map :math:`\\eta\\mapsto\\theta` (closed form or Newton).

        Raises
        ------
        ValueError
            If ``eta`` is not in the interior of the mean space (no member of
            the family has these expected sufficient statistics).
        """
        eta = self.check_expectation(eta)
        return self._checked_inverse_mean_map(eta, "eta")

    def expectation_from_params(self, params: Any) -> np.ndarray:
        """Expectation parameters of standard ``params``."""
        return self._expectation_from_params(self.check_params(params))

    def params_from_expectation(self, eta: Any) -> Params:
        """Standard parameters of expectation parameters ``eta`` (moment matching)."""
        theta = self._checked_inverse_mean_map(self.check_expectation(eta), "eta")
        return self._canonical(self._params_from_natural(theta))

    def _checked_inverse_mean_map(self, eta: np.ndarray, name: str) -> np.ndarray:
        try:
            with np.errstate(invalid="ignore", divide="ignore"):
                theta = self._natural_from_expectation(eta)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"{name} is not in the interior of the mean space of {self!r}: {exc}") from exc
        ok = np.all(np.isfinite(theta), axis=-1) & self._in_natural_domain(np.where(np.isfinite(theta), theta, 0.0))
        if not np.all(ok):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(ok))[0])
            raise ValueError(
                f"{name}{list(idx) if idx else ''} is not in the interior of the mean space of {self!r}: "
                "no member of the family has these expected sufficient statistics"
            )
        return theta

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        return self._expectation_from_natural(self._natural_from_params(params))

    def _kl_frame(self, params: Params, mass: np.ndarray) -> tuple[Callable[[Params], Params], Callable[[Params], Params]]:
        """Hook: a change of coordinates ``(to, back)`` that leaves KL divergences unchanged and commutes with KL
        barycentres, chosen to centre ``params`` (atoms with masses ``mass``).

        Mixture reduction runs in that frame, so the matrix-product form of the
        KL cost does not cancel for badly located data; the identity by default.
        """
        return _identity, _identity

    def _natural_and_log_partition(self, params: Params) -> tuple[np.ndarray, np.ndarray]:
        """Hook: :math:`\\theta` and :math:`A(\\theta)` of standard ``params`` together (families may share work)."""
        theta = self._natural_from_params(params)
        return theta, self._log_partition(theta)

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        return self._params_from_natural(self._checked_inverse_mean_map(eta, "eta"))

    def log_partition(self, theta: Any) -> np.ndarray:
        """Log-partition :math:`A(\\theta)`; ``+inf`` outside the natural parameter space."""
        arr = as_float_array(theta, "theta")
        if arr.ndim < 1 or arr.shape[-1] != self.n_natural:
            raise ValueError(f"theta must have shape (..., {self.n_natural}) for {self!r}, got {arr.shape}")
        inside = np.asarray(self._in_natural_domain(arr))
        out = np.full(arr.shape[:-1], np.inf)
        if np.any(inside):
            out[inside] = self._log_partition(arr[inside])
        return out

    def in_natural_domain(self, theta: Any) -> np.ndarray:
        """Boolean array: whether each natural parameter lies in the open domain :math:`\\Theta=\\{A<\\infty\\}`."""
        arr = as_float_array(theta, "theta")
        if arr.ndim < 1 or arr.shape[-1] != self.n_natural:
            raise ValueError(f"theta must have shape (..., {self.n_natural}) for {self!r}, got {arr.shape}")
        return np.asarray(self._in_natural_domain(arr))

    def sufficient_stats(self, x: Any) -> np.ndarray:
        """Sufficient statistic :math:`T(x)`, shape ``(*x_batch, n_natural)``."""
        return self._sufficient_stats(self.check_x(x))

    def log_base_measure(self, x: Any) -> np.ndarray:
        """:math:`\\log h(x)`, shape ``x_batch``; ``-inf`` outside the support."""
        return self._log_base_measure(self.check_x(x))

    # ------------------------------------------------------------------ densities
    def logpdf(self, x: Any, params: Any) -> np.ndarray:
        """Log-density (log-pmf for discrete families), broadcast over batch axes.

        Parameters
        ----------
        x : array-like of shape (*x_batch, *event_shape)
        params : mapping
            Standard parameters with batch shape broadcastable against ``x_batch``.

        Returns
        -------
        numpy.ndarray of shape ``broadcast(x_batch, params_batch)``
        """
        xa, p = self.check_x(x), self.check_params(params)
        self._check_broadcast(("x", self._x_batch(xa)), ("params", self.batch_shape(p)))
        return self._logpdf(xa, p)

    def pdf(self, x: Any, params: Any) -> np.ndarray:
        """Density (pmf for discrete families): ``exp(logpdf)``."""
        return np.exp(self.logpdf(x, params))

    def _logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        """Generic :math:`\\theta^\\top T(x) - A(\\theta) + \\log h(x)`."""
        theta = self._natural_from_params(params)
        t = self._sufficient_stats(x)
        return np.einsum("...i,...i->...", t, theta) - self._log_partition(theta) + self._log_base_measure(x)

    # ------------------------------------------------------------------ divergences and averages
    def kl_divergence(self, params_a: Any, params_b: Any) -> np.ndarray:
        """:math:`\\mathrm{KL}(f_a\\Vert f_b)`, broadcast over batch axes; the MR cost (MATH.md §2.2–2.3).

        Equals the Bregman divergence :math:`A(\\theta_b)-A(\\theta_a)-(\\theta_b-\\theta_a)^\\top\\nabla A(\\theta_a)`
        ([J] App. B.9.2). Tiny negative values from rounding are clipped to 0.
        """
        pa, pb = self._check_pair(params_a, params_b)
        return self._kl_divergence(pa, pb)

    kl = kl_divergence

    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        return self._bregman_kl(self._natural_from_params(pa), self._natural_from_params(pb))

    def _bregman_kl(self, theta_a: np.ndarray, theta_b: np.ndarray) -> np.ndarray:
        """Generic KL as the Bregman divergence of :math:`A` (MATH.md §2.2)."""
        eta_a = self._expectation_from_natural(theta_a)
        out = (
            self._log_partition(theta_b)
            - self._log_partition(theta_a)
            - np.einsum("...i,...i->...", theta_b - theta_a, eta_a)
        )
        return np.maximum(out, 0.0)

    def barycentre(self, params: Any, weights: Any) -> Params:
        """KL barycentre :math:`\\arg\\min_\\theta\\sum_\\gamma\\pi_\\gamma\\mathrm{KL}(f_{\\theta_\\gamma}\\Vert f_\\theta)`.

        It is moment matching: the weighted average of expectation parameters,
        mapped back (MATH.md §2.4; [J] eq. (6)).

        Parameters
        ----------
        params : mapping
            Standard parameters of the atoms, batch shape ``(n_atoms,)``.
        weights : array-like of shape (..., n_atoms)
            Non-negative masses; each row must have a positive sum. Several rows
            give several barycentres at once (e.g. one per cluster).

        Returns
        -------
        dict
            Standard parameters with batch shape ``weights.shape[:-1]``.
        """
        p = self.check_params(params)
        if len(self.batch_shape(p)) != 1:
            raise ValueError(f"params must have exactly one batch axis (the atoms), got batch shape {self.batch_shape(p)}")
        w = self._check_masses(weights, self.batch_shape(p)[0], "weights")
        return self._canonical(self._barycentre(p, w))

    def _barycentre(self, params: Params, weights: np.ndarray) -> Params:
        eta = self._expectation_from_params(params)
        eta_bar = (weights @ eta) / weights.sum(axis=-1, keepdims=True)
        return self._params_from_expectation(eta_bar)

    def weighted_mle(self, x: Any, sample_weight: Any = None, *, reg: float = 0.0) -> Params:
        """Weighted maximum-likelihood estimate: average :math:`T(x)`, mapped back (MATH.md §2.5).

        Parameters
        ----------
        x : array-like of shape (n_samples, *event_shape)
        sample_weight : array-like of shape (..., n_samples), optional
            Non-negative weights (frequency semantics); several rows give several
            estimates at once (the EM M-step passes responsibilities ``(K, n)``).
        reg : float, default 0
            Regulariser keeping the estimate inside the parameter space: the
            MLE over a slightly smaller space (Gaussian: covariance eigenvalues
            >= ``reg``; Poisson: rate >= ``reg``; Exponential: mean >= ``reg``
            times the data mean; Gamma: :math:`\\log\\bar x-\\overline{\\log x}\\ge`
            ``reg``). ``0`` is the exact MLE.

        Raises
        ------
        ValueError
            If the MLE does not exist (the weighted mean of :math:`T` lies on the
            boundary of the mean space, e.g. all observations equal for a Gaussian).
        """
        xa = self.check_x(x)
        if len(self._x_batch(xa)) != 1:
            raise ValueError(f"x must have shape (n_samples, *{self.event_shape}), got {xa.shape}")
        n = xa.shape[0]
        w = np.ones(n) if sample_weight is None else self._check_masses(sample_weight, n, "sample_weight")
        if np.any(np.isinf(self._log_base_measure(xa))):
            raise ValueError(f"x has observations outside the support ({self.support}) of {self!r}")
        reg = float(reg)
        if not (np.isfinite(reg) and reg >= 0):
            raise ValueError(f"reg must be a non-negative finite number, got {reg!r}")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self._weighted_mle(xa, w, reg)
        problems = self._validate(out)
        if problems:
            raise ValueError(
                "the weighted MLE does not exist (the weighted mean of T(x) is on the boundary of the mean space, "
                f"e.g. too few distinct observations): {problems[0]}; use reg > 0"
            )
        return self._canonical(out)

    def _weighted_mle(self, x: np.ndarray, weights: np.ndarray, reg: float = 0.0) -> Params:
        """Hook: one estimate per row of ``weights`` ``(..., n)``; may return invalid (e.g. ``nan``) parameters
        where the MLE does not exist; callers validate (the EM then names the component)."""
        t = self._sufficient_stats(x)
        eta_bar = (weights @ t) / weights.sum(axis=-1, keepdims=True)
        total = weights.reshape(-1, weights.shape[-1]).sum(axis=0)
        reference = (total @ t) / total.sum()
        return self._params_from_natural(self._natural_from_expectation(self._regularise_expectation(eta_bar, reg, reference)))

    def _regularise_expectation(self, eta: np.ndarray, reg: float, reference: np.ndarray) -> np.ndarray:
        """Hook: move averaged expectation parameters into the interior (default: unchanged).

        ``reference`` is the weighted mean of :math:`T(x)` over all the data, for
        regularisers relative to the data's scale.
        """
        return eta

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Hook: which components sit on the boundary the regulariser imposes (reported by the EM); none by default."""
        return np.zeros(self.batch_shape(params), dtype=bool)

    def _component_problems(self, params: Params) -> list[list[str]]:
        """Problems of each component (batch ``(K,)``): validity, plus numerical degeneracy where a family checks it."""
        return [self._validate(self.take(params, [k])) for k in range(self.batch_shape(params)[0])]

    # ------------------------------------------------------------------ penalised estimation (EM)
    def default_penalty(self, x: Any, sample_weight: Any = None):
        """The penalty the papers use for this family on data ``x`` (``None`` when the MLE needs none).

        Returns a :class:`~mixagg.families.penalties.Penalty` with strength
        :math:`a_n=n^{-1/2}`, :math:`n=\\sum_j` ``sample_weight`` (MATH.md §4.1).
        """
        xa = self.check_x(x)
        n = xa.shape[0]
        w = np.ones(n) if sample_weight is None else self._check_masses(sample_weight, n, "sample_weight")
        return self._default_penalty(xa, w)

    def _default_penalty(self, x: np.ndarray, weights: np.ndarray):
        """Hook: the family's penalty for data ``x`` with weights ``(n,)``; ``None`` (no penalty) by default."""
        return None

    def _log_component_densities(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``log f(x_j; theta_k)`` for data ``(n, *event)`` and components ``(K,)``: shape ``(n, K)`` (E-step hook)."""
        index = (slice(None), None) + (slice(None),) * len(self.event_shape)
        return self._logpdf(x[index], params)

    @staticmethod
    def _check_masses(weights: Any, n: int, name: str) -> np.ndarray:
        w = as_float_array(weights, name)
        if w.ndim < 1 or w.shape[-1] != n:
            raise ValueError(f"{name} must have shape (..., {n}), got {w.shape}")
        if np.any(w < 0):
            raise ValueError(f"{name} must be non-negative")
        if np.any(w.sum(axis=-1) <= 0):
            raise ValueError(f"every row of {name} must have a positive sum")
        return w

    # ------------------------------------------------------------------ L2 inner products
    def log_product_integral(self, params_a: Any, params_b: Any) -> np.ndarray:
        """:math:`\\log\\int f(x;a)f(x;b)\\,dx` (sum for discrete families), broadcast over batch axes.

        The kernel of every L2 distance (MATH.md §2.6, §3.2; [J] App. C.1).

        Raises
        ------
        ValueError
            If the integral diverges for some pair (e.g. Gamma with
            ``shape_a + shape_b <= 1``).
        """
        pa, pb = self._check_pair(params_a, params_b)
        ok = np.asarray(self._pair_integrable(pa, pb))
        if not np.all(ok):
            idx = tuple(int(i) for i in np.argwhere(~ok)[0])
            raise ValueError(
                f"the L2 inner product of {self!r} densities diverges for {int(np.size(ok) - np.count_nonzero(ok))} "
                f"pair(s), first at batch index {list(idx)}. {self.divergence_hint}".rstrip()
            )
        return self._log_product_integral(pa, pb)

    def square_integrable(self, params: Any) -> np.ndarray:
        """Whether :math:`\\int f^2<\\infty` for each component (then, by Cauchy–Schwarz, every product integral is finite)."""
        p = self.check_params(params)
        return np.asarray(self._pair_integrable(p, p))

    def log_product_integral_pairs(self, params: Any, index_a: Any, index_b: Any) -> np.ndarray:
        """Product integrals for listed pairs of one stack of components.

        ``out[t] = log_product_integral(params[index_a[t]], params[index_b[t]])``.
        The hot path of :func:`mixagg.l2_distance_matrix`; families override
        :meth:`_log_product_integral_pairs` with a compiled kernel where it pays.
        """
        p = self.check_params(params)
        if len(self.batch_shape(p)) != 1:
            raise ValueError("params must have exactly one batch axis (the stacked components)")
        n = self.batch_shape(p)[0]
        ia = as_index_array(index_a, "index_a")
        ib = as_index_array(index_b, "index_b")
        for nm, idx in (("index_a", ia), ("index_b", ib)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"{nm} has entries outside [0, {n})")
        if ia.shape != ib.shape:
            raise ValueError(f"index_a and index_b must have the same length, got {ia.shape} and {ib.shape}")
        if not np.all(self._pair_integrable(self.take(p, ia), self.take(p, ib))):
            raise ValueError(f"the L2 inner product diverges for some listed pair. {self.divergence_hint}".rstrip())
        return self._log_product_integral_pairs(p, ia, ib)

    def _log_product_integral_pairs(self, params: Params, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        return self._log_product_integral(self.take(params, ia), self.take(params, ib))

    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        """Generic :math:`\\log c + A(\\theta_a+\\theta_b) - A(\\theta_a) - A(\\theta_b)` (MATH.md §2.6)."""
        if self.product_log_constant is None:
            raise NotImplementedError(
                f"{self!r} has a non-constant base measure (h^2 != c h), so the generic product-integral "
                "identity of MATH.md §2.6 does not apply; the family must override _log_product_integral"
            )
        ta = self._natural_from_params(pa)
        tb = self._natural_from_params(pb)
        return (
            self.product_log_constant
            + self._log_partition(ta + tb)
            - self._log_partition(ta)
            - self._log_partition(tb)
        )

    def _pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        """Whether :math:`\\int f_af_b<\\infty`; default :math:`\\theta_a+\\theta_b\\in\\Theta` when :math:`h^2=ch`.

        With a non-constant base measure (``product_log_constant = None``) the default says
        "always integrable": a family whose product integral can diverge must override this.
        """
        if self.product_log_constant is None:
            return np.ones(np.broadcast_shapes(self.batch_shape(pa), self.batch_shape(pb)), dtype=bool)
        return np.asarray(self._in_natural_domain(self._natural_from_params(pa) + self._natural_from_params(pb)))

    # ------------------------------------------------------------------ derivatives (theory module)
    def log_partition_hessian(self, theta: Any) -> np.ndarray:
        """:math:`\\nabla^2A(\\theta)=\\operatorname{Cov}_\\theta T(X)`, shape ``(..., n_natural, n_natural)``.

        The Fisher information of one component in natural coordinates (MATH.md §2.1);
        with the mean map it gives the derivatives of the product-integral kernel (§9.2).
        Families override :meth:`_log_partition_hessian` with closed forms; the generic
        hook differentiates the mean map numerically.
        """
        return self._log_partition_hessian(self.check_natural(theta))

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        """Generic: Richardson-extrapolated central differences of :math:`\\eta(\\theta)` (relative error ~1e-10), symmetrised."""
        jac, _ = central_jacobian(self._expectation_from_natural, theta, inside=self._in_natural_domain)
        return 0.5 * (jac + np.swapaxes(jac, -1, -2))

    def natural_jacobian(self, params: Any) -> np.ndarray:
        """:math:`\\partial\\theta/\\partial v`: natural parameters against the standard vector of :meth:`params_to_vector`.

        Shape ``(..., n_natural, n_params)``. Maps H* and the Fisher information
        between natural and standard coordinates (MATH.md §9.4). Families override
        :meth:`_natural_jacobian` with closed forms; the generic hook uses central
        differences (:func:`~mixagg._differences.central_jacobian`, relative error
        about 1e-10 for well-scaled parameters).
        """
        return self._natural_jacobian(self.check_params(params))

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        """Generic: Richardson-extrapolated central differences of ``natural_from_params(params_from_vector(v))``."""
        v = self.params_to_vector(params)
        jac, _ = central_jacobian(
            lambda u: self._natural_from_params(self.params_from_vector(u)), v, inside=self._vectors_valid
        )
        return jac

    def product_integral_derivatives(self, params_a: Any, params_b: Any) -> ProductIntegralDerivatives:
        """:math:`\\log k` and the first and mixed second derivatives of the L2 kernel, in natural coordinates.

        The building blocks of :math:`H^*` (MATH.md §9.2, [J] App. B.2). With
        :math:`h^2=ch` (§2.6), :math:`\\eta_{ab}=\\nabla A(\\theta_a+\\theta_b)`:

        .. math::

            \\nabla_ak/k=\\eta_{ab}-\\eta_a,\\quad \\nabla_bk/k=\\eta_{ab}-\\eta_b,\\quad
            \\nabla_a\\nabla_b^\\top k/k=\\nabla^2A(\\theta_a+\\theta_b)+(\\eta_{ab}-\\eta_a)(\\eta_{ab}-\\eta_b)^\\top,

        exact. Families without that identity override
        :meth:`_product_integral_derivatives` (Poisson: Bessel functions) or fall back
        to nested central differences of :math:`\\log k` (relative error about 1e-8).

        Raises
        ------
        ValueError
            If the product integral diverges for some pair.
        """
        pa, pb = self._check_pair(params_a, params_b)
        ok = np.asarray(self._pair_integrable(pa, pb))
        if not np.all(ok):
            raise ValueError(f"the L2 inner product diverges for some pair. {self.divergence_hint}".rstrip())
        return self._product_integral_derivatives(pa, pb)

    def _product_integral_derivatives(self, pa: Params, pb: Params) -> ProductIntegralDerivatives:
        if self.product_log_constant is None:
            return self._product_integral_derivatives_numeric(pa, pb)
        ta, tb = self._natural_from_params(pa), self._natural_from_params(pb)
        ta, tb = np.broadcast_arrays(ta, tb)
        tab = ta + tb
        eta_ab = self._expectation_from_natural(tab)
        ga = eta_ab - self._expectation_from_natural(ta)
        gb = eta_ab - self._expectation_from_natural(tb)
        log_k = self.product_log_constant + self._log_partition(tab) - self._log_partition(ta) - self._log_partition(tb)
        mixed = self._log_partition_hessian(tab) + ga[..., :, None] * gb[..., None, :]
        return ProductIntegralDerivatives(log_k, ga, gb, mixed)

    def _product_integral_derivatives_numeric(self, pa: Params, pb: Params) -> ProductIntegralDerivatives:
        """Central differences of :math:`\\log k` in natural coordinates (first: one level, mixed: nested)."""
        ta, tb = np.broadcast_arrays(self._natural_from_params(pa), self._natural_from_params(pb))

        def log_k(t_a: np.ndarray, t_b: np.ndarray) -> np.ndarray:
            t_a, t_b = np.broadcast_arrays(t_a, t_b)
            return self._log_product_integral(self._params_from_natural(t_a), self._params_from_natural(t_b))

        def grad_a(t_b: np.ndarray) -> np.ndarray:
            return central_jacobian(lambda t: log_k(t, t_b), np.broadcast_to(ta, t_b.shape), inside=self._in_natural_domain)[0]

        ga = grad_a(tb)
        gb = central_jacobian(lambda t: log_k(ta, t), tb, inside=self._in_natural_domain)[0]
        second = central_jacobian(grad_a, tb, inside=self._in_natural_domain)[0]  # d/d theta_b of grad_a log k
        return ProductIntegralDerivatives(log_k(ta, tb), ga, gb, second + ga[..., :, None] * gb[..., None, :])

    # ------------------------------------------------------------------ sampling, metrics, moments
    def sample(self, params: Any, size: int | tuple[int, ...] | None = None, rng: Any = None) -> np.ndarray:
        """Draw observations.

        Returns
        -------
        numpy.ndarray of shape ``(*size, *batch, *event_shape)``
            ``size`` independent draws from every component in the batch.
        """
        p = self.check_params(params)
        if size is None:
            size_t: tuple[int, ...] = ()
        elif np.ndim(size) == 0:
            size_t = (check_int(size, "size", minimum=0),)
        else:
            size_t = tuple(check_int(s, "size", minimum=0) for s in size)
        return self._sample(p, size_t, as_generator(rng))

    def ground_distance(self, params_a: Any, params_b: Any) -> np.ndarray:
        """The :math:`D_1` cost between components used by the :math:`W_1` metric (MATH.md §8.1)."""
        pa, pb = self._check_pair(params_a, params_b)
        return self._ground_distance(pa, pb)

    def _check_pair(self, params_a: Any, params_b: Any) -> tuple[Params, Params]:
        pa = self.check_params(params_a, "params_a")
        pb = self.check_params(params_b, "params_b")
        self._check_broadcast(("params_a", self.batch_shape(pa)), ("params_b", self.batch_shape(pb)))
        return pa, pb

    def random_params(self, size: int | tuple[int, ...] = 1, rng: Any = None) -> Params:
        """Random, well-conditioned parameters for tests and :func:`check_family`."""
        if np.ndim(size) == 0:
            size_t: tuple[int, ...] = (check_int(size, "size", minimum=1),)
        else:
            size_t = tuple(check_int(s, "size", minimum=1) for s in size)
        return self.check_params(self._random_params(size_t, as_generator(rng)))

    def mean(self, params: Any) -> np.ndarray:
        """Mean :math:`E X` of each component, shape ``(*batch, *event_shape)``."""
        return self._mean(self.check_params(params))

    def cov(self, params: Any) -> np.ndarray:
        """Covariance of :math:`X` (variance for scalar families), shape ``(*batch, *event_shape, *event_shape)``."""
        return self._cov(self.check_params(params))

    def _invalid_params(self) -> list[Params]:
        """Hook for :func:`check_family`: parameter mappings outside the parameter space.

        Each must be rejected by :meth:`validate`; the conformance suite fails a
        family that provides none.
        """
        return []

    def _mean(self, params: Params) -> np.ndarray:
        raise NotImplementedError(f"{self!r} does not define the moments of X")

    def _cov(self, params: Params) -> np.ndarray:
        raise NotImplementedError(f"{self!r} does not define the moments of X")

    # ------------------------------------------------------------------ required hooks
    @abc.abstractmethod
    def _natural_from_params(self, params: Params) -> np.ndarray: ...

    @abc.abstractmethod
    def _params_from_natural(self, theta: np.ndarray) -> Params: ...

    @abc.abstractmethod
    def _log_partition(self, theta: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _log_base_measure(self, x: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _validate(self, params: Params) -> list[str]: ...

    @abc.abstractmethod
    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray: ...

    @abc.abstractmethod
    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray: ...

    @abc.abstractmethod
    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params: ...


def _identity(params: Params) -> Params:
    return params


def _rebuild_family(cls: type, settings: dict[str, Any]) -> ExponentialFamily:
    return cls(**settings)


def positive_problems(name: str, value: np.ndarray, *, lower: float = 0.0) -> list[str]:
    """Problems list for a parameter that must exceed ``lower`` elementwise."""
    bad = ~(value > lower)
    if not np.any(bad):
        return []
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return [f"{name} must be > {lower:g}, got {value[idx]!r} at component index {list(idx)}"]
