"""Settings of a Flower run: where the clients' data comes from and how they learn.

A Flower run is configured by the ``[tool.flwr.app.config]`` table of
``pyproject.toml`` (overridable with ``flwr run --run-config``). This module
turns that flat table into

* a :class:`FederationSpec`: the arguments of
  :func:`~fmltc_core.data.datasets.load_dataset` and
  :func:`~fmltc_core.data.federation.build_federation`, which every node uses to
  rebuild the same deterministic federation and take its own partition;
* a :class:`~fmltc_core.federated.methods.FederatedConfig`: every key whose
  name (dashes read as underscores) is a field of ``FederatedConfig`` is
  passed on, so the run config reaches every learning setting without a second
  list of names here;
* the App's own settings (:class:`AppSettings`): method, paths of ``W0`` and of
  the meta-cluster centres, results folder, timeouts, injected failures.

The server sends the federation spec, the method and the learning settings to
the clients inside every message, so the clients never read a run config of
their own and the Python runner (:func:`~fmltc_core.flower_app.simulation.
run_flower_simulation`) needs no run config at all.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmltc_core.federated.methods import METHODS, FederatedConfig

logger = logging.getLogger(__name__)

# Run-config keys read by the App itself (everything else must be a
# FederatedConfig field).
DATA_KEYS = (
    "dataset",
    "data-dir",
    "n-flows",
    "alpha",
    "num-clients",
    "data-seed",
    "label-mode",
    "n-subsets",
)
APP_KEYS = (
    "method",
    "initial-weights",
    "meta-centres",
    "results-dir",
    "fail-clients",
    "round-timeout",
    "node-wait-timeout",
)


@dataclass(frozen=True)
class FederationSpec:
    """How to build the federation: dataset, loader options and client split.

    Attributes
    ----------
    dataset : str
        One of :data:`fmltc_core.data.datasets.DATASETS`.
    data_dir : str
        Folder of the real datasets ("" = ``$FMLTC_DATA_DIR``); unused for
        ``"simulated"``.
    n_clients : int
        Number of clients K (in Flower: ``num-partitions`` of every node).
    alpha : float
        Dirichlet concentration of the label skew.
    seed : int
        Seed of :func:`~fmltc_core.data.federation.build_federation`.
    load_options : dict
        Keyword arguments of :func:`~fmltc_core.data.datasets.load_dataset`
        (for the simulator: ``n_flows``, ``seed``).
    build_options : dict
        Further keyword arguments of ``build_federation`` (``n_subsets``,
        ``label_mode``, ...). Must be JSON-serialisable.
    """

    dataset: str = "simulated"
    data_dir: str = ""
    n_clients: int = 10
    alpha: float = 1.0
    seed: int = 0
    load_options: dict = field(default_factory=dict)
    build_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.n_clients) < 1:
            raise ValueError(f"n_clients must be >= 1, got {self.n_clients}")
        if float(self.alpha) <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")

    def to_json(self) -> str:
        """The spec as a JSON string (what the server sends to the clients)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FederationSpec:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))

    def with_clients(self, n_clients: int) -> FederationSpec:
        """The same spec for ``n_clients`` clients."""
        return dataclasses.replace(self, n_clients=int(n_clients))


def config_to_json(config: FederatedConfig) -> str:
    """A :class:`FederatedConfig` as JSON (sent to the clients in each message)."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_json(text: str) -> FederatedConfig:
    """Inverse of :func:`config_to_json`."""
    return FederatedConfig(**json.loads(text))


def parse_fail_clients(text: str) -> dict[int, set[int]]:
    """Read injected failures: ``"2@1"`` = client 2 fails in round 1.

    Several entries are separated by commas: ``"2@1,0@3"``. The empty string
    means no failures.

    Returns
    -------
    dict round -> set of client ids

    Raises
    ------
    ValueError
        For an entry that is not ``<client>@<round>`` with integers.
    """
    failures: dict[int, set[int]] = {}
    for entry in str(text).replace(" ", "").split(","):
        if not entry:
            continue
        client, _, server_round = entry.partition("@")
        if not (client.isdigit() and server_round.isdigit()):
            raise ValueError(
                "fail-clients must be comma-separated '<client>@<round>' entries "
                f"with integers, got {text!r}"
            )
        failures.setdefault(int(server_round), set()).add(int(client))
    return failures


@dataclass
class AppSettings:
    """Everything the ServerApp needs to run one method.

    Attributes
    ----------
    method : str
        One of :data:`fmltc_core.federated.methods.METHODS`.
    federation : FederationSpec
    config : FederatedConfig
    initial_weights : str
        Path of a safetensors ``W0`` ("" = seeded random initialisation).
    meta_centres : str
        Path of a ``.npy`` of MAML meta-cluster centres ("" = none).
    results_dir : str
        Folder the ServerApp writes its :class:`FederatedRun` to ("" = none).
    fail_clients : str
        Injected failures, see :func:`parse_fail_clients`.
    round_timeout : float
        Seconds the server waits for the replies of one round's messages.
    node_wait_timeout : float
        Seconds the server waits for ``n_clients`` nodes to connect.
    """

    method: str = "fmltc"
    federation: FederationSpec = field(default_factory=FederationSpec)
    config: FederatedConfig = field(default_factory=FederatedConfig)
    initial_weights: str = ""
    meta_centres: str = ""
    results_dir: str = ""
    fail_clients: str = ""
    round_timeout: float = 600.0
    node_wait_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.round_timeout <= 0:
            raise ValueError(f"round-timeout must be > 0, got {self.round_timeout}")
        parse_fail_clients(self.fail_clients)

    def load_initial_arrays(self) -> dict[str, np.ndarray] | None:
        """``W0`` from :attr:`initial_weights` (safetensors only), or None."""
        if not self.initial_weights:
            return None
        from fmltc_core.weights import load_weights

        state, _ = load_weights(self.initial_weights)
        logger.info("initial weights W0 from %s", self.initial_weights)
        return {k: v.numpy() for k, v in state.items()}

    def load_meta_centres(self) -> np.ndarray | None:
        """The meta-cluster centres from :attr:`meta_centres`, or None."""
        if not self.meta_centres:
            return None
        path = Path(self.meta_centres)
        if not path.is_file():
            raise FileNotFoundError(f"meta-centres file not found: {path}")
        return np.load(path, allow_pickle=False)


def _convert(value, default):
    """``value`` converted to the type of the field's ``default``."""
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, tuple):
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return tuple(int(part) for part in value)
    return value


def settings_from_run_config(run_config: dict) -> AppSettings:
    """Read :class:`AppSettings` from a Flower run config (dashed keys).

    Parameters
    ----------
    run_config : dict
        E.g. ``context.run_config``: ``method``, ``dataset``, ``data-dir``,
        ``n-flows``, ``alpha``, ``num-clients``, ``seed``, ``data-seed``,
        ``rounds``, ``fraction-fit``, ``local-epochs``, ``initial-weights``,
        ``meta-centres``, ``results-dir``, ``fail-clients``, ... and any other
        :class:`FederatedConfig` field with dashes for underscores
        (``n-clusters`` < 1 means the elbow search).

    Raises
    ------
    ValueError
        For a key that is neither an App key nor a ``FederatedConfig`` field.
    """
    values = dict(run_config)
    defaults = FederatedConfig()
    fields = {f.name for f in dataclasses.fields(FederatedConfig)}
    unknown = sorted(
        key
        for key in values
        if key not in DATA_KEYS + APP_KEYS and key.replace("-", "_") not in fields
    )
    if unknown:
        raise ValueError(
            "run config keys must be App keys "
            f"{DATA_KEYS + APP_KEYS} or FederatedConfig fields, got {unknown}"
        )

    # learning settings: every FederatedConfig field present in the run config
    learning = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in fields:
            continue
        if name == "n_clusters":
            learning[name] = int(value) if int(value) >= 1 else None
        else:
            learning[name] = _convert(value, getattr(defaults, name))
    config = FederatedConfig(**learning)

    # data: the same deterministic federation on every node
    dataset = str(values.get("dataset", "simulated"))
    data_seed = int(values.get("data-seed", config.seed))
    load_options = {}
    if dataset == "simulated":
        load_options = {"n_flows": int(values.get("n-flows", 3000)), "seed": data_seed}
    build_options = {}
    if "label-mode" in values:
        build_options["label_mode"] = str(values["label-mode"])
    if "n-subsets" in values:
        build_options["n_subsets"] = int(values["n-subsets"])
    spec = FederationSpec(
        dataset=dataset,
        data_dir=str(values.get("data-dir", "")),
        n_clients=int(values.get("num-clients", 10)),
        alpha=float(values.get("alpha", 1.0)),
        seed=data_seed,
        load_options=load_options,
        build_options=build_options,
    )
    return AppSettings(
        method=str(values.get("method", "fmltc")),
        federation=spec,
        config=config,
        initial_weights=str(values.get("initial-weights", "")),
        meta_centres=str(values.get("meta-centres", "")),
        results_dir=str(values.get("results-dir", "")),
        fail_clients=str(values.get("fail-clients", "")),
        round_timeout=float(values.get("round-timeout", 600.0)),
        node_wait_timeout=float(values.get("node-wait-timeout", 120.0)),
    )
