"""CLV scoring: single-customer latency in-process, and a batch over a whole world.

Usage::

    python benchmarks/bench_clv_score.py            # 1M-customer batch + latency
    python benchmarks/bench_clv_score.py --quick    # 100k customers

Single customer: a backend loads the registered scorer once, then scores one
customer's events (a ``CRMTables`` holding that customer's transactions and
customer row, already in the contract's types) — we report the median and p99
over 2,000 different customers. Batch: load the world from Parquet, build
features, score and write Parquet; each step timed. The reference for the
batch features step is lifetimes' ``summary_data_from_transaction_data``
timed in the same run on the same transactions (``--no-reference`` to skip).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--customers", type=int)
    ap.add_argument("--cache", default=".bench", help="where generated worlds are cached")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() after loading, as a long-lived backend would (see docs/scoring.md)")
    a = ap.parse_args()
    n = a.customers or (100_000 if a.quick else 1_000_000)

    import crmml
    from crmml.clv import CLVModel
    from crmml.data import CRMTables, load_tables
    from crmml.scoring import write_parquet_atomic
    from crmml.synthetic import write_b2c_world

    world = Path(a.cache) / f"b2c-{n}"
    if not (world / "transactions").exists():
        t0 = time.perf_counter()
        write_b2c_world(world, n, seed=1)
        print(f"generated {n:,}-customer world in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    t0 = time.perf_counter()
    tables = load_tables(world, tables=["customers", "transactions"])
    t_load = time.perf_counter() - t0
    as_of = (tables.transactions["ts"].max() + pd.Timedelta(days=1)).normalize()

    t0 = time.perf_counter()
    model = CLVModel().fit(tables, as_of)
    t_fit = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "clv")
        scorer = crmml.load_scorer(path)

        # ---- batch
        t0 = time.perf_counter()
        feats = scorer.build_features(tables, as_of)
        t_feat = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = scorer.predict_features(feats)
        t_pred = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_parquet_atomic(scores, Path(tmp) / "scores.parquet")
        t_write = time.perf_counter() - t0

        # ---- single customer
        tx = tables.transactions
        cust = tables.customers
        rng = np.random.default_rng(0)
        ids = rng.choice(scores.index.to_numpy(), size=2000, replace=False)
        by_c = tx.groupby("customer_id", observed=True).indices
        cust_idx = pd.Index(cust["customer_id"])
        singles = [CRMTables(transactions=tx.iloc[by_c[c]], customers=cust.iloc[[cust_idx.get_loc(c)]]) for c in ids]
        if a.gc_freeze:
            import gc

            gc.collect()
            gc.freeze()
        for s in singles[:50]:  # warm-up
            scorer.score(s, as_of)
        lat = np.empty(len(singles))
        for i, s in enumerate(singles):
            t0 = time.perf_counter()
            scorer.score(s, as_of)
            lat[i] = time.perf_counter() - t0

    print(f"CLV scoring — {n:,} customers, {len(tables.transactions):,} transactions")
    print(f"  batch: load {t_load:.1f} s · fit {t_fit:.1f} s · features {t_feat:.1f} s · "
          f"predict {t_pred:.1f} s · write {t_write:.1f} s · "
          f"score total (features+predict+write) {t_feat + t_pred + t_write:.1f} s")
    print(f"  single customer: median {np.median(lat) * 1e3:.2f} ms · p99 {np.quantile(lat, 0.99) * 1e3:.2f} ms "
          f"· max {lat.max() * 1e3:.2f} ms over {len(lat):,} customers (target p99 <= 5 ms)"
          + (" [gc.freeze() after loading]" if a.gc_freeze else ""))
    if not a.no_reference:
        from lifetimes.utils import summary_data_from_transaction_data

        pos = tx[tx["amount"] > 0]
        t0 = time.perf_counter()
        summary_data_from_transaction_data(pos, "customer_id", "ts", monetary_value_col="amount",
                                           observation_period_end=as_of - pd.Timedelta(days=1), freq="D")
        t_ref = time.perf_counter() - t0
        print(f"  reference: lifetimes summary_data_from_transaction_data {t_ref:.1f} s vs crmml features "
              f"{t_feat:.1f} s — ratio {t_ref / t_feat:.1f}×")
    print(f"  peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
