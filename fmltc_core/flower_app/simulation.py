"""Run a method on Flower's simulation engine from Python (e.g. notebook 03).

:func:`run_flower_simulation` is the Flower counterpart of
:func:`~fmltc_core.federated.engine.run_federated`: same method names, same
:class:`~fmltc_core.federated.methods.FederatedConfig`, same
:class:`~fmltc_core.federated.engine.FederatedRun` back. Each client is a
virtual SuperNode (``partition-id`` = client id) running the package's
ClientApp in a Ray actor; the ServerApp runs in this process.

Flower 1.42 marks ``flwr.simulation.run_simulation`` as deprecated in favour
of ``flwr run``; it is still the only in-process entry point that hands the
result back to the caller, so it is used here (its deprecation warning is
expected). ``flwr run`` with a local simulation connection runs the same App
(see docs/FLOWER.md).
"""

from __future__ import annotations

import logging

import numpy as np

from fmltc_core.federated.engine import FederatedRun
from fmltc_core.federated.methods import FederatedConfig
from fmltc_core.flower_app.settings import AppSettings, FederationSpec

logger = logging.getLogger(__name__)


def run_flower_simulation(
    federation: FederationSpec,
    method: str,
    config: FederatedConfig | None = None,
    *,
    initial_arrays: dict[str, np.ndarray] | None = None,
    meta_centres: np.ndarray | None = None,
    fail_clients: str = "",
    results_dir: str = "",
    client_cpus: float = 1.0,
    round_timeout: float = 600.0,
) -> FederatedRun:
    """Run ``method`` on Flower's simulation engine, one virtual node per client.

    Parameters
    ----------
    federation : FederationSpec
        Dataset, loader options and client split; every virtual node rebuilds
        this federation (cached per process) and keeps its own client. Use
        :func:`~fmltc_core.flower_app.data.build_from_spec` to get the same
        federation for the in-process engine.
    method : str
        One of :data:`fmltc_core.federated.methods.METHODS`.
    config : FederatedConfig, optional
    initial_arrays : dict, optional
        ``W0`` (for FMLTC-IDS the MAML-pretrained weights).
    meta_centres : array, optional
        MAML meta-cluster centres for the clustering's initialisation.
    fail_clients : str
        Injected failures, e.g. ``"2@1"`` (client 2 fails in round 1).
    results_dir : str
        When set, the ServerApp also writes the run there.
    client_cpus : float
        CPUs Ray reserves per virtual node (fewer: more nodes train at once).
    round_timeout : float
        Seconds the server waits for a round's replies.

    Returns
    -------
    FederatedRun
        Same columns as :func:`~fmltc_core.federated.engine.run_federated`;
        ``extra`` holds ``engine="flower"``, the failed clients per round and
        the run's wall time after start-up (``run_seconds``).

    Raises
    ------
    RuntimeError
        When the simulation ends without a result (the ServerApp failed; its
        error is logged by Flower and re-raised when possible).
    """
    from flwr.simulation import run_simulation

    from fmltc_core.flower_app.client_app import app as client_app
    from fmltc_core.flower_app.server_app import build_server_app

    if client_cpus <= 0:
        raise ValueError(f"client_cpus must be > 0, got {client_cpus}")
    settings = AppSettings(
        method=method,
        federation=federation,
        config=config or FederatedConfig(),
        fail_clients=fail_clients,
        results_dir=results_dir,
        round_timeout=round_timeout,
    )
    results: list[FederatedRun] = []
    server_app = build_server_app(
        settings,
        initial_arrays=initial_arrays,
        meta_centres=meta_centres,
        on_result=results.append,
    )
    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=federation.n_clients,
        backend_config={
            "client_resources": {"num_cpus": client_cpus, "num_gpus": 0.0},
            "init_args": {"logging_level": "ERROR", "log_to_driver": False},
        },
    )
    if not results:
        raise RuntimeError(
            "the Flower simulation ended without a result; see the log above"
        )
    return results[0]
