"""How a family checks what users pass: parameters, observations, coordinates and masses.

Public methods of :class:`~mixagg.families.core.ExponentialFamily` validate their input with
these before calling the hooks; they raise ``TypeError`` for a wrong type and ``ValueError`` for
a wrong value, naming the argument (``docs/family_contract.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validation import as_float_array, check_masses
from .derived import Params

__all__ = ["InputChecks"]


class InputChecks:
    """Input checking of a family (a mixin of :class:`~mixagg.families.core.ExponentialFamily`)."""

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
            raise ValueError(
                f"the batch shapes of {name} do not broadcast: {dict(zip(self.param_spec, batches))}"
            ) from exc
        return {k: np.broadcast_to(v, batch + self.param_spec[k].shape) for k, v in arrays.items()}

    def _canonical(self, params: Params) -> Params:
        """Optional hook: bring valid params to canonical form (e.g. symmetrise a covariance)."""
        return params

    def _coerce_shapes(self, arrays: Params) -> Params:
        """Optional hook: accept convenient shapes before the shape check.

        For example, plain vectors for a univariate Gaussian.
        """
        return arrays

    def _invalid_params(self) -> list[Params]:
        """Hook for :func:`check_family`: parameter mappings outside the parameter space.

        Each must be rejected by :meth:`validate`; the conformance suite fails a
        family that provides none.
        """
        return []

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

    def _check_broadcast(self, *named_shapes: tuple[str, tuple[int, ...]]) -> None:
        """Raise a ``ValueError`` naming the arguments whose batch shapes do not broadcast."""
        try:
            np.broadcast_shapes(*(shape for _, shape in named_shapes))
        except ValueError:
            desc = ", ".join(f"{n} {shape}" for n, shape in named_shapes)
            raise ValueError(f"batch shapes do not broadcast: {desc}") from None

    def check_pair(self, params_a: Any, params_b: Any) -> tuple[Params, Params]:
        """Validate two parameter mappings whose batch shapes broadcast against each other."""
        pa = self.check_params(params_a, "params_a")
        pb = self.check_params(params_b, "params_b")
        self._check_broadcast(("params_a", self.batch_shape(pa)), ("params_b", self.batch_shape(pb)))
        return pa, pb

    @staticmethod
    def check_masses(weights: Any, n: int, name: str = "weights") -> np.ndarray:
        """Validate masses ``(..., n)``: non-negative, every row with a positive sum."""
        return check_masses(weights, name, n, batched=True)

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
