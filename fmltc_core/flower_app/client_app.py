"""The FMLTC-IDS ClientApp: one federated client on Flower's Message API.

A node answers three kinds of messages from the ServerApp:

``query``
    Reports its ``partition-id`` and ``num-partitions`` (from its node config)
    and the shape of its data, so the server can map Flower node ids to client
    ids and build the model.
``train``
    Loads the model the server sent (its cluster's model for FMLTC-IDS),
    trains on its temporal subset ``D_r`` of round ``r`` with the method's
    ``client_update`` (:func:`~fmltc_core.federated.engine.train_client`, the
    same function the in-process engine calls) and uploads the weights and a
    ``MetricRecord`` (``num-examples``, ``batch_size``, ``grad_norm_mean``,
    ``grad_norm_var``, ``threshold``...). It keeps the trained weights in
    ``context.state`` as its *local* model.
``evaluate``
    Scores its whole test set with the deployed, its local and the global
    model (:func:`~fmltc_core.federated.evaluation.evaluate_client`) and
    returns the confusion matrices only.

Every message carries the method, the learning settings and the federation
spec, so a node needs nothing but its node config. A ``fail-clients`` entry
in the message config (``"2@1"``) makes the named client raise in that
round's training (failure injection for tests).
"""

from __future__ import annotations

import logging

from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp

from fmltc_core.federated.engine import subset_for_round, train_client
from fmltc_core.federated.evaluation import evaluate_client
from fmltc_core.federated.methods import get_method
from fmltc_core.flower_app.data import client_data, partition_of
from fmltc_core.flower_app.records import (
    ARRAYS_KEY,
    CONFIG_KEY,
    DEPLOYED_KEY,
    GLOBAL_KEY,
    INFO_KEY,
    INITIAL_KEY,
    LOCAL_STATE_INFO_KEY,
    LOCAL_STATE_KEY,
    METRICS_KEY,
    arrays_to_record,
    confusions_to_record,
    record_to_arrays,
    update_to_records,
)
from fmltc_core.flower_app.settings import (
    FederationSpec,
    config_from_json,
    parse_fail_clients,
)

logger = logging.getLogger(__name__)

app = ClientApp()


def _job(message: Message, context: Context):
    """Method, settings, federation and this node's client for ``message``."""
    settings = message.content[CONFIG_KEY]
    impl = get_method(str(settings["method"]))
    config = config_from_json(str(settings["federated-config"]))
    spec = FederationSpec.from_json(str(settings["federation"]))
    federation, client = client_data(spec, context.node_config)
    return settings, impl, config, federation, client


def _threshold(settings: ConfigRecord, key: str) -> float | None:
    return float(settings[key]) if key in settings else None


@app.query()
def query(message: Message, context: Context) -> Message:
    """Report this node's client id and data shape."""
    partition, n_partitions = partition_of(context.node_config)
    _, _, _, federation, client = _job(message, context)
    info = MetricRecord(
        {
            "partition-id": partition,
            "num-partitions": n_partitions,
            "n-features": federation.n_features,
            "n-classes": len(federation.class_names),
            "n-subsets": len(client.train),
        }
    )
    description = ConfigRecord(
        {"description": str(federation.config.get("description", ""))}
    )
    return Message(
        RecordDict({INFO_KEY: info, CONFIG_KEY: description}), reply_to=message
    )


@app.train()
def train(message: Message, context: Context) -> Message:
    """Local update on subset ``D_r`` from the received model."""
    settings, impl, config, federation, client = _job(message, context)
    partition, n_partitions = partition_of(context.node_config)
    server_round = int(settings["server-round"])
    failures = parse_fail_clients(str(settings.get("fail-clients", "")))
    subset = client.train[subset_for_round(server_round, len(client.train))]
    model = impl.build_model(federation.n_features, len(federation.class_names), config)
    update = train_client(
        impl,
        model,
        record_to_arrays(message.content[ARRAYS_KEY]),
        subset.X,
        subset.y,
        client_id=partition,
        server_round=server_round,
        n_clients=n_partitions,
        config=config,
        fail=partition in failures.get(server_round, ()),
    )

    # the client's own last local model, scored in later evaluations
    if update.num_examples > 0:
        context.state[LOCAL_STATE_KEY] = arrays_to_record(update.arrays)
        info = {"server-round": server_round}
        if update.threshold is not None:
            info["threshold"] = float(update.threshold)
        context.state[LOCAL_STATE_INFO_KEY] = ConfigRecord(info)
    arrays, metrics = update_to_records(update)
    return Message(
        RecordDict({ARRAYS_KEY: arrays, METRICS_KEY: metrics}), reply_to=message
    )


def _local_candidate(message: Message, context: Context, settings: ConfigRecord):
    """This client's last local model, or the initial model before it trained."""
    if LOCAL_STATE_KEY in context.state:
        info = context.state[LOCAL_STATE_INFO_KEY]
        threshold = float(info["threshold"]) if "threshold" in info else None
        return record_to_arrays(context.state[LOCAL_STATE_KEY]), threshold
    if INITIAL_KEY in message.content:
        return (
            record_to_arrays(message.content[INITIAL_KEY]),
            _threshold(settings, "initial-threshold"),
        )
    logger.warning(
        "no local model in this node's state (restarted node?); scoring the "
        "deployed model as local"
    )
    return (
        record_to_arrays(message.content[DEPLOYED_KEY]),
        _threshold(settings, "deployed-threshold"),
    )


@app.evaluate()
def evaluate(message: Message, context: Context) -> Message:
    """Confusion matrices of the deployed, local and global models on all test rows."""
    settings, impl, config, federation, client = _job(message, context)
    content = message.content
    deployed = record_to_arrays(content[DEPLOYED_KEY])
    global_record: ArrayRecord | None = (
        content[GLOBAL_KEY] if GLOBAL_KEY in content else None
    )
    candidates = {
        "deployed": (deployed, _threshold(settings, "deployed-threshold")),
        "local": _local_candidate(message, context, settings),
        "global": (
            record_to_arrays(global_record) if global_record is not None else deployed,
            _threshold(settings, "global-threshold"),
        ),
    }
    test = client.all_test()
    model = impl.build_model(federation.n_features, len(federation.class_names), config)
    confusions = evaluate_client(
        impl, model, test.X, test.y, candidates, n_classes=len(federation.class_names)
    )
    return Message(
        RecordDict({METRICS_KEY: confusions_to_record(confusions, len(test.y))}),
        reply_to=message,
    )
