"""Time and peak memory of loading a full-size CIC-IDS2017 file set.

The benchmark writes a MachineLearningCVE-shaped file set of 2,830,743 rows
(the real dataset's size) with
:func:`~fmltc_core.data.synthetic_files.write_cicids2017_like` (the real
header with its leading spaces and duplicated column, ``Infinity``/``NaN``,
mojibake labels, CRLF files, a BOM) into a temporary folder, then loads it,
side by side in one run:

* ``ours``: :func:`fmltc_core.data.cicids2017.load_cicids2017` (repairs every
  quirk, float32 features, labels normalised, every repair in a data report);
* ``alternative``: what a user would otherwise write,
  ``pandas.concat([pandas.read_csv(f) for f in files])`` with default settings
  (float64, no repairs: names keep their spaces, ``Infinity`` stays ``inf``,
  the mojibake labels stay broken). As with the real files, the default UTF-8
  decoding fails on the raw cp1252 dash of the web-attack file; that file is
  read again with ``encoding="latin-1"``, the usual fix, and the time of the
  failed attempt counts (the notes say how many files needed it).

Each load runs in its own child process, so neither the benchmark process nor
the other loader counts. A child reports the wall time of the load call
(imports excluded, reported in the notes) and its peak resident memory,
``VmHWM`` of ``/proc/self/status`` (not ``ru_maxrss``, which Linux carries over
from the forking parent across ``exec``); it includes the interpreter and the
imported libraries (their resident size before loading is in the notes).
Linux only. The files are freshly written, so both loaders read them from the
page cache. Rows:

* "load CIC-IDS2017 ...: time", goal ``<= 60 s``, ``ratio = alternative/ours``;
* "load CIC-IDS2017 ...: peak memory", goal ``<= 3 GB``, same ratio.

Quick mode uses 20,000 rows over the eight files; its goals still apply to
the numbers but say nothing about the full size.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

FULL_ROWS = 2_830_743
QUICK_ROWS = 20_000
SEED = 0
BYTES_PER_GB = 1e9

_CHILD = """
import json, resource, sys, time
from pathlib import Path

def rss_bytes():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()

kind, folder = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
if kind == "ours":
    from fmltc_core.data.cicids2017 import load_cicids2017
else:
    import pandas
imported = time.perf_counter()
baseline = rss_bytes()
start_load = time.perf_counter()
if kind == "ours":
    rows = load_cicids2017(folder).n_flows
    retried = 0
else:
    frames, retried = [], 0
    for path in sorted(folder.glob("*.csv")):
        try:
            frames.append(pandas.read_csv(path))
        except UnicodeDecodeError:
            retried += 1
            frames.append(pandas.read_csv(path, encoding="latin-1"))
    rows = len(pandas.concat(frames))
seconds = time.perf_counter() - start_load
with open("/proc/self/status") as handle:
    peak = next(int(line.split()[1]) * 1024 for line in handle
                if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "rows": rows,
                  "import_seconds": imported - start, "baseline_bytes": baseline,
                  "retried": retried}))
"""


def measure_load(kind: str, folder: str | Path) -> dict:
    """Load ``folder`` in a child process; return its time and peak memory.

    Parameters
    ----------
    kind : {"ours", "pandas"}
        Which loader to run.
    folder : str or Path
        The file set.

    Returns
    -------
    dict
        ``seconds`` (load call), ``peak_bytes`` (child's peak RSS),
        ``rows``, ``import_seconds``, ``baseline_bytes`` (RSS before loading),
        ``retried`` (files pandas had to read again as latin-1).
    """
    if kind not in ("ours", "pandas"):
        raise ValueError(f"kind must be 'ours' or 'pandas', got {kind!r}")
    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = os.pathsep.join(
        [root, *filter(None, [environment.get("PYTHONPATH")])]
    )
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(folder)],
        capture_output=True, text=True, env=environment, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{kind} loader failed in the child process (exit "
            f"{completed.returncode}): {completed.stderr[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    """Generate the file set, load it both ways, return the benchmark rows.

    Parameters
    ----------
    quick : bool, default False
        20,000 rows instead of 2,830,743.

    Returns
    -------
    list of dict
        Two rows (time in s, peak memory in GB) with keys ``name, ours,
        alternative, ratio, goal, met, unit, notes``.
    """
    from fmltc_core.data.synthetic_files import write_cicids2017_like

    n_rows = QUICK_ROWS if quick else FULL_ROWS
    with tempfile.TemporaryDirectory(prefix="fmltc-bench-cicids2017-") as folder:
        # generate the file set (timed, reported in the notes)
        start = time.perf_counter()
        files = write_cicids2017_like(folder, n_rows, seed=SEED)
        generation_seconds = time.perf_counter() - start
        size_gb = sum(path.stat().st_size for path in files) / BYTES_PER_GB
        logger.info("generated %d rows (%.2f GB) in %.1f s", n_rows, size_gb,
                    generation_seconds)

        # load it both ways, each in its own child process
        ours = measure_load("ours", folder)
        alternative = measure_load("pandas", folder)
    for result, label in ((ours, "ours"), (alternative, "pandas")):
        if result["rows"] != n_rows:
            raise RuntimeError(f"{label} loaded {result['rows']} rows, expected "
                               f"{n_rows}")

    setting = (
        f"{n_rows:,} rows in {len(files)} files ({size_gb:.2f} GB), generated in "
        f"{generation_seconds:.1f} s; alternative = pandas.concat of "
        "pandas.read_csv per file, default settings (float64, no repairs; "
        f"{alternative['retried']} file(s) failed UTF-8 decoding and were read "
        "again as latin-1, failed attempt included); each load in its own child "
        "process (no torch imported; both parsers single-threaded; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), page "
        "cache warm"
    )
    rows = [
        {
            "name": f"load CIC-IDS2017-shaped set ({n_rows:,} rows): time",
            "ours": ours["seconds"],
            "alternative": alternative["seconds"],
            "ratio": alternative["seconds"] / ours["seconds"],
            "goal": "<= 60 s",
            "met": ours["seconds"] <= 60,
            "unit": "s",
            "notes": (
                f"ratio = pandas / ours; load call only (imports: ours "
                f"{ours['import_seconds']:.1f} s, pandas "
                f"{alternative['import_seconds']:.1f} s); {setting}"
            ),
        },
        {
            "name": f"load CIC-IDS2017-shaped set ({n_rows:,} rows): peak memory",
            "ours": ours["peak_bytes"] / BYTES_PER_GB,
            "alternative": alternative["peak_bytes"] / BYTES_PER_GB,
            "ratio": alternative["peak_bytes"] / ours["peak_bytes"],
            "goal": "<= 3 GB",
            "met": ours["peak_bytes"] / BYTES_PER_GB <= 3,
            "unit": "GB",
            "notes": (
                f"ratio = pandas / ours; peak RSS (VmHWM) of the child, "
                f"interpreter and imports included (RSS before loading: ours "
                f"{ours['baseline_bytes'] / BYTES_PER_GB:.2f} GB, pandas "
                f"{alternative['baseline_bytes'] / BYTES_PER_GB:.2f} GB); {setting}"
            ),
        },
    ]
    for row in rows:
        logger.info("%s: ours %.3g, alternative %.3g %s", row["name"], row["ours"],
                    row["alternative"], row["unit"])
    return rows
