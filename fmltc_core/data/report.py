"""Data report: every repair and drop a loader or pipeline stage makes.

Real flow files are dirty (stray whitespace in headers, ``Infinity`` rates,
mojibake labels, ...). Nothing is repaired or dropped silently: each stage
records what it did in a :class:`DataReport`, per file and per reason, and
logs it. The report travels with the data and is written next to the
figures by notebook 01.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

logger = logging.getLogger(__name__)

ACTIONS = ("repaired", "dropped", "warning", "added")


@dataclass
class DataReport:
    """Counts of repairs, drops and warnings, keyed by file, reason and action.

    Examples
    --------
    >>> report = DataReport()
    >>> report.add("a.csv", "infinite rate set to NaN", 3)
    >>> report.add("a.csv", "empty row", 1, action="dropped")
    >>> report.total("dropped")
    1
    """

    counts: dict[tuple[str, str, str], int] = field(
        default_factory=lambda: defaultdict(int)
    )

    def add(self, file: str, reason: str, count: int, action: str = "repaired") -> None:
        """Record ``count`` events of ``reason`` in ``file`` and log them.

        Zero counts are ignored so callers can report unconditionally.
        """
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        count = int(count)
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if count == 0:
            return
        self.counts[(str(file), reason, action)] += count
        level = logging.WARNING if action in ("dropped", "warning") else logging.INFO
        logger.log(level, "%s: %s %d (%s)", file, action, count, reason)

    def merge(self, other: DataReport) -> DataReport:
        """Add every count of ``other`` to this report (no logging) and return it."""
        for key, value in other.counts.items():
            self.counts[key] += value
        return self

    def total(self, action: str | None = None, reason: str | None = None) -> int:
        """Sum of counts, optionally restricted to one action and/or reason."""
        return sum(
            value
            for (_, key_reason, key_action), value in self.counts.items()
            if (action is None or key_action == action)
            and (reason is None or key_reason == reason)
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per (file, reason, action) with its count, sorted."""
        rows = [
            {"file": file, "reason": reason, "action": action, "count": count}
            for (file, reason, action), count in self.counts.items()
        ]
        frame = pd.DataFrame(rows, columns=["file", "reason", "action", "count"])
        return frame.sort_values(["file", "action", "reason"], ignore_index=True)

    def to_markdown(self) -> str:
        """The report as a Markdown table (``no repairs or drops`` when empty)."""
        frame = self.to_frame()
        if frame.empty:
            return "_no repairs or drops_\n"
        lines = ["| file | reason | action | count |", "|---|---|---|---:|"]
        for row in frame.itertuples(index=False):
            lines.append(f"| {row.file} | {row.reason} | {row.action} | {row.count} |")
        return "\n".join(lines) + "\n"
