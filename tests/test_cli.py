"""The crmml command line: synth → train → score, exit codes, the demo, kinds read from the model."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import crmml
from crmml.churn import ChurnModel
from crmml.cli import EXIT_ARTIFACT, EXIT_DATA, EXIT_OK, EXIT_PARAM, main
from crmml.clv import CLVModel
from crmml.features import churn_population


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
    work = tmp_path / "demo"
    rc = main(["demo", "--customers", "1500", "--accounts", "2500", "--workdir", str(work), "--top", "5"])
    assert rc == EXIT_OK
    captured = capsys.readouterr()
    out = captured.out
    assert "registered crmml-clv version 1 as models:/crmml-clv@champion" in out
    for seg in ("Champions", "Loyal", "Potential", "At risk"):
        assert seg in out
    assert (tmp_path / "mlflow.db").exists()  # the local embedded store
    assert (work / "clv_scores.parquet").exists()
    assert sorted(p.name for p in (work / "plots").glob("*.png")) == [
        "calibration_by_frequency.png", "cumulative_tracking.png", "probability_alive_matrix.png"]

    # churn: trained, registered, loaded back through the registry, every customer of the population scored
    assert "registered crmml-churn version 1 as models:/crmml-churn@champion" in out
    churn_out = out[out.index("B2C churn risk tiers"):out.index("B2B churn risk tiers")]
    for tier, action in (("high", "alert_account_manager"), ("medium", "retention_offer"), ("low", "none")):
        assert re.search(rf"^  {tier} +[\d,]+  \( *[\d.]+%\)  action {action} +revenue at risk +[\d,]+$",
                         churn_out, re.MULTILINE), f"no {tier} tier line in:\n{churn_out}"
    assert sorted(p.name for p in (work / "plots" / "churn").glob("*.png")) == [
        "calibration_curve.png", "gain_chart.png", "reason_frequencies.png"]

    scores = pd.read_parquet(work / "churn_scores.parquet")
    tables = crmml.load_tables(work / "b2c")
    as_of = pd.Timestamp("2025-12-31")  # the end of the sample world: the demo's as_of
    population = churn_population(tables, as_of, "noncontractual")
    assert scores.index.name == "customer_id" and scores.index.is_unique
    assert sorted(scores.index) == sorted(population.astype(str)) and len(scores) > 1000
    assert list(scores.columns) == [c for c in ChurnModel().output_schema() if c != "customer_id"]
    assert scores["churn_probability"].between(0, 1).all() and (scores["revenue_at_risk"] >= 0).all()
    tier_line = re.compile(r"^  (high|medium|low) +([\d,]+) ", re.MULTILINE)
    printed = {t: int(k.replace(",", "")) for t, k in tier_line.findall(churn_out)}
    assert printed == scores["risk_tier"].astype(str).value_counts().reindex(["high", "medium", "low"],
                                                                              fill_value=0).to_dict()

    # the top at-risk table: the 5 highest revenue at risk, ids only (pseudonymous), with probability and reason
    top = out[out.index("Top 5 at-risk customers by revenue at risk:"):].splitlines()
    assert top[1].split() == ["churn_probability", "risk_tier", "action", "revenue_at_risk", "reason_1"]
    assert top[2].split() == ["customer_id"]
    rows = top[3:8]
    expected = scores.sort_values("revenue_at_risk", ascending=False, kind="stable").head(5)
    for r, (cid, e) in zip(rows, expected.iterrows(), strict=True):
        assert r.split()[0] == cid  # the pseudonymous id, nothing else about the customer
        assert f"{e.churn_probability:.3f}" in r and e.action in r
        assert (e.reason_1 if pd.notna(e.reason_1) else "NaN") in r

    loaded = crmml.load_scorer("models:/crmml-churn@champion", kind="churn",
                               tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert loaded.business == "noncontractual" and loaded.horizon_days == 90
    again = loaded.score(tables, as_of)
    pd.testing.assert_series_equal(again["churn_probability"], scores["churn_probability"], check_exact=False)

    # B2B churn (non-renewal) on the generated B2B world, registered under its own name
    assert "registered crmml-churn-b2b version 1 as models:/crmml-churn-b2b@champion" in out
    b2b_out = out[out.index("B2B churn risk tiers (every contract ends without renewal in the next 90 days):"):]
    b2b_scores = pd.read_parquet(work / "churn_b2b_scores.parquet")
    printed = {t: int(k.replace(",", "")) for t, k in tier_line.findall(b2b_out)}
    assert printed == b2b_scores["risk_tier"].astype(str).value_counts().reindex(["high", "medium", "low"],
                                                                                  fill_value=0).to_dict()
    assert "Top 5 at-risk accounts by revenue at risk:" in b2b_out
    b2b_as_of = re.search(r"scoring contractual churn risk as of (\S+)", captured.err + out).group(1)
    b2b_tables = crmml.load_tables(work / "b2b")
    assert sorted(b2b_scores.index) == sorted(churn_population(b2b_tables, b2b_as_of, "contractual").astype(str))
    b2b = crmml.load_scorer("models:/crmml-churn-b2b@champion", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert b2b.business == "contractual"
    pd.testing.assert_frame_equal(b2b.score(b2b_tables, b2b_as_of), b2b_scores, check_exact=False)

    # lead scoring on the same B2B world: registered, today's list written and its top 10 printed
    assert "registered crmml-leadscore version 1 as models:/crmml-leadscore@champion" in out
    leads_out = out[out.index("Daily lead list as of"):]
    assert "Top 10 leads:" in leads_out
    daily = pd.read_csv(work / "leads_today.csv")
    lead_model = crmml.load_scorer("models:/crmml-leadscore@champion",
                                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(daily) == len(lead_model.score(b2b_tables, b2b_as_of)) and list(daily["rank"][:3]) == [1, 2, 3]
    top10 = leads_out[leads_out.index("Top 10 leads:"):].splitlines()[2:12]
    assert [r.split()[1] for r in top10] == list(daily["lead_id"][:10])
    assert sorted(p.name for p in (work / "plots" / "leadscore").glob("*.png")) == [
        "calibration_curve.png", "conversion_by_grade.png", "gain_chart.png", "reason_frequencies.png"]

    # the nightly batch over both worlds through the champions: scores, customer view, lead list, forecast
    assert "Nightly batch (crmml batch run) through the registered champions:" in out
    b2c_run = (work / "batch" / "b2c" / "current").resolve()
    for f in ("manifest.json", "drift.md", "drift.png", "_SUCCESS"):
        assert (b2c_run / f).is_file(), f
    view = pd.concat(pd.read_parquet(p) for p in sorted(b2c_run.glob("customer_view/as_of=*/part-*.parquet")))
    assert set(view["customer_id"]) >= set(scores.index)
    b2b_run = (work / "batch" / "b2b" / "current").resolve()
    tops = {p.name.split("=")[-1] if p.name.startswith("model=") else p.name for p in b2b_run.iterdir()
            if p.is_dir()}
    assert tops >= {"churn", "leads", "lead_list", "customer_view"}
    manifest = json.loads((b2b_run / "manifest.json").read_text())
    assert manifest["models"]["leads"]["uri"] == "models:/crmml-leadscore@champion"
    assert manifest["models"]["leads"]["registry_version"] == "1"


@pytest.mark.slow
def test_demo_skips_churn_when_the_sample_world_is_too_small(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    work = tmp_path / "demo"
    work.mkdir()
    (work / "churn_scores.parquet").write_bytes(b"a previous demo's churn scores")
    rc = main(["demo", "--customers", "100", "--accounts", "60", "--workdir", str(work), "--top", "3"])
    assert rc == EXIT_OK
    captured = capsys.readouterr()
    assert "registered crmml-clv version 1" in captured.out and "Segments:" in captured.out
    assert captured.out.count("Churn: skipped") == 2 and "crmml-churn" not in captured.out
    assert "Fix: run the demo with more --accounts" in captured.err
    assert "warning: churn skipped: the sample world is too small" in captured.err
    assert "Fix: run the demo with more --customers" in captured.err
    assert (work / "clv_scores.parquet").exists()
    assert not (work / "churn_scores.parquet").exists()  # no scores of another world left behind


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


# ------------------------------------------------- kinds: read from the model, one registry entry per kind
class FakeModel(CLVModel):
    """A second model kind for the CLI: CLV's code under another kind, without plots or a holdout check."""

    kind = "fake"
    display_name = "fake"
    evaluate_holdout = None  # no holdout hook: training skips the check
    as_of_sources = None  # no hook: the default as_of comes from every table


@pytest.fixture
def fake_kind(monkeypatch):
    """Register ``fake`` for loading (crmml.scoring.KINDS) and for the CLI (a train option, a score summary)."""
    import argparse

    from crmml.cli import _kinds
    from crmml.scoring import KINDS

    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--fake-horizon", type=float, default=30.0)

    def printer(scores, top):
        print(f"fake summary of {len(scores):,} customers, top {top}")

    monkeypatch.setitem(KINDS, "fake", (__name__, "FakeModel"))
    monkeypatch.setitem(_kinds.CLI_KINDS, "fake", _kinds.KindCLI(
        "a fake kind", options, lambda a: {"horizon_days": a.fake_horizon}, printer))
    return "fake"


@pytest.fixture(scope="module")
def clv_model_dir(world_dir, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("cli_kinds") / "clv"
    assert main(["train", "clv", "--data", str(world_dir), "--as-of", "2025-12-01", "--no-mlflow",
                 "--holdout-days", "0", "--save", str(model_dir)]) == EXIT_OK
    return model_dir


def test_score_without_a_kind_reads_it_from_the_model(world_dir, clv_model_dir, capsys):
    rc = main(["score", "--model", str(clv_model_dir), "--data", str(world_dir), "--as-of", "2025-12-01",
               "--top", "2"])
    assert rc == EXIT_OK
    captured = capsys.readouterr()
    assert "a 'clv' model" in captured.err
    assert "Segments:" in captured.out and "Top 2 customers by CLV" in captured.out


def test_a_new_kind_trains_and_scores_through_its_registry_entry(fake_kind, world_dir, tmp_path, capsys):
    model_dir = tmp_path / "fake"
    rc = main(["train", "fake", "--data", str(world_dir), "--as-of", "2025-12-01", "--no-mlflow",
               "--fake-horizon", "45", "--plots-dir", str(tmp_path / "plots"), "--save", str(model_dir)])
    assert rc == EXIT_OK, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "fitting the fake model as of 2025-12-01" in err and "holdout check" not in err
    assert not (tmp_path / "plots").exists()  # no plot function registered for the kind
    assert crmml.load_scorer(model_dir).horizon_days == 45

    rc = main(["score", "--model", str(model_dir), "--data", str(world_dir), "--top", "4"])
    assert rc == EXIT_OK
    captured = capsys.readouterr()
    assert "a 'fake' model" in captured.err and "fake summary of " in captured.out and "top 4" in captured.out
    assert "(default: the day after the latest event" in captured.err


def test_score_clv_refuses_a_model_of_another_kind(fake_kind, world_dir, clv_model_dir, tmp_path, capsys):
    fake = FakeModel.from_dict({**CLVModel.load(clv_model_dir).to_dict(), "model": "FakeModel"})
    fake.save(tmp_path / "fake")
    rc = main(["score", "clv", "--model", str(tmp_path / "fake"), "--data", str(world_dir), "--as-of", "2025-12-01"])
    assert rc == EXIT_ARTIFACT
    err = capsys.readouterr().err
    assert f"error: --model {str(tmp_path / 'fake')!r} holds a 'fake' model, not a 'clv' model." in err
    assert "crmml score fake --model" in err and "scoring as of" not in err


def test_a_kind_unknown_to_the_cli_is_scored_with_its_first_rows(fake_kind, world_dir, clv_model_dir, tmp_path,
                                                                  monkeypatch, capsys):
    from crmml.cli import _kinds

    monkeypatch.delitem(_kinds.CLI_KINDS, "fake")
    FakeModel.from_dict({**CLVModel.load(clv_model_dir).to_dict(), "model": "FakeModel"}).save(tmp_path / "fake")
    rc = main(["score", "--model", str(tmp_path / "fake"), "--data", str(world_dir), "--as-of", "2025-12-01",
               "--top", "3"])
    assert rc == EXIT_OK
    assert "scored; the first 3:" in capsys.readouterr().out
