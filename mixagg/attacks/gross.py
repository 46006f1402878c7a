"""The papers' gross failures: oblivious corruptions of local estimates ([J] §5.1.1, App. D.1; [A] §5.1).

See docs/aggregation.md, "Byzantine failure models", and docs/attacks.md for the attacks that adapt to the rule.

Protocol: choose :math:`\\lfloor\\alpha m\\rfloor` machines uniformly without
replacement and corrupt every component of each (machine-level failure), or only
some components (:func:`component_failure`). Every function returns
``(corrupted_estimates, failed_mask)`` and leaves its input untouched; every
corrupted estimate is still a valid parameter, so validation cannot catch it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import as_generator, check_int
from ..families.core import Params
from ..mixture import MixingDistribution, as_mixture_list

__all__ = [
    "block_failure",
    "component_failure",
    "covariance_failure",
    "mean_failure",
    "probability_failure",
    "rate_failure",
    "scale_failure",
    "shape_failure",
    "weight_failure",
]

Corruptor = Callable[[MixingDistribution, np.ndarray, np.random.Generator], MixingDistribution]


def _failed_machines(m: int, alpha: Any, gen: np.random.Generator) -> np.ndarray:
    alpha = float(alpha)
    if not 0 <= alpha < 0.5:
        raise ValueError(f"alpha must lie in [0, 0.5) (fewer than half of the machines fail), got {alpha!r}")
    mask = np.zeros(m, dtype=bool)
    # floor(alpha m), guarded against rounding (0.29 * 100 = 28.999999999999996)
    mask[gen.choice(m, size=math.floor(alpha * m + 1e-9), replace=False)] = True
    return mask


def _positive(value: Any, name: str) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _require(g: MixingDistribution, names: tuple[str, ...], what: str) -> None:
    if g.family.name not in names:
        raise ValueError(f"{what} corrupts {' or '.join(names)} mixtures, not {g.family!r}")


def _require_scalar(g: MixingDistribution, key: str, what: str) -> None:
    spec = g.family.param_spec.get(key)
    if spec is None or spec.shape != ():
        raise ValueError(
            f"{what} corrupts mixtures with a scalar {key!r} parameter (e.g. gamma, a user family), not {g.family!r}"
        )


def _with(g: MixingDistribution, comps: np.ndarray, key: str, values: np.ndarray) -> MixingDistribution:
    params: Params = {k: np.array(v) for k, v in g.params.items()}
    params[key][comps] = values
    return MixingDistribution(g.family, g.weights, params)


def _mean(scale: float) -> Corruptor:
    def corrupt(g, comps, gen):
        _require(g, ("gaussian",), "mean_failure")
        return _with(g, comps, "mean", gen.normal(0.0, scale, (comps.size, g.family.d)))

    return corrupt


def _covariance(variant: str, scale: float | None) -> Corruptor:
    if variant not in ("jrssb", "arxiv"):
        raise ValueError(f"variant must be 'jrssb' ([J]: c_d = d^-2) or 'arxiv' ([A]: c_d = 1), got {variant!r}")

    def corrupt(g, comps, gen):
        _require(g, ("gaussian",), "covariance_failure")
        fam = g.family
        d = fam.d
        c = scale if scale is not None else (d**-2.0 if variant == "jrssb" else 1.0)
        if fam.tied:  # one covariance shared by the components: corrupt it for all of them alike
            comps = np.arange(g.n_components)
        b = gen.standard_normal((1 if fam.tied else comps.size, d, d))
        noise = c * b @ np.swapaxes(b, -1, -2)
        key = "var" if "var" in fam.param_spec else "cov"
        if key == "var":  # an axis-aligned structure: the diagonal of the same noise, or its average
            noise = np.diagonal(noise, axis1=-2, axis2=-1)
            if fam.param_spec["var"].shape == ():
                noise = noise.mean(axis=-1)
        return _with(g, comps, key, np.asarray(g.params[key])[comps] + noise)

    return corrupt


def _shape(low: float, high: float) -> Corruptor:
    if not 0.5 <= low < high:
        raise ValueError(
            f"shape_failure needs 0.5 <= low < high (got {low!r}, {high!r}): shapes <= 1/2 are not square integrable, "
            "so L2 distances to them do not exist (docs/families.md)"
        )

    def corrupt(g, comps, gen):
        _require(g, ("gamma",), "shape_failure")
        return _with(g, comps, "shape", gen.uniform(low, high, comps.size))

    return corrupt


def _scale(high: float) -> Corruptor:
    def corrupt(g, comps, gen):
        _require_scalar(g, "scale", "scale_failure")
        return _with(g, comps, "scale", np.asarray(g.params["scale"])[comps] + gen.uniform(0.0, high, comps.size))

    return corrupt


def _rate(high: float) -> Corruptor:
    def corrupt(g, comps, gen):
        _require(g, ("poisson", "exponential"), "rate_failure")
        shift = gen.uniform(0.0, high, comps.size)
        rate = np.asarray(g.params["rate"])[comps]
        # the mean of the component grows by U(0, high): the rate itself for Poisson, 1/rate for Exponential
        new = rate + shift if g.family.name == "poisson" else 1.0 / (1.0 / rate + shift)
        return _with(g, comps, "rate", new)

    return corrupt


def _probability(low: float, high: float) -> Corruptor:
    if not 0 < low < high < 1:
        raise ValueError(f"probability_failure needs 0 < low < high < 1, got low = {low!r}, high = {high!r}")

    def corrupt(g, comps, gen):
        _require(g, ("bernoulli", "categorical"), "probability_failure")
        if g.family.name == "bernoulli":
            return _with(g, comps, "p", gen.uniform(low, high, (comps.size, g.family.d)))
        levels = np.asarray(g.family.levels)
        inside = np.arange(levels.max()) < levels[:, None]  # each feature's levels; zero beyond them
        draws = gen.uniform(low, high, (comps.size, *inside.shape)) * inside
        return _with(g, comps, "probs", draws / draws.sum(axis=-1, keepdims=True))

    return corrupt


#: The gross failure of each family inside a product (:func:`block_failure`).
_BLOCK_FAILURE = {
    "gaussian": "mean",
    "poisson": "rate",
    "exponential": "rate",
    "gamma": "shape",
    "bernoulli": "probability",
    "categorical": "probability",
}


def _blocks() -> Corruptor:
    def corrupt(g, comps, gen):
        _require(g, ("product",), "block_failure")
        fam = g.family
        parts = []
        for b, block in enumerate(fam.blocks):
            sub = MixingDistribution._trusted(block, g.weights, fam.block_params(dict(g.params), b))
            kind = _BLOCK_FAILURE.get(block.name)
            if kind is None:
                raise ValueError(
                    f"block_failure has no gross failure for the block family {block!r}; it knows "
                    f"{sorted(_BLOCK_FAILURE)}"
                )
            parts.append(dict(_KINDS[kind]()(sub, comps, gen).params))
        return MixingDistribution(fam, g.weights, fam._join(parts))

    return corrupt


def _apply(estimates: Sequence[Any], alpha: Any, rng: Any, corrupt: Corruptor, n_corrupt: int | None = None):
    items = as_mixture_list(estimates, "estimates")
    gen = as_generator(rng)
    mask = _failed_machines(len(items), alpha, gen)
    out = list(items)
    for i in np.flatnonzero(mask):
        k = items[i].n_components
        comps = np.arange(k) if n_corrupt is None else np.sort(gen.choice(k, size=min(n_corrupt, k), replace=False))
        out[i] = corrupt(items[i], comps, gen)
    return out, mask


def mean_failure(estimates: Sequence[Any], alpha: float, rng: Any = None, *, scale: float = 100.0):
    """Gaussian mean failure ([J], [A]).

    Every mean of a failed machine is replaced by a draw of :math:`N(0,\\text{scale}^2I_d)`.

    Returns
    -------
    (list of MixingDistribution, ndarray of bool)
        The estimates (failed ones corrupted, others untouched) and the failure mask.
    """
    return _apply(estimates, alpha, rng, _mean(_positive(scale, "scale")))


def covariance_failure(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, variant: str = "jrssb", scale: float | None = None
):
    """Gaussian covariance failure: :math:`\\widetilde\\Sigma=\\widehat\\Sigma+c_dBB^\\top`.

    :math:`B` is a :math:`d\\times d` standard normal matrix.

    ``variant="jrssb"``: :math:`c_d=d^{-2}` ([J] §5.1.1, the default); ``"arxiv"``: :math:`c_d=1`
    ([A] and the authors' code; docs/aggregation.md, "Notes on the sources", 6). ``scale`` overrides :math:`c_d`.
    """
    return _apply(estimates, alpha, rng, _covariance(variant, None if scale is None else _positive(scale, "scale")))


def weight_failure(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, concentration: tuple[int, int] = (10, 20)
):
    """Weight failure: :math:`\\widetilde w\\sim\\mathrm{Dirichlet}(a_1..a_K)`.

    The :math:`a_k` are i.i.d. uniform integers in ``concentration``.

    The range is inclusive and drawn afresh per machine: [J] uses :math:`\\{10..20\\}` (default),
    [A] :math:`[200,1000]` (docs/aggregation.md, "Notes on the sources", 7). Any family; the components are kept.
    """
    if np.ndim(concentration) != 1 or len(concentration) != 2:
        raise ValueError(f"concentration must be a pair (low, high), got {concentration!r}")
    lo, hi = (check_int(v, "concentration", minimum=1) for v in concentration)
    if lo > hi:
        raise ValueError(f"concentration must be (low, high) with low <= high, got {concentration!r}")

    def corrupt(g, comps, gen):
        a = gen.integers(lo, hi + 1, size=g.n_components)
        return MixingDistribution(g.family, gen.dirichlet(a), dict(g.params))

    return _apply(estimates, alpha, rng, corrupt)


def shape_failure(estimates: Sequence[Any], alpha: float, rng: Any = None, *, low: float = 1.0, high: float = 10.0):
    """Gamma shape failure: every shape of a failed machine replaced by :math:`U(\\text{low},\\text{high})` ([J] §D.1).

    ``low`` must be at least 1/2, so that the corrupted densities stay square integrable.
    """
    return _apply(estimates, alpha, rng, _shape(float(low), _positive(high, "high")))


def scale_failure(estimates: Sequence[Any], alpha: float, rng: Any = None, *, high: float = 10.0):
    """Scale failure: :math:`\\widetilde\\beta=\\widehat\\beta+U(0,\\text{high})` ([J] §D.1, for Gamma).

    Applies to any family with a scalar positive ``scale`` parameter (Gamma, or a family a user adds).
    """
    return _apply(estimates, alpha, rng, _scale(_positive(high, "high")))


def rate_failure(estimates: Sequence[Any], alpha: float, rng: Any = None, *, high: float = 10.0):
    """Poisson/Exponential analogue of the scale failure (added by this library).

    Each component's mean grows by :math:`U(0,\\text{high})`.
    Poisson: :math:`\\widetilde\\lambda=\\widehat\\lambda+U`;
    Exponential: :math:`1/\\widetilde\\lambda=1/\\widehat\\lambda+U`.
    """
    return _apply(estimates, alpha, rng, _rate(_positive(high, "high")))


def probability_failure(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, low: float = 0.01, high: float = 0.99
):
    """Bernoulli and Categorical analogue of the mean failure (added by this library).

    Bernoulli: every success probability of a failed machine is redrawn from
    :math:`U(\\text{low},\\text{high})`, feature by feature. Categorical: every probability is drawn so,
    then each feature's vector is renormalised. The component's profile becomes noise.
    """
    return _apply(estimates, alpha, rng, _probability(float(low), float(high)))


def block_failure(estimates: Sequence[Any], alpha: float, rng: Any = None):
    """The gross failure of a product family (added by this library): every block of a failed machine is
    corrupted by its own family's failure with its defaults, the same components in every block.

    Gaussian blocks by :func:`mean_failure`, Poisson and Exponential by :func:`rate_failure`, Gamma by
    :func:`shape_failure`, Bernoulli and Categorical by :func:`probability_failure`.
    """
    return _apply(estimates, alpha, rng, _blocks())


def _kind_mean(scale: float = 100.0) -> Corruptor:
    return _mean(_positive(scale, "scale"))


def _kind_covariance(variant: str = "jrssb", scale: float | None = None) -> Corruptor:
    return _covariance(variant, None if scale is None else _positive(scale, "scale"))


def _kind_shape(low: float = 1.0, high: float = 10.0) -> Corruptor:
    return _shape(float(low), _positive(high, "high"))


def _kind_scale(high: float = 10.0) -> Corruptor:
    return _scale(_positive(high, "high"))


def _kind_rate(high: float = 10.0) -> Corruptor:
    return _rate(_positive(high, "high"))


def _kind_probability(low: float = 0.01, high: float = 0.99) -> Corruptor:
    return _probability(float(low), float(high))


_KINDS: dict[str, Callable[..., Corruptor]] = {
    "mean": _kind_mean,
    "covariance": _kind_covariance,
    "shape": _kind_shape,
    "scale": _kind_scale,
    "rate": _kind_rate,
    "probability": _kind_probability,
    "block": _blocks,
}


def component_failure(
    estimates: Sequence[Any], alpha: float, rng: Any = None, *, kind: str = "mean", n_corrupt: int = 1, **options: Any
):
    """Component-level failure: only ``n_corrupt`` random components of each failed machine are corrupted.

    ``kind`` is one of ``"mean"``, ``"covariance"``, ``"shape"``, ``"scale"``, ``"rate"``, ``"probability"``,
    ``"block"`` (the machine-level corruptions above, with their ``options``). Such
    estimates sit closer to the honest ones than machine-level failures.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    n_corrupt = check_int(n_corrupt, "n_corrupt", minimum=1)
    try:
        corrupt = _KINDS[kind](**options)
    except TypeError as exc:
        raise TypeError(f"component_failure(kind={kind!r}) got options it does not take: {exc}") from None
    return _apply(estimates, alpha, rng, corrupt, n_corrupt=n_corrupt)
