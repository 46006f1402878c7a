"""Start-up of the command line: wall time of `import mixagg`, `mixagg --help` and an argument error.

Each command runs in a fresh interpreter (what a user waits for), median of several runs. The baseline is the
package as it was before the imports were made lazy (commit BASELINE, extracted with `git archive` into a
temporary directory and run from there in the same session), so both columns see the same machine load.
The bare interpreter start (`python -c pass`) is the floor. Target: `mixagg --help` and argument errors under 1 s.
Run: python benchmarks/bench_cli.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: The last commit whose `import mixagg` loaded every submodule (scikit-learn, POT, pandas, statsmodels) eagerly.
BASELINE = "1582bf1"

COMMANDS = {
    "python -c pass (interpreter only)": ["-c", "pass"],
    "import mixagg": ["-c", "import mixagg"],
    "mixagg --help": ["-m", "mixagg", "--help"],
    "mixagg fit data.csv -K 2.5 (argument error)": ["-m", "mixagg", "fit", "data.csv", "-K", "2.5", "-o", "x.json"],
    "mixagg aggregate --help (loads the rules)": ["-m", "mixagg", "aggregate", "--help"],
}


def wall_time(args: list[str], path: Path, repeats: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(path)}
    times = []
    subprocess.run([sys.executable, *args], env=env, cwd=path, capture_output=True, check=False)  # warm the caches
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, cwd=path, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def baseline_tree(target: Path) -> Path | None:
    """The package at BASELINE, or None outside a git checkout that has it."""
    got = subprocess.run(["git", "archive", BASELINE, "mixagg"], cwd=ROOT, capture_output=True, check=False)
    if got.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(got.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:  # Python < 3.11.4: the archive is this repository's own
            tar.extractall(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        before = baseline_tree(Path(tmp))
        rows = []
        for label, command in COMMANDS.items():
            after = wall_time(command, ROOT, repeats)
            compared = before is not None and "aggregate" not in label and "pass" not in label
            old = wall_time(command, before, repeats) if compared else None
            rows.append((label, old, after))
            print(f"{label}: before {old}, after {after:.3f} s", flush=True)
    table = ["| command (fresh interpreter) | before | now | speed-up |", "| --- | ---: | ---: | ---: |"]
    for label, old, after in rows:
        ratio = "" if old is None else f"{old / after:.0f}x"
        table.append(f"| `{label}` | {'' if old is None else f'{old:.2f} s'} | {after:.2f} s | {ratio} |")
    help_time = dict((r[0], r[2]) for r in rows)
    verdict = (
        f"`mixagg --help` {help_time['mixagg --help']:.2f} s and the argument error "
        f"{help_time['mixagg fit data.csv -K 2.5 (argument error)']:.2f} s (target < 1 s)."
    )
    body = (
        "## `bench_cli.py`: start-up of `import mixagg` and the `mixagg` command\n\n"
        f"Measured {machine()}. Median of {repeats} runs, each in a fresh interpreter; before = commit "
        f"`{BASELINE}` (every submodule and scikit-learn, POT, pandas, statsmodels imported by `import mixagg`), "
        "run from a `git archive` copy in the same session.\n\n" + "\n".join(table) + f"\n\n{verdict}\n"
    )
    write_section("bench_cli", body)
    print(body)


if __name__ == "__main__":
    main()
