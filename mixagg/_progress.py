"""Progress displays that stay out of log files (``docs/cli.md``, "Long runs").

Every long-running function takes ``progress=``: ``"auto"`` (the default) shows a
tqdm bar only when standard error is a terminal, ``True`` shows progress anywhere
and ``False`` never. Off a terminal a forced display writes whole lines at most
every few seconds instead of a bar redrawn with carriage returns, so a log or a
pipe receives a readable record rather than a flood of ``\\r``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["LineProgress", "check_progress", "progress_bar", "progress_enabled"]

#: Seconds between two lines of a progress display written off a terminal.
LINE_INTERVAL = 5.0


def check_progress(progress: Any, name: str = "progress") -> bool | str:
    """Validate a ``progress=`` argument: ``True``, ``False`` or ``"auto"``."""
    if isinstance(progress, bool) or progress == "auto":
        return progress
    raise ValueError(f"{name} must be True, False or 'auto', got {progress!r}")


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_enabled(progress: Any, stream: TextIO | None = None) -> bool:
    """Whether ``progress`` (validated) turns the display on for ``stream`` (default: standard error)."""
    progress = check_progress(progress)
    if progress == "auto":
        return _is_terminal(sys.stderr if stream is None else stream)
    return bool(progress)


class LineProgress:
    """A progress display for logs: one line per ``interval`` seconds, and one when it closes.

    It offers the part of tqdm's interface the toolkit uses (``update``,
    ``set_postfix``, ``set_postfix_str``, ``close``, context manager).
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str,
        stream: TextIO | None = None,
        interval: float = LINE_INTERVAL,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.interval = interval
        self.n = 0
        self.postfix = ""
        self._start = time.perf_counter()
        self._last = self._start
        self._closed = False

    def _line(self) -> str:
        done = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        tail = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {done} {self.unit}s, {time.perf_counter() - self._start:.1f} s{tail}\n"

    def _write(self) -> None:
        self.stream.write(self._line())
        self.stream.flush()
        self._last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.perf_counter() - self._last >= self.interval:
            self._write()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._write()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(
    total: int | None,
    *,
    desc: str,
    unit: str,
    progress: Any = "auto",
    stream: TextIO | None = None,
) -> Any:
    """A progress display over ``total`` steps on ``stream`` (default: standard error).

    A tqdm bar on a terminal, a :class:`LineProgress` off a terminal when
    ``progress=True``, and a disabled tqdm bar (it writes nothing) when the
    display is off.
    """
    out = sys.stderr if stream is None else stream
    enabled = progress_enabled(progress, out)
    if enabled and not _is_terminal(out):
        return LineProgress(total, desc=desc, unit=unit, stream=out)
    from tqdm.auto import tqdm  # imported on use: ``import mixagg`` loads no progress library

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=True, file=out)
