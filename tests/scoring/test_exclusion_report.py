"""Exclusions reach callers through ``score(..., report=)``, not ``DataFrame.attrs``."""

import pandas as pd

from crmml.cli import EXIT_OK, main
from crmml.data import ExclusionReport
from crmml.synthetic import make_b2c_world, write_world


def test_scores_carry_no_attrs_and_the_report_gets_the_exclusions(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    report = ExclusionReport()
    scores = model.score(b2c_world.tables, as_of, report=report)
    assert scores.attrs == {}
    tx = b2c_world.tables.transactions
    refunds = int(((tx.amount < 0) & (tx.ts < as_of)).sum())
    assert [(e["n_rows"], e["unit"]) for e in report.to_dict() if "refund" in e["rule"]] == [(refunds, "rows")]


def test_reports_accumulate_across_calls(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    one, two = ExclusionReport(), ExclusionReport()
    model.score(b2c_world.tables, as_of, report=one)
    model.score(b2c_world.tables, as_of, report=two)
    model.score(b2c_world.tables, as_of, report=two)
    assert two.total() == 2 * one.total() > 0


def test_crmml_score_prints_the_exclusions_of_scoring(tmp_path, capsys):
    world = make_b2c_world(300, seed=2)
    write_world(world, tmp_path / "data")
    from crmml.clv import CLVModel

    CLVModel().fit(world.tables, "2025-07-01").save(tmp_path / "model")
    rc = main(["score", "clv", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "data"),
               "--as-of", "2025-07-01", "--out", str(tmp_path / "scores.parquet")])
    assert rc == EXIT_OK
    err = capsys.readouterr().err
    tx = world.tables.transactions
    refunds = int(((tx.amount < 0) & (tx.ts < pd.Timestamp("2025-07-01"))).sum())
    assert f"excluded {refunds:,} transactions row(s): refund or missing amount" in err
    assert pd.read_parquet(tmp_path / "scores.parquet").attrs == {}


def test_exclusions_are_described_in_words_per_unit():
    from crmml.training import describe_exclusion

    assert describe_exclusion({"table": "transactions", "rule": "refund", "n_rows": 1200}) == \
        "excluded 1,200 transactions row(s): refund"
    assert describe_exclusion({"table": "customers", "rule": "no purchase", "n_rows": 524, "unit": "entities"}) == \
        "excluded 524 entities of customers: no purchase"
    assert describe_exclusion({"table": "customers", "rule": "r", "n_rows": 3, "unit": "fit-only"}) == \
        "excluded 3 entities of customers from the fit only: r"
