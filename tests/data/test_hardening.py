"""Property: odd values in any number or time column give a clear crmml error or a correct load.

A tiny valid set of tables (``conftest.valid_frames``) gets one cell, or a
whole column, of one number or time column replaced by an odd value: ±inf,
NaN, huge or negative numbers, number-like and missing-like text, odd
unicode, bools, datetimes where numbers belong, numbers where times belong,
years outside the representable range. Loading must then either raise a
:class:`~crmml.exceptions.CrmmlError` whose message names the table, or
return a table whose numbers are finite (missing only where the column is
nullable) and whose times are ``datetime64[ns]`` within range (missing only
where nullable). Any other exception type fails the test.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import valid_frames
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.data import TABLES, load_tables
from crmml.exceptions import CrmmlError

_COLUMNS = [(t, c.name) for t, spec in TABLES.items() for c in spec.columns if c.kind in ("float", "int", "datetime")]

_ODD_TEXT = st.sampled_from([
    "inf", "-inf", "Infinity", "1e400", "-1e400", "NaN", "nan", "", " ", "NA", "N/A", "null", "None", "<NA>",
    "\u00a0", "\u200b", "１２", "٣", "12,5", "1 000", "1e5", "-0", "0x10", "+7", "12€", "true", "False",
    "2024-01-01", "2024-01-01T10:00+05", "2024-01-01 10:00 UTC", "2024-02-30", "9999-12-31", "0000-01-01",
    "1600-01-01", "1677-09-21", "2262-04-12", "2262-04-11 23:47:16.854775807", "now", "today", "14:30",
    "03/04/2024", "31/12/2024", "1700000000", "2024-13-01", "🙂",
])
_ODD_VALUES = st.one_of(
    _ODD_TEXT,
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**400),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(),
    st.sampled_from([
        np.datetime64("2024-01-01"), np.datetime64("NaT"), pd.Timestamp("2024-01-01", tz="UTC"),
        pd.NaT, pd.NA, np.float64("nan"), np.int64(7), dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        dt.time(14, 30), [1, 2],
    ]),
)


def _corrupt(table: str, column: str, value: object, whole: bool, row: int) -> pd.DataFrame:
    frame = valid_frames()[table]
    n = len(frame)
    if whole:
        values = pd.Series([value] * n, dtype=object)
    else:
        values = frame[column].astype(object) if column in frame.columns else pd.Series([None] * n, dtype=object)
        values.iloc[row % n] = value
    return frame.assign(**{column: values})


def _check_loaded(table: str, out: pd.DataFrame) -> None:
    for col in TABLES[table].columns:
        if col.name not in out.columns:
            continue
        s = out[col.name]
        if col.kind in ("float", "int"):
            assert s.dtype == np.float64
            values = s.to_numpy()
            assert not np.isinf(values).any()
            assert col.nullable or not np.isnan(values).any()
        elif col.kind == "datetime":
            assert s.dtype == np.dtype("datetime64[ns]")
            assert col.nullable or s.notna().all()
            known = s.dropna()
            assert ((known >= pd.Timestamp.min) & (known <= pd.Timestamp.max)).all()


def _load_or_refuse(table: str, load: object) -> None:
    try:
        out = load()  # type: ignore[operator]
    except CrmmlError as err:
        assert f"{table}." in str(err) or f"{table}:" in str(err), str(err)
        return
    _check_loaded(table, out[table])


@settings(max_examples=120, deadline=None, derandomize=True)
@given(st.sampled_from(_COLUMNS), _ODD_VALUES, st.booleans(), st.integers(0, 10))
def test_odd_values_in_frames(where: tuple[str, str], value: object, whole: bool, row: int) -> None:
    table, column = where
    frame = _corrupt(table, column, value, whole, row)
    _load_or_refuse(table, lambda: load_tables({table: frame}))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(_COLUMNS), st.one_of(_ODD_TEXT, st.text(max_size=6)), st.booleans(), st.integers(0, 10))
def test_odd_text_in_csv_files(where: tuple[str, str], value: str, whole: bool, row: int) -> None:
    table, column = where
    frame = _corrupt(table, column, value, whole, row)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            frame.to_csv(Path(tmp) / f"{table}.csv", index=False)
        except UnicodeEncodeError:  # surrogates cannot be written as UTF-8: nothing to load
            return
        _load_or_refuse(table, lambda: load_tables(tmp))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sampled_from(_COLUMNS), st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 10))
def test_odd_floats_in_parquet_files(where: tuple[str, str], value: float, row: int) -> None:
    table, column = where
    is_time = TABLES[table].column(column).kind == "datetime"
    frame = _corrupt(table, column, value, is_time, row)  # a time column becomes a float column
    frame[column] = pd.to_numeric(frame[column], errors="coerce")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            frame.to_parquet(Path(tmp) / f"{table}.parquet")
        except (TypeError, ValueError, OverflowError):  # pyarrow cannot store the mixed column: nothing to load
            return
        _load_or_refuse(table, lambda: load_tables(tmp))
