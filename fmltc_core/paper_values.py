"""The numbers the FMLTC-IDS paper reports, transcribed as data.

Every value below is copied from the paper (Zhou, Liu and Zhu) with the place
it comes from (``"Table 1"``, ``"section 4.2 text"``, ...). Nothing here is a
target: tables and figures of this reproduction put these values *beside* our
measured ones, labelled as the paper's. Metric values are fractions in
[0, 1] as printed in the tables; percentages given in the text are kept in
percent with ``unit="%"``.

What the paper does not report is listed too (:data:`NOT_REPORTED`), as are
the places where its own numbers disagree with each other
(:data:`INCONSISTENCIES`); the transcription keeps the printed values.

The paper has no table for CICIDS2017: that dataset appears only as accuracy
curves in Fig. 3 (:data:`NO_CICIDS2017_TABLE`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Methods in the row order of Tables 1 and 2 (keys of
# fmltc_core.federated.methods.METHODS).
METHOD_ORDER = ("fedavg", "fedprox", "fed_anids", "ssfl", "fmltc")
PAPER_ALPHAS = (0.5, 1.0, 10.0)
COMPARISON_METRICS = ("accuracy", "recall", "f1")


@dataclass(frozen=True)
class PaperValue:
    """One reported number (or range) and where the paper gives it.

    Attributes
    ----------
    name : str
        Our key for the value.
    value : float or tuple of float
        The number as printed (a tuple for a range such as 50-60 %).
    unit : str
        ``"fraction"``, ``"%"``, ``"s"``, ``"rounds"``, ``"flows"``, ...
    source : str
        Where in the paper it is stated.
    note : str
        Context needed to read it (dataset, alpha, ...).
    """

    name: str
    value: float | tuple[float, ...]
    unit: str
    source: str
    note: str = ""


def _rows(printed: dict[str, tuple[float, ...]]) -> dict[str, dict[float, dict]]:
    """``method -> alpha -> {accuracy, recall, f1}`` from printed table rows."""
    table = {}
    for method, values in printed.items():
        table[method] = {
            alpha: dict(zip(COMPARISON_METRICS, values[3 * i : 3 * i + 3], strict=True))
            for i, alpha in enumerate(PAPER_ALPHAS)
        }
    return table


# Table 1: BoT-IoT. Columns per alpha (0.5, 1.0, 10): Acc, Rec, F1.
TABLE1_BOT_IOT = _rows(
    {
        "fedavg": (0.678, 0.652, 0.664, 0.771, 0.742, 0.755, 0.878, 0.863, 0.870),
        "fedprox": (0.685, 0.661, 0.672, 0.781, 0.753, 0.766, 0.876, 0.858, 0.866),
        "fed_anids": (0.740, 0.718, 0.728, 0.819, 0.795, 0.805, 0.877, 0.862, 0.869),
        "ssfl": (0.735, 0.712, 0.722, 0.824, 0.802, 0.812, 0.878, 0.864, 0.871),
        "fmltc": (0.772, 0.772, 0.761, 0.836, 0.816, 0.825, 0.882, 0.868, 0.875),
    }
)

# Table 2: the paper's private "Real IoT" traffic (10,000 flows, section 4.2).
TABLE2_REAL_IOT = _rows(
    {
        "fedavg": (0.700, 0.675, 0.687, 0.741, 0.713, 0.726, 0.848, 0.832, 0.840),
        "fedprox": (0.702, 0.680, 0.690, 0.748, 0.723, 0.735, 0.855, 0.842, 0.848),
        "fed_anids": (0.719, 0.698, 0.708, 0.770, 0.745, 0.757, 0.853, 0.840, 0.846),
        "ssfl": (0.718, 0.764, 0.740, 0.764, 0.735, 0.749, 0.855, 0.843, 0.849),
        "fmltc": (0.747, 0.725, 0.735, 0.801, 0.778, 0.789, 0.867, 0.855, 0.861),
    }
)

NO_CICIDS2017_TABLE = (
    "The paper reports no table of final metrics for CICIDS2017; the dataset "
    "appears only as accuracy-by-round curves in Fig. 3 (no numbers given)."
)

# Which of the paper's comparison tables each of our datasets sits beside.
COMPARISON_TABLES: dict[str, dict] = {
    "table1": {
        "values": TABLE1_BOT_IOT,
        "source": "Table 1",
        "paper_data": "BoT-IoT",
    },
    "table2": {
        "values": TABLE2_REAL_IOT,
        "source": "Table 2",
        "paper_data": "the paper's private real IoT traffic",
    },
}
DATASET_TABLE: dict[str, str | None] = {
    "bot_iot": "table1",
    "simulated": "table2",
    "iot23": "table2",
    "cicids2017": None,
}

# Table 3: RQ1 batch ablation on BoT-IoT, alpha = 1. Training time is per
# round; convergence speed is in rounds; T_C is the convergence time.
TABLE3_BATCH_ABLATION = {
    "baseline1_fixed16": {
        "training_seconds": 138.21,
        "convergence_rounds": 12,
        "accuracy": 0.814,
        "recall": 0.798,
        "f1": 0.803,
        "convergence_seconds": 1658.52,
    },
    "baseline2_fixed128": {
        "training_seconds": 85.13,
        "convergence_rounds": 19,
        "accuracy": 0.801,
        "recall": 0.774,
        "f1": 0.787,
        "convergence_seconds": 1617.47,
    },
    "baseline3_random": {
        "training_seconds": 102.62,
        "convergence_rounds": 14,
        "accuracy": 0.807,
        "recall": 0.781,
        "f1": 0.794,
        "convergence_seconds": 1436.68,
    },
    "fmltc": {
        "training_seconds": 94.36,
        "convergence_rounds": 6,
        "accuracy": 0.836,
        "recall": 0.816,
        "f1": 0.825,
        "convergence_seconds": 566.2,
    },
}
TABLE3_SOURCE = "Table 3 (BoT-IoT, alpha = 1)"

# Table 4: RQ3 personalisation on the real IoT data, alpha = 1. delta_accuracy
# is local minus global accuracy, printed in percentage points.
TABLE4_PERSONALISATION = {
    "ts_cluster": {"accuracy": 0.801, "recall": 0.778, "f1": 0.789, "delta": 4.1},
    "static_cluster": {"accuracy": 0.774, "recall": 0.751, "f1": 0.762, "delta": 2.3},
    "fedavg": {"accuracy": 0.738, "recall": 0.715, "f1": 0.726, "delta": 0.8},
}
TABLE4_SOURCE = "Table 4 (real IoT, alpha = 1; delta in percentage points)"

# Fig. 4 (RQ2): clustering time by feature extraction, BoT-IoT, alpha = 1.
# Only these three bars are given as numbers in section 4.3.2; the UMAP bars
# and the all-layers + PCA bar are not.
FIG4_CLUSTERING_SECONDS = {
    "all_layers": 21.42,
    "first_layer_pca": 0.45,
    "last_layer_pca": 0.36,
}
FIG4_SOURCE = "section 4.3.2 text (Fig. 4)"

# Fig. 5 (RQ3): clustering quality, real IoT, alpha = 1.
FIG5_CLUSTER_QUALITY = {
    "silhouette": {"ts_cluster": 0.58, "static_cluster": 0.45},
    "gradient_similarity": {"ts_cluster": 0.84, "static_cluster": 0.73},
}
FIG5_SOURCE = "section 4.3.3 text (Fig. 5)"

TEXT_CLAIMS = (
    PaperValue(
        "round0_accuracy",
        (0.50, 0.60),
        "fraction",
        "section 4.2 text",
        "accuracy before personalised training (round 0), from the public-data "
        "initialisation",
    ),
    PaperValue(
        "fmltc_convergence_rounds_real_iot_alpha0.5",
        5,
        "rounds",
        "section 4.2 text",
        "FMLTC-IDS converges in 5 communication rounds, real IoT, alpha = 0.5",
    ),
    PaperValue(
        "fmltc_accuracy_after_10_rounds_real_iot_alpha0.5",
        0.747,
        "fraction",
        "section 4.2 text",
        "after 10 rounds, real IoT, alpha = 0.5",
    ),
    PaperValue(
        "fmltc_margin_real_iot_alpha0.5",
        (4.6, 4.5, 2.9, 2.6),
        "%",
        "section 4.2 text",
        "accuracy margin over FedAvg, FedProx, Fed-ANIDS, SSFL at alpha = 0.5",
    ),
    PaperValue(
        "fmltc_real_iot_alpha10",
        (0.867, 0.855, 0.861),
        "fraction",
        "section 4.2 text",
        "accuracy, recall, F1 at alpha = 10 (as in Table 2)",
    ),
    PaperValue(
        "fmltc_accuracy_gain_over_ssfl_alpha0.5",
        2.9,
        "%",
        "section 4.2 text",
        "stated in the paragraph discussing Tables 1 and 2",
    ),
    PaperValue(
        "batch_training_time_reduction",
        31.8,
        "%",
        "section 4.3.1 text",
        "per-round training time of FMLTC-IDS vs Baseline1 (B = 16)",
    ),
    PaperValue(
        "batch_convergence_rounds",
        6,
        "rounds",
        "section 4.3.1 text",
        "FMLTC-IDS with adaptive batches, BoT-IoT, alpha = 1",
    ),
    PaperValue(
        "clustering_time_reduction_last_layer_pca",
        98.3,
        "%",
        "section 4.3.2 text",
        "last layer + PCA vs all layers",
    ),
    PaperValue(
        "ts_cluster_gains",
        (6.3, 2.7, 6.3, 2.7, 7.9, 2.7),
        "%",
        "section 4.3.3 text",
        "accuracy, recall and F1 gains of TS-Cluster over FedAvg and "
        "Static-Cluster (pairs in that order)",
    ),
)

SETTINGS = (
    PaperValue("real_iot_flows", 10_000, "flows", "section 4.2 text"),
    PaperValue("alphas", PAPER_ALPHAS, "", "section 4.2 text"),
    PaperValue("temporal_subsets", 10, "subsets", "section 4.1 text", "D1..D10"),
    PaperValue("adwin_windows", (1.0, 0.5), "h", "section 4.1 text", "window and step"),
    PaperValue("batch_size_bounds", (16, 128), "rows", "section 3.2 and 4.3.1"),
    PaperValue("pca_explained_variance", 0.95, "fraction", "section 3.3"),
    PaperValue("dba_max_iterations", 50, "iterations", "section 3.4, step 5"),
    PaperValue("dba_tolerance", 1e-4, "", "section 3.4, step 5"),
    PaperValue("rounds_reported", 10, "rounds", "section 4.2 text", "accuracy after"),
)

NOT_REPORTED = (
    "number of clients",
    "number of seeds or repetitions, and any spread (sd) of the results",
    "model architecture and sizes",
    "learning rate, decay schedule, local epochs, client sampling fraction",
    "MAML inner/outer steps and learning rates",
    "control factor c and resource scores R_i of eq. 1",
    "how convergence rounds are determined",
    "how the test nodes and the round-0 accuracy are computed",
    "CICIDS2017 final metrics (Fig. 3 curves only)",
)

INCONSISTENCIES = (
    "Section 4.2 gives FMLTC-IDS's alpha = 0.5 accuracy margins over FedAvg, "
    "FedProx, Fed-ANIDS and SSFL as 4.6, 4.5, 2.9 and 2.6 %, while Table 2 gives "
    "differences of 4.7, 4.5, 2.8 and 2.9 points.",
    "Table 4's FedAvg row (0.738, 0.715, 0.726) differs from Table 2's FedAvg "
    "at alpha = 1 (0.741, 0.713, 0.726) although both are real IoT, alpha = 1.",
    "Section 4.3.3 states an F1 gain of 7.9 % over FedAvg; Table 4 gives "
    "0.789 - 0.726 = 6.3 points.",
    "Table 3's FMLTC-IDS T_C is printed as 566.2 s; 94.36 s x 6 rounds = 566.16 s "
    "(rounding, consistent).",
)


def comparison_frame(dataset: str) -> pd.DataFrame:
    """The paper's Acc, Rec, F1 beside which ``dataset``'s results are shown.

    Parameters
    ----------
    dataset : str
        One of ``"simulated"``, ``"iot23"`` (Table 2), ``"bot_iot"``
        (Table 1), ``"cicids2017"`` (no table: an empty frame).

    Returns
    -------
    pandas.DataFrame
        Index ``(alpha, method)``, columns ``accuracy``, ``recall``, ``f1``;
        ``frame.attrs["source"]`` names the table (or says there is none).
    """
    if dataset not in DATASET_TABLE:
        raise ValueError(
            f"dataset must be one of {sorted(DATASET_TABLE)}, got {dataset!r}"
        )
    index = pd.MultiIndex.from_arrays([[], []], names=["alpha", "method"])
    key = DATASET_TABLE[dataset]
    if key is None:
        frame = pd.DataFrame(index=index, columns=list(COMPARISON_METRICS), dtype=float)
        frame.attrs["source"] = NO_CICIDS2017_TABLE
        return frame
    table = COMPARISON_TABLES[key]
    rows = [
        {"alpha": alpha, "method": method, **table["values"][method][alpha]}
        for alpha in PAPER_ALPHAS
        for method in METHOD_ORDER
    ]
    frame = pd.DataFrame(rows).set_index(["alpha", "method"])
    frame.attrs["source"] = f"the paper's {table['source']} ({table['paper_data']})"
    return frame


def paper_value(name: str) -> PaperValue:
    """The text claim or setting called ``name``."""
    for value in (*TEXT_CLAIMS, *SETTINGS):
        if value.name == name:
            return value
    names = sorted(v.name for v in (*TEXT_CLAIMS, *SETTINGS))
    raise KeyError(f"no paper value {name!r}; known: {names}")


def round0_band() -> tuple[float, float]:
    """The paper's round-0 accuracy range (0.50, 0.60), section 4.2 text."""
    low, high = paper_value("round0_accuracy").value
    return float(low), float(high)
