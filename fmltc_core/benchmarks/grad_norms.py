"""Speed of the exact per-sample gradient norms of eq. 2 (FMLTC-IDS section 3.2).

Gradient-weighted sampling (eqs. 2-5) needs ``||grad_W L(W, x_i)||_2`` for
every candidate sample at every local step, so its cost decides whether the
strategy can pay for itself. This benchmark times, side by side in one run, on
the same :class:`~fmltc_core.models.Detector` and the same batch:

* ``plain``: one ordinary batched forward + backward of the mean loss (what a
  plain training step costs, weight gradients included);
* ``ours``: :func:`~fmltc_core.training.per_sample_gradient_norms` (one forward
  and one backward to the layer outputs, Linear-layer norm identity);
* ``vmap``: :func:`~fmltc_core.training.per_sample_gradient_norms_vmap`
  (``torch.func.vmap`` over ``grad``);
* ``loop``: :func:`~fmltc_core.training.per_sample_gradient_norms_loop` (one
  sample at a time).

Every function is run once before timing (warm-up); each timing is the median
of ``repeats`` wall-clock runs, the runs of the four functions interleaved
round-robin so that load changes on a shared machine hit them alike. Rows:

* "per-sample grad norms / plain pass": ``ratio = ours / plain``, goal <= 2;
* "vmap / ours" and "loop / ours": ``ratio = alternative / ours``, the
  speed-up of ours, goal > 1.

A missed goal is reported as missed (``met = False``), never tuned away.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import torch

from fmltc_core.models import Detector
from fmltc_core.training import (
    per_sample_gradient_norms,
    per_sample_gradient_norms_loop,
    per_sample_gradient_norms_vmap,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 128
N_FEATURES = 40
N_CLASSES = 2
SEED = 0


def _interleaved_medians(
    functions: dict[str, Callable[[], object]], repeats: dict[str, int]
) -> dict[str, float]:
    """Median wall-clock seconds of each function, timed round-robin.

    Each function runs once first (warm-up). The repeats are interleaved (one
    run of each function per round) so that a change of machine load during
    the benchmark affects every function alike.
    """
    for function in functions.values():
        function()
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for round_index in range(max(repeats.values())):
        for name, function in functions.items():
            if round_index >= repeats[name]:
                continue
            start = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def run(quick: bool = False) -> list[dict]:
    """Time the four ways of computing eq. 2 and return the benchmark rows.

    Parameters
    ----------
    quick : bool, default False
        Fewer repeats (for smoke tests); the measured quantities are the same.

    Returns
    -------
    list of dict
        Rows with keys ``name, ours, alternative, ratio, goal, met, unit,
        notes`` (times in seconds).
    """
    repeats = 5 if quick else 30
    loop_repeats = 2 if quick else 5
    model = Detector(N_FEATURES, N_CLASSES, seed=SEED)
    generator = torch.Generator().manual_seed(SEED)
    x = torch.randn(BATCH_SIZE, N_FEATURES, generator=generator)
    y = torch.randint(0, N_CLASSES, (BATCH_SIZE,), generator=generator)
    setting = (
        f"Detector({N_FEATURES}, {N_CLASSES}), batch {BATCH_SIZE}, "
        f"{torch.get_num_threads()} torch threads, median of {repeats} runs"
    )

    def plain_pass():
        model.zero_grad(set_to_none=True)
        model.eval()
        model.loss(x, y).backward()

    seconds = _interleaved_medians(
        {
            "plain": plain_pass,
            "ours": lambda: per_sample_gradient_norms(model, x, y),
            "vmap": lambda: per_sample_gradient_norms_vmap(model, x, y),
            "loop": lambda: per_sample_gradient_norms_loop(model, x, y),
        },
        {"plain": repeats, "ours": repeats, "vmap": repeats, "loop": loop_repeats},
    )
    plain, ours, vmap, loop = (
        seconds[name] for name in ("plain", "ours", "vmap", "loop")
    )
    model.zero_grad(set_to_none=True)

    overhead = ours / plain
    rows = [
        {
            "name": "per-sample grad norms / plain pass",
            "ours": ours,
            "alternative": plain,
            "ratio": overhead,
            "goal": "<= 2",
            "met": bool(overhead <= 2),
            "unit": "s",
            "notes": f"ratio = ours / plain forward+backward; {setting}",
        },
        {
            "name": "vmap / ours",
            "ours": ours,
            "alternative": vmap,
            "ratio": vmap / ours,
            "goal": "> 1",
            "met": bool(vmap / ours > 1),
            "unit": "s",
            "notes": f"ratio = torch.func.vmap(grad) / ours; {setting}",
        },
        {
            "name": "loop / ours",
            "ours": ours,
            "alternative": loop,
            "ratio": loop / ours,
            "goal": "> 1",
            "met": bool(loop / ours > 1),
            "unit": "s",
            "notes": (
                f"ratio = one-sample-at-a-time autograd / ours (loop: median of "
                f"{loop_repeats} runs); {setting}"
            ),
        },
    ]
    for row in rows:
        logger.info(
            "%s: ratio %.2f (goal %s, met %s)",
            row["name"],
            row["ratio"],
            row["goal"],
            row["met"],
        )
    return rows
