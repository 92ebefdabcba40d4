"""The table every loader and the simulator return: :class:`FlowData`.

A ``FlowData`` holds one dataset as a pandas frame with a fixed set of
metadata columns and an explicit list of model feature columns. Only the
columns named in ``feature_columns`` may ever reach a model; identifiers,
addresses, ports used as identifiers, timestamps and secondary label
columns stay in the metadata (see :func:`check_no_leakage`).

Metadata columns
----------------
``label``        unified fine label name (``"benign"`` for normal traffic),
                 see :mod:`fmltc_core.data.vocabulary`
``family``       coarse attack family shared by all datasets (``"benign"``,
                 ``"dos"``, ``"ddos"``, ``"scan"``, ``"brute_force"``,
                 ``"web_attack"``, ``"botnet"``, ``"infiltration"``,
                 ``"exploit"``, ``"other"``)
``is_attack``    int8, 1 for any attack label
``time``         datetime64[ns, UTC]; NaT for files without timestamps
``order``        int64 capture order (row order in the file, or ``pkSeqID``)
``source_file``  the file (name only) the row came from
Optional: ``site``, ``device``, ``campaign`` (simulator only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fmltc_core.data.report import DataReport

META_COLUMNS = ("label", "family", "is_attack", "time", "order", "source_file")
OPTIONAL_META_COLUMNS = ("site", "device", "campaign")
TIME_SOURCES = ("timestamp", "capture_order", "pkSeqID")

# Substrings that must never appear in a model feature name (label leakage).
FORBIDDEN_FEATURE_WORDS = (
    "label",
    "family",
    "attack",
    "category",
    "timestamp",
    "stime",
    "ltime",
    "flow id",
    "flow_id",
    "src ip",
    "dst ip",
    "source ip",
    "destination ip",
    "saddr",
    "daddr",
    "uid",
    "id.orig_h",
    "id.resp_h",
    "pkseqid",
    "ts",
    "site",
    "device",
    "campaign",
    "order",
    "source_file",
)


@dataclass
class FlowData:
    """One loaded (or simulated) dataset.

    Attributes
    ----------
    frame : pandas.DataFrame
        Feature columns (float32) plus the metadata columns above.
    feature_columns : list of str
        The explicit, checked list of model inputs.
    dataset : str
        ``"cicids2017"``, ``"bot_iot"``, ``"iot23"`` or ``"simulated"``.
    time_source : str
        ``"timestamp"`` when ``time`` is real, otherwise the stand-in order
        used for time windows (``"capture_order"`` or ``"pkSeqID"``).
    report : DataReport
        Every repair and drop made while loading.
    simulated : bool
        True for the traffic simulator's output.
    """

    frame: pd.DataFrame
    feature_columns: list[str]
    dataset: str
    time_source: str
    report: DataReport = field(default_factory=DataReport)
    simulated: bool = False

    def __post_init__(self) -> None:
        if self.time_source not in TIME_SOURCES:
            raise ValueError(
                f"time_source must be one of {TIME_SOURCES}, got {self.time_source!r}"
            )
        missing = [c for c in META_COLUMNS if c not in self.frame.columns]
        if missing:
            raise ValueError(f"FlowData frame lacks metadata columns {missing}")
        absent = [c for c in self.feature_columns if c not in self.frame.columns]
        if absent:
            raise ValueError(f"feature columns not in frame: {absent}")
        check_no_leakage(self.feature_columns)

    @property
    def features(self) -> np.ndarray:
        """Feature matrix, float32, shape (n_flows, n_features)."""
        return self.frame[self.feature_columns].to_numpy(dtype=np.float32)

    @property
    def n_flows(self) -> int:
        return len(self.frame)


def check_no_leakage(feature_columns: list[str]) -> None:
    """Raise ``ValueError`` if a feature name looks like metadata or a label.

    Matching is on whole lower-cased names and on word-like substrings, so
    ``"Flow IAT Mean"`` passes while ``"Timestamp"`` or ``"Src IP"`` fail.
    """
    bad = []
    for name in feature_columns:
        lowered = name.strip().lower()
        if lowered in META_COLUMNS or lowered in OPTIONAL_META_COLUMNS:
            bad.append(name)
            continue
        tokens = lowered.replace("_", " ").replace(".", " ").split()
        for word in FORBIDDEN_FEATURE_WORDS:
            word_tokens = word.replace("_", " ").replace(".", " ").split()
            if not word_tokens:
                continue
            n = len(word_tokens)
            if any(
                tokens[i : i + n] == word_tokens for i in range(len(tokens) - n + 1)
            ):
                bad.append(name)
                break
    if bad:
        raise ValueError(
            f"feature columns {bad} look like identifiers, timestamps or labels "
            "and must not be model inputs (label leakage)"
        )
