"""The five federated methods as pluggable client and server pieces.

Every method runs through the same round loop (:mod:`fmltc_core.federated.engine`)
and the same Flower App (:mod:`fmltc_core.flower_app`); a method only supplies

* ``build_model``: the network a client trains,
* ``client_update``: one client's local training on its subset ``D_r``,
* ``predict``: how a trained model labels flows (argmax, or a threshold),
* ``create_server``: the server state that aggregates uploads and decides
  which model each client receives next round.

How each follows its paper
--------------------------
FedAvg (McMahan et al. 2017)
    Uniform minibatches of a fixed size, Adam, sample-weighted averaging.
FedProx (Li et al. 2020)
    FedAvg plus the proximal term ``mu/2 ||w - w_global||^2`` in local training.
Fed-ANIDS (Idrissi et al. 2023)
    A federated autoencoder trained on benign rows only; a flow is an attack
    when its reconstruction error exceeds a threshold. Each client proposes the
    ``threshold_quantile`` quantile of its benign training errors; the server
    averages thresholds with the same sample weights as the models.
SSFL (Zhao et al. 2022), reading used here
    Clients hold mostly unlabelled traffic: only a ``labelled_fraction`` of each
    client's rows keep their label. Local training minimises cross-entropy on
    the labelled rows plus a distillation term, the KL divergence from the
    received global model's softened predictions (temperature ``T``) on the
    unlabelled rows. The server averages the models and fine-tunes the average
    on its small labelled set (the public hold-out) when it has one. The
    original method distils on a shared open unlabelled set; the per-client
    distillation here keeps raw data on the clients (documented difference).
FMLTC-IDS (this paper)
    Starts from the MAML-pretrained ``W0``; local training with the adaptive
    batch size of eq. 1 and gradient-weighted sampling of eqs. 2-5; the server
    reads the last layer of every upload (eq. 6), reduces it by PCA (eqs. 7-8),
    keeps a sliding window of rounds (eq. 10), clusters clients with
    gradient-weighted DTW and weighted DBA K-Means (eqs. 9, 11-13), picks K by
    the elbow (eq. 14) and runs FedAvg inside each cluster. Each client then
    receives its cluster's model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from fmltc_core.clustering.features import FeatureHistory
from fmltc_core.clustering.kmeans import (
    GradientWeightedDBAKMeans,
    initial_centroids_from_meta,
    select_n_clusters,
)
from fmltc_core.federated.aggregation import clustered_fedavg, fedavg
from fmltc_core.models import Autoencoder, Detector
from fmltc_core.training import local_update, predict

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]

METHODS = ("fmltc", "fedavg", "fedprox", "fed_anids", "ssfl")
METHOD_LABELS = {
    "fmltc": "FMLTC-IDS",
    "fedavg": "FedAvg",
    "fedprox": "FedProx",
    "fed_anids": "Fed-ANIDS",
    "ssfl": "SSFL",
}


@dataclass
class FederatedConfig:
    """Every setting of a federated run (saved with its results).

    Attributes
    ----------
    rounds : int
        Communication rounds; round ``r`` trains on subset ``D_r`` (the last
        subset is reused when there are more rounds than subsets).
    fraction_fit : float
        Share of clients sampled per round (at least one).
    local_epochs : int
        Passes over the round's local data. With the default budget (5 passes,
        lr 1e-2) FedAvg from a random initialisation is not under-trained on
        the simulator: at 2 passes and lr 3e-3 it ended at accuracy 0.78 and
        recall 0.29 (seed 0, alpha 1), at 5 passes and lr 1e-2 at 0.85 and 0.55.
        Every method gets the same budget.
    lr, lr_decay : float
        Adam learning rate and its per-step exponential decay.
    batch_size : int
        Fixed batch of the baselines (and of the RQ1 fixed-batch ablations).
    batch_policy : {"adaptive", "fixed", "random"}
        FMLTC-IDS's batch size: eq. 1, ``batch_size``, or uniform in
        ``[batch_size_min, batch_size_max]`` each round (RQ1 baseline 3).
    gradient_weighted : bool
        FMLTC-IDS's sampling by eqs. 2-5 (False: uniform minibatches).
    batch_size_min, batch_size_max : int
        ``B_min`` and ``B_max`` of eq. 1.
    control_factor : float
        ``c`` of eq. 1.
    resource_low, resource_high : float
        Each client's resource score ``R_i`` is drawn once, uniformly in this
        range (0 < R_i < 10), seeded; it stands in for the device's compute.
    proximal_mu : float
        FedProx ``mu``.
    clustering : {"time_series", "static", "none"}
        FMLTC-IDS's server: DTW/DBA clustering of the windowed series, K-Means
        on the latest static features (RQ3 control), or plain FedAvg.
    cluster_window : int
        Rounds in the sliding window of eq. 10.
    max_clusters : int
        Largest K tried by the elbow search.
    n_clusters : int or None
        A fixed K instead of the elbow search.
    threshold_quantile : float
        Fed-ANIDS: quantile of benign reconstruction errors used as threshold.
    labelled_fraction, distillation_temperature, distillation_weight : float
        SSFL: share of labelled rows, softmax temperature, weight of the KL term.
    server_finetune_steps : int
        SSFL: Adam steps of the server on its labelled set per round.
    hidden, latent : model sizes of the Detector.
    convergence_tolerance : float
        Band of :func:`~fmltc_core.federated.metrics.convergence_round`.
    seed : int
        Seeds client sampling, resource scores, model initialisation and
        every local update.
    """

    rounds: int = 10
    fraction_fit: float = 1.0
    local_epochs: int = 5
    lr: float = 1e-2
    lr_decay: float = 0.995
    batch_size: int = 32
    batch_policy: str = "adaptive"
    gradient_weighted: bool = True
    batch_size_min: int = 16
    batch_size_max: int = 128
    control_factor: float = 8.0
    resource_low: float = 1.0
    resource_high: float = 9.0
    proximal_mu: float = 0.01
    clustering: str = "time_series"
    cluster_window: int = 5
    max_clusters: int = 5
    n_clusters: int | None = None
    threshold_quantile: float = 0.95
    labelled_fraction: float = 0.1
    distillation_temperature: float = 2.0
    distillation_weight: float = 1.0
    server_finetune_steps: int = 20
    hidden: tuple[int, ...] = (64, 32)
    latent: int = 16
    convergence_tolerance: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if not 0 < self.fraction_fit <= 1:
            raise ValueError(f"fraction_fit must be in (0, 1], got {self.fraction_fit}")
        if self.batch_policy not in ("adaptive", "fixed", "random"):
            raise ValueError(
                "batch_policy must be 'adaptive', 'fixed' or 'random', "
                f"got {self.batch_policy!r}"
            )
        if self.clustering not in ("time_series", "static", "none"):
            raise ValueError(
                "clustering must be 'time_series', 'static' or 'none', "
                f"got {self.clustering!r}"
            )
        if not 0 < self.resource_low <= self.resource_high < 10:
            raise ValueError(
                "resource scores need 0 < resource_low <= resource_high < 10, got "
                f"{self.resource_low} and {self.resource_high}"
            )
        self.hidden = tuple(int(h) for h in self.hidden)


@dataclass
class ClientUpdate:
    """What one client uploads after local training."""

    arrays: Arrays
    num_examples: int
    batch_size: int = 0
    steps: int = 0
    seconds: float = 0.0
    loss: float = float("nan")
    grad_norm_mean: float = 0.0
    grad_norm_var: float = 0.0
    grad_norm_series: np.ndarray = field(default_factory=lambda: np.zeros(0))
    threshold: float | None = None

    def metrics(self) -> dict[str, float]:
        """Scalar metrics (what a Flower ``MetricRecord`` carries)."""
        values = {
            "num-examples": int(self.num_examples),
            "batch_size": int(self.batch_size),
            "steps": int(self.steps),
            "seconds": float(self.seconds),
            "loss": float(self.loss),
            "grad_norm_mean": float(self.grad_norm_mean),
            "grad_norm_var": float(self.grad_norm_var),
        }
        if self.threshold is not None:
            values["threshold"] = float(self.threshold)
        return values


def state_to_arrays(model: torch.nn.Module) -> Arrays:
    """The model's state as float numpy arrays (copies)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_arrays(model: torch.nn.Module, arrays: Arrays) -> torch.nn.Module:
    """Load numpy ``arrays`` into ``model`` (strict) and return it."""
    state = {k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()}
    model.load_state_dict(state, strict=True)
    return model


def resource_scores(n_clients: int, config: FederatedConfig) -> np.ndarray:
    """Seeded resource scores ``R_i`` of eq. 1, one per client."""
    rng = np.random.default_rng([config.seed, 7919])
    return rng.uniform(config.resource_low, config.resource_high, size=n_clients)


def _round_seed(config: FederatedConfig, client_id: int, server_round: int) -> int:
    sequence = np.random.SeedSequence([config.seed, client_id + 1, server_round])
    return int(sequence.generate_state(1)[0] % 2**31)


# ---------------------------------------------------------------------------
# Methods: client side
# ---------------------------------------------------------------------------


class Method:
    """Base: a Detector trained with uniform minibatches (FedAvg)."""

    name = "fedavg"
    uses_pretrained_init = False

    def build_model(self, n_features: int, n_classes: int, config: FederatedConfig):
        return Detector(
            n_features,
            n_classes,
            hidden=config.hidden,
            latent=config.latent,
            seed=config.seed,
        )

    def local_options(
        self, config: FederatedConfig, client_id: int, server_round: int, n_clients: int
    ) -> dict:
        return {
            "batch_size": config.batch_size,
            "gradient_weighted": False,
            "proximal_mu": 0.0,
        }

    def client_update(
        self,
        model,
        X: np.ndarray,
        y: np.ndarray,
        *,
        client_id: int,
        server_round: int,
        n_clients: int,
        config: FederatedConfig,
    ) -> ClientUpdate:
        """Train ``model`` (holding the received arrays) on ``(X, y)``."""
        if len(y) == 0:
            return ClientUpdate(arrays=state_to_arrays(model), num_examples=0)
        options = self.local_options(config, client_id, server_round, n_clients)
        result = local_update(
            model,
            X,
            y,
            epochs=config.local_epochs,
            lr=config.lr,
            lr_decay=config.lr_decay,
            batch_size_min=config.batch_size_min,
            batch_size_max=config.batch_size_max,
            seed=_round_seed(config, client_id, server_round),
            **options,
        )
        return ClientUpdate(
            arrays={k: v.numpy().copy() for k, v in result.state.items()},
            num_examples=result.num_examples,
            batch_size=result.batch_size,
            steps=result.steps,
            seconds=result.seconds,
            loss=float(np.mean(result.losses)) if len(result.losses) else float("nan"),
            grad_norm_mean=result.grad_norm_mean,
            grad_norm_var=result.grad_norm_var,
            grad_norm_series=np.asarray(result.grad_norm_series),
        )

    def predict(
        self, model, X: np.ndarray, threshold: float | None = None
    ) -> np.ndarray:
        return predict(model, X)

    def create_server(self, initial: Arrays, config: FederatedConfig, **context):
        return AveragingServer(initial)


class FedProx(Method):
    name = "fedprox"

    def local_options(self, config, client_id, server_round, n_clients):
        options = super().local_options(config, client_id, server_round, n_clients)
        options["proximal_mu"] = config.proximal_mu
        return options


class Fmltc(Method):
    """FMLTC-IDS: eq. 1 batches, eqs. 2-5 sampling, clustered aggregation."""

    name = "fmltc"
    uses_pretrained_init = True

    def local_options(self, config, client_id, server_round, n_clients):
        options = {"gradient_weighted": config.gradient_weighted, "proximal_mu": 0.0}
        if config.batch_policy == "adaptive":
            options.update(
                batch_size=None,
                resource_score=float(resource_scores(n_clients, config)[client_id]),
                control_factor=config.control_factor,
            )
        elif config.batch_policy == "fixed":
            options["batch_size"] = config.batch_size
        else:
            rng = np.random.default_rng(_round_seed(config, client_id, server_round))
            options["batch_size"] = int(
                rng.integers(config.batch_size_min, config.batch_size_max + 1)
            )
        return options

    def create_server(self, initial, config, **context):
        if config.clustering == "none":
            return AveragingServer(initial)
        return ClusteringServer(
            initial, config, meta_centres=context.get("meta_centres")
        )


class FedAnids(Method):
    """Fed-ANIDS: federated autoencoder on benign traffic, error threshold."""

    name = "fed_anids"

    def build_model(self, n_features, n_classes, config):
        return Autoencoder(n_features, seed=config.seed)

    def client_update(self, model, X, y, *, client_id, server_round, n_clients, config):
        benign = np.asarray(y) == 0
        if benign.sum() < 2:
            logger.info(
                "Fed-ANIDS client %d round %d: %d benign rows, skipped",
                client_id,
                server_round,
                int(benign.sum()),
            )
            return ClientUpdate(arrays=state_to_arrays(model), num_examples=0)
        update = super().client_update(
            model,
            X[benign],
            y[benign],
            client_id=client_id,
            server_round=server_round,
            n_clients=n_clients,
            config=config,
        )
        with torch.no_grad():
            model.eval()
            errors = model.reconstruction_error(torch.as_tensor(X[benign])).numpy()
        update.threshold = float(np.quantile(errors, config.threshold_quantile))
        return update

    def predict(self, model, X, threshold=None):
        if threshold is None:
            raise ValueError("Fed-ANIDS needs the aggregated threshold to predict")
        with torch.no_grad():
            model.eval()
            errors = model.reconstruction_error(torch.as_tensor(X)).numpy()
        return (errors > threshold).astype(np.int64)

    def create_server(self, initial, config, **context):
        return AveragingServer(initial, threshold=float("inf"))


class Ssfl(Method):
    """SSFL: labelled fraction + distillation from the global model."""

    name = "ssfl"

    def client_update(self, model, X, y, *, client_id, server_round, n_clients, config):
        n_rows = len(y)
        if n_rows == 0:
            return ClientUpdate(arrays=state_to_arrays(model), num_examples=0)
        start = time.perf_counter()
        seed = _round_seed(config, client_id, server_round)
        rng = np.random.default_rng(seed)
        labelled = rng.random(n_rows) < config.labelled_fraction
        if not labelled.any():
            labelled[rng.integers(n_rows)] = True
        teacher = self.build_model(model.n_features, model.n_classes, config)
        teacher.load_state_dict(model.state_dict())
        teacher.eval()
        X_t = torch.as_tensor(X)
        y_t = torch.as_tensor(y)
        with torch.no_grad():
            soft_targets = F.softmax(
                teacher(X_t) / config.distillation_temperature, dim=1
            )
        generator = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, config.lr_decay)
        labelled_t = torch.as_tensor(labelled)
        batch = min(config.batch_size, n_rows)
        steps = config.local_epochs * int(np.ceil(n_rows / batch))
        losses = []
        model.train()
        for _ in range(steps):
            index = torch.randperm(n_rows, generator=generator)[:batch]
            logits = model(X_t[index], generator=generator)
            mask = labelled_t[index]
            loss = torch.zeros(())
            if mask.any():
                loss = loss + F.cross_entropy(logits[mask], y_t[index][mask])
            if (~mask).any():
                temperature = config.distillation_temperature
                log_student = F.log_softmax(logits[~mask] / temperature, dim=1)
                loss = loss + config.distillation_weight * temperature**2 * F.kl_div(
                    log_student, soft_targets[index][~mask], reduction="batchmean"
                )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        model.eval()
        return ClientUpdate(
            arrays=state_to_arrays(model),
            num_examples=n_rows,
            batch_size=batch,
            steps=steps,
            seconds=time.perf_counter() - start,
            loss=float(np.mean(losses)),
        )

    def create_server(self, initial, config, **context):
        labelled = context.get("server_labelled")
        return DistillingServer(initial, config, labelled, method=self)


METHOD_CLASSES = {cls.name: cls for cls in (Method, FedProx, Fmltc, FedAnids, Ssfl)}


def get_method(name: str) -> Method:
    """The method called ``name`` (one of :data:`METHODS`)."""
    if name not in METHOD_CLASSES:
        raise ValueError(f"method must be one of {METHODS}, got {name!r}")
    return METHOD_CLASSES[name]()


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def _aggregate_uploads(updates: dict[int, ClientUpdate]):
    usable = {cid: u for cid, u in updates.items() if u.num_examples > 0}
    skipped = sorted(set(updates) - set(usable))
    if skipped:
        logger.info(
            "clients %s uploaded no training rows and are not averaged", skipped
        )
    return usable


class AveragingServer:
    """One global model, FedAvg of the uploads (FedAvg, FedProx, Fed-ANIDS)."""

    def __init__(self, initial: Arrays, *, threshold: float | None = None) -> None:
        self.global_arrays = {k: np.array(v, copy=True) for k, v in initial.items()}
        self.threshold = threshold
        self.n_clusters = 1

    def arrays_for(self, client_id: int) -> Arrays:
        return self.global_arrays

    def threshold_for(self, client_id: int) -> float | None:
        return self.threshold

    def aggregate(self, server_round: int, updates: dict[int, ClientUpdate]) -> dict:
        usable = _aggregate_uploads(updates)
        if not usable:
            logger.warning("round %d: no usable uploads, model unchanged", server_round)
            return {"n_clusters": self.n_clusters}
        weights = [u.num_examples for u in usable.values()]
        self.global_arrays = fedavg([u.arrays for u in usable.values()], weights)
        thresholds = [u.threshold for u in usable.values()]
        if all(t is not None for t in thresholds):
            self.threshold = float(np.average(thresholds, weights=weights))
        return {"n_clusters": 1}


class DistillingServer(AveragingServer):
    """SSFL's server: FedAvg, then fine-tuning on a small labelled set."""

    def __init__(self, initial, config, labelled, *, method) -> None:
        super().__init__(initial)
        self.config = config
        self.labelled = labelled
        self.method = method
        if labelled is None:
            logger.warning("SSFL server has no labelled set; it only averages")

    def aggregate(self, server_round, updates):
        info = super().aggregate(server_round, updates)
        if self.labelled is None or self.config.server_finetune_steps == 0:
            return info
        X, y = self.labelled
        first = next(iter(updates.values()), None)
        if first is None:
            return info
        n_features = X.shape[1]
        n_classes = int(self.global_arrays["output_layer.weight"].shape[0])
        model = load_arrays(
            self.method.build_model(n_features, n_classes, self.config),
            self.global_arrays,
        )
        local_update(
            model,
            X,
            y,
            steps=self.config.server_finetune_steps,
            lr=self.config.lr,
            batch_size=min(self.config.batch_size, len(y)),
            gradient_weighted=False,
            seed=_round_seed(self.config, -1, server_round),
        )
        self.global_arrays = state_to_arrays(model)
        return info


class ClusteringServer:
    """FMLTC-IDS's server: clustered FedAvg over time-series client features.

    Each round it records every upload's final-layer weights and gradient
    statistics (eqs. 6 and 10) in a sliding window, clusters the clients seen
    so far (time-series DTW/DBA K-Means, or static K-Means on the latest
    features for the RQ3 control), averages the uploads inside each cluster and
    gives every client its cluster's model. A client never seen yet gets the
    average of all uploads (the global model). Cluster labels are recomputed
    every round, so cluster numbers are not stable across rounds; the mapping
    from clients to models is.
    """

    def __init__(self, initial: Arrays, config: FederatedConfig, *, meta_centres=None):
        self.config = config
        self.global_arrays = {k: np.array(v, copy=True) for k, v in initial.items()}
        self.history = FeatureHistory(
            window=config.cluster_window if config.clustering == "time_series" else 1
        )
        self.meta_centres = meta_centres
        self.client_arrays: dict[int, Arrays] = {}
        self.client_cluster: dict[int, int] = {}
        self.batch_sizes: dict[int, int] = {}
        self.n_clusters = 1
        self.last_series = None
        self.sse_per_k: dict[int, float] = {}

    def arrays_for(self, client_id: int) -> Arrays:
        return self.client_arrays.get(client_id, self.global_arrays)

    def threshold_for(self, client_id: int) -> None:
        return None

    def _cluster(self, server_round: int) -> tuple[np.ndarray, np.ndarray]:
        client_series = self.history.series()
        ids = client_series.client_ids
        n_seen = len(ids)
        batch = np.array(
            [self.batch_sizes.get(int(c), self.config.batch_size_max) for c in ids],
            dtype=float,
        )
        series = client_series.series
        grad = np.maximum(client_series.grad_norms, 0.0)
        if self.config.clustering == "static":
            series = series[:, -1:, :]
            grad = grad[:, -1:]
        self.last_series = (ids, series, grad)
        if n_seen < 2:
            return ids, np.zeros(n_seen, dtype=int)
        seed = self.config.seed + server_round
        if self.config.n_clusters is not None:
            k = min(self.config.n_clusters, n_seen)
        else:
            k, self.sse_per_k = select_n_clusters(
                series,
                grad,
                batch,
                k_values=range(1, min(self.config.max_clusters, n_seen) + 1),
                seed=seed,
                batch_size_max=self.config.batch_size_max,
            )
        init = "k-means++"
        if self.meta_centres is not None and self.config.clustering == "time_series":
            init = initial_centroids_from_meta(
                self.meta_centres,
                client_series.reducer,
                series.shape[1],
                k,
                series,
                np.random.default_rng(seed),
                grad_norms=grad,
            )
        model = GradientWeightedDBAKMeans(k, init=init, seed=seed).fit(
            series, grad, batch, batch_size_max=self.config.batch_size_max
        )
        return ids, model.labels_

    def aggregate(self, server_round: int, updates: dict[int, ClientUpdate]) -> dict:
        usable = _aggregate_uploads(updates)
        if not usable:
            logger.warning(
                "round %d: no usable uploads, models unchanged", server_round
            )
            return {"n_clusters": self.n_clusters}
        ids = sorted(usable)
        weights = [usable[c].num_examples for c in ids]
        states = [usable[c].arrays for c in ids]
        for c in ids:
            self.batch_sizes[c] = usable[c].batch_size
        self.global_arrays = fedavg(states, weights)

        # eqs. 6 and 10: record last-layer weights and gradient statistics
        self.history.add_round(
            ids,
            [usable[c].arrays["output_layer.weight"].T for c in ids],
            [usable[c].grad_norm_mean for c in ids],
            [usable[c].grad_norm_var for c in ids],
        )
        seen, labels = self._cluster(server_round)
        label_of = {int(c): int(label) for c, label in zip(seen, labels, strict=True)}
        self.client_cluster = label_of

        # FedAvg inside each cluster, over this round's uploads
        upload_labels = [label_of[c] for c in ids]
        cluster_models = clustered_fedavg(states, weights, upload_labels)
        for client, label in label_of.items():
            self.client_arrays[client] = cluster_models.get(label, self.global_arrays)
        self.n_clusters = len(set(labels.tolist()))
        logger.info(
            "round %d: %d clusters over %d clients (sizes %s)",
            server_round,
            self.n_clusters,
            len(seen),
            np.bincount(labels).tolist(),
        )
        return {"n_clusters": self.n_clusters}
