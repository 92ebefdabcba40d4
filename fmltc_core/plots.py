"""Figures of the reproduction, written to fixed file names.

Notebooks call these functions and never draw themselves, so a figure looks
the same whichever notebook or profile produced it. Every function takes the
objects of the pipeline, writes a PNG to ``path`` and returns the figure.
"""

from __future__ import annotations

import logging
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
