"""Run the notebooks headless with papermill: ``make reproduce`` and the tests.

Every notebook declares the same core parameters in its ``parameters`` cell
(``dataset``, ``data_dir``, ``alpha``, ``n_clients``, ``seed``, ``quick``) plus
``figures_dir`` and ``run_dir``. This module knows the ordered list of
notebooks and the parameters of each profile, refuses parameters a notebook
does not declare (papermill would otherwise inject them silently), and writes
the executed copies to a run folder.

Usage::

    python -m fmltc_core.reproduce                      # default profile, simulator
    python -m fmltc_core.reproduce --profile paper
    python -m fmltc_core.reproduce --data-dir ../shared/data
    python -m fmltc_core.reproduce --only 01 -p alpha=0.5
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fmltc_core.logging_config import configure_logging

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FIGURES_DIR = REPO_ROOT / "figures"
RUNS_DIR = REPO_ROOT / "runs"

# The ordered notebooks of the reproduction. Later issues append to this list.
NOTEBOOKS = (
    "01_data_construction",
    "02_maml_pretraining",
    "03_federated_training",
    "04_rq1_batch_adaptation",
    "05_rq2_feature_extraction",
    "06_rq3_time_series_clustering",
)

# Parameters per profile, applied to every notebook that declares them.
_PAPER_ALPHAS = [0.5, 1.0, 10.0]
PROFILES: dict[str, dict[str, object]] = {
    # Offline, on the seeded simulator, sized for 2 CPU cores: every method,
    # the paper's three alphas, 3 seeds, 10 rounds, 10,000 flows, 10 clients.
    "default": {
        "dataset": "simulated",
        "seed": 0,
        "quick": False,
        "n_clients": 10,
        "n_flows": 10_000,
        "alphas": _PAPER_ALPHAS,
        "seeds": [0, 1, 2],
        "rounds": 10,
        "meta_steps": 150,
    },
    # The paper's settings where it states them (10,000 flows, subsets D1..D10,
    # alphas 0.5/1/10, accuracy after 10 rounds). It does not state the number
    # of clients or of repetitions: 10 clients and 5 seeds are our choice.
    "paper": {
        "dataset": "simulated",
        "seed": 0,
        "quick": False,
        "n_clients": 10,
        "n_flows": 10_000,
        "alphas": _PAPER_ALPHAS,
        "seeds": [0, 1, 2, 3, 4],
        "rounds": 10,
        "meta_steps": 150,
    },
    # Small parameters used by the test suite to execute every notebook
    # (quick: 3,000 simulated flows, 1 seed, 1 alpha, 3 rounds, 30 meta steps).
    "test": {"dataset": "simulated", "seed": 0, "quick": True, "n_clients": 5},
}

# Real datasets run by ``--data-dir``: every one found in the folder.
REAL_DATASET_FOLDERS = {
    "cicids2017": ("cicids2017", "cicids2017_improved"),
    "bot_iot": ("bot_iot",),
    "iot23": ("iot23",),
}


class UnknownParameterError(ValueError):
    """A parameter was passed that the notebook's ``parameters`` cell lacks."""


@dataclass
class NotebookRun:
    """What one papermill execution produced."""

    name: str
    output_path: Path
    parameters: dict[str, object]
    seconds: float


def declared_parameters(notebook_path: Path) -> set[str]:
    """Names declared in the notebook's cell tagged ``parameters``."""
    import papermill

    inspected = papermill.inspect_notebook(str(notebook_path))
    if not inspected:
        raise ValueError(f"{notebook_path} has no cell tagged 'parameters'")
    return set(inspected)


def check_parameters(notebook_path: Path, parameters: dict[str, object]) -> None:
    """Raise :class:`UnknownParameterError` for any undeclared parameter."""
    unknown = sorted(set(parameters) - declared_parameters(notebook_path))
    if unknown:
        raise UnknownParameterError(
            f"{notebook_path.name} does not declare parameter(s) {unknown}; "
            f"declared: {sorted(declared_parameters(notebook_path))}"
        )


def run_notebook(
    name: str,
    parameters: dict[str, object],
    output_dir: Path,
    *,
    progress: bool = True,
) -> NotebookRun:
    """Execute ``notebooks/<name>.ipynb`` with ``parameters`` into ``output_dir``.

    Raises
    ------
    UnknownParameterError
        If a parameter is not declared by the notebook.
    papermill.PapermillExecutionError
        If a cell fails; the executed copy with the traceback is kept.
    """
    import papermill

    source = NOTEBOOKS_DIR / f"{name}.ipynb"
    if not source.exists():
        raise FileNotFoundError(f"no notebook {source}")
    check_parameters(source, parameters)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{name}.ipynb"
    logger.info("executing %s -> %s with %s", source.name, target, parameters)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(source),
        str(target),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(NOTEBOOKS_DIR),
        progress_bar=progress,
    )
    seconds = time.perf_counter() - start
    logger.info("%s finished in %.1f s", name, seconds)
    return NotebookRun(name, target, dict(parameters), seconds)


def notebook_parameters(
    name: str,
    profile: str,
    *,
    figures_dir: Path,
    run_dir: Path,
    overrides: dict[str, object] | None = None,
) -> dict[str, object]:
    """The profile's parameters that ``name`` declares, plus the output folders.

    Profile entries a notebook does not declare are left out (profiles are
    shared by all notebooks); explicit ``overrides`` are not filtered, so a
    misspelt override fails loudly in :func:`check_parameters`.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    declared = declared_parameters(NOTEBOOKS_DIR / f"{name}.ipynb")
    parameters = {k: v for k, v in PROFILES[profile].items() if k in declared}
    parameters["figures_dir"] = str(figures_dir)
    parameters["run_dir"] = str(run_dir)
    parameters.update(overrides or {})
    return parameters


def reproduce(
    profile: str = "default",
    *,
    data_dir: Path | None = None,
    only: list[str] | None = None,
    overrides: dict[str, object] | None = None,
    figures_dir: Path = FIGURES_DIR,
    run_dir: Path | None = None,
) -> list[NotebookRun]:
    """Run the notebooks in order; on real data, once per dataset found."""
    run_dir = run_dir or RUNS_DIR / profile
    names = [n for n in NOTEBOOKS if not only or any(n.startswith(o) for o in only)]
    if not names:
        raise ValueError(f"--only {only} matches none of {NOTEBOOKS}")

    datasets: list[str | None] = [None]
    if data_dir is not None:
        data_dir = Path(data_dir).resolve()
        datasets = [
            name
            for name, folders in REAL_DATASET_FOLDERS.items()
            if any((data_dir / folder).exists() for folder in folders)
        ]
        if not datasets:
            raise FileNotFoundError(
                f"no dataset folder ({sorted(REAL_DATASET_FOLDERS)}) in {data_dir}; "
                "see docs/DATASETS.md"
            )
        logger.info("real datasets found in %s: %s", data_dir, datasets)

    runs = []
    for dataset in datasets:
        for name in names:
            extra = dict(overrides or {})
            if dataset is not None:
                extra.setdefault("dataset", dataset)
                extra.setdefault("data_dir", str(data_dir))
            parameters = notebook_parameters(
                name, profile, figures_dir=figures_dir, run_dir=run_dir, overrides=extra
            )
            suffix = "" if dataset is None else f"_{dataset}"
            runs.append(run_notebook(name, parameters, run_dir / f"executed{suffix}"))
    if only is None and data_dir is None:
        from fmltc_core.comparison import write_report

        write_report(figures_dir, profile=profile)
    total = sum(run.seconds for run in runs)
    logger.info(
        "reproduction (%s) finished: %d notebooks, %.1f s", profile, len(runs), total
    )
    return runs


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", choices=sorted(PROFILES))
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with real datasets (layout of docs/DATASETS.md)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="notebook name prefixes to run, e.g. 01 03",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        type=_parse_override,
        help="NAME=VALUE passed to every notebook",
    )
    parser.add_argument("--figures-dir", type=Path, default=FIGURES_DIR)
    parser.add_argument("--run-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        reproduce(
            args.profile,
            data_dir=args.data_dir,
            only=args.only,
            overrides=dict(args.parameter),
            figures_dir=args.figures_dir.resolve(),
            run_dir=args.run_dir.resolve() if args.run_dir else None,
        )
    except (UnknownParameterError, FileNotFoundError, ValueError) as error:
        logger.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
