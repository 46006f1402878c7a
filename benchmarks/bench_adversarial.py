"""The worst case over attacks of every rule at every alpha (mixagg.harness.worst_case), as a table and a heatmap.

Each cell is the largest ratio, over the attacks of mixagg.attacks.ATTACKS that apply to the family, of the rule's
W1 distance to the truth to the oracle's (the oracle drops exactly the failed machines) on the same corrupted set;
the omniscient attacks that take a rule are tuned to each rule they attack. Seeded: the figures do not change
from run to run on one machine. `--quick` runs 20 machines of 1,000 observations and no d = 10 setting.
Run: python benchmarks/bench_adversarial.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_section  # noqa: E402

from mixagg.harness import standard_settings, worst_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 machines of 1,000 observations, no d = 10")
    args = parser.parse_args()
    settings = standard_settings(quick=args.quick)
    start = time.perf_counter()
    result = worst_case(settings, rng=0, progress=True)
    elapsed = time.perf_counter() - start
    figure = Path(__file__).with_name("adversarial_heatmap.png")
    result.heatmap(figure)
    size = f"{settings[0].n_machines} machines of {settings[0].n_samples} observations"
    body = (
        f"## `bench_adversarial.py`: the worst case over attacks ({size}{', --quick' if args.quick else ''})\n\n"
        f"{machine()}; {elapsed / 60:.1f} min. Worst W1 / oracle over the attacks, per rule and alpha, with the "
        f"attack that reached it; heatmap: `benchmarks/{figure.name}`.\n\n" + result.to_markdown()
    )
    write_section("bench_adversarial", body)
    print(body)


if __name__ == "__main__":
    main()
