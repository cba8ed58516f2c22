"""Column mapping and type coercion into the internal representation.

Every contract column present in a frame is converted to the type that code
behind the loading boundary trusts (see :mod:`crmml.data._contract`):

* ``id`` and ``str`` columns: pandas string dtype; integers become ``"12"``
  and integral floats ``12.0`` also become ``"12"`` (not ``"12.0"``);
* ``datetime`` columns: ``datetime64[ns]``, timezone-naive, in UTC. Aware
  values are converted to UTC (each value with its own offset); naive values
  are taken as UTC. A column that mixes aware and naive values is ambiguous
  and gives a :class:`~crmml.exceptions.Problem`;
* ``float`` and ``int`` columns: ``float64`` (``int`` keeps NaN for missing);
* ``bool`` columns: pandas ``boolean`` (nullable).

Values that cannot be converted are reported as Problems (table, column,
count, examples), never as raw pandas exceptions. Columns outside the contract
are left untouched.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from crmml.data._contract import TABLES, ColumnSpec
from crmml.exceptions import DataContractError, Problem

__all__ = ["apply_mapping", "check_mapping", "coerce_table", "CoercionResult"]

# A UTC offset (or Z / UTC / GMT) at the end of a timestamp string that has a
# time of day, or a Z right after a date. ``2024-01-01`` must not count: its
# ``-01`` is not an offset.
_OFFSET_RE = r"(?:\d:\d{2}(?::\d{2})?(?:[.,]\d+)?\s*(?:[zZ]|[+-]\d{2}:?\d{2}|UTC|GMT)|\d[zZ])$"
_OFFSET = re.compile(_OFFSET_RE)

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


class CoercionResult:
    """A coerced frame, the Problems found, and the columns that failed.

    Attributes
    ----------
    frame : DataFrame
        The frame with every convertible contract column converted.
    problems : list of Problem
    failed_columns : set of str
        Columns with unconvertible values; later checks skip them so a bad
        value is reported once.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.problems: list[Problem] = []
        self.failed_columns: set[str] = set()


# --------------------------------------------------------------------- mapping
def check_mapping(mapping: Mapping[str, Mapping[str, str]] | None) -> dict[str, dict[str, str]]:
    """Return ``mapping`` as a plain dict, rejecting unknown table names."""
    if not mapping:
        return {}
    unknown = [t for t in mapping if t not in TABLES]
    if unknown:
        raise DataContractError(
            [unknown_table_problem(t, "mapping") for t in unknown], context="loading tables"
        )
    return {t: dict(cols) for t, cols in mapping.items()}


def apply_mapping(table: str, frame: pd.DataFrame, columns: Mapping[str, str] | None) -> list[Problem] | pd.DataFrame:
    """Rename source columns to contract names.

    Returns the renamed frame, or the list of Problems when a source column
    named in the mapping is not in the frame.
    """
    if not columns:
        return frame
    missing = [src for src in columns if src not in frame.columns]
    if missing:
        available = ", ".join(map(str, frame.columns))
        return [
            Problem(
                table, src, f"mapping source column {src!r} (for {columns[src]!r}) is not in the table",
                hint=f"the table's columns are: {available}",
            )
            for src in missing
        ]
    return frame.rename(columns=dict(columns))


def unknown_table_problem(name: object, where: str) -> Problem:
    """Problem for a table name that is not in the contract."""
    import difflib

    close = difflib.get_close_matches(str(name), list(TABLES), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return Problem(
        str(name), None, f"unknown table name in {where}",
        hint=f"{guess}contract tables are: {', '.join(TABLES)}",
    )


# ------------------------------------------------------------------- coercion
def coerce_table(table: str, frame: pd.DataFrame) -> CoercionResult:
    """Convert every contract column of ``frame`` to its internal type.

    Parameters
    ----------
    table : str
        Contract table name.
    frame : DataFrame
        Columns already renamed to contract names.

    Returns
    -------
    CoercionResult

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"customer_id": [12, 13], "signup_at": ["2024-01-01T02:00+02:00"] * 2})
    >>> res = coerce_table("customers", df)
    >>> res.frame["customer_id"].tolist(), str(res.frame["signup_at"].iloc[0])
    (['12', '13'], '2024-01-01 00:00:00')
    """
    spec = TABLES[table]
    result = CoercionResult(frame)
    converted: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        # positional work: the caller's index may have duplicate labels
        series, bad, rule, hint = _COERCERS[col.kind](frame[col.name].reset_index(drop=True))
        converted[col.name] = series.set_axis(frame.index)
        if bad is not None and bool(bad.any()):
            result.problems.append(_bad_values_problem(table, col, frame, bad.to_numpy(), rule, hint))
            result.failed_columns.add(col.name)
    if converted:
        result.frame = frame.assign(**converted)
    return result


def _bad_values_problem(
    table: str, col: ColumnSpec, frame: pd.DataFrame, bad: np.ndarray, rule: str, hint: str
) -> Problem:
    from crmml.data._validate import labelled_examples

    return Problem(
        table, col.name, rule, n_rows=int(bad.sum()),
        examples=labelled_examples(table, frame, bad, col.name), hint=hint,
    )


Coerced = tuple[pd.Series, "pd.Series | None", str, str]


# pandas' default string dtype: ``str`` in pandas 3, ``object`` in pandas 2.
_TEXT_DTYPE = pd.Series([""], dtype="str").dtype


def _as_text(values: pd.Series, notna: pd.Series) -> pd.Series:
    return values.astype("str").where(notna)


def _coerce_text(s: pd.Series) -> Coerced:
    """ids and text to the default string dtype; integral floats lose their ``.0``."""
    notna = s.notna()
    if s.dtype == _TEXT_DTYPE and not pd.api.types.is_object_dtype(s.dtype):
        return s, None, "", ""
    if pd.api.types.is_float_dtype(s.dtype):
        return _float_to_text(s, notna), None, "", ""
    if pd.api.types.is_object_dtype(s.dtype):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred in ("string", "empty"):
            return _as_text(s, notna), None, "", ""
        return _as_text(s.map(_scalar_to_text, na_action="ignore"), notna), None, "", ""
    return _as_text(s, notna), None, "", ""


def _float_to_text(s: pd.Series, notna: pd.Series) -> pd.Series:
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    integral = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2**53)
    if bool(integral[notna.to_numpy()].all()):
        ints = pd.Series(np.where(integral, values, 0).astype("int64"), index=s.index)
        return _as_text(ints, notna)
    return _as_text(s.map(_scalar_to_text, na_action="ignore"), notna)


def _scalar_to_text(v: object) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _coerce_float(s: pd.Series) -> Coerced:
    """Money and counts to float64."""
    rule, hint = "values are not numbers", "use plain numbers (no currency signs or thousands separators)"
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64"), s.notna(), "values are true/false, not numbers", hint
    if pd.api.types.is_numeric_dtype(s.dtype):
        return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index, name=s.name), None, rule, hint
    out = pd.to_numeric(s, errors="coerce")
    out = pd.Series(np.asarray(out, dtype="float64"), index=s.index, name=s.name)
    return out, s.notna() & out.isna(), rule, hint


def _coerce_bool(s: pd.Series) -> Coerced:
    """``won`` to pandas ``boolean``: accepts bools, 0/1 and true/false words."""
    rule, hint = "values are not true/false", "use True/False (or 1/0, 'true'/'false'); leave open ones empty"
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean"), None, rule, hint
    mapped = s.map(_scalar_to_bool, na_action="ignore")
    bad = s.notna() & mapped.isna()
    return mapped.astype("boolean"), bad, rule, hint


def _scalar_to_bool(v: object) -> object:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return {0: False, 1: True}.get(v, None)  # type: ignore[call-overload]
    text = str(v).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _coerce_datetime(s: pd.Series) -> Coerced:
    """Timestamps to ``datetime64[ns]`` naive UTC (see module docstring)."""
    rule = "values are not timestamps"
    hint = "use ISO 8601 text such as '2024-03-01 14:30' or '2024-03-01T14:30:00+02:00'"
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return _in_ns_range(s.dt.tz_convert("UTC").dt.tz_localize(None), None, rule, hint)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return _in_ns_range(s, None, rule, hint)
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return _nat_like(s), s.notna(), "values are numbers, not timestamps", (
            "convert epoch numbers first, e.g. pd.to_datetime(x, unit='s')"
        )
    aware = _is_aware(s)
    naive = s.notna() & ~aware
    if bool(aware.any()) and bool(naive.any()):
        mixed_rule = (
            f"timestamps mix values with a UTC offset ({int(aware.sum())}) and values without "
            f"({int(naive.sum())}); the ones without are ambiguous"
        )
        return _nat_like(s), naive, mixed_rule, (
            "give every value an offset (e.g. '+00:00'), or none at all (naive values are read as UTC)"
        )
    parsed = _parse_datetimes(s)
    failed = s.notna() & parsed.isna()
    if bool(failed.any()) and _years_out_of_range(s[failed]):
        return _nat_like(s), failed, _OUT_OF_RANGE_RULE, _OUT_OF_RANGE_HINT
    naive_utc = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return _in_ns_range(naive_utc, failed, rule, hint)


_OUT_OF_RANGE_RULE = f"timestamps outside {pd.Timestamp.min.date()}..{pd.Timestamp.max.date()}"
_OUT_OF_RANGE_HINT = "leave open-ended dates empty instead of placeholders such as 9999-12-31"


def _years_out_of_range(failed: pd.Series) -> bool:
    """Whether every unparsed value starts with a year pandas cannot hold in ns (pandas 2)."""
    years = pd.to_numeric(failed.astype(str).str.extract(r"^\s*(\d{4})-", expand=False), errors="coerce")
    limits = (years > pd.Timestamp.max.year) | (years < pd.Timestamp.min.year)
    return bool(limits.all())


def _in_ns_range(s: pd.Series, bad: pd.Series | None, rule: str, hint: str) -> Coerced:
    """Cast naive timestamps to ``datetime64[ns]``; out-of-range values are a Problem."""
    try:
        return s.astype("datetime64[ns]"), bad, rule, hint
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        lo, hi = pd.Timestamp.min, pd.Timestamp.max
        out_of_range = s.notna() & ((s < lo) | (s > hi))
        kept = s.where(~out_of_range).astype("datetime64[ns]")
        if bad is not None and bool(bad.any()):
            return kept, bad, rule, hint
        return kept, out_of_range, _OUT_OF_RANGE_RULE, _OUT_OF_RANGE_HINT


def _nat_like(s: pd.Series) -> pd.Series:
    return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]", name=s.name)


def _is_aware(s: pd.Series) -> pd.Series:
    """Which values carry a UTC offset (aware datetimes or strings ending in one)."""
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        return s.str.contains(_OFFSET_RE, regex=True, na=False).astype(bool)
    return pd.Series([_scalar_is_aware(v) for v in s], index=s.index, dtype=bool)


def _scalar_is_aware(v: object) -> bool:
    if isinstance(v, _dt.datetime):
        return v.tzinfo is not None and v.utcoffset() is not None
    if isinstance(v, str):
        return _OFFSET.search(v.strip()) is not None
    return False


def _parse_datetimes(s: pd.Series) -> pd.Series:
    """Parse text or objects as UTC; ISO 8601 first, then per-value for the rest."""
    parsed = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
    retry = s.notna() & parsed.isna()
    if bool(retry.any()):
        again = pd.to_datetime(s[retry], utc=True, errors="coerce", format="mixed")
        parsed = parsed.astype(again.dtype) if parsed.dtype != again.dtype else parsed
        parsed = parsed.where(~retry, again.reindex(s.index))
    return parsed


_COERCERS: dict[str, Callable[[pd.Series], Coerced]] = {
    "id": _coerce_text,
    "str": _coerce_text,
    "datetime": _coerce_datetime,
    "float": _coerce_float,
    "int": _coerce_float,
    "bool": _coerce_bool,
}
