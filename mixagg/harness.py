"""The worst case over attacks: every rule against every attack at every failure rate (``docs/attacks.md``).

Byzantine tolerance means tolerance against attackers who know the rule. :func:`worst_case` fits the
local estimates of each setting (afresh in each replicate), corrupts them with every attack of
:data:`mixagg.attacks.ATTACKS` that applies to the family (the omniscient ones tuned to each rule they
attack), aggregates with every rule, and compares each aggregate's W1 distance to the truth with the
oracle's, which drops exactly the failed machines. :meth:`WorstCase.table` reports, per setting, rule and
:math:`\\alpha`, the worst over attacks of the mean ratio over replicates and the attack that reached it, the
share of honest machines the rule excluded and the share of failed machines it kept;
:meth:`WorstCase.heatmap` draws it. The information-theoretic floor of the error is of order
:math:`\\alpha n^{-1/2}+N^{-1/2}` ([J] §2; Yin et al. 2018), so the ratio to the oracle
(:math:`\\propto N^{-1/2}`) of even the best rule grows like :math:`\\alpha\\sqrt m`.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._progress import progress_bar
from ._validation import as_generator, check_int
from .mixture import MixingDistribution, as_mixture

__all__ = ["ALPHAS", "RULES", "VARIANTS", "Record", "Setting", "WorstCase", "standard_settings", "worst_case"]

#: The failure rates of the harness (fewer than half of the machines fail).
ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.45)

#: The rules compared: (label, registered name, options).
RULES: tuple[tuple[str, str, Mapping[str, Any]], ...] = (
    ("DFMR(default)", "dfmr", {}),
    ("DFMR(auto)", "dfmr", {"rho": "auto"}),
    ("SFMR", "sfmr", {}),
    ("CRED", "cred", {}),
    ("ARED", "ared", {}),
    ("COAT", "coat", {}),
    ("TRIM", "trim", {}),
    ("vanilla", "vanilla", {}),
)


#: The attacks' variants the harness runs: (label, options); ``True`` marks those tuned to each rule.
VARIANTS: Mapping[str, tuple[tuple[str, Mapping[str, Any], bool], ...]] = {
    "alie": (("alie", {}, False), ("alie, searched z", {"z": "search"}, True)),
    "inner_product_manipulation": (("ipm", {}, False), ("ipm, searched epsilon", {"epsilon": "search"}, True)),
    "threshold_hugging": (("threshold hugging", {}, True),),
    "tiny_component": (
        ("tiny broad component", {"mode": "broad"}, False),
        ("tiny far component", {"mode": "far"}, False),
    ),
    "sample_size_claims": (
        ("size inflation", {"claim": 10**6}, False),
        ("size deflation", {"claim": 1}, False),
    ),
}


@dataclass(frozen=True)
class Setting:
    """One experiment: a truth, the number of machines and the local sample size."""

    name: str
    truth: MixingDistribution
    n_machines: int = 50
    n_samples: int = 3000

    def __post_init__(self) -> None:
        object.__setattr__(self, "truth", as_mixture(self.truth, "truth"))
        check_int(self.n_machines, "n_machines", minimum=3)
        check_int(self.n_samples, "n_samples", minimum=1)


def standard_settings(*, quick: bool = False) -> list[Setting]:
    """The harness's settings: Gaussian :math:`K=3,d=2` (also with a 2% component), Gaussian :math:`K=5,d=10`
    from MixSim, Poisson and Gamma mixtures; 50 machines of 3,000 observations (``quick``: 20 of 1,000, and no
    :math:`d=10` setting)."""
    from .r_bridge import mixsim

    m, n = (20, 1000) if quick else (50, 3000)
    gauss = MixingDistribution(
        "gaussian",
        [0.3, 0.3, 0.4],
        {"mean": [[0, 0], [4, 0], [0, 4]], "cov": [np.eye(2), [[2, 0.5], [0.5, 1]], [[0.5, -0.2], [-0.2, 1.5]]]},
    )
    small = MixingDistribution(
        "gaussian",
        [0.49, 0.49, 0.02],
        {"mean": [[0, 0], [5, 0], [0, 6]], "cov": [np.eye(2), [[1.5, 0.3], [0.3, 1]], 3 * np.eye(2)]},
    )
    poisson = MixingDistribution("poisson", [0.3, 0.4, 0.3], {"rate": [2.0, 8.0, 20.0]})
    gamma = MixingDistribution("gamma", [0.4, 0.6], {"shape": [2.0, 9.0], "scale": [1.0, 1.5]})
    out = [
        Setting("gaussian K=3 d=2", gauss, m, n),
        Setting("gaussian K=3 d=2, a 2% component", small, m, n),
        Setting("poisson K=3", poisson, m, n),
        Setting("gamma K=2", gamma, m, n),
    ]
    if not quick:
        out.insert(
            2,
            Setting(
                "gaussian K=5 d=10 (MixSim)", mixsim(5, 10, bar_omega=0.01, seed=1, backend="python").mixture, m, n
            ),
        )
    return out


@dataclass(frozen=True)
class Record:
    """One rule on one corrupted set: W1 to the truth as a ratio to the oracle's, and what the rule kept."""

    setting: str
    rule: str
    alpha: float
    attack: str
    ratio: float
    honest_excluded: float
    failed_kept: float
    error: str | None = None
    replicate: int = 0


def _rates(result: Any, failed: np.ndarray) -> tuple[float, float]:
    kept = result.kept
    honest = ~failed
    excluded = float(np.mean(~kept[honest])) if honest.any() else 0.0
    return excluded, float(np.mean(kept[failed])) if failed.any() else 0.0


def _mean_known(values: Sequence[float]) -> float:
    """The mean of the values that are not ``nan`` (those of a rule that raised); ``nan`` if there are none."""
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


@dataclass(frozen=True)
class WorstCase:
    """Outcome of :func:`worst_case`: one :class:`Record` per setting, rule, :math:`\\alpha` and attack."""

    records: tuple[Record, ...]
    settings: tuple[str, ...]
    rules: tuple[str, ...]
    alphas: tuple[float, ...]
    notes: tuple[str, ...] = field(default=())

    def frame(self) -> Any:
        """Every record as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.records])

    def table(self) -> Any:
        """Per setting, rule and :math:`\\alpha`: the worst over attacks of the mean ratio over replicates.

        Columns ``setting, rule, alpha, worst_ratio, worst_attack`` (the attack whose mean ratio over the
        replicates is largest, and that mean), ``honest_excluded`` (the mean over attacks and replicates of
        the share of honest machines excluded), ``failed_kept`` (the mean share of failed machines the worst
        attack got kept) and ``n_replicates``. A rule that raised counts as an infinite ratio.
        """
        import pandas as pd

        rows = []
        for s in self.settings:
            for rule in self.rules:
                for a in self.alphas:
                    cell = [r for r in self.records if r.setting == s and r.rule == rule and r.alpha == a]
                    if not cell:
                        continue
                    by_attack: dict[str, list[Record]] = {}
                    for r in cell:
                        by_attack.setdefault(r.attack, []).append(r)
                    means = {
                        name: math.inf if any(r.error for r in runs) else float(np.mean([r.ratio for r in runs]))
                        for name, runs in by_attack.items()
                    }
                    attack = max(means, key=means.__getitem__)
                    rows.append(
                        {
                            "setting": s,
                            "rule": rule,
                            "alpha": a,
                            "worst_ratio": means[attack],
                            "worst_attack": attack,
                            "honest_excluded": _mean_known([r.honest_excluded for r in cell]),
                            "failed_kept": _mean_known([r.failed_kept for r in by_attack[attack]]),
                            "n_replicates": len({r.replicate for r in cell}),
                        }
                    )
        return pd.DataFrame(rows)

    def to_markdown(self) -> str:
        """One table per setting: rules in rows, :math:`\\alpha` in columns, the worst ratio and its attack."""
        table = self.table()
        out = []
        for s in self.settings:
            part = table[table.setting == s]
            if part.empty:
                continue
            alphas = [a for a in self.alphas if a in set(part.alpha)]
            out.append(f"**{s}**: worst W1 / oracle over attacks (the attack that reached it)\n")
            out.append("| rule | " + " | ".join(f"alpha = {a:g}" for a in alphas) + " |")
            out.append("| --- |" + " --- |" * len(alphas))
            for rule in self.rules:
                cells = []
                for a in alphas:
                    row = part[(part.rule == rule) & (part.alpha == a)]
                    if row.empty:
                        cells.append("")
                    else:
                        r = row.iloc[0]
                        attack = "" if a == 0 else f" ({r.worst_attack})"
                        cells.append(f"{r.worst_ratio:.3g}{attack}")
                out.append(f"| {rule} | " + " | ".join(cells) + " |")
            out.append("")
        return "\n".join(out)

    def heatmap(self, path: str | Path, *, columns: int = 2) -> Path:
        """The worst ratios as a heatmap: one panel per setting (``columns`` panels a row), rules by
        :math:`\\alpha`, log colour scale, the ratio printed in each cell ("crash" where a rule raised)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        columns = check_int(columns, "columns", minimum=1)
        table = self.table()
        n = len(self.settings)
        ncols = min(n, columns)
        nrows = -(-n // ncols)
        width = 0.55 * len(self.alphas) + 1.2
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(width * ncols + 1.5, 0.32 * len(self.rules) * nrows + 1.2), squeeze=False
        )
        finite = table.worst_ratio[np.isfinite(table.worst_ratio)]
        norm = LogNorm(vmin=max(0.5, float(finite.min())), vmax=max(2.0, float(finite.max())))
        image = None
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_visible(False)
                continue
            s = self.settings[k]
            grid = np.full((len(self.rules), len(self.alphas)), np.nan)
            for _, r in table[table.setting == s].iterrows():
                grid[self.rules.index(r.rule), self.alphas.index(r.alpha)] = r.worst_ratio
            image = ax.imshow(np.where(np.isfinite(grid), grid, norm.vmax), norm=norm, cmap="magma_r", aspect="auto")
            for (i, j), v in np.ndenumerate(grid):
                if not np.isnan(v):
                    dark = np.isinf(v) or norm(v) > 0.6
                    text = "crash" if np.isinf(v) else (f"{v:.2g}" if v < 100 else f"{v:.0e}".replace("e+0", "e"))
                    ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
            ax.set_xticks(range(len(self.alphas)), [f"{a:g}" for a in self.alphas], fontsize=7)
            ax.set_yticks(range(len(self.rules)), self.rules if k % ncols == 0 else [], fontsize=8)
            ax.set_title(s, fontsize=8)
        fig.supxlabel("alpha (share of failed machines)", fontsize=9)
        fig.colorbar(image, ax=axes.ravel().tolist(), label="worst W1 / oracle over attacks")
        path = Path(path)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        return path


def _fit(truth: MixingDistribution, parts: Sequence[np.ndarray]) -> list[Any]:
    from .em import fit_mixture

    return [fit_mixture(x, truth.family, truth.n_components, init=truth, progress=False) for x in parts]


def _corrupted_sets(info: Any, local: list[Any], parts: list[np.ndarray], truth, alpha, seed, rules, rho_auto):
    """``(attack label, rule label or None, estimates, failed mask, sample sizes)`` for one attack's variants.

    Where a rule raised inside the search of a variant tuned to it, the estimates are the error's text.

    A variant tuned to the rule yields one set per filtered rule (TRIM and vanilla, which filter nothing,
    meet the variant tuned to DFMR).
    """
    if info.level == "data":
        poisoned, mask = info.function(parts, alpha, rng=seed)
        yield info.name, None, _fit(truth, poisoned), mask, None
        return
    for label, options, tuned in VARIANTS.get(info.name, ((info.name, {}, info.takes_rule),)):
        if not tuned:
            sent, mask = info.function(local, alpha, rng=seed, **options)
            sizes = [e.n_samples for e in sent] if info.name == "sample_size_claims" else None
            yield label, None, sent, mask, sizes
            continue
        for rule_label, name, rule_options in rules:
            target = {} if name in ("trim", "vanilla") else dict(rule_options)
            rule = "dfmr" if name in ("trim", "vanilla") else name
            if target.get("rho") == "auto":  # the attacker tunes to the rho that rule picks on the honest estimates
                target["rho"] = rho_auto
            try:
                sent, mask = info.function(local, alpha, rng=seed, rule=rule, rule_options=target, **options)
            except Exception as exc:  # the rule failed inside the attacker's search: a finding about the rule
                yield label, rule_label, f"{type(exc).__name__}: {exc}", None, None
                continue
            yield label, rule_label, sent, mask, None


def worst_case(
    settings: Sequence[Setting] | None = None,
    *,
    alphas: Sequence[float] = ALPHAS,
    attacks: Sequence[str] | None = None,
    rules: Sequence[tuple[str, str, Mapping[str, Any]]] = RULES,
    n_replicates: int = 1,
    rng: Any = 0,
    progress: bool | str = "auto",
) -> WorstCase:
    """Every rule against every attack at every :math:`\\alpha`, as ratios of W1 to the oracle's.

    Parameters
    ----------
    settings : sequence of Setting, optional
        Default :func:`standard_settings`.
    alphas : sequence of float in [0, 0.5)
        :math:`\\alpha=0` is run once, without an attack.
    attacks : sequence of str, optional
        Names in :data:`mixagg.attacks.ATTACKS` (default: all). An attack that does not apply to a
        setting's family is skipped, and said so in ``notes``.
    rules : sequence of (label, name, options)
        Default :data:`RULES`.
    n_replicates : int, default 1
        Independent repetitions of each setting (new data, local fits and attack draws); the table reports
        the worst over attacks of the mean ratio over them.
    rng : seed
        Everything (data, fits, attacks) is determined by it. The draws of one replicate of a setting, and
        of one attack at one :math:`\\alpha` in it, are keyed by their positions, the value of
        :math:`\\alpha` and the attack's name: adding an :math:`\\alpha`, an attack or a replicate to the grid
        leaves the other cells unchanged.
    progress : {"auto", True, False}

    Returns
    -------
    WorstCase

    Notes
    -----
    The omniscient attacks that take a rule (ALIE and inner-product manipulation with searches,
    threshold hugging) are tuned to each filtered rule they attack; against ``rho="auto"`` the attacker
    tunes to the rho that rule chooses on the honest estimates. Sample-size claims are passed to every
    rule as ``sample_sizes``, as the engine and the command line do. A rule that raises is recorded with
    an infinite ratio and its error. See ``docs/attacks.md``, "The worst-case harness".
    """
    from . import attacks as attack_module
    from .metrics import w1
    from .robust import aggregate

    settings = list(standard_settings() if settings is None else settings)
    names = list(attack_module.ATTACKS) if attacks is None else list(attacks)
    unknown = sorted(set(names) - set(attack_module.ATTACKS))
    if unknown:
        raise ValueError(f"attacks: unknown names {unknown}; see mixagg.attacks.ATTACKS")
    alphas = tuple(float(a) for a in alphas)
    if any(not 0 <= a < 0.5 for a in alphas):
        raise ValueError(f"alphas must lie in [0, 0.5), got {alphas}")
    rules = tuple((str(label), name, dict(options)) for label, name, options in rules)
    n_replicates = check_int(n_replicates, "n_replicates", minimum=1)
    entropy = np.random.SeedSequence(rng if isinstance(rng, int) else as_generator(rng).integers(2**63)).entropy
    records: list[Record] = []
    notes: list[str] = []
    n_steps = len(settings) * n_replicates * sum(1 if a == 0 else len(names) for a in alphas)
    runs = [(i, rep) for i in range(len(settings)) for rep in range(n_replicates)]
    with progress_bar(n_steps, desc="worst case", unit="set", progress=progress) as bar:
        for i, rep in runs:
            setting = settings[i]
            gen = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(i, rep)))
            truth = setting.truth
            parts = [truth.sample(setting.n_samples, gen) for _ in range(setting.n_machines)]
            local = _fit(truth, parts)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rho_auto = aggregate(local, "dfmr", rho="auto").rho
            for alpha in alphas:
                cases: list[tuple[str, str | None, list[Any], np.ndarray, Any]] = []
                if alpha == 0:
                    cases.append(("none", None, local, np.zeros(len(local), dtype=bool), None))
                    bar.update(1)
                else:
                    for name in names:
                        info = attack_module.ATTACKS[name]
                        key = (i, rep, round(alpha * 10**9), zlib.crc32(name.encode()))
                        seed = int(np.random.SeedSequence(entropy, spawn_key=key).generate_state(1)[0])
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                for label, only, sent, mask, sizes in _corrupted_sets(
                                    info, local, parts, truth, alpha, seed, rules, rho_auto
                                ):
                                    cases.append((label, only, sent, None if mask is None else np.asarray(mask), sizes))
                        except (ValueError, TypeError) as exc:
                            note = f"{setting.name}, alpha = {alpha:g}: {name} skipped ({exc})"
                            if note not in notes:
                                notes.append(note)
                        bar.update(1)
                for name, only, sent, mask, sizes in cases:
                    if isinstance(sent, str):
                        records.append(Record(setting.name, only, alpha, name, math.inf, math.nan, math.nan, sent, rep))
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        oracle = aggregate(sent, "oracle", failure_free=~mask, sample_sizes=sizes).mixture
                    floor = w1(oracle, truth)
                    for label, rule, options in rules:
                        if only is not None and only != label:
                            continue
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                res = aggregate(sent, rule, sample_sizes=sizes, **options)
                        except Exception as exc:  # a crash is a finding of the harness, recorded as such
                            error = f"{type(exc).__name__}: {exc}"
                            records.append(
                                Record(setting.name, label, alpha, name, math.inf, math.nan, math.nan, error, rep)
                            )
                            continue
                        excluded, kept = _rates(res, mask)
                        ratio = w1(res.mixture, truth) / floor
                        records.append(Record(setting.name, label, alpha, name, ratio, excluded, kept, None, rep))
    return WorstCase(
        tuple(records), tuple(s.name for s in settings), tuple(label for label, _, _ in rules), alphas, tuple(notes)
    )
