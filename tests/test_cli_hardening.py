"""CLI hardening: an exit code for every fault, no tracebacks, paths checked before the work.

MLflow faults of the CLI (tracking URI, registry, server) are in test_tracking_hardening.py.
"""

import time
from pathlib import Path

import pandas as pd
import pytest

import crmml.cli as cli
from crmml.cli import (
    EXIT_ARTIFACT,
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARAM,
    EXIT_TRACKING,
    main,
)
from crmml.exceptions import (
    ArtifactError,
    ConvergenceError,
    DataContractError,
    IncompatibleArtifactError,
    MissingTableError,
    NotFittedError,
    OutputError,
    ParameterError,
    Problem,
    TamperedArtifactError,
    TrackingError,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_hardening") / "b2c"
    assert main(["synth", "b2c", "--customers", "300", "--seed", "5", "--out", str(out)]) == EXIT_OK
    return out


@pytest.fixture(scope="module")
def saved_model(world, tmp_path_factory):
    model = tmp_path_factory.mktemp("cli_hardening_model") / "model"
    rc = main(["train", "clv", "--data", str(world), "--as-of", "2025-12-01", "--no-mlflow", "--holdout-days", "0",
               "--save", str(model)])
    assert rc == EXIT_OK
    return model


# ------------------------------------------------------------------ exit codes
def test_help_documents_every_exit_code(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out and "--debug" in out
    for code in ("0", "1", "2", "3", "4", "5", "6", "130"):
        assert f"\n  {code} " in out, code
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "6 ", "130"):
        assert f"\n    {code}" in cli.__doc__, code


@pytest.mark.parametrize("exc, code", [
    (DataContractError([Problem("transactions", "amount", "number")]), EXIT_DATA),
    (MissingTableError([Problem("transactions", None, "needed")]), EXIT_DATA),
    (ArtifactError("no model"), EXIT_ARTIFACT),
    (IncompatibleArtifactError("format 9"), EXIT_ARTIFACT),
    (TamperedArtifactError("checksum"), EXIT_ARTIFACT),
    (NotFittedError("CLVModel"), EXIT_ARTIFACT),
    (ParameterError("The 'x' parameter"), EXIT_PARAM),
    (OutputError("--out 'x' is a folder"), EXIT_PARAM),
    (TrackingError("server down"), EXIT_TRACKING),
    (ConvergenceError("did not converge"), EXIT_ERROR),
])
def test_each_crmml_error_has_its_exit_code(monkeypatch, capsys, exc, code):
    def boom(a):
        raise exc

    monkeypatch.setattr(cli._main, "_cmd_features", boom)
    assert main(["features", "--data", "x"]) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_missing_data_folder_exits_3_not_4(tmp_path, capsys):
    rc = main(["features", "--data", str(tmp_path / "nope")])
    assert rc == EXIT_DATA
    err = capsys.readouterr().err
    assert "--data" in err and "does not exist" in err and "Traceback" not in err


def test_missing_model_folder_still_exits_4(world, tmp_path, capsys):
    rc = main(["score", "clv", "--model", str(tmp_path / "no-model"), "--data", str(world)])
    assert rc == EXIT_ARTIFACT
    assert "No model at" in capsys.readouterr().err


def test_unparseable_as_of_exits_5_before_reading_data(world, capsys):
    rc = main(["features", "--data", str(world), "--as-of", "31/31/2025"])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "'--as-of'" in err and "31/31/2025" in err
    assert "loading tables" not in err and "Traceback" not in err


# ------------------------------------------------------- no Python tracebacks
def test_unexpected_exception_is_one_line_exit_1(monkeypatch, capsys):
    def boom(a):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli._main, "_cmd_features", boom)
    assert main(["features", "--data", "x"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.strip() == "internal error: RuntimeError: boom — rerun with --debug and report it"


@pytest.mark.parametrize("argv", [["--debug", "features", "--data", "x"], ["features", "--data", "x", "--debug"]])
def test_debug_lets_the_unexpected_exception_propagate(monkeypatch, argv):
    def boom(a):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli._main, "_cmd_features", boom)
    with pytest.raises(RuntimeError, match="boom"):
        main(argv)


def test_debug_prints_the_traceback_of_a_crmml_error(monkeypatch, capsys):
    def boom(a):
        raise ParameterError("The 'x' parameter must be > 0. Got -1 instead.")

    monkeypatch.setattr(cli._main, "_cmd_features", boom)
    assert main(["--debug", "features", "--data", "x"]) == EXIT_PARAM
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "error: The 'x' parameter" in err


def test_os_error_is_one_clear_line_exit_1(monkeypatch, capsys):
    def boom(a):
        raise OSError(28, "No space left on device", "/data/scores.parquet")

    monkeypatch.setattr(cli._main, "_cmd_features", boom)
    assert main(["features", "--data", "x"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err and "internal error" not in err


def test_ctrl_c_exits_130(monkeypatch, capsys):
    def interrupted(a):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._main, "_cmd_features", interrupted)
    assert main(["features", "--data", "x"]) == EXIT_INTERRUPTED == 130
    assert "interrupted" in capsys.readouterr().err


# -------------------------------------------------------------- numeric options
@pytest.mark.parametrize("argv, option", [
    (["train", "clv", "--data", "x", "--holdout-days", "nan"], "--holdout-days"),
    (["train", "clv", "--data", "x", "--holdout-days", "-30"], "--holdout-days"),
    (["train", "clv", "--data", "x", "--horizon-days", "inf"], "--horizon-days"),
    (["train", "clv", "--data", "x", "--horizon-days", "0"], "--horizon-days"),
    (["train", "clv", "--data", "x", "--discount-rate", "-0.1"], "--discount-rate"),
    (["train", "clv", "--data", "x", "--discount-rate", "NaN"], "--discount-rate"),
    (["score", "clv", "--model", "m", "--data", "x", "--top", "-1"], "--top"),
    (["synth", "b2c", "--out", "x", "--customers", "0"], "--customers"),
    (["synth", "b2c", "--out", "x", "--customers", "1e3"], "--customers"),
    (["synth", "b2c", "--out", "x", "--seed", "-1"], "--seed"),
    (["synth", "b2b", "--out", "x", "--accounts", "-3"], "--accounts"),
    (["demo", "--customers", "nan"], "--customers"),
    (["demo", "--holdout-days=-inf"], "--holdout-days"),
])
def test_bad_numbers_are_usage_errors_naming_the_option(capsys, argv, option):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be" in err and "Traceback" not in err


def test_register_with_no_mlflow_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "clv", "--data", "x", "--no-mlflow", "--register"])
    assert e.value.code == 2
    assert "--register needs MLflow" in capsys.readouterr().err


# --------------------------------------------- output paths, checked up front
def test_score_out_is_a_folder_exits_5_before_scoring(world, saved_model, tmp_path, capsys):
    rc = main(["score", "clv", "--model", str(saved_model), "--data", str(world), "--as-of", "2025-12-01",
               "--out", str(tmp_path)])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert f"--out {str(tmp_path)!r} is a folder; expected a file path" in err
    assert "loading model" not in err and "scoring as of" not in err


def test_score_out_under_a_file_exits_5_before_scoring(world, saved_model, tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    rc = main(["score", "clv", "--model", str(saved_model), "--data", str(world), "--as-of", "2025-12-01",
               "--out", str(blocker / "scores.parquet")])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "cannot be created" in err and "is a file, not a folder" in err and "scoring as of" not in err


def test_features_out_is_a_file_exits_5(world, tmp_path, capsys):
    target = tmp_path / "features.parquet"
    target.write_text("x")
    rc = main(["features", "--data", str(world), "--as-of", "2025-12-01", "--out", str(target)])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "--out" in err and "is a file; expected a folder" in err and "loading tables" not in err


def test_plots_dir_is_a_file_exits_5_before_training(world, tmp_path, capsys):
    target = tmp_path / "plots"
    target.write_text("x")
    rc = main(["train", "clv", "--data", str(world), "--no-mlflow", "--plots-dir", str(target)])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "--plots-dir" in err and "loading tables" not in err


def test_save_into_a_foreign_folder_exits_5_before_training(world, tmp_path, capsys):
    foreign = tmp_path / "reports"
    foreign.mkdir()
    (foreign / "q3.xlsx").write_text("x")
    rc = main(["train", "clv", "--data", str(world), "--no-mlflow", "--save", str(foreign)])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "--save" in err and "not a crmml model artifact" in err and "q3.xlsx" in err
    assert "loading tables" not in err
    assert [p.name for p in foreign.iterdir()] == ["q3.xlsx"]


def test_save_replaces_a_previous_artifact(world, saved_model, capsys):
    rc = main(["train", "clv", "--data", str(world), "--as-of", "2025-12-01", "--no-mlflow", "--holdout-days", "0",
               "--save", str(saved_model)])
    assert rc == EXIT_OK


# ------------------------------------------------------------- synth --force
def _customers(folder: Path) -> int:
    return len(pd.read_parquet(folder / "customers.parquet"))


def test_synth_refuses_to_overwrite_an_export_without_force(tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["synth", "b2c", "--customers", "60", "--out", str(out)]) == EXIT_OK
    rc = main(["synth", "b2c", "--customers", "10", "--out", str(out)])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert f"--out {str(out)!r} is not empty" in err and "--force" in err
    assert _customers(out) == 60  # untouched


def test_synth_force_replaces_only_what_synth_wrote(tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["synth", "b2b", "--accounts", "20", "--out", str(out)]) == EXIT_OK
    assert (out / "leads.parquet").exists()
    assert main(["synth", "b2c", "--customers", "10", "--out", str(out), "--force"]) == EXIT_OK
    assert _customers(out) == 10
    assert not (out / "leads.parquet").exists()  # no stale table of the old world mixed into the new one
    assert main(["synth", "b2c", "--customers", "12", "--out", str(out), "--force", "--stream"]) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["_truth", "customers", "interactions", "transactions"]


def test_synth_force_refuses_a_folder_with_other_files(tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["synth", "b2c", "--customers", "30", "--out", str(out)]) == EXIT_OK
    (out / "README.txt").write_text("our real export, do not delete")
    rc = main(["synth", "b2c", "--customers", "10", "--out", str(out), "--force"])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "README.txt" in err and "not even with --force" in err
    assert _customers(out) == 30 and (out / "README.txt").read_text().startswith("our real export")


def test_synth_out_is_a_file_exits_5(tmp_path, capsys):
    target = tmp_path / "world"
    target.write_text("x")
    assert main(["synth", "b2c", "--customers", "10", "--out", str(target), "--force"]) == EXIT_PARAM
    assert "is a file; expected a folder" in capsys.readouterr().err


# ------------------------------------------------------------- default as_of
def test_one_transaction_in_2205_does_not_move_the_default_as_of(tmp_path, capsys):
    world = tmp_path / "b2c"
    assert main(["synth", "b2c", "--customers", "300", "--out", str(world)]) == EXIT_OK
    tx = pd.read_parquet(world / "transactions.parquet")
    expected = (tx["ts"].max() + pd.Timedelta(days=1)).normalize()
    typo = tx.iloc[[0]].assign(transaction_id="T-TYPO-2205", ts=pd.Timestamp("2205-01-01 10:00"))
    pd.concat([tx, typo], ignore_index=True).to_parquet(world / "transactions.parquet", index=False)
    capsys.readouterr()

    model = tmp_path / "model"
    assert main(["train", "clv", "--data", str(world), "--no-mlflow", "--holdout-days", "0",
                 "--save", str(model)]) == EXIT_OK
    err = capsys.readouterr().err
    assert f"as_of: {expected.date()} (default: the day after the latest event; pass --as-of to choose)" in err
    assert f"fitting the CLV model as of {expected.date()}" in err

    scores = tmp_path / "scores.parquet"
    assert main(["score", "clv", "--model", str(model), "--data", str(world), "--out", str(scores)]) == EXIT_OK
    err = capsys.readouterr().err
    assert f"as_of: {expected.date()} (default" in err
    assert f"scoring as of {expected.date()}" in err
    assert "as of 2205" not in err and "as_of: 2205" not in err and "2205-01-02" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert "transactions: 1 row(s) excluded — dated after now" in warnings[0] and "T-TYPO-2205" in warnings[0]
    assert len(pd.read_parquet(scores)) > 0


# ---------------------------------------------------------------------- demo
@pytest.mark.slow
def test_demo_runs_twice_in_the_same_workdir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    work = tmp_path / "demo"
    for version in (1, 2):
        t0 = time.perf_counter()
        rc = main(["demo", "--customers", "400", "--accounts", "2000", "--workdir", str(work), "--top", "3"])
        assert rc == EXIT_OK, capsys.readouterr().err
        out = capsys.readouterr().out
        assert f"registered crmml-clv version {version} as models:/crmml-clv@champion" in out
        assert f"registered crmml-churn version {version} as models:/crmml-churn@champion" in out
        assert f"registered crmml-churn-b2b version {version} as models:/crmml-churn-b2b@champion" in out
        assert time.perf_counter() - t0 < 120
    assert _customers(work / "b2c") == 400
    assert (work / "clv_scores.parquet").exists()
    assert pd.read_parquet(work / "churn_scores.parquet").index.is_unique


@pytest.mark.parametrize("world", ["b2c", "b2b"])
def test_demo_refuses_a_foreign_data_folder(tmp_path, monkeypatch, capsys, world):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "demo" / world
    data.mkdir(parents=True)
    (data / "customers.csv").write_text("customer_id,signup_at\nreal-customer,2024-01-01\n")
    rc = main(["demo", "--customers", "100", "--workdir", str(tmp_path / "demo")])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "customers.csv" in err and "--workdir" in err and "generating" not in err
    assert (data / "customers.csv").exists()
    assert not (tmp_path / "mlflow.db").exists()
