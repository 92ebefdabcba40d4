"""Tests of the dynamically weighted DBA (eqs. 11-12)."""

import numpy as np
import pytest
from tslearn.barycenters import dtw_barycenter_averaging

from fmltc_core.clustering.dba import contribution_weights, weighted_dba


def test_eq11_weights_on_tiny_input():
    # g = [1, 3]: g_bar = 2, sigma_g^2 = 1 -> Gaussian term exp(-1/2) for both;
    # B = [64, 128], B_max = 128 -> batch terms 0.5 and 1.
    weights = contribution_weights(
        np.array([1.0, 3.0]), np.array([64, 128]), batch_size_max=128
    )
    np.testing.assert_allclose(weights, [0.5 * np.exp(-0.5), np.exp(-0.5)])


def test_eq11_outlier_gradient_is_down_weighted():
    # g = [1, 1, 4]: g_bar = 2, sigma_g^2 = 2 -> exp(-1/4) twice and exp(-1).
    weights = contribution_weights(
        np.array([1.0, 1.0, 4.0]), np.full(3, 32), batch_size_max=32
    )
    np.testing.assert_allclose(weights, np.exp([-0.25, -0.25, -1.0]))


def test_eq11_equal_gradients_give_gaussian_term_one():
    weights = contribution_weights(
        np.full(3, 0.1), np.array([16, 32, 64]), batch_size_max=64
    )
    np.testing.assert_allclose(weights, [0.25, 0.5, 1.0])


def test_eq12_weighted_mean_of_aligned_observations():
    # two members of length 1 aligned to a centre of length 1 at t = 0:
    # g equal -> gamma = B_i / B_max = [1, 0.5]; mu = (1*0 + 0.5*3) / 1.5 = 1.
    centre = weighted_dba(
        np.array([[[0.0]], [[3.0]]]),
        np.ones((2, 1)),
        np.array([128, 64]),
        np.array([[10.0]]),
        batch_size_max=128,
    )
    np.testing.assert_allclose(centre, [[1.0]], rtol=1e-7)


@pytest.mark.parametrize("n_iter", [1, 3])
def test_uniform_weights_match_tslearn_dba(n_iter):
    rng = np.random.default_rng(5)
    series = rng.normal(size=(8, 6, 2))
    init = rng.normal(size=(6, 2))
    ours = weighted_dba(series, None, None, init, n_iter=n_iter)
    reference = dtw_barycenter_averaging(
        series, init_barycenter=init, max_iter=n_iter, tol=0.0
    )
    # eq. 12's eps = 1e-8 over weight sums >= 1 biases by at most ~1e-8 relative
    np.testing.assert_allclose(ours, reference, rtol=1e-7, atol=1e-7)


def test_batch_size_above_maximum_is_rejected():
    with pytest.raises(ValueError, match="batch_sizes must not exceed batch_size_max"):
        weighted_dba(
            np.zeros((2, 3, 1)), None, np.array([10, 300]), np.zeros((3, 1)),
            batch_size_max=128,
        )
