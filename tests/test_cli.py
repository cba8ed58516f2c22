"""The crmml command line: synth → train → score, exit codes, the demo."""

from pathlib import Path

import pandas as pd
import pytest

from crmml.cli import EXIT_ARTIFACT, EXIT_DATA, EXIT_OK, EXIT_PARAM, main


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "b2c"
    assert main(["synth", "b2c", "--customers", "800", "--seed", "3", "--out", str(out)]) == EXIT_OK
    return out


def test_train_save_and_score_writes_parquet(world_dir, tmp_path, capsys):
    model_dir = tmp_path / "model"
    rc = main(["train", "clv", "--data", str(world_dir), "--as-of", "2025-12-01", "--no-mlflow",
               "--holdout-days", "120", "--save", str(model_dir)])
    assert rc == EXIT_OK
    err = capsys.readouterr().err
    assert "predicted/actual holdout purchases" in err and "bgnbd.r" in err
    out = tmp_path / "scores.parquet"
    rc = main(["score", "clv", "--model", str(model_dir), "--data", str(world_dir), "--as-of", "2025-12-01",
               "--out", str(out), "--top", "3"])
    assert rc == EXIT_OK
    printed = capsys.readouterr().out
    assert "Segments:" in printed and "Top 3 customers by CLV" in printed
    scores = pd.read_parquet(out)
    assert scores.index.name == "customer_id" and len(scores) > 500
    assert not list(tmp_path.glob(".scores.parquet.*"))  # no temporary file left behind


def test_bad_data_exits_3_with_the_table_named(tmp_path, capsys):
    d = tmp_path / "bad"
    d.mkdir()
    pd.DataFrame({"transaction_id": ["t1"], "customer_id": ["c1"], "ts": ["2024-01-01"], "amount": ["abc"]}) \
        .to_csv(d / "transactions.csv", index=False)
    rc = main(["train", "clv", "--data", str(d), "--no-mlflow", "--holdout-days", "0"])
    assert rc == EXIT_DATA
    assert "transactions.amount" in capsys.readouterr().err


def test_missing_model_exits_4(world_dir, tmp_path, capsys):
    rc = main(["score", "clv", "--model", str(tmp_path / "nothing"), "--data", str(world_dir)])
    assert rc == EXIT_ARTIFACT
    assert "No model at" in capsys.readouterr().err


def test_bad_parameter_exits_5(world_dir, capsys):
    rc = main(["train", "clv", "--data", str(world_dir), "--no-mlflow", "--holdout-days", "0",
               "--as-of", "31/31/2025"])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "The '--as-of' parameter" in err and "'31/31/2025'" in err
    assert "loading tables" not in err  # checked before any data is read


def test_negative_horizon_is_a_usage_error_naming_the_option(world_dir, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "clv", "--data", str(world_dir), "--no-mlflow", "--horizon-days", "-5"])
    assert e.value.code == 2
    assert "argument --horizon-days: must be a number > 0, got '-5'" in capsys.readouterr().err


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as e:
        main(["train", "nonsense"])
    assert e.value.code == 2


@pytest.mark.slow
def test_demo_trains_registers_and_scores(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rc = main(["demo", "--customers", "1500", "--workdir", str(tmp_path / "demo"), "--top", "5"])
    assert rc == EXIT_OK
    out = capsys.readouterr().out
    assert "registered crmml-clv version 1 as models:/crmml-clv@champion" in out
    for seg in ("Champions", "Loyal", "Potential", "At risk"):
        assert seg in out
    assert (tmp_path / "mlflow.db").exists()  # the local embedded store
    assert (tmp_path / "demo" / "clv_scores.parquet").exists()
    assert sorted(p.name for p in (tmp_path / "demo" / "plots").glob("*.png")) == [
        "calibration_by_frequency.png", "cumulative_tracking.png", "probability_alive_matrix.png"]


def test_features_command_builds_every_builder_and_writes_parquet(tmp_path, capsys):
    data = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "b2b"
    rc = main(["features", "--data", str(data), "--as-of", "2025-07-01", "--out", str(tmp_path)])
    assert rc == EXIT_OK
    printed = capsys.readouterr().out
    for name in ("customer_features", "lead_features", "opportunity_features"):
        assert f"{name}: " in printed
        frame = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert len(frame) > 0 and frame.index.is_unique


def test_no_event_table_and_no_as_of_exits_3(tmp_path, capsys):
    d = tmp_path / "only_customers"
    d.mkdir()
    (d / "customers.csv").write_text("customer_id,signup_at\na,2024-01-01\n")
    rc = main(["train", "clv", "--data", str(d), "--no-mlflow"])
    assert rc == EXIT_DATA
    err = capsys.readouterr().err
    assert "choosing the default as_of" in err and "--as-of" in err
