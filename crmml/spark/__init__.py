"""Scoring with Spark: the batch's per-partition function on Spark executors.

``crmml batch run --engine spark`` (:func:`score_partitions_spark`) and
:func:`score_spark` (Spark DataFrames in, DataFrames out) score with the
function the local engine runs, :func:`crmml.batch._steps.run_partition`, on
the same hash partitions of the entities, so the two engines write identical
outputs.

How the work travels
--------------------
* **Tables.** Each table is read with ``spark.read.parquet`` (or taken as a
  DataFrame) and passed through ``mapInArrow``: every Arrow record batch is
  cast to the table's own Arrow schema (the schema the local engine reads),
  cut to ``time_column < as_of`` with the local engine's comparison, and
  given its partition number by :func:`crmml.features.partition_of` (rows of
  ``opportunity_history`` follow their opportunity's ``customer_id``, with
  the local engine's fallback to the hash of ``opportunity_id``). The rows of
  the partitions still to do are serialised, per table and partition, as
  Arrow IPC chunks — one binary column, so tables of different columns and
  types travel in one frame without type clashes or sparse wide rows. The
  chunks of all tables are unioned, shuffled by partition and handed to
  ``groupBy(partition).applyInPandas``, which rebuilds each table (its own
  columns, schema and row order: the order of the input files and of the
  rows in them) and runs ``run_partition``.
* **Models** travel as data: the files of each model artifact (bytes, as
  listed in its manifest) are broadcast; each Python worker writes them to a
  temporary folder once, loads them with
  :func:`crmml.scoring.load_local_scorer` (which verifies every checksum) and
  keeps the scorer for later tasks, keyed by the artifact's SHA-256. Nothing
  of crmml is pickled.
* **Owners' win rates** need the whole ``opportunities`` table: its few
  columns (:func:`crmml.features.read_owner_history`) are broadcast as
  Parquet bytes.
* **Every partition runs**, rows or not: one marker row per partition to do
  gives it a group, so partitions without rows write their (empty) outputs
  like the local engine's.
* **Errors** of the data contract (or any crmml error) raised in a task are
  returned as data and raised again on the driver with the same type and
  message, after the other partitions have finished and checkpointed.

Requirements: ``pip install 'crmml[spark]'``; the executors run the same
crmml version; the output folder (the run's staging folder) is one
filesystem path that the driver and every executor can write (local disk in
local mode, a shared mount on a cluster). An executor holds about three
copies of one partition's rows at once (chunks, Arrow, pandas), plus what
scoring it takes: size ``n_partitions`` so that a partition fits.
"""

from __future__ import annotations

from crmml.exceptions import ParameterError

_NEEDS = (3, 5)

try:
    import pyspark
except ImportError:
    raise ParameterError(
        "crmml.spark needs pyspark, which is not installed. Fix: pip install 'crmml[spark]' (or run the batch "
        "with engine = \"local\")."
    ) from None

if tuple(int(p) for p in pyspark.__version__.split(".")[:2] if p.isdigit()) < _NEEDS:
    raise ParameterError(
        f"crmml.spark needs pyspark >= {'.'.join(map(str, _NEEDS))}; found {pyspark.__version__}. "
        "Fix: pip install 'crmml[spark]' --upgrade."
    )

from crmml.spark._engine import get_session, score_partitions_spark, score_spark  # noqa: E402 - after the check

__all__ = ["get_session", "score_partitions_spark", "score_spark"]
