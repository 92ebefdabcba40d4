"""Gradient-weighted dynamic time warping (DTW_grad, eq. 9 of FMLTC-IDS).

A client's multivariate series ``Q_i`` (one row per federated round) is aligned
with a cluster centre ``mu`` by the warping path ``W`` that minimises

    DTW_grad(Q_i, mu) = sum_{(p, q) in W} ||Q_i(p) - mu(q)||^2 * sqrt(g_i(p)),

where ``g_i(p)`` is the gradient L2 norm the client uploaded for round ``p``.
Rounds in which the client's update was large weigh more in the alignment.
The path obeys the usual DTW rules (starts at (0, 0), ends at the last pair,
steps (1, 0), (0, 1) or (1, 1)); an optional Sakoe-Chiba band restricts it to
the same cells as :func:`tslearn.metrics.sakoe_chiba_mask`.

With ``g = 1`` everywhere the value is the plain squared DTW of tslearn
(``tslearn.metrics.dtw(a, b) ** 2``; tslearn returns the square root) and the
path is tslearn's ``dtw_path``: ties in the back-tracking are broken in the
same order (diagonal, then the step back in the first series, then in the
second).

The dynamic programme runs in numba (``cache=True``, so the compilation is
paid once per machine, not per process).
"""

from __future__ import annotations

import logging

import numba
import numpy as np

logger = logging.getLogger(__name__)

NO_BAND = -1


@numba.njit(cache=True, nogil=True)
def _allowed(i, j, length_first, length_second, radius):
    """Whether cell (i, j) lies inside the Sakoe-Chiba band (tslearn's mask)."""
    if radius < 0:
        return True
    if length_first > length_second:
        width = length_first - length_second + radius
        return max(0, j - radius) <= i <= min(length_first, j + width)
    width = length_second - length_first + radius
    return max(0, i - radius) <= j <= min(length_second, i + width)


@numba.njit(cache=True, nogil=True)
def _accumulated_cost(first, second, weight_root, radius):
    """Accumulated eq. 9 cost matrix, shape (len(first), len(second))."""
    length_first = first.shape[0]
    length_second = second.shape[0]
    dims = first.shape[1]
    accumulated = np.full((length_first + 1, length_second + 1), np.inf)
    accumulated[0, 0] = 0.0
    for i in range(length_first):
        for j in range(length_second):
            if not _allowed(i, j, length_first, length_second, radius):
                continue
            cost = 0.0
            for dim in range(dims):
                difference = first[i, dim] - second[j, dim]
                cost += difference * difference
            best = min(
                accumulated[i, j + 1], accumulated[i + 1, j], accumulated[i, j]
            )
            accumulated[i + 1, j + 1] = cost * weight_root[i] + best
    return accumulated[1:, 1:]


@numba.njit(cache=True, nogil=True)
def _backtrack(accumulated, path):
    """Write the optimal path into ``path`` (shape (>= T + T' - 1, 2)).

    Returns the number of pairs written, in order from (0, 0) to the end.
    """
    i = accumulated.shape[0] - 1
    j = accumulated.shape[1] - 1
    reversed_path = np.empty((i + j + 1, 2), dtype=np.int64)
    length = 0
    reversed_path[0, 0] = i
    reversed_path[0, 1] = j
    length = 1
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            diagonal = accumulated[i - 1, j - 1]
            up = accumulated[i - 1, j]
            left = accumulated[i, j - 1]
            if diagonal <= up and diagonal <= left:
                i -= 1
                j -= 1
            elif up <= left:
                i -= 1
            else:
                j -= 1
        reversed_path[length, 0] = i
        reversed_path[length, 1] = j
        length += 1
    for step in range(length):
        path[step, 0] = reversed_path[length - 1 - step, 0]
        path[step, 1] = reversed_path[length - 1 - step, 1]
    return length


@numba.njit(cache=True, nogil=True)
def _distance_matrix(series, centroids, weight_root, radius):
    """DTW_grad of every series against every centroid, shape (n, k)."""
    n_series = series.shape[0]
    n_centroids = centroids.shape[0]
    distances = np.empty((n_series, n_centroids))
    for i in range(n_series):
        for c in range(n_centroids):
            accumulated = _accumulated_cost(
                series[i], centroids[c], weight_root[i], radius
            )
            distances[i, c] = accumulated[-1, -1]
    return distances


def _radius_code(sakoe_chiba_radius: int | None) -> int:
    if sakoe_chiba_radius is None:
        return NO_BAND
    if int(sakoe_chiba_radius) != sakoe_chiba_radius or sakoe_chiba_radius < 0:
        raise ValueError(
            "sakoe_chiba_radius must be None or a non-negative integer, "
            f"got {sakoe_chiba_radius!r}"
        )
    return int(sakoe_chiba_radius)


def check_gradient_norms(
    grad_norms: np.ndarray | None, shape: tuple[int, ...], name: str = "grad_norms"
) -> np.ndarray:
    """Validate gradient norms (finite, >= 0) and return them as float64.

    ``None`` stands for uniform weights (all ones), which reduces eq. 9 to plain
    squared DTW.
    """
    if grad_norms is None:
        return np.ones(shape)
    values = np.asarray(grad_norms, dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {values!r}")
    return values


def check_series(series: np.ndarray, name: str = "series") -> np.ndarray:
    """Validate a batch of multivariate series, shape (n, T, d), as float64."""
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 3 or min(values.shape) == 0:
        raise ValueError(
            f"{name} must be a non-empty array of shape (n, T, d), "
            f"got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got non-finite values")
    return np.ascontiguousarray(values)


def dtw_grad(
    series: np.ndarray,
    centroid: np.ndarray,
    grad_norms: np.ndarray | None = None,
    *,
    sakoe_chiba_radius: int | None = None,
    return_path: bool = False,
) -> float | tuple[float, list[tuple[int, int]]]:
    """Gradient-weighted DTW between one client series and one centre (eq. 9).

    Parameters
    ----------
    series : array, shape (T, d)
        Client series ``Q_i``; row ``p`` is the client's enhanced feature vector
        at round ``p`` (eq. 10).
    centroid : array, shape (T', d)
        Cluster centre ``mu_j``.
    grad_norms : array, shape (T,), optional
        ``g_i(p)``, the client's gradient L2 norm per round (>= 0). ``None``
        means all ones (plain squared DTW).
    sakoe_chiba_radius : int, optional
        Radius of the Sakoe-Chiba band (same cells as tslearn); ``None`` for
        no band.
    return_path : bool, default False
        Also return the optimal warping path ``W``.

    Returns
    -------
    float
        ``DTW_grad(Q_i, mu_j)``, the minimal total weighted cost.
    list of (int, int), only if ``return_path``
        The path as (index in ``series``, index in ``centroid``) pairs.
    """
    first = check_series(np.asarray(series)[None], "series")[0]
    second = check_series(np.asarray(centroid)[None], "centroid")[0]
    if first.shape[1] != second.shape[1]:
        raise ValueError(
            "series and centroid must have the same number of dimensions d, "
            f"got {first.shape[1]} and {second.shape[1]}"
        )
    weights = check_gradient_norms(grad_norms, (first.shape[0],))
    radius = _radius_code(sakoe_chiba_radius)
    accumulated = _accumulated_cost(first, second, np.sqrt(weights), radius)
    value = float(accumulated[-1, -1])
    if not return_path:
        return value
    path = np.empty((first.shape[0] + second.shape[0] - 1, 2), dtype=np.int64)
    length = _backtrack(accumulated, path)
    return value, [(int(p), int(q)) for p, q in path[:length]]


def dtw_grad_matrix(
    series: np.ndarray,
    centroids: np.ndarray,
    grad_norms: np.ndarray | None = None,
    *,
    sakoe_chiba_radius: int | None = None,
) -> np.ndarray:
    """Eq. 9 for every client against every centre.

    Parameters
    ----------
    series : array, shape (n, T, d)
        Client series ``Q_1..Q_n``.
    centroids : array, shape (k, T', d)
        Cluster centres ``mu_1..mu_k``.
    grad_norms : array, shape (n, T), optional
        ``g_i(p)`` per client and round (>= 0); ``None`` means all ones.
    sakoe_chiba_radius : int, optional
        Sakoe-Chiba band radius; ``None`` for no band.

    Returns
    -------
    array, shape (n, k)
        ``DTW_grad(Q_i, mu_j)``. Not symmetric in general: the weights come from
        the first argument's gradients.
    """
    values = check_series(series, "series")
    centres = check_series(centroids, "centroids")
    if values.shape[2] != centres.shape[2]:
        raise ValueError(
            "series and centroids must have the same number of dimensions d, "
            f"got {values.shape[2]} and {centres.shape[2]}"
        )
    weights = check_gradient_norms(grad_norms, values.shape[:2])
    radius = _radius_code(sakoe_chiba_radius)
    return _distance_matrix(values, centres, np.sqrt(weights), radius)
