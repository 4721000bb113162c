"""The notebooks in notebooks/ are committed without outputs and execute cleanly (nbclient)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_four_notebooks_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_quickstart", "02_ambiguity", "03_consistency", "04_evaluate"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has committed outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    html_outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "text/html" in o.get("data", {})]
    assert html_outputs, "rich display produced no HTML"
    assert elapsed < 150, f"{path.name} took {elapsed:.0f} s"
