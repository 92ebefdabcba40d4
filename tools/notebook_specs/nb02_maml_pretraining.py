NAME = "02_maml_pretraining.ipynb"

CELLS = [
    ("md", '''
# 02 · MAML pretraining of the initial weights W0 (server side)

This notebook reproduces stage (2) of the workflow (sections 3.1 and 3.2 of
the paper): the server trains the detector on public data with MAML, so that
the initial weights W0 adapt quickly to each client, and keeps meta-cluster
centres for the clustering (section 3.4, step 1). It then measures the
accuracy of W0 on every client before any federated round, the quantity the
paper reports as 50-60 % at round 0 (section 4.2).

**Input**: the federation of notebook 01 for `dataset`, `alpha`, `n_clients`,
`seed`, built by `fmltc_core.experiments.build_experiment_federation` (the
same call notebook 03 makes). Public data: for `simulated`, an independent
simulated platform (another seed; *simulated traffic, not the paper's private
data*); for a real dataset, a stratified 20 % hold-out never given to a client.
When no public task holds both classes (the BoT-IoT sample has no benign rows),
W0 comes from plain supervised training and the figures say so.

**Outputs**:
- `figures_dir/02_maml_curves_<dataset>.png`: meta loss and post-adaptation
  query loss and accuracy per meta step
- `figures_dir/02_round0_accuracy_<dataset>.png`: round-0 accuracy per client,
  W0 against the seeded random initialisation the baselines start from, with
  the paper's 50-60 % band
- `figures_dir/02_round0_<dataset>.{csv,md}`: the same numbers as a table
- `run_dir/pretrained/w0_<dataset>_seed<seed>.{safetensors,json}` and
  `_centres.npy`: W0 for notebook 03 and the ablations
'''),
    ("parameters", '''
dataset = "simulated"  # simulated | cicids2017 | bot_iot | iot23
data_dir = None  # folder holding the real datasets (ignored for simulated)
alpha = 1.0  # Dirichlet concentration (W0 itself does not depend on it)
n_clients = 10
seed = 0
quick = False  # small sizes for the test suite
figures_dir = "../figures"
run_dir = "../runs/default"
n_flows = 10_000  # simulator only
meta_steps = 150  # MAML outer steps (quick: at most 30)
'''),
    ("code", '''
from pathlib import Path

from fmltc_core import experiments, paper_values, plots, reporting
from fmltc_core.logging_config import configure_logging
from fmltc_core.pretraining import load_pretrained, save_pretrained
from fmltc_core.runtime import configure_runtime

configure_runtime(threads=1)
configure_logging(log_file=Path(run_dir) / "02_maml_pretraining.log")
figures = Path(figures_dir)
figures.mkdir(parents=True, exist_ok=True)
'''),
    ("md", "## The federation (identical to notebook 03's)"),
    ("code", '''
data, federation = experiments.build_experiment_federation(
    dataset, data_dir, alpha, n_clients, seed, quick, n_flows=n_flows
)
source = federation.config["description"]
print(source)
'''),
    ("md", "## Meta-train W0 on the public data"),
    ("code", '''
init = experiments.pretrain_w0(
    dataset, federation, data, seed, quick, meta_steps=meta_steps, progress=False
)
print(f"mode: {init.mode}; public data: {init.metadata['public_data']}; "
      f"{init.metadata['n_tasks']} tasks")
plots.plot_maml_curves(
    init.curves,
    figures / f"02_maml_curves_{dataset}.png",
    title=f"MAML meta-training of W0 ({init.mode}; {source})",
)
'''),
    ("md", "## Round-0 accuracy on every client"),
    ("code", '''
round0 = experiments.round0_table(init, federation, seed)
band = paper_values.round0_band()
reporting.write_table(
    round0,
    figures / f"02_round0_{dataset}",
    caption=(
        f"Round-0 accuracy (before any federated round) of W0 ({init.mode}) and "
        f"of the seeded random initialisation, per client test set; alpha={alpha:g}, "
        f"{n_clients} clients, seed {seed}. Data: {source}. The paper's round-0 "
        f"accuracy is {band[0]:.0%}-{band[1]:.0%} (section 4.2 text), on its own data."
    ),
)
plots.plot_round0_accuracy(
    round0,
    figures / f"02_round0_accuracy_{dataset}.png",
    paper_band=band,
    title=f"Round-0 accuracy per client ({source})",
)
round0
'''),
    ("md", "## Save W0 for the later notebooks"),
    ("code", '''
stem = experiments.pretrained_stem(run_dir, dataset, seed)
save_pretrained(init, stem)
reloaded = load_pretrained(stem)
assert reloaded.mode == init.mode
assert all((reloaded.arrays[k] == v).all() for k, v in init.arrays.items())
assert reloaded.metadata["federation"] == experiments.federation_fingerprint(federation)
print(f"W0 saved to {stem.with_suffix('.safetensors')}")
'''),
]
