"""The forecast CLI on the sample B2B world: train, score, forecast, backtest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import crmml
from crmml.cli import EXIT_ARTIFACT, EXIT_OK, EXIT_PARAM, main
from crmml.data import load_tables
from crmml.forecast import PipelineForecastModel

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "synthetic" / "b2b"
DAY = "2025-07-01"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast_model") / "model"
    rc = main(["train", "forecast", "--data", str(SAMPLE), "--as-of", DAY, "--no-mlflow", "--num-threads", "1",
               "--interval-origins", "4", "--n-simulations", "300", "--save", str(out)])
    assert rc == EXIT_OK
    return out


def test_train_forecast_saves_a_forecast_model_with_the_options(model_dir):
    m = crmml.load_scorer(model_dir)
    assert isinstance(m, PipelineForecastModel) and m.kind == "forecast"
    assert m.interval_origins == 4 and m.n_simulations == 300 and m.as_of_ == pd.Timestamp(DAY)
    assert len(m.intervals_["origins"]) == 4


def test_forecast_prints_and_writes_the_periods_like_the_library(model_dir, tmp_path, capsys):
    out = tmp_path / "fc.csv"
    rc = main(["forecast", "--model", str(model_dir), "--data", str(SAMPLE), "--as-of", DAY, "--out", str(out)])
    assert rc == EXIT_OK
    printed = capsys.readouterr().out
    assert "p10" in printed and "stage_weighted" in printed
    assert "intervals: conformal (8 backtest cells, weighted by age over 730 days)" in printed
    got = pd.read_csv(out)
    want = crmml.load_scorer(model_dir).forecast(load_tables(SAMPLE), DAY)
    assert got["p50"].tolist() == pytest.approx(want["p50"].tolist())
    assert list(got["period_start"]) == ["2025-07-01", "2025-10-01"]


def test_score_prints_the_deals_with_the_largest_expected_bookings(model_dir, capsys):
    assert main(["score", "forecast", "--model", str(model_dir), "--data", str(SAMPLE), "--as-of", DAY]) == EXIT_OK
    out = capsys.readouterr().out
    assert "open deals; expected bookings this period" in out and "close_in_period_probability" in out


def test_forecast_refuses_another_kind_of_model(tmp_path, capsys):
    clv = tmp_path / "clv"
    assert main(["train", "clv", "--data", str(SAMPLE.parent / "b2c"), "--no-mlflow", "--holdout-days", "0",
                 "--save", str(clv)]) == EXIT_OK
    capsys.readouterr()
    rc = main(["forecast", "--model", str(clv), "--data", str(SAMPLE)])
    assert rc == EXIT_ARTIFACT
    assert "holds a 'clv' model, not a 'forecast' model" in capsys.readouterr().err


def test_backtest_prints_the_summary_and_writes_the_fan_chart(tmp_path, capsys):
    out = tmp_path / "bt"
    rc = main(["backtest", "forecast", "--data", str(SAMPLE), "--start", "2024-10-01", "--end", "2025-03-01",
               "--every-days", "28", "--out-dir", str(out), "--num-threads", "1", "--n-simulations", "200"])
    assert rc == EXIT_OK
    printed = capsys.readouterr().out
    assert "Backtest: 12 origin × period cells" in printed and "coverage of the 80% interval" in printed
    assert {p.name for p in out.iterdir()} == {"backtest.csv", "fan_chart.png", "coverage.png"}
    frame = pd.read_csv(out / "backtest.csv")
    assert len(frame) == 12 and {"p10", "p90", "actual", "stage_weighted", "ape_model"} <= set(frame.columns)


def test_backtest_end_before_start_is_a_parameter_error(capsys):
    rc = main(["backtest", "forecast", "--data", str(SAMPLE), "--start", "2025-03-01", "--end", "2025-01-01"])
    assert rc == EXIT_PARAM and "--end 2025-01-01 is before --start 2025-03-01" in capsys.readouterr().err
