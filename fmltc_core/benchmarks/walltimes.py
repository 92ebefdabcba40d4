"""Wall times of the whole default ``make reproduce`` and ``make test``.

These take many minutes, so they are measured only when asked
(``python -m fmltc_core.bench --only walltimes`` or ``--measure-walltimes``):
each target runs as ``make -o .venv/.installed <target>`` in a child process
from the repository root (the environment counts as built: creating it, about
3 minutes, is not part of the wall time), and the
measurement is written to ``figures/walltimes.json`` with its date, the exit
status and the machine's load average. Otherwise the rows are read from that
file and marked "recorded <date>" in their notes; with no file, the rows say
"not measured". Nothing is ever estimated. In quick mode (what ``make test``
runs) nothing is measured, which also keeps ``make test`` from timing itself.

There is no alternative to compare with and no goal in the issue, so the rows
report the times only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RECORD_PATH = ROOT / "figures" / "walltimes.json"
TARGETS = ("reproduce", "test")


def measure_target(target: str, *, root: str | Path = ROOT) -> dict:
    """Run ``make <target>`` in ``root`` and return its wall time and status.

    Returns
    -------
    dict
        ``seconds``, ``returncode``, ``date`` (UTC, ISO), ``load_average``
        (1, 5, 15 min at the end) and ``command``.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    # "-o .venv/.installed": the environment counts as built, so a changed
    # pyproject.toml never turns the measurement into a reinstall
    command = ["make", "-o", ".venv/.installed", target]
    logger.info("timing %s in %s (this takes a while)", " ".join(command), root)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=root, check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        logger.warning("make %s exited with %d: %s", target, completed.returncode,
                       completed.stderr[-2000:])
    return {
        "seconds": seconds,
        "returncode": completed.returncode,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "load_average": list(os.getloadavg()),
        "command": " ".join(command),
    }


def read_record(path: str | Path = RECORD_PATH) -> dict:
    """The recorded measurements (target -> dict), empty when there are none."""
    path = Path(path)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _row(target: str, record: dict | None, *, fresh: bool, quick: bool) -> dict:
    row = {
        "name": f"wall time of make {target} (default)",
        "ours": None,
        "alternative": None,
        "ratio": None,
        "goal": "none (reported)",
        "met": None,
        "unit": "s",
    }
    if record is None:
        reason = "quick mode" if quick else "no recorded measurement"
        row["notes"] = (
            f"not measured ({reason}); run `python -m fmltc_core.bench --only "
            f"walltimes` to measure and record it in {RECORD_PATH.name}"
        )
        return row
    code = record["returncode"]
    status = "ok" if code == 0 else f"FAILED (exit {code}), no time reported"
    when = "measured in this run" if fresh else "recorded"
    row["ours"] = record["seconds"] if code == 0 else None
    load = record.get("load_average")
    load_text = (
        ", ".join(f"{value:.2f}" for value in load) if load else "not recorded"
    )
    row["notes"] = (
        f"{when} {record['date']}; exit status {status}; load average at the end "
        f"{load_text}; command: {record.get('command', '?')}"
    )
    return row


def run(quick: bool = False, measure: bool = False,
        record_path: str | Path = RECORD_PATH) -> list[dict]:
    """Measure (when asked) or read the recorded wall times; return the rows.

    Parameters
    ----------
    quick : bool, default False
        Measure nothing and read nothing: rows say "not measured".
    measure : bool, default False
        Run ``make reproduce`` and ``make test`` now and record the result.
    record_path : str or Path
        The JSON file of the last measurement.

    Returns
    -------
    list of dict
        One row per target, ``ours`` in seconds (None when not measured).
    """
    if quick:
        return [_row(target, None, fresh=False, quick=True) for target in TARGETS]
    if measure:
        records = read_record(record_path)
        for target in TARGETS:
            records[target] = measure_target(target)
        record_path = Path(record_path)
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        logger.info("recorded %s", record_path)
        return [_row(target, records[target], fresh=True, quick=False)
                for target in TARGETS]
    records = read_record(record_path)
    return [_row(target, records.get(target), fresh=False, quick=False)
            for target in TARGETS]
