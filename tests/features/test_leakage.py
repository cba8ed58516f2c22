"""Leakage guard: nothing at or after ``as_of`` can change a feature.

Hypothesis appends arbitrary rows whose time column is >= as_of to every
table, moves not-yet-known event times (paid_at, end_at, converted_at,
closed_at; with won) to arbitrary times >= as_of, rewrites the export-time
snapshot of opportunities still open at as_of, and adds opportunity history
rows at/after as_of. Every builder must return exactly the same frame, and
the label populations (who is at risk at as_of) must not move.
"""

from __future__ import annotations

import pandas as pd
import pytest
from features_world import make_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmml.data import TABLES
from crmml.features import (
    contractual_churn_labels,
    customer_features,
    lead_conversion_labels,
    lead_features,
    noncontractual_churn_labels,
    opportunity_features,
    opportunity_outcome_labels,
    rfm_features,
)

CUTOFFS = [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-20 12:00"), pd.Timestamp("2024-03-01")]
BUILDERS = {
    "rfm": lambda t, a: rfm_features(t, a),
    "customer": lambda t, a: customer_features(t, a),
    "lead": lambda t, a: lead_features(t, a),
    "opportunity": lambda t, a: opportunity_features(t, a),
}
LABELS = [noncontractual_churn_labels, contractual_churn_labels, lead_conversion_labels, opportunity_outcome_labels]
BASE = make_world()
POOLS = {
    "customer_id": sorted(BASE.customers["customer_id"]) + ["c_new"],
    "lead_id": sorted(BASE.leads["lead_id"]) + ["l_new"],
    "opportunity_id": sorted(BASE.opportunities["opportunity_id"]) + ["o_new"],
    "contact_id": sorted(BASE.contacts["contact_id"]) + ["k_new"],
}
WORDS = ["web", "login", "chat", "support_ticket", "qualification", "proposal", "closed_won",
         "closed_lost", "user", "management", "DE", "webinar", "download"]
EXPECTED = {(name, a): build(BASE, a) for a in CUTOFFS for name, build in BUILDERS.items()}
EXPECTED_POP = {(f.__name__, a): f(BASE, a, 30).index for a in CUTOFFS for f in LABELS}


def future(as_of: pd.Timestamp):
    return st.integers(0, 400 * 24 * 60).map(lambda m: as_of + pd.Timedelta(minutes=m))


def anytime():
    return st.integers(-400 * 24 * 60, 400 * 24 * 60).map(lambda m: pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=m))


@st.composite
def future_world(draw):
    as_of = draw(st.sampled_from(CUTOFFS))
    frames = {}
    counter = 0
    for name, df in BASE.items():
        spec = TABLES[name]
        df = df.copy()
        # 1. existing rows: not-yet-known event times move to other future times
        for col in spec.event_columns:
            unknown = (df[col].isna() | (df[col] >= as_of)).to_numpy()
            for i in [j for j in range(len(df)) if unknown[j]]:
                if draw(st.booleans()):
                    df.loc[df.index[i], col] = draw(future(as_of) | st.none().map(lambda _: pd.NaT))
                    for masked, ev in spec.masked_with.items():
                        if ev == col:
                            df.loc[df.index[i], masked] = draw(st.sampled_from([True, False, pd.NA]))
        if name == "opportunities":  # export-time snapshot of deals open at as_of
            open_ = (df["closed_at"].isna() | (df["closed_at"] >= as_of)).to_numpy()
            for i in [j for j in range(len(df)) if open_[j]]:
                if draw(st.booleans()):
                    df.loc[df.index[i], "stage"] = draw(st.sampled_from(WORDS))
                    df.loc[df.index[i], "amount"] = draw(st.floats(0, 1e5))
                    df.loc[df.index[i], "expected_close_at"] = draw(anytime())
        # 2. appended rows whose time column is >= as_of
        new_rows = []
        for _ in range(draw(st.integers(0, 3))):
            row = {}
            for c in spec.columns:
                if c.name not in df.columns:
                    continue
                if c.name == spec.key:
                    counter += 1
                    row[c.name] = f"new{counter}"
                elif c.kind == "id":
                    row[c.name] = draw(st.sampled_from(POOLS[c.name]))
                elif c.name == spec.time_column:
                    row[c.name] = draw(future(as_of))
                elif c.kind == "datetime":
                    row[c.name] = draw(anytime() | st.none().map(lambda _: pd.NaT)) if c.nullable else draw(anytime())
                elif c.kind == "str":
                    row[c.name] = draw(st.sampled_from(WORDS))
                elif c.kind == "bool":
                    row[c.name] = draw(st.sampled_from([True, False, pd.NA]))
                else:
                    row[c.name] = draw(st.floats(-100, 1e4) if c.name == "amount" and name == "transactions"
                                       else st.floats(0, 1e4))
            new_rows.append(row)
        if new_rows:
            add = pd.DataFrame(new_rows, columns=df.columns)
            for c in df.columns:
                add[c] = add[c].astype(df[c].dtype)
            df = pd.concat([df, add], ignore_index=True)
        frames[name] = df
    return as_of, BASE.replace(**frames)


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=future_world())
def test_future_rows_change_no_feature(case):
    as_of, tables = case
    for name, build in BUILDERS.items():
        got = build(tables, as_of)
        pd.testing.assert_frame_equal(got, EXPECTED[(name, as_of)], obj=f"{name} features as of {as_of}")
    for f in LABELS:
        pd.testing.assert_index_equal(f(tables, as_of, 30).index, EXPECTED_POP[(f.__name__, as_of)])


def test_guard_detects_a_past_change():
    """The property can fail: a change before as_of does change features."""
    as_of = CUTOFFS[-1]
    tx = BASE.transactions.copy()
    tx.loc[0, "amount"] = 1000.0
    assert not customer_features(BASE.replace(transactions=tx), as_of).equals(EXPECTED[("customer", as_of)])
