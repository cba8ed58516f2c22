"""Period bookings: booked so far, open deals simulated, new deals from history, the stage-weighted baseline.

Pure functions on arrays and the point-in-time view; :meth:`PipelineForecastModel.forecast`
puts them together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["QUANTILES", "new_business_history", "simulate_open", "stage_win_rates"]

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
"""The reported quantiles: ``p10`` … ``p90``."""
NEW_BUSINESS_WEEKS = 52
"""Weekly historical origins from which the bookings of deals not yet created are resampled."""
_CHUNK = 2_000_000  # deals × draws per block of the simulation


def simulate_open(bounds: np.ndarray, amount: np.ndarray, group: np.ndarray, n_groups: int, n_sims: int,
                  seed: int) -> np.ndarray:
    """Simulated bookings of open deals per period, group and draw.

    Each deal draws one uniform ``u`` per simulation and is won in period
    ``k`` when ``F(start_k) <= u < F(end_k)`` (``F`` its P(won by t)), so it
    is won in at most one period and with exactly the model's probability.

    Parameters
    ----------
    bounds : ndarray, shape (n_deals, n_periods + 1)
        ``F`` at the period boundaries (non-decreasing per row; 0 at as_of).
    amount : ndarray, shape (n_deals,)
    group : ndarray of int, shape (n_deals,)
        Group code per deal in ``[0, n_groups)``.
    n_groups, n_sims, seed : int

    Returns
    -------
    ndarray, shape (n_periods, n_groups, n_sims)
    """
    n, k1 = bounds.shape
    out = np.zeros((k1 - 1, n_groups, n_sims))
    if n == 0:
        return out
    rng = np.random.default_rng(seed)
    onehot = np.zeros((n, n_groups))
    onehot[np.arange(n), group] = np.nan_to_num(amount)
    step = max(1, _CHUNK // n)
    for s0 in range(0, n_sims, step):
        s1 = min(n_sims, s0 + step)
        u = rng.random((s1 - s0, n))
        for k in range(k1 - 1):
            hit = (u >= bounds[:, k]) & (u < bounds[:, k + 1])
            out[k, :, s0:s1] = (hit.astype(np.float64) @ onehot).T
    return out


def new_business_history(opps: pd.DataFrame, as_of: pd.Timestamp, periods: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
                         group: np.ndarray, n_groups: int, weeks: int = NEW_BUSINESS_WEEKS) -> np.ndarray:
    """Bookings of deals created after a past origin, in the same window relative to it, for each weekly origin.

    For period ``[s, e)`` and origin ``o = as_of - 7 j`` (``j = 1..weeks``,
    kept while ``o + (e - as_of) <= as_of``, so the outcome is known): the
    amount won in ``[o + (s - as_of)⁺, o + (e - as_of))`` by deals created in
    ``[o, o + (e - as_of))``. Deals won before ``as_of`` only (``opps`` is
    the point-in-time view).

    Returns
    -------
    ndarray, shape (n_periods, n_groups, n_origins_max)
        NaN where an origin is too recent for that period.
    """
    won = opps["won"].astype("boolean").fillna(False).to_numpy(dtype=bool) & opps["closed_at"].notna().to_numpy()
    created = opps["created_at"].to_numpy(dtype="datetime64[ns]")[won]
    closed = opps["closed_at"].to_numpy(dtype="datetime64[ns]")[won]
    amount = opps["amount"].to_numpy(dtype=np.float64, na_value=np.nan)[won]
    g = group[won]
    out = np.full((len(periods), n_groups, weeks), np.nan)
    a = as_of.to_datetime64()
    for k, (s, e) in enumerate(periods):
        lo_off = max(s - as_of, pd.Timedelta(0)).to_timedelta64()
        hi_off = (e - as_of).to_timedelta64()
        for j in range(1, weeks + 1):
            o = a - np.timedelta64(7 * j, "D")
            if o + hi_off > a:
                continue
            sel = (created >= o) & (created < o + hi_off) & (closed >= o + lo_off) & (closed < o + hi_off)
            out[k, :, j - 1] = np.bincount(g[sel], weights=np.nan_to_num(amount[sel]), minlength=n_groups)
    return out


def stage_win_rates(opps: pd.DataFrame, history: pd.DataFrame | None, open_stages: Sequence[str]) -> dict[str, float]:
    """Historical win rate of each open stage: among deals closed before as_of that were ever in it, the share won.

    ``opps`` and ``history`` are the point-in-time view. Without history, a
    deal counts for the stage it closed from (its last open stage is unknown:
    the overall win rate is used for every stage).
    """
    closed = opps.loc[opps["closed_at"].notna()]
    won = closed.set_index("opportunity_id")["won"].astype("boolean").fillna(False)
    overall = float(won.mean()) if len(won) else float("nan")
    if history is None or not len(closed):
        return {s: overall for s in open_stages}
    # (deal, stage) pairs as integer codes: one hash look-up per history row, no string sort or isin
    won_arr = won.to_numpy(dtype=bool)
    pos = pd.Index(won.index).get_indexer(history["opportunity_id"])
    keep = pos >= 0
    stages, uniq = pd.factorize(history["stage"].to_numpy(dtype=object)[keep])
    ok = stages >= 0
    ever = np.zeros((len(won_arr), len(uniq)), dtype=bool)  # deal was ever in stage
    ever[pos[keep][ok], stages[ok]] = True
    code = {str(v): k for k, v in enumerate(uniq)}
    out = {}
    for s in open_stages:
        inside = ever[:, code[s]] if s in code else np.zeros(len(won_arr), dtype=bool)
        out[s] = float(won_arr[inside].mean()) if inside.any() else overall
    return out
