"""One entry point for every dataset: :func:`load_dataset`.

``"simulated"`` runs the seeded traffic simulator (the offline default); the
real datasets are read from a folder laid out like the sample folder::

    <data_dir>/cicids2017/            MachineLearningCVE and/or TrafficLabelling CSVs
    <data_dir>/cicids2017_improved/   the improved release (Engelen et al. 2021)
    <data_dir>/bot_iot/               BoT-IoT CSVs
    <data_dir>/iot23/                 IoT-23 conn.log.labeled files

``data_dir`` may also point straight at a dataset's file or folder. See
docs/DATASETS.md for where each dataset comes from.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fmltc_core.data.schema import FlowData

logger = logging.getLogger(__name__)

DATASETS = ("simulated", "cicids2017", "bot_iot", "iot23")
DATA_DIR_VARIABLE = "FMLTC_DATA_DIR"
_SUBFOLDERS = {"bot_iot": "bot_iot", "iot23": "iot23"}


def _missing(name: str, looked: list[Path]) -> FileNotFoundError:
    places = ", ".join(str(path) for path in looked)
    return FileNotFoundError(
        f"dataset {name!r} not found (looked for {places}); see docs/DATASETS.md "
        f"for how to obtain it and lay it out"
    )


def _cicids2017_paths(data_dir: Path, release: str) -> list[Path]:
    """Folders (or the file) to read for one CIC-IDS2017 release choice."""
    original = data_dir / "cicids2017"
    improved = data_dir / "cicids2017_improved"
    if not original.exists() and not improved.exists():
        return [data_dir]  # a direct file or folder of the dataset
    if release == "improved":
        paths = [improved]
    elif release in ("trafficlabelling", "mlcve"):
        paths = [original]
    elif release == "all":
        paths = [original, improved]
    else:  # auto: improved first, then the original folder (TrafficLabelling > MLCVE)
        paths = [improved] if improved.exists() else [original]
    present = [path for path in paths if path.exists()]
    if not present:
        raise _missing("cicids2017", paths)
    return present


def load_dataset(
    name: str, data_dir: str | Path | None = None, **options: object
) -> FlowData:
    """Load one dataset by name.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    data_dir : str or Path, optional
        For the real datasets: the folder holding ``cicids2017/``,
        ``cicids2017_improved/``, ``bot_iot/``, ``iot23/``, or a direct
        file/folder of the dataset. Defaults to ``$FMLTC_DATA_DIR``. Ignored
        for ``"simulated"``.
    **options
        Passed to the loader (``chunksize``, ``report``, ...) or the
        simulator. For ``"cicids2017"``, ``release`` is one of ``"auto"``
        (default: improved, else TrafficLabelling, else MachineLearningCVE),
        ``"improved"``, ``"trafficlabelling"``, ``"mlcve"``, ``"all"``.

    Raises
    ------
    ValueError
        For an unknown ``name``.
    FileNotFoundError
        If the dataset is not where it was looked for.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    if name == "simulated":
        from fmltc_core.data.simulator import simulate_iot_traffic

        return simulate_iot_traffic(**options)

    if data_dir is None:
        if DATA_DIR_VARIABLE not in os.environ:
            raise FileNotFoundError(
                f"dataset {name!r}: no data_dir given and ${DATA_DIR_VARIABLE} is "
                "not set; see docs/DATASETS.md"
            )
        data_dir = os.environ[DATA_DIR_VARIABLE]
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise _missing(name, [data_dir])

    if name == "cicids2017":
        from fmltc_core.data.cicids2017 import RELEASES, load_cicids2017

        release = str(options.pop("release", "auto"))
        if release not in RELEASES:
            raise ValueError(f"release must be one of {RELEASES}, got {release!r}")
        paths = _cicids2017_paths(data_dir, release)
        logger.info("cicids2017 (release %s) from %s", release, paths)
        try:
            return load_cicids2017(paths, release=release, **options)
        except FileNotFoundError as error:
            raise _missing(name, paths) from error

    folder = data_dir / _SUBFOLDERS[name]
    path = folder if folder.exists() else data_dir
    if name == "bot_iot":
        from fmltc_core.data.bot_iot import load_bot_iot

        loader = load_bot_iot
    else:
        from fmltc_core.data.iot23 import load_iot23

        loader = load_iot23
    try:
        return loader(path, **options)
    except FileNotFoundError as error:
        raise _missing(name, [folder, data_dir]) from error
