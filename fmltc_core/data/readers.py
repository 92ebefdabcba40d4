"""Robust, chunked reading of dirty delimited flow files.

Public flow files are rarely clean. This module reads them without editing
them and records every repair in a :class:`~fmltc_core.data.report.DataReport`:

* a UTF-8 byte-order mark on the first header field is removed;
* CRLF (and lone CR) line endings are read as LF;
* the separator is sniffed from the header line (comma, tab, semicolon or
  pipe), whatever the file extension says;
* header names lose stray whitespace; a duplicated column (also in the
  pandas-renamed form ``name.1``) is dropped, the first copy is kept;
* bytes that are not UTF-8 are kept through ``surrogateescape`` and text
  fields holding them are decoded per field as cp1252, else latin-1;
* blank lines and rows whose fields are all empty are dropped;
* numeric columns are coerced: ``Infinity``/``inf``/``-inf`` become NaN,
  surrounding whitespace is ignored, hexadecimal ``0x..`` is parsed in the
  columns that allow it (ports); any other unparseable value raises
  ``ValueError`` naming the file, line and column.

Files are read line by line in chunks of ``chunksize`` data lines, so memory
stays bounded whatever the file size. Fields with embedded newlines (quoted
multi-line fields) are not supported; no flow dataset uses them.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from fmltc_core.data.report import DataReport

logger = logging.getLogger(__name__)

SEPARATORS = (",", "\t", ";", "|")
DEFAULT_CHUNKSIZE = 200_000
# Field values read as missing in every file (besides all-whitespace fields).
MISSING_TOKENS = ("", "NaN", "nan", "NAN", "NULL", "null")
_INFINITY_TOKENS = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_HEX_PATTERN = re.compile(r"^[+-]?0x[0-9a-f]+$")
_SURROGATE_PATTERN = re.compile("[\udc80-\udcff]")
_DUPLICATE_SUFFIX = re.compile(r"^(.*)\.(\d+)$")


@dataclass
class TableHeader:
    """What the header of one delimited file says.

    Attributes
    ----------
    path : Path
        The file.
    separator : str
        Field separator sniffed from the header line.
    names : list of str
        Cleaned names of the kept columns, in file order.
    positions : list of int
        Position of each kept column within a row.
    n_fields : int
        Number of fields in the header line.
    header_lines : int
        Number of lines before the first data line.
    has_bom : bool
        Whether the file starts with a UTF-8 byte-order mark.
    crlf : bool
        Whether the header line ends with CRLF.
    """

    path: Path
    separator: str
    names: list[str]
    positions: list[int]
    n_fields: int
    header_lines: int = 1
    has_bom: bool = False
    crlf: bool = False
    comment_prefix: str | None = None
    line_repair: Callable[[str], tuple[str, int]] | None = field(
        default=None, repr=False
    )

    @property
    def file(self) -> str:
        """The file name used in reports and error messages."""
        return self.path.name


@dataclass
class Chunk:
    """One parsed chunk of a file.

    Attributes
    ----------
    frame : pandas.DataFrame
        Numeric columns as float64 (NaN for missing, infinities already set
        to NaN), text columns as Python ``str`` (NaN when missing).
    lines : numpy.ndarray
        1-based line number in the file of each row of ``frame``.
    """

    frame: pd.DataFrame
    lines: np.ndarray


def sniff_separator(line: str) -> str:
    """The separator among comma, tab, semicolon and pipe used most in ``line``.

    Raises
    ------
    ValueError
        If none of them occurs in the line.
    """
    counts = {separator: line.count(separator) for separator in SEPARATORS}
    best = max(SEPARATORS, key=lambda separator: counts[separator])
    if counts[best] == 0:
        raise ValueError(
            f"header line has no field separator (tried {SEPARATORS!r}): "
            f"{line[:80]!r}"
        )
    return best


def clean_column_names(
    raw_names: Sequence[str],
) -> tuple[list[str], list[int], list[str]]:
    """Strip names and find duplicated columns.

    A name that repeats an earlier one, or has the form ``<earlier name>.<n>``
    (how pandas renames duplicates when it writes a file), is a duplicate.

    Returns
    -------
    names : list of str
        Stripped names of the kept columns (first copies).
    positions : list of int
        Their positions in the row.
    duplicates : list of str
        Stripped names of the dropped duplicate columns.
    """
    names: list[str] = []
    positions: list[int] = []
    duplicates: list[str] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_names):
        name = str(raw).replace("\ufeff", "").strip()
        match = _DUPLICATE_SUFFIX.match(name)
        if name in seen or (match and match.group(1) in seen):
            duplicates.append(name)
            continue
        seen.add(name)
        names.append(name)
        positions.append(position)
    return names, positions, duplicates


def decode_escaped(text: str) -> str:
    """Decode a field read with ``surrogateescape`` whose bytes were not UTF-8.

    The original bytes are recovered and decoded as cp1252, else latin-1
    (which never fails).
    """
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_table_header(
    path: str | Path,
    *,
    report: DataReport,
    header_line: str | None = None,
    header_lines: int = 1,
    separator: str | None = None,
    comment_prefix: str | None = None,
    line_repair: Callable[[str], tuple[str, int]] | None = None,
) -> TableHeader:
    """Read and clean the header of a delimited file.

    Parameters
    ----------
    path : str or Path
        The file.
    report : DataReport
        Receives BOM, CRLF and duplicate-column repairs.
    header_line : str, optional
        The header text when it is not the file's first line (Zeek
        ``#fields``); by default the first line is the header.
    header_lines : int
        Lines before the first data line (default 1).
    separator : str, optional
        Known separator; sniffed from the header line when omitted.
    comment_prefix : str, optional
        Data-section lines starting with it are skipped (Zeek ``#close``).
    line_repair : callable, optional
        ``f(text) -> (text, n_repairs)`` applied to each block of data text.

    Raises
    ------
    ValueError
        If the file is empty or uses an encoding other than UTF-8/ASCII
        (a UTF-16 byte-order mark).
    """
    path = Path(path)
    with path.open("rb") as handle:
        first = handle.readline()
    if not first:
        raise ValueError(f"{path.name}: file is empty")
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"{path.name}: UTF-16 files are not supported; save as UTF-8")
    has_bom = first.startswith(b"\xef\xbb\xbf")
    crlf = first.endswith(b"\r\n")
    if header_line is None:
        header_line = first.decode("utf-8", "surrogateescape")
    header_line = header_line.replace("\ufeff", "").rstrip("\r\n")
    if line_repair is not None:
        header_line, _ = line_repair(header_line)
    if separator is None:
        separator = sniff_separator(header_line)
    raw_names = next(csv.reader([header_line], delimiter=separator))
    names, positions, duplicates = clean_column_names(raw_names)
    stripped = sum(
        1 for raw in raw_names if str(raw).replace("\ufeff", "") != str(raw).strip()
    )

    # Record header-level repairs.
    report.add(path.name, "UTF-8 byte-order mark removed", int(has_bom))
    report.add(path.name, "CRLF line endings read as LF", int(crlf))
    report.add(path.name, "whitespace stripped from header names", stripped)
    report.add(path.name, "duplicated column dropped (first copy kept)",
               len(duplicates), action="dropped")
    if duplicates:
        logger.info("%s: dropped duplicated columns %s", path.name, duplicates)
    return TableHeader(
        path=path,
        separator=separator,
        names=names,
        positions=positions,
        n_fields=len(raw_names),
        header_lines=header_lines,
        has_bom=has_bom,
        crlf=crlf,
        comment_prefix=comment_prefix,
        line_repair=line_repair,
    )


def count_lines(path: str | Path, block_size: int = 1 << 24) -> int:
    """Number of newline-terminated lines in a file (plus a final partial one)."""
    count = 0
    last = b"\n"
    with Path(path).open("rb") as handle:
        while block := handle.read(block_size):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def iter_chunks(
    header: TableHeader,
    *,
    report: DataReport,
    numeric_columns: Sequence[str],
    text_columns: Sequence[str],
    hex_columns: Sequence[str] = (),
    missing_tokens: Sequence[str] = MISSING_TOKENS,
    chunksize: int = DEFAULT_CHUNKSIZE,
) -> Iterator[Chunk]:
    """Parse a file in chunks of at most ``chunksize`` data lines.

    Parameters
    ----------
    header : TableHeader
        From :func:`read_table_header`.
    report : DataReport
        Receives every repair and drop, per file and reason.
    numeric_columns, text_columns : sequence of str
        Cleaned names of the columns to read; all other columns are skipped.
    hex_columns : sequence of str
        Numeric columns in which ``0x``-prefixed hexadecimal is parsed
        (ports in BoT-IoT).
    missing_tokens : sequence of str
        Field values that mean "missing".
    chunksize : int
        Data lines per chunk.

    Yields
    ------
    Chunk
        The parsed rows with their file line numbers. Empty rows are dropped.

    Raises
    ------
    ValueError
        Naming the file, line and column of a value that cannot be read, or
        the file and line of a row with too many fields.
    """
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize}")
    index = dict(zip(header.names, header.positions, strict=True))
    wanted = list(dict.fromkeys([*numeric_columns, *text_columns]))
    absent = [name for name in wanted if name not in index]
    if absent:
        raise ValueError(f"{header.file}: columns {absent} not in the header")
    text_set = set(text_columns)
    positions = [index[name] for name in wanted]
    dtypes = {index[name]: object for name in text_columns}
    file = header.file
    line_number = header.header_lines

    with header.path.open(
        "r", encoding="utf-8", errors="surrogateescape", newline=None
    ) as handle:
        for _ in range(header.header_lines):
            handle.readline()
        while True:
            raw_lines = list(islice(handle, chunksize))
            if not raw_lines:
                break
            first_line = line_number + 1
            line_number += len(raw_lines)

            # Keep data lines; drop blank lines and comment lines.
            kept_lines = []
            kept_numbers = []
            blank = 0
            comments = 0
            for offset, line in enumerate(raw_lines):
                if not line.strip():
                    blank += 1
                elif header.comment_prefix and line.startswith(header.comment_prefix):
                    comments += 1
                else:
                    kept_lines.append(line)
                    kept_numbers.append(first_line + offset)
            report.add(file, "blank line", blank, action="dropped")
            if comments:
                logger.debug("%s: skipped %d comment lines", file, comments)
            if not kept_lines:
                continue
            text = "".join(kept_lines)
            if header.line_repair is not None:
                text, repairs = header.line_repair(text)
                report.add(file, "IoT-23 three-space field separator read as tab",
                           repairs)
            lines = np.asarray(kept_numbers, dtype=np.int64)
            frame = _parse_block(text, header, positions, dtypes, missing_tokens, lines)
            frame.columns = wanted

            # Drop rows whose every field is empty.
            empty = frame.isna().all(axis=1).to_numpy()
            if empty.any():
                report.add(file, "empty row (all fields empty)", int(empty.sum()),
                           action="dropped")
                frame = frame.loc[~empty].reset_index(drop=True)
                lines = lines[~empty]

            # Text columns: repair non-UTF-8 bytes field by field.
            for name in text_columns:
                frame[name] = _repair_text(frame[name], file, name, report)

            # Numeric columns: coerce, infinities to NaN.
            for name in numeric_columns:
                if name in text_set:
                    continue
                frame[name] = coerce_numeric(
                    frame[name], file=file, column=name, lines=lines, report=report,
                    allow_hex=name in hex_columns,
                )
            yield Chunk(frame=frame, lines=lines)


def _parse_block(
    text: str,
    header: TableHeader,
    positions: list[int],
    dtypes: dict[int, type],
    missing_tokens: Sequence[str],
    lines: np.ndarray,
) -> pd.DataFrame:
    """Parse one block of data text with the C parser."""
    try:
        frame = pd.read_csv(
            io.BytesIO(text.encode("utf-8", "surrogateescape")),
            encoding="utf-8",
            encoding_errors="surrogateescape",
            sep=header.separator,
            header=None,
            names=list(range(header.n_fields)),
            index_col=False,  # a row with extra fields is an error, not an index
            dtype=dtypes,
            keep_default_na=False,
            na_values=list(missing_tokens),
            skip_blank_lines=False,
            low_memory=False,
        )
    except pd.errors.ParserError as error:
        match = re.search(r"line (\d+)", str(error))
        where = (
            f"line {lines[int(match.group(1)) - 1]}"
            if match and int(match.group(1)) <= len(lines)
            else "a line of this chunk"
        )
        raise ValueError(
            f"{header.file}: {where} does not match the header's "
            f"{header.n_fields} fields ({error})"
        ) from error
    return frame[positions]


def _repair_text(
    column: pd.Series, file: str, name: str, report: DataReport
) -> pd.Series:
    """Strip text fields and decode those holding non-UTF-8 bytes."""
    values = np.asarray(column, dtype=object)
    codes, uniques = pd.factorize(values)  # NaN gets code -1
    if len(uniques) == 0:
        return pd.Series(values, index=column.index, name=column.name, dtype=object)
    cleaned = np.empty(len(uniques) + 1, dtype=object)
    cleaned[-1] = np.nan
    repaired = np.zeros(len(uniques) + 1, dtype=bool)
    for position, value in enumerate(uniques):
        text = str(value)
        if _SURROGATE_PATTERN.search(text):
            text = decode_escaped(text)
            repaired[position] = True
        text = text.strip()
        cleaned[position] = text if text else np.nan
    report.add(file, f"non-UTF-8 bytes in {name!r} decoded as cp1252/latin-1",
               int(repaired[codes].sum()))
    return pd.Series(cleaned[codes], index=column.index, name=column.name,
                     dtype=object)


def coerce_numeric(
    values: pd.Series,
    *,
    file: str,
    column: str,
    lines: np.ndarray,
    report: DataReport,
    allow_hex: bool = False,
) -> pd.Series:
    """Coerce one column to float64.

    Documented repairs, each counted in ``report``: surrounding whitespace is
    ignored; ``Infinity``/``inf`` (any sign or case) becomes NaN; in
    ``allow_hex`` columns ``0x``-prefixed values are read as hexadecimal.
    Missing values stay NaN (imputation happens later) and are counted as a
    warning.

    Parameters
    ----------
    values : pandas.Series
        The column as parsed (numeric dtype or strings).
    file, column : str
        Named in reports and errors.
    lines : numpy.ndarray
        File line number of each value.
    report : DataReport
        Receives the counts.
    allow_hex : bool
        Parse ``0x..`` values (ports).

    Raises
    ------
    ValueError
        Naming ``file``, the line and the column of the first value that is
        none of: a number, a missing token, an infinity, allowed hex.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    ):
        result = np.array(values.to_numpy(dtype=np.float64, na_value=np.nan))
    else:
        result = _coerce_strings(values, file, column, lines, report, allow_hex)
    infinite = np.isinf(result)
    if infinite.any():
        report.add(file, "infinite value set to NaN", int(infinite.sum()))
        result[infinite] = np.nan
    missing = int(np.isnan(result).sum()) - int(infinite.sum())
    report.add(file, "missing numeric value left as NaN for imputation", missing,
               action="warning")
    return pd.Series(result, index=values.index, name=values.name)


def _coerce_strings(
    values: pd.Series,
    file: str,
    column: str,
    lines: np.ndarray,
    report: DataReport,
    allow_hex: bool,
) -> np.ndarray:
    """Slow path of :func:`coerce_numeric` for a column read as text."""
    text = values.astype(object)
    present = text.notna().to_numpy()
    result = np.full(len(text), np.nan)
    if not present.any():
        return result
    uniques = pd.unique(text[present])
    mapping: dict[object, float] = {}
    hex_values = set()
    bad = []
    for value in uniques:
        token = str(value).strip().lower()
        if token in _INFINITY_TOKENS:
            mapping[value] = -np.inf if token.startswith("-") else np.inf
        elif token in ("", "nan"):
            mapping[value] = np.nan
        elif allow_hex and _HEX_PATTERN.match(token):
            mapping[value] = float(int(token, 16))
            hex_values.add(value)
        else:
            try:
                mapping[value] = float(token)
            except ValueError:
                bad.append(value)
    if bad:
        bad_set = set(bad)
        row = int(np.flatnonzero(text.isin(bad_set).to_numpy())[0])
        raise ValueError(
            f"{file}: line {lines[row]}, column {column!r}: cannot read "
            f"{text.iloc[row]!r} as a number"
        )
    if hex_values:
        report.add(file, f"hexadecimal value in {column!r} parsed", int(
            text[present].isin(hex_values).sum()))
    result[present] = text[present].map(mapping).to_numpy(dtype=np.float64)
    return result


def one_hot(
    values: pd.Series, categories: Sequence[str], prefix: str
) -> tuple[np.ndarray, list[str], int]:
    """Explicit one-hot encoding over a fixed category list plus ``other``.

    Parameters
    ----------
    values : pandas.Series
        Category strings; missing values count as ``other``.
    categories : sequence of str
        The fixed, documented categories (compared case-insensitively).
    prefix : str
        Feature names are ``f"{prefix}_{category}"``.

    Returns
    -------
    matrix : numpy.ndarray
        float32, shape (n, len(categories) + 1); the last column is ``other``.
    names : list of str
        The feature names.
    n_other : int
        Rows that fell into ``other``.
    """
    lookup = {category.casefold(): index for index, category in enumerate(categories)}
    other = len(categories)
    codes = (
        values.astype(object)
        .map(lambda value: lookup.get(str(value).strip().casefold(), other)
             if value == value else other)
        .to_numpy(dtype=np.int64)
    )
    matrix = np.zeros((len(values), other + 1), dtype=np.float32)
    matrix[np.arange(len(values)), codes] = 1.0
    names = [f"{prefix}_{category}" for category in (*categories, "other")]
    return matrix, names, int((codes == other).sum())


class FlowTableBuilder:
    """Collects chunks into one frame with a preallocated float32 matrix.

    The feature matrix is allocated once for ``capacity`` rows (grown if it
    turns out too small), so loading never holds two copies of the features.

    Parameters
    ----------
    feature_columns : sequence of str
        Names of the feature columns, in order.
    capacity : int
        Expected number of rows (an upper bound such as the line count).
    """

    def __init__(self, feature_columns: Sequence[str], capacity: int) -> None:
        self.feature_columns = list(feature_columns)
        self._features = np.empty(
            (max(int(capacity), 1), len(self.feature_columns)), dtype=np.float32
        )
        self._rows = 0
        self._labels: list[np.ndarray] = []
        self._families: list[np.ndarray] = []
        self._is_attack: list[np.ndarray] = []
        self._times: list[np.ndarray] = []
        self._orders: list[np.ndarray] = []
        self._files: list[tuple[str, int]] = []

    @property
    def n_rows(self) -> int:
        """Rows appended so far."""
        return self._rows

    def append(
        self,
        features: np.ndarray,
        *,
        label: np.ndarray,
        family: np.ndarray,
        is_attack: np.ndarray,
        time: np.ndarray,
        order: np.ndarray,
        source_file: str,
    ) -> None:
        """Append one chunk (all arrays of the same length)."""
        count = len(features)
        if self._rows + count > len(self._features):
            grown = np.empty(
                (max(2 * len(self._features), self._rows + count), features.shape[1]),
                dtype=np.float32,
            )
            grown[: self._rows] = self._features[: self._rows]
            self._features = grown
        self._features[self._rows : self._rows + count] = features
        self._rows += count
        self._labels.append(np.asarray(label, dtype=object))
        self._families.append(np.asarray(family, dtype=object))
        self._is_attack.append(np.asarray(is_attack, dtype=np.int8))
        self._times.append(np.asarray(time, dtype="datetime64[ns]"))
        self._orders.append(np.asarray(order, dtype=np.int64))
        self._files.append((source_file, count))

    def build(self) -> pd.DataFrame:
        """The frame: float32 features plus the schema's metadata columns."""
        features = self._features[: self._rows]
        if self._rows < 0.9 * len(self._features):
            features = features.copy()
        self._features = np.empty((0, len(self.feature_columns)), dtype=np.float32)
        frame = pd.DataFrame(features, columns=self.feature_columns, copy=False)

        def joined(parts: list[np.ndarray], dtype: object) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        frame["label"] = pd.Categorical(joined(self._labels, object))
        frame["family"] = pd.Categorical(joined(self._families, object))
        frame["is_attack"] = joined(self._is_attack, np.int8)
        frame["time"] = pd.to_datetime(joined(self._times, "datetime64[ns]"), utc=True)
        frame["order"] = joined(self._orders, np.int64)
        names = [name for name, _ in self._files]
        categories = list(dict.fromkeys(names))
        codes = np.repeat(
            [categories.index(name) for name in names],
            [count for _, count in self._files],
        ).astype(np.int32)
        frame["source_file"] = pd.Categorical.from_codes(codes, categories=categories)
        return frame
