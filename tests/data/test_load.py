"""load_tables: sources, mapping, tables= restriction, and the errors of each."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from crmml.data import TABLE_NAMES, CRMTables, load_tables, read_table
from crmml.exceptions import DataContractError, ParameterError


def test_every_table_loads_from_a_dict(frames: dict[str, pd.DataFrame]) -> None:
    tables = load_tables(frames)
    assert tables.present() == TABLE_NAMES
    assert tables.n_rows()["transactions"] == 4


def test_csv_folder(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    for name, df in frames.items():
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "notes.txt").write_text("not a table")
    tables = load_tables(tmp_path)
    assert tables.present() == TABLE_NAMES
    assert tables.transactions["ts"].iloc[0] == pd.Timestamp("2023-01-05 10:00")
    assert tables.opportunities["won"].tolist() == [True, False, pd.NA]


def test_csv_ids_keep_leading_zeros(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("cust,signup_at\n007,2024-01-01\n010,2024-01-02\n")
    tables = load_tables(tmp_path, mapping={"customers": {"cust": "customer_id"}})
    assert tables.customers["customer_id"].tolist() == ["007", "010"]


def test_parquet_folder(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    for name, df in frames.items():
        df.to_parquet(tmp_path / f"{name}.parquet")
    tables = load_tables(tmp_path)
    assert tables.present() == TABLE_NAMES
    assert tables.customers["signup_at"].dtype == "datetime64[ns]"


def test_folder_of_parquet_parts(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    parts = tmp_path / "transactions"
    parts.mkdir()
    tx = frames["transactions"]
    tx.iloc[:2].to_parquet(parts / "part-0.parquet")
    tx.iloc[2:].to_parquet(parts / "part-1.parquet")
    tables = load_tables(tmp_path)
    assert tables.present() == ("transactions",)
    assert sorted(tables.transactions["transaction_id"]) == ["t1", "t2", "t3", "t4"]


def test_tables_restriction_loads_only_those(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    for name, df in frames.items():
        df.to_parquet(tmp_path / f"{name}.parquet")
    tables = load_tables(tmp_path, tables=["transactions", "customers"])
    assert tables.present() == ("customers", "transactions")
    assert load_tables(frames, tables=["leads"]).present() == ("leads",)


def test_crmtables_source_is_reloaded(frames: dict[str, pd.DataFrame]) -> None:
    first = load_tables(frames)
    again = load_tables(first, tables=["customers"])
    pd.testing.assert_frame_equal(again.customers, first.customers)


def test_mapping_renames_before_validation(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].rename(columns={"ts": "OrderDate", "amount": "Revenue"})
    tables = load_tables({"transactions": tx}, mapping={"transactions": {"OrderDate": "ts", "Revenue": "amount"}})
    assert list(tables.transactions.columns) == ["transaction_id", "customer_id", "ts", "amount"]


def test_validate_false_still_converts_types(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"].assign(amount=[-1.0, 2.0, 3.0, 4.0], transaction_id=[1, 1, 2, 3])
    tables = load_tables({"transactions": tx}, validate=False)
    assert tables.transactions["transaction_id"].tolist() == ["1", "1", "2", "3"]


def test_read_table_reads_raw(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    raw = read_table(tmp_path / "customers.csv")
    assert raw["signup_at"].tolist() == ["2023-01-01", "2023-02-01", "2023-03-01"]


# ------------------------------------------------------------------ errors
def test_mapping_source_column_missing(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.OrderDate: mapping source column 'OrderDate' (for 'ts') is not in the table. "
        "Fix: the table's columns are: transaction_id, customer_id, ts, amount"
    )):
        load_tables({"transactions": frames["transactions"]}, mapping={"transactions": {"OrderDate": "ts"}})


def test_unknown_table_name_in_dict(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "transaction: unknown table name in the dict of tables. Fix: did you mean 'transactions'? "
        "contract tables are: customers, transactions, interactions, contacts, invoices, subscriptions, "
        "leads, lead_events, opportunities, opportunity_history"
    )):
        load_tables({"transaction": frames["transactions"]})


def test_unknown_table_name_in_tables_argument(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=r"orders: unknown table name in tables=\. Fix: contract tables are"):
        load_tables(frames, tables=["orders"])


def test_unknown_table_name_in_mapping(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=r"lead: unknown table name in mapping\. Fix: did you mean 'leads'\?"):
        load_tables(frames, mapping={"lead": {"a": "b"}})


def test_requested_table_not_in_source(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "leads: table was requested with tables= but not found in the source"
    )):
        load_tables({"customers": frames["customers"]}, tables=["customers", "leads"])


def test_folder_without_tables(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("a\n1\n")
    with pytest.raises(DataContractError, match=r"no contract table files found in .*Fix: name the files after"):
        load_tables(tmp_path)


def test_two_files_for_one_table(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    frames["customers"].to_parquet(tmp_path / "customers.parquet")
    with pytest.raises(DataContractError, match=re.escape(
        "customers: several files for one table (customers.parquet, customers.csv)"
    )):
        load_tables(tmp_path)


def test_missing_folder_is_a_data_contract_error() -> None:
    # before: FileNotFoundError, which the CLI maps to exit 4 instead of 3
    with pytest.raises(DataContractError, match=re.escape(
        "(folder): '/nonexistent/crm/export' does not exist. Fix: pass the folder that holds the table files"
    )):
        load_tables("/nonexistent/crm/export")


def test_a_file_instead_of_a_folder(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    with pytest.raises(DataContractError, match=re.escape(
        f"(folder): {str(tmp_path / 'customers.csv')!r} is not a folder. Fix: pass the folder that holds the "
        "table files, or a dict {table name: DataFrame}"
    )):
        load_tables(tmp_path / "customers.csv")


def test_dict_value_not_a_frame() -> None:
    with pytest.raises(DataContractError, match="customers: expected a pandas DataFrame, got list"):
        load_tables({"customers": [1, 2]})  # type: ignore[dict-item]


def test_source_of_wrong_type() -> None:
    with pytest.raises(TypeError, match="expects a folder path, a dict of DataFrames or a CRMTables; got int"):
        load_tables(3)  # type: ignore[arg-type]


def test_crmtables_type_is_returned(frames: dict[str, pd.DataFrame]) -> None:
    assert isinstance(load_tables(frames, tables=["customers"]), CRMTables)


def test_tables_of_wrong_type(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ParameterError, match=re.escape(
        "The 'tables' parameter must be a table name or a list of table names such as "
        "['customers', 'transactions']. Got 3 instead."
    )):
        load_tables(frames, tables=3)  # type: ignore[arg-type]


def test_read_table_with_an_unknown_table_name(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    with pytest.raises(DataContractError, match=r"customer: unknown table name in read_table\(table=\)"):
        read_table(tmp_path / "customers.csv", table="customer")


def test_coerce_table_takes_formats() -> None:
    from crmml.data._coerce import coerce_table

    res = coerce_table("customers", pd.DataFrame({"signup_at": ["31.12.2024"]}), {"signup_at": "%d.%m.%Y"})
    assert res.problems == [] and res.frame["signup_at"].tolist() == [pd.Timestamp("2024-12-31")]
