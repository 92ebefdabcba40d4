NAME = "01_data_construction.ipynb"

CELLS = [
    ("md", '''
# 01 · Data construction: flows to federated clients with temporal subsets D1..D10

This notebook builds the federated data every later notebook trains on
(section 4.1 of the paper), and shows what was built.

**Input**: one dataset, `simulated` (default: our seeded IoT traffic
simulator, *simulated traffic that stands in for the paper's private "real IoT"
data*), or a real public dataset found under `data_dir`: `cicids2017`,
`bot_iot`, `iot23` (see `docs/DATASETS.md`).

**Steps** (all in `fmltc_core.data`): load and repair the flow records,
cut the timeline into ten ordered subsets with ADWIN drift detection on
1-hour windows every 30 minutes, balance low-traffic windows with SMOTE,
and split the flows over `n_clients` clients with Dirichlet(`alpha`) label skew.

**Outputs** (in `figures_dir`, names end with the dataset):
- `01_traffic_volume_<dataset>.png`: flows over time with the D1..D10 cuts
- `01_client_class_mix_<dataset>.png`: per-client class mix for alpha 0.5, 1, 10
- `01_subset_sizes_<dataset>.png`: rows per subset, split and class
- `01_data_report_<dataset>.{csv,md}`: every repair and drop, per file and reason
- `01_clients_<dataset>.{csv,md}`: per-client training and test sizes at `alpha`
'''),
    ("parameters", '''
dataset = "simulated"  # simulated | cicids2017 | bot_iot | iot23
data_dir = None  # folder holding the real datasets (ignored for simulated)
alpha = 1.0  # Dirichlet concentration of the main federation
n_clients = 10
seed = 0
quick = False  # small sizes for the test suite
figures_dir = "../figures"
run_dir = "../runs/default"
n_flows = 10_000  # simulator only: the paper's real-IoT dataset has 10,000 flows
alphas = [0.5, 1.0, 10.0]  # the heterogeneity levels of the paper
'''),
    ("code", '''
from pathlib import Path

from fmltc_core import plots, reporting
from fmltc_core.data.datasets import load_dataset
from fmltc_core.data.federation import build_federation
from fmltc_core.data.temporal import segment_into_subsets
from fmltc_core.logging_config import configure_logging

configure_logging(log_file=Path(run_dir) / "01_data_construction.log")
figures = Path(figures_dir)
figures.mkdir(parents=True, exist_ok=True)
if quick:
    n_flows = min(n_flows, 3_000)
'''),
    ("md", "## Load the flows"),
    ("code", '''
options = {"n_flows": n_flows, "seed": seed} if dataset == "simulated" else {}
data = load_dataset(dataset, data_dir, **options)
source = plots.SIMULATED_NOTE if data.simulated else f"real data: {dataset}"
print(f"{data.n_flows} flows, {len(data.feature_columns)} features, "
      f"time from {data.time_source}; {source}")
data.frame.groupby(["family", "label"], observed=True).size().rename("flows")
'''),
    ("md", "## Temporal subsets D1..D10 (ADWIN on 1-hour windows, 30-minute step)"),
    ("code", '''
segmentation = segment_into_subsets(data)
plots.plot_traffic_volume(
    data, segmentation, figures / f"01_traffic_volume_{dataset}.png"
)
segmentation.subsets
'''),
    ("md", "## Dirichlet clients at each heterogeneity level"),
    ("code", '''
federations = {
    a: build_federation(data, n_clients=n_clients, alpha=a, seed=seed)
    for a in sorted(set(alphas) | {alpha})
}
plots.plot_client_class_mix(
    {a: federations[a] for a in alphas},
    figures / f"01_client_class_mix_{dataset}.png",
    title=f"Per-client class mix, {n_clients} clients ({source})",
)
federation = federations[alpha]
plots.plot_subset_sizes(federation, figures / f"01_subset_sizes_{dataset}.png")
'''),
    ("md", "## What was built, and every repair or drop on the way"),
    ("code", '''
clients = federation.summary().pivot_table(
    index="client", columns="split", values="count", aggfunc="sum", fill_value=0
)
reporting.write_table(
    clients, figures / f"01_clients_{dataset}",
    caption=f"Rows per client at alpha={alpha:g}, seed={seed} ({source}).",
)
reporting.write_table(
    federation.report.to_frame(), figures / f"01_data_report_{dataset}",
    caption=f"Data report: repairs and drops while building {dataset} ({source}).",
)
assert len(federation.clients) == n_clients
assert all(len(c.all_train()) > 0 for c in federation.clients), "empty client"
assert segmentation.subsets.shape[0] == 10
clients
'''),
    ("code", '''
federation.report.to_frame()
'''),
]
