"""Write notebooks from a list of (kind, source) cells, with a tagged parameters cell.

The notebooks in ``notebooks/`` are the artefacts users open; this helper only
keeps their JSON tidy (no outputs, stable metadata) when we edit them.
Usage: ``python tools/notebook_builder.py`` rebuilds every notebook spec in
``tools/notebook_specs/``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def build(cells: list[tuple[str, str]], path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3", "language": "python", "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    nbformat.validate(notebook)
    path.write_text(nbformat.writes(notebook) + "\n")


def main() -> int:
    specs = sorted((ROOT / "tools" / "notebook_specs").glob("nb*.py"))
    for spec_path in specs:
        spec = importlib.util.spec_from_file_location(spec_path.stem, spec_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        build(module.CELLS, ROOT / "notebooks" / module.NAME)
        print(f"wrote notebooks/{module.NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
