"""Tests of the CIC-IDS2017, BoT-IoT and IoT-23 loaders and of load_dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmltc_core.data.bot_iot import load_bot_iot
from fmltc_core.data.cicids2017 import load_cicids2017
from fmltc_core.data.datasets import DATASETS, load_dataset
from fmltc_core.data.iot23 import load_iot23
from fmltc_core.data.schema import FORBIDDEN_FEATURE_WORDS, check_no_leakage
from fmltc_core.data.synthetic_files import original_header, write_cicids2017_like
from fmltc_core.data.vocabulary import (
    CICFLOWMETER_FEATURES,
    CICIDS2017_IMPROVED_RENAMES,
)

NO_CLOSE = "no #close trailer (file may be cut short)"
THREE_SPACES = "IoT-23 three-space field separator read as tab"
NEVER_FEATURES = {
    "cicids2017": ("Flow ID", "Source IP", "Src IP", "Source Port", "Src Port",
                   "Destination IP", "Dst IP", "Timestamp", "Label", "id",
                   "Attempted Category", "Protocol"),
    "bot_iot": ("pkSeqID", "stime", "ltime", "saddr", "daddr", "sport", "seq",
                "attack", "category", "subcategory", "proto", "proto_number"),
    "iot23": ("ts", "uid", "id.orig_h", "id.resp_h", "id.orig_p", "tunnel_parents",
              "label", "detailed-label", "proto", "service", "conn_state"),
}


def cic_row(values: dict[str, object], names: list[str]) -> str:
    """One comma-separated row: given values, 1 for every other column."""
    return ",".join(str(values.get(name.strip(), 1)) for name in names)


def write_mlcve(path, labels, overrides=None, newline="\n"):
    names = original_header()
    rows = [",".join(names)]
    for index, label in enumerate(labels):
        values = {"Label": label, **(overrides or {}).get(index, {})}
        rows.append(cic_row(values, names))
    path.write_bytes((newline.join(rows) + newline).encode("utf-8", "surrogateescape"))


def trafficlabelling_header():
    return ["Flow ID", " Source IP", " Source Port", " Destination IP",
            *original_header()[:1], " Protocol", " Timestamp", *original_header()[1:]]


def improved_header():
    back = {value: key for key, value in CICIDS2017_IMPROVED_RENAMES.items()}
    features = [back.get(name, name) for name in CICFLOWMETER_FEATURES]
    return ["id", "Flow ID", "Src IP", "Src Port", "Dst IP", *features[:1],
            "Protocol", "Timestamp", *features[1:], "Fwd RST Flags", "Bwd RST Flags",
            "ICMP Code", "ICMP Type", "Total TCP Flow Time", "Label",
            "Attempted Category"]


def assert_no_leakage(data, dataset):
    check_no_leakage(data.feature_columns)
    for name in NEVER_FEATURES[dataset]:
        assert name not in data.feature_columns
    for name in data.feature_columns:
        assert name.strip().lower() not in FORBIDDEN_FEATURE_WORDS
    assert data.frame[data.feature_columns].dtypes.eq(np.float32).all()


# CIC-IDS2017 ---------------------------------------------------------------


def test_mlcve_file_has_no_time_and_uses_capture_order(tmp_path):
    write_mlcve(tmp_path / "b.csv", ["BENIGN", "DDoS"])
    write_mlcve(tmp_path / "a.csv", ["PortScan"])
    data = load_cicids2017(tmp_path)
    assert data.time_source == "capture_order"
    assert data.frame["time"].isna().all()
    assert data.frame["source_file"].tolist() == ["a.csv", "b.csv", "b.csv"]
    assert data.frame["order"].tolist() == [0, 1, 2]
    assert data.frame["label"].tolist() == ["portscan", "benign", "ddos"]
    assert data.frame["is_attack"].tolist() == [1, 0, 1]
    assert data.feature_columns == list(CICFLOWMETER_FEATURES)
    assert_no_leakage(data, "cicids2017")


def test_mlcve_minus_one_window_placeholder_becomes_nan(tmp_path):
    write_mlcve(tmp_path / "a.csv", ["BENIGN", "BENIGN"],
                {0: {"Init_Win_bytes_forward": -1, "Init_Win_bytes_backward": -1}})
    data = load_cicids2017(tmp_path / "a.csv")
    assert np.isnan(data.frame["Init_Win_bytes_forward"].iloc[0])
    assert data.frame["Init_Win_bytes_forward"].iloc[1] == 1.0
    reason = "placeholder -1 (not measured) in 'Init_Win_bytes_backward' set to NaN"
    assert data.report.total(reason=reason) == 1


def test_mlcve_dirty_labels_and_values(tmp_path):
    labels = ["Web Attack \udc96 Brute Force", "Web Attack \ufffd XSS",
              "Web Attack \u00ef\u00bf\u00bd Sql Injection", "DoS slowloris"]
    write_mlcve(tmp_path / "a.csv", labels,
                {0: {"Flow Bytes/s": "Infinity"}, 1: {"Flow Packets/s": "inf"},
                 2: {"Flow Bytes/s": "NaN"}}, newline="\r\n")
    data = load_cicids2017(tmp_path)
    assert data.frame["label"].tolist() == [
        "web-attack-brute-force", "web-attack-xss", "web-attack-sql-injection",
        "dos-slowloris"]
    assert set(data.frame["family"]) == {"web_attack", "dos"}
    assert data.frame["Flow Bytes/s"].isna().sum() == 2
    assert data.report.total(reason="infinite value set to NaN") == 2


def test_mlcve_unknown_label_names_file_line_and_column(tmp_path):
    write_mlcve(tmp_path / "a.csv", ["BENIGN", "Teleport"])
    with pytest.raises(ValueError, match=r"a\.csv: line 3, column 'Label'"):
        load_cicids2017(tmp_path)


def test_trafficlabelling_12_hour_clock_without_am_pm_is_utc(tmp_path):
    names = trafficlabelling_header()
    stamps = ["7/7/2017 3:30", "5/7/2017 9:05", "3/7/2017 12:10:07"]
    rows = [",".join(names)] + [
        cic_row({"Timestamp": stamp, "Label": "BENIGN", "Flow ID": "x",
                 "Source IP": "10.0.0.1", "Destination IP": "10.0.0.2"}, names)
        for stamp in stamps
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = load_cicids2017(tmp_path)
    assert data.time_source == "timestamp"
    assert data.frame["time"].tolist() == [
        pd.Timestamp("2017-07-07 18:30", tz="UTC"),
        pd.Timestamp("2017-07-05 12:05", tz="UTC"),
        pd.Timestamp("2017-07-03 15:10:07", tz="UTC"),
    ]
    assert_no_leakage(data, "cicids2017")


def test_trafficlabelling_bad_timestamp_names_line(tmp_path):
    names = trafficlabelling_header()
    rows = [",".join(names), cic_row({"Timestamp": "July 7", "Label": "BENIGN"}, names)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"t\.csv: line 2, column 'Timestamp'"):
        load_cicids2017(tmp_path)


def test_improved_release_columns_labels_and_utc_time(tmp_path):
    names = improved_header()
    rows = [",".join(names)] + [
        cic_row({"Timestamp": stamp, "Label": label, "Total Fwd Packet": 7,
                 "ICMP Code": -1, "Attempted Category": -1}, names)
        for stamp, label in [("2017-07-06 12:19:01.250000", "Web Attack - Brute Force"),
                             ("2017-07-07 13:04:00", "Botnet"),
                             ("2017-07-06 17:00:00.000001", "Infiltration - Portscan")]
    ]
    (tmp_path / "i.csv").write_text("\n".join(rows) + "\n")
    data = load_cicids2017(tmp_path)
    assert data.time_source == "timestamp"
    first = pd.Timestamp("2017-07-06 12:19:01.25", tz="UTC")
    assert data.frame["time"].iloc[0] == first
    assert data.frame["label"].tolist() == [
        "web-attack-brute-force", "bot", "infiltration-portscan"]
    assert data.frame["family"].iloc[2] == "infiltration"
    assert (data.frame["Total Fwd Packets"] == 7).all()
    assert "Total TCP Flow Time" in data.feature_columns
    assert "ICMP Code" not in data.feature_columns
    assert_no_leakage(data, "cicids2017")


def test_release_filter_and_unknown_release(tmp_path):
    write_mlcve(tmp_path / "m.csv", ["BENIGN"])
    names = trafficlabelling_header()
    (tmp_path / "t.csv").write_text(",".join(names) + "\n" + cic_row(
        {"Timestamp": "7/7/2017 3:30", "Label": "BENIGN"}, names) + "\n")
    assert load_cicids2017(tmp_path, release="auto").frame["source_file"].tolist() == [
        "t.csv"]
    assert load_cicids2017(tmp_path, release="mlcve").n_flows == 1
    assert load_cicids2017(tmp_path, release="all").time_source == "capture_order"
    with pytest.raises(ValueError, match="release must be one of"):
        load_cicids2017(tmp_path, release="newest")


def test_generated_cicids2017_like_set_loads(tmp_path):
    files = write_cicids2017_like(tmp_path, 400, n_files=8, seed=3)
    assert len(files) == 8
    assert files[3].read_bytes().startswith(b"\xef\xbb\xbf")
    data = load_cicids2017(tmp_path, chunksize=37)
    assert data.n_flows == 400
    assert data.report.total(reason="UTF-8 byte-order mark removed") == 1
    assert data.report.total(reason="CRLF line endings read as LF") == 3
    web = data.frame[data.frame["family"] == "web_attack"]["label"]
    assert set(web) <= {"web-attack-brute-force", "web-attack-xss",
                        "web-attack-sql-injection"}
    assert_no_leakage(data, "cicids2017")


# BoT-IoT ---------------------------------------------------------------------

BOT_FULL = ("pkSeqID", "stime", "flgs", "proto", "saddr", "sport", "daddr", "dport",
            "pkts", "bytes", "state", "ltime", "seq", "dur", "mean", "stddev",
            "attack", "category", "subcategory")


def test_bot_iot_full_schema_with_quoted_header_and_stime(tmp_path):
    header = ",".join(f'"{name}"' for name in BOT_FULL)
    rows = [
        '7,1528089712.5,e,udp,192.168.100.150,0x0303,192.168.100.3,0x0303,4,300,'
        'INT,1528089713.5,1,1.0,0.5,0.1,1,DDoS,UDP',
        '8,1528089714.0,e,tcp,192.168.100.3,80,192.168.100.150,5,2,100,CON,'
        '1528089715,2,1.0,0.5,0.1,0,Normal,Normal',
        '9,1528089716.0,e,gre,1.1.1.1,80,2.2.2.2,6,2,100,CON,'
        '1528089717,3,1.0,0.5,0.1,1,Reconnaissance,Service_Scan',
    ]
    (tmp_path / "full.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    data = load_bot_iot(tmp_path)
    assert data.time_source == "timestamp"
    assert data.frame["time"].iloc[0] == pd.Timestamp(1528089712.5, unit="s", tz="UTC")
    assert data.frame["label"].tolist() == [
        "ddos-udp", "benign", "reconnaissance-service-scan"]
    assert data.frame["family"].tolist() == ["ddos", "benign", "scan"]
    assert data.frame["is_attack"].tolist() == [1, 0, 1]
    assert data.frame["dport"].tolist() == [771.0, 5.0, 6.0]
    assert data.frame["proto_other"].tolist() == [0.0, 0.0, 1.0]
    assert data.frame["order"].tolist() == [7, 8, 9]
    assert data.report.total(reason="hexadecimal value in 'dport' parsed") == 1
    assert_no_leakage(data, "bot_iot")


def test_bot_iot_headerless_file_asks_for_column_names(tmp_path):
    (tmp_path / "raw.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="column_names="):
        load_bot_iot(tmp_path)


def test_bot_iot_column_names_for_headerless_file(tmp_path):
    names = ["pkSeqID", "proto", "dport", "mean", "attack", "category",
             "subcategory"]
    (tmp_path / "raw.csv").write_text("5,udp,53,0.5,1,DoS,UDP\n")
    data = load_bot_iot(tmp_path, column_names=names)
    assert data.n_flows == 1
    assert data.frame["label"].tolist() == ["dos-udp"]


# IoT-23 ----------------------------------------------------------------------

ZEEK_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
               "proto", "service", "duration", "orig_bytes", "resp_bytes",
               "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
               "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
               "tunnel_parents", "label", "detailed-label"]


def zeek_line(ts, proto, service, state, label, detail, duration="1.5"):
    head = [ts, "Cx", "10.0.0.1", "4000", "10.0.0.2", "23", proto, service,
            duration, "10", "20", state, "-", "-", "0", "S", "1", "40", "1", "40",
            "-"]
    return "\t".join(head) + "   " + label + "   " + detail


def write_zeek(path, lines, close=True):
    header = [
        "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
        "#unset_field\t-", "#path\tconn", "#open\t2019-03-15-14-50-49",
        "#fields\t" + "\t".join(ZEEK_FIELDS[:-2]) + "   label   detailed-label",
        "#types\t" + "\t".join(["string"] * 21) + "   string   string",
    ]
    trailer = ["#close\t2019-03-15-15-00-00"] if close else []
    path.write_text("\n".join(header + lines + trailer) + "\n")


def test_iot23_three_space_bug_labels_and_utc_time(tmp_path):
    write_zeek(tmp_path / "conn.log.labeled", [
        zeek_line("1545403816.962094", "tcp", "-", "S0", "Benign", "-", "-"),
        zeek_line("1545403817.000000", "udp", "dns", "SF", "Malicious", "DDoS"),
        zeek_line("1545403818.5", "icmp", "weird", "XYZ", "Malicious",
                  "PartOfAHorizontalPortScan"),
    ])
    data = load_iot23(tmp_path)
    assert data.time_source == "timestamp"
    assert data.frame["time"].iloc[0] == pd.Timestamp(
        "2018-12-21 14:50:16.962094", tz="UTC")
    assert data.frame["label"].tolist() == ["benign", "ddos", "horizontal-portscan"]
    assert data.frame["family"].tolist() == ["benign", "ddos", "scan"]
    assert np.isnan(data.frame["duration"].iloc[0])
    assert data.frame["service_none"].tolist() == [1.0, 0.0, 0.0]
    assert data.frame["service_other"].tolist() == [0.0, 0.0, 1.0]
    assert data.frame["conn_state_other"].tolist() == [0.0, 0.0, 1.0]
    assert data.frame["id.resp_p"].tolist() == [23.0, 23.0, 23.0]
    assert data.report.total(reason=THREE_SPACES) > 0
    assert data.report.total("warning", NO_CLOSE) == 0
    assert_no_leakage(data, "iot23")


def test_iot23_missing_close_trailer_is_reported(tmp_path):
    write_zeek(tmp_path / "conn.log.labeled",
               [zeek_line("1545403816.9", "tcp", "-", "S0", "Benign", "-")],
               close=False)
    data = load_iot23(tmp_path)
    assert data.n_flows == 1
    assert data.report.total("warning", NO_CLOSE) == 1


def test_iot23_unknown_detailed_label_names_line(tmp_path):
    write_zeek(tmp_path / "x.labeled",
               [zeek_line("1545403816.9", "tcp", "-", "S0", "Malicious", "Teleport")])
    message = r"x\.labeled: line 9, column 'detailed-label'"
    with pytest.raises(ValueError, match=message):
        load_iot23(tmp_path)


# load_dataset ------------------------------------------------------------------


def test_load_dataset_rejects_unknown_name():
    assert DATASETS == ("simulated", "cicids2017", "bot_iot", "iot23")
    with pytest.raises(ValueError, match="name must be one of"):
        load_dataset("kdd99")


def test_load_dataset_missing_folder_points_to_docs(tmp_path):
    with pytest.raises(FileNotFoundError, match="docs/DATASETS.md"):
        load_dataset("iot23", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="docs/DATASETS.md"):
        load_dataset("bot_iot", tmp_path)


def test_load_dataset_reads_a_laid_out_folder(tmp_path):
    (tmp_path / "cicids2017").mkdir()
    write_mlcve(tmp_path / "cicids2017" / "m.csv", ["BENIGN", "Bot"])
    data = load_dataset("cicids2017", tmp_path)
    assert data.n_flows == 2
    with pytest.raises(FileNotFoundError, match="docs/DATASETS.md"):
        load_dataset("cicids2017", tmp_path, release="improved")


# Real samples ------------------------------------------------------------------


@pytest.mark.real_data
def test_real_iot23_sample(real_dataset_dir):
    data = load_iot23(real_dataset_dir("iot23"))
    counts = data.frame["label"].value_counts().to_dict()
    assert data.n_flows == 23_145
    assert counts == {"ddos": 14_394, "c&c": 6_706, "benign": 1_923,
                      "horizontal-portscan": 122}
    assert data.frame["time"].min() == pd.Timestamp("2018-12-21 14:50:16.870900",
                                                    tz="UTC")
    assert data.frame["time"].max().floor("s") == pd.Timestamp(
        "2018-12-22 14:50:13", tz="UTC")
    assert data.report.total("warning", NO_CLOSE) == 1
    assert_no_leakage(data, "iot23")


@pytest.mark.real_data
def test_real_bot_iot_sample(real_dataset_dir):
    data = load_bot_iot(real_dataset_dir("bot_iot"))
    assert data.n_flows == 999
    assert data.frame["is_attack"].sum() == 999
    assert data.time_source == "pkSeqID"
    assert data.frame["family"].value_counts().to_dict() == {
        "ddos": 522, "dos": 450, "scan": 27}
    assert data.frame["order"].min() == 947
    assert data.frame["order"].max() == 3_661_619
    assert_no_leakage(data, "bot_iot")


@pytest.mark.real_data
def test_real_cicids2017_original_samples(real_dataset_dir):
    folder = real_dataset_dir("cicids2017")
    neil = load_cicids2017(
        folder / "mlcve_thursday_webattacks_strat10180__neil-cipher.csv")
    assert neil.n_flows == 10_180
    assert (neil.frame["family"] == "web_attack").sum() == 2_180
    assert neil.frame["label"].value_counts().to_dict() == {
        "benign": 8_000, "web-attack-brute-force": 1_507, "web-attack-xss": 652,
        "web-attack-sql-injection": 21}
    assert neil.report.total(reason="infinite value set to NaN") == 20
    header = (folder / "mlcve_friday_ddos_head9998__paris-svg.csv").open(
        encoding="utf-8").readline().rstrip("\r\n").split(",")
    assert header == original_header()

    every = load_cicids2017(folder, release="mlcve")
    assert every.n_flows == 10_180 + 12_001 + 9_998
    dico = every.frame[every.frame["source_file"].str.contains("dicotomico")]
    assert dico["label"].value_counts()["dos-slowloris"] == 22
    assert dico["label"].value_counts()["web-attack-brute-force"] == 6

    traffic = load_cicids2017(folder, release="trafficlabelling")
    assert traffic.n_flows == 299
    assert (traffic.frame["time"] == pd.Timestamp("2017-07-07 18:30", tz="UTC")).all()
    assert_no_leakage(traffic, "cicids2017")


@pytest.mark.real_data
def test_real_cicids2017_improved_samples(real_data_dir, real_dataset_dir):
    folder = real_dataset_dir("cicids2017_improved")
    data = load_dataset("cicids2017", real_data_dir)  # auto prefers improved
    assert data.frame["source_file"].nunique() == 16
    assert data.n_flows == 25_127
    counts = data.frame["label"].value_counts()
    assert counts["infiltration-portscan"] == 2_500
    assert counts["bot"] == 736
    assert counts["heartbleed"] == 11
    assert data.frame["time"].min() == pd.Timestamp("2017-07-03 11:57:41.826651",
                                                    tz="UTC")
    brute = data.frame[data.frame["label"] == "web-attack-brute-force"]["time"]
    assert brute.min().hour == 12 and brute.max() < pd.Timestamp(
        "2017-07-06 13:00", tz="UTC")
    assert len(list(folder.glob("*.csv"))) == 16
    assert_no_leakage(data, "cicids2017")
