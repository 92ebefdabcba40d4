"""Tests of the client features (eqs. 6-8, 10) and the sliding window."""

import numpy as np
import pytest

from fmltc_core.clustering.features import (
    ClientFeatureReducer,
    FeatureHistory,
    last_layer_features,
)


def test_last_layer_features_flattens_each_matrix():
    weights = [np.arange(6.0).reshape(3, 2), -np.arange(6.0).reshape(3, 2)]
    features = last_layer_features(weights)
    assert features.shape == (2, 6)
    np.testing.assert_array_equal(features[0], [0, 1, 2, 3, 4, 5])


def test_last_layer_features_rejects_mixed_shapes():
    with pytest.raises(ValueError, match="weights must be \\(M, R\\) matrices"):
        last_layer_features([np.zeros((3, 2)), np.zeros((2, 2))])


def test_pca_matches_eigendecomposition_of_eq7_covariance():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 8)) @ rng.normal(size=(8, 8))
    reducer = ClientFeatureReducer(0.95).fit(features)

    # eq. 7 covariance with 1/N, eigen-decomposed directly
    centred = features - features.mean(axis=0)
    covariance = centred.T @ centred / features.shape[0]
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    cumulative = np.cumsum(eigenvalues) / eigenvalues.sum()
    kept = int(np.searchsorted(cumulative, 0.95, side="right") + 1)

    assert reducer.n_components_ == kept
    projection = reducer.transform(features)
    expected = centred @ eigenvectors[:, :kept]  # eq. 8, P = leading eigenvectors
    signs = np.sign(np.sum(projection * expected, axis=0))
    np.testing.assert_allclose(projection, expected * signs, atol=1e-9)
    np.testing.assert_allclose(
        reducer.explained_variance_ratio_, eigenvalues[:kept] / eigenvalues.sum()
    )


def test_reducer_rejects_bad_variance():
    with pytest.raises(ValueError, match="variance must be in \\(0, 1\\]"):
        ClientFeatureReducer(1.5)


def _record(history, ids, values, means):
    weights = [
        np.full((2, 2), v) + np.eye(2) * i for i, v in zip(ids, values, strict=True)
    ]
    history.add_round(ids, weights, means, np.full(len(ids), 0.5))


def test_history_shape_and_enhanced_columns():
    history = FeatureHistory(window=3)
    rng = np.random.default_rng(1)
    for _ in range(4):  # one more round than the window
        history.add_round(
            [0, 1, 2, 3],
            rng.normal(size=(4, 3, 2)),
            rng.uniform(1, 2, size=4),
            rng.uniform(0, 1, size=4),
        )
    result = history.series()
    assert history.n_rounds == 3
    d_reduced = result.reducer.n_components_
    assert result.series.shape == (4, 3, d_reduced + 2)
    np.testing.assert_array_equal(result.series[:, :, -2], result.grad_norms)


def test_history_uses_one_basis_for_all_rounds():
    history = FeatureHistory(window=2)
    rng = np.random.default_rng(2)
    rounds = [rng.normal(size=(5, 4, 2)) for _ in range(2)]
    for weights in rounds:
        history.add_round(range(5), weights, np.ones(5), np.zeros(5))
    result = history.series()
    stacked = np.concatenate([w.reshape(5, -1) for w in rounds])
    expected = ClientFeatureReducer(0.95).fit_transform(stacked).reshape(2, 5, -1)
    np.testing.assert_allclose(result.series[:, :, :-2], expected.transpose(1, 0, 2))


def test_absent_clients_carry_features_forward_and_pad_backwards():
    history = FeatureHistory(window=3)
    _record(history, [0, 1], [0.0, 1.0], [1.0, 2.0])
    _record(history, [0, 2], [3.0, 5.0], [3.0, 4.0])  # 1 absent, 2 new
    _record(history, [0, 1, 2], [6.0, 7.0, 8.0], [5.0, 6.0, 7.0])
    result = history.series()
    rows = {int(c): r for r, c in enumerate(result.client_ids)}
    q1, q2 = result.series[rows[1]], result.series[rows[2]]
    np.testing.assert_array_equal(q1[1], q1[0])  # carried forward
    np.testing.assert_array_equal(q2[0], q2[1])  # padded with first observation
    np.testing.assert_array_equal(result.grad_norms[rows[1]], [2.0, 2.0, 6.0])
    np.testing.assert_array_equal(
        result.observed[rows[2]], [False, True, True]
    )


def test_history_rejects_mismatched_lengths():
    history = FeatureHistory(window=2)
    with pytest.raises(ValueError, match="gradient_means must have one entry"):
        history.add_round([0, 1], np.zeros((2, 2, 2)), [1.0], [0.0, 0.0])
