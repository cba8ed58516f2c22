"""Execute every notebook under ``notebooks/``: its cells and assertions are tests.

Each notebook runs in a fresh ``python3`` kernel (the test environment's
interpreter) with its own folder as working directory, so relative paths such
as ``../data/synthetic/b2c`` work as they do in ``jupyter lab``. MLflow is
pointed at a temporary SQLite store, and the experiments crmml logs to are
created there beforehand with a temporary artifact location: a notebook run by
the tests never writes into the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 300
# Experiments crmml.tracking.log_scorer uses by default: ``crmml-<kind>``.
KINDS = ("clv", "churn", "leadscore", "forecast")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in IPython tracebacks


def _prepare_mlflow(tmp_path: Path) -> str:
    """A temporary tracking store whose crmml experiments keep artifacts in ``tmp_path``."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    for kind in KINDS:
        name = f"crmml-{kind}"
        client.create_experiment(name, artifact_location=(tmp_path / "artifacts" / name).as_uri())
    return uri


def _repo_files() -> set[Path]:
    return {p for p in NOTEBOOKS.rglob("*") if ".ipynb_checkpoints" not in p.parts}


def test_clv_notebook_is_present():
    assert NOTEBOOKS / "clv.ipynb" in PATHS


def test_churn_notebook_is_present():
    assert NOTEBOOKS / "churn.ipynb" in PATHS


def test_leadscore_notebook_is_present():
    assert NOTEBOOKS / "leadscore.ipynb" in PATHS


def test_forecast_notebook_is_present():
    assert NOTEBOOKS / "forecast.ipynb" in PATHS


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*noload.*:DeprecationWarning")  # MLflow's SQLAlchemy store
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    uri = _prepare_mlflow(tmp_path)
    # The kernel inherits this process's environment.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    before = _repo_files()
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    error = None
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        error = _ANSI.sub("", str(err))
    if error is not None:  # outside the except block: report the cell's error alone
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    created = sorted(str(p.relative_to(NOTEBOOKS)) for p in _repo_files() - before)
    assert not created, f"{path.name} wrote into the repository: {created}"
