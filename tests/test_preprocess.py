"""Tests of FlowPreprocessor (imputation, clipping, scaling, PCA)."""

from __future__ import annotations

import numpy as np
import pytest

from fmltc_core.data.preprocess import FlowPreprocessor
from fmltc_core.data.report import DataReport


def training_rows(seed=0, n=200, d=5):
    rng = np.random.default_rng(seed)
    return rng.normal(10.0, 3.0, (n, d)).astype(np.float32)


def test_output_is_float32_standardised():
    X = training_rows()
    out = FlowPreprocessor(clip_quantiles=None).fit_transform(X)

    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-4)


def test_test_rows_do_not_influence_fitted_statistics():
    train = training_rows(seed=1)
    test = training_rows(seed=2) * 100.0
    alone = FlowPreprocessor().fit(train)
    pipeline = FlowPreprocessor().fit(train)
    pipeline.transform(test)

    np.testing.assert_array_equal(alone.scaler_.mean_, pipeline.scaler_.mean_)
    np.testing.assert_array_equal(alone.upper_, pipeline.upper_)
    # Statistics come from train only: train median, not the pooled one.
    np.testing.assert_allclose(
        alone.imputer_.statistics_, np.median(train.astype(np.float64), axis=0)
    )
    pooled = FlowPreprocessor().fit(np.concatenate([train, test]))
    assert not np.allclose(pooled.scaler_.mean_, alone.scaler_.mean_)


def test_infinite_and_missing_values_are_imputed_with_the_training_median():
    X = training_rows(n=50, d=3).astype(np.float64)
    X[0, 0] = np.inf
    X[1, 1] = np.nan
    preprocessor = FlowPreprocessor(clip_quantiles=None).fit(X)
    median = np.nanmedian(np.where(np.isinf(X), np.nan, X), axis=0)
    out = preprocessor.transform(np.array([[np.inf, np.nan, -np.inf]]))

    expected = (median - preprocessor.scaler_.mean_) / preprocessor.scaler_.scale_
    np.testing.assert_allclose(out[0], expected, rtol=1e-5)
    assert preprocessor.infinite_counts_.tolist() == [1, 0, 0]
    assert preprocessor.missing_counts_.tolist() == [1, 1, 0]


def test_all_nan_column_is_filled_with_zero_and_reported():
    X = training_rows(n=30, d=3).astype(np.float64)
    X[:, 1] = np.nan
    report = DataReport()
    preprocessor = FlowPreprocessor().fit(
        X, feature_names=["a", "b", "c"], report=report
    )
    out = preprocessor.transform(X)

    assert preprocessor.all_nan_columns_ == ["b"]
    assert out.shape == (30, 3)
    assert np.isfinite(out).all()
    assert (out[:, 1] == 0).all()
    reason = "column missing in every training row filled with 0"
    assert report.total(reason=reason) == 1


def test_constant_column_becomes_zero_not_nan():
    X = training_rows(n=40, d=2)
    X[:, 0] = 7.0
    out = FlowPreprocessor().fit_transform(X)

    assert np.isfinite(out).all()
    assert (out[:, 0] == 0).all()


def test_outliers_are_clipped_to_training_quantiles_and_counted():
    X = training_rows(n=2000, d=2).astype(np.float64)
    X[:5, 0] = 1e9
    report = DataReport()
    preprocessor = FlowPreprocessor(clip_quantiles=(0.01, 0.99)).fit(
        X, feature_names=["rate", "size"], report=report
    )

    assert preprocessor.upper_[0] < 1e6
    assert preprocessor.clipped_counts_[0] >= 5
    assert report.total(reason="value clipped to training quantiles: rate") == int(
        preprocessor.clipped_counts_[0]
    )
    out = preprocessor.transform(np.array([[1e12, 10.0]]))
    top = preprocessor.transform(np.array([[preprocessor.upper_[0], 10.0]]))
    assert out[0, 0] == top[0, 0]


def test_small_training_sets_are_not_clipped_at_their_extremes():
    X = training_rows(n=50, d=3)
    preprocessor = FlowPreprocessor().fit(X)

    assert preprocessor.clipped_counts_.sum() == 0


def test_pca_keeps_the_requested_variance():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(300, 2))
    X = latent @ rng.normal(size=(2, 8)) + 0.01 * rng.normal(size=(300, 8))
    preprocessor = FlowPreprocessor(pca_variance=0.95).fit(X)
    out = preprocessor.transform(X)

    assert out.shape == (300, preprocessor.n_features_out_)
    assert preprocessor.n_features_out_ <= 3
    assert preprocessor.pca_.explained_variance_ratio_.sum() >= 0.95
    assert preprocessor.get_feature_names_out()[0] == "pc1"


def test_transform_is_deterministic():
    X = training_rows(seed=4)
    first = FlowPreprocessor(pca_variance=0.9, seed=1).fit_transform(X)
    second = FlowPreprocessor(pca_variance=0.9, seed=1).fit_transform(X)

    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("value", [0.0, 1.5, -0.1])
def test_bad_pca_variance_is_rejected(value):
    with pytest.raises(ValueError, match=r"pca_variance must be in \(0, 1\]"):
        FlowPreprocessor(pca_variance=value).fit(training_rows())


def test_bad_clip_quantiles_are_rejected():
    with pytest.raises(ValueError, match="clip_quantiles must satisfy"):
        FlowPreprocessor(clip_quantiles=(0.9, 0.1)).fit(training_rows())


def test_transform_checks_the_column_count():
    preprocessor = FlowPreprocessor().fit(training_rows(d=5))
    with pytest.raises(ValueError, match="X must have 5 columns"):
        preprocessor.transform(training_rows(d=4))
