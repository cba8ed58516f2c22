"""The options of :func:`crmml.data.load_tables`, checked and normalised once.

* ``mapping`` — ``{table: {source column: contract column}}``; a value may
  also be ``{"column": contract column, "format": time format}``;
* ``formats`` — ``{table: {contract column: time format}}`` for timestamp
  columns that are not ISO 8601 (``"%d/%m/%Y"``);
* ``na_values`` — extra text that means missing: a list (every column of
  every table), ``{table: list}`` or ``{table: {column: list}}``;
* ``encoding`` — the text encoding of CSV files.

A wrong *type* (a list where a dict belongs, a number as a column name) is a
:class:`~crmml.exceptions.ParameterError`; a wrong *name* (an unknown table,
a format for a column that is not a timestamp) or two source columns mapped
onto one contract column is a :class:`~crmml.exceptions.DataContractError`.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from crmml._time import check_format
from crmml.data._contract import TABLES
from crmml.exceptions import DataContractError, ParameterError, Problem

__all__ = [
    "LoadOptions",
    "resolve_options",
    "apply_mapping",
    "apply_na_values",
    "unknown_table_problem",
    "MISSING_TEXT",
]

_CONTEXT = "loading tables"

MISSING_TEXT: tuple[str, ...] = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
"""Text that means missing in number, time and true/false columns (pandas' default NA strings).

In id and text columns only empty CSV cells are missing: ``NA`` (Namibia),
``None`` or ``null`` there are values.
"""

_MAPPING_KEYS = ("column", "format")


@dataclass(frozen=True)
class LoadOptions:
    """Checked ``load_tables`` options.

    Attributes
    ----------
    columns : dict
        ``{table: {source column: contract column}}``.
    formats : dict
        ``{table: {contract column: strftime format}}``.
    na_everywhere : tuple of str
        Extra missing-value text for every column of every table.
    na_tables : dict
        ``{table: extra missing-value text for all its columns}``.
    na_columns : dict
        ``{table: {column: extra missing-value text}}``.
    encoding : str
        Text encoding of CSV files.
    """

    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, dict[str, str]] = field(default_factory=dict)
    na_everywhere: tuple[str, ...] = ()
    na_tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    na_columns: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    encoding: str = "utf-8"

    def extra_missing(self, table: str, column: str) -> tuple[str, ...]:
        """User-given text that means missing in ``table.column`` (contract or extra column name)."""
        return (*self.na_everywhere, *self.na_tables.get(table, ()),
                *self.na_columns.get(table, {}).get(column, ()))

    @property
    def has_na_values(self) -> bool:
        return bool(self.na_everywhere or self.na_tables or self.na_columns)


def resolve_options(
    mapping: object = None, formats: object = None, na_values: object = None, encoding: object = "utf-8"
) -> LoadOptions:
    """Check every option; raise one error naming what is wrong and how to fix it.

    Examples
    --------
    >>> o = resolve_options({"transactions": {"Date": {"column": "ts", "format": "%d/%m/%Y"}}})
    >>> o.columns, o.formats
    ({'transactions': {'Date': 'ts'}}, {'transactions': {'ts': '%d/%m/%Y'}})
    """
    columns, mapped_formats = _check_mapping(mapping)
    return LoadOptions(
        columns=columns,
        formats=_check_formats(formats, mapped_formats),
        **_check_na_values(na_values),
        encoding=_check_encoding(encoding),
    )


# --------------------------------------------------------------------- mapping
def _type_name(value: object) -> str:
    return type(value).__name__


def _check_mapping(mapping: object) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    if mapping is None:
        return {}, {}
    example = "{'transactions': {'OrderDate': 'ts'}}"
    if not isinstance(mapping, Mapping):
        raise ParameterError(
            f"The 'mapping' parameter must be a dict {{table: {{source column: contract column}}}} such as "
            f"{example}. Got {_type_name(mapping)} {mapping!r} instead."
        )
    _check_table_keys(mapping, "mapping")
    columns: dict[str, dict[str, str]] = {}
    formats: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for table, cols in mapping.items():
        if not isinstance(cols, Mapping):
            raise ParameterError(
                f"The 'mapping' parameter must map each table to a dict {{source column: contract column}}; "
                f"mapping[{table!r}] is a {_type_name(cols)} ({cols!r}). Fix: e.g. mapping={{{table!r}: "
                f"{{'YourColumn': 'contract_column'}}}}."
            )
        columns[table], formats[table] = {}, {}
        for source, target in cols.items():
            if not isinstance(source, str):
                raise ParameterError(
                    f"The 'mapping' parameter must use source column names as text; mapping[{table!r}] has the "
                    f"key {source!r} ({_type_name(source)}). Fix: rename the frame's columns to text first, "
                    "e.g. df.columns = df.columns.astype(str)."
                )
            column, fmt = _mapping_value(table, source, target)
            columns[table][source] = column
            if fmt is not None:
                formats[table][column] = fmt
        problems += _many_to_one(table, columns[table])
    if problems:
        raise DataContractError(problems, context=_CONTEXT)
    return columns, {t: f for t, f in formats.items() if f}


def _mapping_value(table: str, source: str, target: object) -> tuple[str, str | None]:
    where = f"mapping[{table!r}][{source!r}]"
    if isinstance(target, str) and target:
        return target, None
    if isinstance(target, Mapping):
        unknown = [k for k in target if k not in _MAPPING_KEYS]
        column = target.get("column")
        if not unknown and isinstance(column, str) and column:
            return column, check_format(target.get("format"), f"{where}['format']")
    raise ParameterError(
        f"The 'mapping' parameter must give each source column a contract column name, or a dict "
        f"{{'column': name, 'format': time format}}; {where} is {target!r}. "
        f"Fix: e.g. {where} = 'ts' or {{'column': 'ts', 'format': '%d/%m/%Y'}} "
        "(one source column per contract column)."
    )


def _many_to_one(table: str, columns: Mapping[str, str]) -> list[Problem]:
    sources: dict[str, list[str]] = {}
    for source, target in columns.items():
        sources.setdefault(target, []).append(source)
    return [
        Problem(
            table, target, f"mapping maps several source columns onto {target!r} ({', '.join(map(repr, srcs))})",
            hint=f"map exactly one source column to {target!r} and leave the others out of the mapping",
        )
        for target, srcs in sources.items() if len(srcs) > 1
    ]


def _check_table_keys(option: Mapping[object, object], name: str) -> None:
    bad = [k for k in option if not isinstance(k, str)]
    if bad:
        raise ParameterError(
            f"The {name!r} parameter must be keyed by table names (text); got the key {bad[0]!r} "
            f"({_type_name(bad[0])}). Fix: use e.g. {{'transactions': ...}}."
        )
    unknown = [k for k in option if k not in TABLES]
    if unknown:
        raise DataContractError([unknown_table_problem(t, name) for t in unknown], context=_CONTEXT)


def unknown_table_problem(name: object, where: str) -> Problem:
    """Problem for a table name that is not in the contract."""
    close = difflib.get_close_matches(str(name), list(TABLES), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return Problem(
        str(name), None, f"unknown table name in {where}",
        hint=f"{guess}contract tables are: {', '.join(TABLES)}",
    )


def apply_mapping(table: str, frame: pd.DataFrame, columns: Mapping[str, str] | None) -> list[Problem] | pd.DataFrame:
    """Rename source columns to contract names.

    Returns the renamed frame, or the Problems: a source column that is not
    in the frame, or a target name that the frame already has under a column
    that is not renamed away.
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
    kept = [c for c in frame.columns if c not in columns]
    clashes = [(src, dst) for src, dst in columns.items() if dst in kept and dst != src]
    if clashes:
        return [
            Problem(
                table, dst, f"mapping renames {src!r} to {dst!r}, but the table already has a {dst!r} column",
                hint=f"drop one of the two columns, or also map {dst!r} to another name",
            )
            for src, dst in clashes
        ]
    return frame.rename(columns=dict(columns))


# --------------------------------------------------------------------- formats
def _check_formats(formats: object, mapped: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out = {t: dict(cols) for t, cols in mapped.items()}
    if formats is None:
        return _time_columns_only(out)
    if not isinstance(formats, Mapping):
        raise ParameterError(
            "The 'formats' parameter must be a dict {table: {column: time format}} such as "
            f"{{'transactions': {{'ts': '%d/%m/%Y'}}}}. Got {_type_name(formats)} {formats!r} instead."
        )
    _check_table_keys(formats, "formats")
    for table, cols in formats.items():
        if not isinstance(cols, Mapping) or not all(isinstance(c, str) for c in cols):
            raise ParameterError(
                f"The 'formats' parameter must map each table to a dict {{column name: time format}}; "
                f"formats[{table!r}] is {cols!r}. Fix: e.g. formats={{{table!r}: {{'ts': '%d/%m/%Y'}}}}."
            )
        for column, fmt in cols.items():
            checked = check_format(fmt, f"formats[{table!r}][{column!r}]")
            if checked is None:
                continue
            before = out.setdefault(table, {}).get(column)
            if before is not None and before != checked:
                raise ParameterError(
                    f"Two different time formats are given for {table}.{column}: {before!r} in 'mapping' and "
                    f"{checked!r} in 'formats'. Fix: give it once."
                )
            out[table][column] = checked
    return _time_columns_only(out)


def _time_columns_only(formats: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    problems = []
    for table, cols in formats.items():
        spec = TABLES[table]
        times = [c.name for c in spec.columns if c.kind == "datetime"]
        problems += [
            Problem(table, column, "a time format is given for a column that is not a timestamp column",
                    hint=f"formats apply to the timestamp columns of {table}: {', '.join(times)} "
                         "(use the contract name, after mapping)")
            for column in cols if column not in times
        ]
    if problems:
        raise DataContractError(problems, context=_CONTEXT)
    return {t: cols for t, cols in formats.items() if cols}


# ------------------------------------------------------------------- na_values
def _as_texts(value: object, where: str) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return tuple(sorted(value) if isinstance(value, (set, frozenset)) else value)
    if isinstance(value, (list, tuple, set, frozenset)):
        raise ParameterError(
            f"The 'na_values' parameter must list text values that mean missing; {where} holds "
            f"{[v for v in value if not isinstance(v, str)][0]!r}. Fix: write it as text, e.g. ['-999', 'NULL']."
        )
    return None


def _check_na_values(na_values: object) -> dict[str, object]:
    if na_values is None:
        return {}
    everywhere = _as_texts(na_values, "na_values")
    if everywhere is not None:
        return {"na_everywhere": everywhere}
    if not isinstance(na_values, Mapping):
        raise ParameterError(
            "The 'na_values' parameter must be a list of text values that mean missing (['NULL', '-']), "
            "a dict {table: list} or a dict {table: {column: list}}. "
            f"Got {_type_name(na_values)} {na_values!r} instead."
        )
    _check_table_keys(na_values, "na_values")
    tables: dict[str, tuple[str, ...]] = {}
    columns: dict[str, dict[str, tuple[str, ...]]] = {}
    for table, value in na_values.items():
        texts = _as_texts(value, f"na_values[{table!r}]")
        if texts is not None:
            tables[table] = texts
            continue
        if isinstance(value, Mapping) and all(isinstance(c, str) for c in value):
            per_column = {}
            for column, v in value.items():
                col_texts = _as_texts(v, f"na_values[{table!r}][{column!r}]")
                if col_texts is None:
                    raise ParameterError(
                        f"The 'na_values' parameter must give a list of text values per column; "
                        f"na_values[{table!r}][{column!r}] is {v!r}. Fix: e.g. ['NULL']."
                    )
                per_column[column] = col_texts
            columns[table] = per_column
            continue
        raise ParameterError(
            f"The 'na_values' parameter must map each table to a list of text values or to a dict "
            f"{{column name: list}}; na_values[{table!r}] is {value!r}. Fix: e.g. na_values={{{table!r}: ['NULL']}}."
        )
    return {"na_tables": tables, "na_columns": columns}


def apply_na_values(table: str, frame: pd.DataFrame, options: LoadOptions) -> pd.DataFrame:
    """Set the user's ``na_values`` text to missing in the text columns of ``frame``."""
    if not options.has_na_values:
        return frame
    changed = {}
    for column in frame.columns:
        texts = options.extra_missing(table, str(column))
        s = frame[column]
        if not texts or not isinstance(s, pd.Series):
            continue
        if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            hit = s.isin(list(texts))
            if bool(hit.any()):
                changed[column] = s.where(~hit)
    if not changed:
        return frame
    out = frame.copy(deep=False)
    for column, values in changed.items():
        out[column] = values
    return out


# -------------------------------------------------------------------- encoding
def _check_encoding(encoding: object) -> str:
    if isinstance(encoding, str):
        try:
            codecs.lookup(encoding)
            return encoding
        except LookupError:
            pass
    raise ParameterError(
        "The 'encoding' parameter must name a text encoding such as 'utf-8', 'latin-1', 'cp1252' or "
        f"'utf-16'. Got {encoding!r} instead."
    )
