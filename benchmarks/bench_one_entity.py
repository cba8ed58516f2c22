"""One entity scored in process by each of the four scorers: p50 / p99 in one table.

What a CRM backend does when a record is opened: the loaded scorer (``crmml.load_scorer``,
saved and loaded as data) scores one entity.

* CLV: ``score(tables, as_of)`` on the customer's own rows (features included; its four RFM
  features are cheap), and ``predict_features`` on a one-row feature frame;
* churn, lead scoring, forecast: ``score_row(features)`` from a feature mapping (with reasons;
  the spine's in-process fast path), and ``score(tables, as_of)`` on the entity's own rows.

Target: p99 ≤ 5 ms for each scorer. Run::

    python benchmarks/bench_one_entity.py [--calls 2000] [--repeats 3]

Each repeat measures every scorer once; the table gives the range over repeats.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore", category=FutureWarning)

from _latency import call_latency, score_latency, score_row_latency  # noqa: E402

from crmml import load_scorer  # noqa: E402
from crmml.churn import ChurnModel  # noqa: E402
from crmml.clv import CLVModel  # noqa: E402
from crmml.forecast import PipelineForecastModel  # noqa: E402
from crmml.leadscore import LeadScoreModel  # noqa: E402
from crmml.synthetic import make_b2b_world, make_b2c_world  # noqa: E402

AS_OF = pd.Timestamp("2025-07-01")


def _own_rows(tables, key: str, ids: list[str]) -> list:
    """Each entity's own tables (the rows a backend would fetch for it)."""
    t = tables.replace(**{k: df[df[key].isin(ids)] for k, df in tables.items() if key in df})
    return [t.replace(**{k: df[df[key] == i] for k, df in t.items() if key in df}) for i in ids]


def _clv_row_latency(scorer, feats: pd.DataFrame, n: int) -> np.ndarray:
    rows = [feats.iloc[[k]] for k in np.random.default_rng(0).choice(len(feats), min(n, len(feats)), False)]
    return call_latency(scorer.predict_features, rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--tables-calls", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    t0 = time.perf_counter()
    b2c = make_b2c_world(5000, seed=3)
    b2b = make_b2b_world(2000, n_leads=20000, seed=3)
    fitted = {
        "clv": CLVModel().fit(b2c.tables, AS_OF),
        "churn": ChurnModel().fit(b2c.tables, AS_OF),
        "leadscore": LeadScoreModel().fit(b2b.tables, AS_OF),
        "forecast": PipelineForecastModel(interval_origins=0).fit(b2b.tables, AS_OF),
    }
    print(f"worlds and fits: {time.perf_counter() - t0:.0f} s")
    results: dict[str, dict[str, list[tuple[float, float]]]] = {k: {"row": [], "tables": []} for k in fitted}
    with tempfile.TemporaryDirectory() as tmp:
        scorers = {k: load_scorer(m.save(Path(tmp) / k)) for k, m in fitted.items()}
        feats = {k: s.build_features(b2c.tables if k in ("clv", "churn") else b2b.tables, AS_OF)
                 for k, s in scorers.items()}
        for _ in range(a.repeats):
            for kind, s in scorers.items():
                f = feats[kind].set_index(s.entity)
                lat = _clv_row_latency(s, feats[kind], a.calls) if kind == "clv" else \
                    score_row_latency(s, f, a.calls)[0]
                results[kind]["row"].append((np.percentile(lat, 50), np.percentile(lat, 99)))
                tables = b2c.tables if kind in ("clv", "churn") else b2b.tables
                key = "customer_id" if kind in ("clv", "churn", "forecast") else "lead_id"
                if kind == "forecast":  # the deal's account: its rows and its other deals
                    ids = list(f["customer_id"].drop_duplicates().sample(a.tables_calls, random_state=0))
                else:
                    ids = list(f.index.to_series().sample(a.tables_calls, random_state=0))
                full = score_latency(s, _own_rows(tables, key, ids), AS_OF)
                results[kind]["tables"].append((np.percentile(full, 50), np.percentile(full, 99)))

    def rng(vals: list[tuple[float, float]], j: int) -> str:
        lo, hi = min(v[j] for v in vals), max(v[j] for v in vals)
        return f"{lo:.2f}" if abs(hi - lo) < 0.005 else f"{lo:.2f}–{hi:.2f}"

    print(f"\none entity in process, {a.calls:,} calls (row) / {a.tables_calls} entities (tables) per repeat, "
          f"{a.repeats} repeats (ms)")
    print("| scorer | from features: p50 | p99 | from its own table rows: p50 | p99 | p99 ≤ 5 ms |")
    print("|---|---|---|---|---|---|")
    for kind, r in results.items():
        ok = max(v[1] for v in r["row"]) <= 5.0
        how = "predict_features (1 row)" if kind == "clv" else "score_row"
        print(f"| {kind} ({how}) | {rng(r['row'], 0)} | {rng(r['row'], 1)} | {rng(r['tables'], 0)} | "
              f"{rng(r['tables'], 1)} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
