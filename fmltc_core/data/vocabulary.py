"""One label vocabulary and the canonical flow-feature names for all datasets.

Every loader maps its dataset's own label strings to a fine ``label`` (lower
case words joined by ``-``, ``"benign"`` for normal traffic) and a coarse
``family`` shared across datasets (see :mod:`fmltc_core.data.schema`).

CIC-IDS2017 label strings come in many spellings: the original CSVs write the
web-attack dash as the cp1252 byte ``0x96``, which later copies turned into
U+FFFD, double-encoded mojibake (``ï¿½``), an en dash or an ASCII hyphen; the
improved release by Engelen et al. renames classes (``Botnet``,
``Portscan``, ``DoS Slowloris``). :func:`cicids2017_label` undoes the encoding
damage, unifies dashes and case, and looks the result up in one table.

``CICFLOWMETER_FEATURES`` are the 77 distinct feature names of the original
MachineLearningCVE files with their whitespace stripped (the duplicated
``Fwd Header Length`` appears once). The traffic simulator uses a subset of
these names so that simulated and real flows share one schema.
"""

from __future__ import annotations

import re
import unicodedata

FAMILIES = (
    "benign", "dos", "ddos", "scan", "brute_force", "web_attack", "botnet",
    "infiltration", "exploit", "other",
)

CICFLOWMETER_FEATURES = (
    "Destination Port", "Flow Duration", "Total Fwd Packets",
    "Total Backward Packets", "Total Length of Fwd Packets",
    "Total Length of Bwd Packets", "Fwd Packet Length Max",
    "Fwd Packet Length Min", "Fwd Packet Length Mean", "Fwd Packet Length Std",
    "Bwd Packet Length Max", "Bwd Packet Length Min", "Bwd Packet Length Mean",
    "Bwd Packet Length Std", "Flow Bytes/s", "Flow Packets/s", "Flow IAT Mean",
    "Flow IAT Std", "Flow IAT Max", "Flow IAT Min", "Fwd IAT Total",
    "Fwd IAT Mean", "Fwd IAT Std", "Fwd IAT Max", "Fwd IAT Min", "Bwd IAT Total",
    "Bwd IAT Mean", "Bwd IAT Std", "Bwd IAT Max", "Bwd IAT Min", "Fwd PSH Flags",
    "Bwd PSH Flags", "Fwd URG Flags", "Bwd URG Flags", "Fwd Header Length",
    "Bwd Header Length", "Fwd Packets/s", "Bwd Packets/s", "Min Packet Length",
    "Max Packet Length", "Packet Length Mean", "Packet Length Std",
    "Packet Length Variance", "FIN Flag Count", "SYN Flag Count",
    "RST Flag Count", "PSH Flag Count", "ACK Flag Count", "URG Flag Count",
    "CWE Flag Count", "ECE Flag Count", "Down/Up Ratio", "Average Packet Size",
    "Avg Fwd Segment Size", "Avg Bwd Segment Size", "Fwd Avg Bytes/Bulk",
    "Fwd Avg Packets/Bulk", "Fwd Avg Bulk Rate", "Bwd Avg Bytes/Bulk",
    "Bwd Avg Packets/Bulk", "Bwd Avg Bulk Rate", "Subflow Fwd Packets",
    "Subflow Fwd Bytes", "Subflow Bwd Packets", "Subflow Bwd Bytes",
    "Init_Win_bytes_forward", "Init_Win_bytes_backward", "act_data_pkt_fwd",
    "min_seg_size_forward", "Active Mean", "Active Std", "Active Max",
    "Active Min", "Idle Mean", "Idle Std", "Idle Max", "Idle Min",
)

# Improved-release (Engelen et al. 2021) column names -> original stripped names.
CICIDS2017_IMPROVED_RENAMES = {
    "Dst Port": "Destination Port",
    "Total Fwd Packet": "Total Fwd Packets",
    "Total Bwd packets": "Total Backward Packets",
    "Total Length of Fwd Packet": "Total Length of Fwd Packets",
    "Total Length of Bwd Packet": "Total Length of Bwd Packets",
    "Packet Length Min": "Min Packet Length",
    "Packet Length Max": "Max Packet Length",
    "CWR Flag Count": "CWE Flag Count",
    "Fwd Segment Size Avg": "Avg Fwd Segment Size",
    "Bwd Segment Size Avg": "Avg Bwd Segment Size",
    "Fwd Bytes/Bulk Avg": "Fwd Avg Bytes/Bulk",
    "Fwd Packet/Bulk Avg": "Fwd Avg Packets/Bulk",
    "Fwd Bulk Rate Avg": "Fwd Avg Bulk Rate",
    "Bwd Bytes/Bulk Avg": "Bwd Avg Bytes/Bulk",
    "Bwd Packet/Bulk Avg": "Bwd Avg Packets/Bulk",
    "Bwd Bulk Rate Avg": "Bwd Avg Bulk Rate",
    "FWD Init Win Bytes": "Init_Win_bytes_forward",
    "Bwd Init Win Bytes": "Init_Win_bytes_backward",
    "Fwd Act Data Pkts": "act_data_pkt_fwd",
    "Fwd Seg Size Min": "min_seg_size_forward",
}

# Improved-only columns that are genuine per-flow measurements (kept as
# features). ``ICMP Code`` and ``ICMP Type`` are categorical header codes
# (``-1`` for non-ICMP flows) and are not used as numeric features.
CICIDS2017_IMPROVED_EXTRA_FEATURES = (
    "Fwd RST Flags", "Bwd RST Flags", "Total TCP Flow Time",
)

# Normalised CIC-IDS2017 label key -> (fine label, family).
_CICIDS2017_LABELS = {
    "benign": ("benign", "benign"),
    "ddos": ("ddos", "ddos"),
    "dos-hulk": ("dos-hulk", "dos"),
    "dos-goldeneye": ("dos-goldeneye", "dos"),
    "dos-slowloris": ("dos-slowloris", "dos"),
    "dos-slowhttptest": ("dos-slowhttptest", "dos"),
    "heartbleed": ("heartbleed", "exploit"),
    "portscan": ("portscan", "scan"),
    "bot": ("bot", "botnet"),
    "botnet": ("bot", "botnet"),
    "ftp-patator": ("ftp-patator", "brute_force"),
    "ssh-patator": ("ssh-patator", "brute_force"),
    "web-attack-brute-force": ("web-attack-brute-force", "web_attack"),
    "web-attack-xss": ("web-attack-xss", "web_attack"),
    "web-attack-sql-injection": ("web-attack-sql-injection", "web_attack"),
    "infiltration": ("infiltration", "infiltration"),
    "infiltration-portscan": ("infiltration-portscan", "infiltration"),
}

# BoT-IoT ``category`` (lower case) -> (label prefix, family).
_BOT_IOT_CATEGORIES = {
    "normal": ("benign", "benign"),
    "ddos": ("ddos", "ddos"),
    "dos": ("dos", "dos"),
    "reconnaissance": ("reconnaissance", "scan"),
    "theft": ("theft", "other"),
}

# IoT-23 ``detailed-label`` components (lower case) -> (label word, family).
# A combined label such as ``C&C-HeartBeat-Attack`` takes the family of its
# first component.
_IOT23_COMPONENTS = {
    "c&c": ("c&c", "botnet"),
    "ddos": ("ddos", "ddos"),
    "partofahorizontalportscan": ("horizontal-portscan", "scan"),
    "okiru": ("okiru", "botnet"),
    "mirai": ("mirai", "botnet"),
    "torii": ("torii", "botnet"),
    "heartbeat": ("heartbeat", "botnet"),
    "filedownload": ("file-download", "botnet"),
    "attack": ("attack", "exploit"),
}

# Characters that stand for the web-attack dash in damaged CIC-IDS2017 copies:
# U+FFFD (replacement), U+0096 (cp1252 0x96 read as latin-1), dashes, minus.
_DASH_LIKE = "\ufffd\u0096\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DASH_TABLE = str.maketrans({char: "-" for char in _DASH_LIKE})


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252/latin-1 (possibly repeatedly).

    ``"ï¿½"`` (the bytes of U+FFFD read as latin-1) becomes ``"\\ufffd"``;
    ``"â€“"`` becomes ``"–"``. Text that is not mojibake is returned unchanged.
    """
    for _ in range(3):
        repaired = None
        for codec in ("cp1252", "latin-1"):
            try:
                repaired = text.encode(codec).decode("utf-8")
                break
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        if repaired is None or repaired == text:
            return text
        text = repaired
    return text


def label_key(raw: str) -> str:
    """Normalised lookup key of a label: mojibake undone, dashes unified, case
    folded, and runs of spaces, hyphens and underscores joined to one ``-``.

    Examples
    --------
    >>> label_key("Web Attack \\u2013 Brute Force")
    'web-attack-brute-force'
    >>> label_key(" DoS slowloris ")
    'dos-slowloris'
    """
    text = unicodedata.normalize("NFC", repair_mojibake(str(raw)))
    text = text.translate(_DASH_TABLE).casefold()
    return re.sub(r"[\s\-_]+", "-", text).strip("-")


def cicids2017_label(raw: str) -> tuple[str, str]:
    """Fine label and family of one CIC-IDS2017 label string.

    Handles the original, the re-encoded and the improved-release spellings.
    Improved-release ``"<class> - Attempted"`` flows (attacker traffic that
    did not carry out the attack) keep their class family and get the fine
    label ``"<class>-attempted"``.

    Raises
    ------
    ValueError
        If the label is not a known CIC-IDS2017 class.
    """
    key = label_key(raw)
    attempted = key.endswith("-attempted")
    if attempted:
        key = key[: -len("-attempted")]
    if key not in _CICIDS2017_LABELS:
        raise ValueError(f"unknown CIC-IDS2017 label {raw!r} (normalised {key!r})")
    label, family = _CICIDS2017_LABELS[key]
    return (f"{label}-attempted" if attempted else label), family


def bot_iot_label(category: str, subcategory: str) -> tuple[str, str]:
    """Fine label and family from BoT-IoT ``category`` and ``subcategory``.

    ``("DDoS", "UDP")`` gives ``("ddos-udp", "ddos")``; ``Normal`` gives
    ``("benign", "benign")``.

    Raises
    ------
    ValueError
        If the category is not one of Normal, DDoS, DoS, Reconnaissance, Theft.
    """
    key = label_key(category)
    if key not in _BOT_IOT_CATEGORIES:
        raise ValueError(f"unknown BoT-IoT category {category!r}")
    prefix, family = _BOT_IOT_CATEGORIES[key]
    if family == "benign":
        return "benign", "benign"
    sub = label_key(subcategory) if subcategory == subcategory else ""
    return (f"{prefix}-{sub}" if sub else prefix), family


def iot23_label(label: str, detailed_label: str | None) -> tuple[str, str]:
    """Fine label and family from IoT-23 ``label`` and ``detailed-label``.

    ``Benign`` gives ``("benign", "benign")``. A malicious flow's detailed
    label is split on ``-`` into known components, e.g.
    ``"PartOfAHorizontalPortScan-Attack"`` gives
    ``("horizontal-portscan-attack", "scan")``. A malicious flow without a
    detailed label becomes ``("malicious", "other")``.

    Raises
    ------
    ValueError
        If ``label`` is neither Benign nor Malicious, or a detailed-label
        component is unknown.
    """
    key = label_key(label)
    if key == "benign":
        return "benign", "benign"
    if key != "malicious":
        raise ValueError(f"unknown IoT-23 label {label!r}")
    if detailed_label is None or detailed_label != detailed_label:
        return "malicious", "other"
    detail = str(detailed_label).strip()
    if detail in ("", "-", "(empty)"):
        return "malicious", "other"
    words = []
    families = []
    for part in detail.split("-"):
        part_key = part.strip().casefold()
        if part_key not in _IOT23_COMPONENTS:
            raise ValueError(f"unknown IoT-23 detailed-label {detailed_label!r}")
        word, family = _IOT23_COMPONENTS[part_key]
        words.append(word)
        families.append(family)
    return "-".join(words), families[0]
