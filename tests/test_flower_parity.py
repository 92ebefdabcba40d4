"""The Flower simulation engine reproduces the in-process round loop.

FMLTC-IDS (clustered aggregation, adaptive batches, gradient-weighted
sampling) on one seed: every per-round and per-client metric of
:func:`fmltc_core.flower_app.run_flower_simulation` equals the one of
:func:`fmltc_core.federated.engine.run_federated` within 1e-6; only the
timing columns differ. FedAvg's parity is checked in test_flower_failures.py
(with a failing client).
"""

from __future__ import annotations

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # no network calls in tests

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fmltc_core.federated.engine import run_federated  # noqa: E402
from fmltc_core.federated.methods import FederatedConfig  # noqa: E402
from fmltc_core.flower_app import FederationSpec, run_flower_simulation  # noqa: E402
from fmltc_core.flower_app.data import build_from_spec  # noqa: E402

pytestmark = pytest.mark.slow

SPEC = FederationSpec(
    dataset="simulated",
    n_clients=3,
    alpha=0.5,
    seed=0,
    load_options={"n_flows": 2000, "seed": 0},
)


def assert_same_metrics(in_process, flower, tolerance=1e-6):
    """Equal columns; equal values except the wall-clock timings."""
    for name in ("rounds", "clients"):
        ours, theirs = getattr(in_process, name), getattr(flower, name)
        assert list(ours.columns) == list(theirs.columns), name
        assert len(ours) == len(theirs), name
        columns = [c for c in ours.columns if "seconds" not in c]
        np.testing.assert_allclose(
            ours[columns].to_numpy(float),
            theirs[columns].to_numpy(float),
            rtol=0,
            atol=tolerance,
            equal_nan=True,
            err_msg=name,
        )


def test_fmltc_on_flower_simulation_matches_in_process():
    config = FederatedConfig(rounds=2, local_epochs=1, seed=0)

    in_process = run_federated(build_from_spec(SPEC), "fmltc", config, progress=False)
    flower = run_flower_simulation(SPEC, "fmltc", config, client_cpus=2.0)

    assert_same_metrics(in_process, flower)
    assert flower.rounds["round"].tolist() == [0, 1, 2]
    assert flower.convergence_round == in_process.convergence_round
    assert flower.extra["engine"] == "flower"
