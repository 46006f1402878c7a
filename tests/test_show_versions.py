"""``mixagg.show_versions()``: what a bug report needs, including the R side."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import scipy

import mixagg as ma
from mixagg._show_versions import known_problems, versions


def test_show_versions_prints_python_packages_and_r(capsys):
    ma.show_versions()
    out = capsys.readouterr().out
    assert "PYTHON:" in out and "PACKAGES:" in out and "R:" in out
    assert sys.version.split()[0] in out
    assert f"numpy: {np.__version__}" in out and f"scipy: {scipy.__version__}" in out
    assert "rpy2 back-end:" in out


def test_versions_report_r_and_mixsim_truthfully():
    info = versions()
    assert info["packages"]["mixagg"] == ma.__version__
    r = info["r"]
    if shutil.which("Rscript") is None:
        assert r["R"].startswith("not found")
    else:
        assert r["R"].startswith("R version")
        assert set(r) >= {"R package MixSim", "R package mclust", "R package reticulate", "rpy2 back-end"}
        if r["R package MixSim"] == "not installed":  # the rpy2 back-end cannot work, and says how to fix it
            assert r["rpy2 back-end"].startswith("unavailable") and "install" in r["rpy2 back-end"]


def _info(numpy="1.26.4", reticulate="1.28", rpy2="3.5.17", r="R version 4.2.2 (2022-10-31)"):
    return {"packages": {"numpy": numpy, "rpy2": rpy2}, "r": {"R": r, "R package reticulate": reticulate}}


def test_known_problems_flag_old_reticulate_with_numpy_2_and_say_what_to_do():
    (text,) = known_problems(_info(numpy="2.1.3", reticulate="1.28"))
    assert "reticulate 1.28" in text and "NumPy 2.1.3" in text
    assert "numpy<2" in text and "1.36" in text
    assert known_problems(_info(numpy="2.1.3", reticulate="1.36")) == []  # fixed from 1.36 on
    assert known_problems(_info(numpy="1.26.4", reticulate="1.28")) == []  # old reticulate, old NumPy: fine


def test_known_problems_flag_rpy2_3_6_with_r_4_2():
    (text,) = known_problems(_info(rpy2="3.6.1"))
    assert "rpy2 3.6.1" in text and "R 4.2.2" in text and "rpy2>=3.5,<3.6" in text
    assert known_problems(_info(rpy2="3.6.1", r="R version 4.4.1 (2024-06-14)")) == []
    assert known_problems(_info(rpy2="not installed", reticulate="not installed", numpy="2.0.0")) == []
    assert known_problems({}) == []


def test_show_versions_ends_with_the_known_problems(capsys):
    ma.show_versions()
    out = capsys.readouterr().out
    assert "KNOWN PROBLEMS:" in out
    problems = known_problems(versions())
    assert out.rstrip().endswith("none") if not problems else problems[-1] in out
