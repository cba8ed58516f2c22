"""Loading contract tables from files or frames: the data boundary.

``load_tables`` reads, renames (``mapping``), converts types
(:mod:`crmml.data._coerce`) and validates (:mod:`crmml.data._validate`);
anything wrong is raised as one :class:`~crmml.exceptions.DataContractError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import pandas as pd

from crmml.data._coerce import apply_mapping, check_mapping, coerce_table, unknown_table_problem
from crmml.data._contract import TABLE_NAMES, TABLES
from crmml.data._tables import CRMTables
from crmml.data._validate import collect_problems
from crmml.exceptions import DataContractError, Problem

__all__ = ["load_tables", "read_table"]

Source = str | PathLike[str] | Mapping[str, pd.DataFrame] | CRMTables
_CONTEXT = "loading tables"


def load_tables(
    source: Source,
    *,
    mapping: Mapping[str, Mapping[str, str]] | None = None,
    tables: Iterable[str] | None = None,
    validate: bool = True,
    stages: Sequence[str] | None = None,
) -> CRMTables:
    """Load CRM tables, convert them to the internal types and validate them.

    Parameters
    ----------
    source : path, mapping of DataFrames, or CRMTables
        A folder holding ``<table>.parquet``, ``<table>.csv`` or a folder
        ``<table>/`` of Parquet part files (other files are ignored); or a
        dict ``{table name: DataFrame}``; or an existing :class:`CRMTables`.
    mapping : dict, optional
        Source column names per table, ``{"transactions": {"OrderDate":
        "ts"}}``: renamed to contract names before anything else.
    tables : iterable of str, optional
        Load only these tables.
    validate : bool, default True
        Check the contract rules (nullability, bounds, keys, foreign keys,
        stages ...). Type conversion always runs: unconvertible values raise
        even with ``validate=False``.
    stages : sequence of str, optional
        Open opportunity stages in funnel order, then the won and the lost
        stage. Default ``DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES``.

    Returns
    -------
    CRMTables
        ids as strings, timestamps ``datetime64[ns]`` naive UTC, money
        ``float64``, ``won`` pandas ``boolean``; extra columns kept.

    Raises
    ------
    DataContractError
        Listing every problem found (unknown table names, missing mapping
        columns, unconvertible values, broken rules).

    Examples
    --------
    >>> import pandas as pd
    >>> from crmml.data import load_tables
    >>> customers = pd.DataFrame({"id": [1, 2], "since": ["2024-01-01", "2024-02-01"]})
    >>> t = load_tables({"customers": customers},
    ...                 mapping={"customers": {"id": "customer_id", "since": "signup_at"}})
    >>> t.customers["customer_id"].tolist()
    ['1', '2']
    """
    names = _requested(tables)
    columns = check_mapping(mapping)
    raw = _read_source(source, names, columns)
    if tables is not None:
        _check_found(names, raw)
    renamed = _rename(raw, columns)
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    failed: dict[str, set[str]] = {}
    for name, frame in renamed.items():
        result = coerce_table(name, frame)
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


def read_table(path: str | PathLike[str], table: str | None = None) -> pd.DataFrame:
    """Read one table file as it is (no renaming, conversion or validation).

    Parameters
    ----------
    path : path
        A ``.parquet`` file, a ``.csv`` file or a folder of Parquet part files.
    table : str, optional
        Contract table name; when given, a CSV's id columns are read as text
        (so ``007`` keeps its zeros). Default: the file's stem if it is a
        contract table name.

    Returns
    -------
    DataFrame
    """
    p = Path(path)
    name = table if table is not None else (p.stem if p.stem in TABLES else None)
    return _read_file(p, name, {})


# ----------------------------------------------------------------- sources
def _requested(tables: Iterable[str] | None) -> tuple[str, ...]:
    if tables is None:
        return TABLE_NAMES
    names = [tables] if isinstance(tables, str) else list(tables)
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


def _read_source(
    source: Source, names: tuple[str, ...], mapping: Mapping[str, Mapping[str, str]]
) -> dict[str, pd.DataFrame]:
    if isinstance(source, CRMTables):
        return {n: df for n, df in source.items() if n in names}
    if isinstance(source, Mapping):
        return _from_mapping(source, names)
    if isinstance(source, (str, PathLike)):
        return _read_folder(Path(source), names, mapping)
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


def _read_folder(
    folder: Path, names: tuple[str, ...], mapping: Mapping[str, Mapping[str, str]]
) -> dict[str, pd.DataFrame]:
    if not folder.is_dir():
        raise FileNotFoundError(f"load_tables: {str(folder)!r} is not a folder of table files.")
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for name in names:
        found = [p for p in (folder / f"{name}.parquet", folder / f"{name}.csv", folder / name) if p.exists()]
        if len(found) > 1:
            problems.append(Problem(
                name, None, f"several files for one table ({', '.join(p.name for p in found)})",
                hint="keep one of them in the folder",
            ))
        elif found:
            frames[name] = _read_file(found[0], name, mapping.get(name, {}))
    if problems:
        raise DataContractError(problems, context=_CONTEXT)
    if not frames:
        expected = ", ".join(f"{n}.parquet" for n in names)
        raise DataContractError([Problem(
            "(folder)", None, f"no contract table files found in {str(folder)!r}",
            hint=f"name the files after the tables, e.g. {expected} (or .csv, or a folder of parts)",
        )], context=_CONTEXT)
    return frames


def _read_file(path: Path, table: str | None, mapping: Mapping[str, str]) -> pd.DataFrame:
    if path.is_dir():
        import pyarrow.dataset as ds

        return ds.dataset(path, format="parquet").to_table().to_pandas()
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=_csv_text_columns(path, table, mapping))
    return pd.read_parquet(path)


def _csv_text_columns(path: Path, table: str | None, mapping: Mapping[str, str]) -> dict[str, str]:
    """Source names of id and text columns, read as text so ``007`` stays ``007``."""
    if table is None:
        return {}
    header = pd.read_csv(path, nrows=0).columns
    source_of = {dst: src for src, dst in mapping.items()}
    text = [c.name for c in TABLES[table].columns if c.kind in ("id", "str")]
    return {source_of.get(c, c): "str" for c in text if source_of.get(c, c) in header}


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
