"""Tests of the benchmark harness (``make bench``) and its quick mode.

Every benchmark runs once in quick mode so that none of them can rot; the
tests check the shape of the rows and the files, never a timing.
"""

from __future__ import annotations

import csv
import json
import math

import pandas as pd
import pytest

from fmltc_core import bench
from fmltc_core.benchmarks import walltimes
from fmltc_core.data.synthetic_files import write_cicids2017_like


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """All benchmarks once in quick mode, files written to a tmp folder."""
    folder = tmp_path_factory.mktemp("bench")
    rows = bench.run_all(quick=True, output_dir=folder)
    return rows, folder


@pytest.mark.slow
def test_quick_run_covers_every_benchmark_with_complete_rows(quick_run):
    rows, _ = quick_run
    assert {row["benchmark"] for row in rows} == set(bench.BENCHMARKS)
    for row in rows:
        assert set(bench.CSV_COLUMNS) <= set(row)
        for key in ("ours", "alternative", "ratio"):
            value = row[key]
            assert value is None or (math.isfinite(value) and value > 0), row
        assert row["met"] in (True, False, None)


@pytest.mark.slow
def test_quick_run_met_is_computed_from_the_goal(quick_run):
    rows, _ = quick_run
    for row in rows:
        assert row["met"] == bench.goal_met(row), row
    measured = [row for row in rows if row["benchmark"] in
                ("grad_norms", "loading", "detection")]
    assert all(row["ours"] is not None and row["met"] is not None
               for row in measured)


@pytest.mark.slow
def test_quick_run_writes_csv_and_markdown(quick_run):
    rows, folder = quick_run
    with (folder / "benchmarks.csv").open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert tuple(records[0]) == bench.CSV_COLUMNS
    assert [record["name"] for record in records] == [row["name"] for row in rows]
    markdown = (folder / "benchmarks.md").read_text(encoding="utf-8")
    assert "Quick mode" in markdown
    assert "## Machine" in markdown and "CPU" in markdown and "torch" in markdown
    assert markdown.count("\n| ") >= len(rows) + 1


@pytest.mark.slow
def test_quick_walltimes_are_not_measured(quick_run):
    rows, _ = quick_run
    timed = [row for row in rows if row["benchmark"] == "walltimes"]
    assert len(timed) == 2
    assert all(row["ours"] is None and "not measured" in row["notes"]
               for row in timed)


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        ("<= 2", [bench.GoalClause("ratio", "<=", 2.0)]),
        ("> 1", [bench.GoalClause("ratio", ">", 1.0)]),
        ("<= 60 s", [bench.GoalClause("ours", "<=", 60.0, "s")]),
        (">= 1e6 flows/s", [bench.GoalClause("ours", ">=", 1e6, "flows/s")]),
        (">= 50x faster", [bench.GoalClause("ratio", ">=", 50.0)]),
        ("ratio <= 3", [bench.GoalClause("ratio", "<=", 3.0)]),
        ("<= 0.36 s and <= tslearn", [bench.GoalClause("ours", "<=", 0.36, "s"),
                                      bench.GoalClause("ours", "<=", None)]),
        ("none (reported)", None),
        ("", None),
    ],
)
def test_parse_goal(goal, expected):
    assert bench.parse_goal(goal) == expected


def test_parse_goal_rejects_text_without_comparison():
    with pytest.raises(ValueError, match="goal must be clauses like"):
        bench.parse_goal("fast enough")


def _row(**values):
    row = {"name": "item", "ours": 1.0, "alternative": 2.0, "ratio": 2.0,
           "goal": "<= 2", "met": None, "unit": "s", "notes": ""}
    row.update(values)
    return row


def test_missed_goal_is_reported_false_even_if_the_module_says_met():
    checked = bench.check_row(_row(ours=90.0, goal="<= 60 s", met=True))
    assert checked["met"] is False


def test_goal_on_ratio_and_on_comparison_with_alternative():
    assert bench.check_row(_row(ratio=2.5))["met"] is False
    assert bench.check_row(_row(ratio=2.0))["met"] is True
    assert bench.check_row(_row(goal="<= tslearn", ours=3.0))["met"] is False
    assert bench.check_row(_row(goal=">= 1 ms", unit="s"))["met"] is None


def test_unmeasured_value_gives_no_verdict():
    assert bench.check_row(_row(ours=None, goal="<= 60 s"))["met"] is None
    assert bench.check_row(_row(ours=float("nan"), goal="<= 60 s"))["ours"] is None


def test_check_row_rejects_missing_keys():
    with pytest.raises(ValueError, match="missing"):
        bench.check_row({"name": "x"})


def test_markdown_names_the_missed_goals(tmp_path):
    rows = [{"benchmark": "demo", **bench.check_row(_row(ours=90.0, goal="<= 60 s",
                                                         name="slow item"))},
            {"benchmark": "demo", **bench.check_row(_row(name="fine item"))}]
    path = bench.write_markdown(rows, {"CPU": "test"}, tmp_path / "b.md", quick=False)
    text = path.read_text(encoding="utf-8")
    assert "1 goal(s) missed" in text
    assert "slow item" in text.split("## Results")[0]
    assert "fine item" not in text.split("## Results")[0]
    assert "MISSED" in text
    assert "Not measured" not in text


def test_markdown_lists_what_was_not_measured(tmp_path):
    rows = [{"benchmark": "flower_round",
             **bench.not_available_row("flower_round", "cannot import (x)")}]
    path = bench.write_markdown(rows, {}, tmp_path / "b.md", quick=False)
    head = path.read_text(encoding="utf-8").split("## Results")[0]
    assert "Not measured or not available" in head
    assert "cannot import (x)" in head


def test_missing_benchmark_module_is_reported_not_available(monkeypatch):
    real_import = bench.importlib.import_module

    def failing_import(name, *args):
        if name.endswith(".flower_round"):
            raise ImportError("No module named 'flower_round'")
        return real_import(name, *args)

    monkeypatch.setattr(bench.importlib, "import_module", failing_import)
    rows = bench.run_benchmark("flower_round", quick=True, measure_walltimes=False)
    assert len(rows) == 1
    assert rows[0]["met"] is None and rows[0]["ours"] is None
    assert rows[0]["notes"].startswith("not available")


def test_run_all_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="names must be among"):
        bench.run_all(["nope"], quick=True, output_dir=tmp_path)


def test_walltimes_read_the_recorded_measurement(tmp_path):
    record = {"reproduce": {"seconds": 321.0, "returncode": 0,
                            "date": "2026-01-02 03:04:05 UTC",
                            "load_average": [1.0, 1.0, 1.0],
                            "command": "make reproduce"}}
    path = tmp_path / "walltimes.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    rows = walltimes.run(quick=False, measure=False, record_path=path)
    by_name = {row["name"]: row for row in rows}
    reproduce = by_name["wall time of make reproduce (default)"]
    assert reproduce["ours"] == 321.0
    assert reproduce["notes"].startswith("recorded 2026-01-02 03:04:05 UTC")
    test = by_name["wall time of make test (default)"]
    assert test["ours"] is None and "not measured" in test["notes"]


def test_generated_files_keep_the_duplicated_column_equal(tmp_path):
    files = write_cicids2017_like(tmp_path, 300, n_files=2, seed=1, block_rows=70)
    frame = pd.read_csv(files[0])
    assert len(frame) + len(pd.read_csv(files[1])) == 300
    assert (frame[" Fwd Header Length"] == frame[" Fwd Header Length.1"]).all()
    assert frame[" Label"].eq("BENIGN").all()
