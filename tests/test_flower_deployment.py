"""FMLTC-IDS on Flower's deployment engine: a real SuperLink and two SuperNodes.

The test starts ``flower-superlink`` and two ``flower-supernode`` processes on
127.0.0.1 (free ports, ``--insecure``: local test only), submits the App with
``flwr run`` for two rounds, reads the ``rounds.csv`` the ServerApp writes,
and stops every process it started (and their children) in a ``finally``.
Flower 1.42 reads SuperLink connections from ``$FLWR_HOME/config.toml``; the
test writes one into a temporary ``FLWR_HOME``.

``flwr run`` walks every file under the App folder before it filters them into
the FAB; from the repository root that includes ``.venv`` and costs more than
the run itself. The test therefore runs from a temporary App folder holding
exactly the FAB's files (``pyproject.toml`` and ``fmltc_core/**/*.py``, the
``fab-include`` of ``pyproject.toml``).
"""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from flower_helpers import (
    BIN,
    app_folder,
    flower_env,
    free_port,
    start_process,
    stop,
    tail,
    wait_for_port,
)

STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 240.0

pytestmark = pytest.mark.slow


def test_fmltc_runs_two_rounds_on_superlink_and_two_supernodes(tmp_path):
    # prepare: Flower home with a connection to the local SuperLink
    port = free_port()
    flwr_home = tmp_path / "flwr-home"
    flwr_home.mkdir()
    (flwr_home / "config.toml").write_text(
        '[superlink]\ndefault = "local-deployment"\n\n'
        f'[superlink.local-deployment]\naddress = "127.0.0.1:{port}"\n'
        "insecure = true\n"
    )
    results = tmp_path / "results"
    app = app_folder(tmp_path / "app")
    env = flower_env(flwr_home)
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen] = []

    def start(name: str, command: list[str]) -> subprocess.Popen:
        return start_process(processes, logs, name, command, env)

    try:
        # execute: SuperLink, two SuperNodes, `flwr run`
        superlink = start(
            "superlink",
            [
                str(BIN / "flower-superlink"),
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--disable-runtime-dependency-installation",
            ],
        )
        wait_for_port(port, superlink, STARTUP_TIMEOUT)
        for partition in range(2):
            start(
                f"supernode-{partition}",
                [
                    str(BIN / "flower-supernode"),
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{port}",
                    "--port",
                    str(free_port()),
                    "--node-config",
                    f"partition-id={partition} num-partitions=2",
                ],
            )
        run_config = (
            'method="fmltc" rounds=2 num-clients=2 n-flows=1500 alpha=1.0 '
            f'local-epochs=1 results-dir="{results}" node-wait-timeout=60.0 '
            "round-timeout=120.0"
        )
        flwr = start(
            "flwr-run",
            [
                str(BIN / "flwr"),
                "run",
                str(app),
                "local-deployment",
                "--run-config",
                run_config,
                "--stream",
            ],
        )
        deadline = time.monotonic() + RUN_TIMEOUT
        rounds_csv = results / "rounds.csv"
        while time.monotonic() < deadline and not rounds_csv.exists():
            if superlink.poll() is not None:
                break
            time.sleep(1.0)
        if not rounds_csv.exists():
            flwr_log = tail(logs / "flwr-run.log")
            link_log = tail(logs / "superlink.log")
            pytest.fail(
                f"no rounds.csv after {RUN_TIMEOUT} s (flwr exit {flwr.poll()}).\n"
                f"flwr run:\n{flwr_log}\nsuperlink:\n{link_log}"
            )
        time.sleep(0.5)  # rounds.csv is written before clients.csv finishes

        # assert: rounds 0..2 with finite pooled metrics, both clients scored
        rounds = pd.read_csv(rounds_csv)
        clients = pd.read_csv(results / "clients.csv")
    finally:
        stop(processes)

    assert rounds["round"].tolist() == [0, 1, 2]
    assert np.isfinite(rounds["accuracy"]).all()
    assert rounds["accuracy"].between(0, 1).all()
    assert rounds.loc[1:, "n_updates"].tolist() == [2, 2]
    assert sorted(clients["client"].unique()) == [0, 1]
    assert all(p.poll() is not None for p in processes)
