"""One place that configures the ``fmltc_core`` logger for scripts and notebooks.

The package itself only creates loggers; applications (the reproduce runner,
the CLI, notebooks) call :func:`configure_logging` once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(
    level: int | str = logging.INFO, log_file: str | Path | None = None
) -> logging.Logger:
    """Send ``fmltc_core`` log records to stderr (and ``log_file`` if given).

    Calling it again replaces the handlers it installed, so re-running a
    notebook cell does not duplicate lines.
    """
    package_logger = logging.getLogger("fmltc_core")
    package_logger.setLevel(level)
    for handler in list(package_logger.handlers):
        if getattr(handler, "_fmltc", False):
            package_logger.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        handler._fmltc = True  # type: ignore[attr-defined]
        package_logger.addHandler(handler)
    package_logger.propagate = False
    return package_logger
