"""Loading contract tables from files or frames: the data boundary.

``load_tables`` checks its options (:mod:`crmml.data._options`), finds and
reads the files (:mod:`crmml.data._files`), renames (``mapping``), sets the
user's ``na_values`` to missing, converts types (:mod:`crmml.data._coerce`)
and validates (:mod:`crmml.data._validate`); anything wrong is raised as one
:class:`~crmml.exceptions.DataContractError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import pandas as pd

from crmml.data._coerce import coerce_table
from crmml.data._contract import TABLE_NAMES, TABLES
from crmml.data._files import find_table_files, read_table_file
from crmml.data._options import (
    LoadOptions,
    apply_mapping,
    apply_na_values,
    resolve_options,
    unknown_table_problem,
)
from crmml.data._tables import CRMTables
from crmml.data._validate import collect_problems
from crmml.exceptions import DataContractError, ParameterError, Problem

__all__ = ["as_tables", "load_tables", "read_table"]

Source = str | PathLike[str] | Mapping[str, pd.DataFrame] | CRMTables
_CONTEXT = "loading tables"


def load_tables(
    source: Source,
    *,
    mapping: Mapping[str, Mapping[str, str | Mapping[str, str]]] | None = None,
    tables: Iterable[str] | None = None,
    validate: bool = True,
    stages: Sequence[str] | None = None,
    formats: Mapping[str, Mapping[str, str]] | None = None,
    na_values: Sequence[str] | Mapping[str, Sequence[str] | Mapping[str, Sequence[str]]] | None = None,
    encoding: str = "utf-8",
) -> CRMTables:
    """Load CRM tables, convert them to the internal types and validate them.

    Parameters
    ----------
    source : path, mapping of DataFrames, or CRMTables
        A folder holding ``<table>.parquet`` (a file or a folder of Parquet
        parts), ``<table>.csv`` or a folder ``<table>/`` of Parquet part files
        (other files are ignored, but a name that differs from a table's only
        by case or extension, such as ``Transactions.csv`` or
        ``transactions.txt``, is an error); or a dict ``{table name:
        DataFrame}``; or an existing :class:`CRMTables`.
    mapping : dict, optional
        Source column names per table, ``{"transactions": {"OrderDate":
        "ts"}}``: renamed to contract names before anything else. A value may
        also be ``{"column": "ts", "format": "%d/%m/%Y"}`` to give the time
        format of that column at the same time.
    tables : iterable of str, optional
        Load only these tables.
    validate : bool, default True
        Check the contract rules (nullability, bounds, keys, foreign keys,
        stages, duplicates, cross-table times ...). Type conversion always
        runs: unconvertible values raise even with ``validate=False``.
    stages : sequence of str, optional
        Open opportunity stages in funnel order, then the won and the lost
        stage. Default ``DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES``.
    formats : dict, optional
        ``{table: {column: format}}`` with ``strftime``-style formats
        (``"%d/%m/%Y %H:%M"``) for timestamp columns written in anything but
        ISO 8601; column names are contract names (after ``mapping``).
        Without a format, only ISO 8601 text and real datetime values are
        accepted.
    na_values : list or dict, optional
        Extra text that means missing: a list for every column of every
        table, ``{table: list}`` or ``{table: {column: list}}``. By default
        only empty CSV cells are missing in id and text columns (``NA`` is
        Namibia), and pandas' missing spellings (``NA``, ``null``, ``NaN``
        ...) too in number, time and true/false columns.
    encoding : str, default "utf-8"
        Text encoding of CSV files (``"latin-1"``, ``"cp1252"``,
        ``"utf-16"`` ...).

    Returns
    -------
    CRMTables
        ids as strings, timestamps ``datetime64[ns]`` naive UTC, money
        ``float64``, ``won`` pandas ``boolean``; extra columns kept.

    Raises
    ------
    DataContractError
        Listing every problem found (unknown table names, unreadable or
        misnamed files, missing mapping columns, unconvertible values,
        broken rules).
    ParameterError
        An option of the wrong type (``mapping`` not a dict, a list as a
        column name, a bad format or encoding).

    Examples
    --------
    >>> import pandas as pd
    >>> from crmml.data import load_tables
    >>> customers = pd.DataFrame({"id": [1, 2], "since": ["01/02/2024", "13/02/2024"]})
    >>> t = load_tables({"customers": customers},
    ...                 mapping={"customers": {"id": "customer_id",
    ...                                        "since": {"column": "signup_at", "format": "%d/%m/%Y"}}})
    >>> t.customers["customer_id"].tolist(), t.customers["signup_at"].dt.strftime("%Y-%m-%d").tolist()
    (['1', '2'], ['2024-02-01', '2024-02-13'])
    """
    names = _requested(tables)
    options = resolve_options(mapping, formats, na_values, encoding)
    raw = _read_source(source, names, options)
    if tables is not None:
        _check_found(names, raw)
    renamed = _rename(raw, options.columns)
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    failed: dict[str, set[str]] = {}
    for name, frame in renamed.items():
        result = coerce_table(name, apply_na_values(name, frame, options), options.formats.get(name))
        frames[name] = result.frame
        problems += result.problems
        failed[name] = result.failed_columns
    loaded = CRMTables(**frames)
    if validate:
        problems += collect_problems(loaded, stages=stages, skip=failed)
    if problems:
        raise DataContractError(_by_table(problems), context=_CONTEXT)
    return loaded


def _by_table(problems: list[Problem]) -> list[Problem]:
    """Problems grouped by table in contract order (stable within a table)."""
    order = {n: i for i, n in enumerate(TABLE_NAMES)}
    return sorted(problems, key=lambda p: order.get(p.table, -1))


def read_table(path: str | PathLike[str], table: str | None = None, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read one table file as it is (no renaming, conversion or validation).

    Parameters
    ----------
    path : path
        A ``.parquet`` file, a ``.csv`` file or a folder of Parquet part files.
    table : str, optional
        Contract table name; when given, a CSV's id and text columns are read
        as text with only empty cells missing (so ``007`` keeps its zeros and
        ``NA`` stays ``NA``). Default: the file's stem if it is a contract
        table name.
    encoding : str, default "utf-8"
        Text encoding of a CSV file.

    Returns
    -------
    DataFrame

    Raises
    ------
    DataContractError
        When the file cannot be read, naming it and what to do.
    """
    p = Path(path)
    if table is not None and table not in TABLES:
        raise DataContractError([unknown_table_problem(table, "read_table(table=)")], context="reading a table")
    name = table if table is not None else (p.stem if p.stem in TABLES else None)
    return read_table_file(p, name, resolve_options(encoding=encoding))


# ----------------------------------------------------------------- sources
def _requested(tables: Iterable[str] | None) -> tuple[str, ...]:
    if tables is None:
        return TABLE_NAMES
    try:
        names = [tables] if isinstance(tables, str) else list(tables)
    except TypeError:
        raise ParameterError(
            "The 'tables' parameter must be a table name or a list of table names such as "
            f"['customers', 'transactions']. Got {tables!r} instead."
        ) from None
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise DataContractError([unknown_table_problem(n, "tables=") for n in unknown], context=_CONTEXT)
    return tuple(n for n in TABLE_NAMES if n in names)


def _check_found(names: tuple[str, ...], raw: Mapping[str, pd.DataFrame]) -> None:
    missing = [n for n in names if n not in raw]
    if missing:
        raise DataContractError([
            Problem(n, None, "table was requested with tables= but not found in the source",
                    hint=f"supply {n}.parquet / {n}.csv / a {n!r} DataFrame, or leave it out of tables=")
            for n in missing
        ], context=_CONTEXT)


def _read_source(source: Source, names: tuple[str, ...], options: LoadOptions) -> dict[str, pd.DataFrame]:
    if isinstance(source, CRMTables):
        return {n: df for n, df in source.items() if n in names}
    if isinstance(source, Mapping):
        return _from_mapping(source, names)
    if isinstance(source, (str, PathLike)):
        return _read_folder(Path(source), names, options)
    raise TypeError(
        "load_tables expects a folder path, a dict of DataFrames or a CRMTables; "
        f"got {type(source).__name__}."
    )


def _from_mapping(source: Mapping[str, pd.DataFrame], names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    unknown = [k for k in source if k not in TABLES]
    if unknown:
        raise DataContractError([unknown_table_problem(k, "the dict of tables") for k in unknown], context=_CONTEXT)
    not_frames = [k for k, v in source.items() if v is not None and not isinstance(v, pd.DataFrame)]
    if not_frames:
        raise DataContractError([
            Problem(k, None, f"expected a pandas DataFrame, got {type(source[k]).__name__}",
                    hint="pass a DataFrame (pd.read_csv, pd.read_parquet ...) per table")
            for k in not_frames
        ], context=_CONTEXT)
    return {n: source[n] for n in names if source.get(n) is not None}


def _read_folder(folder: Path, names: tuple[str, ...], options: LoadOptions) -> dict[str, pd.DataFrame]:
    found, problems = find_table_files(folder, names)
    frames: dict[str, pd.DataFrame] = {}
    for name, path in found.items():
        try:
            frames[name] = read_table_file(path, name, options)
        except DataContractError as err:
            problems += err.problems
    if problems:
        raise DataContractError(_by_table(problems), context=_CONTEXT)
    if not frames:
        expected = ", ".join(f"{n}.parquet" for n in names)
        raise DataContractError([Problem(
            "(folder)", None, f"no contract table files found in {str(folder)!r}",
            hint=f"name the files after the tables, e.g. {expected} (or .csv, or a folder of parts)",
        )], context=_CONTEXT)
    return frames


def _rename(raw: Mapping[str, pd.DataFrame], mapping: Mapping[str, Mapping[str, str]]) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for name, frame in raw.items():
        renamed = apply_mapping(name, frame, mapping.get(name))
        if isinstance(renamed, list):
            problems += renamed
        else:
            frames[name] = renamed
    if problems:
        raise DataContractError(problems, context=_CONTEXT)
    return frames


def as_tables(tables: CRMTables | Mapping[str, pd.DataFrame] | str | PathLike[str]) -> CRMTables:
    """Accept a validated :class:`CRMTables` as is; load and validate anything else with :func:`load_tables`.

    What every model's ``fit``/``score``/``build_features`` does with its
    ``tables`` argument.
    """
    if isinstance(tables, CRMTables):
        return tables
    return load_tables(tables)
