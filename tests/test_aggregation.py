"""Tests of FedAvg and clustered FedAvg."""

import numpy as np
import pytest
import torch

from fmltc_core.federated.aggregation import clustered_fedavg, fedavg


def _state(seed):
    generator = torch.Generator().manual_seed(seed)
    return {
        "layer.weight": torch.randn(3, 2, generator=generator),
        "layer.bias": torch.randn(2, generator=generator, dtype=torch.float64),
        "norm.num_batches_tracked": torch.tensor(seed * 10, dtype=torch.int64),
        "mask": np.array([True, False]),
        "scale": np.float32(np.pi) * np.ones(4, dtype=np.float32),
    }


def test_fedavg_of_identical_models_is_exactly_the_model():
    state = _state(1)
    result = fedavg([state, state, state], [3, 7, 11])
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(result[key], value)
            assert result[key].dtype == value.dtype
        else:
            np.testing.assert_array_equal(result[key], value)
            assert result[key].dtype == value.dtype


def test_fedavg_respects_sample_weights():
    first = {"w": np.array([0.0, 4.0], dtype=np.float32)}
    second = {"w": np.array([8.0, 0.0], dtype=np.float32)}
    result = fedavg([first, second], [3, 1])
    np.testing.assert_allclose(result["w"], [2.0, 3.0])
    assert result["w"].dtype == np.float32


def test_fedavg_rounds_integer_buffers():
    states = [{"count": torch.tensor(1)}, {"count": torch.tensor(4)}]
    result = fedavg(states, [1, 1])  # mean 2.5 -> 2 (half to even)
    assert result["count"].dtype == torch.int64
    assert int(result["count"]) == 2


def test_zero_weight_clients_are_ignored():
    states = [{"w": torch.ones(2)}, {"w": torch.full((2,), 100.0)}]
    assert torch.equal(fedavg(states, [5, 0])["w"], torch.ones(2))


def test_one_cluster_equals_fedavg():
    states = [_state(seed) for seed in range(4)]
    weights = [10, 20, 30, 40]
    clustered = clustered_fedavg(states, weights, [0, 0, 0, 0])
    plain = fedavg(states, weights)
    assert list(clustered) == [0]
    for key in plain:
        if isinstance(plain[key], torch.Tensor):
            assert torch.equal(clustered[0][key], plain[key])
        else:
            np.testing.assert_array_equal(clustered[0][key], plain[key])


def test_clusters_are_averaged_separately():
    states = [{"w": np.array([v])} for v in (0.0, 2.0, 10.0, 30.0)]
    result = clustered_fedavg(states, [1, 1, 1, 3], [0, 0, 1, 1])
    np.testing.assert_allclose(result[0]["w"], [1.0])
    np.testing.assert_allclose(result[1]["w"], [25.0])


def test_mismatched_keys_are_rejected():
    with pytest.raises(ValueError, match="states must share their keys"):
        fedavg([{"a": np.zeros(1)}, {"b": np.zeros(1)}], [1, 1])


def test_all_zero_weights_are_rejected():
    with pytest.raises(ValueError, match="weights must be finite, non-negative"):
        fedavg([{"a": np.zeros(1)}], [0])
