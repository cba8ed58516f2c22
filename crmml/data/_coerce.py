"""Type coercion into the internal representation.

Every contract column present in a frame is converted to the type that code
behind the loading boundary trusts (see :mod:`crmml.data._contract`):

* ``id`` and ``str`` columns: pandas string dtype; integers become ``"12"``
  and integral floats ``12.0`` also become ``"12"`` (not ``"12.0"``). Text
  is kept as it is: ``"NA"`` (Namibia) or ``"None"`` are values, not missing;
* ``datetime`` columns: ``datetime64[ns]``, timezone-naive, in UTC, parsed by
  the one time parser :mod:`crmml._time`: ISO 8601 text and real datetime
  values, or text in an explicit format (``formats=``). Aware values are
  converted to UTC (each value with its own offset); naive values are taken
  as UTC. A column that mixes aware and naive values, text in another format,
  numbers, and times outside the ``datetime64[ns]`` range are Problems;
* ``float`` and ``int`` columns: ``float64`` (``int`` keeps NaN for missing).
  Only finite numbers are accepted: ``inf``, ``-inf`` and text that overflows
  (``"1e400"``) are a Problem, whatever the column;
* ``bool`` columns: pandas ``boolean`` (nullable).

In number, time and true/false columns, the text spellings of missing
(:data:`~crmml.data._options.MISSING_TEXT`: ``""``, ``"NA"``, ``"null"``,
``"NaN"`` ...) mean missing; whether missing is allowed is then the
column's ``nullable`` rule.

Values that cannot be converted are reported as Problems (table, column,
count, examples), never as raw pandas exceptions. Columns outside the contract
are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from crmml._time import ISO_EXAMPLES, parse_times, suggest_format
from crmml.data._contract import TABLES, ColumnSpec
from crmml.data._options import MISSING_TEXT
from crmml.exceptions import Problem

__all__ = ["coerce_table", "CoercionResult"]

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_MISSING = frozenset(MISSING_TEXT)


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


# A failure: which positions, the rule in words, the fix.
Failure = tuple[np.ndarray, str, str]
Coerced = tuple[pd.Series, list[Failure]]


def coerce_table(table: str, frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> CoercionResult:
    """Convert every contract column of ``frame`` to its internal type.

    Parameters
    ----------
    table : str
        Contract table name.
    frame : DataFrame
        Columns already renamed to contract names.
    formats : dict, optional
        ``{column: strftime format}`` for timestamp columns that are not ISO
        8601 text.

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
    formats = formats or {}
    result = CoercionResult(frame)
    converted: dict[str, pd.Series] = {}
    repeated = set(frame.columns[frame.columns.duplicated()])
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        if col.name in repeated:
            result.problems.append(Problem(
                table, col.name, f"the column appears {int((frame.columns == col.name).sum())} times",
                hint=f"keep one {col.name!r} column (column names must be unique)",
            ))
            result.failed_columns.add(col.name)
            continue
        # positional work: the caller's index may have duplicate labels
        raw = frame[col.name].reset_index(drop=True)
        if col.kind == "datetime":
            series, failures = _coerce_datetime(table, col.name, raw, formats.get(col.name))
        else:
            series, failures = _COERCERS[col.kind](raw)
        converted[col.name] = series.set_axis(frame.index)
        for bad, rule, hint in failures:
            if bad.any():
                result.problems.append(_bad_values_problem(table, col, frame, bad, rule, hint))
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


# pandas' default string dtype: ``str`` in pandas 3, ``object`` in pandas 2.
_TEXT_DTYPE = pd.Series([""], dtype="str").dtype


def _is_text_like(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)


def _missing_text(s: pd.Series) -> np.ndarray:
    """Text values that spell missing (``""``, ``"NA"``, ``"null"`` ...; blanks around ignored)."""
    if not _is_text_like(s):
        return np.zeros(len(s), dtype=bool)
    if pd.api.types.is_object_dtype(s.dtype):
        text = s.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")
    else:
        text = s.str.strip()
    return text.isin(list(_MISSING)).to_numpy(dtype=bool)


# ------------------------------------------------------------------------ text
def _as_text(values: pd.Series, notna: pd.Series) -> pd.Series:
    return values.astype("str").where(notna)


def _coerce_text(s: pd.Series) -> Coerced:
    """ids and text to the default string dtype; integral floats lose their ``.0``."""
    notna = s.notna()
    if s.dtype == _TEXT_DTYPE and not pd.api.types.is_object_dtype(s.dtype):
        return s, []
    if pd.api.types.is_float_dtype(s.dtype):
        return _float_to_text(s, notna), []
    if pd.api.types.is_object_dtype(s.dtype):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred in ("string", "empty"):
            return _as_text(s, notna), []
        return _as_text(s.map(_scalar_to_text, na_action="ignore"), notna), []
    return _as_text(s, notna), []


def _float_to_text(s: pd.Series, notna: pd.Series) -> pd.Series:
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    integral = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2**53)
    if bool(integral[notna.to_numpy()].all()):
        ints = pd.Series(np.where(integral, values, 0).astype("int64"), index=s.index)
        return _as_text(ints, notna)
    return _as_text(s.map(_scalar_to_text, na_action="ignore"), notna)


def _scalar_to_text(v: object) -> str:
    if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v)


# --------------------------------------------------------------------- numbers
_NOT_NUMBERS = ("values are not numbers", "use plain numbers (no currency signs or thousands separators)")
_NOT_FINITE = (
    "values are not finite numbers (inf, -inf, or too large for float64 such as 1e400)",
    "replace them with the real values; leave unknown values empty where the column allows missing values",
)
_BOOLS = ("values are true/false, not numbers", _NOT_NUMBERS[1])
_TIMES = ("values are timestamps, not numbers", _NOT_NUMBERS[1])
_NUMERIC_OBJECTS = {"floating", "integer", "mixed-integer-float", "decimal", "empty"}


def _coerce_float(s: pd.Series) -> Coerced:
    """Money and counts to float64; only finite numbers pass."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return _nan_like(s), [(s.notna().to_numpy(), *_BOOLS)]
    if _is_time_dtype(s):
        return _nan_like(s), [(s.notna().to_numpy(), *_TIMES)]
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_complex_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        return _finite(s, values, [])
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    failures: list[Failure] = []
    missing = ~s.notna().to_numpy() | _missing_text(s)
    candidates = s.where(~missing)
    if pd.api.types.is_object_dtype(s.dtype) and pd.api.types.infer_dtype(candidates, skipna=True) not in (
        _NUMERIC_OBJECTS | {"string"}
    ):
        candidates, failures = _screen_objects(candidates)
    values = _to_float(candidates)
    not_number = ~missing & np.isnan(values)
    for bad, _, _ in failures:
        not_number &= ~bad
    failures.append((not_number, *_NOT_NUMBERS))
    return _finite(s, values, failures)


def _is_time_dtype(s: pd.Series) -> bool:
    return (
        pd.api.types.is_datetime64_any_dtype(s.dtype)
        or pd.api.types.is_timedelta64_dtype(s.dtype)
        or isinstance(s.dtype, pd.PeriodDtype)
    )


def _nan_like(s: pd.Series) -> pd.Series:
    return pd.Series(np.nan, index=s.index, dtype="float64", name=s.name)


def _screen_objects(s: pd.Series) -> tuple[pd.Series, list[Failure]]:
    """Mixed object columns: true/false and timestamps are refused as such, value by value."""
    values = s.to_numpy(dtype=object)
    bools = np.array([isinstance(v, (bool, np.bool_)) for v in values], dtype=bool)
    times = np.array([isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat") for v in values],
                     dtype=bool) & ~bools
    return s.where(~(bools | times)), [(bools, *_BOOLS), (times, *_TIMES)]


def _to_float(s: pd.Series) -> np.ndarray:
    """Numbers and numeric text to float64 (NaN where not a number); overflow gives ±inf."""
    try:
        out = pd.to_numeric(s, errors="coerce")
        return np.asarray(out, dtype="float64")
    except (OverflowError, TypeError, ValueError):
        return np.array([_scalar_to_float(v) for v in s.to_numpy(dtype=object)], dtype="float64")


def _scalar_to_float(v: object) -> float:
    if v is None or isinstance(v, (bool, np.bool_)):
        return np.nan
    if isinstance(v, str):
        converted = pd.to_numeric(pd.Series([v], dtype=object), errors="coerce").iloc[0]
        return float(converted) if pd.notna(converted) else np.nan
    try:
        return float(v)  # type: ignore[arg-type]
    except OverflowError:
        return float(np.sign(v) * np.inf) if isinstance(v, int) else np.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan


def _finite(s: pd.Series, values: np.ndarray, failures: list[Failure]) -> Coerced:
    infinite = np.isinf(values)
    if infinite.any():
        failures.append((infinite, *_NOT_FINITE))
        values = np.where(infinite, np.nan, values)
    return pd.Series(values, index=s.index, name=s.name, dtype="float64"), failures


# ------------------------------------------------------------------------ bool
def _coerce_bool(s: pd.Series) -> Coerced:
    """``won`` to pandas ``boolean``: accepts bools, 0/1 and true/false words."""
    rule, hint = "values are not true/false", "use True/False (or 1/0, 'true'/'false'); leave open ones empty"
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean"), []
    missing = ~s.notna().to_numpy() | _missing_text(s)
    mapped = s.where(~missing).map(_scalar_to_bool, na_action="ignore")
    bad = ~missing & mapped.isna().to_numpy()
    return mapped.where(~bad).astype("boolean"), [(bad, rule, hint)]


def _scalar_to_bool(v: object) -> object:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return {0: False, 1: True}.get(v, None)  # type: ignore[call-overload]
    text = str(v).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


# -------------------------------------------------------------------- datetime
def _coerce_datetime(table: str, column: str, s: pd.Series, fmt: str | None) -> Coerced:
    """Timestamps to ``datetime64[ns]`` naive UTC through :func:`crmml._time.parse_times`."""
    parsed = parse_times(s, fmt, missing=MISSING_TEXT)
    failures: list[Failure] = []
    for f in parsed.failures:
        hint = f.hint
        if f.kind == "not_iso":
            hint = _format_hint(table, column, s[f.mask])
        elif f.kind == "format":
            hint = (f"fix these values, or correct the format given with formats={{{table!r}: {{{column!r}: "
                    f"{fmt!r}}}}}")
        failures.append((f.mask, f.rule, hint))
    return parsed.values, failures


def _format_hint(table: str, column: str, bad: pd.Series) -> str:
    examples = [str(v) for v in bad.head(50)]
    guess = suggest_format(examples)
    fmt = guess if guess else "'%d/%m/%Y %H:%M'"
    option = f"formats={{{table!r}: {{{column!r}: {fmt.split(' (')[0]}}}}}"
    also = f"; these look like {guess}" if guess else ""
    return (f"write them as ISO 8601 text such as {ISO_EXAMPLES}, or give the format they are written in with "
            f"{option} (or in mapping=){also}")


_COERCERS: dict[str, Callable[[pd.Series], Coerced]] = {
    "id": _coerce_text,
    "str": _coerce_text,
    "float": _coerce_float,
    "int": _coerce_float,
    "bool": _coerce_bool,
}
