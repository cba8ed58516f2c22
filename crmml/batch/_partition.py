"""The per-partition function: one hash partition's tables in, every model's outputs out.

The local engine and :mod:`crmml.spark` call this same function, so the two
engines cannot differ in what they compute.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmml.data import CRMTables, ExclusionReport
from crmml.features import shared_work, to_timestamp

__all__ = ["PartitionResult", "score_partition", "customer_view", "VIEW", "LEAD_LIST_EXTRA"]

VIEW = "customer_view"
#: A lead feature the lead list orders ties by; kept beside the lead scores.
LEAD_LIST_EXTRA = "days_since_event"

_VIEW_COLUMNS = {"clv": "double", "segment": "string", "churn_probability": "double", "risk_tier": "string",
                 "action": "string", "value_at_risk": "double"}


@dataclass
class PartitionResult:
    """What one partition produced.

    Attributes
    ----------
    index : int
        The partition number.
    outputs : dict
        Output name (a model's, or ``customer_view``) → frame with the entity
        id as the first column, one row per entity, sorted by it;
        categorical columns as text.
    exclusions : dict
        Output name → exclusion records (``table``, ``rule``, ``n_rows``,
        ``unit``), summed over partitions by the batch.
    drift_counts : dict
        Model name → ``{"feature:<col>" | "score:<col>": bin counts}`` against
        the model's stored reference (additive over partitions).
    seconds : dict
        Seconds per model.
    internal : dict
        Intermediate frames a whole-run step reads (not published):
        ``forecast_inputs``, the forecast model's
        :meth:`~crmml.forecast.PipelineForecastModel.period_inputs`.
    """

    index: int
    outputs: dict[str, pd.DataFrame] = field(default_factory=dict)
    internal: dict[str, pd.DataFrame] = field(default_factory=dict)
    exclusions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    drift_counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def rows(self) -> dict[str, int]:
        """Rows per output."""
        return {k: len(v) for k, v in self.outputs.items()}

    def meta(self) -> dict[str, Any]:
        """Everything but the output frames, as JSON-ready data."""
        return {"index": self.index, "rows": self.rows(), "exclusions": self.exclusions,
                "drift_counts": self.drift_counts, "seconds": self.seconds}


def _plain(frame: pd.DataFrame, entity: str) -> pd.DataFrame:
    """Entity id as the first column (text), sorted; categoricals as text (stable Parquet schema across parts)."""
    out = frame.rename_axis(entity).reset_index()
    out[entity] = out[entity].astype(str)
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None).astype("string")
    return out.sort_values(entity, kind="stable").reset_index(drop=True)


def _drift(scorer: Any, features: pd.DataFrame, outputs: pd.DataFrame) -> dict[str, list[int]] | None:
    ref = getattr(scorer, "drift_reference_", None)
    if ref is None:
        return None
    return {k: np.asarray(v, dtype=np.int64).tolist() for k, v in ref.counts(features, outputs).items()}


def customer_view(clv: pd.DataFrame | None, churn: pd.DataFrame | None) -> pd.DataFrame:
    """The joined customer view of one partition: CLV, segment, churn probability, tier, action, value at risk.

    ``value_at_risk`` = CLV × churn probability (missing when either is).
    Customers scored by either model are kept (an outer join); the other
    model's columns are then missing.
    """
    parts = []
    if clv is not None:
        parts.append(clv.set_index("customer_id")[["clv", "segment"]])
    if churn is not None:
        parts.append(churn.set_index("customer_id")[["churn_probability", "risk_tier", "action"]])
    view = pd.concat(parts, axis=1, join="outer", sort=True) if parts else pd.DataFrame()
    for c, t in _VIEW_COLUMNS.items():
        if c not in view.columns and c != "value_at_risk":
            view[c] = pd.Series(np.nan if t == "double" else None, index=view.index,
                                dtype="float64" if t == "double" else "string")
    view["value_at_risk"] = view["clv"].to_numpy(dtype=np.float64) * view["churn_probability"].to_numpy(
        dtype=np.float64)
    view = view[list(_VIEW_COLUMNS)].rename_axis("customer_id").reset_index()
    return view.sort_values("customer_id", kind="stable").reset_index(drop=True)


def score_partition(tables: CRMTables, as_of: Any, models: Mapping[str, Any], *, index: int = 0,
                    owner_history: pd.DataFrame | None = None, view: tuple[str | None, str | None] = (None, None),
                    forecast_periods: int = 2) -> PartitionResult:
    """Score one hash partition with every model: features once per model, outputs, drift counts, exclusions.

    Parameters
    ----------
    tables : CRMTables
        The partition's validated tables (every table cut by the same
        partition of its key, see :mod:`crmml.features._partition`).
    as_of : time-like
    models : mapping
        Output name → fitted scorer.
    index : int
        The partition number (recorded in the result).
    owner_history : DataFrame, optional
        The whole ``opportunities`` table, for the forecast's owner win rates
        (they span partitions).
    view : (str or None, str or None)
        The output names of the CLV and churn models the customer view joins;
        no view when both are None.
    forecast_periods : int
        Periods of the forecast model's period inputs (see :attr:`PartitionResult.internal`).

    Returns
    -------
    PartitionResult
    """
    ts = to_timestamp(as_of)
    res = PartitionResult(index=index)
    with shared_work():  # customer models share the codes and days of the same tables
        for name, scorer in models.items():
            t0 = time.perf_counter()
            report = ExclusionReport()
            if scorer.kind == "forecast" and owner_history is not None:
                feats = scorer.build_features(tables, ts, report=report, owner_history=owner_history)
            else:
                feats = scorer.build_features(tables, ts, report=report)
            out = scorer.predict_features(feats)
            if scorer.kind == "leadscore" and LEAD_LIST_EXTRA in feats.columns:
                extra = pd.Series(feats[LEAD_LIST_EXTRA].to_numpy(dtype=np.float64),
                                  index=feats[scorer.entity].astype(str).to_numpy())
                out[LEAD_LIST_EXTRA] = extra.reindex(out.index.astype(str)).to_numpy()
            if scorer.kind == "forecast":
                res.internal["forecast_inputs"] = scorer.period_inputs(feats, ts, periods=forecast_periods
                                                                       ).reset_index()
            res.outputs[name] = _plain(out, scorer.entity)
            res.exclusions[name] = report.to_dict()
            counts = _drift(scorer, feats, out)
            if counts is not None:
                res.drift_counts[name] = counts
            res.seconds[name] = time.perf_counter() - t0
    clv_name, churn_name = view
    if clv_name is not None or churn_name is not None:
        res.outputs[VIEW] = customer_view(res.outputs.get(clv_name) if clv_name else None,
                                          res.outputs.get(churn_name) if churn_name else None)
    return res
