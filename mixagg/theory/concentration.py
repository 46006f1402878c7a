"""Predicted and empirical laws of L2 distances between local estimates ([J] Lemma 4.1–4.2, App. B.2–B.4;
docs/theory.md).

:func:`predicted_distance_law` gives the generalized chi-squared limit of
:math:`nD^2(\\widehat G,G^*)` (or of :math:`nD^2(\\widehat G_i,\\widehat G_j)`), and
:func:`concentration_report` confronts it with a set of local estimates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import interpolate, linalg, stats

from .._display import one_line
from .._progress import check_progress, progress_bar
from .._validation import as_float_array, check_masses, check_real, external_stacklevel
from ..distances import l2_distance_matrix
from ..exceptions import NumericalWarning
from ..mixture import MixingDistribution, as_mixture, as_mixture_list
from .gchisq import GeneralizedChiSquared
from .information import FisherInformation, _check_model, fisher_information, l2_hessian

__all__ = [
    "ConcentrationReport",
    "DistanceLaw",
    "concentration_report",
    "distance_eigenvalues",
    "predicted_distance_law",
]

#: Eigenvalues below this fraction of the largest are set to zero (docs/theory.md).
EIGEN_CLIP = 1e-12
#: A negative eigenvalue beyond this fraction of the largest raises a NumericalWarning before it is clipped.
NEGATIVE_TOL = 1e-8
#: Probabilities of the quantile table.
QUANTILE_PROBS = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
#: Beyond this many values the predicted cdf is evaluated at this many order statistics and interpolated (PCHIP).
CDF_NODES = 1500
#: Points of the QQ data (evenly spaced ranks).
QQ_POINTS = 400


def distance_eigenvalues(
    G: Any,
    *,
    fisher: FisherInformation | None = None,
    method: str = "auto",
    n_mc: int = 200_000,
    rng: Any = None,
) -> np.ndarray:
    """The weights :math:`\\lambda_j=\\operatorname{eig}_j(I^{-1}H^*)` of the limit law (docs/theory.md), largest first.

    Solves the generalized symmetric problem :math:`H^*v=\\lambda Iv` (``scipy.linalg.eigh``),
    both matrices equilibrated by :math:`D^{-1/2}`, :math:`D=\\operatorname{diag}I` (a
    congruence: the eigenvalues are unchanged, the conditioning is free of units). The
    eigenvalues do not depend on the coordinates; by default the standard ones, in the
    family's frame (Gaussian means centred). Values below :data:`EIGEN_CLIP` times the
    largest are set to 0.

    Parameters
    ----------
    G : MixingDistribution
    fisher : FisherInformation, optional
        A precomputed :func:`~mixagg.theory.fisher_information` of ``G`` (in either coordinates).
    method, n_mc, rng
        Passed to :func:`~mixagg.theory.fisher_information` otherwise.
    """
    g = _check_model(G)
    if fisher is None:
        fisher = fisher_information(g, method=method, n_mc=n_mc, rng=rng)
    elif not isinstance(fisher, FisherInformation):
        raise TypeError(f"fisher must be a FisherInformation from fisher_information(), got {type(fisher).__name__}")
    h = l2_hessian(g, coordinates=fisher.coordinates)
    if h.shape != fisher.matrix.shape:
        raise ValueError(
            f"fisher has shape {fisher.matrix.shape} but G has {h.shape[0]} parameters: is it the information of G?"
        )
    scale = 1.0 / np.sqrt(np.diag(fisher.matrix))  # equilibrate: a congruence, so the eigenvalues are unchanged
    lam = linalg.eigh(scale[:, None] * h * scale, scale[:, None] * fisher.matrix * scale, eigvals_only=True)[::-1]
    if lam[-1] < -NEGATIVE_TOL * lam[0]:
        warnings.warn(
            f"I^-1 H* has a negative eigenvalue ({lam[-1]:.3g}, largest {lam[0]:.3g}); H* should be positive "
            "semi-definite: the kernel derivatives or the Fisher information are inaccurate",
            NumericalWarning,
            stacklevel=external_stacklevel(),
        )
    lam[np.abs(lam) < EIGEN_CLIP * lam[0]] = 0.0
    return np.maximum(lam, 0.0)


class DistanceLaw(GeneralizedChiSquared):
    """The limit law of :math:`nD^2`: :math:`\\sum_j\\lambda_j\\chi^2_1`.

    For two independent estimates it is :math:`\\sum_j2\\lambda_j\\chi^2_1`.

    A :class:`GeneralizedChiSquared` (``cdf``, ``ppf``, ... act on :math:`nD^2`) that
    also knows :math:`n` and works on distances.

    Attributes
    ----------
    eigenvalues : ndarray
        :math:`\\lambda_j` of :math:`I^{-1}H^*`, largest first (zeros kept).
    n : float
        Local sample size.
    pairwise : bool
        Whether this is the law of the distance between two independent estimates.
    """

    name = "limit law of n D^2"  # statsmodels' QQ tools name the law in messages

    def __init__(self, eigenvalues: Any, n: float, *, pairwise: bool = False):
        lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
        if np.any(lam < 0) or not np.any(lam > 0):
            raise ValueError("eigenvalues must be non-negative, with at least one positive")
        n = float(n)
        if not (np.isfinite(n) and n > 0):
            raise ValueError(f"n must be a positive number, got {n!r}")
        super().__init__(2.0 * lam if pairwise else lam)
        self.eigenvalues = lam
        self.n = n
        self.pairwise = bool(pairwise)

    def distance_cdf(self, d: Any) -> np.ndarray:
        """:math:`P(D\\le d)=F(nd^2)`."""
        arr = as_float_array(d, "d")
        return self.cdf(self.n * np.maximum(arr, 0.0) ** 2)

    def distance_ppf(self, p: Any) -> np.ndarray:
        """Quantiles of :math:`D`: :math:`\\sqrt{F^{-1}(p)/n}`."""
        return np.sqrt(self.ppf(p) / self.n)

    def __repr__(self) -> str:
        with np.printoptions(precision=4, threshold=6, edgeitems=3):
            return f"DistanceLaw(eigenvalues={self.eigenvalues}, n={self.n:g}, pairwise={self.pairwise})"


def predicted_distance_law(
    G: Any,
    n: float,
    *,
    pairwise: bool = False,
    fisher: FisherInformation | None = None,
    method: str = "auto",
    n_mc: int = 200_000,
    rng: Any = None,
) -> DistanceLaw:
    """The generalized chi-squared limit of :math:`nD^2(\\widehat G,G^*)` ([J] Lemma 4.1, 4.2; docs/theory.md).

    By [J] Lemma 3.1, :math:`\\sqrt n\\,I^{1/2}(\\widehat{\\boldsymbol G}-\\boldsymbol G^*)\\to N(0,I_\\nu)`, and by
    Lemma 4.1 :math:`D^2` is locally the quadratic form of :math:`H^*`, so

    .. math::

        nD^2(\\widehat G,G^*)\\xrightarrow{d}\\sum_{j=1}^\\nu\\lambda_j\\chi^2_{1,j},\\qquad
        \\lambda_j=\\operatorname{eig}_j(I^{-1}H^*).

    For two independent estimates of size :math:`n`,
    :math:`\\widehat{\\boldsymbol G}_i-\\widehat{\\boldsymbol G}_j\\approx N(0,2I^{-1}/n)` and
    :math:`nD^2(\\widehat G_i,\\widehat G_j)\\to\\sum_j2\\lambda_j\\chi^2_1` (``pairwise=True``; for sizes
    :math:`n_i\\ne n_j`, :math:`D^2/(n_i^{-1}+n_j^{-1})\\to\\sum_j\\lambda_j\\chi^2_1`).

    Parameters
    ----------
    G : MixingDistribution
        The truth :math:`G^*` (or a plug-in estimate of it).
    n : float
        Local sample size (used by ``distance_cdf``/``distance_ppf``; the law of :math:`nD^2` does not depend on it).
    pairwise : bool, default False
    fisher, method, n_mc, rng
        See :func:`distance_eigenvalues`.

    Returns
    -------
    DistanceLaw

    Examples
    --------
    >>> import mixagg as ma
    >>> g = ma.MixingDistribution("poisson", [1.0], {"rate": [4.0]})
    >>> law = ma.theory.predicted_distance_law(g, n=1000)
    >>> law.eigenvalues.round(6)        # lambda = H*/I = rate * sum_x (d f(x) / d rate)^2
    array([0.074314])
    """
    lam = distance_eigenvalues(G, fisher=fisher, method=method, n_mc=n_mc, rng=rng)
    return DistanceLaw(lam, n, pairwise=pairwise)


# ------------------------------------------------------------------------------------------------ report


def _sample_sizes(items: list[MixingDistribution], n: Any, name: str = "n", *, fill: bool = False) -> np.ndarray:
    """Per-estimate sample sizes: ``n`` (scalar or one per estimate) or the estimates' ``n_samples``.

    Without ``n``, an estimate lacking ``n_samples`` raises, or with ``fill`` gets the median of
    the known sizes (1 if none is known).
    """
    m = len(items)
    if n is None:
        found = np.array([getattr(g, "n_samples", np.nan) for g in items], dtype=float)
        known = np.isfinite(found) & (found > 0)
        if not fill and not np.all(known):
            raise ValueError(
                f"{name} is required: give the local sample size (or one per estimate); only estimates returned by "
                "fit_mixture carry their n_samples"
            )
        n = np.where(known, found, np.median(found[known]) if np.any(known) else 1.0)
    if np.ndim(n) == 0:
        n = np.full(m, check_real(n, name, minimum=0.0, strict_minimum=True))
    return check_masses(n, name, m, positive=True, what="a number or one entry per estimate")


def _cdf_at(law: GeneralizedChiSquared, values: np.ndarray) -> np.ndarray:
    """``law.cdf(values)``; for many values, exact at nodes and PCHIP in between.

    The nodes are :data:`CDF_NODES` order statistics and as many evenly spaced
    points, so no gap is wide in probability or in :math:`x`; the cdf is smooth
    and monotone, and the interpolation error (below 1e-5) is far below the KS
    statistic's resolution.
    """
    if values.size <= CDF_NODES:
        return law.cdf(values)
    lo, hi = float(values.min()), float(values.max())
    nodes = np.unique(
        np.concatenate([np.quantile(values, np.linspace(0.0, 1.0, CDF_NODES)), np.linspace(lo, hi, CDF_NODES)])
    )
    cdf = np.maximum.accumulate(law.cdf(nodes))
    return np.clip(interpolate.PchipInterpolator(nodes, cdf)(values), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class ConcentrationReport:
    """Empirical scaled squared distances against their predicted limit law (:func:`concentration_report`).

    Attributes
    ----------
    values : ndarray
        The statistic: :math:`n_iD^2(\\widehat G_i,G^*)` per estimate, or
        :math:`2D^2(\\widehat G_i,\\widehat G_j)/(n_i^{-1}+n_j^{-1})` per pair :math:`i<j` (``pairwise``).
    law : DistanceLaw
        The predicted law of ``values``.
    ks_statistic : float
        :math:`\\sup_x|\\widehat F(x)-F(x)|` over all values.
    ks_pvalue : float
        Kolmogorov–Smirnov p-value (``scipy.stats.kstest``) from independent values:
        all of them, or for pairs the disjoint pairs :math:`(0,1),(2,3),\\dots` only
        (pairs sharing an estimate are dependent).
    ks_n : int
        Number of values behind ``ks_pvalue``.
    quantiles : dict of str to ndarray
        ``"probability"``, ``"empirical"`` (``numpy.quantile``) and ``"predicted"`` (``law.ppf``).
    qq : dict of str to ndarray
        ``"theoretical"`` and ``"sample"`` quantiles at up to :data:`QQ_POINTS` evenly spaced
        ranks (plotting positions from ``statsmodels.graphics.gofplots.plotting_pos``).
    ecdf : statsmodels.distributions.empirical_distribution.ECDF
    pairwise : bool
    """

    values: np.ndarray
    law: DistanceLaw
    ks_statistic: float
    ks_pvalue: float
    ks_n: int
    quantiles: dict[str, np.ndarray]
    qq: dict[str, np.ndarray]
    ecdf: Any
    pairwise: bool

    def __repr__(self) -> str:
        return one_line(
            "ConcentrationReport",
            n_values=self.values.size,
            pairwise=self.pairwise,
            ks_statistic=self.ks_statistic,
            ks_pvalue=self.ks_pvalue,
        )

    def summary(self) -> str:
        """The KS test and the quantile table (what ``print(report)`` shows)."""
        return str(self)

    def __str__(self) -> str:
        what = "n D^2(G_i, G_j) pairs" if self.pairwise else "n D^2(G_i, G*)"
        lines = [
            f"{what}: {self.values.size} values; predicted law: sum of {self.law.weights.size} weighted chi2(1)",
            f"KS statistic {self.ks_statistic:.4f}, p-value {self.ks_pvalue:.3g} (from {self.ks_n} independent values)",
            f"{'p':>6} {'empirical':>12} {'predicted':>12}",
        ]
        q = self.quantiles
        lines += [
            f"{p:>6.2f} {e:>12.5g} {t:>12.5g}" for p, e, t in zip(q["probability"], q["empirical"], q["predicted"])
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (R-friendly): KS results, quantile table, QQ data and the law's eigenvalues."""
        return {
            "pairwise": self.pairwise,
            "n_values": int(self.values.size),
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "ks_n": self.ks_n,
            "quantiles": {k: v.tolist() for k, v in self.quantiles.items()},
            "qq": {k: v.tolist() for k, v in self.qq.items()},
            "eigenvalues": self.law.eigenvalues.tolist(),
            "n": self.law.n,
        }

    def plot(self, *, title: str | None = None):
        """A matplotlib figure: empirical cdf against the predicted cdf, and the QQ plot.

        Returns
        -------
        matplotlib.figure.Figure
            Not attached to pyplot (save it with ``fig.savefig(path)``; in a notebook it displays itself).
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.0, 3.8), layout="constrained")
        ax_cdf, ax_qq = fig.subplots(1, 2)
        grid = np.linspace(0.0, float(np.quantile(self.values, 0.995)), 200)
        ax_cdf.step(np.sort(self.values), self.ecdf(np.sort(self.values)), where="post", label="empirical")
        ax_cdf.plot(grid, self.law.cdf(grid), label="predicted", linestyle="--")
        xlabel = "2 D^2 / (1/n_i + 1/n_j)" if self.pairwise else "n D^2"
        ax_cdf.set(xlabel=xlabel, ylabel="cdf", title=f"KS = {self.ks_statistic:.3f}")
        ax_cdf.legend()
        ax_qq.plot(self.qq["theoretical"], self.qq["sample"], ".", markersize=3)
        top = float(max(self.qq["theoretical"].max(), self.qq["sample"].max()))
        ax_qq.plot([0.0, top], [0.0, top], color="grey", linewidth=1)
        ax_qq.set(xlabel="predicted quantile", ylabel="empirical quantile", title="QQ")
        if title:
            fig.suptitle(title)
        return fig


def concentration_report(
    estimates: Any,
    G_true: Any,
    n: Any = None,
    *,
    pairwise: bool = False,
    law: DistanceLaw | None = None,
    probabilities: Any = QUANTILE_PROBS,
    method: str = "auto",
    n_mc: int = 200_000,
    rng: Any = None,
    progress: bool | str = "auto",
) -> ConcentrationReport:
    """Compare the scaled squared L2 distances of local estimates with their predicted limit law ([J] Lemma 4.2).

    Parameters
    ----------
    estimates : sequence of MixingDistribution
        Failure-free local estimates of ``G_true`` (for example from :func:`~mixagg.fit_mixture`).
    G_true : MixingDistribution
        The truth :math:`G^*`.
    n : float or array-like of shape (m,), optional
        Local sample sizes; by default the estimates' ``n_samples``.
    pairwise : bool, default False
        ``False``: :math:`n_iD^2(\\widehat G_i,G^*)` against :math:`\\sum\\lambda_j\\chi^2_1`.
        ``True``: all pairs, :math:`2D^2(\\widehat G_i,\\widehat G_j)/(n_i^{-1}+n_j^{-1})` against
        :math:`\\sum2\\lambda_j\\chi^2_1` (equal to :math:`nD^2` for equal sizes).
    law : DistanceLaw, optional
        A precomputed :func:`predicted_distance_law` (must match ``pairwise``).
    probabilities : sequence of float
        Rows of the quantile table.
    method, n_mc, rng
        Fisher information options (:func:`~mixagg.theory.fisher_information`) when ``law`` is not given.
    progress : bool or "auto", default "auto"
        A display of the three stages (predicted law, distances, test) on stderr: ``"auto"``
        on a terminal only, ``True`` anywhere, ``False`` never (``docs/cli.md``, "Long runs").

    Returns
    -------
    ConcentrationReport
    """
    items = as_mixture_list(estimates, "estimates")
    truth = as_mixture(G_true, "G_true")
    if truth.family != items[0].family:
        raise ValueError(f"G_true has family {truth.family!r} but the estimates have {items[0].family!r}")
    sizes = _sample_sizes(items, n)
    probs = as_float_array(probabilities, "probabilities", ndim=1)
    if np.any((probs <= 0) | (probs >= 1)):
        raise ValueError("probabilities must lie in (0, 1)")
    with progress_bar(3, desc="concentration report", unit="stage", progress=check_progress(progress)) as bar:
        bar.set_postfix_str("predicted law", refresh=False)
        law = _checked_law(law, truth, sizes, pairwise, method, n_mc, rng)
        bar.update(1)
        bar.set_postfix_str("distances", refresh=False)
        values, independent = _scaled_distances(items, truth, sizes, pairwise)
        bar.update(1)
        bar.set_postfix_str("test and quantiles", refresh=False)
        report = _report(values, independent, law, probs, pairwise)
        bar.update(1)
    return report


def _checked_law(
    law: Any, truth: Any, sizes: np.ndarray, pairwise: bool, method: str, n_mc: int, rng: Any
) -> DistanceLaw:
    if law is None:
        law = predicted_distance_law(
            truth, float(np.median(sizes)), pairwise=pairwise, method=method, n_mc=n_mc, rng=rng
        )
    elif not isinstance(law, DistanceLaw):
        raise TypeError(f"law must be a DistanceLaw from predicted_distance_law(), got {type(law).__name__}")
    elif law.pairwise != bool(pairwise):
        raise ValueError(f"law has pairwise={law.pairwise} but pairwise={pairwise} was asked for")
    return law


def _scaled_distances(items: list, truth: Any, sizes: np.ndarray, pairwise: bool) -> tuple[np.ndarray, np.ndarray]:
    """The scaled squared distances and the independent subset the KS test uses."""
    m = len(items)
    if pairwise:
        if m < 2:
            raise ValueError("pairwise=True needs at least 2 estimates")
        d = l2_distance_matrix(items)
        i, j = np.triu_indices(m, 1)
        values = 2.0 * d[i, j] ** 2 / (1.0 / sizes[i] + 1.0 / sizes[j])
        disjoint = np.arange(0, m - 1, 2)
        independent = 2.0 * d[disjoint, disjoint + 1] ** 2 / (1.0 / sizes[disjoint] + 1.0 / sizes[disjoint + 1])
    else:
        d = l2_distance_matrix([truth, *items])
        values = sizes * d[0, 1:] ** 2
        independent = values
    return values, independent


def _report(
    values: np.ndarray, independent: np.ndarray, law: DistanceLaw, probs: np.ndarray, pairwise: bool
) -> ConcentrationReport:
    cdf = _cdf_at(law, np.sort(values))
    k = values.size
    ks = float(max(np.max(np.arange(1, k + 1) / k - cdf), np.max(cdf - np.arange(k) / k)))
    pvalue = float(stats.kstest(independent, lambda x: _cdf_at(law, np.asarray(x))).pvalue)
    quantiles = {"probability": probs, "empirical": np.quantile(values, probs), "predicted": law.ppf(probs)}
    from statsmodels.distributions.empirical_distribution import ECDF  # imported on use: a lean ``import mixagg``
    from statsmodels.graphics.gofplots import plotting_pos

    positions = plotting_pos(k, 0.0)
    ranks = np.unique(np.linspace(0, k - 1, min(k, QQ_POINTS)).round().astype(int))
    qq = {"theoretical": law.ppf(positions[ranks]), "sample": np.sort(values)[ranks]}
    return ConcentrationReport(
        values=values,
        law=law,
        ks_statistic=ks,
        ks_pvalue=pvalue,
        ks_n=int(independent.size),
        quantiles=quantiles,
        qq=qq,
        ecdf=ECDF(values),
        pairwise=bool(pairwise),
    )
