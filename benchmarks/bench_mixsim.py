"""Native MixSim speed: exact overlaps of a K = 10, p = 10 mixture, and the generation of benchmark mixtures.

Baseline for ``overlap``: every ordered pair as its own generalized chi-squared law evaluated by
``GeneralizedChiSquared.cdf`` (the reduction of docs/mixsim.md with no closed forms, no merging of equal
coefficients and no Chernoff screen), in the same process. Accuracy is measured against the real MixSim's
output stored in the reference set. Goal (issue 6): K = 10, p = 10 in < 1 s.
Run: python benchmarks/bench_mixsim.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import mixagg as ma
from mixagg.r_bridge.native_overlap import UNIT_EIGENVALUE_TOL, pair_quantities, summarise
from mixagg.theory import GeneralizedChiSquared

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, timed, write_section  # noqa: E402

REFERENCE = Path(__file__).parents[1] / "tests" / "r_bridge" / "mixsim_reference"


def baseline_overlap(weights, means, covs):
    """One generalized chi-squared law per ordered pair, unit eigenvalues split into the normal term."""
    pairs = pair_quantities(weights, means, covs)
    k = len(weights)
    omega = np.eye(k)
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            lam, d = pairs.eigenvalues[i, j], pairs.d[i, j]
            unit = np.abs(lam - 1) <= UNIT_EIGENVALUE_TOL
            lf, df = lam[~unit], d[~unit]
            sigma = 2 * np.sqrt(np.sum(d[unit] ** 2))
            t = pairs.kappa[i, j] + np.sum(lf * df**2 / (lf - 1)) - np.sum(d[unit] ** 2)
            if lf.size == 0:
                law = GeneralizedChiSquared([0.0], normal_sd=sigma)
            else:
                law = GeneralizedChiSquared(lf - 1, 1.0, (lf * df / (lf - 1)) ** 2, normal_sd=sigma)
            omega[i, j] = float(law.cdf(t))
    return summarise(omega)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 5

    cases = {}
    ref = json.loads((REFERENCE / "mixsim_v04_K10_p10_max0.3.json").read_text())
    res = ref["result"]
    cases["MixSim reference v04 (general, heterogeneous, MaxOmega 0.3)"] = (
        np.array(res["Pi"]), np.array(res["Mu"]), np.array(res["S"]), np.array(ref["overlap_check"]["OmegaMap"])
    )  # fmt: skip
    for label, kw in (("spherical, heterogeneous", dict(sph=True)), ("general, homogeneous", dict(hom=True))):
        sim = ma.mixsim(10, 10, max_omega=0.05, seed=1, backend="python", **kw)
        cases[f"native mixsim, {label}, MaxOmega 0.05"] = (
            sim.weights,
            sim.means,
            np.array(sim.mixture.params["cov"]),
            None,
        )

    rows = []
    for name, (w, mu, s, mixsim_map) in cases.items():
        mix = ma.MixingDistribution("gaussian", w, {"mean": mu, "cov": s})
        t_fast, fast = timed(lambda: ma.r_bridge.overlap(mix, backend="python"), repeats)
        t_base, base = timed(lambda: baseline_overlap(w, mu, s), max(1, repeats // 2))
        agree = float(np.max(np.abs(fast.omega_map - base.omega_map)))
        vs_mixsim = "" if mixsim_map is None else f"{np.max(np.abs(fast.omega_map - mixsim_map)):.1e}"
        rows.append((name, t_fast, t_base, agree, vs_mixsim))

    generation = []
    settings = [
        ("K=5, p=10, MaxOmega 0.3 (the papers' setting)", dict(K=5, p=10, max_omega=0.3)),
        ("K=10, p=10, MaxOmega 0.05", dict(K=10, p=10, max_omega=0.05)),
        ("K=10, p=2, BarOmega 0.01, hom", dict(K=10, p=2, bar_omega=0.01, hom=True)),
        ("K=5, p=5, BarOmega 0.05 + MaxOmega 0.15", dict(K=5, p=5, bar_omega=0.05, max_omega=0.15)),
    ]
    for name, kw in settings:
        t, sim = timed(lambda: ma.mixsim(**kw, seed=1, backend="python"), 1 if args.quick else 3)
        generation.append((name, t, sim.attempts))

    lines = [
        "## `bench_mixsim.py`: native MixSim overlaps (K = 10, p = 10) and mixture generation",
        "",
        f"Measured {machine()}. Median of {repeats} run(s) for `overlap`.",
        "",
        "| mixture (K = 10, p = 10) | `overlap` | baseline: one gchisq law per pair | ratio "
        "| max abs. difference to baseline | to MixSim (eps = 1e-6) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, t_fast, t_base, agree, vs_mixsim in rows:
        lines.append(
            f"| {name} | {t_fast * 1e3:,.0f} ms | {t_base * 1e3:,.0f} ms | {t_base / t_fast:,.1f}x "
            f"| {agree:.1e} | {vs_mixsim} |"
        )
    worst = max(r[1] for r in rows)
    lines += [
        "",
        f"Slowest: {worst:.2f} s (goal < 1 s: {'met' if worst < 1 else 'NOT met'}).",
        "",
        '| `mixsim(..., backend="python")` | time | attempts |',
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {t:,.2f} s | {attempts} |" for name, t, attempts in generation]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        write_section("bench_mixsim", body)


if __name__ == "__main__":
    main()
