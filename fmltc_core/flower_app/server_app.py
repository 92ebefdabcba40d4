"""The FMLTC-IDS ServerApp: one method's federated run on Flower's engines.

The same ServerApp runs on the simulation engine (``flwr run`` with a local
simulation connection, or :func:`~fmltc_core.flower_app.simulation.
run_flower_simulation`) and on a deployment (a SuperLink with SuperNodes).
It

1. waits for ``num-clients`` nodes and sends each a ``query`` message; the
   replies map Flower node ids to client ids (the nodes' ``partition-id``)
   and give the data shape (features, classes, subsets);
2. builds the initial model (``W0`` from ``initial-weights`` when given) and
   the method's server with :func:`~fmltc_core.federated.engine.
   prepare_server`, the function the in-process engine uses;
3. runs :class:`~fmltc_core.flower_app.strategy.MethodStrategy` for
   ``rounds`` rounds;
4. writes the :class:`~fmltc_core.federated.engine.FederatedRun`
   (``config.json``, ``rounds.csv``, ``clients.csv``) to ``results-dir`` when
   it is set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp

from fmltc_core.federated.engine import FederatedRun, prepare_server
from fmltc_core.federated.methods import get_method
from fmltc_core.flower_app.data import federation_for
from fmltc_core.flower_app.records import CONFIG_KEY, INFO_KEY, arrays_to_record
from fmltc_core.flower_app.settings import (
    AppSettings,
    config_to_json,
    settings_from_run_config,
)
from fmltc_core.flower_app.strategy import MethodStrategy

logger = logging.getLogger(__name__)


def message_config(settings: AppSettings) -> dict:
    """The entries every message to a client carries."""
    return {
        "method": settings.method,
        "federated-config": config_to_json(settings.config),
        "federation": settings.federation.to_json(),
        "fail-clients": settings.fail_clients,
    }


def discover_clients(grid: Grid, settings: AppSettings) -> tuple[dict[int, int], dict]:
    """Map client ids to node ids with one ``query`` message to every node.

    Waits up to ``settings.node_wait_timeout`` seconds for
    ``settings.federation.n_clients`` nodes to connect.

    Returns
    -------
    node_of_client : dict client id -> node id
    facts : dict
        ``n_features``, ``n_classes``, ``n_subsets`` and ``description`` of
        the federation, as the nodes report them.

    Raises
    ------
    TimeoutError
        When too few nodes connect in time.
    ValueError
        When the nodes' ``partition-id`` / ``num-partitions`` do not make one
        federation of ``n_clients`` clients.
    """
    n_clients = settings.federation.n_clients
    deadline = time.monotonic() + settings.node_wait_timeout
    while len(node_ids := sorted(grid.get_node_ids())) < n_clients:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(node_ids)} of num-clients={n_clients} nodes connected within "
                f"node-wait-timeout={settings.node_wait_timeout} s"
            )
        time.sleep(0.5)
    config = ConfigRecord({**message_config(settings), "server-round": 0})
    messages = [
        Message(
            RecordDict({CONFIG_KEY: config}),
            dst_node_id=node_id,
            message_type=MessageType.QUERY,
        )
        for node_id in node_ids
    ]
    replies = list(grid.send_and_receive(messages, timeout=settings.round_timeout))
    node_of_client: dict[int, int] = {}
    facts: dict = {}
    for reply in replies:
        node_id = reply.metadata.src_node_id
        if reply.has_error():
            raise RuntimeError(f"node {node_id} failed the query: {reply.error.reason}")
        info = reply.content[INFO_KEY]
        partition, n_partitions = int(info["partition-id"]), int(info["num-partitions"])
        if n_partitions != n_clients:
            raise ValueError(
                f"num-partitions of node {node_id} must equal num-clients="
                f"{n_clients}, got {n_partitions}"
            )
        if partition in node_of_client:
            raise ValueError(
                f"partition-id {partition} is set on two nodes "
                f"({node_of_client[partition]} and {node_id})"
            )
        node_of_client[partition] = node_id
        facts = {
            "n_features": int(info["n-features"]),
            "n_classes": int(info["n-classes"]),
            "n_subsets": int(info["n-subsets"]),
            "description": str(reply.content[CONFIG_KEY]["description"]),
        }
    missing = sorted(set(range(n_clients)) - set(node_of_client))
    if missing:
        raise ValueError(
            f"every partition-id in [0, {n_clients}) needs a node that replies; "
            f"missing {missing}"
        )
    logger.info("clients -> nodes: %s", node_of_client)
    return node_of_client, facts


def server_labelled_set(settings: AppSettings):
    """SSFL's labelled server set: the federation's public hold-out, if any.

    Only SSFL uses it, and only when the federation spec holds rows out for
    the server (``build_options["public_fraction"] > 0``). The server then
    rebuilds the federation from the spec (it needs the data source, as in
    simulation) and keeps the public rows only; client rows are not used.
    """
    if settings.method != "ssfl":
        return None
    if float(settings.federation.build_options.get("public_fraction", 0.0)) <= 0:
        return None
    public = federation_for(settings.federation).public
    if public is None or len(public) == 0:
        return None
    logger.info("SSFL server fine-tunes on %d public labelled rows", len(public))
    return public.X, public.y


def run_server(
    grid: Grid,
    settings: AppSettings,
    *,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
) -> FederatedRun:
    """Run ``settings.method`` over the nodes of ``grid``.

    ``initial_arrays`` and ``meta_centres`` default to the files named in
    ``settings`` (``initial-weights``, ``meta-centres``).
    """
    if initial_arrays is None:
        initial_arrays = settings.load_initial_arrays()
    if meta_centres is None:
        meta_centres = settings.load_meta_centres()
    node_of_client, facts = discover_clients(grid, settings)
    impl = get_method(settings.method)
    _, initial, server = prepare_server(
        impl,
        settings.method,
        facts["n_features"],
        facts["n_classes"],
        settings.config,
        initial_arrays=initial_arrays,
        meta_centres=meta_centres,
        server_labelled=server_labelled_set(settings),
    )
    strategy = MethodStrategy(
        method=settings.method,
        server=server,
        initial=initial,
        config=settings.config,
        node_of_client=node_of_client,
        n_subsets=facts["n_subsets"],
        message_config=message_config(settings),
        data_description=facts["description"],
    )
    strategy.start(
        grid,
        arrays_to_record(initial),
        num_rounds=settings.config.rounds,
        timeout=settings.round_timeout,
    )
    return strategy.federated_run()


def build_server_app(
    settings: AppSettings | None = None,
    *,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    on_result: Callable[[FederatedRun], None] | None = None,
) -> ServerApp:
    """A ServerApp running one method.

    Parameters
    ----------
    settings : AppSettings, optional
        Fixed settings; without them the run config (``context.run_config``,
        i.e. ``[tool.flwr.app.config]`` and ``--run-config``) is read.
    initial_arrays, meta_centres : optional
        In-memory ``W0`` and meta-cluster centres (instead of files).
    on_result : callable, optional
        Called with the finished :class:`FederatedRun` (used by the Python
        runner, which shares the process with the ServerApp).
    """
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        run_settings = settings or settings_from_run_config(dict(context.run_config))
        run = run_server(
            grid,
            run_settings,
            initial_arrays=initial_arrays,
            meta_centres=meta_centres,
        )
        if run_settings.results_dir:
            folder = run.save(run_settings.results_dir)
            logger.info("results written to %s", folder)
        if on_result is not None:
            on_result(run)

    return server_app


# The ServerApp named in pyproject.toml ([tool.flwr.app.components]).
app = build_server_app()

__all__ = ["app", "build_server_app", "discover_clients", "run_server"]
