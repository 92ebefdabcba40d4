"""Detection metrics of the federated experiments.

Accuracy, precision, recall and F1 (attack = positive class in the binary
setting, macro averages otherwise), the round at which accuracy converges, and
the personalisation gain (section 4.3.3: local minus global accuracy).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

METRIC_NAMES = ("accuracy", "precision", "recall", "f1")


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int = 2
) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of predicted labels.

    With ``n_classes == 2`` class 1 (attack) is the positive class; otherwise
    precision, recall and F1 are macro averages over the classes present.
    Undefined ratios count as 0. An empty ``y_true`` gives NaN everywhere.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} "
            f"and {y_pred.shape}"
        )
    if y_true.size == 0:
        return dict.fromkeys(METRIC_NAMES, float("nan"))
    average = "binary" if n_classes == 2 else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average=average, pos_label=1, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int
) -> np.ndarray:
    """Counts ``C[i, j]`` of rows of class ``i`` predicted as ``j``, int64 (R x R).

    Confusion matrices add up over clients, so pooled metrics of a federation
    can be computed from what each client reports without sending labels.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} "
            f"and {y_pred.shape}"
        )
    index = y_true * n_classes + y_pred
    return np.bincount(index, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def metrics_from_confusion(confusion: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and F1 from a confusion matrix.

    Same definitions as :func:`classification_metrics`: binary with class 1
    positive, or macro averages over the classes that occur in the true or the
    predicted labels; undefined ratios count as 0; no rows gives NaN.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    if total == 0:
        return dict.fromkeys(METRIC_NAMES, float("nan"))
    true_positive = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, 0.0)
    if confusion.shape[0] == 2:
        chosen = [1]
    else:
        chosen = np.flatnonzero((predicted > 0) | (actual > 0))
    return {
        "accuracy": float(true_positive.sum() / total),
        "precision": float(np.mean(precision[chosen])),
        "recall": float(np.mean(recall[chosen])),
        "f1": float(np.mean(f1[chosen])),
    }


def convergence_round(
    rounds: np.ndarray, accuracy: np.ndarray, *, tolerance: float = 0.01
) -> int:
    """First round from which accuracy stays within ``tolerance`` of its final value.

    The paper reports "converges in N communication rounds" without a rule;
    this is the reading used throughout: the smallest round ``r`` such that
    ``|acc(s) - acc(last)| <= tolerance`` for every round ``s >= r``.
    Round 0 (the initial model) counts, so a model that never changes
    converges at round 0.
    """
    rounds = np.asarray(rounds)
    accuracy = np.asarray(accuracy, dtype=float)
    if rounds.size == 0 or rounds.shape != accuracy.shape:
        raise ValueError("rounds and accuracy must be non-empty and of equal length")
    order = np.argsort(rounds)
    rounds, accuracy = rounds[order], accuracy[order]
    within = np.abs(accuracy - accuracy[-1]) <= tolerance
    # the last index where the series is outside the band, plus one
    outside = np.flatnonzero(~within)
    first = 0 if outside.size == 0 else outside[-1] + 1
    return int(rounds[first])
