"""Shared by the notebook tests: run a notebook with the test profile."""

from __future__ import annotations

import json

from fmltc_core import reproduce


def run_test_notebook(name, tmp_path, **overrides):
    """Execute ``notebooks/<name>.ipynb`` with the "test" profile into ``tmp_path``."""
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


def notebook_errors(run):
    """The error outputs of an executed notebook (empty when every cell ran)."""
    executed = json.loads(run.output_path.read_text())
    return [
        output
        for cell in executed["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
