"""Benchmark: ``make_b2b_world`` at 1,000 and 5,000 accounts, whole call and opportunity part.

Run ``python benchmarks/bench_synthetic_b2b.py`` (sizes 1,000 and 5,000, 3 repeats each). Prints
the min-max wall time of the whole call and of its opportunity part (renewal and upsell deals,
stage walks and the ``opportunities`` / ``opportunity_history`` / truth tables, i.e. the private
``crmml.synthetic._b2b._opportunities``). ``--legacy`` also times the former per-deal Python loop
implementation of that part (kept here only, for comparison: it reproduces the pre-vectorisation
worlds bit for bit). ``--sizes`` and ``--repeats`` change the grid.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


# --------------------------------------------------------------------------- legacy (loop) implementation
@dataclass
class _Deal:
    account: int
    kind: str
    created: float
    close: float  # may be >= window end (still open at end)
    won: bool
    prob: float
    amount: float
    owner: int


def _walk(rng: np.random.Generator, deal: _Deal, p: Any, days: float
          ) -> tuple[list[tuple[float, str, float, float]], float | None, bool | None]:
    """Stage walk of one deal; returns history rows ``(t, stage, amount, expected_close)``."""
    from crmml.data import DEFAULT_OPEN_STAGES
    from crmml.synthetic._rng import DAYS_PER_MONTH, choice_codes

    n_open = len(DEFAULT_OPEN_STAGES)
    if deal.won:
        target = n_open - 1
    else:  # lost deals stop earlier when unlikely to win
        w = np.array([1.0 - deal.prob, 1.0, deal.prob + 0.5, deal.prob + 0.2])[:n_open]
        target = int(choice_codes(rng, w, 1)[0])
    path = [0]
    cur, steps = 0, 0
    while cur < target and steps < 12:
        steps += 1
        u = rng.random()
        if cur > 0 and u < p.regress_prob:
            cur -= 1
        elif cur + 2 <= target and u < p.regress_prob + p.skip_prob:
            cur += 2
        else:
            cur += 1
        path.append(cur)
    span = deal.close - deal.created
    events: list[tuple[float, str, object]] = []
    for t, st in zip(np.sort(deal.created + rng.random(len(path) - 1) * span), path[1:], strict=True):
        events.append((float(t), "stage", DEFAULT_OPEN_STAGES[st]))
    n_slip = rng.poisson(p.slip_rate_per_month * (1.0 - deal.prob) * span / DAYS_PER_MONTH)
    for t in deal.created + rng.random(n_slip) * span:
        events.append((float(t), "slip", float(rng.uniform(14, 45))))
    if rng.random() < p.amount_change_prob:
        events.append((float(deal.created + rng.random() * span), "amount",
                       float(np.exp(rng.normal(0.0, 0.15)))))
    events.sort(key=lambda e: e[0])
    planned = deal.created + max(7.0, rng.gamma(3.0, p.cycle_mean_days / 3.0))
    if deal.kind == "renewal":
        planned = deal.close
    stage, amount, exp_close = DEFAULT_OPEN_STAGES[0], round(deal.amount, 2), planned
    rows = [(deal.created, stage, amount, exp_close)]
    for t, what, val in events:
        if t >= days:
            break
        if what == "stage":
            stage = str(val)
        elif what == "slip":
            exp_close = max(exp_close, t) + float(val)  # type: ignore[arg-type]
        else:
            amount = round(amount * float(val), 2)  # type: ignore[arg-type]
        if exp_close < t:
            exp_close = t + float(rng.uniform(7, 30))
        rows.append((t, stage, amount, exp_close))
    if deal.close < days:
        rows.append((deal.close, "closed_won" if deal.won else "closed_lost", amount, deal.close))
        return rows, deal.close, deal.won
    return rows, None, None


def legacy_opportunities(seed: int, p: Any, days: float, s0: int, acc_ids: pd.Series, new_business: Any,
                         terms: Any, h: np.ndarray, frac: np.ndarray, a_lo: np.ndarray, a_hi: np.ndarray,
                         owner_skill: np.ndarray, value0: np.ndarray
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The former per-deal loops; same signature and tables as ``crmml.synthetic._b2b._opportunities``."""
    from crmml.synthetic._b2b import KINDS, _ids, _ts
    from crmml.synthetic._rng import rng_for, sigmoid

    n_months = h.shape[1]
    t_acc, t_s, t_e, t_val, t_prob, t_ren = (terms.account, terms.start, terms.end, terms.value, terms.prob,
                                             terms.renewed)
    n_sub = t_acc.size
    nb = new_business
    deals = [_Deal(int(nb.account[i]), KINDS[nb.kind[i]], float(nb.created[i]), float(nb.close[i]),
                   bool(nb.won[i]), float(nb.prob[i]), float(nb.amount[i]), int(nb.owner[i]))
             for i in range(len(nb))]
    rng = rng_for(seed, 8)
    for j in range(n_sub):
        created = t_e[j] - p.renewal_lead_days
        if created >= days:
            continue
        created = max(created, t_s[j] + 1.0)
        if created >= days:
            continue
        close = t_e[j] - rng.uniform(0.5, 14.0)
        close = max(close, created + 1.0)
        next_value = t_val[j + 1] if (t_ren[j] and j + 1 < n_sub and t_acc[j + 1] == t_acc[j]) else t_val[j]
        deals.append(_Deal(int(t_acc[j]), "renewal", float(created), float(close), bool(t_ren[j]),
                           float(t_prob[j]), float(12 * next_value), int(rng.integers(0, p.n_owners))))
    up_cnt = rng.poisson(p.upsell_rate_per_year / 12.0 * frac * np.exp(0.5 * h)).ravel()
    cell = np.repeat(np.arange(up_cnt.size), up_cnt)
    ua, um = np.divmod(cell, n_months)
    lo_c = np.nan_to_num(a_lo.ravel()[cell])
    ut = lo_c + rng.random(cell.size) * (a_hi.ravel()[cell] - lo_c)
    for a_i, m_i, t_i in zip(ua, um, ut, strict=True):
        if t_i >= days:
            continue
        own = int(rng.integers(0, p.n_owners))
        prob = float(sigmoid(p.upsell_intercept + p.upsell_win_health * h[a_i, m_i] + owner_skill[own]
                             + p.deal_noise_sd * rng.standard_normal()))
        cyc = rng.gamma(3.0, p.cycle_mean_days / 3.0) * (1.0 + 1.5 * (1.0 - prob)) + 3.0
        cur_val = t_val[(t_acc == a_i) & (t_s <= t_i)]
        base_val = cur_val[-1] if cur_val.size else value0[a_i]
        deals.append(_Deal(int(a_i), "upsell", float(t_i), float(t_i + cyc), bool(rng.random() < prob),
                           prob, float(12 * base_val * rng.uniform(0.1, 0.5)), own))

    deals.sort(key=lambda d: (d.created, d.account))
    rng = rng_for(seed, 9)
    opp_ids = _ids("O", len(deals))
    owner_names = [f"rep_{i + 1:02d}" for i in range(p.n_owners)]
    h_rows, o_rows = [], []
    acc_np = acc_ids.to_numpy()
    for oid, d in zip(opp_ids, deals, strict=True):
        rows, closed, won = _walk(rng, d, p, days)
        for t, st, amt, ec in rows:
            h_rows.append((oid, t, st, amt, ec))
        t, st, amt, ec = rows[-1]
        o_rows.append((oid, acc_np[d.account], d.created, amt, st, ec,
                       np.nan if closed is None else closed, won, owner_names[d.owner]))
    hist = pd.DataFrame(h_rows, columns=["opportunity_id", "t", "stage", "amount", "ec"])
    opportunity_history = pd.DataFrame({
        "opportunity_id": hist["opportunity_id"].astype(str),
        "ts": _ts(s0, hist["t"].to_numpy()),
        "stage": hist["stage"].astype(str),
        "amount": hist["amount"].astype(np.float64),
        "expected_close_at": _ts(s0, hist["ec"].to_numpy()),
    })
    od = pd.DataFrame(o_rows, columns=["opportunity_id", "customer_id", "created", "amount", "stage",
                                       "ec", "closed", "won", "owner"])
    opportunities = pd.DataFrame({
        "opportunity_id": od["opportunity_id"].astype(str),
        "customer_id": od["customer_id"].astype(str),
        "created_at": _ts(s0, od["created"].to_numpy()),
        "amount": od["amount"].astype(np.float64),
        "stage": od["stage"].astype(str),
        "expected_close_at": _ts(s0, od["ec"].to_numpy()),
        "closed_at": _ts(s0, od["closed"].to_numpy(dtype=np.float64)),
        "won": pd.array(od["won"].tolist(), dtype="boolean"),
        "owner": od["owner"].astype(str),
    })
    truth = pd.DataFrame({
        "opportunity_id": opp_ids,
        "customer_id": opportunities["customer_id"],
        "kind": pd.Series([d.kind for d in deals], dtype=str),
        "win_probability": np.array([d.prob for d in deals], dtype=np.float64),
        "won": np.array([d.won for d in deals], dtype=bool),
        "closed_in_window": opportunities["closed_at"].notna().to_numpy(),
        "close_at": _ts(s0, np.array([d.close for d in deals], dtype=np.float64)),
    })
    return opportunities, opportunity_history, truth


# --------------------------------------------------------------------------- timing
def time_worlds(n_accounts: int, repeats: int, opportunities: Callable[..., Any] | None = None
                ) -> tuple[list[float], list[float]]:
    """Seconds of ``make_b2b_world(n_accounts, seed=0)`` and of its opportunity part, per repeat.

    Parameters
    ----------
    n_accounts : int
    repeats : int
    opportunities : callable or None
        Replacement for ``_b2b._opportunities`` (e.g. :func:`legacy_opportunities`); None keeps the
        library's.

    Returns
    -------
    total, opportunity_part : list of float
    """
    import crmml.synthetic._b2b as b2b

    inner = opportunities or b2b._opportunities
    part: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = inner(*args, **kwargs)
        part.append(time.perf_counter() - t0)
        return out

    saved = b2b._opportunities
    b2b._opportunities = timed
    total = []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            b2b.make_b2b_world(n_accounts, seed=0)
            total.append(time.perf_counter() - t0)
    finally:
        b2b._opportunities = saved
    return total, part


def _span(v: list[float], unit: float = 1.0) -> str:
    return f"{min(v) * unit:8.3f} - {max(v) * unit:8.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000], help="numbers of accounts")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--legacy", action="store_true", help="also time the former per-deal loop implementation")
    args = ap.parse_args(argv)

    from crmml.synthetic import make_b2b_world

    make_b2b_world(50, seed=0)  # warm-up (imports, caches)
    variants: list[tuple[str, Callable[..., Any] | None]] = [("vectorised", None)]
    if args.legacy:
        variants.append(("legacy loop", legacy_opportunities))
    print(f"make_b2b_world(n, seed=0), {args.repeats} repeats, min - max")
    print(f"{'accounts':>8}  {'implementation':<12}  {'whole call [s]':>19}  {'opportunity part [ms]':>21}")
    for n in args.sizes:
        for name, fn in variants:
            total, part = time_worlds(n, args.repeats, fn)
            print(f"{n:>8,}  {name:<12}  {_span(total)}  {_span(part, 1e3):>21}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
