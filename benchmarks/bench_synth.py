"""Benchmark: streaming a 1M-customer B2C world to Parquet.

Run ``python benchmarks/bench_synth.py`` (1,000,000 customers) or
``--quick`` (100,000). Prints the crmml write time, rows written, peak RSS,
and, as a reference measured in the same run, the time lifetimes'
``beta_geometric_nbd_model`` simulator (a Python loop per customer that only
returns the BG/NBD summary, no event rows) takes for the same customers,
extrapolated from 20,000 customers.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100,000 customers instead of 1,000,000")
    ap.add_argument("--customers", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    args = ap.parse_args(argv)
    n = args.customers or (100_000 if args.quick else 1_000_000)

    from crmml.synthetic import write_b2c_world

    rss0 = _peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        counts = write_b2c_world(out, n, seed=0)
        t_crmml = time.perf_counter() - t0
        size_mb = sum(f.stat().st_size for f in Path(out).rglob("*.parquet")) / 2**20
    rss = _peak_rss_mb()
    rows = sum(v for k, v in counts.items() if not k.startswith("_"))

    # reference: lifetimes' per-customer BG/NBD simulator (summary only)
    import lifetimes.generate_data as gen

    n_ref = 20_000
    t0 = time.perf_counter()
    gen.beta_geometric_nbd_model(730, 0.75, 60.0, 0.8, 2.5, size=n_ref)
    t_ref = (time.perf_counter() - t0) * n / n_ref

    print(f"customers            : {n:,}")
    for k, v in counts.items():
        print(f"rows {k:<16}: {v:,}")
    print(f"rows written (tables): {rows:,}  ({size_mb:,.0f} MiB parquet)")
    print(f"crmml write_b2c_world: {t_crmml:8.1f} s  ({rows / t_crmml / 1e6:.2f} M rows/s)")
    print(f"reference (lifetimes beta_geometric_nbd_model, summary only, extrapolated from {n_ref:,}): "
          f"{t_ref:8.1f} s")
    print(f"ratio crmml/reference: {t_crmml / t_ref:.2f}")
    print(f"peak RSS             : {rss:,.0f} MiB (at start {rss0:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
