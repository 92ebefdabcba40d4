"""Loader for BoT-IoT (Koroniotis et al., FGCS 2019) flow CSVs.

Two schemas are read, detected from the header:

* the full-feature files (``UNSW_2018_IoT_Botnet_Full5pc_*.csv`` and the
  complete dataset with the feature-name header), which carry ``stime``
  (epoch seconds, converted to UTC; ``time_source="timestamp"``);
* the ``10_best`` training/testing subsets, which have no ``stime``:
  ``time`` is NaT, ``time_source="pkSeqID"`` and ``order`` is ``pkSeqID``
  (the record number, which follows capture order); a warning is logged.

The separator is sniffed from the header (copies re-saved with tabs exist)
and a quoted header is read. Files without a header (the raw full-dataset
CSVs, whose names are in a separate feature-names file) need
``column_names=``.

Labels: ``is_attack`` from ``attack``; the fine label joins ``category`` and
``subcategory`` (``"ddos-udp"``); the family comes from the category
(DDoS -> ddos, DoS -> dos, Reconnaissance -> scan, Theft -> other,
Normal -> benign).

Features are the numeric columns of :data:`NUMERIC_FEATURES` present in the
file (``dport`` included; hexadecimal ports such as ``0x0303`` are parsed and
counted) plus an explicit one-hot of ``proto`` over :data:`PROTOCOLS` and
``other``. Never features: ``pkSeqID``, ``stime``, ``ltime``, ``saddr``,
``daddr``, ``sport``, ``seq``, ``attack``, ``category``, ``subcategory``,
the MAC/OUI columns, the text columns ``flgs`` and ``state`` and
``proto_number`` (replaced by the one-hot).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fmltc_core.data.cicids2017 import find_files
from fmltc_core.data.readers import (
    DEFAULT_CHUNKSIZE,
    FlowTableBuilder,
    count_lines,
    iter_chunks,
    one_hot,
    read_table_header,
)
from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData
from fmltc_core.data.vocabulary import bot_iot_label

logger = logging.getLogger(__name__)

PROTOCOLS = ("tcp", "udp", "icmp", "arp", "ipv6-icmp")
NUMERIC_FEATURES = (
    "flgs_number", "state_number", "dport", "pkts", "bytes", "dur", "mean",
    "stddev", "sum", "min", "max", "spkts", "dpkts", "sbytes", "dbytes", "rate",
    "srate", "drate", "TnBPSrcIP", "TnBPDstIP", "TnP_PSrcIP", "TnP_PDstIP",
    "TnP_PerProto", "TnP_Per_Dport", "AR_P_Proto_P_SrcIP", "AR_P_Proto_P_DstIP",
    "N_IN_Conn_P_DstIP", "N_IN_Conn_P_SrcIP", "AR_P_Proto_P_Sport",
    "AR_P_Proto_P_Dport", "Pkts_P_State_P_Protocol_P_DestIP",
    "Pkts_P_State_P_Protocol_P_SrcIP",
)
LABEL_COLUMNS = ("attack", "category", "subcategory")


def _looks_like_data(names: Sequence[str]) -> bool:
    """True when a "header" is really a data row (starts with a number)."""
    try:
        float(names[0])
    except (ValueError, IndexError):
        return False
    return True


def load_bot_iot(
    path: str | Path | Sequence[str | Path],
    *,
    report: DataReport | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    column_names: Sequence[str] | None = None,
) -> FlowData:
    """Load BoT-IoT CSVs (full-feature or 10-best schema).

    Parameters
    ----------
    path : str, Path or sequence of them
        A file, a folder (searched recursively for ``*.csv``) or a list.
    report : DataReport, optional
        Receives every repair and drop; a new one is made when omitted.
    chunksize : int
        Data lines parsed at a time.
    column_names : sequence of str, optional
        Names for files without a header line (all files then lack one).

    Returns
    -------
    FlowData
        ``dataset="bot_iot"``; ``time_source`` is ``"timestamp"`` when every
        file has ``stime``, else ``"pkSeqID"``.

    Raises
    ------
    ValueError
        For a header-less file without ``column_names``, missing label
        columns, files with different feature columns, an unknown category
        or an unreadable value (naming file, line and column).
    """
    report = DataReport() if report is None else report
    files = find_files(path, "*.csv")

    # Headers: schema per file and the common feature list.
    headers = []
    for file in files:
        if column_names is None:
            header = read_table_header(file, report=report)
            if _looks_like_data(header.names):
                raise ValueError(
                    f"{file.name}: first line is data, not a header; pass "
                    "column_names= (from the dataset's feature-names file)"
                )
        else:
            first = read_table_header(file, report=DataReport())
            header = read_table_header(
                file, report=report, separator=first.separator, header_lines=0,
                header_line=first.separator.join(column_names),
            )
        missing = [name for name in ("pkSeqID", *LABEL_COLUMNS)
                   if name not in header.names]
        if missing:
            raise ValueError(f"{file.name}: BoT-IoT columns missing: {missing}")
        headers.append(header)
    numeric = [name for name in NUMERIC_FEATURES if name in headers[0].names]
    for header in headers[1:]:
        other = [name for name in NUMERIC_FEATURES if name in header.names]
        if other != numeric:
            raise ValueError(
                f"{header.file}: feature columns differ from {headers[0].file} "
                "(mixing the full-feature and 10-best schemas is not supported)"
            )
    has_proto = all("proto" in header.names for header in headers)
    feature_columns = numeric + (
        [f"proto_{name}" for name in (*PROTOCOLS, "other")] if has_proto else []
    )
    timed = all("stime" in header.names for header in headers)
    if not timed:
        logger.warning(
            "BoT-IoT: no 'stime' column (10-best subset); time is NaT and "
            "pkSeqID stands in for capture order"
        )
    builder = FlowTableBuilder(
        feature_columns, sum(count_lines(header.path) for header in headers)
    )

    # Read the files in chunks.
    for header in headers:
        file = header.file
        if not timed:
            report.add(file, "no stime: pkSeqID stands in for time", 1,
                       action="warning")
        numeric_columns = ["pkSeqID", "attack", *numeric] + (["stime"] if timed else [])
        text_columns = ["category", "subcategory"] + (["proto"] if has_proto else [])
        for chunk in iter_chunks(
            header, report=report, numeric_columns=numeric_columns,
            text_columns=text_columns, hex_columns=("dport",), chunksize=chunksize,
        ):
            frame, lines = chunk.frame, chunk.lines
            _require_present(frame, ["pkSeqID", "attack", "category"], file, lines)
            attack = frame["attack"].to_numpy()
            bad = ~np.isin(attack, (0.0, 1.0))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"{file}: line {lines[row]}, column 'attack': expected 0 or 1, "
                    f"got {attack[row]!r}"
                )
            labels, families = _labels(frame, file, lines)
            disagree = (families == "benign") != (attack == 0)
            report.add(file, "'attack' disagrees with 'category' (attack kept)",
                       int(disagree.sum()), action="warning")
            parts = [frame[numeric].to_numpy(dtype=np.float32)]
            if has_proto:
                matrix, _, n_other = one_hot(frame["proto"], PROTOCOLS, "proto")
                report.add(file, "protocol outside the fixed list counted as other",
                           n_other, action="warning")
                parts.append(matrix)
            if timed:
                _require_present(frame, ["stime"], file, lines)
                times = pd.to_datetime(frame["stime"].to_numpy(), unit="s", utc=True)
                times = times.round("us").tz_localize(None)
                times = times.to_numpy(dtype="datetime64[ns]")
            else:
                times = np.full(len(frame), np.datetime64("NaT"), "datetime64[ns]")
            builder.append(
                np.hstack(parts) if len(parts) > 1 else parts[0],
                label=labels,
                family=families,
                is_attack=attack.astype(np.int8),
                time=times,
                order=frame["pkSeqID"].to_numpy(dtype=np.int64),
                source_file=file,
            )

    logger.info("BoT-IoT: %d flows from %d files", builder.n_rows, len(headers))
    return FlowData(
        frame=builder.build(),
        feature_columns=feature_columns,
        dataset="bot_iot",
        time_source="timestamp" if timed else "pkSeqID",
        report=report,
    )


def _require_present(
    frame: pd.DataFrame, columns: Sequence[str], file: str, lines: np.ndarray
) -> None:
    """Raise naming file, line and column of the first missing value."""
    for name in columns:
        missing = frame[name].isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise ValueError(f"{file}: line {lines[row]}, column {name!r}: empty")


def _labels(
    frame: pd.DataFrame, file: str, lines: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fine labels and families of one chunk from category and subcategory."""
    pairs = list(zip(frame["category"].astype(object),
                     frame["subcategory"].astype(object), strict=True))
    mapping = {}
    for row, pair in enumerate(pairs):
        if pair in mapping:
            continue
        try:
            mapping[pair] = bot_iot_label(*pair)
        except ValueError as error:
            raise ValueError(
                f"{file}: line {lines[row]}, column 'category': {error}"
            ) from error
    labels = np.array([mapping[pair][0] for pair in pairs], dtype=object)
    families = np.array([mapping[pair][1] for pair in pairs], dtype=object)
    return labels, families
