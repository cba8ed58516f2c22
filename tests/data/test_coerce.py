"""Type coercion into the internal representation."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from conftest import valid_frames
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.data import TABLES, load_tables
from crmml.data._coerce import coerce_table
from crmml.exceptions import DataContractError


def _tx(**cols: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "transaction_id": ["t1", "t2"],
        "customer_id": ["c1", "c2"],
        "ts": ["2024-01-01", "2024-01-02"],
        "amount": [1.0, 2.0],
    }
    base.update(cols)
    return pd.DataFrame(base)


def _load_tx(df: pd.DataFrame) -> pd.DataFrame:
    return load_tables({"transactions": df}).transactions


def test_int_ids_become_text() -> None:
    out = _load_tx(_tx(transaction_id=[12, 13], customer_id=np.array([7, 8], dtype="int32")))
    assert out["transaction_id"].tolist() == ["12", "13"]
    assert out["customer_id"].tolist() == ["7", "8"]
    assert pd.api.types.is_string_dtype(out["transaction_id"].dtype)


def test_integral_float_ids_lose_the_point_zero() -> None:
    out = _load_tx(_tx(transaction_id=[12.0, 13.0]))
    assert out["transaction_id"].tolist() == ["12", "13"]


def test_mixed_object_ids_are_text_and_missing_stays_missing() -> None:
    res = coerce_table("interactions", pd.DataFrame({"contact_id": [12.0, "k2", None, 5]}))
    col = res.frame["contact_id"]
    assert col.iloc[[0, 1, 3]].tolist() == ["12", "k2", "5"]
    assert pd.isna(col.iloc[2])


def test_nullable_float_ids_keep_missing() -> None:
    res = coerce_table("interactions", pd.DataFrame({"contact_id": [1.0, np.nan]}))
    assert res.frame["contact_id"].iloc[0] == "1"
    assert pd.isna(res.frame["contact_id"].iloc[1])


def test_offset_timestamp_becomes_naive_utc() -> None:
    out = _load_tx(_tx(ts=["2024-03-01T14:30:00+02:00", "2024-03-01T14:30:00+02:00"]))
    assert out["ts"].dtype == np.dtype("datetime64[ns]")
    assert out["ts"].iloc[0] == pd.Timestamp("2024-03-01 12:30:00")


def test_tz_aware_column_is_converted_to_utc() -> None:
    ts = pd.to_datetime(["2024-07-01 10:00", "2024-01-01 10:00"]).tz_localize("Europe/Berlin")
    out = _load_tx(_tx(ts=ts))
    assert out["ts"].tolist() == [pd.Timestamp("2024-07-01 08:00"), pd.Timestamp("2024-01-01 09:00")]


def test_naive_timestamps_are_taken_as_utc_in_ns() -> None:
    ts = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00"])).astype("datetime64[us]")
    out = _load_tx(_tx(ts=ts))
    assert out["ts"].dtype == np.dtype("datetime64[ns]")
    assert out["ts"].iloc[0] == pd.Timestamp("2024-01-01 10:00")


def test_strings_with_different_offsets_are_each_converted() -> None:
    out = _load_tx(_tx(ts=["2024-01-01T12:00:00+02:00", "2024-01-01T12:00:00-05:00"]))
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-01 17:00")]


def test_python_datetimes_with_different_zones_are_each_converted() -> None:
    values = [
        dt.datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("Europe/Berlin")),
        dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ]
    out = _load_tx(_tx(ts=pd.Series(values, dtype=object)))
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-01 11:00"), pd.Timestamp("2024-01-01 17:00")]


def test_utc_z_suffix_counts_as_an_offset() -> None:
    out = _load_tx(_tx(ts=["2024-01-01T12:00:00Z", "2024-01-01T12:00:00+01:00"]))
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-01 12:00"), pd.Timestamp("2024-01-01 11:00")]


def test_python_datetimes_mixing_naive_and_aware_are_a_problem() -> None:
    values = [dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc), dt.datetime(2024, 1, 1, 12)]
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: timestamps mix values with a UTC offset (1) and values without (1)"
    )):
        _load_tx(_tx(ts=pd.Series(values, dtype=object)))


def test_date_only_strings_are_naive_not_offsets() -> None:
    out = _load_tx(_tx(ts=["2024-01-01", "2024-12-31"]))
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31")]


def test_non_iso_dates_are_refused_with_the_values_and_the_option() -> None:
    # before: "March 3, 2024" was guessed value by value
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: values are not ISO 8601 timestamps — 1 row fails (e.g. t2 (ts='March 3, 2024')). "
        "Fix: write them as ISO 8601 text such as '2024-03-01', '2024-03-01 14:30' or '2024-03-01T14:30:00+02:00', "
        "or give the format they are written in with formats={'transactions': {'ts': '%d/%m/%Y %H:%M'}} "
        "(or in mapping=)"
    )):
        _load_tx(_tx(ts=["2024-01-05", "March 3, 2024"]))


def test_numeric_timestamps_are_a_problem() -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: values are numbers, not timestamps — 2 rows fail"
    )):
        _load_tx(_tx(ts=[1_700_000_000, 1_700_000_100]))


def test_placeholder_far_future_date_is_a_problem() -> None:
    subs = pd.DataFrame({
        "subscription_id": ["s1", "s2"], "customer_id": ["c1", "c2"],
        "start_at": ["2024-01-01", "2024-01-01"], "end_at": ["9999-12-31", None],
        "monthly_value": [1.0, 2.0],
    })
    with pytest.raises(DataContractError, match=re.escape(
        "subscriptions.end_at: timestamps outside the supported range 1677-09-21 00:12:43.145224193 to "
        "2262-04-11 23:47:16.854775807 UTC (inclusive) — 1 row fails (e.g. s1 (end_at='9999-12-31')). "
        "Fix: leave open-ended dates empty instead of placeholders such as 9999-12-31"
    )):
        load_tables({"subscriptions": subs})


def test_money_text_becomes_float64() -> None:
    out = _load_tx(_tx(amount=["1.5", "-2"], cost=[None, 3]))
    assert out["amount"].dtype == np.float64
    assert out["amount"].tolist() == [1.5, -2.0]
    assert out["cost"].dtype == np.float64


def test_nullable_integers_become_float_with_nan() -> None:
    res = coerce_table("customers", pd.DataFrame({"employees": pd.array([3, None], dtype="Int64")}))
    assert res.frame["employees"].dtype == np.float64
    assert res.frame["employees"].iloc[0] == 3.0 and np.isnan(res.frame["employees"].iloc[1])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([True, False, None], [True, False, pd.NA]),
        (["true", "False", None], [True, False, pd.NA]),
        ([1.0, 0.0, np.nan], [True, False, pd.NA]),
    ],
)
def test_won_becomes_nullable_boolean(raw: list[object], expected: list[object]) -> None:
    res = coerce_table("opportunities", pd.DataFrame({"won": pd.Series(raw, dtype=object)}))
    assert res.frame["won"].dtype == "boolean"
    assert res.frame["won"].tolist() == expected


def test_won_words_outside_true_false_are_a_problem() -> None:
    res = coerce_table("opportunities", pd.DataFrame({"opportunity_id": ["o1", "o2"], "won": ["yes", "maybe"]}))
    assert [str(p) for p in res.problems] == [
        "opportunities.won: values are not true/false — 1 row fails (e.g. o2 (won='maybe')). "
        "Fix: use True/False (or 1/0, 'true'/'false'); leave open ones empty"
    ]


def test_extra_columns_are_kept_untouched() -> None:
    extra = pd.Series([1, 2], dtype="int64")
    out = _load_tx(_tx(my_segment=["a", "b"], my_score=extra))
    assert out["my_segment"].tolist() == ["a", "b"]
    assert out["my_score"].dtype == np.int64


def test_optional_columns_may_be_absent() -> None:
    out = _load_tx(_tx())
    assert "cost" not in out.columns


def test_input_frame_is_not_modified() -> None:
    df = _tx(transaction_id=[1, 2])
    _load_tx(df)
    assert df["transaction_id"].tolist() == [1, 2]


_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
_MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_MOMENTS, _OFFSETS), min_size=1, max_size=8))
def test_aware_values_equal_their_utc_conversion(values: list[tuple[dt.datetime, dt.timezone]]) -> None:
    aware = [moment.replace(tzinfo=tz) for moment, tz in values]
    expected = [pd.Timestamp(a.astimezone(dt.timezone.utc).replace(tzinfo=None)) for a in aware]
    as_objects = coerce_table("transactions", pd.DataFrame({"ts": pd.Series(aware, dtype=object)}))
    as_text = coerce_table("transactions", pd.DataFrame({"ts": [a.isoformat() for a in aware]}))
    assert as_objects.problems == [] and as_text.problems == []
    assert as_objects.frame["ts"].tolist() == expected
    assert as_text.frame["ts"].tolist() == expected


def test_duplicate_index_labels_are_handled() -> None:
    df = _tx(ts=["2024-01-05T00:00Z", "2024-03-03T01:00+01:00"], transaction_id=[1.0, 2.0]).set_axis([7, 7])
    out = _load_tx(df)
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-03-03")]
    assert out["transaction_id"].tolist() == ["1", "2"]
    assert list(out.index) == [7, 7]


@pytest.mark.parametrize(
    ("text", "aware"),
    [
        ("2024-01-01", False), ("2024-01-01 10:00", False), ("2024-01-01T10:00:00.123", False),
        ("2024-01-01T10:00:00Z", True), ("2024-01-01 10:00 UTC", True), ("2024-01-01T10:00:00+0530", True),
        ("2024-01-01T10:00:00.5-03:00", True), ("2024-01-01T10:00+05", True), ("2024-01-01t10:00z", True),
    ],
)
def test_offset_detection(text: str, aware: bool) -> None:
    from crmml._time import normalise_iso, parse_times

    assert normalise_iso(text) is not None and normalise_iso(text)[1] is aware
    for dtype in ("str", object):
        out = parse_times(pd.Series([text, "2024-06-01"], dtype=dtype))
        assert [f.kind for f in out.failures] == (["mixed"] if aware else [])


def test_other_string_dtypes_become_the_default_one() -> None:
    res = coerce_table("transactions", pd.DataFrame({"customer_id": pd.array(["c1", None], dtype="string")}))
    expected = pd.Series(["c1"], dtype="str").dtype
    assert res.frame["customer_id"].dtype == expected
    assert res.frame["customer_id"].iloc[0] == "c1" and pd.isna(res.frame["customer_id"].iloc[1])


# ---------------------------------------------------------- non-finite numbers
_NUMBER_COLUMNS = [(t, c.name) for t, spec in TABLES.items() for c in spec.columns if c.kind in ("float", "int")]
_NOT_FINITE = "values are not finite numbers (inf, -inf, or too large for float64 such as 1e400)"


@pytest.mark.parametrize(("table", "column"), _NUMBER_COLUMNS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", [np.inf, -np.inf, "inf", "-Infinity", "1e400", 10**400])
def test_non_finite_numbers_are_refused_in_every_number_column(table: str, column: str, value: object) -> None:
    # before: inf, -inf, 'inf' and '1e400' loaded as numbers
    frame = valid_frames()[table]
    values = frame[column].astype(object) if column in frame.columns else pd.Series([1.0] * len(frame), dtype=object)
    values.iloc[0] = value
    with pytest.raises(DataContractError, match=re.escape(f"{table}.{column}: {_NOT_FINITE} — 1 row fails")):
        load_tables({table: frame.assign(**{column: values})})


def test_a_float64_column_with_inf_is_refused() -> None:
    with pytest.raises(DataContractError, match=re.escape(
        f"transactions.cost: {_NOT_FINITE} — 1 row fails (e.g. t2 (cost=-inf)). Fix: replace them with the real "
        "values; leave unknown values empty where the column allows missing values"
    )):
        _load_tx(_tx(cost=[1.0, -np.inf]))


@pytest.mark.parametrize("text", ["", " ", "NA", "null", "NaN", "nan", "None", "N/A"])
def test_missing_spellings_in_number_columns_are_missing(text: str) -> None:
    out = _load_tx(_tx(cost=[text, "2.5"]))
    assert np.isnan(out["cost"].iloc[0]) and out["cost"].iloc[1] == 2.5
    with pytest.raises(DataContractError, match=r"transactions\.amount: must not be missing — 1 row fails"):
        _load_tx(_tx(amount=[text, "2.5"]))


@pytest.mark.parametrize(("value", "rule"), [
    (True, "values are true/false, not numbers"),
    (pd.Timestamp("2024-01-01"), "values are timestamps, not numbers"),
    (dt.date(2024, 1, 1), "values are timestamps, not numbers"),
    ("12 EUR", "values are not numbers"),
    (object(), "values are not numbers"),
])
def test_odd_values_in_number_columns(value: object, rule: str) -> None:
    with pytest.raises(DataContractError, match=re.escape(f"transactions.amount: {rule} — 1 row fails (e.g. t1")):
        _load_tx(_tx(amount=pd.Series([value, 2.0], dtype=object)))


def test_a_datetime_column_mapped_onto_a_number_column() -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.amount: values are timestamps, not numbers — 2 rows fail")):
        _load_tx(_tx(amount=pd.to_datetime(["2024-01-01", "2024-01-02"])))


# ------------------------------------------------------------- time columns
def test_epoch_numbers_mixed_with_text_are_refused() -> None:
    # before: 1700000000 became 1970-01-01 00:00:01.7
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: values are numbers or true/false, not timestamps — 1 row fails (e.g. t1 (ts=1700000000)). "
        "Fix: convert epoch numbers first"
    )):
        _load_tx(_tx(ts=pd.Series([1_700_000_000, "2024-01-01"], dtype=object)))


@pytest.mark.parametrize("values", [["03/04/2024", "31/12/2024"], ["now", "2024-01-01"], ["today", "14:30"]])
def test_guessable_time_text_is_refused(values: list[str]) -> None:
    # before: read month-first and day-first in one column; 'now', 'today', '14:30' became today's date
    with pytest.raises(DataContractError, match=r"transactions\.ts: values are not ISO 8601 timestamps"):
        _load_tx(_tx(ts=values))


def test_hour_only_offset_mixed_with_naive_values() -> None:
    # before: '+05' was not recognised as an offset, so the mix was not noticed
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: timestamps mix values with a UTC offset (1) and values without (1)"
    )):
        _load_tx(_tx(ts=["2024-01-01T10:00+05", "2024-01-01 10:00"]))


def test_invalid_calendar_dates_are_named() -> None:
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: values are not valid dates or times (e.g. February 30, month 13, hour 25) — 1 row fails "
        "(e.g. t1 (ts='2024-02-30'))"
    )):
        _load_tx(_tx(ts=["2024-02-30", "2024-01-01"]))


def test_lower_bound_is_exact_in_columns() -> None:
    out = _load_tx(_tx(ts=["1677-09-21 00:12:43.145224193", "2262-04-11 23:47:16.854775807"]))
    assert out["ts"].tolist() == [pd.Timestamp.min, pd.Timestamp.max]
    with pytest.raises(DataContractError, match=re.escape(
        "transactions.ts: timestamps outside the supported range 1677-09-21 00:12:43.145224193 to "
        "2262-04-11 23:47:16.854775807 UTC (inclusive) — 1 row fails (e.g. t1 (ts='1677-09-21'))"
    )):
        _load_tx(_tx(ts=["1677-09-21", "2024-01-01"]))


def test_time_values_of_every_kind_in_one_object_column() -> None:
    values = pd.Series([dt.date(2024, 1, 1), "2024-01-02 10:00"], dtype=object)
    assert _load_tx(_tx(ts=values))["ts"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 10:00")]
    values = pd.Series([np.datetime64("2024-01-01T05:00"), pd.Timestamp("2024-01-02")], dtype=object)
    assert _load_tx(_tx(ts=values))["ts"].tolist() == [pd.Timestamp("2024-01-01 05:00"), pd.Timestamp("2024-01-02")]


def test_text_ids_that_spell_missing_stay_text() -> None:
    out = _load_tx(_tx(transaction_id=["NA", "None"], customer_id=["null", "nan"]))
    assert out["transaction_id"].tolist() == ["NA", "None"] and out["customer_id"].tolist() == ["null", "nan"]


@pytest.mark.parametrize("text", ["NA", "null", ""])
def test_missing_spellings_in_won(text: str) -> None:
    res = coerce_table("opportunities", pd.DataFrame({"won": pd.Series([True, text], dtype=object)}))
    assert res.problems == [] and res.frame["won"].tolist() == [True, pd.NA]
