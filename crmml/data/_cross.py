"""Rules that tie two tables together (besides foreign keys, in :mod:`crmml.data._validate`).

* a lead event is not before its lead was created
  (``lead_events.ts >= leads.created_at``);
* an opportunity_history row is not before its opportunity was created
  (``opportunity_history.ts >= opportunities.created_at``);
* an opportunity's ``won`` agrees with its latest history stage: the won
  stage means ``won = True``, the lost stage ``won = False``.

Each is checked only when both tables (and the columns) are supplied and
converted, with vectorised pandas/numpy operations, and reported as a
:class:`~crmml.exceptions.Problem` with a count and example keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmml.data._keys import positions_in
from crmml.data._tables import CRMTables
from crmml.exceptions import Problem, examples_of

if TYPE_CHECKING:
    from crmml.data._schemas import Stages

__all__ = ["cross_table_problems"]

_MAX_EXAMPLES = 5


def _key(value: object) -> str:
    return examples_of([value])[0]


def _time(value: object) -> str:
    """A short time: the date alone at midnight."""
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def cross_table_problems(
    tables: CRMTables, stages: Stages, skip: Mapping[str, set[str]] | None = None
) -> list[Problem]:
    """Every cross-table contradiction of the supplied tables."""
    skip = skip or {}
    problems = [
        _not_before_parent(tables, skip, "lead_events", "leads", "lead_id", "lead"),
        _not_before_parent(tables, skip, "opportunity_history", "opportunities", "opportunity_id", "opportunity"),
        _last_stage_contradicts_won(tables, stages, skip),
    ]
    return [p for p in problems if p is not None]


def _usable(tables: CRMTables, skip: Mapping[str, set[str]], table: str, *columns: str) -> pd.DataFrame | None:
    frame = tables.get(table)
    if frame is None or any(c not in frame.columns or c in skip.get(table, ()) for c in columns):
        return None
    if frame.columns.duplicated().any():
        return None
    return frame


def _is_time(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_dtype(s.dtype)


def _lookup(parent: pd.DataFrame, key: str, child_keys: pd.Series) -> np.ndarray:
    """Position in ``parent`` of each child's key (-1 when absent); duplicate parent keys: the first."""
    return positions_in(child_keys, parent[key])


def _not_before_parent(
    tables: CRMTables, skip: Mapping[str, set[str]], child: str, parent: str, key: str, noun: str
) -> Problem | None:
    events = _usable(tables, skip, child, key, "ts")
    owners = _usable(tables, skip, parent, key, "created_at")
    if events is None or owners is None or not (_is_time(events["ts"]) and _is_time(owners["created_at"])):
        return None
    positions = _lookup(owners, key, events[key])
    created = owners["created_at"].to_numpy()[np.maximum(positions, 0)]
    ts = events["ts"].to_numpy()
    bad = (positions >= 0) & ~np.isnat(ts) & ~np.isnat(created) & (ts < created)
    n = int(bad.sum())
    if not n:
        return None
    rows = np.flatnonzero(bad)[:_MAX_EXAMPLES]
    keys = events[key].to_numpy()[rows]
    examples = tuple(
        f"{_key(k)} (ts {_time(t)} < created_at {_time(c)})" for k, t, c in zip(keys, ts[rows], created[rows])
    )
    return Problem(
        child, "ts", f"ts must not be before the {noun}'s {parent}.created_at", n_rows=n, examples=examples,
        hint=f"check the time zones or the export; an event cannot happen before its {noun} was created",
    )


def _last_stage_contradicts_won(tables: CRMTables, stages: Stages, skip: Mapping[str, set[str]]) -> Problem | None:
    hist = _usable(tables, skip, "opportunity_history", "opportunity_id", "ts", "stage")
    opps = _usable(tables, skip, "opportunities", "opportunity_id", "won")
    if hist is None or opps is None or not _is_time(hist["ts"]) or not pd.api.types.is_bool_dtype(opps["won"].dtype):
        return None
    ts = hist["ts"].to_numpy()
    known = ~np.isnat(ts) & hist["opportunity_id"].notna().to_numpy()
    if not known.any():
        return None
    ids = hist["opportunity_id"].to_numpy()[known]
    codes, uniques = pd.factorize(ids)
    # latest row per opportunity by ts; equal times: the later row in the table
    order = np.lexsort((np.arange(len(codes)), ts[known].astype("int64"), codes))
    last = order[np.r_[codes[order][1:] != codes[order][:-1], True]]
    last_stage = pd.Series(hist["stage"].to_numpy()[known][last], index=pd.Index(uniques[codes[last]]))
    positions = _lookup(opps, "opportunity_id", pd.Series(last_stage.index))
    won = opps["won"].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)[np.maximum(positions, 0)]
    stage = last_stage.to_numpy()
    says_won = (won == 1) & (positions >= 0)
    says_lost = (won == 0) & (positions >= 0)
    bad = ((stage == stages.won) & says_lost) | ((stage == stages.lost) & says_won)
    n = int(bad.sum())
    if not n:
        return None
    rows = np.flatnonzero(bad)[:_MAX_EXAMPLES]
    examples = tuple(
        f"{_key(oid)} (won={bool(w)}, latest stage {_key(s)!r})"
        for oid, w, s in zip(last_stage.index[rows], won[rows], stage[rows])
    )
    return Problem(
        "opportunities", "won",
        f"won must agree with the latest opportunity_history stage ({stages.won} means True, "
        f"{stages.lost} means False)",
        n_rows=n, examples=examples,
        hint="correct won, or the history (a reopened deal needs a history row for the stage it is in now)",
    )
