"""Customer (account) features as of a cutoff, for churn and CLV models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmml.data import CRMTables
from crmml.data._contract import KNOWN_INTERACTION_TYPES
from crmml.features._agg import (
    as_category,
    count_by,
    customer_index,
    days,
    frame_codes,
    frame_days,
    frame_type_codes,
    in_days,
    max_by,
    min_by,
    sum_by,
    type_bucket,
    typed_event_counts,
)
from crmml.features._pit import as_of_view, to_timestamp
from crmml.features._subscriptions import TERM_DAYS, subscription_features
from crmml.features._windows import check_windows

__all__ = ["customer_features", "DEFAULT_ROLES"]

DEFAULT_ROLES: tuple[str, ...] = ("purchasing", "technical", "management", "user")


def customer_features(
    tables: CRMTables,
    as_of: object,
    *,
    windows: Sequence[int] = (30, 90, 365),
    interaction_types: Sequence[str] = KNOWN_INTERACTION_TYPES,
    roles: Sequence[str] = DEFAULT_ROLES,
    term_days: int = TERM_DAYS,
) -> pd.DataFrame:
    """Point-in-time features of every customer who signed up before ``as_of``.

    Everything is computed from :func:`~crmml.features.as_of_view`, so no
    value depends on a row (or an event time) at or after ``as_of``. Windows
    are half-open, ``[as_of - w days, as_of)``; durations are in days (float).
    Column groups appear only when their table is supplied (a B2C shop without
    invoices gets no invoice columns, rather than columns of zeros).

    Parameters
    ----------
    tables : CRMTables
        Needs ``customers``; uses ``transactions``, ``interactions``,
        ``invoices``, ``subscriptions`` and ``contacts`` when present.
    as_of : str, date or Timestamp
        The cutoff.
    windows : sequence of int
        Trailing window lengths in days.
    interaction_types : sequence of str
        Interaction types counted separately; every other type is counted as
        ``other``.
    roles : sequence of str
        Contact roles counted separately (others as ``other``).
    term_days : int
        Assumed contract term for subscriptions (annual by default): the
        current term of a running subscription restarts every ``term_days``
        from its ``start_at``. (``end_at`` after ``as_of`` is unknown at
        ``as_of``, so the term cannot be read from it.)

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted). See ``docs/features.md`` for the
        definition of every column.

    Examples
    --------
    >>> X = customer_features(tables, "2024-01-01", windows=(30, 90))  # doctest: +SKIP
    """
    ts = to_timestamp(as_of)
    w = check_windows(windows, "customer_features")
    tables.require("customers", model="customer_features")
    view = as_of_view(tables, ts)
    cust, index = customer_index(view.customers)
    now = ts.value / 86_400e9
    cols: dict[str, object] = {"tenure_days": now - days(cust["signup_at"])}
    for c in ("country", "channel", "industry"):
        if c in cust.columns:
            cols[c] = as_category(cust[c], index)
    for c in ("employees", "acquisition_cost"):
        if c in cust.columns:
            cols[c] = cust[c].to_numpy(dtype=np.float64, na_value=np.nan)

    if view.transactions is not None:
        cols.update(_transaction_features(view.transactions, index, now, ts, w))
    if view.interactions is not None:
        cols.update(_interaction_features(view.interactions, index, now, ts, w, interaction_types))
    if view.invoices is not None:
        cols.update(invoice_features(view.invoices, index, now))
    if view.subscriptions is not None:
        cols.update(subscription_features(view.subscriptions, index, now, term_days))
    if view.contacts is not None:
        cols.update(_contact_features(view.contacts, index, roles))

    return pd.DataFrame(cols, index=index)


def _transaction_features(tx: pd.DataFrame, index: pd.Index, now: float, ts: pd.Timestamp,
                          windows: tuple[int, ...]) -> dict[str, np.ndarray]:
    n = len(index)
    codes = frame_codes(index, tx)
    t = frame_days(tx, "ts")
    amount = tx["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    buy = amount >= 0
    refund = amount < 0
    cols: dict[str, np.ndarray] = {}
    n_buy = count_by(codes, n, buy)
    revenue = sum_by(codes, amount, n, buy)
    cols["n_purchases"] = n_buy
    cols["revenue_total"] = revenue
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["revenue_mean"] = np.where(n_buy > 0, revenue / np.maximum(n_buy, 1), np.nan)
    cols["recency_days"] = now - max_by(codes, t, n, buy)
    cols["days_since_first_purchase"] = now - min_by(codes, t, n, buy)
    for w in windows:
        cur, prev = in_days(t, now, w) & buy, in_days(t, now, w, w) & buy
        c_cur, c_prev = count_by(codes, n, cur), count_by(codes, n, prev)
        r_cur, r_prev = sum_by(codes, amount, n, cur), sum_by(codes, amount, n, prev)
        cols[f"purchases_{w}d"] = c_cur
        cols[f"purchases_{w}d_prev"] = c_prev
        cols[f"purchases_trend_{w}d"] = c_cur - c_prev
        cols[f"revenue_{w}d"] = r_cur
        cols[f"revenue_{w}d_prev"] = r_prev
        cols[f"revenue_trend_{w}d"] = r_cur - r_prev
    cols["refunds_count"] = count_by(codes, n, refund)
    cols["refunds_amount"] = -sum_by(codes, amount, n, refund)
    return cols


def _interaction_features(ix: pd.DataFrame, index: pd.Index, now: float, ts: pd.Timestamp,
                          windows: tuple[int, ...], types: Sequence[str]) -> dict[str, np.ndarray]:
    return typed_event_counts(frame_codes(index, ix), len(index), frame_days(ix, "ts"),
                              frame_type_codes(ix, "type", types), types, windows, now, prefix="interactions",
                              event="interaction")


def invoice_features(inv: pd.DataFrame, index: pd.Index, now: float) -> dict[str, np.ndarray]:
    """Per-account payment behaviour from a point-in-time ``invoices`` view (counts, lateness, overdue)."""
    n = len(index)
    codes = frame_codes(index, inv)
    due = frame_days(inv, "due_at")
    paid = frame_days(inv, "paid_at")  # NaT in the view when paid at/after as_of: unpaid as of as_of
    is_paid = ~np.isnan(paid)
    late = np.where(is_paid, np.maximum(paid - due, 0.0), np.nan)
    overdue = ~is_paid & (due < now)
    amount = inv["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    n_paid = count_by(codes, n, is_paid)
    n_late = count_by(codes, n, is_paid & (late > 0))
    cols: dict[str, np.ndarray] = {
        "invoices_count": count_by(codes, n),
        "invoices_paid": n_paid,
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["invoice_days_late_mean"] = np.where(
            n_paid > 0, sum_by(codes, late, n, is_paid) / np.maximum(n_paid, 1), np.nan)
        cols["invoice_days_late_max"] = max_by(codes, late, n, is_paid)
        cols["invoice_share_paid_late"] = np.where(n_paid > 0, n_late / np.maximum(n_paid, 1), np.nan)
    cols["invoices_unpaid_overdue"] = count_by(codes, n, overdue)
    cols["invoices_overdue_amount"] = sum_by(codes, amount, n, overdue)
    cols["invoice_days_overdue_max"] = np.nan_to_num(max_by(codes, now - due, n, overdue), nan=0.0)
    return cols


def _contact_features(ct: pd.DataFrame, index: pd.Index, roles: Sequence[str]) -> dict[str, np.ndarray]:
    n = len(index)
    codes = frame_codes(index, ct)
    kind = type_bucket(ct["role"], roles)
    cols: dict[str, np.ndarray] = {"contacts_total": count_by(codes, n)}
    for r in [*dict.fromkeys(roles), "other"]:
        cols[f"contacts_{r}"] = count_by(codes, n, kind == r)
    cols["contact_roles"] = sum((cols[f"contacts_{r}"] > 0).astype(np.int64)
                                for r in [*dict.fromkeys(roles), "other"])
    return cols
