"""The rpy2 back-end (docs/mixsim.md): the call path through a real embedded R, conversions, failure handling.

R's MixSim cannot be installed on these machines (CRAN is unreachable, Debian has no package), so
the call path is exercised with stand-ins written in base R: a ``MixSim`` that returns a reference
case's R vectors (checking the argument types it receives) and an ``overlap`` computing the
homogeneous closed form with ``pnorm``. Only the live MixSim call is skipped when MixSim is absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma
from mixagg.exceptions import MixSimError, RUnavailableError
from mixagg.r_bridge import dispatch, r_backend

pytestmark = pytest.mark.r

REFERENCE = Path(__file__).parent / "mixsim_reference"
MIXSIM_NOT_INSTALLABLE = "the R package MixSim is not installable here (CRAN unreachable, no Debian package)"

FAKE_MIXSIM = """
function(BarOmega = NULL, MaxOmega = NULL, K, p, sph = FALSE, hom = FALSE, ecc = 0.90, PiLow = 1.0,
         int = c(0.0, 1.0), resN = 100, eps = 1e-06, lim = 1e06) {
    stopifnot(is.integer(K), is.integer(p), is.logical(sph), is.logical(hom), is.double(ecc), is.double(PiLow),
              is.double(int), length(int) == 2, is.integer(resN), is.double(eps), is.integer(lim))
    .GlobalEnv$seen <- list(BarOmega = BarOmega, MaxOmega = MaxOmega, K = K, p = p, sph = sph, hom = hom, ecc = ecc,
                            PiLow = PiLow, int = int, resN = resN, eps = eps, lim = lim, u = runif(1))
    ref <- .GlobalEnv$ref
    list(Pi = ref$Pi, Mu = matrix(ref$Mu, K, p, byrow = TRUE), S = array(ref$S, dim = c(p, p, K)),
         OmegaMap = matrix(ref$OmegaMap, K, K, byrow = TRUE), BarOmega = ref$BarOmega, MaxOmega = ref$MaxOmega,
         rcMax = ref$rcMax, fail = 0L)
}
"""

FAKE_OVERLAP = """
function(Pi, Mu, S, eps = 1e-06, lim = 1e06) {
    stopifnot(is.matrix(Mu), identical(dim(S), c(ncol(Mu), ncol(Mu), nrow(Mu))), is.integer(lim))
    K <- nrow(Mu); inv <- solve(S[, , 1]); O <- diag(K)
    for (i in 1:K) for (j in 1:K) if (i != j) {
        dlt <- Mu[i, ] - Mu[j, ]; D <- sqrt(sum(dlt * (inv %*% dlt)))
        O[i, j] <- pnorm(-D / 2 + log(Pi[j] / Pi[i]) / D)
    }
    best <- -1; rc <- c(1, 1); total <- 0
    for (i in 1:(K - 1)) for (j in (i + 1):K) {
        w <- O[i, j] + O[j, i]; total <- total + w
        if (w > best) { best <- w; rc <- c(i, j) }
    }
    list(OmegaMap = O, BarOmega = total / (K * (K - 1) / 2), MaxOmega = best, rcMax = rc)
}
"""


@pytest.fixture
def fake_r(robjects, monkeypatch):
    """Point the back-end at base-R stand-ins and pretend MixSim loads."""
    ro = robjects
    ro.globalenv["fake_mixsim"] = ro.r(FAKE_MIXSIM)
    ro.globalenv["fake_overlap"] = ro.r(FAKE_OVERLAP)
    monkeypatch.setattr(r_backend, "MIXSIM_FUNCTION", "fake_mixsim")
    monkeypatch.setattr(r_backend, "OVERLAP_FUNCTION", "fake_overlap")
    monkeypatch.setattr(dispatch, "_r_status", lambda: r_backend.RStatus("3.5", "R", "1.1-8", None))
    return ro


def _load_reference(ro, case: dict) -> None:
    res = case["result"]
    ro.globalenv["ref"] = ro.ListVector(
        {
            "Pi": ro.FloatVector(res["Pi"]),
            "Mu": ro.FloatVector(np.ravel(res["Mu"])),  # row-major here, rebuilt by R with byrow = TRUE
            "S": ro.FloatVector(res["S_R_vector"]),  # R's own column-major vector
            "OmegaMap": ro.FloatVector(np.ravel(res["OmegaMap"])),
            "BarOmega": ro.FloatVector([res["BarOmega"]]),
            "MaxOmega": ro.FloatVector([res["MaxOmega"]]),
            "rcMax": ro.FloatVector(res["rcMax"]),
        }
    )


def test_mixsim_through_r_returns_the_reference_case_exactly(fake_r):
    ro = fake_r
    case = json.loads((REFERENCE / "mixsim_v17_K5_p10_max0.3_paper_seed1.json").read_text())
    _load_reference(ro, case)
    ro.r('RNGkind("Wichmann-Hill", "Box-Muller")')  # set.seed(seed) must restore R's default generators
    sim = ma.mixsim(5.0, 10, max_omega=0.3, seed=1, backend="r")
    res = case["result"]
    assert sim.backend == "r" and sim.attempts is None
    np.testing.assert_array_equal(sim.weights, res["Pi"])
    np.testing.assert_array_equal(sim.means, res["Mu"])
    covs = np.array(res["S"])
    np.testing.assert_allclose(
        np.array(sim.mixture.params["cov"]), 0.5 * (covs + covs.transpose(0, 2, 1)), rtol=0, atol=0
    )
    np.testing.assert_array_equal(sim.omega_map, res["OmegaMap"])
    assert sim.rc_max == tuple(res["rcMax0"]) and sim.max_omega == res["MaxOmega"]
    seen = ro.globalenv["seen"]
    assert ro.r("is.null(seen$BarOmega)")[0] and seen.rx2("MaxOmega")[0] == 0.3
    assert list(seen.rx2("K")) == [5] and list(seen.rx2("int")) == [0.0, 1.0] and list(seen.rx2("lim")) == [1_000_000]
    assert seen.rx2("u")[0] == pytest.approx(0.2655086631, abs=1e-10)  # set.seed(1); runif(1) in R
    # the native evaluator agrees with MixSim's map on MixSim's own parameters
    assert np.max(np.abs(ma.r_bridge.overlap(sim, backend="python").omega_map - sim.omega_map)) < 1e-6


def test_overlap_through_r_keeps_the_orientation(fake_r):
    """Unequal weights make OmegaMap asymmetric: a transposed conversion would swap o_j|i and o_i|j (pitfall 2)."""
    cov = np.array([[1.0, 0.3, 0.1], [0.3, 0.8, -0.2], [0.1, -0.2, 0.5]])
    mix = ma.MixingDistribution(
        "gaussian",
        [0.6, 0.3, 0.1],
        {"mean": [[0.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.0, 1.0, 1.2]], "cov": [cov, cov, cov]},
    )
    via_r = ma.r_bridge.overlap(mix, backend="r")
    native = ma.r_bridge.overlap(mix, backend="python")
    assert via_r.backend == "r" and native.backend == "python"
    assert abs(via_r.omega_map[0, 2] - via_r.omega_map[2, 0]) > 0.01
    np.testing.assert_allclose(via_r.omega_map, native.omega_map, rtol=0, atol=1e-12)
    assert via_r.rc_max == native.rc_max and via_r.max_omega == pytest.approx(native.max_omega, abs=1e-12)


@pytest.mark.parametrize(
    "quirk", ["quirk_q01_swapped_diagonals", "quirk_q02_partial_equal_cov_first", "quirk_q04_unit_eigenvalue_hang"]
)
def test_overlap_refuses_mixtures_where_mixsim_hangs_or_is_wrong(fake_r, quirk):
    case = json.loads((REFERENCE / f"{quirk}.json").read_text())["input"]
    mix = ma.MixingDistribution("gaussian", case["Pi"], {"mean": case["Mu"], "cov": case["S"]})
    with pytest.raises(ValueError, match="pitfalls? [0-9]"):
        ma.r_bridge.overlap(mix, backend="r")
    assert ma.r_bridge.overlap(mix, backend="auto").backend == "python"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            'cat("Error: the desired overlap has not been reached in 3 simulations...\\n"); invisible(NULL)',
            "not been reached in 3",
        ),
        ('stop("Unable to simulate a mixture model under specified settings...")', "stopped with an error: Unable"),
        ("r <- fake_mixsim(...); r$OmegaMap[1, 2] <- -1; r", "negative overlaps"),
        ("r <- fake_mixsim(...); r$S[, , 2] <- 0; r", "not positive definite"),
        ("r <- fake_mixsim(...); r$Mu <- as.vector(r$Mu); r", "malformed"),
        ("r <- fake_mixsim(...); r$OmegaMap <- r$OmegaMap[1:2, ]; r", "OmegaMap of shape"),
    ],
)
def test_every_mixsim_failure_becomes_one_exception(fake_r, monkeypatch, body, match):
    ro = fake_r
    _load_reference(ro, json.loads((REFERENCE / "mixsim_v17_K5_p10_max0.3_paper_seed1.json").read_text()))
    ro.globalenv["broken_mixsim"] = ro.r(f"function(...) {{ {body} }}")
    monkeypatch.setattr(r_backend, "MIXSIM_FUNCTION", "broken_mixsim")
    with pytest.raises(MixSimError, match=match):
        ma.mixsim(5, 10, max_omega=0.3, seed=1, backend="r")


def test_generator_seeds_are_refused_by_r_and_routed_to_python_by_auto(fake_r):
    with pytest.raises(TypeError, match="set.seed"):
        ma.mixsim(3, 2, max_omega=0.05, seed=np.random.default_rng(1), backend="r")
    assert ma.mixsim(3, 2, max_omega=0.05, seed=np.random.default_rng(1), backend="auto").backend == "python"


def test_missing_pieces_are_named_with_install_instructions(monkeypatch):
    status = r_backend.r_status()
    if not status.available:
        with pytest.raises(RUnavailableError, match="install"):
            ma.mixsim(3, 2, max_omega=0.05, backend="r")
    import builtins

    real_import = builtins.__import__

    def no_rpy2(name, *args, **kwargs):
        if name == "rpy2" or name.startswith("rpy2."):
            raise ImportError("No module named 'rpy2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rpy2)
    status = r_backend.r_status()
    assert not status.available and "pip install 'rpy2>=3.5.13,<3.6'" in status.problem

    def no_r(name, *args, **kwargs):  # rpy2 is installed but cannot find R
        if name == "rpy2.robjects":
            raise RuntimeError("R_HOME must be set in the environment or Registry")
        return real_import(name, *args, **kwargs)

    if importlib.util.find_spec("rpy2") is None:  # this environment has no rpy2: stand in for an installed one
        installed = types.ModuleType("rpy2")
        installed.__version__ = "3.5.17"
        monkeypatch.setitem(sys.modules, "rpy2", installed)
    monkeypatch.setattr(builtins, "__import__", no_r)
    status = r_backend.r_status()
    assert not status.available and "apt-get install r-base-core" in status.problem and "R_HOME" in status.problem


def test_live_mixsim_reproduces_the_reference_bit_for_bit():
    status = r_backend.r_status()
    if not status.available:
        pytest.skip(f"{MIXSIM_NOT_INSTALLABLE}: {status.problem}")
    case = json.loads((REFERENCE / "mixsim_v17_K5_p10_max0.3_paper_seed1.json").read_text())
    sim = ma.mixsim(5, 10, max_omega=0.3, seed=1, backend="r")
    np.testing.assert_array_equal(sim.weights, case["result"]["Pi"])
    np.testing.assert_array_equal(sim.means, case["result"]["Mu"])
    np.testing.assert_allclose(np.array(sim.mixture.params["cov"]), case["result"]["S"], rtol=0, atol=1e-12)


def test_starting_r_does_not_break_child_pythons(robjects):
    """rpy2 prepends R's library directories to LD_LIBRARY_PATH; a child Python (worker process, Dask
    worker) would then load the system's libpython and fail to import ``ssl``. It is restored."""
    r_backend.r_status()  # starts R through rpy2 if it was not yet
    assert "/usr/lib/R/lib" not in os.environ.get("LD_LIBRARY_PATH", "")
    proc = subprocess.run([sys.executable, "-c", "import ssl, _ssl"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
