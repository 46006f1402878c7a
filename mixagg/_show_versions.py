"""``mixagg.show_versions()``: the versions a bug report needs, including the R side (rpy2, R, MixSim, reticulate)."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys

__all__ = ["show_versions", "versions"]

PYTHON_PACKAGES = (
    "mixagg",
    "numpy",
    "scipy",
    "scikit-learn",
    "POT",
    "numba",
    "statsmodels",
    "matplotlib",
    "tqdm",
    "dask",
    "distributed",
    "rpy2",
)


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _rscript_versions() -> dict[str, str]:
    """R's version and its packages' versions from ``Rscript`` (a subprocess, so this works without rpy2)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return {"R": "not found (Debian: sudo apt-get install r-base-core)"}
    code = (
        'cat(R.version.string, "\\n"); for (p in c("MixSim", "mclust", "reticulate")) '
        "cat(p, if (requireNamespace(p, quietly = TRUE)) as.character(utils::packageVersion(p)) "
        'else "not installed", "\\n")'
    )
    try:
        out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"R": f"Rscript failed: {exc}"}
    lines = out.strip().splitlines()
    info = {"R": lines[0].strip() if lines else "unknown"}
    for line in lines[1:]:
        name, _, version = line.strip().partition(" ")
        info[f"R package {name}"] = version.strip()
    return info


def versions() -> dict[str, dict[str, str]]:
    """The information :func:`show_versions` prints, as nested dicts (``python``, ``packages``, ``r``)."""
    from .r_bridge.dispatch import _r_status

    status = _r_status()
    r_info = _rscript_versions()
    r_info["rpy2 back-end"] = "available (MixSim loads)" if status.available else f"unavailable: {status.problem}"
    return {
        "python": {
            "version": sys.version.replace("\n", " "),
            "executable": sys.executable,
            "platform": platform.platform(),
        },
        "packages": {name: _package_version(name) for name in PYTHON_PACKAGES},
        "r": r_info,
    }


def show_versions() -> None:
    """Print Python, platform, package versions, and the R situation (R, MixSim, mclust, reticulate, rpy2 back-end).

    Examples
    --------
    >>> import mixagg
    >>> mixagg.show_versions()  # doctest: +SKIP
    """
    for section, info in versions().items():
        print(f"\n{section.upper()}:")
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"  {key:>{width}}: {value}")
