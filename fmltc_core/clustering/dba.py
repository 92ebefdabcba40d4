"""Dynamically weighted DTW barycenter averaging (eqs. 11-12 of FMLTC-IDS).

DBA (Petitjean et al., 2011) refines a cluster centre ``mu`` by aligning every
member series to it with DTW and replacing each centre step ``t`` by the mean
of the member observations aligned to ``t``. FMLTC-IDS weights that mean:

* eq. 11, the contribution of an observation of member ``i`` aligned to ``t``
  is ``gamma_i(t) = exp(-(g_i - g_bar)^2 / (2 sigma_g^2)) * B_i / B_max``:
  a Gaussian term that shrinks observations whose gradient norm strays from the
  typical one, times the member's batch size relative to the largest batch;
  members with nothing aligned to ``t`` contribute 0;
* eq. 12, ``mu(t) = sum gamma x / (sum gamma + eps)`` with ``eps = 1e-8``.

Readings chosen here (the paper leaves them open):

* **Alignment.** Members are aligned to the centre with the gradient-weighted
  DTW of eq. 9 (:mod:`fmltc_core.clustering.dtw`), the distance the K-Means
  assignment uses. The paper's "if confrontation exists" is read as "if the
  member has an observation aligned to ``t``".
* **Several observations of one member aligned to t.** Each aligned pair
  ``(p, t)`` of the path counts once, with the weight computed from the
  gradient norm ``g_i(p)`` of that observation; this is Petitjean's DBA when
  all weights are equal (tslearn's update counts every pair of the path, too).
* **g_bar and sigma_g.** Mean and population standard deviation of the
  gradient norms of all pairs aligned to ``t`` (over the members of the
  cluster). When all those norms are equal (``sigma_g = 0``) the Gaussian term
  is 1 instead of 0/0.
* **Degenerate steps.** When nothing is aligned to ``t`` (an empty cluster) or
  all weights at ``t`` underflow to exactly 0, the centre keeps its previous
  value at ``t`` instead of collapsing to 0.

With equal gradient norms and ``B_i = B_max`` every pair weighs 1 and the update
equals tslearn's ``dtw_barycenter_averaging`` step up to the ``eps`` of eq. 12,
a relative bias of at most ``1e-8`` (the denominator is a count >= 1).
"""

from __future__ import annotations

import logging

import numba
import numpy as np

from fmltc_core.clustering.dtw import (
    _accumulated_cost,
    _backtrack,
    _radius_code,
    check_gradient_norms,
    check_series,
)

logger = logging.getLogger(__name__)

EPSILON = 1e-8
"""The eps of eq. 12 (the paper's value)."""


def check_batch_sizes(
    batch_sizes: np.ndarray, n_series: int, batch_size_max: float
) -> np.ndarray:
    """Validate batch sizes ``B_i`` and return the ratios ``B_i / B_max``."""
    if not np.isfinite(batch_size_max) or batch_size_max <= 0:
        raise ValueError(
            f"batch_size_max must be a positive number, got {batch_size_max!r}"
        )
    values = np.asarray(batch_sizes, dtype=np.float64)
    if values.shape != (n_series,):
        raise ValueError(
            f"batch_sizes must have shape ({n_series},), got {values.shape}"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"batch_sizes must be finite and positive, got {values!r}")
    if np.any(values > batch_size_max):
        raise ValueError(
            f"batch_sizes must not exceed batch_size_max={batch_size_max}, "
            f"got a largest batch size of {values.max()}"
        )
    return values / batch_size_max


@numba.njit(cache=True, nogil=True)
def _gaussian_term(gradient, mean, variance, all_equal):
    if all_equal or variance <= 0.0:
        return 1.0
    difference = gradient - mean
    return np.exp(-difference * difference / (2.0 * variance))


@numba.njit(cache=True, nogil=True)
def _weighted_dba_step(
    series, grad_norms, batch_ratios, labels, centroids, radius, epsilon
):
    """One eq. 11-12 update of every centre; returns (centres, weight sums).

    series (n, T, d), grad_norms (n, T), batch_ratios (n,), labels (n,),
    centroids (k, T', d). Weight sums have shape (k, T').
    """
    n_series, length, dims = series.shape
    n_centroids, centre_length, _ = centroids.shape
    weight_root = np.sqrt(grad_norms)

    # align every member to its centre (eq. 9 path)
    paths = np.empty((n_series, length + centre_length - 1, 2), dtype=np.int64)
    path_lengths = np.zeros(n_series, dtype=np.int64)
    for i in range(n_series):
        accumulated = _accumulated_cost(
            series[i], centroids[labels[i]], weight_root[i], radius
        )
        path_lengths[i] = _backtrack(accumulated, paths[i])

    # g_bar(t): mean gradient norm of the pairs aligned to each centre step
    counts = np.zeros((n_centroids, centre_length))
    sums = np.zeros((n_centroids, centre_length))
    smallest = np.full((n_centroids, centre_length), np.inf)
    largest = np.full((n_centroids, centre_length), -np.inf)
    for i in range(n_series):
        cluster = labels[i]
        for step in range(path_lengths[i]):
            p = paths[i, step, 0]
            t = paths[i, step, 1]
            gradient = grad_norms[i, p]
            counts[cluster, t] += 1.0
            sums[cluster, t] += gradient
            smallest[cluster, t] = min(smallest[cluster, t], gradient)
            largest[cluster, t] = max(largest[cluster, t], gradient)
    means = np.zeros((n_centroids, centre_length))
    for cluster in range(n_centroids):
        for t in range(centre_length):
            if counts[cluster, t] > 0:
                means[cluster, t] = sums[cluster, t] / counts[cluster, t]

    # sigma_g(t)^2: population variance of the same norms (two-pass)
    variances = np.zeros((n_centroids, centre_length))
    for i in range(n_series):
        cluster = labels[i]
        for step in range(path_lengths[i]):
            p = paths[i, step, 0]
            t = paths[i, step, 1]
            difference = grad_norms[i, p] - means[cluster, t]
            variances[cluster, t] += difference * difference
    for cluster in range(n_centroids):
        for t in range(centre_length):
            if counts[cluster, t] > 0:
                variances[cluster, t] /= counts[cluster, t]

    # eq. 11 weights and the weighted sums of eq. 12
    numerators = np.zeros((n_centroids, centre_length, dims))
    denominators = np.zeros((n_centroids, centre_length))
    for i in range(n_series):
        cluster = labels[i]
        for step in range(path_lengths[i]):
            p = paths[i, step, 0]
            t = paths[i, step, 1]
            weight = batch_ratios[i] * _gaussian_term(
                grad_norms[i, p],
                means[cluster, t],
                variances[cluster, t],
                smallest[cluster, t] == largest[cluster, t],
            )
            denominators[cluster, t] += weight
            for dim in range(dims):
                numerators[cluster, t, dim] += weight * series[i, p, dim]

    updated = centroids.copy()
    for cluster in range(n_centroids):
        for t in range(centre_length):
            if denominators[cluster, t] > 0.0:
                for dim in range(dims):
                    updated[cluster, t, dim] = numerators[cluster, t, dim] / (
                        denominators[cluster, t] + epsilon
                    )
    return updated, denominators


def contribution_weights(
    aligned_grad_norms: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    batch_size_max: float,
) -> np.ndarray:
    """Eq. 11 weights ``gamma`` of the observations aligned to one centre step.

    Parameters
    ----------
    aligned_grad_norms : array, shape (m,)
        Gradient norms ``g_i`` of the ``m`` observations aligned to step ``t``.
    batch_sizes : array, shape (m,)
        Batch size ``B_i`` of the member each observation belongs to.
    batch_size_max : float
        ``B_max``.

    Returns
    -------
    array, shape (m,)
        ``exp(-(g_i - g_bar)^2 / (2 sigma_g^2)) * B_i / B_max`` with ``g_bar``
        and ``sigma_g`` the mean and population standard deviation of
        ``aligned_grad_norms``; the Gaussian term is 1 when ``sigma_g = 0``.
    """
    gradients = check_gradient_norms(
        aligned_grad_norms, np.shape(aligned_grad_norms), "aligned_grad_norms"
    ).ravel()
    ratios = check_batch_sizes(batch_sizes, gradients.size, batch_size_max)
    if gradients.size == 0:
        return np.zeros(0)
    variance = float(np.mean((gradients - gradients.mean()) ** 2))
    all_equal = bool(gradients.min() == gradients.max())
    gaussian = np.array(
        [_gaussian_term(g, gradients.mean(), variance, all_equal) for g in gradients]
    )
    return gaussian * ratios


def weighted_dba(
    series: np.ndarray,
    grad_norms: np.ndarray | None,
    batch_sizes: np.ndarray | None,
    init_centroid: np.ndarray,
    *,
    batch_size_max: float | None = None,
    n_iter: int = 1,
    sakoe_chiba_radius: int | None = None,
) -> np.ndarray:
    """Dynamically weighted DBA centre of one cluster (eqs. 11-12).

    Parameters
    ----------
    series : array, shape (n, T, d)
        Member series ``x_i``.
    grad_norms : array, shape (n, T), optional
        ``g_i(p)`` per member and round; ``None`` means all equal.
    batch_sizes : array, shape (n,), optional
        ``B_i`` per member; ``None`` means all equal to ``B_max``.
    init_centroid : array, shape (T', d)
        Centre ``mu^(k)`` to refine.
    batch_size_max : float, optional
        ``B_max``; defaults to the largest of ``batch_sizes``.
    n_iter : int, default 1
        Number of align-then-average updates.
    sakoe_chiba_radius : int, optional
        Sakoe-Chiba band for the alignments.

    Returns
    -------
    array, shape (T', d)
        ``mu^(k + n_iter)``.
    """
    values = check_series(series, "series")
    centre = check_series(np.asarray(init_centroid)[None], "init_centroid")
    if centre.shape[2] != values.shape[2]:
        raise ValueError(
            "series and init_centroid must have the same number of dimensions d, "
            f"got {values.shape[2]} and {centre.shape[2]}"
        )
    if int(n_iter) != n_iter or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    gradients = check_gradient_norms(grad_norms, values.shape[:2])
    if batch_sizes is None:
        batch_sizes = np.ones(values.shape[0])
    if batch_size_max is None:
        batch_size_max = float(np.max(batch_sizes))
    ratios = check_batch_sizes(batch_sizes, values.shape[0], batch_size_max)
    labels = np.zeros(values.shape[0], dtype=np.int64)
    radius = _radius_code(sakoe_chiba_radius)
    for _ in range(int(n_iter)):
        centre, _ = _weighted_dba_step(
            values, gradients, ratios, labels, centre, radius, EPSILON
        )
    return centre[0]
