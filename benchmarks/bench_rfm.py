"""Benchmark: crmml.features.rfm_summary vs lifetimes' summary_data_from_transaction_data.

Usage::

    python benchmarks/bench_rfm.py            # 5M transactions, 1M customers
    python benchmarks/bench_rfm.py --quick    # 500k transactions, 100k customers

Prints both times measured in the same run, their ratio, the peak RSS of the
crmml call, and checks that both summaries agree.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd


def make_transactions(n_tx: int, n_customers: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, n_customers, n_tx)
    start = np.datetime64("2022-01-01T00:00:00", "ns").astype(np.int64)
    span = 2 * 365 * 86_400 * 10**9
    ts = (start + rng.integers(0, span, n_tx)).astype("datetime64[ns]")
    ids = pd.Series(np.char.add("c", cust.astype("U7")), dtype="str")
    return pd.DataFrame({
        "transaction_id": pd.Series(np.char.add("t", np.arange(n_tx).astype("U9")), dtype="str"),
        "customer_id": ids,
        "ts": ts,
        "amount": np.round(rng.gamma(2.0, 25.0, n_tx), 2),
    })


class PeakRSS:
    """Sample the process RSS in a thread (psutil) to get the peak of one block."""

    def __init__(self, interval: float = 0.01) -> None:
        import psutil

        self._p = psutil.Process()
        self.interval = interval
        self.base = self.peak = self._p.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._p.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        gc.collect()
        self.base = self.peak = self._p.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._p.memory_info().rss)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="500k transactions instead of 5M")
    ap.add_argument("--repeat", type=int, default=3, help="crmml repetitions (best time is reported)")
    args = ap.parse_args(argv)

    from lifetimes.utils import summary_data_from_transaction_data

    from crmml.features import rfm_summary

    n_tx, n_c = (500_000, 100_000) if args.quick else (5_000_000, 1_000_000)
    tx = make_transactions(n_tx, n_c)
    as_of = pd.Timestamp("2024-01-01")
    print(f"transactions: {n_tx:,}  customers: {tx['customer_id'].nunique():,}  as_of: {as_of.date()}")

    times = []
    with PeakRSS() as mem:
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ours = rfm_summary(tx, as_of, freq="D")
            times.append(time.perf_counter() - t0)
    t_ours = min(times)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        ref = summary_data_from_transaction_data(
            tx[tx["ts"] < as_of], "customer_id", "ts", monetary_value_col="amount",
            observation_period_end=as_of - pd.Timedelta(1, "ns"), freq="D",
        )
        t_ref = time.perf_counter() - t0

    pd.testing.assert_frame_equal(ours, ref, check_exact=False, rtol=1e-9)
    print(f"crmml rfm_summary:          {t_ours:8.3f} s (best of {args.repeat})")
    print(f"lifetimes summary_data...:  {t_ref:8.3f} s")
    print(f"speed-up (lifetimes/crmml): {t_ref / t_ours:8.1f}x")
    print(f"crmml peak RSS above baseline: {(mem.peak - mem.base) / 2**20:,.0f} MiB "
          f"(process peak {mem.peak / 2**20:,.0f} MiB; ru_maxrss "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)")
    print("results identical: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
