"""Finding and reading table files, with nothing lost silently.

A folder source holds, per table, ``<table>.parquet`` (a file, or a folder of
Parquet parts as Spark writes it), ``<table>.csv``, or a folder ``<table>/``
of Parquet part files. Anything that goes wrong while finding or reading
them is a :class:`~crmml.exceptions.Problem` naming the file:

* the folder does not exist or is not a folder;
* a name that differs from a table's only by case or extension
  (``Transactions.csv``, ``transactions.CSV``, ``transactions.txt``,
  ``transactions.csv.gz``) — it would otherwise be ignored, and its rows
  lost;
* two files for one table; a FIFO, socket or device named like a table (never
  opened: it could block);
* an empty (0-byte) CSV, a CSV that is not in the given ``encoding`` (the
  byte offset of the first bad byte is shown; a UTF-16 byte-order mark is
  recognised), a CSV that cannot be parsed, a corrupt Parquet file, any
  ``OSError`` (permission denied ...);
* Parquet parts whose column types conflict (text in one part, numbers in
  another). Parts that merely lack a column are unified: the column is
  missing (null) in their rows, and a warning names the parts.

In CSV files, id and text columns are read as text with only empty cells
missing (so ``007`` stays ``007`` and ``NA`` stays ``NA``); in the other
columns pandas' default missing-value spellings are missing; ``na_values=``
adds spellings.
"""

from __future__ import annotations

import codecs
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from crmml.data._contract import TABLES
from crmml.data._options import MISSING_TEXT, LoadOptions
from crmml.exceptions import DataContractError, Problem

__all__ = ["find_table_files", "read_table_file", "FOLDER"]

logger = logging.getLogger("crmml")

FOLDER = "(folder)"
_CONTEXT = "loading tables"
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
_TEXT_EXTENSIONS = (".txt", ".tsv", ".tab", ".dat", ".psv")
_PARQUET_EXTENSIONS = (".parq", ".pq", ".pqt")


class _FileProblems(Exception):
    """Problems of one file (collected, then raised together)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(str(problems))
        self.problems = problems


# ---------------------------------------------------------------------- finding
def find_table_files(folder: Path, names: Iterable[str]) -> tuple[dict[str, Path], list[Problem]]:
    """The file (or parts folder) of each table in ``folder``, and the Problems found.

    Raises
    ------
    DataContractError
        When ``folder`` does not exist, is not a folder or cannot be listed.
    """
    entries = _list_folder(folder)
    by_stem: dict[str, list[str]] = {}
    for entry in entries:
        if not entry.startswith("."):
            by_stem.setdefault(entry.split(".")[0].casefold(), []).append(entry)
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for table in names:
        candidates = by_stem.get(table, [])
        usable: list[str] = []
        for entry in sorted(candidates, key=_exact_order(table)):
            problem = _entry_problem(table, folder / entry, entry)
            if problem is None:
                usable.append(entry)
            else:
                problems.append(problem)
        if len(usable) > 1:
            problems.append(Problem(
                table, None, f"several files for one table ({', '.join(usable)})",
                hint="keep one of them in the folder",
            ))
        elif usable and not any(p.table == table for p in problems):
            found[table] = folder / usable[0]
    return found, problems


def _list_folder(folder: Path) -> list[str]:
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise DataContractError([Problem(
            FOLDER, None, f"{str(folder)!r} does not exist",
            hint="pass the folder that holds the table files (customers.parquet, transactions.csv, ...)",
        )], context=_CONTEXT) from None
    except OSError as err:
        raise DataContractError([_os_problem(FOLDER, folder, err)], context=_CONTEXT) from None
    if not stat.S_ISDIR(mode):
        raise DataContractError([Problem(
            FOLDER, None, f"{str(folder)!r} is not a folder",
            hint="pass the folder that holds the table files, or a dict {table name: DataFrame} "
                 "(e.g. {'transactions': pd.read_csv(path)})",
        )], context=_CONTEXT)
    try:
        return sorted(os.listdir(folder))
    except OSError as err:
        raise DataContractError([_os_problem(FOLDER, folder, err)], context=_CONTEXT) from None


def _exact_order(table: str):  # type: ignore[no-untyped-def]
    order = {f"{table}.parquet": 0, f"{table}.csv": 1, table: 2}
    return lambda entry: (order.get(entry, 3), entry)


def _kind(path: Path) -> str:
    """``"file"``, ``"dir"``, ``"special"`` or ``"broken"`` (stat follows links; nothing is opened)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "broken"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "special"


def _entry_problem(table: str, path: Path, entry: str) -> Problem | None:
    """``None`` when ``entry`` is a usable name and kind for ``table``; else why not."""
    kind = _kind(path)
    if kind == "special":
        return Problem(
            table, None, f"{entry!r} is not a regular file or folder (a FIFO, socket or device) and is not read",
            hint=f"replace it with the exported {table} file",
        )
    if kind == "broken":
        return Problem(table, None, f"{entry!r} cannot be opened (a broken link?)",
                       hint="point it at the exported file, or remove it")
    exact = (entry == f"{table}.parquet") or (entry == f"{table}.csv" and kind == "file") or (
        entry == table and kind == "dir")
    if exact:
        return None
    if entry == f"{table}.csv":
        return Problem(table, None, f"{entry!r} is a folder, not a CSV file",
                       hint=f"put the CSV file itself at {table}.csv, or name a folder of Parquet parts {table}/")
    return Problem(
        table, None,
        f"{entry!r} looks like the {table} table but is not read: only {table}.parquet, {table}.csv or a folder "
        f"{table}/ of Parquet parts are (names are case-sensitive)",
        hint=_rename_hint(table, entry, kind),
    )


def _rename_hint(table: str, entry: str, kind: str) -> str:
    ext = entry[len(table):].lower()
    if kind == "dir":
        return f"rename the folder to {table}/ (or {table}.parquet/)"
    if ext.endswith(_COMPRESSED):
        return f"decompress it to {table}.csv (or convert it to {table}.parquet)"
    if ext in (".csv", ".parquet"):
        return f"rename it to {table}{ext}"
    if ext in _PARQUET_EXTENSIONS:
        return f"rename it to {table}.parquet"
    if ext in _TEXT_EXTENSIONS:
        return f"save it as a comma-separated file named {table}.csv"
    if ext == "":
        return f"add the extension: {table}.csv or {table}.parquet"
    return f"rename it to {table}.csv or {table}.parquet if it holds the table, or move it out of the folder"


# ---------------------------------------------------------------------- reading
def read_table_file(path: Path, table: str | None, options: LoadOptions) -> pd.DataFrame:
    """Read one table file or parts folder as it is (no renaming or conversion).

    Raises
    ------
    DataContractError
        Naming the file and what to do, for anything that goes wrong.
    """
    label = table or path.name
    try:
        kind = _kind(path)
        if kind == "dir":
            return _read_parts(path, label)
        if kind != "file":
            raise _FileProblems([Problem(label, None, f"{str(path)!r} is not a regular file or folder",
                                         hint="pass the exported file")])
        if path.suffix.lower() == ".csv":
            return _read_csv(path, table, label, options)
        return _read_parquet(path, label)
    except _FileProblems as err:
        raise DataContractError(err.problems, context=_CONTEXT) from None


def _os_problem(table: str, path: Path, err: OSError) -> Problem:
    reason = err.strerror or str(err)
    return Problem(table, None, f"{str(path)!r} cannot be read ({reason})",
                   hint="check that the file exists and that you may read it")


# ---------------------------------------------------------------------- parquet
def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except PermissionError as err:
        raise _FileProblems([_os_problem(label, path, err)]) from None
    except (OSError, ValueError, TypeError) as err:
        raise _FileProblems([_corrupt(label, path, err)]) from None


def _corrupt(label: str, path: Path, err: Exception) -> Problem:
    return Problem(label, None, f"{str(path)!r} is not a readable Parquet file ({_short(err)})",
                   hint="re-export it (a complete copy), or remove it from the folder")


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _part_files(folder: Path, label: str) -> list[Path]:
    files: list[Path] = []
    problems: list[Problem] = []
    try:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in sorted(names):
                if name.startswith((".", "_")):
                    continue  # _SUCCESS, .crc files: Spark and Hadoop bookkeeping
                p = Path(root) / name
                kind = _kind(p)
                if kind == "file":
                    files.append(p)
                else:
                    problems.append(Problem(label, None, f"part {str(p)!r} is not a regular file",
                                            hint="remove it from the parts folder"))
    except OSError as err:
        raise _FileProblems([_os_problem(label, folder, err)]) from None
    if problems:
        raise _FileProblems(problems)
    if not files:
        raise _FileProblems([Problem(label, None, f"the folder {str(folder)!r} holds no Parquet part files",
                                     hint="put the table's part files in it, or remove the empty folder")])
    return sorted(files)


def _read_parts(folder: Path, label: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    files = _part_files(folder, label)
    schemas = []
    problems: list[Problem] = []
    for f in files:
        try:
            schemas.append(pq.read_schema(f))
        except PermissionError as err:
            problems.append(_os_problem(label, f, err))
        except (OSError, ValueError, pa.ArrowException) as err:
            problems.append(_corrupt(label, f, err))
    if problems:
        raise _FileProblems(problems)
    names = [str(f.relative_to(folder)) for f in files]
    schema = None
    if any(not s.equals(schemas[0], check_metadata=False) for s in schemas[1:]):
        schema = _unify(label, folder, names, schemas)
    try:
        table = ds.dataset([str(f) for f in files], schema=schema, format="parquet").to_table()
        return table.to_pandas()
    except PermissionError as err:
        raise _FileProblems([_os_problem(label, folder, err)]) from None
    except (OSError, ValueError, TypeError, pa.ArrowException) as err:
        raise _FileProblems([_corrupt(label, folder, err)]) from None


def _family(t: object) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return _family(t.value_type)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", bool)(t):
        return "text"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _plain(t: object) -> object:
    import pyarrow as pa

    return t.value_type if pa.types.is_dictionary(t) else t


def _unify(label: str, folder: Path, names: list[str], schemas: list) -> object:  # type: ignore[type-arg]
    """One schema for parts that disagree; refuse conflicting column types, naming the parts."""
    import pyarrow as pa

    columns: dict[str, dict[str, list[str]]] = {}
    for name, schema in zip(names, schemas):
        for f in schema:
            columns.setdefault(f.name, {}).setdefault(str(f.type), []).append(name)
    problems = []
    for column, types in columns.items():
        families = {_family(_type_of(schemas, names, column, parts[0])) for parts in types.values()} - {"null"}
        if len(families) > 1:
            listed = "; ".join(f"{t} in {_some(parts)}" for t, parts in types.items())
            problems.append(Problem(
                label, column, f"Parquet parts in {str(folder)!r} disagree on the column's type: {listed}",
                hint="re-export the parts with one type for this column",
            ))
    if problems:
        raise _FileProblems(problems)
    plain = [pa.schema([f.with_type(_plain(f.type)) for f in s], metadata=s.metadata) for s in schemas]
    try:
        unified = pa.unify_schemas(plain, promote_options="permissive")
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise _FileProblems([Problem(label, None, f"Parquet parts in {str(folder)!r} have schemas that cannot be "
                                     f"combined ({_short(err)})", hint="re-export the parts with one schema")]) from None
    for column in unified.names:
        lacking = [n for n, s in zip(names, schemas) if column not in s.names]
        if lacking:
            logger.warning(
                "%s: column %r is missing from %d of %d Parquet parts (%s); it is missing (null) in their rows",
                label, column, len(lacking), len(names), _some(lacking),
            )
    return unified


def _type_of(schemas: list, names: list[str], column: str, part: str) -> object:  # type: ignore[type-arg]
    return schemas[names.index(part)].field(column).type


def _some(parts: list[str], limit: int = 3) -> str:
    shown = ", ".join(parts[:limit])
    return shown + (f" and {len(parts) - limit} more" if len(parts) > limit else "")


# -------------------------------------------------------------------------- csv
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32", "utf-32"), (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"), (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"),
)


def _encoding_for(path: Path, label: str, encoding: str, head: bytes) -> str:
    """The encoding to read with; a UTF-16/32 byte-order mark under another encoding is a Problem."""
    name = codecs.lookup(encoding).name
    for bom, family, fix in _BOMS:
        if head.startswith(bom):
            if name.startswith(fix.replace("-", "")) or name.startswith(fix):
                return encoding
            raise _FileProblems([Problem(
                label, None, f"{str(path)!r} is {family} encoded (it starts with a {family} byte-order mark), "
                             f"not {encoding}",
                hint=f"pass encoding={fix!r}, or re-export it as UTF-8",
            )])
    if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return encoding


def _read_csv(path: Path, table: str | None, label: str, options: LoadOptions) -> pd.DataFrame:
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        raise _FileProblems([_os_problem(label, path, err)]) from None
    if size == 0:
        raise _FileProblems([Problem(label, None, f"{str(path)!r} is empty (0 bytes)",
                                     hint="re-export it with a header row, or remove it from the folder")])
    encoding = _encoding_for(path, label, options.encoding, head)
    try:
        header_row = pd.read_csv(path, nrows=1, header=None, dtype="str", encoding=encoding, keep_default_na=False)
        header = [str(c) for c in header_row.iloc[0].tolist()]
        _check_header(path, label, header)
        dtype, na_values = _csv_column_options(table, header, options)
        return pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=na_values, encoding=encoding)
    except UnicodeDecodeError as err:
        raise _FileProblems([_decode_problem(path, label, encoding, err)]) from None
    except pd.errors.EmptyDataError:
        raise _FileProblems([Problem(label, None, f"{str(path)!r} holds no columns (only blank lines)",
                                     hint="re-export it with a header row, or remove it from the folder")]) from None
    except pd.errors.ParserError as err:
        raise _FileProblems([Problem(label, None, f"{str(path)!r} cannot be parsed as CSV ({_short(err)})",
                                     hint="check the delimiter (commas) and the quoting of the export")]) from None
    except OSError as err:
        raise _FileProblems([_os_problem(label, path, err)]) from None


def _check_header(path: Path, label: str, header: list[str]) -> None:
    seen: set[str] = set()
    repeated = []
    for name in header:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise _FileProblems([Problem(
            label, None, f"the header of {str(path)!r} repeats column names ({', '.join(repeated)})",
            hint="give every column a unique name (pandas would silently rename the copies to name.1)",
        )])


def _csv_column_options(
    table: str | None, header: list[str], options: LoadOptions
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Per source column: dtype (text for ids, text and formatted times) and the spellings of missing."""
    source_of = {dst: src for src, dst in options.columns.get(table or "", {}).items()}
    contract_of = {src: dst for dst, src in source_of.items()}
    spec = TABLES.get(table or "")
    kinds = {c.name: c.kind for c in spec.columns} if spec else {}
    formats = options.formats.get(table or "", {})
    dtype: dict[str, str] = {}
    na_values: dict[str, list[str]] = {}
    for src in header:
        name = contract_of.get(src, src)
        kind = kinds.get(name)
        extra = list(options.extra_missing(table or "", name))
        if kind in ("id", "str"):
            dtype[src] = "str"
            na_values[src] = ["", *extra]
        else:
            if kind == "datetime" and name in formats:
                dtype[src] = "str"
            na_values[src] = [*MISSING_TEXT, *extra]
    return dtype, na_values


def _decode_problem(path: Path, label: str, encoding: str, err: UnicodeDecodeError) -> Problem:
    where = _first_bad_byte(path, encoding)
    at = f" at byte {where[0]:,} (line {where[1]:,})" if where else ""
    return Problem(
        label, None, f"{str(path)!r} is not valid {encoding} text{at}: {err.reason}",
        hint="pass the file's encoding, e.g. encoding='latin-1' or encoding='cp1252' (Windows exports), "
             "or re-export it as UTF-8",
    )


def _first_bad_byte(path: Path, encoding: str, chunk_size: int = 1 << 20) -> tuple[int, int] | None:
    """Offset and line of the first byte that does not decode (streamed; error path only)."""
    base, line, carry = 0, 1, b""
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(chunk_size)
                data = carry + chunk
                if not data:
                    return None
                try:
                    data.decode(encoding)
                    good, carry = len(data), b""
                except UnicodeDecodeError as err:
                    if not (chunk and err.reason in ("unexpected end of data", "truncated data")):
                        return base + err.start, line + data[:err.start].count(b"\n")
                    good, carry = err.start, data[err.start:]
                line += data[:good].count(b"\n")
                base += good
                if not chunk:
                    return None
    except (OSError, LookupError):
        return None
