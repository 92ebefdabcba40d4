"""A Flower strategy that drives the package's federated servers.

:class:`MethodStrategy` wraps the server object of a method
(:class:`~fmltc_core.federated.methods.AveragingServer`,
:class:`~fmltc_core.federated.methods.ClusteringServer` or
:class:`~fmltc_core.federated.methods.DistillingServer`) and replays the
in-process round loop of :func:`~fmltc_core.federated.engine.run_federated`
over Flower's Message API:

* ``configure_train`` samples clients with the engine's seeded sequence
  (:func:`~fmltc_core.federated.engine.sample_clients` on
  :func:`~fmltc_core.federated.engine.sampling_rng`) and sends each sampled
  node its own client's model, ``server.arrays_for(client_id)`` (for
  FMLTC-IDS the model of its cluster);
* ``aggregate_train`` rebuilds the :class:`ClientUpdate` of every reply, logs
  the clients that failed or timed out, and calls ``server.aggregate``, inside
  which FMLTC-IDS re-clusters its clients (eqs. 6-14);
* ``configure_evaluate`` / ``aggregate_evaluate`` let every client score its
  test set with the deployed, local and global model and pool the confusion
  matrices with :func:`~fmltc_core.federated.evaluation.pool_round`, round 0
  (the initial model) included.

The round and client rows are built by the engine's own functions, so
:meth:`MethodStrategy.federated_run` returns a
:class:`~fmltc_core.federated.engine.FederatedRun` with the in-process
columns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from flwr.serverapp.strategy.result import Result

from fmltc_core.federated.engine import (
    FederatedRun,
    assemble_run,
    check_round_failures,
    client_rows,
    log_round,
    round_row,
    sample_clients,
    sampling_rng,
    server_candidates,
    subset_for_round,
)
from fmltc_core.federated.evaluation import pool_round
from fmltc_core.federated.methods import METHOD_LABELS, ClientUpdate, FederatedConfig
from fmltc_core.flower_app.records import (
    ARRAYS_KEY,
    CONFIG_KEY,
    DEPLOYED_KEY,
    GLOBAL_KEY,
    INITIAL_KEY,
    METRICS_KEY,
    arrays_to_record,
    record_to_confusions,
    records_to_update,
)

logger = logging.getLogger(__name__)


class MethodStrategy(Strategy):
    """Flower strategy around one method's server object.

    Parameters
    ----------
    method : str
        Method name (for logs and the result).
    server : AveragingServer, ClusteringServer or DistillingServer
        From :func:`~fmltc_core.federated.engine.prepare_server`.
    initial : dict of arrays
        The initial model, scored as "local" by clients that have not trained.
    config : FederatedConfig
    node_of_client : dict client id -> Flower node id
    n_subsets : int
        Temporal subsets per client (for the round log line).
    message_config : dict
        Entries every message's ``ConfigRecord`` carries (method, learning
        settings, federation spec, injected failures).
    data_description : str
    """

    def __init__(
        self,
        *,
        method: str,
        server,
        initial: dict,
        config: FederatedConfig,
        node_of_client: dict[int, int],
        n_subsets: int,
        message_config: dict,
        data_description: str = "",
    ) -> None:
        self.method = method
        self.server = server
        self.initial = initial
        self.initial_threshold = {c: server.threshold_for(c) for c in node_of_client}
        self.config = config
        self.node_of_client = dict(node_of_client)
        self.client_of_node = {node: c for c, node in node_of_client.items()}
        self.n_clients = len(node_of_client)
        self.n_subsets = n_subsets
        self.message_config = dict(message_config)
        self.data_description = data_description
        self.rng = sampling_rng(config.seed)
        self.trained: set[int] = set()
        self.round_rows: list[dict] = []
        self.client_rows: list[dict] = []
        self.failures: dict[int, list[int]] = {}
        self.run_seconds = float("nan")
        self._round_start = 0.0
        self._sampled: list[int] = []
        self._pending: tuple[dict, dict[int, ClientUpdate], float, list[int]] = (
            {"n_clusters": 1},
            {},
            0.0,
            [],
        )

    def summary(self) -> None:
        """Log the strategy's configuration."""
        logger.info(
            "%s over Flower: %d clients, fraction_fit %.2f, %d rounds, seed %d",
            METHOD_LABELS[self.method],
            self.n_clients,
            self.config.fraction_fit,
            self.config.rounds,
            self.config.seed,
        )

    def _config_record(self, server_round: int, **extra) -> ConfigRecord:
        return ConfigRecord(
            {**self.message_config, "server-round": server_round, **extra}
        )

    # ------------------------------------------------------------------ train

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Send each sampled client its own model (its cluster's for FMLTC-IDS)."""
        self._round_start = time.perf_counter()
        self._sampled = sample_clients(
            self.n_clients, self.config.fraction_fit, self.rng
        )
        messages = []
        for client_id in self._sampled:
            content = RecordDict(
                {
                    ARRAYS_KEY: arrays_to_record(self.server.arrays_for(client_id)),
                    CONFIG_KEY: self._config_record(server_round),
                }
            )
            messages.append(
                Message(
                    content,
                    dst_node_id=self.node_of_client[client_id],
                    message_type=MessageType.TRAIN,
                )
            )
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Rebuild the uploads, log failures and run the server's aggregation."""
        updates: dict[int, ClientUpdate] = {}
        failed: list[int] = []
        for reply in replies:
            client_id = self.client_of_node.get(reply.metadata.src_node_id)
            if client_id is None:
                logger.warning(
                    "round %d: reply from unknown node %d ignored",
                    server_round,
                    reply.metadata.src_node_id,
                )
                continue
            if reply.has_error():
                failed.append(client_id)
                logger.warning(
                    "round %d: client %d failed: %s",
                    server_round,
                    client_id,
                    reply.error.reason,
                )
                continue
            updates[client_id] = records_to_update(
                reply.content[ARRAYS_KEY], reply.content[METRICS_KEY]
            )
        for client_id in self._sampled:
            if client_id not in updates and client_id not in failed:
                failed.append(client_id)
                logger.warning(
                    "round %d: client %d sent no reply in time (timed out)",
                    server_round,
                    client_id,
                )
        failed.sort()
        # the in-process order (sorted client ids) keeps the averages identical
        updates = dict(sorted(updates.items()))
        self.failures[server_round] = failed
        check_round_failures(server_round, failed, updates)
        info = self.server.aggregate(server_round, updates)
        self.trained.update(c for c, u in updates.items() if u.num_examples > 0)
        seconds = time.perf_counter() - self._round_start
        self._pending = (info, updates, seconds, failed)
        global_arrays = getattr(self.server, "global_arrays", None)
        aggregated = arrays_to_record(global_arrays) if global_arrays else None
        return aggregated, MetricRecord(
            {"n-updates": len(updates), "n-failed": len(failed)}
        )

    # --------------------------------------------------------------- evaluate

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Ask every client to score its deployed, local and global models."""
        messages = []
        for client_id, node_id in sorted(self.node_of_client.items()):
            candidates = server_candidates(self.server, client_id)
            deployed, deployed_threshold = candidates["deployed"]
            global_arrays, global_threshold = candidates["global"]
            records = {DEPLOYED_KEY: arrays_to_record(deployed)}
            if global_arrays is not deployed:
                records[GLOBAL_KEY] = arrays_to_record(global_arrays)
            thresholds = {}
            if deployed_threshold is not None:
                thresholds["deployed-threshold"] = float(deployed_threshold)
            if global_threshold is not None:
                thresholds["global-threshold"] = float(global_threshold)
            if client_id not in self.trained:
                records[INITIAL_KEY] = arrays_to_record(self.initial)
                if self.initial_threshold[client_id] is not None:
                    thresholds["initial-threshold"] = float(
                        self.initial_threshold[client_id]
                    )
            content = RecordDict(
                {**records, CONFIG_KEY: self._config_record(server_round, **thresholds)}
            )
            messages.append(
                Message(content, dst_node_id=node_id, message_type=MessageType.EVALUATE)
            )
        return messages

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Pool the confusion matrices into the round's row (as in-process)."""
        confusions = {}
        for reply in replies:
            client_id = self.client_of_node.get(reply.metadata.src_node_id)
            if client_id is None:
                continue
            if reply.has_error():
                logger.warning(
                    "round %d: client %d failed to evaluate: %s",
                    server_round,
                    client_id,
                    reply.error.reason,
                )
                continue
            confusions[client_id] = record_to_confusions(reply.content[METRICS_KEY])
        missing = sorted(set(self.node_of_client) - set(confusions))
        if missing:
            logger.warning(
                "round %d: no evaluation from clients %s; they are left out of the "
                "pooled metrics",
                server_round,
                missing,
            )
        if not confusions:
            raise RuntimeError(
                f"round {server_round}: no client returned an evaluation"
            )
        confusions = dict(sorted(confusions.items()))
        pooled, per_client = pool_round(confusions)
        info, updates, seconds, failed = self._pending
        row = round_row(server_round, pooled, info, updates, seconds)
        self.round_rows.append(row)
        clusters = getattr(self.server, "client_cluster", {})
        self.client_rows.extend(
            client_rows(server_round, per_client, clusters, updates, self.n_clients)
        )
        if server_round > 0:
            log_round(
                self.method,
                row,
                subset=subset_for_round(server_round, self.n_subsets),
                n_sampled=len(self._sampled),
                failed=failed,
            )
        self._pending = ({"n_clusters": self.server.n_clusters}, {}, 0.0, [])
        return MetricRecord(
            {k: float(v) for k, v in pooled.items() if isinstance(v, int | float)}
        )

    # ------------------------------------------------------------------ run

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn=None,
    ) -> Result:
        """Score the initial model (round 0), then run Flower's round loop."""
        start = time.perf_counter()
        self._pending = ({"n_clusters": 1}, {}, 0.0, [])
        replies = grid.send_and_receive(
            self.configure_evaluate(0, initial_arrays, ConfigRecord(), grid),
            timeout=timeout,
        )
        self.aggregate_evaluate(0, replies)
        result = super().start(
            grid,
            initial_arrays,
            num_rounds=num_rounds,
            timeout=timeout,
            train_config=train_config,
            evaluate_config=evaluate_config,
            evaluate_fn=evaluate_fn,
        )
        self.run_seconds = time.perf_counter() - start
        return result

    def federated_run(self) -> FederatedRun:
        """The finished rounds as a :class:`FederatedRun` (in-process columns)."""
        return assemble_run(
            self.method,
            self.config,
            self.round_rows,
            self.client_rows,
            self.data_description,
            extra={
                "engine": "flower",
                "failed_clients": {r: c for r, c in self.failures.items() if c},
                "run_seconds": self.run_seconds,
            },
        )
