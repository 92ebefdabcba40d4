"""Tests of fmltc_core.training: eq. 1, eqs. 2-5, the local update and evaluation."""

import logging
import math

import numpy as np
import pytest
import torch
from torch import nn

from fmltc_core.models import Autoencoder, Detector
from fmltc_core.training import (
    adaptive_batch_size,
    evaluate,
    gradient_weighted_sample,
    local_update,
    per_sample_gradient_norms,
    per_sample_gradient_norms_loop,
    per_sample_gradient_norms_vmap,
    predict,
    sampling_probabilities,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _separable(n_rows=400, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    direction = rng.normal(size=n_features)
    y = (X @ direction > 0).astype(np.int64)
    return X, y


def _data_loss(model, X, y):
    model.eval()
    with torch.no_grad():
        return float(model.loss(torch.as_tensor(X), torch.as_tensor(y)))


# --- eq. 1 -------------------------------------------------------------------


def test_batch_size_is_clipped_to_its_bounds():
    assert adaptive_batch_size(10, 1.0, control_factor=10.0) == 16
    assert adaptive_batch_size(100_000, 9.0, control_factor=10.0) == 128
    assert (
        adaptive_batch_size(
            50, 5.0, control_factor=1.0, batch_size_min=8, batch_size_max=64
        )
        == 64
    )


def test_batch_size_inside_the_bounds_is_the_floor_of_eq_1():
    # |D_i| / c * R_i = 1000 / 40 * 2.5 = 62.5 -> 62
    assert adaptive_batch_size(1000, 2.5, control_factor=40.0) == 62
    assert adaptive_batch_size(1000, 5.0, control_factor=50.0) == 100


@pytest.mark.parametrize("resource_score", [0.0, 10.0, -1.0, float("nan")])
def test_resource_score_outside_zero_ten_raises(resource_score):
    with pytest.raises(ValueError, match="resource_score must satisfy 0 < "):
        adaptive_batch_size(100, resource_score, control_factor=1.0)


@pytest.mark.parametrize("control_factor", [0.0, -2.0])
def test_non_positive_control_factor_raises(control_factor):
    with pytest.raises(ValueError, match="control_factor must be > 0"):
        adaptive_batch_size(100, 1.0, control_factor=control_factor)


# --- eqs. 3-5 ----------------------------------------------------------------


def test_sampling_probabilities_are_the_normalised_norms():
    norms = torch.tensor([3.0, 1.0, 0.0, 4.0, 2.0])
    np.testing.assert_allclose(
        sampling_probabilities(norms).numpy(), norms.numpy() / 10.0
    )


def test_all_zero_norms_fall_back_to_uniform_and_log(caplog):
    with caplog.at_level(logging.INFO, logger="fmltc_core.training"):
        probabilities = sampling_probabilities(torch.zeros(4))
    np.testing.assert_allclose(probabilities.numpy(), np.full(4, 0.25))
    assert "all 4 gradient norms are zero" in caplog.text


@pytest.mark.parametrize("batch_size", [1, 3, 50])
def test_draw_has_exactly_batch_size_indices_even_beyond_n(batch_size):
    generator = torch.Generator().manual_seed(0)
    indices = gradient_weighted_sample(
        torch.tensor([1.0, 2.0, 3.0]), batch_size, generator=generator
    )
    assert indices.shape == (batch_size,)
    assert indices.dtype == torch.int64
    assert int(indices.min()) >= 0 and int(indices.max()) <= 2


def test_draw_frequencies_match_the_probabilities():
    norms = torch.tensor([5.0, 1.0, 0.5, 2.5, 1.0])
    probabilities = (norms / norms.sum()).numpy()
    draws = 20_000
    indices = gradient_weighted_sample(
        norms, draws, generator=torch.Generator().manual_seed(7)
    )
    frequencies = np.bincount(indices.numpy(), minlength=5) / draws
    binomial_std = np.sqrt(probabilities * (1 - probabilities) / draws)
    assert np.all(np.abs(frequencies - probabilities) < 4 * binomial_std)


def test_negative_norms_raise():
    with pytest.raises(ValueError, match="norms must be finite and >= 0"):
        sampling_probabilities(torch.tensor([1.0, -1.0]))


# --- eq. 2 -------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 4])
def test_exact_norms_equal_one_sample_at_a_time_autograd(n_classes):
    model = Detector(7, n_classes, hidden=(16, 8), latent=4, seed=1)
    rng = np.random.default_rng(n_classes)
    X = rng.normal(size=(40, 7)).astype(np.float32)
    y = rng.integers(0, n_classes, size=40)
    reference = per_sample_gradient_norms_loop(model, X, y)
    torch.testing.assert_close(
        per_sample_gradient_norms(model, X, y), reference, rtol=1e-4, atol=1e-7
    )
    torch.testing.assert_close(
        per_sample_gradient_norms_vmap(model, X, y), reference, rtol=1e-4, atol=1e-7
    )


def test_exact_norms_for_the_autoencoder():
    model = Autoencoder(6, hidden=(5,), bottleneck=3)
    X, y = _separable(30, 6)
    torch.testing.assert_close(
        per_sample_gradient_norms(model, X, y),
        per_sample_gradient_norms_loop(model, X, y),
        rtol=1e-4,
        atol=1e-7,
    )


def test_frozen_parameters_are_left_out_of_the_norm():
    model = Detector(5, seed=2)
    model.output_layer.bias.requires_grad_(False)
    model.mean_head.weight.requires_grad_(False)
    X, y = _separable(20, 5)
    torch.testing.assert_close(
        per_sample_gradient_norms(model, X, y),
        per_sample_gradient_norms_loop(model, X, y),
        rtol=1e-4,
        atol=1e-7,
    )


class _NormalisedDetector(nn.Module):
    """A model with a non-Linear parametrised layer (LayerNorm)."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.first = nn.Linear(5, 8)
        self.norm = nn.LayerNorm(8)
        self.last = nn.Linear(8, 2)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))

    def forward(self, x, **_):
        return self.last(torch.relu(self.norm(self.first(x))))

    def per_sample_loss(self, x, y, **_):
        return nn.functional.cross_entropy(self(x), y, reduction="none")


def test_model_with_a_non_linear_parametrised_layer_still_gets_exact_norms():
    model = _NormalisedDetector()
    X, y = _separable(25, 5)
    torch.testing.assert_close(
        per_sample_gradient_norms(model, X, y),
        per_sample_gradient_norms_loop(model, X, y),
        rtol=1e-4,
        atol=1e-7,
    )


def test_norms_restore_the_training_mode():
    model = Detector(5).train()
    X, y = _separable(10, 5)
    per_sample_gradient_norms(model, X, y)
    assert model.training


def test_wrong_feature_count_raises():
    with pytest.raises(ValueError, match="X must have 5 columns"):
        per_sample_gradient_norms(Detector(5), np.zeros((3, 4)), np.zeros(3))


# --- local update ------------------------------------------------------------


def test_local_update_lowers_the_loss_on_a_separable_problem():
    X, y = _separable()
    model = Detector(5, seed=0)
    loss_before = _data_loss(model, X, y)
    accuracy_before = evaluate(model, X, y)["accuracy"]
    local_update(
        model, X, y, steps=60, resource_score=2.0, control_factor=20.0, lr=1e-2, seed=0
    )
    assert _data_loss(model, X, y) < loss_before
    assert evaluate(model, X, y)["accuracy"] > accuracy_before


def test_local_update_result_fields_are_consistent():
    X, y = _separable(300)
    model = Detector(5, seed=0)
    result = local_update(
        model, X, y, steps=12, resource_score=3.0, control_factor=25.0, seed=1
    )
    assert result.batch_size == adaptive_batch_size(300, 3.0, control_factor=25.0)
    assert result.num_examples == 300
    assert result.steps == 12
    assert result.losses.shape == (12,)
    assert result.grad_norm_series.shape == (12,)
    assert result.grad_norm_mean > 0
    assert result.grad_norm_var >= 0
    assert result.seconds > 0
    assert set(result.state) == set(model.state_dict())
    for name, value in model.state_dict().items():
        assert torch.equal(result.state[name], value)


def test_local_update_is_reproducible_from_its_seed():
    X, y = _separable(200)
    states = []
    for _ in range(2):
        model = Detector(5, seed=0)
        result = local_update(model, X, y, steps=5, batch_size=32, seed=3)
        states.append(result.state)
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])


def test_epochs_give_ceil_n_over_batch_steps_per_epoch():
    X, y = _separable(100)
    result = local_update(
        Detector(5), X, y, epochs=2, batch_size=30, gradient_weighted=False
    )
    assert result.steps == 2 * math.ceil(100 / 30)
    assert result.grad_norm_series.shape == (result.steps,)


def test_candidate_pool_bounds_the_rows_scored_per_step():
    X, y = _separable(300)
    result = local_update(
        Detector(5), X, y, steps=3, batch_size=16, candidate_pool_size=40, seed=0
    )
    assert result.steps == 3
    assert np.all(np.isfinite(result.grad_norm_series))


def test_large_proximal_mu_keeps_the_update_closer_to_the_global_model():
    X, y = _separable()
    initial = Detector(5, seed=0)
    global_params = {name: p.detach().clone() for name, p in initial.named_parameters()}

    def distance_after(mu):
        model = Detector(5, seed=0)
        local_update(
            model,
            X,
            y,
            steps=40,
            batch_size=32,
            lr=1e-2,
            proximal_mu=mu,
            global_params=global_params,
            seed=0,
        )
        return sum(
            float((p.detach() - global_params[name]).pow(2).sum())
            for name, p in model.named_parameters()
        )

    assert distance_after(100.0) < distance_after(0.0)


def test_local_update_needs_eq_1_inputs_without_a_batch_size():
    X, y = _separable(50)
    with pytest.raises(ValueError, match="resource_score and control_factor"):
        local_update(Detector(5), X, y, steps=1)


def test_local_update_needs_exactly_one_of_steps_and_epochs():
    X, y = _separable(50)
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        local_update(Detector(5), X, y, steps=1, epochs=1, batch_size=8)


# --- evaluation ---------------------------------------------------------------


def test_binary_metrics_take_attack_as_positive():
    X, y = _separable(200)
    model = Detector(5, seed=0)
    local_update(model, X, y, steps=5, batch_size=32, seed=0)
    predictions = predict(model, X)
    true_positive = np.sum((predictions == 1) & (y == 1))
    precision = true_positive / max(np.sum(predictions == 1), 1)
    recall = true_positive / np.sum(y == 1)
    metrics = evaluate(model, X, y)
    assert metrics["accuracy"] == pytest.approx(np.mean(predictions == y))
    assert metrics["precision"] == pytest.approx(precision)
    assert metrics["recall"] == pytest.approx(recall)
    if precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
        assert metrics["f1"] == pytest.approx(f1)


def test_multiclass_metrics_are_macro_averages():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=120)
    model = Detector(4, 3, seed=0)
    predictions = predict(model, X)
    recalls = [
        np.sum((predictions == c) & (y == c)) / np.sum(y == c)
        for c in np.union1d(y, predictions)
    ]
    assert evaluate(model, X, y)["recall"] == pytest.approx(np.mean(recalls))


def test_grad_norm_benchmark_rows_follow_the_benchmark_contract():
    from fmltc_core.benchmarks import grad_norms

    rows = grad_norms.run(quick=True)
    assert [row["name"] for row in rows] == [
        "per-sample grad norms / plain pass",
        "vmap / ours",
        "loop / ours",
    ]
    for row in rows:
        assert set(row) == {
            "name",
            "ours",
            "alternative",
            "ratio",
            "goal",
            "met",
            "unit",
            "notes",
        }
        assert row["ratio"] > 0 and isinstance(row["met"], bool)
