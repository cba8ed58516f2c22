"""Contract validation: the error battery and the happy paths."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from crmml.data import TABLE_NAMES, CRMTables, load_tables, validate_tables
from crmml.exceptions import DataContractError, ParameterError


def _load(frames: dict[str, pd.DataFrame], **kw: object) -> CRMTables:
    return load_tables(frames, **kw)  # type: ignore[arg-type]


def _problems(frames: dict[str, pd.DataFrame], **kw: object) -> list[str]:
    with pytest.raises(DataContractError) as info:
        _load(frames, **kw)
    return [str(p) for p in info.value.problems]


# ------------------------------------------------------------- happy paths
@pytest.mark.parametrize("name", TABLE_NAMES)
def test_each_table_validates_alone(frames: dict[str, pd.DataFrame], name: str) -> None:
    tables = _load({name: frames[name]})
    assert tables.present() == (name,)
    validate_tables(tables)


def test_loaded_tables_validate_again(frames: dict[str, pd.DataFrame]) -> None:
    assert validate_tables(_load(frames)) is None  # raises DataContractError on any problem


def test_foreign_keys_are_not_checked_without_the_referenced_table(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].assign(customer_id=["x1", "x2", "x3", "x4"])
    loaded = _load({"transactions": tx})  # no customers table: nothing to check the ids against
    assert loaded.transactions["customer_id"].tolist() == ["x1", "x2", "x3", "x4"]


def test_missing_contact_id_is_not_an_orphan(frames: dict[str, pd.DataFrame]) -> None:
    tables = _load(frames)
    assert tables.interactions["contact_id"].isna().sum() == 1


def test_interaction_type_is_an_open_vocabulary(frames: dict[str, pd.DataFrame]) -> None:
    tables = _load(frames, tables=["interactions"])
    assert "a_new_kind" in set(tables.interactions["type"])


def test_custom_stages(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].assign(stage=["won", "lost", "demo"])
    hist = frames["opportunity_history"].assign(stage=["lead", "won", "lead", "demo"])
    stages = ["lead", "demo", "won", "lost"]
    tables = _load({"opportunities": opp, "opportunity_history": hist}, stages=stages)
    validate_tables(tables, stages=stages)
    with pytest.raises(DataContractError, match=r"opportunities\.stage: must be one of the configured stages"):
        validate_tables(tables)


def test_bad_stage_configuration() -> None:
    with pytest.raises(ParameterError, match=re.escape(
        "The 'stages' parameter must be a sequence of at least 3 distinct non-empty stage names"
    )):
        validate_tables(CRMTables(), stages=["won", "lost"])


# ----------------------------------------------------------- error battery
def test_missing_column(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].drop(columns="amount")
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.amount: required column is missing. Fix: add it, or map your column to it with "
        "mapping={'transactions': {'YourColumn': 'amount'}} (columns present: transaction_id, customer_id, ts)"
    )):
        _load({"transactions": tx})


def test_wrong_type(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].assign(amount=["20", "abc", "13.5", "x"])
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.amount: values are not numbers — 2 rows fail (e.g. t2 (amount='abc'), t4 (amount='x')). "
        "Fix: use plain numbers"
    )):
        _load({"transactions": tx})


def test_wrong_dtype_handed_to_validate_tables(frames: dict[str, pd.DataFrame]) -> None:
    raw = CRMTables.from_frames({"transactions": frames["transactions"]})
    with pytest.raises(DataContractError, match=(
        r"transactions\.ts: expected datetime64\[ns\] timestamps \(naive UTC\), got dtype (str|object)\. "
        r"Fix: load the tables with crmml\.data\.load_tables, which converts types"
    )):
        validate_tables(raw, context="ChurnModel.fit")


def test_nat_in_required_time(frames: dict[str, pd.DataFrame]) -> None:
    cust = frames["customers"].assign(signup_at=["2023-01-01", None, None])
    with pytest.raises(DataContractError, match=re.escape(
        "customers.signup_at: must not be missing — 2 rows fail (e.g. c2, c3). "
        "Fix: every row needs a signup_at"
    )):
        _load({"customers": cust})


def test_duplicate_key(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].assign(transaction_id=["t1", "t2", "t1", "t1"])
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.transaction_id: key values must be unique — 3 rows fail (e.g. t1). "
        "Fix: each transaction_id may appear once"
    )):
        _load({"transactions": tx})


def test_orphan_foreign_key(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].assign(customer_id=["c1", "c9", "c2", "c8"])
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.customer_id: must exist in customers.customer_id — 2 rows fail "
        "(e.g. t2 (customer_id='c9'), t4 (customer_id='c8'))"
    )):
        _load({"customers": frames["customers"], "transactions": tx})


def test_orphan_history_row(frames: dict[str, pd.DataFrame]) -> None:
    hist = frames["opportunity_history"].assign(opportunity_id=["o1", "o1", "o2", "o7"])
    with pytest.raises(DataContractError, match=re.escape(
        "opportunity_history.opportunity_id: must exist in opportunities.opportunity_id — 1 row fails (e.g. 'o7')"
    )):
        _load({"opportunities": frames["opportunities"], "opportunity_history": hist})


def test_unknown_stage(frames: dict[str, pd.DataFrame]) -> None:
    hist = frames["opportunity_history"].assign(stage=["qualification", "won", "demo", "proposal"])
    with pytest.raises(DataContractError, match=re.escape(
        "opportunity_history.stage: must be one of the configured stages (qualification, needs_analysis, "
        "proposal, negotiation, closed_won, closed_lost) — 2 rows fail (e.g. o1, o2)"
    )):
        _load({"opportunity_history": hist})


def test_negative_amount_where_non_negative_required(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].assign(amount=[1000.0, -5.0, 500.0])
    with pytest.raises(DataContractError, match=re.escape(
        "opportunities.amount: must be >= 0 — 1 row fails (e.g. o2). Fix: amount cannot be negative"
    )):
        _load({"opportunities": opp})


def test_negative_transaction_amount_is_a_refund_and_allowed(frames: dict[str, pd.DataFrame]) -> None:
    assert (_load({"transactions": frames["transactions"]}).transactions["amount"] < 0).sum() == 1


def test_mixed_time_zones(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].assign(ts=["2023-01-05T10:00+02:00", "2023-01-05 10:00", "2023-01-06", "2023-01-07"])
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: timestamps mix values with a UTC offset (1) and values without (3); "
        "the ones without are ambiguous — 3 rows fail (e.g. t2 (ts='2023-01-05 10:00'), t3 (ts='2023-01-06'), "
        "t4 (ts='2023-01-07')). Fix: give every value an offset"
    )):
        _load({"transactions": tx})


def test_empty_table(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "contacts: table is empty (0 rows). Fix: check the export; leave the table out if you have no such data"
    )):
        _load({"contacts": frames["contacts"].iloc[:0]})


def test_empty_text(frames: dict[str, pd.DataFrame]) -> None:
    inter = frames["interactions"].assign(type=["call", "  ", "meeting"])
    with pytest.raises(DataContractError, match=re.escape(
        "interactions.type: must not be empty text — 1 row fails (e.g. i2)"
    )):
        _load({"interactions": inter})


def test_examples_use_the_entity_when_there_is_no_key(frames: dict[str, pd.DataFrame]) -> None:
    events = frames["lead_events"].assign(ts=["2023-01-02", None, "2023-01-16"])
    with pytest.raises(DataContractError, match=re.escape("lead_events.ts: must not be missing — 1 row fails (e.g. L1)")):
        _load({"lead_events": events})


def test_employees_must_be_whole(frames: dict[str, pd.DataFrame]) -> None:
    cust = frames["customers"].assign(employees=[10.5, None, 3])
    with pytest.raises(DataContractError, match=re.escape("customers.employees: must be a whole number — 1 row fails (e.g. c1)")):
        _load({"customers": cust})


def test_due_before_issue(frames: dict[str, pd.DataFrame]) -> None:
    inv = frames["invoices"].assign(due_at=["2023-01-01", "2023-03-31"])
    with pytest.raises(DataContractError, match=re.escape(
        "invoices.due_at: due_at must not be before issued_at — 1 row fails (e.g. v1)"
    )):
        _load({"invoices": inv})


def test_payment_before_issue(frames: dict[str, pd.DataFrame]) -> None:
    inv = frames["invoices"].assign(paid_at=["2023-01-20", None])
    with pytest.raises(DataContractError, match=re.escape(
        "invoices.paid_at: paid_at must not be before issued_at (a payment before the invoice is suspicious) — 1 row fail"
    )):
        _load({"invoices": inv})


def test_subscription_ends_before_start(frames: dict[str, pd.DataFrame]) -> None:
    subs = frames["subscriptions"].assign(end_at=["2022-12-31", None])
    with pytest.raises(DataContractError, match=re.escape(
        "subscriptions.end_at: end_at must not be before start_at — 1 row fails (e.g. s1)"
    )):
        _load({"subscriptions": subs})


def test_opportunity_closed_before_created(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].assign(closed_at=["2022-02-01", "2023-03-01", None])
    with pytest.raises(DataContractError, match=re.escape(
        "opportunities.closed_at: closed_at must not be before created_at — 1 row fails (e.g. o1)"
    )):
        _load({"opportunities": opp})


def test_closed_stage_without_closed_at(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].assign(closed_at=[None, "2023-03-01", "2023-04-01"], won=[True, False, None])
    problems = _problems({"opportunities": opp})
    assert problems == [
        "opportunities.closed_at: closed_at must be set exactly when the stage is closed (closed_won or closed_lost)"
        " — 2 rows fail (e.g. o1, o3). Fix: set closed_at for closed opportunities and leave it empty for open ones",
        "opportunities.won: won must be set exactly when closed_at is set — 2 rows fail (e.g. o1, o3). "
        "Fix: set won to True/False for closed opportunities and leave it empty for open ones",
    ]


def test_won_disagrees_with_stage(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].assign(won=[False, True, None])
    with pytest.raises(DataContractError, match=re.escape(
        "opportunities.won: won must be True exactly when the stage is 'closed_won' — 2 rows fail (e.g. o1, o2)"
    )):
        _load({"opportunities": opp})


def test_several_problems_are_reported_together(frames: dict[str, pd.DataFrame]) -> None:
    bad = dict(frames)
    bad["customers"] = frames["customers"].assign(signup_at=[None, "2023-02-01", "2023-03-01"])
    bad["transactions"] = frames["transactions"].assign(
        amount=[1.0, "abc", 2.0, 3.0], customer_id=["c1", "c1", "c9", "c3"], transaction_id=["t1", "t2", "t3", "t3"],
    )
    bad["leads"] = frames["leads"].drop(columns="source")
    bad["contacts"] = frames["contacts"].iloc[:0]
    bad["opportunities"] = frames["opportunities"].assign(amount=[-1.0, 2.0, 3.0])
    with pytest.raises(DataContractError) as info:
        _load(bad)
    message = str(info.value)
    assert message.startswith("8 data contract problems found while loading tables:\n")
    assert [(p.table, p.column) for p in info.value.problems] == [
        ("customers", "signup_at"),
        ("transactions", "amount"),
        ("transactions", "transaction_id"),
        ("transactions", "customer_id"),
        ("interactions", "contact_id"),
        ("contacts", None),
        ("leads", "source"),
        ("opportunities", "amount"),
    ]
    assert message.endswith("See docs/user-guide.md#data-contract for every table and column.")


def test_validate_tables_context_in_message(frames: dict[str, pd.DataFrame]) -> None:
    tables = _load(frames)
    broken = tables.replace(customers=tables.customers.iloc[:0])
    with pytest.raises(DataContractError, match=r"^7 data contract problems found while CLVModel\.fit:"):
        validate_tables(broken, context="CLVModel.fit")


def test_every_missing_column_is_reported(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].drop(columns=["stage", "won"])
    assert _problems({"opportunities": opp}) == [
        "opportunities.stage: required column is missing. Fix: add it, or map your column to it with "
        "mapping={'opportunities': {'YourColumn': 'stage'}} (columns present: opportunity_id, customer_id, "
        "created_at, amount, expected_close_at, closed_at)",
        "opportunities.won: required column is missing. Fix: add it, or map your column to it with "
        "mapping={'opportunities': {'YourColumn': 'won'}} (columns present: opportunity_id, customer_id, "
        "created_at, amount, expected_close_at, closed_at)",
    ]


def test_wrong_won_dtype_handed_to_validate_tables(frames: dict[str, pd.DataFrame]) -> None:
    tables = _load(frames, tables=["opportunities"])
    broken = tables.replace(opportunities=tables.opportunities.assign(won=["yes", "no", None]))
    with pytest.raises(DataContractError, match=(
        r"^1 data contract problem found while validating tables:\n"
        r"  - opportunities\.won: expected pandas 'boolean' \(True/False/missing\), got dtype (str|object)\. "
    )):
        validate_tables(broken)


# ------------------------------------------------------------ contradictions
def test_lead_converted_before_created(frames: dict[str, pd.DataFrame]) -> None:
    leads = frames["leads"].assign(converted_at=["2022-12-31", None])
    with pytest.raises(DataContractError, match=re.escape(
        "leads.converted_at: converted_at must not be before created_at — 1 row fails (e.g. L1). "
        "Fix: check the time zones or the export of these leads"
    )):
        _load({"leads": leads})


def test_lead_event_before_its_lead_was_created(frames: dict[str, pd.DataFrame]) -> None:
    events = frames["lead_events"].assign(ts=["2022-12-31 23:00", "2023-01-03", "2023-01-14"])
    assert _problems({"leads": frames["leads"], "lead_events": events}) == [
        "lead_events.ts: ts must not be before the lead's leads.created_at — 2 rows fail "
        "(e.g. L1 (ts 2022-12-31 23:00:00 < created_at 2023-01-01), L2 (ts 2023-01-14 < created_at 2023-01-15)). "
        "Fix: check the time zones or the export; an event cannot happen before its lead was created"
    ]
    _load({"lead_events": events})  # without leads there is nothing to compare with


def test_history_row_before_its_opportunity_was_created(frames: dict[str, pd.DataFrame]) -> None:
    hist = frames["opportunity_history"].assign(ts=["2023-01-09", "2023-02-01", "2023-02-10", "2023-03-10"])
    assert _problems({"opportunities": frames["opportunities"], "opportunity_history": hist}) == [
        "opportunity_history.ts: ts must not be before the opportunity's opportunities.created_at — 1 row fails "
        "(e.g. o1 (ts 2023-01-09 < created_at 2023-01-10)). "
        "Fix: check the time zones or the export; an event cannot happen before its opportunity was created"
    ]


def test_latest_history_stage_contradicts_won(frames: dict[str, pd.DataFrame]) -> None:
    opp = frames["opportunities"].assign(stage=["closed_lost", "closed_won", "proposal"], won=[False, True, None])
    hist = frames["opportunity_history"].assign(stage=["qualification", "closed_won", "closed_lost", "proposal"])
    assert _problems({"opportunities": opp, "opportunity_history": hist}) == [
        "opportunities.won: won must agree with the latest opportunity_history stage (closed_won means True, "
        "closed_lost means False) — 2 rows fail (e.g. o1 (won=False, latest stage 'closed_won'), "
        "o2 (won=True, latest stage 'closed_lost')). Fix: correct won, or the history "
        "(a reopened deal needs a history row for the stage it is in now)"
    ]


def test_latest_history_stage_is_taken_by_time_not_by_row_order(frames: dict[str, pd.DataFrame]) -> None:
    hist = frames["opportunity_history"].iloc[[1, 0, 2, 3]]  # o1's closed_won row first in the file
    assert _load({"opportunities": frames["opportunities"], "opportunity_history": hist}).present() == (
        "opportunities", "opportunity_history")
    custom = ["lead", "demo", "won", "lost"]
    opp = frames["opportunities"].assign(stage=["won", "lost", "demo"], won=[True, True, None])
    hist = frames["opportunity_history"].assign(stage=["lead", "won", "lost", "demo"])
    problems = _problems({"opportunities": opp, "opportunity_history": hist}, stages=custom)
    assert any("won must agree with the latest opportunity_history stage (won means True, lost means False) "
               "— 1 row fails (e.g. o2 (won=True, latest stage 'lost'))" in p for p in problems)


@pytest.mark.parametrize("name", ["lead_events", "opportunity_history", "interactions"])
def test_exact_duplicate_rows_are_refused(frames: dict[str, pd.DataFrame], name: str) -> None:
    frame = frames[name]
    if name == "interactions":
        frame = frame.drop(columns="interaction_id")
    doubled = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    key_hint = " (or give each row an interaction_id)" if name == "interactions" else ""
    entity = str(frame.iloc[0][{"lead_events": "lead_id", "opportunity_history": "opportunity_id",
                                "interactions": "customer_id"}[name]])
    assert _problems({name: doubled}) == [
        f"{name}: rows must not be exact copies of each other (every column equal; usually a double export) — "
        f"2 rows fail (e.g. {entity}). Fix: remove the copies, e.g. df.drop_duplicates(); if the events "
        f"really happened twice, record them with distinct times{key_hint}"
    ]


def test_same_entity_and_time_but_different_rows_are_fine(frames: dict[str, pd.DataFrame]) -> None:
    events = frames["lead_events"].assign(ts=["2023-01-02", "2023-01-02", "2023-01-16"])
    assert len(_load({"lead_events": events}).lead_events) == 3


def test_interactions_with_an_id_use_the_key_rule_only(frames: dict[str, pd.DataFrame]) -> None:
    inter = pd.concat([frames["interactions"], frames["interactions"].iloc[[0]]], ignore_index=True)
    assert _problems({"interactions": inter}) == [
        "interactions.interaction_id: key values must be unique — 2 rows fail (e.g. i1). "
        "Fix: each interaction_id may appear once; remove or merge the duplicate rows"
    ]


def test_infinite_numbers_handed_to_validate_tables(frames: dict[str, pd.DataFrame]) -> None:
    tables = _load(frames, tables=["transactions"])
    broken = tables.replace(transactions=tables.transactions.assign(amount=[1.0, float("inf"), 2.0, 3.0]))
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.amount: must be a finite number (not inf or -inf) — 1 row fails (e.g. t2)"
    )):
        validate_tables(broken)
