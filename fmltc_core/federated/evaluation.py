"""Client-side scoring and server-side pooling, shared by every engine.

A client scores its whole test set with each model it is asked about and
reports only confusion matrices; the server adds them up. The in-process loop
and the Flower App both go through these two functions, so their metrics are
computed identically.
"""

from __future__ import annotations

import numpy as np

from fmltc_core.federated.methods import Arrays, Method, load_arrays
from fmltc_core.federated.metrics import confusion_matrix, metrics_from_confusion

# The three models every client scores after a round (see engine docstring).
MODEL_ROLES = ("deployed", "local", "global")


def evaluate_client(
    method: Method,
    model,
    X: np.ndarray,
    y: np.ndarray,
    candidates: dict[str, tuple[Arrays, float | None]],
    *,
    n_classes: int,
) -> dict[str, np.ndarray]:
    """Confusion matrix (R x R) of each candidate model on one client's test set.

    Parameters
    ----------
    method : Method
        Supplies ``predict`` (argmax, or Fed-ANIDS's threshold).
    model : torch.nn.Module
        A model of the method's architecture; its weights are overwritten.
    X, y : arrays
        The client's test rows.
    candidates : dict role -> (arrays, threshold)
        The models to score, e.g. ``{"deployed": ..., "local": ..., "global": ...}``.
    n_classes : int
    """
    confusions = {}
    for role, (arrays, threshold) in candidates.items():
        if len(y) == 0:
            confusions[role] = np.zeros((n_classes, n_classes), dtype=np.int64)
            continue
        load_arrays(model, arrays)
        predictions = method.predict(model, X, threshold)
        confusions[role] = confusion_matrix(y, predictions, n_classes=n_classes)
    return confusions


def pool_round(
    client_confusions: dict[int, dict[str, np.ndarray]],
) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """Pooled deployed-model metrics and per-client accuracies of one round.

    Returns
    -------
    pooled : dict
        Accuracy, precision, recall and F1 of the summed deployed confusion
        matrices, plus ``client_accuracy_mean``, ``local_accuracy``,
        ``global_accuracy`` (means over clients with test rows) and
        ``personalisation_gain`` (mean of local minus global accuracy).
    per_client : dict client -> dict role -> accuracy
    """
    per_client: dict[int, dict[str, float]] = {}
    total = None
    for client, confusions in sorted(client_confusions.items()):
        per_client[client] = {}
        for role, confusion in confusions.items():
            count = confusion.sum()
            per_client[client][role] = (
                float(np.trace(confusion) / count) if count else float("nan")
            )
        deployed = confusions["deployed"]
        total = deployed.copy() if total is None else total + deployed
    pooled = metrics_from_confusion(total)

    def mean_of(role: str) -> float:
        values = [acc[role] for acc in per_client.values() if role in acc]
        values = [v for v in values if not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")

    pooled["client_accuracy_mean"] = mean_of("deployed")
    pooled["local_accuracy"] = mean_of("local")
    pooled["global_accuracy"] = mean_of("global")
    gains = [
        acc["local"] - acc["global"]
        for acc in per_client.values()
        if "local" in acc
        and "global" in acc
        and not np.isnan(acc["local"] - acc["global"])
    ]
    pooled["personalisation_gain"] = float(np.mean(gains)) if gains else float("nan")
    return pooled, per_client
