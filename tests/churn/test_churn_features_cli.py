"""Retention features (hand-computed), the churn CLI entry and the churn plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmml.data import CRMTables
from crmml.features import customer_features, retention_features

AS_OF = pd.Timestamp("2025-07-01")


def _tables():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
                              "signup_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2025-06-01"])})
    tx = pd.DataFrame({
        "transaction_id": [f"t{i}" for i in range(6)],
        "customer_id": ["a", "a", "a", "b", "a", "b"],
        "ts": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-04", "2025-05-01", "2025-07-01", "2025-05-05"]),
        "amount": [10.0, 20.0, 30.0, 5.0, 99.0, -5.0],
    })
    inv = pd.DataFrame({
        "invoice_id": ["i1", "i2", "i3", "i4"], "customer_id": ["a", "a", "a", "b"],
        "issued_at": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-03-01"]),
        "due_at": pd.to_datetime(["2025-01-31", "2025-03-03", "2025-03-31", "2025-03-31"]),
        "paid_at": pd.to_datetime(["2025-02-05", "2025-03-01", "2025-07-15", "2025-04-02"]),
        "amount": [1.0, 1.0, 1.0, 1.0],
    })
    ix = pd.DataFrame({
        "interaction_id": [f"x{i}" for i in range(7)],
        "customer_id": ["a", "a", "a", "a", "a", "b", "a"],
        "ts": pd.to_datetime(["2025-06-20", "2025-05-01", "2025-02-15", "2024-10-01", "2025-03-01", "2025-06-30",
                              "2025-07-02"]),
        "type": ["login", "login", "login", "complaint", "email_open", "support_ticket", "login"],
        "contact_id": ["p1", "p1", "p2", "p3", "p4", None, "p2"],
    })
    return CRMTables.from_frames({"customers": customers, "transactions": tx, "invoices": inv, "interactions": ix})


def test_retention_features_by_hand():
    f = retention_features(_tables(), AS_OF, window=90)
    assert list(f.index) == ["a", "b", "c"]
    # a: purchases 2025-01-01, 02-01, 03-04 (the one at as_of is not seen): (62 days) / 2 = 31
    assert f.loc["a", "purchase_interval_days"] == pytest.approx(31.0)
    assert f.loc["a", "recency_ratio"] == pytest.approx((AS_OF - pd.Timestamp("2025-03-04")).days / 31.0)
    assert np.isnan(f.loc["b", "purchase_interval_days"]) and np.isnan(f.loc["c", "recency_ratio"])
    # a: i1 paid 5 days late, i2 on time, i3 paid after as_of (unpaid as of as_of); b: i4 late
    assert f["invoices_paid_late"].tolist() == [1, 1, 0]
    # last 90 days = [2025-04-02, 2025-07-01): a has logins 06-20 and 05-01; the 90 before: login 02-15, open 03-01
    assert f.loc["a", "engagement_90d"] == 2 and f.loc["a", "engagement_trend_90d"] == 0
    assert f.loc["a", "logins_trend_90d"] == 1 and f.loc["b", "service_90d"] == 1
    # contacts: p1 active (06-20); p2 last seen 02-15 (its 07-02 login is after as_of) and p3 (2024-10-01),
    # p4 (03-01) silent for 90+ days but within 365 -> lost
    assert f.loc["a", "contacts_active_90d"] == 1 and f.loc["a", "contacts_lost"] == 3
    assert f.index.equals(customer_features(_tables(), AS_OF).index)


def test_retention_features_ignore_rows_at_or_after_as_of():
    t = _tables()
    later = t.replace(transactions=t.transactions[t.transactions["ts"] < AS_OF],
                      interactions=t.interactions[t.interactions["ts"] < AS_OF])
    pd.testing.assert_frame_equal(retention_features(t, AS_OF), retention_features(later, AS_OF))


@pytest.mark.slow
def test_cli_trains_and_scores_churn(tmp_path, capsys):
    from crmml.cli import EXIT_OK, main

    data = tmp_path / "b2c"
    assert main(["synth", "b2c", "--customers", "600", "--seed", "4", "--out", str(data)]) == EXIT_OK
    model_dir = tmp_path / "model"
    plots = tmp_path / "plots"
    rc = main(["train", "churn", "--data", str(data), "--as-of", "2025-07-01", "--no-mlflow", "--holdout-days", "0",
               "--business", "noncontractual", "--horizon-days", "90", "--save", str(model_dir),
               "--plots-dir", str(plots), "--num-threads", "1", "--active-within-days", "365"])
    assert rc == EXIT_OK
    assert {p.name for p in plots.iterdir()} == {"calibration_curve.png", "gain_chart.png",
                                                 "reason_frequencies.png"}
    capsys.readouterr()
    out = tmp_path / "scores.parquet"
    rc = main(["score", "churn", "--model", str(model_dir), "--data", str(data), "--as-of", "2025-07-01",
               "--out", str(out), "--top", "3"])
    assert rc == EXIT_OK
    printed = capsys.readouterr().out
    assert "Risk tiers:" in printed and "Top 3 at-risk customers by revenue at risk:" in printed
    scores = pd.read_parquet(out)
    assert scores.index.name == "customer_id" and {"churn_probability", "risk_tier", "action"} <= set(scores.columns)
    top = printed[printed.index("Top 3"):].splitlines()[3:6]  # title, header, index name, then the rows
    assert [line.split()[0] for line in top] == list(scores["revenue_at_risk"].nlargest(3).index)
    from crmml.churn import ChurnModel
    loaded = ChurnModel.load(model_dir)
    assert loaded.num_threads == 1 and loaded.active_within_days == 365


def test_train_churn_refuses_a_bad_thread_count(tmp_path, capsys):
    from crmml.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "churn", "--data", str(tmp_path), "--num-threads", "-2"])
    assert e.value.code == 2
    assert "argument --num-threads: expected a whole number of threads in [0, 1024]; got '-2'" in capsys.readouterr().err


def test_gain_table_from_calibration_bins():
    from crmml.plotting.churn import gain_table

    x, y = gain_table({"mean_predicted": [0.1, 0.9], "observed": [0.0, 1.0], "count": [50, 50]})
    assert x.tolist() == [0.0, 0.5, 1.0] and y.tolist() == [0.0, 1.0, 1.0]
