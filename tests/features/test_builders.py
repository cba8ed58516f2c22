"""customer_features, lead_features, opportunity_features on the hand-made world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from features_world import AS_OF

from crmml.exceptions import MissingTableError, ParameterError
from crmml.features import customer_features, lead_features, opportunity_features


def test_customer_population_and_rfm_columns(world):
    X = customer_features(world, AS_OF)
    assert list(X.index) == ["c1", "c2", "c3", "c4"] and X.index.name == "customer_id"
    c1 = X.loc["c1"]
    assert c1["n_purchases"] == 4 and c1["revenue_total"] == 65.0
    assert c1["recency_days"] == 20.0  # last purchase 2024-02-10
    assert c1["tenure_days"] == 425.0
    assert c1["purchases_30d"] == 1 and c1["purchases_90d"] == 2 and c1["purchases_90d_prev"] == 0
    assert c1["purchases_trend_90d"] == 2 and c1["revenue_90d"] == 50.0
    assert X.loc["c2", "refunds_count"] == 1 and X.loc["c2", "refunds_amount"] == 50.0
    assert X.loc["c4", "n_purchases"] == 1 and X.loc["c4", "revenue_total"] == 0.0


def test_customer_interactions_per_type(world):
    X = customer_features(world, AS_OF)
    assert X.loc["c1", "interactions_30d"] == 2  # the 2024-03-02 complaint is the future
    assert X.loc["c1", "interactions_complaint_365d"] == 0
    assert X.loc["c2", "interactions_other_30d"] == 1  # "chat" is not a known type
    assert X.loc["c1", "days_since_support_ticket"] == 5.0
    assert np.isnan(X.loc["c3", "days_since_support_ticket"])


def test_customer_payment_lateness_as_of(world):
    X = customer_features(world, AS_OF)
    # c1: v1 paid early (0), v2 paid 10 days late, v3 unpaid but due on as_of (not overdue yet)
    assert X.loc["c1", ["invoice_days_late_mean", "invoice_days_late_max", "invoice_share_paid_late"]].tolist() == [5.0, 10.0, 0.5]
    assert X.loc["c1", "invoices_unpaid_overdue"] == 0
    # c2: v5 paid 2024-03-05 is unknown at as_of -> unpaid, 29 days overdue
    assert X.loc["c2", "invoices_unpaid_overdue"] == 1 and X.loc["c2", "invoice_days_overdue_max"] == 29.0
    assert X.loc["c2", "invoices_paid"] == 1


def test_customer_subscription_state(world):
    X = customer_features(world, AS_OF)
    assert X.loc["c1", ["subscriptions_active", "subscriptions_ended", "mrr"]].tolist() == [1, 1, 120.0]
    assert X.loc["c1", "days_in_current_term"] == 274.0 and X.loc["c1", "days_to_term_end"] == 91.0
    # s3 of c2 ends 2024-04-15: unknown at as_of, so it is running
    assert X.loc["c2", "subscriptions_active"] == 1 and X.loc["c2", "mrr"] == 300.0
    assert X.loc["c4", "subscriptions_active"] == 0 and np.isnan(X.loc["c4", "days_in_current_term"])


def test_customer_buying_center(world):
    X = customer_features(world, AS_OF)
    assert X.loc["c2", ["contacts_total", "contacts_management", "contacts_user"]].tolist() == [2, 1, 1]
    assert X.loc["c1", "contact_roles"] == 2


def test_customer_columns_follow_tables_present(world):
    b2c = world.replace(invoices=None, subscriptions=None, contacts=None)
    X = customer_features(b2c, AS_OF)
    assert not any(c.startswith(("invoice", "subscription", "mrr", "contact")) for c in X.columns)
    assert "revenue_total" in X.columns
    assert isinstance(X["country"].dtype, pd.CategoricalDtype)
    assert all(pd.api.types.is_numeric_dtype(X[c]) or isinstance(X[c].dtype, pd.CategoricalDtype) for c in X)


def test_customer_features_needs_customers(world):
    with pytest.raises(MissingTableError, match="customers: table is required by customer_features"):
        customer_features(world.replace(customers=None), AS_OF)
    with pytest.raises(ParameterError, match="The 'windows' parameter of customer_features must be"):
        customer_features(world, AS_OF, windows=(30, -1))


def test_lead_features(world):
    X = lead_features(world, AS_OF, windows=(30, 90))
    assert list(X.index) == ["l2", "l3", "l5"]  # l1 converted before, l4 created after
    assert X.loc["l2", "events_total"] == 3 and X.loc["l2", "events_30d"] == 2
    assert X.loc["l3", "events_other_30d"] == 1 and X.loc["l2", "days_since_webinar"] == 2.0
    assert X.loc["l2", "age_days"] == 46.0
    assert X.loc["l5", "event_velocity"] == 0.0
    assert X.loc["l2", "event_velocity"] == pytest.approx((2 / 30) / (3 / 46))
    assert list(X["source"].cat.categories) == ["ads", "event", "web"]


def test_opportunity_features(world):
    X = opportunity_features(world, AS_OF)
    assert list(X.index) == ["o2", "o3", "o5"]
    o2 = X.loc["o2"]
    assert o2["stage"] == "negotiation" and o2["stage_index"] == 3.0
    assert o2["amount"] == 2200.0 and o2["amount_initial"] == 2000.0 and o2["n_amount_changes"] == 1
    assert o2["n_stage_changes"] == 3 and o2["n_stage_regressions"] == 1
    assert o2["n_close_slips"] == 2 and o2["close_slip_days"] == 34.0
    assert o2["days_in_stage"] == 15.0 and o2["days_to_expected_close"] == 19.0
    assert o2["owner_win_rate"] == 1.0 and o2["account_won_opportunities"] == 1
    assert X.loc["o3", "days_in_stage"] == 56.0  # unchanged stage since creation
    assert np.isnan(X.loc["o3", "owner_win_rate"])  # bob's o3 closes after as_of
    assert X.loc["o2", "account_contacts"] == 2 and X.loc["o2", "account_interactions_30d"] == 2
