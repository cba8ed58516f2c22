"""pandera schemas of the contract tables, generated from :data:`TABLES`.

One :class:`pandera.pandas.DataFrameSchema` per table checks, for the columns
that are present: the internal dtype, nullability, ``min_value`` bounds,
non-empty text, finite numbers (no ``inf``), whole numbers for counts, known
opportunity stages, and the table rules that tie columns together (``due_at``
not before ``issued_at``, ``converted_at`` not before ``created_at``, closed
opportunities carry ``closed_at`` and ``won`` ...). Optional columns
may be absent; extra columns are allowed.

Key uniqueness and foreign keys are checked with vectorised pandas operations
in :mod:`crmml.data._validate` (pandera's ``unique=True`` costs about twice
as much on 10M rows).

Every check carries its rule in words as its ``error`` text; the schema's
``metadata["rules"]`` maps ``(column, rule)`` to a fix hint, so that pandera's
failure cases can be turned into :class:`~crmml.exceptions.Problem` s.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # pandera imports pyspark.pandas when pyspark is installed (the 'spark' extra); pyspark then warns that
    # pandas-on-Spark does not support this pandas. crmml does not use pandas-on-Spark.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    import pandera.pandas as pa

from crmml.data._contract import DEFAULT_CLOSED_STAGES, DEFAULT_OPEN_STAGES, TABLES, ColumnSpec
from crmml.exceptions import ParameterError

__all__ = ["Stages", "resolve_stages", "table_schema", "DTYPE_WORDS"]

_DTYPES: dict[str, object] = {
    "id": str,
    "str": str,
    "datetime": "datetime64[ns]",
    "float": "float64",
    "int": "float64",
    "bool": "boolean",
}

DTYPE_WORDS: dict[str, str] = {
    "id": "text (string dtype)",
    "str": "text (string dtype)",
    "datetime": "datetime64[ns] timestamps (naive UTC)",
    "float": "float64 numbers",
    "int": "float64 whole numbers (NaN for missing)",
    "bool": "pandas 'boolean' (True/False/missing)",
}
"""The internal dtype of each column kind, in words."""


@dataclass(frozen=True)
class Stages:
    """Opportunity stages: open stages in funnel order, then won and lost."""

    open: tuple[str, ...]
    won: str
    lost: str

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.open, self.won, self.lost)

    @property
    def closed(self) -> tuple[str, str]:
        return (self.won, self.lost)


def resolve_stages(stages: Sequence[str] | None = None) -> Stages:
    """Read the ``stages`` configuration.

    Parameters
    ----------
    stages : sequence of str, optional
        Open stages in funnel order followed by exactly two closed stages, the
        won stage then the lost stage. Default
        ``DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES``.

    Examples
    --------
    >>> resolve_stages(["lead", "demo", "won", "lost"]).won
    'won'
    """
    if stages is None:
        stages = DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES
    names = tuple(stages) if not isinstance(stages, str) else (stages,)
    ok = len(names) >= 3 and all(isinstance(s, str) and s for s in names) and len(set(names)) == len(names)
    if not ok:
        raise ParameterError(
            "The 'stages' parameter must be a sequence of at least 3 distinct non-empty stage names: "
            "the open stages in funnel order, then the won stage, then the lost stage "
            f"(e.g. {DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES}). Got {stages!r} instead."
        )
    return Stages(open=names[:-2], won=names[-2], lost=names[-1])


# ------------------------------------------------------------------ helpers
def _passes(index: pd.Index) -> pd.Series:
    return pd.Series(True, index=index)


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype)


def _is_time(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns and pd.api.types.is_datetime64_dtype(df[c].dtype) for c in cols)


def _non_empty(s: pd.Series) -> pd.Series:
    if not _is_text(s):
        return _passes(s.index)
    return s.astype("str").str.strip() != ""


def _at_least(bound: float) -> Callable[[pd.Series], pd.Series]:
    def check(s: pd.Series) -> pd.Series:
        if not pd.api.types.is_numeric_dtype(s.dtype):
            return _passes(s.index)
        return s >= bound

    return check


def _finite(s: pd.Series) -> pd.Series:
    """No ``inf``/``-inf`` (missing values are the ``nullable`` rule's business)."""
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return _passes(s.index)
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(~np.isinf(values), index=s.index)


def _whole(s: pd.Series) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(s.dtype):
        return _passes(s.index)
    return s % 1 == 0


def _one_of(values: Sequence[str]) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s.isin(list(values))


def _not_before(later: str, earlier: str) -> Callable[[pd.DataFrame], pd.Series]:
    """``later >= earlier`` wherever both are known."""

    def check(df: pd.DataFrame) -> pd.Series:
        if not _is_time(df, later, earlier):
            return _passes(df.index)
        return ~(df[later] < df[earlier])

    return check


# -------------------------------------------------------------------- rules
@dataclass(frozen=True)
class _Rule:
    column: str
    text: str
    hint: str
    fn: Callable[..., pd.Series]

    def check(self) -> pa.Check:
        return pa.Check(self.fn, error=self.text, name=self.text)


def _column_rules(table: str, col: ColumnSpec, stages: Stages) -> list[_Rule]:
    rules: list[_Rule] = []
    if col.kind in ("id", "str") and not col.nullable:
        rules.append(_Rule(col.name, "must not be empty text", f"fill in {col.name} or leave those rows out", _non_empty))
    if col.kind in ("float", "int"):
        rules.append(_Rule(col.name, "must be a finite number (not inf or -inf)",
                           f"replace the infinite {col.name} values with real ones (or leave them empty where "
                           "missing values are allowed)", _finite))
    if col.min_value is not None:
        rules.append(_Rule(col.name, f"must be >= {col.min_value:g}",
                           f"{col.name} cannot be negative; check the sign or the export", _at_least(col.min_value)))
    if col.kind == "int":
        rules.append(_Rule(col.name, "must be a whole number", f"round {col.name} to whole numbers", _whole))
    if col.name == "stage" and table in ("opportunities", "opportunity_history"):
        rules.append(_Rule(
            col.name, f"must be one of the configured stages ({', '.join(stages.all)})",
            "rename your CRM's stages to these, or pass stages=[open stages..., won stage, lost stage]",
            _one_of(stages.all),
        ))
    return rules


def _opportunity_rules(stages: Stages) -> list[_Rule]:
    closed = list(stages.closed)

    def closed_stage_has_closed_at(df: pd.DataFrame) -> pd.Series:
        if "stage" not in df.columns or not _is_time(df, "closed_at"):
            return _passes(df.index)
        known = df["stage"].isin(stages.all)
        return ~known | (df["stage"].isin(closed) == df["closed_at"].notna())

    def won_known_when_closed(df: pd.DataFrame) -> pd.Series:
        if "won" not in df.columns or not _is_time(df, "closed_at"):
            return _passes(df.index)
        return df["won"].notna() == df["closed_at"].notna()

    def won_matches_stage(df: pd.DataFrame) -> pd.Series:
        if "won" not in df.columns or "stage" not in df.columns or not pd.api.types.is_bool_dtype(df["won"].dtype):
            return _passes(df.index)
        won = df["won"].astype("boolean")
        judged = won.notna() & df["stage"].isin(closed)
        agrees = (won.fillna(False).astype(bool)) == (df["stage"] == stages.won)
        return ~judged | agrees

    return [
        _Rule("closed_at", "closed_at must not be before created_at",
              "check the time zones or the export of these opportunities", _not_before("closed_at", "created_at")),
        _Rule("closed_at", f"closed_at must be set exactly when the stage is closed ({stages.won} or {stages.lost})",
              "set closed_at for closed opportunities and leave it empty for open ones",
              closed_stage_has_closed_at),
        _Rule("won", "won must be set exactly when closed_at is set",
              "set won to True/False for closed opportunities and leave it empty for open ones",
              won_known_when_closed),
        _Rule("won", f"won must be True exactly when the stage is {stages.won!r}",
              f"make won agree with the stage ({stages.won} = True, {stages.lost} = False)",
              won_matches_stage),
    ]


def _table_rules(table: str, stages: Stages) -> list[_Rule]:
    if table == "invoices":
        return [
            _Rule("due_at", "due_at must not be before issued_at",
                  "check the time zones or swap due_at and issued_at", _not_before("due_at", "issued_at")),
            _Rule("paid_at", "paid_at must not be before issued_at (a payment before the invoice is suspicious)",
                  "check the time zones or the export of these payments", _not_before("paid_at", "issued_at")),
        ]
    if table == "leads":
        return [_Rule("converted_at", "converted_at must not be before created_at",
                      "check the time zones or the export of these leads", _not_before("converted_at", "created_at"))]
    if table == "subscriptions":
        return [_Rule("end_at", "end_at must not be before start_at",
                      "check the time zones or swap start_at and end_at", _not_before("end_at", "start_at"))]
    if table == "opportunities":
        return _opportunity_rules(stages)
    return []


# ------------------------------------------------------------------- schema
def table_schema(table: str, stages: Stages | Sequence[str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one contract table.

    Parameters
    ----------
    table : str
        Contract table name.
    stages : Stages or sequence of str, optional
        Opportunity stage configuration (see :func:`resolve_stages`).

    Returns
    -------
    pandera.pandas.DataFrameSchema
        Non-strict (extra columns allowed), no coercion;
        ``metadata["rules"]`` maps ``(column, rule text)`` to a fix hint.

    Examples
    --------
    >>> sorted(table_schema("transactions").columns)
    ['amount', 'cost', 'customer_id', 'transaction_id', 'ts']
    """
    st = stages if isinstance(stages, Stages) else resolve_stages(stages)
    spec = TABLES[table]
    hints: dict[tuple[str | None, str], str] = {}
    columns: dict[str, pa.Column] = {}
    for col in spec.columns:
        rules = _column_rules(table, col, st)
        hints.update({(r.column, r.text): r.hint for r in rules})
        columns[col.name] = pa.Column(
            _DTYPES[col.kind], nullable=col.nullable, required=col.required,
            checks=[r.check() for r in rules], title=col.kind,
        )
    wide = _table_rules(table, st)
    hints.update({(None, r.text): r.hint for r in wide})
    return pa.DataFrameSchema(
        columns, checks=[r.check() for r in wide], name=table, strict=False, coerce=False,
        metadata={"rules": hints, "wide_columns": {r.text: r.column for r in wide}},
    )
