"""Shared by the vignettes: ``--quick``/``--full`` arguments, tqdm progress, and the markdown/JSON report.

Every vignette writes ``vignettes/_output/NAME/report.md`` (tables and PNG figures) and ``report.json``
(the numbers behind them, which ``tests/test_vignettes.py`` checks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

OUTPUT = Path(__file__).with_name("_output")

__all__ = ["Vignette", "median_iqr"]


def median_iqr(values: Any, digits: int = 4) -> str:
    """``median (IQR)``, as the papers' tables print it."""
    v = np.asarray(values, dtype=float)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{med:.{digits}f} ({q3 - q1:.{digits}f})"


class Vignette:
    """Arguments, output folder and report of one vignette.

    Parameters
    ----------
    name : str
        The vignette's file name without ``.py``.
    title : str
        First heading of the report.
    argv : list of str, optional
        Command-line arguments (default ``sys.argv``); ``--quick`` is the default scale.
    """

    def __init__(self, name: str, title: str, argv: list[str] | None = None):
        parser = argparse.ArgumentParser(prog=f"vignettes/{name}.py", description=title)
        scale = parser.add_mutually_exclusive_group()
        scale.add_argument("--quick", action="store_true", help="CI scale (the default), at most about 2 minutes")
        scale.add_argument("--full", action="store_true", help="the paper's scale where feasible on 2 cores")
        parser.add_argument("--out", type=Path, default=None, help=f"output folder (default vignettes/_output/{name})")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        args, _ = parser.parse_known_args(argv)  # Jupyter passes its own arguments
        self.name, self.title = name, title
        self.full = bool(args.full)
        self.quick = not self.full
        self.progress = not args.no_progress
        self.out = args.out if args.out is not None else OUTPUT / name
        self.out.mkdir(parents=True, exist_ok=True)
        self._start = time.perf_counter()
        self._parts: list[str] = []
        self.data: dict[str, Any] = {"name": name, "scale": "full" if self.full else "quick"}

    def pick(self, quick: Any, full: Any) -> Any:
        """``quick`` or ``full`` according to the scale."""
        return full if self.full else quick

    def bar(self, iterable: Any = None, **kwargs: Any) -> Any:
        """A tqdm progress bar (silent with ``--no-progress``)."""
        return tqdm(iterable, disable=not self.progress, **kwargs)

    def text(self, markdown: str) -> None:
        self._parts.append(markdown.strip())

    def table(self, header: list[str], rows: list[list[Any]], caption: str | None = None) -> None:
        """A markdown table (numbers formatted as given)."""
        lines = [] if caption is None else [f"**{caption}**", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("| " + " | ".join("---" for _ in header) + " |")
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        self._parts.append("\n".join(lines))

    def figure(self, fig: Any, filename: str, caption: str) -> Path:
        """Save a matplotlib figure as PNG next to the report and reference it."""
        import matplotlib.pyplot as plt

        path = self.out / filename
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self._parts.append(f"![{caption}]({filename})\n\n*{caption}*")
        self.data.setdefault("figures", []).append(filename)
        return path

    def write(self) -> Path:
        """Write ``report.md`` and ``report.json``; print where."""
        seconds = time.perf_counter() - self._start
        self.data["seconds"] = seconds
        machine = f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()})"
        footer = (
            f"*{self.data['scale']} run of {date.today().isoformat()}: {seconds:.0f} s on {machine}; "
            f"Python {platform.python_version()}, numpy {np.__version__}.*"
        )
        md = self.out / "report.md"
        md.write_text(f"# {self.title}\n\n" + "\n\n".join(self._parts) + f"\n\n{footer}\n")
        (self.out / "report.json").write_text(json.dumps(self.data, indent=1, default=_plain))
        print(f"report: {md} ({seconds:.0f} s)")
        return md


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
