"""Calendar periods of a forecast: the period holding ``as_of`` and the ones after it."""

from __future__ import annotations

import pandas as pd

from crmml.exceptions import ParameterError

__all__ = ["PERIODS", "period_bounds"]

PERIODS = {"quarter": "Q", "month": "M"}
"""Period names and their pandas period codes."""


def period_bounds(as_of: pd.Timestamp, period: str, n: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` of the period holding ``as_of`` and the ``n - 1`` periods after it.

    Examples
    --------
    >>> [(str(a.date()), str(b.date())) for a, b in period_bounds(pd.Timestamp("2025-05-10"), "quarter", 2)]
    [('2025-04-01', '2025-07-01'), ('2025-07-01', '2025-10-01')]
    """
    if period not in PERIODS:
        raise ParameterError(f"The 'period' parameter must be one of {sorted(PERIODS)}. Got {period!r} instead.")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 24:
        raise ParameterError(f"The 'periods' parameter must be an int in [1, 24]. Got {n!r} instead.")
    first = pd.Period(as_of.tz_localize(None) if as_of.tzinfo else as_of, freq=PERIODS[period])
    out = []
    for k in range(n):
        p = first + k
        out.append((p.start_time.normalize(), (p + 1).start_time.normalize()))
    return out
