"""Adaptive attacks: failed machines that see the honest estimates and, for some, know the aggregation rule.

Each attack follows the protocol of the gross failures (``mixagg.attacks.gross``): it chooses
:math:`f=\\lfloor\\alpha m\\rfloor` failed machines uniformly without replacement, leaves its input
untouched and returns ``(corrupted_estimates, failed_mask)``; every corrupted estimate is a
valid mixture of the family and order of the input, so validation cannot catch it. The attacks
are deterministic given ``rng`` (it only chooses the failed machines). Most are built in the
aligned parameter space of the honest estimates (:class:`~mixagg.attacks.AlignedSpace`, aligned
to their COAT). See ``docs/attacks.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .. import wire
from .._validation import as_float_array, as_generator, check_choice, check_int, check_real
from ..distances import l2_distance_matrix
from ..mixture import MixingDistribution, as_mixture, as_mixture_list
from ._aligned import (
    AlignedSpace,
    AttackWarning,
    FilterCheck,
    cross_distances,
    largest_passing,
    resolve_rule,
    usable_problem,
)
from .gross import _failed_machines

__all__ = [
    "alie",
    "alie_z_max",
    "coat_capture",
    "inner_product_manipulation",
    "mimic",
    "min_max",
    "min_sum",
    "sample_size_claims",
    "threshold_hugging",
    "tiny_component",
]

#: Relative precision of the searches that run the rule (``"search"``, threshold hugging).
FILTER_RTOL = 1e-4
#: Relative precision of the searches on L2 constraints (min-max, min-sum).
DISTANCE_RTOL = 1e-10


# ---------------------------------------------------------------------------------------------- the setting
@dataclass(frozen=True)
class _Honest:
    """The honest estimates an omniscient attacker sees: their distances, COAT and aligned vectors."""

    items: list[MixingDistribution]
    mask: np.ndarray

    @cached_property
    def index(self) -> np.ndarray:
        return np.flatnonzero(~self.mask)

    @cached_property
    def mixtures(self) -> list[MixingDistribution]:
        return [self.items[i] for i in self.index]

    @cached_property
    def distances(self) -> np.ndarray:
        return l2_distance_matrix(self.mixtures)

    @cached_property
    def coat(self) -> int:
        """Position of the honest COAT among the honest estimates."""
        from ..robust.coat import coat_radius

        return coat_radius(self.distances)[0]

    @cached_property
    def space(self) -> AlignedSpace:
        return AlignedSpace(self.mixtures[self.coat])

    @cached_property
    def vectors(self) -> np.ndarray:
        return self.space.to_vectors(self.mixtures)

    @cached_property
    def mean(self) -> np.ndarray:
        return self.vectors.mean(axis=0)

    @cached_property
    def std(self) -> np.ndarray:
        """Per-coordinate sample standard deviation (divisor :math:`h-1`) of the honest aligned vectors."""
        return self.vectors.std(axis=0, ddof=1)

    @property
    def n_failed(self) -> int:
        return int(self.mask.sum())

    def build(self, vector: np.ndarray, option: str) -> MixingDistribution:
        """The mixture of an aligned vector; a ``ValueError`` naming ``option`` when it is not usable."""
        g = self.space.try_from_vector(vector)
        if g is None:
            raise ValueError(
                f"{option} takes the attack outside the parameter space of {self.space.family!r} in double precision "
                "(or to a mixture with no L2 distance); choose a smaller value"
            )
        return g

    def filter_check(self, rule: Any, rule_options: Any) -> FilterCheck:
        return FilterCheck(self.mixtures, self.mask, self.distances, rule, rule_options)

    def corrupt(self, failed: MixingDistribution | Sequence[MixingDistribution]) -> list[MixingDistribution]:
        """The input list with the failed machines sending ``failed`` (one estimate for all, or one each)."""
        sent = [failed] * self.n_failed if isinstance(failed, MixingDistribution) else list(failed)
        out = list(self.items)
        for i, g in zip(np.flatnonzero(self.mask), sent):
            out[i] = g
        return out


def _start(estimates: Any, alpha: Any, rng: Any) -> tuple[list[MixingDistribution], np.ndarray, _Honest | None]:
    """The estimates (one family, one order), the failure mask, and the honest view (``None`` when nobody fails)."""
    items = as_mixture_list(estimates, "estimates")
    k = items[0].n_components
    for i, g in enumerate(items[1:], start=1):
        if g.n_components != k:
            raise ValueError(f"estimates[{i}] has {g.n_components} components but estimates[0] has {k}")
    mask = _failed_machines(len(items), alpha, as_generator(rng))
    if not mask.any():
        return items, mask, None
    return items, mask, _Honest(items, mask)


def _plain(g: MixingDistribution) -> MixingDistribution:
    """An exact copy of ``g`` as a plain mixture (no machine id, sample size or fit diagnostics)."""
    return MixingDistribution._trusted(g.family, np.array(g.weights), {k: np.array(v) for k, v in g.params.items()})


def _search_or_number(value: Any, name: str, *, minimum: float | None = None) -> float | str:
    if isinstance(value, str):
        if value != "search":
            raise ValueError(f"{name} must be a number or 'search', got {value!r}")
        return value
    return check_real(value, name, minimum=minimum)


def _no_point_passes(what: str, rule: Any) -> None:
    warnings.warn(
        f"{what}: no point of the attack passes the filter of {getattr(rule, 'name', rule)!r}, not even at 0; "
        "the failed machines send the point at 0, which the rule filters out",
        AttackWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------------------------------- ALIE
def _largest_step(
    h: _Honest, origin: np.ndarray, direction: np.ndarray, rule: Any, rule_options: Any, what: str
) -> float:
    """The largest :math:`t\\ge0` with ``origin + t * direction`` (aligned space) inside the rule's filter.

    0, with a warning, when not even ``origin`` passes.
    """
    check = h.filter_check(rule, rule_options)

    def ok(t: float) -> bool:
        g = h.space.try_from_vector(origin + t * direction)
        return g is not None and check(g)

    found = largest_passing(ok, rtol=FILTER_RTOL)
    if found is None:
        _no_point_passes(what, check.rule)
        return 0.0
    return found


def alie_z_max(m: int, n_failed: int) -> float:
    """Baruch et al.'s :math:`z_{\\max}` for ``m`` machines of which ``n_failed`` fail.

    :math:`s=\\lfloor m/2+1\\rfloor-f` honest machines must be won over for a majority, and
    :math:`z_{\\max}=\\Phi^{-1}\\big((m-s)/m\\big)`: the largest shift, in standard deviations,
    for which :math:`s` honest machines still lie farther from the mean than the failed ones in
    a coordinate, when the honest values are normal (Baruch, Baruch & Goldberg 2019, "A little is
    enough", §4; ``docs/attacks.md``, "A little is enough").
    """
    from scipy.stats import norm

    m = check_int(m, "m", minimum=1)
    f = check_int(n_failed, "n_failed", minimum=0, maximum=m)
    s = math.floor(m / 2 + 1) - f
    return float(norm.ppf((m - s) / m))


def alie(
    estimates: Sequence[Any],
    alpha: float,
    rng: Any = None,
    *,
    z: float | str | None = None,
    rule: Any = "dfmr",
    rule_options: Mapping[str, Any] | None = None,
) -> tuple[list[MixingDistribution], np.ndarray]:
    """A little is enough: every failed machine sends the honest mean minus ``z`` standard deviations.

    In the aligned parameter space of the honest estimates (:class:`~mixagg.attacks.AlignedSpace`),
    each failed machine sends :math:`\\bar v-z\\,s` coordinate by coordinate, with :math:`\\bar v`
    the mean and :math:`s` the sample standard deviation (divisor :math:`h-1`) of the :math:`h`
    honest aligned vectors (Baruch, Baruch & Goldberg 2019, "A little is enough: circumventing
    defenses for distributed learning"; ``docs/attacks.md``, "A little is enough").

    Knowledge model: omniscient. It sees every honest estimate; with ``z="search"`` it also knows
    the rule and its options.

    Parameters
    ----------
    estimates : sequence of MixingDistribution
        The local estimates, one family and one order :math:`K`.
    alpha : float
        Fraction of failed machines, in :math:`[0, 1/2)`; :math:`f=\\lfloor\\alpha m\\rfloor` fail.
    rng : None, int or numpy.random.Generator
        Chooses the failed machines (the only randomness).
    z : float or "search", optional
        The shift in standard deviations. Default: Baruch et al.'s
        :math:`z_{\\max}=\\Phi^{-1}((m-s)/m)`, :math:`s=\\lfloor m/2+1\\rfloor-f` (:func:`alie_z_max`).
        ``"search"``: the largest :math:`z` in ``[0, SEARCH_LIMIT]`` for which every failed estimate
        still passes the rule's filter (bisection to a relative :data:`FILTER_RTOL`).
    rule, rule_options
        The rule the search runs (a registered name or an ``AggregationRule``) and its options;
        used only with ``z="search"`` (:func:`~mixagg.attacks.passes_filter`).

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)
        The estimates (failed ones replaced, others untouched) and the failure mask.

    Warns
    -----
    AttackWarning
        With ``z="search"``, when not even :math:`z=0` (the honest mean) passes the filter.

    Examples
    --------
    >>> import numpy as np
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 9.0]})
    >>> rng = np.random.default_rng(0)
    >>> local = [ma.fit_mixture(truth.sample(500, rng), "poisson", 2, init=truth) for _ in range(12)]
    >>> sent, failed = ma.attacks.alie(local, 0.25, rng=1)
    >>> int(failed.sum()), sent[int(np.flatnonzero(failed)[0])] == sent[int(np.flatnonzero(failed)[1])]
    (3, True)
    """
    z = None if z is None else _search_or_number(z, "z")
    resolve_rule(rule, rule_options)
    items, mask, h = _start(estimates, alpha, rng)
    if h is None:
        return items, mask
    if z is None:
        z = alie_z_max(len(items), h.n_failed)
    if z == "search":
        z = _largest_step(h, h.mean, -h.std, rule, rule_options, "alie(z='search')")
    return h.corrupt(h.build(h.mean - z * h.std, "z")), mask


# ---------------------------------------------------------------------------------------------- IPM
def _pooled_reference(h: _Honest) -> MixingDistribution:
    """Every component equal to the moment match of all honest components (each machine weighing equally)."""
    fam = h.space.family
    k = h.space.n_components
    stacked = {key: np.concatenate([np.asarray(g.params[key]) for g in h.mixtures]) for key in fam.param_spec}
    masses = np.concatenate([g.weights for g in h.mixtures]) / len(h.mixtures)
    one = fam.unchecked.barycentre(stacked, masses)
    params = {key: np.broadcast_to(np.asarray(v), (k, *np.shape(v))).copy() for key, v in one.items()}
    return MixingDistribution(fam, np.full(k, 1.0 / k), params)


def inner_product_manipulation(
    estimates: Sequence[Any],
    alpha: float,
    rng: Any = None,
    *,
    epsilon: float | str = 0.5,
    reference: MixingDistribution | None = None,
    rule: Any = "dfmr",
    rule_options: Mapping[str, Any] | None = None,
) -> tuple[list[MixingDistribution], np.ndarray]:
    """Inner-product manipulation: the failed machines send the honest "update" reversed and scaled by ``epsilon``.

    Xie, Koyejo & Gupta (2019, "Fall of empires: breaking Byzantine-tolerant SGD by inner product
    manipulation") send :math:`-\\epsilon` times the mean honest gradient, so that the aggregate's
    inner product with the true gradient turns negative. One-shot aggregation has no gradient; its
    analogue here is the displacement :math:`\\delta=\\bar v-v_{\\rm ref}` of the mean honest aligned
    vector from a reference point, the model the server would hold without the machines. Every
    failed machine sends :math:`v_{\\rm ref}-\\epsilon\\,\\delta`, a point on the far side of the
    reference. The reference is ``reference`` (e.g. the server's initial model), by default the
    mixture whose :math:`K` components all equal the moment match of every honest component pooled
    (equal weights): the one-component fit of the honest data. ``docs/attacks.md``,
    "Inner-product manipulation".

    Knowledge model: omniscient. It sees every honest estimate; with ``epsilon="search"`` it also
    knows the rule and its options.

    Parameters
    ----------
    estimates, alpha, rng
        As in :func:`alie`.
    epsilon : float >= 0 or "search", default 0.5
        The scale of the reversed update. ``"search"``: the largest :math:`\\epsilon` in
        ``[0, SEARCH_LIMIT]`` for which every failed estimate passes the rule's filter.
    reference : MixingDistribution, optional
        The reference model :math:`v_{\\rm ref}` (same family and :math:`K`); aligned to the honest COAT first.
    rule, rule_options
        The rule and its options, used with ``epsilon="search"`` (:func:`~mixagg.attacks.passes_filter`).

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)

    Raises
    ------
    ValueError
        When the point leaves the usable parameter space, naming ``epsilon``: e.g. Gamma shapes
        pushed below 1/2, where no L2 distance exists (the pooled one-component fit of a Gamma
        mixture has a small shape, and its reflection a smaller one).

    Warns
    -----
    AttackWarning
        With ``epsilon="search"``, when not even :math:`\\epsilon=0` (the reference itself) passes.
        With the default reference that is the rule working: the one-component fit is far from every
        honest estimate.
    """
    epsilon = _search_or_number(epsilon, "epsilon", minimum=0.0)
    ref = None if reference is None else as_mixture(reference, "reference")
    resolve_rule(rule, rule_options)
    items, mask, h = _start(estimates, alpha, rng)
    if ref is not None:
        if ref.family != items[0].family:
            raise ValueError(f"reference has family {ref.family!r} but the estimates have {items[0].family!r}")
        if ref.n_components != items[0].n_components:
            raise ValueError(
                f"reference has {ref.n_components} components but the estimates have {items[0].n_components}"
            )
    if h is None:
        return items, mask
    v_ref = h.space.to_vectors([ref if ref is not None else _pooled_reference(h)])[0]
    delta = h.mean - v_ref
    if epsilon == "search":
        epsilon = _largest_step(h, v_ref, -delta, rule, rule_options, "inner_product_manipulation(epsilon='search')")
    return h.corrupt(h.build(v_ref - epsilon * delta, "epsilon")), mask


# ---------------------------------------------------------------------------------------------- min-max, min-sum
_DIRECTIONS = ("std", "sign", "unit")


def _perturbation(h: _Honest, direction: str) -> np.ndarray:
    if direction == "std":
        p = -h.std
    elif direction == "sign":
        p = -np.sign(h.mean)
    else:
        norm = float(np.linalg.norm(h.mean))
        p = -h.mean / norm if norm > 0 else np.zeros_like(h.mean)
    if not np.any(p):
        raise ValueError(f"direction={direction!r} is the zero vector for these honest estimates")
    return p


def _distance_budget(
    estimates: Any, alpha: Any, rng: Any, direction: Any, which: str
) -> tuple[list[MixingDistribution], np.ndarray]:
    direction = check_choice(direction, "direction", _DIRECTIONS, case=True)
    items, mask, h = _start(estimates, alpha, rng)
    if h is None:
        return items, mask
    p = _perturbation(h, direction)
    d = h.distances
    budget = float(d.max()) if which == "max" else float((d**2).sum(axis=1).max())

    def ok(gamma: float) -> bool:
        g = h.space.try_from_vector(h.mean + gamma * p)
        if g is None:
            return False
        to_honest = cross_distances([g], h.mixtures)[0]
        value = float(to_honest.max()) if which == "max" else float((to_honest**2).sum())
        return value <= budget

    gamma = largest_passing(ok, rtol=DISTANCE_RTOL)
    if gamma is None:
        warnings.warn(
            f"min_{which}: even the honest mean breaks the distance budget; the failed machines send the mean",
            AttackWarning,
            stacklevel=3,
        )
        gamma = 0.0
    return h.corrupt(h.build(h.mean + gamma * p, "direction")), mask


def min_max(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, direction: str = "std"
) -> tuple[list[MixingDistribution], np.ndarray]:
    """Min-max: the farthest honest-looking point along a direction, no farther from any honest estimate than they are.

    Shejwalkar & Houmansadr (2021, "Manipulating the Byzantine: optimizing model poisoning attacks
    and defenses for federated learning", AGR-agnostic min-max). In the aligned parameter space,
    every failed machine sends :math:`\\theta=\\bar v+\\gamma p` with the largest :math:`\\gamma\\ge0`
    such that

    .. math:: \\max_i D(\\theta,\\widehat G_i)\\le\\max_{i,j}D(\\widehat G_i,\\widehat G_j)

    over the honest estimates, :math:`D` the L2 distance between densities (doubling from
    :math:`\\gamma=1`, then bisection to a relative :data:`DISTANCE_RTOL`, capped at ``SEARCH_LIMIT``).
    ``docs/attacks.md``, "Min-max and min-sum".

    Knowledge model: omniscient about the honest estimates; it does not use the rule.

    Parameters
    ----------
    estimates, alpha, rng
        As in :func:`alie`.
    direction : {"std", "sign", "unit"}, default "std"
        :math:`p=-s` (minus the honest standard deviations), :math:`-\\mathrm{sign}(\\bar v)`, or
        :math:`-\\bar v/\\lVert\\bar v\\rVert`.

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)
    """
    return _distance_budget(estimates, alpha, rng, direction, "max")


def min_sum(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, direction: str = "std"
) -> tuple[list[MixingDistribution], np.ndarray]:
    """Min-sum: as :func:`min_max`, with the budget on the sum of squared distances.

    :math:`\\gamma` is the largest with
    :math:`\\sum_iD(\\theta,\\widehat G_i)^2\\le\\max_i\\sum_jD(\\widehat G_i,\\widehat G_j)^2`
    (Shejwalkar & Houmansadr 2021; ``docs/attacks.md``, "Min-max and min-sum").

    Knowledge model: omniscient about the honest estimates; it does not use the rule.
    """
    return _distance_budget(estimates, alpha, rng, direction, "sum")


# ---------------------------------------------------------------------------------------------- threshold hugging
def threshold_hugging(
    estimates: Sequence[Any],
    alpha: float,
    rng: Any = None,
    *,
    rule: Any = "dfmr",
    rule_options: Mapping[str, Any] | None = None,
    direction: Any = None,
    margin: float = 0.99,
) -> tuple[list[MixingDistribution], np.ndarray]:
    """Colluding failed machines pushed along one direction to just inside the rule's filter.

    Every failed machine sends :math:`\\bar v+t\\,u` in the aligned parameter space, with
    :math:`\\bar v` the mean of the honest aligned vectors and :math:`t=` ``margin`` times the
    largest step for which every failed estimate passes the rule's filter **on the corrupted
    set**: the COAT and its radius are those of all :math:`m` estimates, failed ones included
    (the filter :math:`\\mathsf D_{ci}\\le\\rho\\,r^{\\rm COAT}` of DFMR, CRED and ARED). The step is
    found by doubling from :math:`t=1` and bisection to a relative :data:`FILTER_RTOL`, running the
    rule itself (:func:`~mixagg.attacks.passes_filter`). ``docs/attacks.md``, "Threshold hugging".

    Knowledge model: omniscient. It sees every honest estimate and knows the rule and its options.

    Parameters
    ----------
    estimates, alpha, rng
        As in :func:`alie`.
    rule : str or AggregationRule, default "dfmr"
    rule_options : dict, optional
        The rule's options (e.g. ``{"rho": 1.3}``); ``distances`` is computed by the attack.
    direction : None, array-like or callable
        :math:`u`. Default: from :math:`\\bar v` to the honest estimate farthest from the mean
        mixture in L2 (so :math:`t=1` reaches that estimate). An array is an aligned vector of
        length ``AlignedSpace.dim`` (``AlignedSpace.labels`` names its coordinates); a callable
        receives the honest aligned vectors ``(h, dim)`` and returns one.
    margin : float in (0, 1], default 0.99
        The fraction of the largest passing step taken.

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)

    Warns
    -----
    AttackWarning
        When not even the honest mean (:math:`t=0`) passes; the failed machines then send it.
    """
    margin = check_real(margin, "margin", minimum=0.0, maximum=1.0, strict_minimum=True)
    if direction is not None and not callable(direction):
        direction = as_float_array(direction, "direction", ndim=1)
    resolve_rule(rule, rule_options)
    items, mask, h = _start(estimates, alpha, rng)
    if h is None:
        return items, mask
    if direction is None:
        centre = h.build(h.mean, "the honest mean")
        far = int(np.argmax(cross_distances([centre], h.mixtures)[0]))
        u = h.vectors[far] - h.mean
    else:
        raw = direction(h.vectors.copy()) if callable(direction) else direction
        u = as_float_array(raw, "direction", ndim=1)
        if u.shape != (h.space.dim,):
            raise ValueError(f"direction must be an aligned vector of length {h.space.dim}, got shape {u.shape}")
    if not np.any(u):
        raise ValueError("direction is the zero vector (the honest estimates coincide)")
    check = h.filter_check(rule, rule_options)

    def ok(t: float) -> bool:
        g = h.space.try_from_vector(h.mean + t * u)
        return g is not None and check(g)

    step = largest_passing(ok, rtol=FILTER_RTOL)
    if step is None:
        _no_point_passes("threshold_hugging", check.rule)
        step = 0.0
    return h.corrupt(h.build(h.mean + margin * step * u, "direction")), mask


# ---------------------------------------------------------------------------------------------- tiny component
def _tiny(g: MixingDistribution, k: int, mode: str, factor: float, offset: float) -> dict[str, np.ndarray]:
    fam = g.family
    params = {key: np.array(v) for key, v in g.params.items()}
    scalar_scale = fam.param_spec.get("scale") is not None and fam.param_spec["scale"].shape == ()
    if fam.name == "gaussian":
        if mode == "broad":  # a tied structure shares the covariance: broaden it for every component
            key = "var" if "var" in fam.param_spec else "cov"
            rows = slice(None) if fam.tied else k
            params[key][rows] = params[key][rows] * factor
        else:
            params["mean"][k, 0] = params["mean"][k, 0] + offset
    elif fam.name == "poisson":
        params["rate"][k] = params["rate"][k] * factor if mode == "broad" else params["rate"][k] + offset
    elif fam.name == "exponential":
        params["rate"][k] = params["rate"][k] / (factor if mode == "broad" else offset)
    elif scalar_scale:
        params["scale"][k] = params["scale"][k] * (factor if mode == "broad" else offset)
    else:
        raise ValueError(
            f"tiny_component knows how to make a component broad or far for gaussian, poisson, exponential and "
            f"families with a scalar 'scale' parameter (gamma, user families), not {fam!r}"
        )
    return params


def tiny_component(
    estimates: Sequence[Any],
    alpha: float,
    rng: Any = None,
    *,
    mode: str = "broad",
    weight: float = 0.01,
    factor: float = 1e10,
    offset: float = 1e6,
) -> tuple[list[MixingDistribution], np.ndarray]:
    """The honest COAT with its lightest component replaced by a very broad or very far component of low mass.

    Every failed machine sends the COAT of the honest estimates with its smallest-weight
    component replaced by one of weight ``weight`` (the other weights rescaled to sum to
    :math:`1-` ``weight``), made

    * ``mode="broad"``: Gaussian covariance times ``factor``; Gamma (and any family with a scalar
      ``scale``) scale times ``factor``; Exponential rate divided by ``factor``; Poisson rate times
      ``factor``;
    * ``mode="far"``: Gaussian mean plus ``offset`` along the first axis; Poisson rate plus
      ``offset``; Gamma scale times ``offset``; Exponential rate divided by ``offset``.

    The L2 distance between densities barely sees such a component: a broad density has a tiny
    L2 norm, and a far one is orthogonal to the others, so it adds at most about ``weight`` times
    its own norm. The mixture reduction's KL moment matching, on the contrary, takes its mean and
    covariance into the barycentre of whichever cluster it joins. What the filter does see is the
    loss of the lightest honest component: the estimate is inside the filter when that component
    is light (an over-fitted order :math:`K`, a small cluster). ``docs/attacks.md``, "Tiny component".

    Knowledge model: omniscient about the honest estimates (it sends their COAT); it does not use the rule.

    Parameters
    ----------
    estimates, alpha, rng
        As in :func:`alie`; :math:`K\\ge2`.
    mode : {"broad", "far"}
    weight : float in (0, 1)
    factor : float > 1
    offset : float > 0

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)

    Raises
    ------
    ValueError
        A family the attack cannot handle (named), :math:`K=1`, or bad options.
    """
    mode = check_choice(mode, "mode", ("broad", "far"), case=True)
    weight = check_real(weight, "weight", minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    factor = check_real(factor, "factor", minimum=1.0, strict_minimum=True)
    offset = check_real(offset, "offset", minimum=0.0, strict_minimum=True)
    items, mask, h = _start(estimates, alpha, rng)
    if items[0].n_components < 2:
        raise ValueError("tiny_component needs estimates with at least 2 components (one of them is replaced)")
    _tiny(items[0], 0, mode, factor, offset)  # the family check, before anything else
    if h is None:
        return items, mask
    base = h.mixtures[h.coat]
    k = int(np.argmin(base.weights))
    w = np.array(base.weights)
    rest = np.arange(w.size) != k
    w[rest] = w[rest] * (1.0 - weight) / w[rest].sum()
    w[k] = weight
    g = MixingDistribution(base.family, w, _tiny(base, k, mode, factor, offset))
    problem = usable_problem(g)
    if problem is not None:
        raise ValueError(f"factor or offset too large for {base.family!r}: {problem}")
    return h.corrupt(g), mask


# ---------------------------------------------------------------------------------------------- sample sizes
def sample_size_claims(
    estimates: Sequence[Any],
    alpha: float,
    rng: Any = None,
    *,
    claim: int = 1_000_000,
    base: str = "coat",
    shift: float = 0.0,
    sample_sizes: Any = None,
) -> tuple[list[wire.TransmittedEstimate], np.ndarray]:
    """In-filter estimates that lie about their sample size.

    Every failed machine sends the honest COAT (``base="coat"``) or the mean of the honest aligned
    vectors (``base="mean"``), shifted by ``shift`` honest standard deviations per aligned
    coordinate, and claims ``claim`` observations. A large claim (inflation) makes the failed
    machines dominate the reduction's weights :math:`\\lambda_i\\propto n_i`; ``claim=1``
    (deflation) distorts the predicted law of honest distances behind ``rho="auto"``. Every
    estimate is returned as the server receives it: a :class:`~mixagg.wire.TransmittedEstimate`
    built by ``wire.loads(wire.dumps(g, machine_id=i, n_samples=n_i))``, so ``machine_id`` is the
    position and ``[e.n_samples for e in sent]`` are the claims, read as the engine and the
    command line read them. ``docs/attacks.md``, "Sample-size claims".

    Knowledge model: omniscient about the honest estimates; it does not use the rule.

    Parameters
    ----------
    estimates, alpha, rng
        As in :func:`alie`.
    claim : int >= 1, default 1_000_000
        The sample size every failed machine claims.
    base : {"coat", "mean"}
    shift : float, default 0
        Shift in honest standard deviations of every aligned coordinate.
    sample_sizes : array-like of shape (m,), optional
        The honest machines' true sample sizes; by default each estimate's own ``n_samples``
        (a :class:`~mixagg.FittedMixture` or a received estimate carries one).

    Returns
    -------
    (list of TransmittedEstimate, ndarray of bool)

    Raises
    ------
    ValueError
        An honest machine without a known sample size, or a payload the wire format refuses.
    """
    claim = check_int(claim, "claim", minimum=1)
    base = check_choice(base, "base", ("coat", "mean"), case=True)
    shift = check_real(shift, "shift")
    items, mask, h = _start(estimates, alpha, rng)
    m = len(items)
    if sample_sizes is not None:
        sizes = as_float_array(sample_sizes, "sample_sizes", ndim=1)
        if sizes.shape != (m,) or np.any(sizes <= 0):
            raise ValueError(f"sample_sizes must hold {m} positive numbers, one per estimate, got shape {sizes.shape}")
        known = list(sizes)
    else:
        known = [getattr(g, "n_samples", None) for g in items]
    sent: list[MixingDistribution] = list(items)
    if h is not None:
        if base == "coat" and shift == 0.0:
            g = _plain(h.mixtures[h.coat])
        else:
            start = h.vectors[h.coat] if base == "coat" else h.mean
            g = h.build(start + shift * h.std, "shift")
        sent = h.corrupt(g)
    out = []
    family = items[0].family
    k = items[0].n_components
    for i, (g, failed) in enumerate(zip(sent, mask)):
        if failed:
            n: Any = claim
        else:
            n = known[i]
            if n is None:
                raise ValueError(
                    f"estimates[{i}] carries no sample size (n_samples); pass sample_sizes= with every machine's"
                )
            n = int(n) if float(n).is_integer() else float(n)
        back = wire.loads(wire.dumps(g, machine_id=i, n_samples=n), family=family, n_components=k)
        if isinstance(back, wire.Rejected):
            raise ValueError(f"the wire format refuses the estimate of machine {i}: {back.reason}")
        out.append(back)
    return out, mask


# ---------------------------------------------------------------------------------------------- COAT capture
def coat_capture(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, position: float = 1.0
) -> tuple[list[MixingDistribution], np.ndarray]:
    """Identical failed estimates at the honest extreme, so that the corrupted set's COAT moves there.

    Let :math:`\\widehat G_e` be the honest estimate farthest in L2 from the honest COAT. Every
    failed machine sends :math:`\\bar v+\\text{position}\\,(v_e-\\bar v)` in the aligned parameter
    space (:math:`\\bar v` the honest mean): at ``position=1`` an exact copy of :math:`\\widehat G_e`,
    beyond it for larger values. The :math:`f` identical estimates form a cluster of radius 0
    with :math:`\\widehat G_e`. When they and the few honest estimates nearest :math:`\\widehat G_e`
    reach a majority within a smaller radius than any other majority ball, the COAT is a copy (or
    :math:`\\widehat G_e`); otherwise it is usually an honest estimate between :math:`\\widehat G_e`
    and the centre whose majority ball the copies fill. Either way the COAT, the centre of the
    distance filter, moves toward the honest fringe. ``docs/attacks.md``, "COAT capture".

    Knowledge model: omniscient about the honest estimates; it does not use the rule.

    Parameters
    ----------
    estimates, alpha, rng
        As in :func:`alie`.
    position : float >= 1, default 1

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)
    """
    position = check_real(position, "position", minimum=1.0)
    items, mask, h = _start(estimates, alpha, rng)
    if h is None:
        return items, mask
    far = int(np.argmax(h.distances[h.coat]))
    if position == 1.0:
        g = _plain(h.mixtures[far])
    else:
        g = h.build(h.mean + position * (h.vectors[far] - h.mean), "position")
    return h.corrupt(g), mask


# ---------------------------------------------------------------------------------------------- mimic
def mimic(estimates: Sequence[Any], alpha: float, rng: Any = None) -> tuple[list[MixingDistribution], np.ndarray]:
    """Every failed machine copies the honest estimate most extreme along the honest estimates' top principal direction.

    Karimireddy, He & Jaggi (2022, "Byzantine-robust learning on heterogeneous datasets via
    bucketing"): copies of one honest machine over-represent it, which robust rules cannot tell
    from honest agreement. The copied estimate is the one with the largest absolute projection of
    its centred aligned vector on the first right singular vector of the centred honest aligned
    vectors (the sign of a principal direction is arbitrary, so both ends count). The copies are
    exact. ``docs/attacks.md``, "Mimic".

    Knowledge model: omniscient about the honest estimates; it does not use the rule.

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)
    """
    items, mask, h = _start(estimates, alpha, rng)
    if h is None:
        return items, mask
    centred = h.vectors - h.mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    j = int(np.argmax(np.abs(centred @ vt[0])))
    return h.corrupt(_plain(h.mixtures[j])), mask
