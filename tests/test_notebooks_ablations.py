"""Execute the ablation notebooks 04-06 with small parameters (the test profile).

The same entry points as ``make reproduce`` (``fmltc_core.reproduce``), on the
simulator, and notebook 06 on the IoT-23 sample, writing into a temporary
folder. Notebook 05 is given populations of 10 and 30 clients to stay fast.
"""

from __future__ import annotations

import pandas as pd
import pytest
from notebook_helpers import notebook_errors, run_test_notebook

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def _run(name, tmp_path, **overrides):
    run = run_test_notebook(name, tmp_path, **overrides)
    assert not notebook_errors(run)
    return run


def test_notebook_04_batch_adaptation_on_the_simulator(tmp_path):
    _run("04_rq1_batch_adaptation", tmp_path, extra_row=False)
    figures = tmp_path / "figures"
    markdown = (figures / "table3_batch_adaptation.md").read_text()
    assert "simulated" in markdown.splitlines()[0]
    table = pd.read_csv(figures / "table3_batch_adaptation.csv", index_col=0)
    assert len(table) == 4
    assert table.loc["FMLTC-IDS (eq. 1 + eqs. 2-5)", "round_seconds_paper"] == 94.36
    assert "convergence_seconds" in table.columns
    assert (tmp_path / "run" / "pretrained" / "w0_simulated_seed0.json").exists()


def test_notebook_05_feature_extraction_on_the_simulator(tmp_path):
    _run(
        "05_rq2_feature_extraction",
        tmp_path,
        client_counts=[10, 30],
        bar_clients=30,
    )
    figures = tmp_path / "figures"
    assert (figures / "fig4_clustering_time.png").exists()
    bars = pd.read_csv(figures / "fig4_clustering_time.csv", index_col=0)
    assert bars.loc["all layers", "paper_seconds"] == 21.42
    assert bars.loc["last layer + PCA", "paper_seconds"] == 0.36
    every = pd.read_csv(figures / "fig4_clustering_time_by_clients.csv")
    assert sorted(every["n_clients"].unique()) == [10, 30]


def test_notebook_06_time_series_clustering_on_the_simulator(tmp_path):
    _run("06_rq3_time_series_clustering", tmp_path)
    figures = tmp_path / "figures"
    table = pd.read_csv(figures / "table4_personalisation.csv", index_col=0)
    assert list(table.index) == ["TS-Cluster", "Static-Cluster", "FedAvg"]
    assert table.loc["TS-Cluster", "delta_acc_pp_paper"] == 4.1
    assert (figures / "fig5_cluster_quality.png").exists()
    caption = (figures / "fig5_cluster_quality.md").read_text().splitlines()[0]
    assert "simulated" in caption


@pytest.mark.real_data
def test_notebook_06_on_the_iot23_sample(tmp_path, real_dataset_dir):
    data_dir = real_dataset_dir("iot23").parent
    _run(
        "06_rq3_time_series_clustering",
        tmp_path,
        dataset="iot23",
        data_dir=str(data_dir),
    )
    caption = (tmp_path / "figures" / "table4_personalisation_iot23.md").read_text()
    assert "real data: iot23" in caption.splitlines()[0]
    assert (tmp_path / "figures" / "fig5_cluster_quality_iot23.png").exists()
