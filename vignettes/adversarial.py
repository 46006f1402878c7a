# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # The worst case over attackers who know the rule
#
# The papers' failures are gross, and every distance filter catches them. This vignette asks what an attacker who
# sees the honest estimates and knows the rule can do: `mixagg.harness.worst_case` runs the attacks of
# `mixagg.attacks` (ALIE, inner-product manipulation, threshold hugging, mimic, tiny components, ...; those that
# know the rule tuned to each rule) against DFMR with the papers' rho = 1.3, DFMR with rho = "auto", and SFMR
# (DFMR(auto) with the spectral stage, docs/aggregation.md, "The spectral stage"), and reports for each rule and
# failure rate alpha the worst W1 to the truth over the attacks, as a ratio to the oracle (vanilla mixture
# reduction of exactly the honest machines).
#
# Run: `python vignettes/adversarial.py [--quick | --full]`.
# `--quick`: Gaussian K = 3, d = 2, 20 machines of 1,000 observations, alpha in {0, 0.2, 0.3}, five attacks
# (measured 73 s on 2 cores, 2026-12-03);
# `--full`: the harness's standard settings at 20 machines of 1,000 (Gaussian, with a 2% component, Poisson, Gamma),
# every attack, alpha in {0, 0.1, 0.2, 0.3, 0.4, 0.45} (not timed; `benchmarks/bench_adversarial.py --quick`, which
# runs the same grid for all eight rules, took 13.8 min).

# %%
from _vignette import Vignette

from mixagg import harness

v = Vignette("adversarial", "The worst case over attackers who know the rule")
RULES = [
    ("DFMR(1.3)", "dfmr", {"rho": 1.3}),
    ("DFMR(auto)", "dfmr", {"rho": "auto"}),
    ("SFMR", "sfmr", {}),
]
settings = harness.standard_settings(quick=True)
if v.quick:
    settings = settings[:1]
alphas = v.pick(quick=(0.0, 0.2, 0.3), full=harness.ALPHAS)
attacks = v.pick(
    quick=["alie", "inner_product_manipulation", "threshold_hugging", "mimic", "tiny_component"],
    full=None,
)

# %% [markdown]
# ## The run
#
# Every cell is determined by the seed: the data, the local fits (EM started at the truth), the attacks.

# %%
wc = harness.worst_case(settings, alphas=alphas, attacks=attacks, rules=RULES, rng=0, progress=v.progress)
table = wc.table()
v.text(wc.to_markdown())
wc.heatmap(v.out / "heatmap.png")
v.text("![Worst W1 / oracle over the attacks](heatmap.png)\n\n*Worst W1 / oracle over the attacks.*")
v.data["figures"] = ["heatmap.png"]

# %% [markdown]
# ## Reading it
#
# Without failures (alpha = 0) the ratio measures what the filter costs when nothing is wrong: DFMR(1.3) drops
# honest machines whose distances the chi-squared law with few degrees of freedom spreads out, while rho = "auto"
# keeps 99% of them. SFMR's stage then changes nothing, so SFMR equals DFMR(auto). Under attack, colluders that
# lean together just inside the filter spread more than honest estimates along their lean; SFMR takes their weight.

# %%
worst = {(row.setting, row.rule, float(row.alpha)): float(row.worst_ratio) for row in table.itertuples(index=False)}
lines = []
for s in settings:
    for a in alphas:
        cells = ", ".join(f"{label} {worst[(s.name, label, float(a))]:.2f}" for label, _, _ in RULES)
        lines.append(f"* {s.name}, alpha = {a:g}: {cells}")
v.text("**Worst W1 / oracle over the attacks:**\n\n" + "\n".join(lines))
v.data.update(
    {
        "settings": [s.name for s in settings],
        "alphas": list(alphas),
        "rules": [label for label, _, _ in RULES],
        "worst": [{"setting": k[0], "rule": k[1], "alpha": k[2], "ratio": r} for k, r in sorted(worst.items())],
        "records": [
            {
                "setting": r.setting,
                "rule": r.rule,
                "alpha": r.alpha,
                "attack": r.attack,
                "ratio": r.ratio,
            }
            for r in wc.records
        ],
    }
)
v.write()
