"""The in-process federated engine: determinism, aggregation, failures, metrics."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from fmltc_core.data.federation import build_federation
from fmltc_core.data.simulator import simulate_iot_traffic
from fmltc_core.federated.engine import run_federated
from fmltc_core.federated.methods import METHODS, FederatedConfig
from fmltc_core.federated.metrics import convergence_round

TIMING_COLUMNS = ["seconds", "train_seconds"]


@pytest.fixture(scope="module")
def tiny_federation():
    data = simulate_iot_traffic(1_500, seed=3)
    return build_federation(data, n_clients=3, alpha=1.0, seed=3)


@pytest.fixture(scope="module")
def fmltc_run(tiny_federation):
    return run_federated(
        tiny_federation, "fmltc", FederatedConfig(rounds=2, seed=1), progress=False
    )


@pytest.mark.parametrize(
    "method",
    METHODS,
)
def test_every_method_runs_and_one_seed_gives_identical_metrics(
    tiny_federation, method
):
    config = FederatedConfig(rounds=2, seed=5)
    first = run_federated(tiny_federation, method, config, progress=False)
    second = run_federated(tiny_federation, method, config, progress=False)

    assert first.rounds["round"].tolist() == [0, 1, 2]
    assert first.rounds["accuracy"].between(0, 1).all()
    pd.testing.assert_frame_equal(
        first.rounds.drop(columns=TIMING_COLUMNS),
        second.rounds.drop(columns=TIMING_COLUMNS),
    )
    pd.testing.assert_frame_equal(
        first.clients.drop(columns=["train_seconds"]),
        second.clients.drop(columns=["train_seconds"]),
    )
    assert first.convergence_round == second.convergence_round


def test_ssfl_runs_on_a_tiny_federation(tiny_federation):
    run = run_federated(
        tiny_federation, "ssfl", FederatedConfig(rounds=2, seed=5), progress=False
    )
    assert run.rounds["round"].tolist() == [0, 1, 2]
    assert run.rounds["accuracy"].between(0, 1).all()


def test_other_seed_gives_other_metrics(tiny_federation):
    runs = [
        run_federated(
            tiny_federation, "fedavg", FederatedConfig(rounds=2, seed=s), progress=False
        )
        for s in (0, 1)
    ]
    assert not np.allclose(
        runs[0].clients["accuracy"].to_numpy(), runs[1].clients["accuracy"].to_numpy()
    )


def test_identical_uploads_leave_the_model_unchanged(tiny_federation, monkeypatch):
    # Every client uploads exactly the model it received, so FedAvg of the
    # (identical) uploads must give back the same model in every round.
    from fmltc_core.federated import methods

    def upload_received(self, model, X, y, **kwargs):
        return methods.ClientUpdate(
            arrays=methods.state_to_arrays(model), num_examples=len(y)
        )

    monkeypatch.setattr(methods.Method, "client_update", upload_received)
    run = run_federated(
        tiny_federation, "fedavg", FederatedConfig(rounds=3, seed=2), progress=False
    )

    assert run.rounds["n_updates"].tolist() == [0, 3, 3, 3]
    for column in ("accuracy", "precision", "recall", "f1", "global_accuracy"):
        values = run.rounds[column].to_numpy()
        np.testing.assert_array_equal(values, values[0])
    np.testing.assert_array_equal(run.rounds["personalisation_gain"], 0.0)
    assert run.convergence_round == 0


def test_a_failing_client_does_not_end_the_run(tiny_federation, caplog):
    config = FederatedConfig(rounds=2, seed=0)
    with caplog.at_level(logging.WARNING, logger="fmltc_core.federated.engine"):
        run = run_federated(
            tiny_federation,
            "fedavg",
            config,
            progress=False,
            failing_clients={1: {0}},
        )

    assert run.rounds["round"].tolist() == [0, 1, 2]
    assert run.rounds.set_index("round").loc[1, "n_updates"] == 2
    assert run.rounds.set_index("round").loc[2, "n_updates"] == 3
    assert any("client 0 failed" in r.getMessage() for r in caplog.records)
    sampled = run.clients[(run.clients["round"] == 1) & (run.clients["client"] == 0)]
    assert not sampled["sampled"].item()


def test_a_round_where_every_client_fails_is_an_error(tiny_federation):
    with pytest.raises(RuntimeError, match="every sampled client failed"):
        run_federated(
            tiny_federation,
            "fedavg",
            FederatedConfig(rounds=1, seed=0),
            progress=False,
            failing_clients={1: {0, 1, 2}},
        )


def test_round_zero_scores_the_initial_model(tiny_federation):
    from fmltc_core.federated.methods import get_method
    from fmltc_core.training import evaluate

    config = FederatedConfig(rounds=1, seed=4)
    run = run_federated(tiny_federation, "fedavg", config, progress=False)
    initial = get_method("fedavg").build_model(
        tiny_federation.n_features, len(tiny_federation.class_names), config
    )
    tests = [c.all_test() for c in tiny_federation.clients]
    X = np.concatenate([t.X for t in tests])
    y = np.concatenate([t.y for t in tests])

    row0 = run.rounds.iloc[0]
    assert row0["round"] == 0
    assert row0["n_updates"] == 0
    assert row0["accuracy"] == pytest.approx(evaluate(initial, X, y)["accuracy"])


def test_personalisation_gain_is_local_minus_global(fmltc_run):
    clients = fmltc_run.clients
    expected = (
        (clients["local_accuracy"] - clients["global_accuracy"])
        .groupby(clients["round"])
        .mean()
    )
    np.testing.assert_allclose(
        fmltc_run.rounds.set_index("round")["personalisation_gain"],
        expected,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        fmltc_run.rounds["personalisation_gain"],
        fmltc_run.rounds["local_accuracy"] - fmltc_run.rounds["global_accuracy"],
        atol=1e-12,
    )


def test_run_convergence_round_follows_its_accuracy_series(fmltc_run):
    rounds = fmltc_run.rounds
    assert fmltc_run.convergence_round == convergence_round(
        rounds["round"].to_numpy(),
        rounds["accuracy"].to_numpy(),
        tolerance=fmltc_run.config.convergence_tolerance,
    )


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [
        ([0.50, 0.60, 0.70, 0.795, 0.80, 0.80], 3),
        ([0.50, 0.80, 0.70, 0.80, 0.80, 0.80], 3),  # left the band at round 2
        ([0.70, 0.70, 0.70, 0.70, 0.70, 0.70], 0),
        ([0.50, 0.60, 0.70, 0.75, 0.78, 0.82], 5),
    ],
)
def test_convergence_round_on_hand_made_series(accuracy, expected):
    rounds = np.arange(len(accuracy))
    assert convergence_round(rounds, np.array(accuracy), tolerance=0.01) == expected


def test_convergence_round_rejects_mismatched_series():
    with pytest.raises(ValueError, match="equal length"):
        convergence_round(np.arange(3), np.zeros(2))


def test_saved_run_holds_config_and_curves(fmltc_run, tmp_path):
    import json

    folder = fmltc_run.save(tmp_path / "run")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["method"] == "fmltc"
    assert meta["config"]["rounds"] == 2
    saved = pd.read_csv(folder / "rounds.csv")
    np.testing.assert_allclose(saved["accuracy"], fmltc_run.rounds["accuracy"])
