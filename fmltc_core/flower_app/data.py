"""Each Flower node's own client data, rebuilt deterministically and cached.

A node knows only its node config (``partition-id``, ``num-partitions``) and
the :class:`~fmltc_core.flower_app.settings.FederationSpec` the server sends.
It rebuilds the whole federation with
:func:`~fmltc_core.data.federation.build_federation` (seeded, so every node gets
the same split the in-process engine gets) and keeps only its partition. The
federation is cached per process: a ClientApp process (or Ray actor) that
serves several rounds, or several virtual nodes, builds it once.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from fmltc_core.data.datasets import load_dataset
from fmltc_core.data.federation import ClientData, Federation, build_federation
from fmltc_core.flower_app.settings import FederationSpec

logger = logging.getLogger(__name__)

PARTITION_ID_KEY = "partition-id"
NUM_PARTITIONS_KEY = "num-partitions"


def build_from_spec(spec: FederationSpec) -> Federation:
    """The federation described by ``spec`` (not cached)."""
    data = load_dataset(spec.dataset, spec.data_dir or None, **spec.load_options)
    return build_federation(
        data,
        n_clients=spec.n_clients,
        alpha=spec.alpha,
        seed=spec.seed,
        **spec.build_options,
    )


@lru_cache(maxsize=4)
def _cached_federation(spec_json: str) -> Federation:
    spec = FederationSpec.from_json(spec_json)
    logger.info(
        "building the %s federation (%d clients, alpha %s, seed %d)",
        spec.dataset,
        spec.n_clients,
        spec.alpha,
        spec.seed,
    )
    return build_from_spec(spec)


def federation_for(spec: FederationSpec) -> Federation:
    """The federation of ``spec``, built once per process."""
    return _cached_federation(spec.to_json())


def partition_of(node_config: dict) -> tuple[int, int]:
    """``(partition-id, num-partitions)`` of a node, validated.

    Raises
    ------
    ValueError
        When a key is missing or ``partition-id`` is outside
        ``[0, num-partitions)``.
    """
    missing = [
        k for k in (PARTITION_ID_KEY, NUM_PARTITIONS_KEY) if k not in node_config
    ]
    if missing:
        raise ValueError(
            f"node config must set {PARTITION_ID_KEY} and {NUM_PARTITIONS_KEY} "
            f"(flower-supernode --node-config), missing {missing}"
        )
    partition = int(node_config[PARTITION_ID_KEY])
    n_partitions = int(node_config[NUM_PARTITIONS_KEY])
    if not 0 <= partition < n_partitions:
        raise ValueError(
            f"partition-id must be in [0, {n_partitions}), got {partition}"
        )
    return partition, n_partitions


def client_data(
    spec: FederationSpec, node_config: dict
) -> tuple[Federation, ClientData]:
    """The federation and this node's client (its ``partition-id``)."""
    partition, n_partitions = partition_of(node_config)
    federation = federation_for(spec.with_clients(n_partitions))
    return federation, federation.clients[partition]
