"""Cost of running the methods on Flower's simulation engine (issue 5).

The same FMLTC-IDS run (same federation, seed and settings) goes through the
in-process loop (:func:`~fmltc_core.federated.engine.run_federated`) and
through Flower's simulation engine
(:func:`~fmltc_core.flower_app.run_flower_simulation`), side by side in one
process. Flower's clients run in one Ray actor that reserves both CPUs
(``client_cpus=2``), so clients train one after another as in-process, and
the actor gets the in-process torch thread count through ``OMP_NUM_THREADS``.
A one-round in-process run before the timings warms torch and the
numba-compiled DTW, which the ServerApp then shares (it runs in this process).

Rows (seconds, wall clock on this machine):

* **round training step** (goal: Flower <= 3 x in-process): the ``seconds``
  column of a round (sampling, sending the models, local training, replies,
  aggregation and clustering), median over the rounds. The median leaves out
  the actor's one-time warm-up, which falls on round 1.
* **whole run after start-up**: from the round-0 evaluation to the end of
  the last round (``FederatedRun.extra["run_seconds"]`` for Flower), warm-up
  and the evaluation messages included. Reported, no goal.
* **start-up**: Flower's one-time cost before the timed run (Ray start,
  actor imports, node query, federation build on the nodes); the in-process
  counterpart is the federation build. Reported, no goal.

The workload (full run): 20,000 simulated flows, 10 clients, 5 rounds and the
default 2 local epochs. Flower adds a roughly fixed cost per message round
trip (its in-memory link polls every 0.1 s), so the ratio grows when the work
per round shrinks; the quick run (1,500 flows, 3 clients, 1 epoch) shows that.

``ratio = ours / alternative`` with ours = Flower, alternative = in-process.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

logger = logging.getLogger(__name__)

GOAL = "<= 3"


def _settings(quick: bool) -> dict:
    if quick:
        return {"n_flows": 1500, "n_clients": 3, "rounds": 3, "local_epochs": 1}
    return {"n_flows": 20_000, "n_clients": 10, "rounds": 5, "local_epochs": 2}


def run(quick: bool = False) -> list[dict]:
    """Time one FMLTC-IDS run in-process and on Flower's simulation engine.

    Parameters
    ----------
    quick : bool
        Small run (1,500 flows, 3 clients, 2 rounds) instead of 6,000 flows,
        5 clients, 5 rounds.

    Returns
    -------
    list of dict
        Rows with keys ``name, ours, alternative, ratio, goal, met, unit,
        notes``.
    """
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    import torch

    from fmltc_core.federated.engine import run_federated
    from fmltc_core.federated.methods import FederatedConfig
    from fmltc_core.flower_app import FederationSpec, run_flower_simulation
    from fmltc_core.flower_app.data import build_from_spec

    size = _settings(quick)
    spec = FederationSpec(
        dataset="simulated",
        n_clients=size["n_clients"],
        alpha=0.5,
        seed=0,
        load_options={"n_flows": size["n_flows"], "seed": 0},
    )
    config = FederatedConfig(
        rounds=size["rounds"], local_epochs=size["local_epochs"], seed=0
    )
    threads = torch.get_num_threads()
    setting = (
        f"FMLTC-IDS, simulated {size['n_flows']} flows, {size['n_clients']} clients, "
        f"{size['rounds']} rounds, {size['local_epochs']} local epochs, "
        f"{threads} torch thread(s) on both engines"
    )

    # in-process: federation built first (its cost is the start-up counterpart)
    start = time.perf_counter()
    federation = build_from_spec(spec)
    build_seconds = time.perf_counter() - start

    # warm-up (torch kernels, numba-compiled DTW) so neither engine pays it
    run_federated(
        federation, "fmltc", FederatedConfig(rounds=1, seed=1), progress=False
    )
    start = time.perf_counter()
    in_process = run_federated(federation, "fmltc", config, progress=False)
    in_process_seconds = time.perf_counter() - start

    # Flower simulation, the actor with the same torch thread count
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        start = time.perf_counter()
        flower = run_flower_simulation(spec, "fmltc", config, client_cpus=2.0)
        flower_total = time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    flower_seconds = float(flower.extra["run_seconds"])

    same = np.allclose(
        in_process.rounds["accuracy"].to_numpy(),
        flower.rounds["accuracy"].to_numpy(),
        atol=1e-6,
    )
    accuracy_note = "same per-round accuracy" if same else "ACCURACY DIFFERS"
    ours_step = float(flower.rounds["seconds"].iloc[1:].median())
    alt_step = float(in_process.rounds["seconds"].iloc[1:].median())
    rows = [
        {
            "name": "flower simulation round training step / in-process (median)",
            "ours": ours_step,
            "alternative": alt_step,
            "ratio": ours_step / alt_step,
            "goal": GOAL,
            "met": ours_step / alt_step <= 3,
            "unit": "s",
            "notes": (
                f"{setting}; sampling + local training + aggregation, median over "
                f"rounds (leaves out the actor's one-time warm-up); {accuracy_note}"
            ),
        },
        {
            "name": "flower simulation whole run after start-up / in-process",
            "ours": flower_seconds,
            "alternative": in_process_seconds,
            "ratio": flower_seconds / in_process_seconds,
            "goal": "none (reported)",
            "met": None,
            "unit": "s",
            "notes": (
                f"{setting}; round-0 evaluation + all rounds, actor warm-up and "
                "evaluation messages included"
            ),
        },
        {
            "name": "flower simulation start-up (one-time)",
            "ours": flower_total - flower_seconds,
            "alternative": build_seconds,
            "ratio": (flower_total - flower_seconds) / build_seconds,
            "goal": "none (reported)",
            "met": None,
            "unit": "s",
            "notes": (
                "Ray start, actor imports, node query, federation build on the "
                "nodes; alternative = in-process federation build"
            ),
        },
    ]
    for row in rows:
        logger.info(
            "%s: ours %.3f s, alternative %.3f s, ratio %.2f",
            row["name"],
            row["ours"],
            row["alternative"],
            row["ratio"],
        )
    return rows
