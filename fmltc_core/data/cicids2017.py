"""Loader for CIC-IDS2017 (Sharafaldin et al., ICISSP 2018) flow CSVs.

Three releases are read, and the release is detected per file from its
header:

``mlcve``
    ``MachineLearningCVE``/``MachineLearningCSV`` day files: 79 columns, no
    timestamp, IP or flow id. ``time`` is NaT, ``time_source`` is
    ``"capture_order"`` and ``order`` is the row order across the files
    taken in sorted file-name order (a warning is logged).
``trafficlabelling``
    ``GeneratedLabelledFlows``/``TrafficLabelling`` files: 85 columns with a
    ``Timestamp`` in the lab's local time (New Brunswick, ADT = UTC-3 in July
    2017), written ``d/m/yyyy H:MM[:SS]`` on a 12-hour clock **without**
    AM/PM. The capture ran from about 08:00 to 18:00 local time, so an hour
    of 1 to 7 is afternoon and gets 12 h added; 8 to 12 are read as written
    (12 is noon) and 13 to 23 as a 24-hour clock. The result is converted to
    UTC by adding 3 h.
``improved``
    The re-extracted and relabelled release by Engelen, Rimmer and Joosen
    (WTMC 2021): 91 columns with UTC ``Timestamp`` in microseconds and
    renamed columns, which are mapped to the original names
    (:data:`~fmltc_core.data.vocabulary.CICIDS2017_IMPROVED_RENAMES`).

Features are the 77 canonical CICFlowMeter columns
(:data:`~fmltc_core.data.vocabulary.CICFLOWMETER_FEATURES`), plus the
improved release's ``Fwd RST Flags``, ``Bwd RST Flags`` and
``Total TCP Flow Time`` when every loaded file has them. ``Flow ID``, IPs,
source port, ``Protocol``, ``Timestamp``, ``id``, ``Label``, ``Attempted
Category``, ``ICMP Code`` and ``ICMP Type`` are never features.

Placeholders: in the original releases ``Init_Win_bytes_forward`` and
``Init_Win_bytes_backward`` hold ``-1`` when no TCP window was seen; the
loader sets them to NaN (reported). The improved release writes 0 there and
is left as is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fmltc_core.data.readers import (
    DEFAULT_CHUNKSIZE,
    FlowTableBuilder,
    TableHeader,
    count_lines,
    iter_chunks,
    read_table_header,
)
from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData
from fmltc_core.data.vocabulary import (
    CICFLOWMETER_FEATURES,
    CICIDS2017_IMPROVED_EXTRA_FEATURES,
    CICIDS2017_IMPROVED_RENAMES,
    cicids2017_label,
    repair_mojibake,
)

logger = logging.getLogger(__name__)

FORMATS = ("mlcve", "trafficlabelling", "improved")
RELEASES = ("auto", "improved", "trafficlabelling", "mlcve", "all")
# Columns that write -1 for "not measured" in the original releases.
PLACEHOLDER_MINUS_ONE = ("Init_Win_bytes_forward", "Init_Win_bytes_backward")
LOCAL_UTC_OFFSET_HOURS = 3  # ADT = UTC-3 during the July 2017 capture
AFTERNOON_HOURS = range(1, 8)  # 12-hour clock without AM/PM: 1..7 means 13..19
CAPTURE_START_UTC = pd.Timestamp("2017-07-03", tz="UTC")
CAPTURE_END_UTC = pd.Timestamp("2017-07-08", tz="UTC")
_LOCAL_TIME = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$"
)


def detect_format(names: Sequence[str]) -> str | None:
    """Release of a CIC-IDS2017 file from its stripped header names, or None."""
    columns = set(names)
    if "Label" not in columns:
        return None
    if "Timestamp" in columns and (
        "Attempted Category" in columns or "Total Fwd Packet" in columns
    ):
        return "improved"
    if "Timestamp" in columns and "Total Fwd Packets" in columns:
        return "trafficlabelling"
    if "Destination Port" in columns and "Total Fwd Packets" in columns:
        return "mlcve"
    return None


def find_files(path: str | Path | Sequence[str | Path], pattern: str) -> list[Path]:
    """Files matching ``pattern`` under ``path`` (a file, a folder or a list),
    sorted by file name.

    Raises
    ------
    FileNotFoundError
        If a path does not exist or nothing matches.
    """
    paths = [path] if isinstance(path, str | Path) else list(path)
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_file():
            found.append(item)
        elif item.is_dir():
            found.extend(p for p in item.rglob(pattern) if p.is_file())
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    if not found:
        raise FileNotFoundError(
            f"no files matching {pattern!r} in {[str(p) for p in paths]} "
            "(see docs/DATASETS.md)"
        )
    return sorted(set(found), key=lambda p: (p.name, str(p)))


def parse_local_timestamps(
    values: pd.Series, *, file: str, lines: np.ndarray, report: DataReport
) -> np.ndarray:
    """TrafficLabelling ``Timestamp`` strings to UTC ``datetime64[ns]``.

    ``d/m/yyyy H:MM[:SS]`` local ADT time on a 12-hour clock without AM/PM;
    see the module docstring for the afternoon rule.

    Raises
    ------
    ValueError
        Naming the file, line and column of a value that does not parse.
    """
    text = values.astype(object)
    uniques = pd.unique(text[text.notna()])
    mapping: dict[object, np.datetime64] = {}
    shifted_values = set()
    for value in uniques:
        match = _LOCAL_TIME.match(str(value))
        if match is None:
            row = int(np.flatnonzero(text.eq(value).to_numpy())[0])
            raise ValueError(
                f"{file}: line {lines[row]}, column 'Timestamp': cannot read "
                f"{value!r} as d/m/yyyy H:MM"
            )
        day, month, year, hour, minute, second = (
            int(group) if group else 0 for group in match.groups()
        )
        if hour in AFTERNOON_HOURS:
            hour += 12
            shifted_values.add(value)
        try:
            local = pd.Timestamp(year, month, day, hour, minute, second)
        except ValueError as error:
            row = int(np.flatnonzero(text.eq(value).to_numpy())[0])
            raise ValueError(
                f"{file}: line {lines[row]}, column 'Timestamp': invalid date "
                f"{value!r} ({error})"
            ) from error
        utc = local + pd.Timedelta(hours=LOCAL_UTC_OFFSET_HOURS)
        mapping[value] = np.datetime64(utc.to_datetime64(), "ns")
    missing = text.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{file}: line {lines[row]}, column 'Timestamp': empty")
    report.add(file, "12-hour timestamp without AM/PM read as afternoon (+12 h)",
               int(text.isin(shifted_values).sum()))
    return text.map(mapping).to_numpy(dtype="datetime64[ns]")


def parse_utc_timestamps(
    values: pd.Series, *, file: str, lines: np.ndarray
) -> np.ndarray:
    """Improved-release ISO timestamps (UTC) to ``datetime64[ns]``.

    Raises
    ------
    ValueError
        Naming the file, line and column of a value that does not parse.
    """
    parsed = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{file}: line {lines[row]}, column 'Timestamp': cannot read "
            f"{values.iloc[row]!r} as an ISO timestamp"
        )
    return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _open_file(path: Path, report: DataReport) -> tuple[TableHeader, str]:
    """Read a file's header, detect its release and map improved names."""
    header = read_table_header(path, report=report)
    release = detect_format(header.names)
    if release is None:
        raise ValueError(
            f"{path.name}: header is not a CIC-IDS2017 MachineLearningCVE, "
            f"TrafficLabelling or improved header (first columns "
            f"{header.names[:5]})"
        )
    if release == "improved":
        header.names = [CICIDS2017_IMPROVED_RENAMES.get(n, n) for n in header.names]
    missing = [name for name in CICFLOWMETER_FEATURES if name not in header.names]
    if missing:
        raise ValueError(f"{path.name}: CIC-IDS2017 feature columns missing: {missing}")
    return header, release


def _select_release(
    opened: list[tuple[TableHeader, str]], release: str
) -> list[tuple[TableHeader, str]]:
    """Keep the files of the requested release ("auto": timestamped first)."""
    if release == "all":
        return opened
    if release == "auto":
        present = {file_release for _, file_release in opened}
        for preferred in ("improved", "trafficlabelling", "mlcve"):
            if preferred in present:
                release = preferred
                break
    return [item for item in opened if item[1] == release]


def load_cicids2017(
    path: str | Path | Sequence[str | Path],
    *,
    release: str = "all",
    report: DataReport | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    progress: bool = False,
) -> FlowData:
    """Load CIC-IDS2017 flow CSVs of any of the three releases.

    Parameters
    ----------
    path : str, Path or sequence of them
        A CSV file, a folder (searched recursively for ``*.csv``) or a list.
    release : str
        ``"all"`` (default) loads every file; ``"mlcve"``,
        ``"trafficlabelling"`` or ``"improved"`` keep that release only;
        ``"auto"`` keeps improved files if any, else TrafficLabelling, else
        MachineLearningCVE.
    report : DataReport, optional
        Receives every repair and drop; a new one is made when omitted.
    chunksize : int
        Data lines parsed at a time (bounds memory).
    progress : bool
        Show a progress bar over the files.

    Returns
    -------
    FlowData
        ``dataset="cicids2017"``; ``time_source="timestamp"`` when every file
        has timestamps, else ``"capture_order"``.

    Raises
    ------
    ValueError
        For an unknown ``release``, a file that is not CIC-IDS2017, an unknown
        label, or a value that cannot be read (naming file, line, column).
    FileNotFoundError
        If no file of the requested release is found.
    """
    if release not in RELEASES:
        raise ValueError(f"release must be one of {RELEASES}, got {release!r}")
    report = DataReport() if report is None else report
    files = find_files(path, "*.csv")

    # Headers first: release per file, the common feature list, the row bound.
    # (header repairs are kept only for the files of the selected release)
    header_reports = {file: DataReport() for file in files}
    opened = _select_release(
        [_open_file(file, header_reports[file]) for file in files], release
    )
    for header, _ in opened:
        report.merge(header_reports[header.path])
    if not opened:
        raise FileNotFoundError(
            f"no CIC-IDS2017 files of release {release!r} in {path} "
            "(see docs/DATASETS.md)"
        )
    feature_columns = list(CICFLOWMETER_FEATURES) + [
        name
        for name in CICIDS2017_IMPROVED_EXTRA_FEATURES
        if all(name in header.names for header, _ in opened)
    ]
    capacity = sum(count_lines(header.path) for header, _ in opened)
    builder = FlowTableBuilder(feature_columns, capacity)
    untimed = [header.file for header, kind in opened if kind == "mlcve"]
    if untimed:
        logger.warning(
            "CIC-IDS2017: %d of %d files have no timestamps (MachineLearningCVE); "
            "time is NaT and order is the row order over files sorted by name",
            len(untimed), len(opened),
        )
        for file in untimed:
            report.add(file, "no timestamps: capture order stands in for time", 1,
                       action="warning")

    # Read every file in chunks.
    order = 0
    for header, file_release in tqdm(opened, desc="cicids2017", disable=not progress):
        timed = file_release != "mlcve"
        text_columns = ["Label"] + (["Timestamp"] if timed else [])
        for chunk in iter_chunks(
            header, report=report, numeric_columns=feature_columns,
            text_columns=text_columns, chunksize=chunksize,
        ):
            frame = chunk.frame
            if file_release != "improved":
                for name in PLACEHOLDER_MINUS_ONE:
                    placeholder = frame[name].to_numpy() == -1
                    report.add(header.file,
                               f"placeholder -1 (not measured) in {name!r} set to NaN",
                               int(placeholder.sum()))
                    frame.loc[placeholder, name] = np.nan
            labels, families = _labels(frame["Label"], header.file, chunk.lines, report)
            if file_release == "trafficlabelling":
                times = parse_local_timestamps(
                    frame["Timestamp"], file=header.file, lines=chunk.lines,
                    report=report,
                )
            elif file_release == "improved":
                times = parse_utc_timestamps(
                    frame["Timestamp"], file=header.file, lines=chunk.lines
                )
            else:
                times = np.full(len(frame), np.datetime64("NaT"), "datetime64[ns]")
            if timed:
                stamps = pd.to_datetime(times, utc=True)
                outside = (stamps < CAPTURE_START_UTC) | (stamps >= CAPTURE_END_UTC)
                report.add(header.file,
                           "timestamp outside the capture days 2017-07-03..07",
                           int(outside.sum()), action="warning")
            builder.append(
                frame[feature_columns].to_numpy(dtype=np.float32),
                label=labels,
                family=families,
                is_attack=(families != "benign").astype(np.int8),
                time=times,
                order=np.arange(order, order + len(frame), dtype=np.int64),
                source_file=header.file,
            )
            order += len(frame)

    time_source = "capture_order" if untimed else "timestamp"
    logger.info("CIC-IDS2017: %d flows from %d files", builder.n_rows, len(opened))
    return FlowData(
        frame=builder.build(),
        feature_columns=feature_columns,
        dataset="cicids2017",
        time_source=time_source,
        report=report,
    )


def _labels(
    column: pd.Series, file: str, lines: np.ndarray, report: DataReport
) -> tuple[np.ndarray, np.ndarray]:
    """Unified fine labels and families of one chunk's ``Label`` column."""
    text = column.astype(object)
    missing = text.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{file}: line {lines[row]}, column 'Label': empty label")
    label_map = {}
    family_map = {}
    damaged = set()
    for value in pd.unique(text):
        try:
            label_map[value], family_map[value] = cicids2017_label(value)
        except ValueError as error:
            row = int(np.flatnonzero(text.eq(value).to_numpy())[0])
            raise ValueError(
                f"{file}: line {lines[row]}, column 'Label': {error}"
            ) from error
        if repair_mojibake(value) != value or any(c in value for c in "\ufffd\u0096"):
            damaged.add(value)
    if damaged:
        report.add(file, "damaged label dash (mojibake, U+FFFD or 0x96) normalised",
                   int(text.isin(damaged).sum()))
    return text.map(label_map).to_numpy(), text.map(family_map).to_numpy()
