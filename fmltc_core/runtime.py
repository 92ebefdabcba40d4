"""Process-wide runtime settings for notebooks and experiment drivers.

The detectors of this reproduction are a few thousand parameters large; on a
two-core machine PyTorch's intra-op thread pool costs more in synchronisation
than it gains, and single-threaded execution runs the federated experiments
2-4 times faster. Applications (notebooks, :mod:`fmltc_core.experiments`) call
:func:`configure_runtime` once; library functions never change global state.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def configure_runtime(threads: int = 1) -> int:
    """Set PyTorch's intra-op thread count and return the value now in force.

    Parameters
    ----------
    threads : int, default 1
        Intra-op threads (``torch.set_num_threads``); must be >= 1.

    Raises
    ------
    ValueError
        If ``threads`` is not a positive integer.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        logger.info("torch intra-op threads set to %d", threads)
    return torch.get_num_threads()
