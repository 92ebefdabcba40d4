"""Tests of the Dirichlet label-skew partition."""

from __future__ import annotations

import numpy as np
import pytest

from fmltc_core.data.partition import (
    PartitionError,
    dirichlet_class_proportions,
    dirichlet_partition,
)


def labels_of(sizes):
    return np.concatenate([np.full(size, label) for label, size in enumerate(sizes)])


def test_partition_covers_every_sample_once():
    labels = labels_of([300, 120, 80])
    parts = dirichlet_partition(labels, n_clients=7, alpha=0.5, seed=1)

    assert len(parts) == 7
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(len(labels)))
    assert min(len(part) for part in parts) >= 1


def test_proportions_rows_sum_to_one():
    proportions = dirichlet_class_proportions(4, 6, 0.3, np.random.default_rng(0))

    assert proportions.shape == (4, 6)
    np.testing.assert_allclose(proportions.sum(axis=1), 1.0)
    assert (proportions >= 0).all()


def test_tiny_alpha_proportions_stay_finite():
    proportions = dirichlet_class_proportions(3, 5, 1e-6, np.random.default_rng(0))

    assert np.isfinite(proportions).all()
    np.testing.assert_allclose(proportions.sum(axis=1), 1.0)


def test_small_alpha_is_more_skewed_than_large_alpha():
    labels = labels_of([500, 500])

    def mean_majority_share(alpha):
        parts = dirichlet_partition(labels, n_clients=10, alpha=alpha, seed=0)
        shares = [np.bincount(labels[part], minlength=2).max() / len(part)
                  for part in parts]
        return float(np.mean(shares))

    assert mean_majority_share(0.1) > mean_majority_share(100.0) + 0.2


def test_tiny_alpha_retries_then_raises_partition_error():
    labels = labels_of([50, 50])
    with pytest.raises(PartitionError, match=r"alpha=1e-06.*n_clients=10.*min_size=1"):
        dirichlet_partition(labels, n_clients=10, alpha=1e-6, seed=0, max_retries=5)


def test_partition_error_names_the_smallest_size_seen():
    labels = labels_of([50, 50])
    with pytest.raises(PartitionError, match=r"smallest client had at most 0"):
        dirichlet_partition(labels, n_clients=10, alpha=1e-6, seed=0, max_retries=3)


def test_more_clients_than_samples_raises():
    with pytest.raises(PartitionError, match=r"n_clients=12 .*from 5 samples"):
        dirichlet_partition(labels_of([5]), n_clients=12, alpha=1.0, seed=0)


def test_one_class_only_is_partitioned():
    labels = np.full(200, 3)
    parts = dirichlet_partition(labels, n_clients=5, alpha=1.0, seed=2)

    assert sum(len(part) for part in parts) == 200
    assert min(len(part) for part in parts) >= 1


def test_min_size_is_respected():
    labels = labels_of([400, 100])
    parts = dirichlet_partition(labels, n_clients=5, alpha=2.0, seed=3, min_size=40)

    assert min(len(part) for part in parts) >= 40


def test_same_seed_same_partition_other_seed_differs():
    labels = labels_of([100, 60, 40])
    first = dirichlet_partition(labels, n_clients=4, alpha=1.0, seed=7)
    second = dirichlet_partition(labels, n_clients=4, alpha=1.0, seed=7)
    other = dirichlet_partition(labels, n_clients=4, alpha=1.0, seed=8)

    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b) for a, b in zip(first, other, strict=True)
    )


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        dirichlet_partition(labels_of([10]), n_clients=2, alpha=alpha, seed=0)


def test_n_clients_must_be_at_least_one():
    with pytest.raises(ValueError, match="n_clients must be an integer >= 1, got 0"):
        dirichlet_partition(labels_of([10]), n_clients=0, alpha=1.0, seed=0)
