"""The record of a machine whose transmitted estimate was refused.

It is made by :mod:`mixagg.wire` and reported by ``aggregate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Rejected"]


@dataclass(frozen=True)
class Rejected:
    """A transmitted estimate that failed validation: who sent it (when known) and why.

    ``aggregate`` accepts these among the estimates: they are excluded before the COAT, listed
    in ``AggregationResult.rejected`` and counted as failed machines by the majority rule.

    Attributes
    ----------
    machine_id : str, int or None
        The sender's id if the payload carried a readable one.
    reason : str
        What was wrong, in one sentence.
    source : str or None
        The file it was read from (:func:`mixagg.wire.load_many`), if any.
    """

    machine_id: str | int | None
    reason: str
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain types (a named list in R)."""
        return {"machine_id": self.machine_id, "reason": self.reason, "source": self.source}
