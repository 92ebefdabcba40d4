"""The in-process federated round loop shared by every method.

One loop: sample clients, let each train on its temporal subset ``D_r``
(round ``r`` uses subset ``r``, the last subset again when rounds outnumber
subsets), aggregate on the server, evaluate. Methods differ only in the pieces
of :mod:`fmltc_core.federated.methods`. The Flower App
(:mod:`fmltc_core.flower_app`) drives the same pieces over Flower's engines.

Evaluation (the reading used for every table)
---------------------------------------------
After each round, every client scores its whole test set (all subsets, rows
the client never trains on) with three models:

* the **deployed** model: the one the server would send it next (its
  cluster's model for FMLTC-IDS, the global model otherwise). The reported
  accuracy, precision, recall and F1 pool all clients' test rows, each scored
  by its own deployed model;
* the **local** model: its own model right after its local update this round
  (clients not sampled in the round keep their last local model);
* the **global** model: the sample-weighted average of all uploads.

The personalisation gain of section 4.3.3 is the mean over clients of local
minus global accuracy. Round 0 scores the initial model (the paper's round-0
accuracy).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fmltc_core.federated.evaluation import evaluate_client, pool_round
from fmltc_core.federated.methods import (
    METHOD_LABELS,
    ClientUpdate,
    FederatedConfig,
    Method,
    get_method,
    load_arrays,
    state_to_arrays,
)
from fmltc_core.federated.metrics import convergence_round

logger = logging.getLogger(__name__)


@dataclass
class FederatedRun:
    """Results of one federated run.

    Attributes
    ----------
    method : str
    config : FederatedConfig
    rounds : pandas.DataFrame
        One row per round (0 = initial model): pooled deployed-model metrics,
        mean local and global accuracy, personalisation gain, clusters, time.
    clients : pandas.DataFrame
        One row per (round, client): accuracy of the deployed, local and
        global models, cluster, batch size, gradient statistics.
    convergence_round : int
    data_description : str
        Which data the run came from (simulated or real, which dataset).
    """

    method: str
    config: FederatedConfig
    rounds: pd.DataFrame
    clients: pd.DataFrame
    convergence_round: int
    data_description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def final(self) -> pd.Series:
        """Metrics of the last round."""
        return self.rounds.iloc[-1]

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json``, ``rounds.csv`` and ``clients.csv`` to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "method": self.method,
            "config": asdict(self.config),
            "convergence_round": self.convergence_round,
            "data": self.data_description,
        }
        (folder / "config.json").write_text(json.dumps(meta, indent=2, default=str))
        self.rounds.to_csv(folder / "rounds.csv", index=False)
        self.clients.to_csv(folder / "clients.csv", index=False)
        return folder


def subset_for_round(server_round: int, n_subsets: int) -> int:
    """Index of the temporal subset trained in ``server_round`` (1-based rounds)."""
    return min(server_round, n_subsets) - 1


def sampling_rng(seed: int) -> np.random.Generator:
    """The generator behind every round's client sample (one per run)."""
    return np.random.default_rng([seed, 104729])


def sample_clients(
    n_clients: int, fraction: float, rng: np.random.Generator
) -> list[int]:
    """Seeded sample of ``max(1, round(fraction * n))`` distinct clients, sorted."""
    count = max(1, int(round(fraction * n_clients)))
    return sorted(rng.choice(n_clients, size=count, replace=False).tolist())


# ---------------------------------------------------------------------------
# Pieces shared with the Flower App (fmltc_core.flower_app)
# ---------------------------------------------------------------------------


def prepare_server(
    impl: Method,
    method: str,
    n_features: int,
    n_classes: int,
    config: FederatedConfig,
    *,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    server_labelled: tuple[np.ndarray, np.ndarray] | None = None,
):
    """The initial model and the method's server object.

    Returns
    -------
    model : torch.nn.Module
        A model of the method's architecture holding the initial weights.
    initial : dict of arrays
        The initial weights (``W0`` when ``initial_arrays`` is given).
    server : AveragingServer, ClusteringServer or DistillingServer
    """
    model = impl.build_model(n_features, n_classes, config)
    if initial_arrays is not None:
        load_arrays(model, initial_arrays)
    elif impl.uses_pretrained_init:
        logger.warning(
            "%s without a MAML-pretrained W0: starting from a random initialisation",
            METHOD_LABELS[method],
        )
    initial = state_to_arrays(model)
    server = impl.create_server(
        initial, config, meta_centres=meta_centres, server_labelled=server_labelled
    )
    return model, initial, server


def server_candidates(server, client_id: int) -> dict[str, tuple]:
    """The server-side models a client scores: its deployed and the global model.

    Returns
    -------
    dict role -> (arrays, threshold)
        ``"deployed"``: what the server would send ``client_id`` next;
        ``"global"``: the sample-weighted average of all uploads (the deployed
        model for servers without a separate global model).
    """
    global_arrays = getattr(server, "global_arrays", None)
    threshold = server.threshold_for(client_id)
    return {
        "deployed": (server.arrays_for(client_id), threshold),
        "global": (global_arrays or server.arrays_for(client_id), threshold),
    }


def train_client(
    impl: Method,
    model,
    arrays: dict[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    client_id: int,
    server_round: int,
    n_clients: int,
    config: FederatedConfig,
    fail: bool = False,
) -> ClientUpdate:
    """One client's local update on its subset, starting from ``arrays``.

    ``fail=True`` raises ``RuntimeError`` instead (failure injection for tests).
    """
    load_arrays(model, arrays)
    if fail:
        raise RuntimeError(f"client {client_id} failed (injected)")
    return impl.client_update(
        model,
        X,
        y,
        client_id=client_id,
        server_round=server_round,
        n_clients=n_clients,
        config=config,
    )


def check_round_failures(
    server_round: int, failed: list[int], updates: dict[int, ClientUpdate]
) -> None:
    """Raise ``RuntimeError`` when every sampled client of the round failed."""
    if failed and not updates:
        raise RuntimeError(
            f"round {server_round}: every sampled client failed ({failed}); "
            "see the warnings above"
        )


def round_row(
    server_round: int,
    pooled: dict[str, float],
    info: dict,
    updates: dict[int, ClientUpdate],
    seconds: float,
) -> dict:
    """One row of :attr:`FederatedRun.rounds`."""
    return {
        "round": server_round,
        **pooled,
        "n_clusters": info.get("n_clusters", 1),
        "n_updates": len(updates),
        "seconds": seconds,
        "train_seconds": float(sum(u.seconds for u in updates.values())),
    }


def client_rows(
    server_round: int,
    per_client: dict[int, dict[str, float]],
    clusters: dict[int, int],
    updates: dict[int, ClientUpdate],
    n_clients: int,
) -> list[dict]:
    """Rows of :attr:`FederatedRun.clients` for one round (NaN when not scored)."""
    rows = []
    for c in range(n_clients):
        update = updates.get(c)
        accuracy = per_client.get(c, {})
        rows.append(
            {
                "round": server_round,
                "client": c,
                "accuracy": accuracy.get("deployed", np.nan),
                "local_accuracy": accuracy.get("local", np.nan),
                "global_accuracy": accuracy.get("global", np.nan),
                "cluster": clusters.get(c, 0),
                "sampled": update is not None,
                "batch_size": update.batch_size if update else np.nan,
                "grad_norm_mean": update.grad_norm_mean if update else np.nan,
                "grad_norm_var": update.grad_norm_var if update else np.nan,
                "train_seconds": update.seconds if update else np.nan,
            }
        )
    return rows


def log_round(
    method: str,
    row: dict,
    *,
    subset: int,
    n_sampled: int,
    failed: list[int],
) -> None:
    """The INFO line every engine logs after a round."""
    logger.info(
        "%s round %d (D%d): acc %.3f rec %.3f f1 %.3f, %d clusters, %d/%d "
        "clients%s, %.2f s",
        METHOD_LABELS[method],
        row["round"],
        subset + 1,
        row["accuracy"],
        row["recall"],
        row["f1"],
        row["n_clusters"],
        row["n_updates"],
        n_sampled,
        f" (failed: {failed})" if failed else "",
        row["seconds"],
    )


def assemble_run(
    method: str,
    config: FederatedConfig,
    round_rows: list[dict],
    client_rows_: list[dict],
    data_description: str = "",
    extra: dict | None = None,
) -> FederatedRun:
    """The :class:`FederatedRun` of finished rounds (convergence included)."""
    rounds = pd.DataFrame(round_rows)
    converged = convergence_round(
        rounds["round"].to_numpy(),
        rounds["accuracy"].to_numpy(),
        tolerance=config.convergence_tolerance,
    )
    return FederatedRun(
        method=method,
        config=config,
        rounds=rounds,
        clients=pd.DataFrame(client_rows_),
        convergence_round=converged,
        data_description=data_description,
        extra=dict(extra or {}),
    )


def run_federated(
    federation,
    method: str,
    config: FederatedConfig | None = None,
    *,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    progress: bool = True,
    failing_clients: dict[int, set[int]] | None = None,
    observers: tuple = (),
) -> FederatedRun:
    """Run ``method`` on ``federation`` for ``config.rounds`` rounds in-process.

    Parameters
    ----------
    federation : fmltc_core.data.federation.Federation
        Clients with per-subset train and test sets.
    method : str
        One of :data:`fmltc_core.federated.methods.METHODS`.
    config : FederatedConfig, optional
    initial_arrays : dict, optional
        Initial weights; for FMLTC-IDS the MAML-pretrained ``W0``. Without it a
        seeded random initialisation is used (logged for FMLTC-IDS, whose
        method assumes ``W0``).
    meta_centres : array, optional
        MAML meta-cluster centres for the clustering's initialisation.
    progress : bool
        tqdm bar over rounds.
    failing_clients : dict round -> set of client ids, optional
        Clients that fail in a round (for failure-handling tests): their update
        raises and the round aggregates what arrived.
    observers : tuple of objects, optional
        Each observer's ``before_aggregate(server_round, server, updates)`` is
        called right before the server aggregates a round (the ablations use it
        to record uploads); observers must not change what they are shown.

    Returns
    -------
    FederatedRun
        ``extra["server"]`` holds the final server state (cluster assignment,
        feature history), for analyses such as cluster quality.
    """
    config = config or FederatedConfig()
    impl = get_method(method)
    n_clients = len(federation.clients)
    n_classes = len(federation.class_names)
    n_subsets = len(federation.clients[0].train)
    server_labelled = None
    if getattr(federation, "public", None) is not None and len(federation.public):
        server_labelled = (federation.public.X, federation.public.y)
    model, initial, server = prepare_server(
        impl,
        method,
        federation.n_features,
        n_classes,
        config,
        initial_arrays=initial_arrays,
        meta_centres=meta_centres,
        server_labelled=server_labelled,
    )
    tests = [client.all_test() for client in federation.clients]
    rng = sampling_rng(config.seed)
    local_arrays = {c: initial for c in range(n_clients)}
    local_thresholds = {c: server.threshold_for(c) for c in range(n_clients)}
    round_rows, all_client_rows = [], []
    data_description = federation.config.get("description") or (
        f"{federation.config.get('dataset', 'unknown')} "
        f"({'simulated' if federation.config.get('simulated') else 'real'} data)"
    )

    def evaluate(server_round: int, info: dict, seconds: float, updates) -> None:
        confusions = {}
        for c, test in enumerate(tests):
            candidates = server_candidates(server, c)
            candidates["local"] = (local_arrays[c], local_thresholds[c])
            confusions[c] = evaluate_client(
                impl, model, test.X, test.y, candidates, n_classes=n_classes
            )
        pooled, per_client = pool_round(confusions)
        round_rows.append(round_row(server_round, pooled, info, updates, seconds))
        clusters = getattr(server, "client_cluster", {})
        all_client_rows.extend(
            client_rows(server_round, per_client, clusters, updates, n_clients)
        )

    evaluate(0, {"n_clusters": 1}, 0.0, {})
    bar = tqdm(
        range(1, config.rounds + 1),
        desc=METHOD_LABELS[method],
        disable=not progress,
        leave=False,
    )
    for server_round in bar:
        start = time.perf_counter()
        subset = subset_for_round(server_round, n_subsets)
        sampled = sample_clients(n_clients, config.fraction_fit, rng)
        updates: dict[int, ClientUpdate] = {}
        failed = []
        for client_id in sampled:
            train = federation.clients[client_id].train[subset]
            try:
                update = train_client(
                    impl,
                    model,
                    server.arrays_for(client_id),
                    train.X,
                    train.y,
                    client_id=client_id,
                    server_round=server_round,
                    n_clients=n_clients,
                    config=config,
                    fail=bool(
                        failing_clients
                        and client_id in failing_clients.get(server_round, ())
                    ),
                )
            except Exception as error:  # a failing client must not end the run
                failed.append(client_id)
                logger.warning(
                    "round %d: client %d failed: %s", server_round, client_id, error
                )
                continue
            updates[client_id] = update
            if update.num_examples > 0:
                local_arrays[client_id] = update.arrays
                local_thresholds[client_id] = update.threshold
        check_round_failures(server_round, failed, updates)
        for observer in observers:
            observer.before_aggregate(server_round, server, updates)
        info = server.aggregate(server_round, updates)
        seconds = time.perf_counter() - start
        evaluate(server_round, info, seconds, updates)
        row = round_rows[-1]
        log_round(method, row, subset=subset, n_sampled=len(sampled), failed=failed)
        bar.set_postfix(acc=f"{row['accuracy']:.3f}")

    return assemble_run(
        method,
        config,
        round_rows,
        all_client_rows,
        data_description,
        extra={"server": server},
    )
