"""Retention columns relative to the last purchase and the usual rates (hand-computed, point in time).

The older retention columns are pinned in ``tests/churn/test_churn_features_cli.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmml.data import CRMTables
from crmml.features import customer_features, retention_features

AS_OF = pd.Timestamp("2025-07-01")
NEW = ["purchases_per_year", "engagement_per_year", "engagement_since_purchase_ratio",
       "engagement_since_purchase_vs_usual", "service_since_purchase", "service_before_purchase_30d",
       "complaints_before_purchase_30d"]


def _tables() -> CRMTables:
    """a: purchases 01-01 (sign-up), 03-02, 05-02 (the last: 121 days after sign-up, 60 before as_of);
    b: one purchase at sign-up; c: no purchase; d: two purchases, no interaction."""
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                              "signup_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-06-01", "2025-01-01"])})
    tx = pd.DataFrame({
        "transaction_id": [f"t{i}" for i in range(7)],
        "customer_id": ["a", "a", "a", "a", "b", "d", "d"],
        "ts": pd.to_datetime(["2025-01-01", "2025-03-02", "2025-05-02", "2025-06-01", "2025-01-01", "2025-01-01",
                              "2025-04-01"]),
        "amount": [10.0, 20.0, 30.0, -20.0, 5.0, 7.0, 8.0],  # a's 06-01 row is a refund, not a purchase
    })
    ix = pd.DataFrame({
        "interaction_id": [f"x{i}" for i in range(12)],
        "customer_id": ["a"] * 8 + ["b", "b", "c", "zz"],
        "ts": pd.to_datetime([
            "2025-02-01", "2025-04-01", "2025-04-20", "2025-06-01",  # a: engagement, 3 before the last purchase
            "2025-03-01",  # a: complaint 62 days before the last purchase (outside the 30 days)
            "2025-04-15",  # a: support ticket 17 days before it
            "2025-05-02",  # a: complaint at the instant of the last purchase (before, not since)
            "2025-06-15",  # a: support ticket after it
            "2025-06-01", "2025-06-10",  # b: web visit, complaint
            "2025-06-10",  # c
            "2025-06-10",  # a customer outside the customers table: ignored
        ]),
        "type": ["login", "web_visit", "email_open", "email_click", "complaint", "support_ticket", "complaint",
                 "support_ticket", "web_visit", "complaint", "login", "login"],
    })
    return CRMTables.from_frames({"customers": customers, "transactions": tx, "interactions": ix})


def test_new_retention_columns_by_hand():
    f = retention_features(_tables(), AS_OF)
    assert list(f.index) == ["a", "b", "c", "d"]
    assert set(NEW) <= set(f.columns)
    assert f.index.equals(customer_features(_tables(), AS_OF).index)
    # a: 181 days since sign-up (= first purchase), 2 repeat purchases, last purchase 60 days ago, 121 after sign-up;
    # 4 engagement events, 1 of them (06-01) since the last purchase
    a = f.loc["a"]
    assert a["purchases_per_year"] == pytest.approx(365 * 2 / 181)
    assert a["engagement_per_year"] == pytest.approx(365 * 4 / 181)
    assert a["engagement_since_purchase_ratio"] == pytest.approx((1 / 60) / (4 / 181))
    assert a["engagement_since_purchase_vs_usual"] == pytest.approx(1 - 3 / 121 * 60)
    assert a["service_since_purchase"] == 1  # the 06-15 ticket
    assert a["service_before_purchase_30d"] == 2  # the 04-15 ticket and the 05-02 complaint, not the 03-01 one
    assert a["complaints_before_purchase_30d"] == 1
    # b: a single purchase at sign-up: no repeat, no time before the last purchase to read a usual rate from
    b = f.loc["b"]
    assert b["purchases_per_year"] == 0
    assert b["engagement_per_year"] == pytest.approx(365 / 181)
    assert b["engagement_since_purchase_ratio"] == pytest.approx(1.0)
    assert np.isnan(b["engagement_since_purchase_vs_usual"])
    assert (b["service_since_purchase"], b["service_before_purchase_30d"], b["complaints_before_purchase_30d"]) \
        == (1, 0, 0)
    # c: no purchase -> the purchase-relative columns are missing; the engagement level is known
    c = f.loc["c"]
    assert c[["purchases_per_year", "engagement_since_purchase_ratio", "engagement_since_purchase_vs_usual",
              "service_since_purchase", "service_before_purchase_30d", "complaints_before_purchase_30d"]].isna().all()
    assert c["engagement_per_year"] == pytest.approx(365 / 30)
    # d: purchases, no interaction: no rate to compare with, nothing expected and nothing seen
    d = f.loc["d"]
    assert d["purchases_per_year"] == pytest.approx(365 / 181) and d["engagement_per_year"] == 0
    assert np.isnan(d["engagement_since_purchase_ratio"]) and d["engagement_since_purchase_vs_usual"] == 0
    assert (d["service_since_purchase"], d["service_before_purchase_30d"]) == (0, 0)
    assert all(f[c].dtype == np.float64 for c in NEW)


def test_before_purchase_window_is_a_parameter():
    f = retention_features(_tables(), AS_OF, before_purchase=70)
    assert "service_before_purchase_30d" not in f.columns
    assert f.loc["a", "service_before_purchase_70d"] == 3  # the 03-01 complaint is 62 days before 05-02
    assert f.loc["a", "complaints_before_purchase_70d"] == 2
    from crmml.exceptions import ParameterError
    with pytest.raises(ParameterError, match=r"^The 'before_purchase' parameter of retention_features must be an int "
                                             r"> 0 \(days\)\. Got 0 instead\.$"):
        retention_features(_tables(), AS_OF, before_purchase=0)
    with pytest.raises(ParameterError, match=r"^The 'window' parameter of retention_features must be an int > 0"):
        retention_features(_tables(), AS_OF, window=-5)


def test_churn_population_names_a_wrong_business():
    from crmml.exceptions import ParameterError
    from crmml.features import churn_population
    with pytest.raises(ParameterError, match=r"^The 'business' parameter of churn_population must be "
                                             r"'noncontractual' or 'contractual'\. Got 'b2b' instead\.$"):
        churn_population(_tables(), AS_OF, "b2b")


def test_purchase_relative_columns_need_transactions():
    t = _tables()
    f = retention_features(t.replace(transactions=None), AS_OF)
    assert not set(NEW) & set(f.columns)  # no purchases to relate to (and no usual-level column either)
    f = retention_features(t.replace(interactions=None), AS_OF)
    assert "purchases_per_year" in f.columns and not set(NEW[1:]) & set(f.columns)


def _with_future_rows(t: CRMTables, tx_rows: list[tuple], ix_rows: list[tuple]) -> CRMTables:
    tx = pd.DataFrame(tx_rows, columns=["customer_id", "ts", "amount"])
    tx.insert(0, "transaction_id", [f"ft{i}" for i in range(len(tx))])
    ix = pd.DataFrame(ix_rows, columns=["customer_id", "ts", "type"])
    ix.insert(0, "interaction_id", [f"fx{i}" for i in range(len(ix))])
    return t.replace(transactions=pd.concat([t.transactions, tx.astype(t.transactions.dtypes.to_dict())],
                                            ignore_index=True),
                     interactions=pd.concat([t.interactions, ix.astype(t.interactions.dtypes.to_dict())],
                                            ignore_index=True))


def test_rows_at_or_after_as_of_change_nothing():
    t = _tables()
    later = _with_future_rows(
        t,
        [("a", AS_OF, 50.0), ("b", AS_OF + pd.Timedelta(days=3), 9.0), ("c", AS_OF, 1.0), ("d", AS_OF, -8.0)],
        [("a", AS_OF, "complaint"), ("a", AS_OF, "login"), ("b", AS_OF + pd.Timedelta(hours=1), "support_ticket"),
         ("c", AS_OF + pd.Timedelta(days=40), "web_visit"), ("d", AS_OF, "email_open")])
    pd.testing.assert_frame_equal(retention_features(later, AS_OF), retention_features(t, AS_OF))
    # the guard can fail: the same rows one second before as_of do change the new columns
    early = _with_future_rows(t, [("b", AS_OF - pd.Timedelta(seconds=1), 9.0)],
                              [("d", AS_OF - pd.Timedelta(seconds=1), "support_ticket")])
    g = retention_features(early, AS_OF)
    assert g.loc["b", "purchases_per_year"] > 0 and g.loc["d", "service_since_purchase"] == 1


TYPES = ["login", "web_visit", "email_open", "email_click", "support_ticket", "complaint", "other"]
future_ts = st.integers(0, 200 * 24 * 60).map(lambda m: AS_OF + pd.Timedelta(minutes=m))
customer = st.sampled_from(["a", "b", "c", "d", "zz"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tx_rows=st.lists(st.tuples(customer, future_ts, st.floats(-100, 1000)), max_size=4),
       ix_rows=st.lists(st.tuples(customer, future_ts, st.sampled_from(TYPES)), max_size=6),
       before=st.sampled_from([7, 30, 90]))
def test_future_rows_change_no_retention_column(tx_rows, ix_rows, before):
    t = _tables()
    pd.testing.assert_frame_equal(retention_features(_with_future_rows(t, tx_rows, ix_rows), AS_OF,
                                                     before_purchase=before),
                                  retention_features(t, AS_OF, before_purchase=before))
