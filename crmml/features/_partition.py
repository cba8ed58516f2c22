"""Scaling feature builds by hash partitions of the entities.

Every entity-level feature depends only on the rows of that entity (and, for
opportunities, of its account), so the tables can be split by a stable hash
of the entity id, built partition by partition and concatenated — with
exactly the whole-table result. Partition keys:

* ``customers``, ``transactions``, ``interactions``, ``contacts``,
  ``invoices``, ``subscriptions`` and ``opportunities``: ``customer_id``.
  Opportunities follow their account (not their own id, unlike the contract's
  ``entity``) so that account activity, contacts and the account's other
  deals are in the same partition as the deal;
* ``opportunity_history``: the ``customer_id`` of its opportunity (looked up
  in ``opportunities``; rows of unknown opportunities fall back to the hash
  of ``opportunity_id``);
* ``leads`` and ``lead_events``: ``lead_id``.

The one cross-entity feature, an opportunity owner's historical win rate, is
computed from the whole ``opportunities`` table passed as ``owner_history``.

:func:`build_features_from_parquet` does this out of core: it streams each
table's Parquet dataset in record batches, spills the rows (already cut to
``time_column < as_of``) to one Parquet file per (table, partition), then
loads, builds and appends one partition at a time, so peak memory depends on
the partition size rather than on the number of events.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crmml.data import TABLE_NAMES, TABLES, CRMTables
from crmml.exceptions import MissingTableError, ParameterError, Problem
from crmml.features._customer import customer_features
from crmml.features._opportunity import opportunity_features
from crmml.features._pit import to_timestamp
from crmml.features._rfm import rfm_summary

__all__ = [
    "PARTITION_KEYS",
    "partition_of",
    "partition_tables",
    "build_partitioned",
    "build_features_from_parquet",
    "rfm_features",
    "concat_partitions",
    "coerce_internal",
    "Spill",
    "spill_tables",
    "find_parquet_tables",
    "read_owner_history",
    "read_in_partition_order",
    "OpportunityPartitions",
]

PARTITION_KEYS: dict[str, str] = {
    "customers": "customer_id",
    "transactions": "customer_id",
    "interactions": "customer_id",
    "contacts": "customer_id",
    "invoices": "customer_id",
    "subscriptions": "customer_id",
    "opportunities": "customer_id",
    "opportunity_history": "customer_id",  # via opportunities.customer_id
    "leads": "lead_id",
    "lead_events": "lead_id",
}


def _check_n(n_partitions: object, owner: str) -> int:
    if isinstance(n_partitions, bool) or not isinstance(n_partitions, (int, np.integer)) or n_partitions < 1:
        raise ParameterError(
            f"The 'n_partitions' parameter of {owner} must be an int >= 1. Got {n_partitions!r} instead."
        )
    return int(n_partitions)


def partition_of(ids: pd.Series | pd.Index | np.ndarray | list, n_partitions: int) -> np.ndarray:
    """Stable partition number in ``[0, n_partitions)`` of each id.

    Uses :func:`pandas.util.hash_array` on the ids as strings (SipHash with
    pandas' fixed default key), so the assignment is the same across runs,
    processes and machines.

    Examples
    --------
    >>> bool(partition_of(["c1", "c2", "c1"], 4)[0] == partition_of(["c1"], 4)[0])
    True
    """
    n = _check_n(n_partitions, "partition_of")
    vals = np.asarray(pd.Series(ids, dtype=object).astype(object).to_numpy(), dtype=object)
    if len(vals) == 0:
        return np.zeros(0, dtype=np.int64)
    h = pd.util.hash_array(vals, categorize=True)
    return (h % np.uint64(n)).astype(np.int64)


class OpportunityPartitions:
    """The partition of ``opportunity_history`` rows: their opportunity's account's, computed once.

    Rows of an opportunity that ``opps`` does not hold fall back to the
    partition of their ``opportunity_id``. Calls hash each distinct id of
    their input once (an opportunity has several history rows).

    Parameters
    ----------
    opps : DataFrame or None
        ``opportunity_id`` and ``customer_id`` (the first row of a repeated id counts).
    n : int
        Number of partitions.
    """

    def __init__(self, opps: pd.DataFrame | None, n: int) -> None:
        self.n = _check_n(n, "OpportunityPartitions")
        if opps is None or not len(opps):
            self._index, self._parts = pd.Index([], dtype=object), np.zeros(0, dtype=np.int64)
            return
        first = opps.drop_duplicates("opportunity_id")
        self._index = pd.Index(first["opportunity_id"].astype(object).to_numpy())
        self._parts = partition_of(first["customer_id"].to_numpy(dtype=object), self.n)

    def __call__(self, ids: object) -> np.ndarray:
        """Partition of each id (a pandas Series / array, or a pyarrow array or chunked array)."""
        if hasattr(ids, "to_pandas") and not isinstance(ids, pd.Series):
            import pyarrow.compute as pc

            column = ids.combine_chunks() if hasattr(ids, "combine_chunks") else ids
            enc = pc.dictionary_encode(column, null_encoding="encode")
            uniq, codes = enc.dictionary.to_pandas(), enc.indices.to_numpy(zero_copy_only=False)
        else:
            codes, uniq = pd.factorize(pd.Series(ids, dtype=object), use_na_sentinel=False)
        values = np.asarray(pd.Series(uniq, dtype=object).to_numpy(), dtype=object)
        part = partition_of(values, self.n)
        pos = self._index.get_indexer(pd.Index(values)) if len(self._index) else np.full(len(values), -1)
        ok = pos >= 0
        part[ok] = self._parts[pos[ok]]
        return part[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def _opp_partition(hist_opp_ids: pd.Series, opps: pd.DataFrame | None, n: int) -> np.ndarray:
    return OpportunityPartitions(opps, n)(hist_opp_ids)


def partition_tables(tables: CRMTables, n_partitions: int, i: int) -> CRMTables:
    """Restrict every table to the entities of partition ``i``.

    See the module docstring for the key of each table.

    Parameters
    ----------
    tables : CRMTables
    n_partitions : int
    i : int
        Partition number, ``0 <= i < n_partitions``.
    """
    n = _check_n(n_partitions, "partition_tables")
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
        raise ParameterError(
            f"The 'i' parameter of partition_tables must be an int in the range [0, {n}). Got {i!r} instead."
        )
    out: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        if name == "opportunity_history":
            part = _opp_partition(df["opportunity_id"], tables.opportunities, n)
        else:
            part = partition_of(df[PARTITION_KEYS[name]], n)
        out[name] = df.loc[part == i]
    return tables.replace(**out)


def rfm_features(tables: CRMTables, as_of: object, **kw: object) -> pd.DataFrame:
    """:func:`rfm_summary` of ``tables.transactions`` (with ``tables.customers``) as a table builder."""
    tables.require("transactions", model="rfm_features")
    kw.setdefault("customers", tables.customers)
    return rfm_summary(tables.transactions, as_of, **kw)  # type: ignore[arg-type]


def _builder_call(builder: Callable[..., pd.DataFrame], part: CRMTables, as_of: pd.Timestamp,
                  whole: CRMTables | None, kw: dict) -> pd.DataFrame:
    if builder is rfm_summary:
        builder = rfm_features
    if builder is opportunity_features and "owner_history" not in kw and whole is not None:
        kw = {**kw, "owner_history": whole.opportunities}
    return builder(part, as_of, **kw)


def _merge_exclusions(parts: list[pd.DataFrame]) -> list[dict[str, object]]:
    merged: dict[tuple[str, str, str], int] = {}
    for p in parts:
        for e in p.attrs.get("exclusions", []) or []:
            k = (str(e["table"]), str(e["rule"]), str(e.get("unit", "rows")))
            merged[k] = merged.get(k, 0) + int(e["n_rows"])  # type: ignore[call-overload]
    return [{"table": t, "rule": r, "n_rows": v, "unit": u} for (t, r, u), v in merged.items()]


def concat_partitions(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-partition results: sorted index, categoricals with unioned sorted categories."""
    cats: dict[str, set] = {}
    for p in parts:
        for c in p.columns:
            if isinstance(p[c].dtype, pd.CategoricalDtype):
                cats.setdefault(c, set()).update(p[c].cat.categories)
    fixed = []
    for p in parts:
        if cats:
            p = p.copy()
            for c, s in cats.items():
                p[c] = p[c].astype(object)
        fixed.append(p)
    out = pd.concat(fixed, axis=0).sort_index(kind="stable")
    for c, s in cats.items():
        out[c] = pd.Categorical(out[c].where(out[c].notna(), None), categories=sorted(s))
    out.attrs = {}
    ex = _merge_exclusions(parts)
    if any("exclusions" in p.attrs for p in parts):
        out.attrs["exclusions"] = ex
    return out


def build_partitioned(
    builder: Callable[..., pd.DataFrame],
    tables: CRMTables,
    as_of: object,
    n_partitions: int,
    **kw: object,
) -> pd.DataFrame:
    """Build entity features partition by partition and concatenate.

    The result equals ``builder(tables, as_of, **kw)`` (same rows, sorted
    index, values and dtypes; categorical columns get the sorted union of the
    partitions' categories, which is what the whole-table build has).

    Parameters
    ----------
    builder : callable
        :func:`customer_features`, :func:`lead_features`,
        :func:`opportunity_features`, :func:`rfm_summary` (called on
        ``tables.transactions`` with ``customers=tables.customers``) or any
        ``f(tables, as_of, **kw) -> DataFrame`` whose rows depend only on
        their own partition.
    tables : CRMTables
    as_of : str, date or Timestamp
        Required (``None`` is refused: per-partition "after the last
        transaction" would differ between partitions).
    n_partitions : int
    **kw
        Passed to ``builder``.
    """
    ts = to_timestamp(as_of)
    n = _check_n(n_partitions, "build_partitioned")
    parts = [_builder_call(builder, partition_tables(tables, n, i), ts, tables, dict(kw)) for i in range(n)]
    return concat_partitions(parts)


# --------------------------------------------------------------------------- out of core
def _table_path(source_dir: Path, name: str) -> Path | None:
    for cand in (source_dir / f"{name}.parquet", source_dir / name):
        if cand.exists():
            return cand
    return None


def coerce_internal(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame read from Parquet to the internal representation (no validation)."""
    spec = TABLES[name]
    out = {}
    for c in df.columns:
        try:
            kind = spec.column(c).kind
        except KeyError:
            out[c] = df[c]
            continue
        s = df[c]
        if kind == "datetime":
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            s = s.astype("datetime64[ns]")
        elif kind in ("id", "str"):
            if not pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
                s = s.astype("str")
        elif kind in ("float", "int"):
            s = s.astype(np.float64)
        elif kind == "bool":
            s = s.astype("boolean")
        out[c] = s
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


@dataclass
class Spill:
    """Contract tables spilled to one Parquet file per (table, partition) by :func:`spill_tables`.

    Attributes
    ----------
    work : Path
        The spill folder (``<work>/<table>/part-<i>.parquet``).
    paths : dict
        Table name → the source file or folder that was spilled.
    n_partitions : int
    rows : dict
        Table name → rows spilled (those with ``time_column < as_of``).
    owner_history : DataFrame or None
        The whole ``opportunities`` table (``opportunity_id``, ``customer_id``,
        ``created_at``, ``closed_at``, ``won`` and ``owner``), for owners' win
        rates, which span partitions.
    """

    work: Path
    paths: dict[str, Path]
    n_partitions: int
    rows: dict[str, int]
    owner_history: pd.DataFrame | None

    def raw_frames(self, i: int, tables: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """Partition ``i`` of every spilled table (or of ``tables``) as read from Parquet (no cast; empty when
        it has no rows)."""
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        frames: dict[str, pd.DataFrame] = {}
        for name, src in self.paths.items():
            if tables is not None and name not in tables:
                continue
            f = self.work / name / f"part-{i}.parquet"
            if f.exists():
                frames[name] = pq.read_table(f).to_pandas()
            else:
                frames[name] = ds.dataset(src, format="parquet").schema.empty_table().to_pandas()
        return frames

    def frames(self, i: int) -> dict[str, pd.DataFrame]:
        """Partition ``i`` of every spilled table in the internal representation (:func:`coerce_internal`)."""
        return {name: coerce_internal(name, df) for name, df in self.raw_frames(i).items()}


def find_parquet_tables(source_dir: str | os.PathLike, tables: Sequence[str] | None = None) -> dict[str, Path]:
    """``<table>.parquet`` files or folders (or ``<table>/`` part folders) of ``source_dir``, by table name.

    Raises
    ------
    MissingTableError
        None of the contract tables (or of ``tables``) is there.
    """
    src = Path(source_dir)
    names = TABLE_NAMES if tables is None else [t for t in TABLE_NAMES if t in set(tables)]
    paths = {name: p for name in names if (p := _table_path(src, name)) is not None}
    if not paths:
        raise MissingTableError(
            [Problem("customers", None, f"no contract table found in {str(src)!r}",
                     hint="write tables as <table>.parquet files or folders (e.g. customers.parquet)")],
            context="building features from Parquet",
        )
    return paths


def read_owner_history(paths: Mapping[str, Path]) -> pd.DataFrame | None:
    """The few columns of the whole ``opportunities`` table that partitioned builds need (None without it)."""
    import pyarrow.dataset as ds

    if "opportunities" not in paths:
        return None
    cols = ["opportunity_id", "customer_id", "created_at", "closed_at", "won"]
    dset = ds.dataset(paths["opportunities"], format="parquet")
    cols += ["owner"] if "owner" in dset.schema.names else []
    return coerce_internal("opportunities", dset.to_table(columns=cols).to_pandas())


def _key_partitions(table: object, name: str, n: int, opp_parts: OpportunityPartitions) -> np.ndarray:
    """Partition of each row of an Arrow table or record batch of contract table ``name`` (see the module docstring)."""
    import pyarrow.compute as pc

    if name == "opportunity_history":
        return opp_parts(table.column("opportunity_id"))  # type: ignore[attr-defined]
    # hash each distinct id once (an id repeats over its events): 5x faster than hashing every row
    column = table.column(PARTITION_KEYS[name])  # type: ignore[attr-defined]
    if hasattr(column, "combine_chunks"):  # a Table's column is chunked
        column = column.combine_chunks()
    keys = pc.dictionary_encode(column, null_encoding="encode")
    return partition_of(keys.dictionary.to_pandas(), n)[keys.indices.to_numpy(zero_copy_only=False)]


def read_in_partition_order(paths: Mapping[str, Path], as_of: object, *, n_partitions: int,
                            tables: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Whole tables (rows before ``as_of``) with their rows in the order of :func:`spill_tables`' partitions.

    Partition 0's rows first, then partition 1's ..., each in input order —
    the concatenation of every partition's frames, read straight from the
    input. What a whole-population step of the batch reads, so its sums run
    in the same order on every engine.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    ts = to_timestamp(as_of)
    n = _check_n(n_partitions, "read_in_partition_order")
    cut = pa.scalar(ts.to_datetime64(), type=pa.timestamp("ns"))
    owner = read_owner_history(paths) if "opportunity_history" in tables else None
    opp_parts = OpportunityPartitions(owner, n)
    out: dict[str, pd.DataFrame] = {}
    for name in tables:
        dset = ds.dataset(paths[name], format="parquet")
        col = TABLES[name].time_column
        t = dset.to_table(filter=ds.field(col) < cut.cast(dset.schema.field(col).type), use_threads=False)
        part = _key_partitions(t, name, n, opp_parts)
        out[name] = t.take(pa.array(np.argsort(part, kind="stable"))).to_pandas()
    return out


def spill_tables(
    paths: Mapping[str, Path],
    as_of: object,
    work: str | os.PathLike,
    *,
    n_partitions: int,
    batch_rows: int = 1_000_000,
    on_table: Callable[[str, int], None] | None = None,
) -> Spill:
    """Stream Parquet tables into ``work/<table>/part-<i>.parquet`` by the stable hash partition of their key.

    Rows with ``time_column >= as_of`` are dropped while reading (invisible as
    of ``as_of``). One record batch of ``batch_rows`` is in memory at a time.
    ``on_table(name, rows)`` is called after each table.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    ts = to_timestamp(as_of)
    n = _check_n(n_partitions, "spill_tables")
    work = Path(work)
    cut = pa.scalar(ts.to_datetime64(), type=pa.timestamp("ns"))
    owner_hist = read_owner_history(paths)
    opp_parts = OpportunityPartitions(owner_hist, n)
    rows_spilled: dict[str, int] = {}
    for name, path in paths.items():
        spec = TABLES[name]
        dset = ds.dataset(path, format="parquet")
        filt = ds.field(spec.time_column) < cut.cast(dset.schema.field(spec.time_column).type)
        (work / name).mkdir(parents=True, exist_ok=True)
        writers: dict[int, pq.ParquetWriter] = {}
        total = 0
        try:
            # no read-ahead: one batch in memory at a time
            for batch in dset.to_batches(filter=filt, batch_size=batch_rows, batch_readahead=0,
                                         fragment_readahead=0, use_threads=False):
                if batch.num_rows == 0:
                    continue
                part = _key_partitions(batch, name, n, opp_parts)
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange(n + 1))
                tbl = pa.Table.from_batches([batch]).take(pa.array(order))
                for i in range(n):
                    lo, hi = int(bounds[i]), int(bounds[i + 1])
                    if hi > lo:
                        if i not in writers:
                            writers[i] = pq.ParquetWriter(work / name / f"part-{i}.parquet", tbl.schema)
                        writers[i].write_table(tbl.slice(lo, hi - lo))
                total += batch.num_rows
                del batch, tbl, part, order
        finally:
            for wtr in writers.values():
                wtr.close()
        rows_spilled[name] = total
        if on_table is not None:
            on_table(name, total)
    return Spill(work=work, paths=dict(paths), n_partitions=n, rows=rows_spilled, owner_history=owner_hist)


def build_features_from_parquet(
    source_dir: str | os.PathLike,
    as_of: object,
    out_path: str | os.PathLike,
    *,
    n_partitions: int,
    builder: Callable[..., pd.DataFrame] = customer_features,
    batch_rows: int = 1_000_000,
    tmp_dir: str | os.PathLike | None = None,
    **kw: object,
) -> dict[str, object]:
    """Build features from Parquet tables on disk with bounded memory.

    1. Each table ``source_dir/<table>.parquet`` (a file or a folder of
       files) is streamed in record batches of ``batch_rows``; rows with
       ``time_column >= as_of`` are dropped at once (they are invisible as of
       ``as_of``); the others are appended to
       ``<tmp>/<table>/part-<i>.parquet`` by the stable hash partition of
       their key (see the module docstring and :func:`spill_tables`).
    2. For each partition: its files are loaded, cast to the internal
       representation, ``builder`` runs on them and the result is appended to
       ``out_path`` (one Parquet file; categorical columns are written as
       strings, the index as a column).

    Peak memory is that of one record batch plus one partition's build, so
    it does not grow with the number of events when ``n_partitions`` grows
    with the data.

    Parameters
    ----------
    source_dir : path
        Folder holding ``<table>.parquet`` files/folders of contract tables.
    as_of : str, date or Timestamp
    out_path : path
        Parquet file to write.
    n_partitions : int
    builder : callable
        As in :func:`build_partitioned`; default :func:`customer_features`.
    batch_rows : int
        Rows per streamed record batch.
    tmp_dir : path, optional
        Where to spill (a temporary folder, removed afterwards).
    **kw
        Passed to ``builder``.

    Returns
    -------
    dict
        ``rows_spilled`` per table, ``n_entities``, ``n_partitions``,
        ``seconds_spill``, ``seconds_build``, ``exclusions``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = to_timestamp(as_of)
    n = _check_n(n_partitions, "build_features_from_parquet")
    paths = find_parquet_tables(source_dir)
    work = Path(tempfile.mkdtemp(prefix="crmml-spill-", dir=tmp_dir))
    t0 = time.perf_counter()
    try:
        spill = spill_tables(paths, ts, work, n_partitions=n, batch_rows=batch_rows)
        t_spill = time.perf_counter() - t0

        t1 = time.perf_counter()
        writer: pq.ParquetWriter | None = None
        schema = None
        n_entities = 0
        exclusions: list[pd.DataFrame] = []
        whole = CRMTables(opportunities=spill.owner_history) if spill.owner_history is not None else None
        try:
            for i in range(n):
                part_tables = CRMTables.from_frames(spill.frames(i))
                res = _builder_call(builder, part_tables, ts, whole, dict(kw))
                if "exclusions" in res.attrs:
                    ex = pd.DataFrame(index=[0])
                    ex.attrs["exclusions"] = res.attrs["exclusions"]
                    exclusions.append(ex)
                out = res.copy()
                for c in out.columns:
                    if isinstance(out[c].dtype, pd.CategoricalDtype):
                        out[c] = out[c].astype(object).astype("string[pyarrow]")
                table = pa.Table.from_pandas(out, preserve_index=True)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(out_path, schema)
                else:
                    table = table.cast(schema)
                writer.write_table(table)
                n_entities += len(out)
                del part_tables, res, out, table
        finally:
            if writer is not None:
                writer.close()
        t_build = time.perf_counter() - t1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "rows_spilled": spill.rows,
        "n_entities": n_entities,
        "n_partitions": n,
        "seconds_spill": t_spill,
        "seconds_build": t_build,
        "exclusions": _merge_exclusions(exclusions),
    }
