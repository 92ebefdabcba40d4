"""Server-side pretraining of W0: MAML mode, supervised fallback, save and load."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fmltc_core.data.federation import build_federation
from fmltc_core.data.simulator import simulate_iot_traffic
from fmltc_core.models import Detector
from fmltc_core.pretraining import (
    PublicData,
    load_pretrained,
    pretrain_initial_model,
    public_data_for,
    round0_accuracy,
    save_pretrained,
)


@pytest.fixture(scope="module")
def federation():
    data = simulate_iot_traffic(1_500, seed=11)
    return build_federation(data, n_clients=3, alpha=1.0, seed=11)


@pytest.fixture(scope="module")
def maml_init(federation):
    public = public_data_for("simulated", federation, seed=11, n_public_flows=1_500)
    return pretrain_initial_model(
        public,
        n_features=federation.n_features,
        n_classes=2,
        seed=11,
        meta_steps=4,
        progress=False,
    )


def test_maml_mode_on_the_simulator(maml_init, federation):
    assert maml_init.mode == "maml"
    for key in ("meta_loss", "query_loss", "query_accuracy"):
        assert len(maml_init.curves[key]) == 4
        assert np.isfinite(maml_init.curves[key]).all()
    weight = maml_init.arrays["output_layer.weight"]
    assert maml_init.meta_centres.ndim == 2
    assert maml_init.meta_centres.shape[1] == weight.size
    random = Detector(federation.n_features, 2, seed=11).state_dict()
    assert not np.allclose(random["output_layer.weight"].numpy(), weight)


def test_round0_accuracy_has_one_value_per_client(maml_init, federation):
    accuracy = round0_accuracy(maml_init, federation)
    assert sorted(accuracy) == [c.client_id for c in federation.clients]
    assert all(0.0 <= value <= 1.0 for value in accuracy.values())


def test_save_and_load_round_trip(maml_init, tmp_path):
    stem = tmp_path / "pretrained" / "w0_simulated_seed11"
    path = save_pretrained(maml_init, stem)
    assert path.name == "w0_simulated_seed11.safetensors"

    loaded = load_pretrained(stem)
    assert loaded.mode == maml_init.mode
    assert sorted(loaded.arrays) == sorted(maml_init.arrays)
    for key, value in maml_init.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[key], value)
    np.testing.assert_array_equal(loaded.meta_centres, maml_init.meta_centres)
    assert loaded.curves == maml_init.curves
    assert loaded.metadata["architecture"] == maml_init.metadata["architecture"]


def test_single_class_public_data_falls_back_to_supervised(caplog, tmp_path):
    rng = np.random.default_rng(0)
    public = PublicData(
        X=rng.normal(size=(300, 6)).astype(np.float32),
        y=np.ones(300, dtype=np.int64),  # attacks only, like the BoT-IoT sample
        groups=np.repeat(np.arange(6), 50),
        description="single-class test rows",
    )
    with caplog.at_level(logging.WARNING, logger="fmltc_core.pretraining"):
        init = pretrain_initial_model(
            public, n_features=6, n_classes=2, seed=0, progress=False
        )

    assert init.mode == "supervised"
    assert init.meta_centres is None
    assert init.curves == {}
    assert any("instead of MAML" in r.getMessage() for r in caplog.records)

    # a fallback W0 still saves and loads (without a centres file)
    stem = tmp_path / "w0"
    save_pretrained(init, stem)
    assert not (tmp_path / "w0_centres.npy").exists()
    loaded = load_pretrained(stem)
    assert loaded.mode == "supervised"
    assert loaded.meta_centres is None


def test_real_dataset_needs_a_public_hold_out(federation):
    with pytest.raises(ValueError, match="public_fraction > 0"):
        public_data_for("iot23", federation, seed=0)
