"""The steps of a batch run that the local and the Spark engine share."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmml.batch._partition import score_partition
from crmml.batch._store import RunStore
from crmml.data import load_tables

__all__ = ["run_partition", "partition_tables_from_frames", "sum_drift_counts", "sum_exclusions"]


def partition_tables_from_frames(frames: Mapping[str, pd.DataFrame]) -> Any:
    """Convert and validate one partition's tables (the contract checks every row once, in its partition).

    Raises
    ------
    DataContractError
        As :func:`crmml.data.load_tables`, naming table, column, rule and a fix.
    """
    return load_tables(dict(frames))


def run_partition(i: int, frames: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, models: Mapping[str, Any],
                  store: RunStore, *, owner_history: pd.DataFrame | None,
                  view: tuple[str | None, str | None], forecast_periods: int = 2) -> dict[str, Any]:
    """Validate, score and write partition ``i``, then checkpoint it; returns the checkpoint.

    The part files are written first, each atomically; the checkpoint last,
    so a partition killed half-way is redone whole on the next run.
    """
    t0 = time.perf_counter()
    tables = partition_tables_from_frames(frames)
    t_load = time.perf_counter() - t0
    res = score_partition(tables, as_of, models, index=i, owner_history=owner_history, view=view,
                          forecast_periods=forecast_periods)
    t1 = time.perf_counter()
    for name, frame in res.outputs.items():
        store.write_part(name, i, frame)
    for name, frame in res.internal.items():
        store.write_internal(name, i, frame)
    meta = res.meta()
    meta["seconds"] = {**meta["seconds"], "validate": t_load, "write": time.perf_counter() - t1}
    store.mark_part(i, meta)
    return meta


def sum_drift_counts(metas: list[dict[str, Any]]) -> dict[str, dict[str, np.ndarray]]:
    """Model → column key → bin counts summed over the partitions' checkpoints."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for m in metas:
        for model, cols in (m.get("drift_counts") or {}).items():
            acc = out.setdefault(model, {})
            for k, v in cols.items():
                arr = np.asarray(v, dtype=np.int64)
                acc[k] = acc[k] + arr if k in acc else arr
    return out


def sum_exclusions(metas: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Output → exclusion records summed over partitions (same table, rule and unit merged)."""
    acc: dict[str, dict[tuple[str, str, str], int]] = {}
    for m in metas:
        for name, items in (m.get("exclusions") or {}).items():
            d = acc.setdefault(name, {})
            for e in items:
                k = (str(e["table"]), str(e["rule"]), str(e.get("unit", "rows")))
                d[k] = d.get(k, 0) + int(e["n_rows"])
    return {name: [{"table": t, "rule": r, "unit": u, "n_rows": n} for (t, r, u), n in sorted(d.items())]
            for name, d in acc.items()}
