"""Categorical family: one or several independent categorical features per component (probability vectors)."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import special

from .._validation import check_int
from .core import ExponentialFamily, Params, ParamSpec

__all__ = ["PROBS_SUM_ATOL", "Categorical", "categorical_points"]

#: A probability vector must sum to one within this tolerance (it is then renormalised exactly).
PROBS_SUM_ATOL = 1e-8
#: The largest support :func:`categorical_points` enumerates (exact sums in the conformance suite and the theory).
CATEGORICAL_POINTS_MAX = 2**20


def _levels(levels: Any) -> tuple[int, ...]:
    values = [levels] if np.ndim(levels) == 0 else list(levels)
    if not values:
        raise ValueError("levels must name at least one feature, got an empty sequence")
    return tuple(check_int(v, "levels", minimum=2) for v in values)


def categorical_points(levels: Sequence[int]) -> np.ndarray:
    """Every point of the support (one code in ``0 .. L_j - 1`` per feature), ``(prod L_j, n_features)`` float64."""
    lv = _levels(levels)
    size = int(np.prod(lv, dtype=np.int64))
    if size > CATEGORICAL_POINTS_MAX:
        raise ValueError(f"levels {list(lv)} have {size} points; exact sums enumerate at most {CATEGORICAL_POINTS_MAX}")
    grids = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in lv], indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=-1)


class Categorical(ExponentialFamily):
    r"""Independent categorical features, feature :math:`j` with :math:`L_j` levels coded :math:`0..L_j-1`.

    Parameters
    ----------
    levels : int or sequence of int
        The number of levels of each feature (at least 2 each); an int means one feature.

    Notes
    -----
    ``docs/families.md``, "Categorical". The parameter ``probs`` has shape ``(n_features, max(levels))``: row
    :math:`j` is feature :math:`j`'s probability vector, padded with zeros beyond :math:`L_j`. With the last
    level as reference, :math:`T(x)=(\mathbb 1\{x_j=l\})_{j,\,l<L_j-1}`,
    :math:`\theta_{jl}=\log(p_{jl}/p_{j,L_j-1})`, :math:`A=\sum_j\log(1+\sum_{l<L_j-1}e^{\theta_{jl}})`,
    :math:`h=1` (counting measure), :math:`\eta_{jl}=p_{jl}`; the parameter vector holds the same
    :math:`\sum_j(L_j-1)` free probabilities (the last level of each feature is one minus the others), so the
    theory's Fisher information is not made singular by the sum constraint.
    :math:`\mathrm{KL}=\sum_j\sum_lp_{jl}\log(p_{jl}/q_{jl})`; :math:`h^2=h`, so the L2 inner product is the
    generic identity and factorises: :math:`k(p,q)=\prod_j\sum_lp_{jl}q_{jl}`.
    :math:`D_1=\sum_j\tfrac12\sum_l|p_{jl}-q_{jl}|`, the sum of the features' total-variation distances (a
    choice of this library).
    """

    name = "categorical"
    support = "categorical"
    discrete = True
    product_log_constant = 0.0
    #: Regulariser of the unpenalised M-step: every probability at least ``reg`` (then renormalised).
    default_reg = 1e-6

    def __init__(self, levels: int | Sequence[int]):
        self.levels = _levels(levels)
        n_features, width = len(self.levels), max(self.levels)
        self.event_shape = (n_features,)
        self.n_natural = int(sum(self.levels)) - n_features
        self.param_spec = MappingProxyType(
            {
                "probs": ParamSpec(
                    (n_features, width),
                    description="one probability vector per feature (rows), zero beyond the feature's levels",
                )
            }
        )
        lv = np.array(self.levels)
        self._inside = np.arange(width)[None, :] < lv[:, None]
        self._feature = np.repeat(np.arange(n_features), lv - 1)
        self._level = np.concatenate([np.arange(n - 1) for n in self.levels])
        self._last = lv - 1
        super().__init__()

    @functools.cached_property
    def _same_feature(self) -> np.ndarray:
        """``(n_natural, n_natural)``: whether two free coordinates belong to one feature (built on first use, so
        that a family built from an untrusted payload costs only the size of its parameters)."""
        return self._feature[:, None] == self._feature[None, :]

    def settings(self) -> dict[str, Any]:
        return {"levels": list(self.levels)}

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.levels))

    @property
    def n_params(self) -> int:
        """Free probabilities of one component: :math:`\\sum_j(L_j-1)`."""
        return self.n_natural

    @classmethod
    def infer_settings(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``levels`` from ``probs`` ``(K, n_features, width)``: one plus the position of each row's last
        positive entry in the first component; ``{}`` when it cannot be read."""
        try:
            probs = np.asarray(params["probs"], dtype=float)
        except (KeyError, TypeError, ValueError):
            return {}
        if probs.ndim < 2 or probs.shape[-1] < 2:
            return {}
        rows = probs.reshape((-1,) + probs.shape[-2:])[0]
        positive = rows > 0
        if not positive.any(axis=-1).all():
            return {}
        last = rows.shape[-1] - 1 - np.argmax(positive[:, ::-1], axis=-1)
        return {"levels": [max(int(n), 2) for n in last + 1]}

    @classmethod
    def settings_for_data(cls, x: np.ndarray) -> dict[str, Any]:
        """``levels`` from the largest code of each column (at least 2)."""
        arr = np.asarray(x, dtype=float)
        arr = arr[:, None] if arr.ndim == 1 else arr
        top = np.nanmax(arr, axis=0) if arr.size else np.ones(arr.shape[-1])
        return {"levels": [max(int(t) + 1, 2) for t in top]}

    # -------------------------------------------------------------- parameter vectors and validation
    def _encode_vector(self, params: Params) -> np.ndarray:
        return params["probs"][..., self._feature, self._level]

    def _decode_vector(self, vec: np.ndarray) -> Params:
        return self._probs_from_free(vec)

    def _probs_from_free(self, free: np.ndarray) -> Params:
        probs = np.zeros(free.shape[:-1] + self.param_spec["probs"].shape)
        probs[..., self._feature, self._level] = free
        rest = 1.0 - probs.sum(axis=-1)
        probs[..., np.arange(len(self.levels)), self._last] = rest
        return {"probs": probs}

    def _validate(self, params: Params) -> list[str]:
        probs = params["probs"]
        inside = np.broadcast_to(self._inside, probs.shape)
        problems = []
        bad = inside & ~(probs > 0)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            problems.append(f"probs must be > 0 within each feature's levels, got {probs[idx]!r} at index {list(idx)}")
        pad = ~inside & (probs != 0)
        if pad.any():
            idx = tuple(int(i) for i in np.argwhere(pad)[0])
            problems.append(
                f"probs must be 0 beyond each feature's levels {list(self.levels)}, got {probs[idx]!r} at index "
                f"{list(idx)}"
            )
        total = probs.sum(axis=-1)
        off = ~(np.abs(total - 1.0) <= PROBS_SUM_ATOL)
        if off.any():
            idx = tuple(int(i) for i in np.argwhere(off)[0])
            problems.append(
                f"each feature's probabilities must sum to 1 (within {PROBS_SUM_ATOL:g}), got {total[idx]!r} at "
                f"index {list(idx)}"
            )
        return problems

    def _canonical(self, params: Params) -> Params:
        """Rows summing to one up to rounding are kept bit for bit (round trips are exact, as for the weights);
        rows further off, within :data:`PROBS_SUM_ATOL`, are renormalised."""
        probs = params["probs"]
        total = probs.sum(axis=-1, keepdims=True)
        rounding = np.abs(total - 1.0) <= 4 * probs.shape[-1] * np.finfo(np.float64).eps
        return {"probs": np.where(rounding, probs, probs / total)}

    def _invalid_params(self) -> list[Params]:
        good = np.where(self._inside, 1.0 / np.array(self.levels)[:, None], 0.0)
        zero = good.copy()
        zero[0, 0], zero[0, 1] = 0.0, zero[0, 1] + zero[0, 0]
        short = good.copy()
        short[0, 0] -= 0.1
        out = [{"probs": zero}, {"probs": short}]
        if not self._inside.all():
            j = int(np.argmin(self.levels))
            pad = good.copy()
            pad[j, self.levels[j]] = 0.1
            pad[j, 0] -= 0.1
            out.append({"probs": pad})
        return out

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        raw = rng.gamma(3.0, size=size + self.param_spec["probs"].shape) * self._inside
        return self._canonical({"probs": raw})

    # -------------------------------------------------------------- coordinate maps
    def _logits(self, theta: np.ndarray) -> np.ndarray:
        """``(..., n_features, width)`` logits: theta at the free levels, 0 at the last, -inf beyond."""
        logits = np.where(self._inside, 0.0, -np.inf) * np.ones(theta.shape[:-1] + (1, 1))
        logits[..., self._feature, self._level] = theta
        return logits

    def _natural_from_params(self, params: Params) -> np.ndarray:
        probs = params["probs"]
        last = probs[..., np.arange(len(self.levels)), self._last]
        return np.log(probs[..., self._feature, self._level]) - np.log(last[..., self._feature])

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        logits = self._logits(theta)
        return {"probs": np.exp(logits - special.logsumexp(logits, axis=-1, keepdims=True))}

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        return np.sum(special.logsumexp(self._logits(theta), axis=-1), axis=-1)

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return np.all(np.isfinite(theta), axis=-1)

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return self._params_from_natural(theta)["probs"][..., self._feature, self._level]

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        onehot = (self._feature[:, None] == np.arange(len(self.levels))).astype(float)
        last = 1.0 - (eta @ onehot)[..., self._feature]
        ok = np.all((eta > 0) & (last > 0), axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.log(np.where(ok, eta, 0.5)) - np.log(np.where(ok, last, 0.5))
        return np.where(ok, theta, np.nan)

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        return np.array(params["probs"][..., self._feature, self._level], dtype=float)

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        return self._probs_from_free(np.asarray(eta, dtype=float))

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        """:math:`\\partial\\theta_{jl}/\\partial p_{jm}=\\delta_{lm}/p_{jl}+1/p_{j,L_j-1}` within a feature."""
        probs = np.asarray(params["probs"], dtype=float)
        free = probs[..., self._feature, self._level]
        last = probs[..., np.arange(len(self.levels)), self._last][..., self._feature]
        diag = (1.0 / free)[..., None] * np.eye(self.n_natural)
        return diag + self._same_feature * (1.0 / last)[..., :, None]

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        eta = self._expectation_from_natural(theta)
        cov = eta[..., :, None] * (np.eye(self.n_natural) - eta[..., None, :])
        return cov * self._same_feature

    def _regularise_expectation(self, eta: np.ndarray, reg: float, reference: np.ndarray) -> np.ndarray:
        probs = self._probs_from_free(eta)["probs"]
        floored = np.where(self._inside, np.maximum(probs, reg), 0.0)
        floored = floored / floored.sum(axis=-1, keepdims=True)
        return floored[..., self._feature, self._level]

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        probs = np.asarray(params["probs"])
        if reg <= 0:
            return np.zeros(probs.shape[:-2], dtype=bool)
        return np.any(self._inside & (probs <= reg * (1 + 1e-6)), axis=(-2, -1))

    # -------------------------------------------------------------- observations
    def _in_support(self, x: np.ndarray) -> np.ndarray:
        lv = np.array(self.levels, dtype=float)
        return np.all((x >= 0) & (x < lv) & (x == np.floor(x)), axis=-1)

    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        ok = self._in_support(x)[..., None]
        return np.where(ok, x[..., self._feature] == self._level, False).astype(np.float64)

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        return np.where(self._in_support(x), 0.0, -np.inf)

    def _logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        ok = self._in_support(x)
        codes = np.where(ok[..., None], x, 0.0).astype(np.intp)
        probs = params["probs"]
        picked = np.take_along_axis(
            np.broadcast_to(probs, np.broadcast_shapes(probs.shape[:-2], x.shape[:-1]) + probs.shape[-2:]),
            np.broadcast_to(codes, np.broadcast_shapes(probs.shape[:-2], x.shape[:-1]) + codes.shape[-1:])[..., None],
            axis=-1,
        )[..., 0]
        return np.where(ok, np.sum(np.log(picked), axis=-1), -np.inf)

    # -------------------------------------------------------------- divergences, kernel, sampling, moments
    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        p, q = pa["probs"], pb["probs"]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(self._inside, special.xlogy(p, np.where(self._inside, p / q, 1.0)), 0.0)
        return np.maximum(np.sum(terms, axis=(-2, -1)), 0.0)

    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        return np.sum(np.log(np.sum(pa["probs"] * pb["probs"], axis=-1)), axis=-1)

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        probs = params["probs"]
        cdf = np.cumsum(probs, axis=-1)
        u = rng.random(size + probs.shape[:-1])
        codes = np.sum(u[..., None] >= cdf[..., :-1], axis=-1)
        return np.minimum(codes, self._last).astype(np.float64)

    def _support_points(self, max_points: int) -> np.ndarray | None:
        size = math.prod(self.levels)
        return categorical_points(self.levels) if size <= min(max_points, CATEGORICAL_POINTS_MAX) else None

    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        return 0.5 * np.sum(np.abs(pa["probs"] - pb["probs"]), axis=(-2, -1))

    def _mean(self, params: Params) -> np.ndarray:
        """The mean code of each feature (the codes taken as numbers)."""
        width = self.param_spec["probs"].shape[-1]
        return np.sum(params["probs"] * np.arange(width), axis=-1)

    def _cov(self, params: Params) -> np.ndarray:
        """Diagonal: the features are independent; the variance of each feature's code."""
        width = self.param_spec["probs"].shape[-1]
        codes = np.arange(width, dtype=float)
        mean = np.sum(params["probs"] * codes, axis=-1)
        var = np.sum(params["probs"] * codes**2, axis=-1) - mean**2
        return var[..., None] * np.eye(len(self.levels))
