"""Tests of the weighted DBA K-Means, eq. 13 stopping rule, eq. 14 SSE, elbow."""

import logging

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from fmltc_core.clustering.dtw import dtw_grad_matrix
from fmltc_core.clustering.features import FeatureHistory
from fmltc_core.clustering.kmeans import (
    GradientWeightedDBAKMeans,
    centroid_change,
    elbow,
    initial_centroids_from_meta,
    select_n_clusters,
)
from fmltc_core.clustering.quality import (
    dtw_silhouette_score,
    intra_cluster_gradient_similarity,
)


def planted_groups(n_groups=3, per_group=20, length=5, dims=4, seed=0):
    """Series around well-separated group paths, with gradients and batches."""
    rng = np.random.default_rng(seed)
    paths = rng.normal(scale=10.0, size=(n_groups, length, dims))
    truth = np.repeat(np.arange(n_groups), per_group)
    series = paths[truth] + rng.normal(scale=0.3, size=(truth.size, length, dims))
    grad = rng.uniform(0.5, 1.5, size=(truth.size, length))
    batches = rng.integers(16, 129, size=truth.size)
    return series, grad, batches, truth


def test_planted_groups_are_recovered():
    series, grad, batches, truth = planted_groups()
    model = GradientWeightedDBAKMeans(3, seed=0).fit(series, grad, batches)
    assert adjusted_rand_score(truth, model.labels_) == 1.0
    assert model.converged_
    assert model.cluster_centers_.shape == (3, 5, 4)


def test_elbow_picks_the_planted_number_of_groups():
    series, grad, batches, _ = planted_groups()
    best_k, sse = select_n_clusters(series, grad, batches, seed=0)
    assert best_k == 3
    assert sorted(sse) == list(range(1, 9))


def test_inertia_is_eq14_sse_of_the_final_centres():
    series, grad, batches, _ = planted_groups(seed=1)
    model = GradientWeightedDBAKMeans(3, seed=1).fit(series, grad, batches)
    distances = dtw_grad_matrix(series, model.cluster_centers_, grad)
    np.testing.assert_array_equal(model.labels_, distances.argmin(axis=1))
    expected = sum(distances[i, model.labels_[i]] for i in range(len(series)))
    assert model.inertia_ == pytest.approx(expected, rel=1e-12)


def test_eq13_centroid_change_is_mean_absolute_difference():
    previous = np.zeros((2, 2, 2))
    updated = np.zeros((2, 2, 2))
    updated[0] = [[1.0, -1.0], [0.0, 2.0]]  # |.| sums to 4 over 4 entries
    np.testing.assert_allclose(centroid_change(previous, updated), [1.0, 0.0])


def test_loose_tolerance_stops_after_one_iteration_strict_one_does_not():
    series, grad, batches, _ = planted_groups(seed=2)
    loose = GradientWeightedDBAKMeans(3, tol=1e6, seed=2).fit(series, grad, batches)
    strict = GradientWeightedDBAKMeans(3, tol=0.0, max_iter=4, seed=2).fit(
        series, grad, batches
    )
    assert (loose.n_iter_, loose.converged_) == (1, True)
    assert (strict.n_iter_, strict.converged_) == (4, False)


def test_same_seed_same_result():
    rng = np.random.default_rng(7)
    series = rng.normal(size=(30, 5, 3))
    grad = rng.uniform(0.5, 2.0, size=(30, 5))
    first = GradientWeightedDBAKMeans(4, seed=11).fit(series, grad)
    second = GradientWeightedDBAKMeans(4, seed=11).fit(series, grad)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.cluster_centers_, second.cluster_centers_)


def test_empty_cluster_is_reseeded_from_the_farthest_point(caplog):
    series, grad, batches, _ = planted_groups(n_groups=2, per_group=5, seed=3)
    # both initial centres on group 0, one of them far away: it gets no member
    init = np.stack([series[0], series[0] + 1000.0])
    with caplog.at_level(logging.WARNING, logger="fmltc_core.clustering.kmeans"):
        model = GradientWeightedDBAKMeans(2, init=init).fit(series, grad, batches)
    assert model.n_reseeded_ >= 1
    assert np.bincount(model.labels_, minlength=2).min() > 0
    assert sum("re-seeded" in r.message for r in caplog.records) == 1


def test_flat_curve_gives_one_cluster():
    assert elbow({1: 5.0, 2: 5.0, 3: 5.0, 4: 5.0}) == 1


def test_elbow_of_a_bent_curve():
    assert elbow({1: 100.0, 2: 60.0, 3: 10.0, 4: 8.0, 5: 7.0, 6: 6.0}) == 3


def test_too_many_clusters_is_rejected():
    with pytest.raises(ValueError, match="n_clusters must not exceed"):
        GradientWeightedDBAKMeans(5).fit(np.zeros((3, 2, 1)))


def test_initial_centroids_from_meta_projects_and_fills():
    rng = np.random.default_rng(4)
    history = FeatureHistory(window=3)
    for _ in range(3):
        history.add_round(
            range(12), rng.normal(size=(12, 4, 2)),
            rng.uniform(1, 2, 12), rng.uniform(0, 1, 12),
        )
    result = history.series()
    meta = rng.normal(size=(2, 8))
    centres = initial_centroids_from_meta(
        meta, result.reducer, 3, 4, result.series, np.random.default_rng(0)
    )
    assert centres.shape == (4, 3, result.series.shape[2])
    projected = result.reducer.transform(meta)
    np.testing.assert_allclose(centres[:2, 1, :-2], projected)
    np.testing.assert_allclose(
        centres[0, 0, -2:], result.series[:, :, -2:].mean(axis=(0, 1))
    )
    # the filled centres are client series (k-means++ draws)
    for centre in centres[2:]:
        assert any(np.array_equal(centre, s) for s in result.series)
    model = GradientWeightedDBAKMeans(4, init=centres).fit(
        result.series, result.grad_norms
    )
    assert model.labels_.shape == (12,)


def test_silhouette_high_for_planted_groups_low_for_random_labels():
    series, grad, _, truth = planted_groups(per_group=8)
    planted = dtw_silhouette_score(series, truth, grad)
    shuffled = dtw_silhouette_score(
        series, np.random.default_rng(0).permutation(truth), grad
    )
    assert planted > 0.8
    assert shuffled < 0.1


def test_intra_cluster_gradient_similarity_by_hand():
    updates = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 0, 1, 1, 1])
    # cluster 0: one pair, cosine 0; cluster 1: pairs 1, 1/sqrt2, 1/sqrt2
    expected = (2 * 0.0 + 3 * (1 + np.sqrt(2)) / 3) / 5
    assert intra_cluster_gradient_similarity(updates, labels) == pytest.approx(expected)
