"""What the adaptive attacks share: the aligned parameter space, cross distances, the filter check, line searches.

An adaptive attacker works on the honest estimates as points of one real vector space: each
estimate's components are matched to those of a reference estimate, then its weights and
parameters are mapped to unconstrained coordinates, where means, standard deviations and
straight lines make sense; the inverse map turns any vector back into a valid mixture
(``docs/attacks.md``, "The aligned parameter space"). Whether a crafted estimate survives a rule
is decided by running the rule itself on the corrupted set (``docs/attacks.md``, "Passing the filter").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import special
from scipy.special import logsumexp

from .. import _ot
from .._validation import as_index_array
from ..distances import _check_integrable, _combine, _stack
from ..distances import l2_distance_matrix as _l2_distance_matrix
from ..families.core import ExponentialFamily
from ..mixture import MixingDistribution, as_mixture, as_mixture_list

__all__ = ["SEARCH_LIMIT", "AlignedSpace", "AttackWarning", "cross_distances", "passes_filter"]

#: Upper end of every line search of the adaptive attacks (``z``, ``epsilon``, steps, ``gamma``).
SEARCH_LIMIT = 1e3
#: The floor of a weight before its logarithm is taken (a weight of exactly 0 maps to log(tiny)).
_TINY = np.finfo(float).tiny
#: The gap between 1 and the largest double below it: probabilities decoded from logits stay below 1.
_EPSNEG = float(np.finfo(float).epsneg)
#: How each kind of standard parameter is mapped to the real line.
COORDINATE_KINDS = ("log-cholesky", "log", "identity")


class AttackWarning(UserWarning):
    """An adaptive attack could not do what it was asked, e.g. no point of its family passes the rule's filter."""


# ---------------------------------------------------------------------------------------------- the space
def _must_be_positive(family: ExponentialFamily, reference: MixingDistribution, key: str) -> bool:
    """Whether the family refuses 0 and -1 for the parameter ``key`` (then it is mapped by its log).

    An array parameter (the variances of a diagonal Gaussian) must also accept twice the reference's value, so
    that a bounded one (Bernoulli probabilities) stays as it is."""
    probe = {k: np.array(v[0]) for k, v in reference.params.items()}
    shape = np.shape(probe[key])
    if shape:
        trial = dict(probe)
        trial[key] = 2.0 * probe[key]
        try:
            if family.validate(trial):
                return False
        except (TypeError, ValueError, ArithmeticError):
            return False
    for bad in (0.0, -1.0):
        trial = dict(probe)
        trial[key] = np.full(shape, bad)
        try:
            problems = family.validate(trial)
        except (TypeError, ValueError, ArithmeticError):
            problems = ["refused"]
        if not problems:
            return False
    return True


def _accepts(family: ExponentialFamily, reference: MixingDistribution, key: str, value: np.ndarray) -> bool:
    """Whether the family accepts ``value`` for ``key`` with the reference's first component elsewhere."""
    trial = {k: np.array(v[0]) for k, v in reference.params.items()}
    trial[key] = value
    try:
        return not family.validate(trial)
    except (TypeError, ValueError, ArithmeticError):
        return False


def _is_probability(family: ExponentialFamily, reference: MixingDistribution, key: str) -> bool:
    """Probabilities in the open interval (0, 1), entry by entry (Bernoulli's ``p``): mapped by their logits."""
    shape = np.shape(reference.params[key][0])
    return (
        not _accepts(family, reference, key, np.zeros(shape))
        and not _accepts(family, reference, key, np.ones(shape))
        and _accepts(family, reference, key, np.full(shape, 0.5))
    )


def _simplex_support(family: ExponentialFamily, reference: MixingDistribution, key: str) -> np.ndarray | None:
    """The support of probability vectors along the last axis (Categorical's ``probs``, zero beyond each feature's
    levels), read off the reference; ``None`` when ``key`` holds no such vectors."""
    value = np.asarray(reference.params[key], dtype=float)
    if value.ndim < 2 or value.shape[-1] < 2 or np.any(value < 0):
        return None
    if not np.allclose(value.sum(axis=-1), 1.0, rtol=0, atol=1e-8):
        return None
    support = value[0] > 0
    if not np.all(support.sum(axis=-1) >= 2) or not np.all((value > 0) == support):
        return None
    uniform = support / support.sum(axis=-1, keepdims=True)
    if not _accepts(family, reference, key, uniform) or _accepts(family, reference, key, 0.5 * uniform):
        return None  # vectors that must sum to one (Bernoulli columns that happen to, or a mean, need not)
    return support


class AlignedSpace:
    """Mixtures of one family and order :math:`K`, aligned to a reference, as unconstrained real vectors.

    The components of a mixture are first matched to those of ``reference`` by the assignment of
    minimum total :math:`\\mathrm{KL}(f_k\\Vert f^{\\rm ref}_j)` (the Hungarian algorithm, as the
    aggregation's alignments). The aligned mixture is then the vector

    * the additive log-ratios :math:`\\log(w_k/w_K)`, :math:`k<K` (a weight of exactly 0 is floored
      at the smallest positive double);
    * per component, in the order of ``family.param_spec``: a symmetric matrix parameter (a
      covariance) by the logarithms of the diagonal of its Cholesky factor followed by the factor's
      entries below the diagonal (row by row); a parameter the family refuses at 0 and
      :math:`-1` (a rate, scale or shape, the variances of a diagonal Gaussian) by its logarithm; probabilities
      in (0, 1) (Bernoulli's ``p``) by their logits; probability vectors along the last axis (Categorical's
      ``probs``) by the log-ratios of their levels to the last one, on the support the reference shows (zero
      beyond each feature's levels); any other parameter (a mean) as it is. A parameter the components
      share (a tied covariance) maps back to the average over the components, so every vector stays in the
      tied structure.

    Every vector maps back to a mixture whose covariances are positive definite and whose
    positive parameters are positive (:meth:`from_vectors`), so attacks built in this space pass
    the family's validation. ``docs/attacks.md``, "The aligned parameter space".

    Parameters
    ----------
    reference : MixingDistribution
        The estimate the others are aligned to (the attacks use the COAT of the honest estimates).

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> G = ma.MixingDistribution("poisson", [0.25, 0.75], {"rate": [2.0, 8.0]})
    >>> H = ma.MixingDistribution("poisson", [0.7, 0.3], {"rate": [9.0, 1.5]})
    >>> space = ma.attacks.AlignedSpace(G)
    >>> space.labels
    ('log(w0/w1)', 'log rate[0]', 'log rate[1]')
    >>> v = space.to_vectors([H])  # H's components swapped to match G's
    >>> np.round(np.exp(v[0, 1:]), 6).tolist()
    [1.5, 9.0]
    >>> back = space.from_vectors(v)[0]  # the inverse map, to rounding
    >>> bool(np.allclose(back.weights, [0.3, 0.7]) and np.allclose(back.params["rate"], [1.5, 9.0]))
    True
    """

    __slots__ = ("_reference", "_kinds", "_sizes", "_supports")

    def __init__(self, reference: Any):
        ref = as_mixture(reference, "reference")
        family = ref.family
        kinds: dict[str, str] = {}
        sizes: dict[str, int] = {}
        supports: dict[str, np.ndarray] = {}
        for key, spec in family.param_spec.items():
            if spec.symmetric:
                d = spec.shape[-1]
                kinds[key] = "log-cholesky"
                sizes[key] = int(np.prod(spec.shape[:-2], dtype=int)) * d * (d + 1) // 2
                continue
            sizes[key] = int(np.prod(spec.shape, dtype=int))
            support = _simplex_support(family, ref, key)
            if support is not None:
                kinds[key] = "log-ratio"
                supports[key] = support
                sizes[key] = int(support.sum() - np.prod(support.shape[:-1], dtype=int))
            elif _is_probability(family, ref, key):
                kinds[key] = "logit"
            else:
                kinds[key] = "log" if _must_be_positive(family, ref, key) else "identity"
        self._reference = ref
        self._kinds = kinds
        self._sizes = sizes
        self._supports = supports

    def __repr__(self) -> str:
        return f"AlignedSpace({self.family!r}, K={self.n_components}, dim={self.dim})"

    @classmethod
    def of(cls, estimates: Sequence[Any], *, distances: Any = None) -> AlignedSpace:
        """The space aligned to the COAT of ``estimates`` (their majority-radius centre, [J] eq. (10)).

        ``distances``: their precomputed :func:`~mixagg.l2_distance_matrix`.
        """
        from ..robust.coat import coat_radius

        items = as_mixture_list(estimates, "estimates")
        d = _l2_distance_matrix(items) if distances is None else np.asarray(distances, dtype=float)
        return cls(items[coat_radius(d)[0]])

    # ------------------------------------------------------------------ attributes
    @property
    def reference(self) -> MixingDistribution:
        """The estimate every mixture is aligned to."""
        return self._reference

    @property
    def family(self) -> ExponentialFamily:
        return self._reference.family

    @property
    def n_components(self) -> int:
        return self._reference.n_components

    @property
    def kinds(self) -> dict[str, str]:
        """How each standard parameter is mapped: ``"log-cholesky"``, ``"log"``, ``"logit"``, ``"log-ratio"`` or
        ``"identity"``."""
        return dict(self._kinds)

    @property
    def dim(self) -> int:
        """Length of the vectors: :math:`K-1` log-ratios and :math:`K` times the coordinates of one component."""
        return self.n_components - 1 + self.n_components * sum(self._sizes.values())

    @property
    def labels(self) -> tuple[str, ...]:
        """The name of every coordinate, e.g. ``"log(w0/w1)"``, ``"mean[1][0]"``, ``"log chol(cov)[0][1,1]"``."""
        k_last = self.n_components - 1
        out = [f"log(w{k}/w{k_last})" for k in range(k_last)]
        spec = self.family.param_spec
        for k in range(self.n_components):
            for key, kind in self._kinds.items():
                shape = spec[key].shape
                if kind == "log-cholesky":
                    d = shape[-1]
                    rows, cols = np.tril_indices(d, -1)
                    for lead in np.ndindex(*shape[:-2]):
                        prefix = f"{key}[{k}]" + "".join(f"[{i}]" for i in lead)
                        out += [f"log chol({prefix})[{i},{i}]" for i in range(d)]
                        out += [f"chol({prefix})[{i},{j}]" for i, j in zip(rows, cols)]
                elif kind == "log-ratio":
                    for row in np.ndindex(*shape[:-1]):
                        levels = np.flatnonzero(self._supports[key][row])
                        name = f"{key}[{k}]" + "".join(f"[{i}]" for i in row)
                        out += [f"log({name}[{j}]/{name}[{levels[-1]}])" for j in levels[:-1]]
                else:
                    prefix = {"log": "log ", "logit": "logit "}.get(kind, "")
                    out += [f"{prefix}{key}[{k}]" + "".join(f"[{i}]" for i in index) for index in np.ndindex(*shape)]
        return tuple(out)

    # ------------------------------------------------------------------ alignment
    def _check(self, mixtures: Any, name: str) -> list[MixingDistribution]:
        items = as_mixture_list(mixtures, name)
        for i, g in enumerate(items):
            if g.family != self.family:
                raise ValueError(f"{name}[{i}] has family {g.family!r}, the space is of {self.family!r}")
            if g.n_components != self.n_components:
                raise ValueError(f"{name}[{i}] has {g.n_components} components, the space has {self.n_components}")
        return items

    def permutations(self, mixtures: Sequence[Any]) -> np.ndarray:
        """For each mixture, the permutation aligning it to the reference: ``(m, K)`` integers.

        ``mixtures[i].permute(out[i])`` has its component ``j`` matched to the reference's component ``j``.
        """
        items = self._check(mixtures, "mixtures")
        fam = self.family
        k = self.n_components
        stacked = {key: np.stack([np.asarray(g.params[key]) for g in items]) for key in fam.param_spec}
        ref = dict(self._reference.params)
        cost = fam.unchecked.kl_divergence(fam.expand(stacked, 2), ref)  # (m, K, K): KL(component k || reference j)
        out = np.empty((len(items), k), dtype=np.intp)
        for i in range(len(items)):  # one small assignment problem per mixture
            rows, cols = _ot.assignment(cost[i].T)
            out[i, rows] = cols
        return out

    def align(self, mixtures: Sequence[Any]) -> list[MixingDistribution]:
        """The mixtures with their components reordered to match the reference's."""
        items = self._check(mixtures, "mixtures")
        return [g.permute(p) for g, p in zip(items, self.permutations(items))]

    # ------------------------------------------------------------------ the maps
    def to_vectors(self, mixtures: Sequence[Any], *, align: bool = True) -> np.ndarray:
        """The aligned vectors of ``mixtures``, shape ``(m, dim)``.

        ``align=False`` takes the components in the order given (already aligned).
        """
        items = self._check(mixtures, "mixtures")
        fam = self.family
        m, k = len(items), self.n_components
        weights = np.stack([g.weights for g in items])
        params = {key: np.stack([np.asarray(g.params[key]) for g in items]) for key in fam.param_spec}
        if align:
            perm = self.permutations(items)
            rows = np.arange(m)[:, None]
            weights = weights[rows, perm]
            params = {key: v[rows, perm] for key, v in params.items()}
        logw = np.log(np.maximum(weights, _TINY))
        parts = []
        for key, kind in self._kinds.items():
            arr = params[key]
            if kind == "log-cholesky":
                try:
                    chol = np.linalg.cholesky(arr)
                except np.linalg.LinAlgError:
                    raise ValueError(
                        f"the aligned parameter space maps {key!r} of {fam!r} by its Cholesky factor, but some "
                        f"{key!r} is not positive definite"
                    ) from None
                d = arr.shape[-1]
                r, c = np.tril_indices(d, -1)
                diag = np.log(chol[..., np.arange(d), np.arange(d)])
                parts.append(np.concatenate([diag, chol[..., r, c]], axis=-1).reshape(m, k, -1))
            elif kind == "log":
                parts.append(np.log(arr).reshape(m, k, -1))
            elif kind == "logit":
                parts.append(special.logit(arr).reshape(m, k, -1))
            elif kind == "log-ratio":
                parts.append(self._log_ratios(key, arr).reshape(m, k, -1))
            else:
                parts.append(arr.reshape(m, k, -1))
        comps = np.concatenate(parts, axis=-1).reshape(m, -1)
        return np.concatenate([logw[:, :-1] - logw[:, -1:], comps], axis=1)

    def _decode(self, vectors: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Weights ``(n, K)`` and standard parameters ``(n, K, ...)`` of vectors ``(n, dim)``, unchecked."""
        fam = self.family
        n, k = vectors.shape[0], self.n_components
        z = np.concatenate([vectors[:, : k - 1], np.zeros((n, 1))], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            e = np.exp(z)
        weights = e / e.sum(axis=1, keepdims=True)
        comps = vectors[:, k - 1 :].reshape(n, k, -1)
        params: dict[str, np.ndarray] = {}
        start = 0
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            for key, kind in self._kinds.items():
                block = comps[..., start : start + self._sizes[key]]
                start += self._sizes[key]
                shape = fam.param_spec[key].shape
                if kind == "log-cholesky":
                    d = shape[-1]
                    block = block.reshape((n, k, *shape[:-2], d * (d + 1) // 2))
                    r, c = np.tril_indices(d, -1)
                    chol = np.zeros((n, k, *shape[:-2], d, d))
                    chol[..., np.arange(d), np.arange(d)] = np.exp(block[..., :d])
                    chol[..., r, c] = block[..., d:]
                    full = chol @ np.swapaxes(chol, -1, -2)
                    params[key] = 0.5 * (full + np.swapaxes(full, -1, -2))
                elif kind == "log":
                    params[key] = np.exp(block.reshape((n, k, *shape)))
                elif kind == "logit":  # exactly 0 or 1 beyond |z| ~ 37: kept inside the open interval
                    params[key] = np.clip(special.expit(block.reshape((n, k, *shape))), _TINY, 1.0 - _EPSNEG)
                elif kind == "log-ratio":
                    params[key] = self._from_log_ratios(key, block)
                else:
                    params[key] = block.reshape((n, k, *shape))
                if key in fam.shared_params:  # a tied structure: the components' average, shared by all
                    params[key] = np.broadcast_to(params[key].mean(axis=1, keepdims=True), params[key].shape).copy()
        return weights, params

    def _log_ratios(self, key: str, probs: np.ndarray) -> np.ndarray:
        """Each probability vector on its support, as log-ratios to its last level: ``(..., n_free)``."""
        support = self._supports[key]
        base = support.shape[-1] - 1 - np.argmax(support[..., ::-1], axis=-1)  # each row's last level
        with np.errstate(divide="ignore"):
            logp = np.log(np.where(support, probs, 1.0))
        index = np.broadcast_to(base[..., None], logp.shape[:-1] + (1,))
        ratios = logp - np.take_along_axis(logp, index, axis=-1)
        keep = support.copy()
        np.put_along_axis(keep, base[..., None], False, axis=-1)
        return ratios[..., keep]

    def _from_log_ratios(self, key: str, block: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_log_ratios`: a softmax over each row's support, zero beyond it."""
        support = self._supports[key]
        base = support.shape[-1] - 1 - np.argmax(support[..., ::-1], axis=-1)
        keep = support.copy()
        np.put_along_axis(keep, base[..., None], False, axis=-1)
        lead = block.shape[:2]
        z = np.full(lead + support.shape, -np.inf)
        z[..., keep] = block
        z[..., support & ~keep] = 0.0
        z = z - z.max(axis=-1, keepdims=True)
        e = np.where(support, np.maximum(np.exp(z), _TINY), 0.0)  # no level of the support underflows to 0
        return e / e.sum(axis=-1, keepdims=True)

    def _vectors(self, vectors: Any) -> np.ndarray:
        v = np.asarray(vectors, dtype=float)
        if v.ndim == 1:
            v = v[None, :]
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ValueError(f"vectors must have shape (n, {self.dim}) (or ({self.dim},)), got {np.shape(vectors)}")
        return v

    def from_vectors(self, vectors: Any) -> list[MixingDistribution]:
        """The mixtures of aligned vectors ``(n, dim)`` (or one vector), validated.

        Raises
        ------
        ValueError
            A vector whose mixture leaves the parameter space in double precision (an overflowing
            exponential), or is not square integrable (no L2 distance to it exists); the message
            names the family.
        """
        v = self._vectors(vectors)
        out = []
        for i, g in enumerate(self._build(v)):
            if isinstance(g, str):
                raise ValueError(f"vector {i} does not map to a usable mixture of {self.family!r}: {g}")
            out.append(g)
        return out

    def try_from_vector(self, vector: Any) -> MixingDistribution | None:
        """The mixture of one aligned vector, or ``None`` when it is not a usable mixture (see :meth:`from_vectors`)."""
        g = self._build(self._vectors(vector))[0]
        return None if isinstance(g, str) else g

    def _build(self, v: np.ndarray) -> list[MixingDistribution | str]:
        """Mixtures of vectors, or for each unusable one the reason."""
        fam = self.family
        if not np.all(np.isfinite(v)):
            return ["the vector has non-finite coordinates"] * v.shape[0]
        weights, params = self._decode(v)
        out: list[MixingDistribution | str] = []
        for i in range(v.shape[0]):
            try:
                g = MixingDistribution(fam, weights[i], {key: arr[i] for key, arr in params.items()})
            except (TypeError, ValueError) as exc:
                out.append(str(exc))
                continue
            problem = usable_problem(g)
            out.append(g if problem is None else problem)
        return out


def usable_problem(g: MixingDistribution) -> str | None:
    """Why L2 distances to ``g`` cannot be computed (a component not square integrable, an overflowing norm)."""
    fam = g.family
    p = dict(g.params)
    if not np.all(fam.unchecked.pair_integrable(p, p)):
        return "a component is not square integrable, so no L2 distance to it exists"
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        norms = fam.unchecked.log_product_integral(p, p)
    if not np.all(np.isfinite(norms)):
        return "the L2 norm of a component is not finite in double precision"
    return None


# ---------------------------------------------------------------------------------------------- distances
def cross_distances(a: Sequence[MixingDistribution], b: Sequence[MixingDistribution]) -> np.ndarray:
    """L2 distances :math:`D(A_i,B_j)` between two lists of mixtures of one family, shape ``(len(a), len(b))``.

    The log product integrals of every component pair are evaluated in one broadcast call of the
    family's kernel (no per-pair dispatch, which matters for the many small evaluations of a line
    search), then contracted with the weights in log space as :func:`~mixagg.l2_distance_matrix` does.
    """
    left = as_mixture_list(a, "a")
    right = as_mixture_list(b, "b")
    items = as_mixture_list(left + right, "a + b")  # one family
    family = items[0].family
    params, logw, k = _stack(family, items)
    real = np.flatnonzero(np.isfinite(logw).ravel())
    _check_integrable(family, family.take(params, real), lambda t: f"mixture {real[t] // k} component {real[t] % k}")
    na, n = len(left), len(items)
    per = {key: v.reshape((n, k, *v.shape[1:])) for key, v in params.items()}  # (n, K, ...)
    pa = {key: v[:na] for key, v in per.items()}
    pb = {key: v[na:] for key, v in per.items()}
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        own = family.unchecked.log_product_integral(family.expand(per, 2), family.expand(per, 1))  # (n, K, K)
        own = own + logw[:, :, None] + logw[:, None, :]
        cross = family.unchecked.log_product_integral(
            family.expand(family.expand(pa, 2), 3), family.expand(family.expand(pb, 0), 0)
        )  # (na, K, nb, K)
        cross = cross + logw[:na, :, None, None] + logw[None, None, na:, :]
    self_terms = logsumexp(own.reshape(n, -1), axis=1)
    between = logsumexp(np.moveaxis(cross, 2, 1).reshape(na, n - na, -1), axis=2)
    return _combine(self_terms[:na, None], self_terms[None, na:], between)


# ---------------------------------------------------------------------------------------------- the filter
def resolve_rule(rule: Any, rule_options: Any) -> tuple[Any, dict[str, Any]]:
    """The rule object and its checked options (``TypeError``/``ValueError`` naming ``rule`` or ``rule_options``)."""
    from ..robust.rules import AggregationRule, get_method

    if not isinstance(rule, (str, AggregationRule)):
        raise TypeError(f"rule must be a registered rule name or an AggregationRule, got {type(rule).__name__}")
    try:
        instance = get_method(rule)
    except ValueError as exc:
        raise ValueError(f"rule: {exc}") from None
    if rule_options is None:
        options: dict[str, Any] = {}
    elif isinstance(rule_options, Mapping):
        options = dict(rule_options)
    else:
        raise TypeError(f"rule_options must be a dict of the rule's options, got {type(rule_options).__name__}")
    if "distances" in options:
        raise ValueError("rule_options must not set 'distances': the attack computes the corrupted set's own")
    try:
        instance.bind((), options)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"rule_options: {exc}") from None
    return instance, options


def _passes(result: Any, failed: np.ndarray) -> bool:
    """Every failed machine is kept at its full weight; a rule without a COAT (TRIM, vanilla) keeps everyone.

    SFMR's spectral stage may keep an estimate at a reduced weight: that counts as caught.
    """
    if result.coat_index is None:
        return True
    if not np.all(np.isin(failed, result.selected)):
        return False
    stage = getattr(result, "spectral", None)
    return stage is None or not any(int(i) in stage.reweighted for i in failed)


def passes_filter(
    estimates: Sequence[Any], failed: Any, rule: Any = "dfmr", rule_options: Mapping[str, Any] | None = None
) -> bool:
    """Whether every failed machine survives the rule's filter on the corrupted set.

    Runs ``mixagg.aggregate(estimates, rule, **rule_options)`` and checks that every failed
    machine is in ``result.selected`` (and, for SFMR, kept at its full weight by the spectral
    stage). Rules that locate no COAT (TRIM, vanilla) have no machine-level filter: every
    estimate counts as passing. The attacker who uses this is
    omniscient: it knows the rule and its options (``docs/attacks.md``, "Passing the filter").

    Parameters
    ----------
    estimates : sequence of MixingDistribution
        The corrupted set, failed machines included.
    failed : array-like of bool or int
        The failure mask, or the failed positions.
    rule : str or AggregationRule, default "dfmr"
    rule_options : dict, optional
        The rule's options (e.g. ``{"rho": 1.3}``).
    """
    instance, options = resolve_rule(rule, rule_options)
    items = as_mixture_list(estimates, "estimates")
    arr = np.asarray(failed)
    if arr.dtype == bool:
        if arr.shape != (len(items),):
            raise ValueError(f"failed must be a mask of length {len(items)}, got shape {arr.shape}")
        index = np.flatnonzero(arr)
    else:
        index = as_index_array(arr, "failed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = instance(items, **options)
    return _passes(result, index)


class FilterCheck:
    """The filter test of one attack: honest estimates fixed, failed estimates varying (see :func:`passes_filter`).

    The honest distances are computed once; each call adds the failed estimates' distances and
    runs the rule with them precomputed (when it takes ``distances``). DFMR and its configurations
    (CRED, ARED) select before they reduce, so their reduction runs with one start and one
    iteration, and without an atom screen, unless ``rule_options`` say otherwise; the selection is unchanged.
    """

    def __init__(
        self,
        honest: Sequence[MixingDistribution],
        mask: np.ndarray,
        honest_distances: np.ndarray,
        rule: Any,
        rule_options: Any,
    ):
        from ..robust.methods import DFMR

        self.rule, options = resolve_rule(rule, rule_options)
        if isinstance(self.rule, DFMR):  # the selection comes first; what follows it does not change it
            options.setdefault("restarts", "none")
            options.setdefault("max_iter", 1)
            if "screen" in self.rule.declared_options():
                options.setdefault("screen", None)
        self.options = options
        self.honest = list(honest)
        self.mask = np.asarray(mask, dtype=bool)
        self.honest_index = np.flatnonzero(~self.mask)
        self.failed_index = np.flatnonzero(self.mask)
        self.honest_distances = honest_distances
        self.with_distances = "distances" in self.rule.declared_options()
        self.no_filter = False

    def corrupted(self, failed: MixingDistribution | Sequence[MixingDistribution]) -> list[MixingDistribution]:
        """The corrupted set: honest estimates in place, ``failed`` (one estimate for all, or one each) elsewhere."""
        sent = [failed] * self.failed_index.size if isinstance(failed, MixingDistribution) else list(failed)
        out: list[MixingDistribution] = [None] * self.mask.size  # type: ignore[list-item]
        for i, g in zip(self.honest_index, self.honest):
            out[i] = g
        for i, g in zip(self.failed_index, sent):
            out[i] = g
        return out

    def distances(self, failed: MixingDistribution | Sequence[MixingDistribution]) -> np.ndarray:
        """The ``(m, m)`` L2 distances of the corrupted set."""
        m = self.mask.size
        hi, fi = self.honest_index, self.failed_index
        d = np.zeros((m, m))
        d[np.ix_(hi, hi)] = self.honest_distances
        if isinstance(failed, MixingDistribution):
            cross = np.broadcast_to(cross_distances([failed], self.honest), (fi.size, hi.size))
        else:
            cross = cross_distances(list(failed), self.honest)
            d[np.ix_(fi, fi)] = _l2_distance_matrix(list(failed))
        d[np.ix_(fi, hi)] = cross
        d[np.ix_(hi, fi)] = cross.T
        return d

    def __call__(self, failed: MixingDistribution | Sequence[MixingDistribution]) -> bool:
        """Whether every failed machine, sending ``failed``, is kept by the rule."""
        if self.no_filter:
            return True
        options = dict(self.options)
        if self.with_distances:
            options["distances"] = self.distances(failed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.rule(self.corrupted(failed), **options)
        if result.coat_index is None:
            self.no_filter = True
        return _passes(result, self.failed_index)


# ---------------------------------------------------------------------------------------------- line searches
def largest_passing(
    ok: Callable[[float], bool],
    *,
    start: float = 1.0,
    limit: float = SEARCH_LIMIT,
    rtol: float = 1e-6,
    max_bisections: int = 80,
) -> float | None:
    """The largest ``t`` in ``[0, limit]`` with ``ok(t)``, by doubling from ``start`` then bisection.

    Returns ``None`` when ``ok(0)`` is false, ``limit`` when ``ok(limit)`` holds. Between, the
    result ``lo`` satisfies ``ok(lo)`` and a point ``hi`` with ``hi - lo <= rtol * hi`` fails
    (when ``ok`` changes once on the bracket, ``lo`` is within ``rtol`` of that change).
    """
    if not ok(0.0):
        return None
    lo, hi = 0.0, min(start, limit)
    while ok(hi):
        lo = hi
        if hi >= limit:
            return limit
        hi = min(2.0 * hi, limit)
    for _ in range(max_bisections):
        if hi - lo <= rtol * hi:
            break
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo
