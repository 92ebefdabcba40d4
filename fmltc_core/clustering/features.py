"""Client features for clustering: eqs. 6-8 and 10 of FMLTC-IDS.

* eq. 6: the server describes client ``j`` by the weight matrix ``W_j`` (M x R)
  of the final ``nn.Linear`` of its uploaded model, flattened to a vector of
  length ``M * R`` (:func:`last_layer_features`);
* eqs. 7-8: PCA keeping the leading principal components that together explain
  95 % of the variance (:class:`ClientFeatureReducer`). Eq. 7's covariance
  ``C = 1/N sum (W_j - W_bar)(W_j - W_bar)^T`` has as eigenvectors the right
  singular vectors of the centred feature matrix, with eigenvalues ``s^2 / N``;
  scikit-learn's PCA (full SVD) therefore gives the same projection ``P`` and
  the same explained-variance ratios as the eigen-decomposition of eq. 7, up
  to the sign of each component (the ``1/N`` versus ``1/(N-1)`` scale cancels
  in the ratios). With at least as many rows as features the fit uses
  scikit-learn's ``covariance_eigh`` solver, i.e. eq. 7 as written; otherwise
  the thin SVD of the data (cheaper when p > N). scikit-learn keeps the
  smallest number of components whose cumulative ratio exceeds the threshold;
* eq. 10: the per-round vector ``h_i`` of reduced features is enhanced with the
  client's gradient mean and variance for that round, ``[h_i; mean; var]``.

:class:`FeatureHistory` keeps a sliding window of the last ``window`` rounds and
turns it into one multivariate series per client, shape (n_clients, T, d' + 2),
the ``Q_i`` that eq. 9 compares. Readings:

* **One PCA basis per window.** The PCA is fitted once on the stacked
  (observed client, round) feature vectors of the whole window, so every time
  step is expressed in the same basis. Separate per-round PCAs would not be
  comparable across rounds (their axes, signs and even dimensions differ), and
  DTW would compare unrelated coordinates.
* **Clients absent from a round** (not sampled) carry their last observed
  features and gradient statistics forward; a client observed only later in
  the window is padded backwards with its first observation. Only observed
  rows enter the PCA fit, so the padding does not bias the covariance.
* **Gradient norm per round** ``g_i(p)`` of eqs. 9 and 11 is the client's
  gradient mean for round ``p`` (the mean per-sample gradient L2 norm of its
  local training, eq. 2).
* The gradient statistics are appended unscaled, as eq. 10 writes them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

logger = logging.getLogger(__name__)


def last_layer_features(weights: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Flatten each client's final-layer weight matrix ``W_j`` (eq. 6).

    Parameters
    ----------
    weights : sequence of arrays of shape (M, R), or array of shape (n, M, R)
        ``W_j`` for clients ``j = 1..n``: weight ``w_{i,r}`` connects neuron
        ``i`` of the final hidden layer to output class ``r``.

    Returns
    -------
    array, shape (n, M * R)
        Row ``j`` is ``W_j`` flattened row by row (float64).
    """
    matrices = [np.asarray(matrix, dtype=np.float64) for matrix in weights]
    if not matrices:
        raise ValueError("weights must hold at least one (M, R) matrix, got none")
    shape = matrices[0].shape
    for matrix in matrices:
        if matrix.ndim != 2 or matrix.shape != shape:
            raise ValueError(
                "weights must be (M, R) matrices of one shape, "
                f"got shapes {shape} and {matrix.shape}"
            )
    return np.stack([matrix.reshape(-1) for matrix in matrices])


class ClientFeatureReducer:
    """PCA of client feature vectors keeping a share of the variance (eqs. 7-8).

    Parameters
    ----------
    variance : float, default 0.95
        Share of the total variance the kept components must explain, in
        (0, 1]; 1 keeps every component.

    Attributes
    ----------
    n_components_ : int
        Number of kept components ``d'``.
    components_ : array, shape (d', p)
        ``P^T``: the kept eigenvectors of eq. 7's covariance, one per row.
    mean_ : array, shape (p,)
        ``W_bar``, the mean feature vector.
    explained_variance_ratio_ : array, shape (d',)
        Share of the variance of each kept component.
    """

    def __init__(self, variance: float = 0.95) -> None:
        if not 0 < variance <= 1:
            raise ValueError(f"variance must be in (0, 1], got {variance!r}")
        self.variance = variance

    def fit(self, features: np.ndarray) -> ClientFeatureReducer:
        """Fit eq. 7 on features of shape (N, p)."""
        values = np.asarray(features, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] == 0:
            raise ValueError(
                f"features must have shape (N, p) with N >= 1, got {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError("features must be finite, got non-finite values")

        # constant features (one row, or all rows equal) carry no variance:
        # keep one direction so that the projection is defined (all zeros)
        total_variance = float(values.var(axis=0).sum())
        if values.shape[0] < 2 or total_variance == 0.0:
            logger.warning(
                "client features have no variance (%d rows); keeping 1 component",
                values.shape[0],
            )
            self.mean_ = values.mean(axis=0)
            self.components_ = np.zeros((1, values.shape[1]))
            self.components_[0, 0] = 1.0
            self.explained_variance_ratio_ = np.ones(1)
            self.n_components_ = 1
            self._pca = None
            return self

        # eq. 7 literally (eigen-decomposition of the p x p covariance) when
        # p <= N; otherwise the thin SVD of the N x p data, which is cheaper
        target = None if self.variance == 1 else self.variance
        solver = "covariance_eigh" if values.shape[1] <= values.shape[0] else "full"
        self._pca = PCA(n_components=target, svd_solver=solver).fit(values)
        self.mean_ = self._pca.mean_
        self.components_ = self._pca.components_
        self.explained_variance_ratio_ = self._pca.explained_variance_ratio_
        self.n_components_ = int(self._pca.n_components_)
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Project features (N, p) on the kept components: eq. 8, shape (N, d')."""
        if not hasattr(self, "components_"):
            raise ValueError("ClientFeatureReducer must be fitted before transform")
        values = np.asarray(features, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.components_.shape[1]:
            raise ValueError(
                f"features must have shape (N, {self.components_.shape[1]}), "
                f"got {values.shape}"
            )
        return (values - self.mean_) @ self.components_.T

    def fit_transform(self, features: np.ndarray) -> np.ndarray:
        """Fit on features (N, p) and return their projection (N, d')."""
        return self.fit(features).transform(features)


@dataclass
class ClientSeries:
    """Multivariate client series of one window of rounds.

    Attributes
    ----------
    client_ids : array, shape (n,)
        Client identifiers, row order of the arrays below (sorted).
    series : array, shape (n, T, d' + 2)
        ``Q_i``: eq. 10 enhanced features per client and round.
    grad_norms : array, shape (n, T)
        ``g_i(p)``: the client's gradient mean per round (eqs. 9 and 11).
    observed : array of bool, shape (n, T)
        Whether the client uploaded in that round (False: carried or padded).
    reducer : ClientFeatureReducer
        The PCA fitted on the window (eqs. 7-8).
    """

    client_ids: np.ndarray
    series: np.ndarray
    grad_norms: np.ndarray
    observed: np.ndarray
    reducer: ClientFeatureReducer


class FeatureHistory:
    """Sliding window of per-round client features (eqs. 6-8, 10).

    Parameters
    ----------
    window : int, default 5
        Number of most recent rounds kept, ``T``.
    variance : float, default 0.95
        Variance share kept by the PCA (eq. 8).
    """

    def __init__(self, window: int = 5, *, variance: float = 0.95) -> None:
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        ClientFeatureReducer(variance)  # validates variance
        self.window = int(window)
        self.variance = variance
        self._rounds: deque[dict[int, tuple[np.ndarray, float, float]]] = deque(
            maxlen=self.window
        )
        self._feature_size: int | None = None

    @property
    def n_rounds(self) -> int:
        """Number of rounds currently in the window (at most ``window``)."""
        return len(self._rounds)

    def add_round(
        self,
        client_ids: Sequence[int],
        weights: Sequence[np.ndarray] | np.ndarray,
        gradient_means: Sequence[float] | np.ndarray,
        gradient_variances: Sequence[float] | np.ndarray,
    ) -> None:
        """Record the uploads of one round.

        Parameters
        ----------
        client_ids : sequence of int, length n
            Clients that uploaded this round (distinct).
        weights : sequence of arrays (M, R), or array (n, M, R)
            Their final-layer weights ``W_j`` (eq. 6).
        gradient_means, gradient_variances : arrays, shape (n,)
            Mean and variance of each client's per-sample gradient norms in
            this round (eq. 10); the mean is ``g_i`` of eqs. 9 and 11.
        """
        ids = [int(client) for client in client_ids]
        if len(set(ids)) != len(ids):
            raise ValueError(f"client_ids must be distinct, got {ids}")
        features = last_layer_features(weights)
        means = np.asarray(gradient_means, dtype=np.float64)
        variances = np.asarray(gradient_variances, dtype=np.float64)
        for name, values in (
            ("weights", features),
            ("gradient_means", means),
            ("gradient_variances", variances),
        ):
            if len(values) != len(ids):
                raise ValueError(
                    f"{name} must have one entry per client ({len(ids)}), "
                    f"got {len(values)}"
                )
        if np.any(~np.isfinite(means)) or np.any(means < 0):
            raise ValueError(
                f"gradient_means must be finite and non-negative, got {means!r}"
            )
        if np.any(~np.isfinite(variances)) or np.any(variances < 0):
            raise ValueError(
                "gradient_variances must be finite and non-negative, "
                f"got {variances!r}"
            )
        if self._feature_size is not None and features.shape[1] != self._feature_size:
            raise ValueError(
                f"weights must have M * R = {self._feature_size} entries like the "
                f"earlier rounds, got {features.shape[1]}"
            )
        self._feature_size = features.shape[1]
        self._rounds.append(
            {
                client: (features[row], float(means[row]), float(variances[row]))
                for row, client in enumerate(ids)
            }
        )

    def series(self) -> ClientSeries:
        """Build the enhanced multivariate series of every client in the window.

        Returns
        -------
        ClientSeries
            ``series`` of shape (n, T, d' + 2) for the ``n`` clients seen at
            least once in the window, ``T = n_rounds``.
        """
        if not self._rounds:
            raise ValueError("FeatureHistory has no rounds yet; call add_round first")
        client_ids = np.array(sorted({c for rnd in self._rounds for c in rnd}))
        n_clients, n_rounds = len(client_ids), len(self._rounds)
        row_of = {int(client): row for row, client in enumerate(client_ids)}

        # lay the observations out per (client, round)
        raw = np.zeros((n_clients, n_rounds, self._feature_size))
        statistics = np.zeros((n_clients, n_rounds, 2))
        observed = np.zeros((n_clients, n_rounds), dtype=bool)
        for step, uploads in enumerate(self._rounds):
            for client, (features, mean, variance) in uploads.items():
                row = row_of[client]
                raw[row, step] = features
                statistics[row, step] = (mean, variance)
                observed[row, step] = True

        # eqs. 7-8: one PCA on the observed rows of the whole window
        reducer = ClientFeatureReducer(self.variance).fit(raw[observed])
        reduced = reducer.transform(raw.reshape(-1, self._feature_size)).reshape(
            n_clients, n_rounds, -1
        )

        # fill gaps: carry forward, pad the start with the first observation
        source = _fill_indices(observed)
        rows = np.arange(n_clients)[:, None]
        reduced = reduced[rows, source]
        statistics = statistics[rows, source]

        # eq. 10: append gradient mean and variance at each step
        enhanced = np.concatenate([reduced, statistics], axis=2)
        missing = int((~observed).sum())
        if missing:
            logger.info(
                "filled %d of %d (client, round) entries of clients not sampled",
                missing,
                observed.size,
            )
        return ClientSeries(
            client_ids=client_ids,
            series=enhanced,
            grad_norms=statistics[:, :, 0].copy(),
            observed=observed,
            reducer=reducer,
        )


def _fill_indices(observed: np.ndarray) -> np.ndarray:
    """Round index each (client, round) entry takes its values from.

    Forward fill from the last observed round; entries before a client's first
    observation take the first observation. ``observed`` has shape (n, T) with
    at least one True per row; the result has the same shape.
    """
    n_rounds = observed.shape[1]
    steps = np.broadcast_to(np.arange(n_rounds), observed.shape)
    last_seen = np.maximum.accumulate(np.where(observed, steps, -1), axis=1)
    first_seen = observed.argmax(axis=1)[:, None]
    return np.where(last_seen >= 0, last_seen, first_seen)
