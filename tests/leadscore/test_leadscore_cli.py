"""The lead-scoring CLI: ``crmml train leadscore``, ``crmml score`` on a lead model, ``crmml leads daily``."""

from __future__ import annotations

import pandas as pd
import pytest

import crmml
from crmml.cli import EXIT_ARTIFACT, EXIT_DATA, EXIT_OK, EXIT_PARAM, EXIT_USAGE, main
from crmml.data import load_tables
from crmml.leadscore import LeadScoreModel, daily_list

from .conftest import AS_OF

DAY = "2025-07-01"


@pytest.fixture(scope="module")
def data_dir(lead_world, tmp_path_factory):
    from crmml.synthetic import write_world

    out = tmp_path_factory.mktemp("leads_cli") / "b2b"
    write_world(lead_world, out)
    return out


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory):
    """One ``crmml train leadscore --save`` for the module (one thread: fast and steady)."""
    out = tmp_path_factory.mktemp("leads_model") / "model"
    rc = main(["train", "leadscore", "--data", str(data_dir), "--as-of", DAY, "--no-mlflow", "--num-threads", "1",
               "--horizon-days", "90", "--n-cutoffs", "4", "--grade-cuts", "80,60,30", "--save", str(out)])
    assert rc == EXIT_OK
    return out


@pytest.fixture(scope="module")
def want(model_dir, data_dir):
    """The library's list for the CLI's model and tables."""
    return daily_list(crmml.load_scorer(model_dir), load_tables(data_dir), AS_OF)


def _daily(model_dir, data_dir, *extra):
    return main(["leads", "daily", "--model", str(model_dir), "--data", str(data_dir), "--as-of", DAY, *extra])


def test_train_leadscore_saves_a_lead_model_with_the_options(model_dir):
    m = crmml.load_scorer(model_dir)
    assert isinstance(m, LeadScoreModel) and m.kind == "leadscore"
    assert (m.grade_a, m.grade_b, m.grade_c) == (80, 60, 30)
    assert m.horizon_days == 90 and m.n_cutoffs == 4 and m.num_threads == 1 and m.as_of_ == AS_OF


@pytest.mark.parametrize("cuts", ["75,50", "50,60,30", "75,50,x", "100,50,25"])
def test_bad_grade_cuts_are_usage_errors(data_dir, cuts, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "leadscore", "--data", str(data_dir), "--no-mlflow", "--grade-cuts", cuts])
    assert exc.value.code == EXIT_USAGE and "--grade-cuts" in capsys.readouterr().err


def test_allow_column_without_static_column_is_refused(data_dir, capsys):
    rc = main(["train", "leadscore", "--data", str(data_dir), "--no-mlflow", "--allow-column", "budget"])
    assert rc == EXIT_PARAM
    err = capsys.readouterr().err
    assert "not in 'static_columns': ['budget']" in err and "Traceback" not in err


def test_score_prints_the_lead_summary(model_dir, data_dir, capsys):
    rc = main(["score", "--model", str(model_dir), "--data", str(data_dir), "--as-of", DAY, "--top", "3"])
    assert rc == EXIT_OK
    captured = capsys.readouterr()
    assert "a 'leadscore' model" in captured.err
    out = captured.out
    assert "Grades (" in out and "mean conversion probability" in out and "Top 3 leads by score:" in out
    scores = crmml.load_scorer(model_dir).score(load_tables(data_dir), AS_OF)
    n_a = int((scores["grade"].astype(str) == "A").sum())
    assert f"  A  {n_a:>9,}" in out
    best = scores.sort_values(["score", "conversion_probability"], ascending=False, kind="stable").index[:3]
    lines = out.split("Top 3 leads by score:")[1].strip().splitlines()
    assert [ln.split()[0] for ln in lines[2:5]] == list(best)
    assert "reason_1" in lines[0] and "follow_up" in lines[0]


def test_daily_writes_csv_matching_the_library(model_dir, data_dir, want, tmp_path, capsys):
    out = tmp_path / "today.csv"
    assert _daily(model_dir, data_dir, "--out", str(out)) == EXIT_OK
    got = pd.read_csv(out, dtype={"lead_id": str})
    w = want.frame
    assert list(got.columns) == list(w.columns) and len(got) == want.n_scored
    for c in w.columns:
        exp = w[c].astype(str) if isinstance(w[c].dtype, pd.CategoricalDtype) else w[c]
        exp = exp.astype("float64") if c == "previous_score" else exp
        pd.testing.assert_series_equal(got[c], exp, check_dtype=False, check_names=False)
    assert [p.name for p in tmp_path.iterdir()] == ["today.csv"]  # no temporary file left behind
    printed = capsys.readouterr().out
    assert f"{want.n_scored:,} open leads scored (compared with the scores as of 2025-06-30)" in printed
    assert f"New A-leads since yesterday: {want.n_new_a:,}" in printed
    assert "Top 20 leads:" in printed and w["lead_id"].iloc[0] in printed


def test_daily_writes_parquet_top_n_matching_the_library(model_dir, data_dir, want, tmp_path, capsys):
    out = tmp_path / "today.parquet"
    out.write_bytes(b"an older list")  # replaced
    assert _daily(model_dir, data_dir, "--out", str(out), "--top", "7") == EXIT_OK
    pd.testing.assert_frame_equal(pd.read_parquet(out), want.frame.head(7))
    assert "Top 7 leads:" in capsys.readouterr().out


def test_daily_with_a_previous_file(model_dir, data_dir, tmp_path, capsys):
    model, tables = crmml.load_scorer(model_dir), load_tables(data_dir)
    before = daily_list(model, tables, "2025-06-20").frame
    before.to_csv(tmp_path / "before.csv", index=False)
    out = tmp_path / "today.parquet"
    assert _daily(model_dir, data_dir, "--previous", str(tmp_path / "before.csv"), "--out", str(out)) == EXIT_OK
    lib = daily_list(model, tables, AS_OF, previous=before)
    pd.testing.assert_frame_equal(pd.read_parquet(out), lib.frame)
    printed = capsys.readouterr().out
    assert "compared with --previous" in printed and f"New A-leads since the previous list: {lib.n_new_a:,}" in printed


@pytest.mark.parametrize("name", ["today.txt", "today"])
def test_daily_refuses_an_unknown_out_type(model_dir, data_dir, tmp_path, capsys, name):
    assert _daily(model_dir, data_dir, "--out", str(tmp_path / name)) == EXIT_PARAM
    err = capsys.readouterr().err
    assert "expected a .csv or .parquet file" in err and "Traceback" not in err and "loading model" not in err
    assert not any(tmp_path.iterdir())


def test_daily_refuses_a_model_of_another_kind(data_dir, tmp_path, capsys):
    from crmml.churn import ChurnModel
    from crmml.synthetic import make_b2c_world

    b2c = make_b2c_world(600, seed=4)
    ChurnModel(num_threads=1, active_within_days=365).fit(b2c.tables, AS_OF).save(tmp_path / "churn")
    assert _daily(tmp_path / "churn", data_dir) == EXIT_ARTIFACT
    err = capsys.readouterr().err
    assert f"error: --model {str(tmp_path / 'churn')!r} holds a 'churn' model, not a 'leadscore' model" in err
    assert "Traceback" not in err and "scoring the open leads" not in err


@pytest.mark.parametrize("case, code, message", [
    ("no model", EXIT_ARTIFACT, "No model at"),
    ("no data", EXIT_DATA, "does not exist; expected a folder of contract table files"),
    ("out under a file", EXIT_PARAM, "cannot be created"),
    ("out is a folder", EXIT_PARAM, "is a folder; expected a file path"),
    ("no previous", EXIT_PARAM, "--previous"),
    ("bad as-of", EXIT_PARAM, "as-of"),
])
def test_daily_bad_input_is_one_message_and_an_exit_code(model_dir, data_dir, tmp_path, capsys, case, code, message):
    (tmp_path / "file").write_text("x")
    args = {"no model": ["--model", str(tmp_path / "nope"), "--data", str(data_dir)],
            "no data": ["--model", str(model_dir), "--data", str(tmp_path / "nope")],
            "out under a file": ["--model", str(model_dir), "--data", str(data_dir),
                                 "--out", str(tmp_path / "file" / "x.csv")],
            "out is a folder": ["--model", str(model_dir), "--data", str(data_dir), "--out", str(tmp_path)],
            "no previous": ["--model", str(model_dir), "--data", str(data_dir),
                            "--previous", str(tmp_path / "nope.csv")],
            "bad as-of": ["--model", str(model_dir), "--data", str(data_dir), "--as-of", "31/31/2025"]}[case]
    assert main(["leads", "daily", *args]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.startswith("error:")] and "internal error" not in err


def test_daily_refuses_a_previous_file_without_scores(model_dir, data_dir, tmp_path, capsys):
    pd.DataFrame({"lead_id": ["L1"], "grade": ["A"]}).to_csv(tmp_path / "prev.csv", index=False)
    assert _daily(model_dir, data_dir, "--previous", str(tmp_path / "prev.csv")) == EXIT_PARAM
    assert "has no 'score' column" in capsys.readouterr().err


def test_train_leadscore_learner_option_forces_the_cold_start_model(data_dir, tmp_path, capsys):
    from crmml.leadscore import LeadScoreModel

    out = tmp_path / "cold"
    rc = main(["train", "leadscore", "--data", str(data_dir), "--as-of", DAY, "--no-mlflow", "--num-threads", "1",
               "--learner", "linear", "--save", str(out)])
    assert rc == EXIT_OK
    model = LeadScoreModel.load(out)
    assert model.learner == "linear" and model.model_type_ == "cold_start"
    assert model.selection_["rule"] == "learner='linear' (forced)"
