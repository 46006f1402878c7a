"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_first_look_example_runs():
    text = README.read_text()
    section = text.split("## A first look", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    d = namespace["ma"].l2_distance_matrix([namespace["truth"], namespace["fit"]])
    assert namespace["fit"].converged
    assert 0 < d[0, 1] < 0.02  # an estimate from 10,000 draws is close to the truth
    ma, truth, res, failed = namespace["ma"], namespace["truth"], namespace["res"], namespace["failed"]
    assert set(failed.nonzero()[0].tolist()) <= set(res.excluded.tolist())
    assert ma.metrics.w1(res.mixture, truth) < 0.1 * ma.metrics.w1(
        ma.aggregate(namespace["sent"], "vanilla").mixture, truth
    )


def test_setup_section_lists_exactly_the_two_commands():
    setup = README.read_text().split("## Set-up", 1)[1].split("##", 1)[0]
    block = re.search(r"```\n(.*?)```", setup, re.S).group(1)
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make demo", "make test"]


def test_theory_example_runs_after_the_first_look():
    text = README.read_text()
    first = re.search(r"```python\n(.*?)```", text.split("## A first look", 1)[1], re.S).group(1)
    theory = re.search(r"```python\n(.*?)```", text.split("## Theory", 1)[1], re.S).group(1)
    namespace: dict = {}
    exec(compile(first, "README.md", "exec"), namespace)
    exec(compile(theory, "README.md", "exec"), namespace)
    report, s = namespace["report"], namespace["s"]
    assert report.values.size == 100
    assert report.ks_statistic < 0.163  # the KS 1% critical value for 100 values
    assert s.rho >= 1 and s.n_honest <= 40


def test_mixsim_example_runs_after_the_first_look():
    text = README.read_text()
    first = re.search(r"```python\n(.*?)```", text.split("## A first look", 1)[1], re.S).group(1)
    mixsim = re.search(r"```python\n(.*?)```", text.split("## Benchmark mixtures", 1)[1], re.S).group(1)
    namespace: dict = {}
    exec(compile(first, "README.md", "exec"), namespace)
    exec(compile(mixsim, "README.md", "exec"), namespace)
    sim = namespace["sim"]
    assert abs(sim.max_omega - 0.3) <= 1e-6 and sim.mixture.params["cov"].shape == (5, 10, 10)
    assert namespace["x"].shape == (1000, 10)
