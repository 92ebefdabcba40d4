"""FedAvg on Flower's deployment engine with TLS and SuperNode authentication.

The secure counterpart of ``test_flower_deployment.py`` and the check of the
"Deployment on several machines" steps of docs/FLOWER.md, all on 127.0.0.1:

1. ``openssl`` makes a throwaway CA and a SuperLink certificate for
   ``127.0.0.1``/``localhost`` (signed by the CA) in ``tmp_path``.
2. Each SuperNode gets an ECDSA P-384 key pair in OpenSSH format (what
   ``ssh-keygen -t ecdsa -b 384`` writes; made here with ``cryptography``).
3. ``flower-superlink`` starts with ``--ssl-ca-certfile/--ssl-certfile/
   --ssl-keyfile`` and ``--enable-supernode-auth``.
4. ``flwr supernode register <key>.pub <connection>`` registers both public
   keys through a connection with ``root-certificates`` (no ``insecure``).
5. Two ``flower-supernode`` processes connect with ``--root-certificates``
   and ``--auth-supernode-private-key``.
6. ``flwr run`` submits one FedAvg round; the test reads ``rounds.csv`` and
   stops every process it started in a ``finally``.

No process gets ``--insecure``. Without ``openssl`` the test is skipped, or
fails under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
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
RUN_TIMEOUT = 150.0
CONNECTION = "local-tls"

pytestmark = pytest.mark.slow


def _require_openssl() -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return openssl


def _certificates(openssl: str, folder: Path) -> dict[str, Path]:
    """CA and SuperLink certificate for 127.0.0.1/localhost (the doc's commands)."""
    folder.mkdir()

    def run(*args: str) -> None:
        subprocess.run(
            [openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60
        )

    run("genrsa", "-out", "ca.key", "2048")
    run(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-sha256",
        "-days",
        "1",
        "-subj",
        "/CN=fmltc-test-ca",
        "-out",
        "ca.crt",
    )
    run("genrsa", "-out", "server.key", "2048")
    run(
        "req",
        "-new",
        "-key",
        "server.key",
        "-subj",
        "/CN=localhost",
        "-out",
        "server.csr",
    )
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-sha256", "-extfile", "server.ext",
        "-out", "server.crt",
    )  # fmt: skip
    return {name: folder / f"{name}" for name in ("ca.crt", "server.crt", "server.key")}


def _supernode_keys(folder: Path, name: str) -> tuple[Path, Path]:
    """ECDSA P-384 key pair in OpenSSH format: ``name`` (private), ``name.pub``."""
    key = ec.generate_private_key(ec.SECP384R1())
    private = folder / name
    public = folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )
    return private, public


def test_fedavg_runs_one_round_with_tls_and_supernode_auth(tmp_path):
    openssl = _require_openssl()

    # prepare: certificates, SuperNode keys, Flower home with a TLS connection
    certs = _certificates(openssl, tmp_path / "certificates")
    keys_folder = tmp_path / "keys"
    keys_folder.mkdir()
    node_keys = [_supernode_keys(keys_folder, f"supernode-{i}") for i in range(2)]
    port = free_port()
    flwr_home = tmp_path / "flwr-home"
    flwr_home.mkdir()
    (flwr_home / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n'
        f'[superlink.{CONNECTION}]\naddress = "127.0.0.1:{port}"\n'
        f'root-certificates = "{certs["ca.crt"]}"\n'
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
        # execute: TLS SuperLink with SuperNode auth, register keys, SuperNodes, run
        superlink = start(
            "superlink",
            [
                str(BIN / "flower-superlink"),
                "--ssl-ca-certfile", str(certs["ca.crt"]),
                "--ssl-certfile", str(certs["server.crt"]),
                "--ssl-keyfile", str(certs["server.key"]),
                "--enable-supernode-auth",
                "--disable-runtime-dependency-installation",
                "--host", "127.0.0.1",
                "--port", str(port),
                "--database", str(tmp_path / "superlink.db"),
            ],
        )  # fmt: skip
        wait_for_port(port, superlink, STARTUP_TIMEOUT)
        for _, public in node_keys:
            registered = subprocess.run(
                [str(BIN / "flwr"), "supernode", "register", str(public), CONNECTION],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert registered.returncode == 0, (
                "flwr supernode register failed:\n"
                f"{registered.stdout}\n{registered.stderr}\n"
                f"superlink:\n{tail(logs / 'superlink.log')}"
            )
        listed = subprocess.run(
            [str(BIN / "flwr"), "supernode", "list", CONNECTION, "--format", "json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, f"{listed.stdout}\n{listed.stderr}"
        for partition, (private, _) in enumerate(node_keys):
            start(
                f"supernode-{partition}",
                [
                    str(BIN / "flower-supernode"),
                    "--superlink", f"127.0.0.1:{port}",
                    "--root-certificates", str(certs["ca.crt"]),
                    "--auth-supernode-private-key", str(private),
                    "--port", str(free_port()),
                    "--node-config", f"partition-id={partition} num-partitions=2",
                ],
            )  # fmt: skip
        run_config = (
            'method="fedavg" rounds=1 num-clients=2 n-flows=1500 alpha=1.0 '
            f'local-epochs=1 results-dir="{results}" node-wait-timeout=60.0 '
            "round-timeout=120.0"
        )
        flwr = start(
            "flwr-run",
            [
                str(BIN / "flwr"),
                "run",
                str(app),
                CONNECTION,
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
            pytest.fail(
                f"no rounds.csv after {RUN_TIMEOUT} s (flwr exit {flwr.poll()}).\n"
                f"flwr run:\n{tail(logs / 'flwr-run.log')}\n"
                f"superlink:\n{tail(logs / 'superlink.log')}\n"
                f"supernode-0:\n{tail(logs / 'supernode-0.log')}"
            )
        time.sleep(0.5)  # rounds.csv is written before clients.csv finishes

        # assert: rounds 0 and 1 with finite pooled accuracy, both clients trained
        rounds = pd.read_csv(rounds_csv)
    finally:
        stop(processes)

    assert rounds["round"].tolist() == [0, 1]
    assert np.isfinite(rounds["accuracy"]).all()
    assert rounds["accuracy"].between(0, 1).all()
    assert rounds.loc[1:, "n_updates"].tolist() == [2]
    assert all(p.poll() is not None for p in processes)
