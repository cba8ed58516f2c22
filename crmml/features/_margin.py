"""Gross margin per customer from ``transactions.cost``, as of a cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["customer_margin"]


def customer_margin(transactions: pd.DataFrame | None, as_of: pd.Timestamp, index: pd.Index) -> np.ndarray:
    """Each customer's gross margin ``1 − Σ cost / Σ amount`` over purchases before ``as_of``.

    Only purchases (``amount > 0``) with a finite ``cost`` strictly before
    ``as_of`` count, so a customer whose costs were never recorded is not
    taken as all margin.

    Parameters
    ----------
    transactions : DataFrame or None
        The contract's ``transactions`` table (``customer_id``, ``ts``,
        ``amount``; ``cost`` optional).
    as_of : pandas.Timestamp
    index : pandas.Index
        The customers, in output order.

    Returns
    -------
    numpy.ndarray
        float64 aligned with ``index``; NaN without a costed purchase (or
        without a ``cost`` column).

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [100.0, 50.0, 10.0], "cost": [60.0, 30.0, None],
    ...                    "ts": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-01-05"])})
    >>> customer_margin(tx, pd.Timestamp("2025-03-01"), pd.Index(["a", "b", "c"])).round(3).tolist()
    [0.4, nan, nan]
    """
    if transactions is None or "cost" not in transactions.columns:
        return np.full(len(index), np.nan)
    tx = transactions
    amount = tx["amount"].to_numpy(dtype="float64", na_value=np.nan)
    cost = tx["cost"].to_numpy(dtype="float64", na_value=np.nan)
    codes, uniques = pd.factorize(tx["customer_id"])
    pos_u = pd.Index(index).get_indexer(uniques)
    pos = np.where(codes >= 0, pos_u[np.maximum(codes, 0)], -1) if len(pos_u) else np.full(len(codes), -1)
    sel = (tx["ts"].to_numpy(dtype="datetime64[ns]") < np.datetime64(as_of, "ns")) & (amount > 0) \
        & np.isfinite(cost) & (pos >= 0)
    if not sel.any():
        return np.full(len(index), np.nan)
    revenue = np.bincount(pos[sel], weights=amount[sel], minlength=len(index))
    costs = np.bincount(pos[sel], weights=cost[sel], minlength=len(index))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(revenue > 0, 1.0 - costs / revenue, np.nan)
