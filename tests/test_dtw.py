"""Tests of the gradient-weighted DTW (eq. 9)."""

import numpy as np
import pytest
from tslearn.metrics import dtw, dtw_path

from fmltc_core.clustering.dtw import dtw_grad, dtw_grad_matrix


def test_hand_computed_two_and_three_step_series():
    # Q = [0, 2], mu = [0, 1, 2], g = [1, 4] -> sqrt(g) = [1, 2].
    # Local costs c(p, q) = (Q(p) - mu(q))^2 * sqrt(g(p)):
    #   p=0: (0-0)^2*1 = 0, (0-1)^2*1 = 1, (0-2)^2*1 = 4
    #   p=1: (2-0)^2*2 = 8, (2-1)^2*2 = 2, (2-2)^2*2 = 0
    # Accumulated: row 0 = [0, 1, 5]; row 1 = [8, 0+2=2, min(1, 2, 5)+0 = 1]
    # Optimal path (0,0) (0,1) (1,2) with total 0 + 1 + 0 = 1.
    value, path = dtw_grad(
        np.array([[0.0], [2.0]]),
        np.array([[0.0], [1.0], [2.0]]),
        np.array([1.0, 4.0]),
        return_path=True,
    )
    assert value == pytest.approx(1.0)
    assert path == [(0, 0), (0, 1), (1, 2)]


def test_gradient_weights_change_the_optimal_path():
    # Q = [1, 1], mu = [0, 2]; costs with sqrt(g) = [1, 9]:
    #   p=0: 1*1 = 1, 1*1 = 1;  p=1: 1*9 = 9, 1*9 = 9
    # paths: diagonal 1 + 9 = 10; (0,0)(0,1)(1,1): 1 + 1 + 9 = 11;
    # (0,0)(1,0)(1,1): 1 + 9 + 9 = 19 -> 10 along the diagonal.
    value, path = dtw_grad(
        np.array([[1.0], [1.0]]),
        np.array([[0.0], [2.0]]),
        np.array([1.0, 81.0]),
        return_path=True,
    )
    assert value == pytest.approx(10.0)
    assert path == [(0, 0), (1, 1)]


def test_uniform_weights_value_matches_tslearn_dtw_squared():
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    # tslearn returns the root of the summed squared distances
    assert dtw_grad(first, second, np.ones(7)) == pytest.approx(
        dtw(first, second) ** 2, rel=1e-12
    )


@pytest.mark.parametrize("radius", [None, 1])
def test_uniform_weights_path_matches_tslearn(radius):
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    options = (
        {}
        if radius is None
        else {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": radius}
    )
    value, path = dtw_grad(
        first, second, np.ones(7), sakoe_chiba_radius=radius, return_path=True
    )
    reference_path, reference_root = dtw_path(first, second, **options)
    assert path == reference_path
    assert value == pytest.approx(reference_root**2, rel=1e-12)


def test_matrix_matches_pairwise_values():
    rng = np.random.default_rng(4)
    series = rng.normal(size=(5, 4, 2))
    centroids = rng.normal(size=(3, 6, 2))
    grad = rng.uniform(0.1, 2.0, size=(5, 4))
    matrix = dtw_grad_matrix(series, centroids, grad)
    expected = [
        [dtw_grad(series[i], centroids[j], grad[i]) for j in range(3)]
        for i in range(5)
    ]
    assert matrix.shape == (5, 3)
    np.testing.assert_allclose(matrix, expected, rtol=1e-12)


def test_negative_gradient_norms_are_rejected():
    with pytest.raises(ValueError, match="grad_norms must be finite and non-negative"):
        dtw_grad_matrix(np.zeros((2, 3, 1)), np.zeros((1, 3, 1)), -np.ones((2, 3)))


def test_dimension_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same number of dimensions d"):
        dtw_grad_matrix(np.zeros((2, 3, 2)), np.zeros((1, 3, 1)))
