"""The one time parser (crmml._time): as_of and timestamp columns follow the same rules."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml._time import (
    MAX_TIME,
    MIN_TIME,
    RANGE_TEXT,
    check_format,
    normalise_iso,
    parse_time,
    parse_times,
    readings,
    suggest_format,
)
from crmml.exceptions import ParameterError
from crmml.features import to_timestamp

RANGE = "1677-09-21 00:12:43.145224193 to 2262-04-11 23:47:16.854775807 UTC (inclusive)"


def test_the_stated_range_is_the_representable_range() -> None:
    assert RANGE_TEXT == RANGE
    assert (MIN_TIME, MAX_TIME) == (pd.Timestamp.min, pd.Timestamp.max)


# ------------------------------------------------------------------ as_of
@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-01", "2024-03-01 00:00"),
    ("2024-03-01 14:30", "2024-03-01 14:30"),
    ("2024-03-01T14:30:05.123456789", "2024-03-01 14:30:05.123456789"),
    ("2024-03-01T14:30:00Z", "2024-03-01 14:30"),
    ("2024-03-01T14:30:00+02:00", "2024-03-01 12:30"),
    ("2024-03-01T14:30:00-0530", "2024-03-01 20:00"),
    ("2024-03-01T14:30+05", "2024-03-01 09:30"),
    (" 2024-03-01 14:30 UTC ", "2024-03-01 14:30"),
    (dt.date(2024, 3, 1), "2024-03-01"),
    (dt.datetime(2024, 3, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))), "2024-03-01 04:00"),
    (np.datetime64("2024-03-01T06:00"), "2024-03-01 06:00"),
    (pd.Timestamp("2024-03-01 06:00", tz="US/Eastern"), "2024-03-01 11:00"),
])
def test_as_of_accepts_iso_text_and_real_datetimes(value: object, expected: str) -> None:
    ts = to_timestamp(value)
    assert ts == pd.Timestamp(expected)
    assert ts.tzinfo is None and ts.unit == "ns"


@pytest.mark.parametrize(("value", "fix"), [
    ("01/02/2025", "'01/02/2025' is ambiguous: day first it is 2025-02-01, month first 2025-01-02. "
                   "Fix: pass as_of='2025-02-01' or as_of='2025-01-02', whichever you mean."),
    ("31/12/2024", "Fix: pass as_of='2024-12-31'."),
    ("now", "words such as 'now' or 'today' are relative"),
    ("today", "words such as 'now' or 'today' are relative"),
    ("14:30", "Fix: pass e.g. as_of='2024-01-31'"),
    ("March 3, 2024", "Fix: pass e.g. as_of='2024-01-31'"),
    ("20240301", "Fix: pass e.g. as_of='2024-01-31'"),
    ("2024-3-1", "Fix: pass e.g. as_of='2024-01-31'"),
])
def test_as_of_text_that_is_not_iso_is_refused(value: str, fix: str) -> None:
    # before: '01/02/2025' was read month-first, 'now'/'today'/'14:30' became today's date
    with pytest.raises(ParameterError, match=re.escape(
        f"The 'as_of' parameter must be a point in time written in ISO 8601 (YYYY-MM-DD, optionally with a "
        f"time and a UTC offset). Got {value!r} instead;"
    )) as info:
        to_timestamp(value)
    assert fix in str(info.value)


def test_the_parameter_name_is_used(tmp_path: object) -> None:
    with pytest.raises(ParameterError, match=r"^The 'holdout_end' parameter must be a point in time written in ISO"):
        to_timestamp("01/02/2025", "holdout_end")


def test_an_impossible_date_is_refused() -> None:
    with pytest.raises(ParameterError, match=re.escape(
        "The 'as_of' parameter must be a point in time, a valid date and time. Got '2024-02-30' instead"
    )):
        to_timestamp("2024-02-30")


@pytest.mark.parametrize("value", [
    "2300-01-01", "1600-01-01", "9999-12-31", "1677-09-21", "2262-04-12",
    "1677-09-21 00:12:43.145224192", "2262-04-11 23:47:16.854775808",
    "1677-09-21T02:00:00+02:00",  # 1677-09-21 00:00 UTC
    "2262-04-11T23:00:00-01:00",  # 2262-04-12 00:00 UTC
    dt.datetime(2300, 1, 1), dt.date(1600, 1, 1), np.datetime64("2300-01-01"),
    pd.Timestamp("2300-01-01").as_unit("s"),
])
def test_as_of_outside_the_range_names_the_range(value: object) -> None:
    # before: OutOfBoundsDatetime, or a message whose range (1677-09-21..) did not match what was accepted
    with pytest.raises(ParameterError, match=re.escape(
        f"The 'as_of' parameter must be a point in time within the supported range {RANGE}. Got {value!r} instead."
    )):
        to_timestamp(value)


@pytest.mark.parametrize("value", [
    "1677-09-21 00:12:43.145224193", "2262-04-11 23:47:16.854775807",
    "1677-09-21T00:12:44+00:00", "2262-04-11T23:47:16Z", "1677-09-22", "2262-04-11",
    pd.Timestamp.min, pd.Timestamp.max,
])
def test_as_of_just_inside_the_range_is_accepted(value: object) -> None:
    ts = to_timestamp(value)
    assert MIN_TIME <= ts <= MAX_TIME


@pytest.mark.parametrize("bad", [None, pd.NaT, np.datetime64("NaT"), 3, 3.5, True, [2024], b"2024-01-01"])
def test_as_of_that_is_not_a_time_keeps_its_message(bad: object) -> None:
    with pytest.raises(ParameterError, match=r"The 'as_of' parameter must be a point in time \(an ISO 8601 date"):
        to_timestamp(bad)


# ---------------------------------------------------------------- columns
def _kinds(values: list[object], fmt: str | None = None, dtype: object = None) -> list[str]:
    return [f.kind for f in parse_times(pd.Series(values, dtype=dtype), fmt).failures]


def test_day_month_text_in_one_column_is_refused_not_read_two_ways() -> None:
    # before: '03/04/2024' was read month-first and '31/12/2024' day-first in the same column
    assert _kinds(["03/04/2024", "31/12/2024"]) == ["not_iso"]
    out = parse_times(pd.Series(["03/04/2024", "31/12/2024"]), "%d/%m/%Y")
    assert out.values.tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-12-31")]


def test_numbers_mixed_with_text_are_refused() -> None:
    # before: [1700000000, "2024-01-01"] gave 1970 for the number
    out = parse_times(pd.Series([1_700_000_000, "2024-01-01"], dtype=object))
    assert [(f.kind, f.mask.tolist()) for f in out.failures] == [("numbers", [True, False])]


def test_relative_words_and_bare_times_are_refused() -> None:
    # before: they became today's date
    assert _kinds(["now", "today", "14:30", "yesterday"]) == ["not_iso"]


def test_an_hour_only_offset_counts_as_an_offset_for_the_mixing_rule() -> None:
    # before: '+05' was not seen as an offset, so the naive value slipped past the rule
    out = parse_times(pd.Series(["2024-01-01T10:00+05", "2024-01-01 10:00"]))
    assert [(f.kind, f.mask.tolist()) for f in out.failures] == [("mixed", [False, True])]
    assert parse_times(pd.Series(["2024-01-01T10:00+05"])).values.tolist() == [pd.Timestamp("2024-01-01 05:00")]


def test_column_and_as_of_agree_on_the_range() -> None:
    values = ["1677-09-21 00:12:43.145224192", "1677-09-21 00:12:43.145224193",
              "2262-04-11 23:47:16.854775807", "2262-04-11 23:47:16.854775808", "1677-09-21", "2262-04-12"]
    out = parse_times(pd.Series(values))
    [failure] = out.failures
    assert failure.rule == f"timestamps outside the supported range {RANGE}"
    assert failure.mask.tolist() == [True, False, False, True, True, True]
    for value, refused in zip(values, failure.mask):
        if refused:
            with pytest.raises(ParameterError, match="supported range"):
                parse_time(value)
        else:
            assert parse_time(value) == out.values.iloc[values.index(value)]


def test_real_datetimes_out_of_range_in_columns() -> None:
    s = pd.Series([dt.datetime(2300, 1, 1), dt.datetime(2024, 1, 1)], dtype=object)
    assert _kinds(s.tolist(), dtype=object) == ["range"]
    us = pd.Series(pd.to_datetime(["1600-01-01", "2024-01-01"]).astype("datetime64[us]"))
    assert [f.kind for f in parse_times(us).failures] == ["range"]


def test_missing_spellings_are_missing_in_time_columns() -> None:
    out = parse_times(pd.Series(["NA", "null", "", " ", "2024-01-01"]), missing=("NA", "null"))
    assert out.failures == [] and out.values.isna().tolist() == [True, True, True, True, False]


def test_explicit_format_mismatch_and_integral_numbers() -> None:
    assert _kinds(["01/02/2024", "2024-01-02"], "%d/%m/%Y") == ["format"]
    out = parse_times(pd.Series([20240131, 20240201]), "%Y%m%d")
    assert out.values.tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-01")]


@pytest.mark.parametrize("fmt", ["mixed", "dd/mm/yyyy", 3, "%Q"])
def test_bad_formats_are_parameter_errors(fmt: object) -> None:
    with pytest.raises(ParameterError, match=re.escape("The time format formats['transactions']['ts']")):
        check_format(fmt, "formats['transactions']['ts']")


def test_format_suggestions_and_readings() -> None:
    assert suggest_format(["31/12/2024"]) == "'%d/%m/%Y'"
    assert suggest_format(["12/31/2024"]) == "'%m/%d/%Y'"
    assert suggest_format(["01.02.2024 10:00:00"]) == "'%d.%m.%Y %H:%M:%S' (day first) or '%m.%d.%Y %H:%M:%S' (month first)"
    assert suggest_format(["now"]) == ""
    assert readings("13/13/2024") == ()


_MOMENTS = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2250, 1, 1))
_ZONES = st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                          dt.timezone(dt.timedelta(hours=-8))])
_SEPARATORS = st.sampled_from(["T", " "])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(_MOMENTS, _ZONES, _SEPARATORS)
def test_scalar_and_column_parsers_agree(moment: dt.datetime, zone: dt.tzinfo | None, sep: str) -> None:
    text = moment.replace(tzinfo=zone).isoformat(sep=sep)
    column = parse_times(pd.Series([text, text], dtype="str"))
    assert column.failures == []
    assert column.values.iloc[0] == parse_time(text) == to_timestamp(moment.replace(tzinfo=zone))
    assert normalise_iso(text) is not None
