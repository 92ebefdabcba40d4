"""Tests of fmltc_core.maml: tasks, meta-gradients, meta-training, centres."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from fmltc_core.maml import (
    Task,
    adapt,
    make_tasks,
    meta_cluster_centres,
    meta_gradient,
    meta_train,
)
from fmltc_core.models import Detector
from fmltc_core.training import local_update

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rotated_tasks(n_tasks, rows_per_task, rng, n_features=2):
    """Linearly separable problems whose boundary direction differs per task."""
    X, y, groups = [], [], []
    for task in range(n_tasks):
        angle = rng.uniform(0.0, 2.0 * np.pi)
        direction = np.zeros(n_features)
        direction[:2] = np.cos(angle), np.sin(angle)
        x = rng.normal(size=(rows_per_task, n_features)).astype(np.float32)
        X.append(x)
        y.append((x @ direction > 0).astype(np.int64))
        groups.append(np.full(rows_per_task, task))
    return np.concatenate(X), np.concatenate(y), np.concatenate(groups)


# --- tasks --------------------------------------------------------------------


def test_make_tasks_builds_one_balanced_disjoint_task_per_group():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)).astype(np.float32)
    X[:, 0] = np.arange(90)  # row identity, to check disjointness
    y = np.tile([0, 0, 1], 30)
    groups = np.repeat(["a", "b", "c"], 30)
    tasks = make_tasks(X, y, groups, support_size=8, query_size=10, rng=rng)
    assert [task.name for task in tasks] == ["a", "b", "c"]
    for task in tasks:
        assert task.support_x.shape == (8, 3) and task.query_x.shape == (10, 3)
        assert not set(task.support_x[:, 0].tolist()) & set(task.query_x[:, 0].tolist())
        assert torch.bincount(task.support_y, minlength=2).tolist() == [4, 4]
        assert torch.bincount(task.query_y, minlength=2).tolist() == [5, 5]


def test_single_class_and_small_groups_are_skipped_unless_allowed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)).astype(np.float32)
    y = np.r_[np.zeros(20), np.tile([0, 1], 10), np.tile([0, 1], 5)].astype(np.int64)
    groups = np.r_[np.full(20, 0), np.full(20, 1), np.full(10, 2)]
    kept = make_tasks(X, y, groups, support_size=6, query_size=6, rng=rng)
    assert [task.name for task in kept] == ["1"]
    kept = make_tasks(
        X, y, groups, support_size=6, query_size=6, rng=rng, min_classes=1
    )
    assert [task.name for task in kept] == ["0", "1"]


# --- meta-gradient --------------------------------------------------------------


def _reference_meta_gradient(model, task, inner_steps, inner_lr):
    """Second-order MAML gradient by plain autograd (create_graph=True)."""
    names = [name for name, _ in model.named_parameters()]
    initial = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def loss(parameters, x, y):
        logits = functional_call(model, dict(zip(names, parameters, strict=True)), (x,))
        return F.cross_entropy(logits, y)

    adapted = initial
    for _ in range(inner_steps):
        gradients = torch.autograd.grad(
            loss(adapted, task.support_x, task.support_y),
            adapted,
            create_graph=True,
            allow_unused=True,
        )
        adapted = [
            p if g is None else p - inner_lr * g
            for p, g in zip(adapted, gradients, strict=True)
        ]
    query_gradients = torch.autograd.grad(
        loss(adapted, task.query_x, task.query_y), initial, allow_unused=True
    )
    return {
        name: torch.zeros_like(p) if g is None else g
        for name, p, g in zip(names, initial, query_gradients, strict=True)
    }


def test_second_order_meta_gradient_matches_autograd_and_first_order_differs():
    rng = np.random.default_rng(1)
    X, y, groups = _rotated_tasks(1, 40, rng)
    task = make_tasks(X, y, groups, support_size=16, query_size=16, rng=rng)[0]
    model = Detector(2, hidden=(8, 6), latent=3, seed=0).eval()
    reference = _reference_meta_gradient(model, task, inner_steps=2, inner_lr=0.3)

    second, _ = meta_gradient(model, task, inner_steps=2, inner_lr=0.3, kl_weight=0.0)
    first, _ = meta_gradient(
        model, task, inner_steps=2, inner_lr=0.3, kl_weight=0.0, first_order=True
    )
    for name in reference:
        torch.testing.assert_close(second[name], reference[name], rtol=1e-4, atol=1e-6)
    difference = sum(float((first[n] - second[n]).abs().sum()) for n in reference)
    assert difference > 1e-4


# --- meta-training ----------------------------------------------------------------


def _held_out_query_loss(model, tasks, inner_steps, inner_lr):
    losses = []
    for task in tasks:
        adapted = adapt(
            model, task.support_x, task.support_y, steps=inner_steps, lr=inner_lr
        )
        with torch.no_grad():
            losses.append(float(adapted.loss(task.query_x, task.query_y)))
    return float(np.mean(losses))


def test_maml_adapts_better_on_held_out_tasks_than_a_pooled_pretrained_init():
    rng = np.random.default_rng(0)
    X_train, y_train, groups_train = _rotated_tasks(24, 80, rng)
    X_test, y_test, groups_test = _rotated_tasks(12, 80, rng)
    train_tasks = make_tasks(
        X_train, y_train, groups_train, support_size=16, query_size=48, rng=rng
    )
    test_tasks = make_tasks(
        X_test, y_test, groups_test, support_size=16, query_size=48, rng=rng
    )
    architecture = {"hidden": (32, 16), "latent": 8, "seed": 0}
    meta_steps, tasks_per_step, inner_steps, inner_lr = 30, 4, 2, 0.5

    meta_model = Detector(2, **architecture)
    result = meta_train(
        meta_model,
        train_tasks,
        meta_steps=meta_steps,
        tasks_per_step=tasks_per_step,
        inner_steps=inner_steps,
        inner_lr=inner_lr,
        meta_lr=1e-2,
        seed=0,
        progress=False,
    )
    # Plain init: the same model, one Adam step per task-gradient of MAML,
    # on minibatches of the pooled training tasks.
    pooled_model = Detector(2, **architecture)
    local_update(
        pooled_model,
        X_train,
        y_train,
        steps=meta_steps * tasks_per_step,
        batch_size=64,
        lr=1e-2,
        lr_decay=1.0,
        gradient_weighted=False,
        seed=0,
    )

    assert result.meta_losses.shape == (meta_steps,)
    assert _held_out_query_loss(
        meta_model, test_tasks, inner_steps, inner_lr
    ) < _held_out_query_loss(pooled_model, test_tasks, inner_steps, inner_lr)


def test_first_order_meta_training_updates_the_model_in_place_and_records_curves():
    rng = np.random.default_rng(2)
    X, y, groups = _rotated_tasks(4, 30, rng)
    tasks = make_tasks(X, y, groups, support_size=8, query_size=8, rng=rng)
    model = Detector(2, hidden=(8, 6), latent=3, seed=0)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    result = meta_train(
        model,
        tasks,
        meta_steps=3,
        tasks_per_step=2,
        inner_steps=1,
        inner_lr=0.1,
        meta_lr=1e-2,
        first_order=True,
        progress=False,
    )
    assert result.first_order
    for curve in (result.meta_losses, result.query_losses, result.query_accuracies):
        assert curve.shape == (3,) and np.all(np.isfinite(curve))
    assert np.all((result.query_accuracies >= 0) & (result.query_accuracies <= 1))
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())


def test_tasks_per_step_above_the_number_of_tasks_raises():
    task = Task(
        "t",
        torch.zeros(2, 2),
        torch.zeros(2, dtype=torch.int64),
        torch.zeros(2, 2),
        torch.zeros(2, dtype=torch.int64),
    )
    with pytest.raises(
        ValueError, match=r"tasks_per_step must be an integer in \[1, 1\]"
    ):
        meta_train(
            Detector(2),
            [task],
            meta_steps=1,
            tasks_per_step=2,
            inner_steps=1,
            inner_lr=0.1,
            meta_lr=0.1,
            progress=False,
        )


# --- adaptation and centres ---------------------------------------------------------


def test_adapt_returns_a_fitted_copy_and_leaves_w0_unchanged():
    rng = np.random.default_rng(3)
    X, y, _ = _rotated_tasks(1, 60, rng)
    model = Detector(2, seed=0)
    before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    adapted = adapt(model, X, y, steps=20, lr=0.5, kl_weight=0.0)
    assert all(torch.equal(before[n], v) for n, v in model.state_dict().items())
    X_tensor, y_tensor = torch.as_tensor(X), torch.as_tensor(y)
    model.eval()
    with torch.no_grad():
        assert adapted.loss(X_tensor, y_tensor) < model.loss(X_tensor, y_tensor)


def test_meta_cluster_centres_live_in_the_last_layer_space():
    rng = np.random.default_rng(4)
    X, y, groups = _rotated_tasks(5, 30, rng)
    tasks = make_tasks(X, y, groups, support_size=10, query_size=10, rng=rng)
    model = Detector(2, hidden=(8, 6), latent=3, seed=0)
    centres = meta_cluster_centres(
        model, tasks, n_centres=2, inner_steps=2, inner_lr=0.3
    )
    assert centres.shape == (2, 6 * 2)

    # With one centre per task, the centres are the adapted last layers (eq. 6).
    centres = meta_cluster_centres(
        model, tasks, n_centres=5, inner_steps=2, inner_lr=0.3
    )
    vectors = np.stack(
        [
            adapt(model, t.support_x, t.support_y, steps=2, lr=0.3, seed=i)
            .last_layer_weights()
            .reshape(-1)
            for i, t in enumerate(tasks)
        ]
    )
    order = np.lexsort(centres.T[::-1])
    np.testing.assert_allclose(
        centres[order], vectors[np.lexsort(vectors.T[::-1])], rtol=1e-5, atol=1e-6
    )


def test_too_many_centres_raise():
    task = Task(
        "t",
        torch.zeros(2, 2),
        torch.zeros(2, dtype=torch.int64),
        torch.zeros(2, 2),
        torch.zeros(2, dtype=torch.int64),
    )
    with pytest.raises(ValueError, match=r"n_centres must be an integer in \[1, 1\]"):
        meta_cluster_centres(
            Detector(2), [task], n_centres=2, inner_steps=1, inner_lr=0.1
        )
