"""``vignettes/from_R.R`` runs through Rscript + reticulate and prints the numbers the same pipeline gives in Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma

pytestmark = pytest.mark.r

ROOT = Path(ma.__file__).parents[1]


def _python_pipeline() -> dict[str, tuple[float, float, int]]:
    """The vignette's computation written in Python (R's 1-based machine ids become seeds 1..m)."""
    k, p, m, n_local, alpha = 3, 2, 20, 1000, 0.2
    sim = ma.mixsim(k, p, max_omega=0.05, seed=1)
    truth = sim.mixture
    x = truth.sample(m * n_local, rng=2)
    fits = [ma.fit_mixture(x[i * n_local : (i + 1) * n_local], "gaussian", k, rng=i + 1) for i in range(m)]
    estimates, failed = ma.attacks.mean_failure(fits, alpha, rng=3)
    x_test = truth.sample(5000, rng=4)
    results = {
        "vanilla": ma.aggregate(estimates, "vanilla"),
        "coat": ma.aggregate(estimates, "coat"),
        "dfmr": ma.aggregate(estimates, "dfmr", rho=1.3),
        "oracle": ma.aggregate(estimates, "oracle", failure_free=~failed),
    }
    out = {
        name: (ma.metrics.w1(r.mixture, truth), ma.metrics.ari(r.mixture, truth, x_test), len(r.selected))
        for name, r in results.items()
    }
    out["TRUTH"] = (sim.max_omega, sim.bar_omega, 0)
    return out


def test_from_r_vignette_prints_what_python_computes(rscript, tmp_path):
    env = dict(os.environ, RETICULATE_PYTHON=sys.executable)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [rscript, str(ROOT / "vignettes" / "from_R.R"), sys.executable],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "method" in proc.stdout and "dfmr" in proc.stdout  # the data.frame was printed
    printed = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "RESULT":
            printed[parts[1]] = (float(parts[2]), float(parts[3]), int(parts[4]))
        elif parts and parts[0] == "TRUTH":
            printed["TRUTH"] = (float(parts[1]), float(parts[2]), 0)
    expected = _python_pipeline()
    assert set(printed) == set(expected)
    for name, (w1, ari, kept) in expected.items():
        got = printed[name]
        np.testing.assert_allclose(got[:2], (w1, ari), rtol=1e-11, err_msg=name)
        assert got[2] == kept, name
    # the story the vignette tells: DFMR near the oracle, vanilla ruined by the failures
    assert printed["dfmr"][0] < 1.5 * printed["oracle"][0] < printed["vanilla"][0] / 100
