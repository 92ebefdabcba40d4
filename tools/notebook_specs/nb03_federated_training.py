NAME = "03_federated_training.ipynb"

CELLS = [
    ("md", '''
# 03 · Federated training: FMLTC-IDS against FedAvg, FedProx, Fed-ANIDS and SSFL

This notebook reproduces the comparison of section 4.2 of the paper: every
method trained for `rounds` communication rounds at each heterogeneity level
alpha (0.5, 1, 10), over several seeds, with accuracy, precision, recall and
F1 of the final round (Tables 1 and 2) and accuracy against round (Fig. 3).

**Input**: `dataset` (default `simulated`: *our seeded simulator, standing in
for the paper's private real IoT traffic*; or `iot23`, `bot_iot`,
`cicids2017` from `data_dir`), the federation of
`fmltc_core.experiments.build_experiment_federation` (identical to notebook
02's), and W0 from notebook 02 at `run_dir/pretrained/` (pretrained here when
missing). FMLTC-IDS starts from W0 and its meta-cluster centres; the
baselines start from the seeded random initialisation, since the paper gives
them no MAML stage. `engine` chooses the in-process loop or Flower's
simulation engine (same client and server code).

**Outputs** (mean and sd over `seeds`, the paper's values in adjacent columns
labelled `_paper`; every caption says which data the table came from):
- `figures_dir/table2_iot_simulated.{csv,md}` (dataset `simulated`) or
  `table2_iot_iot23` (`iot23`): beside the paper's Table 2
- `figures_dir/table1_bot_iot.{csv,md}` (`bot_iot`): beside Table 1
- `figures_dir/table_cicids2017.{csv,md}` (`cicids2017`): the paper has no
  table for it, our numbers only
- `figures_dir/fig3_accuracy_by_round_<dataset>.png`: this run's Fig. 3, and
  `fig3_accuracy_by_round.png`: every dataset whose results are in `run_dir`
- `run_dir/runs/<dataset>/alpha<a>/seed<s>/<method>/`: each run's config,
  per-round and per-client metrics; `run_dir/runs/<dataset>/results.csv`
'''),
    ("parameters", '''
dataset = "simulated"  # simulated | cicids2017 | bot_iot | iot23
data_dir = None  # folder holding the real datasets (ignored for simulated)
alpha = 1.0  # the alpha of a quick run
n_clients = 10
seed = 0  # the seed of a quick run
quick = False  # one seed, one alpha, 3 rounds, small simulator
figures_dir = "../figures"
run_dir = "../runs/default"
seeds = [0, 1, 2]
alphas = [0.5, 1.0, 10.0]  # the heterogeneity levels of the paper
methods = ["fmltc", "fedavg", "fedprox", "fed_anids", "ssfl"]
rounds = 10
n_flows = 10_000  # simulator only: the paper's real-IoT dataset has 10,000 flows
engine = "in_process"  # in_process | flower_simulation
'''),
    ("code", '''
from pathlib import Path

from fmltc_core import experiments, paper_values, plots
from fmltc_core.federated.methods import FederatedConfig
from fmltc_core.logging_config import configure_logging
from fmltc_core.runtime import configure_runtime

configure_runtime(threads=1)
configure_logging(log_file=Path(run_dir) / "03_federated_training.log")
figures = Path(figures_dir)
figures.mkdir(parents=True, exist_ok=True)
if quick:
    seeds, alphas, rounds = [seed], [alpha], min(rounds, 3)
config = FederatedConfig(rounds=rounds)
'''),
    ("md", "## Every method, alpha and seed"),
    ("code", '''
results = experiments.run_comparison(
    dataset,
    alphas,
    seeds,
    methods,
    config,
    run_dir=run_dir,
    data_dir=data_dir,
    n_clients=n_clients,
    quick=quick,
    n_flows=n_flows,
    engine=engine,
)
results.drop(columns=["accuracy_curve", "run_folder", "data"]).round(3)
'''),
    ("md", "## Final-round metrics beside the paper's table"),
    ("code", '''
experiments.write_comparison_table(results, dataset, figures, config)
table = experiments.comparison_table(experiments.summarise(results), dataset)
assert len(table) == len(alphas) * len(methods)
table.round(3)
'''),
    ("md", "## Fig. 3: accuracy by round (round 0 is the initial model)"),
    ("code", '''
paper = {dataset: paper_values.comparison_frame(dataset)}
plots.plot_accuracy_by_round(
    experiments.curves_frame(results),
    figures / f"fig3_accuracy_by_round_{dataset}.png",
    paper=paper,
    paper_round0=paper_values.round0_band(),
    notes={dataset: results["data_kind"].iloc[0]},
)
all_curves = experiments.collect_curves(run_dir)
datasets = list(dict.fromkeys(all_curves["dataset"]))
plots.plot_accuracy_by_round(
    all_curves,
    figures / "fig3_accuracy_by_round.png",
    paper={name: paper_values.comparison_frame(name) for name in datasets},
    paper_round0=paper_values.round0_band(),
    title=f"Accuracy by round, datasets found in {run_dir}: {datasets}",
)
'''),
]
