"""Figures of the ablations (FMLTC-IDS Figs. 4 and 5), written to fixed names.

Like :mod:`fmltc_core.plots`, every function takes the tables of
:mod:`fmltc_core.ablations`, writes a PNG to ``path`` and returns the figure.
The paper's values are drawn in grey and labelled as the paper's.
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

OURS_COLOUR = "tab:blue"
PAPER_COLOUR = "0.6"


def _save(fig: plt.Figure, path: str | Path) -> plt.Figure:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    logger.info("wrote %s", path)
    return fig


def plot_clustering_time(
    timings: pd.DataFrame,
    bars: pd.DataFrame,
    path: str | Path,
    *,
    title: str = "",
) -> plt.Figure:
    """Fig. 4: clustering time per feature method, bars and growth with clients.

    Parameters
    ----------
    timings : DataFrame
        :func:`fmltc_core.ablations.run_feature_timing` output (``method``,
        ``n_clients``, ``seconds``).
    bars : DataFrame
        :func:`fmltc_core.ablations.fig4_table` output, indexed by method, with
        ``seconds`` and ``paper_seconds`` (NaN where the paper gives none).
    path : str or Path
    title : str
        Figure title (say which data the uploads came from).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    methods = list(bars.index)
    positions = np.arange(len(methods))
    width = 0.38
    n_bar = bars.attrs.get("n_clients", "?")

    # left: our bars beside the paper's, log scale
    left.bar(
        positions - width / 2,
        bars["seconds"],
        width,
        color=OURS_COLOUR,
        label=f"ours ({n_bar} clients, this machine)",
    )
    paper = bars["paper_seconds"].to_numpy(dtype=float)
    left.bar(
        positions + width / 2,
        np.nan_to_num(paper, nan=0.0),
        width,
        color=PAPER_COLOUR,
        label="the paper's (section 4.3.2 text; GPU, clients not stated)",
    )
    for x, value in zip(positions, bars["seconds"], strict=True):
        left.annotate(
            f"{value:.3g} s",
            (x - width / 2, value),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    for x, value in zip(positions, paper, strict=True):
        label = "not given" if np.isnan(value) else f"{value:.3g} s"
        y = value if not np.isnan(value) else bars["seconds"].min()
        left.annotate(
            label,
            (x + width / 2, y),
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.35",
        )
    left.set_yscale("log")
    left.set_xticks(positions, methods, rotation=15)
    left.set_ylabel("features + reduction + clustering (s)")
    left.legend(fontsize=8, loc="upper right")
    left.set_title("clustering time by feature extraction")

    # right: growth with the number of clients, log-log
    for method in methods:
        rows = timings[timings["method"] == method].sort_values("n_clients")
        right.plot(rows["n_clients"], rows["seconds"], marker="o", label=method)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("number of clients")
    right.set_ylabel("seconds")
    right.set_title("growth with the number of clients")
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_cluster_quality(
    quality: pd.DataFrame, path: str | Path, *, title: str = ""
) -> plt.Figure:
    """Fig. 5: silhouette and intra-cluster gradient similarity, ours and the paper's.

    Parameters
    ----------
    quality : DataFrame
        :func:`fmltc_core.ablations.quality_summary` output, indexed by
        variant (``TS-Cluster``, ``Static-Cluster``), with ``<metric>``,
        ``<metric>_sd`` and ``<metric>_paper`` for ``silhouette`` and
        ``gradient_similarity``.
    path : str or Path
    title : str
    """
    panels = (
        ("silhouette", "silhouette score (DTW, eq. 9)"),
        ("gradient_similarity", "intra-cluster gradient similarity (cosine)"),
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    variants = list(quality.index)
    positions = np.arange(len(variants))
    width = 0.38
    for ax, (metric, label) in zip(axes, panels, strict=True):
        ours = quality[metric].to_numpy(dtype=float)
        spread = np.nan_to_num(quality[f"{metric}_sd"].to_numpy(dtype=float))
        paper = quality[f"{metric}_paper"].to_numpy(dtype=float)
        n_seeds = int(quality["n_seeds"].max())
        ax.bar(
            positions - width / 2,
            ours,
            width,
            yerr=spread,
            capsize=4,
            color=OURS_COLOUR,
            label=f"ours (mean, sd over {n_seeds} seeds)",
        )
        ax.bar(
            positions + width / 2,
            np.nan_to_num(paper),
            width,
            color=PAPER_COLOUR,
            label="the paper's (section 4.3.3 text)",
        )
        for x, value in zip(positions, ours, strict=True):
            if not np.isnan(value):
                ax.annotate(
                    f"{value:.2f}",
                    (x - width / 2, max(value, 0)),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
        for x, value in zip(positions, paper, strict=True):
            if not np.isnan(value):
                ax.annotate(
                    f"{value:.2f}",
                    (x + width / 2, value),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color="0.35",
                )
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(positions, variants)
        ax.set_title(label, fontsize=10)
        ax.set_ylim(min(-0.1, np.nanmin(ours - spread) - 0.05), 1.05)
        ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
