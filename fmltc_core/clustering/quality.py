"""Clustering quality measures of FMLTC-IDS Fig. 5.

* :func:`dtw_silhouette_score`: the silhouette coefficient of a client
  clustering under the gradient-weighted DTW of eq. 9. Eq. 9 is not symmetric
  (the weights come from the first series), while the silhouette needs one
  distance per pair, so the matrix is symmetrised,
  ``D(i, j) = (DTW_grad(Q_i, Q_j) + DTW_grad(Q_j, Q_i)) / 2``. Eq. 9 sums
  squared differences; the silhouette is computed on its square root, the
  scale of a distance (as tslearn's silhouette does with DTW).
* :func:`intra_cluster_gradient_similarity`: mean pairwise cosine similarity of
  the clients' model updates inside each cluster, averaged over clusters
  weighted by cluster size. Singleton clusters have no pairs and are left out
  of the average; a zero update vector has similarity 0 with every other.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import cosine_similarity

from fmltc_core.clustering.dtw import dtw_grad_matrix

logger = logging.getLogger(__name__)


def _check_labels(labels: np.ndarray, n_items: int) -> np.ndarray:
    values = np.asarray(labels)
    if values.shape != (n_items,):
        raise ValueError(f"labels must have shape ({n_items},), got {values.shape}")
    return values


def dtw_silhouette_score(
    series: np.ndarray,
    labels: np.ndarray,
    grad_norms: np.ndarray | None = None,
    *,
    sakoe_chiba_radius: int | None = None,
) -> float:
    """Silhouette score of a clustering under symmetrised eq. 9 distances.

    Parameters
    ----------
    series : array, shape (n, T, d)
        Client series ``Q_i``.
    labels : array of int, shape (n,)
        Cluster of each client; 2 <= number of clusters <= n - 1.
    grad_norms : array, shape (n, T), optional
        ``g_i(p)``; ``None`` means all ones (plain DTW).
    sakoe_chiba_radius : int, optional
        Sakoe-Chiba band.

    Returns
    -------
    float
        Mean silhouette coefficient in [-1, 1].
    """
    values = np.asarray(series)
    labels = _check_labels(labels, values.shape[0] if values.ndim else 0)
    n_labels = np.unique(labels).size
    if not 2 <= n_labels <= values.shape[0] - 1:
        raise ValueError(
            f"labels must hold between 2 and n - 1 = {values.shape[0] - 1} "
            f"clusters, got {n_labels}"
        )
    distances = dtw_grad_matrix(
        values, values, grad_norms, sakoe_chiba_radius=sakoe_chiba_radius
    )
    symmetric = np.sqrt(np.maximum((distances + distances.T) / 2.0, 0.0))
    np.fill_diagonal(symmetric, 0.0)
    return float(silhouette_score(symmetric, labels, metric="precomputed"))


def intra_cluster_gradient_similarity(
    update_vectors: np.ndarray, labels: np.ndarray
) -> float:
    """Size-weighted mean within-cluster cosine similarity of client updates.

    Parameters
    ----------
    update_vectors : array, shape (n, P)
        Each client's model update (e.g. flattened parameter change of a round).
    labels : array of int, shape (n,)
        Cluster of each client.

    Returns
    -------
    float
        ``sum_k |C_k| s_k / sum_k |C_k|`` over clusters with at least two
        members, where ``s_k`` is the mean cosine similarity over the distinct
        pairs of cluster ``k``.
    """
    vectors = np.asarray(update_vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(
            f"update_vectors must have shape (n, P) with n >= 1, got {vectors.shape}"
        )
    labels = _check_labels(labels, vectors.shape[0])
    total, weight = 0.0, 0
    singletons = 0
    for cluster in np.unique(labels):
        members = vectors[labels == cluster]
        size = members.shape[0]
        if size < 2:
            singletons += 1
            continue
        similarity = cosine_similarity(members)
        pairs = similarity[np.triu_indices(size, k=1)]
        total += size * float(pairs.mean())
        weight += size
    if weight == 0:
        raise ValueError(
            "labels must give at least one cluster with two or more members, "
            "got only singletons"
        )
    if singletons:
        logger.info("left %d singleton cluster(s) out of the similarity", singletons)
    return total / weight
