"""Lead features as of a cutoff, for lead scoring."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmml.data import CRMTables
from crmml.data._contract import KNOWN_LEAD_EVENT_TYPES
from crmml.features._agg import as_category, codes_of, count_by, days, typed_event_counts
from crmml.features._pit import as_of_view, to_timestamp
from crmml.features._windows import check_windows

__all__ = ["lead_features"]


def lead_features(
    tables: CRMTables,
    as_of: object,
    *,
    windows: Sequence[int] = (30, 90, 365),
    event_types: Sequence[str] = KNOWN_LEAD_EVENT_TYPES,
) -> pd.DataFrame:
    """Point-in-time features of every lead open at ``as_of``.

    A lead is open at ``as_of`` when it was created before ``as_of`` and not
    converted before ``as_of`` (a ``converted_at`` at or after ``as_of`` is
    unknown at ``as_of``). Engagement comes from ``lead_events`` strictly
    before ``as_of``; windows are ``[as_of - w days, as_of)``.

    Parameters
    ----------
    tables : CRMTables
        Needs ``leads``; uses ``lead_events`` when present.
    as_of : str, date or Timestamp
    windows : sequence of int
        Trailing window lengths in days.
    event_types : sequence of str
        Event types counted separately; others count as ``other``.

    Returns
    -------
    DataFrame
        Indexed by ``lead_id`` (sorted): firmographics (``source``,
        ``industry``, ``country``, ``role`` as categoricals, ``employees``),
        ``age_days``, and, with ``lead_events``, ``events_total``,
        ``events_{w}d``, ``events_{type}_{w}d``, ``days_since_event``,
        ``days_since_{type}``, ``events_per_day`` and ``event_velocity``
        (event rate in the shortest window divided by the lifetime event
        rate; > 1 means accelerating engagement, NaN without events).

    Examples
    --------
    >>> X = lead_features(tables, "2024-01-01")  # doctest: +SKIP
    """
    ts = to_timestamp(as_of)
    w = check_windows(windows, "lead_features")
    tables.require("leads", model="lead_features")
    view = as_of_view(tables, ts)
    leads = view.leads
    leads = leads.loc[leads["converted_at"].isna().to_numpy()].sort_values("lead_id", kind="stable")
    index = pd.Index(leads["lead_id"], name="lead_id")
    n = len(index)
    now = ts.value / 86_400e9
    cols: dict[str, object] = {}
    for c in ("source", "industry", "country", "role"):
        if c in leads.columns:
            cols[c] = as_category(leads[c], index)
    if "employees" in leads.columns:
        cols["employees"] = leads["employees"].to_numpy(dtype=np.float64, na_value=np.nan)
    age = now - days(leads["created_at"])
    cols["age_days"] = age

    if view.lead_events is not None:
        ev = view.lead_events
        codes = codes_of(index, ev["lead_id"])
        t = days(ev["ts"])
        total = count_by(codes, n)
        cols["events_total"] = total
        cols.update(typed_event_counts(codes, n, t, ev["type"], event_types, w, now, prefix="events", event="event"))
        rate = total / np.maximum(age, 1.0)
        short = min(w)
        recent = cols[f"events_{short}d"] / float(short)
        cols["events_per_day"] = rate
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["event_velocity"] = np.where(total > 0, recent / np.where(rate > 0, rate, 1.0), np.nan)
    return pd.DataFrame(cols, index=index)
