"""Opportunity features as of a cutoff, for pipeline forecasts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmml.data import DEFAULT_OPEN_STAGES, CRMTables
from crmml.features._agg import as_category, codes_of, count_by, days, in_days, max_by, min_by, sum_by
from crmml.features._customer import invoice_features
from crmml.features._pit import as_of_view, to_timestamp
from crmml.features._subscriptions import subscription_features
from crmml.features._windows import check_windows

__all__ = ["opportunity_features"]


def opportunity_features(
    tables: CRMTables,
    as_of: object,
    *,
    windows: Sequence[int] = (30, 90, 365),
    open_stages: Sequence[str] = DEFAULT_OPEN_STAGES,
    owner_history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every opportunity open at ``as_of``.

    An opportunity is open at ``as_of`` when it was created before ``as_of``
    and its ``closed_at`` is missing in the view (not closed before
    ``as_of``). Its ``stage``, ``amount`` and ``expected_close_at`` are those
    of its latest ``opportunity_history`` row before ``as_of`` (see
    :func:`~crmml.features.as_of_view`).

    Parameters
    ----------
    tables : CRMTables
        Needs ``opportunities``; uses ``opportunity_history``,
        ``interactions``, ``contacts``, ``subscriptions`` and ``invoices``
        when present (the account's activity, buying center, contract and
        payment behaviour).
    as_of : str, date or Timestamp
    windows : sequence of int
        Trailing windows (days) for account activity.
    open_stages : sequence of str
        Open stages in pipeline order (``stage_index`` is the position).
    owner_history : DataFrame, optional
        Opportunities (``owner``, ``created_at``, ``closed_at``, ``won``)
        from which owners' win rates are computed; only those closed before
        ``as_of`` count. Defaults to ``tables.opportunities``. Partitioned
        builds pass the whole table here, because an owner's deals span
        partitions.

    Returns
    -------
    DataFrame
        Indexed by ``opportunity_id`` (sorted). See ``docs/features.md``.

    Examples
    --------
    >>> X = opportunity_features(tables, "2024-01-01")  # doctest: +SKIP
    """
    ts = to_timestamp(as_of)
    w = check_windows(windows, "opportunity_features")
    tables.require("opportunities", model="opportunity_features")
    view = as_of_view(tables, ts)
    allopp = view.opportunities
    opp = allopp.loc[allopp["closed_at"].isna().to_numpy()].sort_values("opportunity_id", kind="stable")
    index = pd.Index(opp["opportunity_id"], name="opportunity_id")
    now = ts.value / 86_400e9
    stage_pos = {s: i for i, s in enumerate(open_stages)}

    stage = opp["stage"]
    cols: dict[str, object] = {
        "stage": as_category(stage, index),
        "stage_index": np.array([stage_pos.get(s, np.nan) if isinstance(s, str) else np.nan
                                 for s in stage.astype(object)], dtype=np.float64),
        "age_days": now - days(opp["created_at"]),
        "amount": opp["amount"].to_numpy(dtype=np.float64, na_value=np.nan),
        "days_to_expected_close": days(opp["expected_close_at"]) - now,
    }
    if view.opportunity_history is not None:
        cols.update(_history_features(view.opportunity_history, index, now, stage_pos, cols["amount"]))

    acc = pd.Index(opp["customer_id"])
    accounts = pd.Index(pd.unique(allopp["customer_id"]))
    a_codes = codes_of(accounts, acc)
    na = len(accounts)
    all_codes = codes_of(accounts, allopp["customer_id"])
    closed = allopp["closed_at"].notna().to_numpy()
    won = allopp["won"].astype("boolean").fillna(False).to_numpy(dtype=bool) & closed
    cols["account_open_opportunities"] = count_by(all_codes, na, ~closed)[a_codes]
    cols["account_won_opportunities"] = count_by(all_codes, na, won)[a_codes]
    cols["account_lost_opportunities"] = count_by(all_codes, na, closed & ~won)[a_codes]
    if view.interactions is not None:
        ix = view.interactions
        ic = codes_of(accounts, ix["customer_id"])
        t = days(ix["ts"])
        for win in w:
            cols[f"account_interactions_{win}d"] = count_by(ic, na, in_days(t, now, win))[a_codes]
        cols["account_days_since_interaction"] = (now - max_by(ic, t, na))[a_codes]
    if view.subscriptions is not None:  # the account's contract: is it a customer, how much, how long
        sub = subscription_features(view.subscriptions, accounts, now)
        for k in ("mrr", "subscriptions_active", "days_to_term_end", "months_under_contract"):
            cols[f"account_{k}"] = sub[k][a_codes]
    if view.invoices is not None:  # the account's payment behaviour
        inv = invoice_features(view.invoices, accounts, now)
        for k in ("invoices_unpaid_overdue", "invoice_days_late_mean", "invoice_share_paid_late"):
            cols[f"account_{k}"] = inv[k][a_codes]
    if view.contacts is not None:
        ct = view.contacts
        cc = codes_of(accounts, ct["customer_id"])
        cols["account_contacts"] = count_by(cc, na)[a_codes]
        ok = cc >= 0
        roles = pd.DataFrame({"a": cc[ok], "r": ct["role"].to_numpy(dtype=object)[ok]}).drop_duplicates()
        cols["account_contact_roles"] = np.bincount(roles["a"].to_numpy(dtype=np.int64), minlength=na)[a_codes]

    hist = owner_history if owner_history is not None else tables.opportunities
    if "owner" in opp.columns and hist is not None and "owner" in hist.columns:
        cols.update(_owner_features(hist, opp["owner"], ts))
    return pd.DataFrame(cols, index=index)


def _history_features(hist: pd.DataFrame, index: pd.Index, now: float, stage_pos: dict[str, int],
                      amount_now: np.ndarray) -> dict[str, np.ndarray]:
    n = len(index)
    codes = codes_of(index, hist["opportunity_id"])
    keep = codes >= 0
    h = pd.DataFrame({
        "c": codes[keep],
        "t": days(hist["ts"])[keep],
        "stage": hist["stage"].to_numpy(dtype=object)[keep],
        "amount": hist["amount"].to_numpy(dtype=np.float64, na_value=np.nan)[keep],
        "close": days(hist["expected_close_at"])[keep],
    }).sort_values(["c", "t"], kind="stable")
    c = h["c"].to_numpy()
    t = h["t"].to_numpy()
    st = h["stage"].to_numpy()
    am = h["amount"].to_numpy()
    cl = h["close"].to_numpy()
    same = np.zeros(len(c), dtype=bool)
    same[1:] = c[1:] == c[:-1]  # row continues the previous row's opportunity
    prev = np.maximum(np.arange(len(c)) - 1, 0)
    stage_changed = same & (st != st[prev])
    si = np.array([stage_pos.get(s, np.nan) if isinstance(s, str) else np.nan for s in st], dtype=np.float64)
    regress = same & (si < si[prev])
    amount_changed = same & (am != am[prev])
    delta_close = np.where(same, cl - cl[prev], 0.0)
    slip = delta_close > 0
    run_start = ~same | stage_changed  # first row of each run of equal stages
    cols: dict[str, np.ndarray] = {}
    first = ~same
    amount_initial = np.full(n, np.nan)
    amount_initial[c[first]] = am[first]
    cols["amount_initial"] = amount_initial
    cols["amount_change"] = amount_now - amount_initial
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["amount_change_ratio"] = np.where(amount_initial > 0, amount_now / amount_initial - 1.0, np.nan)
    cols["n_amount_changes"] = count_by(c, n, amount_changed)
    cols["n_stage_changes"] = count_by(c, n, stage_changed)
    cols["n_stage_regressions"] = count_by(c, n, regress)
    cols["n_close_slips"] = count_by(c, n, slip)
    cols["close_slip_days"] = sum_by(c, np.where(slip, delta_close, 0.0), n)
    cols["days_in_stage"] = now - max_by(c, t, n, run_start)
    cols["days_since_update"] = now - max_by(c, t, n)
    cols["days_since_first_history"] = now - min_by(c, t, n)
    return cols


def _owner_features(hist: pd.DataFrame, owners: pd.Series, ts: pd.Timestamp) -> dict[str, np.ndarray]:
    closed_at = hist["closed_at"]
    known = ((hist["created_at"] < ts) & (closed_at < ts)).to_numpy(dtype=bool, na_value=False)
    h = hist.loc[known]
    won = h["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    o_idx = pd.Index(pd.unique(h["owner"].dropna()))
    oc = codes_of(o_idx, h["owner"])
    no = len(o_idx)
    n_closed = count_by(oc, no)
    n_won = count_by(oc, no, won)
    pos = codes_of(o_idx, owners)
    ok = pos >= 0
    closed_n = np.where(ok, n_closed[np.where(ok, pos, 0)], 0) if no else np.zeros(len(owners), np.int64)
    won_n = np.where(ok, n_won[np.where(ok, pos, 0)], 0) if no else np.zeros(len(owners), np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(closed_n > 0, won_n / np.maximum(closed_n, 1), np.nan)
    return {"owner_closed_count": closed_n.astype(np.int64), "owner_win_rate": rate}
