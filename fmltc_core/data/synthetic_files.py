"""Synthetic CIC-IDS2017-shaped file sets for loader tests and benchmarks.

:func:`write_cicids2017_like` writes MachineLearningCVE-style day files with
the original 79-column header (65 names with a leading space, the duplicated
``Fwd Header Length``) and the quirks of the real copies: ``Infinity`` and
``NaN`` rates, ``-1`` window placeholders, web-attack labels whose dash is a
raw cp1252 ``0x96`` byte, U+FFFD or double-encoded mojibake, CRLF line
endings in the Friday files and a UTF-8 byte-order mark on one file.

The values are random numbers with no traffic meaning; the files only have
the *shape* of the real ones. They are for measuring loading speed and
memory, never for learning.

Speed: formatting millions of random floats as CSV text is what made a naive
writer slow (pandas ``to_csv`` of 2.83 M rows took about 9 minutes). Instead,
the feature columns are split into two groups; for each group a pool of
formatted text fragments (one fragment per random row) is made once per file
with pandas, and every written row joins a randomly drawn fragment of each
group and a label. With ``pool_rows`` fragments per group there are
``pool_rows ** 2`` possible rows, so a full-size set holds few exact duplicate
rows (the real files hold about 10 %), and a value's digits are as long as
those of freshly drawn values, so the parser does the same work.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fmltc_core.data.vocabulary import CICFLOWMETER_FEATURES

logger = logging.getLogger(__name__)

# Header names of the original files that have no leading space.
_NO_LEADING_SPACE = {
    "Total Length of Fwd Packets", "Bwd Packet Length Max", "Flow Bytes/s",
    "Fwd IAT Total", "Bwd IAT Total", "Fwd PSH Flags", "Fwd Packets/s",
    "FIN Flag Count", "Fwd Avg Bytes/Bulk", "Bwd Avg Bulk Rate",
    "Subflow Fwd Packets", "Init_Win_bytes_forward", "Active Mean", "Idle Mean",
}
_DUPLICATE_AFTER = "Avg Bwd Segment Size"  # the second Fwd Header Length follows it
# Formatted fragments per column group and file (pool_rows ** 2 distinct rows).
_POOL_ROWS = 8192
_RATE_COLUMNS = ("Flow Bytes/s", "Flow Packets/s")
_FLOAT_WORDS = ("Mean", "Std", "Variance", "/s", "Ratio", "Average", "Avg")

# Placeholders replaced by damaged byte sequences after formatting.
_DASH_BYTES = {
    "<DASH96>": b"\x96",  # the original cp1252 en dash (not UTF-8)
    "<FFFD>": "\ufffd".encode(),  # replacement character
    "<MOJIBAKE>": "\u00ef\u00bf\u00bd".encode(),  # U+FFFD double-encoded
}

# The eight day files, their real row counts and labels (attack share 20 %).
DAY_FILES = (
    ("Monday-WorkingHours.pcap_ISCX.csv", 529_918, ()),
    ("Tuesday-WorkingHours.pcap_ISCX.csv", 445_909, ("FTP-Patator", "SSH-Patator")),
    ("Wednesday-workingHours.pcap_ISCX.csv", 692_703,
     ("DoS slowloris", "DoS Slowhttptest", "DoS Hulk", "DoS GoldenEye",
      "Heartbleed")),
    ("Thursday-WorkingHours-Morning-WebAttacks.pcap_ISCX.csv", 170_366,
     ("Web Attack <DASH96> Brute Force", "Web Attack <FFFD> XSS",
      "Web Attack <MOJIBAKE> Sql Injection")),
    ("Thursday-WorkingHours-Afternoon-Infilteration.pcap_ISCX.csv", 288_602,
     ("Infiltration",)),
    ("Friday-WorkingHours-Morning.pcap_ISCX.csv", 191_033, ("Bot",)),
    ("Friday-WorkingHours-Afternoon-PortScan.pcap_ISCX.csv", 286_467, ("PortScan",)),
    ("Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv", 225_745, ("DDoS",)),
)


def original_header() -> list[str]:
    """The 79 raw header names of a MachineLearningCVE file, in order."""
    names = [
        name if name in _NO_LEADING_SPACE else f" {name}"
        for name in CICFLOWMETER_FEATURES
    ]
    position = CICFLOWMETER_FEATURES.index(_DUPLICATE_AFTER) + 1
    names.insert(position, " Fwd Header Length")
    return [*names, " Label"]


def _block(
    rng: np.random.Generator, n_rows: int, labels: tuple[str, ...]
) -> pd.DataFrame:
    """One block of random rows with the quirks of the real files."""
    columns = {}
    for name in CICFLOWMETER_FEATURES:
        if any(word in name for word in _FLOAT_WORDS):
            columns[name] = np.round(rng.exponential(1000.0, n_rows), 3)
        else:
            columns[name] = rng.integers(0, 65_536, n_rows)
    for name in _RATE_COLUMNS:
        values = columns[name]
        values[rng.random(n_rows) < 0.001] = np.inf
        values[rng.random(n_rows) < 0.0005] = np.nan
    for name in ("Init_Win_bytes_forward", "Init_Win_bytes_backward"):
        columns[name][rng.random(n_rows) < 0.3] = -1
    frame = pd.DataFrame(columns)
    frame.insert(
        CICFLOWMETER_FEATURES.index(_DUPLICATE_AFTER) + 1,
        "Fwd Header Length (copy)", frame["Fwd Header Length"],
    )
    label = np.full(n_rows, "BENIGN", dtype=object)
    if labels:
        attack = rng.random(n_rows) < 0.2
        label[attack] = rng.choice(np.array(labels, dtype=object), int(attack.sum()))
    frame["Label"] = label
    return frame


def _text_fragments(frame: pd.DataFrame) -> np.ndarray:
    """Each row of ``frame`` as CSV bytes followed by a comma (object array)."""
    text = frame.to_csv(header=False, index=False, na_rep="NaN", lineterminator="\n")
    for _ in range(2):  # adjacent rate columns need two passes
        text = text.replace(",inf,", ",Infinity,")
    text = text.replace(",inf\n", ",Infinity\n")
    lines = text.encode().split(b"\n")[:-1]
    fragments = np.empty(len(lines), dtype=object)
    fragments[:] = [line + b"," for line in lines]
    return fragments


def _label_bytes(label: str, newline: bytes) -> bytes:
    """A label with its placeholder replaced by the damaged bytes, plus newline."""
    data = label.encode()
    for placeholder, raw in _DASH_BYTES.items():
        data = data.replace(placeholder.encode(), raw)
    return data + newline


def write_cicids2017_like(
    folder: str | Path,
    n_rows: int,
    *,
    n_files: int = 8,
    seed: int = 0,
    block_rows: int = 100_000,
) -> list[Path]:
    """Write a CIC-IDS2017 MachineLearningCVE-shaped file set.

    Each row joins a random fragment from each of two pools of formatted
    feature values (see the module notes) and a label drawn like the real
    day's (80 % ``BENIGN``). 2,830,743 rows take well under a minute.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    n_rows : int
        Total data rows, split over the files in the real day files'
        proportions (2,830,743 rows reproduces the full dataset's size).
    n_files : int
        How many of the eight day files to write (1 to 8).
    seed : int
        Seed of the random values.
    block_rows : int
        Rows assembled and written at a time (bounds memory).

    Returns
    -------
    list of Path
        The files written.
    """
    if not 1 <= n_files <= len(DAY_FILES):
        raise ValueError(f"n_files must be in 1..{len(DAY_FILES)}, got {n_files}")
    if n_rows < n_files:
        raise ValueError(f"n_rows must be >= n_files ({n_files}), got {n_rows}")
    if isinstance(block_rows, bool) or not isinstance(block_rows, int) or (
        block_rows < 1
    ):
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    days = DAY_FILES[:n_files]
    weights = np.array([rows for _, rows, _ in days], dtype=float)
    counts = np.floor(weights / weights.sum() * n_rows).astype(int)
    counts[0] += n_rows - counts.sum()
    header = ",".join(original_header())
    # The first group ends after the duplicated column, so both copies of
    # Fwd Header Length come from the same fragment and stay equal.
    split = CICFLOWMETER_FEATURES.index(_DUPLICATE_AFTER) + 2
    written = []
    for index, ((name, _, labels), count) in enumerate(zip(days, counts, strict=True)):
        newline = b"\r\n" if name.startswith("Friday") else b"\n"

        # pools of formatted fragments, one pool per column group
        pool_rows = int(min(count, _POOL_ROWS))
        features = _block(rng, pool_rows, ()).drop(columns="Label")
        first = _text_fragments(features.iloc[:, :split])
        second = _text_fragments(features.iloc[:, split:])
        label_pool = np.empty(1 + len(labels), dtype=object)
        label_pool[:] = [_label_bytes(label, newline) for label in ("BENIGN", *labels)]

        path = folder / name
        with path.open("wb") as handle:
            if index == min(3, n_files - 1):
                handle.write(b"\xef\xbb\xbf")
            handle.write(header.encode() + newline)
            for start in range(0, count, block_rows):
                size = min(block_rows, count - start)
                label_index = np.zeros(size, dtype=np.intp)
                if labels:
                    attack = rng.random(size) < 0.2
                    label_index[attack] = rng.integers(
                        1, len(label_pool), int(attack.sum())
                    )
                rows = (
                    first[rng.integers(pool_rows, size=size)]
                    + second[rng.integers(pool_rows, size=size)]
                    + label_pool[label_index]
                )
                # the second fragment ends with a comma; the label follows it
                handle.write(b"".join(rows.tolist()))
        written.append(path)
        logger.info("wrote %s (%d rows)", path.name, count)
    return written
