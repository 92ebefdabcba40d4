"""Server-side pretraining of FMLTC-IDS: the MAML initial weights W0.

Stage (2) of the workflow (section 3.1): before federated training, the server
meta-trains the detector on public data (section 3.2) and keeps meta-cluster
centres for the clustering's initialisation (section 3.4, step 1). This
module chooses the public data and the tasks for each dataset and wraps
:mod:`fmltc_core.maml`; the algorithms themselves live there.

Which public data (the reading used here)
-----------------------------------------
* ``simulated``: an independent simulated platform (the same simulator with
  another seed, hence other sites, device mixes and attack campaigns), one
  task per site. Like the paper's use of CICIDS2017 for the private IoT data,
  it is related to the clients' traffic but not drawn from it.
* real datasets: the stratified public hold-out of the federation
  (``build_federation(public_fraction=...)``), rows never given to a client,
  one task per block of consecutive flows in time (capture) order, so that
  tasks differ the way the temporal subsets do.

The public rows go through the federation's fitted preprocessing, so ``W0``
sees inputs in the clients' feature space. When fewer than two tasks hold both
classes (e.g. the BoT-IoT sample, which has no benign rows), MAML has nothing to
meta-learn: ``W0`` is then trained by ordinary minibatch training on the public
rows, and the run says so in the log and in ``PretrainedInit.mode``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmltc_core.maml import make_tasks, meta_cluster_centres, meta_train
from fmltc_core.models import Detector
from fmltc_core.training import evaluate, local_update
from fmltc_core.weights import load_weights, save_weights

logger = logging.getLogger(__name__)

PUBLIC_SEED_OFFSET = 10_007


@dataclass
class PublicData:
    """Preprocessed public rows and the task group of each row."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    description: str


@dataclass
class PretrainedInit:
    """``W0`` and what came with it.

    Attributes
    ----------
    arrays : dict of str to numpy.ndarray
        The initial weights ``W0`` (a :class:`~fmltc_core.models.Detector`).
    meta_centres : numpy.ndarray or None
        Meta-cluster centres, shape (m, M * R), or None without tasks.
    mode : str
        ``"maml"`` or ``"supervised"`` (fallback, see module docstring).
    curves : dict
        Meta-training curves (``meta_loss``, ``query_loss``, ``query_accuracy``).
    metadata : dict
        Architecture, public data description, settings.
    """

    arrays: dict[str, np.ndarray]
    meta_centres: np.ndarray | None
    mode: str
    curves: dict[str, list[float]] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def model(self) -> Detector:
        """A Detector holding ``W0``."""
        arch = self.metadata["architecture"]
        detector = Detector(
            arch["n_features"],
            arch["n_classes"],
            hidden=arch["hidden"],
            latent=arch["latent"],
        )
        import torch

        detector.load_state_dict(
            {k: torch.as_tensor(v) for k, v in self.arrays.items()}
        )
        detector.eval()
        return detector


def public_data_for(
    dataset: str, federation, *, seed: int, n_public_flows: int = 5_000, data=None
) -> PublicData:
    """The public pretraining rows for ``dataset`` (see module docstring).

    Parameters
    ----------
    dataset : str
        ``"simulated"`` or a real dataset name.
    federation : Federation
        Its fitted preprocessor is applied to the public rows; for real data
        its public hold-out is the public data.
    seed : int
        The experiment seed (the public platform uses ``seed + 10007``).
    n_public_flows : int
        Size of the public simulated platform.
    data : FlowData, optional
        The flows the federation was built from (real datasets: needed for the
        time order of the hold-out rows).
    """
    if dataset == "simulated":
        from fmltc_core.data.simulator import simulate_iot_traffic

        public = simulate_iot_traffic(n_public_flows, seed=seed + PUBLIC_SEED_OFFSET)
        X = federation.preprocessor.transform(public.features)
        y = public.frame["is_attack"].to_numpy(dtype=np.int64)
        if federation.config.get("label_mode") == "multiclass":
            names = list(federation.class_names)
            y = public.frame["family"].map(names.index).to_numpy(dtype=np.int64)
        groups = public.frame["site"].to_numpy()
        description = (
            f"independent simulated platform ({n_public_flows} flows, seed "
            f"{seed + PUBLIC_SEED_OFFSET}), one task per site"
        )
        return PublicData(X.astype(np.float32), y, groups, description)

    if federation.public is None or len(federation.public) == 0:
        raise ValueError(
            f"dataset {dataset!r} needs a public hold-out: build the federation "
            "with public_fraction > 0"
        )
    rows = np.asarray(
        federation.config.get("public_rows", np.arange(len(federation.public)))
    )
    if data is not None and len(rows) == len(federation.public):
        frame = data.frame.iloc[rows]
        order = np.lexsort((frame["order"].to_numpy(), frame["time"].to_numpy()))
    else:
        order = np.arange(len(federation.public))
    n_blocks = 8
    groups = np.empty(len(order), dtype=np.int64)
    groups[order] = np.arange(len(order)) * n_blocks // max(len(order), 1)
    description = (
        f"{len(rows)} held-out {dataset} rows never given to a client, "
        f"{n_blocks} tasks of consecutive flows in capture order"
    )
    return PublicData(federation.public.X, federation.public.y, groups, description)


def pretrain_initial_model(
    public: PublicData,
    *,
    n_features: int,
    n_classes: int,
    hidden: tuple[int, ...] = (64, 32),
    latent: int = 16,
    seed: int = 0,
    meta_steps: int = 150,
    tasks_per_step: int = 4,
    inner_steps: int = 3,
    inner_lr: float = 0.05,
    meta_lr: float = 2e-3,
    support_size: int = 32,
    query_size: int = 32,
    first_order: bool = False,
    n_centres: int = 4,
    progress: bool = True,
) -> PretrainedInit:
    """Meta-train ``W0`` on the public data with MAML (section 3.2).

    Returns
    -------
    PretrainedInit
        ``W0``, the meta-cluster centres and the meta-training curves.
    """
    model = Detector(n_features, n_classes, hidden=hidden, latent=latent, seed=seed)
    rng = np.random.default_rng([seed, 271828])
    try:
        tasks = make_tasks(
            public.X,
            public.y,
            public.groups,
            support_size=support_size,
            query_size=query_size,
            rng=rng,
        )
    except ValueError as error:  # no group holds both classes: fallback below
        logger.info("no MAML task could be built: %s", error)
        tasks = []
    metadata = {
        "architecture": model.config(),
        "public_data": public.description,
        "n_tasks": len(tasks),
        "meta_steps": meta_steps,
        "inner_steps": inner_steps,
        "inner_lr": inner_lr,
        "meta_lr": meta_lr,
        "first_order": first_order,
        "seed": seed,
    }
    if len(tasks) < 2:
        logger.warning(
            "only %d public task(s) hold both classes: W0 is trained by plain "
            "minibatch training instead of MAML, and there are no meta-centres",
            len(tasks),
        )
        local_update(
            model,
            public.X,
            public.y,
            epochs=3,
            batch_size=64,
            gradient_weighted=False,
            seed=seed,
        )
        return PretrainedInit(
            arrays={
                k: v.detach().numpy().copy() for k, v in model.state_dict().items()
            },
            meta_centres=None,
            mode="supervised",
            metadata=metadata,
        )

    result = meta_train(
        model,
        tasks,
        meta_steps=meta_steps,
        tasks_per_step=min(tasks_per_step, len(tasks)),
        inner_steps=inner_steps,
        inner_lr=inner_lr,
        meta_lr=meta_lr,
        first_order=first_order,
        seed=seed,
        progress=progress,
    )
    centres = meta_cluster_centres(
        model,
        tasks,
        n_centres=min(n_centres, len(tasks)),
        inner_steps=inner_steps,
        inner_lr=inner_lr,
        seed=seed,
    )
    curves = {
        "meta_loss": result.meta_losses.tolist(),
        "query_loss": result.query_losses.tolist(),
        "query_accuracy": result.query_accuracies.tolist(),
    }
    logger.info(
        "MAML: %d tasks, %d meta steps in %.1f s; post-adaptation query accuracy "
        "%.3f -> %.3f",
        len(tasks),
        meta_steps,
        result.seconds,
        result.query_accuracies[0],
        result.query_accuracies[-1],
    )
    return PretrainedInit(
        arrays={k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
        meta_centres=centres,
        mode="maml",
        curves=curves,
        metadata=metadata,
    )


def round0_accuracy(init: PretrainedInit, federation) -> dict[int, float]:
    """Accuracy of ``W0`` on each client's test set before any training."""
    model = init.model()
    return {
        client.client_id: evaluate(model, client.all_test().X, client.all_test().y)[
            "accuracy"
        ]
        for client in federation.clients
    }


def save_pretrained(init: PretrainedInit, stem: str | Path) -> Path:
    """Write ``<stem>.safetensors`` (W0), ``<stem>_centres.npy``, ``<stem>.json``."""
    import torch

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    save_weights(
        {k: torch.as_tensor(v) for k, v in init.arrays.items()},
        stem.with_suffix(".safetensors"),
        metadata={"mode": init.mode},
    )
    if init.meta_centres is not None:
        np.save(stem.parent / f"{stem.name}_centres.npy", init.meta_centres)
    info = {"mode": init.mode, "curves": init.curves, "metadata": init.metadata}
    stem.with_suffix(".json").write_text(json.dumps(info, indent=2, default=str))
    logger.info("saved W0 to %s", stem.with_suffix(".safetensors"))
    return stem.with_suffix(".safetensors")


def load_pretrained(stem: str | Path) -> PretrainedInit:
    """Read what :func:`save_pretrained` wrote (safetensors, never pickle)."""
    stem = Path(stem)
    state, _ = load_weights(stem.with_suffix(".safetensors"))
    info = json.loads(stem.with_suffix(".json").read_text())
    centres_path = stem.parent / f"{stem.name}_centres.npy"
    centres = (
        np.load(centres_path, allow_pickle=False) if centres_path.exists() else None
    )
    return PretrainedInit(
        arrays={k: v.numpy().copy() for k, v in state.items()},
        meta_centres=centres,
        mode=info["mode"],
        curves=info["curves"],
        metadata=info["metadata"],
    )
