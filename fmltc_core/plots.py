"""Figures of the reproduction, written to fixed file names.

Notebooks call these functions and never draw themselves, so a figure looks
the same whichever notebook or profile produced it. Every function takes the
objects of the pipeline, writes a PNG to ``path`` and returns the figure.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

logger = logging.getLogger(__name__)

SIMULATED_NOTE = "simulated IoT traffic (not the paper's private data)"


def _source_note(data_name: str, simulated: bool) -> str:
    return SIMULATED_NOTE if simulated else f"real data: {data_name}"


def _save(fig: plt.Figure, path: str | Path) -> plt.Figure:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    logger.info("wrote %s", path)
    return fig


def client_class_counts(federation) -> pd.DataFrame:
    """Training rows per client and class over all subsets (clients x classes)."""
    rows = []
    for client in federation.clients:
        train = client.all_train()
        counts = np.bincount(train.y, minlength=len(federation.class_names))
        rows.append(counts)
    return pd.DataFrame(
        rows,
        columns=federation.class_names,
        index=pd.Index([c.client_id for c in federation.clients], name="client"),
    )


def plot_client_class_mix(
    federations: dict[float, object], path: str | Path, *, title: str = ""
) -> plt.Figure:
    """Stacked per-client class shares, one panel per Dirichlet alpha."""
    alphas = sorted(federations)
    fig, axes = plt.subplots(
        1, len(alphas), figsize=(4.2 * len(alphas), 3.4), sharey=True, squeeze=False
    )
    for ax, alpha in zip(axes[0], alphas, strict=True):
        counts = client_class_counts(federations[alpha])
        shares = counts.div(counts.sum(axis=1).clip(lower=1), axis=0)
        bottom = np.zeros(len(shares))
        colours = plt.cm.tab10(np.linspace(0, 1, 10))
        for index, name in enumerate(shares.columns):
            ax.bar(
                shares.index.astype(str),
                shares[name],
                bottom=bottom,
                label=name,
                color=colours[index % 10],
            )
            bottom += shares[name].to_numpy()
        sizes = counts.sum(axis=1)
        ax.set_title(f"alpha = {alpha:g}  (rows {sizes.min()}-{sizes.max()})")
        ax.set_xlabel("client")
    axes[0][0].set_ylabel("share of training rows")
    axes[0][-1].legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    fig.suptitle(title or "Per-client class mix (Dirichlet label skew)")
    return _save(fig, path)


def plot_traffic_volume(data, segmentation, path: str | Path) -> plt.Figure:
    """Flow counts over time with the D1..D10 cuts and ADWIN drift points."""
    frame = data.frame
    subset_index = np.asarray(segmentation.subset_index)
    has_time = frame["time"].notna().all() and frame["time"].nunique() > 1
    fig, ax = plt.subplots(figsize=(10, 3.4))
    if has_time:
        times = frame["time"]
        span = times.max() - times.min()
        bin_width = "10min" if span <= pd.Timedelta(days=2) else "1h"
        counts = times.dt.floor(bin_width).value_counts().sort_index()
        ax.plot(counts.index, counts.to_numpy(), lw=1, color="0.3")
        ax.set_ylabel(f"flows per {bin_width}")
        starts = [times[subset_index == r].min() for r in np.unique(subset_index)]
        drift = [pd.Timestamp(t) for t in getattr(segmentation, "drift_times", [])]
    else:
        order = frame["order"].to_numpy()
        ranks = np.argsort(np.argsort(order, kind="stable"), kind="stable")
        bins = max(10, min(200, len(frame) // 20))
        ax.hist(ranks, bins=bins, color="0.6")
        ax.set_ylabel("flows per bin")
        ax.set_xlabel(f"capture order ({data.time_source}; no timestamps)")
        starts = [ranks[subset_index == r].min() for r in np.unique(subset_index)]
        drift = []
    for number, start in enumerate(starts, start=1):
        ax.axvline(start, color="tab:blue", ls="--", lw=0.8)
        ax.annotate(
            f"D{number}",
            (start, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="tab:blue",
            va="bottom",
        )
    for point in drift:
        ax.axvline(point, color="tab:red", lw=0.6, alpha=0.6)
    note = _source_note(data.dataset, data.simulated)
    ax.set_title(
        f"Traffic volume and temporal subsets ({note};"
        " blue: subset starts, red: ADWIN drift)",
        fontsize=9,
    )
    fig.autofmt_xdate()
    return _save(fig, path)


def subset_sizes(federation) -> pd.DataFrame:
    """Rows per subset (D1..), split and class, summed over clients."""
    summary = federation.summary()
    table = (
        summary.groupby(["subset", "split", "class"])["count"]
        .sum()
        .unstack(["split", "class"], fill_value=0)
    )
    # subsets are named "D1".."D10": order them by number, not as text
    return table.loc[sorted(table.index, key=lambda name: int(str(name).lstrip("D")))]


def plot_subset_sizes(federation, path: str | Path) -> plt.Figure:
    """Stacked class counts of the training and test rows of each subset."""
    table = subset_sizes(federation)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=False)
    for ax, split in zip(axes, ("train", "test"), strict=True):
        if split in table.columns.get_level_values(0):
            table[split].plot.bar(stacked=True, ax=ax, legend=split == "test")
        ax.set_title(f"{split} rows per temporal subset")
        ax.set_xlabel("subset")
    axes[0].set_ylabel("rows (all clients)")
    if axes[1].get_legend() is not None:
        axes[1].legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    return _save(fig, path)


# ---------------------------------------------------------------------------
# Notebook 02: MAML pretraining
# ---------------------------------------------------------------------------

PAPER_STYLE = {"color": "0.5", "alpha": 0.25}


def plot_maml_curves(
    curves: dict[str, list[float]], path: str | Path, *, title: str = ""
) -> plt.Figure:
    """Meta-training curves of ``W0``: meta loss, query loss, query accuracy.

    Parameters
    ----------
    curves : dict
        ``PretrainedInit.curves``: ``meta_loss``, ``query_loss`` and
        ``query_accuracy``, one value per meta step. Empty for the supervised
        fallback, which is then said on the figure.
    path : str or Path
    title : str
    """
    panels = (
        ("meta_loss", "meta loss (train mode)"),
        ("query_loss", "post-adaptation query loss"),
        ("query_accuracy", "post-adaptation query accuracy"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, (key, label) in zip(axes, panels, strict=True):
        values = np.asarray(curves.get(key, []), dtype=float)
        if values.size == 0:
            ax.text(
                0.5,
                0.5,
                "no MAML curve:\nW0 from supervised fallback",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        else:
            steps = np.arange(1, values.size + 1)
            ax.plot(steps, values, color="0.75", lw=0.8, label="per step")
            window = max(1, values.size // 15)
            smooth = pd.Series(values).rolling(window, min_periods=1).mean()
            ax.plot(steps, smooth, color="tab:blue", lw=1.5, label=f"mean of {window}")
            ax.legend(fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("meta step")
    fig.suptitle(textwrap.fill(title or "MAML meta-training of W0", 110), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_round0_accuracy(
    table: pd.DataFrame,
    path: str | Path,
    *,
    paper_band: tuple[float, float] | None = None,
    title: str = "",
) -> plt.Figure:
    """Round-0 accuracy per client of ``W0`` and of a random initialisation.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`fmltc_core.experiments.round0_table`: index ``client`` (then
        ``mean`` and ``pooled``), columns ``w0_accuracy``,
        ``random_init_accuracy``.
    paper_band : (low, high), optional
        The paper's reported round-0 range, drawn as a grey band labelled as
        the paper's.
    """
    clients = table.drop(index=["mean", "pooled"], errors="ignore")
    x = np.arange(len(clients))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(clients) + 2), 3.4))
    if paper_band is not None:
        low, high = paper_band
        ax.axhspan(
            low,
            high,
            label=f"the paper's round 0 ({low:.0%}-{high:.0%})",
            **PAPER_STYLE,
        )
    ax.bar(x - 0.2, clients["w0_accuracy"], 0.4, label="ours: W0", color="tab:blue")
    ax.bar(
        x + 0.2,
        clients["random_init_accuracy"],
        0.4,
        label="ours: random init",
        color="tab:orange",
    )
    if "pooled" in table.index:
        ax.axhline(
            table.loc["pooled", "w0_accuracy"],
            color="tab:blue",
            ls="--",
            lw=1,
            label="ours: W0, pooled",
        )
    ax.set_xticks(x, clients.index.astype(str))
    ax.set_xlabel("client")
    ax.set_ylabel("accuracy before training")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title(title or "Round-0 accuracy per client", fontsize=9)
    return _save(fig, path)


# ---------------------------------------------------------------------------
# Notebook 03: Fig. 3, accuracy by round
# ---------------------------------------------------------------------------

METHOD_COLOURS = {
    "fmltc": "tab:red",
    "fedavg": "tab:blue",
    "fedprox": "tab:green",
    "fed_anids": "tab:purple",
    "ssfl": "tab:orange",
}
METHOD_NAMES = {
    "fmltc": "FMLTC-IDS",
    "fedavg": "FedAvg",
    "fedprox": "FedProx",
    "fed_anids": "Fed-ANIDS",
    "ssfl": "SSFL",
}
PAPER_ROUNDS = 10


def plot_accuracy_by_round(
    curves: pd.DataFrame,
    path: str | Path,
    *,
    paper: dict[str, pd.DataFrame] | None = None,
    paper_round0: tuple[float, float] | None = None,
    notes: dict[str, str] | None = None,
    title: str = "",
) -> plt.Figure:
    """Fig. 3: accuracy against round, one panel per dataset and alpha.

    Parameters
    ----------
    curves : pandas.DataFrame
        Long form (:func:`fmltc_core.experiments.curves_frame`): ``dataset``,
        ``alpha``, ``seed``, ``method``, ``round`` (0 = initial model),
        ``accuracy``. Lines are means over seeds, bands +- one sd.
    paper : dict dataset -> DataFrame, optional
        :func:`fmltc_core.paper_values.comparison_frame` per dataset: the
        paper's final accuracy, marked with crosses at round 10 and labelled as
        the paper's.
    paper_round0 : (low, high), optional
        The paper's round-0 range, a grey bar at round 0.
    notes : dict dataset -> str, optional
        Data source shown in each panel title (e.g. simulated or real sample).
    """
    datasets = list(dict.fromkeys(curves["dataset"]))
    alphas = sorted(curves["alpha"].unique())
    fig, axes = plt.subplots(
        len(datasets),
        len(alphas),
        figsize=(4.2 * len(alphas), 3.3 * len(datasets)),
        sharey=True,
        squeeze=False,
    )
    for i, dataset in enumerate(datasets):
        for j, alpha in enumerate(alphas):
            ax = axes[i][j]
            panel = curves[(curves["dataset"] == dataset) & (curves["alpha"] == alpha)]
            for method in [m for m in METHOD_COLOURS if m in set(panel["method"])]:
                stats = (
                    panel[panel["method"] == method]
                    .groupby("round")["accuracy"]
                    .agg(["mean", "std"])
                )
                colour = METHOD_COLOURS[method]
                ax.plot(
                    stats.index,
                    stats["mean"],
                    color=colour,
                    marker="o",
                    ms=3,
                    label=f"ours: {METHOD_NAMES[method]}",
                )
                spread = stats["std"].fillna(0.0)
                ax.fill_between(
                    stats.index,
                    stats["mean"] - spread,
                    stats["mean"] + spread,
                    color=colour,
                    alpha=0.15,
                    lw=0,
                )
                frame = (paper or {}).get(dataset)
                if frame is not None and (alpha, method) in frame.index:
                    ax.plot(
                        [PAPER_ROUNDS],
                        [frame.loc[(alpha, method), "accuracy"]],
                        marker="x",
                        ms=7,
                        color=colour,
                        ls="none",
                        label=f"the paper's: {METHOD_NAMES[method]} (final)",
                    )
            if paper_round0 is not None:
                ax.plot(
                    [0, 0],
                    list(paper_round0),
                    color="0.4",
                    lw=6,
                    alpha=0.4,
                    solid_capstyle="butt",
                    label="the paper's round 0",
                )
            note = textwrap.fill((notes or {}).get(dataset, ""), 55)
            ax.set_title(f"{dataset}, alpha = {alpha:g}\n{note}", fontsize=8)
            ax.set_xlabel("communication round")
            ax.grid(alpha=0.3)
        axes[i][0].set_ylabel("accuracy")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=7
    )
    fig.suptitle(
        title or "Accuracy by round (mean over seeds, band: +- 1 sd)", fontsize=10
    )
    fig.tight_layout()
    return _save(fig, path)
