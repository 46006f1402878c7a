"""Every snippet of the README runs as written, in order.

The ```python blocks run one after the other in one namespace (as a reader pasting them into one session would),
the ```bash blocks one after the other in one temporary directory with the installed ``mixagg`` command on the
``PATH``, and the ```r block through Rscript and reticulate. Plain ``` blocks are installation commands and are
checked only for what they claim (the Set-up block lists exactly the two commands).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).parents[1] / "README.md"
TEXT = README.read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", TEXT, re.S | re.M)


@pytest.fixture(scope="module")
def session() -> dict:
    namespace: dict = {}
    for i, code in enumerate(blocks("python")):
        exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
    return namespace


def test_the_readme_has_the_snippets_these_tests_run():
    assert len(blocks("python")) >= 6 and len(blocks("bash")) >= 1 and len(blocks("r")) == 1
    fences = re.findall(r"^```(\w*)$", TEXT, re.M)
    assert set(fences) <= {"python", "bash", "r", ""}, f"a snippet in a language nothing runs: {set(fences)}"


def test_first_look_fits_and_aggregates(session):
    ma, truth, fit, res, failed, sent = (session[k] for k in ("ma", "truth", "fit", "res", "failed", "sent"))
    assert fit.diagnostics.converged
    assert 0 < ma.l2_distance_matrix([truth, fit])[0, 1] < 0.02  # an estimate from 10,000 draws is close to the truth
    assert set(failed.nonzero()[0].tolist()) <= set(res.excluded.tolist())
    assert ma.metrics.w1(res.mixture, truth) < 0.1 * ma.metrics.w1(ma.aggregate(sent, "vanilla").mixture, truth)


def test_the_audit_table_has_one_row_per_machine(session):
    audit, res = session["audit"], session["res"]
    assert len(audit) == 40
    assert sorted(np.flatnonzero(~audit["kept"].to_numpy()).tolist()) == sorted(res.excluded.tolist())


def test_wire_round_trip_and_rejection(session):
    back, bad, local = session["back"], session["bad"], session["local"]
    assert back.machine_id == "site-07"
    np.testing.assert_allclose(back.params["mean"], local[0].params["mean"], rtol=1e-15)
    assert type(bad).__name__ == "Rejected" and "missing keys" in bad.reason


def test_split_and_conquer_without_failures_is_close_to_the_truth(session):
    ma, out, truth = session["ma"], session["out"], session["truth"]
    assert len(out.missing) == 0
    assert out.aggregation.selected.size >= 11  # rho >= 1 keeps the COAT's majority ball, at least 11 of 20
    assert ma.metrics.w1(out.mixture, truth) < 0.1  # 40,000 draws in all


def test_theory_example(session):
    report, s = session["report"], session["s"]
    assert report.values.size == 100
    assert report.ks_statistic < 0.163  # the KS 1% critical value for 100 values
    assert s.rho >= 1 and s.n_honest <= 40


def test_mixsim_example(session):
    sim = session["sim"]
    assert abs(sim.max_omega - 0.3) <= 1e-6 and sim.mixture.params["cov"].shape == (5, 10, 10)
    assert session["x"].shape == (1000, 10)


def test_new_family_example_is_registered_and_fits(session):
    ma = session["ma"]
    assert type(ma.get_family("waiting-time")).__name__ == "WaitingTime"


def test_setup_section_lists_exactly_the_two_commands():
    setup = TEXT.split("## Set-up", 1)[1].split("##", 1)[0]
    block = re.search(r"```\n(.*?)```", setup, re.S).group(1)
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make demo", "make test"]


def test_install_commands_name_extras_that_exist():
    import tomllib

    extras = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = set(re.findall(r"pip install (?:-e )?'\.\[(\w+)\]'", TEXT))
    assert named and named <= set(extras), named - set(extras)
    assert "pip install 'mixagg[" not in TEXT  # the package is not on PyPI


def test_command_line_snippet_runs(tmp_path):
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    env["MPLBACKEND"] = "Agg"
    for code in blocks("bash"):
        proc = subprocess.run(
            ["bash", "-e", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["aggregation"]["method"] == "dfmr" and len(result["inputs"]) == 3
    assert result["w1_to_truth"] < 0.5
    assert (tmp_path / "theory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "est").iterdir()) == ["m0.json", "m1.json", "m2.json"]


def test_r_snippet_runs(rscript, tmp_path):
    (code,) = blocks("r")
    script = tmp_path / "readme.R"
    script.write_text(
        code + '\nstopifnot(fit$diagnostics$converged, ncol(X) == 2L, nrow(X) == 3000L)\ncat("done\\n")\n'
    )
    env = {**os.environ, "RETICULATE_PYTHON": sys.executable}
    proc = subprocess.run([rscript, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("done"), proc.stdout + proc.stderr
