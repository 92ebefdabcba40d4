"""Build the federated clients' per-subset train and test sets.

Glues the data stages of the FMLTC-IDS paper into one federation:
section 3.1 stage (1) (local datasets as temporal subsets D1..D10, SMOTE for
low-traffic periods) and stage (2) (a public set for server pretraining),
section 4.1 (preprocessing, ADWIN windows) and section 4.2 (Dirichlet(alpha)
label skew across clients, with each client's test data following its
training distribution).

The order of the steps keeps synthetic SMOTE rows out of every test set and
test rows out of every fitted statistic:

a. optional stratified random hold-out of ``public_fraction`` of the rows
   for server-side pretraining (``Federation.public``);
b. temporal segmentation of the remaining rows into D1..Dn
   (:func:`fmltc_core.data.temporal.segment_into_subsets`);
c. a stratified train/test split inside each subset; a class with one row
   in a subset stays in training, a class with two or more rows keeps at
   least one row on each side (when ``test_fraction > 0``);
d. :class:`FlowPreprocessor` fitted on all client training rows, then applied
   to training, test and public rows;
e. SMOTE balancing of the training rows of each low-traffic subset
   (:func:`fmltc_core.data.temporal.balance_low_traffic`);
f. per-client class shares drawn once from Dirichlet(alpha) and applied to
   the training and the test rows of every subset, so that a client keeps
   the same label mix over time and is tested on it. The never-empty rule
   applies to each client's total training size: the shares are redrawn up
   to ``max_retries`` times, then :class:`PartitionError` is raised.

Each step draws from its own seeded stream, so the same inputs and seed give
identical arrays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fmltc_core.data.partition import (
    PartitionError,
    dirichlet_class_proportions,
    split_by_proportions,
)
from fmltc_core.data.preprocess import FlowPreprocessor
from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData
from fmltc_core.data.temporal import (
    TemporalSegmentation,
    balance_low_traffic,
    low_traffic_subsets,
    segment_into_subsets,
)

logger = logging.getLogger(__name__)

LABEL_MODES = ("binary", "multiclass")
BINARY_CLASS_NAMES = ["benign", "attack"]


@dataclass
class Subset:
    """Flows of one client in one temporal subset.

    Attributes
    ----------
    X : numpy.ndarray of float32, shape (n, d)
    y : numpy.ndarray of int64, shape (n,)
    """

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @classmethod
    def empty(cls, n_features: int) -> Subset:
        return cls(np.zeros((0, n_features), np.float32), np.zeros(0, np.int64))

    @classmethod
    def concatenate(cls, parts: list[Subset], n_features: int) -> Subset:
        if not parts:
            return cls.empty(n_features)
        return cls(
            np.concatenate([part.X for part in parts]).astype(np.float32, copy=False),
            np.concatenate([part.y for part in parts]).astype(np.int64, copy=False),
        )


@dataclass
class ClientData:
    """One client's data: ``train[r]`` and ``test[r]`` for subset D(r+1)."""

    client_id: int
    train: list[Subset]
    test: list[Subset]

    def all_train(self) -> Subset:
        """Training rows of every subset, D1 first."""
        return Subset.concatenate(self.train, self._n_features())

    def all_test(self) -> Subset:
        """Test rows of every subset, D1 first."""
        return Subset.concatenate(self.test, self._n_features())

    def _n_features(self) -> int:
        for part in (*self.train, *self.test):
            return part.X.shape[1]
        return 0


@dataclass
class Federation:
    """Clients with per-subset train/test sets, and how they were built.

    Attributes
    ----------
    clients : list of ClientData
    class_names : list of str
        ``y`` indexes this list.
    feature_names : list of str
        Columns of every ``X`` (``pc1``, ... after PCA).
    preprocessor : FlowPreprocessor
        Fitted on the client training rows (before SMOTE).
    segmentation : TemporalSegmentation
        Subsets of the rows left after the public hold-out.
    report : DataReport
        The loader's report plus this pipeline's repairs and added rows.
    config : dict
        The arguments and dataset facts the federation was built from.
    public : Subset or None
        Server-side pretraining rows (``public_fraction > 0``).
    """

    clients: list[ClientData]
    class_names: list[str]
    feature_names: list[str]
    preprocessor: FlowPreprocessor
    segmentation: TemporalSegmentation
    report: DataReport
    config: dict = field(default_factory=dict)
    public: Subset | None = None

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def summary(self) -> pd.DataFrame:
        """Rows per client, subset (``D1``...), split and class, zeros included."""
        rows = []
        n_classes = len(self.class_names)
        for client in self.clients:
            for split, parts in (("train", client.train), ("test", client.test)):
                for index, part in enumerate(parts):
                    counts = np.bincount(part.y, minlength=n_classes)
                    for label, name in enumerate(self.class_names):
                        rows.append(
                            {
                                "client": client.client_id,
                                "subset": f"D{index + 1}",
                                "split": split,
                                "class": name,
                                "count": int(counts[label]),
                            }
                        )
        columns = ["client", "subset", "split", "class", "count"]
        return pd.DataFrame(rows, columns=columns)


def build_federation(
    data: FlowData,
    *,
    n_clients: int = 10,
    alpha: float = 1.0,
    seed: int = 0,
    n_subsets: int = 10,
    test_fraction: float = 0.2,
    label_mode: str = "binary",
    pca_variance: float | None = None,
    low_traffic_fraction: float = 0.5,
    min_client_size: int = 1,
    public_fraction: float = 0.0,
    max_retries: int = 100,
) -> Federation:
    """Turn one dataset into ``n_clients`` clients with subsets D1..Dn.

    Parameters
    ----------
    data : FlowData
        Output of a loader or of the simulator.
    n_clients : int, default 10
        Number of clients K.
    alpha : float, default 1.0
        Dirichlet concentration alpha of the label skew (paper: 0.5, 1, 10).
    seed : int, default 0
        Seed of every random step.
    n_subsets : int, default 10
        Number of temporal subsets (D1..D10).
    test_fraction : float, default 0.2
        Share of each subset's rows (per class) held out for testing, in [0, 1).
    label_mode : {"binary", "multiclass"}, default "binary"
        ``y = is_attack`` (classes benign, attack) or ``y`` = index of
        ``family`` in the sorted family names.
    pca_variance : float or None, default None
        Passed to :class:`FlowPreprocessor`.
    low_traffic_fraction : float, default 0.5
        A subset with fewer rows than this fraction of the median subset
        size is SMOTE-balanced.
    min_client_size : int, default 1
        Smallest allowed total training size of a client.
    public_fraction : float, default 0.0
        Share of rows held out for server-side pretraining, in [0, 1).
    max_retries : int, default 100
        Dirichlet redraws before :class:`PartitionError`.

    Returns
    -------
    Federation

    Raises
    ------
    ValueError
        Bad parameters (naming the parameter).
    PartitionError
        No Dirichlet draw gives every client ``min_client_size`` training rows.
    """
    _validate_arguments(
        n_clients=n_clients,
        alpha=alpha,
        test_fraction=test_fraction,
        label_mode=label_mode,
        low_traffic_fraction=low_traffic_fraction,
        min_client_size=min_client_size,
        public_fraction=public_fraction,
        max_retries=max_retries,
    )
    streams = np.random.SeedSequence(seed).spawn(4)
    public_rng, split_rng, partition_rng = (
        np.random.default_rng(stream) for stream in streams[:3]
    )
    smote_seed = int(streams[3].generate_state(1)[0])
    report = DataReport().merge(data.report)
    name = data.dataset

    # Labels.
    frame = data.frame
    if label_mode == "binary":
        class_names = list(BINARY_CLASS_NAMES)
        labels = frame["is_attack"].to_numpy().astype(np.int64)
    else:
        families = frame["family"].astype(str).to_numpy()
        class_names = sorted(set(families.tolist()))
        labels = np.searchsorted(np.array(class_names), families).astype(np.int64)
    n_classes = len(class_names)

    # (a) Stratified public hold-out for server-side pretraining.
    public_rows = np.zeros(0, dtype=np.int64)
    if public_fraction > 0:
        public_rows, _ = _stratified_split(labels, public_fraction, public_rng)
        public_rows = np.sort(public_rows)
    client_rows = np.setdiff1d(np.arange(len(frame)), public_rows)
    client_data = FlowData(
        frame=frame.iloc[client_rows].reset_index(drop=True),
        feature_columns=list(data.feature_columns),
        dataset=data.dataset,
        time_source=data.time_source,
        simulated=data.simulated,
    )
    client_labels = labels[client_rows]

    # (b) Temporal subsets D1..Dn.
    segmentation = segment_into_subsets(client_data, n_subsets=n_subsets)
    if segmentation.fallback_reason is not None:
        report.add(
            name,
            f"temporal fallback to equal-count subsets: {segmentation.fallback_reason}",
            1,
            action="warning",
        )

    # (c) Stratified train/test split inside each subset.
    train_rows, test_rows = [], []
    for subset in range(n_subsets):
        rows = np.flatnonzero(segmentation.subset_index == subset)
        test_part, train_part = _stratified_split(
            client_labels[rows], test_fraction, split_rng, report=report,
            name=f"{name} D{subset + 1}",
        )
        train_rows.append(rows[np.sort(train_part)])
        test_rows.append(rows[np.sort(test_part)])

    # (d) Preprocessing fitted on the client training rows only.
    features = client_data.features
    preprocessor = FlowPreprocessor(pca_variance=pca_variance, seed=seed)
    preprocessor.fit(
        features[np.concatenate(train_rows)],
        feature_names=list(data.feature_columns),
        report=report,
        name=f"{name} preprocess",
    )
    train_sets = [
        Subset(preprocessor.transform(features[rows]), client_labels[rows])
        for rows in train_rows
    ]
    test_sets = [
        Subset(preprocessor.transform(features[rows]), client_labels[rows])
        for rows in test_rows
    ]
    public = None
    if public_fraction > 0:
        public = Subset(
            preprocessor.transform(frame.iloc[public_rows][data.feature_columns]),
            labels[public_rows],
        )

    # (e) SMOTE balancing of the training rows of low-traffic subsets.
    low_traffic = low_traffic_subsets(
        segmentation.subsets["count"], low_traffic_fraction=low_traffic_fraction
    )
    for subset in np.flatnonzero(low_traffic):
        before = len(train_sets[subset])
        X, y = balance_low_traffic(
            train_sets[subset].X,
            train_sets[subset].y,
            seed=smote_seed + int(subset),
            report=report,
            name=f"{name} D{subset + 1}",
        )
        train_sets[subset] = Subset(X.astype(np.float32), y)
        logger.info(
            "D%d is low-traffic (%d rows): training rows %d -> %d",
            subset + 1,
            int(segmentation.subsets["count"].iloc[subset]),
            before,
            len(y),
        )

    # (f) Client shares drawn once from Dirichlet(alpha), applied to all subsets.
    total_train = sum(len(part) for part in train_sets)
    if n_clients * min_client_size > total_train:
        raise PartitionError(
            f"cannot give n_clients={n_clients} clients at least "
            f"min_client_size={min_client_size} training rows from {total_train} "
            f"training rows (alpha={alpha})"
        )
    proportions, train_parts, sizes = _draw_client_shares(
        train_sets,
        n_classes=n_classes,
        n_clients=n_clients,
        alpha=alpha,
        min_client_size=min_client_size,
        max_retries=max_retries,
        rng=partition_rng,
    )
    test_parts = [
        split_by_proportions(part.y, proportions, partition_rng) for part in test_sets
    ]
    clients = []
    for client in range(n_clients):
        clients.append(
            ClientData(
                client_id=client,
                train=[
                    _take(part, parts[client])
                    for part, parts in zip(train_sets, train_parts, strict=True)
                ],
                test=[
                    _take(part, parts[client])
                    for part, parts in zip(test_sets, test_parts, strict=True)
                ],
            )
        )

    config = {
        "dataset": data.dataset,
        "simulated": data.simulated,
        "time_source": data.time_source,
        "n_rows": int(len(frame)),
        "n_public_rows": int(len(public_rows)),
        "public_rows": public_rows,
        "n_clients": n_clients,
        "alpha": alpha,
        "seed": seed,
        "n_subsets": n_subsets,
        "test_fraction": test_fraction,
        "label_mode": label_mode,
        "pca_variance": pca_variance,
        "low_traffic_fraction": low_traffic_fraction,
        "low_traffic_subsets": (np.flatnonzero(low_traffic) + 1).tolist(),
        "min_client_size": min_client_size,
        "public_fraction": public_fraction,
        "max_retries": max_retries,
        "class_proportions": proportions.tolist(),
    }
    logger.info(
        "federation of %s: %d clients x %d subsets, %d classes, %d features, "
        "client training sizes %s",
        data.dataset,
        n_clients,
        n_subsets,
        n_classes,
        preprocessor.n_features_out_,
        sizes.tolist(),
    )
    return Federation(
        clients=clients,
        class_names=class_names,
        feature_names=preprocessor.get_feature_names_out(),
        preprocessor=preprocessor,
        segmentation=segmentation,
        report=report,
        config=config,
        public=public,
    )


def _draw_client_shares(
    train_sets, *, n_classes, n_clients, alpha, min_client_size, max_retries, rng
):
    """Draw Dirichlet shares until every client gets enough training rows.

    Returns the shares, each subset's per-client training positions and the
    clients' total training sizes; raises :class:`PartitionError` after
    ``max_retries`` draws.
    """
    best_smallest = -1
    for attempt in range(1, max_retries + 1):
        proportions = dirichlet_class_proportions(n_classes, n_clients, alpha, rng)
        train_parts = [
            split_by_proportions(part.y, proportions, rng) for part in train_sets
        ]
        sizes = np.array(
            [
                sum(len(parts[client]) for parts in train_parts)
                for client in range(n_clients)
            ]
        )
        if sizes.min() >= min_client_size:
            if attempt > 1:
                logger.info(
                    "client shares met min_client_size=%d after %d draws",
                    min_client_size,
                    attempt,
                )
            return proportions, train_parts, sizes
        best_smallest = max(best_smallest, int(sizes.min()))
    raise PartitionError(
        f"no Dirichlet draw with alpha={alpha} into n_clients={n_clients} clients "
        f"gave every client min_client_size={min_client_size} training rows in "
        f"{max_retries} draws; the smallest client had at most {best_smallest} "
        "rows. Increase alpha, lower n_clients or min_client_size, or raise "
        "max_retries"
    )


def _stratified_split(
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    *,
    report: DataReport | None = None,
    name: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a per-class random ``fraction`` and of the rest.

    A class with one row stays in the rest; a class with two or more rows
    gives ``round(fraction * count)`` rows, at least one and at most
    ``count - 1`` (when ``fraction > 0``).
    """
    taken, kept = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = members.size
        if fraction <= 0 or count == 1:
            n_taken = 0
            if fraction > 0 and report is not None:
                report.add(name, "class with one row kept out of the test split", 1,
                           action="warning")
        else:
            n_taken = min(max(1, int(round(fraction * count))), count - 1)
        taken.append(members[:n_taken])
        kept.append(members[n_taken:])
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.concatenate(taken).astype(np.int64) if taken else empty,
        np.concatenate(kept).astype(np.int64) if kept else empty,
    )


def _take(part: Subset, rows: np.ndarray) -> Subset:
    return Subset(part.X[rows], part.y[rows])


def _validate_arguments(
    *,
    n_clients,
    alpha,
    test_fraction,
    label_mode,
    low_traffic_fraction,
    min_client_size,
    public_fraction,
    max_retries,
) -> None:
    if isinstance(n_clients, bool) or not isinstance(n_clients, int | np.integer):
        raise ValueError(f"n_clients must be an integer >= 1, got {n_clients!r}")
    if n_clients < 1:
        raise ValueError(f"n_clients must be an integer >= 1, got {n_clients}")
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    if not 0.0 <= public_fraction < 1.0:
        raise ValueError(
            f"public_fraction must be in [0, 1), got {public_fraction!r}"
        )
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
    if not low_traffic_fraction >= 0:
        raise ValueError(
            f"low_traffic_fraction must be >= 0, got {low_traffic_fraction!r}"
        )
    if min_client_size < 0:
        raise ValueError(f"min_client_size must be >= 0, got {min_client_size}")
    if max_retries < 1:
        raise ValueError(f"max_retries must be >= 1, got {max_retries}")
