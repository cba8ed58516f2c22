"""crmml against a real ``mlflow server`` over HTTP (issue: train → register → load_scorer → batch).

A module-scoped fixture starts ``python -m mlflow server`` on 127.0.0.1 (a free
port, SQLite backend, artifacts proxied by the server: ``mlflow-artifacts:/``),
so runs, the registry *and* the artifacts go over HTTP. The tests pick the
server through ``MLFLOW_TRACKING_URI`` only (no ``--tracking-uri``) and check
that the embedded default store (``./mlflow.db``, ``./mlruns``) is never
touched. Network: 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import crmml
from crmml.cli import EXIT_OK, EXIT_TRACKING, main

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # pyspark (through pandera) on pandas 3
    # mlflow.models.utils compares columns with range() when it saves the input example (MLflow's code)
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated"),
]

AS_OF = "2025-07-01"
START_TIMEOUT = 90.0
#: Environment a user may have set that would point the server or the client elsewhere.
_MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME",
               "MLFLOW_RUN_ID", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(url: str, timeout: float = 1.0) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes via a proxy
    try:
        with opener.open(f"{url}/health", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


@dataclass
class MlflowServer:
    url: str
    root: Path
    proc: subprocess.Popen
    command: list[str]
    stderr_path: Path

    def group(self) -> list:
        """Live (non-zombie) processes of the server's process group."""
        import psutil

        out = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.pid) == self.proc.pid and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
                pass
        return out

    def stop(self) -> None:
        """Terminate the whole process group (mlflow's CLI, uvicorn and anything they started)."""
        import psutil

        for sig in (signal.SIGTERM, signal.SIGKILL):
            family = self.group()
            if not family and self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            psutil.wait_procs(family, timeout=10)
        left = self.group()
        if left:
            pytest.fail(f"mlflow server processes {[p.pid for p in left]} survived SIGTERM and SIGKILL")


def _start_server(root: Path) -> MlflowServer:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
        "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
    ]
    env = {k: v for k, v in os.environ.items() if k not in _MLFLOW_ENV}
    # MLflow 3's server also starts a job runner with seven huey consumer processes (GenAI jobs);
    # crmml needs none of it, and the machine is small.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    stdout_path, stderr_path = root / "server.out", root / "server.err"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    server = MlflowServer(url, root, proc, command, stderr_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            server.stop()
            pytest.fail(f"mlflow server exited with code {proc.returncode} before answering:\n"
                        f"{' '.join(command)}\n{_tail(stderr_path)}")
        if _health(url):
            return server
        time.sleep(0.25)
    server.stop()
    pytest.fail(f"mlflow server did not answer GET {url}/health within {START_TIMEOUT:.0f} s:\n"
                f"{' '.join(command)}\n{_tail(stderr_path)}")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1; yields :class:`MlflowServer`; the process group ends after."""
    root = tmp_path_factory.mktemp("mlflow_server")
    server = _start_server(root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def b2c_dir(tmp_path_factory):
    from crmml.synthetic import make_b2c_world, write_world

    out = tmp_path_factory.mktemp("mlflow_server_world") / "b2c"
    write_world(make_b2c_world(600, seed=23), out)
    return out


@pytest.fixture
def over_http(mlflow_server, tmp_path, monkeypatch):
    """Work in an empty folder with ``MLFLOW_TRACKING_URI`` = the server; leave MLflow's globals as found.

    crmml's training calls ``mlflow.set_tracking_uri`` / ``mlflow.set_experiment``, which set
    ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_ID`` in ``os.environ`` and module globals: they
    are put back here so later tests do not talk to a stopped server.
    """
    import mlflow.tracking._tracking_service.utils as tracking_utils
    from mlflow.tracking import fluent

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    saved_env = {k: os.environ.get(k) for k in _MLFLOW_ENV}
    saved_uri, saved_exp = tracking_utils._tracking_uri, fluent._active_experiment_id
    for k in _MLFLOW_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    for var in ("NO_PROXY", "no_proxy"):  # a proxy set for the machine must not carry 127.0.0.1 traffic
        monkeypatch.setenv(var, ",".join(filter(None, [os.environ.get(var), "127.0.0.1", "localhost"])))
    try:
        yield mlflow_server
    finally:
        tracking_utils._tracking_uri, fluent._active_experiment_id = saved_uri, saved_exp
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _local_stores(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name in ("mlflow.db", "mlruns", "mlartifacts"))


def test_train_register_load_and_batch_over_http(over_http, b2c_dir, tmp_path, capsys):
    from mlflow import MlflowClient

    from crmml.batch import BatchConfig, run_batch
    from crmml.churn import ChurnModel

    url = over_http.url
    work = Path.cwd()

    # train + register through the CLI; the store comes from MLFLOW_TRACKING_URI only
    for kind in ("clv", "churn"):
        rc = main(["train", kind, "--data", str(b2c_dir), "--as-of", AS_OF, "--register"])
        err = capsys.readouterr().err
        assert rc == EXIT_OK, err
    client = MlflowClient(url)
    for name in ("crmml-clv", "crmml-churn"):
        assert client.get_registered_model(name).aliases == {"champion": "1"}
        mv = client.get_model_version_by_alias(name, "champion")
        run = client.get_run(mv.run_id)
        # artifacts are proxied by the server (served over HTTP), not written by the client to a path
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
    assert (over_http.root / "server.db").is_file()
    assert any((over_http.root / "artifacts").rglob("MLmodel"))  # the server stored them

    # load_scorer through the registry alias, over HTTP
    scorer = crmml.load_scorer("models:/crmml-churn@champion")
    assert isinstance(scorer, ChurnModel)
    tables = crmml.load_tables(b2c_dir)
    scores = scorer.score(tables, AS_OF)
    assert len(scores) > 0 and scores["churn_probability"].between(0, 1).all()

    # the nightly batch against the server, logging its run there
    out = tmp_path / "out"
    result = run_batch(BatchConfig(
        data=b2c_dir, output=out, as_of=AS_OF,
        models={"clv": "models:/crmml-clv@champion", "churn": "models:/crmml-churn@champion"},
        log_mlflow=True, n_partitions=2), progress="quiet")
    manifest = result.manifest
    assert manifest["status"] == "succeeded"
    assert {m: manifest["models"][m]["registry_version"] for m in ("clv", "churn")} == {"clv": "1", "churn": "1"}
    assert manifest["outputs"]["customer_view"]["rows"] > 0
    view = pd.read_parquet(result.run_dir / manifest["outputs"]["customer_view"]["path"])
    assert len(view) == manifest["outputs"]["customer_view"]["rows"]
    assert json.loads((result.run_dir / "manifest.json").read_text())["run_id"] == result.run_id

    exp = client.get_experiment_by_name("crmml-batch")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["run_id"] == result.run_id and run.info.status == "FINISHED"
    assert run.data.params["model.churn.version"] == "1"
    assert "manifest.json" in {f.path for f in client.list_artifacts(run.info.run_id)}
    dst = tmp_path / "downloaded"
    dst.mkdir()
    local = client.download_artifacts(run.info.run_id, "manifest.json", str(dst))
    assert json.loads(Path(local).read_text())["run_id"] == result.run_id

    # the embedded default store was never used
    assert _local_stores(work) == []
    assert sorted(p.name for p in work.iterdir()) == []


def test_score_with_the_server_down_exits_6_in_bounded_time(over_http, b2c_dir, capsys):
    """Last in the module: it stops the module's server (run alone, it stops a fresh one)."""
    url = over_http.url
    over_http.stop()  # the server that held the model is gone; nothing listens on its port
    assert not _health(url)
    t0 = time.perf_counter()
    rc = main(["score", "--model", "models:/crmml-churn@champion", "--data", str(b2c_dir), "--as-of", AS_OF])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    print(f"score with the server down: exit {rc} after {elapsed:.1f} s")
    assert rc == EXIT_TRACKING, err
    assert elapsed < 60, f"{elapsed:.1f} s"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert url in errors[0] and "unreachable" in errors[0] and "MLFLOW_TRACKING_URI" in errors[0]
    assert "Traceback" not in err
    assert _local_stores(Path.cwd()) == []
