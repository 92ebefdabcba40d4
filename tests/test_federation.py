"""Tests of build_federation: order of the steps, shapes, skew and determinism."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from fmltc_core.data.federation import Subset, build_federation
from fmltc_core.data.partition import PartitionError
from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData

ORIGIN = pd.Timestamp("2024-03-01", tz="UTC")
FEATURES = ["Flow Duration", "Total Fwd Packets", "Flow Bytes/s"]
FAMILIES = ["benign", "dos", "scan"]


def make_flows(n=1500, *, seed=0, hours=24.0, quiet_hours=()):
    """Tiny timestamped flows with three families; ``quiet_hours`` thins traffic."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, hours * 3600, n))
    for low, high in quiet_hours:
        inside = (seconds >= low * 3600) & (seconds < high * 3600)
        drop = inside & (rng.random(n) < 0.9)
        seconds = seconds[~drop]
    n = len(seconds)
    family = rng.choice(FAMILIES, n, p=[0.6, 0.25, 0.15])
    offset = np.select([family == "dos", family == "scan"], [4.0, -3.0], 0.0)
    frame = pd.DataFrame(
        {
            name: (rng.lognormal(5.0, 1.0, n) * np.exp(offset)).astype(np.float32)
            for name in FEATURES
        }
    )
    frame.loc[rng.random(n) < 0.01, "Flow Bytes/s"] = np.inf
    frame["label"] = family
    frame["family"] = family
    frame["is_attack"] = (family != "benign").astype(np.int8)
    frame["time"] = ORIGIN + pd.to_timedelta(seconds, unit="s")
    frame["order"] = np.arange(n, dtype=np.int64)
    frame["source_file"] = "tiny.csv"
    report = DataReport()
    report.add("tiny.csv", "loader repair", 2)
    return FlowData(frame, FEATURES, "simulated", "timestamp", report, True)


def test_every_client_has_ten_subsets_of_float32_and_int64():
    federation = build_federation(make_flows(), n_clients=5, alpha=1.0, seed=0)

    assert len(federation.clients) == 5
    for client in federation.clients:
        assert len(client.train) == len(client.test) == 10
        for part in (*client.train, *client.test):
            assert part.X.dtype == np.float32 and part.y.dtype == np.int64
            assert part.X.shape == (len(part), federation.n_features)
        assert len(client.all_train()) >= 1
    assert federation.class_names == ["benign", "attack"]


def test_rows_are_split_without_loss_or_duplication():
    data = make_flows(seed=1)
    federation = build_federation(data, n_clients=4, alpha=10.0, seed=1)

    train = sum(len(client.all_train()) for client in federation.clients)
    test = sum(len(client.all_test()) for client in federation.clients)
    added = federation.report.total("added")
    assert train + test == data.n_flows + added
    assert test == pytest.approx(0.2 * data.n_flows, rel=0.1)


def test_multiclass_labels_index_sorted_families():
    federation = build_federation(
        make_flows(seed=2), n_clients=3, label_mode="multiclass", seed=0
    )
    summary = federation.summary()

    assert federation.class_names == sorted(FAMILIES)
    assert set(summary["class"]) == set(FAMILIES)
    assert list(summary.columns) == ["client", "subset", "split", "class", "count"]
    assert len(summary) == 3 * 10 * 2 * 3


def test_each_client_tests_on_its_training_label_mix():
    federation = build_federation(
        make_flows(n=6000, seed=3), n_clients=4, alpha=0.3, seed=3,
        label_mode="multiclass",
    )
    for client in federation.clients:
        train = np.bincount(client.all_train().y, minlength=3)
        test = np.bincount(client.all_test().y, minlength=3)
        if test.sum() < 50:
            continue
        np.testing.assert_allclose(
            test / test.sum(), train / train.sum(), atol=0.1
        )


def test_smaller_alpha_gives_more_label_skew():
    data = make_flows(n=4000, seed=4)

    def spread(alpha):
        federation = build_federation(data, n_clients=8, alpha=alpha, seed=4)
        shares = [client.all_train().y.mean() for client in federation.clients]
        return float(np.std(shares))

    assert spread(0.1) > spread(100.0)


def test_preprocessing_is_fitted_on_training_rows_only():
    data = make_flows(seed=5)
    federation = build_federation(data, n_clients=3, seed=5, public_fraction=0.2)
    preprocessor = federation.preprocessor

    train = np.concatenate([c.all_train().X for c in federation.clients])
    # The scaler saw exactly the client training rows (no test, public or SMOTE).
    before_smote = len(train) - federation.report.total("added")
    assert preprocessor.scaler_.n_samples_seen_ == before_smote
    assert before_smote == pytest.approx(0.8 * 0.8 * data.n_flows, rel=0.05)
    # Test and public rows are transformed with the training statistics only.
    test = np.concatenate([c.all_test().X for c in federation.clients])
    assert abs(test.mean()) < 0.5
    assert federation.public is not None
    assert len(federation.public) == pytest.approx(0.2 * data.n_flows, rel=0.05)


def test_low_traffic_subsets_get_smote_rows_in_training_only():
    data = make_flows(n=4000, seed=6, quiet_hours=[(2.4, 4.8)])
    federation = build_federation(
        data, n_clients=3, seed=6, label_mode="multiclass", low_traffic_fraction=0.5
    )
    low = federation.config["low_traffic_subsets"]

    assert low, "the thinned hours should give a low-traffic subset"
    assert federation.report.total("added") > 0
    for subset in low:
        counts = sum(
            np.bincount(client.train[subset - 1].y, minlength=3)
            for client in federation.clients
        )
        assert counts.min() == counts.max()
    test = sum(len(client.all_test()) for client in federation.clients)
    assert test == pytest.approx(0.2 * data.n_flows, rel=0.1)


def test_loader_report_is_merged():
    federation = build_federation(make_flows(seed=7), n_clients=2, seed=7)

    assert federation.report.total(reason="loader repair") == 2
    assert federation.report.total(reason="infinite value set to NaN") > 0


def test_same_seed_gives_identical_arrays():
    data = make_flows(seed=8)
    first = build_federation(data, n_clients=4, alpha=0.5, seed=11, pca_variance=0.9)
    second = build_federation(data, n_clients=4, alpha=0.5, seed=11, pca_variance=0.9)

    for a, b in zip(first.clients, second.clients, strict=True):
        for part_a, part_b in zip(a.train + a.test, b.train + b.test, strict=True):
            np.testing.assert_array_equal(part_a.X, part_b.X)
            np.testing.assert_array_equal(part_a.y, part_b.y)
    other = build_federation(data, n_clients=4, alpha=0.5, seed=12, pca_variance=0.9)
    assert not np.array_equal(
        first.clients[0].all_train().y, other.clients[0].all_train().y
    )


def test_pca_feature_names():
    federation = build_federation(make_flows(seed=9), n_clients=2, pca_variance=0.8)

    assert federation.feature_names[0] == "pc1"
    assert federation.n_features == federation.clients[0].train[0].X.shape[1]


def test_tiny_alpha_raises_partition_error():
    with pytest.raises(PartitionError, match=r"alpha=1e-06.*min_client_size=1"):
        build_federation(make_flows(seed=10), n_clients=10, alpha=1e-6, max_retries=3)


def test_more_clients_than_rows_raises_partition_error():
    with pytest.raises(PartitionError, match="n_clients=2000"):
        build_federation(make_flows(n=300, seed=11), n_clients=2000)


def test_bad_label_mode_is_rejected():
    with pytest.raises(ValueError, match="label_mode must be one of"):
        build_federation(make_flows(n=200), label_mode="fine")


def test_subset_len_and_concatenate():
    part = Subset(np.zeros((3, 2), np.float32), np.arange(3, dtype=np.int64))

    assert len(part) == 3
    assert len(Subset.concatenate([part, part], 2)) == 6


# ------------------------------------------------------------ integration
def test_federation_from_the_simulator():
    from fmltc_core.data.simulator import simulate_iot_traffic

    data = simulate_iot_traffic(3000, seed=0)
    federation = build_federation(data, n_clients=5, alpha=0.5, seed=0)

    assert federation.segmentation.fallback_reason is None
    assert federation.n_features == len(data.feature_columns)
    assert all(len(client.all_train()) > 0 for client in federation.clients)
    for client in federation.clients:
        for part in client.train + client.test:
            assert np.isfinite(part.X).all()


REAL_SAMPLES = [
    ("cicids2017", {"release": "improved"}),
    ("cicids2017", {"release": "trafficlabelling"}),
    ("cicids2017", {"release": "mlcve"}),
    ("bot_iot", {}),
    ("iot23", {}),
]


@pytest.fixture(scope="module")
def load_real(real_data_dir):
    if importlib.util.find_spec("fmltc_core.data.datasets") is None:
        pytest.skip("fmltc_core.data.datasets is not there yet")
    from fmltc_core.data.datasets import load_dataset

    return lambda name, options: load_dataset(name, real_data_dir, **options)


@pytest.mark.real_data
@pytest.mark.parametrize(("name", "options"), REAL_SAMPLES, ids=lambda v: str(v))
def test_federation_from_a_real_sample(name, options, load_real, real_dataset_dir):
    real_dataset_dir(name)
    data = load_real(name, dict(options))
    federation = build_federation(
        data, n_clients=3, alpha=1.0, seed=0, label_mode="multiclass"
    )

    counts = federation.segmentation.subsets["count"]
    assert len(counts) == 10 and (counts > 0).all()
    assert federation.segmentation.subset_index.shape == (data.n_flows,)
    total = sum(len(c.all_train()) + len(c.all_test()) for c in federation.clients)
    assert total == data.n_flows + federation.report.total("added")
    assert federation.report.total() >= data.report.total()
    for client in federation.clients:
        assert len(client.all_train()) >= 1
        for part in client.train + client.test:
            assert np.isfinite(part.X).all()


@pytest.mark.real_data
def test_real_sample_with_one_timestamp_falls_back(load_real, real_dataset_dir):
    real_dataset_dir("cicids2017")
    data = load_real("cicids2017", {"release": "trafficlabelling"})
    federation = build_federation(data, n_clients=2, seed=0)

    assert data.frame["time"].nunique() == 1
    assert federation.segmentation.fallback_reason == "all timestamps equal"
