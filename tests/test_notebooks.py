"""Execute every notebook with papermill and small parameters.

These are the same entry points ``make reproduce`` uses (``fmltc_core.reproduce``),
run on the simulator and on the real samples, writing into a temporary folder.
"""

from __future__ import annotations

import json

import pytest

from fmltc_core import reproduce

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def _run(name, tmp_path, **overrides):
    parameters = reproduce.notebook_parameters(
        name,
        "test",
        figures_dir=tmp_path / "figures",
        run_dir=tmp_path / "run",
        overrides=overrides,
    )
    return reproduce.run_notebook(
        name, parameters, tmp_path / "executed", progress=False
    )


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
    executed = json.loads(run.output_path.read_text())
    errors = [
        output
        for cell in executed["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors


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
