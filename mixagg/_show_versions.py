"""``mixagg.show_versions()``: the versions a bug report needs, including the R side (rpy2, R, MixSim, reticulate)."""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys

__all__ = ["known_problems", "show_versions", "versions"]

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


def _version_tuple(text: str) -> tuple[int, ...] | None:
    """``"1.28"`` -> ``(1, 28)``; ``"R version 4.2.2 (2022-10-31)"`` -> ``(4, 2, 2)``; None if no version is found."""
    found = re.search(r"(\d+(?:\.\d+)*)", text or "")
    return None if found is None else tuple(int(part) for part in found.group(1).split("."))


def known_problems(info: dict[str, dict[str, str]]) -> list[str]:
    """Version combinations known not to work, each with what to do.

    ``info`` is what :func:`versions` returns. Checked: reticulate before 1.36 with
    NumPy 2 (reticulate refuses to convert arrays of NumPy 2, so calls from R fail), and
    rpy2 3.6 or later with R before 4.3 (rpy2 3.6 does not load against older R). The README's
    "From R" section gives the working set-up.
    """
    problems = []
    numpy = _version_tuple(info.get("packages", {}).get("numpy", ""))
    reticulate = _version_tuple(info.get("r", {}).get("R package reticulate", ""))
    if numpy is not None and reticulate is not None and numpy >= (2,) and reticulate < (1, 36):
        problems.append(
            f"reticulate {'.'.join(map(str, reticulate))} does not work with NumPy {'.'.join(map(str, numpy))}: "
            "calls from R through reticulate fail. Install NumPy 1.x in the Python R uses "
            "(pip install 'numpy<2'), or reticulate 1.36 or later"
        )
    rpy2 = _version_tuple(info.get("packages", {}).get("rpy2", ""))
    r_version = (
        _version_tuple(info.get("r", {}).get("R", "")) if "R version" in info.get("r", {}).get("R", "") else None
    )
    if rpy2 is not None and r_version is not None and rpy2 >= (3, 6) and r_version < (4, 3):
        problems.append(
            f"rpy2 {'.'.join(map(str, rpy2))} does not load against R {'.'.join(map(str, r_version))}: "
            "install rpy2 3.5 (pip install 'rpy2>=3.5,<3.6')"
        )
    return problems


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
    """Print Python, platform, package versions, the R situation (R, MixSim, mclust, reticulate, rpy2 back-end).

    Ends with the known-bad version combinations found (:func:`known_problems`) and what to do.

    Examples
    --------
    >>> import mixagg
    >>> mixagg.show_versions()  # doctest: +SKIP
    """
    report = versions()
    for section, info in report.items():
        print(f"\n{section.upper()}:")
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"  {key:>{width}}: {value}")
    problems = known_problems(report)
    print("\nKNOWN PROBLEMS:" + ("" if problems else " none"))
    for text in problems:
        print(f"  - {text}")
