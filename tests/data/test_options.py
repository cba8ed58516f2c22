"""load_tables options: mapping (with formats), formats=, na_values=, encoding= and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from crmml.data import load_tables
from crmml.exceptions import DataContractError, ParameterError


def _tx_dmy() -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": ["t1", "t2"], "customer_id": ["c1", "c2"],
        "Date": ["03/04/2024", "31/12/2024"], "amount": [1.0, 2.0],
    })


# ------------------------------------------------------------------ formats
def test_formats_option_reads_day_first() -> None:
    tx = _tx_dmy().rename(columns={"Date": "ts"})
    out = load_tables({"transactions": tx}, formats={"transactions": {"ts": "%d/%m/%Y"}}).transactions
    assert out["ts"].tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-12-31")]


def test_format_inside_the_mapping() -> None:
    out = load_tables(
        {"transactions": _tx_dmy()},
        mapping={"transactions": {"Date": {"column": "ts", "format": "%d/%m/%Y"}}},
    ).transactions
    assert out["ts"].tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-12-31")]


def test_format_with_offsets_converts_to_utc() -> None:
    tx = _tx_dmy().assign(ts=["03/04/2024 10:00 +0200", "31/12/2024 10:00 -0100"]).drop(columns="Date")
    out = load_tables({"transactions": tx}, formats={"transactions": {"ts": "%d/%m/%Y %H:%M %z"}}).transactions
    assert out["ts"].tolist() == [pd.Timestamp("2024-04-03 08:00"), pd.Timestamp("2024-12-31 11:00")]


def test_values_that_do_not_match_the_format() -> None:
    tx = _tx_dmy().assign(ts=["03/04/2024", "2024-12-31"]).drop(columns="Date")
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: values do not match the time format '%d/%m/%Y' — 1 row fails (e.g. t2 (ts='2024-12-31')). "
        "Fix: fix these values, or correct the format given with formats={'transactions': {'ts': '%d/%m/%Y'}}"
    )):
        load_tables({"transactions": tx}, formats={"transactions": {"ts": "%d/%m/%Y"}})


def test_without_a_format_the_error_suggests_one() -> None:
    tx = _tx_dmy().rename(columns={"Date": "ts"})
    with pytest.raises(DataContractError, match=re.escape(
        "(or in mapping=); these look like '%d/%m/%Y'"
    )):
        load_tables({"transactions": tx})


def test_format_for_a_column_that_is_not_a_timestamp() -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.amount: a time format is given for a column that is not a timestamp column. "
        "Fix: formats apply to the timestamp columns of transactions: ts"
    )):
        load_tables({"transactions": _tx_dmy()}, formats={"transactions": {"amount": "%d/%m/%Y"}})


@pytest.mark.parametrize(("formats", "message"), [
    (["%d/%m/%Y"], "The 'formats' parameter must be a dict {table: {column: time format}}"),
    ({"transactions": "%d/%m/%Y"}, "The 'formats' parameter must map each table to a dict {column name: time format}"),
    ({"transactions": {3: "%d"}}, "The 'formats' parameter must map each table to a dict"),
    ({"transactions": {"ts": "dd/mm/yyyy"}}, "The time format formats['transactions']['ts'] must be a strftime"),
    ({"transactions": {"ts": "mixed"}}, "per-value guessing such as 'mixed' is not allowed"),
    ({"transactions": {"ts": "%Q"}}, "The time format formats['transactions']['ts'] cannot be used"),
    ({1: {"ts": "%d"}}, "The 'formats' parameter must be keyed by table names (text); got the key 1 (int)"),
])
def test_wrong_formats_option(formats: object, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        load_tables({"transactions": _tx_dmy()}, formats=formats)  # type: ignore[arg-type]


def test_unknown_table_in_formats() -> None:
    with pytest.raises(DataContractError, match=r"transaction: unknown table name in formats\. Fix: did you mean"):
        load_tables({"transactions": _tx_dmy()}, formats={"transaction": {"ts": "%d/%m/%Y"}})


def test_two_different_formats_for_one_column() -> None:
    with pytest.raises(ParameterError, match=re.escape(
        "Two different time formats are given for transactions.ts: '%d/%m/%Y' in 'mapping' and '%m/%d/%Y' in 'formats'"
    )):
        load_tables({"transactions": _tx_dmy()},
                    mapping={"transactions": {"Date": {"column": "ts", "format": "%d/%m/%Y"}}},
                    formats={"transactions": {"ts": "%m/%d/%Y"}})


# ------------------------------------------------------------------ mapping
def test_two_source_columns_onto_one_contract_column() -> None:
    # before: AttributeError ('DataFrame' object has no attribute 'dtype')
    tx = _tx_dmy().assign(Date2=["2024-01-01", "2024-01-02"])
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: mapping maps several source columns onto 'ts' ('Date', 'Date2'). "
        "Fix: map exactly one source column to 'ts' and leave the others out of the mapping"
    )):
        load_tables({"transactions": tx}, mapping={"transactions": {"Date": "ts", "Date2": "ts"}})


def test_mapping_onto_a_column_the_table_already_has() -> None:
    tx = _tx_dmy().assign(ts=["2024-01-01", "2024-01-02"])
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: mapping renames 'Date' to 'ts', but the table already has a 'ts' column. "
        "Fix: drop one of the two columns, or also map 'ts' to another name"
    )):
        load_tables({"transactions": tx}, mapping={"transactions": {"Date": "ts"}})


def test_swapping_two_columns_is_allowed() -> None:
    tx = _tx_dmy().rename(columns={"Date": "ts"}).rename(columns={"amount": "ts", "ts": "amount"})
    out = load_tables({"transactions": tx}, mapping={"transactions": {"ts": "amount", "amount": "ts"}},
                      formats={"transactions": {"ts": "%d/%m/%Y"}}).transactions
    assert out["amount"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("mapping", "message"), [
    (["ts"], "The 'mapping' parameter must be a dict {table: {source column: contract column}}"),
    ({"transactions": ["Date", "ts"]}, "mapping['transactions'] is a list (['Date', 'ts'])"),
    ({"transactions": {"Date": ["ts", "x"]}}, "mapping['transactions']['Date'] is ['ts', 'x']"),
    ({"transactions": {"Date": ""}}, "mapping['transactions']['Date'] is ''"),
    ({"transactions": {"Date": {"col": "ts"}}}, "mapping['transactions']['Date'] is {'col': 'ts'}"),
    ({"transactions": {0: "ts"}}, "mapping['transactions'] has the key 0 (int)"),
    ({("transactions",): {"Date": "ts"}}, "The 'mapping' parameter must be keyed by table names (text)"),
])
def test_wrong_mapping_types(mapping: object, message: str) -> None:
    # before: a list as a value raised ValueError from pandas
    with pytest.raises(ParameterError, match=re.escape(message)):
        load_tables({"transactions": _tx_dmy()}, mapping=mapping)  # type: ignore[arg-type]


def test_duplicate_column_names_in_a_frame() -> None:
    tx = pd.concat([_tx_dmy().rename(columns={"Date": "ts"}), pd.DataFrame({"amount": [3.0, 4.0]})], axis=1)
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.amount: the column appears 2 times. Fix: keep one 'amount' column (column names must be unique)"
    )):
        load_tables({"transactions": tx}, formats={"transactions": {"ts": "%d/%m/%Y"}})


# ---------------------------------------------------------------- na_values
def test_na_values_for_a_text_column_of_a_csv(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,signup_at,country,channel\nc1,2024-01-01,NA,-\nc2,2024-01-02,-,NA\n")
    out = load_tables(tmp_path, na_values={"customers": {"country": ["-"]}}).customers
    assert out["country"].tolist()[0] == "NA" and pd.isna(out["country"].iloc[1])
    assert out["channel"].tolist() == ["-", "NA"]


def test_na_values_everywhere_and_per_table(frames: dict[str, pd.DataFrame]) -> None:
    cust = frames["customers"].assign(country=["DE", "n.a.", "?"], acquisition_cost=["1", "n.a.", "?"])
    with pytest.raises(DataContractError, match=re.escape(
        "customers.acquisition_cost: values are not numbers — 1 row fails (e.g. c3 (acquisition_cost='?'))"
    )):
        load_tables({"customers": cust}, na_values=["n.a."])
    out = load_tables({"customers": cust.assign(acquisition_cost=["1", "n.a.", None])}, na_values=["n.a."]).customers
    assert out["country"].isna().tolist() == [False, True, False]
    out = load_tables({"customers": cust}, na_values={"customers": ["n.a.", "?"]}).customers
    assert out["acquisition_cost"].isna().tolist() == [False, True, True]
    assert out["country"].isna().tolist() == [False, True, True]


@pytest.mark.parametrize(("na_values", "message"), [
    (3, "The 'na_values' parameter must be a list of text values that mean missing"),
    ([None], "na_values holds None"),
    ({"customers": 3}, "na_values['customers'] is 3"),
    ({"customers": {"country": 3}}, "na_values['customers']['country'] is 3"),
    ({"customers": {"country": [1]}}, "na_values['customers']['country'] holds 1"),
])
def test_wrong_na_values_types(frames: dict[str, pd.DataFrame], na_values: object, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        load_tables({"customers": frames["customers"]}, na_values=na_values)  # type: ignore[arg-type]


def test_unknown_table_in_na_values(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=r"customer: unknown table name in na_values\. Fix: did you mean"):
        load_tables({"customers": frames["customers"]}, na_values={"customer": ["-"]})


@pytest.mark.parametrize("encoding", ["no-such-codec", 8, None])
def test_wrong_encoding(frames: dict[str, pd.DataFrame], encoding: object) -> None:
    with pytest.raises(ParameterError, match=re.escape(
        f"The 'encoding' parameter must name a text encoding such as 'utf-8', 'latin-1', 'cp1252' or 'utf-16'. "
        f"Got {encoding!r} instead."
    )):
        load_tables({"customers": frames["customers"]}, encoding=encoding)  # type: ignore[arg-type]
