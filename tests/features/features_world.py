"""A small hand-made CRM world (all 10 contract tables) around AS_OF = 2024-03-01."""

from __future__ import annotations

import pandas as pd

from crmml.data import CRMTables

AS_OF = pd.Timestamp("2024-03-01")


def _ts(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, format="ISO8601")).astype("datetime64[ns]")


def _str(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


def make_world() -> CRMTables:
    customers = pd.DataFrame({
        "customer_id": _str(["c1", "c2", "c3", "c4", "c5"]),
        "signup_at": _ts(["2023-01-01", "2023-06-01", "2023-12-01", "2024-02-20", "2024-04-01"]),
        "country": _str(["DE", "FR", "DE", None, "US"]),
        "channel": _str(["web", "store", "web", "web", "partner"]),
        "industry": _str(["retail", "software", "software", "retail", "retail"]),
        "employees": [10.0, 250.0, float("nan"), 5.0, 40.0],
        "acquisition_cost": [20.0, 35.0, 0.0, 12.0, 8.0],
    })
    transactions = pd.DataFrame({
        "transaction_id": _str([f"t{i}" for i in range(1, 13)]),
        "customer_id": _str(["c1", "c1", "c1", "c1", "c2", "c2", "c2", "c3", "c3", "c1", "c4", "c2"]),
        "ts": _ts(["2023-02-01", "2023-02-01 15:00", "2023-12-15", "2024-02-10", "2023-05-01",
                   "2023-07-01", "2024-01-20", "2024-02-28 23:00", "2024-03-01", "2024-03-15",
                   "2024-02-25", "2024-02-15"]),
        "amount": [10.0, 5.0, 30.0, 20.0, 99.0, 50.0, 70.0, 15.0, 25.0, 40.0, 0.0, -50.0],
    })
    interactions = pd.DataFrame({
        "interaction_id": _str([f"i{i}" for i in range(1, 10)]),
        "customer_id": _str(["c1", "c1", "c1", "c2", "c2", "c3", "c1", "c2", "c4"]),
        "ts": _ts(["2024-02-20", "2024-02-25", "2023-11-01", "2024-01-05", "2024-02-27",
                   "2024-02-29", "2024-03-02", "2024-03-10", "2024-02-26"]),
        "type": _str(["login", "support_ticket", "email_open", "meeting", "chat", "login",
                      "complaint", "call", "web_visit"]),
        "contact_id": _str(["k1", None, None, "k3", "k3", None, "k1", "k3", None]),
    })
    contacts = pd.DataFrame({
        "contact_id": _str(["k1", "k2", "k3", "k4", "k5"]),
        "customer_id": _str(["c1", "c1", "c2", "c2", "c2"]),
        "role": _str(["purchasing", "technical", "management", "user", "user"]),
        "created_at": _ts(["2023-01-05", "2023-03-01", "2023-06-05", "2023-07-01", "2024-04-01"]),
    })
    invoices = pd.DataFrame({
        "invoice_id": _str(["v1", "v2", "v3", "v4", "v5", "v6"]),
        "customer_id": _str(["c1", "c1", "c1", "c2", "c2", "c2"]),
        "issued_at": _ts(["2023-11-01", "2023-12-01", "2024-02-01", "2023-12-01", "2024-01-01", "2024-03-05"]),
        "due_at": _ts(["2023-12-01", "2024-01-01", "2024-03-01", "2024-01-01", "2024-02-01", "2024-04-05"]),
        "paid_at": _ts(["2023-11-20", "2024-01-11", None, "2024-01-31", "2024-03-05", None]),
        "amount": [100.0, 100.0, 100.0, 500.0, 500.0, 500.0],
    })
    subscriptions = pd.DataFrame({
        "subscription_id": _str(["s1", "s2", "s3", "s4"]),
        "customer_id": _str(["c1", "c1", "c2", "c3"]),
        "start_at": _ts(["2022-01-01", "2023-06-01", "2023-06-01", "2023-12-01"]),
        "end_at": _ts(["2023-06-01", None, "2024-04-15", "2024-12-01"]),
        "monthly_value": [100.0, 120.0, 300.0, 50.0],
    })
    leads = pd.DataFrame({
        "lead_id": _str(["l1", "l2", "l3", "l4", "l5"]),
        "created_at": _ts(["2024-01-01", "2024-01-15", "2024-02-01", "2024-03-05", "2023-10-01"]),
        "source": _str(["web", "event", "web", "referral", "ads"]),
        "industry": _str(["retail", None, "software", "retail", "software"]),
        "employees": [10.0, 50.0, float("nan"), 3.0, 1000.0],
        "country": _str(["DE", "FR", "DE", "US", "US"]),
        "role": _str(["cto", "ceo", None, "buyer", "cto"]),
        "converted_at": _ts(["2024-02-10", "2024-03-20", None, None, None]),
    })
    lead_events = pd.DataFrame({
        "lead_id": _str(["l1", "l2", "l2", "l2", "l3", "l3", "l2", "l4", "l5"]),
        "ts": _ts(["2024-01-02", "2024-01-16", "2024-02-20", "2024-02-28", "2024-02-02", "2024-02-27",
                   "2024-03-03", "2024-03-06", "2023-10-05"]),
        "type": _str(["web_visit", "web_visit", "download", "webinar", "email_open", "podcast",
                      "meeting", "web_visit", "form_submit"]),
    })
    opportunities = pd.DataFrame({
        "opportunity_id": _str(["o1", "o2", "o3", "o4", "o5"]),
        "customer_id": _str(["c1", "c1", "c2", "c2", "c3"]),
        "created_at": _ts(["2023-10-01", "2024-01-10", "2024-01-05", "2024-03-10", "2024-02-01"]),
        "amount": [1000.0, 2500.0, 800.0, 300.0, 400.0],
        "stage": _str(["closed_won", "closed_won", "closed_lost", "qualification", "proposal"]),
        "expected_close_at": _ts(["2023-12-01", "2024-04-01", "2024-03-15", "2024-05-01", "2024-04-01"]),
        "closed_at": _ts(["2023-12-10", "2024-03-20", "2024-03-05", None, None]),
        "won": pd.array([True, True, False, pd.NA, pd.NA], dtype="boolean"),
        "owner": _str(["ann", "ann", "bob", "bob", "ann"]),
    })
    opportunity_history = pd.DataFrame({
        "opportunity_id": _str(["o1", "o1", "o2", "o2", "o2", "o2", "o2", "o3", "o3", "o3", "o4", "o5"]),
        "ts": _ts(["2023-10-01", "2023-12-10", "2024-01-10", "2024-01-20", "2024-02-01", "2024-02-15",
                   "2024-03-20", "2024-01-05", "2024-02-10", "2024-03-05", "2024-03-10", "2024-02-01"]),
        "stage": _str(["qualification", "closed_won", "qualification", "proposal", "needs_analysis",
                       "negotiation", "closed_won", "qualification", "qualification", "closed_lost",
                       "qualification", "proposal"]),
        "amount": [900.0, 1000.0, 2000.0, 2000.0, 2200.0, 2200.0, 2500.0, 800.0, 800.0, 800.0, 300.0, 400.0],
        "expected_close_at": _ts(["2023-12-01", "2023-12-01", "2024-02-15", "2024-03-01", "2024-03-01",
                                  "2024-03-20", "2024-04-01", "2024-02-15", "2024-03-15", "2024-03-15",
                                  "2024-05-01", "2024-04-01"]),
    })
    return CRMTables(
        customers=customers, transactions=transactions, interactions=interactions, contacts=contacts,
        invoices=invoices, subscriptions=subscriptions, leads=leads, lead_events=lead_events,
        opportunities=opportunities, opportunity_history=opportunity_history,
    )
