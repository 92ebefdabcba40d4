"""Tests of the seeded IoT traffic simulator (fmltc_core.data.simulator)."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fmltc_core.data.schema import META_COLUMNS, FlowData, check_no_leakage
from fmltc_core.data.simulator import (
    ATTACK_FAMILIES,
    DEVICE_TYPES,
    SIMULATED_FEATURES,
    SimulatorConfig,
    plan_platform,
    simulate_iot_traffic,
)


@pytest.fixture(scope="module")
def data() -> FlowData:
    return simulate_iot_traffic(seed=3)


def _pairwise_total_variation(table: np.ndarray) -> float:
    """Mean total-variation distance between the rows of a row-normalised table."""
    pairs = itertools.combinations(range(len(table)), 2)
    return float(np.mean([0.5 * np.abs(table[i] - table[j]).sum() for i, j in pairs]))


def test_same_seed_gives_identical_frame():
    first = simulate_iot_traffic(2_000, seed=5)
    second = simulate_iot_traffic(2_000, seed=5)
    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_different_seed_gives_different_frame():
    first = simulate_iot_traffic(2_000, seed=5)
    second = simulate_iot_traffic(2_000, seed=6)
    assert not first.frame[SIMULATED_FEATURES].equals(second.frame[SIMULATED_FEATURES])


def test_output_is_valid_flowdata_marked_simulated(data):
    frame = data.frame
    assert data.simulated is True
    assert data.dataset == "simulated"
    assert data.time_source == "timestamp"
    assert data.n_flows == 10_000
    assert data.feature_columns == SIMULATED_FEATURES
    check_no_leakage(data.feature_columns)
    FlowData(frame=frame, feature_columns=data.feature_columns, dataset="simulated",
             time_source="timestamp", simulated=True)
    assert set(META_COLUMNS) | {"site", "device", "campaign"} <= set(frame.columns)
    assert not {"site", "device", "campaign"} & set(data.feature_columns)
    assert all(frame[c].dtype == np.float32 for c in SIMULATED_FEATURES)
    assert np.isfinite(data.features).all()
    assert (frame["source_file"] == "simulated").all()
    assert data.report.total("added") == data.n_flows


def test_metadata_columns_are_consistent(data):
    frame = data.frame
    benign = frame["is_attack"] == 0
    assert frame["is_attack"].dtype == np.int8
    assert frame["site"].dtype == np.int64
    assert set(frame["site"]) <= set(range(10))
    assert (frame.loc[benign, "label"] == "benign").all()
    assert (frame.loc[benign, "family"] == "benign").all()
    assert (frame.loc[benign, "campaign"] == "none").all()
    attacks = frame.loc[~benign]
    assert len(attacks) > 0
    assert (attacks["campaign"] != "none").all()
    assert (attacks["family"] == attacks["label"].map(ATTACK_FAMILIES)).all()
    types = frame["device"].str.rsplit("-", n=1).str[0]
    assert set(types) <= set(DEVICE_TYPES)


def test_simulation_is_announced_in_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="fmltc_core.data.simulator"):
        simulate_iot_traffic(100, seed=0)
    assert any("SIMULATED" in r.getMessage() and r.levelno == logging.INFO
               for r in caplog.records)


def test_cicflowmeter_identities_hold(data):
    frame = data.frame.astype({c: np.float64 for c in SIMULATED_FEATURES})
    fwd, bwd = frame["Total Fwd Packets"], frame["Total Backward Packets"]
    fwd_bytes = frame["Total Length of Fwd Packets"]
    bwd_bytes = frame["Total Length of Bwd Packets"]
    duration = frame["Flow Duration"]
    packets = fwd + bwd
    close = dict(rtol=1e-5, atol=1e-6)
    assert (duration >= 1).all() and (fwd >= 1).all() and (bwd >= 0).all()
    np.testing.assert_allclose(frame["Flow Packets/s"], packets * 1e6 / duration,
                               **close)
    np.testing.assert_allclose(frame["Flow Bytes/s"],
                               (fwd_bytes + bwd_bytes) * 1e6 / duration, **close)
    np.testing.assert_allclose(frame["Fwd Packets/s"], fwd * 1e6 / duration, **close)
    np.testing.assert_allclose(frame["Average Packet Size"],
                               (fwd_bytes + bwd_bytes) / packets, **close)
    np.testing.assert_allclose(frame["Fwd Packet Length Mean"], fwd_bytes / fwd,
                               **close)
    np.testing.assert_array_equal(frame["Down/Up Ratio"], np.floor(bwd / fwd))
    many = packets > 1
    np.testing.assert_allclose(frame.loc[many, "Flow IAT Mean"] * (packets[many] - 1),
                               duration[many], rtol=1e-5)
    assert (frame["Flow IAT Max"] >= frame["Flow IAT Mean"] * (1 - 1e-6)).all()
    assert (frame["Flow IAT Max"] <= duration * (1 + 1e-6)).all()
    assert (frame["act_data_pkt_fwd"] <= fwd).all()
    flags = [c for c in SIMULATED_FEATURES if c.endswith("Flag Count")]
    assert set(np.unique(frame[flags].to_numpy())) <= {0.0, 1.0}
    udp = frame["Init_Win_bytes_forward"] == -1
    assert (frame.loc[udp, flags] == 0).all().all()


def test_device_mix_differs_between_sites(data):
    benign = data.frame[data.frame["is_attack"] == 0]
    types = benign["device"].str.rsplit("-", n=1).str[0].to_numpy()
    mix = pd.crosstab(benign["site"].to_numpy(), types, normalize="index")
    shuffled_sites = np.random.default_rng(0).permutation(benign["site"].to_numpy())
    baseline = pd.crosstab(shuffled_sites, types, normalize="index")
    # Two independent symmetric Dirichlet(0.5) draws over 4 device types are on
    # average 0.54 apart in total variation (Monte Carlo, 2e5 pairs); identical
    # mixes would only show sampling noise (about 0.03 for ~700 flows a site,
    # the shuffled-site baseline). 0.25 sits well between the two.
    assert _pairwise_total_variation(mix.to_numpy()) > 0.25
    assert _pairwise_total_variation(baseline.to_numpy()) < 0.1


def test_campaigns_stay_in_their_sites_and_interval(data):
    platform = plan_platform(seed=3)
    frame = data.frame
    assert len(platform.campaigns) >= 1
    assert set(frame["campaign"]) - {"none"} <= {c.identifier
                                                  for c in platform.campaigns}
    for campaign in platform.campaigns:
        flows = frame[frame["campaign"] == campaign.identifier]
        assert set(flows["site"]) <= set(campaign.sites)
        assert (flows["time"] >= campaign.start).all()
        assert (flows["time"] < campaign.end).all()
        assert (flows["label"] == campaign.label).all()


def test_botnet_flows_use_the_campaign_port_and_compromised_devices(data):
    platform = plan_platform(seed=3)
    frame = data.frame
    names = np.asarray(platform.device_names)
    botnets = [c for c in platform.campaigns if c.label == "botnet-c2"]
    assert botnets
    for campaign in botnets:
        flows = frame[frame["campaign"] == campaign.identifier]
        assert (flows["Destination Port"] == campaign.port).all()
        assert set(flows["device"]) <= set(names[list(campaign.compromised)])


def test_traffic_follows_a_daily_cycle(data):
    benign = data.frame[data.frame["is_attack"] == 0]
    hourly = benign["time"].dt.floor("h").value_counts()
    assert len(hourly) == 24
    assert hourly.max() / hourly.min() > 1.5


def test_timestamps_are_utc_sorted_and_ranked(data):
    frame = data.frame
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["time"].is_monotonic_increasing
    np.testing.assert_array_equal(frame["order"], np.arange(len(frame)))
    assert frame["time"].min() >= pd.Timestamp("2024-03-04T00:00:00Z")
    assert frame["time"].max() < pd.Timestamp("2024-03-05T00:00:00Z")


def test_start_and_duration_set_the_time_range():
    frame = simulate_iot_traffic(500, start="2024-06-01 12:00", duration_hours=2.0,
                                 seed=1).frame
    assert frame["time"].min() >= pd.Timestamp("2024-06-01T12:00:00Z")
    assert frame["time"].max() < pd.Timestamp("2024-06-01T14:00:00Z")


def test_benign_features_drift_over_the_day(data):
    benign = data.frame[data.frame["is_attack"] == 0]
    hour = benign["time"].dt.hour.to_numpy()
    log_iat = np.log1p(benign["Flow IAT Mean"].to_numpy(dtype=np.float64))
    first, last = log_iat[hour < 6], log_iat[hour >= 18]
    standard_error = np.sqrt(first.var() / len(first) + last.var() / len(last))
    assert abs(last.mean() - first.mean()) > 2 * standard_error


def test_attack_fraction_sets_the_attack_share():
    frame = simulate_iot_traffic(3_000, attack_fraction=0.4, seed=2).frame
    assert frame["is_attack"].sum() == 1_200
    assert simulate_iot_traffic(500, attack_fraction=0.0, seed=2).frame[
        "is_attack"].sum() == 0


def test_attack_share_varies_between_sites(data):
    shares = data.frame.groupby("site")["is_attack"].mean()
    assert shares.max() - shares.min() > 0.1


def test_attacks_are_learnable_but_not_separable_on_one_feature(data):
    features = data.features.astype(np.float64)
    target = data.frame["is_attack"].to_numpy()
    majority = max(target.mean(), 1 - target.mean())

    # Best single-threshold rule on each feature.
    best_single = 0.0
    for column in features.T:
        sorted_target = target[np.argsort(column, kind="stable")]
        attacks_below = np.concatenate([[0], np.cumsum(sorted_target)])
        below = np.arange(len(target) + 1)
        accuracy = ((below - attacks_below) + (target.sum() - attacks_below)) / len(
            target)
        best_single = max(best_single, accuracy.max(), (1 - accuracy).max())
    assert best_single < 0.95

    train_x, test_x, train_y, test_y = train_test_split(
        features, target, test_size=0.3, random_state=0, stratify=target)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(train_x, train_y)
    assert model.score(test_x, test_y) > majority + 0.05


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_flows": 0}, "n_flows must be an integer >= 1, got 0"),
        ({"n_sites": 0}, "n_sites must be an integer >= 1, got 0"),
        ({"duration_hours": 0.0}, r"duration_hours must be a finite number > 0, "
                                  r"got 0\.0"),
        ({"attack_fraction": 1.0}, r"attack_fraction must be None or a share in "
                                   r"\[0, 1\), got 1\.0"),
        ({"attack_fraction": -0.1}, r"attack_fraction must be .*got -0\.1"),
        ({"start": "not a time"}, "start must be an ISO 8601 timestamp"),
    ],
)
def test_bad_arguments_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        simulate_iot_traffic(**{"n_flows": 10, **arguments})


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="devices_per_site must be an integer >= 1"):
        SimulatorConfig(devices_per_site=0)
