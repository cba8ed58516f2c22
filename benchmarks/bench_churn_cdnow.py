"""Churn on real data: the CDNOW master file that lifetimes ships (23,570 customers, Jan 1997 – Jun 1998).

Non-contractual (B2C) churn with a 90-day horizon, fitted as of 1998-04-01 on
4 cutoffs (1997-04-06 … 1998-01-01) and evaluated **out of time** on the
customers at 1998-04-01: churned = no purchase in [1998-04-01, 1998-06-30).
CDNOW has purchases only (no interactions, invoices or contracts), so the
model sees RFM, trends and purchase rhythm. There is no latent truth on real
data: the comparison is with the recency baseline on the same rows, and a
BG/NBD fitted by crmml on the history before as_of (P(no purchase in 90 days)
from its posterior), the classic model for this data.

Usage::

    python benchmarks/bench_churn_cdnow.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from lifetimes.datasets import load_dataset
from sklearn.metrics import roc_auc_score

import crmml
from crmml.churn import ChurnModel
from crmml.clv import BetaGeoModel
from crmml.features import noncontractual_churn_labels, rfm_summary
from crmml.supervised import compare_to_baseline, evaluate

AS_OF = pd.Timestamp("1998-04-01")
H = 90


def cdnow_tables() -> crmml.data.CRMTables:
    raw = load_dataset("CDNOW_master.txt", header=None, sep=r"\s+", skiprows=1,
                       names=["customer_id", "date", "cds", "amount"], dtype={"customer_id": str, "date": str})
    ts = pd.to_datetime(raw["date"], format="%Y%m%d")
    tx = pd.DataFrame({"transaction_id": [f"t{i}" for i in range(len(raw))], "customer_id": raw["customer_id"],
                       "ts": ts, "amount": raw["amount"].astype(float)})
    customers = tx.groupby("customer_id", as_index=False)["ts"].min().rename(columns={"ts": "signup_at"})
    return crmml.load_tables({"customers": customers, "transactions": tx})


def bgnbd_churn(tables, as_of, h) -> pd.Series:
    """P(no purchase in [as_of, as_of + h) | history) from a BG/NBD fitted on the history (daily grid)."""
    s = rfm_summary(tables.transactions, as_of, freq="D")
    m = BetaGeoModel().fit(s)
    r, alpha = m.params_["r"], m.params_["alpha"]
    x, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "T"))
    p_alive = m.probability_alive(s).to_numpy()
    p_none_alive = ((alpha + T) / (alpha + T + h)) ** (r + x)
    return pd.Series(1.0 - p_alive * (1.0 - p_none_alive), index=s.index)


def main() -> None:
    t = cdnow_tables()
    print(f"CDNOW: {len(t.customers):,} customers, {len(t.transactions):,} transactions, "
          f"{t.transactions['ts'].min().date()} – {t.transactions['ts'].max().date()}")
    t0 = time.perf_counter()
    model = ChurnModel(horizon_days=H, num_threads=2).fit(t, AS_OF)
    fit_s = time.perf_counter() - t0
    scores = model.score(t, AS_OF)
    y = noncontractual_churn_labels(t, AS_OF, H)["churned"].reindex(scores.index).to_numpy()
    feats = model.build_features(t, AS_OF).set_index("customer_id").loc[scores.index]
    p = scores["churn_probability"].to_numpy()
    ev = evaluate(y, p)
    base = compare_to_baseline(y, p, feats["recency_days"].to_numpy(), direction="increasing")
    bg = bgnbd_churn(t, AS_OF, H).reindex(scores.index).to_numpy()
    print(f"out of time at {AS_OF.date()} (90 days): {len(y):,} customers, churn rate {y.mean():.3f}; "
          f"fit {fit_s:.1f} s on cutoffs {[str(c.date()) for c in model.cutoffs_]}, {model.model_.tree_.num_trees} trees")
    print(f"{'':22}{'ROC AUC':>9}{'Brier':>9}{'ECE':>9}")
    print(f"{'model':22}{ev.roc_auc:>9.4f}{ev.brier:>9.4f}{ev.ece:>9.4f}")
    bev = evaluate(y, bg)
    print(f"{'BG/NBD posterior':22}{bev.roc_auc:>9.4f}{bev.brier:>9.4f}{bev.ece:>9.4f}")
    print(f"{'baseline (recency)':22}{base.baseline.roc_auc:>9.4f}{base.baseline.brier:>9.4f}{base.baseline.ece:>9.4f}")
    for tier in ("low", "medium", "high"):
        sel = (scores["risk_tier"].astype(str) == tier).to_numpy()
        if sel.any():
            print(f"  {tier}: n={sel.sum():,} predicted {p[sel].mean():.3f} observed {y[sel].mean():.3f}")
    print("roc auc check:", round(roc_auc_score(y, p), 4), "| reasons of the top customer:",
          scores.sort_values("churn_probability").iloc[-1][["reason_1", "reason_2"]].tolist())
    assert np.isfinite(p).all()


if __name__ == "__main__":
    main()
