"""Benchmark the supervised spine (crmml.supervised.BinaryOutcomeModel).

Usage::

    python benchmarks/bench_supervised.py

Prints, on a synthetic logistic world (100k rows x 60 features over 4 cutoffs):
the fit time with 2 threads (3 runs), the one-row latency (encode +
calibrated probability + contributions, and the full ``score_row`` with tier,
action and 3+3 reasons; p50/p99 over 2,000 rows x 3), and batch throughput on
200k rows (encode, probability, LightGBM ``pred_contrib``, reason text),
with reasons for every row and for the action tiers only.
"""

import time

import numpy as np
import pandas as pd

from crmml.supervised import (
    BinaryOutcomeModel,
    TierPolicy,
    TrainingSet,
    explain_contributions,
    lightgbm_params,
    refit_booster,
)


def world(n_rows, n_feat=60, n_cut=4, seed=0):
    rng = np.random.default_rng(seed)
    per = n_rows // n_cut
    parts = []
    cuts = pd.date_range("2024-01-01", periods=n_cut, freq="90D")
    for c in cuts:
        X = rng.normal(size=(per, n_feat - 2))
        f = pd.DataFrame(X, columns=[f"x{j:02d}" for j in range(n_feat - 2)])
        f["recency_days"] = rng.exponential(45, per).round(1)
        f["channel"] = pd.Categorical(rng.choice(["web", "store", "phone", "app"], per))
        logit = (
            -1.6
            + 0.8 * np.log1p(f["recency_days"] / 30)
            + 0.6 * X[:, 0]
            - 0.5 * X[:, 1]
            + 0.3 * X[:, 2] * X[:, 3]
            + f["channel"]
            .map({"web": 0, "store": -0.4, "phone": 0.5, "app": 0.1})
            .to_numpy(float)
        )
        f["y"] = (rng.random(per) < 1 / (1 + np.exp(-logit))).astype(int)
        f["id"] = np.arange(per)
        f["cutoff"] = c
        parts.append(f)
    return TrainingSet.from_frame(
        pd.concat(parts, ignore_index=True),
        entity="id",
        label="y",
        horizon_days=90,
        as_of=cuts[-1] + pd.Timedelta(days=90),
    )


ts = world(100_000)
BinaryOutcomeModel(num_threads=2, max_rounds=5).fit(world(4000, seed=9))  # warm imports
fits = []
for seed in range(3):
    t = time.perf_counter()
    m = BinaryOutcomeModel(num_threads=2, seed=seed, baseline="recency_days").fit(ts)
    fits.append(time.perf_counter() - t)
print(
    "fit 100k x 60 (2 threads), 3 runs:",
    [round(v, 2) for v in fits],
    "trees",
    m.tree_.num_trees,
    "calibration",
    m.calibrator_.method,
    "auc",
    round(m.evaluation_.roc_auc, 4),
)

# a 100-tree model for latency
m100 = BinaryOutcomeModel(
    num_threads=2,
    early_stopping_rounds=1000,
    max_rounds=100,
    tiers=TierPolicy.by_probability(
        {"high": 0.5, "medium": 0.25},
        actions={"low": "none", "medium": "offer", "high": "call"},
    ),
).fit(ts)
ff = ts.frame[ts.feature_columns]
m100.tree_ = refit_booster(
    m100.spec_.transform(ff),
    ts.y,
    m100.spec_,
    lightgbm_params(len(ff), num_threads=2),
    100,
)
assert m100.tree_.num_trees == 100, m100.tree_.num_trees
f = ts.frame
rows = [r for r in f.drop(columns=["y", "id", "cutoff"]).head(2000).to_dict("records")]
booster = m100.tree_.booster


def lat(fn, reps=3):
    out = []
    for _ in range(reps):
        for r in rows:
            t = time.perf_counter()
            fn(r)
            out.append(time.perf_counter() - t)
    a = np.array(out) * 1e6
    return round(float(np.median(a)), 1), round(float(np.percentile(a, 99)), 1)


for r in rows[:200]:
    m100.score_row(r)


def proba_contrib(r):
    x = m100.spec_.transform_row(r)
    m100.calibrator_.apply(booster.predict(x, raw_score=True, num_threads=1))
    booster.predict(x, pred_contrib=True, num_threads=1)


print(
    "one row, 100 trees: encode+predict_proba+contributions p50/p99 us:",
    lat(proba_contrib),
)
print(
    "one row, 100 trees: score_row (incl. tier, action, 3+3 reasons) p50/p99 us:",
    lat(m100.score_row),
)
print(
    "one row: score_row without reasons p50/p99 us:",
    lat(lambda r: m100.score_row(r, reasons=False)),
)

big = pd.concat(
    [f.drop(columns=["y", "id", "cutoff"])] * 2, ignore_index=True
)  # 200k rows
t = time.perf_counter()
X = m100.transform(big)
te = time.perf_counter() - t
t = time.perf_counter()
p = m100.predict_proba(X, num_threads=2)
tp = time.perf_counter() - t
t = time.perf_counter()
c = m100.contributions(X, num_threads=2)
tc = time.perf_counter() - t
t = time.perf_counter()
e = explain_contributions(c, X, m100.spec_, m100.reason_templates, frame=big)
tr = time.perf_counter() - t
t = time.perf_counter()
s = m100.score_frame(big, num_threads=2)
ts_all = time.perf_counter() - t
n = len(big)
print(
    f"batch {n:,} rows x 60, 100 trees, 2 threads: encode {te:.2f}s, proba {tp:.2f}s, contributions {tc:.2f}s, "
    f"reasons text {tr:.2f}s, score_frame total {ts_all:.2f}s -> {ts_all / n * 1e6:.1f} us/row"
)
hi = (s["tier"] != "low").mean()
t = time.perf_counter()
m100.score_frame(big, num_threads=2, reasons_for=["high", "medium"])
tsel = time.perf_counter() - t
print(f"score_frame with reasons only for medium/high ({hi:.1%} of rows): {tsel:.2f}s")
