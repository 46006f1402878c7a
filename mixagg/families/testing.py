"""``check_family``: the conformance suite every family must pass.

Each property checks the family against *independent* computations —
numerical integration, finite differences of the log-partition, Monte Carlo
with the family's own sampler, direct numerical optimisation — never against
another output of the same closed form. Statistical checks compare with a
Monte Carlo standard error, with a Bonferroni-corrected threshold so that one
run of the whole suite has a false-alarm probability of about ``1e-5`` per property.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, stats

from .. import em_support
from .._differences import central_jacobian
from .._validation import as_generator, check_int
from ..em import fit_mixture
from ..exceptions import FamilyConformanceError
from ..mixture import MixingDistribution
from ..reduction import KL_FRAME, kl_frame
from ..theory import derivatives
from .core import ExponentialFamily, Params
from .unchecked import UNCHECKED_OPERATIONS

__all__ = ["FamilyCheckReport", "PropertyResult", "PROPERTIES", "check_family"]

#: Names of the properties, in the order they run.
PROPERTIES = (
    "validate",
    "natural_roundtrip",
    "logpdf_generic",
    "density_normalised",
    "expectation_map",
    "inverse_mean_map",
    "kl_divergence",
    "kl_monte_carlo",
    "barycentre",
    "weighted_mle",
    "product_integral",
    "kernel_derivatives",
    "sampling_moments",
    "ground_distance",
    "moments",
    "unchecked",
    "kl_frame",
    "em_fit",
)

#: Per-property false-alarm probability of the Monte Carlo checks.
FALSE_ALARM = 1e-5
#: Monte Carlo product-integral checks need this many effective draws to be trusted.
MIN_ESS = 2000
#: A finite support of at most this many points is summed exactly (``family._support_points``).
SUPPORT_POINTS_MAX = 2**20
#: Above this many natural parameters, kernel derivatives are checked on the first two integrable pairs and one
#: nearby partner only (the nested-difference reference is quadratic in the dimension).
MANY_NATURAL = 10
#: Relative accuracy asked of ``scipy.integrate.quad`` and accepted from it.
QUAD_RTOL = 1e-7


@dataclass(frozen=True)
class PropertyResult:
    """Outcome of one property of :func:`check_family`.

    ``discrepancy`` and ``tolerance`` are in the property's own units (a
    relative error, or a number of Monte Carlo standard errors); the property
    passes when ``discrepancy <= tolerance``.
    """

    name: str
    passed: bool
    discrepancy: float
    tolerance: float
    detail: str = ""


@dataclass(frozen=True)
class FamilyCheckReport:
    """All property results of one :func:`check_family` run."""

    family: ExponentialFamily
    results: tuple[PropertyResult, ...]

    @property
    def passed(self) -> bool:
        """Whether every property passed."""
        return all(r.passed for r in self.results)

    def failures(self) -> list[PropertyResult]:
        """The properties that failed."""
        return [r for r in self.results if not r.passed]

    def __getitem__(self, name: str) -> PropertyResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self) -> str:
        lines = [f"check_family({self.family!r}): {'PASSED' if self.passed else 'FAILED'}"]
        lines.append(f"  {'property':<20} {'ok':<4} {'discrepancy':>12} {'tolerance':>12}  detail")
        for r in self.results:
            lines.append(
                f"  {r.name:<20} {'yes' if r.passed else 'NO':<4} {r.discrepancy:>12.3g} {r.tolerance:>12.3g}  "
                f"{r.detail}"
            )
        return "\n".join(lines)


def _z(n_comparisons: int) -> float:
    return float(stats.norm.isf(FALSE_ALARM / (2 * max(1, n_comparisons))))


def _max(*values: float) -> float:
    """Maximum in which a NaN counts as +inf (``max(0.0, nan)`` would silently drop it)."""
    return max(np.inf if np.isnan(v) else float(v) for v in values)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    return _max(*(np.abs(a - b) / (1.0 + np.abs(b))).ravel()) if a.size else 0.0


class _Checker:
    def __init__(self, family: ExponentialFamily, params: Params, rng: np.random.Generator, n_mc: int):
        self.f = family
        self.p = params
        self.k = family.batch_shape(params)[0]
        self.rng = rng
        self.n_mc = n_mc
        self.theta = family._natural_from_params(params)

    @functools.cached_property
    def samples(self) -> list[np.ndarray]:
        """``n_mc`` draws from each component (drawn on first use, inside a property's error handling)."""
        return [self.f._sample(self.one(a), (self.n_mc,), self.rng) for a in range(self.k)]

    def one(self, a: int) -> Params:
        return self.f.take(self.p, a)

    # -------------------------------------------------------------- integration helpers
    def _support_limits(self) -> tuple[float, float]:
        return {"real": (-np.inf, np.inf), "positive": (0.0, np.inf), "nonnegative": (0.0, np.inf)}[self.f.support]

    def _scalar(self, x: np.ndarray) -> np.ndarray:
        """Observation array from scalars (adds the trailing axis for event_shape (1,))."""
        return x[..., None] if self.f.event_shape == (1,) else x

    def _integrate_1d(self, logfun: Callable[[np.ndarray], np.ndarray], anchors: np.ndarray) -> float:
        lo, hi = self._support_limits()
        qs = np.quantile(anchors, [1e-4, 1e-3, 0.01, 0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.99, 0.999, 1 - 1e-4])
        pts = np.unique(qs[(qs > lo) & (qs < hi)])
        edges = [lo, *pts, hi]
        total = 0.0
        with warnings.catch_warnings():
            # quad's accuracy warnings are moot here: the result is compared against a tolerance
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            for a, b in zip(edges[:-1], edges[1:]):
                val, _ = integrate.quad(
                    lambda t: float(np.exp(logfun(np.array(t)))), a, b, epsabs=0.0, epsrel=1e-11, limit=400
                )
                total += val
        return total

    def _count_range(self, anchors: np.ndarray) -> np.ndarray:
        top = int(np.max(anchors) * 2 + 100)
        return np.arange(top + 1, dtype=float)

    def _discrete_points(self, anchors: np.ndarray) -> tuple[np.ndarray, str]:
        """Observations covering a discrete support (all of it, or the counts up to well past the draws)."""
        f = self.f
        points = f._support_points(SUPPORT_POINTS_MAX)
        if points is not None:
            return points, f"sum over the {len(points)} points of the support"
        if f.support != "count":
            raise ValueError(
                f"check_family sums discrete families over the counts or over a finite support of at most "
                f"{SUPPORT_POINTS_MAX} points (_support_points); {f!r} has neither"
            )
        return self._scalar(self._count_range(anchors)), "sum over the counts"

    def _is_1d(self) -> bool:
        return self.f.event_shape in ((), (1,))

    # -------------------------------------------------------------- properties
    def validate(self) -> PropertyResult:
        problems = self.f.validate(self.p)
        invalid = self.f._invalid_params()
        accepted = [i for i, bad in enumerate(invalid) if not self.f.validate(bad)]
        detail = "valid params pass; every example of _invalid_params() is rejected"
        if problems:
            detail = "valid params rejected: " + "; ".join(problems)
        elif not invalid:
            detail = "the family provides no known-invalid parameters (override _invalid_params)"
        elif accepted:
            detail = f"invalid examples {accepted} of _invalid_params() were accepted"
        passed = not problems and bool(invalid) and not accepted
        return PropertyResult("validate", passed, float(len(problems) + len(accepted) + (not invalid)), 0.0, detail)

    def natural_roundtrip(self) -> PropertyResult:
        back = self.f.params_from_natural(self.theta)
        err = _rel(self.f.params_to_vector(back), self.f.params_to_vector(self.p))
        return PropertyResult("natural_roundtrip", err <= 1e-9, err, 1e-9, "params -> natural -> params")

    def logpdf_generic(self) -> PropertyResult:
        err = 0.0
        for a in range(self.k):
            x = self.samples[a][:500]
            fam_val = self.f.logpdf(x, self.one(a))
            generic = ExponentialFamily._logpdf(self.f, x, self.one(a))
            err = _max(err, _rel(fam_val, generic))
        return PropertyResult("logpdf_generic", err <= 1e-9, err, 1e-9, "logpdf == theta.T(x) - A(theta) + log h(x)")

    def density_normalised(self) -> PropertyResult:
        f = self.f
        worst, tol, how = 0.0, 0.0, ""
        for a in range(self.k):
            x = self.samples[a]
            pa = self.one(a)
            if f.discrete:
                grid, how = self._discrete_points(x)
                total = float(np.sum(np.exp(f._logpdf(grid, pa))))
                err, t = abs(total - 1.0), 1e-10
            elif self._is_1d():
                xs = x.reshape(-1)
                total = self._integrate_1d(lambda t: f._logpdf(self._scalar(t), pa), xs)
                err, t, how = abs(total - 1.0), 10 * QUAD_RTOL, "scipy.integrate.quad"
            elif f.support == "real":
                err, t, how = self._importance_normalisation(pa, x), _z(self.k), "importance sampling (|error| / s.e.)"
            elif hasattr(f, "blocks"):
                err, t, how = self._blocks_normalised(pa, x), 1.0, "each block normalised, and logpdf their sum"
            else:
                raise ValueError(
                    f"check_family cannot check normalisation of a multivariate family with support {f.support!r}"
                )
            worst = _max(worst, err / t)
            tol = t
        return PropertyResult("density_normalised", worst <= 1.0, worst * tol, tol, how)

    def _blocks_normalised(self, pa: Params, x: np.ndarray) -> float:
        """A product of independent blocks (:class:`~mixagg.families.Product`): its log-density is the sum of the
        blocks' at the draws (to 1e-9), and each block's density is normalised by the block's own check. Returns
        the largest discrepancy relative to its tolerance."""
        f = self.f
        parts = [f.block_params(pa, b) for b in range(len(f.blocks))]
        total = sum(block._logpdf(f.block_x(x[:500], b), p) for b, (block, p) in enumerate(zip(f.blocks, parts)))
        worst = _rel(f._logpdf(x[:500], pa), total) / 1e-9
        for block, p in zip(f.blocks, parts):
            result = _Checker(
                block, {k: np.asarray(v)[None] for k, v in p.items()}, self.rng, self.n_mc
            ).density_normalised()
            worst = _max(worst, result.discrepancy / result.tolerance)
        return worst

    def _importance_normalisation(self, pa: Params, x: np.ndarray) -> float:
        """|E_q[f/q] - 1| / s.e. with q a multivariate t fitted (inflated) to draws from f."""
        d = x.shape[-1]
        loc = x.mean(axis=0)
        shape = np.cov(x, rowvar=False) * 1.5
        q = stats.multivariate_t(loc=loc, shape=shape, df=5)
        draws = q.rvs(size=self.n_mc, random_state=self.rng).reshape(-1, d)
        ratio = np.exp(self.f._logpdf(draws, pa) - q.logpdf(draws))
        est = ratio.mean()
        se = ratio.std(ddof=1) / np.sqrt(ratio.size)
        return abs(est - 1.0) / se

    def expectation_map(self) -> PropertyResult:
        f = self.f
        eta = f._expectation_from_natural(self.theta)
        n = f.n_natural
        worst = 0.0
        for a in range(self.k):
            th = self.theta[a]
            h = 1e-3 * np.maximum(np.abs(th), 1e-2)
            for _ in range(30):
                plus = th + np.diag(h)
                minus = th - np.diag(h)
                if np.all(f._in_natural_domain(plus)) and np.all(f._in_natural_domain(minus)):
                    break
                h = h / 2
            eye = np.eye(n)

            def central(step: np.ndarray) -> np.ndarray:
                up = f.log_partition(th + eye * step[:, None])
                dn = f.log_partition(th - eye * step[:, None])
                return (up - dn) / (2 * step)

            coarse, fine = central(h), central(h / 2)
            richardson = (4 * fine - coarse) / 3
            worst = _max(worst, _rel(richardson, eta[a]))
        return PropertyResult("expectation_map", worst <= 1e-6, worst, 1e-6, "eta vs finite differences of A")

    def inverse_mean_map(self) -> PropertyResult:
        f = self.f
        eta = f.expectation_from_natural(self.theta)
        back = f.natural_from_expectation(eta)
        err = _rel(back, self.theta)
        back_params = f.params_from_expectation(f.expectation_from_params(self.p))
        err = _max(err, _rel(f.params_to_vector(back_params), f.params_to_vector(self.p)))
        return PropertyResult(
            "inverse_mean_map", err <= 1e-8, err, 1e-8, "theta -> eta -> theta and params -> eta -> params"
        )

    def kl_divergence(self) -> PropertyResult:
        f = self.f
        pa = f.expand(self.p, 1)
        pb = f.expand(self.p, 0)
        kl = f.kl_divergence(pa, pb)
        ta, tb = self.theta[:, None, :], self.theta[None, :, :]
        eta_a = f._expectation_from_natural(ta)
        la, lb = f._log_partition(ta), f._log_partition(tb)
        inner = np.einsum("...i,...i->...", tb - ta, eta_a)
        bregman = lb - la - inner
        scale = 1e-9 * (np.abs(la) + np.abs(lb) + np.abs(inner) + 1.0)
        err = float(np.max(np.abs(kl - bregman) / scale))
        off = ~np.eye(self.k, dtype=bool)
        diag_ok = np.all(np.diag(kl) <= scale.diagonal())
        positive = np.all(kl[off] > 0) if self.k > 1 else True
        detail = "closed form == Bregman divergence of A; KL(a,a) = 0; KL(a,b) > 0 for a != b"
        if not diag_ok:
            detail += f" [KL(a,a) = {np.diag(kl)}]"
        if not positive:
            detail += " [a KL between distinct components is 0]"
        return PropertyResult("kl_divergence", err <= 1.0 and diag_ok and positive, err * 1e-9, 1e-9, detail)

    def kl_monte_carlo(self) -> PropertyResult:
        f = self.f
        pairs = [(a, b) for a, b in itertools.permutations(range(self.k), 2)]
        z = _z(len(pairs))
        worst = 0.0
        for a, b in pairs:
            x = self.samples[a]
            r = f.logpdf(x, self.one(a)) - f.logpdf(x, self.one(b))
            se = r.std(ddof=1) / np.sqrt(r.size)
            kl = float(f.kl_divergence(self.one(a), self.one(b)))
            worst = _max(worst, abs(r.mean() - kl) / max(se, 1e-300))
        return PropertyResult(
            "kl_monte_carlo", worst <= z, worst, z, "KL vs Monte Carlo mean of log f_a - log f_b (in s.e.)"
        )

    def _optimality(
        self,
        name: str,
        objective: Callable[[np.ndarray], float],
        theta_star: np.ndarray,
        scale: np.ndarray,
        detail: str,
    ) -> PropertyResult:
        r"""``theta_star`` minimises a convex ``objective`` of the natural parameters.

        Both objectives checked here (a weighted sum of KL divergences to the
        candidate, and a weighted negative log-likelihood) equal
        :math:`\Pi A(\theta)-\theta^\top b+\text{const}`, convex in :math:`\theta`, so a
        vanishing gradient proves global optimality. The gradient is taken by
        Richardson-extrapolated central differences of the objective (computed
        through the family's KL / logpdf, not its mean map); random
        perturbations must not decrease the objective either.
        """
        f = self.f
        n = theta_star.size
        h = 1e-3 * np.maximum(np.abs(theta_star), 1e-2)
        for _ in range(30):
            steps = theta_star + np.diag(h), theta_star - np.diag(h)
            if all(f._in_natural_domain(s).all() for s in steps):
                break
            h = h / 2
        eye = np.eye(n)

        def central(step: np.ndarray) -> np.ndarray:
            return np.array(
                [
                    (objective(theta_star + step[i] * eye[i]) - objective(theta_star - step[i] * eye[i]))
                    / (2 * step[i])
                    for i in range(n)
                ]
            )

        grad = (4 * central(h / 2) - central(h)) / 3
        grad_err = float(np.max(np.abs(grad) / (1.0 + np.abs(scale))))
        j_star = objective(theta_star)
        drop = 0.0
        for _ in range(20):
            cand = theta_star + self.rng.normal(size=n) * 1e-3 * (1.0 + np.abs(theta_star))
            if f._in_natural_domain(cand):
                drop = _max(drop, j_star - objective(cand))
        passed = grad_err <= 1e-6 and drop <= 1e-9 * (1.0 + abs(j_star))
        detail = f"{detail}; relative gradient {grad_err:.2g}, largest decrease by perturbation {drop:.2g}"
        return PropertyResult(name, passed, grad_err, 1e-6, detail)

    def barycentre(self) -> PropertyResult:
        f = self.f
        pi = self.rng.dirichlet(np.ones(self.k))
        bar = f.barycentre(self.p, pi)
        theta_star = f._natural_from_params(bar)

        def objective(theta: np.ndarray) -> float:
            if not f._in_natural_domain(theta):
                return np.inf
            cand = f._params_from_natural(theta)
            return float(np.dot(pi, f._kl_divergence(self.p, cand)))

        scale = np.abs(pi @ f._expectation_from_params(self.p))
        return self._optimality(
            "barycentre", objective, theta_star, scale, "sum_g pi_g KL(f_g || f_theta) is minimal at the barycentre"
        )

    def weighted_mle(self) -> PropertyResult:
        f = self.f
        x = self.samples[0][:2000]
        w = self.rng.uniform(0.2, 2.0, size=x.shape[0])
        mle = f.weighted_mle(x, w)
        theta_star = f._natural_from_params(mle)

        def objective(theta: np.ndarray) -> float:
            if not f._in_natural_domain(theta):
                return np.inf
            return -float(np.dot(w, f._logpdf(x, f._params_from_natural(theta)))) / w.sum()

        scale = np.abs(w @ f._sufficient_stats(x)) / w.sum()
        return self._optimality(
            "weighted_mle", objective, theta_star, scale, "weighted log-likelihood (via logpdf) is maximal at the MLE"
        )

    def product_integral(self) -> PropertyResult:
        f = self.f
        pairs = [(a, b) for a in range(self.k) for b in range(a, self.k)]
        ok = np.asarray(f._pair_integrable(f.expand(self.p, 1), f.expand(self.p, 0)))
        pairs = [(a, b) for a, b in pairs if ok[a, b]]
        if not pairs:
            return PropertyResult(
                "product_integral", False, np.inf, 0.0, "no pair of components has a finite product integral"
            )
        ia = np.array([a for a, _ in pairs])
        ib = np.array([b for _, b in pairs])
        closed = f.log_product_integral(f.take(self.p, ia), f.take(self.p, ib))
        # the pairs kernel (possibly compiled) must agree with the broadcast one
        via_pairs = f.log_product_integral_pairs(self.p, ia, ib)
        kernel_err = float(np.max(np.abs(via_pairs - closed) / (1 + np.abs(closed))))
        worst, how = 0.0, ""
        if f.discrete:
            for t, (a, b) in enumerate(pairs):
                g, over = self._discrete_points(np.concatenate([self.samples[a], self.samples[b]]))
                val = float(np.sum(np.exp(f._logpdf(g, self.one(a)) + f._logpdf(g, self.one(b)))))
                worst = _max(worst, abs(np.exp(closed[t]) / val - 1.0) / 1e-10)
            how, tol = f"{over} (rel. error / 1e-10)", 1e-10
        elif self._is_1d():
            for t, (a, b) in enumerate(pairs):
                anchors = np.concatenate([self.samples[a].reshape(-1), self.samples[b].reshape(-1)])
                val = self._integrate_1d(
                    lambda s: f._logpdf(self._scalar(s), self.one(a)) + f._logpdf(self._scalar(s), self.one(b)), anchors
                )
                worst = _max(worst, abs(np.exp(closed[t]) / val - 1.0) / (10 * QUAD_RTOL))
            how, tol = "scipy.integrate.quad (rel. error / 1e-6)", 10 * QUAD_RTOL
        else:
            # Random components are often too far apart for Monte Carlo in several dimensions, so each
            # component also gets a nearby partner (natural parameters perturbed by ~5%): the kernel's
            # dependence on the difference of two components is always exercised.
            partners = self._partners()
            extra = self.f.log_product_integral(self.p, partners)
            z = _z(len(pairs) + self.k)
            checked = 0
            for t, (a, b) in enumerate(pairs):
                est, se, ess = self._stratified_product(self.samples[a], self.one(a), self.samples[b], self.one(b))
                if ess < MIN_ESS:
                    continue  # Monte Carlo cannot resolve this pair (components far apart)
                checked += 1
                worst = _max(worst, abs(est - np.exp(closed[t])) / se / z)
            for a in range(self.k):
                other = self.f.take(partners, a)
                draws = self.f._sample(other, (self.n_mc,), self.rng)
                est, se, ess = self._stratified_product(self.samples[a], self.one(a), draws, other)
                worst = _max(worst, abs(est - np.exp(extra[a])) / se / z, np.inf if ess < MIN_ESS else 0.0)
            how, tol = (
                f"Monte Carlo over (f_a + f_b) / 2 on {checked}/{len(pairs)} pairs and {self.k} nearby partners "
                f"(ESS >= {MIN_ESS}; in s.e. / z)",
                z,
            )
        generic_err = 0.0
        if f.product_log_constant is not None:
            generic = ExponentialFamily._log_product_integral(f, f.take(self.p, ia), f.take(self.p, ib))
            generic_err = float(np.max(np.abs(generic - closed) / (1 + np.abs(closed))))
        passed = worst <= 1.0 and kernel_err <= 1e-10 and generic_err <= 1e-9
        detail = f"{how}; pairs kernel err {kernel_err:.2g}; generic identity err {generic_err:.2g}"
        return PropertyResult("product_integral", passed, worst * tol, tol, detail)

    def kernel_derivatives(self) -> PropertyResult:
        """:math:`\\nabla^2A` against differences of the mean map and :math:`\\partial\\theta/\\partial v` against
        differences of the natural parameters; the kernel's derivatives against nested differences of
        :math:`\\log k` ([J] App. B.2), on every pair of components and on each component with a nearby partner
        (above :data:`MANY_NATURAL` natural parameters: two pairs and one partner)."""
        f = self.f
        jac, _ = central_jacobian(f._expectation_from_natural, self.theta, inside=f._in_natural_domain)
        hess = derivatives.log_partition_hessian(f, self.theta)
        scale = np.max(np.abs(hess), axis=(-2, -1), keepdims=True)
        hess_err = float(np.max(np.abs(hess - jac) / scale))
        v = f.params_to_vector(self.p)
        nat_numeric, _ = central_jacobian(
            lambda u: f._natural_from_params(f.params_from_vector(u)), v, inside=f._vectors_valid
        )
        nat = derivatives.natural_jacobian(f, self.p)
        nat_scale = np.max(np.abs(nat_numeric), axis=(-2, -1), keepdims=True)
        hess_err = max(hess_err, float(np.max(np.abs(nat - nat_numeric) / nat_scale)))
        ok = np.asarray(f._pair_integrable(f.expand(self.p, 1), f.expand(self.p, 0)))
        ia, ib = np.nonzero(ok)
        partners = self._partners()
        own = np.arange(self.k)
        if f.n_natural > MANY_NATURAL:  # nested differences cost n_natural^2 kernels per pair: a few pairs suffice
            ia, ib, own = ia[:2], ib[:2], own[:1]
        pa = {key: np.concatenate([v[ia], v[own]]) for key, v in self.p.items()}
        pb = {key: np.concatenate([v[ib], partners[key][own]]) for key, v in self.p.items()}
        exact = derivatives.product_integral_derivatives(f, pa, pb)
        numeric = derivatives.numeric_product_integral_derivatives(f, pa, pb)
        kernel_err = 0.0
        for name in ("log_k", "grad_a", "grad_b", "mixed"):
            a, b = np.asarray(getattr(exact, name)), np.asarray(getattr(numeric, name))
            axes = tuple(range(1, a.ndim))
            size = np.max(np.abs(a), axis=axes, keepdims=True) if axes else np.abs(a)
            kernel_err = _max(kernel_err, float(np.max(np.abs(a - b) / (size + 1e-12))))
        worst = max(hess_err / 1e-6, kernel_err / 1e-5)
        return PropertyResult(
            "kernel_derivatives",
            worst <= 1.0,
            worst,
            1.0,
            f"Hessian of A and natural Jacobian vs differences: {hess_err:.2g} (tol 1e-6); "
            "kernel derivatives vs nested differences "
            f"of log k: {kernel_err:.2g} (tol 1e-5), relative to each array's largest entry",
        )

    def _partners(self) -> Params:
        """A component near each one: natural parameters perturbed by ~5%, kept inside the domain."""
        scale = 0.05
        for _ in range(40):
            theta = self.theta * (1.0 + scale * self.rng.standard_normal(self.theta.shape))
            if np.all(self.f._in_natural_domain(theta)):
                return self.f._params_from_natural(theta)
            scale /= 2
        raise RuntimeError("could not perturb the natural parameters inside the domain")

    def _stratified_product(self, xa: np.ndarray, pa: Params, xb: np.ndarray, pb: Params) -> tuple[float, float, float]:
        r"""Estimate :math:`\int f_af_b` by importance sampling from :math:`q=(f_a+f_b)/2`.

        With draws ``xa`` from :math:`f_a` and ``xb`` from :math:`f_b`,
        :math:`E_q[2f_af_b/(f_a+f_b)]` is the average of the two within-component
        means (stratified). Returns the estimate, its standard error and the
        effective sample size of the ratios.
        """
        f = self.f
        parts = []
        for x in (xa, xb):
            la, lb = f._logpdf(x, pa), f._logpdf(x, pb)
            parts.append(np.exp(np.log(2.0) + la + lb - np.logaddexp(la, lb)))
        est = 0.5 * (parts[0].mean() + parts[1].mean())
        se = 0.5 * np.sqrt(parts[0].var(ddof=1) / parts[0].size + parts[1].var(ddof=1) / parts[1].size)
        allw = np.concatenate(parts)
        ess = allw.sum() ** 2 / np.sum(allw**2)
        return float(est), float(se), float(ess)

    def sampling_moments(self) -> PropertyResult:
        f = self.f
        eta = f._expectation_from_natural(self.theta)
        z = _z(self.k * f.n_natural)
        worst = 0.0
        outside = 0
        for a in range(self.k):
            x = self.samples[a]
            outside += int(np.count_nonzero(~np.isfinite(f._log_base_measure(x))))
            t = f._sufficient_stats(x)
            se = t.std(axis=0, ddof=1) / np.sqrt(t.shape[0])
            worst = _max(worst, float(np.max(np.abs(t.mean(axis=0) - eta[a]) / se)))
        detail = "sample mean of T(X) vs eta (in s.e.)" + (f"; {outside} draws outside the support" if outside else "")
        return PropertyResult("sampling_moments", worst <= z and outside == 0, worst, z, detail)

    def ground_distance(self) -> PropertyResult:
        f = self.f
        dist = f.ground_distance(f.expand(self.p, 1), f.expand(self.p, 0))
        scale = 1e-12 * (1.0 + np.max(np.abs(dist)))
        sym = float(np.max(np.abs(dist - dist.T)))
        diag = float(np.max(np.abs(np.diag(dist))))
        # tri[a, b, c] = D(a, c) - D(a, b) - D(b, c) must not be positive
        tri = float(np.max(dist[:, None, :] - dist[:, :, None] - dist[None, :, :], initial=0.0))
        neg = float(max(0.0, -np.min(dist)))
        worst = _max(sym, diag, tri, neg)
        off = ~np.eye(self.k, dtype=bool)
        separates = bool(np.all(dist[off] > 0))
        detail = "D1 symmetric, zero on the diagonal, positive between distinct components, triangle inequality"
        if not separates:
            detail += " [D1 is 0 between distinct components]"
        return PropertyResult("ground_distance", worst <= scale and separates, worst, scale, detail)

    def moments(self) -> PropertyResult:
        """``mean`` and ``cov`` (when the family defines them) against Monte Carlo: both estimators are unbiased."""
        f = self.f
        if not f.has_moments():
            return PropertyResult("moments", True, 0.0, 0.0, "the optional hooks _mean and _cov are not defined")
        z = _z(self.k * (f.n_features + f.n_features**2))
        mean, cov = f.mean(self.p), f.cov(self.p)
        worst = 0.0
        for a in range(self.k):
            x = self.samples[a].reshape(self.n_mc, -1)
            m = np.asarray(mean[a], float).reshape(-1)
            c = np.asarray(cov[a], float).reshape(m.size, m.size)
            se = x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
            worst = _max(worst, float(np.max(np.abs(x.mean(axis=0) - m) / np.maximum(se, 1e-300))))
            dev = x[: min(self.n_mc, 20_000)] - m  # E (X - EX)(X - EX)^T = cov exactly
            prod = dev[:, :, None] * dev[:, None, :]
            se = prod.std(axis=0, ddof=1) / np.sqrt(prod.shape[0])
            worst = _max(worst, float(np.max(np.abs(prod.mean(axis=0) - c) / np.maximum(se, 1e-300))))
        detail = "mean and cov vs Monte Carlo means of X and (X - mean)(X - mean)^T (in s.e.)"
        return PropertyResult("moments", worst <= z, worst, z, detail)

    def unchecked(self) -> PropertyResult:
        """Every operation of ``family.unchecked`` agrees with the checked method on valid input."""
        f, fast, p = self.f, self.f.unchecked, self.p
        missing = [name for name in UNCHECKED_OPERATIONS if not callable(getattr(fast, name, None))]
        vec = f.params_to_vector
        nd = len(f.event_shape)
        x = self.samples[0][:200]
        xk = x[(slice(None), None) + (slice(None),) * nd]
        pa, pb = f.expand(p, 1), f.expand(p, 0)
        pi = self.rng.dirichlet(np.ones(self.k))
        w = self.rng.uniform(0.5, 1.5, size=x.shape[0])
        theta = self.theta
        pairs = np.argwhere(f.unchecked.pair_integrable(pa, pb))
        ia, ib = pairs[:, 0], pairs[:, 1]
        fast_theta, fast_a = fast.natural_and_log_partition(p)
        checks = {
            "logpdf": (fast.logpdf(xk, p), f.logpdf(xk, p)),
            "kl_divergence": (fast.kl_divergence(pa, pb), f.kl_divergence(pa, pb)),
            "barycentre": (vec(fast.canonical(fast.barycentre(p, pi))), vec(f.barycentre(p, pi))),
            "weighted_mle": (vec(fast.canonical(fast.weighted_mle(x, w, 0.0))), vec(f.weighted_mle(x, w))),
            "sample": (fast.sample(p, (3,), np.random.default_rng(7)), f.sample(p, 3, np.random.default_rng(7))),
            "natural_from_params": (fast.natural_from_params(p), f.natural_from_params(p)),
            "params_from_natural": (
                vec(fast.canonical(fast.params_from_natural(theta))),
                vec(f.params_from_natural(theta)),
            ),
            "expectation_from_params": (fast.expectation_from_params(p), f.expectation_from_params(p)),
            "expectation_from_natural": (fast.expectation_from_natural(theta), f.expectation_from_natural(theta)),
            "natural_and_log_partition": (
                np.column_stack([fast_theta, fast_a]),
                np.column_stack([theta, f.log_partition(theta)]),
            ),
            "log_partition": (fast.log_partition(theta), f.log_partition(theta)),
            "in_natural_domain": (fast.in_natural_domain(theta), f.in_natural_domain(theta)),
            "sufficient_stats": (fast.sufficient_stats(x), f.sufficient_stats(x)),
            "log_base_measure": (fast.log_base_measure(x), f.log_base_measure(x)),
            "ground_distance": (fast.ground_distance(pa, pb), f.ground_distance(pa, pb)),
            "canonical": (vec(fast.canonical(p)), vec(f.check_params(p))),
            "validate": (float(len(fast.validate(p))), float(len(f.validate(p)))),
            "vectors_valid": (fast.vectors_valid(vec(p)), np.ones(self.k)),
            "decode_vector": (vec(fast.decode_vector(vec(p))), vec(f.params_from_vector(vec(p)))),
            "pair_integrable": (fast.pair_integrable(p, p), f.square_integrable(p)),
            "log_product_integral": (
                fast.log_product_integral(f.take(p, ia), f.take(p, ib)),
                f.log_product_integral(f.take(p, ia), f.take(p, ib)),
            ),
            "log_product_integral_pairs": (
                fast.log_product_integral_pairs(p, ia, ib),
                f.log_product_integral_pairs(p, ia, ib),
            ),
        }
        if f.has_moments():
            checks["mean"] = (fast.mean(p), f.mean(p))
            checks["cov"] = (fast.cov(p), f.cov(p))
        errors = {name: _rel(np.asarray(a, float), np.asarray(b, float)) for name, (a, b) in checks.items()}
        name, worst = max(errors.items(), key=lambda item: _max(item[1]))
        detail = f"{len(checks)} operations on valid input; largest relative difference {worst:.2g} ({name})"
        if missing:
            detail += f"; missing operations {missing}"
        return PropertyResult("unchecked", worst <= 1e-12 and not missing, worst, 1e-12, detail)

    def kl_frame(self) -> PropertyResult:
        """The reduction's KL frame: a round trip, KL unchanged, barycentres commute with it."""
        f = self.f
        mass = self.rng.dirichlet(np.ones(self.k))
        to, back = kl_frame(f, self.p, mass)
        moved = to(self.p)
        problems = f.validate(moved)
        if problems:
            detail = "the frame leaves the parameter space: " + problems[0]
            return PropertyResult("kl_frame", False, np.inf, 1e-9, detail)
        trip = _rel(f.params_to_vector(back(moved)), f.params_to_vector(self.p))
        kl_err = _rel(
            f.kl_divergence(f.expand(moved, 1), f.expand(moved, 0)),
            f.kl_divergence(f.expand(self.p, 1), f.expand(self.p, 0)),
        )
        bary_err = _rel(
            f.params_to_vector(back(f.barycentre(moved, mass))), f.params_to_vector(f.barycentre(self.p, mass))
        )
        worst = _max(trip, kl_err, bary_err)
        how = "the family's _kl_frame" if KL_FRAME.find(f, "_kl_frame") is not None else "the identity frame"
        detail = f"{how}: round trip {trip:.2g}, KL change {kl_err:.2g}, barycentre commutation {bary_err:.2g}"
        return PropertyResult("kl_frame", worst <= 1e-9, worst, 1e-9, detail)

    def em_fit(self) -> PropertyResult:
        """The EM's hooks: E-step log-densities, a one-component fit within chi-square bounds of the truth,
        a monotone two-component fit started at the truth, and an optimal penalised M-step."""
        f = self.f
        nd = len(f.event_shape)
        x = self.samples[0][:500]
        direct = f.logpdf(x[(slice(None), None) + (slice(None),) * nd], self.p)
        estep_err = _rel(em_support.log_component_densities(f, x, self.p), direct)
        n = min(self.n_mc, 5000)
        xs = self.samples[0][:n]
        # n (theta_hat - theta)' I (theta_hat - theta) is asymptotically chi-square(n_natural);
        # I = Cov T(X), by Monte Carlo
        fit = fit_mixture(xs, f, 1, rng=self.rng)
        diff = f.natural_from_params(dict(fit.params))[0] - self.theta[0]
        t = f.sufficient_stats(self.samples[0])
        info = np.atleast_2d(np.cov(t, rowvar=False))
        stat = float(n * diff @ info @ diff)
        bound = float(stats.chi2.isf(FALSE_ALARM, f.n_natural))
        truth = MixingDistribution(f, [0.5, 0.5], f.take(self.p, [0, 1]))
        both = np.concatenate([self.samples[0][: n // 2], self.samples[1][: n // 2]])
        trace = fit_mixture(both, f, 2, init=truth, rng=self.rng).diagnostics.objective_trace
        drop = max(0.0, trace[0] - trace[-1])
        pen = em_support.default_penalty(f, xs)
        pen_ok, pen_detail = True, "no default penalty"
        if pen is not None:
            w = self.rng.uniform(0.2, 2.0, size=n)
            theta_star = f.natural_from_params(pen.m_step(xs, w[None, :]))[0]

            def objective(theta: np.ndarray) -> float:
                if not f._in_natural_domain(theta):
                    return np.inf
                cand = f._params_from_natural(theta[None, :])
                return -(float(w @ f._logpdf(xs, f.take(cand, 0))) - pen.strength * float(pen.value(cand)[0])) / w.sum()

            res = self._optimality("em_fit", objective, theta_star, np.abs(w @ f._sufficient_stats(xs)) / w.sum(), "")
            pen_ok, pen_detail = res.passed, f"{pen!r} M-step{res.detail}"
        passed = estep_err <= 1e-9 and stat <= bound and drop <= 1e-10 * (1 + abs(trace[0])) and pen_ok
        detail = (
            f"E-step vs logpdf {estep_err:.2g}; "
            f"K=1 fit: n (dtheta)' I (dtheta) = {stat:.3g} (chi-square bound {bound:.3g}); "
            f"K=2 from the truth: objective drop {drop:.2g}; {pen_detail}"
        )
        return PropertyResult("em_fit", passed, stat, bound, detail)


def check_family(
    family: ExponentialFamily,
    params: Any = None,
    rng: Any = None,
    *,
    n_components: int = 3,
    n_mc: int = 100_000,
    properties: Sequence[str] | None = None,
    raise_on_failure: bool = True,
) -> FamilyCheckReport:
    """Run the family conformance suite.

    Properties (see :data:`PROPERTIES`): parameters validate and round-trip
    through natural coordinates; ``logpdf`` equals the generic
    :math:`\\theta^\\top T-A+\\log h`; the density is normalised (quadrature in
    1-D, a sum for counts, importance sampling otherwise); the mean map equals
    finite differences of :math:`A`; the inverse mean map round-trips; KL equals
    the Bregman divergence, vanishes on the diagonal and agrees with a Monte
    Carlo estimate; the barycentre and the weighted MLE are optimal (the
    finite-difference gradient of the convex objective vanishes and random
    perturbations never do better); product integrals agree with
    quadrature / series / Monte Carlo (and the pairs kernel with the broadcast
    one); :math:`\\nabla^2A` and the kernel derivatives behind :math:`H^*` agree with
    finite differences; sample means of :math:`T(X)` match :math:`\\eta`; :math:`D_1` is a metric;
    ``mean`` and ``cov`` (when the family defines them) match Monte Carlo; every operation of
    ``family.unchecked`` agrees with the checked method; the reduction's KL frame round-trips, keeps
    KL and commutes with barycentres; and the EM's hooks work: its E-step equals ``logpdf``, a
    one-component fit is within chi-square bounds of the truth (Fisher information by Monte Carlo),
    a two-component fit started at the truth never lowers the objective, and the default penalty's
    M-step is optimal. Passing it means the family works in ``fit_mixture``, ``aggregate`` and
    :mod:`mixagg.theory` (``docs/family_contract.md``).

    Parameters
    ----------
    family : ExponentialFamily
    params : mapping, optional
        Standard parameters with one batch axis of at least two components.
        Default: ``family.random_params(n_components, rng)``.
    rng : seed or numpy.random.Generator, optional
    n_components : int, default 3
        Number of random components when ``params`` is omitted.
    n_mc : int, default 100_000
        Monte Carlo sample size per component.
    properties : sequence of str, optional
        Subset of :data:`PROPERTIES` to run (default all).
    raise_on_failure : bool, default True
        Raise :class:`~mixagg.exceptions.FamilyConformanceError` naming the
        first failing property (the full report is attached as ``.report``).

    Returns
    -------
    FamilyCheckReport

    Examples
    --------
    >>> from mixagg.families import Exponential
    >>> from mixagg.families.testing import check_family
    >>> report = check_family(Exponential(), rng=0, n_mc=20_000)
    >>> report.passed
    True
    """
    if not isinstance(family, ExponentialFamily):
        raise TypeError(f"family must be an ExponentialFamily instance, got {type(family).__name__}")
    gen = as_generator(rng)
    n_mc = check_int(n_mc, "n_mc", minimum=1000)
    if params is None:
        params = family.random_params(check_int(n_components, "n_components", minimum=2), gen)
    p = family.check_params(params)
    if len(family.batch_shape(p)) != 1 or family.batch_shape(p)[0] < 2:
        raise ValueError(
            f"params must have one batch axis with at least 2 components, got batch shape {family.batch_shape(p)}"
        )
    names = PROPERTIES if properties is None else tuple(properties)
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        raise ValueError(f"unknown properties {unknown}; available: {list(PROPERTIES)}")
    checker = _Checker(family, p, gen, n_mc)
    results = []
    for name in names:
        try:
            results.append(getattr(checker, name)())
        except Exception as exc:  # a property that crashes has failed; keep checking the others
            results.append(PropertyResult(name, False, np.inf, 0.0, f"raised {type(exc).__name__}: {exc}"))
    report = FamilyCheckReport(family, tuple(results))
    if raise_on_failure and not report.passed:
        first = report.failures()[0]
        raise FamilyConformanceError(
            f"{family!r} fails property {first.name!r}: {first.detail} "
            f"(discrepancy {first.discrepancy:.3g} > tolerance {first.tolerance:.3g})\n{report}",
            property_name=first.name,
            report=report,
        )
    return report
