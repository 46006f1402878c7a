"""``MixingDistribution``: a frozen finite mixture of one exponential family."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.special import logsumexp

from . import _ot
from ._validation import as_generator, as_index_array, check_int, check_weights
from .families.core import ExponentialFamily
from .families.registry import resolve_family

__all__ = ["MixingDistribution", "as_mixture", "as_mixture_list"]

_ALIGN_COSTS = ("params", "d1")


def tying(family: ExponentialFamily, n_components: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The free coordinates of a mixture whose components share part of their parameters (a tied structure).

    The full vector is :math:`(w_1..w_{K-1},v_1..v_K)`; when ``family.shared_positions`` is not empty, the free vector
    keeps all of :math:`v_1` and the unshared parts of :math:`v_2..v_K`. Returns ``(free, L)``: the positions
    of the free coordinates in the full vector, and the matrix ``L`` with full = ``L @ free``, so that a
    Hessian or a Fisher information in the full vector becomes :math:`L^\top HL` in the free one
    (``docs/covariance.md``, "Tied structures"). ``(None, None)`` when nothing is shared.
    """
    shared = family.shared_positions
    if shared.size == 0 or n_components == 1:
        return None, None
    q = family.n_params
    k = n_components
    in_comp = np.zeros(q, dtype=bool)
    in_comp[shared] = True
    full_size = k - 1 + k * q
    comp = np.full(full_size, -1)
    comp[k - 1 :] = np.repeat(np.arange(k), q)
    offset = np.zeros(full_size, dtype=int)
    offset[k - 1 :] = np.tile(np.arange(q), k)
    is_copy = (comp > 0) & in_comp[offset]
    free = np.flatnonzero(~is_copy)
    column = np.full(full_size, -1)
    column[free] = np.arange(free.size)
    source = np.where(is_copy, k - 1 + offset, np.arange(full_size))  # a copy reads the first component's entry
    matrix = np.zeros((full_size, free.size))
    matrix[np.arange(full_size), column[source]] = 1.0
    return free, matrix


def _readonly(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


class MixingDistribution:
    r"""A finite mixture :math:`f_G(x)=\sum_k w_k f(x;\theta_k)`, stored by its mixing distribution.

    Immutable (SciPy frozen-distribution style): validated once at construction,
    arrays are read-only, and every method takes only the data.

    Parameters
    ----------
    family : ExponentialFamily, str or mapping
        The component family: an instance (``Gaussian(d=2)``), a registered
        name (settings such as ``d`` are inferred from ``params``), or
        ``{"name": "gaussian", "d": 2}``.
    weights : array-like of shape (n_components,)
        Non-negative, summing to one within 1e-8 (then renormalised exactly).
    params : mapping of str to array-like
        Standard parameters of the family with a leading component axis, e.g.
        ``{"mean": (K, d), "cov": (K, d, d)}``. For a single component the
        component axis may be omitted.

    Raises
    ------
    ValueError
        Invalid weights, shapes, or parameters outside the family's parameter
        space (the message names the argument, the component and the problem).
    TypeError
        Non-numeric input or an unknown kind of ``family``.

    Notes
    -----
    The order of components carries no meaning ([J] Def. 3.1, Remark 3.1);
    equality (``==``) is exact and order-sensitive, while :meth:`vectorize`
    and :meth:`permutation_to` align components explicitly ([J] eq. (5); ``docs/aggregation.md``, "Alignments").

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> G = ma.MixingDistribution("gaussian", [0.4, 0.6],
    ...                           {"mean": [[0.0], [3.0]], "cov": [[[1.0]], [[0.5]]]})
    >>> G.n_components
    2
    >>> x = G.sample(5, rng=0)
    >>> x.shape
    (5, 1)
    >>> bool(np.all(np.isclose(G.pdf(x), np.exp(G.logpdf(x)))))
    True
    """

    __slots__ = ("_family", "_weights", "_params")

    def __init__(self, family: Any, weights: Any, params: Mapping[str, Any]):
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter arrays, got {type(params).__name__}")
        fam = resolve_family(family, params)
        w = check_weights(weights, "weights")
        k = w.shape[0]
        checked = fam.check_params(params, "params")
        batch = fam.batch_shape(checked)
        if batch == () and k == 1:
            checked = fam.expand(checked, 0)
            batch = (1,)
        if batch != (k,):
            raise ValueError(
                f"params must have one leading component axis of length {k} (= len(weights)); "
                f"got batch shape {batch} for {fam!r}"
            )
        joint = fam._mixture_problems(checked)
        if joint:
            raise ValueError(f"invalid params for {fam!r}: {joint[0]}")
        object.__setattr__(self, "_family", fam)
        object.__setattr__(self, "_weights", _readonly(w))
        object.__setattr__(self, "_params", MappingProxyType({key: _readonly(v) for key, v in checked.items()}))

    @classmethod
    def _trusted(
        cls, family: ExponentialFamily, weights: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> MixingDistribution:
        """Build without validation from arrays already produced by validated code."""
        obj = cls.__new__(cls)
        object.__setattr__(obj, "_family", family)
        object.__setattr__(obj, "_weights", _readonly(weights))
        object.__setattr__(obj, "_params", MappingProxyType({k: _readonly(v) for k, v in params.items()}))
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("MixingDistribution is immutable; build a new one instead")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("MixingDistribution is immutable")

    def __reduce__(self):
        return (
            _rebuild,
            (self._family.to_dict(), np.array(self._weights), {k: np.array(v) for k, v in self._params.items()}),
        )

    # ------------------------------------------------------------------ attributes
    @property
    def family(self) -> ExponentialFamily:
        """The component family."""
        return self._family

    @property
    def weights(self) -> np.ndarray:
        """Mixing weights, shape ``(n_components,)`` (read-only)."""
        return self._weights

    @property
    def params(self) -> Mapping[str, np.ndarray]:
        """Standard component parameters with a leading component axis (read-only)."""
        return self._params

    @property
    def n_components(self) -> int:
        """Number of components :math:`K` (atoms of the mixing distribution)."""
        return int(self._weights.shape[0])

    @property
    def n_features(self) -> int:
        """Number of coordinates of one observation."""
        return self._family.n_features

    def component(self, k: int) -> dict[str, np.ndarray]:
        """Standard parameters of component ``k``."""
        k = check_int(k, "k", minimum=-self.n_components, maximum=self.n_components - 1)
        return {key: np.array(v[k]) for key, v in self._params.items()}

    # ------------------------------------------------------------------ densities
    def _log_joint(self, x: Any) -> np.ndarray:
        """``log w_k + log f(x; theta_k)``, shape ``(*x_batch, n_components)``."""
        xa = self._family.check_x(x)
        nd = len(self._family.event_shape)
        xb = xa[(..., None) + (slice(None),) * nd]
        with np.errstate(divide="ignore"):
            logw = np.log(self._weights)
        return self._family.unchecked.logpdf(xb, dict(self._params)) + logw

    def logpdf(self, x: Any) -> np.ndarray:
        """Log-density of the mixture (log-sum-exp over components).

        Parameters
        ----------
        x : array-like of shape (..., *event_shape)

        Returns
        -------
        numpy.ndarray of shape ``x.shape[:-len(event_shape)]``
        """
        return logsumexp(self._log_joint(x), axis=-1)

    def pdf(self, x: Any) -> np.ndarray:
        """Density of the mixture: ``exp(logpdf(x))``."""
        return np.exp(self.logpdf(x))

    def _log_joint_in_support(self, x: Any) -> np.ndarray:
        """:meth:`_log_joint`, raising for observations no component can produce (posterior undefined)."""
        lj = self._log_joint(x)
        impossible = np.all(np.isneginf(lj), axis=-1)
        if np.any(impossible):
            idx = [int(i) for i in np.argwhere(impossible)[0]]
            raise ValueError(
                f"x{idx} has density 0 under every component (outside the support of {self._family!r}), "
                f"so its component posterior is undefined; {int(np.count_nonzero(impossible))} such observation(s)"
            )
        return lj

    def log_responsibilities(self, x: Any) -> np.ndarray:
        """Log posterior component probabilities, shape ``(*x_batch, n_components)`` ([J] eq. (14)).

        Raises
        ------
        ValueError
            For observations outside the support of every component.
        """
        lj = self._log_joint_in_support(x)
        return lj - logsumexp(lj, axis=-1, keepdims=True)

    def responsibilities(self, x: Any) -> np.ndarray:
        """Posterior component probabilities :math:`\\tau_k(x)`, rows summing to one."""
        return np.exp(self.log_responsibilities(x))

    def predict(self, x: Any) -> np.ndarray:
        """MAP component :math:`\\arg\\max_k w_kf(x;\\theta_k)` (``docs/distances.md``, "ARI"), integer labels.

        Raises ``ValueError`` for observations outside the support of every component.
        """
        return np.argmax(self._log_joint_in_support(x), axis=-1)

    # ------------------------------------------------------------------ sampling, moments
    def sample_with_labels(self, n: int, rng: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` observations and the components they came from.

        Returns
        -------
        x : ndarray of shape (n, *event_shape)
        labels : ndarray of int, shape (n,)
        """
        n = check_int(n, "n", minimum=0)
        gen = as_generator(rng)
        labels = gen.choice(self.n_components, size=n, p=self._weights)
        x = np.empty((n,) + self._family.event_shape)
        params = dict(self._params)
        for k in range(self.n_components):  # one batched draw per component (factorised once)
            where = np.flatnonzero(labels == k)
            if where.size:
                x[where] = self._family.unchecked.sample(self._family.take(params, k), (where.size,), gen)
        return x, labels

    def sample(self, n: int, rng: Any = None) -> np.ndarray:
        """Draw ``n`` observations, shape ``(n, *event_shape)``."""
        return self.sample_with_labels(n, rng)[0]

    rvs = sample

    def mean(self) -> np.ndarray:
        """Mean of the mixture, :math:`\\sum_kw_kE_kX`."""
        return np.tensordot(self._weights, self._family.unchecked.mean(dict(self._params)), axes=1)

    def cov(self) -> np.ndarray:
        """Covariance (variance for scalar families) of the mixture (law of total variance)."""
        means = self._family.unchecked.mean(dict(self._params))
        covs = self._family.unchecked.cov(dict(self._params))
        mu = np.tensordot(self._weights, means, axes=1)
        diff = means - mu
        if diff.ndim == 1:
            return float(np.dot(self._weights, covs + diff**2))
        within = np.tensordot(self._weights, covs, axes=1)
        between = np.einsum("k,ki,kj->ij", self._weights, diff, diff)
        return within + between

    # ------------------------------------------------------------------ alignment, vectors
    def permute(self, permutation: Any) -> MixingDistribution:
        """The same mixture with components reordered: new component ``j`` is old ``permutation[j]``."""
        perm = as_index_array(permutation, "permutation")
        if perm.shape != (self.n_components,) or not np.array_equal(np.sort(perm), np.arange(self.n_components)):
            raise ValueError(f"permutation must be a permutation of range({self.n_components}), got {permutation!r}")
        return MixingDistribution._trusted(
            self._family, self._weights[perm], {k: v[perm] for k, v in self._params.items()}
        )

    def permutation_to(self, reference: MixingDistribution, *, cost: str = "params") -> np.ndarray:
        """Permutation aligning this mixture's components to ``reference``.

        See [J] eq. (5) and ``docs/aggregation.md``, "Alignments".

        Solves :math:`\\min_\\sigma\\sum_j C_{\\sigma(j)j}` exactly with the Hungarian
        algorithm, where ``cost="params"`` uses
        :math:`C_{kj}=(w_k-w^{\\rm ref}_j)^2+\\lVert v_k-v^{\\rm ref}_j\\rVert^2` on the
        standard parameter vectors, and ``cost="d1"`` uses the :math:`W_1` ground
        cost :math:`D_1` of the family (for badly scaled parameters).

        Returns
        -------
        ndarray of int, shape (n_components,)
            ``perm`` such that ``self.permute(perm)`` is aligned with ``reference``.
        """
        ref = self._check_same_family(reference, "reference")
        if ref.n_components != self.n_components:
            raise ValueError(f"reference has {ref.n_components} components but this mixture has {self.n_components}")
        if cost not in _ALIGN_COSTS:
            raise ValueError(f"cost must be one of {_ALIGN_COSTS}, got {cost!r}")
        fam = self._family
        if cost == "params":
            v = fam.params_to_vector(dict(self._params))
            vr = fam.params_to_vector(dict(ref.params))
            c = (self._weights[:, None] - ref.weights[None, :]) ** 2 + np.sum((v[:, None] - vr[None]) ** 2, axis=-1)
        else:
            c = fam.unchecked.ground_distance(fam.expand(dict(self._params), 1), fam.expand(dict(ref.params), 0))
        rows, cols = _ot.assignment(c)
        perm = np.empty(self.n_components, dtype=np.intp)
        perm[cols] = rows
        return perm

    def vectorize(self, reference: MixingDistribution | None = None, *, cost: str = "params") -> np.ndarray:
        """Parameter vector :math:`(w_1..w_{K-1},\\theta_1..\\theta_K)`.

        See [J] §3.3.1 and ``docs/theory.md``, "Parameter vector".

        The last weight is dropped (it is determined by the others); symmetric
        matrices enter through ``vech``; a part the components share (a tied covariance,
        ``family.shared_positions``) enters once, with the first component. With ``reference``, components are first
        aligned to it by :meth:`permutation_to`.

        Returns
        -------
        ndarray of shape ((K - 1) + K * n_params,), less the repeated shared parts
        """
        g = self if reference is None else self.permute(self.permutation_to(reference, cost=cost))
        vec = self._family.params_to_vector(dict(g.params))
        full = np.concatenate([g.weights[:-1], vec.reshape(-1)])
        free, _ = tying(self._family, self.n_components)
        return full if free is None else full[free]

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (lists and floats), R-friendly through reticulate.

        ``{"family": {"name": ..., **settings}, "weights": [...], "params": {name: nested lists}}``;
        :meth:`from_dict` inverts it exactly.
        """
        return {
            "family": self._family.to_dict(),
            "weights": self._weights.tolist(),
            "params": {k: v.tolist() for k, v in self._params.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MixingDistribution:
        """Build from the output of :meth:`to_dict` (or an R named list of the same shape)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("family", "weights", "params") if k not in data]
        if missing:
            raise ValueError(f"data is missing the entries {missing}")
        return cls(data["family"], data["weights"], data["params"])

    @classmethod
    def from_sklearn(cls, estimator: Any) -> MixingDistribution:
        """Convert a fitted :class:`sklearn.mixture.GaussianMixture` (any ``covariance_type``).

        Raises
        ------
        ValueError
            If the estimator is not fitted.
        TypeError
            If it does not look like a Gaussian mixture estimator.
        """
        if not (hasattr(estimator, "covariance_type") and hasattr(estimator, "n_components")):
            raise TypeError(f"estimator must be a sklearn GaussianMixture-like object, got {type(estimator).__name__}")
        if not hasattr(estimator, "means_"):
            raise ValueError("estimator is not fitted: call estimator.fit(X) first")
        means = np.asarray(estimator.means_, dtype=float)
        k, d = means.shape
        cov = np.asarray(estimator.covariances_, dtype=float)
        kind = estimator.covariance_type
        if kind == "full":
            covs = cov
        elif kind == "tied":
            covs = np.broadcast_to(cov, (k, d, d))
        elif kind == "diag":
            covs = cov[:, :, None] * np.eye(d)
        elif kind == "spherical":
            covs = cov[:, None, None] * np.eye(d)
        else:
            raise ValueError(f"unsupported covariance_type {kind!r}")
        return cls(resolve_family("gaussian", {"mean": means}), estimator.weights_, {"mean": means, "cov": covs})

    # ------------------------------------------------------------------ validation, dunder
    def validate(self) -> list[str]:
        """Re-check weights and parameters; the list of problems (empty when valid)."""
        problems = []
        w = self._weights
        if not np.all(np.isfinite(w)) or np.any(w < 0) or abs(float(w.sum()) - 1.0) > 1e-8:
            problems.append("weights are not a probability vector")
        problems.extend(self._family.validate(dict(self._params)))
        problems.extend(self._family._mixture_problems(dict(self._params)))
        return problems

    def _check_same_family(self, other: Any, name: str) -> MixingDistribution:
        if not isinstance(other, MixingDistribution):
            raise TypeError(f"{name} must be a MixingDistribution, got {type(other).__name__}")
        if other.family != self._family:
            raise ValueError(f"{name} has family {other.family!r} but this mixture has {self._family!r}")
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MixingDistribution):
            return NotImplemented
        return (
            self._family == other._family
            and np.array_equal(self._weights, other._weights)
            and all(np.array_equal(v, other._params[k]) for k, v in self._params.items())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        with np.printoptions(precision=4, suppress=True, threshold=20, edgeitems=2):
            parts = [f"family={self._family!r}", f"weights={np.array2string(self._weights, separator=', ')}"]
            for key, v in self._params.items():
                if v.size <= 12:
                    parts.append(f"{key}={np.array2string(v, separator=', ')}".replace("\n", ""))
                else:
                    parts.append(f"{key}=<array {'x'.join(map(str, v.shape))}>")
        return "MixingDistribution(" + ", ".join(parts) + ")"


def _rebuild(family: dict, weights: np.ndarray, params: dict) -> MixingDistribution:
    """Pickle support for trusted, in-process copies (e.g. multiprocessing); never for untrusted data."""
    return MixingDistribution(family, weights, params)


def as_mixture(obj: Any, name: str = "mixture") -> MixingDistribution:
    """Accept a :class:`MixingDistribution` or its :meth:`~MixingDistribution.to_dict` form (R named list)."""
    if isinstance(obj, MixingDistribution):
        return obj
    if isinstance(obj, Mapping):
        try:
            return MixingDistribution.from_dict(obj)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: {exc}") from exc
    raise TypeError(
        f"{name} must be a MixingDistribution or a dict from MixingDistribution.to_dict(), got {type(obj).__name__}"
    )


def as_mixture_list(mixtures: Any, name: str = "mixtures") -> list[MixingDistribution]:
    """A non-empty list of mixtures of one family, from mixtures or their dict forms (R lists of named lists).

    Raises
    ------
    TypeError
        A single mixture instead of a sequence, or an entry that is not a mixture.
    ValueError
        An empty sequence, or mixtures of different families (the message names the first offender).
    """
    if isinstance(mixtures, (MixingDistribution, Mapping)):
        raise TypeError(f"{name} must be a sequence of mixtures, not a single mixture")
    items = [as_mixture(g, f"{name}[{i}]") for i, g in enumerate(mixtures)]
    if not items:
        raise ValueError(f"{name} must contain at least one mixture")
    family = items[0].family
    for i, g in enumerate(items[1:], start=1):
        if g.family != family:
            raise ValueError(
                f"{name}[{i}] has family {g.family!r} but {name}[0] has {family!r}; they must share one family"
            )
    return items
