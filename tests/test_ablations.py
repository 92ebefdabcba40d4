"""The ablation logic of section 4.3 (RQ1-RQ3) on tiny inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fmltc_core import ablation_plots, ablations
from fmltc_core.data.federation import build_federation
from fmltc_core.data.simulator import simulate_iot_traffic
from fmltc_core.federated import engine
from fmltc_core.federated.methods import FederatedConfig
from fmltc_core.models import Detector

TIMING_COLUMNS = ["seconds", "train_seconds"]


@pytest.fixture(scope="module")
def tiny_federation():
    data = simulate_iot_traffic(1_500, seed=3)
    return build_federation(data, n_clients=3, alpha=1.0, seed=3)


def _trajectories(n_clients=4, n_rounds=3, seed=0) -> ablations.ClientTrajectories:
    """Detector-shaped uploads: two groups of clients drifting apart over rounds."""
    rng = np.random.default_rng(seed)
    state = Detector(6, seed=seed).state_dict()
    groups = np.arange(n_clients) % 2
    parameters = {}
    for name, value in state.items():
        base = value.numpy().astype(np.float64)
        shift = rng.normal(size=base.shape)
        values = np.empty((n_clients, n_rounds, *base.shape))
        for client in range(n_clients):
            for step in range(n_rounds):
                values[client, step] = (
                    base
                    + (1 + step) * 0.5 * (2 * groups[client] - 1) * shift
                    + 0.01 * rng.normal(size=base.shape)
                )
        parameters[name] = values
    means = 1.0 + groups[:, None] + 0.1 * rng.random((n_clients, n_rounds))
    return ablations.ClientTrajectories(
        parameters=parameters,
        gradient_means=means,
        gradient_variances=0.1 * means**2,
        batch_sizes=np.full(n_clients, 32),
        source="test",
    )


# ---------------------------------------------------------------------------
# summaries and the paper's columns
# ---------------------------------------------------------------------------


def test_summary_gives_mean_and_sample_sd_in_first_seen_order():
    per_seed = pd.DataFrame(
        {"variant": ["b", "b", "a", "a"], "seed": [0, 1, 0, 1], "x": [1, 3, 2, 2.5]}
    )
    summary = ablations.summarise_over_seeds(per_seed, ["x"])
    assert list(summary.index) == ["b", "a"]
    assert summary.loc["b", "x"] == pytest.approx(2.0)
    assert summary.loc["b", "x_sd"] == pytest.approx(np.sqrt(2.0))
    assert summary.loc["a", "x_sd"] == pytest.approx(np.std([2, 2.5], ddof=1))
    assert (summary["n_seeds"] == 2).all()


def test_summary_rejects_a_missing_column():
    per_seed = pd.DataFrame({"variant": ["a"], "x": [1.0]})
    with pytest.raises(ValueError, match=r"per_seed must have columns \['y'\]"):
        ablations.summarise_over_seeds(per_seed, ["y"])


def test_paper_columns_sit_beside_ours_and_missing_rows_are_nan():
    per_seed = pd.DataFrame(
        {"variant": ["TS-Cluster", "extra"], "accuracy": [0.9, 0.8]}
    )
    summary = ablations.summarise_over_seeds(per_seed, ["accuracy"])
    table = ablations.with_paper_columns(
        summary, ablations.paper_table4(), ["accuracy"]
    )
    assert list(table.columns) == [
        "accuracy",
        "accuracy_sd",
        "accuracy_paper",
        "n_seeds",
    ]
    assert table.loc["TS-Cluster", "accuracy_paper"] == 0.801
    assert np.isnan(table.loc["extra", "accuracy_paper"])


def test_paper_values_carry_our_names():
    table3 = ablations.paper_table3()
    assert set(table3.index) == set(ablations.BATCH_VARIANTS)
    fmltc = table3.loc["FMLTC-IDS (eq. 1 + eqs. 2-5)"]
    assert fmltc["round_seconds"] == 94.36
    assert fmltc["convergence_round"] == 6
    assert ablations.paper_table4().loc["FedAvg", "delta_acc_pp"] == 0.8
    assert ablations.paper_fig4() == {
        "all layers": 21.42,
        "first layer + PCA": 0.45,
        "last layer + PCA": 0.36,
    }
    assert ablations.paper_fig5().loc["Static-Cluster", "silhouette"] == 0.45


def test_seeds_must_be_distinct():
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        ablations.run_batch_ablation(None, seeds=[1, 1])


def test_batch_variants_add_eq1_alone_on_request():
    assert list(ablations.batch_variants(False)) == list(ablations.BATCH_VARIANTS)
    extended = ablations.batch_variants(True)
    assert list(extended)[-1] == ablations.ADAPTIVE_UNIFORM
    assert extended[ablations.ADAPTIVE_UNIFORM]["gradient_weighted"] is False


# ---------------------------------------------------------------------------
# RQ1
# ---------------------------------------------------------------------------


def _fake_run(seconds, accuracy, convergence):
    rounds = pd.DataFrame(
        {
            "round": range(len(seconds)),
            "seconds": seconds,
            "train_seconds": [s / 2 for s in seconds],
            "accuracy": accuracy,
            "precision": accuracy,
            "recall": accuracy,
            "f1": accuracy,
        }
    )
    clients = pd.DataFrame({"sampled": [True, False, True], "batch_size": [16, 0, 48]})
    return SimpleNamespace(
        rounds=rounds, clients=clients, convergence_round=convergence
    )


def test_round_time_leaves_out_round_zero_and_tc_is_mean_times_rounds():
    run = _fake_run([0.0, 2.0, 4.0], [0.5, 0.7, 0.8], convergence=2)
    row = ablations.batch_run_row(run)
    assert row["round_seconds"] == pytest.approx(3.0)
    assert row["train_seconds"] == pytest.approx(1.5)
    assert row["convergence_seconds"] == pytest.approx(6.0)
    assert row["accuracy"] == pytest.approx(0.8)
    assert row["mean_batch_size"] == pytest.approx(32.0)


def test_a_run_without_training_rounds_is_rejected():
    with pytest.raises(ValueError, match="at least one training round"):
        ablations.batch_run_row(_fake_run([0.0], [0.5], convergence=0))


def test_batch_ablation_runs_each_variant_and_seed(tiny_federation):
    variants = {
        name: ablations.BATCH_VARIANTS[name]
        for name in ("Baseline1 (fixed B=16)", "Baseline2 (fixed B=128)")
    }
    per_seed = ablations.run_batch_ablation(
        tiny_federation, seeds=[0, 1], rounds=2, variants=variants
    )
    assert list(per_seed["variant"]) == [
        *[list(variants)[0]] * 2,
        *[list(variants)[1]] * 2,
    ]
    assert (per_seed["round_seconds"] > 0).all()
    fixed16 = per_seed[per_seed["variant"] == "Baseline1 (fixed B=16)"]
    assert (fixed16["mean_batch_size"] <= 16).all()
    table = ablations.table3(per_seed)
    assert table.loc["Baseline2 (fixed B=128)", "accuracy_paper"] == 0.801


# ---------------------------------------------------------------------------
# Observing the server; RQ3
# ---------------------------------------------------------------------------


def test_observing_the_server_changes_nothing(tiny_federation):
    config = FederatedConfig(rounds=2, seed=2, fraction_fit=2 / 3)
    plain = engine.run_federated(tiny_federation, "fmltc", config, progress=False)
    rec = ablations.ServerRecorder(keep_all=True)
    observed = engine.run_federated(
        tiny_federation, "fmltc", config, progress=False, observers=(rec,)
    )
    rec.server = observed.extra["server"]
    pd.testing.assert_frame_equal(
        plain.rounds.drop(columns=TIMING_COLUMNS),
        observed.rounds.drop(columns=TIMING_COLUMNS),
    )
    assert [r.server_round for r in rec.records] == [1, 2]
    last = observed.clients[(observed.clients["round"] == 2)]
    assert (
        sorted(rec.records[-1].uploads) == last.loc[last["sampled"], "client"].tolist()
    )
    assert rec.server.client_cluster  # the ClusteringServer itself


def test_update_vectors_are_upload_minus_received():
    record = ablations.RoundRecord(
        server_round=1,
        uploads={1: {"a": np.array([3.0, 4.0]), "b": np.array([[1.0]])}},
        received={1: {"a": np.array([1.0, 1.0]), "b": np.array([[0.5]])}},
        gradient_means={1: 1.0},
        gradient_variances={1: 0.0},
        batch_sizes={1: 16},
    )
    ids, vectors = ablations.update_vectors(record)
    assert ids.tolist() == [1]
    np.testing.assert_allclose(vectors, [[2.0, 3.0, 0.5]])


def _server_and_record(labels, series, updates):
    ids = np.arange(len(labels))
    server = SimpleNamespace(
        last_series=(ids, series, np.ones(series.shape[:2])),
        client_cluster={
            int(c): int(label) for c, label in zip(ids, labels, strict=True)
        },
    )
    record = ablations.RoundRecord(
        server_round=1,
        uploads={int(c): {"w": updates[c]} for c in ids},
        received={int(c): {"w": np.zeros_like(updates[c])} for c in ids},
        gradient_means={},
        gradient_variances={},
        batch_sizes={},
    )
    return server, record


def test_cluster_quality_of_well_separated_clusters_is_high():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 0, 1, 1, 1])
    series = labels[:, None, None] * 10.0 + 0.1 * rng.normal(size=(6, 3, 2))
    updates = np.where(labels[:, None] == 0, 1.0, -1.0) * np.ones((6, 4))
    updates = updates + 0.01 * rng.normal(size=updates.shape)
    server, record = _server_and_record(labels, series, updates)
    quality = ablations.cluster_quality(server, record)
    assert quality["silhouette"] > 0.9
    assert quality["gradient_similarity"] > 0.99
    assert quality["n_clusters"] == 2


def test_cluster_quality_of_one_cluster_has_no_silhouette():
    series = np.random.default_rng(1).normal(size=(4, 3, 2))
    server, record = _server_and_record(np.zeros(4, int), series, np.ones((4, 3)))
    quality = ablations.cluster_quality(server, record)
    assert np.isnan(quality["silhouette"])
    assert quality["gradient_similarity"] == pytest.approx(1.0)


def test_cluster_quality_leaves_out_uploads_that_were_never_clustered():
    rng = np.random.default_rng(2)
    labels = np.array([0, 0, 1, 1])
    series = labels[:, None, None] * 10.0 + 0.1 * rng.normal(size=(4, 3, 2))
    updates = np.where(labels[:, None] == 0, 1.0, -1.0) * np.ones((4, 4))
    server, record = _server_and_record(labels, series, updates)
    # client 9 uploaded but held no training rows, so it was never clustered
    record.uploads[9] = {"w": np.full(4, 5.0)}
    record.received[9] = {"w": np.zeros(4)}
    quality = ablations.cluster_quality(server, record)
    assert quality["gradient_similarity"] == pytest.approx(1.0)


def test_cluster_quality_needs_a_clustering_server():
    server = SimpleNamespace(global_arrays={})
    with pytest.raises(ValueError, match="server must be a ClusteringServer"):
        ablations.cluster_quality(server, None)


def test_clustering_ablation_rows(tiny_federation):
    per_seed = ablations.run_clustering_ablation(tiny_federation, seeds=[0], rounds=2)
    assert list(per_seed["variant"]) == ["TS-Cluster", "Static-Cluster", "FedAvg"]
    fedavg = per_seed.set_index("variant").loc["FedAvg"]
    assert fedavg["n_clusters"] == 1
    assert np.isnan(fedavg["silhouette"]) and np.isnan(fedavg["gradient_similarity"])
    assert per_seed["delta_acc_pp"].abs().le(100).all()
    quality = ablations.quality_summary(per_seed)
    assert list(quality.index) == ["TS-Cluster", "Static-Cluster"]
    assert quality.loc["TS-Cluster", "silhouette_paper"] == 0.58


# ---------------------------------------------------------------------------
# RQ2
# ---------------------------------------------------------------------------


def test_recorded_trajectories_are_uploads_of_every_round(tiny_federation):
    trajectories = ablations.record_trajectories(tiny_federation, n_rounds=2, seed=0)
    assert trajectories.n_clients == 3
    assert trajectories.n_rounds == 2
    weight = trajectories.parameters[ablations.LAST_LAYER]
    assert weight.shape == (3, 2, 2, 32)
    assert not np.allclose(weight[:, 0], weight[:, 1])  # trained between rounds
    assert (trajectories.gradient_means > 0).all()


def test_expanded_clients_are_seeded_copies_of_their_prototype():
    prototypes = _trajectories(n_clients=4)
    first = ablations.expand_trajectories(prototypes, 10, seed=1)
    again = ablations.expand_trajectories(prototypes, 10, seed=1)
    other = ablations.expand_trajectories(prototypes, 10, seed=2)
    name = ablations.LAST_LAYER
    np.testing.assert_array_equal(first.parameters[name], again.parameters[name])
    assert not np.allclose(first.parameters[name], other.parameters[name])
    assert first.parameters[name].shape == (10, 3, 2, 32)
    exact = ablations.expand_trajectories(prototypes, 8, spread=0.0, seed=1)
    np.testing.assert_array_equal(
        exact.parameters[name][5], prototypes.parameters[name][1]
    )
    np.testing.assert_array_equal(exact.batch_sizes, np.full(8, 32))


def test_expanding_rejects_a_bad_spread():
    with pytest.raises(ValueError, match="spread must be non-negative"):
        ablations.expand_trajectories(_trajectories(), 5, spread=-1.0)


@pytest.mark.parametrize(
    ("method", "largest"),
    [("all layers", None), ("first layer + PCA", 64 * 6), ("last layer + PCA", 64)],
)
def test_feature_series_dimensions(method, largest):
    trajectories = _trajectories(n_clients=6)
    series, grad_norms = ablations.feature_series(method, trajectories)
    assert series.shape[:2] == (6, 3)
    assert grad_norms.shape == (6, 3)
    if largest is None:
        assert series.shape[2] == trajectories.n_parameters + 2
    else:
        assert 3 <= series.shape[2] <= largest + 2
    np.testing.assert_allclose(series[:, :, -2], trajectories.gradient_means)


def test_unknown_feature_method_is_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        ablations.feature_series("middle layer", _trajectories())


def test_timing_and_the_fig4_table():
    prototypes = _trajectories(n_clients=4)
    methods = ("all layers", "last layer + PCA")
    timings = ablations.run_feature_timing(
        prototypes, [6, 12], methods=methods, n_clusters=2
    )
    assert len(timings) == 4
    assert (timings["feature_seconds"] <= timings["seconds"]).all()
    assert (timings["n_iter"] >= 1).all()
    bars = ablations.fig4_table(timings, 12)
    assert bars.loc["last layer + PCA", "relative_to_last_layer_pca"] == 1.0
    assert bars.loc["all layers", "paper_seconds"] == 21.42
    assert bars.loc["all layers", "paper_relative"] == pytest.approx(21.42 / 0.36)
    with pytest.raises(ValueError, match="n_clients must be one of"):
        ablations.fig4_table(timings, 7)


def test_timing_rejects_too_few_clients():
    with pytest.raises(ValueError, match="client_counts must be integers >= 2"):
        ablations.run_feature_timing(_trajectories(), [1])


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def test_figures_are_written(tmp_path):
    timings = pd.DataFrame(
        {
            "method": list(ablations.FEATURE_METHODS) * 2,
            "n_clients": [10] * 4 + [100] * 4,
            "seconds": [0.5, 0.1, 0.05, 0.2, 5.0, 1.0, 0.1, 2.0],
            "feature_seconds": [0.01] * 8,
            "dimensions": [100, 10, 8, 4] * 2,
            "n_iter": [3] * 8,
        }
    )
    bars = ablations.fig4_table(timings, 100)
    ablation_plots.plot_clustering_time(timings, bars, tmp_path / "fig4.png")
    per_seed = pd.DataFrame(
        {
            "variant": ["TS-Cluster", "TS-Cluster", "Static-Cluster", "Static-Cluster"],
            "silhouette": [0.3, 0.4, 0.2, np.nan],
            "gradient_similarity": [0.5, 0.6, 0.4, 0.5],
        }
    )
    quality = ablations.quality_summary(per_seed)
    ablation_plots.plot_cluster_quality(quality, tmp_path / "fig5.png")
    assert (tmp_path / "fig4.png").stat().st_size > 0
    assert (tmp_path / "fig5.png").stat().st_size > 0
