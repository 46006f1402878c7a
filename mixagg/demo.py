"""``mixagg demo``: one Byzantine split-and-conquer experiment end to end, with a table and a figure.

A ground truth (a MixSim Gaussian mixture, [J] §5.1; or [J] Appendix D's Gamma mixture; or a
Poisson mixture), ``N`` samples split over ``m`` machines, local penalised EM started at the
truth as in [J] §5.1.2, each failure type of the family on a fraction ``alpha`` of the machines
([J] §5.1.1 / App. D), and every estimator of :mod:`mixagg.robust`, scored by W1 to the truth
(``docs/distances.md``, "W1 between mixing distributions") and ARI on held-out data ("ARI").
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import attacks, engine, metrics, wire
from .distances import l2_distance_matrix
from .mixture import MixingDistribution
from .r_bridge import mixsim
from .robust import METHODS, aggregate

__all__ = ["DemoSettings", "FAILURES", "demo_truth", "run_demo"]

#: Failure types shown per family ([J] §5.1.1 for Gaussian, App. D for Gamma).
FAILURES: dict[str, dict[str, Callable[..., Any]]] = {
    "gaussian": {
        "mean": attacks.mean_failure,
        "covariance": attacks.covariance_failure,
        "weight": attacks.weight_failure,
    },
    "gamma": {"shape": attacks.shape_failure, "scale": attacks.scale_failure, "weight": attacks.weight_failure},
    "poisson": {"rate": attacks.rate_failure, "weight": attacks.weight_failure},
}


def estimators() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, method, options) of every row of the table: the ``benchmark`` rows of the registered rules."""
    return [(label, name, dict(options)) for name, rule in METHODS.items() for label, options in rule.benchmark]


#: What the columns of the demo's table mean (printed under it and written to ``demo.json``).
LEGEND = {
    "W1": "Wasserstein-1 distance of the aggregate's mixing distribution to the truth's, over the family's "
    "parameter distance (lower is better)",
    "ARI": "adjusted Rand index of the aggregate's clustering of held-out draws against the truth's (higher is "
    "better, 1 is perfect)",
    "kept": "estimates that entered the aggregate, out of m",
    "failed kept": "failed machines among them (a robust rule keeps none)",
    "time (s)": "wall time of the aggregation alone (the compiled L2 kernel is warmed before timing)",
}
#: Why a rule can come out closer to the truth than the oracle.
BEATS_ORACLE = (
    "sampling noise. The oracle reduces all failure-free local estimates, which is not the global MLE on their "
    "pooled data; dropping a noisy honest estimate or keeping a mild failure can move an aggregate closer to "
    "the truth by chance"
)


@dataclass(frozen=True)
class DemoSettings:
    """The experiment: family, sizes, failure fraction, seed and where to write.

    ``K``, ``d`` and ``max_omega`` describe the MixSim truth (Gaussian only); the Gamma and
    Poisson truths are fixed mixtures (:func:`demo_truth`).
    """

    family: str = "gaussian"
    m: int = 50
    n: int = 100_000
    alpha: float = 0.2
    seed: int = 2026
    K: int = 5
    d: int = 10
    max_omega: float = 0.3
    n_test: int = 5000
    init: str = "truth"
    workers: int | None = None
    out: Path = field(default_factory=lambda: Path("mixagg-demo"))

    @classmethod
    def quick(cls, **overrides: Any) -> DemoSettings:
        """CI scale: K = 3, d = 2, m = 20, N = 20,000."""
        base = {"m": 20, "n": 20_000, "K": 3, "d": 2, "max_omega": 0.1, "n_test": 2000}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


def demo_truth(settings: DemoSettings) -> tuple[MixingDistribution, str]:
    """The ground truth and a sentence saying where it came from."""
    if settings.family == "gaussian":
        sim = mixsim(settings.K, settings.d, max_omega=settings.max_omega, seed=settings.seed, backend="auto")
        return sim.mixture, (
            f"MixSim truth (K = {settings.K}, d = {settings.d}, MaxOmega = {settings.max_omega}, "
            f"achieved {sim.max_omega:.4f}; {sim.backend} back-end)"
        )
    if settings.family == "gamma":
        g = MixingDistribution("gamma", [0.32, 0.35, 0.33], {"shape": [1.0, 8.0, 30.0], "scale": [1.0, 6.0, 10.0]})
        return g, "the Gamma mixture of [J] Appendix D: 0.32 G(1,1) + 0.35 G(8,6) + 0.33 G(30,10) (shape, scale)"
    g = MixingDistribution("poisson", [0.3, 0.4, 0.3], {"rate": [1.0, 6.0, 15.0]})
    return g, "the Poisson mixture 0.3 P(1) + 0.4 P(6) + 0.3 P(15)"


@dataclass(frozen=True)
class Row:
    """One estimator under one failure type."""

    failure: str
    estimator: str
    w1: float
    ari: float
    kept: int
    failed_kept: int
    seconds: float


@dataclass
class DemoResult:
    """Rows of the table, the figure and JSON paths, and the total runtime."""

    settings: DemoSettings
    truth: MixingDistribution
    rows: list[Row]
    figure: Path | None
    report: Path
    seconds: float

    def table(self) -> str:
        """The table as fixed-width text."""
        m = self.settings.m
        lines = []
        for failure in dict.fromkeys(r.failure for r in self.rows):
            lines.append(f"\n{failure} failure (alpha = {self.settings.alpha}, m = {m}):")
            lines.append(f"  {'estimator':<12}{'W1':>10}{'ARI':>8}{'kept':>8}{'failed kept':>13}{'time (s)':>10}")
            for r in (r for r in self.rows if r.failure == failure):
                lines.append(
                    f"  {r.estimator:<12}{r.w1:>10.4g}{r.ari:>8.3f}{r.kept:>5}/{m:<3}"
                    f"{r.failed_kept:>10}{r.seconds:>13.2f}"
                )
            oracle = next((r for r in self.rows if r.failure == failure and r.estimator == "oracle"), None)
            better = [
                r.estimator
                for r in self.rows
                if oracle is not None and r.failure == failure and r.estimator != "oracle" and r.w1 < oracle.w1
            ]
            if better:
                lines.append(f"  {', '.join(better)} below the oracle's W1: {BEATS_ORACLE}")
        lines.append("")
        lines += [f"{key}: {text}" for key, text in LEGEND.items()]
        return "\n".join(lines)


def _law(coat: MixingDistribution, n: float):
    """The predicted law of the distance between two honest estimates, at the COAT estimate (plug-in)."""
    from .theory import predicted_distance_law

    return predicted_distance_law(coat, n, pairwise=True, rng=0)


def _figure(path: Path, panels: list[tuple[str, np.ndarray, np.ndarray, float]], law: Any, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, (failure, dist, failed, radius, kept) in zip(axes[0], panels):
        honest = np.sort(dist[~failed & (dist > 0)])  # the COAT itself is at distance 0
        bad = dist[failed]
        bad_kept, bad_out = dist[failed & kept], dist[failed & ~kept]
        lo = max(honest.min() / 1.5 if honest.size else 1e-6, 1e-12)
        hi = max(bad.max() if bad.size else honest.max(), honest.max()) * 1.5
        grid = np.geomspace(lo, hi, 400)
        ax.step(
            honest,
            np.arange(1, honest.size + 1) / honest.size,
            where="post",
            color="C0",
            label=f"honest machines, empirical cdf ({honest.size}; the COAT left out)",
        )
        if law is not None:  # far in the upper tail the cdf is 1 to plotting accuracy, and slow to integrate
            inner = grid[grid <= 5 * law.distance_ppf(0.5)]
            curve = np.concatenate([law.distance_cdf(inner), np.ones(grid.size - inner.size)])
            ax.plot(grid, curve, color="k", lw=1.2, ls="--", label="predicted cdf (two honest estimates)")
        ax.plot(bad_out, np.full(bad_out.size, 1.04), "|", color="C3", ms=14, mew=1.5)
        ax.plot(bad_kept, np.full(bad_kept.size, 1.04), "x", color="C1", ms=8, mew=1.5)
        ax.plot([], [], "|", color="C3", ms=10, mew=1.5, label="failed, excluded by DFMR")
        ax.plot([], [], "x", color="C1", ms=8, mew=1.5, label="failed, kept by DFMR")
        ax.axvline(radius, color="C2", lw=1, label="DFMR filter: rho r, rho = 1.3")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.2g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.02, 1.1)
        ax.set_xlabel("L2 distance to the COAT estimate")
        ax.set_title(f"{failure} failure: DFMR(1.3) kept {bad_kept.size} of the {bad.size} failed", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("cumulative probability")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(
    settings: DemoSettings, *, progress: bool | str = "auto", echo: Callable[[str], Any] = print
) -> DemoResult:
    """Run the experiment; print progress and the table through ``echo``; write the PNG and a JSON report."""
    start = time.perf_counter()
    if settings.family not in FAILURES:
        raise ValueError(f"family must be one of {sorted(FAILURES)}, got {settings.family!r}")
    truth, where = demo_truth(settings)
    rng = np.random.default_rng(settings.seed)
    k = truth.n_components
    x = truth.sample(settings.n, rng)
    x_test = truth.sample(settings.n_test, rng)
    shards = np.array_split(x, settings.m)
    echo(f"truth: {where}")
    echo(
        f"data: N = {settings.n} samples over m = {settings.m} machines (n = {settings.n // settings.m}); "
        f"{settings.n_test} held-out samples for the ARI"
    )
    fit_options = {"init": truth} if settings.init == "truth" else {"init": settings.init, "n_init": 3}
    fits = engine.fit_partitions(
        shards,
        family=truth.family,
        n_components=k,
        fit_options=fit_options,
        rng=settings.seed,
        progress=progress,
        executor="processes" if settings.workers else None,
        n_workers=settings.workers,
    )
    if fits.rejected:
        raise RuntimeError(f"{len(fits.rejected)} local fits failed: {next(iter(fits.rejected.values())).reason}")
    local = fits.estimates
    converged = sum(e.metadata["converged"] for e in local)
    echo(
        "local penalised EM (started at "
        f"{'the truth, as in [J] §5.1.2' if settings.init == 'truth' else settings.init}): "
        f"{converged}/{len(local)} converged in {fits.elapsed:.1f} s ({fits.executor})"
    )
    l2_distance_matrix(local[:2])  # compiles the L2 kernel once, so no rule's time includes it
    rows: list[Row] = []
    panels = []
    law = None
    for failure, attack in FAILURES[settings.family].items():
        sent, failed = attack(local, alpha=settings.alpha, rng=rng)
        for label, method, options in estimators():
            declared = METHODS[method].declared_options()
            opts = dict(options, failure_free=~failed) if "failure_free" in declared else dict(options)
            if opts.get("rho") == "auto" and "rho_options" in declared:
                opts["rho_options"] = {"rng": settings.seed}
            t0 = time.perf_counter()
            with warnings.catch_warnings():  # the table reports what the warnings would say
                warnings.simplefilter("ignore")
                res = aggregate(sent, method, **opts)
            seconds = time.perf_counter() - t0
            rows.append(
                Row(
                    failure,
                    label,
                    metrics.w1(res.mixture, truth),
                    metrics.ari(res.mixture, truth, x_test),
                    int(res.selected.size),
                    int(failed[res.selected].sum()),
                    seconds,
                )
            )
            if label == "DFMR(1.3)":
                panels.append((failure, res.distance_to_coat, failed, res.rho * res.coat_radius, res.kept))
                if law is None:
                    law = _law(sent[res.coat_index], settings.n / settings.m)
    settings.out.mkdir(parents=True, exist_ok=True)
    title = f"{where}; m = {settings.m}, n = {settings.n // settings.m}, alpha = {settings.alpha}"
    figure = _figure(settings.out / "demo.png", panels, law, title)
    report = settings.out / "demo.json"
    result = DemoResult(settings, truth, rows, figure, report, time.perf_counter() - start)
    report.write_text(
        json.dumps(
            {
                "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.__dict__.items()},
                "truth": json.loads(wire.dumps(truth, machine_id="truth")),
                "truth_source": where,
                "rows": [r.__dict__ for r in rows],
                "legend": LEGEND,
                "seconds": result.seconds,
            },
            indent=1,
        )
    )
    echo(result.table())
    echo(f"\nfigure: {figure}\nreport: {report}\ntotal time {result.seconds:.1f} s")
    return result
