"""Temporal subsets D1..D10 by ADWIN drift detection, and SMOTE for quiet periods.

Section 4.1 of the FMLTC-IDS paper builds the clients' local data as a
sequence of temporally evolving subsets {D1, ..., D10}, using ADWIN-based
dynamic time windows (1-hour windows on a 30-minute step) and SMOTE-TS
oversampling of low-traffic periods. The paper does not say how ADWIN's
drift signals become exactly ten subsets; this module implements the
following reading.

Timeline
    The flow times (``FlowData.frame["time"]``). When ``time_source`` is not
    ``"timestamp"`` there is no clock; a pseudo-clock maps the ``order``
    values (row order or ``pkSeqID``) linearly onto ``pseudo_span`` (24 h by
    default) starting at the Unix epoch, so that gaps in ``pkSeqID`` stay
    gaps. This is logged as a warning.

Candidate windows
    1-hour windows starting every 30 minutes cover the timeline; the window
    starts (the 30-minute grid) are the only places a subset may begin.

Drift statistic (unsupervised, no labels)
    Two per-minute traffic statistics, each min-max scaled to [0, 1] over
    the timeline (the range ADWIN's bound assumes): the log flow count
    ``log(1 + n_flows)``, and the mean over the minute's flows of each
    flow's mean log feature magnitude ``mean_j log(1 + |x_j|)`` (a schema-free
    stand-in for "mean log bytes"; empty minutes are skipped). A per-minute
    stream is used because ADWIN cannot separate two regimes of a few dozen
    hourly values at any usual ``delta``. Spans longer than
    ``MAX_STREAM_POINTS`` minutes use coarser bins. One
    :class:`river.drift.ADWIN` (checking at every point) runs on each stream.

Cut points
    At a detection, ADWIN's retained window starts where it places the
    change; that time is snapped to the nearest grid point and refined to
    the strongest grid point within one step. The strength of a grid point
    ``g`` is the largest (scaled) change of either statistic between the
    adjacent windows ``[g - 1h, g)`` and ``[g, g + 1h)``. With more than
    ``n_subsets - 1`` usable ADWIN cuts the strongest are kept; with fewer,
    the most populated segment is split at the grid point closest to its
    median flow ("fill") until there are ``n_subsets - 1`` cuts. A cut is
    usable only if it leaves flows on both sides and differs from every
    other cut in the flows it separates, so no subset is ever empty.

Degenerate timelines (each logged, ``fallback_reason`` set)
    NaT times, all times equal, or a span with fewer usable grid points than
    ``n_subsets - 1`` (too short for the grid): equal-count cuts in capture
    order (time, ties broken by ``order``; ``order`` alone when times are
    missing). Fewer rows than ``n_subsets`` is a ``ValueError``.

Low-traffic periods
    A subset is low-traffic when its flow count is below
    ``low_traffic_fraction`` (0.5) times the median subset count. SMOTE-TS is
    read as SMOTE applied to the (preprocessed) training flows of one
    low-traffic subset, oversampling each minority class to the majority
    count (:func:`balance_low_traffic`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from river.drift import ADWIN

from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData

logger = logging.getLogger(__name__)

MAX_STREAM_POINTS = 20_000
STREAM_RESOLUTION = pd.Timedelta("1min")
CUT_SOURCES = ("start", "adwin", "fill", "fallback")


@dataclass
class TemporalSegmentation:
    """Ordered, contiguous, disjoint subsets D1..Dn of one dataset.

    Attributes
    ----------
    subset_index : numpy.ndarray of int64, shape (n_flows,)
        Subset of each row of ``data.frame`` (positional): 0 for D1, ...
    subsets : pandas.DataFrame
        One row per subset: ``start``, ``end`` (``[start, end)``, the last
        subset includes its end; for ``fallback`` the first and last flow
        times), ``count``, ``cut_source`` (``"start"`` for D1, then
        ``"adwin"``, ``"fill"``; ``"fallback"`` for every subset of a
        fallback).
    windows : pandas.DataFrame
        The candidate windows: ``start``, ``end``, ``count``, ``log_count``,
        ``mean_log_magnitude``, ``drift`` (the window starts at an ADWIN
        change point). Empty for a fallback without a usable clock.
    drift_times : pandas.DatetimeIndex
        Every ADWIN change point after snapping to the grid (kept or not).
    fallback_reason : str or None
        Why equal-count cuts were used, ``None`` otherwise.
    clock : str
        ``"timestamp"``, ``"pseudo"`` (from ``order``) or ``"none"``.
    """

    subset_index: np.ndarray
    subsets: pd.DataFrame
    windows: pd.DataFrame
    drift_times: pd.DatetimeIndex
    fallback_reason: str | None
    clock: str

    @property
    def n_subsets(self) -> int:
        return len(self.subsets)


def segment_into_subsets(
    data: FlowData,
    *,
    n_subsets: int = 10,
    window: str = "1h",
    step: str = "30min",
    adwin_delta: float = 0.002,
    pseudo_span: str = "24h",
) -> TemporalSegmentation:
    """Split a dataset into ``n_subsets`` ordered temporal subsets (D1..Dn).

    Parameters
    ----------
    data : FlowData
        The flows; ``time`` (or ``order`` for a pseudo-clock) orders them.
    n_subsets : int, default 10
        Number of subsets (the paper's ten subsets D1..D10).
    window : str, default "1h"
        Length of a candidate window (pandas offset string).
    step : str, default "30min"
        Step between window starts; the grid of possible cut points.
    adwin_delta : float, default 0.002
        ADWIN's confidence parameter delta, in (0, 1).
    pseudo_span : str, default "24h"
        Length of the pseudo-clock built from ``order`` when
        ``data.time_source != "timestamp"``.

    Returns
    -------
    TemporalSegmentation

    Raises
    ------
    ValueError
        Bad parameters, or fewer rows than ``n_subsets``.
    """
    n_rows = data.n_flows
    if isinstance(n_subsets, bool) or not isinstance(n_subsets, int | np.integer):
        raise ValueError(f"n_subsets must be an integer >= 1, got {n_subsets!r}")
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be an integer >= 1, got {n_subsets}")
    if n_rows < n_subsets:
        raise ValueError(
            f"cannot form n_subsets={n_subsets} non-empty subsets from "
            f"{n_rows} rows; need at least {n_subsets} rows"
        )
    window_ns = _positive_duration(window, "window")
    step_ns = _positive_duration(step, "step")
    span_ns = _positive_duration(pseudo_span, "pseudo_span")
    if not 0.0 < adwin_delta < 1.0:
        raise ValueError(f"adwin_delta must be in (0, 1), got {adwin_delta!r}")
    order = data.frame["order"].to_numpy(dtype=np.int64)

    # The clock: real timestamps or a pseudo-clock from the capture order.
    if data.time_source == "timestamp":
        clock = "timestamp"
        times = pd.DatetimeIndex(data.frame["time"])
        if times.tz is None:
            times = times.tz_localize("UTC")
        missing = int(times.isna().sum())
        if missing:
            reason = f"{missing} of {n_rows} rows have no time (NaT)"
            return _fallback(None, order, n_subsets, reason, "none")
        time_ns = times.as_unit("ns").asi8.astype(np.int64)
    else:
        clock = "pseudo"
        logger.warning(
            "%s has no timestamps (time_source=%r): using a pseudo-clock that maps "
            "'order' linearly onto %s",
            data.dataset,
            data.time_source,
            pseudo_span,
        )
        low, high = int(order.min()), int(order.max())
        if low == high:
            return _fallback(None, order, n_subsets, "all order values equal", "none")
        scaled = (order.astype(np.float64) - low) / (high - low) * span_ns
        time_ns = np.round(scaled).astype(np.int64)
    if time_ns.min() == time_ns.max():
        return _fallback(time_ns, order, n_subsets, "all timestamps equal", clock)

    # The 30-minute grid of cut points and the flows each one separates.
    sort_index = np.lexsort((order, time_ns))
    sorted_ns = time_ns[sort_index]
    first, last = int(sorted_ns[0]), int(sorted_ns[-1])
    origin = first - first % step_ns
    n_steps = -(-(last - origin) // step_ns)
    grid = origin + step_ns * np.arange(1, n_steps + 1, dtype=np.int64)
    grid = grid[grid <= last]
    grid_position = np.searchsorted(sorted_ns, grid, side="left")
    usable = (grid_position > 0) & (grid_position < n_rows)
    n_usable = len(np.unique(grid_position[usable]))
    if n_usable < n_subsets - 1:
        reason = (
            f"span too short for the grid: {pd.Timedelta(last - first, unit='ns')} "
            f"gives {n_usable} usable {step} cut points, {n_subsets - 1} needed"
        )
        return _fallback(time_ns, order, n_subsets, reason, clock)

    # Per-flow magnitude and the statistics of windows and grid points.
    magnitude = _flow_magnitude(data)[sort_index]
    statistics = _WindowStatistics(sorted_ns, magnitude)
    window_starts = origin + step_ns * np.arange(0, n_steps + 1, dtype=np.int64)
    window_starts = window_starts[window_starts <= last]
    window_count, window_magnitude = statistics.over(
        window_starts, window_starts + window_ns
    )
    count_range = _range(np.log1p(window_count))
    magnitude_range = _range(window_magnitude)
    before_count, before_magnitude = statistics.over(grid - window_ns, grid)
    after_count, after_magnitude = statistics.over(grid, grid + window_ns)
    count_change = np.abs(np.log1p(after_count) - np.log1p(before_count))
    magnitude_change = np.nan_to_num(
        np.abs(after_magnitude - before_magnitude), nan=0.0
    )
    strength = np.maximum(
        count_change / count_range, magnitude_change / magnitude_range
    )

    # ADWIN on the per-minute statistics; change points snapped to the grid.
    change_times = _adwin_change_times(
        sorted_ns, magnitude, origin, adwin_delta
    )
    drift_grid = []
    for change in change_times:
        nearest = int(np.rint((change - origin) / step_ns))
        neighbours = np.array([nearest - 1, nearest, nearest + 1]) - 1
        neighbours = neighbours[(neighbours >= 0) & (neighbours < len(grid))]
        neighbours = neighbours[usable[neighbours]]
        if len(neighbours) == 0:
            continue
        drift_grid.append(int(neighbours[np.argmax(strength[neighbours])]))
    drift_grid = sorted(set(drift_grid))
    logger.info(
        "ADWIN found %d change point(s) on the %s grid", len(drift_grid), step
    )

    # Keep the strongest ADWIN cuts (one per distinct flow position).
    cuts: dict[int, tuple[int, str]] = {}
    for grid_index in sorted(drift_grid, key=lambda index: -strength[index]):
        position = int(grid_position[grid_index])
        if position not in cuts:
            cuts[position] = (grid_index, "adwin")
    if len(cuts) > n_subsets - 1:
        ranked = sorted(cuts.items(), key=lambda item: -strength[item[1][0]])
        logger.info(
            "keeping the %d strongest of %d ADWIN cuts", n_subsets - 1, len(cuts)
        )
        cuts = dict(ranked[: n_subsets - 1])

    # Fill: split the most populated segments at the grid point nearest the middle.
    candidate_positions, candidate_grid = _candidates(grid_position, usable, strength)
    while len(cuts) < n_subsets - 1:
        bounds = [0, *sorted(cuts), n_rows]
        segments = sorted(
            zip(bounds[:-1], bounds[1:], strict=True), key=lambda s: s[0] - s[1]
        )
        for low, high in segments:
            inside = (candidate_positions > low) & (candidate_positions < high)
            if not inside.any():
                continue
            choices = np.flatnonzero(inside)
            middle = (low + high) / 2.0
            best = choices[np.argmin(np.abs(candidate_positions[choices] - middle))]
            cuts[int(candidate_positions[best])] = (int(candidate_grid[best]), "fill")
            break

    # Assign every flow to the subset after the last cut not later than it.
    ordered = sorted(cuts.items())
    cut_ns = np.array([grid[grid_index] for _, (grid_index, _) in ordered])
    subset_index = np.searchsorted(cut_ns, time_ns, side="right").astype(np.int64)
    counts = np.bincount(subset_index, minlength=n_subsets)
    starts = [first, *cut_ns.tolist()]
    ends = [*cut_ns.tolist(), last]
    sources = ["start", *[source for _, (_, source) in ordered]]
    subsets = pd.DataFrame(
        {
            "start": _to_timestamps(starts),
            "end": _to_timestamps(ends),
            "count": counts.astype(np.int64),
            "cut_source": sources,
        }
    )
    drift_ns = grid[drift_grid] if drift_grid else np.array([], dtype=np.int64)
    windows = pd.DataFrame(
        {
            "start": _to_timestamps(window_starts),
            "end": _to_timestamps(window_starts + window_ns),
            "count": window_count.astype(np.int64),
            "log_count": np.log1p(window_count),
            "mean_log_magnitude": window_magnitude,
            "drift": np.isin(window_starts, drift_ns),
        }
    )
    logger.info(
        "%d flows -> %d subsets (%d ADWIN cuts, %d filled), sizes %s",
        n_rows,
        n_subsets,
        sources.count("adwin"),
        sources.count("fill"),
        counts.tolist(),
    )
    return TemporalSegmentation(
        subset_index=subset_index,
        subsets=subsets,
        windows=windows,
        drift_times=pd.DatetimeIndex(_to_timestamps(drift_ns)),
        fallback_reason=None,
        clock=clock,
    )


def low_traffic_subsets(
    counts, *, low_traffic_fraction: float = 0.5
) -> np.ndarray:
    """Which subsets are low-traffic periods.

    Parameters
    ----------
    counts : array-like of int, shape (n_subsets,)
        Flows per subset (``TemporalSegmentation.subsets["count"]``).
    low_traffic_fraction : float, default 0.5
        A subset is low-traffic when its count is below this fraction of the
        median subset count.

    Returns
    -------
    numpy.ndarray of bool, shape (n_subsets,)
    """
    if not low_traffic_fraction >= 0.0:
        raise ValueError(
            f"low_traffic_fraction must be >= 0, got {low_traffic_fraction!r}"
        )
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size == 0:
        return np.zeros(0, dtype=bool)
    return counts < low_traffic_fraction * np.median(counts)


def balance_low_traffic(
    X,
    y,
    *,
    seed: int,
    k_neighbors: int = 5,
    report: DataReport | None = None,
    name: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Oversample every minority class of one subset to the majority count.

    SMOTE (:class:`imblearn.over_sampling.SMOTE`) interpolates new flows
    between a minority flow and one of its ``k_neighbors`` nearest flows of
    the same class. A class with fewer than ``k_neighbors + 1`` flows uses
    ``k = count - 1``; a class with a single flow cannot be interpolated and
    is duplicated (:class:`imblearn.over_sampling.RandomOverSampler`). A
    single-class subset is returned unchanged (reported as a warning).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Preprocessed training flows of one subset.
    y : array-like of int, shape (n_samples,)
        Class indices.
    seed : int
        Seed of the oversamplers.
    k_neighbors : int, default 5
        SMOTE's number of neighbours.
    report : DataReport, optional
        Receives the added rows (``action="added"``) and warnings.
    name : str, default ""
        The ``file`` key of the report entries (e.g. ``"D3"``).

    Returns
    -------
    X_balanced : numpy.ndarray, shape (n_samples + n_added, n_features)
        The original rows first, then the synthetic rows; dtype of ``X``.
    y_balanced : numpy.ndarray of int64, shape (n_samples + n_added,)
    """
    X = np.asarray(X)
    y = np.asarray(y).astype(np.int64)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(
            f"X must be 2-D with one row per label, got X {X.shape} and y {y.shape}"
        )
    if k_neighbors < 1:
        raise ValueError(f"k_neighbors must be >= 1, got {k_neighbors}")
    report = DataReport() if report is None else report
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        logger.warning("%s: single-class subset left unbalanced", name or "subset")
        report.add(name, "low-traffic subset has one class; SMOTE skipped", 1,
                   action="warning")
        return X, y
    majority = int(counts.max())
    new_X, new_y = [X], [y]
    for label, count in zip(classes.tolist(), counts.tolist(), strict=True):
        if count == majority:
            continue
        strategy = {label: majority}
        if count == 1:
            sampler = RandomOverSampler(sampling_strategy=strategy, random_state=seed)
            reason = "low-traffic class with one flow duplicated"
        else:
            k = min(k_neighbors, count - 1)
            sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k,
                            random_state=seed)
            reason = "low-traffic flows added by SMOTE"
            if k < k_neighbors:
                report.add(name, f"SMOTE k_neighbors reduced to {k}", 1,
                           action="warning")
        resampled_X, resampled_y = sampler.fit_resample(X, y)
        new_X.append(np.asarray(resampled_X[len(X):], dtype=X.dtype))
        new_y.append(np.asarray(resampled_y[len(y):], dtype=np.int64))
        report.add(name, reason, majority - count, action="added")
    return np.concatenate(new_X), np.concatenate(new_y)


# ---------------------------------------------------------------- helpers
class _WindowStatistics:
    """Flow counts and mean magnitudes over time intervals (sorted flows)."""

    def __init__(self, sorted_ns: np.ndarray, magnitude: np.ndarray) -> None:
        self.sorted_ns = sorted_ns
        finite = np.isfinite(magnitude)
        self.magnitude_sum = np.concatenate(
            [[0.0], np.cumsum(np.where(finite, magnitude, 0.0))]
        )
        self.magnitude_count = np.concatenate([[0], np.cumsum(finite)])

    def over(self, starts: np.ndarray, ends: np.ndarray):
        low = np.searchsorted(self.sorted_ns, starts, side="left")
        high = np.searchsorted(self.sorted_ns, ends, side="left")
        count = (high - low).astype(np.float64)
        valid = self.magnitude_count[high] - self.magnitude_count[low]
        total = self.magnitude_sum[high] - self.magnitude_sum[low]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid > 0, total / np.maximum(valid, 1), np.nan)
        return count, mean


def _flow_magnitude(data: FlowData) -> np.ndarray:
    """Each flow's mean of ``log(1 + |x_j|)`` over its finite features (NaN if none)."""
    features = data.frame[data.feature_columns].to_numpy(dtype=np.float64)
    if features.shape[1] == 0:
        return np.full(len(features), np.nan)
    logs = np.log1p(np.abs(features))
    finite = np.isfinite(logs)
    counts = finite.sum(axis=1)
    sums = np.where(finite, logs, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _adwin_change_times(
    sorted_ns: np.ndarray, magnitude: np.ndarray, origin: int, delta: float
) -> list[int]:
    """Change points (ns) found by ADWIN on the per-minute statistic streams."""
    span = int(sorted_ns[-1]) - origin
    bin_ns = max(STREAM_RESOLUTION.value, -(-span // MAX_STREAM_POINTS))
    bins = (sorted_ns - origin) // bin_ns
    n_bins = int(bins[-1]) + 1
    flow_count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    finite = np.isfinite(magnitude)
    magnitude_sum = np.bincount(
        bins[finite], weights=magnitude[finite], minlength=n_bins
    )
    magnitude_count = np.bincount(bins[finite], minlength=n_bins)
    occupied = np.flatnonzero(magnitude_count > 0)
    streams = [
        (np.arange(n_bins), np.log1p(flow_count)),
        (occupied, magnitude_sum[occupied] / magnitude_count[occupied]),
    ]
    changes = []
    for bin_index, values in streams:
        if len(values) == 0:
            continue
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) if high > low else values * 0.0
        detector = ADWIN(delta=delta, clock=1)
        for position, value in enumerate(scaled.tolist()):
            width = int(detector.width) + 1
            detector.update(value)
            if detector.drift_detected:
                window_start = max(0, position + 1 - width)
                split = _best_split(scaled[window_start : position + 1])
                changes.append(origin + int(bin_index[window_start + split]) * bin_ns)
    return changes


def _best_split(values: np.ndarray) -> int:
    """Index splitting ``values`` into the two most different halves.

    ADWIN signals that some split of its window separates two means; the
    split with the largest ``|mean_0 - mean_1| * sqrt(n_0 n_1 / n)`` (the
    quantity ADWIN's bound tests) locates the change.
    """
    length = len(values)
    if length < 2:
        return 0
    sizes = np.arange(1, length)
    head = np.cumsum(values)[:-1]
    tail = values.sum() - head
    difference = np.abs(head / sizes - tail / (length - sizes))
    score = difference * np.sqrt(sizes * (length - sizes) / length)
    return int(sizes[np.argmax(score)])


def _candidates(grid_position, usable, strength):
    """Distinct usable flow positions, each with its strongest grid point."""
    positions, grid_indices = [], []
    for position in np.unique(grid_position[usable]):
        same = np.flatnonzero(usable & (grid_position == position))
        positions.append(int(position))
        grid_indices.append(int(same[np.argmax(strength[same])]))
    return np.array(positions), np.array(grid_indices)


def _fallback(time_ns, order, n_subsets, reason, clock) -> TemporalSegmentation:
    """Equal-count subsets in capture order (time, then ``order``)."""
    logger.warning(
        "temporal segmentation falls back to %d equal-count subsets in capture "
        "order: %s",
        n_subsets,
        reason,
    )
    positions = np.arange(len(order))
    if time_ns is None:
        sort_index = np.lexsort((positions, order))
    else:
        sort_index = np.lexsort((positions, order, time_ns))
    subset_index = np.empty(len(order), dtype=np.int64)
    rows = []
    for subset, part in enumerate(np.array_split(sort_index, n_subsets)):
        subset_index[part] = subset
        if time_ns is None:
            start = end = pd.NaT
        else:
            start = pd.Timestamp(int(time_ns[part].min()), tz="UTC")
            end = pd.Timestamp(int(time_ns[part].max()), tz="UTC")
        rows.append(
            {"start": start, "end": end, "count": len(part), "cut_source": "fallback"}
        )
    subsets = pd.DataFrame(rows, columns=["start", "end", "count", "cut_source"])
    subsets["start"] = pd.to_datetime(subsets["start"], utc=True)
    subsets["end"] = pd.to_datetime(subsets["end"], utc=True)
    windows = pd.DataFrame(
        {
            "start": pd.DatetimeIndex([], tz="UTC"),
            "end": pd.DatetimeIndex([], tz="UTC"),
            "count": np.zeros(0, dtype=np.int64),
            "log_count": np.zeros(0),
            "mean_log_magnitude": np.zeros(0),
            "drift": np.zeros(0, dtype=bool),
        }
    )
    return TemporalSegmentation(
        subset_index=subset_index,
        subsets=subsets,
        windows=windows,
        drift_times=pd.DatetimeIndex([], tz="UTC"),
        fallback_reason=reason,
        clock=clock,
    )


def _positive_duration(value, parameter: str) -> int:
    try:
        duration = pd.Timedelta(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{parameter} must be a duration such as '1h', got {value!r}"
        ) from error
    if duration <= pd.Timedelta(0):
        raise ValueError(f"{parameter} must be a positive duration, got {value!r}")
    return int(duration.value)


def _range(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0
    spread = float(finite.max() - finite.min())
    return spread if spread > 0 else 1.0


def _to_timestamps(values) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        pd.to_datetime(np.asarray(values, dtype=np.int64), unit="ns", utc=True)
    )
