"""Every vignette has its own test module (``test_vignette_NAME.py``) that runs it in ``--quick`` mode and checks
the claims of its text against ``report.json``; the options shared by all vignettes are checked here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vignette_runner import VIGNETTES

TESTS = Path(__file__).parent


def test_every_vignette_has_a_test_module():
    scripts = {p.stem.lower() for p in VIGNETTES.glob("*.py") if not p.stem.startswith("_")}
    scripts |= {p.stem.lower() for p in VIGNETTES.glob("*.R")}
    modules = {p.stem[len("test_vignette_") :] for p in TESTS.glob("test_vignette_*.py")}
    assert scripts <= modules, f"vignettes without a test module: {sorted(scripts - modules)}"


def test_vignette_rejects_conflicting_scales(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(VIGNETTES / "quickstart.py"), "--quick", "--full", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=VIGNETTES,
    )
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr
