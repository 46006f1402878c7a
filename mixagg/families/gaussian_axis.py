"""Gaussian components with axis-aligned covariances: diagonal (one variance per coordinate) or spherical (one).

``Gaussian(d, "diag")``, ``Gaussian(d, "spherical")`` and their tied versions build an :class:`AxisGaussian`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np

from .. import em_support
from .._validation import check_int
from .core import ExponentialFamily, Params, ParamSpec
from .covariance import covariance_structure
from .gaussian import ChenTanPenalty, Gaussian, _pool, axis_scatter, tied_problems
from .penalties import Penalty

__all__ = ["AxisGaussian"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class AxisGaussian(Gaussian):
    r"""Multivariate normal with a diagonal or spherical covariance, a family of its own.

    Parameters
    ----------
    d : int
        Dimension of an observation.
    covariance_type : {"diag", "tied_diag", "spherical", "tied_spherical"} or mclust's VVI, EEI, VII, EII
        ``diag``: :math:`\Sigma=\operatorname{diag}(v)`, parameter ``var`` of shape ``(..., d)``;
        ``spherical``: :math:`\Sigma=vI_d`, ``var`` of shape ``(...,)``. The tied versions share ``var``
        among the components of a mixture.

    Notes
    -----
    ``docs/covariance.md``. With :math:`v_j` the variance of coordinate :math:`j` (all equal when spherical),

    .. math::

        T(x)&=(x,\ x^2)\ \text{(diag)},\quad (x,\ \lVert x\rVert^2)\ \text{(spherical)},\qquad
        h(x)=(2\pi)^{-d/2},\\
        \theta&=(\mu/v,\ -1/(2v)),\qquad A(\theta)=\sum_j\Bigl(\frac{\mu_j^2}{2v_j}+\frac12\log v_j\Bigr),\qquad
        \eta=(\mu,\ v+\mu^2)\ \text{or}\ (\mu,\ dv+\lVert\mu\rVert^2).

    The L2 kernel factorises over the coordinates,
    :math:`\log k(a,b)=\sum_j\log\phi(\mu_{aj};\mu_{bj},v_{aj}+v_{bj})`, :math:`O(d)` per pair against
    :math:`O(d^3)` for full covariances ([J] App. C.1). The moment-matching barycentre keeps the structure
    (it is the diagonal, or the average diagonal, of the full barycentre), and so do the EM's M-step and the
    Chen–Tan penalty (:class:`~mixagg.families.gaussian.ChenTanPenalty`). :math:`D_1` is the full family's,
    :math:`\lVert\mu-\mu'\rVert_2+\lVert\Sigma^{1/2}-\Sigma'^{1/2}\rVert_F`.

    Examples
    --------
    >>> import numpy as np
    >>> from mixagg.families import Gaussian
    >>> fam = Gaussian(3, "diag")
    >>> fam
    Gaussian(d=3, covariance_type='diag')
    >>> p = {"mean": np.zeros(3), "var": np.array([1.0, 2.0, 4.0])}
    >>> full = Gaussian(3)
    >>> as_full = {"mean": p["mean"], "cov": np.diag(p["var"])}
    >>> bool(np.isclose(fam.logpdf(np.ones(3), p), full.logpdf(np.ones(3), as_full)))
    True
    """

    def __init__(self, d: int, covariance_type: str = "diag"):
        d = check_int(d, "d", minimum=1)
        structure = covariance_structure(covariance_type, d)
        if structure.shape == "full":
            raise ValueError(f"AxisGaussian has diagonal or spherical covariances, not {covariance_type!r}")
        self.d = d
        self.covariance_type = structure.name
        self.tied = structure.tied
        self.spherical = structure.shape == "spherical"
        self.event_shape = (d,)
        var_shape = () if self.spherical else (d,)
        what = "one variance per component" if self.spherical else "the variance of each coordinate"
        self.param_spec = MappingProxyType(
            {
                "mean": ParamSpec((d,), description="mean vector"),
                "var": ParamSpec(var_shape, description=f"{what} (positive)"),
            }
        )
        self.n_natural = d + (1 if self.spherical else d)
        self.shared_params = ("var",) if structure.tied else ()
        self.product_log_constant = -0.5 * d * _LOG_2PI
        ExponentialFamily.__init__(self)

    # -------------------------------------------------------------- layout
    def _axis(self, var: np.ndarray) -> np.ndarray:
        """The variance of every coordinate, ``(..., d)``."""
        return np.repeat(var[..., None], self.d, axis=-1) if self.spherical else var

    def _coerce_shapes(self, arrays: Params) -> Params:
        """For ``d = 1``, plain vectors of means and variances gain their trailing axes."""
        if self.d != 1:
            return arrays
        mean, var = arrays["mean"], arrays["var"]
        if mean.ndim == 0 or mean.shape[-1] != 1:
            mean = mean[..., None]
        if not self.spherical and (var.ndim == 0 or var.shape[-1] != 1):
            var = var[..., None]
        return {"mean": mean, "var": var}

    def _validate(self, params: Params) -> list[str]:
        var = params["var"]
        bad = ~(var > 0)
        if not np.any(bad):
            return []
        idx = [int(i) for i in np.argwhere(bad)[0]]
        return [f"var must be positive, got {var[tuple(idx)]!r} at index {idx}"]

    def _canonical(self, params: Params) -> Params:
        return {"mean": params["mean"], "var": params["var"]}

    def _mixture_problems(self, params: Params) -> list[str]:
        return tied_problems(self, params, "var")

    # -------------------------------------------------------------- coordinates
    def _split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``theta`` to (mean, per-coordinate variance); ``nan`` outside the domain."""
        d = self.d
        with np.errstate(divide="ignore", invalid="ignore"):
            var = -0.5 / theta[..., d:]
        var_axis = np.repeat(var, d, axis=-1) if self.spherical else var
        return theta[..., :d] * var_axis, var

    def _natural_from_params(self, params: Params) -> np.ndarray:
        var = params["var"]
        theta2 = -0.5 / (var[..., None] if self.spherical else var)
        return np.concatenate([params["mean"] / self._axis(var), theta2], axis=-1)

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        mean, var = self._split(theta)
        return {"mean": mean, "var": var[..., 0] if self.spherical else var}

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        """:math:`\\partial\\theta_1/\\partial\\mu=1/v`, :math:`\\partial\\theta_1/\\partial v=-\\mu/v^2`,
        :math:`\\partial\\theta_2/\\partial v=1/(2v^2)`, in the parameter vector (mean, var)."""
        mean, var = params["mean"], params["var"]
        d = self.d
        v = self._axis(var)
        out = np.zeros(mean.shape[:-1] + (self.n_natural, self.n_natural))
        eye = np.eye(d)
        out[..., :d, :d] = eye / v[..., None, :]
        if self.spherical:
            out[..., :d, d] = -mean / np.square(v)
            out[..., d, d] = 0.5 / np.square(var)
        else:
            out[..., :d, d:] = eye * (-mean / np.square(v))[..., None, :]
            out[..., d:, d:] = eye * (0.5 / np.square(v))[..., None, :]
        return out

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        mean, var = self._split(theta)
        v = self._axis(var[..., 0]) if self.spherical else var
        return np.sum(0.5 * mean * theta[..., : self.d] + 0.5 * np.log(v), axis=-1)

    def _natural_and_log_partition(self, params: Params) -> tuple[np.ndarray, np.ndarray]:
        theta = self._natural_from_params(params)
        v = self._axis(params["var"])
        return theta, np.sum(0.5 * params["mean"] * theta[..., : self.d] + 0.5 * np.log(v), axis=-1)

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return np.all(theta[..., self.d :] < 0, axis=-1) & np.all(np.isfinite(theta), axis=-1)

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        mean, var = params["mean"], params["var"]
        if self.spherical:
            second = (self.d * var + np.sum(np.square(mean), axis=-1))[..., None]
        else:
            second = var + np.square(mean)
        return np.concatenate([mean, second], axis=-1)

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return self._expectation_from_params(self._params_from_natural(theta))

    def _moments_from_expectation(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.d
        mean = eta[..., :d]
        if self.spherical:
            var = (eta[..., d] - np.sum(np.square(mean), axis=-1)) / d
        else:
            var = eta[..., d:] - np.square(mean)
        return mean, var

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        mean, var = self._moments_from_expectation(eta)
        inside = var > 0 if self.spherical else np.all(var > 0, axis=-1)
        theta = self._natural_from_params({"mean": mean, "var": np.where(var > 0, var, 1.0)})
        return np.where(inside[..., None], theta, np.nan)

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        mean, var = self._moments_from_expectation(eta)
        if not np.all(var > 0):
            idx = [int(i) for i in np.argwhere(~(var > 0))[0]]
            raise ValueError(
                f"the variance implied by eta is not positive at index {idx}: the point is on the boundary of the "
                "mean space (e.g. a coordinate constant within a component)"
            )
        return {"mean": mean, "var": var}

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\operatorname{Cov}T`: :math:`\\operatorname{Var}x_j=v_j`,
        :math:`\\operatorname{Cov}(x_j,x_j^2)=2\\mu_jv_j`,
        :math:`\\operatorname{Var}x_j^2=2v_j^2+4\\mu_j^2v_j` (coordinates independent)."""
        p = self._params_from_natural(theta)
        mean, var = p["mean"], p["var"]
        d = self.d
        v = self._axis(var)
        eye = np.eye(d)
        out = np.zeros(theta.shape[:-1] + (self.n_natural, self.n_natural))
        out[..., :d, :d] = eye * v[..., None, :]
        if self.spherical:
            out[..., :d, d] = 2.0 * mean * v
            out[..., d, :d] = 2.0 * mean * v
            out[..., d, d] = 2.0 * d * np.square(var) + 4.0 * var * np.sum(np.square(mean), axis=-1)
        else:
            cross = eye * (2.0 * mean * v)[..., None, :]
            out[..., :d, d:] = cross
            out[..., d:, :d] = cross
            out[..., d:, d:] = eye * (2.0 * np.square(v) + 4.0 * np.square(mean) * v)[..., None, :]
        return out

    # -------------------------------------------------------------- data
    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        sq = np.square(x)
        return np.concatenate([x, np.sum(sq, axis=-1, keepdims=True) if self.spherical else sq], axis=-1)

    def _logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        v = self._axis(params["var"])
        with np.errstate(over="ignore"):
            quad = np.sum(np.square(x - params["mean"]) / v, axis=-1)
        return self.product_log_constant - 0.5 * np.sum(np.log(v), axis=-1) - 0.5 * quad

    def _log_component_densities(self, x: np.ndarray, params: Params) -> np.ndarray:
        # O(n d) per component on the data centred at that component's mean (as the full family does), so that
        # components far apart relative to their spread keep their precision
        mean = params["mean"]
        inv_sd = 1.0 / np.sqrt(self._axis(params["var"]))
        const = self.product_log_constant + np.sum(np.log(inv_sd), axis=-1)
        out = np.empty((x.shape[0], mean.shape[0]))
        with np.errstate(over="ignore"):
            for k in range(mean.shape[0]):
                z = (x - mean[k]) * inv_sd[k]
                out[:, k] = const[k] - 0.5 * np.einsum("ij,ij->i", z, z)
        return out

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        mean = params["mean"]
        z = rng.standard_normal(size + mean.shape)
        return mean + np.sqrt(self._axis(params["var"])) * z

    # -------------------------------------------------------------- divergences, averages
    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        va, vb = self._axis(pa["var"]), self._axis(pb["var"])
        ratio = va / vb
        terms = ratio + np.square(pb["mean"] - pa["mean"]) / vb - 1.0 - np.log(ratio)
        return np.maximum(0.5 * np.sum(terms, axis=-1), 0.0)

    def _barycentre(self, params: Params, weights: np.ndarray) -> Params:
        # v* = sum pi (v_g + (mu_g - mu*)^2) / Pi per coordinate, the spread centred at each barycentre
        lead = weights.shape[:-1]
        rows = weights.reshape(-1, weights.shape[-1])
        total = rows.sum(axis=-1)
        mean = (rows @ params["mean"]) / total[:, None]
        spread = np.einsum("rg,rgj->rj", rows, np.square(params["mean"][None, :, :] - mean[:, None, :]))
        within = rows @ self._axis(params["var"])
        var = (within + spread) / total[:, None]
        if self.spherical:
            var = var.mean(axis=-1)
        var = var.reshape(lead + var.shape[1:])
        if self.tied:
            var = _pool(var, total.reshape(lead))
        return {"mean": mean.reshape(lead + (self.d,)), "var": var}

    def _weighted_mle(self, x: np.ndarray, weights: np.ndarray, reg: float = 0.0) -> Params:
        lead = weights.shape[:-1]
        rows = weights.reshape(-1, weights.shape[-1])
        total = rows.sum(axis=-1)
        mean = (rows @ x) / total[:, None]
        var = axis_scatter(x, rows, mean) / total[:, None]
        if self.spherical:
            var = var.mean(axis=-1)
        var = var.reshape(lead + var.shape[1:])
        if self.tied:
            var = _pool(var, total.reshape(lead))
        if reg:
            var = np.maximum(var, reg)  # the MLE over {v >= reg}: the coordinates separate
        return {"mean": mean.reshape(lead + (self.d,)), "var": var}

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        var = np.asarray(params["var"])
        if reg <= 0:
            return np.zeros(self.batch_shape(params), dtype=bool)
        low = var <= reg * (1 + 1e-9)
        return low if self.spherical else np.any(low, axis=-1)

    def _component_problems(self, params: Params) -> list[list[str]]:
        out = em_support.generic_component_problems(self, params)
        mean, var = params["mean"], self._axis(params["var"])
        for k, problems in enumerate(out):
            if problems:
                continue
            noise = (16 * np.finfo(float).eps * np.max(np.abs(mean[k]))) ** 2
            if np.min(var[k]) <= noise:
                problems.append(
                    f"var[{k}] is numerically zero (smallest variance {np.min(var[k]):.3g}, at the rounding level "
                    f"{noise:.3g} of the component): it collapsed onto too few distinct observations"
                )
        return out

    def _default_penalty(self, x: np.ndarray, weights: np.ndarray) -> Penalty:
        n = weights.sum()
        if n <= 1:
            raise ValueError(
                f"n_samples={n:g} is too few for the Chen-Tan penalty, which needs the sample variances of more "
                "than one observation"
            )
        centre = weights @ x / n
        with np.errstate(over="ignore"):
            variances = weights @ np.square(x - centre) / (n - 1.0)
        constant = np.flatnonzero(~(variances > 0))
        if constant.size:
            raise ValueError(
                f"X has constant column(s) {constant.tolist()}: their sample variance is zero, so the Chen-Tan "
                "penalty cannot keep variances positive; drop those columns, or use penalty=None with reg > 0"
            )
        if not np.all(np.isfinite(variances)):
            raise ValueError(
                "the variances of X are outside the range of float64: rescale X before fitting a Gaussian mixture"
            )
        return ChenTanPenalty(n**-0.5, np.diag(variances), covariance_type=self.covariance_type)

    # -------------------------------------------------------------- L2 kernel
    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        s = self._axis(pa["var"]) + self._axis(pb["var"])
        return self.product_log_constant - 0.5 * np.sum(np.log(s) + np.square(pa["mean"] - pb["mean"]) / s, axis=-1)

    def _log_product_integral_pairs(self, params: Params, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        from ._gaussian_numba import log_product_pairs_axis

        return log_product_pairs_axis(params["mean"], self._axis(params["var"]), ia, ib)

    # -------------------------------------------------------------- metrics, moments, examples
    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        mean_part = np.linalg.norm(pa["mean"] - pb["mean"], axis=-1)
        sd = np.sqrt(self._axis(pa["var"])) - np.sqrt(self._axis(pb["var"]))
        return mean_part + np.linalg.norm(sd, axis=-1)

    def _cov(self, params: Params) -> np.ndarray:
        return self._axis(np.asarray(params["var"], dtype=float))[..., None] * np.eye(self.d)

    def _invalid_params(self) -> list[Params]:
        shape = () if self.spherical else (self.d,)
        return [{"mean": np.zeros(self.d), "var": np.full(shape, value)} for value in (-1.0, 0.0)]

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        mean = rng.normal(0.0, 2.0, size + (self.d,))
        shape = size if self.spherical else size + (self.d,)
        var = np.exp(rng.normal(0.0, 0.5, shape))
        if self.tied and size:  # one variance shared along the last batch axis (the components)
            first = var[..., :1] if self.spherical else var[..., :1, :]
            var = np.broadcast_to(first, var.shape).copy()
        return {"mean": mean, "var": var}

    def to_full(self, params: Any) -> dict[str, np.ndarray]:
        """The same components as parameters of ``Gaussian(d)`` (or ``Gaussian(d, "tied")``): full covariances."""
        p = self.check_params(params)
        return {"mean": np.array(p["mean"]), "cov": self._cov(p)}
