"""Retention features as of a cutoff: purchase rhythm, payment lateness, engagement trends, buying-center decay.

Columns :func:`~crmml.features.customer_features` does not compute and a
churn model needs (``docs/features.md``, "Retention features"), among them
engagement and service contacts relative to the last purchase. Everything is
computed from :func:`~crmml.features.as_of_view`, so no value depends on a row
(or an event time) at or after ``as_of``. Column groups appear only when their
table is supplied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmml.data import CRMTables
from crmml.exceptions import ParameterError
from crmml.features._agg import (
    count_by,
    customer_index,
    days,
    frame_codes,
    frame_days,
    frame_type_codes,
    in_days,
    max_by,
    min_by,
)
from crmml.features._pit import as_of_view, check_active_within, to_timestamp
from crmml.features._windows import check_windows

__all__ = ["ENGAGEMENT_TYPES", "SERVICE_TYPES", "churn_population", "retention_features"]

ENGAGEMENT_TYPES: tuple[str, ...] = ("email_open", "email_click", "web_visit", "login")
"""Interaction types counted as engagement (usage) in ``engagement_*`` columns."""
SERVICE_TYPES: tuple[str, ...] = ("support_ticket", "complaint")
"""Interaction types counted as service contacts in ``service_*`` columns."""


def retention_features(tables: CRMTables, as_of: object, *, window: int = 90,
                       contact_lookback: int = 365, before_purchase: int = 30) -> pd.DataFrame:
    """Point-in-time retention features of every customer who signed up before ``as_of``.

    Parameters
    ----------
    tables : CRMTables
        Needs ``customers``; uses ``transactions``, ``interactions`` and
        ``invoices`` when present.
    as_of : str, date or Timestamp
    window : int
        Trend window ``w`` in days: the last ``w`` days vs the ``w`` before.
    contact_lookback : int
        How far back (days) a contact must have interacted to count as a
        member of the buying center who may since have gone silent.
    before_purchase : int
        Length ``b`` (days) of the window ``[last purchase − b, last
        purchase]`` in which ``service_before_purchase_{b}d`` and
        ``complaints_before_purchase_{b}d`` count contacts (a burst of
        tickets and complaints just before what turned out to be a
        customer's final purchase).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted, the same rows as
        :func:`~crmml.features.customer_features`):

        * transactions — ``purchase_interval_days``: mean days between
          purchases, ``(last − first) / (purchases − 1)`` (NaN below two
          purchases); ``recency_ratio``: days since the last purchase ÷ that
          interval ("overdue" when well above 1; NaN without an interval);
          ``purchases_per_year``: repeat purchases per 365 days since the
          first purchase, ``365 · (purchases − 1) / (as_of − first)`` (the
          ``x / T`` of BG/NBD; NaN without a purchase);
        * invoices — ``invoices_paid_late``: invoices paid after their due
          date (the ``invoices_paid`` column of ``customer_features`` counts
          every paid one);
        * interactions — ``engagement_{w}d`` / ``engagement_trend_{w}d``
          (e-mail opens and clicks, web visits, logins in the last ``w`` days,
          and minus the ``w`` before), ``logins_trend_{w}d``,
          ``service_{w}d`` (support tickets and complaints);
          with ``transactions`` too: ``engagement_per_year`` — engagement
          events per 365 days since sign-up (the customer's usual level, and
          through it of the purchase rate); relative to the last purchase
          (NaN without a purchase): ``engagement_since_purchase_ratio`` — the
          engagement rate since the last purchase ÷ the customer's rate over
          the whole tenure (near 1 while engaged as usual, towards 0 when
          engagement has faded since the last purchase; NaN without any
          engagement); ``engagement_since_purchase_vs_usual`` — engagement
          events since the last purchase minus the number expected at the
          customer's rate before it, ``n_after − n_before / (last − signup)
          · (as_of − last)`` (negative: fewer than usual; NaN when the last
          purchase is not after sign-up); ``service_since_purchase`` —
          support tickets and complaints after the last purchase (a contact
          after it shows the customer was still around);
          ``service_before_purchase_{b}d`` / ``complaints_before_purchase_{b}d``
          — support tickets and complaints / complaints alone in
          ``[last purchase − b days, last purchase]``;
          with a ``contact_id`` column: ``contacts_active_{w}d`` (contacts
          with an interaction in the last ``w`` days) and ``contacts_lost``
          (contacts who interacted in ``[as_of − contact_lookback, as_of − w)``
          but not since — the buying center's contacts gone silent; the
          contract has no contact end date).

    Examples
    --------
    >>> X = retention_features(tables, "2025-07-01")  # doctest: +SKIP
    """
    ts = to_timestamp(as_of)
    (w,) = check_windows((window,), "retention_features", "window")
    (lookback,) = check_windows((contact_lookback,), "retention_features", "contact_lookback")
    (b,) = check_windows((before_purchase,), "retention_features", "before_purchase")
    tables.require("customers", model="retention_features")
    view = as_of_view(tables, ts)
    cust, index = customer_index(view.customers)
    n = len(index)
    now = ts.value / 86_400e9
    cols: dict[str, np.ndarray] = {}
    last: np.ndarray | None = None  # last purchase (days) per customer, NaN without one
    if view.transactions is not None:
        tx = view.transactions
        codes = frame_codes(index, tx)
        t = frame_days(tx, "ts")
        buy = tx["amount"].to_numpy(dtype=np.float64, na_value=np.nan) >= 0
        n_buy = count_by(codes, n, buy)
        first, last = min_by(codes, t, n, buy), max_by(codes, t, n, buy)
        with np.errstate(invalid="ignore", divide="ignore"):
            interval = np.where(n_buy >= 2, (last - first) / np.maximum(n_buy - 1, 1), np.nan)
            interval = np.where(interval > 0, interval, np.nan)
            cols["purchase_interval_days"] = interval
            cols["recency_ratio"] = (now - last) / interval
            cols["purchases_per_year"] = _finite(365.0 * (n_buy - 1) / (now - first))
    if view.invoices is not None:
        inv = view.invoices
        codes = frame_codes(index, inv)
        paid, due = frame_days(inv, "paid_at"), frame_days(inv, "due_at")
        cols["invoices_paid_late"] = count_by(codes, n, ~np.isnan(paid) & (paid > due))
    if view.interactions is not None:
        ix = view.interactions
        codes = frame_codes(index, ix)
        t = frame_days(ix, "ts")
        types = (*ENGAGEMENT_TYPES, *SERVICE_TYPES)
        code = frame_type_codes(ix, "type", types)  # position in types; len(types) for any other type
        cur, prev = in_days(t, now, w), in_days(t, now, w, w)
        eng = code < len(ENGAGEMENT_TYPES)
        login = code == types.index("login")
        serv = (code >= len(ENGAGEMENT_TYPES)) & (code < len(types))
        e_cur, e_prev = count_by(codes, n, eng & cur), count_by(codes, n, eng & prev)
        cols[f"engagement_{w}d"] = e_cur
        cols[f"engagement_trend_{w}d"] = e_cur - e_prev
        cols[f"logins_trend_{w}d"] = count_by(codes, n, login & cur) - count_by(codes, n, login & prev)
        cols[f"service_{w}d"] = count_by(codes, n, serv & cur)
        if last is not None:
            complaint = code == types.index("complaint")
            cols.update(_since_purchase(codes, t, complaint, eng, serv, n, now, last, days(cust["signup_at"]), b))
        if "contact_id" in ix.columns and lookback > w:
            cid = ix["contact_id"]
            known = cid.notna().to_numpy()
            pair = pd.DataFrame({"c": codes, "contact": cid.astype(object), "t": t})[known & (codes >= 0)]
            last_t = pair.groupby(["c", "contact"], sort=False, observed=True)["t"].max()
            acc = last_t.index.get_level_values("c").to_numpy(dtype=np.int64)
            lt = last_t.to_numpy(dtype=np.float64)
            cols[f"contacts_active_{w}d"] = np.bincount(acc[lt >= now - w], minlength=n).astype(np.int64)
            lost = (lt < now - w) & (lt >= now - lookback)
            cols["contacts_lost"] = np.bincount(acc[lost], minlength=n).astype(np.int64)
    return pd.DataFrame(cols, index=index)


def _finite(v: np.ndarray) -> np.ndarray:
    """``v`` with ±inf (a division by zero) as NaN."""
    return np.where(np.isfinite(v), v, np.nan)


def _since_purchase(codes: np.ndarray, t: np.ndarray, complaint: np.ndarray, eng: np.ndarray, serv: np.ndarray, n: int,
                    now: float, last: np.ndarray, signup: np.ndarray, b: int) -> dict[str, np.ndarray]:
    """The usual engagement level and the interaction columns relative to each customer's last purchase.

    ``t``, ``complaint``, ``eng``, ``serv``: time (days) and the complaint,
    engagement and service masks of the interaction rows, ``codes`` their customers;
    ``last`` (last purchase, NaN without one) and ``signup`` (days) per customer.
    """
    known = codes >= 0
    last_row = np.where(known, last[np.where(known, codes, 0)], np.nan)  # the owner's last purchase, per row
    after = t > last_row  # False for customers without a purchase (NaN)
    before = (t >= last_row - b) & (t <= last_row)
    no_buy = np.isnan(last)
    e_after = count_by(codes, n, eng & after)
    since = now - last
    before_len = last - signup
    n_eng = count_by(codes, n, eng)
    cols: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["engagement_per_year"] = _finite(365.0 * n_eng / (now - signup))
        cols["engagement_since_purchase_ratio"] = _finite((e_after / since) / (n_eng / (now - signup)))
        usual = (n_eng - e_after) / before_len * since
        cols["engagement_since_purchase_vs_usual"] = np.where(before_len > 0, e_after - usual, np.nan)
    for name, mask in (("service_since_purchase", serv & after),
                       (f"service_before_purchase_{b}d", serv & before),
                       (f"complaints_before_purchase_{b}d", before & complaint)):
        cols[name] = np.where(no_buy, np.nan, count_by(codes, n, mask).astype(np.float64))
    return cols


def churn_population(tables: CRMTables, as_of: object, business: str = "noncontractual", *,
                     active_within_days: float | None = None, report: object | None = None) -> pd.Index:
    """Who a churn model scores as of ``as_of`` — the index of the churn label builders.

    ``"noncontractual"``: customers with at least one purchase (``amount >= 0``)
    before ``as_of`` and, with a ``customers`` table, ``signup_at < as_of``
    (the population of :func:`~crmml.features.noncontractual_churn_labels`);
    with ``active_within_days`` only customers whose latest purchase lies in
    ``[as_of − active_within_days, as_of)`` — the others have lapsed already
    and are win-back, not retention, cases.
    ``"contractual"``: accounts with a running subscription at ``as_of``
    (``start_at < as_of`` and ``end_at`` missing or ``>= as_of``; the
    population of :func:`~crmml.features.contractual_churn_labels`).

    ``report`` (an :class:`~crmml.data.ExclusionReport`), when given,
    receives the customers of the ``customers`` table who signed up before
    ``as_of`` but are not in the population, with the reason.
    """
    ts = to_timestamp(as_of)
    active = check_active_within(active_within_days, "churn_population")
    cut = np.datetime64(ts, "ns")
    cust = tables.customers
    if business == "contractual":
        if active is not None:
            raise ParameterError("The 'active_within_days' parameter of churn_population applies to "
                                 f"business='noncontractual' only. Got {active_within_days!r} with 'contractual'.")
        universe = None if cust is None else pd.Index(
            cust["customer_id"].to_numpy(dtype=object)[cust["signup_at"].to_numpy(dtype="datetime64[ns]") < cut])
        tables.require("subscriptions", model="churn_population")
        s = tables.subscriptions
        start = s["start_at"].to_numpy(dtype="datetime64[ns]")
        end = s["end_at"].to_numpy(dtype="datetime64[ns]")
        ids = s["customer_id"].to_numpy(dtype=object)
        started = start < cut
        running = started & (np.isnat(end) | (end >= cut))
        pop = pd.Index(pd.unique(ids[running]), name="customer_id").sort_values()
        if report is not None and universe is not None:
            missing = universe.difference(pop)
            had = pd.Index(pd.unique(ids[started]))
            report.add_entities("customers", "no running subscription at as_of (the contract ended: already churned; "
                                "not scored)", missing.intersection(had))
            report.add_entities("customers", "no subscription before as_of (not a contract customer yet; not scored)",
                                missing.difference(had))
        return pop
    if business != "noncontractual":
        raise ParameterError(f"The 'business' parameter of churn_population must be 'noncontractual' or "
                             f"'contractual'. Got {business!r} instead.")
    tables.require("transactions", model="churn_population")
    tx = tables.transactions
    if cust is None:
        return _buyers_without_customers(tx, ts, active)
    # positions in the sorted customers table (shared with the feature builders of the same build)
    cust_sorted, index = customer_index(cust)
    signed = cust_sorted["signup_at"].to_numpy(dtype="datetime64[ns]") < cut
    codes = frame_codes(index, tx)  # -1: an id outside the customers table (never in the population)
    t = tx["ts"].to_numpy(dtype="datetime64[ns]")
    before = (t < cut) & (codes >= 0)
    amount = tx["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    bought = before & (amount >= 0)
    n = len(index)
    lapsed = np.zeros(n, dtype=bool)
    if active is not None:
        recent = t >= np.datetime64(ts - pd.Timedelta(days=active), "ns")
        lapsed[codes[bought]] = True
        lapsed[codes[bought & recent]] = False
        bought &= recent
    buyer = np.zeros(n, dtype=bool)
    buyer[codes[bought]] = True
    buyer &= signed
    pop = index[buyer]  # sorted: the index is
    if report is not None:
        missing = signed & ~buyer
        if active is not None:
            gone = missing & lapsed
            report.add_entities("customers", f"no purchase in the {active:g} days before as_of (lapsed: "
                                "active_within_days; not scored)", index[gone])
            missing &= ~gone
        seen = np.zeros(n, dtype=bool)
        seen[codes[before]] = True
        report.add_entities("customers", "only refunds or missing amounts before as_of (no purchase; not scored)",
                            index[missing & seen])
        report.add_entities("customers", "no purchase before as_of (not in the churn population; not scored)",
                            index[missing & ~seen])
    return pop


def _buyers_without_customers(tx: pd.DataFrame, ts: pd.Timestamp, active: float | None) -> pd.Index:
    """The non-contractual population when no ``customers`` table is supplied: buyers by transaction id."""
    cut = np.datetime64(ts, "ns")
    t = tx["ts"].to_numpy(dtype="datetime64[ns]")
    amount = tx["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(tx["customer_id"], use_na_sentinel=True)  # distinct ids only become objects
    codes = np.asarray(codes, dtype=np.int64)
    bought = (t < cut) & (amount >= 0) & (codes >= 0)
    if active is not None:
        bought &= t >= np.datetime64(ts - pd.Timedelta(days=active), "ns")
    buyer = np.zeros(len(uniques), dtype=bool)
    buyer[codes[bought]] = True
    return pd.Index(np.asarray(uniques, dtype=object)[buyer], name="customer_id").sort_values()
