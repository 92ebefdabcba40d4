"""MAML meta-training of the initial weights W0 and the meta-cluster centres.

Section 3.2 of FMLTC-IDS trains the base model ``M_g`` on the server with a
public dataset and optimises its initial parameters ``W_0`` with Model-Agnostic
Meta-Learning (MAML; Finn, Abbeel and Levine, 2017), so that a few local
gradient steps adapt ``W_0`` to each edge node. Here a *task* is one group of
the public data (a capture day, an attack family, a site, ... chosen by the
caller) split into a support set, used by the inner adaptation, and a query
set, on which the adapted model is scored:

* inner loop (per task): ``W' = W - alpha * grad_W L_support(W)``, repeated
  ``inner_steps`` times (plain gradient steps, step size ``inner_lr``);
* outer loop: ``W_0 <- Adam step on mean_tasks L_query(W'(W_0))``. By default
  the meta-gradient is exact (second order: it differentiates through the
  inner steps); ``first_order=True`` drops the second-order terms (FOMAML).

Both loops are written with ``torch.func`` (``functional_call`` and nested
``grad``), so the model is never copied per task.

Section 3.4, step 1, initialises the DBA-K-Means centres with "meta-cluster
centres" taken during this stage; :func:`meta_cluster_centres` produces them in
the space of the clients' last-layer weights (eq. 6), see its notes.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn
from torch.func import functional_call, grad, grad_and_value
from tqdm.auto import tqdm

from fmltc_core.models import DEFAULT_KL_WEIGHT
from fmltc_core.training import PerSampleLoss, to_tensors

logger = logging.getLogger(__name__)

_PREFIX = "model."


@dataclass
class Task:
    """One meta-learning task: a support set and a query set from one group.

    Attributes
    ----------
    name : str
        The group value the task was built from.
    support_x, query_x : torch.Tensor of float32
        Shapes (support_size, d) and (query_size, d).
    support_y, query_y : torch.Tensor, int64
    """

    name: str
    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor


@dataclass
class MetaTrainingResult:
    """Curves of :func:`meta_train`, one entry per meta step.

    Attributes
    ----------
    meta_losses : numpy.ndarray of shape (meta_steps,)
        The MAML objective: mean over the step's tasks of the query loss after
        inner adaptation (training mode, with VAE noise).
    query_losses : numpy.ndarray of shape (meta_steps,)
        The same post-adaptation query loss evaluated in eval mode (latent
        mean, no noise).
    query_accuracies : numpy.ndarray of shape (meta_steps,)
        Post-adaptation accuracy on the query sets (eval mode).
    first_order : bool
        Whether the first-order approximation was used.
    seconds : float
        Wall-clock duration.
    """

    meta_losses: np.ndarray
    query_losses: np.ndarray
    query_accuracies: np.ndarray
    first_order: bool
    seconds: float


# ---------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------


def _balanced_take(
    rows_by_class: dict[int, list[int]], size: int, rng: np.random.Generator
) -> list[int]:
    """Take ``size`` rows, as evenly spread over the classes as availability allows.

    Rows are removed from ``rows_by_class`` (already shuffled lists).
    """
    taken: list[int] = []
    classes = [c for c in rows_by_class if rows_by_class[c]]
    while len(taken) < size and classes:
        rng.shuffle(classes)
        for label in list(classes):
            if len(taken) == size:
                break
            taken.append(rows_by_class[label].pop())
            if not rows_by_class[label]:
                classes.remove(label)
    return taken


def make_tasks(
    X,
    y,
    groups,
    *,
    support_size: int,
    query_size: int,
    rng: np.random.Generator,
    min_classes: int = 2,
) -> list[Task]:
    """Build one MAML task per group of the (public) training data.

    Parameters
    ----------
    X : array-like of shape (n, d), float32
    y : array-like of shape (n,), int64
    groups : array-like of shape (n,)
        Group of each row (capture day, attack family, site, ...); one task per
        distinct value.
    support_size, query_size : int
        Rows in the support and query sets of each task (disjoint).
    rng : numpy.random.Generator
        Source of randomness of the split.
    min_classes : int, default 2
        Groups with fewer distinct labels are skipped (logged at INFO). With
        the default, a group holding one class only (e.g. an attack family
        without benign traffic) makes no task: adapting to it would only teach
        "predict that class". Pass ``min_classes=1`` to keep such groups; for
        attack-family groups the caller can instead add benign rows to each
        group.

    Returns
    -------
    list of Task
        In the order of the sorted group values. Groups with fewer than
        ``support_size + query_size`` rows are skipped (logged at INFO).

    Notes
    -----
    Support and query sets are each drawn as evenly across the group's classes
    as the class counts allow (an N-way K-shot style episode), so that the
    heavily imbalanced intrusion data still gives every class weight in the
    inner and outer losses.
    """
    X, y = to_tensors(X, y)
    groups = np.asarray(groups)
    if groups.shape != (X.shape[0],):
        raise ValueError(f"groups must have shape ({X.shape[0]},), got {groups.shape}")
    for name, value in (
        ("support_size", support_size),
        ("query_size", query_size),
        ("min_classes", min_classes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")

    labels = y.numpy()
    tasks: list[Task] = []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        group_classes = np.unique(labels[rows])
        if group_classes.size < min_classes:
            logger.info(
                "group %r skipped: %d class(es) < min_classes=%d",
                group,
                group_classes.size,
                min_classes,
            )
            continue
        if rows.size < support_size + query_size:
            logger.info(
                "group %r skipped: %d rows < support_size + query_size = %d",
                group,
                rows.size,
                support_size + query_size,
            )
            continue

        # Shuffled rows of each class, then balanced support and query draws.
        rows_by_class = {
            int(label): list(rng.permutation(rows[labels[rows] == label]))
            for label in group_classes
        }
        support = np.asarray(_balanced_take(rows_by_class, support_size, rng))
        query = np.asarray(_balanced_take(rows_by_class, query_size, rng))
        tasks.append(
            Task(
                name=str(group),
                support_x=X[support],
                support_y=y[support],
                query_x=X[query],
                query_y=y[query],
            )
        )
    if not tasks:
        raise ValueError(
            "groups must yield at least one task, got none (every group has too "
            "few rows or classes)"
        )
    return tasks


# ---------------------------------------------------------------------------
# Functional inner loop
# ---------------------------------------------------------------------------


class _Functional:
    """The model's loss as a function of a parameter dict (``torch.func``)."""

    def __init__(self, model: nn.Module, kl_weight: float):
        self.model = model
        self.wrapper = PerSampleLoss(model, kl_weight=kl_weight)
        self.trainable_names = [
            name for name, p in self.wrapper.named_parameters() if p.requires_grad
        ]
        self.frozen = {
            name: p.detach()
            for name, p in self.wrapper.named_parameters()
            if not p.requires_grad
        }
        self.buffers = {name: b.detach() for name, b in self.wrapper.named_buffers()}

    def parameters(self) -> dict[str, torch.Tensor]:
        """Detached current trainable parameters, keyed for the wrapper."""
        named = dict(self.wrapper.named_parameters())
        return {name: named[name].detach() for name in self.trainable_names}

    def loss(self, params, x, y, generator=None) -> torch.Tensor:
        return functional_call(
            self.wrapper,
            (params, self.frozen, self.buffers),
            (x, y),
            {"generator": generator},
        ).mean()

    def logits(self, params, x) -> torch.Tensor:
        stripped = {name[len(_PREFIX) :]: value for name, value in params.items()}
        frozen = {name[len(_PREFIX) :]: v for name, v in self.frozen.items()}
        buffers = {name[len(_PREFIX) :]: v for name, v in self.buffers.items()}
        return functional_call(self.model, (stripped, frozen, buffers), (x,))

    def adapt(self, params, x, y, *, steps: int, lr: float, generator):
        """``steps`` plain gradient steps ``W <- W - lr * grad L_support(W)``."""
        loss_gradient: Callable = grad(self.loss)
        for _ in range(steps):
            gradients = loss_gradient(params, x, y, generator)
            params = {name: params[name] - lr * gradients[name] for name in params}
        return params


def _check_nonnegative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def _check_positive_float(value, name: str) -> float:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _task_meta_gradient(
    functional: _Functional,
    params: dict[str, torch.Tensor],
    task: Task,
    *,
    inner_steps: int,
    inner_lr: float,
    first_order: bool,
    generator: torch.Generator | None,
):
    """Meta-gradient, query loss and adapted parameters of one task."""
    if first_order:
        # FOMAML: the query gradient at the adapted point, inner steps detached.
        adapted = functional.adapt(
            params,
            task.support_x,
            task.support_y,
            steps=inner_steps,
            lr=inner_lr,
            generator=generator,
        )
        adapted = {name: value.detach() for name, value in adapted.items()}
        gradients, query_loss = grad_and_value(functional.loss)(
            adapted, task.query_x, task.query_y, generator
        )
        return gradients, query_loss.detach(), adapted

    def query_objective(initial):
        adapted = functional.adapt(
            initial,
            task.support_x,
            task.support_y,
            steps=inner_steps,
            lr=inner_lr,
            generator=generator,
        )
        loss = functional.loss(adapted, task.query_x, task.query_y, generator)
        return loss, {name: value.detach() for name, value in adapted.items()}

    # Second order: differentiate through the inner steps (nested torch.func.grad).
    gradients, (query_loss, adapted) = grad_and_value(query_objective, has_aux=True)(
        params
    )
    return gradients, query_loss.detach(), adapted


def meta_gradient(
    model: nn.Module,
    task: Task,
    *,
    inner_steps: int,
    inner_lr: float,
    first_order: bool = False,
    kl_weight: float = DEFAULT_KL_WEIGHT,
    generator: torch.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], float]:
    """MAML meta-gradient of one task at the model's current parameters.

    ``grad_{W_0} L_query(W'(W_0))`` with ``W'`` the result of ``inner_steps``
    gradient steps of size ``inner_lr`` on the support set; with
    ``first_order=True`` the Jacobian of ``W'`` is replaced by the identity.
    Uses the model in its current mode (train mode draws VAE noise from
    ``generator``).

    Returns
    -------
    gradients : dict of str to torch.Tensor
        Keyed by the model's parameter names.
    query_loss : float
        The post-adaptation query loss.
    """
    inner_steps = _check_nonnegative_int(inner_steps, "inner_steps")
    inner_lr = _check_positive_float(inner_lr, "inner_lr")
    functional = _Functional(model, kl_weight)
    gradients, query_loss, _ = _task_meta_gradient(
        functional,
        functional.parameters(),
        task,
        inner_steps=inner_steps,
        inner_lr=inner_lr,
        first_order=first_order,
        generator=generator,
    )
    stripped = {name[len(_PREFIX) :]: value for name, value in gradients.items()}
    return stripped, float(query_loss)


# ---------------------------------------------------------------------------
# Meta-training
# ---------------------------------------------------------------------------


def meta_train(
    model: nn.Module,
    tasks: list[Task],
    *,
    meta_steps: int,
    tasks_per_step: int,
    inner_steps: int,
    inner_lr: float,
    meta_lr: float,
    first_order: bool = False,
    kl_weight: float = DEFAULT_KL_WEIGHT,
    seed: int = 0,
    progress: bool = True,
) -> MetaTrainingResult:
    """Optimise ``model``'s parameters (``W_0``) with MAML, in place.

    Parameters
    ----------
    model : nn.Module
        Usually a :class:`~fmltc_core.models.Detector`; its parameters become
        ``W_0``.
    tasks : list of Task
        From :func:`make_tasks`.
    meta_steps : int
        Number of outer (meta) updates.
    tasks_per_step : int
        Tasks per meta-batch, drawn without replacement at each step.
    inner_steps : int
        Gradient steps of the inner adaptation on each support set (>= 1).
    inner_lr : float
        Inner step size ``alpha``.
    meta_lr : float
        Learning rate of the outer Adam optimiser (``beta``).
    first_order : bool, default False
        Use the first-order approximation (no differentiation through the
        inner steps).
    kl_weight : float
        KL weight of the Detector loss.
    seed : int, default 0
        Seed of the task draws and the VAE noise.
    progress : bool, default True
        Show a tqdm bar.

    Returns
    -------
    MetaTrainingResult
    """
    meta_steps = _check_nonnegative_int(meta_steps, "meta_steps")
    inner_steps = _check_nonnegative_int(inner_steps, "inner_steps")
    if inner_steps < 1:
        raise ValueError(f"inner_steps must be >= 1, got {inner_steps}")
    if not tasks:
        raise ValueError("tasks must be a non-empty list, got an empty list")
    if (
        isinstance(tasks_per_step, bool)
        or not isinstance(tasks_per_step, int)
        or not 1 <= tasks_per_step <= len(tasks)
    ):
        raise ValueError(
            f"tasks_per_step must be an integer in [1, {len(tasks)}] (the number of "
            f"tasks), got {tasks_per_step!r}"
        )
    inner_lr = _check_positive_float(inner_lr, "inner_lr")
    meta_lr = _check_positive_float(meta_lr, "meta_lr")

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(int(seed))
    functional = _Functional(model, kl_weight)
    named = dict(functional.wrapper.named_parameters())
    trainable = [named[name] for name in functional.trainable_names]
    optimizer = torch.optim.Adam(trainable, lr=meta_lr)
    was_training = model.training

    meta_losses = np.empty(meta_steps)
    query_losses = np.empty(meta_steps)
    query_accuracies = np.empty(meta_steps)
    bar = tqdm(range(meta_steps), desc="MAML", disable=not progress)
    for step in bar:
        chosen = rng.choice(len(tasks), size=tasks_per_step, replace=False)
        params = functional.parameters()
        summed = {name: torch.zeros_like(value) for name, value in params.items()}
        step_losses, step_eval_losses, step_accuracies = [], [], []

        for task_index in chosen:
            task = tasks[task_index]

            # Meta-gradient of this task's post-adaptation query loss.
            model.train()
            gradients, query_loss, adapted = _task_meta_gradient(
                functional,
                params,
                task,
                inner_steps=inner_steps,
                inner_lr=inner_lr,
                first_order=first_order,
                generator=generator,
            )
            for name in summed:
                summed[name] += gradients[name]
            step_losses.append(float(query_loss))

            # Eval-mode score of the adapted parameters on the query set.
            model.eval()
            with torch.no_grad():
                step_eval_losses.append(
                    float(functional.loss(adapted, task.query_x, task.query_y))
                )
                predictions = functional.logits(adapted, task.query_x).argmax(dim=1)
                step_accuracies.append(
                    float((predictions == task.query_y).float().mean())
                )

        # Outer Adam step on the mean meta-gradient.
        optimizer.zero_grad(set_to_none=True)
        for parameter, name in zip(trainable, functional.trainable_names, strict=True):
            parameter.grad = summed[name] / len(chosen)
        optimizer.step()

        meta_losses[step] = np.mean(step_losses)
        query_losses[step] = np.mean(step_eval_losses)
        query_accuracies[step] = np.mean(step_accuracies)
        bar.set_postfix(meta_loss=f"{meta_losses[step]:.4f}")

    model.train(was_training)
    seconds = time.perf_counter() - start
    if meta_steps:
        logger.info(
            "MAML: %d meta steps (%s order), meta loss %.4f -> %.4f, %.1f s",
            meta_steps,
            "first" if first_order else "second",
            meta_losses[0],
            meta_losses[-1],
            seconds,
        )
    return MetaTrainingResult(
        meta_losses=meta_losses,
        query_losses=query_losses,
        query_accuracies=query_accuracies,
        first_order=bool(first_order),
        seconds=seconds,
    )


# ---------------------------------------------------------------------------
# Adaptation and meta-cluster centres
# ---------------------------------------------------------------------------


def adapt(
    model: nn.Module,
    X,
    y,
    *,
    steps: int,
    lr: float,
    kl_weight: float = DEFAULT_KL_WEIGHT,
    seed: int = 0,
) -> nn.Module:
    """Fine-tune a copy of ``model`` (``W_0``) on ``(X, y)``; ``model`` is unchanged.

    The adaptation is the MAML inner loop itself: ``steps`` full-batch gradient
    steps ``W <- W - lr * grad L(W)`` in training mode, so that it matches what
    :func:`meta_train` optimised ``W_0`` for (use the same ``steps`` and ``lr``
    as ``inner_steps`` and ``inner_lr``).

    Returns
    -------
    nn.Module
        The adapted copy, in eval mode.
    """
    steps = _check_nonnegative_int(steps, "steps")
    lr = _check_positive_float(lr, "lr")
    X, y = to_tensors(X, y, n_features=getattr(model, "n_features", None))
    adapted_model = copy.deepcopy(model)
    adapted_model.train()
    functional = _Functional(adapted_model, kl_weight)
    generator = torch.Generator().manual_seed(int(seed))
    params = functional.adapt(
        functional.parameters(), X, y, steps=steps, lr=lr, generator=generator
    )
    named = dict(functional.wrapper.named_parameters())
    with torch.no_grad():
        for name, value in params.items():
            named[name].copy_(value)
    adapted_model.eval()
    return adapted_model


def meta_cluster_centres(
    model: nn.Module,
    tasks: list[Task],
    *,
    n_centres: int,
    inner_steps: int,
    inner_lr: float,
    kl_weight: float = DEFAULT_KL_WEIGHT,
    seed: int = 0,
) -> np.ndarray:
    """Meta-cluster centres for the DBA-K-Means initialisation (section 3.4, step 1).

    Each task's copy of ``W_0`` is adapted on its support set (:func:`adapt`),
    the adapted last-layer matrix ``W`` of eq. 6 (M x R) is flattened row by
    row, and the task vectors are reduced to ``n_centres`` centres with
    scikit-learn ``KMeans`` (``n_init=10``, ``random_state=seed``).

    Parameters
    ----------
    model : nn.Module
        The meta-trained model (``W_0``), with ``last_layer_weights()``.
    tasks : list of Task
    n_centres : int
        Number of centres, ``1 <= n_centres <= len(tasks)``.
    inner_steps, inner_lr : int, float
        Adaptation steps and step size (those of :func:`meta_train`).
    kl_weight : float
    seed : int, default 0

    Returns
    -------
    numpy.ndarray of shape (n_centres, M * R)

    Notes
    -----
    The paper says the centres are "encoder output feature vectors" extracted
    while training the MAML model. Encoder outputs live in the latent space of
    the data, whereas the objects clustered in eqs. 6-14 are the clients'
    last-layer weight matrices (eq. 6, then PCA, eq. 8). Centres must live in
    the space of the objects they initialise, so this implementation reads
    them as the last-layer weights of ``W_0`` adapted to each meta-training
    task: what a client with that task's data would upload. The caller
    projects them with the same PCA as the clients' features.
    """
    if not tasks:
        raise ValueError("tasks must be a non-empty list, got an empty list")
    if (
        isinstance(n_centres, bool)
        or not isinstance(n_centres, int)
        or not 1 <= n_centres <= len(tasks)
    ):
        raise ValueError(
            f"n_centres must be an integer in [1, {len(tasks)}] (the number of "
            f"tasks), got {n_centres!r}"
        )
    vectors = []
    for index, task in enumerate(tasks):
        adapted = adapt(
            model,
            task.support_x,
            task.support_y,
            steps=inner_steps,
            lr=inner_lr,
            kl_weight=kl_weight,
            seed=seed + index,
        )
        vectors.append(adapted.last_layer_weights().reshape(-1))
    features = np.stack(vectors).astype(np.float64)
    kmeans = KMeans(n_clusters=n_centres, n_init=10, random_state=seed)
    kmeans.fit(features)
    return kmeans.cluster_centers_
