"""Benchmark: bounded-memory feature build from Parquet (~20M events).

Usage::

    python benchmarks/bench_features_memory.py            # ~20M events (500k customers)
    python benchmarks/bench_features_memory.py --quick    # ~2M events (50k customers)
    python benchmarks/bench_features_memory.py --customers 500000 --in-memory

Writes a synthetic B2C world with ``crmml.synthetic.write_b2c_world``
(Parquet folders, written chunk by chunk), then runs, each in a fresh
process so that peak RSS (``ru_maxrss``) is the build's own:

* ``build_features_from_parquet(..., builder=customer_features)`` with
  ``--partitions`` partitions (out of core), and
* with ``--in-memory``, the whole-table build (read every table, then
  ``customer_features``) for comparison.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2025-01-01"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_out_of_core(src: str, n_partitions: int, builder: str) -> dict:
    import crmml.features as F

    out = Path(tempfile.mkdtemp(prefix="crmml-bench-")) / "features.parquet"
    base = _rss_mib()
    t0 = time.perf_counter()
    stats = F.build_features_from_parquet(src, AS_OF, out, n_partitions=n_partitions,
                                          builder=getattr(F, builder))
    wall = time.perf_counter() - t0
    shutil.rmtree(out.parent, ignore_errors=True)
    return {"mode": f"out-of-core ({n_partitions} partitions)", "wall_s": wall, "peak_rss_mib": _rss_mib(),
            "rss_after_import_mib": base, "n_entities": stats["n_entities"],
            "events": sum(v for k, v in stats["rows_spilled"].items() if k != "customers"),
            "spill_s": stats["seconds_spill"], "build_s": stats["seconds_build"]}


def run_in_memory(src: str, builder: str) -> dict:
    import pyarrow.dataset as ds

    import crmml.features as F
    from crmml.data import CRMTables

    base = _rss_mib()
    t0 = time.perf_counter()
    frames = {}
    for p in sorted(Path(src).iterdir()):
        name = p.name.removesuffix(".parquet")
        if name.startswith("_"):
            continue
        frames[name] = F.coerce_internal(name, ds.dataset(p, format="parquet").to_table().to_pandas())
    tables = CRMTables.from_frames(frames)
    res = getattr(F, builder)(tables, AS_OF)
    wall = time.perf_counter() - t0
    return {"mode": "in-memory whole tables", "wall_s": wall, "peak_rss_mib": _rss_mib(),
            "rss_after_import_mib": base, "n_entities": len(res),
            "events": sum(len(v) for k, v in frames.items() if k != "customers")}


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50k customers (~2M events)")
    ap.add_argument("--customers", type=int, default=None, help="customers to simulate (default 500k)")
    ap.add_argument("--partitions", type=int, default=None, help="partitions (default: 1 per ~1.25M events)")
    ap.add_argument("--builder", default="customer_features")
    ap.add_argument("--in-memory", action="store_true", help="also run the whole-table build")
    ap.add_argument("--data-dir", default=None, help="reuse/keep the generated world here")
    ap.add_argument("--_child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._child:
        mode, src, builder, *rest = args._child
        res = run_out_of_core(src, int(rest[0]), builder) if mode == "ooc" else run_in_memory(src, builder)
        print(json.dumps(res))
        return 0

    from crmml.synthetic import write_b2c_world

    n_c = args.customers or (50_000 if args.quick else 500_000)
    data = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="crmml-world-"))
    src = data / f"b2c-{n_c}"
    if not (src / "customers").exists():
        t0 = time.perf_counter()
        write_b2c_world(src, n_c, seed=0, chunk_size=50_000, truth=False)
        print(f"generated {n_c:,} customers in {time.perf_counter() - t0:.1f} s -> {src}")
    n_events = 0
    import pyarrow.dataset as ds
    for t in ("transactions", "interactions"):
        n_events += ds.dataset(src / t, format="parquet").count_rows()
    n_parts = args.partitions or max(1, round(n_events / 1_250_000))
    print(f"events (transactions + interactions): {n_events:,}; partitions: {n_parts}; as_of {AS_OF}")

    results = [_child(["--_child", "ooc", str(src), args.builder, str(n_parts)])]
    if args.in_memory:
        results.append(_child(["--_child", "mem", str(src), args.builder]))
    for r in results:
        print(f"{r['mode']:<32} wall {r['wall_s']:7.1f} s   peak RSS {r['peak_rss_mib']:7,.0f} MiB "
              f"(after imports {r['rss_after_import_mib']:,.0f} MiB)   entities {r['n_entities']:,}")
    if len(results) == 2:
        print(f"peak RSS ratio in-memory / out-of-core: {results[1]['peak_rss_mib'] / results[0]['peak_rss_mib']:.1f}x; "
              f"time ratio: {results[1]['wall_s'] / results[0]['wall_s']:.2f}x")
    if not args.data_dir:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
