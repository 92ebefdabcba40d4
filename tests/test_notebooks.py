"""Execute every notebook with papermill and small parameters.

These are the same entry points ``make reproduce`` uses (``fmltc_core.reproduce``),
run on the simulator and on the real samples, writing into a temporary folder.
"""

from __future__ import annotations

import json

import pytest
from notebook_helpers import notebook_errors, run_test_notebook

from fmltc_core import reproduce

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


_run = run_test_notebook
_errors = notebook_errors


def test_notebook_01_on_the_simulator(tmp_path):
    run = _run("01_data_construction", tmp_path)
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    for expected in (
        "01_traffic_volume_simulated.png",
        "01_client_class_mix_simulated.png",
        "01_subset_sizes_simulated.png",
        "01_data_report_simulated.md",
        "01_clients_simulated.csv",
    ):
        assert expected in figures
    assert not notebook_errors(run)


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("dataset", "folder"),
    [("cicids2017", "cicids2017_improved"), ("bot_iot", "bot_iot"), ("iot23", "iot23")],
)
def test_notebook_01_on_real_samples(tmp_path, real_dataset_dir, dataset, folder):
    data_dir = real_dataset_dir(folder).parent
    _run("01_data_construction", tmp_path, dataset=dataset, data_dir=str(data_dir))
    assert (tmp_path / "figures" / f"01_data_report_{dataset}.md").exists()


def test_undeclared_parameter_is_an_error(tmp_path):
    with pytest.raises(reproduce.UnknownParameterError, match="n_clientz"):
        _run("01_data_construction", tmp_path, n_clientz=3)


def test_notebook_02_on_the_simulator(tmp_path):
    run = _run("02_maml_pretraining", tmp_path)
    assert not _errors(run)
    figures = tmp_path / "figures"
    for name in (
        "02_maml_curves_simulated.png",
        "02_round0_accuracy_simulated.png",
        "02_round0_simulated.csv",
    ):
        assert (figures / name).exists()
    caption = (figures / "02_round0_simulated.md").read_text().splitlines()[0]
    assert "simulated" in caption
    assert "50%-60%" in caption
    w0 = tmp_path / "run" / "pretrained" / "w0_simulated_seed0.safetensors"
    assert w0.exists()


def test_notebook_03_on_the_simulator_reuses_w0_of_02(tmp_path):
    _run("02_maml_pretraining", tmp_path)
    w0 = tmp_path / "run" / "pretrained" / "w0_simulated_seed0.safetensors"
    written = w0.stat().st_mtime_ns
    run = _run("03_federated_training", tmp_path)
    assert not _errors(run)
    assert w0.stat().st_mtime_ns == written  # loaded, not pretrained again
    figures = tmp_path / "figures"
    table = (figures / "table2_iot_simulated.md").read_text()
    assert "data: simulated" in table.splitlines()[0]
    assert "accuracy_paper" in table
    assert (figures / "fig3_accuracy_by_round_simulated.png").exists()
    assert (figures / "fig3_accuracy_by_round.png").exists()
    runs = tmp_path / "run" / "runs" / "simulated" / "alpha1" / "seed0"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        ["fmltc", "fedavg", "fedprox", "fed_anids", "ssfl"]
    )
    assert (runs / "fmltc" / "config.json").exists()


@pytest.mark.real_data
@pytest.mark.parametrize(("dataset", "mode"), [("iot23", "maml"), ("bot_iot", None)])
def test_notebook_02_on_real_samples(tmp_path, real_dataset_dir, dataset, mode):
    data_dir = real_dataset_dir(dataset).parent
    run = _run("02_maml_pretraining", tmp_path, dataset=dataset, data_dir=str(data_dir))
    assert not _errors(run)
    caption = (tmp_path / "figures" / f"02_round0_{dataset}.md").read_text()
    assert f"real data: {dataset}, real sample" in caption
    info = json.loads(
        (tmp_path / "run" / "pretrained" / f"w0_{dataset}_seed0.json").read_text()
    )
    # the BoT-IoT sample has no benign rows: W0 from the supervised fallback
    assert info["mode"] == (mode or "supervised")


@pytest.mark.real_data
def test_notebook_03_on_the_iot23_sample(tmp_path, real_dataset_dir):
    data_dir = real_dataset_dir("iot23").parent
    run = _run(
        "03_federated_training", tmp_path, dataset="iot23", data_dir=str(data_dir)
    )
    assert not _errors(run)
    caption = (tmp_path / "figures" / "table2_iot_iot23.md").read_text()
    assert "data: real sample" in caption.splitlines()[0]
    assert (tmp_path / "figures" / "fig3_accuracy_by_round_iot23.png").exists()


def test_a_second_run_with_the_same_seed_reproduces_the_tables(tmp_path):
    """Notebook 03 twice (W0 shared): every table cell but timings is equal."""
    import shutil

    import pandas as pd

    first, second = tmp_path / "first", tmp_path / "second"
    _run("02_maml_pretraining", first)
    shutil.copytree(first / "run" / "pretrained", second / "run" / "pretrained")
    _run("03_federated_training", first)
    _run("03_federated_training", second)
    tables = [
        pd.read_csv(folder / "figures" / "table2_iot_simulated.csv")
        for folder in (first, second)
    ]
    timing = [c for c in tables[0].columns if "seconds" in c]
    assert len(tables[0]) > 0
    pd.testing.assert_frame_equal(
        tables[0].drop(columns=timing), tables[1].drop(columns=timing)
    )
