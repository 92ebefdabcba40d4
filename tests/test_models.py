"""Tests of fmltc_core.models: the VAE-style Detector and the Fed-ANIDS Autoencoder."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fmltc_core.models import Autoencoder, Detector


def _batch(n_rows=32, n_features=6, n_classes=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_rows, n_features, generator=generator)
    y = torch.randint(0, n_classes, (n_rows,), generator=generator)
    return x, y


def test_same_seed_gives_same_weights_and_different_seed_differs():
    first = Detector(6, seed=3).state_dict()
    second = Detector(6, seed=3).state_dict()
    other = Detector(6, seed=4).state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)


def test_construction_leaves_global_random_state_untouched():
    before = torch.get_rng_state()
    Detector(6, seed=1)
    Autoencoder(6, seed=1)
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize("n_classes", [2, 5])
def test_last_layer_weights_are_the_transposed_output_weight(n_classes):
    model = Detector(6, n_classes, hidden=(20, 12), latent=4)
    weights = model.last_layer_weights()
    assert weights.shape == (12, n_classes)
    np.testing.assert_array_equal(weights, model.output_layer.weight.detach().numpy().T)
    assert model(torch.zeros(3, 6)).shape == (3, n_classes)


def test_eval_mode_is_deterministic_and_training_mode_draws_seeded_noise():
    model = Detector(6)
    x, _ = _batch()
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    model.train()
    first = model(x, generator=torch.Generator().manual_seed(1))
    again = model(x, generator=torch.Generator().manual_seed(1))
    other = model(x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.allclose(first, other)


def test_loss_is_cross_entropy_plus_weighted_kl():
    model = Detector(6, 3).eval()
    x, y = _batch(n_classes=3)
    mean, log_variance = model.encode(x)
    kl = -0.5 * (1 + log_variance - mean**2 - log_variance.exp()).sum(dim=1)
    cross_entropy = F.cross_entropy(model(x), y, reduction="none")
    torch.testing.assert_close(
        model.per_sample_loss(x, y, kl_weight=0.25), cross_entropy + 0.25 * kl
    )
    torch.testing.assert_close(
        model.loss(x, y, kl_weight=0.0), F.cross_entropy(model(x), y)
    )


def test_predict_restores_training_mode():
    model = Detector(6).train()
    predictions = model.predict(torch.zeros(4, 6))
    assert model.training
    assert predictions.shape == (4,)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_features": 0}, "n_features must be a positive integer"),
        ({"n_features": 6, "n_classes": 1}, "n_classes must be an integer >= 2"),
        ({"n_features": 6, "hidden": (8,)}, "hidden must have at least two widths"),
    ],
)
def test_bad_detector_arguments_raise(arguments, message):
    with pytest.raises(ValueError, match=message):
        Detector(**arguments)


def test_autoencoder_reconstruction_error_is_per_sample_mean_squared_error():
    model = Autoencoder(6, hidden=(5,), bottleneck=2, seed=0)
    x, _ = _batch()
    errors = model.reconstruction_error(x)
    assert errors.shape == (32,)
    torch.testing.assert_close(errors, ((model(x) - x) ** 2).mean(dim=1))
    torch.testing.assert_close(model.per_sample_loss(x), errors)
