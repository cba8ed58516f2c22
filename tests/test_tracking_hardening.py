"""MLflow hardening: URI checks, fail-fast servers, reads that create nothing, registration last,
and no row contents in pyfunc errors. Network: 127.0.0.1 only."""

import http.server
import socket
import threading
import time

import pandas as pd
import pytest

import crmml
from crmml.cli import EXIT_ARTIFACT, EXIT_OK, EXIT_PARAM, EXIT_TRACKING, main
from crmml.exceptions import ArtifactError, DataContractError, OutputError, ParameterError, TrackingError
from crmml.scoring._mlflow import check_tracking_uri, download_model, local_store_path, probe_tracking_server
from crmml.scoring._pyfunc import CrmmlPyfuncModel
from crmml.tracking import check_registration, check_tracking_store, log_scorer


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.fixture
def answering_503():
    """A local HTTP server that answers 503 to everything (an overloaded or broken tracking server)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self):
            self.send_response(503)
            self.end_headers()

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracking_hardening") / "b2c"
    assert main(["synth", "b2c", "--customers", "300", "--seed", "9", "--out", str(out)]) == EXIT_OK
    return out


@pytest.fixture(scope="module")
def registry(world, tmp_path_factory):
    """A store with crmml-clv version 1 as champion, logged through the CLI."""
    import mlflow

    root = tmp_path_factory.mktemp("tracking_hardening_store")
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("crmml-clv", artifact_location=(root / "artifacts").as_uri())
    rc = main(["train", "clv", "--data", str(world), "--as-of", "2025-12-01", "--holdout-days", "0",
               "--tracking-uri", uri, "--register"])
    assert rc == EXIT_OK
    yield uri, root
    mlflow.set_tracking_uri(None)


def _versions(uri, name="crmml-clv"):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    champion = client.get_model_version_by_alias(name, "champion").version
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    runs = len(client.search_runs([client.get_experiment_by_name("crmml-clv").experiment_id]))
    return champion, versions, runs


# ----------------------------------------------------------- URI validation
@pytest.mark.parametrize("uri", [
    "sqlite:///mlflow.db", "sqlite:////abs/mlflow.db", "postgresql://u@h/db", "postgresql+psycopg2://u@h/db",
    "mysql+pymysql://u@h/db", "mssql+pyodbc://u@h/db", "http://127.0.0.1:5000", "https://mlflow.example.com",
    "databricks", "databricks://profile", "databricks-uc", "file:///tmp/mlruns", "./mlruns", "/srv/mlruns",
])
def test_tracking_uris_mlflow_has_stores_for_are_accepted(uri):
    assert check_tracking_uri(uri) == uri


@pytest.mark.parametrize("uri", ["bogus://", "s3://bucket/path", "ftp://host/x", "", "   "])
def test_unknown_tracking_uri_schemes_are_parameter_errors(uri):
    with pytest.raises(ParameterError, match="The '--tracking-uri' parameter must be an MLflow tracking URI"):
        check_tracking_uri(uri, name="--tracking-uri")


def test_cli_bogus_tracking_uri_exits_5_before_reading_data(world, capsys):
    rc = main(["train", "clv", "--data", str(world), "--holdout-days", "0", "--tracking-uri", "bogus://"])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "'--tracking-uri'" in err and "'bogus://'" in err
    assert "loading tables" not in err and "Traceback" not in err


def test_local_store_paths():
    assert str(local_store_path("sqlite:///mlflow.db")) == "mlflow.db"
    assert str(local_store_path("sqlite:////abs/x.db")) == "/abs/x.db"
    assert local_store_path("sqlite:///:memory:") is None
    assert str(local_store_path("file:///srv/mlruns")) == "/srv/mlruns"
    assert str(local_store_path("./mlruns")) == "mlruns"
    assert local_store_path("http://127.0.0.1:5000") is None


# --------------------------------------------------------------- fail fast
def test_unreachable_server_fails_within_seconds_with_exit_6(world, capsys):
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    rc = main(["train", "clv", "--data", str(world), "--holdout-days", "0", "--tracking-uri", uri, "--register"])
    elapsed = time.perf_counter() - t0
    assert rc == EXIT_TRACKING
    assert elapsed < 10  # MLflow's own defaults retry for about four minutes
    err = capsys.readouterr().err
    assert f"The MLflow tracking server {uri} is unreachable: 3 attempts" in err
    assert "Connection refused" in err and "Traceback" not in err
    assert "loading tables" not in err  # checked before the long work


def test_probe_reports_attempts_and_time():
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(TrackingError, match=r"unreachable: 2 attempts .* over \d+\.\d s \(timeout 1 s each\)"):
        probe_tracking_server(uri, attempts=2, timeout=1.0, pause=0.1)
    assert time.perf_counter() - t0 < 5


def test_mlflow_retries_are_bounded_for_a_server_that_answers_503(answering_503):
    t0 = time.perf_counter()
    with pytest.raises(TrackingError) as e:
        check_tracking_store(answering_503, name="--tracking-uri")
    assert time.perf_counter() - t0 < 20
    msg = str(e.value)
    assert answering_503 in msg and "HTTP 503" in msg and "up to 3 attempts" in msg


def test_bounded_retry_settings_do_not_leak_into_the_environment(answering_503, monkeypatch):
    import os

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    with pytest.raises(TrackingError):
        check_tracking_store(answering_503)
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


def test_score_from_an_unreachable_server_exits_6_fast(world, capsys):
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    rc = main(["score", "clv", "--model", "models:/crmml-clv@champion", "--tracking-uri", uri, "--data", str(world)])
    assert rc == EXIT_TRACKING and time.perf_counter() - t0 < 10
    assert "unreachable" in capsys.readouterr().err


# ------------------------------------------------------- reads create nothing
def test_download_never_creates_a_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with pytest.raises(TrackingError) as e:
        download_model("models:/nope@champion")
    assert f"No MLflow store at sqlite:///{tmp_path}/mlflow.db (the default tracking URI" in str(e.value)
    assert "set --tracking-uri or MLFLOW_TRACKING_URI" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_score_from_a_missing_store_exits_6_and_creates_nothing(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rc = main(["score", "clv", "--model", "models:/nope@champion", "--data", str(world)])
    assert rc == EXIT_TRACKING
    assert f"No MLflow store at sqlite:///{tmp_path}/mlflow.db" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()
    rc = main(["score", "clv", "--model", "models:/nope@champion", "--data", str(world),
               "--tracking-uri", f"sqlite:///{tmp_path}/sub/dir/m.db"])
    assert rc == EXIT_TRACKING
    assert list(tmp_path.iterdir()) == []  # not even the folder


def test_load_scorer_never_creates_a_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(TrackingError, match="No MLflow store at sqlite:///"):
        crmml.load_scorer("models:/nope@champion")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("model", ["models:/nope@champion", "models:/crmml-clv@nope", "models:/crmml-clv/99",
                                   "runs:/0123456789abcdef0123456789abcdef/model"])
def test_model_missing_from_an_existing_store_exits_4(registry, world, model, capsys):
    uri, _ = registry
    rc = main(["score", "clv", "--model", model, "--tracking-uri", uri, "--data", str(world)])
    assert rc == EXIT_ARTIFACT
    err = capsys.readouterr().err
    assert f"No model at {model!r} in the MLflow store {uri}" in err and "Traceback" not in err


def test_registered_champion_loads_through_the_cli(registry, world, capsys):
    uri, _ = registry
    rc = main(["score", "clv", "--model", "models:/crmml-clv@champion", "--tracking-uri", uri,
               "--data", str(world), "--as-of", "2025-12-01", "--top", "2"])
    assert rc == EXIT_OK


def test_a_store_mlflow_refuses_is_exit_6_naming_the_uri(world, tmp_path, capsys):
    bad = tmp_path / "mlflow.db"
    bad.write_text("this is not a database")
    uri = f"sqlite:///{bad}"
    rc = main(["train", "clv", "--data", str(world), "--holdout-days", "0", "--tracking-uri", uri])
    assert rc == EXIT_TRACKING
    err = capsys.readouterr().err
    assert f"The MLflow tracking store {uri} failed while opening the store" in err
    assert "Traceback" not in err and "loading tables" not in err


# -------------------------------------------------------- registration last
@pytest.mark.parametrize("name, alias, param", [
    ("crmml-clv", "bad alias!", "--alias"), ("crmml-clv", "latest", "--alias"), ("crmml-clv", "V7", "--alias"),
    ("crmml-clv", "", "--alias"), ("team/crmml", "champion", "--name"), ("a:b", "champion", "--name"),
    ("x@y", "champion", "--name"), ("  ", "champion", "--name"), ("..", "champion", "--name"),
])
def test_invalid_name_or_alias_changes_nothing(registry, world, capsys, name, alias, param):
    uri, _ = registry
    before = _versions(uri)
    rc = main(["train", "clv", "--data", str(world), "--as-of", "2025-12-01", "--holdout-days", "0",
               "--tracking-uri", uri, "--register", "--name", name, "--alias", alias])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert f"The '{param}' parameter must be" in err and "loading tables" not in err
    assert _versions(uri) == before  # same champion, no new version, not even a run


def test_save_into_a_foreign_folder_fails_before_anything_is_registered(registry, world, tmp_path, capsys):
    uri, _ = registry
    foreign = tmp_path / "models"
    foreign.mkdir()
    (foreign / "notes.md").write_text("x")
    before = _versions(uri)
    rc = main(["train", "clv", "--data", str(world), "--as-of", "2025-12-01", "--holdout-days", "0",
               "--tracking-uri", uri, "--register", "--save", str(foreign)])
    assert rc == EXIT_PARAM
    assert "--save" in capsys.readouterr().err
    assert _versions(uri) == before


def test_a_save_that_fails_late_registers_nothing(registry, world, tmp_path, monkeypatch, capsys):
    from crmml.clv import CLVModel

    uri, _ = registry
    champion, versions, runs = _versions(uri)

    def failing_save(self, path):
        raise OutputError(f"--save {str(path)!r}: the disk is full")

    monkeypatch.setattr(CLVModel, "save", failing_save)
    rc = main(["train", "clv", "--data", str(world), "--as-of", "2025-12-01", "--holdout-days", "0",
               "--tracking-uri", uri, "--register", "--save", str(tmp_path / "model")])
    assert rc == EXIT_PARAM
    assert "the disk is full" in capsys.readouterr().err
    assert _versions(uri)[:2] == (champion, versions)  # the run was logged; nothing was registered


def test_log_scorer_checks_the_alias_before_logging(registry, fitted_clv, b2c_world):
    uri, _ = registry
    before = _versions(uri)
    model, as_of = fitted_clv
    with pytest.raises(ParameterError, match="The 'alias' parameter"):
        log_scorer(model, tables=b2c_world.tables, as_of=as_of, register=True, alias="latest", tracking_uri=uri)
    assert _versions(uri) == before


def test_check_registration_accepts_mlflow_names():
    check_registration("crmml-clv", "champion")
    check_registration("CRM model (EU) v2", "challenger_2")


# ------------------------------------------------ no row contents in errors
def _bad_frames(feats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "text in a number column": feats.assign(frequency="many"),
        "missing column": feats.drop(columns=["T"]),
        "negative values": feats.assign(recency=-1.0),
        "missing id": feats.assign(customer_id=None),
        "booleans": feats.assign(frequency=True),
    }


def test_pyfunc_errors_never_echo_rows(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    feats = model.build_features(b2c_world.tables, as_of).head(8)
    ids = list(feats["customer_id"].astype(str))
    wrapper = CrmmlPyfuncModel(model)
    for what, frame in _bad_frames(feats).items():
        with pytest.raises(DataContractError) as e:
            wrapper.predict(frame)
        text = str(e.value)
        assert "row contents withheld" in text, what
        assert not any(i in text for i in ids), (what, text)
        assert e.value.__cause__ is None and (e.value.__suppress_context__ or e.value.__context__ is None), what


def test_mlflow_pyfunc_errors_never_echo_rows(registry, fitted_clv, b2c_world, tmp_path):
    import mlflow

    uri, root = registry
    model, as_of = fitted_clv
    info = log_scorer(model, tables=b2c_world.tables, as_of=as_of, tracking_uri=uri)
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    feats = model.build_features(b2c_world.tables, as_of).head(8)
    ids = list(feats["customer_id"].astype(str))
    for what, frame in _bad_frames(feats).items():
        with pytest.raises(Exception) as e:
            pyfunc.predict(frame)
        text = str(e.value)
        assert "Failed to enforce schema" not in text, what  # MLflow's enforcement (echoes the frame) never runs
        assert not any(i in text for i in ids), (what, text)
        assert "features." in text, what  # crmml names the column
    # numbers sent as JSON strings by a serving client are rejected by column and count ...
    with pytest.raises(DataContractError, match=r"features\.frequency: a number .* — 8 rows fail"):
        pyfunc.predict(feats.assign(frequency="x"))
    # ... while integer columns and an id index are accepted
    ok = feats.assign(frequency=feats["frequency"].astype("int64")).set_index("customer_id")
    assert len(pyfunc.predict(ok)) == len(feats)


def test_artifact_error_is_not_a_tracking_error():
    assert not issubclass(ArtifactError, TrackingError)
