"""The sales team's daily lead list: today's open leads by score, with the change since yesterday.

:func:`daily_list` scores the leads open at ``as_of`` with a fitted
:class:`~crmml.leadscore.LeadScoreModel`, orders them for the day's calls
(score, then the most recent activity, then the lead id), and compares every
score with the day before: by default the same model scored at
``as_of - 1 day`` on the same tables (point in time, so that is exactly what
the list said yesterday), or a previous list the caller kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmml.data import CRMTables, ExclusionReport, as_tables
from crmml.exceptions import ParameterError
from crmml.features import default_as_of, to_timestamp
from crmml.leadscore._model import GRADES

__all__ = ["DailyList", "daily_list", "rank_leads", "DAILY_COLUMNS"]

#: The columns of :attr:`DailyList.frame`, in order.
DAILY_COLUMNS: tuple[str, ...] = (
    "rank", "lead_id", "score", "grade", "follow_up", "conversion_probability",
    "reason_1", "reason_2", "reason_3", "reason_neg_1", "reason_neg_2",
    "days_since_event", "change", "previous_score",
)
_REASONS = ("reason_1", "reason_2", "reason_3", "reason_neg_1", "reason_neg_2")
_ONE_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True, eq=False)
class DailyList:
    """Today's lead list and its summary (from :func:`daily_list`).

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per open lead (the first ``top`` when ``top`` was given), in
        call order, with the columns of :data:`DAILY_COLUMNS`: ``rank``
        (1, 2, …), ``lead_id``, ``score`` (1–99), ``grade`` (A–D),
        ``follow_up``, ``conversion_probability``, ``reason_1..3`` and
        ``reason_neg_1..2`` (texts), ``days_since_event`` (days since the
        lead's latest activity; NaN: none yet), ``change`` (``"↑ 12"``,
        ``"↓ 3"``, ``"="``, or ``"new"`` for a lead the previous list did not
        hold) and ``previous_score`` (nullable; ``<NA>`` for a new lead).
    as_of : pandas.Timestamp
        The point in time the list is scored at.
    previous_as_of : pandas.Timestamp or None
        ``as_of - 1 day`` when the previous list was scored by
        :func:`daily_list`; ``None`` when the caller passed it.
    n_scored : int
        Leads scored (open at ``as_of``), whatever ``top``.
    per_grade : dict of str to int
        Leads per grade, ``{"A": …, "B": …, "C": …, "D": …}`` (all scored leads).
    mean_probability : dict of str to float
        Mean ``conversion_probability`` per grade (NaN for an empty grade).
    new_a_leads : tuple of str
        Lead ids graded A today that were not A in the previous list (or
        not in it at all), in rank order.
    n_new : int
        Leads scored today that the previous list did not hold.
    """

    frame: pd.DataFrame = field(repr=False)
    as_of: pd.Timestamp
    previous_as_of: pd.Timestamp | None
    n_scored: int
    per_grade: dict[str, int]
    mean_probability: dict[str, float] = field(repr=False)
    new_a_leads: tuple[str, ...] = field(repr=False)
    n_new: int

    @property
    def n_new_a(self) -> int:
        """How many leads became A since the previous list."""
        return len(self.new_a_leads)

    def summary(self) -> dict[str, Any]:
        """The summary as plain JSON-able values (no lead ids).

        Keys: ``as_of``, ``previous_as_of`` (ISO text or ``None``),
        ``n_scored``, ``per_grade``, ``mean_probability``, ``n_new_a``, ``n_new``.
        """
        return {"as_of": self.as_of.isoformat(),
                "previous_as_of": None if self.previous_as_of is None else self.previous_as_of.isoformat(),
                "n_scored": self.n_scored, "per_grade": dict(self.per_grade),
                "mean_probability": dict(self.mean_probability), "n_new_a": self.n_new_a, "n_new": self.n_new}


def _check_model(model: Any) -> None:
    kind = getattr(model, "kind", None)
    if kind != "leadscore" or not callable(getattr(model, "build_features", None)):
        what = f"a {kind!r} model" if isinstance(kind, str) else type(model).__name__
        raise ParameterError(f"The 'model' parameter of daily_list must be a fitted LeadScoreModel (kind "
                             f"'leadscore'). Got {what} instead.")


def _check_top(top: Any) -> int | None:
    if top is None:
        return None
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 0:
        raise ParameterError(f"The 'top' parameter of daily_list must be None or an int >= 0. Got {top!r} instead.")
    return int(top)


def _previous_frame(previous: Any) -> pd.DataFrame:
    """A caller's previous list as ``score`` (+ ``grade`` when given), indexed by lead id as text."""
    if isinstance(previous, DailyList):
        previous = previous.frame
    if not isinstance(previous, pd.DataFrame):
        raise ParameterError("The 'previous' parameter of daily_list must be None, a DailyList or a DataFrame with "
                             f"'lead_id' and 'score'. Got {type(previous).__name__} instead.")
    frame = previous
    if "lead_id" not in frame.columns:
        if frame.index.name != "lead_id":
            raise ParameterError("The 'previous' list of daily_list has no 'lead_id' column (nor a 'lead_id' "
                                 f"index). Columns: {list(map(str, frame.columns))[:20]}.")
        frame = frame.reset_index()
    if "score" not in frame.columns:
        raise ParameterError("The 'previous' list of daily_list has no 'score' column. "
                             f"Columns: {list(map(str, frame.columns))[:20]}.")
    score = frame["score"]
    if pd.api.types.is_bool_dtype(score.dtype) or not pd.api.types.is_numeric_dtype(score.dtype):
        raise ParameterError(f"The 'score' column of the 'previous' list of daily_list must be numeric. "
                             f"Got dtype {score.dtype} instead.")
    if score.isna().any():
        raise ParameterError(f"The 'score' column of the 'previous' list of daily_list has "
                             f"{int(score.isna().sum()):,} missing value(s); every listed lead needs its score.")
    ids = frame["lead_id"]
    if ids.isna().any():
        raise ParameterError(f"The 'lead_id' column of the 'previous' list of daily_list has "
                             f"{int(ids.isna().sum()):,} missing value(s).")
    ids = ids.astype(str)
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].unique()[:5].tolist()
        raise ParameterError(f"The 'previous' list of daily_list holds lead ids more than once (e.g. {dup}).")
    out = pd.DataFrame({"score": score.to_numpy(dtype=np.float64)}, index=pd.Index(ids.to_numpy(), name="lead_id"))
    if "grade" in frame.columns:
        out["grade"] = frame["grade"].astype(str).to_numpy()
    return out


def _change(diff: np.ndarray, known: np.ndarray) -> list[str]:
    out = []
    for d, k in zip(diff, known):
        if not k:
            out.append("new")
        elif d > 0:
            out.append(f"↑ {d:g}")
        elif d < 0:
            out.append(f"↓ {-d:g}")
        else:
            out.append("=")
    return out


def daily_list(
    model: Any,
    tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
    as_of: Any = None,
    *,
    previous: DailyList | pd.DataFrame | None = None,
    top: int | None = None,
    report: ExclusionReport | None = None,
) -> DailyList:
    """Today's call list: the open leads by score, with the change since the day before.

    Parameters
    ----------
    model : LeadScoreModel
        A fitted lead-scoring model (e.g. ``crmml.load_scorer("models:/crmml-leadscore@champion")``).
    tables : CRMTables, mapping of DataFrames or folder
        The contract tables (``leads``, and ``lead_events`` for activity).
    as_of : timestamp-like, optional
        The point in time of the list. Default: the rule every crmml command
        uses, :func:`crmml.features.default_as_of` on the model's
        ``as_of_sources()`` (``leads``, ``lead_events``) — midnight after the
        latest event not in the future, i.e. the list as of the start of today
        when the tables are up to date.
    previous : DailyList or DataFrame, optional
        What the scores are compared with. Default: the same model scored at
        ``as_of - 1 day`` on the same tables (features are point in time, so
        this is exactly yesterday's list). Or a previous list: a
        :class:`DailyList`, or a DataFrame with ``lead_id`` (column or index)
        and ``score`` and optionally ``grade`` (without it, the previous grade
        is read off the score with the model's cut points). Pass the whole
        previous list: a lead missing from it counts as ``"new"``.
    top : int, optional
        Keep only the first ``top`` rows in :attr:`DailyList.frame` (the
        summary still counts every scored lead).
    report : ExclusionReport, optional
        Receives the leads not scored today (converted before ``as_of``).

    Returns
    -------
    DailyList
        ``frame`` ordered by ``score`` descending, ties broken by the most
        recent activity (smaller ``days_since_event`` first, leads without
        activity last), then by ``lead_id`` (as text); plus the summary
        (leads per grade, new A-leads since the previous list, leads scored).

    Raises
    ------
    ParameterError
        ``model`` is not a lead-scoring model, ``top`` is not an int >= 0,
        ``previous`` lacks ``lead_id``/``score`` or repeats a lead, ``as_of``
        cannot be parsed.
    NotFittedError
        ``model`` is not fitted.
    MissingTableError
        ``as_of`` is None and no ``leads``/``lead_events`` row to choose it from.

    Examples
    --------
    >>> from crmml.leadscore import daily_list
    >>> model = crmml.load_scorer("models:/crmml-leadscore@champion")      # doctest: +SKIP
    >>> today = daily_list(model, "data/b2b", top=50)                    # doctest: +SKIP
    >>> today.per_grade, today.n_new_a                                   # doctest: +SKIP
    ({'A': 812, 'B': 640, 'C': 515, 'D': 4515}, 7)
    >>> today.frame[["rank", "lead_id", "score", "grade", "change", "reason_1"]].head()  # doctest: +SKIP
    """
    _check_model(model)
    n_top = _check_top(top)
    t = as_tables(tables)
    if as_of is None:
        sources = model.as_of_sources() if callable(getattr(model, "as_of_sources", None)) else None
        ts = default_as_of(t, sources=sources, report=ExclusionReport())
    else:
        ts = to_timestamp(as_of, "as_of")

    prev_as_of: pd.Timestamp | None = None
    if previous is None:
        prev_as_of = ts - _ONE_DAY
        yesterday = model.score(t, prev_as_of, report=ExclusionReport())
        prev = pd.DataFrame({"score": yesterday["score"].to_numpy(dtype=np.float64),
                             "grade": yesterday["grade"].astype(str).to_numpy()},
                            index=yesterday.index.astype(str))
    else:
        prev = _previous_frame(previous)

    feats = model.build_features(t, ts, report=report)
    scores = model.predict_features(feats)
    ids = feats["lead_id"].astype(str)
    if "days_since_event" in feats.columns:
        dse = pd.Series(feats["days_since_event"].to_numpy(dtype=np.float64), index=ids.to_numpy())
    else:  # a model trained without lead_events has no activity recency: ties keep the lead id order
        dse = None
    return rank_leads(model, scores, ts, days_since_event=dse, previous=prev, previous_as_of=prev_as_of, top=n_top)


def rank_leads(model: Any, scores: pd.DataFrame, as_of: pd.Timestamp, *, days_since_event: pd.Series | None = None,
               previous: pd.DataFrame | None = None, previous_as_of: pd.Timestamp | None = None,
               top: int | None = None) -> DailyList:
    """The daily list from lead scores already computed (what :func:`daily_list` and the nightly batch share).

    Parameters
    ----------
    model : LeadScoreModel
        Gives the grade cut points when ``previous`` has no grade.
    scores : DataFrame
        :meth:`LeadScoreModel.score` output, indexed by ``lead_id``.
    as_of : Timestamp
    days_since_event : Series, optional
        By lead id: the tie-break (most recent activity first).
    previous : DataFrame, optional
        Indexed by ``lead_id`` (text) with ``score`` and optionally
        ``grade``; every lead not in it counts as new.
    previous_as_of : Timestamp, optional
    top : int, optional
    """
    prev = previous if previous is not None else pd.DataFrame({"score": pd.Series(dtype=np.float64)})
    prev_as_of = previous_as_of
    ts = as_of
    n_top = top
    dse = days_since_event if days_since_event is not None else pd.Series(np.nan, index=scores.index.astype(str))
    frame = pd.DataFrame({"lead_id": scores.index.astype(str).to_numpy()})
    for c in ("score", "grade", "follow_up", "conversion_probability", *_REASONS):
        frame[c] = scores[c].array  # keeps the categorical grade and follow-up
    frame["days_since_event"] = dse.reindex(frame["lead_id"]).to_numpy()
    frame = frame.sort_values(["score", "days_since_event", "lead_id"], ascending=[False, True, True],
                              na_position="last", kind="stable").reset_index(drop=True)

    known = frame["lead_id"].isin(prev.index).to_numpy()
    before = prev["score"].reindex(frame["lead_id"]).to_numpy(dtype=np.float64)
    frame["change"] = _change(frame["score"].to_numpy(dtype=np.float64) - before, known)
    finite = before[known]
    integral = bool(np.all(finite == np.round(finite)))
    frame["previous_score"] = pd.array(before, dtype="Float64")
    if integral:
        frame["previous_score"] = frame["previous_score"].round().astype("Int64")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1, dtype=np.int64))

    if "grade" in prev.columns:
        was_a = prev["grade"].reindex(frame["lead_id"]).eq("A").to_numpy(dtype=bool)
    else:
        was_a = (np.nan_to_num(before, nan=-np.inf) >= model.grade_a) & known
    grade = frame["grade"].astype(str).to_numpy()
    new_a = frame.loc[(grade == "A") & ~was_a, "lead_id"]
    per_grade = {g: int((grade == g).sum()) for g in GRADES}
    prob = frame["conversion_probability"].to_numpy(dtype=np.float64)
    mean_p = {g: float(prob[grade == g].mean()) if per_grade[g] else float("nan") for g in GRADES}

    out = frame[list(DAILY_COLUMNS)]
    if n_top is not None:
        out = out.head(n_top).copy()
    return DailyList(frame=out, as_of=ts, previous_as_of=prev_as_of, n_scored=len(frame), per_grade=per_grade,
                     mean_probability=mean_p, new_a_leads=tuple(new_a.tolist()), n_new=int((~known).sum()))
