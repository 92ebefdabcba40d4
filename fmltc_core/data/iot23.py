"""Loader for IoT-23 (Garcia, Parmisano, Erquiaga, 2020) Zeek ``conn.log.labeled``.

Each capture is a Zeek TSV log: ``#`` header lines (``#separator``,
``#fields``, ``#types``, ...), one flow per line, ``-`` for unset fields and
normally a ``#close`` trailer. Known quirks handled here, each reported:

* the last three fields (``tunnel_parents``, ``label``, ``detailed-label``)
  are separated by three spaces instead of a tab, in the data and in the
  ``#fields`` line (a bug of the published files); three spaces are read
  as one separator;
* the ``#close`` trailer may be missing (a warning, as the file may be cut).

``ts`` (epoch seconds) becomes ``time`` in UTC; ``order`` is the row order
over the files sorted by name. Labels come from ``label`` (Benign or
Malicious) and ``detailed-label`` via
:func:`~fmltc_core.data.vocabulary.iot23_label`.

Features: ``duration``, ``orig_bytes``, ``resp_bytes``, ``orig_pkts``,
``orig_ip_bytes``, ``resp_pkts``, ``resp_ip_bytes``, ``missed_bytes``, the
responder port ``id.resp_p`` and explicit one-hots of ``proto``
(:data:`PROTOCOLS`), ``service`` (:data:`SERVICES`, ``none`` when unset) and
``conn_state`` (:data:`CONN_STATES`, Zeek's 13 states), each with an
``other`` column. Never features: ``uid``, ``id.orig_h``, ``id.resp_h``,
``id.orig_p``, ``ts``, ``local_orig``, ``local_resp``, ``history``,
``tunnel_parents`` and the label columns. Unset numeric fields (``-``, e.g.
``duration`` of a connection without reply) stay NaN.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fmltc_core.data.cicids2017 import find_files
from fmltc_core.data.readers import (
    DEFAULT_CHUNKSIZE,
    MISSING_TOKENS,
    FlowTableBuilder,
    TableHeader,
    count_lines,
    iter_chunks,
    one_hot,
    read_table_header,
)
from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData
from fmltc_core.data.vocabulary import iot23_label

logger = logging.getLogger(__name__)

NUMERIC_FEATURES = (
    "duration", "orig_bytes", "resp_bytes", "orig_pkts", "orig_ip_bytes",
    "resp_pkts", "resp_ip_bytes", "missed_bytes", "id.resp_p",
)
PROTOCOLS = ("tcp", "udp", "icmp")
SERVICES = ("none", "dns", "http", "ssl", "dhcp", "irc", "ssh", "ftp")
CONN_STATES = (
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH",
    "SHR", "OTH",
)
ZEEK_MISSING_TOKENS = (*MISSING_TOKENS, "-", "(empty)")
THREE_SPACES = "   "


def _repair_three_spaces(text: str) -> tuple[str, int]:
    """Read the IoT-23 three-space separator as a tab; count the repairs."""
    count = text.count(THREE_SPACES)
    return (text.replace(THREE_SPACES, "\t"), count) if count else (text, 0)


def read_zeek_header(path: Path, report: DataReport) -> TableHeader:
    """Parse the ``#`` header lines of a Zeek log into a :class:`TableHeader`.

    Raises
    ------
    ValueError
        If the file has no ``#fields`` line.
    """
    fields_line = None
    separator = "\t"
    header_lines = 0
    with path.open("r", encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            header_lines += 1
            line = line.rstrip("\r\n")
            if line.startswith("#separator"):
                value = line.split(maxsplit=1)[1] if " " in line else "\\x09"
                separator = value.encode().decode("unicode_escape")
            elif line.startswith("#fields"):
                fields_line = line
    if fields_line is None:
        raise ValueError(f"{path.name}: no '#fields' line; not a Zeek log")
    fields_line, repairs = _repair_three_spaces(fields_line)
    report.add(path.name, "IoT-23 three-space field separator read as tab", repairs)
    names = fields_line.split(separator)[1:]
    return read_table_header(
        path, report=report, header_line=separator.join(names),
        header_lines=header_lines, separator=separator, comment_prefix="#",
        line_repair=_repair_three_spaces,
    )


def _has_close_trailer(path: Path) -> bool:
    """Whether the last non-empty line of the file starts with ``#close``."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        tail = handle.read().decode("utf-8", "replace").strip().splitlines()
    return bool(tail) and tail[-1].startswith("#close")


def load_iot23(
    path: str | Path | Sequence[str | Path],
    *,
    report: DataReport | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
) -> FlowData:
    """Load IoT-23 ``conn.log.labeled`` files.

    Parameters
    ----------
    path : str, Path or sequence of them
        A file, a folder (searched recursively for ``*.labeled``) or a list.
    report : DataReport, optional
        Receives every repair and drop; a new one is made when omitted.
    chunksize : int
        Data lines parsed at a time.

    Returns
    -------
    FlowData
        ``dataset="iot23"``, ``time_source="timestamp"``.

    Raises
    ------
    ValueError
        For a file that is not a labelled Zeek conn log, an unknown label or
        an unreadable value (naming file, line and column).
    """
    report = DataReport() if report is None else report
    files = find_files(path, "*.labeled")
    headers = []
    for file in files:
        header = read_zeek_header(file, report)
        required = ["ts", "label", "detailed-label", "proto", "service",
                    "conn_state", *NUMERIC_FEATURES]
        missing = [name for name in required if name not in header.names]
        if missing:
            raise ValueError(f"{file.name}: Zeek conn.log columns missing: {missing}")
        if not _has_close_trailer(file):
            report.add(file.name, "no #close trailer (file may be cut short)", 1,
                       action="warning")
        headers.append(header)
    categorical = (("proto", PROTOCOLS), ("service", SERVICES),
                   ("conn_state", CONN_STATES))
    feature_columns = list(NUMERIC_FEATURES) + [
        f"{column}_{value}" for column, values in categorical
        for value in (*values, "other")
    ]
    builder = FlowTableBuilder(
        feature_columns, sum(count_lines(header.path) for header in headers)
    )

    order = 0
    for header in headers:
        file = header.file
        for chunk in iter_chunks(
            header, report=report, numeric_columns=["ts", *NUMERIC_FEATURES],
            text_columns=["proto", "service", "conn_state", "label",
                          "detailed-label"],
            missing_tokens=ZEEK_MISSING_TOKENS, chunksize=chunksize,
        ):
            frame, lines = chunk.frame, chunk.lines
            for name in ("ts", "label"):
                missing = frame[name].isna().to_numpy()
                if missing.any():
                    row = int(np.flatnonzero(missing)[0])
                    raise ValueError(
                        f"{file}: line {lines[row]}, column {name!r}: empty"
                    )
            labels, families = _labels(frame, file, lines)
            parts = [frame[list(NUMERIC_FEATURES)].to_numpy(dtype=np.float32)]
            service = frame["service"].astype(object).where(
                frame["service"].notna(), "none"
            )
            for column, values in categorical:
                source = service if column == "service" else frame[column]
                matrix, _, n_other = one_hot(source, values, column)
                report.add(file, f"{column} outside the fixed list counted as other",
                           n_other, action="warning")
                parts.append(matrix)
            times = pd.to_datetime(frame["ts"].to_numpy(), unit="s", utc=True)
            times = times.round("us")  # Zeek writes microseconds
            builder.append(
                np.hstack(parts),
                label=labels,
                family=families,
                is_attack=(families != "benign").astype(np.int8),
                time=times.tz_localize(None).to_numpy(dtype="datetime64[ns]"),
                order=np.arange(order, order + len(frame), dtype=np.int64),
                source_file=file,
            )
            order += len(frame)

    logger.info("IoT-23: %d flows from %d files", builder.n_rows, len(headers))
    return FlowData(
        frame=builder.build(),
        feature_columns=feature_columns,
        dataset="iot23",
        time_source="timestamp",
        report=report,
    )


def _labels(
    frame: pd.DataFrame, file: str, lines: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fine labels and families from ``label`` and ``detailed-label``."""
    pairs = list(zip(frame["label"].astype(object),
                     frame["detailed-label"].astype(object), strict=True))
    mapping = {}
    for row, pair in enumerate(pairs):
        if pair in mapping:
            continue
        try:
            mapping[pair] = iot23_label(*pair)
        except ValueError as error:
            raise ValueError(
                f"{file}: line {lines[row]}, column 'detailed-label': {error}"
            ) from error
    labels = np.array([mapping[pair][0] for pair in pairs], dtype=object)
    families = np.array([mapping[pair][1] for pair in pairs], dtype=object)
    return labels, families
