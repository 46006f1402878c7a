"""Shared fixtures: every registered family, seeded generators, R availability; the run's configuration."""

from __future__ import annotations

import os
import platform
import shutil

import numpy as np
import pytest

from mixagg.families import Bernoulli, Categorical, Exponential, Gamma, Gaussian, Poisson
from mixagg.r_bridge.r_backend import import_robjects

R_INSTALL_HINT = (
    "R is not installed: run `make test` as root (it apt-get installs R), or "
    "`sudo apt-get install -y r-base-core r-base-dev r-cran-reticulate r-cran-mclust r-cran-flexmix` "
    "and `pip install 'rpy2>=3.5,<3.6'`"
)

FAMILIES = {
    "gaussian-1": lambda: Gaussian(1),
    "gaussian-2": lambda: Gaussian(2),
    "gaussian-4": lambda: Gaussian(4),
    "gamma": Gamma,
    "poisson": Poisson,
    "exponential": Exponential,
    "bernoulli-3": lambda: Bernoulli(3),
    "categorical-3-4": lambda: Categorical([3, 4]),
}


#: Set to 1 by `make test` when it installed the `r` extra: R must then be usable, and a missing piece fails
#: the run instead of skipping (a suite that silently skipped R would not test what a fresh root machine gets).
EXPECT_R = os.environ.get("MIXAGG_EXPECT_R") == "1"


def pytest_report_header(config):
    """The configuration that results may depend on: NumPy, its BLAS and threads, and whether R is expected."""
    from threadpoolctl import threadpool_info

    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    overrides = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}
    return [
        f"mixagg configuration: NumPy {np.__version__} on {platform.machine()}; BLAS: {'; '.join(blas) or 'unknown'}"
        + (f"; {overrides}" if overrides else ""),
        f"R expected (MIXAGG_EXPECT_R): {'yes' if EXPECT_R else 'no'}",
    ]


def _unavailable(reason: str):
    """Skip with ``reason``, or fail when this run is meant to have R (``MIXAGG_EXPECT_R=1``)."""
    if EXPECT_R:
        pytest.fail(f"{reason} -- but MIXAGG_EXPECT_R=1 (make test installed the R extra), so R must be usable")
    pytest.skip(reason)


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    """One instance of every built-in family (Gaussian in several dimensions)."""
    return FAMILIES[request.param]()


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def _rpy2_status() -> str | None:
    """``None`` when rpy2 and R with mclust load, else the reason."""
    if shutil.which("R") is None:
        return R_INSTALL_HINT
    try:
        ro = import_robjects()
    except Exception as exc:  # ImportError, or R failing to initialise
        return f"rpy2 cannot load R ({exc}); install it with `pip install 'rpy2>=3.5,<3.6'` (needs r-base-dev)"
    try:
        ro.r("suppressPackageStartupMessages(library(mclust))")
    except Exception as exc:
        return f"R package mclust is missing ({exc}): sudo apt-get install -y r-cran-mclust"
    return None


@pytest.fixture(scope="session")
def robjects():
    """rpy2's ``robjects`` with mclust loaded; skips with install instructions when R is missing."""
    reason = _rpy2_status()
    if reason is not None:
        _unavailable(reason)
    return import_robjects()


@pytest.fixture(scope="session")
def flexmix(robjects):
    """rpy2's ``robjects`` with flexmix loaded; skips with install instructions when it is missing."""
    try:
        robjects.r("suppressPackageStartupMessages(library(flexmix))")
    except Exception as exc:
        _unavailable(f"R package flexmix is missing ({exc}): sudo apt-get install -y r-cran-flexmix")
    return robjects


@pytest.fixture(scope="session")
def rscript():
    """Path of Rscript with reticulate installed; skips with install instructions otherwise."""
    path = shutil.which("Rscript")
    if path is None:
        _unavailable(R_INSTALL_HINT)
    import subprocess

    probe = subprocess.run(
        [path, "-e", "cat(as.character(packageVersion('reticulate')))"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        _unavailable("R package reticulate is missing: sudo apt-get install -y r-cran-reticulate")
    version = tuple(int(p) for p in probe.stdout.strip().split(".")[:2])
    if version < (1, 36) and int(np.__version__.split(".")[0]) >= 2:
        _unavailable(
            f"reticulate {probe.stdout.strip()} cannot load NumPy {np.__version__} (NumPy 2 needs reticulate >= 1.36); "
            "install the R extra, which pins numpy<2: pip install -e '.[r]'"
        )
    return path
