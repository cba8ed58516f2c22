"""The point-in-time engine: views, windows, labels, stacking."""

from __future__ import annotations

import warnings

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from features_world import AS_OF

from crmml.exceptions import ParameterError
from crmml.features import (
    as_of_view,
    contractual_churn_labels,
    count_in_windows,
    label_window,
    lead_conversion_labels,
    noncontractual_churn_labels,
    opportunity_outcome_labels,
    stack_cutoffs,
    sum_in_windows,
    to_timestamp,
)


@pytest.mark.parametrize("value, expected", [
    ("2024-03-01", "2024-03-01 00:00"),
    (dt.date(2024, 3, 1), "2024-03-01 00:00"),
    (dt.datetime(2024, 3, 1, 5), "2024-03-01 05:00"),
    ("2024-03-01T12:00:00+01:00", "2024-03-01 11:00"),
    (pd.Timestamp("2024-03-01 06:00", tz="US/Eastern"), "2024-03-01 11:00"),
    (np.datetime64("2024-03-01T00:00"), "2024-03-01 00:00"),
])
def test_to_timestamp_normalises_to_naive_utc_ns(value, expected):
    ts = to_timestamp(value)
    assert ts == pd.Timestamp(expected)
    assert ts.tzinfo is None and ts.unit == "ns"


@pytest.mark.parametrize("bad", ["not a date", None, 3, pd.NaT, True, [2024]])
def test_to_timestamp_rejects_garbage(bad):
    with pytest.raises(ParameterError, match=r"The 'as_of' parameter must be a point in time .* Got .* instead"):
        to_timestamp(bad)


def test_view_keeps_rows_strictly_before_as_of(world):
    v = as_of_view(world, AS_OF)
    for name, df in v.items():
        from crmml.data import TABLES
        col = TABLES[name].time_column
        assert (df[col] < AS_OF).all(), name
    # transaction exactly at as_of is the future
    assert "t9" not in set(v.transactions["transaction_id"])
    assert set(v.transactions["transaction_id"]) == {f"t{i}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 11, 12)}
    assert set(v.customers["customer_id"]) == {"c1", "c2", "c3", "c4"}


def test_view_masks_event_columns_and_won(world):
    v = as_of_view(world, AS_OF)
    inv = v.invoices.set_index("invoice_id")
    assert inv.loc["v1", "paid_at"] == pd.Timestamp("2023-11-20")
    assert pd.isna(inv.loc["v5", "paid_at"])  # paid on 2024-03-05: unknown at as_of
    assert "v6" not in inv.index
    sub = v.subscriptions.set_index("subscription_id")
    assert sub.loc["s1", "end_at"] == pd.Timestamp("2023-06-01")
    assert pd.isna(sub.loc["s3", "end_at"]) and pd.isna(sub.loc["s4", "end_at"])
    leads = v.leads.set_index("lead_id")
    assert leads.loc["l1", "converted_at"] == pd.Timestamp("2024-02-10")
    assert pd.isna(leads.loc["l2", "converted_at"])
    opp = v.opportunities.set_index("opportunity_id")
    assert bool(opp.loc["o1", "won"]) is True
    assert pd.isna(opp.loc["o2", "closed_at"]) and pd.isna(opp.loc["o2", "won"])
    assert pd.isna(opp.loc["o3", "won"])


def test_view_replays_opportunity_snapshot_from_history(world):
    opp = as_of_view(world, AS_OF).opportunities.set_index("opportunity_id")
    assert opp.loc["o2", "stage"] == "negotiation"
    assert opp.loc["o2", "amount"] == 2200.0
    assert opp.loc["o2", "expected_close_at"] == pd.Timestamp("2024-03-20")
    assert opp.loc["o3", "stage"] == "qualification"
    assert opp.loc["o1", "stage"] == "closed_won"
    early = as_of_view(world, "2024-01-15").opportunities.set_index("opportunity_id")
    assert early.loc["o2", "stage"] == "qualification" and early.loc["o2", "amount"] == 2000.0


def test_view_without_history_masks_open_and_derives_closed(world):
    t = world.replace(opportunity_history=None)
    opp = as_of_view(t, AS_OF).opportunities.set_index("opportunity_id")
    assert pd.isna(opp.loc["o2", "stage"]) and np.isnan(opp.loc["o2", "amount"])
    assert pd.isna(opp.loc["o2", "expected_close_at"])
    assert opp.loc["o1", "stage"] == "closed_won" and opp.loc["o1", "amount"] == 1000.0


def test_view_does_not_modify_input(world):
    before = {n: df.copy() for n, df in world.items()}
    as_of_view(world, AS_OF)
    for n, df in world.items():
        pd.testing.assert_frame_equal(df, before[n])


def test_view_of_absent_tables_stays_none(world):
    t = world.replace(invoices=None, leads=None)
    v = as_of_view(t, AS_OF)
    assert v.invoices is None and v.leads is None


def test_window_counts_and_sums_are_half_open():
    idx = pd.Index(["a", "b"], name="customer_id")
    ids = pd.Series(["a", "a", "a", "b", "x"])
    ts = pd.Series(pd.to_datetime(["2024-02-29", "2024-01-31", "2024-03-01", "2024-01-01", "2024-02-29"]))
    c = count_in_windows(idx, ids, ts, AS_OF, (30,), "n", previous=True)
    # [2024-01-31, 2024-03-01) holds a's 2024-02-29 and 2024-01-31, not 2024-03-01
    assert c.loc["a", "n_30d"] == 2 and c.loc["b", "n_30d"] == 0
    assert c.loc["b", "n_30d_prev"] == 1
    s = sum_in_windows(idx, ids, ts, pd.Series([1.0, 2.0, 4.0, 8.0, 16.0]), AS_OF, (30,), "r")
    assert s.loc["a", "r_30d"] == 3.0


def test_label_window_is_half_open():
    f = pd.DataFrame({"ts": pd.to_datetime(["2024-02-29", "2024-03-01", "2024-03-30", "2024-03-31"])})
    assert label_window(f, "ts", AS_OF, 30)["ts"].dt.day.tolist() == [1, 30]
    with pytest.raises(ParameterError, match="The 'horizon_days' parameter of label_window must be > 0. Got 0 instead."):
        label_window(f, "ts", AS_OF, 0)


def test_noncontractual_churn_labels(world):
    y = noncontractual_churn_labels(world, AS_OF, 30)
    # c1 buys on 2024-03-15; c3 on 2024-03-01; c2 and c4 do not (c4 only has a 0-amount purchase before)
    assert y["churned"].to_dict() == {"c1": 0, "c2": 1, "c3": 0, "c4": 1}


def test_label_windows_past_the_data_are_warned_about(world):
    from crmml.exceptions import LabelWindowWarning

    # the latest transaction is 2024-03-15: a 30-day window from 2024-03-01 is half unobserved
    with pytest.warns(LabelWindowWarning, match=r"^noncontractual_churn_labels: the label window \[2024-03-01, "
                                                 r"2024-03-31\) runs past the latest transactions event \(2024-03-15\)"
                                                 r".*Use an as_of on or before 2024-02-14, or a shorter horizon\.$"):
        noncontractual_churn_labels(world, AS_OF, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelWindowWarning)
        noncontractual_churn_labels(world, AS_OF, 15)  # ends on the latest event: observed
        noncontractual_churn_labels(world, "2024-02-14", 30)
    with pytest.warns(LabelWindowWarning, match=r"^contractual_churn_labels: .*an end not yet recorded counts as a "
                                                 r"renewal"):
        contractual_churn_labels(world, "2030-01-01", 30)


def test_contractual_churn_labels(world):
    assert contractual_churn_labels(world, AS_OF, 30)["churned"].to_dict() == {"c1": 0, "c2": 0, "c3": 0}
    # s3 of c2 ends 2024-04-15, inside a 60-day horizon, and nothing new starts
    assert contractual_churn_labels(world, AS_OF, 60)["churned"].to_dict() == {"c1": 0, "c2": 1, "c3": 0}


def test_contractual_churn_new_subscription_in_horizon_is_not_churn(world):
    extra = pd.DataFrame({"subscription_id": pd.Series(["s9"], dtype="str"),
                          "customer_id": pd.Series(["c2"], dtype="str"),
                          "start_at": pd.to_datetime(["2024-04-10"]).astype("datetime64[ns]"),
                          "end_at": pd.to_datetime([None]).astype("datetime64[ns]"),
                          "monthly_value": [10.0]})
    t = world.replace(subscriptions=pd.concat([world.subscriptions, extra], ignore_index=True))
    assert contractual_churn_labels(t, AS_OF, 60).loc["c2", "churned"] == 0


def test_lead_conversion_labels(world):
    y = lead_conversion_labels(world, AS_OF, 30)
    assert y["converted"].to_dict() == {"l2": 1, "l3": 0, "l5": 0}


def test_opportunity_outcome_labels(world):
    y = opportunity_outcome_labels(world, AS_OF, 30)
    assert y.to_dict("index") == {"o2": {"won": 1, "closed_in_horizon": 1},
                                  "o3": {"won": 0, "closed_in_horizon": 1},
                                  "o5": {"won": 0, "closed_in_horizon": 0}}
    y10 = opportunity_outcome_labels(world, AS_OF, 10)
    assert y10.loc["o2", "won"] == 0 and y10.loc["o3", "closed_in_horizon"] == 1


def test_stack_cutoffs_multiindex(world):
    out = stack_cutoffs(lambda t, a: lead_conversion_labels(t, a, 30), world, ["2024-02-01", AS_OF])
    assert out.index.names == ["lead_id", "as_of"]
    assert out.loc[("l1", pd.Timestamp("2024-02-01")), "converted"] == 1
    assert len(out.xs(AS_OF, level="as_of")) == 3
    with pytest.raises(ParameterError, match="must not repeat a cutoff"):
        stack_cutoffs(lambda t, a: lead_conversion_labels(t, a, 30), world, [AS_OF, "2024-03-01"])
