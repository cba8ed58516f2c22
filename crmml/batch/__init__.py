"""The nightly batch: every model over every entity, resumable, atomic, drift-checked.

``crmml batch run --config batch.toml`` and :func:`run_batch` load and check
the inputs once, split the entities into hash partitions (the seam of
:mod:`crmml.features._partition`), build each partition's features once per
model and score it, write Hive-style partitioned Parquet per model and one
joined customer view, compare every model's features and scores with the
reference stored at fit (population stability index), and publish the run
atomically with a manifest and a ``_SUCCESS`` marker. See docs/production.md.
"""

from crmml.batch._config import EXAMPLE_CONFIG, BatchConfig, load_config
from crmml.batch._partition import PartitionResult, customer_view, score_partition
from crmml.batch._progress import BatchEvent
from crmml.batch._run import BatchResult, run_batch
from crmml.batch._store import RunStore

__all__ = [
    "BatchConfig",
    "BatchEvent",
    "BatchResult",
    "EXAMPLE_CONFIG",
    "PartitionResult",
    "RunStore",
    "customer_view",
    "load_config",
    "run_batch",
    "score_partition",
]
