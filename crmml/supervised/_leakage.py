"""Leakage guard for static columns: refuse a column that "predicts" the label because it was written after it.

Lead scoring and the pipeline forecast let users add **extra static columns**
of the ``leads`` / ``opportunities`` tables as features. CRMs fill many such
columns in *after* the outcome — status, disqualification reason, deal size,
close value, loss reason — and a snapshot export carries today's value. In
training such a column separates converted from lost rows almost perfectly; in
production (before the outcome) it holds nothing or the wrong thing. This
"hindsight bias" is the classic leak of CRM scoring, and commercial products
leave it to the admin. crmml refuses such a column unless the user allows it.

:func:`screen_columns` measures, for each candidate column, how well **the
column alone** separates the 0/1 label (ROC AUC, orientation-free:
``max(auc, 1 - auc)``, computed with :func:`sklearn.metrics.roc_auc_score`):

* **value AUC** — numeric, bool, datetime and timedelta columns are ranked by
  their value (datetimes by their instant, i.e. as ns since the epoch).
  Missing values are placed below every observed value and, separately,
  above every observed value; the larger AUC counts, so the placement cannot
  hide a leak. Categorical, text and other object columns are scored by the
  **cross-fitted** positive rate of the row's category: rows are split into
  ``folds`` stratified folds (seeded) and a row gets the positive rate of its
  category in the *other* folds (a category unseen there gets those folds'
  overall rate; a missing value is a category of its own). Cross-fitting
  matters: in-sample, an id-like column with one value per row would "predict"
  every label (AUC 1.0); cross-fitted, every row's id is unseen and the
  column scores ≈ 0.5.
* **missingness AUC** — ``isna()`` of the column against the label (0.5 when
  the column has no missing value or nothing else).

A column is **flagged** when either AUC is ``>= auc_limit`` (default 0.98:
genuine CRM signals rarely reach 0.9 alone; a post-outcome column sits at
0.99–1.0). Flagged columns not listed in ``allow`` are refused together in
one :class:`~crmml.exceptions.LeakageError`; allowed ones are measured and
reported all the same. The :class:`LeakageReport` holds column names and
numbers only — never a data value, category level or row (GDPR) — and is
JSON-ready for the model card.

Screening is vectorised (hashing, ``bincount`` and one AUC per variant over
the distinct values): about a second or two per million rows and ten columns
on two cores.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> y = rng.random(2000) < 0.3
>>> frame = pd.DataFrame({"source": rng.choice(["web", "event", "partner"], 2000),
...                       "status": np.where(y, "converted", rng.choice(["open", "lost"], 2000))})
>>> screen_columns(frame, y, ["source"], table="leads").columns[0].flagged
False
>>> screen_columns(frame, y, ["source", "status"], table="leads")
Traceback (most recent call last):
...
crmml.exceptions.LeakageError: 1 column would leak the outcome into training (found while screening the extra \
columns of leads):
  - leads.status: alone it predicts the label with ROC AUC 1.000 (limit 0.98) — a value written after the \
outcome leaks it into training. Fix: drop the column, or allow it explicitly: allow=['status']
See docs/supervised.md, section "Leakage guard for static columns".
>>> report = screen_columns(frame, y, ["source", "status"], table="leads", allow=["status"])
>>> [(c.name, c.verdict, round(c.value_auc, 3)) for c in report.columns]
[('source', 'passed', 0.5), ('status', 'allowed by the user', 1.0)]
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml.exceptions import LeakageError, ParameterError, Problem
from crmml.supervised._read import element_error, objects, str_array

__all__ = ["KINDS", "CHECKS", "VERDICTS", "DEFAULT_AUC_LIMIT", "DEFAULT_HINT", "ColumnScreen", "LeakageReport",
           "screen_columns"]

KINDS = ("numeric", "bool", "datetime", "timedelta", "categorical")
"""How a column is scored: ranked by value (the first four) or by its category's cross-fitted positive rate."""

CHECKS = ("value", "missingness")
"""The two measurements that can flag a column, in report order."""

VERDICTS = ("passed", "allowed by the user", "refused")
"""A column's verdict: not flagged; flagged but listed in ``allow``; flagged and refused."""

DEFAULT_AUC_LIMIT = 0.98
"""ROC AUC (orientation-free) from which a single column counts as written after the outcome."""

DEFAULT_HINT = "allow=[{name!r}]"
"""How the message tells the user to keep a flagged column (fields ``{name}`` and ``{shell}``)."""

_OWNER = "screen_columns"
_SOURCE = "LeakageReport.from_dict"
_MAX_NAME = 1000
_MAX_FOLDS = 100
_NUMERIC_INFERRED = ("integer", "floating", "mixed-integer-float", "decimal")
_DATETIME_INFERRED = ("datetime64", "datetime", "date")


# ---------------------------------------------------------------------- report
@dataclass(frozen=True)
class ColumnScreen:
    """The measurements and verdict of one screened column (numbers and the column name only).

    Attributes
    ----------
    name : str
        Column name.
    kind : str
        One of :data:`KINDS`: how the value AUC was computed.
    value_auc : float
        ``max(auc, 1 - auc)`` of the column's value (or cross-fitted category
        rate) against the label, in [0.5, 1].
    missing_auc : float
        ``max(auc, 1 - auc)`` of ``isna()`` against the label, in [0.5, 1]
        (0.5 when nothing or everything is missing).
    missing_share : float
        Share of rows where the column is missing.
    flagged_by : tuple of str
        The checks of :data:`CHECKS` whose AUC reached the limit (empty when
        the column passed).
    allowed : bool
        Whether the user listed the column in ``allow``.
    """

    name: str
    kind: str
    value_auc: float
    missing_auc: float
    missing_share: float
    flagged_by: tuple[str, ...]
    allowed: bool

    @property
    def flagged(self) -> bool:
        """Whether either AUC reached the limit (whatever the user allowed)."""
        return bool(self.flagged_by)

    @property
    def verdict(self) -> str:
        """``"passed"``, ``"allowed by the user"`` (flagged, kept) or ``"refused"``."""
        if not self.flagged:
            return "passed"
        return "allowed by the user" if self.allowed else "refused"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``flagged`` and ``verdict`` are written for readers of the model card."""
        return {"name": self.name, "kind": self.kind, "value_auc": self.value_auc, "missing_auc": self.missing_auc,
                "missing_share": self.missing_share, "flagged": self.flagged, "flagged_by": list(self.flagged_by),
                "allowed": self.allowed, "verdict": self.verdict}


@dataclass(frozen=True)
class LeakageReport:
    """What :func:`screen_columns` measured: one :class:`ColumnScreen` per column, and the settings.

    Attributes
    ----------
    table : str
        The table the columns come from (``"leads"``), as named in messages.
    auc_limit : float
        The flagging limit used.
    folds, seed : int
        Cross-fitting of categorical columns.
    rows, positives, negatives : int
        Rows screened and their labels.
    columns : tuple of ColumnScreen
        In the order the columns were given.
    """

    table: str
    auc_limit: float
    folds: int
    seed: int
    rows: int
    positives: int
    negatives: int
    columns: tuple[ColumnScreen, ...]

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged columns (allowed or not)."""
        return [c.name for c in self.columns if c.flagged]

    @property
    def refused(self) -> list[str]:
        """Names of the flagged columns the user did not allow (empty in a report returned by screening)."""
        return [c.name for c in self.columns if c.verdict == "refused"]

    def __getitem__(self, name: str) -> ColumnScreen:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (column names and numbers only; no data value, level or row)."""
        return {"table": self.table, "auc_limit": self.auc_limit, "folds": self.folds, "seed": self.seed,
                "rows": self.rows, "positives": self.positives, "negatives": self.negatives,
                "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload) -> LeakageReport:
        """Rebuild from :meth:`to_dict` output, strictly.

        Raises
        ------
        IncompatibleArtifactError
            A field is missing, unknown, of the wrong type or out of range;
            counts that do not add up; a repeated column name; ``flagged_by``,
            ``flagged`` or ``verdict`` that do not follow from the AUCs, the
            limit and ``allowed``. The message names the field
            (``LeakageReport.from_dict: columns[1].flagged_by``).
        """
        p = Payload.of(data, source=_SOURCE)
        p.keys_exactly(("table", "auc_limit", "folds", "seed", "rows", "positives", "negatives", "columns"))
        table = p.str_in("table", max_length=_MAX_NAME) or ""
        if not table:
            raise p.error("table", "a non-empty string", table)
        limit = p.finite_float("auc_limit", low=0.5, high=1.0, closed="right")
        assert limit is not None
        folds = p.int_in("folds", low=2, high=_MAX_FOLDS)
        seed = p.int_in("seed", low=0)
        rows = p.int_in("rows", low=2)
        positives = p.int_in("positives", low=1, high=rows)
        negatives = p.int_in("negatives", low=1, high=rows)
        assert folds is not None and seed is not None and rows is not None
        assert positives is not None and negatives is not None
        if positives + negatives != rows:
            raise p.error("negatives", f"rows - positives = {rows - positives}", negatives)
        columns: list[ColumnScreen] = []
        seen: set[str] = set()
        for i, c in enumerate(objects(p, "columns")):
            c.keys_exactly(("name", "kind", "value_auc", "missing_auc", "missing_share", "flagged", "flagged_by",
                            "allowed", "verdict"))
            name = c.str_in("name", max_length=_MAX_NAME) or ""
            if not name:
                raise c.error("name", "a non-empty string", name)
            if name in seen:
                raise element_error(p, "columns", i, "a column not screened before in the report", name)
            seen.add(name)
            kind = c.str_in("kind", KINDS) or ""
            value_auc = c.finite_float("value_auc", low=0.5, high=1.0) or 0.5
            missing_auc = c.finite_float("missing_auc", low=0.5, high=1.0) or 0.5
            share = c.finite_float("missing_share", low=0.0, high=1.0)
            assert share is not None
            if share in (0.0, 1.0) and missing_auc != 0.5:
                raise c.error("missing_auc", f"0.5 when the missing share is {share:g}", missing_auc)
            flagged_by = tuple(str_array(c, "flagged_by", unique=True))
            expected = _flagged_by(value_auc, missing_auc, limit)
            if flagged_by != expected:
                raise c.error("flagged_by", f"{list(expected)} (the checks whose AUC reaches {limit:g})",
                              list(flagged_by))
            if c.boolean("flagged") != bool(flagged_by):
                raise c.error("flagged", f"{'true' if flagged_by else 'false'} (it follows flagged_by)",
                              c.data["flagged"])
            entry = ColumnScreen(name, kind, value_auc, missing_auc, share, flagged_by, c.boolean("allowed"))
            verdict = c.str_in("verdict", VERDICTS)
            if verdict != entry.verdict:
                raise c.error("verdict", f"{entry.verdict!r} (it follows flagged_by and allowed)", verdict)
            columns.append(entry)
        return cls(table, limit, folds, seed, rows, positives, negatives, tuple(columns))


# ---------------------------------------------------------------------- screening
def screen_columns(frame: pd.DataFrame, y: Sequence[int] | np.ndarray | pd.Series, columns: Iterable[str], *,
                   table: str, allow: Iterable[str] = (), auc_limit: float = DEFAULT_AUC_LIMIT, folds: int = 5,
                   seed: int = 0, hint: str = DEFAULT_HINT) -> LeakageReport:
    """Measure how well each column alone predicts the label, and refuse the ones that leak it.

    Parameters
    ----------
    frame : pandas.DataFrame
        Holds the candidate columns, row-aligned (by position) with ``y`` —
        typically the stacked training frame across cutoffs.
    y : array-like of {0, 1} or bool
        The label of each row; both outcomes must occur.
    columns : iterable of str
        The columns to screen (a name given twice is screened once).
    table : str
        The table the columns come from, as named in messages (``"leads"``).
    allow : iterable of str
        Columns that are measured and reported but never refused (names not
        in ``columns`` are ignored).
    auc_limit : float
        A column is flagged when its value AUC or missingness AUC is
        ``>= auc_limit``; in (0.5, 1].
    folds : int
        Stratified folds for the cross-fitted category rates; 2 to 100.
    seed : int
        Seed of the fold assignment (>= 0).
    hint : str
        How the message tells the user to keep a column, a ``str.format``
        template with the fields ``{name}`` (the column name; ``{name!r}``
        quotes it) and ``{shell}`` (the name quoted for a shell), e.g.
        ``"allow_columns=[{name!r}] (CLI: --allow-column {shell})"``.

    Returns
    -------
    LeakageReport
        One entry per column, in the given order.

    Raises
    ------
    LeakageError
        One or more flagged columns are not in ``allow``; the message lists
        every one of them (``table.column``, the AUC and limit, and the fix),
        and ``error.report`` holds the full report.
    ParameterError
        ``y`` does not hold one 0/1 label per row or holds a single outcome;
        a column is not in ``frame`` or is the name of several of its
        columns; a parameter is out of range.
    """
    names = _names(columns, "columns")
    allowed = set(_names(allow, "allow"))
    if not isinstance(table, str) or not table:
        raise ParameterError(f"The 'table' parameter of {_OWNER} must be a non-empty string. Got {table!r} instead.")
    limit = _limit(auc_limit)
    k = _int(folds, "folds", 2, _MAX_FOLDS)
    s = _int(seed, "seed", 0, None)
    _check_hint(hint)
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"The 'frame' parameter of {_OWNER} must be a pandas DataFrame. "
                             f"Got {type(frame).__name__} instead.")
    label = _labels(y, len(frame))
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ParameterError(f"The 'columns' parameter of {_OWNER} names "
                             f"{'columns' if len(missing) > 1 else 'a column'} that the {table} frame does not have: "
                             f"{missing}.")
    repeated = [n for n in names if np.count_nonzero(frame.columns == n) > 1]
    if repeated:
        raise ParameterError(f"{_OWNER} cannot tell which column to screen: the frame holds several columns named "
                             f"{repeated}. Rename or drop the duplicates.")
    fold = _stratified_folds(label, k, s)
    screened = []
    for n in names:
        kind, value_auc, missing_auc, share = _measure(frame[n], label, fold, k)
        screened.append(ColumnScreen(n, kind, value_auc, missing_auc, share, _flagged_by(value_auc, missing_auc,
                                                                                         limit), n in allowed))
    n_pos = int(label.sum())
    report = LeakageReport(table, limit, k, s, len(label), n_pos, len(label) - n_pos, tuple(screened))
    problems = [_problem(c, table, limit, hint) for c in report.columns if c.verdict == "refused"]
    if problems:
        raise LeakageError(problems, f"screening the extra columns of {table}", report=report)
    return report


def _problem(c: ColumnScreen, table: str, limit: float, hint: str) -> Problem:
    parts = []
    if "value" in c.flagged_by:
        parts.append(f"alone it predicts the label with ROC AUC {c.value_auc:.3f}")
    if "missingness" in c.flagged_by:
        parts.append(("and whether it is missing with" if parts else "whether it is missing predicts the label with")
                     + f" ROC AUC {c.missing_auc:.3f}")
    rule = (", ".join(parts) + f" (limit {limit:g}) — a value written after the outcome leaks it into training")
    fix = "drop the column, or allow it explicitly: " + hint.format(name=c.name, shell=shlex.quote(c.name))
    return Problem(table, c.name, rule, hint=fix)


def _flagged_by(value_auc: float, missing_auc: float, limit: float) -> tuple[str, ...]:
    return tuple(check for check, auc in zip(CHECKS, (value_auc, missing_auc), strict=True) if auc >= limit)


# ---------------------------------------------------------------------- parameters
def _names(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ParameterError(f"The {what!r} parameter of {_OWNER} must be a list of column names. "
                             f"Got {values!r} instead.")
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or not v or len(v) > _MAX_NAME:
            raise ParameterError(f"The {what!r} parameter of {_OWNER} must hold non-empty column names (text of at "
                                 f"most {_MAX_NAME} characters). Got {v!r} instead.")
        if v not in out:
            out.append(v)
    return out


def _limit(value: float) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not 0.5 < float(value) <= 1.0:
        raise ParameterError(f"The 'auc_limit' parameter of {_OWNER} must be in (0.5, 1]. Got {value!r} instead.")
    return float(value)


def _int(value: int, what: str, low: int, high: int | None) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ParameterError(f"The {what!r} parameter of {_OWNER} must be an int {bound}. Got {value!r} instead.")
    return int(value)


def _check_hint(hint: str) -> None:
    try:
        ok = isinstance(hint, str) and isinstance(hint.format(name="x", shell="x"), str)
    except (KeyError, IndexError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise ParameterError(f"The 'hint' parameter of {_OWNER} must be a str.format template using only the "
                             f"fields {{name}} and {{shell}}. Got {hint!r} instead.")


def _labels(y: Sequence[int] | np.ndarray | pd.Series, n_rows: int) -> np.ndarray:
    """``y`` as a bool array; refuses anything but one 0/1 label per row, and a single outcome."""
    if isinstance(y, (pd.Series, pd.Index)):
        if y.isna().any():
            raise ParameterError(f"The 'y' parameter of {_OWNER} must hold a 0/1 label for every row; "
                                 f"{int(y.isna().sum())} are missing.")
        arr = y.to_numpy()
    else:
        arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) != n_rows:
        raise ParameterError(f"The 'y' parameter of {_OWNER} must hold one label per row of the frame "
                             f"({n_rows} rows). Got shape {arr.shape} instead.")
    if arr.dtype == bool:
        label = arr
    else:
        try:
            num = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"The 'y' parameter of {_OWNER} must hold 0/1 labels (or bool). "
                                 f"Got values of dtype {arr.dtype} instead.") from None
        bad = int(np.count_nonzero((num != 0) & (num != 1)))
        if bad:
            raise ParameterError(f"The 'y' parameter of {_OWNER} must hold 0/1 labels (or bool); {bad} "
                                 f"label{'s are' if bad != 1 else ' is'} neither 0 nor 1.")
        label = num == 1
    n_pos = int(label.sum())
    if n_pos == 0 or n_pos == n_rows:
        raise ParameterError(
            f"{_OWNER} cannot screen columns without both outcomes: the label holds {n_pos} positives and "
            f"{n_rows - n_pos} negatives. A column can only be seen to predict the label when both occur; "
            "screen the training frame (all cutoffs stacked).")
    return label


# ---------------------------------------------------------------------- measuring
def _stratified_folds(label: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each row: within each class a seeded random order, dealt round-robin over ``k`` folds.

    The deal continues from the negatives to the positives, so the folds are
    balanced overall as well as within each class, and with two rows or more
    at least two folds are non-empty (every fold's training part holds rows).
    """
    rng = np.random.default_rng(seed)
    fold = np.empty(len(label), dtype=np.int64)
    start = 0
    for cls in (False, True):
        idx = np.flatnonzero(label == cls)
        fold[idx] = (start + rng.permutation(len(idx))) % k
        start += len(idx)
    return fold


def _measure(col: pd.Series, label: np.ndarray, fold: np.ndarray, k: int) -> tuple[str, float, float, float]:
    """Kind, value AUC, missingness AUC and missing share of one column."""
    kind, values, missing = _values(col)
    n = len(label)
    n_missing = int(missing.sum())
    missing_auc = 0.5 if n_missing in (0, n) else _orient(_table_auc(
        np.array([np.count_nonzero(label & ~missing), np.count_nonzero(label & missing)]),
        np.array([np.count_nonzero(~label & ~missing), np.count_nonzero(~label & missing)])))
    if kind == "categorical":
        value_auc = _category_auc(values, label, fold, k)
    elif n_missing == n:
        value_auc = 0.5
    else:
        value_auc = _ranked_auc(values, missing, label)
    return kind, value_auc, missing_auc, n_missing / n


def _values(col: pd.Series) -> tuple[str, np.ndarray, np.ndarray]:
    """``(kind, values, missing)``: orderable numbers (missing rows arbitrary) or category codes (missing = -1)."""
    dtype = col.dtype
    missing = col.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", col.to_numpy(dtype=np.float64, na_value=np.nan), missing
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical", col.cat.codes.to_numpy(dtype=np.int64), missing
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", _instants(col), missing
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta", _counts(col.to_numpy(), "timedelta64[ns]"), missing
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":
            return "numeric", col.to_numpy(), missing
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return "numeric", values, missing | np.isnan(values)
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(col, skipna=True)
        converted = _convert_object(col, inferred)
        if converted is not None:
            return converted
    return "categorical", _codes(col), missing


def _convert_object(col: pd.Series, inferred: str) -> tuple[str, np.ndarray, np.ndarray] | None:
    """An object column of booleans, numbers or dates as such (None: score it as categorical)."""
    try:
        if inferred == "boolean":
            return _values(col.astype("boolean"))
        if inferred in _NUMERIC_INFERRED:
            return _values(pd.to_numeric(col))
        if inferred in _DATETIME_INFERRED:
            return _values(pd.to_datetime(col, utc=True))
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _instants(col: pd.Series) -> np.ndarray:
    """Datetimes (naive or time-zone aware) as int64 counts since the epoch; the order of the instants."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    return _counts(col.to_numpy(), "datetime64[ns]")


def _counts(values: np.ndarray, fallback: str) -> np.ndarray:
    """datetime64 / timedelta64 values as int64 counts of their unit (the unit does not change the order)."""
    if values.dtype.kind not in "mM":
        values = np.asarray(values, dtype=fallback)
    return values.view(np.int64)


def _codes(col: pd.Series) -> np.ndarray:
    """Category codes of any column (missing → -1); unhashable values are compared by their text."""
    try:
        codes, _ = pd.factorize(col, use_na_sentinel=True)
    except TypeError:
        values = col.to_numpy(dtype=object)
        present = ~pd.isna(values)
        codes = np.full(len(values), -1, dtype=np.int64)
        codes[present], _ = pd.factorize(pd.Series(values[present], dtype=object).astype(str))
    return np.asarray(codes, dtype=np.int64)


def _ranked_auc(values: np.ndarray, missing: np.ndarray, label: np.ndarray) -> float:
    """Orientation-free AUC of ordered values, missing values below and above all others (the larger)."""
    present = values[~missing]
    uniques, codes = np.unique(present, return_inverse=True)
    n_levels = len(uniques)
    lab = label[~missing]
    pos = np.bincount(codes[lab], minlength=n_levels)
    neg = np.bincount(codes[~lab], minlength=n_levels)
    m_pos = int(np.count_nonzero(label & missing))
    m_neg = int(np.count_nonzero(~label & missing))
    if m_pos + m_neg == 0:
        return _orient(_table_auc(pos, neg))
    low = _orient(_table_auc(np.r_[m_pos, pos], np.r_[m_neg, neg]))
    high = _orient(_table_auc(np.r_[pos, m_pos], np.r_[neg, m_neg]))
    return max(low, high)


def _category_auc(codes: np.ndarray, label: np.ndarray, fold: np.ndarray, k: int) -> float:
    """Orientation-free AUC of the cross-fitted positive rate of each row's category.

    A row in fold ``f`` gets ``positives / rows`` of its category among the
    rows of the other folds, or the other folds' overall rate when its
    category does not occur there. Missing values form one more category.
    Computed per (fold, category) cell, so the cost is one hash of the rows.
    """
    n_levels = int(codes.max()) + 2 if len(codes) else 1
    cat = np.where(codes < 0, n_levels - 1, codes)
    cells, cell_ids = pd.factorize(fold * n_levels + cat)
    cell_rows = np.bincount(cells)
    cell_pos = np.bincount(cells[label], minlength=len(cell_ids))
    cell_fold = cell_ids // n_levels
    cell_cat = cell_ids % n_levels
    cat_rows = np.bincount(cat, minlength=n_levels)
    cat_pos = np.bincount(cat[label], minlength=n_levels)
    fold_rows = np.bincount(fold, minlength=k)
    fold_pos = np.bincount(fold[label], minlength=k)
    other_rows = cat_rows[cell_cat] - cell_rows
    other_pos = cat_pos[cell_cat] - cell_pos
    fold_rate = (int(label.sum()) - fold_pos) / np.maximum(len(label) - fold_rows, 1)
    rate = np.where(other_rows > 0, other_pos / np.maximum(other_rows, 1), fold_rate[cell_fold])
    levels, where = np.unique(rate, return_inverse=True)
    pos = np.bincount(where, weights=cell_pos, minlength=len(levels))
    neg = np.bincount(where, weights=cell_rows - cell_pos, minlength=len(levels))
    return _orient(_table_auc(pos, neg))


def _table_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC (scikit-learn) of a score given as a table: ``pos[i]``, ``neg[i]`` rows at the i-th lowest score.

    The same AUC as on the rows themselves (each row weighted 1), at the cost
    of the distinct scores only. Neighbouring scores held only by negatives
    (or only by positives) are merged first: no row of the other class lies
    between them, so no positive-negative pair changes its order and the AUC
    is exactly the same, on a table about half as long.
    """
    from sklearn.metrics import roc_auc_score

    p = np.asarray(pos, dtype=np.float64)
    q = np.asarray(neg, dtype=np.float64)
    used = (p > 0) | (q > 0)
    p, q = p[used], q[used]
    pure = np.where(p == 0, 0, np.where(q == 0, 1, 2))
    start = np.ones(len(pure), dtype=bool)
    start[1:] = (pure[1:] != pure[:-1]) | (pure[1:] == 2)
    group = np.cumsum(start) - 1
    p = np.bincount(group, weights=p)
    q = np.bincount(group, weights=q)
    n = len(p)
    if not (p.any() and q.any()):  # pragma: no cover - callers pass both outcomes
        return 0.5
    score = np.repeat(np.arange(n), 2)                 # already in order: no sort needed
    truth = np.tile(np.array([1, 0], dtype=np.int8), n)
    weight = np.column_stack([p, q]).ravel()
    keep = weight > 0
    return float(roc_auc_score(truth[keep], score[keep], sample_weight=weight[keep]))


def _orient(auc: float) -> float:
    """``max(auc, 1 - auc)``: how well a score separates the label, whichever way round."""
    return max(auc, 1.0 - auc) if math.isfinite(auc) else 0.5
