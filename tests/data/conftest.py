"""Small hand-made valid frames for every contract table (raw input form)."""

from __future__ import annotations

import pandas as pd
import pytest


def valid_frames() -> dict[str, pd.DataFrame]:
    """A consistent set of the 10 contract tables, as a user might supply them."""
    return {
        "customers": pd.DataFrame({
            "customer_id": ["c1", "c2", "c3"],
            "signup_at": ["2023-01-01", "2023-02-01", "2023-03-01"],
            "country": ["DE", "FR", None],
            "employees": [10, None, 250],
            "acquisition_cost": [12.5, 0.0, None],
        }),
        "transactions": pd.DataFrame({
            "transaction_id": ["t1", "t2", "t3", "t4"],
            "customer_id": ["c1", "c1", "c2", "c3"],
            "ts": ["2023-01-05 10:00", "2023-02-05 11:30", "2023-02-10", "2023-03-04"],
            "amount": [20.0, -5.0, 13.5, 100.0],
        }),
        "interactions": pd.DataFrame({
            "interaction_id": ["i1", "i2", "i3"],
            "customer_id": ["c1", "c2", "c3"],
            "ts": ["2023-01-06", "2023-02-06", "2023-03-06"],
            "type": ["email_open", "support_ticket", "a_new_kind"],
            "contact_id": ["k1", None, "k2"],
        }),
        "contacts": pd.DataFrame({
            "contact_id": ["k1", "k2"],
            "customer_id": ["c1", "c3"],
            "role": ["purchasing", "technical"],
            "created_at": ["2023-01-02", "2023-03-02"],
        }),
        "invoices": pd.DataFrame({
            "invoice_id": ["v1", "v2"],
            "customer_id": ["c1", "c2"],
            "issued_at": ["2023-02-01", "2023-03-01"],
            "due_at": ["2023-03-01", "2023-03-31"],
            "paid_at": ["2023-02-20", None],
            "amount": [99.0, 49.0],
        }),
        "subscriptions": pd.DataFrame({
            "subscription_id": ["s1", "s2"],
            "customer_id": ["c1", "c2"],
            "start_at": ["2023-01-01", "2023-02-01"],
            "end_at": ["2023-12-31", None],
            "monthly_value": [99.0, 49.0],
        }),
        "leads": pd.DataFrame({
            "lead_id": ["L1", "L2"],
            "created_at": ["2023-01-01", "2023-01-15"],
            "source": ["webinar", "ads"],
            "employees": [50.0, None],
            "converted_at": ["2023-02-01", None],
        }),
        "lead_events": pd.DataFrame({
            "lead_id": ["L1", "L1", "L2"],
            "ts": ["2023-01-02", "2023-01-03", "2023-01-16"],
            "type": ["web_visit", "form_submit", "email_open"],
        }),
        "opportunities": pd.DataFrame({
            "opportunity_id": ["o1", "o2", "o3"],
            "customer_id": ["c1", "c2", "c3"],
            "created_at": ["2023-01-10", "2023-02-10", "2023-03-10"],
            "amount": [1000.0, 2000.0, 500.0],
            "stage": ["closed_won", "closed_lost", "proposal"],
            "expected_close_at": ["2023-02-10", "2023-03-10", "2023-05-10"],
            "closed_at": ["2023-02-01", "2023-03-01", None],
            "won": [True, False, None],
        }),
        "opportunity_history": pd.DataFrame({
            "opportunity_id": ["o1", "o1", "o2", "o3"],
            "ts": ["2023-01-10", "2023-02-01", "2023-02-10", "2023-03-10"],
            "stage": ["qualification", "closed_won", "qualification", "proposal"],
            "amount": [900.0, 1000.0, 2000.0, 500.0],
            "expected_close_at": ["2023-02-10", "2023-02-10", "2023-03-10", "2023-05-10"],
        }),
    }


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    return valid_frames()
