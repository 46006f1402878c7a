"""Operations derived from the contract's hooks: densities, KL, barycentres, weighted MLE, L2 inner products.

:class:`DerivedOperations` is the mixin :class:`~mixagg.families.core.ExponentialFamily`
builds on. Each public method validates its input, then calls a hook; each hook
below has a generic implementation from the required hooks of
:mod:`mixagg.families.core` that a family may override with a closed form
(``docs/families.md``):

* :math:`\\log f=\\theta^\\top T(x)-A(\\theta)+\\log h(x)`;
* KL as the Bregman divergence of :math:`A` ([J] App. B.9.2);
* the KL barycentre as moment matching ([J] eq. (6));
* the weighted MLE as the weighted mean of :math:`T(x)` mapped back;
* L2 inner products through :math:`\\int f_af_b` ([J] App. C.1).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import em_support
from .._validation import as_float_array, as_generator, as_index_array, check_int, check_real

__all__ = ["MOMENT_HOOKS", "OVERRIDABLE_HOOKS", "DerivedOperations", "vech_indices"]

Params = dict[str, np.ndarray]


def vech_indices(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of ``vech``: the lower triangle stacked column by column.

    ``(0,0), (1,0), ..., (d-1,0), (1,1), (2,1), ...`` — the standard order (R's
    ``vech``), used for symmetric matrices in parameter vectors (``docs/families.md``).
    """
    cols, rows = np.triu_indices(d)
    return rows, cols


#: Optional hooks with a generic implementation (in this module or the contract's), which families may override.
OVERRIDABLE_HOOKS = (
    "_logpdf",
    "_kl_divergence",
    "_barycentre",
    "_weighted_mle",
    "_log_product_integral",
    "_log_product_integral_pairs",
    "_pair_integrable",
    "_expectation_from_params",
    "_params_from_expectation",
    "_natural_and_log_partition",
    "_canonical",
    "_coerce_shapes",
    "_encode_vector",
    "_decode_vector",
    "_support_points",
    "_mixture_problems",
    "_invalid_params",
)
#: Optional hooks without a generic implementation: the public method raises ``NotImplementedError`` without them.
MOMENT_HOOKS = ("_mean", "_cov")


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


class DerivedOperations:
    """Public operations of a family, derived from the hooks of :class:`~mixagg.families.core.ExponentialFamily`."""

    # ------------------------------------------------------------------ parameter vectors
    def params_to_vector(self, params: Any) -> np.ndarray:
        """Flatten standard parameters to ``(*batch, n_params)``; symmetric matrices via ``vech``."""
        return self._encode_vector(self.check_params(params))

    def _encode_vector(self, p: Params) -> np.ndarray:
        """Parameter vectors ``(*batch, n_params)`` of checked parameters: every entry of each parameter in
        ``param_spec`` order, symmetric matrices through ``vech``. A family whose parameters have redundant
        entries (a probability vector's sum) overrides it with :meth:`_decode_vector` and ``n_params``."""
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
        """Standard parameters from vectors ``(..., n_params)``, unchecked.

        Symmetric matrices are rebuilt from ``vech``.
        """
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

    def _support_points(self, max_points: int) -> np.ndarray | None:
        """Every point of a finite support ``(n_points, *event_shape)``, or ``None`` when the support is infinite
        or has more than ``max_points`` points: exact sums over the support (the conformance suite, the Fisher
        information's ``method="series"``) use it."""
        return None

    def _mixture_problems(self, params: Params) -> list[str]:
        """What is wrong with the components of one mixture together (batch ``(K,)``), beyond each one's
        validity: none by default; a tied structure requires the components to share a parameter."""
        return []

    #: Parameters that the components of a mixture share (a tied structure: ``("cov",)``); sent once on the wire
    #: and counted once by the theory module. A family that sets it must place them at the same positions of the
    #: standard and the natural parameter vector (the Gaussian's precision block sits where its covariance does).
    shared_params: tuple[str, ...] = ()

    @property
    def shared_positions(self) -> np.ndarray:
        """Positions of :attr:`shared_params` in a component's parameter vector (empty when nothing is shared)."""
        pos, inside = 0, []
        for key, spec in self.param_spec.items():
            size = self._vector_size(spec)
            if key in self.shared_params:
                inside.extend(range(pos, pos + size))
            pos += size
        return np.array(inside, dtype=np.intp)

    @staticmethod
    def _vector_size(spec: Any) -> int:
        if spec.symmetric:
            d = spec.shape[-1]
            return int(np.prod(spec.shape[:-2], dtype=int)) * d * (d + 1) // 2
        return int(np.prod(spec.shape, dtype=int))

    def _vectors_valid(self, vec: np.ndarray) -> np.ndarray:
        """Boolean mask ``vec.shape[:-1]``: which parameter vectors decode to valid parameters."""
        flat = vec.reshape(-1, vec.shape[-1])
        if not self._validate(self._decode_vector(flat)):
            return np.ones(vec.shape[:-1], dtype=bool)
        ok = [
            not self._validate(self._decode_vector(flat[i : i + 1])) for i in range(flat.shape[0])
        ]  # the rare slow path
        return np.array(ok).reshape(vec.shape[:-1])

    # ------------------------------------------------------------------ coordinate maps
    def natural_from_params(self, params: Any) -> np.ndarray:
        """Natural parameters :math:`\\theta` ``(*batch, n_natural)`` of standard ``params``."""
        return self._natural_from_params(self.check_params(params))

    def params_from_natural(self, theta: Any) -> Params:
        """Standard parameters of natural parameters ``theta`` ``(..., n_natural)``."""
        return self._canonical(self._params_from_natural(self.check_natural(theta)))

    def expectation_from_natural(self, theta: Any) -> np.ndarray:
        """Mean map :math:`\\eta=\\nabla A(\\theta)=E_\\theta T(X)`."""
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
        """Optional hook: :math:`\\eta` of standard parameters; generic through :math:`\\theta`."""
        return self._expectation_from_natural(self._natural_from_params(params))

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        """Optional hook: standard parameters of :math:`\\eta` (raises ``ValueError`` outside the mean space)."""
        return self._params_from_natural(self._checked_inverse_mean_map(eta, "eta"))

    def _natural_and_log_partition(self, params: Params) -> tuple[np.ndarray, np.ndarray]:
        """Optional hook: :math:`\\theta` and :math:`A(\\theta)` of standard ``params`` together.

        Families may share work between the two.
        """
        theta = self._natural_from_params(params)
        return theta, self._log_partition(theta)

    def log_partition(self, theta: Any) -> np.ndarray:
        """Log-partition :math:`A(\\theta)`; ``+inf`` outside the natural parameter space."""
        arr = self._natural_shaped(theta)
        inside = np.asarray(self._in_natural_domain(arr))
        out = np.full(arr.shape[:-1], np.inf)
        if np.any(inside):
            out[inside] = self._log_partition(arr[inside])
        return out

    def in_natural_domain(self, theta: Any) -> np.ndarray:
        """Boolean array: whether each natural parameter lies in the open domain :math:`\\Theta=\\{A<\\infty\\}`."""
        return np.asarray(self._in_natural_domain(self._natural_shaped(theta)))

    def _natural_shaped(self, theta: Any) -> np.ndarray:
        arr = as_float_array(theta, "theta")
        if arr.ndim < 1 or arr.shape[-1] != self.n_natural:
            raise ValueError(f"theta must have shape (..., {self.n_natural}) for {self!r}, got {arr.shape}")
        return arr

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
        """Optional hook; generic :math:`\\theta^\\top T(x) - A(\\theta) + \\log h(x)`."""
        theta = self._natural_from_params(params)
        t = self._sufficient_stats(x)
        return np.einsum("...i,...i->...", t, theta) - self._log_partition(theta) + self._log_base_measure(x)

    # ------------------------------------------------------------------ divergences and averages
    def kl_divergence(self, params_a: Any, params_b: Any) -> np.ndarray:
        """:math:`\\mathrm{KL}(f_a\\Vert f_b)`, broadcast over batch axes: the cost of MR ([J] App. B.9.2).

        Equals the Bregman divergence :math:`A(\\theta_b)-A(\\theta_a)-(\\theta_b-\\theta_a)^\\top\\nabla A(\\theta_a)`
        ([J] App. B.9.2). Tiny negative values from rounding are clipped to 0.
        """
        pa, pb = self.check_pair(params_a, params_b)
        return self._kl_divergence(pa, pb)

    kl = kl_divergence

    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        """Optional hook; generic Bregman divergence of :math:`A` between the natural parameters."""
        ta, tb = self._natural_from_params(pa), self._natural_from_params(pb)
        eta_a = self._expectation_from_natural(ta)
        out = self._log_partition(tb) - self._log_partition(ta) - np.einsum("...i,...i->...", tb - ta, eta_a)
        return np.maximum(out, 0.0)

    def barycentre(self, params: Any, weights: Any) -> Params:
        """KL barycentre of ``params`` weighted by ``weights``.

        The barycentre is
        :math:`\\arg\\min_\\theta\\sum_\\gamma\\pi_\\gamma\\mathrm{KL}(f_{\\theta_\\gamma}\\Vert f_\\theta)`.

        It is moment matching: the weighted average of expectation parameters,
        mapped back ([J] eq. (6); ``docs/families.md``).

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
            raise ValueError(
                f"params must have exactly one batch axis (the atoms), got batch shape {self.batch_shape(p)}"
            )
        w = self.check_masses(weights, self.batch_shape(p)[0], "weights")
        return self._canonical(self._barycentre(p, w))

    def _barycentre(self, params: Params, weights: np.ndarray) -> Params:
        """Optional hook; generic moment matching: rows of ``weights`` ``(..., n_atoms)`` average :math:`\\eta`."""
        eta = self._expectation_from_params(params)
        eta_bar = (weights @ eta) / weights.sum(axis=-1, keepdims=True)
        return self._params_from_expectation(eta_bar)

    def weighted_mle(self, x: Any, sample_weight: Any = None, *, reg: float = 0.0) -> Params:
        """Weighted maximum-likelihood estimate: average :math:`T(x)`, mapped back (``docs/em.md``).

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
        w = np.ones(n) if sample_weight is None else self.check_masses(sample_weight, n, "sample_weight")
        if np.any(np.isinf(self._log_base_measure(xa))):
            raise ValueError(f"x has observations outside the support ({self.support}) of {self!r}")
        reg = check_real(reg, "reg", minimum=0.0)
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
        """Optional hook: one estimate per row of ``weights`` ``(..., n)``; may return invalid (e.g. ``nan``)
        parameters where the MLE does not exist; callers validate (the EM then names the component).

        Generic: the weighted mean of :math:`T(x)`, regularised by the EM capability
        :func:`mixagg.em_support.regularise_expectation`, mapped back.
        """
        t = self._sufficient_stats(x)
        eta_bar = (weights @ t) / weights.sum(axis=-1, keepdims=True)
        total = weights.reshape(-1, weights.shape[-1]).sum(axis=0)
        reference = (total @ t) / total.sum()
        eta_reg = em_support.regularise_expectation(self, eta_bar, reg, reference)
        return self._params_from_natural(self._natural_from_expectation(eta_reg))

    def default_penalty(self, x: Any, sample_weight: Any = None):
        """Deprecated: use :func:`mixagg.em_support.default_penalty`."""
        _deprecated("family.default_penalty(x, w)", "mixagg.em_support.default_penalty(family, x, w)")
        return em_support.default_penalty(self, x, sample_weight)

    # ------------------------------------------------------------------ L2 inner products
    def log_product_integral(self, params_a: Any, params_b: Any) -> np.ndarray:
        """:math:`\\log\\int f(x;a)f(x;b)\\,dx` (sum for discrete families), broadcast over batch axes.

        The kernel of every L2 distance ([J] App. C.1; ``docs/families.md``).

        Raises
        ------
        ValueError
            If the integral diverges for some pair (e.g. Gamma with
            ``shape_a + shape_b <= 1``).
        """
        pa, pb = self.check_pair(params_a, params_b)
        self._require_integrable(pa, pb)
        return self._log_product_integral(pa, pb)

    def _require_integrable(self, pa: Params, pb: Params) -> None:
        ok = np.asarray(self._pair_integrable(pa, pb))
        if not np.all(ok):
            idx = tuple(int(i) for i in np.argwhere(~ok)[0])
            raise ValueError(
                f"the L2 inner product of {self!r} densities diverges for {int(np.size(ok) - np.count_nonzero(ok))} "
                f"pair(s), first at batch index {list(idx)}. {self.divergence_hint}".rstrip()
            )

    def square_integrable(self, params: Any) -> np.ndarray:
        """Whether :math:`\\int f^2<\\infty` for each component.

        Then, by Cauchy–Schwarz, every product integral is finite.
        """
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
        """Optional hook; generic: :meth:`_log_product_integral` of the indexed components."""
        return self._log_product_integral(self.take(params, ia), self.take(params, ib))

    # ------------------------------------------------------------------ theory derivatives (deprecated here)
    def log_partition_hessian(self, theta: Any) -> np.ndarray:
        """Deprecated: use :func:`mixagg.theory.derivatives.log_partition_hessian`."""
        from ..theory import derivatives

        _deprecated(
            "family.log_partition_hessian(theta)", "mixagg.theory.derivatives.log_partition_hessian(family, theta)"
        )
        return derivatives.log_partition_hessian(self, theta)

    def natural_jacobian(self, params: Any) -> np.ndarray:
        """Deprecated: use :func:`mixagg.theory.derivatives.natural_jacobian`."""
        from ..theory import derivatives

        _deprecated("family.natural_jacobian(params)", "mixagg.theory.derivatives.natural_jacobian(family, params)")
        return derivatives.natural_jacobian(self, params)

    def product_integral_derivatives(self, params_a: Any, params_b: Any):
        """Deprecated: use :func:`mixagg.theory.derivatives.product_integral_derivatives`."""
        from ..theory import derivatives

        _deprecated(
            "family.product_integral_derivatives(pa, pb)",
            "mixagg.theory.derivatives.product_integral_derivatives(family, pa, pb)",
        )
        return derivatives.product_integral_derivatives(self, params_a, params_b)

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
        """The :math:`D_1` cost between components used by the :math:`W_1` metric ([J] App. C.2)."""
        pa, pb = self.check_pair(params_a, params_b)
        return self._ground_distance(pa, pb)

    def random_params(self, size: int | tuple[int, ...] = 1, rng: Any = None) -> Params:
        """Random, well-conditioned parameters for tests and :func:`check_family`."""
        if np.ndim(size) == 0:
            size_t: tuple[int, ...] = (check_int(size, "size", minimum=1),)
        else:
            size_t = tuple(check_int(s, "size", minimum=1) for s in size)
        return self.check_params(self._random_params(size_t, as_generator(rng)))

    def mean(self, params: Any) -> np.ndarray:
        """Mean :math:`E X` of each component, shape ``(*batch, *event_shape)``.

        Available when the family defines the optional hook ``_mean``; ``NotImplementedError`` otherwise.
        """
        return self._mean(self.check_params(params))

    def cov(self, params: Any) -> np.ndarray:
        """Covariance of :math:`X` (variance for scalar families), shape ``(*batch, *event_shape, *event_shape)``.

        Available when the family defines the optional hook ``_cov``; ``NotImplementedError`` otherwise.
        """
        return self._cov(self.check_params(params))

    def has_moments(self) -> bool:
        """Whether the family defines the optional moment hooks ``_mean`` and ``_cov``."""
        base = DerivedOperations
        return type(self)._mean is not base._mean and type(self)._cov is not base._cov

    def _mean(self, params: Params) -> np.ndarray:
        raise NotImplementedError(f"{self!r} does not define the optional hook _mean (the mean of X)")

    def _cov(self, params: Params) -> np.ndarray:
        raise NotImplementedError(f"{self!r} does not define the optional hook _cov (the covariance of X)")
