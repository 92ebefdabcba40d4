"""Tests of the temporal subsets D1..Dn (ADWIN + grid) and low-traffic SMOTE."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData
from fmltc_core.data.temporal import (
    balance_low_traffic,
    low_traffic_subsets,
    segment_into_subsets,
)

ORIGIN = pd.Timestamp("2024-03-01", tz="UTC")


def make_flows(seconds, *, seed=0, time_source="timestamp", attack_share=0.3):
    """A tiny FlowData with flows at ``seconds`` after ORIGIN (NaN -> NaT)."""
    rng = np.random.default_rng(seed)
    seconds = np.asarray(seconds, dtype=np.float64)
    n = len(seconds)
    frame = pd.DataFrame(
        {
            "Flow Duration": rng.lognormal(6.0, 1.0, n).astype(np.float32),
            "Total Fwd Packets": rng.poisson(5.0, n).astype(np.float32),
            "Flow Bytes/s": rng.lognormal(4.0, 1.5, n).astype(np.float32),
        }
    )
    is_attack = (rng.random(n) < attack_share).astype(np.int8)
    frame["label"] = np.where(is_attack == 1, "dos", "benign")
    frame["family"] = frame["label"]
    frame["is_attack"] = is_attack
    frame["time"] = ORIGIN + pd.to_timedelta(seconds, unit="s")
    frame["order"] = np.arange(n, dtype=np.int64)
    frame["source_file"] = "tiny.csv"
    return FlowData(
        frame=frame,
        feature_columns=["Flow Duration", "Total Fwd Packets", "Flow Bytes/s"],
        dataset="simulated",
        time_source=time_source,
        simulated=True,
    )


def poisson_times(rates_per_hour, hours_each, *, seed=0):
    """Sorted arrival seconds of consecutive regimes of constant flow rate."""
    rng = np.random.default_rng(seed)
    pieces = []
    for index, rate in enumerate(rates_per_hour):
        count = rng.poisson(rate * hours_each)
        low, high = index * hours_each * 3600, (index + 1) * hours_each * 3600
        pieces.append(np.sort(rng.uniform(low, high, count)))
    return np.concatenate(pieces)


def assert_valid_segmentation(segmentation, n_rows, n_subsets):
    index = segmentation.subset_index
    assert index.shape == (n_rows,)
    assert set(np.unique(index)) == set(range(n_subsets))
    assert segmentation.subsets["count"].tolist() == np.bincount(index).tolist()
    assert (segmentation.subsets["count"] > 0).all()


def test_planted_volume_change_gives_adwin_cut_within_one_step():
    change_hours = 11.25
    seconds = poisson_times([150, 1500], change_hours, seed=3)
    seconds = seconds[seconds < 24 * 3600]
    segmentation = segment_into_subsets(make_flows(seconds))

    adwin_starts = segmentation.subsets.loc[
        segmentation.subsets["cut_source"] == "adwin", "start"
    ]
    change = ORIGIN + pd.Timedelta(hours=change_hours)
    distance = (adwin_starts - change).abs().min()
    assert distance <= pd.Timedelta("30min")


def test_subsets_are_ordered_contiguous_and_disjoint():
    seconds = poisson_times([300, 800, 200], 8, seed=1)
    data = make_flows(seconds)
    segmentation = segment_into_subsets(data)

    assert_valid_segmentation(segmentation, len(seconds), 10)
    times = data.frame["time"]
    for subset in range(9):
        assert (
            times[segmentation.subset_index == subset].max()
            < times[segmentation.subset_index == subset + 1].min()
        )
    starts = segmentation.subsets["start"]
    assert starts.is_monotonic_increasing
    assert (starts.iloc[1:].dt.minute % 30 == 0).all()
    assert segmentation.subsets["cut_source"].iloc[0] == "start"
    assert segmentation.fallback_reason is None


def test_windows_are_one_hour_every_thirty_minutes():
    seconds = poisson_times([400], 12, seed=2)
    segmentation = segment_into_subsets(make_flows(seconds))
    windows = segmentation.windows

    assert ((windows["end"] - windows["start"]) == pd.Timedelta("1h")).all()
    assert (windows["start"].diff().dropna() == pd.Timedelta("30min")).all()
    assert windows["count"].sum() == pytest.approx(2 * len(seconds), rel=0.1)


def test_stationary_traffic_is_filled_without_adwin_cuts():
    seconds = poisson_times([500], 24, seed=4)
    segmentation = segment_into_subsets(make_flows(seconds))

    assert "adwin" not in segmentation.subsets["cut_source"].tolist()
    assert_valid_segmentation(segmentation, len(seconds), 10)


def test_long_traffic_gap_never_gives_an_empty_subset():
    seconds = poisson_times([300, 0, 300], 8, seed=5)
    segmentation = segment_into_subsets(make_flows(seconds))

    assert segmentation.fallback_reason is None
    assert_valid_segmentation(segmentation, len(seconds), 10)


def test_all_equal_timestamps_fall_back_to_capture_order(caplog):
    data = make_flows(np.zeros(299))
    data.frame["order"] = np.arange(299)[::-1]
    with caplog.at_level(logging.WARNING):
        segmentation = segment_into_subsets(data)

    assert segmentation.fallback_reason == "all timestamps equal"
    assert "falls back" in caplog.text
    assert_valid_segmentation(segmentation, 299, 10)
    assert set(segmentation.subsets["cut_source"]) == {"fallback"}
    # The last rows of the file have the smallest order, so they come first.
    assert segmentation.subset_index[-1] == 0
    assert segmentation.subset_index[0] == 9


def test_nat_times_fall_back_to_order():
    seconds = np.arange(50, dtype=np.float64) * 3600.0
    seconds[[3, 17]] = np.nan
    data = make_flows(seconds)
    segmentation = segment_into_subsets(data, n_subsets=5)

    assert "NaT" in segmentation.fallback_reason
    assert segmentation.subset_index.tolist() == np.repeat(np.arange(5), 10).tolist()


def test_span_shorter_than_grid_falls_back():
    seconds = np.linspace(0, 40 * 60, 100)
    segmentation = segment_into_subsets(make_flows(seconds))

    assert segmentation.fallback_reason.startswith("span too short for the grid")
    assert segmentation.subsets["count"].tolist() == [10] * 10


def test_fewer_rows_than_subsets_raises():
    with pytest.raises(ValueError, match=r"n_subsets=10 .* from 7 rows"):
        segment_into_subsets(make_flows(np.arange(7) * 3600.0))


def test_pseudo_clock_from_order_is_logged(caplog):
    data = make_flows(np.full(400, np.nan), time_source="capture_order")
    with caplog.at_level(logging.WARNING):
        segmentation = segment_into_subsets(data)

    assert segmentation.clock == "pseudo"
    assert "pseudo-clock" in caplog.text
    assert_valid_segmentation(segmentation, 400, 10)


def test_segmentation_is_deterministic():
    data = make_flows(poisson_times([200, 900, 300], 6, seed=6))
    first = segment_into_subsets(data)
    second = segment_into_subsets(data)

    np.testing.assert_array_equal(first.subset_index, second.subset_index)
    pd.testing.assert_frame_equal(first.subsets, second.subsets)


def test_low_traffic_is_below_half_the_median():
    flags = low_traffic_subsets([100, 100, 49, 50, 200], low_traffic_fraction=0.5)

    assert flags.tolist() == [False, False, True, False, False]


# ------------------------------------------------------------------ SMOTE
def classes(sizes, *, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [rng.normal(3 * label, 1, (size, 4)) for label, size in enumerate(sizes)]
    ).astype(np.float32)
    y = np.concatenate([np.full(size, label) for label, size in enumerate(sizes)])
    return X, y.astype(np.int64)


def test_smote_balances_minorities_to_the_majority():
    X, y = classes([30, 8, 12])
    report = DataReport()
    X_balanced, y_balanced = balance_low_traffic(X, y, seed=0, report=report, name="D2")

    assert np.bincount(y_balanced).tolist() == [30, 30, 30]
    np.testing.assert_array_equal(X_balanced[: len(X)], X)
    assert X_balanced.dtype == np.float32
    assert report.total("added") == 40
    # Synthetic flows interpolate inside their class's bounding box.
    synthetic = X_balanced[len(X):][y_balanced[len(X):] == 1]
    own = X[y == 1]
    assert (synthetic >= own.min(axis=0) - 1e-6).all()
    assert (synthetic <= own.max(axis=0) + 1e-6).all()


def test_smote_with_a_two_sample_class_uses_one_neighbour():
    X, y = classes([20, 2])
    report = DataReport()
    X_balanced, y_balanced = balance_low_traffic(X, y, seed=0, report=report)

    assert np.bincount(y_balanced).tolist() == [20, 20]
    assert report.total("warning", "SMOTE k_neighbors reduced to 1") == 1
    # With one neighbour every new point lies on the segment between the two.
    first, second = X[y == 1]
    direction = second - first
    for point in X_balanced[len(X):]:
        share = np.dot(point - first, direction) / np.dot(direction, direction)
        np.testing.assert_allclose(point, first + share * direction, atol=1e-5)


def test_single_sample_class_is_duplicated_and_reported():
    X, y = classes([15, 1])
    report = DataReport()
    X_balanced, y_balanced = balance_low_traffic(X, y, seed=0, report=report)

    assert np.bincount(y_balanced).tolist() == [15, 15]
    assert (X_balanced[len(X):] == X[y == 1]).all()
    assert report.total("added", "low-traffic class with one flow duplicated") == 14


def test_single_class_is_left_unchanged_with_a_warning():
    X, y = classes([9])
    report = DataReport()
    X_balanced, y_balanced = balance_low_traffic(X, y, seed=0, report=report)

    assert X_balanced is X and len(y_balanced) == 9
    assert report.total("warning") == 1
