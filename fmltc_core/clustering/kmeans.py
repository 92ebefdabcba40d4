"""K-Means of client series with weighted DBA centres (FMLTC-IDS section 3.4).

The algorithm of the paper's steps 1-5:

1. initial centres: k-means++ on the client series, a given array, or the
   meta-cluster centres of MAML meta-training projected into the client
   feature space (:func:`initial_centroids_from_meta`);
2. assignment: every client goes to the centre with the smallest
   gradient-weighted DTW (eq. 9);
3. (features are the eq. 10 enhanced series built by
   :mod:`fmltc_core.clustering.features`);
4. update: each centre is refined by ``n_dba_iter`` weighted DBA steps over its
   members (eqs. 11-12);
5. stop when the centre change of eq. 13 falls below ``tol`` or after
   ``max_iter`` iterations.

Eq. 13 is read as ``Delta mu = mean over t and over the d feature dimensions of
|mu^(k+1)(t) - mu^(k)(t)|``, per centre; the iteration stops when the largest
``Delta mu`` over the centres is below ``tol`` (every centre has settled).
After the loop, clients are assigned once more to the final centres, so that
``labels_`` and ``inertia_`` (eq. 14's SSE) describe ``cluster_centers_``.

k-means++ draws each new centre with probability proportional to the eq. 9
distance to the nearest chosen centre: eq. 9 already sums squared differences,
so it plays the part of the squared distance of Euclidean k-means++.

The number of clusters is chosen by the elbow of the eq. 14 SSE curve
(:func:`select_n_clusters`): both axes are scaled to [0, 1] and the chosen K is
the point farthest from the straight line (chord) joining the first and last
points. A curve with no drop, or with no point off the chord, has no elbow and
the smallest K is chosen. Like every elbow rule it always returns some interior
K when the curve bends, even for data without cluster structure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from fmltc_core.clustering.dba import EPSILON, _weighted_dba_step, check_batch_sizes
from fmltc_core.clustering.dtw import (
    _distance_matrix,
    _radius_code,
    check_gradient_norms,
    check_series,
)
from fmltc_core.clustering.features import ClientFeatureReducer

logger = logging.getLogger(__name__)


def _kmeans_plus_plus(
    series: np.ndarray,
    weight_root: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    radius: int,
    chosen: np.ndarray | None = None,
) -> np.ndarray:
    """k-means++ centres (n_clusters, T, d), continuing from ``chosen`` if given."""
    centres = [] if chosen is None else list(chosen)
    if not centres:
        centres.append(series[rng.integers(series.shape[0])].copy())
    nearest = _distance_matrix(series, np.stack(centres), weight_root, radius).min(1)
    while len(centres) < n_clusters:
        total = nearest.sum()
        if total > 0:
            index = rng.choice(series.shape[0], p=nearest / total)
        else:
            index = rng.integers(series.shape[0])
        centres.append(series[index].copy())
        distances = _distance_matrix(series, series[index][None], weight_root, radius)
        nearest = np.minimum(nearest, distances[:, 0])
    return np.stack(centres[:n_clusters])


def centroid_change(previous: np.ndarray, updated: np.ndarray) -> np.ndarray:
    """Eq. 13 centre change per cluster.

    Parameters
    ----------
    previous, updated : arrays, shape (k, T', d)
        ``mu^(k)`` and ``mu^(k+1)``.

    Returns
    -------
    array, shape (k,)
        ``mean over t and d of |mu^(k+1)(t) - mu^(k)(t)|``.
    """
    return np.abs(np.asarray(updated) - np.asarray(previous)).mean(axis=(1, 2))


class GradientWeightedDBAKMeans:
    """K-Means with gradient-weighted DTW and dynamically weighted DBA.

    Parameters
    ----------
    n_clusters : int
        Number of clusters ``K``.
    max_iter : int, default 50
        Largest number of assignment + update iterations (the paper's 50).
    tol : float, default 1e-4
        Stop when eq. 13's ``Delta mu`` of every centre is below it (the
        paper's 1e-4).
    n_dba_iter : int, default 1
        Weighted DBA steps per iteration; 1 is the paper's "repeat steps 2-4".
    init : {"k-means++"} or array of shape (n_clusters, T', d), default "k-means++"
        Initial centres.
    n_init : int, default 1
        Number of k-means++ starts; the run with the smallest inertia is kept.
        Ignored for an array ``init``.
    sakoe_chiba_radius : int, optional
        Sakoe-Chiba band of every DTW alignment; ``None`` for none.
    seed : int, optional
        Seed of the k-means++ draws and of nothing else.

    Attributes
    ----------
    labels_ : array of int, shape (n,)
        Cluster of each client.
    cluster_centers_ : array, shape (n_clusters, T', d)
        Centres ``mu_k``.
    inertia_ : float
        Eq. 14 ``SSE(K) = sum_k sum_{i in C_k} DTW_grad(Q_i, mu_k)``.
    n_iter_ : int
        Iterations run.
    converged_ : bool
        Whether eq. 13's criterion was met before ``max_iter``.
    n_reseeded_ : int
        Empty clusters re-seeded during the fit.
    """

    def __init__(
        self,
        n_clusters: int,
        *,
        max_iter: int = 50,
        tol: float = 1e-4,
        n_dba_iter: int = 1,
        init: str | np.ndarray = "k-means++",
        n_init: int = 1,
        sakoe_chiba_radius: int | None = None,
        seed: int | None = None,
    ) -> None:
        for name, value in (
            ("n_clusters", n_clusters),
            ("max_iter", max_iter),
            ("n_dba_iter", n_dba_iter),
            ("n_init", n_init),
        ):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {tol!r}")
        if isinstance(init, str) and init != "k-means++":
            raise ValueError(
                f"init must be 'k-means++' or an array of centres, got {init!r}"
            )
        self.n_clusters = int(n_clusters)
        self.max_iter = int(max_iter)
        self.tol = tol
        self.n_dba_iter = int(n_dba_iter)
        self.init = init
        self.n_init = int(n_init)
        self.sakoe_chiba_radius = sakoe_chiba_radius
        self.seed = seed

    def fit(
        self,
        series: np.ndarray,
        grad_norms: np.ndarray | None = None,
        batch_sizes: np.ndarray | None = None,
        *,
        batch_size_max: float = 128,
    ) -> GradientWeightedDBAKMeans:
        """Cluster the client series.

        Parameters
        ----------
        series : array, shape (n, T, d)
            Enhanced client series ``Q_i`` (eq. 10).
        grad_norms : array, shape (n, T), optional
            ``g_i(p)`` (eqs. 9, 11); ``None`` means all ones.
        batch_sizes : array, shape (n,), optional
            ``B_i`` (eq. 11); ``None`` means all equal to ``batch_size_max``.
        batch_size_max : float, default 128
            ``B_max`` (eq. 11).

        Returns
        -------
        GradientWeightedDBAKMeans
            self, fitted.
        """
        values = check_series(series, "series")
        n_series = values.shape[0]
        if self.n_clusters > n_series:
            raise ValueError(
                f"n_clusters must not exceed the number of series ({n_series}), "
                f"got {self.n_clusters}"
            )
        gradients = check_gradient_norms(grad_norms, values.shape[:2])
        if batch_sizes is None:
            batch_sizes = np.full(n_series, float(batch_size_max))
        ratios = check_batch_sizes(batch_sizes, n_series, batch_size_max)
        radius = _radius_code(self.sakoe_chiba_radius)
        weight_root = np.sqrt(gradients)
        rng = np.random.default_rng(self.seed)

        if isinstance(self.init, str):
            starts = [
                _kmeans_plus_plus(values, weight_root, self.n_clusters, rng, radius)
                for _ in range(self.n_init)
            ]
        else:
            starts = [self._check_init(values)]

        best = None
        for start in starts:
            result = self._fit_one(
                values, gradients, weight_root, ratios, start, radius
            )
            if best is None or result["inertia"] < best["inertia"]:
                best = result
        self.labels_ = best["labels"]
        self.cluster_centers_ = best["centres"]
        self.inertia_ = best["inertia"]
        self.n_iter_ = best["n_iter"]
        self.converged_ = best["converged"]
        self.n_reseeded_ = best["n_reseeded"]
        if self.n_reseeded_:
            logger.warning(
                "re-seeded %d empty cluster(s) from the farthest client over %d "
                "iteration(s) (n_clusters=%d, n_series=%d)",
                self.n_reseeded_,
                self.n_iter_,
                self.n_clusters,
                n_series,
            )
        if not self.converged_:
            logger.warning(
                "weighted DBA K-Means did not converge in max_iter=%d iterations "
                "(tol=%g)",
                self.max_iter,
                self.tol,
            )
        return self

    def _check_init(self, values: np.ndarray) -> np.ndarray:
        centres = check_series(self.init, "init")
        if centres.shape[0] != self.n_clusters or centres.shape[2] != values.shape[2]:
            raise ValueError(
                f"init must have shape ({self.n_clusters}, T', {values.shape[2]}), "
                f"got {centres.shape}"
            )
        return centres.copy()

    def _fit_one(self, values, gradients, weight_root, ratios, centres, radius):
        converged, n_iter, n_reseeded = False, 0, 0
        for iteration in range(self.max_iter):
            # step 2: assign every client to its nearest centre (eq. 9)
            distances = _distance_matrix(values, centres, weight_root, radius)
            labels = distances.argmin(axis=1)
            labels, centres, reseeded = _reseed_empty(
                values, distances, labels, centres
            )
            n_reseeded += reseeded

            # step 4: weighted DBA update of every centre (eqs. 11-12)
            updated = centres
            for _ in range(self.n_dba_iter):
                updated, _ = _weighted_dba_step(
                    values, gradients, ratios, labels, updated, radius, EPSILON
                )

            # step 5: eq. 13 stopping rule
            change = centroid_change(centres, updated).max()
            centres = updated
            n_iter = iteration + 1
            if change < self.tol:
                converged = True
                break

        # final assignment to the final centres; eq. 14 SSE
        distances = _distance_matrix(values, centres, weight_root, radius)
        labels = distances.argmin(axis=1)
        inertia = float(distances[np.arange(values.shape[0]), labels].sum())
        return {
            "labels": labels,
            "centres": centres,
            "inertia": inertia,
            "n_iter": n_iter,
            "converged": converged,
            "n_reseeded": n_reseeded,
        }

    def predict(
        self, series: np.ndarray, grad_norms: np.ndarray | None = None
    ) -> np.ndarray:
        """Nearest fitted centre (eq. 9) of each series (n, T, d) -> (n,)."""
        if not hasattr(self, "cluster_centers_"):
            raise ValueError("GradientWeightedDBAKMeans must be fitted before predict")
        values = check_series(series, "series")
        gradients = check_gradient_norms(grad_norms, values.shape[:2])
        distances = _distance_matrix(
            values,
            self.cluster_centers_,
            np.sqrt(gradients),
            _radius_code(self.sakoe_chiba_radius),
        )
        return distances.argmin(axis=1)


def _reseed_empty(values, distances, labels, centres):
    """Give every empty cluster the client farthest from its own centre."""
    counts = np.bincount(labels, minlength=centres.shape[0])
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return labels, centres, 0
    labels = labels.copy()
    centres = centres.copy()
    own = distances[np.arange(values.shape[0]), labels].copy()
    for cluster in empty:
        # only clients whose cluster keeps another member may move
        movable = counts[labels] > 1
        candidates = np.where(movable, own, -np.inf)
        client = int(np.argmax(candidates))
        counts[labels[client]] -= 1
        counts[cluster] += 1
        labels[client] = cluster
        own[client] = 0.0
        if centres.shape[1] == values.shape[1]:
            centres[cluster] = values[client]
        else:
            # centres of another length: stretch the client series onto T'
            steps = np.linspace(0, values.shape[1] - 1, centres.shape[1])
            centres[cluster] = values[client][np.round(steps).astype(int)]
    return labels, centres, int(empty.size)


def sse_curve(
    series: np.ndarray,
    grad_norms: np.ndarray | None,
    batch_sizes: np.ndarray | None,
    *,
    k_values: Iterable[int] = range(1, 9),
    seed: int | None = None,
    batch_size_max: float = 128,
    **kmeans_options,
) -> dict[int, float]:
    """Eq. 14 SSE of the weighted DBA K-Means for each K in ``k_values``."""
    return {
        int(k): GradientWeightedDBAKMeans(k, seed=seed, **kmeans_options)
        .fit(series, grad_norms, batch_sizes, batch_size_max=batch_size_max)
        .inertia_
        for k in k_values
    }


def elbow(sse_per_k: dict[int, float]) -> int:
    """K at the elbow of an SSE curve (largest distance from the chord).

    Parameters
    ----------
    sse_per_k : dict int -> float
        Eq. 14 SSE for increasing K.

    Returns
    -------
    int
        The K whose point, on the curve scaled to [0, 1] on both axes, is
        farthest from the line through the first and last points; the smallest
        K when the curve is flat or straight.
    """
    ks = np.array(sorted(sse_per_k))
    if ks.size == 0:
        raise ValueError("sse_per_k must hold at least one K, got none")
    sse = np.array([sse_per_k[k] for k in ks], dtype=np.float64)
    if ks.size < 3:
        logger.info(
            "elbow needs 3 or more K values, got %d; choosing K=%d", ks.size, ks[0]
        )
        return int(ks[0])
    spread = sse.max() - sse.min()
    if spread == 0:
        logger.info("flat SSE curve (all %g); choosing K=%d", sse[0], ks[0])
        return int(ks[0])

    # scale both axes to [0, 1]; distance of each point from the chord
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (sse - sse.min()) / spread
    chord = np.array([x[-1] - x[0], y[-1] - y[0]])
    chord /= np.linalg.norm(chord)
    offsets = np.stack([x - x[0], y - y[0]], axis=1)
    distances = np.abs(offsets[:, 0] * chord[1] - offsets[:, 1] * chord[0])
    if distances.max() == 0:
        logger.info("straight SSE curve, no elbow; choosing K=%d", ks[0])
        return int(ks[0])
    return int(ks[int(np.argmax(distances))])


def select_n_clusters(
    series: np.ndarray,
    grad_norms: np.ndarray | None,
    batch_sizes: np.ndarray | None,
    *,
    k_values: Iterable[int] = range(1, 9),
    seed: int | None = None,
    batch_size_max: float = 128,
    **kmeans_options,
) -> tuple[int, dict[int, float]]:
    """Choose K by the elbow of the eq. 14 SSE curve.

    Parameters
    ----------
    series : array, shape (n, T, d)
        Enhanced client series.
    grad_norms : array, shape (n, T), optional
        ``g_i(p)``.
    batch_sizes : array, shape (n,), optional
        ``B_i``.
    k_values : iterable of int, default range(1, 9)
        Candidate K; values above ``n`` are skipped.
    seed : int, optional
        Seed of every K-Means run.
    batch_size_max : float, default 128
        ``B_max``.
    **kmeans_options
        Passed to :class:`GradientWeightedDBAKMeans` (``max_iter``, ``n_init``,
        ...).

    Returns
    -------
    best_k : int
        K at the elbow (see :func:`elbow`).
    sse_per_k : dict int -> float
        Eq. 14 SSE per K.
    """
    n_series = np.shape(series)[0]
    candidates = sorted({int(k) for k in k_values if 1 <= int(k) <= n_series})
    if not candidates:
        raise ValueError(
            f"k_values must hold a K in [1, {n_series}], got {list(k_values)!r}"
        )
    sse_per_k = sse_curve(
        series,
        grad_norms,
        batch_sizes,
        k_values=candidates,
        seed=seed,
        batch_size_max=batch_size_max,
        **kmeans_options,
    )
    best_k = elbow(sse_per_k)
    logger.info("elbow of the SSE curve at K=%d (%s)", best_k, sse_per_k)
    return best_k, sse_per_k


def initial_centroids_from_meta(
    meta_centres: np.ndarray,
    reducer: ClientFeatureReducer,
    length: int,
    n_clusters: int,
    series: np.ndarray,
    rng: np.random.Generator,
    *,
    grad_norms: np.ndarray | None = None,
    sakoe_chiba_radius: int | None = None,
) -> np.ndarray:
    """Initial centres from MAML meta-cluster centres (section 3.4, step 1).

    Each meta-centre, a vector in the last-layer feature space of eq. 6, is
    projected with the window's PCA (eq. 8), repeated over the ``length`` time
    steps (a centre that does not move over the window), and enhanced as in
    eq. 10 with the mean gradient mean and mean gradient variance of all
    clients over the window. The first ``n_clusters`` meta-centres are used;
    if there are fewer, the rest are drawn by k-means++ on the client series,
    continuing from the meta-centres.

    Parameters
    ----------
    meta_centres : array, shape (m, M * R)
        Meta-cluster centres.
    reducer : ClientFeatureReducer
        Fitted PCA of the window (``ClientSeries.reducer``).
    length : int
        ``T``, number of time steps of the centres.
    n_clusters : int
        ``K``.
    series : array, shape (n, T, d' + 2)
        Enhanced client series (eq. 10); the last two columns are the gradient
        mean and variance.
    rng : numpy.random.Generator
        Source of the k-means++ draws.
    grad_norms : array, shape (n, T), optional
        ``g_i(p)`` for the k-means++ distances; ``None`` means all ones.
    sakoe_chiba_radius : int, optional
        Sakoe-Chiba band of the k-means++ distances.

    Returns
    -------
    array, shape (n_clusters, length, d' + 2)
        Initial centres for :class:`GradientWeightedDBAKMeans` (``init=``).
    """
    values = check_series(series, "series")
    if int(length) != length or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if int(n_clusters) != n_clusters or not 1 <= n_clusters <= values.shape[0]:
        raise ValueError(
            f"n_clusters must be an integer in [1, {values.shape[0]}], "
            f"got {n_clusters!r}"
        )
    centres = np.atleast_2d(np.asarray(meta_centres, dtype=np.float64))
    projected = reducer.transform(centres)[:n_clusters]
    if projected.shape[1] + 2 != values.shape[2]:
        raise ValueError(
            f"series must have d' + 2 = {projected.shape[1] + 2} dimensions to "
            f"match the reducer, got {values.shape[2]}"
        )

    # repeat over the time steps; eq. 10 gradient statistics of the window
    statistics = values[:, :, -2:].mean(axis=(0, 1))
    steps = np.repeat(projected[:, None, :], int(length), axis=1)
    enhanced = np.concatenate(
        [steps, np.broadcast_to(statistics, (*steps.shape[:2], 2))], axis=2
    )
    if enhanced.shape[0] == n_clusters:
        return enhanced
    if int(length) != values.shape[1]:
        raise ValueError(
            "length must equal the series length T when k-means++ fills "
            f"missing centres, got length={length} and T={values.shape[1]}"
        )
    logger.info(
        "%d meta-centres for %d clusters; drawing the rest by k-means++",
        enhanced.shape[0],
        n_clusters,
    )
    gradients = check_gradient_norms(grad_norms, values.shape[:2])
    return _kmeans_plus_plus(
        values,
        np.sqrt(gradients),
        int(n_clusters),
        rng,
        _radius_code(sakoe_chiba_radius),
        chosen=enhanced,
    )
