"""Benchmark crmml.churn.ChurnModel: quality against the latent-state oracle and the baseline, and speed.

Usage::

    python benchmarks/bench_churn.py            # full sizes
    python benchmarks/bench_churn.py --quick    # smaller worlds

Quality (B2C and B2B synthetic worlds, fit as of 2025-07-01 on 4 cutoffs,
evaluated **out of time** on the population at as_of, whose 90-day label
window [as_of, as_of + 90 d) lies inside the simulated data):

* model vs **oracle** vs **baseline** on the same rows — ROC AUC, PR AUC,
  Brier, ECE (10 equal-mass bins), per-tier mean predicted vs observed;
  B2C oracle: P(no purchase in the horizon | true rate λ and alive state) =
  1 if the customer dropped out before as_of, else exp(−λ·h) (BG/NBD: a
  customer drops out right after a purchase, so an alive customer buys at
  rate λ until then); B2B oracle: 1 − the true renewal probability of the
  running term when it ends inside the horizon, else 0.
  Baseline: B2C days since the last purchase, B2B days to the term end
  (decreasing), each turned into a probability by a cross-fitted isotonic
  regression (``compare_to_baseline``);
* reasons: among true churners whose latent driver is dissatisfaction
  (B2C: satisfaction in the lowest quintile), the share with a
  complaint/support/engagement factor among the top-3 increasing reasons.

Speed (B2C world of ``--speed-customers``): fit with 4 cutoffs; batch score
(features + model + reasons for the medium/high tiers + parquet write); one
customer with a loaded scorer (``score_row`` from a feature mapping, reasons
included; and the full ``score`` on that customer's tables) p50/p99.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _latency import score_latency, score_row_latency, timed_batch

from crmml.churn import ChurnModel
from crmml.features import as_of_view, contractual_churn_labels, noncontractual_churn_labels
from crmml.scoring import load_scorer
from crmml.supervised import compare_to_baseline, compare_to_oracle
from crmml.synthetic import make_b2b_world, make_b2c_world

AS_OF = pd.Timestamp("2025-07-01")
H = 90
DISSATISFACTION = re.compile(r"(complaint|support_ticket|service_|engagement|email_|web_visit|login|"
                             r"interactions_\d+d|days_since_interaction)")
SERVICE_ONLY = re.compile(r"(complaint|support_ticket|service_)")


def fmt(v):
    return "  n/a" if v is None else f"{v:.4f}"


def per_tier(scores, y):
    out = []
    for tier in ("low", "medium", "high"):
        sel = (scores["risk_tier"].astype(str) == tier).to_numpy()
        if sel.any():
            obs = y[sel].mean()
            se = np.sqrt(obs * (1 - obs) / sel.sum())
            out.append(f"{tier}: n={sel.sum():,} predicted {scores['churn_probability'].to_numpy()[sel].mean():.3f} "
                       f"observed {obs:.3f} (± {se:.3f} s.e.)")
    return "; ".join(out)


def report(title, y, p_model, p_oracle, baseline, direction, scores):
    oc = compare_to_oracle(y, p_model, p_oracle)
    bc = compare_to_baseline(y, p_model, baseline, direction=direction)
    print(f"\n== {title}: {len(y):,} customers at as_of {AS_OF.date()}, churn rate {y.mean():.3f}")
    print(f"{'':10}{'ROC AUC':>9}{'PR AUC':>9}{'Brier':>9}{'ECE':>9}")
    for name, ev in (("model", oc.model), ("oracle", oc.oracle), ("baseline", bc.baseline)):
        print(f"{name:10}{fmt(ev.roc_auc):>9}{fmt(ev.pr_auc):>9}{fmt(ev.brier):>9}{fmt(ev.ece):>9}")
    print(f"AUC gap oracle - model: {oc.auc_gap:.4f}; model - baseline: {oc.model.roc_auc - bc.baseline.roc_auc:.4f}; "
          f"mean |p_model - p_oracle| {oc.mean_abs_error:.4f}")
    print("per tier:", per_tier(scores, y))
    return oc, bc


def reasons_share(scores, ids, pattern):
    if not len(ids):
        return float("nan")
    feats = scores.loc[ids, ["reason_1_feature", "reason_2_feature", "reason_3_feature"]].astype(object)
    hit = feats.apply(lambda col: col.map(lambda f: isinstance(f, str) and bool(pattern.search(f))))
    return float(hit.any(axis=1).mean())


def b2c_quality(n, threads):
    w = make_b2c_world(n, seed=42)
    t0 = time.perf_counter()
    model = ChurnModel(num_threads=threads).fit(w.tables, AS_OF)
    fit_s = time.perf_counter() - t0
    scores = model.score(w.tables, AS_OF)
    y = noncontractual_churn_labels(w.tables, AS_OF, H)["churned"].reindex(scores.index).to_numpy()
    truth = w.truth["customers"].assign(customer_id=lambda d: d["customer_id"].astype(str)).set_index("customer_id")
    tr = truth.loc[scores.index]
    alive = tr["dropout_at"].isna().to_numpy() | (tr["dropout_at"] >= AS_OF).to_numpy()
    p_oracle = np.where(alive, np.exp(-tr["lambda"].to_numpy() * H), 1.0)
    feats = model.build_features(w.tables, AS_OF).set_index("customer_id").loc[scores.index]
    report(f"B2C ({n:,} customers, fit {fit_s:.1f} s)", y, scores["churn_probability"].to_numpy(), p_oracle,
                    feats["recency_days"].to_numpy(), "increasing", scores)
    sat = tr["satisfaction"].to_numpy()
    low = sat <= np.quantile(sat, 0.2)
    dis = scores.index[(y == 1) & low & alive]  # alive at as_of: churn still to come
    dis_all = scores.index[(y == 1) & low]
    print(f"reasons: dissatisfied churners alive at as_of (n={len(dis):,}): complaint/support/engagement factor in "
          f"top-3 {reasons_share(scores, dis, DISSATISFACTION):.1%} (complaint/support only "
          f"{reasons_share(scores, dis, SERVICE_ONLY):.1%}); all dissatisfied churners (n={len(dis_all):,}): "
          f"{reasons_share(scores, dis_all, DISSATISFACTION):.1%}")
    print("model card held-out cutoff:", {k: round(v, 4) for k, v in model.training_metrics().items()})


def b2b_quality(n, threads, seed=42):
    w = make_b2b_world(n, seed=seed)
    t0 = time.perf_counter()
    model = ChurnModel(business="contractual", num_threads=threads).fit(w.tables, AS_OF)
    fit_s = time.perf_counter() - t0
    scores = model.score(w.tables, AS_OF)
    y = contractual_churn_labels(w.tables, AS_OF, H)["churned"].reindex(scores.index).to_numpy()
    s = w.tables.subscriptions
    run = s[(s["start_at"] < AS_OF) & (s["end_at"].isna() | (s["end_at"] >= AS_OF))]
    ren = w.truth["renewals"].set_index("subscription_id")
    r = ren.loc[run["subscription_id"].to_numpy()]
    r = r.assign(customer_id=run["customer_id"].astype(str).to_numpy())
    ends = (r["term_end_at"] >= AS_OF) & (r["term_end_at"] < AS_OF + pd.Timedelta(days=H))
    p_acc = np.where(ends, 1.0 - r["renewal_probability"], 0.0)
    # an account churns only if every running subscription ends without renewal (one running term each here)
    p_oracle = pd.Series(p_acc, index=r["customer_id"]).groupby(level=0).prod().reindex(scores.index).to_numpy()
    feats = model.build_features(w.tables, AS_OF).set_index("customer_id").loc[scores.index]
    report(f"B2B ({n:,} accounts, fit {fit_s:.1f} s)", y, scores["churn_probability"].to_numpy(), p_oracle,
           feats["days_to_term_end"].to_numpy(), "decreasing", scores)
    churners = scores.index[y == 1]
    print(f"reasons (B2B churners, n={len(churners)}): usage/support factor in top-3 "
          f"{reasons_share(scores, churners, DISSATISFACTION):.1%}")
    print("model card held-out cutoff:", {k: round(v, 4) for k, v in model.training_metrics().items()})
    return scores, y


def b2b_pooled(n, threads, seeds):
    """Per-tier calibration pooled over worlds: a tier of ~100 accounts has a standard error of ~4 points."""
    parts = [b2b_quality(n, threads, seed) for seed in seeds]
    scores = pd.concat([s.reset_index(drop=True) for s, _ in parts], ignore_index=True)
    y = np.concatenate([y for _, y in parts])
    print(f"\n== B2B per tier pooled over seeds {list(seeds)} ({len(y):,} accounts):", per_tier(scores, y))


def batch(scorer, tables, out, label):
    """Features + model and reasons + Parquet write, timed and printed; returns the features and scores."""
    feats, scores, t_feat, t_model, t_write = timed_batch(scorer, tables, AS_OF, out)
    act = (scores["risk_tier"].astype(str) != "low").mean()
    print(f"score {len(scores):,}{label}: features {t_feat:.1f} s + model & reasons ({act:.0%} medium/high) "
          f"{t_model:.1f} s + write {t_write:.1f} s = {t_feat + t_model + t_write:.1f} s")
    return feats, scores


def speed(n, threads, latency_rows, score_n=None):
    t0 = time.perf_counter()
    w = make_b2c_world(n, seed=7)
    print(f"\n== speed: B2C world of {n:,} customers ({time.perf_counter() - t0:.1f} s to simulate), "
          f"{threads or 'all'} threads")
    t0 = time.perf_counter()
    model = ChurnModel(num_threads=threads, reasons_for="actionable").fit(w.tables, AS_OF)
    fit_s = time.perf_counter() - t0
    print(f"fit, 4 cutoffs: {fit_s:.1f} s ({model.model_.training_.get('n_train', '')} training rows, "
          f"{model.model_.tree_.num_trees} trees)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "model")
        scorer = load_scorer(folder)
        if score_n:
            t0 = time.perf_counter()
            big = make_b2c_world(score_n, seed=8)
            print(f"scoring world: {score_n:,} customers, {len(big.tables.interactions):,} interactions, "
                  f"{len(big.tables.transactions):,} transactions ({time.perf_counter() - t0:.1f} s to simulate)")
        else:
            big = w
        feats, scores = batch(scorer, big.tables, Path(tmp) / "scores.parquet", "")
        # a nightly job scores "today": its tables end at as_of (the simulated world runs six months past it)
        batch(scorer, as_of_view(big.tables, AS_OF), Path(tmp) / "scores2.parquet",
              " from tables that end at as_of (a nightly job)")
        lat_ms, picked = score_row_latency(scorer, feats.set_index("customer_id"), latency_rows)
        print(f"one customer, score_row (loaded scorer, reasons): p50 {np.percentile(lat_ms, 50):.2f} ms, "
              f"p99 {np.percentile(lat_ms, 99):.2f} ms over {len(lat_ms):,} calls")
        ids = list(picked[:100])
        t = big.tables
        t = t.replace(**{k: df[df["customer_id"].isin(ids)] for k, df in t.items() if "customer_id" in df})
        ones = [t.replace(**{k: df[df["customer_id"] == cid] for k, df in t.items() if "customer_id" in df})
                for cid in ids]
        full_ms = score_latency(scorer, ones, AS_OF)
        print(f"one customer, score(tables) incl. features: p50 {np.percentile(full_ms, 50):.1f} ms, "
              f"p99 {np.percentile(full_ms, 99):.1f} ms over {len(full_ms)} calls")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--b2c", type=int, default=None)
    ap.add_argument("--b2b", type=int, default=None)
    ap.add_argument("--speed-customers", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--score-customers", type=int, default=None,
                    help="score a separate world of this size with the model fitted on the speed world")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--b2b-seeds", default="42",
                    help="comma-separated B2B world seeds; several also print the per-tier calibration pooled")
    a = ap.parse_args()
    b2c = a.b2c or (10_000 if a.quick else 50_000)
    b2b = a.b2b or (3_000 if a.quick else 8_000)
    sp = a.speed_customers or (20_000 if a.quick else 100_000)
    if not a.skip_quality:
        b2c_quality(b2c, a.threads)
        seeds = [int(x) for x in a.b2b_seeds.split(",")]
        if len(seeds) == 1:
            b2b_quality(b2b, a.threads, seeds[0])
        else:
            b2b_pooled(b2b, a.threads, seeds)
    if not a.skip_speed:
        speed(sp, a.threads, 2000, a.score_customers)


if __name__ == "__main__":
    main()
