"""``make bench``: every speed and memory benchmark of the project in one run.

Each topic lives in ``fmltc_core/benchmarks/<topic>.py`` and exposes
``run(quick: bool = False) -> list[dict]`` returning rows with the keys
``name, ours, alternative, ratio, goal, met, unit, notes``. This module runs
the topics one after another in one process, sets the torch thread count
explicitly for each (and records it), recomputes every row's ``met`` from its
parsed goal, prints one table and writes ``figures/benchmarks.csv`` (one row
per item) and ``figures/benchmarks.md`` (the same table, the machine
description and a plain list of the missed goals).

Usage::

    python -m fmltc_core.bench [--quick] [--only NAME ...] [--measure-walltimes]
        [--output-dir DIR]

Full runs write to ``figures/``; quick runs (small inputs, a smoke test, not
results) to ``runs/bench-quick/`` and ``--only`` runs to ``runs/bench-partial/``
unless ``--output-dir`` is given, so the committed table always comes from one
full run. ``--only walltimes`` measures ``make reproduce`` and ``make test`` and
records them in ``figures/walltimes.json``; a full run reads that record.

Goal grammar (see :func:`parse_goal`): clauses joined by ``" and "``, each
``[target] op value [unit]`` with ``op`` one of ``<=, <, >=, >``. ``target`` is
``ours``, ``alternative`` or ``ratio``; when omitted, a value with a unit
(``"<= 60 s"``, ``">= 1e6 flows/s"``) applies to ``ours``, a bare number or
``"50x faster"`` applies to ``ratio``, and a word (``"<= tslearn"``) compares
``ours`` with ``alternative``. ``"none ..."`` means no goal. A goal that cannot
be evaluated (a value was not measured) gives ``met = None``, shown as "n/a",
never as met.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib
import importlib.metadata
import logging
import math
import operator
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Benchmark topics in run order, with the torch thread count set before each.
#: ``None``: not set here; the module sets its own thread counts or uses no
#: torch (its notes say which).
BENCHMARKS: dict[str, int | None] = {
    "grad_norms": 1,
    "clustering": 1,
    "flower_round": 1,
    "loading": None,
    "detection": None,
    "walltimes": None,
}
#: Row keys every benchmark returns, in table order.
ROW_KEYS = ("name", "ours", "alternative", "ratio", "goal", "met", "unit", "notes")
#: Columns of ``benchmarks.csv``.
CSV_COLUMNS = ("benchmark", *ROW_KEYS)
DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "figures"
#: Quick runs and ``--only`` runs go elsewhere, so they never overwrite the
#: committed results of a full run.
QUICK_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "runs" / "bench-quick"
PARTIAL_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "runs" / "bench-partial"

_OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_CLAUSE = re.compile(
    r"^\s*(?:(?P<target>ours|alternative|ratio)\s+)?(?P<op><=|>=|<|>)\s*"
    r"(?P<value>[0-9][0-9_,]*(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?|[A-Za-z][\w.-]*)"
    r"\s*(?P<rest>.*?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GoalClause:
    """One comparison of a goal: ``target op value``.

    Attributes
    ----------
    target : str
        ``"ours"``, ``"alternative"`` or ``"ratio"``.
    op : str
        ``"<="``, ``"<"``, ``">="`` or ``">"``.
    value : float or None
        The threshold; None when the clause compares ``ours`` with
        ``alternative`` (``"<= tslearn"``).
    unit : str
        The threshold's unit (empty for ratios); must match the row's unit.
    """

    target: str
    op: str
    value: float | None
    unit: str = ""

    def evaluate(self, row: dict) -> bool | None:
        """True or False, or None when a needed number was not measured."""
        if self.value is None:
            left, right = row.get("ours"), row.get("alternative")
        else:
            left, right = row.get(self.target), self.value
        if not (_is_number(left) and _is_number(right)):
            return None
        if self.unit and self.unit != (row.get("unit") or ""):
            logger.warning(
                "goal unit %r of %r does not match the row unit %r; met = n/a",
                self.unit,
                row.get("name"),
                row.get("unit"),
            )
            return None
        return bool(_OPERATORS[self.op](float(left), float(right)))


def _is_number(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def parse_goal(goal: str | None) -> list[GoalClause] | None:
    """Parse a goal text into clauses (all must hold).

    Parameters
    ----------
    goal : str or None
        E.g. ``"<= 2"``, ``"ours <= 1 ms"``, ``">= 50x faster"``,
        ``"<= 0.36 s and <= tslearn"``, ``"none (reported)"``.

    Returns
    -------
    list of GoalClause or None
        None when there is no goal (empty, ``None`` or starting with "none").

    Raises
    ------
    ValueError
        If a clause does not follow the grammar of the module docstring.
    """
    if goal is None or not str(goal).strip() or str(goal).strip().lower().startswith(
        "none"
    ):
        return None
    clauses = []
    for text in re.split(r"\s+and\s+", str(goal).strip()):
        match = _CLAUSE.match(text)
        if match is None:
            raise ValueError(
                f"goal must be clauses like '<= 2 s' or 'ratio >= 50' joined by "
                f"'and', got {goal!r}"
            )
        target, op, value, rest = match.group("target", "op", "value", "rest")
        if value[0].isalpha():
            if target is not None or rest:
                raise ValueError(f"goal clause comparing with {value!r} in {goal!r} "
                                 "must be '<op> <alternative name>'")
            clauses.append(GoalClause("ours", op, None))
            continue
        number = float(value.replace(",", "").replace("_", ""))
        if rest.lower().startswith("x"):
            clauses.append(GoalClause(target or "ratio", op, number))
        else:
            clauses.append(GoalClause(target or ("ours" if rest else "ratio"), op,
                                      number, rest))
    return clauses


def goal_met(row: dict) -> bool | None:
    """``met`` of a row from its ``goal`` and numbers (None: no goal or n/a)."""
    clauses = parse_goal(row.get("goal"))
    if clauses is None:
        return None
    results = [clause.evaluate(row) for clause in clauses]
    if any(result is False for result in results):
        return False
    if any(result is None for result in results):
        return None
    return True


def not_available_row(benchmark: str, reason: str) -> dict:
    """The row reported for a benchmark that could not run."""
    return {
        "name": f"{benchmark}: not available",
        "ours": None,
        "alternative": None,
        "ratio": None,
        "goal": "",
        "met": None,
        "unit": "",
        "notes": f"not available: {reason}",
    }


def check_row(row: dict) -> dict:
    """Validate a benchmark row, recompute ``met`` from its goal, return a copy."""
    missing = [key for key in ROW_KEYS if key not in row]
    if missing:
        raise ValueError(f"benchmark row must have keys {ROW_KEYS}, missing {missing}"
                         f" in {row!r}")
    checked = {key: row[key] for key in ROW_KEYS}
    for key in ("ours", "alternative", "ratio"):
        value = checked[key]
        if value is not None:
            value = float(value)
            checked[key] = value if math.isfinite(value) else None
    met = goal_met(checked)
    if row["met"] is not None and met is not None and bool(row["met"]) != met:
        logger.warning(
            "%s: the module reported met=%s but the goal %r gives %s; using %s",
            checked["name"], row["met"], checked["goal"], met, met,
        )
    checked["met"] = met
    return checked


def run_benchmark(name: str, *, quick: bool, measure_walltimes: bool) -> list[dict]:
    """Import ``fmltc_core.benchmarks.<name>`` lazily and run it.

    A module that cannot be imported gives one "not available" row with the
    reason. Exceptions raised while running propagate.
    """
    import torch

    try:
        module = importlib.import_module(f"fmltc_core.benchmarks.{name}")
    except ImportError as error:
        logger.warning("benchmark %s not available: %s", name, error)
        return [not_available_row(name, f"cannot import ({error})")]
    threads = BENCHMARKS.get(name)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    logger.info("running %s (quick=%s, torch threads %s)", name, quick,
                threads if threads is not None else "set by the module")
    start = time.perf_counter()
    try:
        if name == "walltimes":
            rows = module.run(quick=quick, measure=measure_walltimes)
        else:
            rows = module.run(quick=quick)
    finally:
        torch.set_num_threads(previous)
    logger.info("%s took %.1f s", name, time.perf_counter() - start)
    checked = []
    for row in rows:
        row = check_row(row)
        if threads is not None:
            row["notes"] = f"{row['notes']}; bench set torch threads = {threads}"
        checked.append(row)
    return checked


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root,
                               capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
        return f"{commit}{' (uncommitted changes)' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_description() -> dict[str, str]:
    """CPU, cores, memory, versions, thread settings and date of this run."""
    import numpy
    import psutil
    import torch

    affinity = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    return {
        "date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "CPU": _cpu_model(),
        "logical cores": f"{os.cpu_count()} ({affinity} usable by this process)",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": _version("pandas"),
        "scikit-learn": _version("scikit-learn"),
        "tslearn": _version("tslearn"),
        "flwr": _version("flwr"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS", "unset"),
        "torch threads at start": str(torch.get_num_threads()),
        "torch threads per benchmark": ", ".join(
            f"{name}={threads if threads is not None else 'module (see notes)'}"
            for name, threads in BENCHMARKS.items()
        ),
        "load average at start (1, 5, 15 min)": _load_average(),
        "git commit": _git_commit(),
    }


def _load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on a shared machine)."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _format_number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and (abs(value) >= 1e5 or 0 < abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def _format_met(met) -> str:
    return {True: "yes", False: "MISSED"}.get(met, "n/a")


def _table_cells(row: dict) -> list[str]:
    return [
        row["benchmark"],
        row["name"],
        _format_number(row["ours"]),
        _format_number(row["alternative"]),
        _format_number(row["ratio"]),
        str(row["goal"] or "-"),
        _format_met(row["met"]),
        str(row["unit"] or ""),
    ]


_TABLE_HEADER = ["benchmark", "item", "ours", "alternative", "ratio", "goal", "met",
                 "unit"]


def format_table(rows: Sequence[dict]) -> str:
    """A fixed-width text table of the rows (notes left out)."""
    cells = [_TABLE_HEADER, *(_table_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_TABLE_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                 strict=True))
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: str | Path) -> Path:
    """Write one row per benchmark item with :data:`CSV_COLUMNS`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            record = {key: row[key] for key in CSV_COLUMNS}
            record["met"] = "" if row["met"] is None else row["met"]
            writer.writerow(record)
    return path


def _markdown_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_markdown(
    rows: Sequence[dict], machine: dict[str, str], path: str | Path, *, quick: bool
) -> Path:
    """Write the table, the machine description and the missed goals."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    missed = [row for row in rows if row["met"] is False]
    unknown = [row for row in rows if row["met"] is None and parse_goal(row["goal"])]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m fmltc_core.bench{' --quick' if quick else ''}` "
        f"(`make bench`). Every number in the table was measured in this one run "
        "unless its notes say \"recorded\". `ratio` is defined per row in its "
        "notes; `met` is computed from the goal, never set by hand.",
        "",
    ]
    if quick:
        lines += ["**Quick mode**: small inputs and few repeats; these numbers "
                  "check that the benchmarks run, they are not results.", ""]
    lines += ["## Goals", ""]
    if missed:
        lines.append(f"**{len(missed)} goal(s) missed:**")
        lines.append("")
        for row in missed:
            lines.append(
                f"- {row['benchmark']}: {row['name']}: ours "
                f"{_format_number(row['ours'])} {row['unit']}, alternative "
                f"{_format_number(row['alternative'])}, ratio "
                f"{_format_number(row['ratio'])}; goal {row['goal']}"
            )
    else:
        lines.append("No measured goal was missed.")
    if unknown:
        lines += ["", "Goals that could not be checked (a number was not "
                  "measured):", ""]
        lines += [f"- {row['benchmark']}: {row['name']}" for row in unknown]
    unmeasured = [row for row in rows if row["ours"] is None]
    if unmeasured:
        lines += ["", "Not measured or not available in this run:", ""]
        lines += [f"- {row['benchmark']}: {row['name']}: {row['notes']}"
                  for row in unmeasured]
    lines += ["", "## Results", "",
              "| " + " | ".join([*_TABLE_HEADER, "notes"]) + " |",
              "|" + "---|" * (len(_TABLE_HEADER) + 1)]
    for row in rows:
        cells = [*_table_cells(row), row["notes"]]
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {_markdown_cell(value)} |" for key, value in machine.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_all(
    names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    measure_walltimes: bool = False,
    output_dir: str | Path = DEFAULT_OUTPUT_DIR,
) -> list[dict]:
    """Run the benchmarks, write the CSV and Markdown, return the rows.

    Parameters
    ----------
    names : sequence of str, optional
        Topics to run (keys of :data:`BENCHMARKS`); all when None.
    quick : bool, default False
        Small inputs and few repeats (what ``make test`` runs).
    measure_walltimes : bool, default False
        Run ``make reproduce`` and ``make test`` now (long) instead of reading
        the last recorded wall times.
    output_dir : str or Path, default ``figures/``
        Receives ``benchmarks.csv`` and ``benchmarks.md``.

    Returns
    -------
    list of dict
        The checked rows, each with a ``benchmark`` key added.
    """
    names = list(BENCHMARKS) if names is None else list(names)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise ValueError(f"names must be among {list(BENCHMARKS)}, got {unknown}")
    machine = machine_description()
    rows = []
    for name in names:
        for row in run_benchmark(name, quick=quick,
                                 measure_walltimes=measure_walltimes):
            rows.append({"benchmark": name, **row})
    machine["load average at end (1, 5, 15 min)"] = _load_average()
    output_dir = Path(output_dir)
    csv_path = write_csv(rows, output_dir / "benchmarks.csv")
    md_path = write_markdown(rows, machine, output_dir / "benchmarks.md", quick=quick)
    logger.info("wrote %s and %s", csv_path, md_path)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: run, print the table, write the files."""
    parser = argparse.ArgumentParser(prog="python -m fmltc_core.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small inputs and few repeats (smoke test)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS),
                        metavar="NAME", help=f"run these only: {list(BENCHMARKS)}")
    parser.add_argument("--measure-walltimes", action="store_true",
                        help="time `make reproduce` and `make test` now (long); "
                             "implied by --only walltimes")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="folder for benchmarks.csv and benchmarks.md "
                             "(default: figures/; runs/bench-quick/ with --quick, "
                             "runs/bench-partial/ with --only)")
    arguments = parser.parse_args(argv)
    if arguments.output_dir is None:
        if arguments.quick:
            arguments.output_dir = QUICK_OUTPUT_DIR
        elif arguments.only and set(arguments.only) != set(BENCHMARKS):
            arguments.output_dir = PARTIAL_OUTPUT_DIR
        else:
            arguments.output_dir = DEFAULT_OUTPUT_DIR
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    measure = arguments.measure_walltimes or arguments.only == ["walltimes"]
    rows = run_all(arguments.only, quick=arguments.quick, measure_walltimes=measure,
                   output_dir=arguments.output_dir)
    sys.stdout.write(format_table(rows) + "\n")
    missed = [row["name"] for row in rows if row["met"] is False]
    unmeasured = [row["name"] for row in rows if row["ours"] is None]
    sys.stdout.write(
        f"\n{len(missed)} goal(s) missed" + (f": {'; '.join(missed)}" if missed else "")
        + f"\n{len(unmeasured)} item(s) not measured or not available"
        + (f": {'; '.join(unmeasured)}" if unmeasured else "")
        + f"\nwritten: {arguments.output_dir / 'benchmarks.csv'}, "
        f"{arguments.output_dir / 'benchmarks.md'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
