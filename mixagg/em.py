"""Local estimation: (penalised) EM for finite mixtures of any exponential family.

One EM serves every family ([J] App. A.1; ``docs/em.md``): the E-step computes
log-space responsibilities from the family's log-densities, the M-step is the
family's weighted MLE (the weighted average of sufficient statistics mapped
back), or a :class:`~mixagg.families.penalties.Penalty`'s closed-form penalised
M-step. Convergence is declared when the per-observation penalised
log-likelihood changes by less than ``tol``.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import kmeans_plusplus
from sklearn.utils.validation import check_is_fitted, validate_data

from . import em_support
from ._display import one_line
from ._progress import check_progress, progress_bar
from ._validation import as_generator, check_int, check_masses, check_real, external_stacklevel
from .exceptions import ConvergenceWarning, DegenerateComponentError, NumericalWarning
from .families.core import ExponentialFamily, Params
from .families.covariance import covariance_structure
from .families.frames import family_for_frame
from .families.gaussian import Gaussian
from .families.penalties import Penalty
from .families.product import Product
from .families.registry import family_for_data, resolve_family
from .mixture import MixingDistribution, as_mixture

__all__ = ["FitDiagnostics", "FittedMixture", "MixtureEM", "fit_mixture"]

#: A component whose total responsibility falls below this fraction of the sample
#: is re-initialised (``docs/em.md``, "Degenerate components").
VANISHING_FRACTION = 1e-8
#: A decrease of the per-observation objective beyond this relative size is not
#: rounding; it is recorded and warned about (EM never decreases it: ``docs/em.md``, "Convergence").
DECREASE_TOLERANCE = 1e-10
#: A component re-initialised this many times is given up on: the data do not support that many components.
MAX_RESEEDS = 3
_INITS = ("kmeans++", "random")


@dataclass(frozen=True)
class FitDiagnostics:
    """What happened during :func:`fit_mixture`, as data.

    Attributes
    ----------
    loglik : float
        :math:`\\sum_jw_j\\log f_G(x_j)` at the returned mixture (``w`` = sample weights).
    objective : float
        Penalised log-likelihood :math:`p\\ell_n = \\text{loglik} - a_n\\sum_kp(\\theta_k)` at the returned mixture.
    objective_trace : tuple of float
        Per-observation objective :math:`p\\ell_n/n` before every M-step and at the
        end (the convergence criterion), for the best start.
    n_iter : int
        M-steps performed by the best start.
    converged : bool
        Whether the last change of the per-observation objective was below ``tol``.
    n_samples : float
        :math:`n=\\sum_jw_j` (frequency semantics; the penalty uses :math:`a_n=n^{-1/2}`).
    n_observations : int
        Rows of ``X`` with positive weight.
    penalty : str or None
        The penalty used (its repr), ``None`` for the plain (regularised) MLE.
    reg : float
        Regulariser of the unpenalised M-step (0 when a penalty is used).
    init : str
        ``"kmeans++"``, ``"random"`` or ``"mixture"``.
    best_init : int
        Index of the start that was kept.
    init_objectives : tuple of float
        Final objective of every start.
    reseeded : tuple of (int, int)
        ``(iteration, component)`` of every re-initialised vanishing component (best start).
    warnings : tuple of str
        Messages of the warnings raised for the best start.
    n_parameters : int
        Free parameters of the fitted model: :func:`n_free_parameters` (a tied covariance counted once).
    entropy : float
        :math:`-\\sum_jw_j\\log\\tau_{j\\hat c_j}\\ge0`, with :math:`\\hat c_j` the component of highest posterior
        probability of observation :math:`j`, at the returned mixture: half the amount by which ICL exceeds BIC.
    criterion : str or None
        With several orders (``n_components`` a range): the criterion that selected this one.
    criteria : tuple of dict
        With several orders: one row per order tried, ``n_components``, ``loglik``, ``n_parameters``, ``bic``,
        ``icl``, ``aic``, ``converged`` and, for an order that could not be fitted, ``error``.
    """

    loglik: float
    objective: float
    objective_trace: tuple[float, ...]
    n_iter: int
    converged: bool
    n_samples: float
    n_observations: int
    penalty: str | None
    reg: float
    init: str
    best_init: int
    init_objectives: tuple[float, ...]
    reseeded: tuple[tuple[int, int], ...]
    warnings: tuple[str, ...]
    n_parameters: int = 0
    entropy: float = 0.0
    criterion: str | None = None
    criteria: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (lists for tuples)."""
        out = asdict(self)
        for key in ("objective_trace", "init_objectives", "warnings"):
            out[key] = list(out[key])
        out["reseeded"] = [list(pair) for pair in self.reseeded]
        out["criteria"] = [dict(row) for row in self.criteria]
        return out

    def summary(self) -> str:
        """The fit in a few lines: convergence, likelihood, penalty, starts and warnings."""
        state = "converged" if self.converged else "did NOT converge"
        lines = [
            f"EM {state} after {self.n_iter} iterations on {self.n_observations} observations (n = {self.n_samples:g})",
            f"  log-likelihood {self.loglik:.8g}, penalised objective {self.objective:.8g}",
            f"  penalty: {self.penalty or f'none (reg = {self.reg:g})'}",
            f"  starts: {len(self.init_objectives)} ({self.init}), kept start {self.best_init}",
        ]
        lines += [f"  re-initialised component {c} at iteration {it}" for it, c in self.reseeded]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return one_line(
            "FitDiagnostics",
            converged=self.converged,
            n_iter=self.n_iter,
            loglik=self.loglik,
            n_observations=self.n_observations,
            warnings=len(self.warnings),
        )


def _diagnostic(name: str, doc: str) -> property:
    """A read-only shortcut to ``self.diagnostics.<name>``."""
    return property(lambda self: getattr(self._diagnostics, name), doc=doc)


class FittedMixture(MixingDistribution):
    """A :class:`~mixagg.MixingDistribution` returned by :func:`fit_mixture`, carrying its :class:`FitDiagnostics`.

    It behaves as the plain mixture everywhere; ``diagnostics`` (and the
    shortcuts ``loglik``, ``objective``, ``n_iter``, ``converged``, ``n_samples``)
    record how it was obtained.
    """

    __slots__ = ("_diagnostics",)

    @classmethod
    def _build(
        cls, family: ExponentialFamily, weights: np.ndarray, params: Params, diagnostics: FitDiagnostics
    ) -> FittedMixture:
        obj = cls.__new__(cls)
        base = MixingDistribution._trusted(family, weights, params)
        for slot in ("_family", "_weights", "_params"):
            object.__setattr__(obj, slot, getattr(base, slot))
        object.__setattr__(obj, "_diagnostics", diagnostics)
        return obj

    @property
    def diagnostics(self) -> FitDiagnostics:
        """How the fit went (see :class:`FitDiagnostics`)."""
        return self._diagnostics

    loglik = _diagnostic("loglik", "Weighted log-likelihood at this mixture.")
    objective = _diagnostic("objective", "Penalised log-likelihood at this mixture.")
    n_iter = _diagnostic("n_iter", "EM iterations (M-steps) of the kept start.")
    converged = _diagnostic("converged", "Whether EM converged within ``max_iter``.")
    n_samples = _diagnostic("n_samples", "Total sample weight :math:`n`.")

    def bic(self) -> float:
        """Bayesian information criterion :math:`-2\\ell+\\nu\\log n`: lower is better (scikit-learn's sign; mclust
        reports :math:`2\\ell-\\nu\\log n`, higher is better). :math:`\\nu` = ``diagnostics.n_parameters``,
        :math:`n=\\sum_jw_j` (``docs/em.md``, "Choosing the order")."""
        d = self._diagnostics
        return float(-2.0 * d.loglik + d.n_parameters * np.log(d.n_samples))

    def aic(self) -> float:
        """Akaike information criterion :math:`-2\\ell+2\\nu`: lower is better."""
        d = self._diagnostics
        return float(-2.0 * d.loglik + 2.0 * d.n_parameters)

    def icl(self) -> float:
        """Integrated completed likelihood (Biernacki, Celeux & Govaert 2000) in its BIC form, as mclust computes it:
        BIC minus twice the log posterior probability of each observation's MAP component,
        :math:`-2\\ell+\\nu\\log n-2\\sum_jw_j\\log\\tau_{j\\hat c_j}`; lower is better. It penalises orders whose
        components overlap."""
        return float(self.bic() + 2.0 * self._diagnostics.entropy)

    def __repr__(self) -> str:
        d = self._diagnostics
        state = f"{'converged' if d.converged else 'NOT converged'} after {d.n_iter} iterations"
        plain = super().__repr__().removeprefix("MixingDistribution(")[:-1]
        return f"FittedMixture({plain}; EM {state}, loglik={d.loglik:.6g})"

    def summary(self) -> str:
        """The mixture and :meth:`FitDiagnostics.summary`."""
        return f"{MixingDistribution.__repr__(self)}\n{self._diagnostics.summary()}"

    def to_dict(self) -> dict[str, Any]:
        """:meth:`MixingDistribution.to_dict` plus ``"diagnostics"``."""
        out = super().to_dict()
        out["diagnostics"] = self._diagnostics.to_dict()
        return out

    def __reduce__(self):
        return (
            _rebuild_fitted,
            (
                self.family.to_dict(),
                np.array(self.weights),
                {k: np.array(v) for k, v in self.params.items()},
                self._diagnostics,
            ),
        )


def _rebuild_fitted(family: dict, weights: np.ndarray, params: dict, diagnostics: FitDiagnostics) -> FittedMixture:
    """Pickle support for trusted, in-process copies only."""
    plain = MixingDistribution(family, weights, params)
    return FittedMixture._build(plain.family, plain.weights, dict(plain.params), diagnostics)


# ---------------------------------------------------------------------------- input checks


def _resolve_family(family: Any, x: Any, covariance_type: str | None = None) -> ExponentialFamily:
    if isinstance(family, ExponentialFamily):
        fam = family
    elif isinstance(family, str):
        fam = family_for_data(family, np.asarray(x))
    else:
        fam = resolve_family(family)
    if covariance_type is None:
        return fam
    if not isinstance(fam, Gaussian):
        raise ValueError(f"covariance_type applies to Gaussian mixtures, not to {fam!r}")
    structure = covariance_structure(covariance_type, fam.d)
    if isinstance(family, str):
        return Gaussian(fam.d, structure.name)
    if fam.covariance_type != structure.name:
        raise ValueError(f"covariance_type={covariance_type!r} conflicts with the family {fam!r}; pass one of the two")
    return fam


def _is_frame(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")


def n_free_parameters(family: ExponentialFamily, n_components: int) -> int:
    """Free parameters of a ``K``-component mixture: :math:`K-1` weights and the components' parameters, a part
    shared by the components (a tied covariance) counted once (``docs/covariance.md``)."""
    k = check_int(n_components, "n_components", minimum=1)
    return k - 1 + k * family.n_params - (k - 1) * family.shared_positions.size


def _check_data(fam: ExponentialFamily, X: Any) -> np.ndarray:
    x = fam.check_x(X, "X")
    if fam.event_shape == () and x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]  # a single-column matrix for a scalar family
    if fam.event_shape == (1,) and x.ndim == 1:
        x = x[:, None]  # a single univariate observation
    if x.ndim != 1 + len(fam.event_shape):
        want = "(n_samples,)" if fam.event_shape == () else f"(n_samples, {fam.n_features})"
        raise ValueError(f"X must have shape {want} for {fam!r}, got {np.shape(X)}")
    return x


def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    return check_masses(sample_weight, "sample_weight", n, what="one weight per row of X")


def _count_distinct_rows(rows: np.ndarray, limit: int) -> int:
    """Number of distinct rows, counted up to ``limit`` (``limit`` vectorised scans, no sort)."""
    fresh = np.ones(rows.shape[0], dtype=bool)
    found = 0
    while found < limit and fresh.any():
        first = rows[int(np.argmax(fresh))]
        fresh &= np.any(rows != first, axis=1)
        found += 1
    return found


def _resolve_penalty(
    penalty: Any, reg: Any, fam: ExponentialFamily, x: np.ndarray, w: np.ndarray
) -> tuple[Penalty | None, float]:
    if isinstance(penalty, str):
        if penalty != "auto":
            raise ValueError(f"penalty must be 'auto', None or a Penalty instance, got {penalty!r}")
        pen = em_support.penalty_for(fam, x, w)
    elif penalty is None or isinstance(penalty, Penalty):
        pen = penalty
        if pen is not None:
            pen.check(fam, x)
    else:
        raise TypeError(f"penalty must be 'auto', None or a Penalty instance, got {type(penalty).__name__}")
    if reg is None:
        return pen, (em_support.default_reg(fam) if pen is None else 0.0)
    reg = check_real(reg, "reg", minimum=0.0)
    if pen is not None and reg > 0:
        raise ValueError(
            f"reg={reg:g} applies to the unpenalised M-step, but {pen!r} is in use; "
            "pass penalty=None to regularise instead"
        )
    return pen, reg


# ---------------------------------------------------------------------------- one EM run


@dataclass(frozen=True)
class _Run:
    """Where one EM run from one start ended."""

    weights: np.ndarray
    params: Params
    loglik: float
    objective: float  # the penalised log-likelihood
    trace: tuple[float, ...]  # the objective per observation, one entry per iteration
    n_iter: int
    converged: bool
    messages: tuple[tuple[type[Warning], str], ...]  # raised once the kept run is known
    reseeded: tuple[tuple[int, int], ...]  # (iteration, component) of every re-initialised component


class _EM:
    """State shared by the starts of one :func:`fit_mixture` call."""

    def __init__(
        self, fam: ExponentialFamily, x: np.ndarray, w: np.ndarray, k: int, penalty: Penalty | None, reg: float
    ):
        self.fam, self.x, self.w, self.k = fam, x, w, k
        self.n = float(w.sum())
        self.penalty, self.reg = penalty, reg
        self._distinct: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see distinct_rows

    def _remedies(self) -> str:
        if self.penalty is None:
            return (
                f"Remedies: penalty='auto' (the papers' penalised MLE), a larger reg (now {self.reg:g}), "
                "fewer components, or rescaled data"
            )
        return f"Remedies (with {self.penalty!r}): fewer components, or more observations per component"

    def m_step(self, resp: np.ndarray, when: str) -> Params:
        """Component parameters from weighted responsibilities ``(K, n)``; names a degenerate component."""
        fam = self.fam
        step = (
            (lambda r: self.penalty.m_step(self.x, r))
            if self.penalty is not None
            else (lambda r: fam.unchecked.weighted_mle(self.x, r, self.reg))
        )
        try:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
                params = step(resp)
            per_component = em_support.component_problems(fam, params)
        except (ValueError, np.linalg.LinAlgError) as exc:  # a hook that raises: recompute one component at a time
            per_component = []
            for j in range(resp.shape[0]):
                try:
                    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
                        per_component.append(em_support.component_problems(fam, step(resp[j : j + 1]))[0])
                except (ValueError, np.linalg.LinAlgError) as inner:
                    per_component.append([str(inner)])
            if not any(per_component):
                raise DegenerateComponentError(f"the M-step {when} failed: {exc}. {self._remedies()}") from exc
        for j, problems in enumerate(per_component):
            if problems:
                raise DegenerateComponentError(
                    f"component {j} degenerated {when} (effective size {resp[j].sum():.4g}): {problems[0]}. "
                    f"{self._remedies()}",
                    component=j,
                )
        return params

    def entropy(self, weights: np.ndarray, params: Params) -> float:
        """:math:`-\\sum_jw_j\\log\\tau_{j\\hat c_j}` at a mixture, :math:`\\hat c_j` the MAP component."""
        with np.errstate(divide="ignore"):
            logp, lse, _, _ = self.objective(params, np.log(weights))
        return float(max(-(self.w @ (logp.max(axis=1) - lse)), 0.0))

    def objective(self, params: Params, log_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """E-step: joint log-densities ``(n, K)``, their row log-sum-exp, log-likelihood and penalised objective."""
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            logp = em_support.log_component_densities(self.fam, self.x, params) + log_weights
            top = logp.max(axis=1)
            if not np.all(np.isfinite(top)):
                j = int(np.argmin(np.isfinite(top)))
                raise DegenerateComponentError(
                    f"observation {j} has zero density under every component (non-finite log-density). "
                    f"{self._remedies()}"
                )
            lse = top + np.log(np.exp(logp - top[:, None]).sum(axis=1))
        loglik = float(self.w @ lse)
        pen = self.penalty.total(params) if self.penalty is not None else 0.0
        return logp, lse, loglik, loglik - pen

    def reseed(self, resp: np.ndarray, lse: np.ndarray, vanished: np.ndarray) -> np.ndarray:
        """Give each vanished component the worst-explained observations (lowest mixture density).

        Each takes a disjoint share of weight ``n / (2K)`` from the observations in order
        of increasing density; the boundary observation is split by weight, so a row with
        integer weight and its repetitions are treated alike (frequency semantics).
        """
        order = np.argsort(lse, kind="stable")
        w = self.w[order]
        ends = np.cumsum(w)
        starts = ends - w
        share = self.n / (2 * self.k)
        targets = np.flatnonzero(vanished)
        rows = np.flatnonzero(starts < share * targets.size)
        moved = np.zeros((rows.size, self.k))
        for m, j in enumerate(targets):
            lo, hi = m * share, (m + 1) * share
            moved[:, j] = np.clip(np.minimum(ends[rows], hi) - np.maximum(starts[rows], lo), 0.0, None)
        keep = 1.0 - moved.sum(axis=1) / w[rows]
        idx = order[rows]
        resp[idx] = resp[idx] * keep[:, None] + moved
        return resp

    def run(
        self, weights: np.ndarray, params: Params, tol: float, max_iter: int, bar: Any = None, label: str = ""
    ) -> _Run:
        trace: list[float] = []
        messages: list[tuple[type[Warning], str]] = []
        reseeded: list[tuple[int, int]] = []
        n_iter, converged, reseed_last = 0, False, False
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        while True:
            logp, lse, loglik, obj = self.objective(params, log_weights)
            trace.append(obj / self.n)
            if bar is not None and n_iter:
                bar.set_postfix_str(f"{label}, objective {trace[-1]:.6g}", refresh=False)
                bar.update(1)
            if len(trace) >= 2:
                change = trace[-1] - trace[-2]
                if change < -DECREASE_TOLERANCE * (1.0 + abs(trace[-2])) and not reseed_last:
                    messages.append(
                        (
                            NumericalWarning,
                            f"the objective decreased by {-change:.3g} per observation at iteration {n_iter}",
                        )
                    )
                if abs(change) < tol:
                    converged = True
                    break
            if n_iter >= max_iter:
                break
            with np.errstate(under="ignore"):
                resp = np.exp(logp - lse[:, None]) * self.w[:, None]
            nk = resp.sum(axis=0)
            vanished = nk < VANISHING_FRACTION * self.n
            reseed_last = bool(np.any(vanished))
            if reseed_last:
                for j in np.flatnonzero(vanished):
                    if sum(1 for _, c in reseeded if c == j) >= MAX_RESEEDS:
                        raise DegenerateComponentError(
                            f"component {j} vanished {MAX_RESEEDS + 1} times (iteration {n_iter + 1}): the data do not "
                            f"support {self.k} components here; use fewer components",
                            component=int(j),
                        )
                    reseeded.append((n_iter + 1, int(j)))
                    messages.append(
                        (
                            UserWarning,
                            f"component {j} vanished at iteration {n_iter + 1}; re-initialised at the "
                            "worst-explained observations",
                        )
                    )
                resp = self.reseed(resp, lse, vanished)
                nk = resp.sum(axis=0)
            params = self.m_step(resp.T, f"at iteration {n_iter + 1}")
            weights = nk / nk.sum()  # = nk / n, but summing to one to rounding (exact dict round trips)
            with np.errstate(divide="ignore"):
                log_weights = np.log(weights)
            n_iter += 1
        if not converged:
            if len(trace) >= 2:
                text = (
                    f"EM did not converge within max_iter={max_iter} iterations (last change of the per-observation "
                    f"objective {abs(trace[-1] - trace[-2]):.3g} > tol={tol:g}); "
                    "increase max_iter or tol, or try other starts"
                )
            else:
                text = f"EM did not converge: max_iter={max_iter} iterations were allowed, so the start was returned"
            messages.append((ConvergenceWarning, text))
        if self.penalty is None and self.reg > 0:
            for j in np.flatnonzero(em_support.regularisation_binding(self.fam, params, self.reg, self.x, self.w)):
                messages.append(
                    (
                        UserWarning,
                        f"component {j} sits on the boundary imposed by the regulariser reg={self.reg:g} "
                        "(it holds too few distinct observations to be estimated freely); the fit is regularised there",
                    )
                )
        return _Run(weights, params, loglik, obj, tuple(trace), n_iter, converged, tuple(messages), tuple(reseeded))

    # ------------------------------------------------------------------ starts
    def start_from_resp(self, resp: np.ndarray) -> tuple[np.ndarray, Params]:
        nk = resp.sum(axis=0)
        return nk / nk.sum(), self.m_step(resp.T, "at initialisation")

    def distinct_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct rows (rescaled column-wise to unit spread), their total weights, and each row's index among them."""
        if self._distinct is None:
            flat = self.x.reshape(self.x.shape[0], -1)
            rows, inverse = np.unique(flat, axis=0, return_inverse=True)
            inverse = inverse.ravel()
            totals = np.bincount(inverse, weights=self.w)
            # rescale first by the largest magnitude (no overflow at 1e160 or underflow at 1e-170), then standardise
            peak = np.max(np.abs(rows), axis=0)
            scaled = rows / np.where(peak > 0, peak, 1.0)
            centre = totals @ scaled / totals.sum()
            spread = np.sqrt(totals @ (scaled - centre) ** 2 / totals.sum())
            scaled = (scaled - centre) / np.where(spread > 0, spread, 1.0)
            self._distinct = (scaled, totals, inverse)
        return self._distinct

    def kmeans_start(self, gen: np.random.Generator) -> tuple[np.ndarray, Params]:
        """k-means++ seeding, then hard assignment to the nearest centre.

        Seeding runs on the distinct rows, rescaled column-wise, with their total
        weights: the start does not depend on row order, on whether a row is
        repeated or carries an integer weight (frequency semantics), or on the
        scale of the data. Every centre keeps its own observations, so no cluster starts empty.
        """
        rows, totals, inverse = self.distinct_rows()
        centres, index = kmeans_plusplus(rows, self.k, sample_weight=totals, random_state=int(gen.integers(2**31 - 1)))
        sq = (
            np.einsum("ij,ij->i", rows, rows)[:, None]
            - 2.0 * rows @ centres.T
            + np.einsum("ij,ij->i", centres, centres)
        )
        labels = sq.argmin(axis=1)
        labels[index] = np.arange(self.k)
        resp = np.zeros((self.x.shape[0], self.k))
        resp[np.arange(self.x.shape[0]), labels[inverse]] = self.w
        return self.start_from_resp(resp)

    def random_start(self, gen: np.random.Generator) -> tuple[np.ndarray, Params]:
        """Random responsibilities, drawn once per distinct row (frequency semantics)."""
        rows, _, inverse = self.distinct_rows()
        draws = gen.uniform(size=(rows.shape[0], self.k))
        resp = draws[inverse]
        resp *= (self.w / resp.sum(axis=1))[:, None]
        return self.start_from_resp(resp)


def fit_mixture(
    X: Any,
    family: Any,
    n_components: int | Iterable[int],
    *,
    sample_weight: Any = None,
    penalty: Any = "auto",
    reg: float | None = None,
    init: Any = "kmeans++",
    n_init: int = 1,
    tol: float = 1e-6,
    max_iter: int = 1000,
    rng: Any = None,
    progress: bool | str = "auto",
    covariance_type: str | None = None,
    column_families: Mapping[str, str] | None = None,
    criterion: str = "bic",
) -> FittedMixture:
    r"""Fit a finite mixture by (penalised) maximum likelihood with EM.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or (n_samples,) for a scalar family
        Observations (float32 and integers are upcast to float64). Must be
        finite and inside the family's support.
    family : str, ExponentialFamily or mapping
        ``"gaussian"`` (``d`` taken from ``X``), ``"gamma"``, ``"poisson"``,
        ``"exponential"``, ``"bernoulli"`` (0/1 columns, ``d`` taken from ``X``),
        ``"categorical"`` (integer codes, ``levels`` taken from ``X``), any registered name,
        or an instance. ``"auto"`` with a pandas DataFrame: a
        :class:`~mixagg.families.Product` chosen by column type
        (:func:`~mixagg.families.frames.family_for_frame`; ``docs/families.md``, "DataFrames"), whose
        column names the estimate keeps. A product with column names also reads a DataFrame by name.
    n_components : int or iterable of int
        :math:`K`, or the orders to choose from (``range(1, 9)``): each is fitted with the same starts and
        options, and the one with the lowest ``criterion`` is returned, with every order's figures in
        ``diagnostics.criteria`` (``docs/em.md``, "Choosing the order").
    sample_weight : array-like of shape (n_samples,), optional
        Frequency weights: weight 0 drops a row, an integer weight duplicates it.
    penalty : {"auto"} or Penalty or None, default "auto"
        ``"auto"``: the papers' penalised MLE for the family (Gaussian: Chen–Tan,
        Gamma: shape penalty, both with :math:`a_n=n^{-1/2}`; Poisson and
        Exponential: none). ``None``: the plain MLE, regularised by ``reg``.
        Or a :class:`~mixagg.families.penalties.Penalty` instance.
    reg : float, optional
        Regulariser of the unpenalised M-step (default ``family.default_reg``):
        the M-step maximises over a slightly smaller parameter space, so EM stays
        monotone. Gaussian: covariance eigenvalues >= ``reg`` (1e-6, the spirit of
        scikit-learn's ``reg_covar``, which adds it instead); Gamma:
        :math:`\log\bar x-\overline{\log x}\ge` ``reg``; Poisson: rate >= ``reg``;
        Exponential: mean >= ``reg`` times the data mean; Bernoulli: every
        probability in ``[reg, 1 - reg]``; Categorical: every probability at
        least ``reg``. A component held by the
        constraint is reported with a warning. ``0`` gives the exact MLE. Only
        with no penalty.
    init : {"kmeans++", "random"} or MixingDistribution, default "kmeans++"
        Starting point: k-means++ seeding (``sklearn.cluster.kmeans_plusplus``)
        then hard assignment; random responsibilities; or a given mixture (the
        papers' simulations start at the truth, [J] §5.1.2).
    n_init : int, default 1
        Number of starts (must be 1 with a given mixture); the highest penalised
        log-likelihood is kept.
    tol : float, default 1e-6
        Convergence when the per-observation penalised log-likelihood changes by
        less than ``tol`` ([J] §5.1.2).
    max_iter : int, default 1000
        Maximum number of M-steps per start.
    rng : seed or numpy.random.Generator, optional
    progress : bool or "auto", default "auto"
        A display of the EM iterations on stderr (start, iteration, objective):
        ``"auto"`` on a terminal only, ``True`` anywhere (whole lines every few
        seconds off a terminal), ``False`` never (``docs/cli.md``, "Long runs").
    covariance_type : str, optional
        For a Gaussian mixture, the covariance structure (``docs/covariance.md``): scikit-learn's ``"full"``,
        ``"tied"``, ``"diag"``, ``"spherical"``, the shared ``"tied_diag"`` and ``"tied_spherical"``, or
        mclust's model names ``VVV``, ``EEE``, ``VVI``, ``EEI``, ``VII``, ``EII``. Default: the family's
        (``"full"`` for ``family="gaussian"``). The M-step and the Chen–Tan penalty keep the structure. With
        ``family="auto"``, the structure of the Gaussian block.
    column_families : mapping of str to str, optional
        With ``family="auto"``: the family of some columns by name, overriding the column types
        (``{"visits": "poisson", "sex": "bernoulli", "id": "drop"}``).
    criterion : {"bic", "icl", "aic"}, default "bic"
        How an order is chosen when ``n_components`` lists several: :meth:`FittedMixture.bic`,
        :meth:`FittedMixture.icl` or :meth:`FittedMixture.aic`, lowest wins (ties: the smaller order).

    Returns
    -------
    FittedMixture
        The fitted mixture with its :class:`FitDiagnostics`.

    Raises
    ------
    ValueError
        Non-finite or out-of-support ``X``, ``n_samples < n_components``, fewer
        distinct observations than components, constant columns under the
        Chen–Tan penalty, bad options.
    DegenerateComponentError
        A component became degenerate (e.g. a covariance singular to rounding
        with ``penalty=None, reg=0``), or kept vanishing; the message names it
        and the remedies.

    Warns
    -----
    ConvergenceWarning
        ``max_iter`` reached (also recorded in ``diagnostics.warnings``).
    UserWarning
        A vanishing component was re-initialised at the worst-explained
        observations (recorded in ``diagnostics.reseeded``), or a component sits
        on the boundary imposed by ``reg`` (recorded in ``diagnostics.warnings``).

    Notes
    -----
    E-step ([J] eq. (14)) in log space; M-step ([J] eq. (15)): weights
    :math:`n_k/n`, components by the family's weighted MLE (moment matching of
    :math:`T(x)`, ``docs/families.md``, "Weighted MLE") or the penalty's
    closed-form update (``docs/em.md``, "Penalties").
    The penalised objective never decreases (a decrease beyond rounding is
    recorded and warned about).

    Examples
    --------
    >>> import mixagg as ma
    >>> truth = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 12.0]})
    >>> fit = ma.fit_mixture(truth.sample(5000, rng=0), "poisson", 2, n_init=3, rng=0)
    >>> fit.converged, sorted(round(float(r)) for r in fit.params["rate"])
    (True, [2, 12])
    """
    orders = _check_orders(n_components)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    n_init = check_int(n_init, "n_init", minimum=1)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    tol = check_real(tol, "tol", minimum=0.0)
    progress = check_progress(progress)
    if isinstance(family, str) and family == "auto":
        fam = family_for_frame(X, column_families=column_families, covariance_type=covariance_type or "full")
        X = fam.encode_frame(X)
    else:
        if column_families is not None:
            raise ValueError("column_families applies to family='auto' only")
        fam = _resolve_family(family, X, covariance_type)
        if isinstance(fam, Product) and fam.columns is not None and _is_frame(X):
            X = fam.encode_frame(X)
    x = _check_data(fam, X)
    w = _check_sample_weight(sample_weight, x.shape[0])
    keep = w > 0
    x, w = x[keep], w[keep]
    outside = np.isneginf(fam.unchecked.log_base_measure(x))
    if np.any(outside):
        j = int(np.flatnonzero(keep)[np.argmax(outside)])
        raise ValueError(f"X[{j}] is outside the support ({fam.support}) of {fam!r}")
    n_obs = x.shape[0]
    k_max = max(orders)
    if len(orders) == 1 and n_obs < k_max:
        raise ValueError(f"n_samples={n_obs} should be >= n_components={k_max} (rows with positive weight)")
    distinct = _count_distinct_rows(x.reshape(n_obs, -1), k_max)
    if len(orders) == 1 and distinct < k_max:
        raise ValueError(f"X has only {distinct} distinct observation(s), fewer than n_components={k_max}")
    pen, reg_used = _resolve_penalty(penalty, reg, fam, x, w)
    gen = as_generator(rng)
    if not isinstance(init, str) and len(orders) > 1:
        raise ValueError("init must be 'kmeans++' or 'random' when n_components lists several orders")
    fit_one = functools.partial(
        _fit_order, fam, x, w, pen, reg_used, init=init, n_init=n_init, tol=tol, max_iter=max_iter, progress=progress
    )
    if len(orders) == 1:
        fit, messages = fit_one(orders[0], gen)
        for category, text in messages:
            warnings.warn(text, category, stacklevel=external_stacklevel())
        return fit
    return _select_order(fit_one, orders, gen, criterion, n_obs, distinct)


#: The criteria by which ``fit_mixture`` chooses among several orders.
CRITERIA = ("bic", "icl", "aic")


def _check_orders(n_components: Any) -> list[int]:
    if isinstance(n_components, (str, bytes)) or not isinstance(n_components, Iterable):
        return [check_int(n_components, "n_components", minimum=1)]
    orders = sorted({check_int(k, "n_components", minimum=1) for k in n_components})
    if not orders:
        raise ValueError("n_components lists no order")
    if len(orders) > MAX_ORDERS:
        raise ValueError(f"n_components lists {len(orders)} orders; at most {MAX_ORDERS} are fitted")
    return orders


#: The most orders one ``fit_mixture`` call fits.
MAX_ORDERS = 64


def _select_order(
    fit_one: Callable[..., tuple[FittedMixture, list]],
    orders: list[int],
    gen: np.random.Generator,
    criterion: str,
    n_obs: int,
    distinct: int,
) -> FittedMixture:
    """Fit every order, keep the lowest criterion (ties: the smaller order), and record the table."""
    rows: list[dict[str, Any]] = []
    fits: dict[int, tuple[FittedMixture, list]] = {}
    for k in orders:
        if k > min(n_obs, distinct):
            rows.append({"n_components": k, "error": f"more components than the {min(n_obs, distinct)} distinct rows"})
            continue
        try:
            fit, messages = fit_one(k, gen, desc=f"EM, K={k}")
        except DegenerateComponentError as exc:
            rows.append({"n_components": k, "error": str(exc)})
            continue
        fits[k] = (fit, messages)
        d = fit.diagnostics
        rows.append(
            {
                "n_components": k,
                "loglik": d.loglik,
                "n_parameters": d.n_parameters,
                "bic": fit.bic(),
                "icl": fit.icl(),
                "aic": fit.aic(),
                "converged": d.converged,
            }
        )
    if not fits:
        raise ValueError(
            f"no order in {orders} could be fitted: " + "; ".join(f"K={r['n_components']}: {r['error']}" for r in rows)
        )
    best = min(fits, key=lambda k: (next(r[criterion] for r in rows if r["n_components"] == k), k))
    fit, messages = fits[best]
    for category, text in messages:
        warnings.warn(text, category, stacklevel=external_stacklevel())
    diagnostics = dataclasses.replace(fit.diagnostics, criterion=criterion, criteria=tuple(rows))
    return FittedMixture._build(fit.family, np.array(fit.weights), dict(fit.params), diagnostics)


def _fit_order(
    fam: ExponentialFamily,
    x: np.ndarray,
    w: np.ndarray,
    pen: Penalty | None,
    reg_used: float,
    k: int,
    gen: np.random.Generator,
    *,
    init: Any,
    n_init: int,
    tol: float,
    max_iter: int,
    progress: Any,
    desc: str = "EM",
) -> tuple[FittedMixture, list[tuple[type[Warning], str]]]:
    """One order: every start, the best kept, its diagnostics; the warnings of the kept start are returned."""
    em = _EM(fam, x, w, k, pen, reg_used)
    if isinstance(init, str):
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS} or a MixingDistribution, got {init!r}")
        starts = [em.kmeans_start if init == "kmeans++" else em.random_start] * n_init
        init_name = init
    elif isinstance(init, (MixingDistribution, Mapping)):
        g0 = as_mixture(init, "init")
        if g0.family != fam:
            raise ValueError(f"init has family {g0.family!r} but the data are fitted with {fam!r}")
        if g0.n_components != k:
            raise ValueError(f"init has {g0.n_components} components but n_components={k}")
        if n_init != 1:
            raise ValueError("n_init must be 1 when init is a MixingDistribution (every start would be the same)")
        starts = [lambda _gen: (np.array(g0.weights), {key: np.array(v) for key, v in g0.params.items()})]
        init_name = "mixture"
    else:
        raise TypeError(f"init must be 'kmeans++', 'random' or a MixingDistribution, got {type(init).__name__}")

    with progress_bar(None, desc=desc, unit="iteration", progress=progress) as bar:
        runs = []
        for i, start in enumerate(starts):
            runs.append(em.run(*start(gen), tol=tol, max_iter=max_iter, bar=bar, label=f"start {i + 1}/{len(starts)}"))
    objectives = [r.objective for r in runs]
    best_index = int(np.argmax(objectives))
    best = runs[best_index]
    diagnostics = FitDiagnostics(
        loglik=best.loglik,
        objective=best.objective,
        objective_trace=best.trace,
        n_iter=best.n_iter,
        converged=best.converged,
        n_samples=em.n,
        n_observations=x.shape[0],
        penalty=None if pen is None else repr(pen),
        reg=reg_used,
        init=init_name,
        best_init=best_index,
        init_objectives=tuple(objectives),
        reseeded=best.reseeded,
        warnings=tuple(text for _, text in best.messages),
        n_parameters=n_free_parameters(fam, k),
        entropy=em.entropy(best.weights, best.params),
    )
    params = fam.unchecked.canonical(best.params)
    return FittedMixture._build(fam, best.weights, params, diagnostics), list(best.messages)


# ---------------------------------------------------------------------------- scikit-learn estimator


class MixtureEM(DensityMixin, BaseEstimator):
    """Finite mixture of an exponential family fitted by (penalised) EM, scikit-learn style.

    Parameters
    ----------
    family : str or ExponentialFamily, default "gaussian"
    n_components : int, default 1
    penalty, reg, init, n_init, tol, max_iter
        As in :func:`fit_mixture`.
    random_state : int, numpy.random.Generator or None
        Seed of the initialisation (and of :meth:`sample`).
    progress : bool or "auto", default False
        As in :func:`fit_mixture`; off by default, as an estimator is often
        refitted many times (cross-validation, grid searches).
    covariance_type : str, optional
        As in :func:`fit_mixture` (Gaussian mixtures only).
    criterion : {"bic", "icl", "aic"}, default "bic"
        As in :func:`fit_mixture`, when ``n_components`` lists several orders.

    Attributes
    ----------
    mixture_ : FittedMixture
        The fitted mixture (with diagnostics).
    family_ : ExponentialFamily
    weights_ : ndarray of shape (n_components,)
    params_ : dict of ndarray
        Standard parameters with a leading component axis.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Final per-observation penalised log-likelihood.
    lower_bounds_ : list of float
        Its trace over the iterations of the kept start.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from mixagg import MixtureEM
    >>> X = np.r_[np.random.default_rng(0).normal(0, 1, (300, 2)), np.random.default_rng(1).normal(6, 1, (300, 2))]
    >>> est = MixtureEM(n_components=2, random_state=0).fit(X)
    >>> sorted(np.round(est.weights_, 2).tolist())
    [0.5, 0.5]
    """

    def __init__(
        self,
        family: Any = "gaussian",
        n_components: int = 1,
        *,
        penalty: Any = "auto",
        reg: float | None = None,
        init: Any = "kmeans++",
        n_init: int = 1,
        tol: float = 1e-6,
        max_iter: int = 1000,
        random_state: Any = None,
        progress: bool | str = False,
        covariance_type: str | None = None,
        criterion: str = "bic",
    ):
        self.family = family
        self.n_components = n_components
        self.penalty = penalty
        self.reg = reg
        self.init = init
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.progress = progress
        self.covariance_type = covariance_type
        self.criterion = criterion

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> MixtureEM:
        """Fit the mixture to ``X`` (``y`` is ignored). Returns ``self``."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        mix = fit_mixture(
            X,
            self.family,
            self.n_components,
            sample_weight=sample_weight,
            penalty=self.penalty,
            reg=self.reg,
            init=self.init,
            n_init=self.n_init,
            tol=self.tol,
            max_iter=self.max_iter,
            rng=self._generator(),
            progress=self.progress,
            covariance_type=self.covariance_type,
            criterion=self.criterion,
        )
        self.mixture_ = mix
        self.family_ = mix.family
        self.weights_ = np.array(mix.weights)
        self.params_ = {key: np.array(v) for key, v in mix.params.items()}
        self.converged_ = mix.converged
        self.n_iter_ = mix.n_iter
        self.lower_bound_ = mix.diagnostics.objective_trace[-1]
        self.lower_bounds_ = list(mix.diagnostics.objective_trace)
        return self

    def _generator(self) -> np.random.Generator:
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return rs
        if isinstance(rs, np.random.RandomState):  # scikit-learn convention: draw a seed from it
            return np.random.default_rng(int(rs.randint(2**31 - 1)))
        return as_generator(rs, "random_state")

    def _data(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _check_data(self.family_, X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of each row of ``X`` under the fitted mixture."""
        x = self._data(X)  # checks fitted first
        return self.mixture_.logpdf(x)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """(Weighted) mean log-likelihood per observation."""
        values = self.score_samples(X)
        if sample_weight is None:
            return float(np.mean(values))
        return float(np.average(values, weights=_check_sample_weight(sample_weight, values.shape[0])))

    def predict(self, X: Any) -> np.ndarray:
        """MAP component of each row."""
        x = self._data(X)  # checks fitted first
        return self.mixture_.predict(x)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior component probabilities, shape ``(n_samples, n_components)``."""
        x = self._data(X)  # checks fitted first
        return self.mixture_.responsibilities(x)

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then predict the components of ``X``."""
        return self.fit(X, y, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(X, labels)`` from the fitted mixture, as scikit-learn's mixtures do."""
        check_is_fitted(self)
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        x, labels = self.mixture_.sample_with_labels(n_samples, self._generator())
        return x.reshape(n_samples, -1), labels

    def _n_parameters(self) -> int:
        return n_free_parameters(self.family_, self.mixture_.n_components)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion :math:`-2\\ell + \\nu\\log n` on ``X``."""
        values = self.score_samples(X)
        return float(-2.0 * values.sum() + self._n_parameters() * np.log(values.shape[0]))

    def aic(self, X: Any) -> float:
        """Akaike information criterion :math:`-2\\ell + 2\\nu` on ``X``."""
        return float(-2.0 * self.score_samples(X).sum() + 2.0 * self._n_parameters())

    def to_mixture(self) -> FittedMixture:
        """The fitted frozen mixture."""
        check_is_fitted(self)
        return self.mixture_
