"""The feature contract of a supervised model: columns, kinds, category levels, policies.

A :class:`FeatureSpec` is learned from the training frame and persisted with
the model. :meth:`FeatureSpec.transform` is the **one** encoding path from a
feature frame to the float64 matrix LightGBM sees, at training and at serving
time; :meth:`FeatureSpec.transform_row` is the same encoding for one row given
as a mapping, without pandas.

Encoding
--------
* ``numeric``: the value as float64; missing (``None``, ``NaN``, ``<NA>``) → NaN.
* ``bool``: ``True`` → 1.0, ``False`` → 0.0, missing → NaN.
* ``categorical``: the position of the value's text (``str(value)``) among the
  levels seen at fit (sorted), as a float; missing → NaN; a level not seen at
  fit → NaN too (LightGBM sends missing values down its learned default
  branch), and is counted (:attr:`Encoded.unseen`, logged at INFO).

Policies
--------
* A column of the spec absent from the frame raises
  :class:`~crmml.exceptions.DataContractError` naming it, unless the column is
  ``allow_missing`` — then it is encoded all-NaN and reported
  (:attr:`Encoded.filled`).
* Columns the spec does not know are ignored; the output has the spec's
  columns in the spec's order.
* A value of the wrong type (text in a numeric column, a number or text in a
  bool column other than 0/1) raises ``DataContractError`` naming the column.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml.exceptions import DataContractError, ParameterError, Problem, examples_of
from crmml.supervised._read import objects, str_array

__all__ = ["KINDS", "Column", "FeatureSpec", "Encoded"]

logger = logging.getLogger("crmml")

KINDS = ("numeric", "categorical", "bool")
"""The dtype kinds a feature column can have."""

_BAD_NAME = re.compile(r'[\s",:\[\]{}]')
_TABLE = "features"
_NUMERIC_INFERRED = {"integer", "floating", "mixed-integer-float"}
_ABSENT = object()


@dataclass(frozen=True)
class Column:
    """One feature column of a :class:`FeatureSpec`.

    Parameters
    ----------
    name : str
        Column name (no whitespace and none of ``" , : [ ] { }``, which
        LightGBM refuses in feature names).
    kind : {"numeric", "categorical", "bool"}
    levels : tuple of str
        Categorical levels seen at fit, sorted; empty for other kinds.
    allow_missing : bool
        Encode the column all-NaN when a frame lacks it, instead of refusing.
    """

    name: str
    kind: str
    levels: tuple[str, ...] = ()
    allow_missing: bool = False


@dataclass(frozen=True)
class Encoded:
    """The result of :meth:`FeatureSpec.encode`.

    Attributes
    ----------
    matrix : numpy.ndarray
        ``(n_rows, n_features)`` float64, column-major (Fortran order), the spec's column order.
    unseen : dict
        Column → number of non-missing values whose category was not seen at
        fit (encoded NaN); only columns with at least one.
    filled : tuple of str
        ``allow_missing`` columns absent from the frame (encoded all-NaN).
    """

    matrix: np.ndarray
    unseen: dict[str, int]
    filled: tuple[str, ...]


def _problem(column: str, rule: str, n_rows: int = 0, examples: Iterable[object] = (), hint: str = "") -> Problem:
    return Problem(_TABLE, column, rule, n_rows, examples_of(examples), hint)


class FeatureSpec:
    """Columns, kinds, category levels and missing-column policy of a model's features.

    Build one with :meth:`learn` (from a training frame) or directly from
    :class:`Column` objects; persist it with :meth:`to_dict` /
    :meth:`from_dict`.

    Parameters
    ----------
    columns : sequence of Column
        In model order (the matrix column order).

    Raises
    ------
    ParameterError
        Empty, repeated or LightGBM-incompatible names, an unknown kind,
        levels on a non-categorical column, repeated levels.

    Examples
    --------
    >>> frame = pd.DataFrame({"recency_days": [3.0, 40.0], "channel": ["web", "store"]})
    >>> spec = FeatureSpec.learn(frame)
    >>> spec.names, spec.columns[1].levels
    (('recency_days', 'channel'), ('store', 'web'))
    >>> spec.transform(pd.DataFrame({"channel": ["web", "phone"], "recency_days": [1, None]}))
    array([[ 1.,  1.],
           [nan, nan]])
    """

    def __init__(self, columns: Sequence[Column]) -> None:
        cols = tuple(columns)
        seen: set[str] = set()
        for c in cols:
            if not isinstance(c, Column):
                raise ParameterError(f"FeatureSpec expects Column objects; got {type(c).__name__}.")
            if not isinstance(c.name, str) or not c.name or _BAD_NAME.search(c.name):
                raise ParameterError(
                    f"The feature name {c.name!r} cannot be used: names must be non-empty text without "
                    "whitespace or any of \" , : [ ] { } (LightGBM refuses them). Rename the column.")
            if c.name in seen:
                raise ParameterError(f"The feature {c.name!r} appears more than once in the FeatureSpec.")
            seen.add(c.name)
            if c.kind not in KINDS:
                raise ParameterError(
                    f"The kind of feature {c.name!r} must be one of {KINDS}. Got {c.kind!r} instead.")
            if c.kind != "categorical" and c.levels:
                raise ParameterError(f"The feature {c.name!r} is {c.kind}; only categorical features have levels.")
            if len(set(c.levels)) != len(c.levels) or not all(isinstance(v, str) for v in c.levels):
                raise ParameterError(f"The levels of feature {c.name!r} must be distinct strings.")
        self.columns: tuple[Column, ...] = cols
        self.names: tuple[str, ...] = tuple(c.name for c in cols)
        self._position = {name: j for j, name in enumerate(self.names)}
        self._lookup: dict[str, pd.Index] = {c.name: pd.Index(list(c.levels), dtype=object)
                                             for c in cols if c.kind == "categorical"}
        self._codes: dict[str, dict[str, float]] = {c.name: {v: float(i) for i, v in enumerate(c.levels)}
                                                    for c in cols if c.kind == "categorical"}

    # ------------------------------------------------------------------ learning
    @classmethod
    def learn(cls, frame: pd.DataFrame, *, categorical: Iterable[str] = (), allow_missing: bool | Iterable[str] = (),
              exclude: Iterable[str] = ()) -> FeatureSpec:
        """Infer a spec from a training frame: every column but ``exclude``, in frame order.

        Kinds: bool dtypes → ``bool``; numeric dtypes → ``numeric``; category,
        string and object-of-text dtypes → ``categorical`` (levels: the
        distinct non-missing values' text, sorted). ``categorical`` forces
        listed numeric columns to be categorical.

        Parameters
        ----------
        frame : DataFrame
            Training features.
        categorical : iterable of str
            Columns to treat as categorical whatever their dtype.
        allow_missing : bool or iterable of str
            Columns (``True``: all) encoded all-NaN when absent at serving time.
        exclude : iterable of str
            Columns to leave out (ids, labels, the cutoff).

        Raises
        ------
        DataContractError
            A column of a type that is not a feature (datetime, timedelta,
            mixed objects); the message names every such column.
        ParameterError
            ``categorical``/``allow_missing`` names a column the frame lacks.
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"FeatureSpec.learn expects a pandas DataFrame, got {type(frame).__name__}.")
        drop = set(exclude)
        names = [c for c in frame.columns if c not in drop]
        forced = list(categorical)
        all_missing = allow_missing is True
        allowed = set() if isinstance(allow_missing, bool) else set(allow_missing)
        for what, listed in (("categorical", forced), ("allow_missing", allowed)):
            unknown = [c for c in listed if c not in names]
            if unknown:
                raise ParameterError(
                    f"The {what!r} parameter of FeatureSpec.learn names columns that are not features: "
                    f"{sorted(map(str, unknown))}. Features are {names[:10]}{' ...' if len(names) > 10 else ''}.")
        problems: list[Problem] = []
        columns: list[Column] = []
        for name in names:
            if not isinstance(name, str):
                raise ParameterError(f"Feature names must be text; got {name!r}. Rename the column.")
            col = frame[name]
            kind = "categorical" if name in forced else _infer_kind(col)
            if kind is None:
                problems.append(_problem(name, f"a numeric, bool or categorical column (got dtype {col.dtype})",
                                         hint="convert times to durations in days, or exclude the column"))
                continue
            levels = _learn_levels(col) if kind == "categorical" else ()
            columns.append(Column(name, kind, levels, all_missing or name in allowed))
        if problems:
            raise DataContractError(problems, context="FeatureSpec.learn")
        return cls(columns)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.columns)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureSpec) and self.columns == other.columns

    def __hash__(self) -> int:
        return hash(self.columns)

    def __repr__(self) -> str:
        kinds = {k: sum(c.kind == k for c in self.columns) for k in KINDS}
        return f"FeatureSpec({len(self)} columns: " + ", ".join(f"{v} {k}" for k, v in kinds.items() if v) + ")"

    @property
    def categorical_indices(self) -> list[int]:
        """Matrix positions of the categorical columns (LightGBM's ``categorical_feature``)."""
        return [j for j, c in enumerate(self.columns) if c.kind == "categorical"]

    def index(self, name: str) -> int:
        """Matrix position of column ``name``."""
        try:
            return self._position[name]
        except KeyError:
            raise ParameterError(f"{name!r} is not a feature of this FeatureSpec.") from None

    def level_text(self, name: str, codes: np.ndarray) -> np.ndarray:
        """Level text of categorical codes (object array; ``None`` where NaN or out of range)."""
        levels = np.array([*self.columns[self.index(name)].levels, None], dtype=object)
        c = np.asarray(codes, dtype=np.float64)
        pos = np.where(np.isfinite(c) & (c >= 0) & (c < len(levels) - 1), c, len(levels) - 1).astype(np.int64)
        return levels[pos]

    # ------------------------------------------------------------------ batch encoding
    def encode(self, frame: pd.DataFrame) -> Encoded:
        """Encode a feature frame, reporting unseen categories and filled columns.

        Raises
        ------
        DataContractError
            Columns missing (and not ``allow_missing``) or holding values of
            the wrong type; every problem is listed at once.
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"FeatureSpec.transform expects a pandas DataFrame, got {type(frame).__name__}.")
        n = len(frame)
        out = np.empty((n, len(self.columns)), dtype=np.float64, order="F")  # column writes stay contiguous
        problems: list[Problem] = []
        unseen: dict[str, int] = {}
        filled: list[str] = []
        for j, c in enumerate(self.columns):
            if c.name not in frame.columns:
                if c.allow_missing:
                    out[:, j] = np.nan
                    filled.append(c.name)
                else:
                    problems.append(_problem(c.name, "missing column (the model was trained with it)",
                                             hint="supply the column, or refit with allow_missing for it"))
                continue
            col = frame[c.name]
            if isinstance(col, pd.DataFrame):
                problems.append(_problem(c.name, "appears more than once in the frame", hint="drop the duplicate"))
                continue
            if c.kind == "categorical":
                codes, n_unseen = _encode_categorical(col, self._lookup[c.name])
                out[:, j] = codes
                if n_unseen:
                    unseen[c.name] = n_unseen
                continue
            values, problem = _encode_number(col, c)
            if problem is not None:
                problems.append(problem)
            else:
                out[:, j] = values
        if problems:
            raise DataContractError(problems, context="encoding features")
        if unseen:
            logger.info("features: category levels not seen at fit, encoded as missing: %s",
                        ", ".join(f"{k} ({v:,} rows)" for k, v in unseen.items()))
        return Encoded(out, unseen, tuple(filled))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The float64 matrix of ``frame`` (see :meth:`encode` and the module docstring).

        Column-major (Fortran order): a feature frame is written one column
        at a time and the consumers read columns (LightGBM takes either
        layout without a copy; TreeSHAP patterns and reason values gather
        per feature). ``np.ascontiguousarray`` gives the row-major copy.
        """
        return self.encode(frame).matrix

    # ------------------------------------------------------------------ one row
    def encode_row(self, row: Mapping[str, Any]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Encode one row given as a mapping (dict, ``pandas.Series``) without pandas.

        Returns
        -------
        (numpy.ndarray, tuple of str)
            The ``(1, n_features)`` matrix — equal to :meth:`transform` of the
            one-row frame — and the columns whose category was unseen.
        """
        out = np.empty((1, len(self.columns)), dtype=np.float64)
        unseen: list[str] = []
        problems: list[Problem] = []
        get = row.get
        for j, c in enumerate(self.columns):
            v = get(c.name, _ABSENT)
            if v is _ABSENT:
                if c.allow_missing:
                    out[0, j] = math.nan
                else:
                    problems.append(_problem(c.name, "missing column (the model was trained with it)",
                                             hint="supply the column, or refit with allow_missing for it"))
                continue
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and v != v):
                out[0, j] = math.nan
            elif c.kind == "categorical":
                code = self._codes[c.name].get(v if isinstance(v, str) else str(v))
                if code is None:
                    unseen.append(c.name)
                    out[0, j] = math.nan
                else:
                    out[0, j] = code
            elif isinstance(v, (bool, np.bool_)):
                out[0, j] = 1.0 if v else 0.0
            elif isinstance(v, (int, float, np.integer, np.floating)) and (
                    c.kind == "numeric" or v == 0 or v == 1):
                out[0, j] = float(v)
            else:
                rule = "numbers" if c.kind == "numeric" else "true/false (or 1/0)"
                problems.append(_problem(c.name, f"{rule} (the model was trained on a {c.kind} column)", 1,
                                         [repr(v)]))
        if problems:
            raise DataContractError(problems, context="encoding one row of features")
        return out, tuple(unseen)

    def transform_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """The ``(1, n_features)`` matrix of one row (see :meth:`encode_row`)."""
        return self.encode_row(row)[0]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"columns": [{"name", "kind", "levels", "allow_missing"}, ...]}``."""
        return {"columns": [{"name": c.name, "kind": c.kind,
                             "levels": list(c.levels) if c.kind == "categorical" else None,
                             "allow_missing": c.allow_missing} for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload) -> FeatureSpec:
        """Rebuild from :meth:`to_dict` output, checking every field.

        Raises
        ------
        IncompatibleArtifactError
            A field is missing, unknown or invalid (repeated name, unknown
            kind, levels on a non-categorical column, repeated level); the
            message names it (``supervised.json: feature_spec.columns[2].kind``).
        """
        p = Payload.of(data, source="FeatureSpec.from_dict")
        p.keys_exactly(("columns",))
        columns: list[Column] = []
        names: set[str] = set()
        for item in objects(p, "columns", min_length=1):
            item.keys_exactly(("name", "kind", "levels", "allow_missing"))
            name = item.str_in("name", max_length=1000)
            if not name or _BAD_NAME.search(name) or name in names:
                raise item.error("name", "a non-empty feature name, without whitespace or \" , : [ ] { }, "
                                 "not used by another column", name)
            names.add(name)
            kind = item.str_in("kind", KINDS)
            if kind == "categorical":
                levels = tuple(str_array(item, "levels", unique=True, nonempty_items=False))
            else:
                if item.require("levels", ("null",)) is not None:  # pragma: no cover - require checks the kind
                    raise item.error("levels", "null", item.data["levels"])
                levels = ()
            columns.append(Column(name, kind, levels, item.boolean("allow_missing")))
        return cls(columns)


# ---------------------------------------------------------------------- helpers
def _is_object(dtype: object) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _infer_kind(col: pd.Series) -> str | None:
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype) or (pd.api.types.is_string_dtype(dtype) and not _is_object(dtype)):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if _is_object(dtype):
        inferred = pd.api.types.infer_dtype(col, skipna=True)
        if inferred in ("string", "empty"):
            return "categorical"
        if inferred == "boolean":
            return "bool"
        if inferred in _NUMERIC_INFERRED:
            return "numeric"
    return None


def _learn_levels(col: pd.Series) -> tuple[str, ...]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        used = np.unique(col.cat.codes.to_numpy())
        values = col.cat.categories[used[used >= 0]]
    else:
        values = pd.unique(col.dropna().to_numpy(dtype=object))
    return tuple(sorted({v if isinstance(v, str) else str(v) for v in values}))


def _as_text_index(values: np.ndarray) -> pd.Index:
    """Values as an object Index of their text (``str(v)``, as the one-row path does)."""
    if all(isinstance(v, str) for v in values[:64]) and pd.api.types.infer_dtype(values) == "string":
        return pd.Index(values, dtype=object)
    return pd.Index([v if isinstance(v, str) else str(v) for v in values], dtype=object)


def _encode_categorical(col: pd.Series, levels: pd.Index) -> tuple[np.ndarray, int]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories.to_numpy(dtype=object)
        table = np.append(levels.get_indexer(_as_text_index(cats)).astype(np.float64), np.nan)
        table[:-1][table[:-1] < 0] = np.nan
        raw = col.cat.codes.to_numpy()
        codes = table[np.where(raw >= 0, raw, len(cats))]
        n_unseen = int(np.count_nonzero((raw >= 0) & np.isnan(codes)))
        return codes, n_unseen
    values = col.to_numpy(dtype=object)
    missing = pd.isna(values)
    codes = np.full(len(values), np.nan)
    present = ~missing
    if present.any():
        pos = levels.get_indexer(_as_text_index(values[present]))
        codes[present] = np.where(pos >= 0, pos, np.nan)
        return codes, int(np.count_nonzero(pos < 0))
    return codes, 0


def _encode_number(col: pd.Series, c: Column) -> tuple[np.ndarray, Problem | None]:
    dtype = col.dtype
    ok = pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype))
    if not ok and _is_object(dtype):
        ok = pd.api.types.infer_dtype(col, skipna=True) in (_NUMERIC_INFERRED | {"boolean", "empty"})
    rule = "numbers" if c.kind == "numeric" else "true/false (or 1/0)"
    if not ok:
        texty = _is_object(dtype) or isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)
        present = col[col.notna()]
        bad = [repr(v) for v in present.head(3).tolist()] if texty else [f"dtype {dtype}"]
        return np.empty(0), _problem(c.name, f"{rule} (the model was trained on a {c.kind} column)",
                                     len(present) if texty else 0, bad)
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    if c.kind == "bool":
        wrong = ~np.isnan(values) & (values != 0) & (values != 1)
        if wrong.any():
            return values, _problem(c.name, f"{rule} (the model was trained on a bool column)",
                                    int(wrong.sum()), values[wrong][:3])
    return values, None
