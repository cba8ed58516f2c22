"""Benchmark: crmml.load_tables (read + convert + validate) vs plain pandas reading.

Usage::

    python benchmarks/bench_load.py            # 2M transactions, 200k customers
    python benchmarks/bench_load.py --quick    # 200k transactions, 20k customers

Writes the same tables as CSV and as Parquet to a temporary folder, then times,
in the same run, per format:

* the reference: pandas reads the files and converts the time columns with
  ``pd.to_datetime(..., format="ISO8601", utc=True)`` — no checks at all;
* crmml: ``load_tables(folder)`` — the same reading plus the strict ISO 8601
  parser, non-finite and range checks, key and foreign-key checks and the
  pandera schemas.

The ratio is the price of the data contract. Best and worst of ``--repeat``
runs are printed (the machine is noisy).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_tables(n_tx: int, n_customers: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.char.add("c", np.arange(n_customers).astype("U7"))
    start = np.datetime64("2022-01-01T00:00:00", "ns").astype(np.int64)
    signup = (start + rng.integers(0, 365 * 86_400 * 10**9, n_customers)).astype("datetime64[ns]")
    customers = pd.DataFrame({"customer_id": ids, "signup_at": signup,
                              "country": rng.choice(["DE", "FR", "NA", "US"], n_customers)})
    cust = rng.integers(0, n_customers, n_tx)
    ts = signup[cust] + rng.integers(0, 365 * 86_400 * 10**9, n_tx).astype("timedelta64[ns]")
    transactions = pd.DataFrame({
        "transaction_id": np.char.add("t", np.arange(n_tx).astype("U9")),
        "customer_id": ids[cust],
        "ts": ts,
        "amount": np.round(rng.gamma(2.0, 25.0, n_tx), 2),
        "cost": np.round(rng.gamma(2.0, 10.0, n_tx), 2),
    })
    return {"customers": customers, "transactions": transactions}


def reference(folder: Path, fmt: str) -> dict[str, pd.DataFrame]:
    """Plain pandas: read, time columns to UTC, nothing checked."""
    out = {}
    for name, tcol in (("customers", "signup_at"), ("transactions", "ts")):
        if fmt == "csv":
            df = pd.read_csv(folder / f"{name}.csv", dtype={"customer_id": "str", "transaction_id": "str"})
        else:
            df = pd.read_parquet(folder / f"{name}.parquet")
        df[tcol] = pd.to_datetime(df[tcol], format="ISO8601", utc=True).dt.tz_localize(None)
        out[name] = df
    return out


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200k transactions instead of 2M")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from crmml.data import load_tables

    n_tx, n_c = (200_000, 20_000) if args.quick else (2_000_000, 200_000)
    tables = make_tables(n_tx, n_c)
    print(f"transactions: {n_tx:,}  customers: {n_c:,}  repeats: {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("parquet", "csv"):
            folder = Path(tmp) / fmt
            folder.mkdir()
            for name, df in tables.items():
                if fmt == "csv":
                    df.to_csv(folder / f"{name}.csv", index=False)
                else:
                    df.to_parquet(folder / f"{name}.parquet", index=False)
            ref = timed(lambda: reference(folder, fmt), args.repeat)
            ours = timed(lambda: load_tables(folder), args.repeat)
            loaded = load_tables(folder)
            assert loaded.customers["country"].eq("NA").any(), "NA must stay text"
            assert len(loaded.transactions) == n_tx
            print(f"{fmt:8s} pandas read + to_datetime: {min(ref):6.2f}-{max(ref):6.2f} s   "
                  f"crmml load_tables: {min(ours):6.2f}-{max(ours):6.2f} s   "
                  f"ratio (crmml/pandas, best): {min(ours) / min(ref):4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
