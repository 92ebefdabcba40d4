"""Experiment orchestration: federations, W0 reuse, runs, tables, paper values."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fmltc_core import experiments, paper_values
from fmltc_core.federated.methods import FederatedConfig


def _results(dataset="simulated", data_kind="simulated", alphas=(0.5, 1.0)):
    """Hand-made run rows: two seeds, two methods, known values."""
    rows = []
    for alpha in alphas:
        for method, base in (("fedavg", 0.60), ("fmltc", 0.70)):
            for seed, shift in ((0, -0.02), (1, 0.02)):
                value = base + shift + (alpha == 1.0) * 0.1
                rows.append(
                    {
                        "dataset": dataset,
                        "alpha": alpha,
                        "seed": seed,
                        "method": method,
                        "accuracy": value,
                        "precision": value,
                        "recall": value - 0.1,
                        "f1": value - 0.05,
                        "personalisation_gain": 0.01 * seed,
                        "convergence_round": 3 + seed,
                        "mean_round_seconds": 0.5,
                        "rounds": 10,
                        "data_kind": data_kind,
                        "data": f"{data_kind} test rows",
                        "accuracy_curve": [0.5, value],
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def test_summarise_gives_mean_and_sd_over_seeds():
    summary = experiments.summarise(_results())
    row = summary.loc[("simulated", 0.5, "fmltc")]
    assert row["accuracy_mean"] == pytest.approx(0.70)
    assert row["accuracy_sd"] == pytest.approx(np.std([0.68, 0.72], ddof=1))
    assert row["convergence_round_mean"] == pytest.approx(3.5)
    assert row["n_seeds"] == 2
    assert summary.loc[("simulated", 1.0, "fedavg"), "accuracy_mean"] == (
        pytest.approx(0.70)
    )


def test_summarise_with_one_seed_leaves_sd_undefined():
    results = _results()
    summary = experiments.summarise(results[results["seed"] == 0])
    assert summary["accuracy_sd"].isna().all()
    assert (summary["n_seeds"] == 1).all()


def test_comparison_table_puts_table2_values_beside_ours():
    table = experiments.comparison_table(experiments.summarise(_results()), "simulated")
    assert list(table.index.get_level_values("method")) == [
        "FedAvg",
        "FMLTC-IDS",
        "FedAvg",
        "FMLTC-IDS",
    ]
    for metric in ("accuracy", "recall", "f1"):
        for suffix in ("mean", "sd", "paper"):
            assert f"{metric}_{suffix}" in table.columns
    assert table.loc[(0.5, "FMLTC-IDS"), "accuracy_paper"] == 0.747
    assert table.loc[(1.0, "FedAvg"), "f1_paper"] == 0.726
    assert table.loc[(0.5, "FMLTC-IDS"), "accuracy_mean"] == pytest.approx(0.70)
    assert "Table 2" in table.attrs["paper_source"]


def test_bot_iot_sits_beside_table1_and_cicids2017_beside_nothing():
    bot = experiments.comparison_table(
        experiments.summarise(_results("bot_iot", "real sample")), "bot_iot"
    )
    assert bot.loc[(0.5, "FMLTC-IDS"), "f1_paper"] == 0.761
    cic = experiments.comparison_table(
        experiments.summarise(_results("cicids2017", "real sample")), "cicids2017"
    )
    assert cic["accuracy_paper"].isna().all()
    assert cic["accuracy_mean"].notna().all()


@pytest.mark.parametrize(
    ("dataset", "kind", "stem", "phrases"),
    [
        ("simulated", "simulated", "table2_iot_simulated", ["simulated", "Table 2"]),
        ("iot23", "real sample", "table2_iot_iot23", ["real sample", "Table 2"]),
        ("bot_iot", "full dataset", "table1_bot_iot", ["full dataset", "Table 1"]),
        ("cicids2017", "real sample", "table_cicids2017", ["no table"]),
    ],
)
def test_written_tables_state_their_data_source(tmp_path, dataset, kind, stem, phrases):
    results = _results(dataset, kind)
    csv_path, md_path = experiments.write_comparison_table(
        results, dataset, tmp_path, FederatedConfig()
    )
    assert csv_path.name == f"{stem}.csv"
    caption = md_path.read_text().splitlines()[0]
    assert f"data: {kind}" in caption
    for phrase in phrases:
        assert phrase in caption
    assert "mean and sd over 2 seed(s)" in caption
    written = pd.read_csv(csv_path)
    assert {"alpha", "method", "accuracy_mean", "accuracy_sd", "accuracy_paper"} <= set(
        written.columns
    )


def test_unknown_dataset_table_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        experiments.write_comparison_table(_results(), "unsw", tmp_path)


def test_curves_frame_is_long_form_with_round_zero():
    curves = experiments.curves_frame(_results())
    assert set(curves["round"]) == {0, 1}
    assert len(curves) == 2 * len(_results())
    assert (curves.loc[curves["round"] == 0, "accuracy"] == 0.5).all()


# ---------------------------------------------------------------------------
# Paper values
# ---------------------------------------------------------------------------


def test_paper_tables_are_transcribed():
    table1 = paper_values.comparison_frame("bot_iot")
    assert table1.loc[(10.0, "ssfl")].tolist() == [0.878, 0.864, 0.871]
    table2 = paper_values.comparison_frame("iot23")
    assert table2.loc[(0.5, "ssfl")].tolist() == [0.718, 0.764, 0.740]
    assert len(table1) == len(table2) == 15
    assert paper_values.comparison_frame("cicids2017").empty
    assert paper_values.round0_band() == (0.5, 0.6)
    assert paper_values.FIG4_CLUSTERING_SECONDS["last_layer_pca"] == 0.36
    assert paper_values.FIG5_CLUSTER_QUALITY["silhouette"]["ts_cluster"] == 0.58


def test_table3_convergence_time_is_time_per_round_times_rounds():
    for row in paper_values.TABLE3_BATCH_ABLATION.values():
        product = row["training_seconds"] * row["convergence_rounds"]
        assert row["convergence_seconds"] == pytest.approx(product, abs=0.05)


def test_paper_values_reject_unknown_names():
    with pytest.raises(ValueError, match="dataset must be one of"):
        paper_values.comparison_frame("unsw")
    with pytest.raises(KeyError, match="no paper value"):
        paper_values.paper_value("speed_of_light")


# ---------------------------------------------------------------------------
# Data, federation, W0
# ---------------------------------------------------------------------------


def test_data_kind_names_simulated_sample_and_full_dataset():
    def fake(dataset, n, simulated=False):
        return SimpleNamespace(dataset=dataset, n_flows=n, simulated=simulated)

    assert experiments.data_kind(fake("simulated", 10, True)) == "simulated"
    assert experiments.data_kind(fake("iot23", 23_145)) == "real sample"
    assert experiments.data_kind(fake("cicids2017", 2_830_743)) == "full dataset"


def test_same_setting_builds_the_same_federation():
    _, first = experiments.build_experiment_federation(
        "simulated", None, 0.5, 3, 7, True, n_flows=1_500
    )
    _, second = experiments.build_experiment_federation(
        "simulated", None, 0.5, 3, 7, True, n_flows=1_500
    )
    assert first.public is None
    assert first.config["public_fraction"] == 0.0
    assert "simulated" in first.config["description"]
    for a, b in zip(first.clients, second.clients, strict=True):
        np.testing.assert_array_equal(a.all_train().X, b.all_train().X)
        np.testing.assert_array_equal(a.all_test().y, b.all_test().y)
    assert experiments.federation_fingerprint(
        first
    ) == experiments.federation_fingerprint(second)


def test_w0_fingerprint_does_not_depend_on_alpha():
    data, low = experiments.build_experiment_federation(
        "simulated", None, 0.5, 3, 7, True, n_flows=1_500
    )
    _, high = experiments.build_experiment_federation(
        "simulated", None, 10.0, 3, 7, True, data=data
    )
    assert experiments.federation_fingerprint(
        low
    ) == experiments.federation_fingerprint(high)


def test_build_rejects_flows_of_another_dataset():
    data, _ = experiments.build_experiment_federation(
        "simulated", None, 1.0, 3, 0, True, n_flows=1_500
    )
    with pytest.raises(ValueError, match="data must be flows of dataset 'iot23'"):
        experiments.build_experiment_federation("iot23", None, data=data)


@pytest.mark.real_data
def test_real_sample_federation_has_a_public_hold_out(real_data_dir):
    data, federation = experiments.build_experiment_federation(
        "iot23", real_data_dir, 1.0, 3, 0, True
    )
    assert federation.config["public_fraction"] == experiments.PUBLIC_FRACTION
    assert len(federation.public) > 0
    assert federation.config["data_kind"] == "real sample"
    assert "real data: iot23" in federation.config["description"]


def test_load_or_pretrain_saves_then_reuses_then_rebuilds(tmp_path, monkeypatch):
    data, federation = experiments.build_experiment_federation(
        "simulated", None, 1.0, 3, 0, True, n_flows=1_500
    )
    first = experiments.load_or_pretrain(
        tmp_path, "simulated", federation, data, 0, True, meta_steps=3
    )
    stem = experiments.pretrained_stem(tmp_path, "simulated", 0)
    assert stem == tmp_path / "pretrained" / "w0_simulated_seed0"
    assert stem.with_suffix(".safetensors").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("pretrained again instead of loading")

    monkeypatch.setattr(experiments, "pretrain_w0", no_training)
    again = experiments.load_or_pretrain(
        tmp_path, "simulated", federation, data, 0, True
    )
    for key, value in first.arrays.items():
        np.testing.assert_array_equal(again.arrays[key], value)

    # another federation (other flows) must not reuse this W0
    other_data, other = experiments.build_experiment_federation(
        "simulated", None, 1.0, 3, 0, True, n_flows=1_200
    )
    with pytest.raises(AssertionError, match="pretrained again"):
        experiments.load_or_pretrain(tmp_path, "simulated", other, other_data, 0, True)


def test_round0_table_compares_w0_with_random_init(tmp_path):
    data, federation = experiments.build_experiment_federation(
        "simulated", None, 1.0, 3, 0, True, n_flows=1_500
    )
    init = experiments.pretrain_w0("simulated", federation, data, 0, True, meta_steps=3)
    table = experiments.round0_table(init, federation, 0)
    assert list(table.index) == ["0", "1", "2", "mean", "pooled"]
    assert table[["w0_accuracy", "random_init_accuracy"]].stack().between(0, 1).all()
    assert table.loc["mean", "w0_accuracy"] == pytest.approx(
        table.loc[["0", "1", "2"], "w0_accuracy"].mean()
    )


# ---------------------------------------------------------------------------
# Running the comparison
# ---------------------------------------------------------------------------


def test_unknown_engine_is_rejected():
    with pytest.raises(ValueError, match="engine must be one of"):
        experiments.engine_runner("ray")


def test_missing_flower_engine_is_not_implemented(monkeypatch):
    monkeypatch.setitem(sys.modules, "fmltc_core.flower_app", None)
    with pytest.raises(NotImplementedError, match="flower_simulation"):
        experiments.engine_runner("flower_simulation")


def test_run_comparison_rows_folders_and_saved_results(tmp_path):
    results = experiments.run_comparison(
        "simulated",
        [1.0],
        [0, 1],
        ["fedavg", "fmltc"],
        FederatedConfig(rounds=1),
        run_dir=tmp_path,
        n_clients=3,
        quick=True,
        n_flows=1_500,
    )

    assert len(results) == 4
    assert set(results["method"]) == {"fedavg", "fmltc"}
    assert results["accuracy_curve"].map(len).eq(2).all()
    fmltc = results[results["method"] == "fmltc"]
    assert fmltc["initialisation"].str.startswith("W0").all()
    baseline = results[results["method"] == "fedavg"]
    assert (baseline["initialisation"] == "seeded random initialisation").all()
    for seed in (0, 1):
        folder = experiments.run_folder(tmp_path, "simulated", 1.0, seed, "fmltc")
        expected = tmp_path / "runs" / "simulated" / "alpha1" / f"seed{seed}"
        assert folder == expected / "fmltc"
        saved = json.loads((folder / "experiment.json").read_text())
        assert saved["seed"] == seed
        assert saved["config"]["seed"] == seed
        assert (folder / "rounds.csv").exists()
        assert (
            experiments.pretrained_stem(tmp_path, "simulated", seed)
            .with_suffix(".safetensors")
            .exists()
        )
    saved = pd.read_csv(tmp_path / "runs" / "simulated" / "results.csv")
    assert len(saved) == 4
    curves = experiments.collect_curves(tmp_path)
    assert len(curves) == 8


def test_run_comparison_rejects_unknown_methods(tmp_path):
    with pytest.raises(ValueError, match="methods must be among"):
        experiments.run_comparison(
            "simulated", [1.0], [0], ["fedsgd"], run_dir=tmp_path
        )


def test_flower_spec_rebuilds_the_same_federation():
    flower_data = pytest.importorskip("fmltc_core.flower_app.data")
    _, federation = experiments.build_experiment_federation(
        "simulated", None, 0.5, 3, 4, True, n_flows=1_500
    )
    spec = experiments.federation_spec(
        "simulated", None, 0.5, 3, 4, True, n_flows=1_500
    )
    rebuilt = flower_data.build_from_spec(spec)
    assert experiments.federation_fingerprint(
        rebuilt
    ) == experiments.federation_fingerprint(federation)
    for a, b in zip(federation.clients, rebuilt.clients, strict=True):
        np.testing.assert_array_equal(a.all_train().X, b.all_train().X)
        np.testing.assert_array_equal(a.all_test().y, b.all_test().y)


def test_flower_engine_receives_the_spec_and_w0(tmp_path, monkeypatch):
    from fmltc_core.federated.engine import run_federated

    calls = []

    def fake_flower(spec, method, config, **options):
        calls.append((spec, method, sorted(options)))
        _, federation = experiments.build_experiment_federation(
            spec.dataset,
            None,
            spec.alpha,
            spec.n_clients,
            spec.seed,
            True,
            n_flows=spec.load_options["n_flows"],
        )
        return run_federated(federation, method, config, progress=False, **options)

    module = SimpleNamespace(run_flower_simulation=fake_flower)
    monkeypatch.setitem(sys.modules, "fmltc_core.flower_app", module)
    results = experiments.run_comparison(
        "simulated",
        [1.0],
        [0],
        ["fedavg", "fmltc"],
        FederatedConfig(rounds=1),
        run_dir=tmp_path,
        n_clients=3,
        quick=True,
        n_flows=1_500,
        engine="flower_simulation",
    )
    assert [c[1] for c in calls] == ["fedavg", "fmltc"]
    assert calls[0][2] == []
    assert calls[1][2] == ["initial_arrays", "meta_centres"]
    assert calls[0][0].load_options == {"n_flows": 1_500, "seed": 0}
    saved = json.loads(
        (
            experiments.run_folder(tmp_path, "simulated", 1.0, 0, "fmltc")
            / "experiment.json"
        ).read_text()
    )
    assert saved["engine"] == "flower_simulation"
    assert len(results) == 2
