"""Runs one vignette in ``--quick`` mode in a subprocess and returns its ``report.json``
(used by ``test_vignette_*.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mixagg as ma

VIGNETTES = Path(ma.__file__).parents[1] / "vignettes"


def run_vignette(name: str, tmp_path: Path, *extra: str) -> dict:
    """Run ``vignettes/NAME.py --quick`` and check the report's files; return the report data."""
    out = tmp_path / name
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(VIGNETTES / f"{name}.py"), "--quick", "--no-progress", "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=VIGNETTES,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "report.md").read_text().startswith("# ")
    data = json.loads((out / "report.json").read_text())
    assert data["scale"] == "quick"
    for figure in data.get("figures", []):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    return data
