"""Splitting Spark tables into the local engine's hash partitions, as Arrow IPC chunks.

Map side (:func:`map_chunks`, run by ``mapInArrow``): each record batch is
cast to the table's Arrow schema, cut to ``time_column < as_of`` and
assigned its partition with the local engine's own functions; the rows of
the partitions to do are buffered and sent as one ``_payload`` (Arrow IPC
bytes) per partition, tagged with the table name and the partition's slot
key. Reduce side (:func:`group_tables`): the chunks of one partition are
decoded, concatenated per table and put back in input order.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmml.data import TABLES
from crmml.features import PARTITION_KEYS, partition_of
from crmml.features._partition import OpportunityPartitions
from crmml.spark._ship import owner_history

__all__ = [
    "CHUNK_SCHEMA",
    "FILE",
    "ROW",
    "TableSource",
    "file_key",
    "group_tables",
    "map_chunks",
    "schema_bytes",
    "schema_from_bytes",
]

#: Order columns carried with the rows: the input file's rank and the row's index in it.
FILE, ROW = "__crmml_file", "__crmml_row"
CHUNK_SCHEMA = "_key long, _part long, _table string, _payload binary"
_CHUNK_ARROW = pa.schema([("_key", pa.int64()), ("_part", pa.int64()), ("_table", pa.string()),
                          ("_payload", pa.binary())])
#: Rows buffered by one map task before its chunks are sent (fewer, larger chunks).
FLUSH_ROWS = 200_000


@dataclass(frozen=True)
class TableSource:
    """One contract table as Spark reads it.

    Attributes
    ----------
    name : str
        The contract table name.
    frame : pyspark.sql.DataFrame
        The table's columns, then :data:`FILE` (the input file's path, or
        null) and :data:`ROW` (the row's position in it).
    schema : pyarrow.Schema
        The Arrow schema each partition's table gets (for Parquet input: the
        schema the local engine reads, metadata included).
    files : tuple of str
        The input files in the local engine's reading order (empty for a
        DataFrame); rows are ordered by file, then by row index.
    """

    name: str
    frame: Any
    schema: pa.Schema
    files: tuple[str, ...] = ()


def schema_bytes(schema: pa.Schema) -> bytes:
    """An Arrow schema (metadata included) as bytes."""
    return schema.serialize().to_pybytes()


def schema_from_bytes(data: bytes) -> pa.Schema:
    """Inverse of :func:`schema_bytes`."""
    return pa.ipc.read_schema(pa.py_buffer(data))


def file_key(path: str) -> str:
    """A file path or ``file:`` URI as one comparable local path (other URIs unchanged)."""
    parsed = urllib.parse.urlparse(path)
    if parsed.scheme in ("", "file"):
        return os.path.realpath(urllib.parse.unquote(parsed.path))
    return path


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _file_ranks(col: pa.ChunkedArray, rank: Mapping[str, int]) -> pa.Array:
    """The rank of each row's input file (0 when the source has no files)."""
    if not rank or not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return pa.array(np.zeros(len(col), dtype=np.int64))
    enc = pc.dictionary_encode(col).combine_chunks()
    per_file = np.array([rank.get(file_key(str(p)), len(rank)) for p in enc.dictionary.to_pylist()],
                        dtype=np.int64)
    codes = enc.indices.to_numpy(zero_copy_only=False)
    return pa.array(per_file[codes] if len(per_file) else np.zeros(len(col), dtype=np.int64))


def _flush(buffer: dict[int, list[pa.Table]], table: str, slots: Mapping[int, int]) -> pa.RecordBatch:
    parts = sorted(buffer)
    payloads = [_ipc(pa.concat_tables(buffer[p])) for p in parts]
    return pa.RecordBatch.from_arrays(
        [pa.array([slots[p] for p in parts], pa.int64()), pa.array(parts, pa.int64()),
         pa.array([table] * len(parts), pa.string()), pa.array(payloads, pa.binary())], schema=_CHUNK_ARROW)


def map_chunks(batches: Iterable[pa.RecordBatch], ctx: Mapping[str, Any]) -> Iterator[pa.RecordBatch]:
    """Record batches of one table → chunk rows (:data:`CHUNK_SCHEMA`) of the partitions to do.

    ``ctx`` holds ``table``, ``schema`` (:func:`schema_bytes`), ``files``,
    ``n`` (partitions), ``slots`` (partition → slot key, the partitions to
    do), ``as_of`` (nanoseconds) and ``owner`` (the shipped owner history,
    for ``opportunity_history``).
    """
    name = ctx["table"]
    schema = schema_from_bytes(ctx["schema"])
    plain = schema.remove_metadata()
    n, slots = int(ctx["n"]), {int(k): int(v) for k, v in ctx["slots"].items()}
    todo = np.array(sorted(slots), dtype=np.int64)
    tcol = TABLES[name].time_column
    # the local spill's cut: as_of as a naive ns timestamp, cast to the column's type
    cut = pa.scalar(int(ctx["as_of"]), type=pa.timestamp("ns")).cast(schema.field(tcol).type)
    key = "opportunity_id" if name == "opportunity_history" else PARTITION_KEYS[name]
    opp_parts = OpportunityPartitions(owner_history(ctx.get("owner")), n) if name == "opportunity_history" else None
    rank = {f: k for k, f in enumerate(ctx["files"])}
    buffer: dict[int, list[pa.Table]] = {}
    held = 0
    for batch in batches:
        tbl = pa.Table.from_batches([batch])
        data = tbl.select(schema.names).cast(plain)
        keep = pc.fill_null(pc.less(data[tcol], cut), False)
        data = data.filter(keep)
        if data.num_rows == 0:
            continue
        data = data.append_column(FILE, _file_ranks(tbl[FILE].filter(keep), rank)).append_column(
            ROW, tbl[ROW].filter(keep).cast(pa.int64()))
        part = opp_parts(data.column(key)) if opp_parts is not None else partition_of(data.column(key).to_pandas(), n)
        sel = np.flatnonzero(np.isin(part, todo))
        if not len(sel):
            continue
        sel = sel[np.argsort(part[sel], kind="stable")]
        found, starts = np.unique(part[sel], return_index=True)
        ends = np.append(starts[1:], len(sel))
        for p, lo, hi in zip(found.tolist(), starts.tolist(), ends.tolist(), strict=True):
            buffer.setdefault(p, []).append(data.take(pa.array(sel[lo:hi])))
        held += len(sel)
        if held >= FLUSH_ROWS:
            yield _flush(buffer, name, slots)
            buffer, held = {}, 0
    if buffer:
        yield _flush(buffer, name, slots)


def group_tables(chunks: pd.DataFrame, schemas: Mapping[str, pa.Schema]) -> dict[str, pa.Table]:
    """One partition's chunks (``_table``, ``_payload``) → table name → its rows, in input order.

    Every table of ``schemas`` is there (empty when no chunk holds it), with
    its schema, metadata included; rows are ordered by input file and row
    index, as the local engine reads them.
    """
    found: dict[str, list[pa.Table]] = {}
    for table, payload in zip(chunks["_table"], chunks["_payload"], strict=True):
        if table:  # "" marks a partition's marker row
            found.setdefault(str(table), []).append(pa.ipc.open_stream(pa.py_buffer(payload)).read_all())
    out: dict[str, pa.Table] = {}
    for name, schema in schemas.items():
        if name in found:
            tbl = pa.concat_tables(found[name]).sort_by([(FILE, "ascending"), (ROW, "ascending")])
            out[name] = tbl.drop_columns([FILE, ROW]).replace_schema_metadata(schema.metadata)
        else:
            out[name] = schema.empty_table()
    return out


def table_schemas(sources: Sequence[TableSource]) -> dict[str, bytes]:
    """Table name → :func:`schema_bytes`, in the sources' order."""
    return {s.name: schema_bytes(s.schema) for s in sources}
