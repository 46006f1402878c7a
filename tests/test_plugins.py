"""Plug-in families and rules: installed entry points, ``mixagg --import`` and failures that leave the rest working.

Each case runs in a fresh interpreter (entry points are read once per process) with a throw-away
distribution on ``PYTHONPATH``: a ``*.dist-info`` directory with ``entry_points.txt`` is what pip
installs, and what :mod:`importlib.metadata` reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma
from mixagg.plugins import import_plugin, load_entry_points

FAMILY_MODULE = '''
import numpy as np
from mixagg.families import Exponential


class Doubled(Exponential):
    """An exponential family under another name: fits must equal the built-in's."""

    name = "doubled-exponential"
'''

RULE_MODULE = """
import numpy as np
from mixagg.robust import AggregationRule, Option, pipeline


class MedoidBall(AggregationRule):
    name = "medoid-ball"
    options = (Option("factor", 2.0, check=lambda v, n: float(v), command_line=float, help="ball radius factor"),)

    def run(self, estimates, *, factor):
        d = pipeline.pairwise_distances(estimates)
        centre = int(d.sum(axis=1).argmin())
        kept = (d[centre] <= factor * np.median(d[centre])).nonzero()[0]
        reduction = pipeline.reduce_selected(estimates, kept, init=estimates.mixtures[centre])
        return pipeline.finish(self.name, estimates, kept, pipeline.Log(), reduction=reduction)
"""


def _distribution(root: Path, entry_points: str, modules: dict[str, str]) -> Path:
    """Write modules and a minimal installed-distribution record declaring ``entry_points``."""
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / "mixagg_test_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mixagg-test-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return root


def _run(args: list[str], path: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture
def installed(tmp_path):
    """A distribution offering one family, one rule, and one entry point whose import fails."""
    root = tmp_path / "site"
    root.mkdir()
    return _distribution(
        root,
        """
        [mixagg.families]
        doubled-exponential = plug_family:Doubled
        broken = plug_broken:Nothing

        [mixagg.rules]
        medoid-ball = plug_rule:MedoidBall
        """,
        {
            "plug_family": FAMILY_MODULE,
            "plug_rule": RULE_MODULE,
            "plug_broken": "raise RuntimeError('this plug-in cannot start')\n",
        },
    )


def test_an_installed_family_is_found_by_name_and_a_broken_one_only_warns(installed, tmp_path):
    code = """
import warnings, numpy as np, mixagg as ma
from mixagg.exceptions import PluginWarning
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fam = ma.get_family("doubled-exponential")
x = np.random.default_rng(3).exponential(size=400)
a = ma.fit_mixture(x, fam, 1)
b = ma.fit_mixture(x, "exponential", 1)
print(type(fam).__name__, float(a.params["rate"][0]), float(b.params["rate"][0]), 1 / x.mean())
print([str(w.message) for w in caught if issubclass(w.category, PluginWarning)])
print("exponential" in ma.families.available_families())
"""
    proc = _run(["-c", code], installed, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    name, rate, builtin, mle = lines[0].split()
    assert name == "Doubled"
    np.testing.assert_allclose(float(rate), float(mle), rtol=1e-8)  # one exponential component: the MLE is 1 / mean
    np.testing.assert_allclose(float(rate), float(builtin), rtol=1e-10)
    warned = eval(lines[1])
    assert len(warned) == 1 and "'broken'" in warned[0] and "this plug-in cannot start" in warned[0]
    assert lines[2] == "True"


def test_an_installed_rule_is_offered_on_the_command_line(installed, tmp_path):
    rng = np.random.default_rng(5)
    files = []
    for i in range(7):  # five honest machines near the truth (2, 12), two far off
        rate = [2.0, 12.0] + rng.normal(0, 0.1, 2) if i < 5 else [40.0, 90.0]
        files.append(tmp_path / f"m{i}.json")
        files[-1].write_text(
            ma.wire.dumps(ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": rate}), machine_id=f"m{i}")
        )
    out = tmp_path / "agg.json"
    cli = ["-m", "mixagg", "aggregate", *map(str, files), "--method", "medoid-ball", "--factor", "3", "-o", str(out)]
    proc = _run(cli, installed, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "'broken'" in proc.stderr and proc.stderr.count("\n") == 1  # the broken family: one warning line
    report = json.loads(out.read_text())
    assert report["aggregation"]["method"] == "medoid-ball"
    assert sorted(report["aggregation"]["excluded"]) == [5, 6]
    help_text = _run(["-m", "mixagg", "aggregate", "--help"], installed, tmp_path).stdout
    assert "medoid-ball" in help_text and "--factor" in help_text


def test_import_option_registers_a_module_family_for_fit(tmp_path):
    (tmp_path / "plug_registering.py").write_text(
        textwrap.dedent(FAMILY_MODULE) + "\nfrom mixagg.families import register_family\nregister_family(Doubled)\n"
    )
    x = np.random.default_rng(11).exponential(scale=0.5, size=300)
    np.savetxt(tmp_path / "x.csv", x[:, None], delimiter=",", header="x", comments="")
    fit = ["-m", "mixagg", "fit", "x.csv", "-K", "1", "--family", "doubled-exponential", "-o", "e.json"]
    without = _run(fit, tmp_path / "nowhere", tmp_path)
    assert without.returncode == 1 and "unknown family 'doubled-exponential'" in without.stderr
    proc = _run(["-m", "mixagg", "--import", "plug_registering", *fit[2:]], tmp_path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    sent = json.loads((tmp_path / "e.json").read_text())
    assert sent["family"]["name"] == "doubled-exponential"
    np.testing.assert_allclose(sent["params"]["rate"][0], 1 / x.mean(), rtol=1e-8)
    missing = _run(["-m", "mixagg", "--import", "no_such_plugin_module", *fit[2:]], tmp_path, tmp_path)
    assert missing.returncode == 2
    assert "--import" in missing.stderr and "no_such_plugin_module" in missing.stderr


def test_import_plugin_and_load_entry_points_check_their_arguments():
    with pytest.raises(TypeError, match="module"):
        import_plugin(3)
    with pytest.raises(ValueError, match="cannot import plug-in module 'no_such_module_x'"):
        import_plugin("no_such_module_x")
    with pytest.raises(ValueError, match="group"):
        load_entry_points("mixagg.nothing")
