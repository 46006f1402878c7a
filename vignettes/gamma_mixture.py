# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Gamma mixtures: distance concentration, the choice of rho, and [J] Table 4
#
# Reproduces [J] Appendix D (paper `001`, App. D.1–D.3.1; [J] App. D.1–D.3.1, Table 4). The truth is
# $f_{G^*}=0.32\,\Gamma(1,1)+0.35\,\Gamma(8,6)+0.33\,\Gamma(30,10)$ (shape $r$, **scale** $\beta$ — the
# parametrisation of `mixagg.families.Gamma`), estimated in the space $\{r>0.5\}$ where Gamma densities are square
# integrable (the default penalty of the Gamma family, `GammaShapePenalty(n^{-1/2}, min_shape=0.5)`, docs/em.md).
# One data set of $N=2^{18}$ draws per replicate is split at random into $m=2^k$ machines; each machine runs the
# penalised EM started at the truth ([J] §5.1.2; App. D says nothing else). $\lfloor\alpha m\rfloor$ machines then fail:
# **shape** ($\widetilde r\sim U(1,10)$), **scale** ($\widetilde\beta=\widehat\beta+U(0,10)$) or **weight** (Dirichlet)
# failure ([J] §D.1). The failed machines are the same for the three failure types (as in [J] Table 4,
# whose shape and scale rows coincide for small $m$), so the oracle is shared too.
#
# * **D.2 / Fig. 14**: $m=128$, $\alpha=0.2$: L2 distances of the local estimates to the COAT, honest vs failed.
# * **D.3 / Fig. 15**: $m=64$: mean $W_1$ of DFMR($\rho$), $\rho=1.0..3.0$ (step 0.05), vs the oracle and the COAT.
# * **D.3.1 / Table 4**: relative $W_1$ difference of the oracle-tuned DFMR($\rho^{(r)}$), $\rho^{(r)}$ the best
#   $\rho\in\{1+0.05t: t=0..40\}$ in replicate $r$ ([J] §D.3.1: the paper prints $t\le59$ but its text says
#   $1.0$–$3.0$), aggregated as the paper does: the **relative difference of the mean** $W_1$ over replicates,
#   $(\overline{W_1}^{\rm DFMR(\rho^{(r)})}-\overline{W_1}^{\rm oracle})/\overline{W_1}^{\rm oracle}$.
#
# Run: `python vignettes/gamma_mixture.py [--quick | --full]`. `--quick`: $m\in\{8,32\}$, $R=2$ replicates (Fig. 14
# and 15 then use $m=32$; under 9 s in the test suite on 2 idle cores). `--full`: $m\in\{8,\dots,256\}$, $R=32$
# replicates on 2 worker processes instead of the paper's 300 (measured 6 min on 2 cores, 2026-11-22).
#
# Implementation notes. The local fits of one replicate are shared by every failure type and $\alpha$ (a failure only
# alters what a machine sends). For the $\rho$ grid, the pairwise L2 distances are computed once per transmitted set
# (`ma.l2_distance_matrix`), the COAT once, and mixture reduction (MR) runs once per *distinct* selected set, started
# from the COAT ([J] §5.1.2) without the extra restarts from every kept estimate that `aggregate("dfmr")` adds
# (docs/mixture_reduction.md): for 41 values of $\rho$ and $m$ up to 256 they would cost ~100x more. The report checks
# that the two agree: it reruns `ma.aggregate(sent, "dfmr", rho=2)` and prints the largest $W_1$ difference.
# Oracle, vanilla and COAT are the library's `aggregate` methods.

# %%
import math
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
from _vignette import Vignette

import mixagg as ma

v = Vignette("gamma_mixture", "Gamma mixtures: [J] Appendix D (Fig. 14, Fig. 15, Table 4)")
N = 2**18
MS = v.pick(quick=[8, 32], full=[8, 16, 32, 64, 128, 256])
R = v.pick(quick=2, full=32)
WORKERS = v.pick(quick=1, full=2)
M_DIST = v.pick(quick=32, full=128)  # Fig. 14 ([J]: m = 128)
M_RHO = v.pick(quick=32, full=64)  # Fig. 15 ([J]: m = 64)
ALPHAS = [0.0, 0.1, 0.2, 0.3, 0.4]
FAILURES = {"shape": ma.attacks.shape_failure, "scale": ma.attacks.scale_failure, "weight": ma.attacks.weight_failure}
RHOS = 1.0 + 0.05 * np.arange(41)  # [J] §D.3.1 grid, t = 0..40
TRUTH = ma.MixingDistribution("gamma", [0.32, 0.35, 0.33], {"shape": [1.0, 8.0, 30.0], "scale": [1.0, 6.0, 10.0]})
K = 3


# %% one replicate: data, local fits, then every failure type, alpha and rho
def dfmr_grid(sent, D):
    """W1 of DFMR(rho) for every rho in RHOS, with one MR per distinct selected set; plus the COAT."""
    coat = ma.aggregate(sent, "coat", distances=D)
    c, r, dc = coat.coat_index, coat.coat_radius, coat.distance_to_coat
    cache, w1 = {}, np.empty(RHOS.size)
    for j, rho in enumerate(RHOS):
        sel = tuple(np.flatnonzero(dc <= float(rho) * r))  # the rule of robust.dfmr, [J] eq. (11)
        if sel not in cache:
            red = ma.reduction.mixture_reduction([sent[i] for i in sel], K, init=sent[c], restarts="none")
            cache[sel] = ma.metrics.w1(red.mixture, TRUTH)
        w1[j] = cache[sel]
    return w1, ma.metrics.w1(coat.mixture, TRUTH), dc, r, len(cache)


def replicate(rep, check_library=True):
    """All W1 numbers of replicate ``rep`` (seeded by ``rep`` only, so workers need no shared state)."""
    rng = np.random.default_rng([rep, 2026])
    x = TRUTH.sample(N, rng)
    out = {"fit_seconds": {}, "m": {}}
    caught = []
    for m in MS:
        n = N // m
        parts = (
            np.random.default_rng([rep, m, 2026]).permutation(N).reshape(m, n)
        )  # a fresh random split per (replicate, m)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fits = [ma.fit_mixture(x[p], "gamma", K, init=TRUTH) for p in parts]
        caught += [f"{type(i.message).__name__}: {i.message}" for i in w]
        out["fit_seconds"][m] = (time.perf_counter() - t0) / m
        res = {
            "grid": np.full((len(FAILURES), len(ALPHAS), RHOS.size), np.nan),
            "oracle": np.full(len(ALPHAS), np.nan),
            "coat": np.full((len(FAILURES), len(ALPHAS)), np.nan),
            "vanilla": np.full((len(FAILURES), len(ALPHAS)), np.nan),
            "distinct_sets": [],
            "lib_gap": [],
        }
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for a, alpha in enumerate(ALPHAS):
                for f, (fname, attack) in enumerate(FAILURES.items()):
                    # same seed for every failure type: the same machines fail, so the oracle is shared
                    sent, failed = attack(fits, alpha, rng=np.random.SeedSequence([rep, m, a]))
                    if alpha == 0.0 and f > 0:  # nothing fails: identical to the first failure type
                        for key in ("grid", "coat", "vanilla"):
                            res[key][f, a] = res[key][0, a]
                        continue
                    D = ma.l2_distance_matrix(sent)
                    grid, w_coat, dc, radius, nsets = dfmr_grid(sent, D)
                    res["grid"][f, a], res["coat"][f, a] = grid, w_coat
                    res["distinct_sets"].append(nsets)
                    res["vanilla"][f, a] = (
                        ma.metrics.w1(ma.aggregate(sent, "vanilla").mixture, TRUTH) if alpha > 0 else np.nan
                    )
                    if f == 0:
                        res["oracle"][a] = ma.metrics.w1(
                            ma.aggregate(sent, "oracle", failure_free=~failed).mixture, TRUTH
                        )
                    if alpha == 0.0:
                        res["vanilla"][f, a] = res["oracle"][a]
                    if check_library and alpha == 0.2:  # library DFMR(2), restarts from every kept estimate
                        lib = ma.aggregate(sent, "dfmr", rho=2.0, distances=D)
                        res["lib_gap"].append(abs(ma.metrics.w1(lib.mixture, TRUTH) - grid[20]))
                    if m == M_DIST and alpha == 0.2 and rep == 0:
                        res.setdefault("distances", {})[fname] = {"to_coat": dc, "failed": failed, "radius": radius}
        caught += [f"{type(i.message).__name__}: {i.message}" for i in w]
        out["m"][m] = res
    out["warnings"] = caught
    return out


# %% run the replicates (2 worker processes at full scale)
start = time.perf_counter()
checks = [rep == 0 or v.quick for rep in range(R)]
if WORKERS > 1:
    with ProcessPoolExecutor(WORKERS) as pool:
        runs = list(v.bar(pool.map(replicate, range(R), checks), total=R, desc="replicates"))
else:
    runs = [replicate(rep, chk) for rep, chk in zip(v.bar(range(R), desc="replicates"), checks)]
seconds = time.perf_counter() - start

warn_texts = sorted({t for run in runs for t in run["warnings"]})
grid = {m: np.stack([run["m"][m]["grid"] for run in runs]) for m in MS}  # (R, failure, alpha, rho)
oracle = {m: np.stack([run["m"][m]["oracle"] for run in runs]) for m in MS}  # (R, alpha)
coat = {m: np.stack([run["m"][m]["coat"] for run in runs]) for m in MS}  # (R, failure, alpha)
vanilla = {m: np.stack([run["m"][m]["vanilla"] for run in runs]) for m in MS}  # (R, failure, alpha)
fit_sec = {m: float(np.mean([run["fit_seconds"][m] for run in runs])) for m in MS}
lib_gap = max(g for run in runs for m in MS for g in run["m"][m]["lib_gap"])
distinct = {m: float(np.mean([s for run in runs for s in run["m"][m]["distinct_sets"]])) for m in MS}

# %% [markdown]
# ## D.2: distances to the COAT (Fig. 14)
#
# The honest estimates form one mode of distances to the COAT and the failed ones another, above it; the gap is
# widest for shape failure and narrowest for weight failure, where the components are kept and only the weights move.
# With only 8 parameters the honest distances spread more than in the Gaussian experiments ([J] §D.2), so the two
# modes are closer than in [J] Fig. 7.

# %%
dist = runs[0]["m"][M_DIST]["distances"]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
sep = {}
for ax, (fname, dd) in zip(axes, dist.items()):
    d, failed = np.asarray(dd["to_coat"]), np.asarray(dd["failed"])
    bins = np.geomspace(max(d[d > 0].min(), 1e-6), d.max() * 1.01, 30)
    ax.hist(d[~failed & (d > 0)], bins=bins, color="C0", alpha=0.7, label="failure-free")
    ax.hist(d[failed], bins=bins, color="C3", alpha=0.7, label="failed")
    ax.axvline(2.0 * dd["radius"], color="C2", lw=1, label="DFMR(2) cut-off")
    ax.set_xscale("log")
    ax.set_title(f"{fname} failure")
    ax.set_xlabel("L2 distance to the COAT")
    sep[fname] = {
        "max_honest": float(d[~failed].max()),
        "min_failed": float(d[failed].min()),
        "radius": float(dd["radius"]),
        "failed_beyond_2r": float(np.mean(d[failed] > 2 * dd["radius"])),
        "honest_within_2r": float(np.mean(d[~failed] <= 2 * dd["radius"])),
    }
axes[0].set_ylabel("machines")
axes[0].legend(fontsize=8)
v.figure(
    fig,
    "distances.png",
    f"[J] Fig. 14 (right): distances to the COAT, m = {M_DIST}, alpha = 0.2, one data set "
    "of N = 2^18 (the COAT itself, at distance 0, is not drawn)",
)
v.table(
    [
        "failure",
        "COAT radius r",
        "largest honest distance",
        "smallest failed distance",
        "failed beyond 2r",
        "honest within 2r",
    ],
    [
        [
            f,
            f"{s['radius']:.3g}",
            f"{s['max_honest']:.3g}",
            f"{s['min_failed']:.3g}",
            f"{s['failed_beyond_2r']:.0%}",
            f"{s['honest_within_2r']:.0%}",
        ]
        for f, s in sep.items()
    ],
    caption=f"Separation of honest and failed machines, m = {M_DIST}, alpha = 0.2",
)

# %% [markdown]
# ## D.3: W1 as a function of rho (Fig. 15)
#
# Mean $W_1$ over replicates of DFMR($\rho$) (solid), the oracle (dashed) and the COAT (dash-dotted). What to look
# for: every DFMR($\rho$) is far below the single COAT estimate; under shape and scale failure the curves almost
# coincide (the failed machines are nearly always beyond $3r$, so only which honest machines are kept matters) and
# hover around the oracle, with $\rho=2$ (the Gamma default, `Gamma.default_rho`) close to it. (An exception we met
# at $m=256$, $\alpha=0.4$: a shape failure whose uniform draws land near the true shapes 1 and 8 of the two narrow
# components is within $2r$ even though its third shape is 6 instead of 30 — the L2 distance barely sees the wide,
# low-density $\Gamma(30,10)$ component, while $W_1$ in parameter space does.) Under weight failure the
# failed distances overlap the honest ones and $W_1$ rises again for large $\rho$ and large $\alpha$. With few
# replicates the curves are noisy: single replicates differ by 10–30% between neighbouring selected sets.

# %%
F = list(FAILURES)
ai = {a: i for i, a in enumerate(ALPHAS)}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
for f, ax in enumerate(axes):
    for a in (1, 2, 3, 4):
        col = f"C{a - 1}"
        ax.plot(RHOS, grid[M_RHO][:, f, a].mean(0), color=col, label=f"alpha = {ALPHAS[a]}")
        ax.axhline(oracle[M_RHO][:, a].mean(), color=col, ls="--", lw=1)
        ax.axhline(coat[M_RHO][:, f, a].mean(), color=col, ls="-.", lw=0.8)
    ax.set_title(f"{F[f]} failure")
    ax.set_xlabel("rho")
    ax.set_yscale("log")
axes[0].set_ylabel(f"mean W1 to the truth (R = {R})")
axes[0].legend(fontsize=8)
v.figure(
    fig,
    "rho.png",
    f"[J] Fig. 15 (top): W1 of DFMR(rho) (solid) vs oracle (dashed) and COAT (dash-dotted), "
    f"m = {M_RHO}, N = 2^18, mean over {R} replicates",
)

i1, i2 = 0, 20  # rho = 1 and rho = 2 in RHOS
rows, summary = [], {}
for f, fname in enumerate(F):
    for a in (1, 2, 3, 4):
        o = oracle[M_RHO][:, a].mean()
        vals = {
            "oracle": o,
            "DFMR(1)": grid[M_RHO][:, f, a, i1].mean(),
            "DFMR(2)": grid[M_RHO][:, f, a, i2].mean(),
            "best fixed rho": grid[M_RHO][:, f, a].mean(0).min(),
            "COAT": coat[M_RHO][:, f, a].mean(),
            "vanilla": vanilla[M_RHO][:, f, a].mean(),
        }
        summary[f"{fname} {ALPHAS[a]}"] = {k: float(x) for k, x in vals.items()}
        rows.append(
            [fname, ALPHAS[a]]
            + [f"{x:.4f}" for x in vals.values()]
            + [f"{RHOS[np.argmin(grid[M_RHO][:, f, a].mean(0))]:.2f}"]
        )
v.table(
    ["failure", "alpha", "oracle", "DFMR(1)", "DFMR(2)", "best fixed rho", "COAT", "vanilla", "argmin rho"],
    rows,
    caption=f"Mean W1 to the truth, m = {M_RHO}, R = {R}",
)
pooled = {
    fname: {
        "DFMR(2)": float(grid[M_RHO][:, f, 1:, i2].mean() / oracle[M_RHO][:, 1:].mean()),
        "DFMR(1)": float(grid[M_RHO][:, f, 1:, i1].mean() / oracle[M_RHO][:, 1:].mean()),
    }
    for f, fname in enumerate(F)
}
v.text(
    "Pooled over alpha = 0.1..0.4, the mean W1 of DFMR(2) is "
    + ", ".join(
        f"{p['DFMR(2)']:.2f}x (DFMR(1): {p['DFMR(1)']:.2f}x) the oracle's under {k} failure" for k, p in pooled.items()
    )
    + f" (m = {M_RHO}, R = {R}). [J] §D.3 reports DFMR(2) on par with the oracle and DFMR(1) close."
)

# %% [markdown]
# ### The estimators as $m$ varies (cf. [J] Fig. 16, $\alpha=0.2$)
#
# Mean $W_1$ of the oracle and ratios to it, $\alpha=0.2$, by $m$ ($n=N/m$ falls as $m$ grows). The oracle itself gets
# worse with $m$: the local pMLE at small $n$ is biased (the shape of $\Gamma(30,10)$ is estimated from a few hundred
# points) and averaging many local estimates does not remove a bias. Then the worst ratio DFMR(2)/oracle over all
# $\alpha$ per failure type.

# %%
a2 = ai[0.2]
rows = []
for m in MS:
    o = oracle[m][:, a2].mean()
    rows.append(
        [m, N // m, f"{o:.4f}"]
        + [f"{grid[m][:, f, a2, i2].mean() / o:.2f}" for f in range(3)]
        + [
            f"{grid[m][:, 0, a2, i1].mean() / o:.2f}",
            f"{coat[m][:, 0, a2].mean() / o:.1f}",
            f"{vanilla[m][:, 0, a2].mean() / o:.1f}",
            f"{vanilla[m][:, 2, a2].mean() / o:.2f}",
        ]
    )
v.table(
    [
        "m",
        "n",
        "oracle W1",
        "DFMR(2) shape",
        "DFMR(2) scale",
        "DFMR(2) weight",
        "DFMR(1) shape",
        "COAT shape",
        "vanilla shape",
        "vanilla weight",
    ],
    rows,
    caption=f"alpha = 0.2: mean W1 of the oracle, and of the others as multiples of it (R = {R})",
)
worst = {}
for f, fname in enumerate(F):
    ratios = {(m, ALPHAS[a]): grid[m][:, f, a, i2].mean() / oracle[m][:, a].mean() for m in MS for a in (1, 2, 3, 4)}
    key = max(ratios, key=ratios.get)
    worst[fname] = {"m": key[0], "alpha": key[1], "ratio": float(ratios[key])}
v.text(
    "Worst mean-W1 ratio DFMR(2)/oracle over m and alpha = 0.1..0.4: "
    + "; ".join(f"{k} failure {w['ratio']:.2f} (m = {w['m']}, alpha = {w['alpha']})" for k, w in worst.items())
    + ". A ratio above 1 has two causes: honest machines dropped beyond 2r (it matters at small m: with 8 "
    "machines one dropped honest machine is 1/7 of the data), or failed machines kept within 2r (under scale "
    "failure those whose three U(0, 10) perturbations all happen to be small; they are most numerous at large m and "
    "alpha, where the honest distances also spread more at small n, which is where the worst ratios above lie)."
)
v.data["dfmr2_worst_ratio"] = worst

# %% [markdown]
# ## D.3.1: oracle-tuned rho (Table 4)
#
# Ours (left) beside [J] Table 4 (right, in brackets), in percent; negative means DFMR($\rho^{(r)}$) beats the oracle.
# Choosing $\rho$ per replicate with the truth in hand is not an estimator; it shows that a well-chosen subset of the
# failure-free machines can be *better* than all of them, because the Gamma pMLE has heavy-tailed errors at small $n$
# ([J]'s conjecture) — visible already in the $\alpha=0$ row. Whenever some $\rho\le3$ keeps exactly the failure-free
# machines (every failed machine farther from the COAT than every honest one, and no honest one beyond $3r$), the
# tuned DFMR is at least as good as the oracle by construction; it can be worse only when an honest machine lies
# beyond $3r$ or failed and honest distances overlap (weight failure, large $\alpha$: [J]'s only positive cell). In
# [J] the gain peaks at $m=32$ and fades to 1–4% by $m=128$–256; in ours it stays large at large $m$ (the full run:
# −3% to −25% per cell at $m=128$ and 256, with Monte Carlo standard errors of 4–7 points), in line with the oracle's
# growing $W_1$ above: trimming the worst honest fits helps more when they are poor. For $m=8$, $\alpha=0.1$ no
# machine fails ($\lfloor0.8\rfloor=0$), so that cell repeats the $\alpha=0$ row, as in [J].

# %%
PAPER = {  # [J] Table 4 ([J] Figs. 2-6), columns m = 8..256
    ("any", 0.0): [-13.48, -15.99, -17.63, -9.85, -3.98, -1.49],
    ("shape", 0.1): [-13.48, -14.47, -16.83, -9.36, -3.96, -1.50],
    ("shape", 0.2): [-11.16, -12.83, -15.18, -8.95, -3.81, -1.34],
    ("shape", 0.3): [-8.22, -12.02, -12.25, -7.44, -3.34, -1.21],
    ("shape", 0.4): [0.00, -6.15, -9.08, -5.25, -2.37, -0.89],
    ("scale", 0.1): [-13.48, -14.47, -16.83, -9.36, -3.93, -1.45],
    ("scale", 0.2): [-11.16, -12.83, -15.16, -8.95, -3.78, -1.21],
    ("scale", 0.3): [-8.22, -12.02, -12.25, -7.44, -3.25, -0.99],
    ("scale", 0.4): [0.00, -6.15, -9.05, -5.21, -2.10, -0.13],
    ("weight", 0.1): [-13.48, -13.99, -17.14, -8.99, -3.82, -1.47],
    ("weight", 0.2): [-11.14, -12.42, -14.58, -9.04, -3.91, -0.95],
    ("weight", 0.3): [-8.10, -11.18, -11.98, -7.08, -3.50, -0.77],
    ("weight", 0.4): [1.13, -5.52, -7.59, -5.70, -1.43, -0.41],
}
PAPER_M = [8, 16, 32, 64, 128, 256]


def table4_cell(m, f, a):
    """Relative difference of mean W1 ([J] §D.3.1) and its Monte Carlo standard error, treating the oracle mean
    as fixed."""
    tuned = grid[m][:, f, a].min(axis=1)  # W1 of DFMR(rho^(r)) per replicate
    o = oracle[m][:, a]
    diff = tuned - o
    se = diff.std(ddof=1) / math.sqrt(len(o)) / o.mean() if len(o) > 1 else float("nan")
    return float(diff.mean() / o.mean()), float(se)


t4 = {"m": MS, "rows": {}, "se": {}, "paper": {}}
rows = []
for fname, alpha in PAPER:
    f = 0 if fname == "any" else F.index(fname)
    label = f"{fname} {alpha}"
    cells = [table4_cell(m, f, ai[alpha]) for m in MS]
    t4["rows"][label] = [100 * c[0] for c in cells]
    t4["se"][label] = [100 * c[1] for c in cells]
    t4["paper"][label] = [PAPER[fname, alpha][PAPER_M.index(m)] for m in MS]
    rows.append([fname, alpha] + [f"{100 * c:+.2f}% ({p:+.2f}%)" for (c, _), p in zip(cells, t4["paper"][label])])
v.table(
    ["failure", "alpha"] + [f"m = {m}" for m in MS],
    rows,
    caption=f"Table 4: (mean W1 of DFMR(rho^(r)) - mean W1 of oracle) / mean W1 of oracle; ours, R = {R} "
    "(paper, R = 300)",
)
v.data["table4"] = t4

# %% [markdown]
# ## Cost
#
# The local penalised EM dominates: per machine it takes the time below at $n=N/m$ (started at the truth, it converges
# in a few iterations). Reusing the fits across the 3 failure types and 4 rates, and one MR per distinct selected set
# over the 41 values of $\rho$, keeps a replicate at all six $m$ to well under a minute.

# %%
v.table(
    ["m", "n = N/m", "seconds per local EM fit", "distinct DFMR sets over the rho grid (mean)"],
    [[m, N // m, f"{fit_sec[m]:.3f}", f"{distinct[m]:.1f}"] for m in MS],
    caption=f"Timings ({R} replicates in {seconds:.0f} s with {WORKERS} process(es))",
)
v.text(
    f"Largest |W1(our cached DFMR(2)) - W1(ma.aggregate('dfmr', rho=2))| over the checked cases: {lib_gap:.2e} "
    "(MR started at the COAT alone vs the library's extra restarts). "
    + (f"Warnings during the run: {'; '.join(warn_texts)}." if warn_texts else "No warnings were raised.")
)

# %% [markdown]
# ## Deviations from [J] App. D
#
# * $R$ replicates instead of 300 (2 at quick scale, 32 at full scale); the Monte Carlo standard errors of the
#   Table 4 cells are in `report.json` (`table4.se`: about 6 percentage points at $R=6$, so about 3 at $R=32$).
# * Table 4 at large $m$: our oracle-tuned DFMR gains far more over the oracle at $m=128$, 256 than [J] reports
#   (−1% to −4%). Our oracle's $W_1$ grows with $m$ (local bias at small $n$), which leaves more to gain by trimming
#   honest fits; whether [J]'s local fits differ (its penalty is printed as "$r\log r$", its $a_n$ not at all) we
#   cannot tell.
# * DFMR(2) is not always $\approx$ oracle here: at $m=8$ it is 10–25% worse (dropping one of 8 machines costs data),
#   and under scale failure at large $m$ and $\alpha\ge0.3$ it keeps some failed machines (see the worst ratios above).
# * The $\rho$ grid stops at 3.0 ($t\le40$, [J] §D.3.1); MR for the $\rho$ grid starts from the COAT only
#   (the gap to the library's DFMR is printed above).
# * The Gamma penalty is $a_n(r-\log r)$ with $a_n=n^{-1/2}$ (docs/em.md; [J] prints "$r\log r$" and no $a_n$).

# %%
v.data.update(
    {
        "N": N,
        "m": MS,
        "R": R,
        "rhos": RHOS,
        "m_rho": M_RHO,
        "m_dist": M_DIST,
        "alphas": ALPHAS,
        "fig15_mean_w1": summary,
        "fig15_pooled_ratio": pooled,
        "separation": sep,
        "fit_seconds_per_machine": fit_sec,
        "library_gap": lib_gap,
        "warnings": warn_texts,
        "run_seconds": seconds,
        "w1_by_m": {
            str(m): {
                "oracle": oracle[m].mean(0),
                "dfmr2": grid[m][:, :, :, i2].mean(0),
                "dfmr1": grid[m][:, :, :, i1].mean(0),
                "coat": coat[m].mean(0),
                "vanilla": vanilla[m].mean(0),
            }
            for m in MS
        },
    }
)
v.write()
