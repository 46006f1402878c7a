"""Every Python vignette runs in ``--quick`` mode and its report data support the claims its text makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mixagg as ma

VIGNETTES = Path(ma.__file__).parents[1] / "vignettes"


def run_vignette(name: str, tmp_path: Path) -> dict:
    out = tmp_path / name
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(VIGNETTES / f"{name}.py"), "--quick", "--no-progress", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=VIGNETTES, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "report.md").read_text().startswith("# ")
    data = json.loads((out / "report.json").read_text())
    assert data["scale"] == "quick"
    for figure in data.get("figures", []):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    return data


def test_every_python_vignette_is_tested():
    scripts = {p.stem for p in VIGNETTES.glob("*.py") if not p.stem.startswith("_")}
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_") and name[len("test_"):] in scripts}
    assert scripts == tested


def test_quickstart(tmp_path):
    data = run_vignette("quickstart", tmp_path)
    w1 = data["w1"]
    # under mean failure DFMR(1.3) is within 10% of the oracle's W1 and vanilla at least 3x worse ([J] Fig. 2-3)
    assert w1["DFMR(1.3)"] <= 1.1 * w1["oracle"]
    assert w1["vanilla"] >= 3 * w1["oracle"]
    assert data["failed_kept"] == {"vanilla": 4, "DFMR(1.3)": 0, "oracle": 0}


def test_vignette_rejects_conflicting_scales(tmp_path):
    proc = subprocess.run([sys.executable, str(VIGNETTES / "quickstart.py"), "--quick", "--full", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=VIGNETTES)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr

