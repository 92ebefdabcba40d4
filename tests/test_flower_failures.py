"""Failing clients on the Flower engines: the round goes on with what arrived."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # no network calls in tests

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fmltc_core.federated.engine import run_federated  # noqa: E402
from fmltc_core.federated.methods import (  # noqa: E402
    AveragingServer,
    FederatedConfig,
)
from fmltc_core.flower_app import FederationSpec, run_flower_simulation  # noqa: E402
from fmltc_core.flower_app.data import build_from_spec  # noqa: E402
from fmltc_core.flower_app.settings import parse_fail_clients  # noqa: E402
from fmltc_core.flower_app.strategy import MethodStrategy  # noqa: E402

SPEC = FederationSpec(
    dataset="simulated",
    n_clients=3,
    alpha=0.5,
    seed=1,
    load_options={"n_flows": 1500, "seed": 1},
)


@pytest.mark.slow
def test_client_failing_in_flower_simulation_is_logged_and_round_completes(caplog):
    config = FederatedConfig(rounds=2, local_epochs=1, seed=1)

    with caplog.at_level(logging.WARNING, logger="fmltc_core.flower_app.strategy"):
        flower = run_flower_simulation(
            SPEC, "fedavg", config, fail_clients="2@1", client_cpus=2.0
        )
    in_process = run_federated(
        build_from_spec(SPEC),
        "fedavg",
        config,
        progress=False,
        failing_clients={1: {2}},
    )

    assert flower.rounds["n_updates"].tolist() == [0, 2, 3]
    assert flower.extra["failed_clients"] == {1: [2]}
    assert any(
        "round 1: client 2 failed" in record.getMessage() for record in caplog.records
    )
    assert np.isfinite(flower.rounds["accuracy"]).all()
    columns = [c for c in flower.rounds.columns if "seconds" not in c]
    np.testing.assert_allclose(
        flower.rounds[columns].to_numpy(float),
        in_process.rounds[columns].to_numpy(float),
        rtol=0,
        atol=1e-6,
    )


def _reply(node_id: int, reason: str | None = None):
    """A stand-in for a Flower reply Message carrying an error."""
    return SimpleNamespace(
        metadata=SimpleNamespace(src_node_id=node_id),
        has_error=lambda: reason is not None,
        error=SimpleNamespace(reason=reason),
    )


def _strategy() -> MethodStrategy:
    initial = {"w": np.zeros(2, dtype=np.float32)}
    strategy = MethodStrategy(
        method="fedavg",
        server=AveragingServer(initial),
        initial=initial,
        config=FederatedConfig(rounds=1, seed=0),
        node_of_client={0: 10, 1: 11},
        n_subsets=10,
        message_config={},
    )
    strategy._sampled = [0, 1]
    return strategy


def test_round_where_every_sampled_client_fails_raises():
    strategy = _strategy()
    replies = [_reply(10, "boom"), _reply(11, "boom")]

    with pytest.raises(RuntimeError, match=r"round 1: every sampled client failed"):
        strategy.aggregate_train(1, replies)


def test_missing_reply_counts_as_timed_out_failure(caplog):
    strategy = _strategy()

    with caplog.at_level(logging.WARNING, logger="fmltc_core.flower_app.strategy"):
        with pytest.raises(
            RuntimeError, match=r"every sampled client failed \(\[0, 1\]"
        ):
            strategy.aggregate_train(1, [_reply(10, "boom")])

    assert any("client 1 sent no reply" in r.getMessage() for r in caplog.records)


def test_fail_clients_parses_client_at_round_entries():
    assert parse_fail_clients("2@1, 0@3,1@3") == {1: {2}, 3: {0, 1}}
    assert parse_fail_clients("") == {}


def test_fail_clients_rejects_malformed_entries():
    with pytest.raises(ValueError, match=r"fail-clients must be .* got 'two@1'"):
        parse_fail_clients("two@1")
