"""Folder sources: misnamed, special, empty, undecodable, corrupt and disagreeing files lose nothing silently."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmml.data import load_tables, read_table
from crmml.exceptions import DataContractError


def _problems(folder: Path, **kw: object) -> list[str]:
    with pytest.raises(DataContractError) as info:
        load_tables(folder, **kw)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


# ------------------------------------------------------------------- names
@pytest.mark.parametrize(("name", "fix"), [
    ("Transactions.csv", "rename it to transactions.csv"),
    ("TRANSACTIONS.parquet", "rename it to transactions.parquet"),
    ("transactions.CSV", "rename it to transactions.csv"),
    ("transactions.txt", "save it as a comma-separated file named transactions.csv"),
    ("transactions.parq", "rename it to transactions.parquet"),
    ("transactions.csv.gz", "decompress it to transactions.csv (or convert it to transactions.parquet)"),
    ("transactions.csv.bak", "rename it to transactions.csv or transactions.parquet if it holds the table, "
                             "or move it out of the folder"),
    ("transactions", "add the extension: transactions.csv or transactions.parquet"),
])
def test_near_miss_names_are_refused_not_ignored(
    tmp_path: Path, frames: dict[str, pd.DataFrame], name: str, fix: str
) -> None:
    # before: the file was silently not loaded (its rows lost)
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    frames["transactions"].to_csv(tmp_path / name, index=False, compression="infer" if name.endswith(".gz") else None)
    assert _problems(tmp_path) == [
        f"transactions: {name!r} looks like the transactions table but is not read: only transactions.parquet, "
        "transactions.csv or a folder transactions/ of Parquet parts are (names are case-sensitive). "
        f"Fix: {fix}"
    ]


def test_near_miss_next_to_the_real_file_is_refused_too(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["transactions"].to_csv(tmp_path / "transactions.csv", index=False)
    frames["transactions"].to_csv(tmp_path / "Transactions.csv", index=False)
    assert len(_problems(tmp_path)) == 1


def test_near_misses_of_tables_not_requested_are_ignored(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    frames["transactions"].to_csv(tmp_path / "Transactions.csv", index=False)
    assert load_tables(tmp_path, tables=["customers"]).present() == ("customers",)


def test_other_files_are_still_ignored(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    frames["customers"].to_csv(tmp_path / "customers.csv", index=False)
    for name in ("transactions_2023.csv", "notes.txt", ".transactions.csv", "README.md"):
        (tmp_path / name).write_text("x\n1\n")
    assert load_tables(tmp_path).present() == ("customers",)


def test_spark_style_parquet_folder_named_like_a_file(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    parts = tmp_path / "transactions.parquet"
    parts.mkdir()
    frames["transactions"].iloc[:2].to_parquet(parts / "part-00000.snappy.parquet")
    frames["transactions"].iloc[2:].to_parquet(parts / "part-00001.snappy.parquet")
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-00000.snappy.parquet.crc").write_bytes(b"\x00")
    assert load_tables(tmp_path).transactions["transaction_id"].tolist() == ["t1", "t2", "t3", "t4"]


def test_a_csv_name_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "transactions.csv").mkdir()
    assert _problems(tmp_path) == [
        "transactions: 'transactions.csv' is a folder, not a CSV file. Fix: put the CSV file itself at "
        "transactions.csv, or name a folder of Parquet parts transactions/"
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_table_is_not_opened(tmp_path: Path) -> None:
    # before: reading it blocked forever
    os.mkfifo(tmp_path / "transactions.csv")
    assert _problems(tmp_path) == [
        "transactions: 'transactions.csv' is not a regular file or folder (a FIFO, socket or device) and is not "
        "read. Fix: replace it with the exported transactions file"
    ]


def test_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "transactions.csv").symlink_to(tmp_path / "gone.csv")
    assert _problems(tmp_path) == [
        "transactions: 'transactions.csv' cannot be opened (a broken link?). Fix: point it at the exported file, "
        "or remove it"
    ]


# --------------------------------------------------------------------- csv
def test_empty_csv(tmp_path: Path) -> None:
    (tmp_path / "transactions.csv").write_bytes(b"")
    assert _problems(tmp_path) == [
        f"transactions: {str(tmp_path / 'transactions.csv')!r} is empty (0 bytes). "
        "Fix: re-export it with a header row, or remove it from the folder"
    ]


def test_header_only_csv_is_an_empty_table(tmp_path: Path) -> None:
    (tmp_path / "transactions.csv").write_text("transaction_id,customer_id,ts,amount\n")
    assert _problems(tmp_path) == [
        "transactions: table is empty (0 rows). Fix: check the export; leave the table out if you have no such data"
    ]


def test_latin1_csv_names_the_byte_and_the_option(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes("customer_id,signup_at,country\nc1,2024-01-01,Fran\xe7e\n".encode("latin-1"))
    assert _problems(tmp_path) == [
        f"customers: {str(tmp_path / 'customers.csv')!r} is not valid utf-8 text at byte 48 (line 2): invalid "
        "continuation byte. Fix: pass the file's encoding, e.g. encoding='latin-1' or encoding='cp1252' "
        "(Windows exports), or re-export it as UTF-8"
    ]
    assert load_tables(tmp_path, encoding="latin-1").customers["country"].tolist() == ["Fran\xe7e"]


def test_decode_error_far_into_a_large_file(tmp_path: Path) -> None:
    rows = "".join(f"c{i},2024-01-01,DE\n" for i in range(100_000))
    (tmp_path / "customers.csv").write_bytes(("customer_id,signup_at,country\n" + rows).encode() + b"c_x,2024-01-01,\xff\n")
    offset = len(("customer_id,signup_at,country\n" + rows).encode()) + len(b"c_x,2024-01-01,")
    [problem] = _problems(tmp_path)
    assert f"at byte {offset:,} (line 100,002)" in problem


def test_utf16_csv_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes("customer_id,signup_at\nc1,2024-01-01\n".encode("utf-16"))
    assert _problems(tmp_path) == [
        f"customers: {str(tmp_path / 'customers.csv')!r} is UTF-16 encoded (it starts with a UTF-16 byte-order "
        "mark), not utf-8. Fix: pass encoding='utf-16', or re-export it as UTF-8"
    ]
    assert load_tables(tmp_path, encoding="utf-16").customers["customer_id"].tolist() == ["c1"]


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes(b"\xef\xbb\xbfcustomer_id,signup_at\nc1,2024-01-01\n")
    assert load_tables(tmp_path).customers["customer_id"].tolist() == ["c1"]


def test_csv_that_cannot_be_parsed(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text('customer_id,signup_at\nc1,2024-01-01\nc2,"2024-01-02\n')
    [problem] = _problems(tmp_path)
    assert problem.startswith(f"customers: {str(tmp_path / 'customers.csv')!r} cannot be parsed as CSV (")
    assert problem.endswith("Fix: check the delimiter (commas) and the quoting of the export")


def test_repeated_header_names(tmp_path: Path) -> None:
    # pandas would rename the second 'amount' to 'amount.1' and keep going
    (tmp_path / "transactions.csv").write_text("transaction_id,customer_id,ts,amount,amount\nt1,c1,2024-01-01,1,2\n")
    assert _problems(tmp_path) == [
        f"transactions: the header of {str(tmp_path / 'transactions.csv')!r} repeats column names (amount). "
        "Fix: give every column a unique name (pandas would silently rename the copies to name.1)"
    ]


def test_read_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,signup_at\nc1,2024-01-01\n")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pd, "read_csv", denied)
    assert _problems(tmp_path) == [
        f"customers: {str(tmp_path / 'customers.csv')!r} cannot be read (Permission denied). "
        "Fix: check that the file exists and that you may read it"
    ]


def test_every_file_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes(b"")
    (tmp_path / "transactions.parquet").write_bytes(b"not parquet")
    (tmp_path / "Leads.csv").write_text("lead_id\n")
    assert [p.split(":")[0] for p in _problems(tmp_path)] == ["customers", "transactions", "leads"]


def test_text_that_looks_missing_stays_text_in_csv(tmp_path: Path) -> None:
    # before: NA (Namibia), null, None, N/A, nan loaded as missing, and an id NA was refused as missing
    (tmp_path / "customers.csv").write_text(
        "customer_id,signup_at,country,channel,employees,acquisition_cost\n"
        "NA,2024-01-01,NA,null,NA,null\n"
        "007,2024-01-02,None,N/A,,nan\n"
        "nan,2024-01-03,,n/a,12,\n"
    )
    out = load_tables(tmp_path).customers
    assert out["customer_id"].tolist() == ["NA", "007", "nan"]
    assert out["country"].tolist()[:2] == ["NA", "None"] and pd.isna(out["country"].iloc[2])
    assert out["channel"].tolist() == ["null", "N/A", "n/a"]
    assert out["employees"].isna().tolist() == [True, True, False]
    assert out["acquisition_cost"].isna().all()


def test_inf_in_a_csv_number_column_is_refused(tmp_path: Path) -> None:
    (tmp_path / "transactions.csv").write_text(
        "transaction_id,customer_id,ts,amount,cost\nt1,c1,2024-01-01,inf,1\nt2,c1,2024-01-02,1e400,-inf\n"
        "t3,c1,2024-01-03,2,NA\n")
    assert _problems(tmp_path) == [
        "transactions.amount: values are not finite numbers (inf, -inf, or too large for float64 such as 1e400) — "
        "2 rows fail (e.g. t1 (amount=inf), t2 (amount=inf)). Fix: replace them with the real values; leave unknown "
        "values empty where the column allows missing values",
        "transactions.cost: values are not finite numbers (inf, -inf, or too large for float64 such as 1e400) — "
        "1 row fails (e.g. t2 (cost=-inf)). Fix: replace them with the real values; leave unknown values empty "
        "where the column allows missing values",
    ]


def test_formatted_time_column_in_a_csv_keeps_its_text(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,signup_at\nc1,010224\nc2,311224\n")
    out = load_tables(tmp_path, formats={"customers": {"signup_at": "%d%m%y"}}).customers
    assert out["signup_at"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-12-31")]


def test_read_table_uses_the_same_rules(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes(b"")
    with pytest.raises(DataContractError, match=r"customers: .* is empty \(0 bytes\)"):
        read_table(tmp_path / "customers.csv")
    (tmp_path / "leads.csv").write_text("lead_id,source\nNA,NA\n")
    assert read_table(tmp_path / "leads.csv").iloc[0].tolist() == ["NA", "NA"]


# ----------------------------------------------------------------- parquet
def test_corrupt_parquet(tmp_path: Path) -> None:
    (tmp_path / "transactions.parquet").write_bytes(b"garbage" * 10)
    [problem] = _problems(tmp_path)
    assert problem.startswith(
        f"transactions: {str(tmp_path / 'transactions.parquet')!r} is not a readable Parquet file (")
    assert problem.endswith("Fix: re-export it (a complete copy), or remove it from the folder")


def test_corrupt_part(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    parts = tmp_path / "transactions"
    parts.mkdir()
    frames["transactions"].to_parquet(parts / "part-0.parquet")
    (parts / "part-1.parquet").write_bytes(b"garbage" * 10)
    [problem] = _problems(tmp_path)
    assert f"{str(parts / 'part-1.parquet')!r} is not a readable Parquet file" in problem


def test_empty_parts_folder(tmp_path: Path) -> None:
    (tmp_path / "transactions").mkdir()
    assert _problems(tmp_path) == [
        f"transactions: the folder {str(tmp_path / 'transactions')!r} holds no Parquet part files. "
        "Fix: put the table's part files in it, or remove the empty folder"
    ]


def test_parts_missing_a_column_are_unified_not_truncated(
    tmp_path: Path, frames: dict[str, pd.DataFrame], caplog: pytest.LogCaptureFixture
) -> None:
    # before: the first part's schema won, so 'cost' and 'channel' vanished for every row
    parts = tmp_path / "transactions"
    parts.mkdir()
    tx = frames["transactions"]
    tx.iloc[:2].to_parquet(parts / "part-0.parquet")
    tx.iloc[2:].assign(cost=[1.0, 2.0], channel=["web", "shop"]).to_parquet(parts / "part-1.parquet")
    with caplog.at_level(logging.WARNING, logger="crmml"):
        out = load_tables(tmp_path).transactions
    assert out["cost"].tolist()[2:] == [1.0, 2.0] and out["cost"].iloc[:2].isna().all()
    assert out["channel"].tolist()[2:] == ["web", "shop"]
    assert "transactions: column 'cost' is missing from 1 of 2 Parquet parts (part-0.parquet)" in caplog.text


def test_parts_with_widening_types_are_unified(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    parts = tmp_path / "transactions"
    parts.mkdir()
    tx = frames["transactions"]
    tx.iloc[:2].assign(amount=np.array([1, 2], dtype="int32")).to_parquet(parts / "part-0.parquet")
    tx.iloc[2:].assign(customer_id=pd.Categorical(["c2", "c3"])).to_parquet(parts / "part-1.parquet")
    out = load_tables(tmp_path).transactions
    assert out["amount"].tolist() == [1.0, 2.0, 13.5, 100.0]
    assert out["customer_id"].tolist() == ["c1", "c1", "c2", "c3"]


def test_parts_with_conflicting_types_are_refused(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    parts = tmp_path / "transactions"
    parts.mkdir()
    tx = frames["transactions"]
    tx.iloc[:2].to_parquet(parts / "part-0.parquet")
    tx.iloc[2:].assign(amount=["13.5", "100"]).to_parquet(parts / "part-1.parquet")
    assert _problems(tmp_path) == [
        f"transactions.amount: Parquet parts in {str(parts)!r} disagree on the column's type: double in "
        "part-0.parquet; large_string in part-1.parquet. Fix: re-export the parts with one type for this column"
    ]
