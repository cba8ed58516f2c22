"""The Spark engine: the batch's partitions scored by Spark tasks, from Parquet paths or DataFrames."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from crmml._version import __version__
from crmml.batch._models import BatchModel, load_models, required_tables
from crmml.batch._steps import sum_exclusions
from crmml.batch._store import RunStore
from crmml.data import TABLE_NAMES
from crmml.exceptions import OutputError, ParameterError
from crmml.features import read_owner_history, to_timestamp
from crmml.spark._ship import (
    artifact_payload,
    error_from_dict,
    frame_to_bytes,
    ship,
    unship,
)
from crmml.spark._split import (
    CHUNK_SCHEMA,
    FILE,
    ROW,
    TableSource,
    file_key,
    map_chunks,
    table_schemas,
)
from crmml.spark._worker import RESULT_SCHEMA, TABLES_SCHEMA, score_group, tables_group

__all__ = ["get_session", "score_partitions_spark", "score_spark"]

#: Spark refuses Parquet INT64 nanosecond timestamps (what pandas writes) unless it reads them as longs;
#: the map step casts them back to the Arrow type the local engine reads.
_NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


#: The Python workers of a session crmml starts: without pyspark's warning about pandas 3 at their start.
_WORKER_WARNINGS = "ignore:PySpark does not yet fully support pandas:FutureWarning"


# ------------------------------------------------------------------ session
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without pyspark's warning that it does not fully support pandas 3 (crmml's use of it is tested)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


def get_session() -> Any:
    """``SparkSession.builder.appName("crmml-batch").getOrCreate()``.

    The master and every setting come from ``spark-submit``, an existing
    session or Spark's defaults (``local[*]``). When crmml starts Spark
    itself (no session yet, not under ``spark-submit`` or Spark Connect, no
    ``PYSPARK_PYTHON``), the Python workers run this interpreter
    (``sys.executable``), which has crmml installed.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("crmml-batch")
    env = os.environ
    own = (SparkSession.getActiveSession() is None and not any(
        k in env for k in ("PYSPARK_PYTHON", "PYSPARK_GATEWAY_PORT", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")))
    if not own:
        with _quiet():
            return builder.getOrCreate()
    # read when the SparkContext starts its JVM, which passes them on to the Python workers
    saved = {k: env.get(k) for k in ("PYSPARK_PYTHON", "PYTHONWARNINGS")}
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYTHONWARNINGS"] = ",".join(w for w in (saved["PYTHONWARNINGS"], _WORKER_WARNINGS) if w)
    try:
        with _quiet():
            return builder.getOrCreate()
    finally:
        for k, v in saved.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v


@contextlib.contextmanager
def _sql_conf(spark: Any, settings: Mapping[str, str]) -> Iterator[None]:
    """Session settings for the duration of a block (the previous values restored)."""
    old = {k: spark.conf.get(k, None) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


# ------------------------------------------------------------------ sources
def parquet_source(spark: Any, name: str, path: Path) -> TableSource:
    """A table read with ``spark.read.parquet``, with the schema and file order the local engine reads.

    Call it with ``spark.sql.legacy.parquet.nanosAsLong`` set (see :func:`score_partitions_spark`).
    """
    from pyspark.sql import functions as F

    dset = ds.dataset(path, format="parquet")
    files = tuple(file_key(os.path.abspath(f)) for f in dset.files)
    df = spark.read.parquet(str(path))
    cols = [_col(c) for c in dset.schema.names]
    try:
        frame = df.select(*cols, F.col("_metadata.file_path").alias(FILE), F.col("_metadata.row_index").alias(ROW))
    except Exception:  # noqa: BLE001 - a Spark without _metadata.row_index (AnalysisException): Spark's order
        frame = df.select(*cols, F.col("_metadata.file_path").alias(FILE),
                          F.monotonically_increasing_id().alias(ROW))
    return TableSource(name, frame, dset.schema, files)


def frame_source(name: str, df: Any) -> TableSource:
    """A table given as a Spark DataFrame (rows kept in Spark's order; Spark's types as Arrow types)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        schema = to_arrow_schema(df.schema, timezone="UTC")
    except TypeError:  # pyspark 3.5
        schema = to_arrow_schema(df.schema)
    frame = df.select(*[_col(c) for c in df.columns], F.lit(None).cast("string").alias(FILE),
                      F.monotonically_increasing_id().alias(ROW))
    return TableSource(name, frame, schema, ())


# ------------------------------------------------------------------ the job
def _slot_keys(spark: Any, k: int) -> list[int]:
    """``k`` long values whose Spark hash partitions (``pmod(hash(x), k)``) are 0 .. k-1.

    Shuffling by them puts each crmml partition in a Spark task of its own
    (hashing the partition numbers themselves would put some together).
    """
    from pyspark.sql import functions as F

    if k == 1:
        return [0]
    m = 32 * k
    while True:
        first: dict[int, int] = {}
        for r in spark.range(m).select("id", F.expr(f"pmod(hash(id), {k})").alias("b")).collect():
            first.setdefault(int(r["b"]), int(r["id"]))
        if len(first) == k:
            return [first[b] for b in range(k)]
        m *= 4


def _mapper(ctx: dict[str, Any]) -> Callable[[Any], Any]:
    """``mapInArrow``'s function: a closure over plain data (``map_chunks`` travels by reference)."""
    def fn(batches: Any) -> Any:
        return map_chunks(batches, ctx)
    return fn


def _per_group(func: Callable[..., pd.DataFrame], ctx: dict[str, Any]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """``applyInPandas``'s function of one argument: ``func(chunks, ctx)``."""
    def fn(chunks: pd.DataFrame) -> pd.DataFrame:
        return func(chunks, ctx)
    return fn


def _grouped(spark: Any, sources: Sequence[TableSource], as_of: pd.Timestamp, n: int, todo: Sequence[int],
             owner: Any) -> Any:
    """Every table's chunks of the partitions in ``todo``, one Spark task per partition, grouped by it."""
    from functools import reduce

    keys = _slot_keys(spark, len(todo))
    slots = {int(i): keys[j] for j, i in enumerate(todo)}
    frames = []
    for s in sources:
        ctx = {"table": s.name, "schema": table_schemas([s])[s.name], "files": list(s.files), "n": n,
               "slots": slots, "as_of": int(as_of.value), "owner": owner if s.name == "opportunity_history" else None}
        frames.append(s.frame.mapInArrow(_mapper(ctx), CHUNK_SCHEMA))
    markers = spark.createDataFrame([(slots[i], int(i), "", b"") for i in todo], CHUNK_SCHEMA)
    union = reduce(lambda a, b: a.unionByName(b), frames, markers)
    return union.repartition(len(todo), "_key").groupBy("_key")


class _Poller:
    """Calls ``on_done(k)`` from a thread as partitions' checkpoints appear in the staging folder."""

    def __init__(self, store: RunStore, todo: Sequence[int], on_done: Callable[[int], None] | None,
                 every: float = 1.0) -> None:
        self.store, self.pending, self.on_done, self.every = store, set(todo), on_done, every
        self.total, self.done = len(todo), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crmml-spark-progress", daemon=True)

    def _check(self) -> None:
        finished = {i for i in self.pending if self.store.part_done(i) is not None}
        if finished:
            self.pending -= finished
            self.done += len(finished)
            if self.on_done is not None:
                with contextlib.suppress(Exception):  # progress must not fail the run
                    self.on_done(self.done)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._check()

    def __enter__(self) -> Self:
        if self.on_done is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if exc[0] is None and self.on_done is not None:
            self._check()


def _run(spark: Any, sources: Sequence[TableSource], owner: pd.DataFrame | None, as_of: pd.Timestamp,
         models: Mapping[str, BatchModel], store: RunStore, n: int, todo: Sequence[int],
         view: tuple[str | None, str | None], on_done: Callable[[int], None] | None,
         forecast_periods: int = 2) -> dict[int, dict[str, Any]]:
    todo = sorted(int(i) for i in todo)
    if not todo:
        return {}
    shipped_models = ship(spark, artifact_payload(models))
    shipped_owner = ship(spark, None if owner is None else {"token": uuid.uuid4().hex, "data": frame_to_bytes(owner)})
    try:
        ctx = {"crmml": __version__, "schemas": table_schemas(sources), "as_of": int(as_of.value),
               "models": shipped_models, "owner": shipped_owner, "root": os.path.abspath(store.root),
               "run_id": store.run_id, "view": list(view), "forecast_periods": int(forecast_periods)}
        out = _grouped(spark, sources, as_of, n, todo, shipped_owner).applyInPandas(
            _per_group(score_group, ctx), RESULT_SCHEMA)
        with _Poller(store, todo, on_done):
            rows = out.collect()
    finally:
        unship(shipped_models)
        unship(shipped_owner)
    results = sorted(((int(r["partition"]), json.loads(r["result"])) for r in rows), key=lambda pr: pr[0])
    for _, res in results:
        if "error" in res:  # the first partition's error, after every other partition finished
            raise error_from_dict(res["error"])
    metas: dict[int, dict[str, Any]] = {}
    for i in todo:
        meta = store.part_done(i)
        if meta is None:
            raise OutputError(
                f"Spark scored partition {i} but its checkpoint is not in {str(store.staging)!r} as the driver "
                "sees it. Fix: put the batch output on a filesystem that the driver and every executor mount at "
                "the same path (a shared mount on a cluster).")
        metas[i] = meta
    return metas


def score_partitions_spark(paths: Mapping[str, Path], as_of: pd.Timestamp, models: Mapping[str, BatchModel],
                           store: RunStore, *, n_partitions: int, todo: Sequence[int],
                           view: tuple[str | None, str | None], forecast_periods: int = 2,
                           on_done: Callable[[int], None] | None = None) -> dict[int, dict[str, Any]]:
    """Score the batch's partitions ``todo`` with Spark (the ``spark`` engine of :func:`crmml.batch.run_batch`).

    The session is :func:`get_session`'s: ``spark-submit`` or an existing
    session decide the master. Each table is read with
    ``spark.read.parquet``; the partitions, the rows they hold and the
    function scoring them are the local engine's (see :mod:`crmml.spark`).
    Executors write each partition's part files and checkpoint into
    ``store.staging``, which must be a path the driver and every executor
    share.

    Parameters
    ----------
    paths : dict
        Table name → Parquet file or folder of the contract tables the models need.
    as_of : Timestamp
        Naive UTC.
    models : dict
        Output name → :class:`~crmml.batch._models.BatchModel`.
    store : RunStore
        The run being written (started).
    n_partitions : int
    todo : list of int
        The partitions not finished yet.
    view : (str or None, str or None)
        The CLV and churn outputs the customer view joins.
    forecast_periods : int
        Periods of the forecast model's period inputs (the batch's ``[forecast] periods``).
    on_done : callable, optional
        Called with the number of partitions finished so far, from a
        background thread while Spark runs, and once more at the end.

    Returns
    -------
    dict
        Partition → its checkpoint (``store.part_done(i)``), for every partition of ``todo``.

    Raises
    ------
    DataContractError, CrmmlError
        A partition broke the data contract (or another crmml rule): the
        first such error by partition number, raised after the other
        partitions finished.
    OutputError
        The driver cannot see what the executors wrote.
    """
    if not todo:
        return {}
    spark = get_session()
    with _quiet(), _sql_conf(spark, {_NANOS_AS_LONG: "true"}):
        sources = [parquet_source(spark, name, Path(p)) for name, p in paths.items()]
        return _run(spark, sources, read_owner_history(paths), to_timestamp(as_of), models, store,
                    int(n_partitions), todo, view, on_done, forecast_periods)


def partition_tables_spark(paths: Mapping[str, Path], as_of: object, *, n_partitions: int,
                           todo: Sequence[int] | None = None) -> dict[int, dict[str, pd.DataFrame]]:
    """Each partition's tables as the Spark engine builds them, collected on the driver (for small data).

    The frames ``run_partition`` receives: the same as
    :meth:`crmml.features.Spill.raw_frames` of the local engine.
    """
    spark = get_session()
    ts = to_timestamp(as_of)
    n = int(n_partitions)
    parts = sorted(range(n) if todo is None else {int(i) for i in todo})
    with _quiet(), _sql_conf(spark, {_NANOS_AS_LONG: "true"}):
        sources = [parquet_source(spark, name, Path(p)) for name, p in paths.items()]
        owner = read_owner_history(paths)
        shipped = ship(spark, None if owner is None else {"token": uuid.uuid4().hex, "data": frame_to_bytes(owner)})
        try:
            rows = _grouped(spark, sources, ts, n, parts, shipped).applyInPandas(
                _per_group(tables_group, {"schemas": table_schemas(sources)}), TABLES_SCHEMA).collect()
        finally:
            unship(shipped)
    out: dict[int, dict[str, pd.DataFrame]] = {i: {} for i in parts}
    for r in rows:
        out[int(r["partition"])][r["table"]] = pa.ipc.open_stream(pa.py_buffer(r["data"])).read_all().to_pandas()
    return {i: {s.name: out[i][s.name] for s in sources} for i in parts}


# ------------------------------------------------------------------ DataFrames in, DataFrames out
def _default_view(models: Mapping[str, BatchModel], view: tuple[str | None, str | None] | None
                  ) -> tuple[str | None, str | None]:
    if view is not None:
        for name, kind in zip(view, ("clv", "churn"), strict=True):
            if name is not None and (name not in models or models[name].kind != kind):
                raise ParameterError(f"The 'view' parameter of score_spark names {name!r} as its {kind} model; "
                                     f"it must be a {kind} model of 'models'. Fix: name one, or pass None.")
        return view
    pick = [[n for n, m in models.items() if m.kind == k] for k in ("clv", "churn")]
    return (pick[0][0] if len(pick[0]) == 1 else None, pick[1][0] if len(pick[1]) == 1 else None)


def read_output(spark: Any, folder: Path) -> Any:
    """A crmml output folder of Parquet parts as a Spark DataFrame (nanosecond times as Spark timestamps)."""
    from pyspark.sql import functions as F

    schema = ds.dataset(folder, format="parquet").schema
    with _sql_conf(spark, {_NANOS_AS_LONG: "true"}):
        df = spark.read.parquet(str(folder))
    cols = []
    for f in schema:
        c = _col(f.name)
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns":  # read as longs: floor to microseconds
            q = "`" + f.name.replace("`", "``") + "`"
            c = F.expr(f"timestamp_micros(({q} - pmod({q}, 1000)) div 1000)").alias(f.name)
        cols.append(c)
    return df.select(*cols)


def score_spark(spark: Any, tables: Mapping[str, Any], as_of: object, models: Mapping[str, str], *,
                output: str | os.PathLike[str], n_partitions: int,
                view: tuple[str | None, str | None] | None = None, tracking_uri: str | None = None,
                keep_runs: int = 7) -> dict[str, Any]:
    """Score contract tables held as Spark DataFrames; return every output as a Spark DataFrame.

    The partitions and the scoring are the batch's (:mod:`crmml.spark`):
    each model's per-entity outputs and the customer view are written to
    ``<output>/runs/<run_id>/`` (published atomically; ``<output>/current``
    points at it, with a small ``manifest.json``) and read back with
    ``spark.read.parquet``. The batch's whole-run steps (lead list, period
    forecast, drift report) are ``crmml batch run``'s.

    Parameters
    ----------
    spark : SparkSession
    tables : dict
        Contract table name → DataFrame (e.g. ``spark.read.table("crm.transactions")``),
        contract column names; timestamps as Spark timestamps (UTC).
    as_of : time-like
        The scoring cutoff (rows at or after it are not seen).
    models : dict
        Output name → model URI (``models:/crmml-churn@champion``) or folder.
    output : path
        A folder that the driver and every executor can write (local disk in
        local mode, a shared mount such as ``/dbfs/...`` on a cluster).
    n_partitions : int
        Hash partitions of the entities (one Spark task each).
    view : (str or None, str or None), optional
        The CLV and churn outputs the customer view joins (default: the one
        model of each kind).
    tracking_uri : str, optional
        MLflow store of ``models:/`` URIs.
    keep_runs : int, default 7
        Published runs kept under ``<output>/runs``.

    Returns
    -------
    dict
        Output name (each model's, and ``customer_view``) → DataFrame.

    Raises
    ------
    ParameterError
        An unknown table name or a bad parameter.
    DataContractError
        The tables break the data contract.
    """
    unknown = sorted(set(tables) - set(TABLE_NAMES))
    if unknown:
        raise ParameterError(f"The 'tables' parameter of score_spark names unknown table(s) {unknown}; known: "
                             f"{', '.join(TABLE_NAMES)}. Fix: rename them to contract table names.")
    if isinstance(n_partitions, bool) or not isinstance(n_partitions, int) or n_partitions < 1:
        raise ParameterError(f"The 'n_partitions' parameter of score_spark must be an int >= 1. Got "
                             f"{n_partitions!r} instead.")
    ts = to_timestamp(as_of)
    with _quiet(), tempfile.TemporaryDirectory(prefix="crmml-spark-models-") as tmp:
        loaded = load_models(models, tracking_uri=tracking_uri, download_root=tmp)
        chosen = _default_view(loaded, view)
        need = required_tables(loaded)
        sources = [frame_source(name, tables[name]) for name in TABLE_NAMES if name in tables and name in need]
        owner = None
        if any(s.name == "opportunities" for s in sources):
            from crmml.features import coerce_internal

            opps = tables["opportunities"]
            cols = [c for c in ("opportunity_id", "customer_id", "created_at", "closed_at", "won", "owner")
                    if c in opps.columns]
            owner = coerce_internal("opportunities", _collect_arrow(opps.select(*[_col(c) for c in cols])).to_pandas())
        store = RunStore(output, f"{ts:%Y-%m-%d}-{uuid.uuid4().hex[:12]}", ts)
        with store.lock():
            for stale in store.stale_staging():
                shutil.rmtree(stale, ignore_errors=True)
            store.start()
            metas = _run(spark, sources, owner, ts, loaded, store, n_partitions, range(n_partitions), chosen, None)
            names = list(metas[0]["rows"]) if metas else []
            store.write_json("manifest.json", {
                "format": "crmml-spark-scores", "format_version": 1, "run_id": store.run_id, "as_of": str(ts),
                "crmml_version": __version__, "n_partitions": n_partitions,
                "models": {k: m.describe() for k, m in loaded.items()}, "customer_view": list(chosen),
                "rows": {k: sum(int(m["rows"][k]) for m in metas.values()) for k in names},
                "exclusions": sum_exclusions(list(metas.values()))})
            rel = {k: store.output_dir(k).relative_to(store.staging) for k in names}
            store.publish()
            store.prune(keep_runs)
    return {k: read_output(spark, store.published / rel[k]) for k in names}


def _collect_arrow(df: Any) -> pa.Table:
    """A (small) DataFrame on the driver as one Arrow table, Spark's types as Arrow's (no pandas conversion)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    def fn(batches: Any) -> Any:
        from crmml.spark._split import _ipc

        for b in batches:
            yield pa.RecordBatch.from_arrays([pa.array([_ipc(pa.Table.from_batches([b]))], pa.binary())],
                                             names=["data"])

    try:
        schema = to_arrow_schema(df.schema, timezone="UTC")
    except TypeError:  # pyspark 3.5
        schema = to_arrow_schema(df.schema)
    parts = [pa.ipc.open_stream(pa.py_buffer(r["data"])).read_all() for r in df.mapInArrow(fn, "data binary").collect()]
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()
