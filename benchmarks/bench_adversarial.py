"""The worst case over attacks of every rule at every alpha (mixagg.harness.worst_case), as a table and a heatmap.

Each cell is the largest, over the attacks of mixagg.attacks.ATTACKS that apply to the family, of the mean over
replicates (new data each) of the ratio of the rule's W1 distance to the truth to the oracle's (the oracle drops
exactly the failed machines) on the same corrupted set;
the omniscient attacks that take a rule are tuned to each rule they attack. Besides mixagg.harness.ALPHAS, the
grid has alpha = 1/m, one failed machine. Seeded: the figures do not change
from run to run on one machine. `--quick` runs 20 machines of 1,000 observations and no d = 10 setting.
Run: python benchmarks/bench_adversarial.py [--quick] [--replicates R]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_section  # noqa: E402

from mixagg.harness import ALPHAS, standard_settings, worst_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 machines of 1,000 observations, no d = 10")
    parser.add_argument("--replicates", type=int, default=3, help="independent replicates per cell (default 3)")
    args = parser.parse_args()
    settings = standard_settings(quick=args.quick)
    start = time.perf_counter()
    m = settings[0].n_machines
    alphas = (ALPHAS[0], 1 / m, *ALPHAS[1:])
    result = worst_case(settings, alphas=alphas, n_replicates=args.replicates, rng=0, progress=True)
    elapsed = time.perf_counter() - start
    figure = Path(__file__).with_name("adversarial_heatmap.png")
    result.heatmap(figure)
    records = Path(__file__).with_name("adversarial_records.csv")
    result.frame().to_csv(records, index=False, float_format="%.6g")
    size = f"{settings[0].n_machines} machines of {settings[0].n_samples} observations"
    body = (
        f"## `bench_adversarial.py`: the worst case over attacks ({size}{', --quick' if args.quick else ''})\n\n"
        f"{machine()}; {elapsed / 60:.1f} min. Per rule and alpha, the worst over the attacks of the mean W1 / "
        f"oracle over {args.replicates} replicates, with the attack that reached it; alpha = {1 / m:g} is one "
        f"failed machine of {m}. DFMR(default) is `aggregate`'s "
        f"default (the family's `default_rho`: 1.3, and 2 for Gamma). Heatmap: `benchmarks/{figure.name}`; every "
        f"record (rule, alpha, attack, replicate, ratio, rates): `benchmarks/{records.name}`.\n\n"
        + result.to_markdown()
    )
    write_section("bench_adversarial", body)
    print(body)


if __name__ == "__main__":
    main()
