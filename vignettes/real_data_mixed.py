# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Real mixed-type data: the RAND Health Insurance Experiment under Byzantine failures
#
# Survey and health records mix continuous measurements, counts, yes/no answers and categories. This vignette fits
# one mixture to all of them at once, spread over machines, with some machines Byzantine.
#
# **Data.** The 20,190 person-years of the RAND Health Insurance Experiment (`statsmodels.datasets.randhie`, which
# installs offline with statsmodels). The columns, as a pandas DataFrame:
#
# * `visits`: outpatient doctor visits in the year (a count: Poisson);
# * `disea`: the number of chronic diseases (continuous: a Gaussian block);
# * `limitation`: any physical limitation (yes/no: Bernoulli);
# * `health`: self-rated health, excellent, good, fair or poor (a category).
#
# `fit_mixture(df, "auto", K)` maps the columns to these families by type (`docs/families.md`, "DataFrames"). The
# family is built once from the whole frame, so every machine codes the categories alike. The plan variables of the
# data set (coinsurance rate, deductible, incentive payment) are left out: they are set by the experiment's design
# and take a few values each, which a mixture of continuous components would fit by degenerate components.
#
# **Protocol.** 20% of the rows are held out; the rest is split at random over m = 20 machines (about 800 rows
# each). Each machine fits a K = 2 mixture by penalised EM (Chen–Tan on the Gaussian block, 5 starts). 20% of the
# machines are Byzantine. With `block_failure` every block of their estimate is corrupted by its family's gross
# failure: the Gaussian means by N(0, 100²), the visit rates by +U(0, 10), the probabilities redrawn. With
# `weight_failure` the mixing weights are redrawn. The server aggregates with DFMR at the default rho = 1.3, with
# DFMR(auto) (rho from the predicted distance law, `docs/suggest_rho.md`), with the oracle that knows the failed
# machines, and with vanilla pooling. There is no ground truth. Each aggregate is compared with the **pooled
# fit**, the MLE on all the honest machines' data: by W1 between mixing distributions (the ground cost adds the
# blocks' costs), and by the log-likelihood per record on the held-out 20%.
#
# Run: `python vignettes/real_data_mixed.py [--quick | --full]`. `--quick`: one random split, alpha = 0.2;
# `--full`: 10 random splits, alpha = 0.1, 0.2, 0.3, 0.4, medians (IQR) over the splits.

# %%
import argparse
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _vignette import Vignette, median_iqr
from statsmodels.datasets import randhie

import mixagg as ma

v = Vignette("real_data_mixed", "Real mixed-type data: the RAND Health Insurance Experiment")
_extra = argparse.ArgumentParser(add_help=False)
_extra.add_argument("--seed", type=int, default=0)  # private: to check the claims on other seeds
SEED = _extra.parse_known_args()[0].seed
v.data["seed"] = SEED
M, K, HOLDOUT = 20, 2, 0.2
N_INIT = 5  # k-means++ starts per local fit
n_splits = v.pick(1, 10)
alphas = v.pick([0.2], [0.1, 0.2, 0.3, 0.4])
QUICK_ALPHA = 0.2
FAILURES = ("block", "weight")
METHODS = (
    ("oracle", "oracle", {}),
    ("DFMR", "dfmr", {}),
    ("DFMR(auto)", "dfmr", {"rho": "auto"}),
    ("vanilla", "vanilla", {}),
)

raw = randhie.load_pandas().data
health = np.select([raw.hlthp == 1, raw.hlthf == 1, raw.hlthg == 1], ["poor", "fair", "good"], "excellent")
frame = pd.DataFrame(
    {
        "visits": raw.mdvis.astype(int),
        "disea": raw.disea,
        "limitation": raw.physlm > 0,
        "health": pd.Categorical(health, categories=["excellent", "good", "fair", "poor"]),
    }
)
family = ma.families.frames.family_for_frame(frame)
records_all = family.encode_frame(frame)
assert records_all.shape == (20_190, 4)
v.text(f"The family read off the frame: `{family!r}`.")

# %%
caught: list[str] = []


def aggregate(sent, method, **options):
    """``ma.aggregate``, recording (not hiding) any warning."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = ma.aggregate(sent, method, **options)
    caught.extend(f"{method}: {x.category.__name__}: {x.message}" for x in w)
    return res


def fit(x, seed, n_init=N_INIT):
    return ma.fit_mixture(x, family, K, n_init=n_init, rng=seed, progress=False)


records = []
keep = {}
for r in v.bar(range(n_splits), desc="splits"):
    seeds = np.random.SeedSequence([SEED, r]).generate_state(3)
    perm = np.random.default_rng(int(seeds[0])).permutation(records_all.shape[0])
    n_test = int(HOLDOUT * perm.size)
    test = records_all[perm[:n_test]]
    shards = np.array_split(records_all[perm[n_test:]], M)
    local = [fit(s, np.random.SeedSequence([int(seeds[1]), i])) for i, s in enumerate(v.bar(shards, leave=False))]
    for a_index, alpha in enumerate(alphas):
        attack_seed = np.random.SeedSequence([int(seeds[2]), a_index])
        pooled = None
        for failure in FAILURES:
            sent, failed = getattr(ma.attacks, f"{failure}_failure")(local, alpha, rng=attack_seed)
            if pooled is None:  # the same machines fail under both failures: one pooled honest fit
                pooled = fit(np.concatenate([s for s, f in zip(shards, failed) if not f]), int(seeds[1]), n_init=5)
                ll_pooled = pooled.logpdf(test)
            for name, method, options in METHODS:
                options = {"failure_free": ~failed} if method == "oracle" else options
                res = aggregate(sent, method, **options)
                diff = ll_pooled - res.mixture.logpdf(test)
                records.append(
                    {
                        "split": r,
                        "alpha": alpha,
                        "failure": failure,
                        "estimator": name,
                        "w1": ma.metrics.w1(res.mixture, pooled),
                        "loss": float(diff.mean()),
                        "loss_se": float(diff.std(ddof=1) / np.sqrt(diff.size)),
                        "kept": int(res.selected.size),
                        "failed_kept": int(failed[res.selected].sum()),
                        "honest_dropped": int((~failed).sum() - (~failed[res.selected]).sum()),
                    }
                )
                if r == 0 and alpha == QUICK_ALPHA:
                    keep[(failure, name)] = res.mixture
            if r == 0 and alpha == QUICK_ALPHA:
                keep["pooled"] = pooled

# %% [markdown]
# ## Results
#
# W1 to the pooled honest fit and the loss of held-out log-likelihood per record against it (positive: worse than
# the pooled fit). The oracle aggregates exactly the honest machines, so it shows the price of splitting the data
# with no failure at all.

# %%
HEADER = ["failure", "estimator", "W1 to the pooled fit", "held-out loss / record", "kept", "failed kept"]
table_alpha = QUICK_ALPHA
rows = []
for failure in FAILURES:
    for name, *_ in METHODS:
        sel = [q for q in records if q["failure"] == failure and q["estimator"] == name and q["alpha"] == table_alpha]
        if len(sel) == 1:
            q = sel[0]
            rows.append(
                [failure, name, f"{q['w1']:.3g}", f"{q['loss']:.4f} ± {q['loss_se']:.4f}", q["kept"], q["failed_kept"]]
            )
        else:
            rows.append(
                [
                    failure,
                    name,
                    median_iqr([q["w1"] for q in sel], 3),
                    median_iqr([q["loss"] for q in sel], 4),
                    f"{np.median([q['kept'] for q in sel]):.0f}",
                    sum(q["failed_kept"] for q in sel),
                ]
            )
v.table(HEADER, rows, caption=f"alpha = {table_alpha}, m = {M}, K = {K}, {n_splits} split(s)")

if v.full:
    alpha_rows = []
    for alpha in alphas:
        for failure in FAILURES:
            by = {
                name: [
                    q["w1"]
                    for q in records
                    if q["alpha"] == alpha and q["failure"] == failure and q["estimator"] == name
                ]
                for name, *_ in METHODS
            }
            ratios = {name: np.median(np.array(by[name]) / np.array(by["oracle"])) for name in ("DFMR", "DFMR(auto)")}
            alpha_rows.append(
                [
                    alpha,
                    failure,
                    median_iqr(by["oracle"], 3),
                    f"{median_iqr(by['DFMR'], 3)}; {ratios['DFMR']:.2f}",
                    f"{median_iqr(by['DFMR(auto)'], 3)}; {ratios['DFMR(auto)']:.2f}",
                    median_iqr(by["vanilla"], 3),
                ]
            )
    v.table(
        ["alpha", "failure", "oracle W1", "DFMR W1; / oracle", "DFMR(auto) W1; / oracle", "vanilla W1"],
        alpha_rows,
        caption="W1 to the pooled fit, median (IQR) over the splits; the ratio is the median of the per-split ratios",
    )

# %% [markdown]
# In the full run (10 splits; the table of the top-level README), DFMR keeps no machine with a block failure at any
# alpha, and DFMR(auto) is within 1% of the oracle there (median per-split ratio 1.00 to 1.01). DFMR at the paper's
# rho = 1.3 drops about 3 of the 16 honest machines. On this misspecified model (real data are no 2-component
# mixture), one honest machine more or less moves the reduction, and W1 doubles. The held-out log-likelihood tells
# the aggregates apart by less than 0.002 per record, against 0.35 for vanilla pooling. Redrawn weights stay close
# to the honest estimates in L2, so both DFMR variants keep some of those machines.
#
# The components themselves: the pooled fit against DFMR's aggregate under the block failure (visits per year,
# share rating their health fair or poor, and the weight of each component).

# %%
pooled = keep["pooled"]
dfmr = keep[("block", "DFMR")]
vanilla = keep[("block", "vanilla")]
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (label, g) in zip(axes, (("DFMR", dfmr), ("vanilla", vanilla))):
    for name, mix, marker in (("pooled fit", pooled, "o"), (label, g, "x")):
        poor = mix.params["categorical.probs"][:, 0, 2:4].sum(axis=1)
        ax.scatter(mix.params["visits.rate"], poor, s=600 * mix.weights, marker=marker, label=name)
    ax.set_xlabel("visits per year (Poisson rate)")
    ax.set_ylabel("P(health fair or poor)")
    ax.set_title(f"{label} under the block failure, alpha = {QUICK_ALPHA}")
    ax.legend()
fig.tight_layout()
v.figure(
    fig,
    "components.png",
    "Components of the pooled fit (circles) and of the aggregate (crosses), area proportional to the weight",
)

# %%
v.data["claims"] = {
    failure: {
        name: {
            key: q[key]
            for key in ("w1", "loss", "loss_se", "kept", "failed_kept", "honest_dropped")
            for q in [
                next(
                    q
                    for q in records
                    if q["failure"] == failure
                    and q["estimator"] == name
                    and q["alpha"] == QUICK_ALPHA
                    and q["split"] == 0
                )
            ]
        }
        for name, *_ in METHODS
    }
    for failure in FAILURES
}
v.data["records"] = records
v.data["warnings"] = sorted(set(caught))
v.write()
