"""The `mixagg` command line, end to end through subprocesses (as users and `make demo` run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma
from mixagg.cli import main

TRUTH = ma.MixingDistribution(
    "gaussian",
    [0.3, 0.7],
    {"mean": [[0.0, 0.0], [5.0, 2.0]], "cov": [[[1.0, 0.4], [0.4, 1.0]], [[0.5, 0.0], [0.0, 2.0]]]},
)


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning")
    return subprocess.run(
        [sys.executable, "-m", "mixagg", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def test_demo_quick_prints_the_table_and_writes_the_figure(tmp_path):
    proc = run("demo", "--quick", "--out", str(tmp_path / "out"), "--no-progress", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MixSim truth (K = 3, d = 2" in out
    tables = {}
    for block in out.split(" failure (alpha = 0.2, m = 20):")[1:]:
        lines = [line.split() for line in block.strip().splitlines()[1:10]]
        tables[len(tables)] = {row[0]: row for row in lines}
    assert len(tables) == 3  # mean, covariance and weight failures
    for rows in tables.values():
        assert list(rows) == ["vanilla", "COAT", "CRED", "ARED", "DFMR(1.3)", "DFMR(auto)", "SFMR", "TRIM", "oracle"]
    mean, cov = tables[0], tables[1]
    for rows in (mean, cov):  # machine-level mean/covariance failures are far: DFMR(1.3) keeps none, the oracle none
        assert rows["DFMR(1.3)"][4] == "0" and rows["oracle"][4] == "0"
        assert rows["vanilla"][3] == "20/20" and rows["vanilla"][4] == "4"
    assert float(mean["vanilla"][1]) > 100 * float(mean["oracle"][1])  # means shifted by 100 ([J] §5.1.1)
    png = tmp_path / "out" / "demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(png).shape[1] > 1000  # three panels side by side
    report = json.loads((tmp_path / "out" / "demo.json").read_text())
    assert len(report["rows"]) == 27 and report["settings"]["m"] == 20
    assert set(report["legend"]) == {"W1", "ARI", "kept", "failed kept", "time (s)"}
    assert "lower is better" in report["legend"]["W1"] and "higher is better" in report["legend"]["ARI"]
    assert "W1: " in out and "failed kept: " in out  # the legend is printed under the table
    truth = ma.wire.loads(json.dumps(report["truth"]))
    assert truth.n_components == 3 and truth.family == ma.families.Gaussian(2)


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("mixagg")
    assert script.exists(), "pip install -e . installs the `mixagg` console script"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"mixagg {ma.__version__}"


def test_fit_three_shards_then_aggregate_with_a_malformed_file(tmp_path):
    rng = np.random.default_rng(11)
    shards = [TRUTH.sample(3000, rng) for _ in range(3)]
    for i, x in enumerate(shards):
        np.savetxt(tmp_path / f"shard{i}.csv", x, delimiter=",", header="a,b", comments="")
    for i in range(3):
        proc = run(
            "fit",
            f"shard{i}.csv",
            "-K",
            "2",
            "--family",
            "gaussian",
            "-o",
            f"est/shard{i}.json",
            "--seed",
            str(i),
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"shard{i}: 3000 observations" in proc.stdout
    (tmp_path / "est" / "zz_broken.json").write_text('{"format": "mixagg-estimate", "version": 1, "weights": [0.5, 0.5')
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "est").glob("*.json"))
    proc = run("aggregate", *files, "--method", "dfmr", "--rho", "1.3", "-o", "result.json", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr  # 3 valid of 4 expected: the fewest a majority needs, no failure tolerated
    assert "tolerates no failure" in proc.stderr
    proc = run("aggregate", *files, "--rho", "1.3", "--allow-no-majority", "-o", "result.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "read 4 estimates: 3 valid, 1 rejected" in proc.stdout
    assert "REJECTED [3] est/zz_broken.json: the payload is not valid JSON" in proc.stdout
    result = json.loads((tmp_path / "result.json").read_text())
    got = ma.wire.loads(json.dumps(result["estimate"]), family=ma.families.Gaussian(2), n_components=2)
    assert not isinstance(got, ma.rejection.Rejected)
    assert result["aggregation"]["rejected"][0]["index"] == 3
    assert result["aggregation"]["selected"] == [0, 1, 2]
    # the same pipeline through the Python API: the command line adds nothing and loses nothing
    fits = [
        ma.fit_mixture(
            np.loadtxt(tmp_path / f"shard{i}.csv", delimiter=",", skiprows=1), "gaussian", 2, n_init=3, rng=i
        )
        for i in range(3)
    ]
    direct = ma.aggregate(fits, "dfmr", rho=1.3, sample_sizes=[3000] * 3).mixture
    np.testing.assert_allclose(got.weights, direct.weights, rtol=1e-12)
    np.testing.assert_allclose(got.params["cov"], direct.params["cov"], rtol=1e-12)
    assert ma.metrics.w1(got, TRUTH) < 0.1  # 9000 observations in all

    # the theory report on the same estimates, against the truth
    (tmp_path / "truth.json").write_text(ma.wire.dumps(TRUTH, machine_id="truth"))
    proc = run("theory", *files[:3], "--truth", "truth.json", "-o", "theory.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "n D^2(G_i, G*): 3 values" in proc.stdout and "REJECTED" not in proc.stdout
    values = np.array(json.loads((tmp_path / "theory.json").read_text())["quantiles"]["empirical"])
    want = [3000 * ma.l2_distance(f, TRUTH) ** 2 for f in fits]
    assert values.min() >= min(want) * (1 - 1e-9) and values.max() <= max(want) * (1 + 1e-9)


def test_simulate_writes_a_truth_and_shards(tmp_path):
    proc = run(
        "simulate",
        "-o",
        "sim",
        "--n",
        "12000",
        "--m",
        "4",
        "-K",
        "3",
        "-d",
        "2",
        "--seed",
        "5",
        "--format",
        "npy",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    truth = ma.wire.loads((tmp_path / "sim" / "truth.json").read_text())
    assert truth.n_components == 3 and truth.family == ma.families.Gaussian(2)
    x = np.concatenate([np.load(tmp_path / "sim" / f"shard_{i:03d}.npy") for i in range(4)])
    assert x.shape == (12000, 2)
    # the data follow the truth: pooled mean within 4 standard errors of the mixture mean
    mean = truth.weights @ truth.params["mean"]
    second = sum(
        w * (c + np.outer(mu, mu)) for w, mu, c in zip(truth.weights, truth.params["mean"], truth.params["cov"])
    )
    se = np.sqrt(np.diag(second - np.outer(mean, mean)) / x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - mean) < 4 * se)
    assert ma.r_bridge.overlap(truth).max_omega == pytest.approx(0.3, abs=1e-5)  # simulate's default MaxOmega


def test_errors_are_one_line_without_traceback(tmp_path):
    proc = run("fit", "missing.csv", "-K", "2", "-o", "e.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "mixagg fit: error: data file 'missing.csv' does not exist"
    proc = run("--debug", "fit", "missing.csv", "-K", "2", "-o", "e.json", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    (tmp_path / "bad.json").write_text("[]")
    proc = run("aggregate", "bad.json", "-o", "r.json", cwd=tmp_path)
    assert proc.returncode == 1 and "REJECTED [0] bad.json" in proc.stdout
    assert proc.stderr.strip() == "mixagg aggregate: error: every estimate was rejected; there is nothing to aggregate"


def test_argument_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and "mixagg" in capsys.readouterr().out
    for argv in (
        [],
        ["demo", "--alpha", "0.7"],
        ["demo", "--m", "0"],
        ["aggregate", "x.json", "-o", "r.json", "--rho", "0.5"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    capsys.readouterr()
    assert main(["demo", "--quick", "--m", "2", "--out", str(tmp_path)]) == 1
    assert "--m must be at least 3" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", TRUTH.sample(100, 0))
    (tmp_path / "e.json").write_text(ma.wire.dumps(TRUTH))
    assert (
        main(["aggregate", str(tmp_path / "e.json"), "--method", "coat", "--rho", "2", "-o", str(tmp_path / "r.json")])
        == 1
    )
    assert "--rho applies to --method dfmr" in capsys.readouterr().err
    assert main(["simulate", "-o", str(tmp_path), "--family", "gamma", "-K", "4"]) == 1
    assert "the gamma truth is fixed" in capsys.readouterr().err


def test_aggregate_by_family_name_majority_and_ties(tmp_path, capsys):
    rng = np.random.default_rng(3)
    two = [ma.fit_mixture(TRUTH.sample(2000, rng), "gaussian", 2, init=TRUTH) for _ in range(3)]
    three = ma.fit_mixture(TRUTH.sample(2000, rng), "gaussian", 3, rng=0)
    files = []
    for i, g in enumerate([*two, three]):
        files.append(tmp_path / f"m{i}.json")
        files[-1].write_text(ma.wire.dumps(g, machine_id=f"m{i}"))
    out = str(tmp_path / "r.json")
    assert main(["aggregate", *map(str, files), "--family", "gaussian", "-o", out]) == 3  # 3 of 4: no failure allowed
    text = capsys.readouterr().out
    assert "3 valid, 1 rejected" in text
    assert (
        f"REJECTED [3] m3 ({files[3]}): Gaussian(d=2) with K = 3 differs from the majority's Gaussian(d=2) with K = 2"
        in text
    )
    assert main(["aggregate", *map(str, files), "--family", "gamma", "-o", out]) == 1
    assert "every estimate was rejected" in capsys.readouterr().err
    assert main(["aggregate", str(files[0]), str(files[3]), "-o", out]) == 1  # one K = 2, one K = 3: no majority
    err = capsys.readouterr().err
    assert "disagree with no majority" in err and "choose with --family and -K" in err
    assert main(["aggregate", str(files[0]), str(files[3]), "-K", "3", "-o", out]) == 3  # 1 valid of 2 expected
    with pytest.raises(SystemExit) as info:
        main(["aggregate", str(files[0]), "--method", "oracle", "-o", out])
    assert info.value.code == 2


def test_bad_data_files_and_warnings_are_one_line(tmp_path):
    (tmp_path / "header.csv").write_text("a,b\n")
    proc = run("fit", "header.csv", "-K", "2", "-o", "e.json", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip() == "mixagg fit: error: 'header.csv' has no data rows"
    (tmp_path / "m0.json").write_text(ma.wire.dumps(TRUTH, machine_id="m0"))
    (tmp_path / "m1.json").write_text("{")
    proc = run("aggregate", "m0.json", "m1.json", "-o", "r.json", cwd=tmp_path)
    assert proc.returncode == 3  # written, but one valid estimate of two expected is no majority
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("mixagg aggregate: MajorityWarning: 1 of the 2 expected machines")
    assert lines[1].startswith("mixagg aggregate: the majority the rule needs is doubtful")


def test_argument_values_are_named_with_the_users_text():
    proc = run("fit", "data.csv", "-K", "2.5", "-o", "e.json")
    assert proc.returncode == 2
    assert "argument -K: must be a positive integer, got '2.5'" in proc.stderr
    assert "invalid" not in proc.stderr and "_positive_int" not in proc.stderr
    for args, message in (
        (["fit", "d.csv", "-K", "2", "--tol", "abc", "-o", "e.json"], "argument --tol: must be a number, got 'abc'"),
        (["fit", "d.csv", "-K", "2", "--tol", "-1", "-o", "e.json"], "argument --tol: must be a positive number"),
        (["demo", "--family", "weibull"], "argument --family: must be one of gamma, gaussian, poisson, got 'weibull'"),
        (["demo", "--alpha", "0.7"], "argument --alpha: must be a number in [0, 0.5), got '0.7'"),
        (["simulate", "-o", "x", "--seed", "1.5"], "argument --seed: must be an integer, got '1.5'"),
    ):
        proc = run(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)


def test_exit_statuses_are_the_documented_ones(tmp_path, monkeypatch, capsys):
    from mixagg import cli

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert set(cli.EXIT_CODES) == {0, 1, 2, 3, 130}
    for code in cli.EXIT_CODES:
        assert f"{code} " in readme.split("Exit status", 1)[1][:600], code
    assert run("--version").returncode == 0
    assert run("fit", str(tmp_path / "none.csv"), "-K", "2", "-o", "e.json").returncode == 1
    assert run("fit", "--no-such-option").returncode == 2

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_simulate", interrupted)
    assert cli.main(["simulate", "-o", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err


def _loglik(estimate_file: Path, x: np.ndarray) -> float:
    payload = json.loads(estimate_file.read_text())
    g = ma.MixingDistribution("gaussian", payload["weights"], payload["params"])
    return float(np.sum(g.logpdf(x)))


def test_fit_options_and_the_summary_line(tmp_path):
    x = TRUTH.sample(1500, rng=4)
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="u,v", comments="")
    proc = run("fit", "d.csv", "-K", "2", "--tol", "1e-8", "-o", "e.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert "1500 observations" in last and "EM converged after" in last and last.endswith("-> e.json")
    reported = float(last.split("log-likelihood ")[1].split(",")[0])
    np.testing.assert_allclose(reported, _loglik(tmp_path / "e.json", x), rtol=1e-5)  # printed with 6 digits
    assert float(last.split(", ")[-1].split(" s ->")[0]) >= 0
    assert proc.stdout.splitlines()[0] == "read d.csv: 1500 rows, 2 columns (u, v)"
    capped = run("fit", "d.csv", "-K", "2", "--max-iter", "1", "--n-init", "1", "-o", "c.json", cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    assert "did NOT converge (raise --max-iter, now 1) after 1 iterations" in capped.stdout
    assert json.loads((tmp_path / "c.json").read_text())["metadata"]["n_iter"] == 1
    for tol, name in (("1e-2", "l.json"), ("1e-10", "t.json")):
        assert run("fit", "d.csv", "-K", "2", "--tol", tol, "--n-init", "1", "-o", name, cwd=tmp_path).returncode == 0
    n_loose, n_tight = (json.loads((tmp_path / f).read_text())["metadata"]["n_iter"] for f in ("l.json", "t.json"))
    assert n_loose < n_tight


def test_fit_reads_columns_ids_and_missing_values_as_told(tmp_path):
    rng = np.random.default_rng(8)
    x = rng.normal([1.0, -2.0], [1.0, 0.5], size=(200, 2))
    rows = [f"{300 + i},{float(a)!r},{float(b)!r},note{i % 3}" for i, (a, b) in enumerate(x)]
    rows[17] = rows[17].replace(repr(float(x[17, 1])), "NA")
    (tmp_path / "d.csv").write_text("id,height,weight,remark\n" + "\n".join(rows) + "\n")
    refused = run("fit", "d.csv", "-K", "1", "-o", "e.json", cwd=tmp_path)
    assert refused.returncode == 1 and "'id'" in refused.stderr and "--index-col" in refused.stderr
    args = ["fit", "d.csv", "-K", "1", "--index-col", "id", "--drop", "remark", "-o", "e.json"]
    stopped = run(*args, cwd=tmp_path)
    assert stopped.returncode == 1 and "d.csv" in stopped.stderr and "weight" in stopped.stderr
    assert "18" in stopped.stderr  # the 18th data row holds the NA
    dropped = run(*args, "--na", "drop", cwd=tmp_path)
    assert dropped.returncode == 0, dropped.stderr
    assert "199 rows, 2 columns (height, weight), 1 rows with missing values dropped" in dropped.stdout
    payload = json.loads((tmp_path / "e.json").read_text())
    keep = np.arange(200) != 17
    np.testing.assert_allclose(payload["params"]["mean"][0], x[keep].mean(axis=0), rtol=1e-9)  # K = 1: the mean
    by_position = run("fit", "d.csv", "-K", "1", "--columns", "1", "--na", "drop", "-o", "p.json", cwd=tmp_path)
    assert by_position.returncode == 0, by_position.stderr
    np.testing.assert_allclose(json.loads((tmp_path / "p.json").read_text())["params"]["mean"][0], [x[:, 0].mean()])


def test_progress_only_on_request_when_not_a_terminal(tmp_path):
    np.savetxt(tmp_path / "d.csv", TRUTH.sample(800, rng=2), delimiter=",")
    quiet = run("fit", "d.csv", "-K", "2", "-o", "e.json", cwd=tmp_path)
    assert quiet.returncode == 0 and "\r" not in quiet.stderr and quiet.stderr == ""
    loud = run("fit", "d.csv", "-K", "2", "--verbose", "-o", "e.json", cwd=tmp_path)
    assert loud.returncode == 0 and loud.stderr.strip() != ""


def test_fit_with_a_covariance_structure_then_aggregate(tmp_path):
    """`mixagg fit --covariance-type VVI` sends the diagonal model (K d variances); the server aggregates it;
    an unknown structure is refused with the list of names."""
    x = TRUTH.sample(3000, rng=6)
    for i in range(3):
        np.savetxt(tmp_path / f"s{i}.csv", x[i * 1000 : (i + 1) * 1000], delimiter=",", header="u,v", comments="")
        proc = run("fit", f"s{i}.csv", "-K", "2", "--covariance-type", "VVI", "-o", f"e{i}.json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    sent = json.loads((tmp_path / "e0.json").read_text())
    assert sent["family"] == {"name": "gaussian", "d": 2, "covariance_type": "diag"}
    assert np.shape(sent["params"]["var"]) == (2, 2) and "cov" not in sent["params"]
    proc = run("aggregate", "e0.json", "e1.json", "e2.json", "-o", "agg.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    agg = json.loads((tmp_path / "agg.json").read_text())
    assert "var" in json.dumps(agg)
    bad = run("fit", "s0.csv", "-K", "2", "--covariance-type", "diagonal", "-o", "b.json", cwd=tmp_path)
    assert bad.returncode != 0 and "covariance_type must be one of" in bad.stderr


def test_fit_takes_a_family_with_its_settings_as_json(tmp_path):
    """`--family '{"name": "categorical", "levels": [3, 4]}'` fixes the levels, even when a machine's data lack the
    top code of a feature (reading them off the data would give a different family); bad JSON is refused."""
    gen = np.random.default_rng(0)
    codes = np.column_stack([gen.integers(0, 2, 400), gen.integers(0, 4, 400)])  # feature 0 never shows level 2
    np.savetxt(tmp_path / "c.csv", codes, delimiter=",", header="a,b", comments="", fmt="%d")
    spec = '{"name": "categorical", "levels": [3, 4]}'
    proc = run("fit", "c.csv", "-K", "2", "--family", spec, "-o", "e.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "e.json").read_text())["family"] == {"name": "categorical", "levels": [3, 4]}
    bad = run("fit", "c.csv", "-K", "2", "--family", '{"name": "categorical", ', "-o", "b.json", cwd=tmp_path)
    assert bad.returncode != 0 and "is not a family name or a JSON object" in bad.stderr


def test_aggregate_accepts_a_range_of_orders(tmp_path):
    """Files of orders 2 and 3: `-K 2-3` keeps both (the aggregate takes the lower median order, or --n-components);
    without it the minority order is rejected as before."""
    x = TRUTH.sample(2000, rng=8)
    for i, k in enumerate((2, 2, 3)):
        np.savetxt(tmp_path / f"s{i}.csv", x[i * 600 : (i + 1) * 600], delimiter=",", header="u,v", comments="")
        assert run("fit", f"s{i}.csv", "-K", str(k), "-o", f"e{i}.json", cwd=tmp_path).returncode == 0
    files = ["e0.json", "e1.json", "e2.json"]
    proc = run("aggregate", *files, "-K", "2-3", "--n-components", "2", "-o", "a.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "a.json").read_text())
    agg = out["aggregation"]
    assert agg["orders"] == [2, 2, 3] and agg["order_rule"] == "n_components=2 (given)"
    proc = run("aggregate", *files, "-o", "b.json", cwd=tmp_path)
    assert "with K = 3 differs from the majority's" in proc.stdout + proc.stderr
    bad = run("aggregate", *files, "-K", "3-x", "-o", "c.json", cwd=tmp_path)
    assert bad.returncode != 0 and "expected an order" in bad.stderr
