# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Quickstart: Byzantine-tolerant split-and-conquer in 30 lines
#
# A MixSim Gaussian mixture (K = 5, d = 10, MaxOmega = 0.3, the setting of [J] §5.1), N samples split over m
# machines, local penalised EM on each machine, 20% of the machines sending mean-shifted estimates ([J] §5.1.1),
# and the server's estimators: vanilla mixture reduction (no filter), DFMR(rho = 1.3) and the oracle that knows
# which machines failed.
#
# Run: `python vignettes/quickstart.py [--quick | --full]`. `--quick`: m = 20, N = 40,000 (under 9 s in the test suite);
# `--full`: m = 100, N = 1,000,000 ([J] Fig. 2's m and n; measured 27 s on 2 cores, 2026-11-22).

# %%
import numpy as np
from _vignette import Vignette

import mixagg as ma

v = Vignette("quickstart", "Quickstart: the whole pipeline")
m, n = v.pick(quick=(20, 2000), full=(100, 10_000))

# %% the pipeline
truth = ma.mixsim(5, 10, max_omega=0.3, seed=1, backend="python").mixture  # ground truth (native MixSim)
rng = np.random.default_rng(3)  # data (the truth used seed 1, the attack 2)
shards = [truth.sample(n, rng) for _ in range(m)]  # one dataset per machine
fits = ma.engine.fit_partitions(  # local penalised EM, started at the truth
    shards, family="gaussian", n_components=5, fit_options={"init": truth}, rng=1, progress=v.progress
)
sent, failed = ma.attacks.mean_failure(fits.estimates, alpha=0.2, rng=2)  # 20% Byzantine machines
results = {
    "vanilla": ma.aggregate(sent, "vanilla"),
    "DFMR(1.3)": ma.aggregate(sent, "dfmr", rho=1.3),
    "oracle": ma.aggregate(sent, "oracle", failure_free=~failed),
}
test = truth.sample(5000, rng)
rows = []
for name, res in results.items():
    rows.append(
        [
            name,
            f"{ma.metrics.w1(res.mixture, truth):.4g}",
            f"{ma.metrics.ari(res.mixture, truth, test):.4f}",
            f"{res.selected.size}/{m}",
            int(failed[res.selected].sum()),
        ]
    )

# %% [markdown]
# DFMR keeps the machines within 1.3 times the COAT radius of the COAT estimate, which excludes every
# mean-shifted machine, and matches the oracle.

# %%
v.table(
    ["estimator", "W1 to the truth", "ARI (held-out)", "machines kept", "failed kept"],
    rows,
    caption=f"m = {m} machines, n = {n} each, 20% mean failures",
)
import matplotlib.pyplot as plt

dfmr = results["DFMR(1.3)"]
order = np.argsort(dfmr.distance_to_coat)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.scatter(np.arange(m), dfmr.distance_to_coat[order], c=np.where(failed[order], "C3", "C0"), s=18)
ax.axhline(dfmr.rho * dfmr.coat_radius, color="C2", lw=1, label="DFMR(1.3) cut-off")
ax.set_yscale("log")
ax.set_xlabel("machines, by distance to the COAT (red: failed)")
ax.set_ylabel("L2 distance to the COAT")
ax.legend()
v.figure(
    fig, "distances.png", f"Distances of the {m} local estimates to the COAT estimate; DFMR keeps those under the line"
)
v.data["w1"] = {name: ma.metrics.w1(res.mixture, truth) for name, res in results.items()}
v.data["failed_kept"] = {name: int(failed[res.selected].sum()) for name, res in results.items()}
v.write()
