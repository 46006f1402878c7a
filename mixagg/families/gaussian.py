"""Multivariate normal family with full covariance (``d = 1`` is the univariate case)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from .. import em_support
from .._validation import as_float_array, check_int
from .core import ExponentialFamily, Params, ParamSpec, vech_indices
from .covariance import covariance_structure
from .penalties import Penalty

__all__ = ["ChenTanPenalty", "Gaussian"]

#: Relative tolerance of the symmetry check on covariance matrices: entries of
#: ``cov - cov.T`` up to this times ``max|cov|`` are rounding (e.g. from R) and
#: are symmetrised away; larger asymmetry is an error.
SYMMETRY_RTOL = 1e-8


def _chol(mats: np.ndarray) -> np.ndarray:
    return np.linalg.cholesky(mats)


def _weighted_median(points: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """The coordinate-wise median of ``points`` (n, d) under non-negative masses ``mass`` (n,)."""
    order = np.argsort(points, axis=0, kind="stable")
    cum = np.cumsum(mass[order], axis=0)
    first = np.argmax(cum >= 0.5 * cum[-1], axis=0)
    cols = np.arange(points.shape[1])
    return points[order[first, cols], cols]


#: From this many stacked matrices on, triangular systems are solved by forward substitution vectorised
#: over the stack (d numpy steps); below it, LAPACK per matrix is faster. For 500 matrices of 10 x 10 the
#: substitution is ~6x faster than ``numpy.linalg.solve``.
SUBSTITUTION_MIN_BATCH = 32


def _forward_substitution(lower: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``lower @ z = rhs`` for matrices ``rhs (..., d, r)``.

    One row of ``z`` per step, vectorised over the stack.
    """
    d = lower.shape[-1]
    shape = np.broadcast_shapes(lower.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:]
    z = np.empty(shape)
    diag = np.diagonal(lower, axis1=-2, axis2=-1)
    for i in range(d):
        row = rhs[..., i, :]
        if i:
            row = row - np.einsum("...k,...kj->...j", lower[..., i, :i], z[..., :i, :])
        z[..., i, :] = row / diag[..., i, None]
    return z


def _solve_lower(lower: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``lower @ z = rhs`` for vectors ``rhs (..., d)``, batched and broadcast."""
    batch = np.broadcast_shapes(lower.shape[:-2], rhs.shape[:-1])
    if int(np.prod(batch, dtype=int)) >= SUBSTITUTION_MIN_BATCH:
        return _forward_substitution(lower, rhs[..., None])[..., 0]
    return np.linalg.solve(lower, rhs[..., None])[..., 0]  # LAPACK on triangular input (backward stable)


def _inv_lower(lower: np.ndarray) -> np.ndarray:
    """Inverse of lower-triangular matrices (itself lower triangular), batched."""
    eye = np.broadcast_to(np.eye(lower.shape[-1]), lower.shape)
    if int(np.prod(lower.shape[:-2], dtype=int)) >= SUBSTITUTION_MIN_BATCH:
        return np.tril(_forward_substitution(lower, eye))
    return np.tril(np.linalg.solve(lower, eye))


def _symmetrise(mats: np.ndarray) -> np.ndarray:
    """``(A + A^T) / 2`` without overflow for entries near the float64 maximum."""
    return 0.5 * mats + 0.5 * np.swapaxes(mats, -1, -2)


def _log_diag_sum(lower: np.ndarray) -> np.ndarray:
    return np.log(np.diagonal(lower, axis1=-2, axis2=-1)).sum(axis=-1)


#: Relative tolerance of the check that the components of a tied structure share one covariance.
TIED_RTOL = 1e-8


def _pool(values: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Mass-weighted average of per-component values along the component axis, broadcast back to every component.

    ``values`` ``(..., K, *shape)`` and ``mass`` ``(..., K)``: the shared parameter of a tied structure, the
    minimiser of the summed objective of the K components under one common value (``docs/covariance.md``).
    """
    if mass.ndim == 0:
        return values
    extra = values.ndim - mass.ndim
    m = mass.reshape(mass.shape + (1,) * extra)
    pooled = np.sum(m * values, axis=mass.ndim - 1, keepdims=True) / np.sum(m, axis=mass.ndim - 1, keepdims=True)
    return np.broadcast_to(pooled, values.shape).copy()


def axis_scatter(x: np.ndarray, weights: np.ndarray, means: np.ndarray) -> np.ndarray:
    """:math:`W_{k,j}=\\sum_iw_{ki}(x_{ij}-\\mu_{kj})^2` for rows ``weights`` ``(K, n)`` and ``means`` ``(K, d)``.

    One matrix-vector product per component on the data centred at that component's mean, so that components
    far apart relative to their spread lose no precision.
    """
    out = np.empty(means.shape)
    for k in range(means.shape[0]):
        out[k] = weights[k] @ np.square(x - means[k])
    return out


def tied_problems(family: ExponentialFamily, params: Params, key: str) -> list[str]:
    """Problems of a tied mixture's parameters: the components of a mixture must share ``params[key]``."""
    if not getattr(family, "tied", False):
        return []
    value = np.asarray(params[key])
    spec_ndim = len(family.param_spec[key].shape)
    if value.ndim <= spec_ndim:
        return []
    axis = value.ndim - spec_ndim - 1  # the component axis
    first = np.take(value, [0], axis=axis)
    gap = np.abs(value - first)
    scale = np.max(np.abs(value), axis=axis, keepdims=True)  # entry by entry: a small variance beside a large one
    if np.all(gap <= TIED_RTOL * scale):
        return []
    spread = float(np.max(gap))
    return [
        f"{key} differs between components (by up to {spread:.3g}), but covariance_type="
        f"{family.covariance_type!r} shares one {key} among the components of a mixture"
    ]


def is_positive_definite(mats: np.ndarray) -> np.ndarray:
    """Boolean array over the batch: whether each symmetric matrix admits a Cholesky factor."""
    mats = np.asarray(mats, dtype=float)
    batch = mats.shape[:-2]
    if mats.size == 0:
        return np.ones(batch, dtype=bool)
    finite = np.all(np.isfinite(mats), axis=(-2, -1))
    try:
        if np.all(finite):
            _chol(mats)
            return np.ones(batch, dtype=bool)
    except np.linalg.LinAlgError:
        pass
    # Error path only: locate the failing matrices one by one.
    flat = mats.reshape((-1,) + mats.shape[-2:])
    ok = np.zeros(flat.shape[0], dtype=bool)
    for i, mat in enumerate(flat):
        if np.all(np.isfinite(mat)):
            try:
                _chol(mat)
                ok[i] = True
            except np.linalg.LinAlgError:
                ok[i] = False
    return ok.reshape(batch)


class Gaussian(ExponentialFamily):
    r"""Multivariate normal :math:`N_d(\mu,\Sigma)` with full covariance.

    Parameters
    ----------
    d : int
        Dimension of an observation. ``d = 1`` is the univariate normal
        (observations may then be passed as plain 1-D arrays).
    covariance_type : str, default "full"
        The covariance structure (``docs/covariance.md``): ``"full"``, ``"tied"`` (one full covariance
        shared by the components of a mixture), ``"diag"``, ``"tied_diag"``, ``"spherical"``,
        ``"tied_spherical"``, or one of mclust's names ``VVV``, ``EEE``, ``VVI``, ``EEI``, ``VII``, ``EII``
        (:data:`mixagg.families.covariance.MCLUST_MODEL_NAMES`). The axis-aligned structures are the
        families of :mod:`mixagg.families.gaussian_axis`, whose parameter is ``var``; ``Gaussian(d, "diag")``
        builds one.

    Notes
    -----
    Standard parameters: ``mean`` ``(..., d)`` and ``cov`` ``(..., d, d)``
    (symmetric positive definite); for ``d = 1`` plain vectors of means and
    variances are accepted. With :math:`u(x)=(x_ix_j)_{i\ge j}` in ``vech`` order
    (lower triangle column by column, :func:`~mixagg.families.base.vech_indices`;
    ``docs/families.md``, "Gaussian"; [J] Table 3):

    .. math::

        T(x) &= (x,\ u(x)),\qquad h(x) = (2\pi)^{-d/2},\\
        \theta &= (\Sigma^{-1}\mu,\ \vartheta),\quad
        \vartheta_{ii} = -\tfrac12(\Sigma^{-1})_{ii},\ \vartheta_{ij} = -(\Sigma^{-1})_{ij}\ (i\ne j),\\
        A(\theta) &= \tfrac12\mu^\top\Sigma^{-1}\mu + \tfrac12\log\det\Sigma,\qquad
        \eta = (\mu,\ (\Sigma_{ij}+\mu_i\mu_j)_{i\ge j}).

    The L2 kernel is :math:`k(a,b)=\phi(\mu_a;\mu_b,\Sigma_a+\Sigma_b)` ([J] App. C.1);
    KL, barycentre and weighted MLE use the closed forms of ``docs/families.md``, "Gaussian"
    with Cholesky factors (no explicit inverse of a covariance in densities).
    The :math:`D_1` ground cost is
    :math:`\lVert\mu-\mu'\rVert_2+\lVert\Sigma^{1/2}-\Sigma'^{1/2}\rVert_F` ([J] App. C.2).

    Examples
    --------
    >>> import numpy as np
    >>> from mixagg.families import Gaussian
    >>> fam = Gaussian(d=2)
    >>> p = {"mean": np.zeros(2), "cov": np.eye(2)}
    >>> float(np.round(fam.logpdf(np.zeros(2), p), 6))
    -1.837877
    """

    name = "gaussian"
    support = "real"
    discrete = False
    #: Floor on covariance eigenvalues in the unpenalised M-step (the spirit of scikit-learn's ``reg_covar``).
    default_reg = 1e-6

    def __new__(cls, d: int, covariance_type: str = "full"):
        if cls is Gaussian and covariance_structure(covariance_type).shape != "full":
            from .gaussian_axis import AxisGaussian

            return super().__new__(AxisGaussian)
        return super().__new__(cls)

    def __init__(self, d: int, covariance_type: str = "full"):
        d = check_int(d, "d", minimum=1)
        structure = covariance_structure(covariance_type, d)
        if structure.shape != "full":
            raise ValueError(f"{type(self).__name__} has full covariances, not covariance_type={covariance_type!r}")
        self.d = d
        self.covariance_type = structure.name
        self.tied = structure.tied
        self.shared_params = ("cov",) if structure.tied else ()
        self.event_shape = (d,)
        self.param_spec = MappingProxyType(
            {
                "mean": ParamSpec((d,), description="mean vector"),
                "cov": ParamSpec((d, d), symmetric=True, description="covariance matrix (symmetric positive definite)"),
            }
        )
        self.n_natural = d + d * (d + 1) // 2
        self.product_log_constant = -0.5 * d * np.log(2.0 * np.pi)
        self._rows, self._cols = vech_indices(d)
        # Off-diagonal natural coordinates pair with x_i x_j once (not twice).
        self._offdiag_factor = np.where(self._rows == self._cols, 0.5, 1.0)
        super().__init__()

    def settings(self) -> dict[str, Any]:
        if self.covariance_type == "full":
            return {"d": self.d}
        return {"d": self.d, "covariance_type": self.covariance_type}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"Gaussian({args})"

    @classmethod
    def infer_settings(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``d`` (and the structure) from the parameters; ``{}`` when they cannot be read.

        A ``var`` instead of a ``cov`` means an axis-aligned structure: ``diag`` when it has the shape of the
        means, ``spherical`` when it has one value per component. A ``cov`` given as a scalar or a plain vector
        (one variance per component, as R users send it) means ``d = 1``; otherwise ``d`` is the length of
        ``mean`` (or the size of ``cov``).
        """
        arrays = {}
        for key in ("mean", "cov", "var"):
            try:
                arrays[key] = np.asarray(params[key], dtype=float)
            except (KeyError, TypeError, ValueError, OverflowError):
                continue
        if "var" in arrays and "cov" not in arrays:
            mean, var = arrays.get("mean"), arrays["var"]
            if mean is None or mean.ndim == 0:
                return {}
            if mean.ndim == 1 and var.ndim <= 1:  # plain vectors: univariate, as for ``cov``
                return {"d": 1, "covariance_type": "diag"}
            if mean.ndim == var.ndim:
                return {"d": int(mean.shape[-1]), "covariance_type": "diag"}
            if mean.ndim == var.ndim + 1:
                return {"d": int(mean.shape[-1]), "covariance_type": "spherical"}
            return {}
        if "cov" in arrays and arrays["cov"].ndim <= 1:
            return {"d": 1}
        for key, min_ndim in (("mean", 1), ("cov", 2)):
            arr = arrays.get(key)
            if arr is not None and arr.ndim >= min_ndim and arr.shape[-1] >= 1:
                return {"d": int(arr.shape[-1])}
        return {}

    def _coerce_shapes(self, arrays: Params) -> Params:
        """For ``d = 1``, plain vectors of means and variances gain their trailing axes."""
        if self.d != 1:
            return arrays
        mean, cov = arrays["mean"], arrays["cov"]
        if mean.ndim == 0 or mean.shape[-1] != 1:
            mean = mean[..., None]
        if cov.ndim < 2 or cov.shape[-2:] != (1, 1):
            cov = cov[..., None, None]
        return {"mean": mean, "cov": cov}

    # -------------------------------------------------------------- validation
    def _validate(self, params: Params) -> list[str]:
        cov = params["cov"]
        problems = []
        scale = np.max(np.abs(cov), axis=(-2, -1))
        asym = np.max(np.abs(cov - np.swapaxes(cov, -1, -2)), axis=(-2, -1))
        bad = asym > SYMMETRY_RTOL * scale
        if np.any(bad):
            idx = [int(i) for i in np.argwhere(bad)[0]]
            problems.append(f"cov{idx} is not symmetric (max |cov - cov.T| = {asym[tuple(idx)]:.3g})")
            return problems
        pd = is_positive_definite(_symmetrise(cov))
        if not np.all(pd):
            idx = tuple(int(i) for i in np.argwhere(~pd)[0])
            eig = np.linalg.eigvalsh(cov[idx])
            problems.append(
                f"cov{list(idx)} is not positive definite (eigenvalues from {eig[0]:.3g} to {eig[-1]:.3g}); "
                f"{int(np.size(pd) - np.count_nonzero(pd))} covariance matrix(es) affected"
            )
        return problems

    def _canonical(self, params: Params) -> Params:
        cov = params["cov"]
        return {"mean": params["mean"], "cov": _symmetrise(cov)}

    # -------------------------------------------------------------- coordinates
    def _precision_from_natural(self, theta: np.ndarray) -> np.ndarray:
        d = self.d
        vt = theta[..., d:]
        prec = np.zeros(theta.shape[:-1] + (d, d))
        # P_ii = -2 vartheta_ii ; P_ij = -vartheta_ij (i != j)
        vals = np.where(self._rows == self._cols, -2.0 * vt, -vt)
        prec[..., self._rows, self._cols] = vals
        prec[..., self._cols, self._rows] = vals
        return prec

    def _natural_from_params(self, params: Params) -> np.ndarray:
        mean, cov = params["mean"], params["cov"]
        inv_chol = _inv_lower(_chol(cov))  # Sigma^{-1} = M^T M
        prec = _symmetrise(np.swapaxes(inv_chol, -1, -2) @ inv_chol)
        theta1 = np.einsum("...ij,...j->...i", prec, mean)
        theta2 = -prec[..., self._rows, self._cols] * self._offdiag_factor
        return np.concatenate([theta1, theta2], axis=-1)

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        """Closed form of the Jacobian, with :math:`P=\\Sigma^{-1}`.

        :math:`\\theta_1=P\\mu` and :math:`\\partial P/\\partial\\sigma_{ab}=-PE_{ab}P`.

        :math:`E_{ab}=e_ae_b^\\top+e_be_a^\\top` for :math:`a\\ne b` and :math:`e_ae_a^\\top` on the diagonal
        (``vech`` coordinates).
        """
        mean, cov = params["mean"], params["cov"]
        inv_chol = _inv_lower(_chol(cov))
        prec = _symmetrise(np.swapaxes(inv_chol, -1, -2) @ inv_chol)
        theta1 = np.einsum("...ij,...j->...i", prec, mean)
        r, c = self._rows, self._cols
        d = self.d
        half = np.where(r == c, 0.5, 1.0)  # E_aa counts its entry once
        out = np.zeros(mean.shape[:-1] + (self.n_natural, self.n_params))
        out[..., :d, :d] = prec
        # d theta1_i / d sigma_ab = -(P_ia theta1_b + P_ib theta1_a) * half_ab
        out[..., :d, d:] = -(prec[..., :, r] * theta1[..., None, c] + prec[..., :, c] * theta1[..., None, r]) * half
        # theta2_ij = -factor_ij P_ij:  d theta2_ij / d sigma_ab = factor_ij (P_ia P_bj + P_ib P_aj) * half_ab
        pa_i = prec[..., r, :][..., :, r]  # P_{i a}: rows (i, j) pairs, columns (a, b) pairs
        pb_j = prec[..., c, :][..., :, c]
        pb_i = prec[..., r, :][..., :, c]
        pa_j = prec[..., c, :][..., :, r]
        out[..., d:, d:] = self._offdiag_factor[:, None] * (pa_i * pb_j + pb_i * pa_j) * half
        return out

    def _kl_frame(self, params: Params, mass: np.ndarray):
        # KL divergences and KL barycentres are equivariant under translations: centre the means at their
        # mass-weighted coordinate-wise median, so that mu' P mu stays small in the matrix-product form of the
        # KL cost, and one atom placed far away cannot move the frame off the others
        centre = _weighted_median(params["mean"], mass)

        def to(p: Params) -> Params:
            return {**p, "mean": p["mean"] - centre}

        def back(p: Params) -> Params:
            return {**p, "mean": p["mean"] + centre}

        return to, back

    def _natural_and_log_partition(self, params: Params) -> tuple[np.ndarray, np.ndarray]:
        # one Cholesky factor for both: A = mu' Sigma^{-1} mu / 2 + sum log diag L
        mean, cov = params["mean"], params["cov"]
        lower = _chol(cov)
        inv_chol = _inv_lower(lower)
        prec = _symmetrise(np.swapaxes(inv_chol, -1, -2) @ inv_chol)
        theta1 = np.einsum("...ij,...j->...i", prec, mean)
        theta = np.concatenate([theta1, -prec[..., self._rows, self._cols] * self._offdiag_factor], axis=-1)
        return theta, 0.5 * np.einsum("...i,...i->...", mean, theta1) + _log_diag_sum(lower)

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        inv_chol = _inv_lower(_chol(self._precision_from_natural(theta)))  # Sigma = P^{-1} = M^T M
        cov = _symmetrise(np.swapaxes(inv_chol, -1, -2) @ inv_chol)
        mean = np.einsum("...ij,...j->...i", cov, theta[..., : self.d])
        return {"mean": mean, "cov": cov}

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        lower = _chol(self._precision_from_natural(theta))
        z = _solve_lower(lower, theta[..., : self.d])
        return 0.5 * np.sum(z * z, axis=-1) - _log_diag_sum(lower)

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        return is_positive_definite(self._precision_from_natural(theta))

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        return self._expectation_from_params(self._params_from_natural(theta))

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        mean, cov = params["mean"], params["cov"]
        second = cov + mean[..., :, None] * mean[..., None, :]
        return np.concatenate([mean, second[..., self._rows, self._cols]], axis=-1)

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\operatorname{Cov}T` by Isserlis' theorem, :math:`T=(x,(x_ix_j)_{i\\le j})`.

        See ``docs/families.md``, "Gaussian".
        """
        p = self._params_from_natural(theta)
        mu, sig = p["mean"], p["cov"]
        r, c = self._rows, self._cols
        d = self.d
        out = np.empty(theta.shape[:-1] + (self.n_natural, self.n_natural))
        out[..., :d, :d] = sig
        # Cov(x_i, x_k x_l) = S_ik mu_l + S_il mu_k
        cross = sig[..., :, r] * mu[..., None, c] + sig[..., :, c] * mu[..., None, r]
        out[..., :d, d:] = cross
        out[..., d:, :d] = np.swapaxes(cross, -1, -2)
        # Cov(x_i x_j, x_k x_l) = S_ik S_jl + S_il S_jk + mu_i mu_k S_jl + mu_i mu_l S_jk
        #                         + mu_j mu_k S_il + mu_j mu_l S_ik
        i, j, k, l = r[:, None], c[:, None], r[None, :], c[None, :]  # noqa: E741 (the formula's indices)
        m = mu[..., :, None]
        out[..., d:, d:] = (
            sig[..., i, k] * sig[..., j, l]
            + sig[..., i, l] * sig[..., j, k]
            + m[..., i, 0] * m[..., k, 0] * sig[..., j, l]
            + m[..., i, 0] * m[..., l, 0] * sig[..., j, k]
            + m[..., j, 0] * m[..., k, 0] * sig[..., i, l]
            + m[..., j, 0] * m[..., l, 0] * sig[..., i, k]
        )
        return out

    def _cov_from_expectation(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.d
        mean = eta[..., :d]
        second = np.zeros(eta.shape[:-1] + (d, d))
        second[..., self._rows, self._cols] = eta[..., d:]
        second[..., self._cols, self._rows] = eta[..., d:]
        return mean, second - mean[..., :, None] * mean[..., None, :]

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        mean, cov = self._cov_from_expectation(eta)
        return self._natural_from_params({"mean": mean, "cov": cov})

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        mean, cov = self._cov_from_expectation(eta)
        self._require_pd(cov, "the covariance implied by eta")
        return {"mean": mean, "cov": cov}

    @staticmethod
    def _require_pd(cov: np.ndarray, what: str) -> None:
        ok = is_positive_definite(cov)
        if not np.all(ok):
            idx = [int(i) for i in np.argwhere(~ok)[0]]
            raise ValueError(
                f"{what} is not positive definite at batch index {idx}: the point is on the boundary of "
                "the mean space (e.g. fewer than d + 1 distinct observations, or a constant coordinate)"
            )

    # -------------------------------------------------------------- data
    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, x[..., self._rows] * x[..., self._cols]], axis=-1)

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        return np.full(x.shape[:-1], self.product_log_constant)

    def _logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        mean, cov = params["mean"], params["cov"]
        inv_chol = _inv_lower(_chol(cov))  # M with M Sigma M^T = I
        z = np.einsum("...ij,...j->...i", inv_chol, x - mean)
        log_det_half = -np.log(np.diagonal(inv_chol, axis1=-2, axis2=-1)).sum(axis=-1)
        with np.errstate(over="ignore"):  # a squared distance beyond 1.8e308 is a log-density of -inf
            return self.product_log_constant - log_det_half - 0.5 * np.sum(z * z, axis=-1)

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        mean, cov = params["mean"], params["cov"]
        lower = _chol(cov)
        z = rng.standard_normal(size + mean.shape)
        return mean + np.einsum("...ij,...j->...i", lower, z)

    # -------------------------------------------------------------- divergences, averages
    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        l0 = _chol(pa["cov"])
        l1 = _chol(pb["cov"])
        m1 = _inv_lower(l1)
        trace = np.sum(np.square(m1 @ l0), axis=(-2, -1))
        z = np.einsum("...ij,...j->...i", m1, pb["mean"] - pa["mean"])
        out = 0.5 * (trace + np.sum(z * z, axis=-1) - self.d) + _log_diag_sum(l1) - _log_diag_sum(l0)
        return np.maximum(out, 0.0)

    def _barycentre(self, params: Params, weights: np.ndarray) -> Params:
        # Sigma* = sum pi (Sigma_g + (mu_g - mu*)(mu_g - mu*)^T) / Pi, the spread term centred at each
        # barycentre (no cancellation); one GEMM for the within part, one small GEMM per barycentre over its atoms.
        lead = weights.shape[:-1]
        rows = weights.reshape(-1, weights.shape[-1])
        total = rows.sum(axis=-1)
        mean = (rows @ params["mean"]) / total[:, None]
        d = self.d
        cov = (rows @ params["cov"].reshape(-1, d * d)).reshape(-1, d, d)
        for r in range(rows.shape[0]):
            live = np.flatnonzero(rows[r])
            diff = params["mean"][live] - mean[r]
            cov[r] += (rows[r, live][:, None] * diff).T @ diff
        cov /= total[:, None, None]
        cov = _symmetrise(cov).reshape(lead + (d, d))
        if self.tied:
            cov = _pool(cov, total.reshape(lead))
        return {"mean": mean.reshape(lead + (d,)), "cov": cov}

    def _weighted_mle(self, x: np.ndarray, weights: np.ndarray, reg: float = 0.0) -> Params:
        lead = weights.shape[:-1]
        rows = weights.reshape(-1, weights.shape[-1])
        total = rows.sum(axis=-1)
        mean = (rows @ x) / total[:, None]
        cov = np.empty((rows.shape[0], self.d, self.d))
        for k in range(rows.shape[0]):  # one GEMM per estimate; n and d are the large dimensions
            diff = x - mean[k]
            cov[k] = (rows[k][:, None] * diff).T @ diff / total[k]
        cov = _symmetrise(cov)
        if self.tied:
            cov = _pool(cov.reshape(lead + (self.d, self.d)), total.reshape(lead)).reshape(cov.shape)
        if reg:
            # the MLE over {Sigma >= reg I}: eigenvalues below reg are raised to reg (an exact constrained
            # M-step, so EM stays monotone; scikit-learn's reg_covar adds reg to every eigenvalue instead)
            vals, vecs = np.linalg.eigh(cov)
            cov = _symmetrise((vecs * np.maximum(vals, reg)[:, None, :]) @ np.swapaxes(vecs, -1, -2))
        return {"mean": mean.reshape(lead + (self.d,)), "cov": cov.reshape(lead + (self.d, self.d))}

    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if reg <= 0:
            return np.zeros(self.batch_shape(params), dtype=bool)
        return np.linalg.eigvalsh(params["cov"])[..., 0] <= reg * (1 + 1e-9)

    def _component_problems(self, params: Params) -> list[list[str]]:
        out = em_support.generic_component_problems(self, params)
        mean, cov = params["mean"], params["cov"]
        for k, problems in enumerate(out):
            if problems:
                continue
            vals = np.linalg.eigvalsh(cov[k])
            # a variance below the rounding error of the mean is numerical noise, not an estimate
            noise = max(1e-14 * vals[-1], (16 * np.finfo(float).eps * np.max(np.abs(mean[k]))) ** 2)
            if vals[0] <= noise:
                problems.append(
                    f"cov[{k}] is numerically singular (smallest eigenvalue {vals[0]:.3g}, at the rounding level "
                    f"{noise:.3g} of the component): it collapsed onto too few distinct observations"
                )
        return out

    def _default_penalty(self, x: np.ndarray, weights: np.ndarray) -> Penalty:
        n = weights.sum()
        if n <= 1:
            raise ValueError(
                f"n_samples={n:g} is too few for the Chen-Tan penalty, which needs the sample covariance of more "
                "than one observation"
            )
        # computed on columns scaled to unit peak, so only a genuinely unrepresentable variance fails
        peak = np.max(np.abs(x), axis=0)
        peak = np.where(peak > 0, peak, 1.0)
        scaled = x / peak
        diff = scaled - weights @ scaled / n
        unit_cov = (weights[:, None] * diff).T @ diff / (n - 1.0)  # divisor n - 1 (frequency weights)
        constant = np.flatnonzero(np.diagonal(unit_cov) <= 0)
        with np.errstate(over="ignore", under="ignore"):
            sample_cov = unit_cov * np.outer(peak, peak)
        if not constant.size and not np.all(np.isfinite(sample_cov) & (np.abs(np.diagonal(sample_cov)) > 0)[:, None]):
            raise ValueError(
                "the variances of X are outside the range of float64 (X's scale is about "
                f"{float(np.max(peak)):.3g}): rescale X before fitting a Gaussian mixture"
            )
        if constant.size:
            raise ValueError(
                f"X has constant column(s) {constant.tolist()}: the sample covariance is singular, so the Chen-Tan "
                "penalty cannot keep covariances positive definite; drop those columns, "
                "or use penalty=None with reg > 0"
            )
        if not np.all(is_positive_definite(sample_cov)):
            raise ValueError(
                "the sample covariance of X is singular (collinear columns, or fewer than d + 1 distinct "
                "observations): drop redundant columns, or use penalty=None with reg > 0"
            )
        return ChenTanPenalty(strength=n**-0.5, sample_cov=sample_cov, covariance_type=self.covariance_type)

    def _log_component_densities(self, x: np.ndarray, params: Params) -> np.ndarray:
        # z_k = M_k (x - mu_k) with M_k = L_k^{-1}: one GEMM per component, memory O(n d) (as scikit-learn)
        mean, cov = params["mean"], params["cov"]
        inv_chol = _inv_lower(_chol(cov))
        log_det_half = np.log(np.diagonal(inv_chol, axis1=-2, axis2=-1)).sum(axis=-1)
        out = np.empty((x.shape[0], mean.shape[0]))
        with np.errstate(over="ignore"):
            for k in range(mean.shape[0]):
                mt = inv_chol[k].T
                z = x @ mt
                z -= mean[k] @ mt
                out[:, k] = self.product_log_constant + log_det_half[k] - 0.5 * np.einsum("ij,ij->i", z, z)
        return out

    @classmethod
    def settings_for_data(cls, x: np.ndarray) -> dict[str, Any]:
        arr = np.asarray(x)
        return {"d": int(arr.shape[-1]) if arr.ndim >= 2 else 1}

    # -------------------------------------------------------------- L2 kernel
    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        lower = _chol(pa["cov"] + pb["cov"])
        z = _solve_lower(lower, pa["mean"] - pb["mean"])
        return self.product_log_constant - _log_diag_sum(lower) - 0.5 * np.sum(z * z, axis=-1)

    def _log_product_integral_pairs(self, params: Params, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        from ._gaussian_numba import log_product_pairs

        return log_product_pairs(params["mean"], params["cov"], ia, ib)

    def _pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        return np.ones(np.broadcast_shapes(self.batch_shape(pa), self.batch_shape(pb)), dtype=bool)

    # -------------------------------------------------------------- metrics, moments, examples
    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        def sqrtm(cov: np.ndarray) -> np.ndarray:
            vals, vecs = np.linalg.eigh(cov)
            return (vecs * np.sqrt(np.clip(vals, 0.0, None))[..., None, :]) @ np.swapaxes(vecs, -1, -2)

        mean_part = np.linalg.norm(pa["mean"] - pb["mean"], axis=-1)
        cov_part = np.linalg.norm(sqrtm(pa["cov"]) - sqrtm(pb["cov"]), axis=(-2, -1))
        return mean_part + cov_part

    def _mean(self, params: Params) -> np.ndarray:
        return np.array(params["mean"])

    def _cov(self, params: Params) -> np.ndarray:
        return np.array(params["cov"])

    def _invalid_params(self) -> list[Params]:
        eye = np.eye(self.d)
        indefinite = eye.copy()
        indefinite[0, 0] = -1.0
        out = [{"mean": np.zeros(self.d), "cov": indefinite}, {"mean": np.zeros(self.d), "cov": 0.0 * eye}]
        if self.d > 1:
            skew = eye.copy()
            skew[0, 1] = 0.5
            out.append({"mean": np.zeros(self.d), "cov": skew})
        return out

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        d = self.d
        mean = rng.normal(0.0, 2.0, size + (d,))
        a = rng.normal(size=size + (d, d))
        scale = np.exp(rng.normal(0.0, 0.5, size))[..., None, None]
        cov = scale * (a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d))
        if self.tied:  # one covariance shared along the last batch axis (the components)
            cov = np.broadcast_to(cov[..., :1, :, :], cov.shape).copy() if size else cov
        return {"mean": mean, "cov": _symmetrise(cov)}

    def _mixture_problems(self, params: Params) -> list[str]:
        return tied_problems(self, params, "cov")


class ChenTanPenalty(Penalty):
    r"""Chen–Tan (2009) penalty for Gaussian mixtures, in each covariance structure.

    :math:`p(\theta)=\operatorname{tr}(\Sigma^{-1}S_x)+\log\det\Sigma`, evaluated at the structure's
    covariance (diagonal :math:`\Sigma=\operatorname{diag}(v)`: :math:`\sum_j s_{jj}/v_j+\log v_j`;
    spherical :math:`\Sigma=vI`: :math:`\operatorname{tr}S_x/v+d\log v`).

    Parameters
    ----------
    strength : float
        :math:`a_n`.
    sample_cov : array-like of shape (d, d)
        :math:`S_x`, the sample covariance of the local data (divisor
        :math:`n-1`), symmetric; positive definite for the full structures, with a positive diagonal for the
        axis-aligned ones (which read only the diagonal).
    covariance_type : str, default "full"
        The structure of the family it penalises (:func:`~mixagg.families.covariance.covariance_structure`).

    Notes
    -----
    The penalised M-step is closed form ([J] App. A.1, eq. (15) for the full structure; ``docs/covariance.md``
    for the others): :math:`\mu_k=n_k^{-1}\sum_j\tau_{jk}x_j`, :math:`W_k=\sum_j\tau_{jk}(x_j-\mu_k)(x_j-\mu_k)^\top`,

    .. math::

        \text{full: }\Sigma_k=\frac{2a_nS_x+W_k}{2a_n+n_k},\qquad
        \text{diag: }v_{kj}=\frac{2a_ns_{jj}+W_{k,jj}}{2a_n+n_k},\qquad
        \text{spherical: }v_k=\frac{2a_n\operatorname{tr}S_x+\operatorname{tr}W_k}{d\,(2a_n+n_k)},

    and for a tied structure the K penalties of the common covariance give
    :math:`\Sigma=(2Ka_nS_x+\sum_kW_k)/(2Ka_n+n)` (and its diagonal and spherical versions). Every
    covariance is then at least :math:`2a_n/(n+2a_n)` times the structure's part of :math:`S_x`, so none can
    collapse.
    """

    def __init__(self, strength: float, sample_cov: Any, covariance_type: str = "full"):
        super().__init__(strength)
        cov = as_float_array(sample_cov, "sample_cov", ndim=2)
        if cov.shape[0] != cov.shape[1]:
            raise ValueError(f"sample_cov must be square, got shape {cov.shape}")
        self.structure = covariance_structure(covariance_type, cov.shape[0])
        self.sample_cov = 0.5 * cov + 0.5 * cov.T
        self._diag = np.diagonal(self.sample_cov).copy()
        if self.structure.shape == "full":
            try:
                self._chol = np.linalg.cholesky(self.sample_cov)
            except np.linalg.LinAlgError:
                raise ValueError("sample_cov must be positive definite") from None
        elif not np.all(self._diag > 0):
            raise ValueError("the diagonal of sample_cov must be positive")

    def __repr__(self) -> str:
        extra = "" if self.structure.name == "full" else f", covariance_type={self.structure.name!r}"
        return f"{type(self).__name__}(strength={self.strength:.6g}{extra})"

    def check(self, family: Any, x: np.ndarray) -> None:
        if not isinstance(family, Gaussian):
            raise TypeError(f"ChenTanPenalty penalises Gaussian mixtures, not {family!r}")
        if self.sample_cov.shape[0] != family.d:
            raise ValueError(
                f"sample_cov is {self.sample_cov.shape[0]}x{self.sample_cov.shape[0]} but the data have d={family.d}"
            )
        if family.covariance_type != self.structure.name:
            raise ValueError(
                f"this ChenTanPenalty is for covariance_type={self.structure.name!r}, the family has "
                f"{family.covariance_type!r}"
            )

    def value(self, params: Params) -> np.ndarray:
        shape = self.structure.shape
        if shape == "diag":
            var = params["var"]
            return np.sum(self._diag / var + np.log(var), axis=-1)
        if shape == "spherical":
            var = params["var"]
            return np.sum(self._diag) / var + self._diag.size * np.log(var)
        cov = params["cov"]
        lower = np.linalg.cholesky(cov)
        eye = np.broadcast_to(np.eye(cov.shape[-1]), cov.shape)
        inv_chol = np.tril(np.linalg.solve(lower, eye))  # Sigma^{-1} = M^T M
        trace = np.sum(np.square(inv_chol @ self._chol), axis=(-2, -1))  # tr(M S M^T), S = C C^T
        log_det = 2.0 * np.log(np.diagonal(lower, axis1=-2, axis2=-1)).sum(axis=-1)
        return trace + log_det

    def m_step(self, x: np.ndarray, resp: np.ndarray) -> Params:
        nk = resp.sum(axis=1)
        means = (resp @ x) / nk[:, None]
        two_a = 2.0 * self.strength
        shape, tied = self.structure.shape, self.structure.tied
        if shape != "full":
            scatter = axis_scatter(x, resp, means)
            prior, count = self._diag, nk
            if shape == "spherical":
                scatter, prior = scatter.sum(axis=1), np.sum(self._diag)
            if tied:
                k = resp.shape[0]
                var = (k * two_a * prior + scatter.sum(axis=0)) / (k * two_a + count.sum())
                var = np.broadcast_to(var, scatter.shape).copy()
            else:
                var = (two_a * prior + scatter) / (two_a + (count[:, None] if shape == "diag" else count))
            if shape == "spherical":
                var = var / x.shape[1]
            return {"mean": means, "var": var}
        covs = np.empty((resp.shape[0], x.shape[1], x.shape[1]))
        for k in range(resp.shape[0]):  # one GEMM per component (K is small; n and d are not)
            diff = x - means[k]
            covs[k] = (resp[k][:, None] * diff).T @ diff
        if tied:
            k = resp.shape[0]
            common = (k * two_a * self.sample_cov + covs.sum(axis=0)) / (k * two_a + nk.sum())
            covs = np.broadcast_to(common, covs.shape).copy()
        else:
            covs = (two_a * self.sample_cov + covs) / (two_a + nk)[:, None, None]
        return {"mean": means, "cov": 0.5 * covs + 0.5 * np.swapaxes(covs, -1, -2)}
