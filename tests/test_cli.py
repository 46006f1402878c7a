"""The command line: `mixagg demo` (the README's `make demo`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mixagg.cli import main


def test_demo_runs_end_to_end():
    proc = subprocess.run([sys.executable, "-m", "mixagg", "demo", "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for section in (
        "1. Gaussian mixtures", "KL(component i || component j)", "2. The Gamma mixture", "3. Poisson mixtures",
        "5. Byzantine-tolerant aggregation", "6. All pairwise",
    ):
        assert section in out
    w1 = {line.split("W1 =")[0].strip(): float(line.split("W1 =")[1].split()[0]) for line in out.splitlines() if "W1 =" in line}
    assert w1["DFMR (rho = 1.3)"] <= 1.1 * w1["oracle (knows the failures)"]
    assert w1["vanilla MR (no filter)"] > 100 * w1["oracle (knows the failures)"]
    # the Byzantine estimate is far from every honest one
    byz_row = next(line for line in out.splitlines() if line.strip().startswith("byzantine"))
    honest_row = next(line for line in out.splitlines() if line.strip().startswith("honest1"))
    assert min(map(float, byz_row.split()[1:5])) > 5 * max(map(float, honest_row.split()[1:5]))


def test_cli_errors_and_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "mixagg" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
