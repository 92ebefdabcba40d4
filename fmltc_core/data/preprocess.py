"""Flow feature preprocessing: imputation, outlier clipping, scaling and PCA.

Implements the preprocessing pipeline of section 4.1 of the FMLTC-IDS paper
("missing value imputation, outlier detection, PCA dimensionality reduction,
and standardization"). The paper gives neither the order of the steps nor
the outlier rule; this module reads them as follows, in this order:

1. infinite values (CICFlowMeter writes ``Infinity`` for rates of
   zero-duration flows) become missing values;
2. missing values are imputed with the training median of their column
   (:class:`sklearn.impute.SimpleImputer`). A column that is missing in every
   training row has no median; it is filled with 0 and the repair is
   recorded (``all_nan_columns_`` and the :class:`DataReport`);
3. outliers are clipped to the training quantiles ``clip_quantiles`` of each
   column. The bounds are observed training values (lower quantile rounded
   down, upper quantile rounded up), so a small training set is not clipped
   at its own extremes;
4. standardisation to zero mean and unit variance
   (:class:`sklearn.preprocessing.StandardScaler`; a constant column maps to
   0, never to NaN);
5. optionally :class:`sklearn.decomposition.PCA` keeping the smallest number
   of components that explain ``pca_variance`` of the training variance.

Every statistic is fitted on training rows only; test and public rows are
only transformed. Output is float32.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from fmltc_core.data.report import DataReport

logger = logging.getLogger(__name__)


class FlowPreprocessor:
    """Impute, clip, standardise and optionally reduce flow features.

    Parameters
    ----------
    clip_quantiles : tuple of float or None, default (0.001, 0.999)
        Lower and upper training quantiles each column is clipped to; ``None``
        disables clipping. ``0 <= lower < upper <= 1``.
    pca_variance : float or None, default None
        Fraction of the training variance kept by PCA, in ``(0, 1]``; ``None``
        skips PCA (1.0 keeps every component, i.e. a rotation).
    seed : int, default 0
        Seed of the PCA solver (only used by randomised solvers).

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns seen in :meth:`fit`.
    feature_names_in_ : list of str
        Input column names (``x0``, ``x1``, ... when none are given).
    infinite_counts_ : numpy.ndarray of int64, shape (n_features_in_,)
        Infinite training values per column set to NaN.
    missing_counts_ : numpy.ndarray of int64, shape (n_features_in_,)
        Missing training values per column (after step 1) that were imputed.
    all_nan_columns_ : list of str
        Columns missing in every training row, filled with 0.
    imputer_ : sklearn.impute.SimpleImputer
    lower_, upper_ : numpy.ndarray of float64, shape (n_features_in_,)
        Clipping bounds (``-inf`` / ``inf`` when clipping is off).
    clipped_counts_ : numpy.ndarray of int64, shape (n_features_in_,)
        Training values clipped per column.
    scaler_ : sklearn.preprocessing.StandardScaler
    pca_ : sklearn.decomposition.PCA or None
    n_features_out_ : int
        Number of output columns.
    """

    def __init__(
        self,
        *,
        clip_quantiles: tuple[float, float] | None = (0.001, 0.999),
        pca_variance: float | None = None,
        seed: int = 0,
    ) -> None:
        self.clip_quantiles = clip_quantiles
        self.pca_variance = pca_variance
        self.seed = seed

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X,
        y=None,
        *,
        feature_names: list[str] | None = None,
        report: DataReport | None = None,
        name: str = "preprocess",
    ) -> FlowPreprocessor:
        """Fit every statistic on the training rows ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Training rows only.
        y : ignored
            Present for scikit-learn compatibility.
        feature_names : list of str, optional
            Column names used in the report and by
            :meth:`get_feature_names_out`.
        report : DataReport, optional
            Receives the repairs made while fitting (infinite values, imputed
            values, all-missing columns, clipped values).
        name : str, default "preprocess"
            The ``file`` key of the report entries.

        Returns
        -------
        FlowPreprocessor
            ``self``, fitted.
        """
        self._validate_parameters()
        values = _as_float_matrix(X, "X")
        n_samples, n_features = values.shape
        if n_samples == 0:
            raise ValueError("X must have at least one training row, got 0 rows")
        if feature_names is None:
            feature_names = [f"x{index}" for index in range(n_features)]
        if len(feature_names) != n_features:
            raise ValueError(
                f"feature_names must have {n_features} names, got {len(feature_names)}"
            )
        self.n_features_in_ = n_features
        self.feature_names_in_ = list(feature_names)

        # Infinite values become missing values.
        infinite = np.isinf(values)
        self.infinite_counts_ = infinite.sum(axis=0).astype(np.int64)
        values[infinite] = np.nan

        # Median imputation; an all-missing column is filled with 0.
        missing = np.isnan(values)
        self.missing_counts_ = missing.sum(axis=0).astype(np.int64)
        all_nan = missing.all(axis=0)
        self.all_nan_columns_ = [
            self.feature_names_in_[index] for index in np.flatnonzero(all_nan)
        ]
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True)
        values = self.imputer_.fit_transform(values)
        if all_nan.any():
            self.imputer_.statistics_[all_nan] = 0.0
            values[:, all_nan] = 0.0
            logger.warning(
                "%d column(s) missing in every training row filled with 0: %s",
                int(all_nan.sum()),
                self.all_nan_columns_,
            )

        # Outlier clipping to observed training quantiles.
        if self.clip_quantiles is None:
            self.lower_ = np.full(n_features, -np.inf)
            self.upper_ = np.full(n_features, np.inf)
        else:
            low, high = self.clip_quantiles
            self.lower_ = np.quantile(values, low, axis=0, method="lower")
            self.upper_ = np.quantile(values, high, axis=0, method="higher")
        self.clipped_counts_ = self._count_clipped(values)
        values = np.clip(values, self.lower_, self.upper_)

        # Standardisation (constant columns map to 0).
        self.scaler_ = StandardScaler()
        values = self.scaler_.fit_transform(values)

        # Optional PCA.
        self.pca_ = None
        if self.pca_variance is not None:
            components = None if self.pca_variance >= 1.0 else self.pca_variance
            self.pca_ = PCA(
                n_components=components, svd_solver="full", random_state=self.seed
            )
            self.pca_.fit(values)
            logger.info(
                "PCA keeps %d of %d components (%.4f of the training variance)",
                self.pca_.n_components_,
                n_features,
                float(self.pca_.explained_variance_ratio_.sum()),
            )
        self.n_features_out_ = (
            n_features if self.pca_ is None else int(self.pca_.n_components_)
        )

        if report is not None:
            self._report_fit(report, name)
        return self

    # ------------------------------------------------------------ transform
    def transform(
        self, X, *, report: DataReport | None = None, name: str = "preprocess"
    ) -> np.ndarray:
        """Apply the fitted statistics to ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features_in_)
        report : DataReport, optional
            Receives the counts of infinite, imputed and clipped values of
            ``X`` (useful for test rows).
        name : str, default "preprocess"
            The ``file`` key of the report entries.

        Returns
        -------
        numpy.ndarray of float32, shape (n_samples, n_features_out_)
        """
        self._check_fitted()
        values = _as_float_matrix(X, "X")
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must have {self.n_features_in_} columns (as in fit), "
                f"got {values.shape[1]}"
            )
        if values.shape[0] == 0:
            return np.zeros((0, self.n_features_out_), dtype=np.float32)
        infinite = np.isinf(values)
        values[infinite] = np.nan
        missing = np.isnan(values)
        values = np.where(missing, self.imputer_.statistics_, values)
        clipped = self._count_clipped(values)
        values = np.clip(values, self.lower_, self.upper_)
        values = self.scaler_.transform(values)
        if self.pca_ is not None:
            values = self.pca_.transform(values)
        if report is not None:
            report.add(name, "infinite value set to NaN", int(infinite.sum()))
            report.add(name, "missing value imputed with training median",
                       int(missing.sum()))
            report.add(name, "value clipped to training quantiles", int(clipped.sum()))
        return values.astype(np.float32)

    def fit_transform(self, X, y=None, **fit_options) -> np.ndarray:
        """:meth:`fit` on ``X`` then :meth:`transform` it (float32)."""
        return self.fit(X, y, **fit_options).transform(X)

    def get_feature_names_out(self) -> list[str]:
        """Output column names: the input names, or ``pc1``, ``pc2``, ... after PCA."""
        self._check_fitted()
        if self.pca_ is None:
            return list(self.feature_names_in_)
        return [f"pc{index + 1}" for index in range(self.n_features_out_)]

    # -------------------------------------------------------------- helpers
    def _validate_parameters(self) -> None:
        if self.clip_quantiles is not None:
            if len(self.clip_quantiles) != 2:
                raise ValueError(
                    "clip_quantiles must be a pair (lower, upper) or None, "
                    f"got {self.clip_quantiles!r}"
                )
            low, high = self.clip_quantiles
            if not 0.0 <= low < high <= 1.0:
                raise ValueError(
                    "clip_quantiles must satisfy 0 <= lower < upper <= 1, "
                    f"got {self.clip_quantiles!r}"
                )
        if self.pca_variance is not None and not 0.0 < self.pca_variance <= 1.0:
            raise ValueError(
                f"pca_variance must be in (0, 1] or None, got {self.pca_variance!r}"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "scaler_"):
            raise RuntimeError("FlowPreprocessor is not fitted; call fit() first")

    def _count_clipped(self, values: np.ndarray) -> np.ndarray:
        below = values < self.lower_
        above = values > self.upper_
        return (below | above).sum(axis=0).astype(np.int64)

    def _report_fit(self, report: DataReport, name: str) -> None:
        report.add(name, "infinite value set to NaN", int(self.infinite_counts_.sum()))
        report.add(
            name,
            "missing value imputed with training median",
            int(self.missing_counts_.sum()),
        )
        report.add(
            name, "column missing in every training row filled with 0",
            len(self.all_nan_columns_),
        )
        for column, count in zip(
            self.feature_names_in_, self.clipped_counts_, strict=True
        ):
            report.add(name, f"value clipped to training quantiles: {column}", count)


def _as_float_matrix(X, parameter: str) -> np.ndarray:
    """A float64 copy of ``X`` as a 2-D array, or ``ValueError``."""
    values = np.array(X, dtype=np.float64, copy=True)
    if values.ndim != 2:
        raise ValueError(
            f"{parameter} must be 2-D (n_samples, n_features), got shape {values.shape}"
        )
    return values
