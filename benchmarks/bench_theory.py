"""Theory module speed: the generalized chi-squared cdf at 1,000 points, quantiles, H* / Fisher, suggest_rho.

Baseline for the cdf: Imhof's integral point by point with ``scipy.integrate.quad`` on sub-intervals (the
textbook way), timed on a few points and scaled to 1,000. With one to three terms the integrand decays like
u^-1.5 .. u^-2.5 and quad does not reach the accuracy in reasonable time, so those laws are checked against
scipy.stats.chi2 / a Monte Carlo instead. Goal (issue 5): 1,000 points in < 1 s.
Run: python benchmarks/bench_theory.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import integrate, stats

import mixagg as ma
from mixagg.theory import GeneralizedChiSquared, fisher_information, l2_hessian, suggest_rho

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, timed, write_section  # noqa: E402

SLOW_DECAY = {"1 term (chi2_1)", "3 terms, spread 1..1e-3"}
LAWS = {
    "1 term (chi2_1)": GeneralizedChiSquared([1.0]),
    "3 terms, spread 1..1e-3": GeneralizedChiSquared(np.geomspace(1.0, 1e-3, 3)),
    "11 terms, spread 1..1e-2 (K=2, d=2)": GeneralizedChiSquared(np.geomspace(1.0, 1e-2, 11)),
    "329 terms, spread 1..1e-3 (K=5, d=10)": GeneralizedChiSquared(np.geomspace(1.0, 1e-3, 329)),
    "MixSim-type: 10 non-central terms of both signs + normal": GeneralizedChiSquared(
        np.linspace(-1.5, 2.0, 10), noncentrality=np.linspace(0.0, 3.0, 10), normal_sd=0.7
    ),
}


def quad_sf(law: GeneralizedChiSquared, x: float) -> float:
    """P(Q > x) by scipy.integrate.quad of Imhof's integrand on 200 log-spaced pieces up to the truncation point."""
    w, h, nc, sd = law.weights, law.dof, law.noncentrality, law.normal_sd
    omega = 0.5 * (x - law.offset)

    def f(u):
        if u == 0.0:
            return 0.5 * (np.sum(w * (h + nc))) - omega
        wu = w * u
        phase = 0.5 * np.sum(h * np.arctan(wu) + nc * wu / (1 + wu * wu)) - omega * u
        log_rho = np.sum(0.25 * h * np.log1p(wu * wu) + 0.5 * nc * wu * wu / (1 + wu * wu)) + sd * sd * u * u / 8
        return math.sin(phase) * math.exp(-log_rho) / u

    u_max = law._truncation()
    edges = np.concatenate([[0.0], np.geomspace(1e-3, u_max, 200)])
    total = sum(
        integrate.quad(f, a, b, epsabs=1e-12, epsrel=1e-10, limit=200)[0] for a, b in zip(edges[:-1], edges[1:])
    )
    return 0.5 + total / math.pi


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeats, n_base = (1, 3) if args.quick else (3, 10)
    rows = []
    for name, law in LAWS.items():
        x = np.linspace(law.mean() - 4 * law.std(), law.mean() + 6 * law.std(), 1000)
        t_vec, sf = timed(lambda: law.sf(x), repeats)
        t_ppf, _ = timed(lambda: law.ppf([0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]), repeats)
        if name in SLOW_DECAY:
            if law.weights.size == 1:
                diff, how = float(np.max(np.abs(sf - stats.chi2.sf(x, 1)))), "vs scipy.stats.chi2"
            else:
                draws = np.sort(law.rvs(10**6, rng=0))
                emp = 1.0 - np.searchsorted(draws, x, side="right") / draws.size
                diff, how = float(np.max(np.abs(sf - emp))), "vs 10^6 draws (MC s.e. <= 5e-4)"
            rows.append((name, t_vec, None, diff, how, t_ppf))
            continue
        idx = np.linspace(0, 999, n_base).round().astype(int)
        t0 = time.perf_counter()
        ref = np.array([quad_sf(law, float(x[i])) for i in idx])
        t_quad = (time.perf_counter() - t0) / n_base * 1000
        rows.append((name, t_vec, t_quad, float(np.max(np.abs(sf[idx] - ref))), "vs quad", t_ppf))

    rng = np.random.default_rng(0)
    fam = ma.families.Gaussian(10)
    truth = ma.MixingDistribution(fam, rng.dirichlet(np.ones(5) * 5), fam.random_params(5, rng))
    t_h, h = timed(lambda: l2_hessian(truth), repeats)
    t_i, _ = timed(lambda: fisher_information(truth, rng=1), 1)
    m = 100
    local = [
        ma.MixingDistribution(
            fam,
            truth.weights,
            {"mean": truth.params["mean"] + 0.02 * rng.standard_normal((5, 10)), "cov": truth.params["cov"]},
        )
        for _ in range(m)
    ]
    t_rho, s = timed(lambda: suggest_rho(local, sample_sizes=np.full(m, 5000), rng=0), 1)

    lines = [
        "## `bench_theory.py`: generalized chi-squared law, H*, Fisher information, suggest_rho",
        "",
        f"Measured {machine()}. Median of {repeats} run(s); the quad baseline is timed on {n_base} points "
        "and scaled to 1,000.",
        "",
        "| law | sf at 1,000 points | scipy.integrate.quad per point (x1,000) | ratio | max abs. difference "
        "| ppf at 7 levels |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, t_vec, t_quad, diff, how, t_ppf in rows:
        base = "not attempted (power-law decay)" if t_quad is None else f"{t_quad:,.1f} s"
        ratio = "" if t_quad is None else f"{t_quad / t_vec:,.0f}x"
        lines.append(
            f"| {name} | {t_vec * 1e3:,.0f} ms | {base} | {ratio} | {diff:.1e} ({how}) | {t_ppf * 1e3:,.0f} ms |"
        )
    worst = max(r[1] for r in rows)
    lines += [
        "",
        f"Slowest law: {worst:.2f} s for 1,000 points (goal < 1 s: {'met' if worst < 1 else 'NOT met'}).",
        "",
        f"Gaussian K = 5, d = 10 (nu = {h.shape[0]} parameters): `l2_hessian` {t_h * 1e3:,.0f} ms (analytic kernel "
        f"derivatives); `fisher_information` (Monte Carlo, 200,000 draws) {t_i:,.1f} s; `suggest_rho` with m = {m} "
        "estimates (Fisher information at the COAT + 500 bootstrap replicates of the COAT step) "
        f"{t_rho:,.1f} s, rho = {s.rho:.3f}.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        write_section("bench_theory", body)


if __name__ == "__main__":
    main()
