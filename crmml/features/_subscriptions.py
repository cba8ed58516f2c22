"""Subscription (contract) state of each account as of a cutoff.

The one implementation of contract features, shared by
:func:`~crmml.features.customer_features` (churn) and the contractual CLV
model. A subscription's ``end_at`` after ``as_of`` is unknown at ``as_of``
(the point-in-time view masks it), so a running subscription is valued by its
**current term**: terms of ``term_days`` restart at ``start_at`` and every
``term_days`` after it, so an open-ended subscription started 2023-01-01 is,
on 2025-06-01, 152 days into its third annual term — not 882 days into an
expired first one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmml.features._agg import codes_of, count_by, days, max_by, min_by, sum_by

__all__ = ["TERM_DAYS", "subscription_features"]

TERM_DAYS = 365
"""Default contract term in days (annual contracts)."""

_DAYS_PER_MONTH = 30.4375


def subscription_features(sub: pd.DataFrame, index: pd.Index, now: float,
                          term_days: float = TERM_DAYS) -> dict[str, np.ndarray]:
    """Per-account contract state from a point-in-time ``subscriptions`` view.

    Parameters
    ----------
    sub : DataFrame
        ``subscriptions`` as seen at the cutoff (from
        :func:`~crmml.features.as_of_view`: ``end_at`` is NaT when the
        subscription had not ended before the cutoff).
    index : pandas.Index
        The accounts (``customer_id``) to describe, in output order.
    now : float
        The cutoff in days since the epoch.
    term_days : float
        Contract term length.

    Returns
    -------
    dict of str to numpy.ndarray
        ``subscriptions_active``, ``subscriptions_ended``, ``mrr`` (monthly
        value of the running subscriptions), ``days_in_current_term`` and
        ``days_to_term_end`` (of the latest running subscription; NaN without
        one), ``months_under_contract`` and ``days_since_first_subscription``.

    Examples
    --------
    >>> import pandas as pd
    >>> sub = pd.DataFrame({"customer_id": ["a"], "start_at": pd.to_datetime(["2023-01-01"]),
    ...                     "end_at": pd.to_datetime([None]), "monthly_value": [1000.0]})
    >>> now = pd.Timestamp("2025-06-01").value / 86_400e9
    >>> f = subscription_features(sub, pd.Index(["a"]), now)
    >>> float(f["days_in_current_term"][0]), float(f["mrr"][0])
    (152.0, 1000.0)
    """
    n = len(index)
    codes = codes_of(index, sub["customer_id"])
    start = days(sub["start_at"])
    end = days(sub["end_at"])  # NaT: open-ended, or ending at/after the cutoff (unknown yet)
    active = np.isnan(end)
    value = sub["monthly_value"].to_numpy(dtype=np.float64, na_value=np.nan)
    cols: dict[str, np.ndarray] = {
        "subscriptions_active": count_by(codes, n, active),
        "subscriptions_ended": count_by(codes, n, ~active),
        "mrr": sum_by(codes, value, n, active),
    }
    latest_start = max_by(codes, start, n, active)
    elapsed = now - latest_start
    cols["days_in_current_term"] = np.mod(elapsed, term_days)
    cols["days_to_term_end"] = term_days - cols["days_in_current_term"]
    covered = np.where(active, now, end) - start
    cols["months_under_contract"] = sum_by(codes, covered / _DAYS_PER_MONTH, n)
    cols["days_since_first_subscription"] = now - min_by(codes, start, n)
    return cols
