"""Write one benchmark's section of benchmarks/RESULTS.md (between its own markers)."""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\n"
    "Each section is rewritten by the script named in its title (`make bench` runs them). Times are medians of\n"
    "repeated runs in one process; ratios compare against a baseline measured in the same run.\n"
)


def machine() -> str:
    return (
        f"{date.today().isoformat()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {platform.machine()}"
    )


def write_section(name: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
