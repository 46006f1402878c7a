"""``mixagg.show_versions()``: what a bug report needs, including the R side."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import scipy

import mixagg as ma
from mixagg._show_versions import versions


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
