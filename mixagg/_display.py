"""One-line representations of result objects (``docs/aggregation.md``, "Reading a result").

A result's ``repr`` names what it is and its few headline figures; arrays appear
by shape, never by content, so ``print(result)`` stays one line however many
machines or components it holds. The full record is in ``summary()``,
``to_dict()`` or the attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["brief", "one_line"]


def brief(value: Any) -> str:
    """A value in a few characters: numbers to 4 significant digits, arrays by shape, long text cut."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray):
        if value.size <= 4 and value.ndim <= 1:
            return "[" + ", ".join(brief(v) for v in value.tolist()) + "]"
        return f"<array {'x'.join(map(str, value.shape))}>"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"<{len(value)} items>"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return repr(value)


def one_line(name: str, **fields: Any) -> str:
    """``name(key=value, ...)`` with :func:`brief` values; ``None`` fields are left out."""
    parts = [f"{key}={brief(value)}" for key, value in fields.items() if value is not None]
    return f"{name}(" + ", ".join(parts) + ")"
