"""The point-in-time engine: views *as of* a timestamp, windows and labels.

Every feature builder in :mod:`crmml.features` goes through
:func:`as_of_view`, so a feature computed "as of" ``as_of`` can only see what
was known strictly before ``as_of``. Labels look forward, into
``[as_of, as_of + horizon)``, and are built from the full tables.

The rule (data contract v1), driven by :data:`crmml.data.TABLES`:

* a row is kept only when its table's ``time_column`` is strictly before
  ``as_of`` (``signup_at``, ``ts``, ``issued_at``, ``start_at``,
  ``created_at`` ...);
* its ``event_columns`` (``paid_at``, ``end_at``, ``converted_at``,
  ``closed_at``) that are not strictly before ``as_of`` become ``NaT`` —
  the event had not happened yet — and the ``masked_with`` columns
  (``won`` with ``closed_at``) become missing with them;
* an opportunity's snapshot columns ``stage``, ``amount`` and
  ``expected_close_at`` (which hold the values at export time) are replaced
  by those of its latest ``opportunity_history`` row with ``ts < as_of``.
  When an opportunity has no such history row, what is knowable is used: if
  it closed before ``as_of`` the stage becomes ``closed_won`` /
  ``closed_lost`` from ``won`` (``closed`` when ``won`` is missing) and the
  snapshot ``amount`` / ``expected_close_at`` (the values frozen at close)
  are kept; if it is open at ``as_of`` the three columns become missing
  (``<NA>`` / ``NaN`` / ``NaT``), because the export-time snapshot may
  reflect later changes. Supply ``opportunity_history`` for meaningful
  opportunity features.

Rows that a view leaves out are not "excluded" in the sense of an
:class:`~crmml.data.ExclusionReport`: they are in the future of ``as_of``.

References
----------
.. [1] Kaufman, S., Rosset, S., Perlich, C. (2012). "Leakage in data mining:
   formulation, detection, and avoidance." ACM TKDD 6(4).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from crmml.data import TABLES, CRMTables
from crmml.exceptions import LabelWindowWarning, ParameterError

__all__ = [
    "to_timestamp",
    "as_of_view",
    "window_bounds",
    "in_window",
    "count_in_windows",
    "sum_in_windows",
    "label_window",
    "noncontractual_churn_labels",
    "contractual_churn_labels",
    "lead_conversion_labels",
    "opportunity_outcome_labels",
    "stack_cutoffs",
]

DAY = np.timedelta64(1, "D")
_SNAPSHOT_COLUMNS = ("stage", "amount", "expected_close_at")


# --------------------------------------------------------------------------- time
def to_timestamp(as_of: object, name: str = "as_of") -> pd.Timestamp:
    """Normalise a point in time to a timezone-naive UTC nanosecond Timestamp.

    Delegates to the one time parser, :func:`crmml._time.parse_time`, which
    also parses every timestamp column when tables are loaded.

    Parameters
    ----------
    as_of : str, datetime.date, datetime.datetime, numpy.datetime64 or pandas.Timestamp
        Text must be ISO 8601 (``'2024-01-31'``, ``'2024-01-31 09:00'``,
        ``'2024-01-31T09:00:00+01:00'``); ``'01/02/2025'`` is refused as
        ambiguous. Timezone-aware values are converted to UTC, then made
        naive; naive values are taken to be UTC already. A date means its
        midnight.
    name : str
        Parameter name used in the error message.

    Returns
    -------
    pandas.Timestamp
        Within 1677-09-21 00:12:43.145224193 .. 2262-04-11 23:47:16.854775807
        (the range of ``datetime64[ns]``).

    Raises
    ------
    ParameterError
        When ``as_of`` is missing (``None``/``NaT``), cannot be parsed, is
        text in a format other than ISO 8601, or is outside the supported
        range.

    Examples
    --------
    >>> to_timestamp("2024-03-01T12:00:00+01:00")
    Timestamp('2024-03-01 11:00:00')
    """
    from crmml._time import parse_time

    return parse_time(as_of, name)


# --------------------------------------------------------------------------- view
def _mask_future(df: pd.DataFrame, name: str, as_of: pd.Timestamp) -> pd.DataFrame:
    spec = TABLES[name]
    keep = (df[spec.time_column] < as_of).to_numpy(dtype=bool, na_value=False)
    out = df.loc[keep] if not keep.all() else df
    to_mask = {c: out[c] >= as_of for c in spec.event_columns if c in out.columns}
    to_mask = {c: m.to_numpy(dtype=bool, na_value=False) for c, m in to_mask.items()}
    if any(m.any() for m in to_mask.values()):
        out = out.copy()
        for col, m in to_mask.items():
            if m.any():
                out.loc[m, col] = pd.NaT
    for col, event in spec.masked_with.items():
        if col in out.columns and event in out.columns:
            unknown = out[event].isna().to_numpy()
            if unknown.any() and out.loc[unknown, col].notna().any():
                if out is df:
                    out = out.copy()
                out.loc[unknown, col] = pd.NA
    return out


def _snapshot_as_of(opps: pd.DataFrame, hist: pd.DataFrame | None) -> pd.DataFrame:
    """Replace stage/amount/expected_close_at by their values as of the view."""
    out = opps.copy()
    has = np.zeros(len(out), dtype=bool)
    if hist is not None and len(hist) and len(out):
        # the latest row of each deal (ties: the later row), by integer sort keys (no string sort)
        codes, ids = pd.factorize(hist["opportunity_id"], use_na_sentinel=False)
        t = hist["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
        t[t == np.iinfo(np.int64).min] = np.iinfo(np.int64).max  # NaT sorts last, as sort_values puts it
        order = np.lexsort((t, codes))  # stable: equal (deal, time) keep their row order
        ends = np.r_[np.flatnonzero(np.diff(codes[order])), len(order) - 1]
        last = hist.iloc[order[ends]].set_axis(pd.Index(ids)[codes[order[ends]]], axis=0)
        pos = last.index.get_indexer(out["opportunity_id"])
        has = pos >= 0
        if has.any():
            for col in _SNAPSHOT_COLUMNS:
                if col in out.columns and col in last.columns:
                    vals = last[col].to_numpy()[pos[has]]
                    out.loc[has, col] = vals
    missing = ~has
    if missing.any():
        closed = out["closed_at"].notna().to_numpy() if "closed_at" in out else np.zeros(len(out), bool)
        open_ = missing & ~closed
        closed_nohist = missing & closed
        if open_.any():
            out.loc[open_, "stage"] = pd.NA
            out.loc[open_, "amount"] = np.nan
            out.loc[open_, "expected_close_at"] = pd.NaT
        if closed_nohist.any():
            won = out["won"] if "won" in out else pd.Series(pd.NA, index=out.index, dtype="boolean")
            won = won.astype("boolean")
            stage = np.where(
                won.fillna(False).to_numpy(dtype=bool), "closed_won",
                np.where(won.isna().to_numpy(), "closed", "closed_lost"),
            )
            out.loc[closed_nohist, "stage"] = stage[closed_nohist]
    return out


def as_of_view(tables: CRMTables, as_of: object) -> CRMTables:
    """Return what the CRM knew strictly before ``as_of``.

    Applies the point-in-time rule of the data contract to every supplied
    table (see the module docstring): rows whose time column is not strictly
    before ``as_of`` are left out, later event columns become ``NaT`` (and
    ``won`` missing with ``closed_at``), and opportunity snapshot columns are
    replayed from ``opportunity_history``.

    Parameters
    ----------
    tables : CRMTables
        Tables in the internal representation (see :mod:`crmml.data`).
    as_of : str, date, datetime or Timestamp
        The cutoff; normalised with :func:`to_timestamp`.

    Returns
    -------
    CRMTables
        A new container; the input frames are not modified. Absent tables
        stay ``None``.

    Examples
    --------
    >>> view = as_of_view(tables, "2024-01-01")        # doctest: +SKIP
    >>> bool((view.transactions["ts"] < "2024-01-01").all())  # doctest: +SKIP
    True
    """
    ts = to_timestamp(as_of)
    new: dict[str, pd.DataFrame | None] = {}
    for name, df in tables.items():
        new[name] = _mask_future(df, name, ts)
    if new.get("opportunities") is not None:
        new["opportunities"] = _snapshot_as_of(new["opportunities"], new.get("opportunity_history"))
    return tables.replace(**new)


# --------------------------------------------------------------------------- windows
def window_bounds(as_of: object, days: float, offset_days: float = 0.0) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Half-open window ``[as_of - offset - days, as_of - offset)``.

    ``offset_days=days`` gives the previous window of the same length (for
    trends: last 90 days vs the 90 days before).
    """
    end = to_timestamp(as_of) - pd.Timedelta(days=offset_days)
    return end - pd.Timedelta(days=days), end


def in_window(ts: pd.Series | np.ndarray, as_of: object, days: float, offset_days: float = 0.0) -> np.ndarray:
    """Boolean mask of times in ``[as_of - offset - days, as_of - offset)``."""
    lo, hi = window_bounds(as_of, days, offset_days)
    t = np.asarray(ts, dtype="datetime64[ns]")
    return (t >= lo.to_datetime64()) & (t < hi.to_datetime64())


def entity_codes(index: pd.Index, ids: pd.Series | np.ndarray) -> np.ndarray:
    """Position of each id in ``index`` (-1 when absent)."""
    return index.get_indexer(pd.Index(ids))


def count_in_windows(
    index: pd.Index,
    ids: pd.Series,
    ts: pd.Series,
    as_of: object,
    windows: Iterable[int],
    prefix: str,
    *,
    previous: bool = False,
) -> pd.DataFrame:
    """Count rows per entity in each trailing window.

    Parameters
    ----------
    index : pandas.Index
        The entities (output index).
    ids, ts : Series
        Entity id and event time of each row (already point-in-time).
    windows : iterable of int
        Window lengths in days; column ``f"{prefix}_{w}d"`` counts rows in
        ``[as_of - w days, as_of)``.
    previous : bool
        Also add ``f"{prefix}_{w}d_prev"``: rows in
        ``[as_of - 2w, as_of - w)``.
    """
    codes = entity_codes(index, ids)
    ok = codes >= 0
    n = len(index)
    cols: dict[str, np.ndarray] = {}
    for w in windows:
        m = in_window(ts, as_of, w) & ok
        cols[f"{prefix}_{w}d"] = np.bincount(codes[m], minlength=n).astype(np.int64)
        if previous:
            m = in_window(ts, as_of, w, offset_days=w) & ok
            cols[f"{prefix}_{w}d_prev"] = np.bincount(codes[m], minlength=n).astype(np.int64)
    return pd.DataFrame(cols, index=index)


def sum_in_windows(
    index: pd.Index,
    ids: pd.Series,
    ts: pd.Series,
    values: pd.Series,
    as_of: object,
    windows: Iterable[int],
    prefix: str,
    *,
    previous: bool = False,
) -> pd.DataFrame:
    """Sum ``values`` per entity in each trailing window (see :func:`count_in_windows`)."""
    codes = entity_codes(index, ids)
    ok = codes >= 0
    v = np.asarray(values, dtype=np.float64)
    n = len(index)
    cols: dict[str, np.ndarray] = {}
    for w in windows:
        m = in_window(ts, as_of, w) & ok
        cols[f"{prefix}_{w}d"] = np.bincount(codes[m], weights=v[m], minlength=n).astype(np.float64)
        if previous:
            m = in_window(ts, as_of, w, offset_days=w) & ok
            cols[f"{prefix}_{w}d_prev"] = np.bincount(codes[m], weights=v[m], minlength=n).astype(np.float64)
    return pd.DataFrame(cols, index=index)


# --------------------------------------------------------------------------- labels
def _check_horizon(horizon_days: object, owner: str, name: str = "horizon_days") -> float:
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, float, np.integer, np.floating)) \
            or not np.isfinite(horizon_days) or horizon_days <= 0:
        raise ParameterError(
            f"The '{name}' parameter of {owner} must be > 0. Got {horizon_days!r} instead."
        )
    return float(horizon_days)


def check_active_within(active_within_days: object, owner: str) -> float | None:
    """``None`` or the number of days (> 0) of the B2C "active within" population rule."""
    if active_within_days is None:
        return None
    return _check_horizon(active_within_days, owner, "active_within_days")


def label_window(
    frame: pd.DataFrame, time_column: str, as_of: object, horizon_days: float
) -> pd.DataFrame:
    """Rows of ``frame`` whose ``time_column`` lies in ``[as_of, as_of + horizon)``.

    Labels are the only place where crmml reads past ``as_of``.

    Examples
    --------
    >>> tx = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-02-15"])})
    >>> len(label_window(tx, "ts", "2024-01-01", 30))
    1
    """
    h = _check_horizon(horizon_days, "label_window")
    lo = to_timestamp(as_of)
    hi = lo + pd.Timedelta(days=h)
    t = frame[time_column]
    m = ((t >= lo) & (t < hi)).to_numpy(dtype=bool, na_value=False)
    return frame.loc[m]


def _warn_unobserved(builder: str, table: str, latest: pd.Timestamp | None, as_of: pd.Timestamp, h: float,
                     missing_means: str) -> None:
    """Warn when the label window ends more than 10 % of the horizon (and a day) after the latest event."""
    if latest is None or pd.isna(latest):
        return
    end = as_of + pd.Timedelta(days=h)
    if end - latest > pd.Timedelta(days=max(1.0, 0.1 * h)):
        warnings.warn(
            f"{builder}: the label window [{as_of.date()}, {end.date()}) runs past the latest {table} event "
            f"({latest.date()}), so outcomes in its unobserved part are missing ({missing_means}). Use an as_of "
            f"on or before {(latest - pd.Timedelta(days=h)).date()}, or a shorter horizon.",
            LabelWindowWarning, stacklevel=3)


def noncontractual_churn_labels(tables: CRMTables, as_of: object, horizon_days: float, *,
                                active_within_days: float | None = None) -> pd.DataFrame:
    """Non-contractual (B2C) churn labels.

    Population: customers with at least one purchase (``amount >= 0``; refunds
    are not purchases) strictly before ``as_of`` — and, when a ``customers``
    table is supplied, ``signup_at < as_of``; with ``active_within_days``,
    only those whose latest purchase lies in ``[as_of − active_within_days,
    as_of)`` (the others have already lapsed). ``churned = 1`` when the
    customer makes no purchase in ``[as_of, as_of + horizon)``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), one int column ``churned``.
    """
    h = _check_horizon(horizon_days, "noncontractual_churn_labels")
    active = check_active_within(active_within_days, "noncontractual_churn_labels")
    ts = to_timestamp(as_of)
    tables.require("transactions", model="noncontractual_churn_labels")
    tx = tables.transactions
    purchase = (tx["amount"] >= 0).to_numpy(dtype=bool, na_value=False)
    before = purchase & (tx["ts"] < ts).to_numpy(dtype=bool, na_value=False)
    if active is not None:
        before &= (tx["ts"] >= ts - pd.Timedelta(days=active)).to_numpy(dtype=bool, na_value=False)
    pop = pd.Index(pd.unique(tx.loc[before, "customer_id"]), name="customer_id")
    if tables.customers is not None:
        known = tables.customers.loc[tables.customers["signup_at"] < ts, "customer_id"]
        pop = pop[pop.isin(known)]
    pop = pop.sort_values()
    _warn_unobserved("noncontractual_churn_labels", "transactions", tx["ts"].max() if len(tx) else None, ts, h,
                     "customers are counted as churned")
    fut = label_window(tx.loc[purchase], "ts", ts, h)
    churned = (~pop.isin(fut["customer_id"])).astype(np.int64)
    return pd.DataFrame({"churned": churned}, index=pop)


def contractual_churn_labels(tables: CRMTables, as_of: object, horizon_days: float) -> pd.DataFrame:
    """Contractual (B2B) churn labels.

    Population: accounts with a running subscription at ``as_of``
    (``start_at < as_of`` and ``end_at`` missing or ``>= as_of``).
    ``churned = 1`` when every subscription that started before ``as_of``
    ends (a known ``end_at``) before ``as_of + horizon`` and no new
    subscription starts in ``[as_of, as_of + horizon)``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), one int column ``churned``.
    """
    h = _check_horizon(horizon_days, "contractual_churn_labels")
    ts = to_timestamp(as_of)
    end_h = ts + pd.Timedelta(days=h)
    tables.require("subscriptions", model="contractual_churn_labels")
    s = tables.subscriptions
    started = (s["start_at"] < ts).to_numpy(dtype=bool, na_value=False)
    end = s["end_at"]
    running = started & (end.isna() | (end >= ts)).to_numpy(dtype=bool, na_value=False)
    pop = pd.Index(pd.unique(s.loc[running, "customer_id"]), name="customer_id").sort_values()
    # subscriptions that keep the account beyond the horizon
    survives = started & (end.isna() | (end >= end_h)).to_numpy(dtype=bool, na_value=False)
    new = (s["start_at"] >= ts) & (s["start_at"] < end_h)
    keep_ids = pd.Index(s.loc[survives | new.to_numpy(dtype=bool, na_value=False), "customer_id"])
    churned = (~pop.isin(keep_ids)).astype(np.int64)
    latest = pd.concat([s["start_at"], s["end_at"]]).max() if len(s) else None
    _warn_unobserved("contractual_churn_labels", "subscriptions", latest, ts, h,
                     "an end not yet recorded counts as a renewal")
    return pd.DataFrame({"churned": churned}, index=pop)


def lead_conversion_labels(tables: CRMTables, as_of: object, horizon_days: float) -> pd.DataFrame:
    """Lead conversion labels.

    Population: leads created before ``as_of`` and not converted before
    ``as_of``. ``converted = 1`` when ``converted_at`` lies in
    ``[as_of, as_of + horizon)``.

    Returns
    -------
    DataFrame
        Indexed by ``lead_id`` (sorted), one int column ``converted``.
    """
    h = _check_horizon(horizon_days, "lead_conversion_labels")
    ts = to_timestamp(as_of)
    tables.require("leads", model="lead_conversion_labels")
    le = tables.leads
    conv = le["converted_at"]
    pop_m = ((le["created_at"] < ts) & (conv.isna() | (conv >= ts))).to_numpy(dtype=bool, na_value=False)
    pop = le.loc[pop_m]
    c = pop["converted_at"]
    y = ((c >= ts) & (c < ts + pd.Timedelta(days=h))).to_numpy(dtype=bool, na_value=False)
    out = pd.DataFrame({"converted": y.astype(np.int64)}, index=pd.Index(pop["lead_id"], name="lead_id"))
    return out.sort_index()


def opportunity_outcome_labels(tables: CRMTables, as_of: object, horizon_days: float) -> pd.DataFrame:
    """Opportunity outcome labels.

    Population: opportunities created before ``as_of`` and still open at
    ``as_of`` (``closed_at`` missing or ``>= as_of``). ``closed_in_horizon =
    1`` when ``closed_at`` lies in ``[as_of, as_of + horizon)``; ``won = 1``
    when, in addition, the opportunity was won.

    Returns
    -------
    DataFrame
        Indexed by ``opportunity_id`` (sorted), int columns ``won`` and
        ``closed_in_horizon``.
    """
    h = _check_horizon(horizon_days, "opportunity_outcome_labels")
    ts = to_timestamp(as_of)
    tables.require("opportunities", model="opportunity_outcome_labels")
    o = tables.opportunities
    c = o["closed_at"]
    pop_m = ((o["created_at"] < ts) & (c.isna() | (c >= ts))).to_numpy(dtype=bool, na_value=False)
    pop = o.loc[pop_m]
    c = pop["closed_at"]
    closed = ((c >= ts) & (c < ts + pd.Timedelta(days=h))).to_numpy(dtype=bool, na_value=False)
    won = closed & pop["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    out = pd.DataFrame(
        {"won": won.astype(np.int64), "closed_in_horizon": closed.astype(np.int64)},
        index=pd.Index(pop["opportunity_id"], name="opportunity_id"),
    )
    return out.sort_index()


# --------------------------------------------------------------------------- stacking
def stack_cutoffs(
    build: Callable[[CRMTables, pd.Timestamp], pd.DataFrame],
    tables: CRMTables,
    cutoffs: Sequence[object],
) -> pd.DataFrame:
    """Stack a per-cutoff build (features and/or labels) over several cutoffs.

    Parameters
    ----------
    build : callable
        ``build(tables, as_of) -> DataFrame`` indexed by an entity id, e.g.
        ``lambda t, a: customer_features(t, a).join(noncontractual_churn_labels(t, a, 90))``.
    tables : CRMTables
        The full tables (the builder applies the point-in-time view itself).
    cutoffs : sequence of str, date or Timestamp
        The ``as_of`` times, normalised with :func:`to_timestamp`.

    Returns
    -------
    DataFrame
        Rows of every cutoff, indexed by a two-level MultiIndex
        ``(<entity id>, "as_of")`` so an entity appears once per cutoff and
        the feature columns stay feature columns. Use
        ``df.reset_index("as_of")`` to get ``as_of`` as a column (e.g. for
        grouped cross-validation by cutoff).

    Examples
    --------
    >>> stacked = stack_cutoffs(lambda t, a: rfm_summary(t.transactions, a),
    ...                         tables, ["2024-01-01", "2024-04-01"])  # doctest: +SKIP
    """
    stamps = [to_timestamp(c, "cutoffs") for c in cutoffs]
    if not stamps:
        raise ParameterError("The 'cutoffs' parameter of stack_cutoffs must hold at least one cutoff. Got [] instead.")
    if len(set(stamps)) != len(stamps):
        raise ParameterError(
            f"The 'cutoffs' parameter of stack_cutoffs must not repeat a cutoff. Got {[str(s) for s in stamps]} instead."
        )
    parts = []
    for ts in stamps:
        df = build(tables, ts)
        key = df.index.name or "id"
        idx = pd.MultiIndex.from_arrays(
            [df.index, pd.DatetimeIndex(np.full(len(df), ts.to_datetime64()), name="as_of")],
            names=[key, "as_of"],
        )
        parts.append(df.set_axis(idx, axis=0))
    out = pd.concat(parts, axis=0)
    exclusions = [p.attrs.get("exclusions") for p in parts if p.attrs.get("exclusions")]
    out.attrs = {}
    if exclusions:
        out.attrs["exclusions"] = [e for ex in exclusions for e in ex]
    return out
