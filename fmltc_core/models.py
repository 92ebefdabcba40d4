"""Neural models of FMLTC-IDS: the VAE-style detector and the Fed-ANIDS autoencoder.

The paper builds its detector by integrating a variational autoencoder (VAE)
into the federated meta-learning pipeline (section 3.1) and clusters clients by
the weights of the detector's final layer, the M x R matrix ``W_j`` of eq. 6
(section 3.3). :class:`Detector` is that model: an encoder with a mean head and
a log-variance head (reparameterised sample while training, the mean at
evaluation), followed by a classifier MLP whose last layer is the
``nn.Linear(M, R)`` read by the server.

:class:`Autoencoder` is the reconstruction model of the Fed-ANIDS baseline: an
anomaly score is the per-sample reconstruction error.

Both models are made of ``nn.Linear`` layers and element-wise activations only,
so the exact per-sample gradient norms of eq. 2 can be computed from one
backward pass (see :func:`fmltc_core.training.per_sample_gradient_norms`). Both
expose ``per_sample_loss(x, y)`` returning one loss per row, the contract that
the training loop, the per-sample gradient norms and MAML rely on.

Initialisation is deterministic from ``seed`` and does not read or advance the
global torch random state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

logger = logging.getLogger(__name__)

#: Weight of the KL term in :meth:`Detector.loss`. Small, so that the
#: classification loss dominates and the KL term only keeps the latent code
#: close to the standard normal prior (a regulariser, as in a beta-VAE with a
#: small beta).
DEFAULT_KL_WEIGHT = 1e-3


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _seeded_linear(
    in_features: int, out_features: int, generator: torch.Generator
) -> nn.Linear:
    """An ``nn.Linear`` with PyTorch's default initialisation drawn from ``generator``.

    ``skip_init`` builds the layer without touching the global random state; the
    weights are then filled exactly as ``nn.Linear.reset_parameters`` would
    (Kaiming uniform with ``a = sqrt(5)``, bias uniform in +-1/sqrt(fan_in)).
    """
    layer = skip_init(nn.Linear, in_features, out_features)
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def _mlp(widths: Sequence[int], generator: torch.Generator) -> nn.Sequential:
    """Linear + ReLU blocks through ``widths`` (ReLU after every layer)."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
        layers.append(_seeded_linear(width_in, width_out, generator))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Detector(nn.Module):
    """VAE-style encoder followed by a classifier (sections 3.1 and 3.3).

    Architecture, for ``hidden = (h_1, ..., h_k)``::

        x -> [Linear + ReLU through h_1..h_{k-1}] -> mean head, log-variance head
          -> z (reparameterised in training mode, the mean in eval mode)
          -> Linear(latent, h_k) + ReLU -> output_layer = Linear(M = h_k, R)

    Parameters
    ----------
    n_features : int
        Number of input features ``d``.
    n_classes : int, default 2
        Number of output classes ``R`` (2: benign/attack; more: multiclass).
    hidden : sequence of int, default (64, 32)
        Widths of the hidden layers. All but the last are the encoder's hidden
        layers; the last is the classifier's hidden layer, i.e. the number of
        neurons ``M`` feeding the final layer of eq. 6. At least two entries.
    latent : int, default 16
        Dimension of the latent code ``z``.
    seed : int, default 0
        Seed of the weight initialisation.

    Attributes
    ----------
    output_layer : nn.Linear
        The final layer; its ``weight.T`` is the M x R matrix of eq. 6.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int = 2,
        *,
        hidden: Sequence[int] = (64, 32),
        latent: int = 16,
        seed: int = 0,
    ) -> None:
        super().__init__()
        n_features = _check_positive_int(n_features, "n_features")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        hidden = tuple(int(_check_positive_int(h, "hidden")) for h in hidden)
        if len(hidden) < 2:
            raise ValueError(
                "hidden must have at least two widths (encoder, classifier), "
                f"got {hidden!r}"
            )
        latent = _check_positive_int(latent, "latent")

        self.n_features = n_features
        self.n_classes = int(n_classes)
        self.hidden = hidden
        self.latent = latent
        self.seed = int(seed)

        generator = torch.Generator().manual_seed(int(seed))
        encoder_widths = (n_features, *hidden[:-1])
        self.encoder = _mlp(encoder_widths, generator)
        self.mean_head = _seeded_linear(encoder_widths[-1], latent, generator)
        self.log_variance_head = _seeded_linear(encoder_widths[-1], latent, generator)
        self.classifier_hidden = _mlp((latent, hidden[-1]), generator)
        self.output_layer = _seeded_linear(hidden[-1], self.n_classes, generator)

    def config(self) -> dict:
        """Constructor arguments that rebuild this architecture."""
        return {
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "hidden": list(self.hidden),
            "latent": self.latent,
        }

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(z | x)``, each of shape (n, latent)."""
        features = self.encoder(x)
        return self.mean_head(features), self.log_variance_head(features)

    def _forward_parts(
        self, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_variance = self.encode(x)
        if self.training:
            # Reparameterisation z = mean + sigma * eps, eps ~ N(0, I).
            noise = torch.randn(
                mean.shape, generator=generator, dtype=mean.dtype, device=mean.device
            )
            z = mean + torch.exp(0.5 * log_variance) * noise
        else:
            z = mean
        logits = self.output_layer(self.classifier_hidden(z))
        return logits, mean, log_variance

    def forward(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Class logits of shape (n, R).

        In training mode ``z`` is a reparameterised sample whose noise comes from
        ``generator`` (the global generator when None); in eval mode ``z`` is
        the mean and the output is deterministic.
        """
        return self._forward_parts(x, generator)[0]

    def per_sample_loss(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        kl_weight: float = DEFAULT_KL_WEIGHT,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-sample loss ``L(W, x_i)`` of eq. 2, shape (n,).

        ``L = cross_entropy(logits_i, y_i) + kl_weight * KL(q(z | x_i) || N(0, I))``
        with ``KL = -1/2 * sum_k (1 + log sigma_k^2 - mu_k^2 - sigma_k^2)``.
        Each row's loss depends on that row only (no batch statistics).
        """
        logits, mean, log_variance = self._forward_parts(x, generator)
        cross_entropy = F.cross_entropy(logits, y, reduction="none")
        kl = -0.5 * torch.sum(
            1.0 + log_variance - mean.pow(2) - log_variance.exp(), dim=1
        )
        return cross_entropy + kl_weight * kl

    def loss(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        kl_weight: float = DEFAULT_KL_WEIGHT,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Mean over the batch of :meth:`per_sample_loss` (cross-entropy + small KL)."""
        return self.per_sample_loss(
            x, y, kl_weight=kl_weight, generator=generator
        ).mean()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class per row (deterministic: uses the latent mean)."""
        was_training = self.training
        self.eval()
        try:
            return self.forward(x).argmax(dim=1)
        finally:
            self.train(was_training)

    def last_layer_weights(self) -> np.ndarray:
        """The final layer's weight matrix ``W_j`` of eq. 6, shape (M, R).

        Entry ``[i, r]`` connects hidden neuron ``i`` to output unit ``r``, i.e.
        the transpose of ``output_layer.weight`` (stored as R x M by PyTorch).
        """
        return self.output_layer.weight.detach().cpu().numpy().T.copy()


class Autoencoder(nn.Module):
    """Reconstruction autoencoder of the Fed-ANIDS baseline.

    Parameters
    ----------
    n_features : int
        Number of input features.
    hidden : sequence of int, default (32,)
        Widths of the encoder's hidden layers (mirrored by the decoder).
    bottleneck : int, default 8
        Width of the code layer.
    seed : int, default 0
        Seed of the weight initialisation.

    Notes
    -----
    The decoder's last layer is linear (no activation), since the inputs are
    standardised features that can be negative. ``output_layer`` is that layer.
    """

    def __init__(
        self,
        n_features: int,
        *,
        hidden: Sequence[int] = (32,),
        bottleneck: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__()
        n_features = _check_positive_int(n_features, "n_features")
        hidden = tuple(int(_check_positive_int(h, "hidden")) for h in hidden)
        bottleneck = _check_positive_int(bottleneck, "bottleneck")
        self.n_features = n_features
        self.hidden = hidden
        self.bottleneck = bottleneck
        self.seed = int(seed)

        generator = torch.Generator().manual_seed(int(seed))
        self.encoder = _mlp((n_features, *hidden, bottleneck), generator)
        decoder_widths = (bottleneck, *reversed(hidden))
        self.decoder_hidden = _mlp(decoder_widths, generator)
        self.output_layer = _seeded_linear(decoder_widths[-1], n_features, generator)

    def config(self) -> dict:
        """Constructor arguments that rebuild this architecture."""
        return {
            "n_features": self.n_features,
            "hidden": list(self.hidden),
            "bottleneck": self.bottleneck,
        }

    def forward(self, x: torch.Tensor, **_: object) -> torch.Tensor:
        """Reconstruction of ``x``, shape (n, n_features)."""
        return self.output_layer(self.decoder_hidden(self.encoder(x)))

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared reconstruction error per sample, shape (n,)."""
        return (self.forward(x) - x).pow(2).mean(dim=1)

    def per_sample_loss(
        self, x: torch.Tensor, y: torch.Tensor | None = None, **_: object
    ) -> torch.Tensor:
        """Per-sample training loss: the reconstruction error (``y`` is unused)."""
        return self.reconstruction_error(x)

    def loss(
        self, x: torch.Tensor, y: torch.Tensor | None = None, **_: object
    ) -> torch.Tensor:
        """Mean reconstruction error over the batch."""
        return self.reconstruction_error(x).mean()
