"""Conversions between the package's objects and Flower's message records.

Weights travel as an ``ArrayRecord`` (numpy arrays, exact round trip); a
:class:`~fmltc_core.federated.methods.ClientUpdate`'s scalars as a
``MetricRecord`` (``num-examples``, ``batch_size``, ``grad_norm_mean``,
``grad_norm_var``, ``threshold``, ...); confusion matrices as flat integer
lists in a ``MetricRecord``.
"""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, MetricRecord

from fmltc_core.federated.methods import Arrays, ClientUpdate

# Record keys shared by the ClientApp and the strategy.
ARRAYS_KEY = "arrays"
CONFIG_KEY = "config"
METRICS_KEY = "metrics"
INFO_KEY = "info"
DEPLOYED_KEY = "deployed"
GLOBAL_KEY = "global"
INITIAL_KEY = "initial"
LOCAL_STATE_KEY = "fmltc-local"
LOCAL_STATE_INFO_KEY = "fmltc-local-info"


def arrays_to_record(arrays: Arrays) -> ArrayRecord:
    """Named numpy arrays as an ``ArrayRecord`` (order of ``arrays`` kept)."""
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


def record_to_arrays(record: ArrayRecord) -> Arrays:
    """Inverse of :func:`arrays_to_record`."""
    return {k: v.numpy() for k, v in record.items()}


def update_to_records(update: ClientUpdate) -> tuple[ArrayRecord, MetricRecord]:
    """A client's upload: its weights and its metrics (gradient series included)."""
    metrics = update.metrics()
    metrics["grad_norm_series"] = [float(v) for v in update.grad_norm_series]
    return arrays_to_record(update.arrays), MetricRecord(metrics)


def records_to_update(arrays: ArrayRecord, metrics: MetricRecord) -> ClientUpdate:
    """Inverse of :func:`update_to_records`: the :class:`ClientUpdate` uploaded."""
    threshold = metrics.get("threshold")
    return ClientUpdate(
        arrays=record_to_arrays(arrays),
        num_examples=int(metrics["num-examples"]),
        batch_size=int(metrics.get("batch_size", 0)),
        steps=int(metrics.get("steps", 0)),
        seconds=float(metrics.get("seconds", 0.0)),
        loss=float(metrics.get("loss", float("nan"))),
        grad_norm_mean=float(metrics.get("grad_norm_mean", 0.0)),
        grad_norm_var=float(metrics.get("grad_norm_var", 0.0)),
        grad_norm_series=np.asarray(metrics.get("grad_norm_series", []), dtype=float),
        threshold=None if threshold is None else float(threshold),
    )


def confusions_to_record(
    confusions: dict[str, np.ndarray], num_examples: int
) -> MetricRecord:
    """Confusion matrices (role -> R x R) as flat lists, plus the test size."""
    record = MetricRecord({"num-examples": int(num_examples)})
    for role, confusion in confusions.items():
        record[f"confusion-{role}"] = [int(v) for v in np.ravel(confusion)]
    return record


def record_to_confusions(record: MetricRecord) -> dict[str, np.ndarray]:
    """Inverse of :func:`confusions_to_record` (square matrices)."""
    confusions = {}
    for key, values in record.items():
        if not key.startswith("confusion-"):
            continue
        flat = np.asarray(values, dtype=np.int64)
        size = int(round(np.sqrt(flat.size)))
        if size * size != flat.size:
            raise ValueError(f"{key} must hold a square matrix, got {flat.size} values")
        confusions[key.removeprefix("confusion-")] = flat.reshape(size, size)
    return confusions
