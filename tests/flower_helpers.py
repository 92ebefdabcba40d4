"""Helpers shared by the Flower deployment tests (real SuperLink and SuperNodes).

``test_flower_deployment.py`` (insecure) and ``test_flower_tls.py`` (TLS and
SuperNode authentication) start ``flower-superlink``, ``flower-supernode`` and
``flwr`` processes on 127.0.0.1. These helpers pick free ports, wait for a
port to listen, copy the App's FAB files into a temporary folder, build the
processes' environment, and stop every started process and its children.
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

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with code {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def app_folder(target: Path) -> Path:
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


def flower_env(flwr_home: Path) -> dict[str, str]:
    """Environment for Flower processes: this venv's bin, FLWR_HOME, no telemetry."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    }


def start_process(
    processes: list[subprocess.Popen],
    logs: Path,
    name: str,
    command: list[str],
    env: dict[str, str],
) -> subprocess.Popen:
    """Start ``command`` in its own session, log to ``logs/<name>.log``, record it."""
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


def descendants(pids: list[int]) -> set[int]:
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


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM the started processes, their groups and children; SIGKILL leftovers."""
    started = [p.pid for p in processes]
    targets = set(started) | descendants(started)
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


def tail(path: Path, n_chars: int = 3000) -> str:
    """The last ``n_chars`` of a log file ('' when it does not exist)."""
    return path.read_text()[-n_chars:] if path.exists() else ""
