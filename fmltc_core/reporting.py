"""Tables of the reproduction: CSV plus Markdown under one fixed stem.

Every table goes to ``<stem>.csv`` (for machines) and ``<stem>.md`` (for
reviewers), with a first Markdown line that says which data it came from.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)


def write_table(
    frame: pd.DataFrame, stem: str | Path, *, caption: str, float_format: str = ".3f"
) -> tuple[Path, Path]:
    """Write ``frame`` to ``stem.csv`` and ``stem.md`` and return both paths.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is written when it is named.
    stem : str or Path
        Output path without suffix, e.g. ``figures/table1_bot_iot``.
    caption : str
        One line stating what the table shows and which data it came from.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    keep_index = frame.index.name is not None or any(frame.index.names)
    csv_path = stem.with_suffix(".csv")
    md_path = stem.with_suffix(".md")
    frame.to_csv(csv_path, index=keep_index)
    # integer columns print as integers, everything else with float_format
    columns = ([frame.index] if keep_index else []) + [frame[c] for c in frame]
    formats = [
        "g" if pd.api.types.is_integer_dtype(column) else float_format
        for column in columns
    ]
    body = frame.to_markdown(index=keep_index, floatfmt=formats)
    md_path.write_text(f"{caption}\n\n{body}\n")
    logger.info("wrote %s and %s", csv_path, md_path)
    return csv_path, md_path
