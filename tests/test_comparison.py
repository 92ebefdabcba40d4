"""The reproduction report puts every ``<metric>_paper`` cell beside ours."""

from __future__ import annotations

import pandas as pd

from fmltc_core.comparison import collect_rows, write_report


def _write(folder, stem, frame, caption):
    frame.to_csv(folder / f"{stem}.csv", index=False)
    (folder / f"{stem}.md").write_text(f"{caption}\n\n| table |\n")


def test_rows_pair_ours_with_the_papers_value(tmp_path):
    frame = pd.DataFrame(
        {
            "alpha": [0.5, 1.0],
            "method": ["FedAvg", "FMLTC-IDS"],
            "accuracy_mean": [0.70, 0.90],
            "accuracy_sd": [0.01, 0.02],
            "accuracy_paper": [0.71, 0.80],
        }
    )
    _write(tmp_path, "table2_iot_simulated", frame, "Simulated IoT traffic, 3 seeds.")
    rows = collect_rows(tmp_path)
    assert [(r.item, r.paper, r.ours) for r in rows] == [
        ("alpha=0.5, FedAvg", 0.71, 0.70),
        ("alpha=1, FMLTC-IDS", 0.80, 0.90),
    ]
    # within 0.02 agrees (no reason); 0.10 apart needs a reason
    assert rows[0].reason == ""
    assert "private" in rows[1].reason
    assert rows[0].data.startswith("simulated")


def test_times_always_carry_a_reason(tmp_path):
    frame = pd.DataFrame(
        {
            "variant": ["fixed"],
            "round_seconds": [138.0],
            "round_seconds_paper": [138.21],
        }
    )
    _write(tmp_path, "table3_batch_adaptation", frame, "Simulated traffic.")
    (row,) = collect_rows(tmp_path)
    assert "GPU" in row.reason


def test_report_is_written_and_lists_each_number(tmp_path):
    frame = pd.DataFrame(
        {"variant": ["a", "b"], "f1": [0.5, 0.6], "f1_paper": [0.5, 0.9]}
    )
    _write(tmp_path, "table4_personalisation", frame, "Real dataset sample iot23.")
    path = write_report(tmp_path, profile="test")
    text = path.read_text()
    assert path.name == "REPRODUCTION.md"
    assert text.count("| table4_personalisation |") == 2
    assert "real dataset sample" in text


def test_round0_and_convergence_claims_are_reported(tmp_path):
    round0 = pd.DataFrame(
        {"client": ["0", "pooled"], "w0_accuracy": [0.9, 0.87], "random": [0.3, 0.3]}
    )
    _write(tmp_path, "02_round0_simulated", round0, "Simulated traffic.")
    table = pd.DataFrame(
        {
            "alpha": [0.5],
            "method": ["FMLTC-IDS"],
            "convergence_round_mean": [9.0],
            "convergence_round_sd": [1.0],
        }
    )
    _write(tmp_path, "table2_iot_simulated", table, "Simulated traffic.")
    text = write_report(tmp_path).read_text()
    assert "round-0 accuracy (paper: 0.50-0.60)" in text
    assert "| 0.87 |" in text
    assert "convergence round (section 4.2 text) | 5 | 9 ± 1 |" in text
