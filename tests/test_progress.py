"""Progress displays: a bar on a terminal only, whole lines when forced off one, nothing when off."""

from __future__ import annotations

import io

import numpy as np
import pytest

import mixagg as ma
from mixagg._progress import LineProgress, progress_bar, progress_enabled

TRUTH = ma.MixingDistribution("poisson", [0.4, 0.6], {"rate": [2.0, 12.0]})


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_means_a_terminal_only():
    assert progress_enabled("auto", Terminal()) and not progress_enabled("auto", io.StringIO())
    assert progress_enabled(True, io.StringIO()) and not progress_enabled(False, Terminal())


@pytest.mark.parametrize("bad", ["yes", 1, None, "Auto"])
def test_a_bad_switch_is_a_value_error_naming_the_argument(bad):
    with pytest.raises(ValueError, match="progress must be True, False or 'auto'"):
        progress_enabled(bad)
    with pytest.raises(ValueError, match="progress must be"):
        ma.fit_mixture(TRUTH.sample(200, rng=0), "poisson", 2, progress=bad)


def test_forced_off_a_terminal_writes_lines_without_carriage_returns():
    out = io.StringIO()
    with progress_bar(3, desc="local fits", unit="machine", progress=True, stream=out) as bar:
        assert isinstance(bar, LineProgress)
        for _ in range(3):
            bar.update(1)
    text = out.getvalue()
    assert "\r" not in text and text.endswith("\n") and "local fits: 3/3 machines" in text


def test_lines_are_written_at_most_every_interval():
    out = io.StringIO()
    bar = LineProgress(None, desc="EM", unit="iteration", stream=out, interval=3600.0)
    for _ in range(500):
        bar.update(1)
    bar.close()
    assert out.getvalue().count("\n") == 1 and "EM: 500 iterations" in out.getvalue()


def test_a_terminal_gets_a_redrawn_bar_and_off_gets_nothing():
    tty = Terminal()
    with progress_bar(4, desc="stages", unit="stage", progress="auto", stream=tty) as bar:
        bar.update(4)
    assert "\r" in tty.getvalue() and "4/4" in tty.getvalue()
    quiet = Terminal()
    with progress_bar(4, desc="stages", unit="stage", progress=False, stream=quiet) as bar:
        bar.update(4)
    assert quiet.getvalue() == ""


def test_fit_mixture_reports_its_iterations_when_asked(capsys):
    x = TRUTH.sample(2000, rng=1)
    fit = ma.fit_mixture(x, "poisson", 2, n_init=2, rng=0, progress=True)
    err = capsys.readouterr().err
    assert "EM:" in err and "iterations" in err and "start 2/2" in err and "\r" not in err
    quiet = ma.fit_mixture(x, "poisson", 2, n_init=2, rng=0, progress=False)
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(quiet.weights, fit.weights)  # the display changes nothing


def test_concentration_report_counts_its_three_stages(capsys):
    rng = np.random.default_rng(3)
    fits = [ma.fit_mixture(TRUTH.sample(1000, rng), "poisson", 2, init=TRUTH, progress=False) for _ in range(10)]
    ma.theory.concentration_report(fits, TRUTH, progress=True, rng=0)
    assert "concentration report: 3/3 stages" in capsys.readouterr().err


def test_the_engine_refuses_progress_inside_fit_options():
    with pytest.raises(ValueError, match="progress"):
        ma.engine.fit_partitions(
            [TRUTH.sample(100, rng=0)], family="poisson", n_components=2, fit_options={"progress": True}
        )
