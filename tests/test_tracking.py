"""MLflow: log, register with an alias, load back through models:/...@champion."""

import json
import os

import pandas as pd
import pytest

import crmml
from crmml.tracking import data_fingerprint, log_scorer, resolve_tracking_uri


@pytest.fixture(scope="module")
def tracked(fitted_clv, b2c_world, tmp_path_factory):
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    # Artifacts of a new experiment go under the working directory's ./mlruns unless told otherwise.
    mlflow.create_experiment("crmml-clv", artifact_location=(root / "artifacts").as_uri())
    model, as_of = fitted_clv
    info = log_scorer(model, tables=b2c_world.tables, as_of=as_of, metrics={"holdout_purchases_ratio": 1.01},
                      exclusions=model.exclusions_, register=True, tracking_uri=uri)
    yield info, uri, root
    mlflow.set_tracking_uri(None)


def test_registered_champion_scores_identically(tracked, fitted_clv, b2c_world):
    info, uri, _ = tracked
    import mlflow

    mlflow.set_tracking_uri(uri)
    assert info.registry_uri == "models:/crmml-clv@champion" and info.version == "1"
    model, as_of = fitted_clv
    expected = model.score(b2c_world.tables, as_of)
    for uri in ("models:/crmml-clv@champion", "models:/crmml-clv/1", f"runs:/{info.run_id}/model"):
        loaded = crmml.load_scorer(uri, kind="clv")
        pd.testing.assert_frame_equal(loaded.score(b2c_world.tables, as_of), expected)


def test_pyfunc_predict_takes_the_feature_frame(tracked, fitted_clv, b2c_world):
    info, uri, _ = tracked
    import mlflow

    mlflow.set_tracking_uri(uri)
    model, as_of = fitted_clv
    feats = model.build_features(b2c_world.tables, as_of)
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    out = pyfunc.predict(feats.head(20))
    expected = model.predict_features(feats.head(20)).reset_index()
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected, check_dtype=False)
    sig = pyfunc.metadata.signature
    # No input schema: MLflow's own enforcement would echo the frame (ids included) in its errors;
    # crmml's wrapper enforces the feature schema, which the model's metadata records.
    assert sig.inputs is None
    assert sig.outputs.input_names() == list(model.output_schema())
    assert pyfunc.metadata.metadata["crmml"]["feature_schema"] == model.feature_schema()


def test_run_logs_fingerprint_card_and_no_personal_data(tracked, b2c_world):
    info, uri, root = tracked
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    run = client.get_run(info.run_id)
    assert run.data.params["horizon_days"] == "365"
    assert run.data.metrics["holdout_purchases_ratio"] == pytest.approx(1.01)
    local = client.download_artifacts(info.run_id, "", str(root / "dl"))
    fp = json.load(open(f"{local}/data/fingerprint.json"))
    tx = b2c_world.tables.transactions
    as_of = pd.Timestamp(fp["as_of"])
    # the fingerprint describes what the model saw: rows strictly before as_of
    assert fp["tables"]["transactions"]["rows"] == int((tx["ts"] < as_of).sum())
    assert fp["tables"]["transactions"]["rows_supplied"] == len(tx)
    assert pd.Timestamp(fp["tables"]["transactions"]["time_max"]) < as_of
    # event times are logged as days only: an exact timestamp can single out a customer
    for entry in fp["tables"].values():
        for key in ("time_min", "time_max"):
            if key in entry:
                assert len(entry[key]) == 10 and str(pd.Timestamp(entry[key]).date()) == entry[key], entry
    card = open(f"{local}/model_card.md").read()
    assert "## Intended use" in card and "## Limits" in card and "bgnbd.r" in card
    tx_line = next(line for line in card.splitlines() if line.startswith("| transactions |"))
    assert fp["tables"]["transactions"]["time_max"] in tx_line and ":" not in tx_line  # no time of day
    # No customer id appears anywhere in what was logged (only counts, ranges and hashes).
    ids = set(b2c_world.tables.customers["customer_id"].astype(str).head(200))
    import pathlib

    for f in pathlib.Path(local).rglob("*"):
        if f.is_file() and f.suffix in {".json", ".md", ".txt", ".yaml", ""}:
            text = f.read_text(errors="ignore")
            assert not any(i in text for i in ids), f


def test_fingerprint_ignores_rows_after_as_of(b2c_world):
    tx = b2c_world.tables.transactions
    future = tx.head(3).assign(transaction_id=["f1", "f2", "f3"], ts=pd.Timestamp("2030-01-01"))
    later = b2c_world.tables.replace(transactions=pd.concat([tx, future], ignore_index=True))
    a, b = data_fingerprint(b2c_world.tables, "2025-01-01"), data_fingerprint(later, "2025-01-01")
    assert a["tables"]["transactions"]["sha256"] == b["tables"]["transactions"]["sha256"]
    assert b["tables"]["transactions"]["rows_supplied"] == a["tables"]["transactions"]["rows_supplied"] + 3


def test_fingerprint_changes_with_content(b2c_world):
    a = data_fingerprint(b2c_world.tables, "2025-01-01")
    tx = b2c_world.tables.transactions.copy()
    tx.loc[tx.index[0], "amount"] += 1.0
    b = data_fingerprint(b2c_world.tables.replace(transactions=tx), "2025-01-01")
    assert a["tables"]["transactions"]["sha256"] != b["tables"]["transactions"]["sha256"]
    assert a["tables"]["customers"]["sha256"] == b["tables"]["customers"]["sha256"]


def test_tracking_uri_precedence(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/mlflow.db"  # sqlite:///mlflow.db, made absolute
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri() == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"


def test_relative_sqlite_store_follows_the_working_directory(monkeypatch, tmp_path):
    # MLflow caches one engine per URI string: a relative URI would stick to the first directory.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = resolve_tracking_uri("sqlite:///mlflow.db")
    monkeypatch.chdir(tmp_path / "b")
    assert resolve_tracking_uri("sqlite:///mlflow.db") != first
    assert resolve_tracking_uri("sqlite:///mlflow.db?timeout=5") == f"sqlite:///{tmp_path}/b/mlflow.db?timeout=5"


def test_logging_leaves_the_process_wide_tracking_uri_and_experiment_alone(tmp_path, monkeypatch):
    """A library call with tracking_uri=A must not make A the default of later calls in the same process."""
    import mlflow

    from crmml.clv import CLVModel
    from crmml.synthetic import make_b2c_world
    from crmml.tracking import log_scorer

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    mine = f"sqlite:///{tmp_path / 'mine.db'}"  # what a notebook user set before calling crmml
    # as mlflow.set_tracking_uri(mine) does, without the variable; monkeypatch puts the old value back
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", mine)
    w = make_b2c_world(300, seed=1)
    model = CLVModel().fit(w.tables, "2025-07-01")
    log_scorer(model, tables=w.tables, as_of="2025-07-01", tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_EXPERIMENT_ID" not in os.environ
    assert mlflow.get_tracking_uri() == mine
