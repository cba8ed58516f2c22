"""The one time parser of crmml: ISO 8601 text, real datetimes, explicit formats.

Every point in time that enters crmml goes through here: the ``as_of``
parameter of every API and CLI command (:func:`parse_time`, wrapped by
:func:`crmml.features.to_timestamp`) and every timestamp column of every table
(:func:`parse_times`, used by :mod:`crmml.data._coerce`). The rules:

* **Accepted without a format**: real datetime values (``datetime.datetime``,
  ``datetime.date``, ``numpy.datetime64``, ``pandas.Timestamp``,
  ``datetime64`` columns, timezone-aware columns) and ISO 8601 text:
  ``YYYY-MM-DD``, optionally followed by ``T`` or a space and ``HH:MM``,
  ``HH:MM:SS`` or ``HH:MM:SS.fraction`` (1 to 9 digits), optionally followed by
  an offset ``Z``, ``±HH:MM``, ``±HHMM`` or ``±HH``. Surrounding blanks, a
  lower-case ``t``/``z``, a decimal comma and a trailing ``UTC``/``GMT`` (as
  BigQuery exports write) are tolerated.
* **Anything else needs an explicit format** (``"%d/%m/%Y"``): ``03/04/2024``
  is 3 April to some and 4 March to others, ``now``/``today``/``14:30`` are
  relative, numbers are epoch seconds or milliseconds or days. Without a format
  they are refused, with the offending values shown.
* **Time zones**: values with an offset are converted to UTC, each with its
  own offset; values without one are taken as UTC. A column that mixes the two
  is refused (the naive values are ambiguous).
* **Range**: timestamps are held as ``datetime64[ns]``, so only
  :data:`MIN_TIME` .. :data:`MAX_TIME` (UTC, inclusive) can be represented;
  anything outside, after conversion to UTC, is refused with
  :data:`RANGE_TEXT`.

This module is a bottom layer: it imports only numpy, pandas and
:mod:`crmml.exceptions`.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmml.exceptions import ParameterError

__all__ = [
    "MIN_TIME",
    "MAX_TIME",
    "RANGE_TEXT",
    "ISO_EXAMPLES",
    "TimeFailure",
    "ParsedTimes",
    "check_format",
    "parse_time",
    "parse_times",
    "suggest_format",
]

MIN_TIME: pd.Timestamp = pd.Timestamp.min
"""Earliest representable instant (UTC): 1677-09-21 00:12:43.145224193."""
MAX_TIME: pd.Timestamp = pd.Timestamp.max
"""Latest representable instant (UTC): 2262-04-11 23:47:16.854775807."""
RANGE_TEXT = f"{MIN_TIME} to {MAX_TIME} UTC (inclusive)"
"""The supported range in words, used by every message about it."""
ISO_EXAMPLES = "'2024-03-01', '2024-03-01 14:30' or '2024-03-01T14:30:00+02:00'"

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
NAIVE_RE = rf"{_DATE}(?:{_TIME})?"
"""ISO 8601 text without an offset (full match)."""
AWARE_RE = rf"{_DATE}{_TIME}{_OFFSET}"
"""ISO 8601 text with an offset (full match)."""
_NAIVE = re.compile(NAIVE_RE)
_AWARE = re.compile(AWARE_RE)
_LENIENT_TAIL = re.compile(r"\s*(?:UTC|GMT)$")
_COMMA_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2}),(\d)")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}:\d{2}(:\d{2})?))?")
_FORBIDDEN_FORMATS = {"mixed"}


# --------------------------------------------------------------------- scalars
def normalise_iso(text: str) -> tuple[str, bool] | None:
    """Return ``(ISO text pandas can parse, has offset)``, or ``None`` if not ISO 8601.

    Examples
    --------
    >>> normalise_iso(" 2024-03-01t10:00:00,5 UTC ")
    ('2024-03-01T10:00:00.5Z', True)
    >>> normalise_iso("03/04/2024") is None
    True
    """
    t = text.strip()
    if _NAIVE.fullmatch(t):
        return t, False
    if _AWARE.fullmatch(t):
        return t, True
    if len(t) > 10 and t[10] == "t":
        t = t[:10] + "T" + t[11:]
    if t.endswith("z"):
        t = t[:-1] + "Z"
    t = _COMMA_FRACTION.sub(r"\1.\2", t)
    if _LENIENT_TAIL.search(t) and re.fullmatch(rf"{_DATE}{_TIME}", _LENIENT_TAIL.sub("", t)):
        t = _LENIENT_TAIL.sub("", t) + "Z"
    if _NAIVE.fullmatch(t):
        return t, False
    if _AWARE.fullmatch(t):
        return t, True
    return None


def readings(text: str) -> tuple[str, ...]:
    """The ISO readings of a day/month/year text such as ``01/02/2025`` (both orders).

    Examples
    --------
    >>> readings("01/02/2025")
    ('2025-02-01', '2025-01-02')
    >>> readings("31/12/2024")
    ('2024-12-31',)
    """
    m = _DAY_MONTH_YEAR.fullmatch(text.strip())
    if not m:
        return ()
    a, b, year = int(m.group(1)), int(m.group(3)), m.group(4)
    clock = f" {m.group(5)}" if m.group(5) else ""
    out: list[str] = []
    for day, month in ((a, b), (b, a)):
        if 1 <= month <= 12 and 1 <= day <= 31:
            iso = f"{year}-{month:02d}-{day:02d}{clock}"
            if iso not in out:
                out.append(iso)
    return tuple(out)


def _not_a_time(value: object, name: str) -> ParameterError:
    return ParameterError(
        f"The {name!r} parameter must be a point in time (an ISO 8601 date string such as "
        f"'2024-01-31', a datetime.date/datetime, a numpy.datetime64 or a pandas.Timestamp). "
        f"Got {value!r} instead. Fix: pass e.g. {name}='2024-01-31'."
    )


def _not_iso(value: str, name: str) -> ParameterError:
    options = readings(value)
    if len(options) > 1:
        why = f"{value!r} is ambiguous: day first it is {options[0]}, month first {options[1]}"
        fix = f"pass {name}={options[0]!r} or {name}={options[1]!r}, whichever you mean"
    elif options:
        why = "dates in other formats are ambiguous (is 01/02/2025 1 February or 2 January?)"
        fix = f"pass {name}={options[0]!r}"
    else:
        why = ("other formats are ambiguous (is 01/02/2025 1 February or 2 January?) and words such as "
               "'now' or 'today' are relative")
        fix = f"pass e.g. {name}='2024-01-31' or {name}='2024-01-31T09:00:00+01:00'"
    return ParameterError(
        f"The {name!r} parameter must be a point in time written in ISO 8601 (YYYY-MM-DD, optionally "
        f"with a time and a UTC offset). Got {value!r} instead; {why}. Fix: {fix}."
    )


def _out_of_range(value: object, name: str) -> ParameterError:
    return ParameterError(
        f"The {name!r} parameter must be a point in time within the supported range {RANGE_TEXT}. "
        f"Got {value!r} instead. Fix: pass a time inside that range."
    )


def parse_time(value: object, name: str = "as_of") -> pd.Timestamp:
    """Parse one point in time to a timezone-naive UTC nanosecond Timestamp.

    Parameters
    ----------
    value : str, datetime.date, datetime.datetime, numpy.datetime64 or pandas.Timestamp
        Text must be ISO 8601 (see the module docstring). Aware values are
        converted to UTC, then made naive; naive values are taken as UTC. A
        date means its midnight.
    name : str
        Parameter name for the error message.

    Returns
    -------
    pandas.Timestamp
        Naive, unit ``ns``, within :data:`MIN_TIME` .. :data:`MAX_TIME`.

    Raises
    ------
    ParameterError
        Missing (``None``/``NaT``), not a point in time, text that is not ISO
        8601 (``'01/02/2025'`` is ambiguous), an invalid date, or outside the
        supported range.

    Examples
    --------
    >>> parse_time("2024-03-01T12:00:00+01:00")
    Timestamp('2024-03-01 11:00:00')
    >>> parse_time("2300-01-01")
    Traceback (most recent call last):
    ...
    crmml.exceptions.ParameterError: The 'as_of' parameter must be a point in time within the supported range 1677-09-21 00:12:43.145224193 to 2262-04-11 23:47:16.854775807 UTC (inclusive). Got '2300-01-01' instead. Fix: pass a time inside that range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, _dt.date, np.datetime64, pd.Timestamp)):
        raise _not_a_time(value, name)
    source: object = value
    if isinstance(value, str):
        iso = normalise_iso(value)
        if iso is None:
            raise _not_iso(value, name)
        source = iso[0]
    try:
        ts = pd.Timestamp(source)  # type: ignore[arg-type]
    except pd.errors.OutOfBoundsDatetime:
        raise _out_of_range(value, name) from None
    except (ValueError, TypeError, OverflowError):
        if isinstance(value, str):
            raise ParameterError(
                f"The {name!r} parameter must be a point in time, a valid date and time. Got {value!r} instead "
                f"(no such day or time). Fix: pass e.g. {name}='2024-01-31'."
            ) from None
        raise _not_a_time(value, name) from None
    if ts is pd.NaT or pd.isna(ts):
        raise _not_a_time(value, name)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if ts < MIN_TIME or ts > MAX_TIME:
        raise _out_of_range(value, name)
    return ts.as_unit("ns")


# --------------------------------------------------------------------- columns
@dataclass(frozen=True)
class TimeFailure:
    """Values of a column that broke one rule.

    Attributes
    ----------
    kind : str
        ``"not_iso"``, ``"format"``, ``"numbers"``, ``"not_time"``,
        ``"invalid"``, ``"mixed"`` or ``"range"``.
    mask : numpy.ndarray of bool
        Which positions fail.
    rule : str
        The rule in words.
    hint : str
        The default fix (callers may name their own option instead).
    """

    kind: str
    mask: np.ndarray
    rule: str
    hint: str


@dataclass
class ParsedTimes:
    """A parsed column: ``datetime64[ns]`` naive UTC (NaT where missing or failed) and its failures."""

    values: pd.Series
    failures: list[TimeFailure] = field(default_factory=list)


NOT_ISO_RULE = "values are not ISO 8601 timestamps"
RANGE_RULE = f"timestamps outside the supported range {RANGE_TEXT}"
RANGE_HINT = "leave open-ended dates empty instead of placeholders such as 9999-12-31"
_INVALID_RULE = "values are not valid dates or times (e.g. February 30, month 13, hour 25)"
_INVALID_HINT = "check the export of these values"


def check_format(fmt: object, where: str) -> str | None:
    """Validate one explicit time format; ``None`` and ``"ISO8601"`` mean the default.

    Parameters
    ----------
    fmt : object
        A ``strftime``-style format such as ``"%d/%m/%Y %H:%M"``.
    where : str
        Where it was given, for the message (``"formats['transactions']['ts']"``).

    Raises
    ------
    ParameterError
        Not a string, no ``%`` directive, or ``"mixed"`` (per-value guessing).

    Examples
    --------
    >>> check_format("%d/%m/%Y", "formats") , check_format("ISO8601", "formats")
    ('%d/%m/%Y', None)
    """
    if fmt is None or fmt == "ISO8601":
        return None
    if not isinstance(fmt, str) or "%" not in fmt or fmt in _FORBIDDEN_FORMATS:
        raise ParameterError(
            f"The time format {where} must be a strftime-style format with % directives such as "
            f"'%d/%m/%Y' or '%m/%d/%Y %H:%M' (per-value guessing such as 'mixed' is not allowed). "
            f"Got {fmt!r} instead."
        )
    try:
        pd.to_datetime(pd.Series(["2000-01-01"], dtype="str"), format=fmt, errors="coerce")
    except ValueError as err:
        raise ParameterError(
            f"The time format {where} cannot be used: {err}. Got {fmt!r} instead. Fix: use strftime "
            "directives such as '%d/%m/%Y %H:%M' (see Python's datetime.strptime documentation)."
        ) from None
    return fmt


def suggest_format(examples: Collection[str]) -> str:
    """A format to try for non-ISO examples (day/month/year text), or ``""``.

    Examples
    --------
    >>> suggest_format(["31/12/2024", "03/04/2024"])
    "'%d/%m/%Y'"
    >>> suggest_format(["03/04/2024 10:00"])
    "'%d/%m/%Y %H:%M' (day first) or '%m/%d/%Y %H:%M' (month first)"
    """
    day_first = month_first = True
    sep = time_part = None
    for text in examples:
        m = _DAY_MONTH_YEAR.fullmatch(str(text).strip())
        if not m:
            return ""
        sep = m.group(2)
        time_part = (" %H:%M:%S" if m.group(6) else " %H:%M") if m.group(5) else ""
        a, b = int(m.group(1)), int(m.group(3))
        day_first &= b <= 12
        month_first &= a <= 12
    if sep is None:
        return ""
    d_first, m_first = f"'%d{sep}%m{sep}%Y{time_part}'", f"'%m{sep}%d{sep}%Y{time_part}'"
    if day_first and month_first:
        return f"{d_first} (day first) or {m_first} (month first)"
    return d_first if day_first else m_first if month_first else ""


def parse_times(values: pd.Series, fmt: str | None = None, *, missing: Collection[str] = ()) -> ParsedTimes:
    """Parse a column to ``datetime64[ns]`` naive UTC, reporting every failure.

    Parameters
    ----------
    values : Series
        Any dtype. Positional: the result has the same index.
    fmt : str, optional
        Explicit ``strftime``-style format for text (and integral numbers,
        read as text, such as ``20240131`` with ``"%Y%m%d"``). Default: ISO
        8601 only.
    missing : collection of str
        Text values that mean missing (``"NA"``, ``"null"`` ...).

    Returns
    -------
    ParsedTimes

    Examples
    --------
    >>> out = parse_times(pd.Series(["2024-01-01T02:00+02:00", "2024-01-01 03:00Z"]))
    >>> out.values.tolist(), out.failures
    ([Timestamp('2024-01-01 00:00:00'), Timestamp('2024-01-01 03:00:00')], [])
    >>> [f.kind for f in parse_times(pd.Series(["03/04/2024", "now"])).failures]
    ['not_iso']
    """
    s = values
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return _finish(s.dt.tz_convert("UTC").dt.tz_localize(None), [])
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return _finish(s, [])
    if pd.api.types.is_bool_dtype(s.dtype):
        return _refuse_all(s, "numbers", "values are true/false, not timestamps")
    if pd.api.types.is_numeric_dtype(s.dtype):
        if fmt is not None:
            return _parse_text(_numbers_as_text(s), fmt, missing)
        return _refuse_all(s, "numbers", "values are numbers, not timestamps")
    if pd.api.types.is_object_dtype(s.dtype):
        return _parse_objects(s, fmt, missing)
    if pd.api.types.is_string_dtype(s.dtype):
        return _parse_text(s.astype("str"), fmt, missing)
    return _refuse_all(s, "not_time", f"values of dtype {s.dtype} are not timestamps")


_NUMBERS_HINT = "convert epoch numbers first, e.g. pd.to_datetime(x, unit='s'), or write ISO 8601 text"


def _refuse_all(s: pd.Series, kind: str, rule: str) -> ParsedTimes:
    hint = _NUMBERS_HINT if kind == "numbers" else f"use ISO 8601 text such as {ISO_EXAMPLES}"
    return ParsedTimes(_nat_like(s), [TimeFailure(kind, s.notna().to_numpy(), rule, hint)])


def _nat_like(s: pd.Series) -> pd.Series:
    return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]", name=s.name)


def _numbers_as_text(s: pd.Series) -> pd.Series:
    """Integral numbers as text (``20240131.0`` → ``"20240131"``) for an explicit format."""
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    whole = np.isfinite(v) & (np.mod(v, 1) == 0) & (np.abs(v) < 2**53)
    text = pd.Series(np.where(whole, v, 0).astype("int64"), index=s.index).astype("str")
    other = s.astype("str")
    return text.where(whole, other).where(s.notna())


def _parse_objects(s: pd.Series, fmt: str | None, missing: Collection[str]) -> ParsedTimes:
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred in ("string", "empty"):
        return _parse_text(s.astype("str"), fmt, missing)
    if inferred == "date":  # datetime.date values (Parquet date32): vectorised unless something aware hides in them
        try:
            return _finish(_to_datetime(s), [])
        except (ValueError, TypeError):
            pass
    kinds = np.array([_kind_of(v) for v in s.to_numpy(dtype=object)], dtype=np.int8)
    failures: list[TimeFailure] = []
    numbers, others = kinds == _NUMBER, kinds == _OTHER
    text_mask = kinds == _TEXT
    if fmt is not None:
        text_mask |= numbers & np.array([_is_integral(v) for v in s.to_numpy(dtype=object)], dtype=bool)
        numbers &= ~text_mask
    if numbers.any():
        failures.append(TimeFailure("numbers", numbers, "values are numbers or true/false, not timestamps", _NUMBERS_HINT))
    if others.any():
        failures.append(TimeFailure("not_time", others, "values are neither timestamps nor text",
                                    f"use ISO 8601 text such as {ISO_EXAMPLES} or datetime values"))
    result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]", name=s.name)
    aware = np.zeros(len(s), dtype=bool)
    naive = np.zeros(len(s), dtype=bool)
    if text_mask.any():
        text = s[text_mask].map(lambda v: v if isinstance(v, str) else str(int(v))).astype("str")
        parsed = _parse_text(text, fmt, missing, check_mix=False)
        result[text_mask] = parsed.values.to_numpy()
        for f in parsed.failures:
            failures.append(_spread(f, text_mask))
        aware[text_mask] = parsed.aware
        naive[text_mask] = parsed.naive
    moments = kinds == _MOMENT
    if moments.any():
        objs = s[moments]
        is_aware = np.array([_scalar_is_aware(v) for v in objs.to_numpy(dtype=object)], dtype=bool)
        aware[moments], naive[moments] = is_aware, ~is_aware
        converted = _to_datetime(objs, utc=bool(is_aware.any()))
        rng = _finish(converted, [])
        result[moments] = rng.values.to_numpy()
        for f in rng.failures:
            failures.append(_spread(f, moments))
    failures += _mix_failure(aware, naive)
    return _merge(result, failures)


_MISSING, _TEXT, _MOMENT, _NUMBER, _OTHER = 0, 1, 2, 3, 4


def _kind_of(v: object) -> int:
    if v is None or v is pd.NaT or v is pd.NA:
        return _MISSING
    if isinstance(v, str):
        return _TEXT
    if isinstance(v, (_dt.date, np.datetime64)):
        return _MISSING if pd.isna(v) else _MOMENT
    if isinstance(v, (bool, np.bool_, int, float, np.number)):
        return _MISSING if isinstance(v, (float, np.floating)) and np.isnan(v) else _NUMBER
    return _OTHER


def _is_integral(v: object) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False
    return bool(np.isfinite(f) and f == int(f) and abs(f) < 2**53)


def _scalar_is_aware(v: object) -> bool:
    return isinstance(v, _dt.datetime) and v.tzinfo is not None and v.utcoffset() is not None


def _to_datetime(s: pd.Series, utc: bool = False) -> pd.Series:
    """Real datetime values to naive UTC (any unit); out-of-ns-range values survive for the range check."""
    out = pd.to_datetime(s, utc=utc)
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _spread(f: TimeFailure, where: np.ndarray) -> TimeFailure:
    mask = np.zeros(len(where), dtype=bool)
    mask[where] = f.mask
    return TimeFailure(f.kind, mask, f.rule, f.hint)


@dataclass
class _TextParse(ParsedTimes):
    aware: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    naive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _matches(s: pd.Series, pattern: str) -> np.ndarray:
    return np.array(s.str.fullmatch(pattern).to_numpy(dtype=bool, na_value=False), dtype=bool, copy=True)


def _parse_text(s: pd.Series, fmt: str | None, missing: Collection[str], check_mix: bool = True) -> _TextParse:
    """Text (default string dtype) to naive UTC; the hot path is two regex passes and one parse."""
    notna = np.array(s.notna().to_numpy(), dtype=bool, copy=True)
    if fmt is not None:
        return _parse_formatted(s, fmt, notna, missing)
    naive = _matches(s, NAIVE_RE)
    rest = notna & ~naive
    aware = np.zeros(len(s), dtype=bool)
    if rest.any():
        aware[rest] = _matches(s[rest], AWARE_RE)
        rest &= ~aware
    if rest.any():  # rare: missing spellings and tolerated variants, value by value
        s = s.copy()
        odd = s[rest]
        gone = odd.isin(list(missing)).to_numpy() | (odd.str.strip() == "").to_numpy()
        fixed = [None if g else normalise_iso(v) for g, v in zip(gone, odd.tolist())]
        positions = np.flatnonzero(rest)
        for pos, g, fx in zip(positions, gone, fixed):
            if g:
                notna[pos] = False
            elif fx is not None:
                aware[pos], naive[pos] = fx[1], not fx[1]
        s.iloc[positions] = [None if g else (fx[0] if fx is not None else v) for g, fx, v in zip(gone, fixed, odd)]
        rest = notna & ~naive & ~aware
    failures: list[TimeFailure] = []
    if rest.any():
        failures.append(TimeFailure("not_iso", rest, NOT_ISO_RULE, f"write them as ISO 8601 text such as {ISO_EXAMPLES}"))
    ok = naive | aware
    target = s if not rest.any() and notna.all() else s.where(ok)
    any_aware = bool(aware.any())
    parsed = pd.to_datetime(target, format="ISO8601", utc=any_aware, errors="coerce")
    if any_aware:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    unparsed = ok & parsed.isna().to_numpy()
    if unparsed.any():
        failures += _classify_unparsed(s, unparsed)
    if check_mix:
        failures += _mix_failure(aware, naive)
    result = _finish(parsed, failures)
    return _TextParse(result.values, result.failures, aware=aware, naive=naive)


def _parse_formatted(s: pd.Series, fmt: str, notna: np.ndarray, missing: Collection[str]) -> _TextParse:
    gone = s.isin(list(missing)).to_numpy() | (s.str.strip() == "").to_numpy(dtype=bool, na_value=False)
    target = s.where(~gone) if gone.any() else s
    notna = notna & ~gone
    try:
        parsed = pd.to_datetime(target, format=fmt, utc=True, errors="coerce")
    except ValueError as err:
        raise ParameterError(
            f"The time format {fmt!r} cannot be used: {err}. Fix: use strftime directives such as "
            "'%d/%m/%Y %H:%M' (see the Python datetime.strptime documentation)."
        ) from None
    parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    failures: list[TimeFailure] = []
    bad = notna & parsed.isna().to_numpy()
    if bad.any():
        failures.append(TimeFailure(
            "format", bad, f"values do not match the time format {fmt!r}",
            "fix these values, or give the format they are written in",
        ))
    has_offset = "%z" in fmt or "%Z" in fmt
    aware, naive = (notna & ~bad, np.zeros(len(s), dtype=bool)) if has_offset else (np.zeros(len(s), dtype=bool), notna & ~bad)
    result = _finish(parsed, failures)
    return _TextParse(result.values, result.failures, aware=aware, naive=naive)


def _classify_unparsed(s: pd.Series, unparsed: np.ndarray) -> list[TimeFailure]:
    """ISO-shaped text pandas could not parse: out of range (older pandas) or not a valid date."""
    out_of_range = np.zeros(len(s), dtype=bool)
    for pos in np.flatnonzero(unparsed):
        try:
            ts = pd.Timestamp(s.iloc[pos])
        except pd.errors.OutOfBoundsDatetime:
            out_of_range[pos] = True
            continue
        except (ValueError, OverflowError):
            continue
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        out_of_range[pos] = bool(ts < MIN_TIME or ts > MAX_TIME)
    invalid = unparsed & ~out_of_range
    failures = []
    if invalid.any():
        failures.append(TimeFailure("invalid", invalid, _INVALID_RULE, _INVALID_HINT))
    if out_of_range.any():
        failures.append(TimeFailure("range", out_of_range, RANGE_RULE, RANGE_HINT))
    return failures


def _mix_failure(aware: np.ndarray, naive: np.ndarray) -> list[TimeFailure]:
    if not (aware.any() and naive.any()):
        return []
    rule = (f"timestamps mix values with a UTC offset ({int(aware.sum())}) and values without "
            f"({int(naive.sum())}); the ones without are ambiguous")
    hint = "give every value an offset (e.g. '+00:00'), or none at all (naive values are read as UTC)"
    return [TimeFailure("mixed", naive.copy(), rule, hint)]


def _finish(naive_utc: pd.Series, failures: list[TimeFailure]) -> ParsedTimes:
    """Cast to ``datetime64[ns]``; values outside the range become a failure."""
    s = naive_utc
    if s.dtype != np.dtype("datetime64[ns]"):
        try:
            s = s.astype("datetime64[ns]")
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            outside = (s.notna() & ((s < MIN_TIME) | (s > MAX_TIME))).to_numpy()
            s = s.where(~outside).astype("datetime64[ns]")
            failures = failures + [TimeFailure("range", outside, RANGE_RULE, RANGE_HINT)]
    return _merge(s, failures)


def _merge(s: pd.Series, failures: list[TimeFailure]) -> ParsedTimes:
    """Order failures by kind, join duplicates, and set every failed value to NaT."""
    order = ["numbers", "not_time", "not_iso", "format", "invalid", "mixed", "range"]
    joined: dict[str, TimeFailure] = {}
    for f in failures:
        if not f.mask.any():
            continue
        if f.kind in joined:
            f = TimeFailure(f.kind, joined[f.kind].mask | f.mask, joined[f.kind].rule, joined[f.kind].hint)
        joined[f.kind] = f
    kept = [joined[k] for k in order if k in joined]
    if kept:
        bad = np.logical_or.reduce([f.mask for f in kept])
        s = s.where(~bad)
        if s.dtype != np.dtype("datetime64[ns]"):
            s = s.astype("datetime64[ns]")
    return ParsedTimes(s, kept)
