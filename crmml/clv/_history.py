"""The discounted CLV formula with its inputs taken from history (no model).

``formula_clv`` is the transparent baseline next to the probabilistic models:
each customer's revenue and cost per period are their averages over a
lookback window, retention is given or estimated from the population, and
the value is :func:`crmml.clv.discounted_clv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmml._validation import Interval, check_param
from crmml.clv._formula import discounted_clv
from crmml.data import CRMTables, ExclusionReport
from crmml.features import as_of_view, to_timestamp

__all__ = ["formula_clv", "estimate_retention"]

_NS_PER_DAY = 86_400e9


def _window_mask(t_ns: np.ndarray, end_ns: int, length_days: float) -> np.ndarray:
    return (t_ns >= end_ns - length_days * _NS_PER_DAY) & (t_ns < end_ns)


def estimate_retention(transactions: pd.DataFrame, as_of: Any, *, window_days: float, periods: int) -> float:
    """Per-period retention estimated from two consecutive windows.

    Of the customers who bought in ``[as_of − 2w, as_of − w)``, the share who
    bought again in ``[as_of − w, as_of)`` is the window retention ``R``; the
    per-period retention is ``R ** (1 / periods)`` (``w`` spans ``periods``
    periods). Only rows strictly before ``as_of`` are read.

    Returns
    -------
    float
        In [0, 1]; 0 when nobody bought in the earlier window.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "b", "a"], "amount": [10.0, 5.0, 7.0],
    ...     "ts": pd.to_datetime(["2024-01-10", "2024-01-20", "2024-02-10"])})
    >>> estimate_retention(tx, "2024-03-01", window_days=30, periods=1)
    0.5
    """
    end = to_timestamp(as_of).value
    t = transactions["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    buy = transactions["amount"].to_numpy(dtype="float64") > 0
    ids = transactions["customer_id"].to_numpy()
    before = set(ids[buy & _window_mask(t, end - int(window_days * _NS_PER_DAY), window_days)])
    if not before:
        return 0.0
    after = set(ids[buy & _window_mask(t, end, window_days)])
    return float(len(before & after) / len(before)) ** (1.0 / periods)


def formula_clv(
    tables: CRMTables,
    as_of: Any,
    *,
    period_days: float = 365.25 / 12,
    lookback_periods: int = 12,
    horizon: int = 12,
    discount_rate: float = 0.01,
    retention: float | None = None,
    margin: float | None = None,
    subtract_acquisition_cost: bool = False,
) -> pd.DataFrame:
    r"""Discounted CLV with per-customer revenue and cost per period from history.

    For every customer with a transaction before ``as_of``:

    * ``revenue_per_period`` — net revenue (purchases minus refunds, floored at
      0) in the last ``lookback_periods`` periods, divided by the number of
      those periods the customer has been around (from the first purchase,
      at least 1);
    * ``cost_per_period`` — the same average of ``transactions.cost`` (net of
      refunded rows), or ``(1 − margin) · revenue`` when ``margin`` is given;
      0 without either (revenue CLV);
    * ``retention`` — the given per-period retention, else
      :func:`estimate_retention` over two consecutive lookback windows;
    * ``clv`` — :math:`\sum_{t=1}^{H} (R - C)\, r^t / (1+d)^t` (minus
      ``customers.acquisition_cost`` when ``subtract_acquisition_cost``).

    Parameters
    ----------
    tables : CRMTables
        Needs ``transactions``; ``customers`` for acquisition costs.
    as_of : timestamp-like
        Only rows strictly before it are used.
    period_days : float, default 365.25 / 12
        Length of one period (a month by default).
    lookback_periods : int, default 12
    horizon : int, default 12
        Periods ``H`` to project.
    discount_rate : float, default 0.01
        Per-period discount rate ``d``.
    retention : float, optional
        Per-period retention ``r``; estimated when ``None``.
    margin : float, optional
        Gross margin in (0, 1], overriding ``transactions.cost``.
    subtract_acquisition_cost : bool, default False
        Subtract ``customers.acquisition_cost`` (for prospective / cohort
        value; it is sunk for existing customers).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``revenue_per_period``,
        ``cost_per_period``, ``retention``, ``clv``;
        ``attrs["exclusions"]`` counts rows left out.

    References
    ----------
    .. [1] Gupta, S. & Lehmann, D. R. (2003). Customers as assets. Journal of
       Interactive Marketing 17(1), 9-24.
    """
    owner = "formula_clv"
    check_param(owner, "period_days", period_days, [Interval(0, None, closed="neither")])
    check_param(owner, "lookback_periods", lookback_periods, [Interval(1, None, integer=True)])
    check_param(owner, "horizon", horizon, [Interval(0, None, integer=True)])
    check_param(owner, "discount_rate", discount_rate, [Interval(0, None)])
    check_param(owner, "retention", retention, [Interval(0, 1), None])
    check_param(owner, "margin", margin, [Interval(0, 1, closed="right"), None])
    tables.require("transactions", model=owner)
    ts = to_timestamp(as_of)
    view = as_of_view(tables.replace(**{n: None for n in tables.present()
                                        if n not in ("transactions", "customers")}), ts)
    tx = view.transactions
    report = ExclusionReport()
    missing_amount = tx["amount"].isna()
    report.add_mask("transactions", "missing amount", tx, missing_amount, "transaction_id")
    tx = tx.loc[~missing_amount.to_numpy()]

    lookback_days = lookback_periods * period_days
    end = ts.value
    t = tx["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    codes, uniques = pd.factorize(tx["customer_id"], sort=True)
    n = len(uniques)
    in_window = _window_mask(t, end, lookback_days)
    amount = tx["amount"].to_numpy(dtype="float64")
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, t)
    periods_seen = np.clip(np.ceil((end - first) / _NS_PER_DAY / period_days), 1, lookback_periods)
    revenue = np.maximum(np.bincount(codes, weights=np.where(in_window, amount, 0.0), minlength=n), 0.0)
    revenue_pp = revenue / periods_seen
    if margin is not None:
        cost_pp = revenue_pp * (1.0 - margin)
    elif "cost" in tx.columns:
        cost = tx["cost"].to_numpy(dtype="float64", na_value=0.0)
        signed = np.where(amount < 0, -np.abs(cost), cost)  # a refunded row returns its cost
        cost_pp = np.maximum(np.bincount(codes, weights=np.where(in_window, signed, 0.0), minlength=n), 0.0) \
            / periods_seen
    else:
        cost_pp = np.zeros(n)
    r = retention if retention is not None else estimate_retention(
        tx, ts, window_days=lookback_days, periods=lookback_periods)
    acq = np.zeros(n)
    if subtract_acquisition_cost and view.customers is not None and "acquisition_cost" in view.customers:
        ac = view.customers.set_index("customer_id")["acquisition_cost"]
        acq = ac.reindex(uniques).fillna(0.0).to_numpy(dtype="float64")
    clv = discounted_clv(revenue_pp, cost_pp, retention=r, discount_rate=discount_rate, horizon=horizon,
                         acquisition_cost=acq)
    out = pd.DataFrame({
        "revenue_per_period": revenue_pp,
        "cost_per_period": cost_pp,
        "retention": np.full(n, float(r)),
        "clv": np.asarray(clv, dtype="float64") if n else np.zeros(0),
    }, index=pd.Index(uniques, name="customer_id"))
    out.attrs["exclusions"] = report.to_dict()
    return out
