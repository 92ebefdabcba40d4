"""Server-side aggregation: FedAvg and FedAvg within clusters.

FedAvg (McMahan et al., 2017) replaces the global model by the mean of the
client models weighted by their sample counts. FMLTC-IDS applies it inside each
cluster found by the time-series clustering (end of section 3.4), which is
:func:`clustered_fedavg`: the same weighted mean, once per cluster.

Model states are dictionaries from parameter name to a NumPy array or a torch
tensor (a ``state_dict``). The mean is computed in float64 as

    x_1 + sum_i w_i (x_i - x_1) / sum_i w_i,

which equals the usual ``sum_i w_i x_i / sum_i w_i`` and returns identical
models bit for bit. Each entry keeps its dtype (and, for tensors, its device):
floating entries are cast back after the float64 mean; integer and boolean
buffers (e.g. BatchNorm's ``num_batches_tracked``) get the weighted mean
rounded to the nearest integer (half to even), a weighted majority for booleans.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)

State = Mapping[str, "np.ndarray | torch.Tensor"]


def _to_float64(value: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _restore(mean: np.ndarray, like: np.ndarray | torch.Tensor):
    """Cast a float64 mean back to the dtype (and device) of ``like``."""
    mean = np.asarray(mean)
    if isinstance(like, torch.Tensor):
        if like.dtype.is_floating_point or like.dtype.is_complex:
            result = torch.as_tensor(mean)
        elif like.dtype == torch.bool:
            result = torch.as_tensor(mean >= 0.5)
        else:
            result = torch.as_tensor(np.rint(mean))
        return result.to(dtype=like.dtype, device=like.device)
    like = np.asarray(like)
    if np.issubdtype(like.dtype, np.floating):
        return mean.astype(like.dtype)
    if like.dtype == np.bool_:
        return mean >= 0.5
    return np.rint(mean).astype(like.dtype)


def _check_weights(weights: Sequence[float], n_states: int) -> np.ndarray:
    values = np.asarray(weights, dtype=np.float64)
    if values.shape != (n_states,):
        raise ValueError(
            f"weights must have one entry per state ({n_states}), got shape "
            f"{values.shape}"
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise ValueError(
            f"weights must be finite, non-negative and not all zero, got {values!r}"
        )
    return values


def fedavg(states: Sequence[State], weights: Sequence[float]) -> dict:
    """Sample-count-weighted mean of model states (FedAvg).

    Parameters
    ----------
    states : sequence of mappings str -> array or tensor, length n
        Client model states with the same keys and shapes.
    weights : sequence of float, length n
        Weight of each client, usually its number of training samples
        (``n_k`` in FedAvg); non-negative, not all zero.

    Returns
    -------
    dict str -> array or tensor
        The weighted mean per key, with the dtype (and device) of the first
        state's entry.
    """
    if len(states) == 0:
        raise ValueError("states must hold at least one model state, got none")
    values = _check_weights(weights, len(states))
    fractions = values / values.sum()
    reference = states[0]
    keys = list(reference)
    for index, state in enumerate(states[1:], start=1):
        if set(state) != set(keys):
            raise ValueError(
                f"states must share their keys; state {index} differs from state 0 "
                f"in {sorted(set(state) ^ set(keys))}"
            )

    result = {}
    for key in keys:
        first = _to_float64(reference[key])
        total = np.zeros_like(first)
        for index, state in enumerate(states):
            entry = _to_float64(state[key])
            if entry.shape != first.shape:
                raise ValueError(
                    f"states must share shapes; {key!r} has shape {first.shape} in "
                    f"state 0 and {entry.shape} in state {index}"
                )
            if fractions[index] > 0:
                total += fractions[index] * (entry - first)
        result[key] = _restore(first + total, reference[key])
    return result


def clustered_fedavg(
    states: Sequence[State], weights: Sequence[float], labels: Sequence[int]
) -> dict[int, dict]:
    """FedAvg inside each cluster (the aggregation of FMLTC-IDS section 3.4).

    Parameters
    ----------
    states : sequence of mappings, length n
        Client model states.
    weights : sequence of float, length n
        Sample counts of the clients.
    labels : sequence of int, length n
        Cluster of each client (e.g. ``GradientWeightedDBAKMeans.labels_``).

    Returns
    -------
    dict int -> dict
        For every cluster label present, the FedAvg of its members' states.
    """
    cluster_of = np.asarray(labels)
    if cluster_of.shape != (len(states),):
        raise ValueError(
            f"labels must have one entry per state ({len(states)}), got shape "
            f"{cluster_of.shape}"
        )
    values = _check_weights(weights, len(states))
    aggregated = {}
    for cluster in np.unique(cluster_of):
        members = np.flatnonzero(cluster_of == cluster)
        aggregated[int(cluster)] = fedavg(
            [states[index] for index in members], values[members]
        )
    return aggregated
