"""Tests of the robust delimited-text reader and the label vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from fmltc_core.data.readers import (
    clean_column_names,
    count_lines,
    iter_chunks,
    one_hot,
    read_table_header,
    sniff_separator,
)
from fmltc_core.data.report import DataReport
from fmltc_core.data.vocabulary import (
    bot_iot_label,
    cicids2017_label,
    iot23_label,
    label_key,
)


def read_all(path, numeric, text, **options):
    report = DataReport()
    header = read_table_header(path, report=report)
    chunks = list(iter_chunks(header, report=report, numeric_columns=numeric,
                              text_columns=text, **options))
    frame = chunks[0].frame if len(chunks) == 1 else None
    return header, chunks, frame, report


@pytest.mark.parametrize(
    ("line", "expected"),
    [("a,b,c", ","), ("a\tb\tc", "\t"), ("a;b;c", ";"), ("a|b|c", "|"),
     ("a b,c\td\te", "\t")],
)
def test_sniff_separator_picks_the_most_used(line, expected):
    assert sniff_separator(line) == expected


def test_sniff_separator_rejects_a_line_without_separator():
    with pytest.raises(ValueError, match="no field separator"):
        sniff_separator("single")


def test_clean_column_names_strips_and_drops_duplicates():
    names, positions, duplicates = clean_column_names(
        ["\ufeff a ", " b", "a", "b.1", "c"]
    )
    assert names == ["a", "b", "c"]
    assert positions == [0, 1, 4]
    assert duplicates == ["a", "b.1"]


def test_bom_crlf_and_header_whitespace_are_repaired(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbf x , y ,Label\r\n1,2,A\r\n3,4,B\r\n")
    header, _, frame, report = read_all(path, ["x", "y"], ["Label"])
    assert header.names == ["x", "y", "Label"]
    assert frame["x"].tolist() == [1.0, 3.0]
    assert frame["Label"].tolist() == ["A", "B"]
    assert report.total(reason="UTF-8 byte-order mark removed") == 1
    assert report.total(reason="CRLF line endings read as LF") == 1
    assert report.total(reason="whitespace stripped from header names") == 2


@pytest.mark.parametrize("separator", ["\t", ";", "|"])
def test_separator_other_than_comma_is_sniffed(tmp_path, separator):
    path = tmp_path / "f.csv"
    path.write_text(separator.join(["x", "Label"]) + "\n" + separator.join(["5", "A"])
                    + "\n")
    header, _, frame, _ = read_all(path, ["x"], ["Label"])
    assert header.separator == separator
    assert frame["x"].tolist() == [5.0]


def test_duplicated_column_keeps_the_first_copy(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,y,x,Label\n1,2,99,A\n")
    _, _, frame, report = read_all(path, ["x", "y"], ["Label"])
    assert frame["x"].tolist() == [1.0]
    assert report.total("dropped", "duplicated column dropped (first copy kept)") == 1


def test_infinity_and_nan_become_nan_and_are_counted(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,y,Label\nInfinity,1,A\ninf,NaN,A\n-Infinity,,A\n2,3,A\n")
    _, _, frame, report = read_all(path, ["x", "y"], ["Label"])
    assert np.isnan(frame["x"].to_numpy()[:3]).all()
    assert frame["x"].to_numpy()[3] == 2.0
    assert report.total(reason="infinite value set to NaN") == 3
    missing = "missing numeric value left as NaN for imputation"
    assert report.total("warning", missing) == 2


def test_empty_rows_and_blank_lines_are_dropped(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,Label\n1,A\n\n,\n   \n2,B\n")
    _, _, frame, report = read_all(path, ["x"], ["Label"])
    assert frame["x"].tolist() == [1.0, 2.0]
    assert report.total("dropped") == 3


def test_line_numbers_survive_dropped_rows(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,Label\n1,A\n\n2,B\n")
    _, chunks, _, _ = read_all(path, ["x"], ["Label"])
    assert chunks[0].lines.tolist() == [2, 4]


def test_non_utf8_label_bytes_are_decoded_as_cp1252(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"x,Label\n1,Web Attack \x96 XSS\n2,BENIGN\n")
    _, _, frame, report = read_all(path, ["x"], ["Label"])
    assert frame["Label"].tolist() == ["Web Attack \u2013 XSS", "BENIGN"]
    reason = "non-UTF-8 bytes in 'Label' decoded as cp1252/latin-1"
    assert report.total(reason=reason) == 1


def test_byte_undefined_in_cp1252_falls_back_to_latin1(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"x,Label\n1,A\x81B\n")
    _, _, frame, _ = read_all(path, ["x"], ["Label"])
    assert frame["Label"].tolist() == ["A\x81B"]


def test_hex_values_are_parsed_only_where_allowed(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("dport,Label\n0x0303,A\n80,A\n")
    _, _, frame, report = read_all(path, ["dport"], ["Label"], hex_columns=("dport",))
    assert frame["dport"].tolist() == [771.0, 80.0]
    assert report.total(reason="hexadecimal value in 'dport' parsed") == 1
    with pytest.raises(ValueError, match=r"line 2, column 'dport'.*'0x0303'"):
        read_all(path, ["dport"], ["Label"])


def test_mixed_types_are_coerced(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,Label\n 1 ,A\n2.5,A\n3e2,A\n")
    _, _, frame, _ = read_all(path, ["x"], ["Label"])
    assert frame["x"].tolist() == [1.0, 2.5, 300.0]


def test_unparseable_value_names_file_line_and_column(tmp_path):
    path = tmp_path / "dirty.csv"
    path.write_text("x,y,Label\n1,2,A\n3,abc,A\n")
    with pytest.raises(ValueError, match=r"dirty\.csv: line 3, column 'y'.*'abc'"):
        read_all(path, ["x", "y"], ["Label"])


def test_row_with_too_many_fields_names_the_line(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("x,Label\n1,A\n2,B,extra\n")
    with pytest.raises(ValueError, match=r"wide\.csv: line 3 does not match"):
        read_all(path, ["x"], ["Label"])


def test_chunks_cover_the_file_in_order(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,Label\n" + "".join(f"{i},A\n" for i in range(10)))
    _, chunks, _, _ = read_all(path, ["x"], ["Label"], chunksize=3)
    assert [len(chunk.frame) for chunk in chunks] == [3, 3, 3, 1]
    values = np.concatenate([chunk.frame["x"].to_numpy() for chunk in chunks])
    assert values.tolist() == list(range(10))
    assert count_lines(path) == 11


def test_one_hot_maps_unknown_and_missing_to_other():
    import pandas as pd

    matrix, names, n_other = one_hot(pd.Series(["TCP", "udp", "gre", None]),
                                     ("tcp", "udp"), "proto")
    assert names == ["proto_tcp", "proto_udp", "proto_other"]
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]
    assert n_other == 2


@pytest.mark.parametrize(
    "raw",
    ["Web Attack \ufffd Brute Force", "Web Attack \u00ef\u00bf\u00bd Brute Force",
     "Web Attack \x96 Brute Force", "Web Attack \u2013 Brute Force",
     "Web Attack - Brute Force", "web attack  -  brute force"],
)
def test_web_attack_spellings_map_to_one_label(raw):
    assert cicids2017_label(raw) == ("web-attack-brute-force", "web_attack")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("PortScan", ("portscan", "scan")), ("Portscan", ("portscan", "scan")),
     ("Bot", ("bot", "botnet")), ("Botnet", ("bot", "botnet")),
     ("DoS slowloris", ("dos-slowloris", "dos")),
     ("DoS Slowloris", ("dos-slowloris", "dos")),
     ("Infiltration - Portscan", ("infiltration-portscan", "infiltration")),
     ("BENIGN", ("benign", "benign")),
     ("DoS Hulk - Attempted", ("dos-hulk-attempted", "dos"))],
)
def test_cicids2017_label_variants(raw, expected):
    assert cicids2017_label(raw) == expected


def test_unknown_cicids2017_label_is_rejected():
    with pytest.raises(ValueError, match="unknown CIC-IDS2017 label"):
        cicids2017_label("Teleport")


def test_label_key_is_stable_for_clean_text():
    assert label_key("FTP-Patator") == "ftp-patator"


def test_bot_iot_and_iot23_labels():
    assert bot_iot_label("DDoS", "UDP") == ("ddos-udp", "ddos")
    assert bot_iot_label("Reconnaissance", "OS_Fingerprint") == (
        "reconnaissance-os-fingerprint", "scan")
    assert bot_iot_label("Theft", "Keylogging") == ("theft-keylogging", "other")
    assert bot_iot_label("Normal", "Normal") == ("benign", "benign")
    assert iot23_label("Benign", "-") == ("benign", "benign")
    assert iot23_label("Malicious", "PartOfAHorizontalPortScan") == (
        "horizontal-portscan", "scan")
    assert iot23_label("Malicious", "C&C-HeartBeat-Attack") == (
        "c&c-heartbeat-attack", "botnet")
    with pytest.raises(ValueError, match="unknown IoT-23 detailed-label"):
        iot23_label("Malicious", "Teleport")
