"""The three ablations of FMLTC-IDS section 4.3 (RQ1-RQ3; Tables 3-4, Figs. 4-5).

RQ1, batch adaptation (Table 3)
    FMLTC-IDS with a fixed batch of 16, a fixed batch of 128, a batch drawn
    uniformly in [16, 128] every round, and the adaptive batch of eq. 1 with
    the gradient-weighted sampling of eqs. 2-5 (:data:`BATCH_VARIANTS`). The
    three baselines draw uniform minibatches: they change the batch size
    only, as the paper describes them. A fifth row, eq. 1 with uniform
    minibatches, separates the two components of the full method. Each run
    reports the mean **round time** (rounds 1..R of the engine's ``seconds``:
    all sampled clients' local training plus the server's aggregation, run
    one after the other in one process; evaluation is not included), the
    engine's **convergence round** (first round from which accuracy stays
    within the tolerance of its final value) and the final accuracy, recall
    and F1 of the deployed models. The **time to convergence** is
    ``T_C = mean round time x convergence round``, the reading that makes the
    paper's Table 3 columns consistent (e.g. 94.36 s x 6 = 566.2 s).

RQ2, feature extraction (Fig. 4)
    The server-side cost of clustering clients from four descriptions of their
    uploads: all parameters (no reduction), the first layer + PCA, the last
    layer + PCA (eqs. 6-8, the method) and the last layer + UMAP. The timed
    work is feature extraction + reduction + one fit of the same clusterer
    (:class:`~fmltc_core.clustering.kmeans.GradientWeightedDBAKMeans` at a
    fixed K, on the eq. 10 series of a window of rounds). The uploads are real
    Detector weights: a short FMLTC-IDS run on the federation records every
    client's upload per round (:func:`record_trajectories`); larger
    populations are made from those prototypes by seeded perturbation
    (:func:`expand_trajectories`).

RQ3, time-series clustering (Table 4, Fig. 5)
    FMLTC-IDS with its time-series clustering, with static K-Means on the
    latest features, and with plain FedAvg aggregation (:data:`CLUSTERING_VARIANTS`):
    final accuracy, recall, F1 and the personalisation gain ``Delta Acc``
    (mean over clients of local minus global accuracy, in percentage points).
    Cluster quality (Fig. 5) is read from the server's final state: the DTW
    silhouette of the final clustering on the series it was computed from,
    and the intra-cluster cosine similarity of the final round's updates
    (upload minus the model the client received, all parameters).

:class:`ServerRecorder` is passed to
:func:`fmltc_core.federated.engine.run_federated` as an observer: it records
each round's uploads before aggregation; the final server comes back in
``FederatedRun.extra["server"]``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from fmltc_core import paper_values
from fmltc_core.clustering.features import FeatureHistory
from fmltc_core.clustering.kmeans import GradientWeightedDBAKMeans
from fmltc_core.clustering.quality import (
    dtw_silhouette_score,
    intra_cluster_gradient_similarity,
)
from fmltc_core.federated import engine
from fmltc_core.federated.methods import FederatedConfig

logger = logging.getLogger(__name__)

#: RQ1 variants (Table 3 rows): name -> FederatedConfig settings.
BATCH_VARIANTS: dict[str, dict[str, object]] = {
    "Baseline1 (fixed B=16)": {
        "batch_policy": "fixed",
        "batch_size": 16,
        "gradient_weighted": False,
    },
    "Baseline2 (fixed B=128)": {
        "batch_policy": "fixed",
        "batch_size": 128,
        "gradient_weighted": False,
    },
    "Baseline3 (random B in [16, 128])": {
        "batch_policy": "random",
        "gradient_weighted": False,
    },
    "FMLTC-IDS (eq. 1 + eqs. 2-5)": {
        "batch_policy": "adaptive",
        "gradient_weighted": True,
    },
}

#: Extra RQ1 row (not in the paper): eq. 1 batches with uniform minibatches.
ADAPTIVE_UNIFORM = "eq. 1 only (uniform minibatches)"
ADAPTIVE_UNIFORM_SETTINGS = {"batch_policy": "adaptive", "gradient_weighted": False}


def batch_variants(include_adaptive_uniform: bool = True) -> dict[str, dict]:
    """The RQ1 rows: :data:`BATCH_VARIANTS`, optionally with eq. 1 alone."""
    variants = dict(BATCH_VARIANTS)
    if include_adaptive_uniform:
        variants[ADAPTIVE_UNIFORM] = dict(ADAPTIVE_UNIFORM_SETTINGS)
    return variants


#: RQ3 variants (Table 4 rows): name -> FederatedConfig.clustering.
CLUSTERING_VARIANTS = {
    "TS-Cluster": "time_series",
    "Static-Cluster": "static",
    "FedAvg": "none",
}

#: RQ2 feature descriptions, in the order of Fig. 4.
FEATURE_METHODS = (
    "all layers",
    "first layer + PCA",
    "last layer + PCA",
    "last layer + UMAP",
)

# Our row and column names for the keys of fmltc_core.paper_values.
_PAPER_TABLE3_ROWS = {
    "baseline1_fixed16": "Baseline1 (fixed B=16)",
    "baseline2_fixed128": "Baseline2 (fixed B=128)",
    "baseline3_random": "Baseline3 (random B in [16, 128])",
    "fmltc": "FMLTC-IDS (eq. 1 + eqs. 2-5)",
}
_PAPER_TABLE3_COLUMNS = {
    "training_seconds": "round_seconds",
    "convergence_rounds": "convergence_round",
    "accuracy": "accuracy",
    "recall": "recall",
    "f1": "f1",
    "convergence_seconds": "convergence_seconds",
}
_PAPER_CLUSTER_ROWS = {
    "ts_cluster": "TS-Cluster",
    "static_cluster": "Static-Cluster",
    "fedavg": "FedAvg",
}
_PAPER_FIG4_ROWS = {
    "all_layers": "all layers",
    "first_layer_pca": "first layer + PCA",
    "last_layer_pca": "last layer + PCA",
}

FIRST_LAYER = "encoder.0.weight"
LAST_LAYER = "output_layer.weight"

TABLE3_METRICS = (
    "round_seconds",
    "convergence_round",
    "accuracy",
    "recall",
    "f1",
    "convergence_seconds",
)
TABLE4_METRICS = ("accuracy", "recall", "f1", "delta_acc_pp")


def limit_threads() -> None:
    """One torch thread (2-core machines); the project's runtime helper if present."""
    try:
        from fmltc_core.runtime import configure_runtime
    except ImportError:
        import torch

        torch.set_num_threads(1)
    else:
        configure_runtime()


def paper_table3() -> pd.DataFrame:
    """The paper's Table 3 with our row and column names (BoT-IoT, alpha 1).

    The paper's "Training Time(s)" per round is set beside our
    ``round_seconds``, its "Convergence Speed" (rounds) beside our
    ``convergence_round``.
    """
    frame = pd.DataFrame(paper_values.TABLE3_BATCH_ABLATION).T
    frame = frame.rename(index=_PAPER_TABLE3_ROWS, columns=_PAPER_TABLE3_COLUMNS)
    frame.attrs["source"] = paper_values.TABLE3_SOURCE
    return frame


def paper_table4() -> pd.DataFrame:
    """The paper's Table 4 with our names (``delta`` -> ``delta_acc_pp``)."""
    frame = pd.DataFrame(paper_values.TABLE4_PERSONALISATION).T
    frame = frame.rename(index=_PAPER_CLUSTER_ROWS, columns={"delta": "delta_acc_pp"})
    frame.attrs["source"] = paper_values.TABLE4_SOURCE
    return frame


def paper_fig4() -> dict[str, float]:
    """The paper's Fig. 4 seconds stated in its text, keyed by our method names."""
    return {
        _PAPER_FIG4_ROWS[key]: float(value)
        for key, value in paper_values.FIG4_CLUSTERING_SECONDS.items()
    }


def paper_fig5() -> pd.DataFrame:
    """The paper's Fig. 5 values: rows TS-Cluster, Static-Cluster."""
    frame = pd.DataFrame(paper_values.FIG5_CLUSTER_QUALITY)
    frame = frame.rename(index=_PAPER_CLUSTER_ROWS)
    frame.attrs["source"] = paper_values.FIG5_SOURCE
    return frame


# ---------------------------------------------------------------------------
# Observing the engine's server
# ---------------------------------------------------------------------------


@dataclass
class RoundRecord:
    """What the server saw in one round.

    Attributes
    ----------
    server_round : int
    uploads : dict client -> dict of arrays
        Each sampled client's uploaded parameters.
    received : dict client -> dict of arrays
        The parameters each sampled client started the round from.
    gradient_means, gradient_variances : dict client -> float
        Eq. 10 gradient statistics of the upload.
    batch_sizes : dict client -> int
        ``B_i`` used by the client.
    """

    server_round: int
    uploads: dict[int, dict[str, np.ndarray]]
    received: dict[int, dict[str, np.ndarray]]
    gradient_means: dict[int, float]
    gradient_variances: dict[int, float]
    batch_sizes: dict[int, int]


@dataclass
class ServerRecorder:
    """Keeps the engine's server and the uploads of its rounds.

    Parameters
    ----------
    keep_all : bool, default False
        Keep every round's :class:`RoundRecord`; otherwise only the last.

    Attributes
    ----------
    server : object or None
        The server of the last observed run (``ClusteringServer`` for
        FMLTC-IDS with clustering, ``AveragingServer`` otherwise).
    records : list of RoundRecord
    """

    keep_all: bool = False
    server: object | None = None
    records: list[RoundRecord] = field(default_factory=list)

    def before_aggregate(self, server_round: int, server, updates: Mapping) -> None:
        """Record the uploads and the models the clients received."""
        record = RoundRecord(
            server_round=server_round,
            uploads={c: dict(u.arrays) for c, u in updates.items()},
            received={c: dict(server.arrays_for(c)) for c in updates},
            gradient_means={c: float(u.grad_norm_mean) for c, u in updates.items()},
            gradient_variances={c: float(u.grad_norm_var) for c, u in updates.items()},
            batch_sizes={c: int(u.batch_size) for c, u in updates.items()},
        )
        if self.keep_all:
            self.records.append(record)
        else:
            self.records = [record]


# ---------------------------------------------------------------------------
# Shared: configurations and summaries over seeds
# ---------------------------------------------------------------------------


def variant_config(
    settings: Mapping[str, object],
    *,
    seed: int,
    rounds: int,
    base: FederatedConfig | None = None,
) -> FederatedConfig:
    """``base`` (default settings if None) with ``settings``, ``seed``, ``rounds``."""
    base = base or FederatedConfig()
    return replace(base, **dict(settings), seed=int(seed), rounds=int(rounds))


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    values = [int(s) for s in seeds]
    if not values or len(set(values)) != len(values):
        raise ValueError(
            f"seeds must be a non-empty list of distinct integers, got {seeds!r}"
        )
    return values


def summarise_over_seeds(
    per_seed: pd.DataFrame, metrics: Sequence[str], *, by: str = "variant"
) -> pd.DataFrame:
    """Mean and sample standard deviation of ``metrics`` over seeds.

    Parameters
    ----------
    per_seed : DataFrame
        One row per (``by``, seed).
    metrics : sequence of str
        Columns to summarise.
    by : str, default "variant"
        Grouping column; the row order of its first appearance is kept.

    Returns
    -------
    DataFrame
        Indexed by ``by``; columns ``<metric>`` (mean) and ``<metric>_sd``
        (standard deviation with ``ddof=1``; NaN for one seed), plus
        ``n_seeds``.
    """
    missing = [m for m in (*metrics, by) if m not in per_seed.columns]
    if missing:
        raise ValueError(f"per_seed must have columns {missing}, got {list(per_seed)}")
    order = list(dict.fromkeys(per_seed[by]))
    grouped = per_seed.groupby(by, sort=False)[list(metrics)]
    means = grouped.mean().reindex(order)
    sds = grouped.std(ddof=1).reindex(order)
    columns = {}
    for metric in metrics:
        columns[metric] = means[metric]
        columns[f"{metric}_sd"] = sds[metric]
    summary = pd.DataFrame(columns)
    summary["n_seeds"] = per_seed.groupby(by, sort=False).size().reindex(order)
    summary.index.name = by
    return summary


def with_paper_columns(
    summary: pd.DataFrame,
    paper: pd.DataFrame | None,
    metrics: Sequence[str],
) -> pd.DataFrame:
    """Interleave ``<metric>_paper`` columns after each ``<metric>_sd``.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarise_over_seeds`.
    paper : DataFrame or None
        The paper's values, indexed by our row names, one column per metric
        (missing metrics or rows give NaN).
    metrics : sequence of str
    """
    table = pd.DataFrame(index=summary.index)
    for metric in metrics:
        table[metric] = summary[metric]
        table[f"{metric}_sd"] = summary[f"{metric}_sd"]
        values = []
        for name in summary.index:
            if paper is not None and name in paper.index and metric in paper.columns:
                values.append(float(paper.loc[name, metric]))
            else:
                values.append(np.nan)
        table[f"{metric}_paper"] = values
    table["n_seeds"] = summary["n_seeds"]
    return table


# ---------------------------------------------------------------------------
# RQ1: batch adaptation (Table 3)
# ---------------------------------------------------------------------------


def batch_run_row(run) -> dict[str, float]:
    """Table 3 quantities of one :class:`~fmltc_core.federated.engine.FederatedRun`.

    Returns
    -------
    dict
        ``round_seconds`` (mean engine ``seconds`` over rounds 1..R: local
        training of the sampled clients + aggregation), ``train_seconds``
        (its local-training part), ``convergence_round``, final ``accuracy``,
        ``precision``, ``recall``, ``f1``, ``convergence_seconds`` =
        ``round_seconds * convergence_round`` (``T_C``) and ``mean_batch_size``
        (over sampled client-rounds), and ``converged``: 1 when the
        convergence round is before the last round, 0 when accuracy was still
        moving in the last round (the convergence round is then the last
        round, a lower bound).
    """
    rounds = run.rounds[run.rounds["round"] >= 1]
    if rounds.empty:
        raise ValueError("run must have at least one training round, got none")
    round_seconds = float(rounds["seconds"].mean())
    final = run.rounds.iloc[-1]
    sampled = run.clients[run.clients["sampled"].astype(bool)]
    return {
        "round_seconds": round_seconds,
        "train_seconds": float(rounds["train_seconds"].mean()),
        "convergence_round": int(run.convergence_round),
        "accuracy": float(final["accuracy"]),
        "precision": float(final["precision"]),
        "recall": float(final["recall"]),
        "f1": float(final["f1"]),
        "convergence_seconds": round_seconds * int(run.convergence_round),
        "mean_batch_size": float(sampled["batch_size"].mean()),
        "converged": float(run.convergence_round < int(rounds["round"].max())),
    }


def run_batch_ablation(
    federation,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    rounds: int = 10,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    variants: Mapping[str, Mapping[str, object]] | None = None,
    base_config: FederatedConfig | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """RQ1: run every batch variant for every seed.

    Parameters
    ----------
    federation : Federation
    seeds : sequence of int
        ``FederatedConfig.seed`` of each repetition (client sampling, resource
        scores ``R_i``, random batches, local updates).
    rounds : int
    initial_arrays, meta_centres
        ``W0`` and the meta-cluster centres (see ``run_federated``).
    variants : mapping name -> FederatedConfig settings, optional
        Default :data:`BATCH_VARIANTS`.
    base_config : FederatedConfig, optional
        Settings shared by all variants.

    Returns
    -------
    DataFrame
        One row per (variant, seed) with the keys of :func:`batch_run_row`.
    """
    limit_threads()
    seeds = _check_seeds(seeds)
    variants = BATCH_VARIANTS if variants is None else variants
    rows = []
    for name, settings in variants.items():
        for seed in seeds:
            config = variant_config(
                settings, seed=seed, rounds=rounds, base=base_config
            )
            run = engine.run_federated(
                federation,
                "fmltc",
                config,
                initial_arrays=initial_arrays,
                meta_centres=meta_centres,
                progress=progress,
            )
            row = {"variant": name, "seed": seed, **batch_run_row(run)}
            logger.info(
                "RQ1 %s seed %d: %.3f s/round, converged at %d, acc %.3f",
                name,
                seed,
                row["round_seconds"],
                row["convergence_round"],
                row["accuracy"],
            )
            rows.append(row)
    return pd.DataFrame(rows)


def table3(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Table 3: mean, sd over seeds and the paper's value of each column.

    Columns ``<metric>``, ``<metric>_sd``, ``<metric>_paper`` for each of
    :data:`TABLE3_METRICS` (the paper's from :func:`paper_table3`), then
    ``mean_batch_size``, ``converged_share`` (share of seeds whose accuracy
    settled before the last round) and ``n_seeds``.
    """
    summary = summarise_over_seeds(
        per_seed, (*TABLE3_METRICS, "mean_batch_size", "converged"), by="variant"
    )
    table = with_paper_columns(summary, paper_table3(), TABLE3_METRICS)
    table.insert(len(table.columns) - 1, "mean_batch_size", summary["mean_batch_size"])
    table.insert(len(table.columns) - 1, "converged_share", summary["converged"])
    return table


# ---------------------------------------------------------------------------
# RQ3: time-series clustering (Table 4, Fig. 5)
# ---------------------------------------------------------------------------


def update_vectors(record: RoundRecord) -> tuple[np.ndarray, np.ndarray]:
    """Flattened model updates (upload minus received) of one round.

    Returns
    -------
    client_ids : array, shape (n,)
    vectors : array, shape (n, P)
        All parameters, in the order of the state dict.
    """
    ids = np.array(sorted(record.uploads))
    vectors = np.stack(
        [
            np.concatenate(
                [
                    (
                        np.asarray(record.uploads[c][k], dtype=np.float64)
                        - np.asarray(record.received[c][k], dtype=np.float64)
                    ).ravel()
                    for k in record.uploads[c]
                ]
            )
            for c in ids
        ]
    )
    return ids, vectors


def cluster_quality(server, record: RoundRecord) -> dict[str, float]:
    """Fig. 5 quality of a clustering server's final state.

    Parameters
    ----------
    server : ClusteringServer
        After its last aggregation: ``last_series = (ids, series, grad)`` is
        what the final clustering was computed on (the window of eq. 10 series
        for time-series clustering, the latest step for static K-Means) and
        ``client_cluster`` its labels.
    record : RoundRecord
        The final round's uploads.

    Returns
    -------
    dict
        ``silhouette`` (:func:`~fmltc_core.clustering.quality.dtw_silhouette_score`
        of the final labels on ``last_series``; NaN unless
        2 <= K <= n - 1), ``gradient_similarity``
        (:func:`~fmltc_core.clustering.quality.intra_cluster_gradient_similarity`
        of the final round's update vectors; NaN when no cluster has two
        uploading members), ``n_clusters``, ``n_clients``.
    """
    if getattr(server, "last_series", None) is None:
        raise ValueError(
            "server must be a ClusteringServer after at least one round "
            f"(last_series set), got {type(server).__name__}"
        )
    ids, series, grad = server.last_series
    labels = np.array([server.client_cluster[int(c)] for c in ids])
    n_clusters = int(np.unique(labels).size)
    silhouette = np.nan
    if 2 <= n_clusters <= len(ids) - 1:
        silhouette = dtw_silhouette_score(series, labels, grad)
    else:
        logger.warning(
            "silhouette undefined for %d cluster(s) over %d clients",
            n_clusters,
            len(ids),
        )
    upload_ids, vectors = update_vectors(record)
    # a client whose upload held no training rows is not averaged, hence never
    # clustered: it has no cluster to be similar within
    clustered = np.array([int(c) in server.client_cluster for c in upload_ids])
    if not clustered.all():
        logger.info(
            "gradient similarity leaves out %d upload(s) with no training rows "
            "(clients %s)",
            int((~clustered).sum()),
            upload_ids[~clustered].tolist(),
        )
    upload_ids, vectors = upload_ids[clustered], vectors[clustered]
    upload_labels = np.array(
        [server.client_cluster[int(c)] for c in upload_ids], dtype=np.int64
    )
    similarity = np.nan
    if upload_labels.size and np.bincount(upload_labels).max() >= 2:
        similarity = intra_cluster_gradient_similarity(vectors, upload_labels)
    return {
        "silhouette": float(silhouette),
        "gradient_similarity": float(similarity),
        "n_clusters": n_clusters,
        "n_clients": len(ids),
    }


def run_clustering_ablation(
    federation,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    rounds: int = 10,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    variants: Mapping[str, str] | None = None,
    base_config: FederatedConfig | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """RQ3: run every aggregation variant for every seed.

    Returns
    -------
    DataFrame
        One row per (variant, seed): final ``accuracy``, ``precision``,
        ``recall``, ``f1``, ``delta_acc_pp`` (the engine's final-round
        ``personalisation_gain`` x 100: local minus global accuracy in
        percentage points), ``local_accuracy``, ``global_accuracy``,
        ``convergence_round``, and for the clustering variants the
        :func:`cluster_quality` values (NaN for FedAvg).
    """
    limit_threads()
    seeds = _check_seeds(seeds)
    variants = CLUSTERING_VARIANTS if variants is None else variants
    rows = []
    for name, clustering in variants.items():
        for seed in seeds:
            config = variant_config(
                {"clustering": clustering}, seed=seed, rounds=rounds, base=base_config
            )
            recorder = ServerRecorder()
            run = engine.run_federated(
                federation,
                "fmltc",
                config,
                initial_arrays=initial_arrays,
                meta_centres=meta_centres,
                progress=progress,
                observers=(recorder,),
            )
            recorder.server = run.extra["server"]
            final = run.rounds.iloc[-1]
            row = {
                "variant": name,
                "seed": seed,
                "accuracy": float(final["accuracy"]),
                "precision": float(final["precision"]),
                "recall": float(final["recall"]),
                "f1": float(final["f1"]),
                "delta_acc_pp": 100.0 * float(final["personalisation_gain"]),
                "local_accuracy": float(final["local_accuracy"]),
                "global_accuracy": float(final["global_accuracy"]),
                "convergence_round": int(run.convergence_round),
                "silhouette": np.nan,
                "gradient_similarity": np.nan,
                "n_clusters": int(final["n_clusters"]),
            }
            if clustering != "none":
                quality = cluster_quality(recorder.server, recorder.records[-1])
                row.update(
                    silhouette=quality["silhouette"],
                    gradient_similarity=quality["gradient_similarity"],
                )
            logger.info(
                "RQ3 %s seed %d: acc %.3f, gain %+.2f pp, silhouette %.3f, "
                "similarity %.3f",
                name,
                seed,
                row["accuracy"],
                row["delta_acc_pp"],
                row["silhouette"],
                row["gradient_similarity"],
            )
            rows.append(row)
    return pd.DataFrame(rows)


def table4(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Table 4: mean, sd over seeds and the paper's value of each column.

    Columns ``<metric>``, ``<metric>_sd``, ``<metric>_paper`` for each of
    :data:`TABLE4_METRICS` (``delta_acc_pp`` in percentage points, the paper's
    "+4.1"), then ``n_seeds``.
    """
    summary = summarise_over_seeds(per_seed, TABLE4_METRICS, by="variant")
    return with_paper_columns(summary, paper_table4(), TABLE4_METRICS)


def quality_summary(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Fig. 5 numbers: silhouette and gradient similarity, beside the paper's."""
    clustered = per_seed[per_seed["variant"] != "FedAvg"]
    metrics = ("silhouette", "gradient_similarity")
    summary = summarise_over_seeds(clustered, metrics, by="variant")
    return with_paper_columns(summary, paper_fig5(), metrics)


# ---------------------------------------------------------------------------
# RQ2: feature extraction and clustering time (Fig. 4)
# ---------------------------------------------------------------------------


@dataclass
class ClientTrajectories:
    """Uploaded parameters of clients over a window of rounds.

    Attributes
    ----------
    parameters : dict name -> array, shape (n, T, *shape)
        Every state-dict entry of every client's upload in each round.
    gradient_means, gradient_variances : arrays, shape (n, T)
        Eq. 10 statistics of each upload.
    batch_sizes : array, shape (n,)
        ``B_i`` of each client's last upload.
    source : str
        How the trajectories were made (for captions).
    """

    parameters: dict[str, np.ndarray]
    gradient_means: np.ndarray
    gradient_variances: np.ndarray
    batch_sizes: np.ndarray
    source: str = ""

    @property
    def n_clients(self) -> int:
        return int(self.gradient_means.shape[0])

    @property
    def n_rounds(self) -> int:
        return int(self.gradient_means.shape[1])

    @property
    def n_parameters(self) -> int:
        return int(sum(np.prod(v.shape[2:]) for v in self.parameters.values()))


def record_trajectories(
    federation,
    *,
    n_rounds: int = 5,
    seed: int = 0,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    base_config: FederatedConfig | None = None,
) -> ClientTrajectories:
    """Every client's uploads over ``n_rounds`` rounds of an FMLTC-IDS run.

    Runs :func:`~fmltc_core.federated.engine.run_federated` with all clients
    sampled every round (``fraction_fit=1``) and records each upload, so the
    trajectories are real Detector weights trained on real client subsets
    D1..D``n_rounds``.
    """
    limit_threads()
    if int(n_rounds) != n_rounds or n_rounds < 1:
        raise ValueError(f"n_rounds must be a positive integer, got {n_rounds!r}")
    config = variant_config(
        {"fraction_fit": 1.0}, seed=seed, rounds=n_rounds, base=base_config
    )
    recorder = ServerRecorder(keep_all=True)
    engine.run_federated(
        federation,
        "fmltc",
        config,
        initial_arrays=initial_arrays,
        meta_centres=meta_centres,
        progress=False,
        observers=(recorder,),
    )
    records = recorder.records
    ids = sorted(set.intersection(*(set(r.uploads) for r in records)))
    if not ids:
        raise ValueError("no client uploaded in every round; cannot build series")
    names = list(records[0].uploads[ids[0]])
    parameters = {
        name: np.stack(
            [np.stack([r.uploads[c][name] for r in records]) for c in ids]
        ).astype(np.float64)
        for name in names
    }
    means = np.array([[r.gradient_means[c] for r in records] for c in ids])
    variances = np.array([[r.gradient_variances[c] for r in records] for c in ids])
    batches = np.array([records[-1].batch_sizes[c] for c in ids])
    source = (
        f"uploads of {len(ids)} clients over {n_rounds} FMLTC-IDS rounds (seed {seed})"
    )
    return ClientTrajectories(parameters, means, variances, batches, source)


def expand_trajectories(
    prototypes: ClientTrajectories,
    n_clients: int,
    *,
    spread: float = 0.25,
    seed: int = 0,
) -> ClientTrajectories:
    """``n_clients`` clients made from recorded prototypes by seeded perturbation.

    Client ``j`` copies prototype ``j mod P`` and adds, for every parameter
    entry, a persistent per-client offset and a per-round jitter, both normal
    with standard deviation ``spread`` (offset) and ``spread / 2`` (jitter)
    times the entry's standard deviation across prototypes in that round (or
    ``1e-3`` of its magnitude when the prototypes agree). Gradient statistics
    are scaled by a per-client log-normal factor (sigma ``spread``), batch
    sizes copied. The first ``P`` clients keep their own noise too, so every
    client is distinct. Clients therefore form ``P`` groups with realistic
    within-layer structure, a cheap stand-in for training 1,000 clients.
    """
    if int(n_clients) != n_clients or n_clients < 1:
        raise ValueError(f"n_clients must be a positive integer, got {n_clients!r}")
    if not spread >= 0:
        raise ValueError(f"spread must be non-negative, got {spread!r}")
    rng = np.random.default_rng([seed, 31337, int(n_clients)])
    source_index = np.arange(int(n_clients)) % prototypes.n_clients
    parameters = {}
    for name, values in prototypes.parameters.items():
        scale = values.std(axis=0, keepdims=True)
        scale = np.where(scale > 0, scale, 1e-3 * np.abs(values).mean() + 1e-12)
        base = values[source_index]
        shape = (int(n_clients), 1, *values.shape[2:])
        offset = rng.normal(scale=spread, size=shape)
        jitter = rng.normal(scale=spread / 2, size=(int(n_clients), *values.shape[1:]))
        parameters[name] = base + (offset + jitter) * scale
    factor = np.exp(rng.normal(scale=spread, size=(int(n_clients), 1)))
    return ClientTrajectories(
        parameters=parameters,
        gradient_means=prototypes.gradient_means[source_index] * factor,
        gradient_variances=prototypes.gradient_variances[source_index] * factor**2,
        batch_sizes=prototypes.batch_sizes[source_index].copy(),
        source=(
            f"{n_clients} clients perturbed (spread {spread}) from "
            f"{prototypes.n_clients} prototypes: {prototypes.source}"
        ),
    )


def _pca_series(trajectories: ClientTrajectories, layer: str):
    """Eqs. 6-8, 10 on one layer's weight matrix, through :class:`FeatureHistory`."""
    history = FeatureHistory(window=trajectories.n_rounds)
    ids = range(trajectories.n_clients)
    values = trajectories.parameters[layer]
    for step in range(trajectories.n_rounds):
        matrices = values[:, step]
        if layer == LAST_LAYER:
            matrices = np.swapaxes(matrices, 1, 2)  # eq. 6: W_j is M x R
        history.add_round(
            ids,
            matrices,
            trajectories.gradient_means[:, step],
            trajectories.gradient_variances[:, step],
        )
    client_series = history.series()
    return client_series.series, client_series.grad_norms


def _statistics(trajectories: ClientTrajectories) -> np.ndarray:
    return np.stack(
        [trajectories.gradient_means, trajectories.gradient_variances], axis=2
    )


def _all_layer_series(trajectories: ClientTrajectories):
    """Every parameter of every upload, no reduction, plus eq. 10's statistics."""
    n, steps = trajectories.n_clients, trajectories.n_rounds
    flat = np.concatenate(
        [v.reshape(n, steps, -1) for v in trajectories.parameters.values()], axis=2
    )
    series = np.concatenate([flat, _statistics(trajectories)], axis=2)
    return series, trajectories.gradient_means


def _umap_series(
    trajectories: ClientTrajectories, *, n_components: int, seed: int | None
):
    """Last-layer features reduced by UMAP (fitted on all client-rounds).

    ``seed=None`` lets UMAP use its parallel, unseeded optimiser (its fast
    path); a seed makes it reproducible but single-threaded and slower.
    """
    import umap

    n, steps = trajectories.n_clients, trajectories.n_rounds
    flat = trajectories.parameters[LAST_LAYER].reshape(n * steps, -1)
    n_neighbors = int(min(15, max(2, n * steps - 1)))
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        random_state=seed,
        n_jobs=1 if seed is not None else -1,
    )
    embedded = reducer.fit_transform(flat).reshape(n, steps, n_components)
    series = np.concatenate([embedded, _statistics(trajectories)], axis=2)
    return series, trajectories.gradient_means


def feature_series(
    method: str,
    trajectories: ClientTrajectories,
    *,
    umap_components: int = 2,
    umap_seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The eq. 10 client series under one of :data:`FEATURE_METHODS`.

    ``"all layers"``: every parameter of the upload, no reduction;
    ``"first layer + PCA"``: the first encoder layer's weight matrix through
    the server's eqs. 6-8 path (:class:`FeatureHistory`, 95 % variance);
    ``"last layer + PCA"``: the method (eq. 6's ``W_j``, eqs. 7-8);
    ``"last layer + UMAP"``: eq. 6's ``W_j`` embedded by UMAP in
    ``umap_components`` dimensions (seeded by ``umap_seed``, see
    :func:`_umap_series`). Each gets eq. 10's gradient mean and variance.

    Returns
    -------
    series : array, shape (n, T, d + 2)
    grad_norms : array, shape (n, T)
    """
    if method == "all layers":
        return _all_layer_series(trajectories)
    if method == "first layer + PCA":
        return _pca_series(trajectories, FIRST_LAYER)
    if method == "last layer + PCA":
        return _pca_series(trajectories, LAST_LAYER)
    if method == "last layer + UMAP":
        return _umap_series(trajectories, n_components=umap_components, seed=umap_seed)
    raise ValueError(f"method must be one of {FEATURE_METHODS}, got {method!r}")


def time_clustering(
    method: str,
    trajectories: ClientTrajectories,
    *,
    n_clusters: int = 4,
    seed: int = 0,
    repeats: int = 1,
    umap_components: int = 2,
    umap_seeded: bool = False,
) -> dict[str, object]:
    """Wall-clock seconds of features + reduction + one clustering fit.

    The clusterer is the same for every method: weighted DBA K-Means at
    ``n_clusters`` (capped at the number of clients), ``max_iter=50``,
    k-means++ seeded by ``seed``. The best of ``repeats`` timings is kept.
    UMAP is seeded with ``seed`` only when ``umap_seeded`` (see
    :func:`_umap_series`).

    Returns
    -------
    dict
        ``method``, ``n_clients``, ``seconds``, ``feature_seconds`` (features +
        reduction alone, of the best run), ``dimensions`` (d + 2),
        ``n_iter``, ``converged``.
    """
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    k = min(int(n_clusters), trajectories.n_clients)
    best = None
    for _ in range(int(repeats)):
        start = time.perf_counter()
        series, grad_norms = feature_series(
            method,
            trajectories,
            umap_components=umap_components,
            umap_seed=seed if umap_seeded else None,
        )
        features_done = time.perf_counter()
        model = GradientWeightedDBAKMeans(k, seed=seed).fit(
            series, grad_norms, trajectories.batch_sizes
        )
        seconds = time.perf_counter() - start
        if best is None or seconds < best["seconds"]:
            best = {
                "method": method,
                "n_clients": trajectories.n_clients,
                "seconds": seconds,
                "feature_seconds": features_done - start,
                "dimensions": int(series.shape[2]),
                "n_iter": int(model.n_iter_),
                "converged": bool(model.converged_),
            }
    return best


def run_feature_timing(
    prototypes: ClientTrajectories,
    client_counts: Sequence[int],
    *,
    methods: Sequence[str] = FEATURE_METHODS,
    n_clusters: int = 4,
    spread: float = 0.25,
    seed: int = 0,
    repeats: int = 1,
    umap_components: int = 2,
    umap_seeded: bool = False,
    blas_threads: int | None = 1,
) -> pd.DataFrame:
    """RQ2: time every feature method at every number of clients.

    Everything runs once on 10 clients first (numba compilation of the DTW
    and of UMAP, BLAS start-up), so no timing includes compilation. BLAS is
    limited to ``blas_threads`` for every method alike (None: the library
    default); on a shared 2-core machine one thread is faster for these
    small matrices. Populations come from :func:`expand_trajectories`.

    Returns
    -------
    DataFrame
        One row per (method, n_clients) with the keys of :func:`time_clustering`.
    """
    limit_threads()
    counts = [int(c) for c in client_counts]
    if not counts or min(counts) < 2:
        raise ValueError(f"client_counts must be integers >= 2, got {client_counts!r}")
    unknown = [m for m in methods if m not in FEATURE_METHODS]
    if unknown:
        raise ValueError(f"methods must be among {FEATURE_METHODS}, got {unknown}")

    options = {
        "n_clusters": n_clusters,
        "seed": seed,
        "umap_components": umap_components,
        "umap_seeded": umap_seeded,
    }
    rows = []
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        # warm-up: compile and load everything once, untimed
        warm = expand_trajectories(prototypes, 10, spread=spread, seed=seed)
        for method in methods:
            time_clustering(method, warm, **options)

        for n_clients in counts:
            population = expand_trajectories(
                prototypes, n_clients, spread=spread, seed=seed
            )
            for method in methods:
                row = time_clustering(method, population, repeats=repeats, **options)
                logger.info(
                    "RQ2 %s, %d clients: %.3f s (features %.3f s, d=%d, %d iter.)",
                    method,
                    n_clients,
                    row["seconds"],
                    row["feature_seconds"],
                    row["dimensions"],
                    row["n_iter"],
                )
                rows.append(row)
    return pd.DataFrame(rows)


def fig4_table(timings: pd.DataFrame, n_clients: int) -> pd.DataFrame:
    """Fig. 4 at ``n_clients``: our seconds beside the paper's, and the ratios.

    Parameters
    ----------
    timings : DataFrame
        Output of :func:`run_feature_timing`.
    n_clients : int
        The population shown as bars.

    Returns
    -------
    DataFrame
        Indexed by method: ``seconds``, ``feature_seconds``, ``dimensions``,
        ``n_iter``, ``relative_to_last_layer_pca`` (ours / ours for last
        layer + PCA), ``paper_seconds``, ``paper_relative``.
    """
    chosen = timings[timings["n_clients"] == int(n_clients)].set_index("method")
    if chosen.empty:
        raise ValueError(
            f"n_clients must be one of {sorted(timings['n_clients'].unique())}, "
            f"got {n_clients}"
        )
    table = chosen[["seconds", "feature_seconds", "dimensions", "n_iter"]].copy()
    reference = table.loc["last layer + PCA", "seconds"]
    table["relative_to_last_layer_pca"] = table["seconds"] / reference
    paper = paper_fig4()  # the paper states no number for UMAP
    table["paper_seconds"] = [paper.get(m, np.nan) for m in table.index]
    paper_reference = paper.get("last layer + PCA", np.nan)
    table["paper_relative"] = table["paper_seconds"] / paper_reference
    table.index.name = "method"
    table.attrs["n_clients"] = int(n_clients)
    return table
