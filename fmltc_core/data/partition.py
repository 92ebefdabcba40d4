"""Dirichlet label-skew partitions of samples into federated clients.

Section 4.2 of the FMLTC-IDS paper controls client heterogeneity with a
Dirichlet parameter alpha in {0.5, 1.0, 10}: small alpha gives highly skewed
label distributions, large alpha approaches IID. This module implements the
usual per-class reading: for every class ``c`` a vector of client shares
``p_c ~ Dirichlet(alpha * 1_K)`` over the ``K`` clients is drawn, and the
samples of class ``c`` are dealt to the clients in those shares.

A client is never left empty (or below ``min_size`` samples): the shares are
redrawn up to ``max_retries`` times, and then :class:`PartitionError` is
raised. For extremely small alpha, a drawn share vector can underflow to all
zeros; it is then replaced by the alpha -> 0 limit (all of the class to one
client chosen uniformly at random).
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


class PartitionError(ValueError):
    """No client partition meets the minimum client size."""


def dirichlet_class_proportions(
    n_classes: int, n_clients: int, alpha: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw per-class client shares ``p_c ~ Dirichlet(alpha * 1_K)``.

    Parameters
    ----------
    n_classes : int
        Number of classes (rows).
    n_clients : int
        Number of clients ``K`` (columns).
    alpha : float
        Dirichlet concentration alpha > 0 (the paper's alpha).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray of float64, shape (n_classes, n_clients)
        Each row sums to 1.
    """
    _validate(alpha=alpha, n_clients=n_clients)
    if n_classes < 0:
        raise ValueError(f"n_classes must be >= 0, got {n_classes}")
    with np.errstate(invalid="ignore", divide="ignore"):
        proportions = rng.dirichlet(np.full(n_clients, float(alpha)), size=n_classes)
    for row in range(n_classes):
        total = proportions[row].sum()
        if not np.isfinite(total) or total <= 0:
            proportions[row] = 0.0
            proportions[row, rng.integers(n_clients)] = 1.0
        else:
            proportions[row] /= total
    return proportions


def split_by_proportions(
    labels, proportions: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Deal the samples of each class to the clients in the given shares.

    The shuffled samples of class ``c`` are cut at
    ``floor(n_c * cumsum(p_c) + u)`` with one uniform offset ``u`` per class
    (systematic sampling): every client gets ``n_c * p_ck`` samples in
    expectation and within one of it, so applying the same shares to many
    small subsets does not accumulate a rounding bias.

    Parameters
    ----------
    labels : array-like of int, shape (n_samples,)
        Class index of each sample, in ``[0, n_classes)``.
    proportions : numpy.ndarray, shape (n_classes, n_clients)
        Client shares of each class (rows sum to 1).
    rng : numpy.random.Generator
        Shuffles the samples of each class before dealing.

    Returns
    -------
    list of numpy.ndarray of int64
        For each client, the sorted sample positions it receives. Every
        sample goes to exactly one client.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_classes, n_clients = proportions.shape
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must be class indices in [0, {n_classes}), "
            f"got values in [{labels.min()}, {labels.max()}]"
        )
    parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
    for label in range(n_classes):
        members = np.flatnonzero(labels == label)
        if members.size == 0:
            continue
        members = rng.permutation(members)
        offset = rng.random()
        cumulative = np.cumsum(proportions[label]) * members.size
        bounds = np.floor(cumulative + offset).astype(int)
        bounds = np.clip(bounds, 0, members.size)
        bounds[-1] = members.size
        for client, piece in enumerate(np.split(members, bounds[:-1])):
            parts[client].append(piece)
    return [
        np.sort(np.concatenate(pieces)).astype(np.int64)
        if pieces
        else np.zeros(0, dtype=np.int64)
        for pieces in parts
    ]


def dirichlet_partition(
    labels,
    *,
    n_clients: int,
    alpha: float,
    seed: int,
    min_size: int = 1,
    max_retries: int = 100,
) -> list[np.ndarray]:
    """Partition samples into clients with Dirichlet(alpha) label skew.

    Parameters
    ----------
    labels : array-like, shape (n_samples,)
        Label of each sample (any hashable values).
    n_clients : int
        Number of clients K >= 1.
    alpha : float
        Dirichlet concentration alpha > 0; small is skewed, large is near IID.
    seed : int
        Seed of the draws.
    min_size : int, default 1
        Smallest allowed client size (1: never an empty client).
    max_retries : int, default 100
        Number of draws before giving up.

    Returns
    -------
    list of numpy.ndarray of int64
        ``n_clients`` sorted arrays of sample positions, disjoint and
        covering every sample.

    Raises
    ------
    PartitionError
        No draw met ``min_size`` (or ``n_clients * min_size`` exceeds the
        number of samples).
    """
    _validate(alpha=alpha, n_clients=n_clients)
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")
    if max_retries < 1:
        raise ValueError(f"max_retries must be >= 1, got {max_retries}")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    n_samples = labels.size
    if n_clients * min_size > n_samples:
        raise PartitionError(
            f"cannot give n_clients={n_clients} clients at least min_size={min_size} "
            f"samples each from {n_samples} samples (alpha={alpha}); "
            f"smallest possible client size is {n_samples // n_clients}"
        )
    _, class_index = np.unique(labels, return_inverse=True)
    n_classes = int(class_index.max()) + 1 if n_samples else 0
    rng = np.random.default_rng(seed)

    best_smallest = -1
    for attempt in range(1, max_retries + 1):
        proportions = dirichlet_class_proportions(n_classes, n_clients, alpha, rng)
        parts = split_by_proportions(class_index, proportions, rng)
        smallest = min(part.size for part in parts)
        if smallest >= min_size:
            if attempt > 1:
                logger.info(
                    "Dirichlet partition met min_size=%d after %d draws",
                    min_size,
                    attempt,
                )
            return parts
        best_smallest = max(best_smallest, smallest)
    raise PartitionError(
        f"no Dirichlet partition with alpha={alpha} into n_clients={n_clients} "
        f"clients reached min_size={min_size} in {max_retries} draws; the "
        f"smallest client had at most {best_smallest} samples. Increase alpha, "
        "lower n_clients or min_size, or raise max_retries"
    )


def _validate(*, alpha: float, n_clients: int) -> None:
    if isinstance(n_clients, bool) or not isinstance(n_clients, int | np.integer):
        raise ValueError(f"n_clients must be an integer >= 1, got {n_clients!r}")
    if n_clients < 1:
        raise ValueError(f"n_clients must be an integer >= 1, got {n_clients}")
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
