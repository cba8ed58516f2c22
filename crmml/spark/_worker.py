"""The functions Spark runs per partition group (``applyInPandas``): score it, or hand its tables back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmml._version import __version__
from crmml.exceptions import CrmmlError, ParameterError
from crmml.spark._ship import error_to_dict, owner_history, scorers_from_payload
from crmml.spark._split import group_tables, schema_from_bytes

__all__ = ["RESULT_SCHEMA", "TABLES_SCHEMA", "score_group", "tables_group"]

RESULT_SCHEMA = "partition long, result string"
TABLES_SCHEMA = "partition long, table string, data binary"


def _check_version(ctx: Mapping[str, Any]) -> None:
    if ctx["crmml"] != __version__:
        raise ParameterError(f"The Spark executors run crmml {__version__}, the driver crmml {ctx['crmml']}. "
                             "Fix: install the same crmml version on the driver and every executor.")


def _schemas(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {name: schema_from_bytes(data) for name, data in ctx["schemas"].items()}


def score_group(chunks: pd.DataFrame, ctx: Mapping[str, Any]) -> pd.DataFrame:
    """Score one partition's chunks with :func:`crmml.batch._steps.run_partition`.

    Returns one row: the partition and ``{"ok": true}`` or ``{"error":
    ...}`` (a crmml error as data, see :func:`crmml.spark._ship.error_to_dict`)
    as JSON; the partition's outputs and checkpoint are in the run's staging
    folder. Errors other than crmml's fail the task (Spark retries it).
    """
    from crmml.batch._steps import run_partition
    from crmml.batch._store import RunStore

    i = int(chunks["_part"].iloc[0])
    try:
        _check_version(ctx)
        frames = {name: t.to_pandas() for name, t in group_tables(chunks, _schemas(ctx)).items()}
        as_of = pd.Timestamp(int(ctx["as_of"]))
        scorers = scorers_from_payload(ctx["models"].value)
        store = RunStore(ctx["root"], ctx["run_id"], as_of)
        run_partition(i, frames, as_of, scorers, store, owner_history=owner_history(ctx["owner"]),
                      view=tuple(ctx["view"]), forecast_periods=int(ctx.get("forecast_periods", 2)))
        result: dict[str, Any] = {"ok": True}
    except CrmmlError as exc:
        result = {"error": error_to_dict(exc)}
    return pd.DataFrame({"partition": [i], "result": [json.dumps(result, default=str)]})


def tables_group(chunks: pd.DataFrame, ctx: Mapping[str, Any]) -> pd.DataFrame:
    """One partition's tables as Arrow IPC bytes, one row per table (to look at a split on the driver)."""
    from crmml.spark._split import _ipc

    i = int(chunks["_part"].iloc[0])
    tables = group_tables(chunks, _schemas(ctx))
    return pd.DataFrame({"partition": [i] * len(tables), "table": list(tables),
                         "data": [_ipc(t) for t in tables.values()]})
