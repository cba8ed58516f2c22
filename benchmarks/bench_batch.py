"""The nightly batch at scale: wall time and peak memory of `crmml batch run` (process tree).

B2C (CLV + churn + the customer view)::

    python benchmarks/bench_batch.py b2c --customers 1000000 [--repeats 3] [--workdir /work/bench]

writes (once, cached in --workdir) a streamed B2C world of that many customers, fits CLV and
churn on a 50,000-customer world of the same generator at the same as_of, then runs the batch
as a real subprocess (`crmml batch run --config ...`), sampling the summed RSS of the process
and its workers every 50 ms. Targets at 1M customers: ≤ 60 s, ≤ 4 GB. Several sizes
(``--customers 1000000,2000000,5000000``) print seconds per million customers (linear growth)
and the peak memory (bounded).

B2B (lead list + forecast)::

    python benchmarks/bench_batch.py b2b [--accounts 100000 --leads 1000000]

a B2B world with deals sped up (``upsell_rate_per_year=7``: about one open deal per account at
as_of) and fewer product-usage interactions, lead-scoring and forecast models fitted on a
5,000-account world of the same parameters. Target: ≤ 60 s.

Spark vs local on the same data and models::

    python benchmarks/bench_batch.py b2c --customers 100000 --engines local,spark
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pandas as pd

warnings.filterwarnings("ignore", category=FutureWarning)

AS_OF = pd.Timestamp("2025-12-31")
B2B_PARAMS = {"upsell_rate_per_year": 7.0, "usage_rates": (1.0, 0.5, 0.75, 0.1, 0.06)}


def _crmml() -> list[str]:
    return [sys.executable, "-m", "crmml.cli"]


def _peak_rss(pid: int, stop: threading.Event, out: list[float]) -> None:
    import psutil

    peak = 0
    try:
        root = psutil.Process(pid)
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs if p.is_running())
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.05)
    except psutil.Error:
        pass
    out.append(peak / 2 ** 20)


def run_batch(config: Path, extra: list[str] = ()) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS (MiB, process tree) and the manifest of one `crmml batch run`."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([*_crmml(), "batch", "run", "--config", str(config), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stop, peak = threading.Event(), []
    th = threading.Thread(target=_peak_rss, args=(proc.pid, stop, peak))
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"crmml batch run failed ({proc.returncode}): {err.decode()[-3000:]}")
    manifest = json.loads((config.parent / "out" / "current" / "manifest.json").read_text())
    return wall, peak[0], manifest


def _config(folder: Path, data: Path, models: dict[str, Path], engine: str = "local") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "out", ignore_errors=True)
    cfg = folder / "batch.toml"
    cfg.write_text(f'data = "{data}"\noutput = "out"\nas_of = "{AS_OF.date()}"\nengine = "{engine}"\n'
                   "[models]\n" + "".join(f'{k} = "{v}"\n' for k, v in models.items()))
    return cfg


def b2c(a: argparse.Namespace) -> None:
    from crmml.churn import ChurnModel
    from crmml.clv import CLVModel
    from crmml.synthetic import make_b2c_world, write_b2c_world

    work = Path(a.workdir)
    models = {"clv": work / "models_b2c" / "clv", "churn": work / "models_b2c" / "churn"}
    if not all(p.exists() for p in models.values()):
        w = make_b2c_world(50_000, seed=8)
        CLVModel().fit(w.tables, AS_OF).save(models["clv"])
        ChurnModel().fit(w.tables, AS_OF).save(models["churn"])
    rows = []
    for n in [int(x) for x in a.customers.split(",")]:
        data = work / f"b2c_{n}"
        if not (data / "customers").exists():
            t0 = time.perf_counter()
            counts = write_b2c_world(data, n, seed=7)
            print(f"wrote a {n:,}-customer world ({counts}) in {time.perf_counter() - t0:.0f} s", flush=True)
        for engine in a.engines.split(","):
            for r in range(a.repeats):
                wall, rss, m = run_batch(_config(work / f"run_b2c_{n}_{engine}", data, models, engine))
                events = sum(v["rows"] for v in m["input"].values())
                rows.append((n, engine, r, wall, rss, events, m["n_partitions"], m["timings_seconds"]))
                print(f"{n:,} customers ({events / 1e6:.1f}M rows), {engine}: {wall:.1f} s, peak RSS {rss:,.0f} MiB, "
                      f"{m['n_partitions']} partitions, steps {m['timings_seconds']}", flush=True)
    print("\n| customers | input rows | engine | wall (s) | s per 1M customers | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for n in sorted({r[0] for r in rows}):
        for engine in a.engines.split(","):
            rs = [r for r in rows if r[0] == n and r[1] == engine]
            walls, rss = [r[3] for r in rs], [r[4] for r in rs]
            print(f"| {n:,} | {rs[0][5] / 1e6:.1f}M | {engine} | {min(walls):.1f}–{max(walls):.1f} | "
                  f"{min(walls) / n * 1e6:.1f}–{max(walls) / n * 1e6:.1f} | {min(rss):,.0f}–{max(rss):,.0f} |")


def b2b(a: argparse.Namespace) -> None:
    from crmml.forecast import PipelineForecastModel
    from crmml.leadscore import LeadScoreModel
    from crmml.synthetic import make_b2b_world, write_world
    from crmml.synthetic._b2b import B2BParams

    work = Path(a.workdir)
    params = B2BParams(**B2B_PARAMS)
    models = {"leads": work / "models_b2b" / "leadscore", "deals": work / "models_b2b" / "forecast"}
    if not all(p.exists() for p in models.values()):
        w = make_b2b_world(5000, n_leads=50_000, seed=8, params=params)
        LeadScoreModel().fit(w.tables, AS_OF).save(models["leads"])
        PipelineForecastModel().fit(w.tables, AS_OF).save(models["deals"])
    data = work / f"b2b_{a.accounts}_{a.leads}"
    if not (data / "customers.parquet").exists():
        w = make_b2b_world(a.accounts, n_leads=a.leads, seed=7, params=params)
        write_world(w, data)
    for engine in a.engines.split(","):
        walls, rsss = [], []
        for _ in range(a.repeats):
            wall, rss, m = run_batch(_config(work / f"run_b2b_{engine}", data, models, engine))
            walls.append(wall)
            rsss.append(rss)
            print(f"{engine}: {wall:.1f} s, peak RSS {rss:,.0f} MiB; open deals {m['outputs']['deals']['rows']:,}, "
                  f"leads listed {m['steps']['lead_list']['leads']:,}, steps {m['timings_seconds']}", flush=True)
        print(f"B2B {a.accounts:,} accounts / {a.leads:,} leads / {m['outputs']['deals']['rows']:,} open deals, "
              f"{engine}: lead list + forecast {min(walls):.1f}–{max(walls):.1f} s (target ≤ 60 s), "
              f"peak RSS {min(rsss):,.0f}–{max(rsss):,.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("world", choices=["b2c", "b2b"])
    ap.add_argument("--customers", default="1000000")
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", default="local")
    ap.add_argument("--workdir", default="bench-batch")
    a = ap.parse_args()
    b2c(a) if a.world == "b2c" else b2b(a)


if __name__ == "__main__":
    main()
