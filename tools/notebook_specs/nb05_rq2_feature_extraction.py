NAME = "05_rq2_feature_extraction.ipynb"

CELLS = [
    ("md", '''
# 05 · RQ2: which client features make clustering cheap?

This notebook reproduces section 4.3.2 of the paper (Fig. 4): how long the
server takes to cluster clients when it describes each client by

- **all layers**: every parameter of the upload (4,354 for the Detector on 25
  features), no reduction;
- **first layer + PCA**: the first encoder layer's weight matrix, reduced by
  the server's PCA (95 % of the variance, eqs. 7-8);
- **last layer + PCA**: the method, eq. 6's M x R output-layer matrix
  reduced by PCA (eqs. 6-8);
- **last layer + UMAP**: the same last-layer features embedded by UMAP
  (umap-learn, 2 components, its defaults otherwise). We chose the last
  layer so that this row differs from the method only in the reduction.

Every description gets eq. 10's gradient mean and variance and is clustered
by the same clusterer: weighted DBA K-Means (eqs. 9, 11-13) at a fixed K
(`n_clusters`), k-means++ seeded, on a window of `n_rounds` rounds. The timed
work is feature extraction + reduction + one clustering fit, wall clock on
this machine, after an untimed warm-up (numba compilation), with BLAS on one
thread for every method.

**Uploads**: real Detector weights. A short FMLTC-IDS run (from W0) on the
federation of `dataset` records every client's upload in each of `n_rounds`
rounds (`ablations.record_trajectories`). Populations of 10 to 1,000 clients
are made from these prototypes by seeded perturbation
(`ablations.expand_trajectories`: client j copies prototype j mod P, plus a
persistent offset and per-round jitter of `spread` times each weight's spread
across prototypes). The paper measures on BoT-IoT at alpha 1; **the default
here is our simulator** (*simulated IoT traffic*), because the BoT-IoT sample
has no benign rows. UMAP runs unseeded by default (its parallel fast path;
`umap_seeded=True` makes it reproducible and slower).

**Outputs** (for a real dataset the names end with `_<dataset>`):
- `figures_dir/fig4_clustering_time.png`: bars at `bar_clients` clients
  beside the paper's stated times, and lines against the number of clients
  (log scales)
- `figures_dir/fig4_clustering_time.{csv,md}`: the bars as a table, with the
  paper's 21.42 s, 0.45 s and 0.36 s (its text gives no UMAP number), and
  `fig4_clustering_time_by_clients.{csv,md}`: every measurement
'''),
    ("parameters", '''
dataset = "simulated"  # simulated (default) | bot_iot | iot23 | cicids2017
data_dir = None  # folder holding the real datasets (ignored for simulated)
alpha = 1.0  # the paper's setting for this ablation
n_clients = 10  # clients of the federation whose uploads are the prototypes
seed = 0
quick = False  # 10 and 100 clients only, small simulator
figures_dir = "../figures"
run_dir = "../runs/default"
n_flows = 10_000  # simulator only
client_counts = [10, 100, 1000]  # populations timed (quick: 10 and 100)
bar_clients = 100  # population shown as bars (the paper does not state it)
n_rounds = 5  # window of rounds (the method's cluster_window)
n_clusters = 4  # fixed K for every method
spread = 0.25  # perturbation of the prototypes
repeats = 1  # best of this many timings
umap_seeded = False
'''),
    ("code", '''
from pathlib import Path

from fmltc_core import ablation_plots, ablations, experiments, reporting
from fmltc_core.logging_config import configure_logging
from fmltc_core.runtime import configure_runtime

configure_runtime(threads=1)
configure_logging(log_file=Path(run_dir) / "05_rq2_feature_extraction.log")
figures = Path(figures_dir)
figures.mkdir(parents=True, exist_ok=True)
if quick:
    client_counts = [c for c in client_counts if c <= 100] or [10, 100]
    bar_clients = max(client_counts)
suffix = "" if dataset == "simulated" else f"_{dataset}"
'''),
    ("md", "## Prototype uploads: every client of the federation over the window"),
    ("code", '''
data, federation = experiments.build_experiment_federation(
    dataset, data_dir, alpha, n_clients, seed, quick, n_flows=n_flows
)
init = experiments.load_or_pretrain(run_dir, dataset, federation, data, seed, quick)
source = federation.config["description"]
prototypes = ablations.record_trajectories(
    federation,
    n_rounds=n_rounds,
    seed=seed,
    initial_arrays=init.arrays,
    meta_centres=init.meta_centres,
)
print(source)
print(prototypes.source, f"; {prototypes.n_parameters} parameters per upload")
'''),
    ("md", "## Time every feature description at every number of clients"),
    ("code", '''
timings = ablations.run_feature_timing(
    prototypes,
    client_counts,
    n_clusters=n_clusters,
    spread=spread,
    seed=seed,
    repeats=repeats,
    umap_seeded=umap_seeded,
)
timings.round(4)
'''),
    ("md", "## Fig. 4 beside the paper's numbers"),
    ("code", '''
bars = ablations.fig4_table(timings, bar_clients)
caption = (
    f"Fig. 4 (RQ2): features + reduction + one weighted DBA K-Means fit "
    f"(K={n_clusters}, window {n_rounds} rounds), seconds on this machine "
    f"(1 BLAS and 1 torch thread, best of {repeats}); uploads: real Detector "
    f"weights of {prototypes.n_clients} clients of {source}, perturbed to "
    f"larger populations (spread {spread}); _paper: the paper's section 4.3.2 "
    "text (BoT-IoT, alpha 1, GPU; no UMAP number given)."
)
reporting.write_table(
    bars, figures / f"fig4_clustering_time{suffix}",
    caption=f"{caption} Bars at {bar_clients} clients.",
)
reporting.write_table(
    timings.set_index(["method", "n_clients"]),
    figures / f"fig4_clustering_time_by_clients{suffix}",
    caption=caption,
    float_format=".4f",
)
ablation_plots.plot_clustering_time(
    timings,
    bars,
    figures / f"fig4_clustering_time{suffix}.png",
    title=f"Clustering time by feature extraction ({source})",
)
bars.round(4)
'''),
    ("md", "## Checks (invariants, not eyeballing)"),
    ("code", '''
assert set(timings["method"]) == set(ablations.FEATURE_METHODS)
assert sorted(timings["n_clients"].unique()) == sorted(client_counts)
assert (timings["seconds"] > 0).all()
assert (timings["feature_seconds"] <= timings["seconds"]).all()
dims = timings.groupby("method")["dimensions"].max()
assert dims["all layers"] == prototypes.n_parameters + 2
assert dims["last layer + PCA"] < dims["all layers"]
assert dims["last layer + UMAP"] == 2 + 2
assert bars.loc["last layer + PCA", "relative_to_last_layer_pca"] == 1.0
assert bars["paper_seconds"].notna().sum() == 3
'''),
]
