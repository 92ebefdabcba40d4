"""Local training on an edge node: adaptive batches and gradient-weighted sampling.

This module implements the client side of section 3.2 of FMLTC-IDS:

* eq. 1, :func:`adaptive_batch_size`: the batch size ``B_i`` of device ``i``
  from its data volume ``|D_i|``, resource score ``R_i`` and control factor
  ``c``, clipped to ``[B_min, B_max]``;
* eq. 2, :func:`per_sample_gradient_norms`: ``g(x) = ||grad_W L(W, x)||_2``
  for every sample, exactly, from one backward pass (with two reference
  implementations, :func:`per_sample_gradient_norms_vmap` and
  :func:`per_sample_gradient_norms_loop`, used by tests and benchmarks);
* eqs. 3-5, :func:`gradient_weighted_sample`: sampling probabilities
  proportional to the norms and a multinomial draw of ``B_i`` samples;
* :func:`local_update`: Adam with exponential learning-rate decay over batches
  drawn by eqs. 3-5 (or uniform minibatches for ablations and baselines), with
  an optional FedProx proximal term; it returns the client's update together
  with the gradient-norm statistics the server uses in eqs. 9-11;
* :func:`evaluate`: accuracy, precision, recall and F1.

Models passed here follow the contract of :mod:`fmltc_core.models`: a method
``per_sample_loss(x, y, *, kl_weight=..., generator=...)`` returning one loss
per row, each row's loss depending on that row only.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from torch import nn
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from fmltc_core.models import DEFAULT_KL_WEIGHT

logger = logging.getLogger(__name__)

#: Size of the candidate pool, in multiples of ``batch_size_max``, on which the
#: per-sample gradient norms are computed at each local step of a large client.
CANDIDATE_POOL_FACTOR = 4

_fallback_logged = False


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


def to_tensors(
    X, y, *, n_features: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate and convert ``X`` (n, d) and ``y`` (n,) to float32 / int64 tensors.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Features (numpy array or tensor).
    y : array-like of shape (n,)
        Integer class labels.
    n_features : int, optional
        Expected ``d``; checked when given.

    Returns
    -------
    X, y : torch.Tensor
        ``float32`` and ``int64`` CPU tensors (no copy when already so typed).
    """
    X_tensor = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X)
    y_tensor = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
    if X_tensor.dim() != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X_tensor.shape)}")
    if y_tensor.dim() != 1:
        raise ValueError(f"y must be 1-D (n,), got shape {tuple(y_tensor.shape)}")
    if X_tensor.shape[0] != y_tensor.shape[0]:
        raise ValueError(
            f"X and y must have the same number of rows, got {X_tensor.shape[0]} "
            f"and {y_tensor.shape[0]}"
        )
    if X_tensor.shape[0] == 0:
        raise ValueError("X must have at least one row, got 0")
    if n_features is not None and X_tensor.shape[1] != n_features:
        raise ValueError(
            f"X must have {n_features} columns (the model's n_features), "
            f"got {X_tensor.shape[1]}"
        )
    if y_tensor.is_floating_point() or y_tensor.is_complex():
        raise ValueError(f"y must hold integer labels, got dtype {y_tensor.dtype}")
    return X_tensor.to(torch.float32), y_tensor.to(torch.int64)


def _model_n_features(model: nn.Module) -> int | None:
    return getattr(model, "n_features", None)


def _check_positive(value, name: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# Eq. 1: adaptive batch size
# ---------------------------------------------------------------------------


def adaptive_batch_size(
    dataset_size: int,
    resource_score: float,
    *,
    control_factor: float,
    batch_size_min: int = 16,
    batch_size_max: int = 128,
) -> int:
    """Batch size of device ``i`` by eq. 1.

    ``B_i = max(B_min, min(B_max, |D_i| / c * R_i))``

    Parameters
    ----------
    dataset_size : int
        ``|D_i|``, the number of local training samples (>= 0).
    resource_score : float
        ``R_i``, the device's computational resource score, ``0 < R_i < 10``.
    control_factor : float
        ``c > 0``, which keeps the batch from growing too large.
    batch_size_min, batch_size_max : int, default 16 and 128
        ``B_min`` and ``B_max`` (the paper's example values).

    Returns
    -------
    int
        ``B_i``. The unclipped value ``|D_i| * R_i / c`` is rounded down
        (floor) to an integer before clipping, so a result in the open range
        ``(B_min, B_max)`` never exceeds what eq. 1 allows.

    Raises
    ------
    ValueError
        If ``resource_score`` is outside ``(0, 10)``, ``control_factor <= 0``,
        ``dataset_size < 0`` or the bounds are not ``1 <= B_min <= B_max``.
    """
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, int | np.integer):
        raise ValueError(f"dataset_size must be an integer >= 0, got {dataset_size!r}")
    if dataset_size < 0:
        raise ValueError(f"dataset_size must be an integer >= 0, got {dataset_size!r}")
    if not (np.isfinite(resource_score) and 0 < resource_score < 10):
        raise ValueError(
            "resource_score must satisfy 0 < resource_score < 10, "
            f"got {resource_score!r}"
        )
    if not (np.isfinite(control_factor) and control_factor > 0):
        raise ValueError(f"control_factor must be > 0, got {control_factor!r}")
    batch_size_min = _check_positive_int(batch_size_min, "batch_size_min")
    batch_size_max = _check_positive_int(batch_size_max, "batch_size_max")
    if batch_size_min > batch_size_max:
        raise ValueError(
            f"batch_size_min must be <= batch_size_max, got {batch_size_min} > "
            f"{batch_size_max}"
        )
    # Multiply before dividing: fewer rounding steps before the floor.
    unclipped = math.floor(int(dataset_size) * float(resource_score) / control_factor)
    return int(max(batch_size_min, min(batch_size_max, unclipped)))


# ---------------------------------------------------------------------------
# Eq. 2: per-sample gradient norms
# ---------------------------------------------------------------------------


class PerSampleLoss(nn.Module):
    """Module whose ``forward(x, y)`` is ``model.per_sample_loss(x, y)``.

    ``torch.func.functional_call`` calls ``forward``; wrapping the model lets
    it evaluate the per-sample loss with substituted parameters (named
    ``"model.<name>"``).
    """

    def __init__(self, model: nn.Module, *, kl_weight: float = DEFAULT_KL_WEIGHT):
        super().__init__()
        self.model = model
        self.kl_weight = kl_weight

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return self.model.per_sample_loss(
            x, y, kl_weight=self.kl_weight, generator=generator
        )


class _EvalMode:
    """Context manager: the model in eval mode, its previous mode restored after."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def _linear_owned_parameters(model: nn.Module) -> list[nn.Linear] | None:
    """The ``nn.Linear`` layers with trainable parameters, or None when some
    trainable parameter does not belong to an ``nn.Linear`` (weight or bias)."""
    layers: list[nn.Linear] = []
    for module in model.modules():
        is_linear = isinstance(module, nn.Linear)
        has_trainable = False
        for name, parameter in module._parameters.items():
            if parameter is None or not parameter.requires_grad:
                continue
            if not (is_linear and name in ("weight", "bias")):
                return None
            has_trainable = True
        if has_trainable:
            layers.append(module)
    return layers


def _log_fallback(reason: str) -> None:
    global _fallback_logged
    if not _fallback_logged:
        logger.warning(
            "per-sample gradient norms: %s; using the torch.func.vmap "
            "implementation (exact, slower). Logged once.",
            reason,
        )
        _fallback_logged = True


def per_sample_gradient_norms(
    model: nn.Module,
    x,
    y,
    *,
    kl_weight: float = DEFAULT_KL_WEIGHT,
) -> torch.Tensor:
    """Exact per-sample gradient norms ``g(x_i) = ||grad_W L(W, x_i)||_2`` (eq. 2).

    ``W`` is every trainable parameter of ``model`` and ``L`` is
    ``model.per_sample_loss``.

    Parameters
    ----------
    model : nn.Module
        A model following the ``per_sample_loss`` contract.
    x : tensor or array of shape (n, d)
    y : tensor or array of shape (n,)
    kl_weight : float
        Weight of the KL term of :class:`~fmltc_core.models.Detector`.

    Returns
    -------
    torch.Tensor of shape (n,)
        The norms (float32, detached).

    Notes
    -----
    *Method.* For an ``nn.Linear`` layer ``o_i = W a_i + b`` applied to a
    batch, the gradient of sample ``i``'s loss is the outer product
    ``delta_i a_i^T`` (``delta_i = dL_i / do_i``), whose squared Frobenius norm
    is ``||a_i||^2 ||delta_i||^2``; the bias gradient is ``delta_i``. Because
    each row's loss depends only on that row, ``delta_i`` is row ``i`` of the
    gradient of the *summed* loss with respect to the layer's output. One
    forward pass recording every Linear layer's input and output, then one
    ``torch.autograd.grad`` of the summed loss with respect to those outputs,
    give all norms exactly: the cost is about one batched forward + backward
    (the weight gradients themselves are never formed).

    *VAE noise.* The norms are taken with the model in eval mode, where the
    :class:`~fmltc_core.models.Detector` encodes ``x`` by the latent mean
    (no reparameterisation noise). ``g(x)`` is then a deterministic function of
    ``W`` and ``x``, as eq. 2 writes it. The model's mode is restored after.

    *Other layers.* If some trainable parameter does not belong to an
    ``nn.Linear``, if a Linear layer is called more than once in a forward pass
    or receives an input that is not 2-D, the identity does not apply and the
    function falls back to :func:`per_sample_gradient_norms_vmap` (exact, slower;
    a warning is logged once).
    """
    x, y = to_tensors(x, y, n_features=_model_n_features(model))
    layers = _linear_owned_parameters(model)
    if layers is None:
        _log_fallback("a trainable parameter is outside nn.Linear layers")
        return per_sample_gradient_norms_vmap(model, x, y, kl_weight=kl_weight)

    # Record each Linear layer's input and output during one forward pass.
    records: dict[nn.Linear, list[tuple[torch.Tensor, torch.Tensor]]] = {
        layer: [] for layer in layers
    }

    def hook(module, inputs, output):
        records[module].append((inputs[0], output))

    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        with _EvalMode(model), torch.enable_grad():
            total_loss = model.per_sample_loss(x, y, kl_weight=kl_weight).sum()
    finally:
        for handle in handles:
            handle.remove()

    if any(len(calls) != 1 for calls in records.values()) or any(
        calls[0][0].dim() != 2 for calls in records.values()
    ):
        _log_fallback("a Linear layer is reused or receives a non 2-D input")
        return per_sample_gradient_norms_vmap(model, x, y, kl_weight=kl_weight)

    # One backward pass of the summed loss with respect to the layer outputs.
    outputs = [records[layer][0][1] for layer in layers]
    output_grads = torch.autograd.grad(total_loss, outputs, allow_unused=True)

    # ||grad W_i||^2 = ||a_i||^2 ||delta_i||^2 and ||grad b_i||^2 = ||delta_i||^2.
    squared = torch.zeros(x.shape[0], dtype=torch.float32)
    for layer, delta in zip(layers, output_grads, strict=True):
        if delta is None:
            continue
        delta_squared = delta.detach().pow(2).sum(dim=1)
        if layer.weight.requires_grad:
            layer_input = records[layer][0][0].detach()
            squared += layer_input.pow(2).sum(dim=1) * delta_squared
        if layer.bias is not None and layer.bias.requires_grad:
            squared += delta_squared
    return squared.sqrt()


def per_sample_gradient_norms_vmap(
    model: nn.Module,
    x,
    y,
    *,
    kl_weight: float = DEFAULT_KL_WEIGHT,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-sample gradient norms of eq. 2 with ``torch.func.vmap`` over ``grad``.

    Reference implementation (exact, any layer type): the gradient of each
    one-row loss is materialised for every parameter through
    ``functional_call``, vectorised over rows. Eval mode, as in
    :func:`per_sample_gradient_norms`. ``chunk_size`` bounds the memory.
    """
    x, y = to_tensors(x, y, n_features=_model_n_features(model))
    wrapper = PerSampleLoss(model, kl_weight=kl_weight)
    trainable = {
        name: p.detach() for name, p in wrapper.named_parameters() if p.requires_grad
    }
    frozen = {
        name: p.detach()
        for name, p in wrapper.named_parameters()
        if not p.requires_grad
    }
    buffers = dict(wrapper.named_buffers())

    def one_sample_loss(params, xi, yi):
        loss = functional_call(
            wrapper, (params, frozen, buffers), (xi.unsqueeze(0), yi.unsqueeze(0))
        )
        return loss.sum()

    with _EvalMode(model):
        grads = vmap(
            grad(one_sample_loss), in_dims=(None, 0, 0), chunk_size=chunk_size
        )(trainable, x, y)
    squared = sum(g.reshape(x.shape[0], -1).pow(2).sum(dim=1) for g in grads.values())
    return torch.as_tensor(squared, dtype=torch.float32).sqrt().detach()


def per_sample_gradient_norms_loop(
    model: nn.Module,
    x,
    y,
    *,
    kl_weight: float = DEFAULT_KL_WEIGHT,
) -> torch.Tensor:
    """Per-sample gradient norms of eq. 2, one sample at a time with autograd.

    The plainest reference: ``n`` separate forward and backward passes. Eval
    mode, as in :func:`per_sample_gradient_norms`.
    """
    x, y = to_tensors(x, y, n_features=_model_n_features(model))
    parameters = [p for p in model.parameters() if p.requires_grad]
    norms = torch.empty(x.shape[0], dtype=torch.float32)
    with _EvalMode(model), torch.enable_grad():
        for i in range(x.shape[0]):
            loss = model.per_sample_loss(
                x[i : i + 1], y[i : i + 1], kl_weight=kl_weight
            ).sum()
            grads = torch.autograd.grad(loss, parameters, allow_unused=True)
            norms[i] = torch.sqrt(
                sum(g.pow(2).sum() for g in grads if g is not None)
            ).detach()
    return norms


# ---------------------------------------------------------------------------
# Eqs. 3-5: gradient-weighted sampling
# ---------------------------------------------------------------------------


def sampling_probabilities(norms) -> torch.Tensor:
    """Sampling probabilities ``p_i = g_i / sum_j g_j`` of eq. 4, shape (n,).

    All-zero norms (every sample already fitted) give the uniform distribution;
    this is logged at INFO.
    """
    norms = torch.as_tensor(norms, dtype=torch.float64)
    if norms.dim() != 1 or norms.numel() == 0:
        raise ValueError(
            f"norms must be a non-empty 1-D array, got shape {tuple(norms.shape)}"
        )
    if not torch.isfinite(norms).all() or (norms < 0).any():
        raise ValueError("norms must be finite and >= 0, got negative or non-finite")
    total = norms.sum()
    if total <= 0:
        logger.info("all %d gradient norms are zero; sampling uniformly", norms.numel())
        return torch.full_like(norms, 1.0 / norms.numel())
    return norms / total


def gradient_weighted_sample(
    norms, batch_size: int, *, generator: torch.Generator
) -> torch.Tensor:
    """Draw the batch ``S ~ Multinomial(B_i, p)`` of eqs. 3-5.

    Parameters
    ----------
    norms : array-like of shape (n,)
        Per-sample gradient norms ``g_i`` (eq. 2), >= 0.
    batch_size : int
        ``B_i`` (eq. 1). May exceed ``n``.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    torch.Tensor of int64, shape (batch_size,)
        Indices into ``norms``, possibly repeated.

    Notes
    -----
    Eq. 3 sorts the samples by decreasing norm; the sampling distribution of
    eq. 4 assigns each sample its own probability whatever the order, so the
    sort changes nothing and is skipped. The count vector ``S`` of eq. 5 is the
    histogram of ``B_i`` independent categorical draws with probabilities
    ``p``; the returned indices are those draws (with replacement, via
    ``torch.multinomial(replacement=True)``), so a sample with a large gradient
    can appear several times and ``batch_size > n`` is allowed.
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    probabilities = sampling_probabilities(norms)
    return torch.multinomial(
        probabilities, batch_size, replacement=True, generator=generator
    )


# ---------------------------------------------------------------------------
# Local update
# ---------------------------------------------------------------------------


@dataclass
class LocalUpdateResult:
    """What a client returns after :func:`local_update`.

    Attributes
    ----------
    state : dict of str to torch.Tensor
        The trained ``state_dict`` (detached copies).
    num_examples : int
        ``|D_i|``, the number of local training rows (FedAvg weight).
    batch_size : int
        ``B_i`` used (eq. 1 unless given).
    steps : int
        Number of optimiser steps taken.
    losses : numpy.ndarray of shape (steps,)
        Training loss (mean per-sample loss, without the proximal term) of the
        batch at each step.
    grad_norm_mean, grad_norm_var : float
        Mean and (population) variance of the per-sample gradient norms of
        every drawn sample over all steps: ``mean(g_i)`` and ``var(g_i)`` of
        eq. 10.
    grad_norm_series : numpy.ndarray of shape (steps,)
        Mean gradient norm of the drawn batch at each step: the series
        ``g_i(t)`` used by the server in eqs. 9 and 11.
    seconds : float
        Wall-clock duration of the update.
    """

    state: dict[str, torch.Tensor]
    num_examples: int
    batch_size: int
    steps: int
    losses: np.ndarray
    grad_norm_mean: float
    grad_norm_var: float
    grad_norm_series: np.ndarray
    seconds: float


def _proximal_term(
    model: nn.Module, global_params: Mapping[str, torch.Tensor], mu: float
) -> torch.Tensor:
    """FedProx term ``mu / 2 * ||w - w_global||^2`` over the trainable parameters."""
    total = torch.zeros(())
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            total = total + (parameter - global_params[name]).pow(2).sum()
    return 0.5 * mu * total


def local_update(
    model: nn.Module,
    X,
    y,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    resource_score: float | None = None,
    control_factor: float | None = None,
    lr: float = 1e-3,
    lr_decay: float = 0.99,
    proximal_mu: float = 0.0,
    global_params: Mapping[str, torch.Tensor] | None = None,
    gradient_weighted: bool = True,
    batch_size: int | None = None,
    batch_size_min: int = 16,
    batch_size_max: int = 128,
    candidate_pool_size: int | None = None,
    kl_weight: float = DEFAULT_KL_WEIGHT,
    seed: int = 0,
    progress: bool = False,
) -> LocalUpdateResult:
    """Train ``model`` in place on one client's data (section 3.2).

    Parameters
    ----------
    model : nn.Module
        The model to train (its parameters are updated in place).
    X : array-like of shape (n, d), float32
    y : array-like of shape (n,), int64
    steps : int, optional
        Number of optimiser steps. Exactly one of ``steps`` and ``epochs``.
    epochs : int, optional
        Number of passes: ``steps = epochs * ceil(n / B_i)``.
    resource_score : float, optional
        ``R_i`` of eq. 1, needed when ``batch_size`` is None.
    control_factor : float, optional
        ``c`` of eq. 1, needed when ``batch_size`` is None.
    lr : float, default 1e-3
        Initial Adam learning rate.
    lr_decay : float, default 0.99
        Learning-rate decay: ``torch.optim.lr_scheduler.ExponentialLR`` with
        ``gamma = lr_decay`` stepped after every optimiser step, so step ``t``
        (from 0) uses ``lr * lr_decay**t``. The optimiser and schedule are
        created afresh at each call (each federated round).
    proximal_mu : float, default 0.0
        FedProx ``mu``; when > 0 the objective gains
        ``mu / 2 * ||w - w_global||^2``.
    global_params : mapping of str to torch.Tensor, optional
        ``w_global`` for the proximal term (parameter name -> tensor). When
        None, the model's parameters at the start of the call (the received
        global model) are used.
    gradient_weighted : bool, default True
        Draw each batch by eqs. 2-5; False gives uniform minibatches (shuffled
        epochs without replacement) for ablations and baselines.
    batch_size : int, optional
        Fixed batch size; None computes ``B_i`` by eq. 1.
    batch_size_min, batch_size_max : int, default 16 and 128
        ``B_min`` and ``B_max`` of eq. 1.
    candidate_pool_size : int, optional
        Rows on which the per-sample norms are computed at each step. When the
        client has more rows than this, a fresh uniform random pool of this
        size (without replacement) is drawn at each step and the batch is drawn
        from the pool by eqs. 3-5; otherwise the whole local data is the pool.
        Default ``4 * batch_size_max``, which bounds the cost of eq. 2 per step
        on large clients.
    kl_weight : float
        KL weight of the Detector loss.
    seed : int, default 0
        Seed of the pools, draws and VAE noise.
    progress : bool, default False
        Show a tqdm bar over the steps.

    Returns
    -------
    LocalUpdateResult

    Notes
    -----
    The gradient norms use the data loss ``L(W, x)`` of eq. 2 only; the
    proximal term is not per-sample and is left out of them. Batches drawn by
    eqs. 3-5 are used as they are (the paper does not reweight them by
    ``1 / (n p_i)``), so the step direction favours high-gradient samples, as
    intended by the paper. With ``gradient_weighted=False`` the norms of the
    drawn batch are still computed, so that the series of eqs. 9-11 exists for
    every method. When ``B_i > n`` a uniform batch is the whole local data.
    """
    start = time.perf_counter()
    X, y = to_tensors(X, y, n_features=_model_n_features(model))
    n_rows = X.shape[0]
    lr = _check_positive(lr, "lr")
    if not (np.isfinite(lr_decay) and 0 < lr_decay <= 1):
        raise ValueError(f"lr_decay must satisfy 0 < lr_decay <= 1, got {lr_decay!r}")
    if not (np.isfinite(proximal_mu) and proximal_mu >= 0):
        raise ValueError(f"proximal_mu must be >= 0, got {proximal_mu!r}")

    # Batch size: given, or eq. 1.
    if batch_size is None:
        if resource_score is None or control_factor is None:
            raise ValueError(
                "resource_score and control_factor are required when batch_size "
                f"is None, got resource_score={resource_score!r}, "
                f"control_factor={control_factor!r}"
            )
        batch_size = adaptive_batch_size(
            n_rows,
            resource_score,
            control_factor=control_factor,
            batch_size_min=batch_size_min,
            batch_size_max=batch_size_max,
        )
    batch_size = _check_positive_int(batch_size, "batch_size")

    # Number of steps.
    if (steps is None) == (epochs is None):
        raise ValueError(
            f"give exactly one of steps and epochs, got steps={steps!r}, "
            f"epochs={epochs!r}"
        )
    if steps is None:
        epochs = _check_positive_int(epochs, "epochs")
        steps = epochs * math.ceil(n_rows / batch_size)
    steps = _check_positive_int(steps, "steps")

    if candidate_pool_size is None:
        candidate_pool_size = CANDIDATE_POOL_FACTOR * batch_size_max
    candidate_pool_size = _check_positive_int(
        candidate_pool_size, "candidate_pool_size"
    )

    parameters = [p for p in model.parameters() if p.requires_grad]
    if proximal_mu > 0:
        if global_params is None:
            global_params = {
                name: p.detach().clone() for name, p in model.named_parameters()
            }
        missing = [
            name
            for name, p in model.named_parameters()
            if p.requires_grad and name not in global_params
        ]
        if missing:
            raise ValueError(
                f"global_params must hold every trainable parameter, missing {missing}"
            )
        global_params = {
            name: torch.as_tensor(value).detach()
            for name, value in global_params.items()
        }

    generator = torch.Generator().manual_seed(int(seed))
    optimizer = torch.optim.Adam(parameters, lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)
    was_training = model.training

    losses = np.empty(steps)
    series = np.empty(steps)
    drawn_norms: list[torch.Tensor] = []
    permutation = torch.randperm(n_rows, generator=generator)
    position = 0

    for step in tqdm(range(steps), desc="local update", disable=not progress):
        # Choose the batch: eqs. 2-5 over the candidate pool, or uniform.
        if gradient_weighted:
            if n_rows > candidate_pool_size:
                pool = torch.randperm(n_rows, generator=generator)[:candidate_pool_size]
            else:
                pool = torch.arange(n_rows)
            pool_norms = per_sample_gradient_norms(
                model, X[pool], y[pool], kl_weight=kl_weight
            )
            drawn = gradient_weighted_sample(
                pool_norms, batch_size, generator=generator
            )
            batch_index = pool[drawn]
            batch_norms = pool_norms[drawn]
        else:
            if position + min(batch_size, n_rows) > n_rows:
                permutation = torch.randperm(n_rows, generator=generator)
                position = 0
            batch_index = permutation[position : position + batch_size]
            position += batch_index.numel()
            batch_norms = per_sample_gradient_norms(
                model, X[batch_index], y[batch_index], kl_weight=kl_weight
            )

        # One Adam step on the batch (plus the FedProx term).
        model.train()
        batch_loss = model.loss(
            X[batch_index], y[batch_index], kl_weight=kl_weight, generator=generator
        )
        objective = batch_loss
        if proximal_mu > 0:
            objective = objective + _proximal_term(model, global_params, proximal_mu)
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        scheduler.step()

        losses[step] = float(batch_loss.detach())
        series[step] = float(batch_norms.mean())
        drawn_norms.append(batch_norms)

    model.train(was_training)
    all_norms = torch.cat(drawn_norms).double()
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    seconds = time.perf_counter() - start
    logger.debug(
        "local update: %d rows, batch %d, %d steps, loss %.4f -> %.4f, %.2f s",
        n_rows,
        batch_size,
        steps,
        losses[0],
        losses[-1],
        seconds,
    )
    return LocalUpdateResult(
        state=state,
        num_examples=int(n_rows),
        batch_size=int(batch_size),
        steps=int(steps),
        losses=losses,
        grad_norm_mean=float(all_norms.mean()),
        grad_norm_var=float(all_norms.var(unbiased=False)),
        grad_norm_series=series,
        seconds=seconds,
    )


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


@torch.no_grad()
def predict(model: nn.Module, X, *, batch_size: int = 8192) -> np.ndarray:
    """Predicted classes (argmax of the eval-mode logits), shape (n,)."""
    X_tensor = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X)
    if X_tensor.dim() != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X_tensor.shape)}")
    X_tensor = X_tensor.to(torch.float32)
    predictions = []
    with _EvalMode(model):
        for start in range(0, X_tensor.shape[0], batch_size):
            logits = model(X_tensor[start : start + batch_size])
            predictions.append(logits.argmax(dim=1))
    return torch.cat(predictions).numpy()


def evaluate(model: nn.Module, X, y, *, batch_size: int = 8192) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of a classifier on ``(X, y)``.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits of shape (n, R), e.g.
        :class:`~fmltc_core.models.Detector`.
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
    batch_size : int, default 8192
        Rows per forward pass.

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1``. With ``R = 2`` the
        attack class 1 is the positive class; with ``R > 2`` precision, recall
        and F1 are macro averages over the classes present in ``y`` or the
        predictions. Undefined ratios count as 0 (``zero_division=0``).
    """
    n_classes = getattr(model, "n_classes", None)
    if n_classes is None:
        raise ValueError(
            "model must be a classifier with n_classes (e.g. Detector); got "
            f"{type(model).__name__}"
        )
    X_tensor, y_tensor = to_tensors(X, y, n_features=_model_n_features(model))
    predictions = predict(model, X_tensor, batch_size=batch_size)
    truth = y_tensor.numpy()
    if n_classes == 2:
        precision, recall, f1, _ = precision_recall_fscore_support(
            truth, predictions, average="binary", pos_label=1, zero_division=0
        )
    else:
        precision, recall, f1, _ = precision_recall_fscore_support(
            truth, predictions, average="macro", zero_division=0
        )
    return {
        "accuracy": float(accuracy_score(truth, predictions)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
