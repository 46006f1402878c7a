"""The rpy2 back-end: the real R package MixSim called in an embedded R (docs/mixsim.md).

Every call goes through one R wrapper that captures what MixSim prints and turns R errors into
data, so that MixSim's three ways of failing (``NULL`` with a printed message, an R ``stop()``,
and outputs that are wrong but look like success, traps 5.4, 5.7, 5.8) all become one
:class:`~mixagg.exceptions.MixSimError`. Arrays cross the boundary as flat column-major vectors
with their ``dim`` (:mod:`.convert`), never through rpy2's numpy converter.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import MixSimError
from . import convert
from .native_overlap import OverlapResult

__all__ = ["RStatus", "call_mixsim", "call_overlap", "r_status"]

#: The R functions called; module attributes so tests can point them at stand-ins written in base R.
MIXSIM_FUNCTION = "MixSim::MixSim"
OVERLAP_FUNCTION = "MixSim::overlap"

INSTALL_RPY2 = (
    "install rpy2 3.5.x (3.6 does not load against R 4.2): pip install 'rpy2>=3.5.13,<3.6' 'numpy<2', "
    "or pip install '.[r]' from a checkout of mixagg"
)
INSTALL_R = "install R first (Debian/Ubuntu: sudo apt-get install r-base-core r-base-dev), then reinstall rpy2"
EMBEDDED_IN_R = (
    "Python is running inside R (reticulate), where rpy2 cannot start a second R; "
    "call MixSim::MixSim in R and pass Pi, Mu and S to mixagg.MixingDistribution"
)
INSTALL_MIXSIM = 'install the R package MixSim from CRAN: in R, install.packages("MixSim")'

# The wrapper: calls `fun` with the arguments, captures Rprintf output, and returns errors as data.
_CALL_WRAPPER = """
function(fun, args) {
    output <- character(0)
    result <- tryCatch({
        output <- utils::capture.output(value <- do.call(fun, args))
        list(value = value, error = NULL)
    }, error = function(e) list(value = NULL, error = conditionMessage(e)))
    list(value = result$value, error = result$error, output = output)
}
"""


@dataclass(frozen=True)
class RStatus:
    """What the R back-end can use: rpy2's and R's versions, whether MixSim loads, and why not."""

    rpy2_version: str | None
    r_version: str | None
    mixsim_version: str | None
    problem: str | None

    @property
    def available(self) -> bool:
        return self.problem is None


def import_robjects() -> Any:
    """``import rpy2.robjects``, keeping this process's ``LD_LIBRARY_PATH`` as it was.

    Starting R, rpy2 puts R's library directories (``/usr/lib/R/lib:/usr/lib/x86_64-linux-gnu``)
    first in ``LD_LIBRARY_PATH``. This process has already loaded its libraries, so only child
    processes see it, and a child Python (a worker process, a Dask worker) then loads the
    system's ``libpython`` instead of its own and fails (e.g. ``_ssl``: undefined symbol).
    """
    saved = os.environ.get("LD_LIBRARY_PATH")
    try:
        import rpy2.robjects as ro
    finally:
        if saved is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = saved
    return ro


def r_status() -> RStatus:
    """Probe rpy2, the embedded R and MixSim without raising (used by ``backend="auto"`` and ``show_versions``)."""
    if "rpycall" in sys.modules:  # reticulate's module: this Python runs inside an R process
        return RStatus(None, None, None, EMBEDDED_IN_R)
    try:
        import rpy2
    except ImportError:
        return RStatus(None, None, None, f"rpy2 is not installed: {INSTALL_RPY2}")
    try:
        ro = import_robjects()
    except Exception as exc:  # rpy2 raises assorted errors when R is missing or does not match
        return RStatus(rpy2.__version__, None, None, f"rpy2 {rpy2.__version__} cannot start R ({exc}): {INSTALL_R}")
    r_version = str(ro.r("R.version.string")[0])
    loaded = ro.r('isTRUE(suppressWarnings(requireNamespace("MixSim", quietly = TRUE)))')[0]
    if not loaded:
        return RStatus(
            rpy2.__version__, r_version, None, f"the R package MixSim is not installed in {r_version}: {INSTALL_MIXSIM}"
        )
    version = str(ro.r('as.character(utils::packageVersion("MixSim"))')[0])
    return RStatus(rpy2.__version__, r_version, version, None)


def _call(function: str, args: dict[str, Any], seed: int | None) -> Any:
    """Call the R function named ``function`` (e.g. ``"MixSim::MixSim"``); the value, or MixSimError with R's words."""
    ro = import_robjects()
    if seed is not None:  # R's default generators, whatever RNGkind the session had (docs/mixsim.md, "Back-ends")
        ro.r["set.seed"](seed, kind="Mersenne-Twister", **{"normal.kind": "Inversion", "sample.kind": "Rejection"})
    wrapped = ro.r(_CALL_WRAPPER)(ro.r(function), ro.ListVector(args))
    value, error, output = wrapped.rx2("value"), wrapped.rx2("error"), wrapped.rx2("output")
    printed = " ".join(str(line).strip() for line in output)
    if error is not ro.NULL:
        raise MixSimError(f"R's {function} stopped with an error: {error[0]}")
    if value is ro.NULL:
        raise MixSimError(f"R's {function} returned NULL" + (f": {printed}" if printed else " without a message"))
    return value


def _flat(value: Any) -> np.ndarray:
    return np.array(list(value), dtype=float)


def _dim(value: Any) -> list[int]:
    dim = import_robjects().r["dim"](value)
    return [] if dim is import_robjects().NULL else [int(v) for v in dim]


def _overlap_from_r(value: Any, k: int, function: str) -> OverlapResult:
    """OmegaMap (column-major K x K), BarOmega, MaxOmega, rcMax (1-based) from an R list (checked, pitfall 7)."""
    try:
        omega = convert.matrix_from_r(_flat(value.rx2("OmegaMap")), _dim(value.rx2("OmegaMap")))
    except (ValueError, TypeError) as exc:
        raise MixSimError(f"R's {function} returned a malformed OmegaMap: {exc}") from None
    if omega.shape != (k, k) or not np.all(np.isfinite(omega)):
        raise MixSimError(f"R's {function} returned an OmegaMap of shape {omega.shape} or with non-finite entries")
    if np.any(omega < 0):
        raise MixSimError(
            f"R's {function} returned negative overlaps ({omega.min():g}): its Davies evaluations failed "
            "(docs/mixsim.md, pitfall 7); raise lim or eps, or use backend='python'"
        )
    rc = convert.index_from_r(_flat(value.rx2("rcMax")))
    if len(rc) != 2:
        raise MixSimError(f"R's {function} returned rcMax of length {len(rc)}, expected 2")
    bar, top = float(_flat(value.rx2("BarOmega"))[0]), float(_flat(value.rx2("MaxOmega"))[0])
    return OverlapResult(omega, bar, top, (rc[0], rc[1]), "r")


def call_mixsim(
    arguments: dict[str, Any], seed: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, OverlapResult]:
    """``set.seed(seed); MixSim(...)`` with MixSim's argument names; ``(Pi, Mu (K, p), S (K, p, p), overlaps)``.

    Raises :class:`MixSimError` for a ``NULL`` result, an R error, negative overlaps, or
    covariance matrices that are not positive definite (MixSim's zero matrices, pitfall 8).
    """
    ro, function = import_robjects(), MIXSIM_FUNCTION
    r_args = {}
    for name, val in arguments.items():
        if val is None:
            r_args[name] = ro.NULL
        elif isinstance(val, bool):
            r_args[name] = ro.BoolVector([val])
        elif isinstance(val, int):
            r_args[name] = ro.IntVector([val])
        else:
            r_args[name] = ro.FloatVector(np.atleast_1d(np.asarray(val, dtype=float)))
    value = _call(function, r_args, seed)
    k, p = int(arguments["K"]), int(arguments["p"])
    try:
        weights = _flat(value.rx2("Pi"))
        means = convert.matrix_from_r(_flat(value.rx2("Mu")), _dim(value.rx2("Mu")))
        covs = convert.covariances_from_r(_flat(value.rx2("S")), _dim(value.rx2("S")))
    except (ValueError, TypeError) as exc:
        raise MixSimError(f"R's {function} returned malformed Pi, Mu or S: {exc}") from None
    if weights.shape != (k,) or means.shape != (k, p) or covs.shape != (k, p, p):
        raise MixSimError(
            f"R's {function} returned Pi, Mu, S of shapes {weights.shape}, {means.shape}, {covs.shape}; "
            f"expected K={k}, p={p}"
        )
    covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))  # symmetric to about 1 ulp in R (docs/mixsim.md, pitfall 1)
    for index, cov in enumerate(covs):
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise MixSimError(
                f"R's {function} reported success but covariance {index} is not positive definite "
                "(its both-target second stage failed, docs/mixsim.md pitfall 8); change the targets or use "
                "backend='python'"
            ) from None
    return weights, means, covs, _overlap_from_r(value, k, function)


def call_overlap(weights: np.ndarray, means: np.ndarray, covs: np.ndarray, eps: float, lim: int) -> OverlapResult:
    """``MixSim::overlap(Pi, Mu, S, eps, lim)`` with ``Mu`` a K x p matrix and ``S`` a p x p x K array (pitfall 3)."""
    ro, function = import_robjects(), OVERLAP_FUNCTION
    mu_values, mu_dim = convert.matrix_to_r(means)
    s_values, s_dim = convert.covariances_to_r(covs)
    args = {
        "Pi": ro.FloatVector(weights),
        "Mu": ro.r["array"](ro.FloatVector(mu_values), dim=ro.IntVector(mu_dim)),
        "S": ro.r["array"](ro.FloatVector(s_values), dim=ro.IntVector(s_dim)),
        "eps": ro.FloatVector([eps]),
        "lim": ro.IntVector([lim]),
    }
    return _overlap_from_r(_call(function, args, None), len(weights), function)
