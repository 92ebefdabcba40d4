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

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 240.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with code {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def _app_folder(target: Path) -> Path:
    """A copy of the App's FAB files: pyproject.toml and the package's .py files."""
    target.mkdir()
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    for source in (REPO / "fmltc_core").rglob("*.py"):
        if "__pycache__" in source.parts:
            continue
        destination = target / source.relative_to(REPO)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    return target


def _descendants(pids: list[int]) -> set[int]:
    """Every live descendant of ``pids`` (read from /proc)."""
    parent_of = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces; the fields after ')' are fixed
        fields = stat.rsplit(")", 1)[1].split()
        parent_of[int(entry.name)] = int(fields[1])
    found, frontier = set(), set(pids)
    while frontier:
        children = {pid for pid, ppid in parent_of.items() if ppid in frontier}
        children -= found
        found |= children
        frontier = children
    return found


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM the started processes, their groups and children; SIGKILL leftovers."""
    started = [p.pid for p in processes]
    targets = set(started) | _descendants(started)
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for pid in targets - set(started):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    for pid in targets:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        os.kill(pid, signal.SIGKILL)


def test_fmltc_runs_two_rounds_on_superlink_and_two_supernodes(tmp_path):
    # prepare: Flower home with a connection to the local SuperLink
    port = _free_port()
    flwr_home = tmp_path / "flwr-home"
    flwr_home.mkdir()
    (flwr_home / "config.toml").write_text(
        '[superlink]\ndefault = "local-deployment"\n\n'
        f'[superlink.local-deployment]\naddress = "127.0.0.1:{port}"\n'
        "insecure = true\n"
    )
    results = tmp_path / "results"
    app_folder = _app_folder(tmp_path / "app")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen] = []

    def start(name: str, command: list[str]) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the test
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        return process

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
        _wait_for_port(port, superlink, STARTUP_TIMEOUT)
        for partition in range(2):
            start(
                f"supernode-{partition}",
                [
                    str(BIN / "flower-supernode"),
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{port}",
                    "--port",
                    str(_free_port()),
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
                str(app_folder),
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
            flwr_log = (logs / "flwr-run.log").read_text()[-3000:]
            link_log = (logs / "superlink.log").read_text()[-3000:]
            pytest.fail(
                f"no rounds.csv after {RUN_TIMEOUT} s (flwr exit {flwr.poll()}).\n"
                f"flwr run:\n{flwr_log}\nsuperlink:\n{link_log}"
            )
        time.sleep(0.5)  # rounds.csv is written before clients.csv finishes

        # assert: rounds 0..2 with finite pooled metrics, both clients scored
        rounds = pd.read_csv(rounds_csv)
        clients = pd.read_csv(results / "clients.csv")
    finally:
        _stop(processes)

    assert rounds["round"].tolist() == [0, 1, 2]
    assert np.isfinite(rounds["accuracy"]).all()
    assert rounds["accuracy"].between(0, 1).all()
    assert rounds.loc[1:, "n_updates"].tolist() == [2, 2]
    assert sorted(clients["client"].unique()) == [0, 1]
    assert all(p.poll() is not None for p in processes)
