"""Experiment orchestration shared by notebooks 02, 03 and the ablations.

The notebooks only call this module, so that two notebooks asking for the same
dataset, alpha, number of clients and seed build the same federation and use
the same pretrained ``W0``:

* :func:`build_experiment_federation` loads a dataset (the simulator or a real
  one) and builds the federation. On real data a stratified public hold-out
  of :data:`PUBLIC_FRACTION` of the rows is kept for server pretraining (stage
  (2) of section 3.1); the simulator needs none, because its public data is
  an independent simulated platform (see :mod:`fmltc_core.pretraining`).
* :func:`pretrain_w0` and :func:`load_or_pretrain` produce ``W0`` and the
  meta-cluster centres, saved at :func:`pretrained_stem`
  (``{run_dir}/pretrained/w0_{dataset}_seed{seed}``). ``W0`` depends on the
  dataset, the seed and the preprocessing, not on alpha or the number of
  clients (the preprocessor is fitted on all client training rows before the
  Dirichlet split), so one ``W0`` per dataset and seed serves every alpha.
* :func:`run_comparison` runs every method for every alpha and seed (the
  setting of Tables 1 and 2 and Fig. 3, section 4.2) and returns one row per
  run. FMLTC-IDS starts from ``W0`` and uses the meta-centres; the baselines
  start from the seeded random initialisation, because the paper gives its
  baselines no MAML stage.
* :func:`summarise` and :func:`comparison_table` turn runs into mean and sd
  over seeds with the paper's values in adjacent columns, and
  :func:`write_comparison_table` writes them under the fixed names of
  :data:`TABLE_STEMS`, with a caption saying which data they came from.

Which table a dataset feeds
---------------------------
``simulated`` and ``iot23`` sit beside the paper's Table 2 (its private "real
IoT" traffic): ``table2_iot_simulated`` and ``table2_iot_iot23``. ``bot_iot``
sits beside Table 1: ``table1_bot_iot``. ``cicids2017`` has no table in the
paper (Fig. 3 only): ``table_cicids2017`` carries our numbers alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fmltc_core import paper_values
from fmltc_core.federated.methods import METHOD_LABELS, METHODS, FederatedConfig
from fmltc_core.pretraining import (
    PretrainedInit,
    load_pretrained,
    pretrain_initial_model,
    public_data_for,
    save_pretrained,
)

logger = logging.getLogger(__name__)

PUBLIC_FRACTION = 0.2
DEFAULT_N_FLOWS = 10_000
QUICK_N_FLOWS = 3_000
DEFAULT_META_STEPS = 150
QUICK_META_STEPS = 30
DEFAULT_PUBLIC_FLOWS = 5_000
QUICK_PUBLIC_FLOWS = 1_500
ENGINES = ("in_process", "flower_simulation")
RESULT_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "personalisation_gain",
    "convergence_round",
    "mean_round_seconds",
)
TABLE_STEMS = {
    "simulated": "table2_iot_simulated",
    "iot23": "table2_iot_iot23",
    "bot_iot": "table1_bot_iot",
    "cicids2017": "table_cicids2017",
}
# Rows of the full releases the loaders read (CICIDS2017 MachineLearningCVE,
# the BoT-IoT 5 % extract, all IoT-23 captures). Fewer rows: a sample.
FULL_DATASET_ROWS = {
    "cicids2017": 2_830_743,
    "bot_iot": 3_668_522,
    "iot23": 325_307_990,
}
_FINGERPRINT_KEYS = (
    "dataset",
    "seed",
    "n_rows",
    "n_public_rows",
    "n_subsets",
    "test_fraction",
    "label_mode",
    "pca_variance",
    "public_fraction",
)


# ---------------------------------------------------------------------------
# Data and federation
# ---------------------------------------------------------------------------


def data_kind(data) -> str:
    """``"simulated"``, ``"real sample"`` or ``"full dataset"`` for a FlowData."""
    if data.simulated:
        return "simulated"
    full = FULL_DATASET_ROWS.get(data.dataset)
    if full is not None and data.n_flows >= 0.9 * full:
        return "full dataset"
    return "real sample"


def describe_data(data) -> str:
    """One line naming the data a result came from (for captions and runs)."""
    kind = data_kind(data)
    if kind == "simulated":
        return (
            f"simulated IoT traffic ({data.n_flows} flows from our seeded "
            "simulator, not the paper's private data)"
        )
    files = data.frame["source_file"].nunique()
    return f"real data: {data.dataset}, {kind} ({data.n_flows} flows, {files} file(s))"


def load_experiment_data(
    dataset: str,
    data_dir: str | Path | None = None,
    *,
    seed: int = 0,
    quick: bool = False,
    n_flows: int | None = None,
):
    """Load ``dataset``; the simulator gets ``n_flows`` flows and ``seed``.

    ``quick`` caps the simulator at :data:`QUICK_N_FLOWS` flows (the same cap
    notebook 01 uses); real datasets are read whole.
    """
    from fmltc_core.data.datasets import load_dataset

    if dataset != "simulated":
        return load_dataset(dataset, data_dir)
    return load_dataset("simulated", n_flows=simulator_flows(quick, n_flows), seed=seed)


def simulator_flows(quick: bool = False, n_flows: int | None = None) -> int:
    """Simulated flows of a run: ``n_flows`` (default 10,000), capped when quick."""
    n_flows = DEFAULT_N_FLOWS if n_flows is None else int(n_flows)
    return min(n_flows, QUICK_N_FLOWS) if quick else n_flows


def federation_spec(
    dataset: str,
    data_dir: str | Path | None,
    alpha: float,
    n_clients: int,
    seed: int,
    quick: bool = False,
    *,
    n_flows: int | None = None,
):
    """The Flower App's description of :func:`build_experiment_federation`'s result.

    Every virtual Flower node rebuilds its federation from this
    ``fmltc_core.flower_app.FederationSpec``; it carries the same loader and
    split arguments, so both engines train on identical clients.
    """
    from fmltc_core.flower_app.settings import FederationSpec

    simulated = dataset == "simulated"
    load_options = (
        {"n_flows": simulator_flows(quick, n_flows), "seed": int(seed)}
        if simulated
        else {}
    )
    return FederationSpec(
        dataset=dataset,
        data_dir="" if data_dir is None else str(data_dir),
        n_clients=int(n_clients),
        alpha=float(alpha),
        seed=int(seed),
        load_options=load_options,
        build_options={"public_fraction": 0.0 if simulated else PUBLIC_FRACTION},
    )


def build_experiment_federation(
    dataset: str,
    data_dir: str | Path | None = None,
    alpha: float = 1.0,
    n_clients: int = 10,
    seed: int = 0,
    quick: bool = False,
    *,
    n_flows: int | None = None,
    data=None,
    **federation_options,
):
    """The data and the federation every notebook builds for one setting.

    Parameters
    ----------
    dataset : str
        ``"simulated"``, ``"cicids2017"``, ``"bot_iot"`` or ``"iot23"``.
    data_dir : str or Path, optional
        Folder of the real datasets.
    alpha : float
        Dirichlet concentration of the label skew.
    n_clients : int
    seed : int
        Seeds the simulator and every step of the federation.
    quick : bool
        Small simulator (see :func:`load_experiment_data`).
    n_flows : int, optional
        Simulator size (default :data:`DEFAULT_N_FLOWS`, the paper's 10,000).
    data : FlowData, optional
        Already loaded flows (reused across alphas to avoid reloading).
    **federation_options
        Passed to :func:`~fmltc_core.data.federation.build_federation`;
        ``public_fraction`` defaults to :data:`PUBLIC_FRACTION` on real data
        and 0 on the simulator.

    Returns
    -------
    data : FlowData
    federation : Federation
        ``federation.config["description"]`` says which data it came from
        (carried into every :class:`~fmltc_core.federated.engine.FederatedRun`).
    """
    from fmltc_core.data.federation import build_federation

    if data is None:
        data = load_experiment_data(
            dataset, data_dir, seed=seed, quick=quick, n_flows=n_flows
        )
    elif data.dataset != dataset:
        raise ValueError(
            f"data must be flows of dataset {dataset!r}, got {data.dataset!r}"
        )
    federation_options.setdefault(
        "public_fraction", 0.0 if data.simulated else PUBLIC_FRACTION
    )
    federation = build_federation(
        data, n_clients=n_clients, alpha=alpha, seed=seed, **federation_options
    )
    federation.config["description"] = describe_data(data)
    federation.config["data_kind"] = data_kind(data)
    return data, federation


def federation_fingerprint(federation) -> dict:
    """What ``W0`` depends on: dataset, seed, sizes and preprocessing settings."""
    fingerprint = {key: federation.config.get(key) for key in _FINGERPRINT_KEYS}
    fingerprint["n_features"] = int(federation.n_features)
    fingerprint["n_classes"] = len(federation.class_names)
    return json.loads(json.dumps(fingerprint, default=str))


# ---------------------------------------------------------------------------
# Pretraining (W0)
# ---------------------------------------------------------------------------


def pretrained_stem(run_dir: str | Path, dataset: str, seed: int) -> Path:
    """Fixed path of ``W0``: ``{run_dir}/pretrained/w0_{dataset}_seed{seed}``."""
    return Path(run_dir) / "pretrained" / f"w0_{dataset}_seed{seed}"


def pretrain_w0(
    dataset: str,
    federation,
    data,
    seed: int,
    quick: bool = False,
    *,
    meta_steps: int = DEFAULT_META_STEPS,
    n_public_flows: int = DEFAULT_PUBLIC_FLOWS,
    progress: bool = False,
) -> PretrainedInit:
    """Meta-train ``W0`` on the public data of ``dataset`` (section 3.2).

    ``quick`` caps ``meta_steps`` at :data:`QUICK_META_STEPS` and the public
    simulated platform at :data:`QUICK_PUBLIC_FLOWS` flows. The federation's
    fingerprint is stored in ``metadata["federation"]``.
    """
    if quick:
        meta_steps = min(meta_steps, QUICK_META_STEPS)
        n_public_flows = min(n_public_flows, QUICK_PUBLIC_FLOWS)
    public = public_data_for(
        dataset, federation, seed=seed, n_public_flows=n_public_flows, data=data
    )
    init = pretrain_initial_model(
        public,
        n_features=federation.n_features,
        n_classes=len(federation.class_names),
        seed=seed,
        meta_steps=meta_steps,
        progress=progress,
    )
    init.metadata["federation"] = federation_fingerprint(federation)
    init.metadata["data"] = federation.config.get("description", "")
    return init


def load_or_pretrain(
    run_dir: str | Path,
    dataset: str,
    federation,
    data,
    seed: int,
    quick: bool = False,
    *,
    progress: bool = False,
    **pretrain_options,
) -> PretrainedInit:
    """``W0`` saved by notebook 02 for this federation, or pretrain and save it.

    A saved ``W0`` is used when it was built for the same dataset, seed, sizes
    and preprocessing (:func:`federation_fingerprint`), whatever its training
    settings; otherwise it is pretrained again (logged) and overwritten.
    """
    stem = pretrained_stem(run_dir, dataset, seed)
    fingerprint = federation_fingerprint(federation)
    if stem.with_suffix(".safetensors").exists():
        init = load_pretrained(stem)
        if init.metadata.get("federation") == fingerprint:
            logger.info(
                "loaded W0 (%s, %s meta steps) from %s",
                init.mode,
                init.metadata.get("meta_steps"),
                stem,
            )
            return init
        logger.warning(
            "W0 at %s was built for another federation (%s, now %s); pretraining again",
            stem,
            init.metadata.get("federation"),
            fingerprint,
        )
    init = pretrain_w0(
        dataset, federation, data, seed, quick, progress=progress, **pretrain_options
    )
    save_pretrained(init, stem)
    return init


def round0_table(init: PretrainedInit, federation, seed: int) -> pd.DataFrame:
    """Round-0 accuracy of ``W0`` and of the seeded random initialisation.

    One row per client (its whole test set), then ``mean`` (over clients) and
    ``pooled`` (all test rows together). The random initialisation is the
    Detector the baselines start from (same architecture, ``seed``).
    """
    from fmltc_core.models import Detector
    from fmltc_core.training import evaluate

    arch = init.metadata["architecture"]
    random_model = Detector(
        arch["n_features"],
        arch["n_classes"],
        hidden=tuple(arch["hidden"]),
        latent=arch["latent"],
        seed=seed,
    )
    random_model.eval()
    w0_model = init.model()
    rows = []
    for client in federation.clients:
        test = client.all_test()
        if len(test) == 0:
            continue
        rows.append(
            {
                "client": str(client.client_id),
                "test_rows": len(test),
                "attack_share": float(np.mean(test.y != 0)),
                "w0_accuracy": evaluate(w0_model, test.X, test.y)["accuracy"],
                "random_init_accuracy": evaluate(random_model, test.X, test.y)[
                    "accuracy"
                ],
            }
        )
    table = pd.DataFrame(rows)
    weights = table["test_rows"].to_numpy(dtype=float)
    summary = [
        {
            "client": "mean",
            "test_rows": int(weights.sum()),
            "attack_share": table["attack_share"].mean(),
            "w0_accuracy": table["w0_accuracy"].mean(),
            "random_init_accuracy": table["random_init_accuracy"].mean(),
        },
        {
            "client": "pooled",
            "test_rows": int(weights.sum()),
            "attack_share": np.average(table["attack_share"], weights=weights),
            "w0_accuracy": np.average(table["w0_accuracy"], weights=weights),
            "random_init_accuracy": np.average(
                table["random_init_accuracy"], weights=weights
            ),
        },
    ]
    table = pd.concat([table, pd.DataFrame(summary)], ignore_index=True)
    return table.set_index("client")


# ---------------------------------------------------------------------------
# Method comparison (Tables 1 and 2, Fig. 3)
# ---------------------------------------------------------------------------


def engine_runner(engine: str):
    """The function that runs one federated experiment on ``engine``.

    ``"in_process"``: :func:`fmltc_core.federated.engine.run_federated`
    (takes the Federation). ``"flower_simulation"``:
    ``fmltc_core.flower_app.run_flower_simulation``, imported lazily (takes
    the :func:`federation_spec` its nodes rebuild the federation from).

    Raises
    ------
    ValueError
        For an unknown engine.
    NotImplementedError
        When the Flower engine is not importable in this installation.
    """
    if engine == "in_process":
        from fmltc_core.federated.engine import run_federated

        return run_federated
    if engine == "flower_simulation":
        try:
            from fmltc_core.flower_app import run_flower_simulation
        except ImportError as error:
            raise NotImplementedError(
                "engine 'flower_simulation' needs "
                "fmltc_core.flower_app.run_flower_simulation, which is not "
                f"available here ({error}); use engine='in_process'"
            ) from error
        return run_flower_simulation
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def run_folder(run_dir: str | Path, dataset: str, alpha: float, seed: int, method):
    """``{run_dir}/runs/<dataset>/alpha<a>/seed<s>/<method>/``."""
    return Path(run_dir) / "runs" / dataset / f"alpha{alpha:g}" / f"seed{seed}" / method


def run_comparison(
    dataset: str,
    alphas,
    seeds,
    methods=METHODS,
    config: FederatedConfig | None = None,
    *,
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    n_clients: int = 10,
    quick: bool = False,
    n_flows: int | None = None,
    engine: str = "in_process",
    threads: int | None = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every method for every alpha and seed; one row per run.

    Parameters
    ----------
    dataset : str
    alphas : sequence of float
        Dirichlet concentrations (paper: 0.5, 1, 10).
    seeds : sequence of int
        Each seed builds its own data (simulator), federation, ``W0`` and
        model initialisation; ``config.seed`` is replaced by it.
    methods : sequence of str
        Keys of :data:`~fmltc_core.federated.methods.METHODS`.
    config : FederatedConfig, optional
        Shared settings (rounds, learning rate, ...).
    run_dir : str or Path
        Each run is saved under :func:`run_folder` (``config.json``,
        ``rounds.csv``, ``clients.csv`` and ``experiment.json``), ``W0``
        under :func:`pretrained_stem`, and the results under
        ``{run_dir}/runs/<dataset>/results.csv`` and ``curves.csv``.
    data_dir, n_clients, quick, n_flows
        As in :func:`build_experiment_federation`.
    engine : {"in_process", "flower_simulation"}
    threads : int or None, default 1
        PyTorch threads (:func:`fmltc_core.runtime.configure_runtime`);
        None leaves the setting alone.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, alpha, seed, method): final ``accuracy``,
        ``precision``, ``recall``, ``f1``, ``personalisation_gain``,
        ``local_accuracy``, ``global_accuracy``, ``round0_accuracy``,
        ``convergence_round``, ``mean_round_seconds`` (rounds >= 1), the
        initialisation used, the data description, the run folder, and
        ``accuracy_curve`` (accuracy at rounds 0..R, for Fig. 3).
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"methods must be among {METHODS}, got {unknown}")
    if not len(alphas) or not len(seeds):
        raise ValueError(f"alphas and seeds must be non-empty, got {alphas}, {seeds}")
    runner = engine_runner(engine)
    if threads is not None:
        from fmltc_core.runtime import configure_runtime

        configure_runtime(threads)
    config = config or FederatedConfig()

    rows = []
    real_data = None
    for seed in seeds:
        for alpha in alphas:
            # Data and federation (real flows are loaded once and reused).
            data, federation = build_experiment_federation(
                dataset,
                data_dir,
                alpha,
                n_clients,
                seed,
                quick,
                n_flows=n_flows,
                data=real_data,
            )
            if not data.simulated:
                real_data = data
            init = None
            if "fmltc" in methods:
                init = load_or_pretrain(run_dir, dataset, federation, data, seed, quick)
            run_config = replace(config, seed=int(seed))

            for method in methods:
                options = {}
                initial = "seeded random initialisation"
                if method == "fmltc":
                    options = {
                        "initial_arrays": init.arrays,
                        "meta_centres": init.meta_centres,
                    }
                    initial = f"W0 ({init.mode})"
                logger.info(
                    "%s: alpha %g, seed %d, %s from %s",
                    dataset,
                    alpha,
                    seed,
                    METHOD_LABELS[method],
                    initial,
                )
                if engine == "in_process":
                    run = runner(
                        federation, method, run_config, progress=progress, **options
                    )
                else:
                    spec = federation_spec(
                        dataset,
                        data_dir,
                        alpha,
                        n_clients,
                        seed,
                        quick,
                        n_flows=n_flows,
                    )
                    run = runner(spec, method, run_config, **options)
                folder = run_folder(run_dir, dataset, alpha, seed, method)
                run.save(folder)
                experiment = {
                    "dataset": dataset,
                    "alpha": alpha,
                    "seed": int(seed),
                    "n_clients": n_clients,
                    "quick": quick,
                    "engine": engine,
                    "initialisation": initial,
                    "data": federation.config["description"],
                    "federation": federation_fingerprint(federation),
                    "config": asdict(run_config),
                }
                (folder / "experiment.json").write_text(
                    json.dumps(experiment, indent=2, default=str)
                )
                rows.append(
                    _result_row(run, dataset, alpha, seed, method, initial, folder)
                    | {
                        "data_kind": federation.config["data_kind"],
                        "data": federation.config["description"],
                    }
                )

    results = pd.DataFrame(rows)
    save_results(results, Path(run_dir) / "runs" / dataset)
    return results


def _result_row(run, dataset, alpha, seed, method, initial, folder) -> dict:
    rounds = run.rounds
    final = rounds.iloc[-1]
    trained = rounds[rounds["round"] >= 1]
    return {
        "dataset": dataset,
        "alpha": float(alpha),
        "seed": int(seed),
        "method": method,
        "method_label": METHOD_LABELS[method],
        "accuracy": float(final["accuracy"]),
        "precision": float(final["precision"]),
        "recall": float(final["recall"]),
        "f1": float(final["f1"]),
        "personalisation_gain": float(final["personalisation_gain"]),
        "local_accuracy": float(final["local_accuracy"]),
        "global_accuracy": float(final["global_accuracy"]),
        "round0_accuracy": float(rounds.iloc[0]["accuracy"]),
        "convergence_round": int(run.convergence_round),
        "mean_round_seconds": float(trained["seconds"].mean()),
        "rounds": int(final["round"]),
        "initialisation": initial,
        "run_folder": str(folder),
        "accuracy_curve": rounds["accuracy"].astype(float).tolist(),
    }


def curves_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Long form of the accuracy curves: dataset, alpha, seed, method, round."""
    rows = [
        {
            "dataset": row.dataset,
            "alpha": row.alpha,
            "seed": row.seed,
            "method": row.method,
            "round": index,
            "accuracy": value,
        }
        for row in results.itertuples()
        for index, value in enumerate(row.accuracy_curve)
    ]
    columns = ["dataset", "alpha", "seed", "method", "round", "accuracy"]
    return pd.DataFrame(rows, columns=columns)


def save_results(results: pd.DataFrame, folder: str | Path) -> Path:
    """Write ``results.csv`` (one row per run) and ``curves.csv`` to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results.drop(columns=["accuracy_curve"]).to_csv(folder / "results.csv", index=False)
    curves_frame(results).to_csv(folder / "curves.csv", index=False)
    logger.info("wrote %s and %s", folder / "results.csv", folder / "curves.csv")
    return folder


def collect_curves(run_dir: str | Path) -> pd.DataFrame:
    """Every dataset's ``curves.csv`` under ``{run_dir}/runs`` (for Fig. 3)."""
    paths = sorted((Path(run_dir) / "runs").glob("*/curves.csv"))
    if not paths:
        return curves_frame(pd.DataFrame(columns=["accuracy_curve"]))
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd (ddof 1; NaN for one seed) over seeds per dataset/alpha/method.

    Returns
    -------
    pandas.DataFrame
        Index ``(dataset, alpha, method)``; columns ``<metric>_mean``,
        ``<metric>_sd`` for each of :data:`RESULT_METRICS`, and ``n_seeds``.
    """
    grouped = results.groupby(["dataset", "alpha", "method"], sort=False)
    means = grouped[list(RESULT_METRICS)].mean().add_suffix("_mean")
    sds = grouped[list(RESULT_METRICS)].std(ddof=1).add_suffix("_sd")
    summary = means.join(sds)
    summary["n_seeds"] = grouped["seed"].nunique()
    ordered = [f"{m}_{s}" for m in RESULT_METRICS for s in ("mean", "sd")]
    return summary[[*ordered, "n_seeds"]]


def comparison_table(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Our mean and sd beside the paper's values, one row per alpha and method.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarise`.
    dataset : str
        Selects the rows and the paper table (:data:`paper_values.DATASET_TABLE`).

    Returns
    -------
    pandas.DataFrame
        Index ``(alpha, method)`` with the paper's method names, in the paper's
        row order; for accuracy, recall and F1 the columns ``<m>_mean``,
        ``<m>_sd``, ``<m>_paper`` (NaN where the paper gives no value), then
        precision, personalisation gain, convergence round, seconds per round
        (mean and sd) and ``n_seeds``.
    """
    ours = summary.xs(dataset, level="dataset")
    paper = paper_values.comparison_frame(dataset)
    order = {m: i for i, m in enumerate(paper_values.METHOD_ORDER)}
    keys = sorted(ours.index, key=lambda key: (key[0], order.get(key[1], 99)))
    rows = []
    for alpha, method in keys:
        mine = ours.loc[(alpha, method)]
        row = {"alpha": alpha, "method": METHOD_LABELS[method]}
        for metric in paper_values.COMPARISON_METRICS:
            row[f"{metric}_mean"] = mine[f"{metric}_mean"]
            row[f"{metric}_sd"] = mine[f"{metric}_sd"]
            row[f"{metric}_paper"] = (
                paper.loc[(alpha, method), metric]
                if (alpha, method) in paper.index
                else np.nan
            )
        for metric in RESULT_METRICS:
            if metric in paper_values.COMPARISON_METRICS:
                continue
            row[f"{metric}_mean"] = mine[f"{metric}_mean"]
            row[f"{metric}_sd"] = mine[f"{metric}_sd"]
        row["n_seeds"] = int(mine["n_seeds"])
        rows.append(row)
    table = pd.DataFrame(rows).set_index(["alpha", "method"])
    table.attrs["paper_source"] = paper.attrs["source"]
    return table


def comparison_caption(
    dataset: str, results: pd.DataFrame, config: FederatedConfig | None = None
) -> str:
    """The caption of a comparison table: data source, settings, paper columns."""
    subset = results[results["dataset"] == dataset]
    kind = subset["data_kind"].iloc[0]
    data = subset["data"].iloc[0]
    seeds = sorted(subset["seed"].unique().tolist())
    rounds = int(subset["rounds"].iloc[0])
    table = paper_values.DATASET_TABLE[dataset]
    if table is None:
        paper = f"No paper columns: {paper_values.NO_CICIDS2017_TABLE}"
    else:
        source = paper_values.COMPARISON_TABLES[table]
        paper = (
            f"Columns ending in _paper are the paper's {source['source']} values "
            f"on {source['paper_data']}, shown beside ours, not a target."
        )
    stand_in = ""
    if dataset == "simulated":
        stand_in = (
            " Our simulated traffic stands in for the paper's private real IoT "
            "data (Table 2)."
        )
    lr = f", lr {config.lr:g}" if config is not None else ""
    return (
        f"**{TABLE_STEMS[dataset]}** — data: {kind}; {data}.{stand_in} "
        f"Final round ({rounds} rounds{lr}), mean and sd over {len(seeds)} "
        f"seed(s) {seeds} (sd is NaN with one seed). FMLTC-IDS starts from the "
        "MAML-pretrained W0 with meta-cluster centres; the baselines start from "
        "the seeded random initialisation (the paper gives its baselines no "
        f"MAML). {paper}"
    )


def write_comparison_table(
    results: pd.DataFrame,
    dataset: str,
    figures_dir: str | Path,
    config: FederatedConfig | None = None,
) -> tuple[Path, Path]:
    """Write ``figures_dir/<TABLE_STEMS[dataset]>.{csv,md}`` and return the paths."""
    from fmltc_core.reporting import write_table

    if dataset not in TABLE_STEMS:
        raise ValueError(
            f"dataset must be one of {sorted(TABLE_STEMS)}, got {dataset!r}"
        )
    table = comparison_table(summarise(results), dataset)
    caption = comparison_caption(dataset, results, config)
    return write_table(
        table.reset_index(), Path(figures_dir) / TABLE_STEMS[dataset], caption=caption
    )
