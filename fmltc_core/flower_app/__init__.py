"""The federated methods as a Flower App (ServerApp + ClientApp, Message API).

The App runs the package's own client and server code
(:mod:`fmltc_core.federated`) on Flower's simulation and deployment engines:

* :mod:`~fmltc_core.flower_app.client_app`: the ClientApp (``query``,
  ``train``, ``evaluate``);
* :mod:`~fmltc_core.flower_app.server_app`: the ServerApp (node discovery,
  initial model, results);
* :mod:`~fmltc_core.flower_app.strategy`: the strategy wrapping a method's
  server (clustered aggregation for FMLTC-IDS);
* :mod:`~fmltc_core.flower_app.settings`, :mod:`~fmltc_core.flower_app.data`,
  :mod:`~fmltc_core.flower_app.records`: run config, per-node data,
  message records;
* :func:`run_flower_simulation`: the Python entry point used by notebook 03.

See docs/FLOWER.md for running it with ``flwr run`` locally and on several
machines.
"""

from fmltc_core.flower_app.settings import AppSettings, FederationSpec
from fmltc_core.flower_app.simulation import run_flower_simulation

__all__ = ["AppSettings", "FederationSpec", "run_flower_simulation"]
