"""Benchmark crmml.forecast: per-deal quality against the true win probability, backtest coverage, speed.

Usage::

    python benchmarks/bench_forecast.py            # full sizes
    python benchmarks/bench_forecast.py --quick    # smaller worlds, fewer seeds

Every world is ``crmml.synthetic.make_b2b_world`` (window 2022-01-01 – 2025-12-31).
The generator draws each deal's outcome with a known probability
(``truth["opportunities"].win_probability`` = P(eventually won)) and its cycle
length from a Gamma distribution stretched for unlikely deals; the truth
table also holds the realised close time.

1. **Per deal** (``--seeds``, default 0–2; ``make_b2b_world(2000)``, as of
   2025-01-01, quarters): on the deals open at as_of whose outcome is known
   by the end of the data, ROC AUC of ``win_probability`` next to the AUC of
   the true probability (target: within 0.02) and of the naive baseline, the
   historical win rate of the deal's stage (what the stage-weighted pipeline
   assumes); ECE (10 equal-mass bins) of ``close_in_period_probability``
   against "won before the end of the quarter" (target ≤ 0.03), with the
   stage baseline's ECE.
2. **Backtest** (``--bt-seeds``, default 0–5; ``make_b2b_world(1000)``):
   ``crmml.forecast.backtest`` from every 28th day between 2023-07-01 and
   2025-06-30, two quarters each; each origin refits the model on what was
   known then and its intervals are corrected by the earlier cells whose
   quarter had ended (conformal, in time order). Pooled over seeds: coverage
   of the 50 % and 80 % intervals on the corrected cells (targets 45–55 % and
   75–85 %, ≥ 120 cells), the raw simulation's coverage, the median absolute
   percentage error of p50 vs the stage-weighted pipeline (target: at least
   25 % lower) and the mean pinball loss.
3. **Speed** (``--threads``, default 2): a world's open deals replicated
   (new ids, their history copied) to ``--speed-deals`` open opportunities
   (default 100,000), then ``forecast`` (features, timing curves, 2,000
   simulations, new business, stage-weighted; target ≤ 10 s) and ``score``
   (per-deal outputs with reasons); one deal in process: ``score_row`` p50 /
   p99 over 2,000 calls (target p99 ≤ 5 ms).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pandas as pd
from _latency import score_row_latency
from sklearn.metrics import roc_auc_score

from crmml.forecast import PipelineForecastModel, backtest
from crmml.forecast._bookings import stage_win_rates
from crmml.supervised import BaselineWarning, evaluate
from crmml.synthetic import make_b2b_world

AS_OF = pd.Timestamp("2025-01-01")
QUARTER_END = pd.Timestamp("2025-04-01")
AUC_TARGET = 0.02
ECE_TARGET = 0.03
SPEED_TARGET_S = 10.0
ROW_P99_TARGET_MS = 5.0


def mark(ok):
    return "✔" if ok else "✘"


def spread(v, nd=4):
    v = [x for x in v if x is not None and np.isfinite(x)]
    return f"{min(v):.{nd}f}–{max(v):.{nd}f}" if v else "n/a"


# ----------------------------------------------------------------------------- 1. per deal
def per_deal(seeds, n_accounts, threads):
    rows = []
    pooled = {"y": [], "model": [], "truth": [], "stage": [], "yq": [], "pq": [], "sq": []}
    for s in seeds:
        w = make_b2b_world(n_accounts, seed=s)
        t = w.tables
        t0 = time.perf_counter()
        m = PipelineForecastModel(num_threads=threads, interval_origins=0).fit(t, AS_OF)
        fit_s = time.perf_counter() - t0
        sc = m.score(t, AS_OF)
        o = t.opportunities.set_index("opportunity_id").loc[sc.index]
        known = o["closed_at"].notna().to_numpy()
        won = o["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        truth = w.truth["opportunities"].set_index("opportunity_id").loc[sc.index, "win_probability"].to_numpy()
        view_o = t.opportunities.loc[t.opportunities["created_at"] < AS_OF].copy()
        view_o.loc[view_o["closed_at"] >= AS_OF, ["closed_at", "won"]] = [pd.NaT, pd.NA]
        h = t.opportunity_history.loc[t.opportunity_history["ts"] < AS_OF]
        rates = stage_win_rates(view_o, h, ("qualification", "needs_analysis", "proposal", "negotiation"))
        stage_p = sc["stage"].map(rates).astype(float).to_numpy()
        y = won[known]
        a_m, a_t, a_s = (roc_auc_score(y, v[known]) for v in (sc["win_probability"].to_numpy(), truth, stage_p))
        yq = (won & (o["closed_at"] < QUARTER_END).to_numpy(dtype=bool, na_value=False)).astype(int)
        pq = sc["close_in_period_probability"].to_numpy()
        e_m = evaluate(yq, pq).ece
        e_s = evaluate(yq, np.clip(stage_p * (o["expected_close_at"] < QUARTER_END).to_numpy(), 0, 1)).ece
        print(f"seed {s}: {len(sc):,} open deals at {AS_OF.date()} ({known.sum():,} closed by the end of the data, "
              f"{y.mean():.2f} won), fit {fit_s:.1f} s; AUC win_probability: model {a_m:.4f}, true probability "
              f"{a_t:.4f}, stage win rate {a_s:.4f}  (gap {a_t - a_m:+.4f} {mark(a_t - a_m <= AUC_TARGET)}); "
              f"won this quarter {yq.mean():.3f}: ECE model {e_m:.4f} {mark(e_m <= ECE_TARGET)}, stage × CRM date "
              f"{e_s:.4f}")
        rows.append((a_m, a_t, a_s, e_m, e_s))
        for k, v in (("y", y), ("model", sc["win_probability"].to_numpy()[known]), ("truth", truth[known]),
                     ("stage", stage_p[known]), ("yq", yq), ("pq", pq)):
            pooled[k].append(v)
    P = {k: np.concatenate(v) for k, v in pooled.items() if v}
    am, at, ast = (roc_auc_score(P["y"], P[k]) for k in ("model", "truth", "stage"))
    eq = evaluate(P["yq"], P["pq"]).ece
    floor = ece_floor(P["pq"])
    floor_one = float(np.mean([ece_floor(p) for p in pooled["pq"]]))
    print(f"ECE sampling floor (a perfectly calibrated predictor, labels drawn from the model's own probabilities, "
          f"200 draws): {floor_one:.4f} at one world's size, {floor:.4f} pooled")
    print(f"pooled over seeds {list(seeds)} ({len(P['y']):,} deals with a known outcome): AUC model {am:.4f}, true "
          f"probability {at:.4f}, stage {ast:.4f}; gap {at - am:+.4f} target ≤ {AUC_TARGET}: "
          f"{mark(at - am <= AUC_TARGET)}; ECE of close_in_period_probability {eq:.4f} target ≤ {ECE_TARGET}: "
          f"{mark(eq <= ECE_TARGET)}")
    print(f"per seed (min–max): AUC model {spread([r[0] for r in rows])}, truth {spread([r[1] for r in rows])}, "
          f"stage {spread([r[2] for r in rows])}; ECE model {spread([r[3] for r in rows])}, stage "
          f"{spread([r[4] for r in rows])}")


def ece_floor(p, draws=200, seed=0):
    """Mean 10-bin ECE of labels drawn from ``p`` itself: what sampling alone gives at this size."""
    rng = np.random.default_rng(seed)
    return float(np.mean([evaluate((rng.random(p.size) < p).astype(int), p).ece for _ in range(draws)]))


# ----------------------------------------------------------------------------- 2. backtest
def coverage(seeds, n_accounts, threads, every_days):
    frames = []
    origins = pd.date_range("2023-07-01", "2025-06-30", freq=f"{every_days}D")
    for s in seeds:
        w = make_b2b_world(n_accounts, seed=s)
        t0 = time.perf_counter()
        r = backtest(w.tables, origins, period="quarter", periods=2, num_threads=threads)
        sm = r.summary()
        print(f"seed {s}: {len(origins)} origins, {sm['cells']} cells ({sm['corrected_cells']} corrected) in "
              f"{time.perf_counter() - t0:.0f} s; coverage 50% {sm['coverage_50']:.2f} (raw "
              f"{sm['raw_coverage_50']:.2f}), 80% {sm['coverage_80']:.2f} (raw {sm['raw_coverage_80']:.2f}); MdAPE "
              f"model {sm['mdape_model']:.3f}, stage-weighted {sm['mdape_baseline']:.3f}")
        frames.append(r.frame.assign(seed=s))
    f = pd.concat(frames, ignore_index=True)
    c = f.loc[f["corrected"]]
    y = c["actual"]
    cov50 = float(((c["p25"] <= y) & (y <= c["p75"])).mean())
    cov80 = float(((c["p10"] <= y) & (y <= c["p90"])).mean())
    raw50 = float(((f["raw_p25"] <= f["actual"]) & (f["actual"] <= f["raw_p75"])).mean())
    raw80 = float(((f["raw_p10"] <= f["actual"]) & (f["actual"] <= f["raw_p90"])).mean())
    md_m, md_b = float(np.nanmedian(f["ape_model"])), float(np.nanmedian(f["ape_baseline"]))
    print(f"\npooled over seeds {list(seeds)}: {len(f)} cells, {len(c)} corrected "
          f"{mark(len(c) >= 120)} (≥ 120)")
    for k in (0, 1):
        ck = c.loc[c["period_index"] == k]
        yk = ck["actual"]
        print(f"  period +{k}: {len(ck)} corrected cells; coverage 50% "
              f"{((ck['p25'] <= yk) & (yk <= ck['p75'])).mean():.3f}, 80% "
              f"{((ck['p10'] <= yk) & (yk <= ck['p90'])).mean():.3f}")
    print(f"  coverage of the 50% interval {cov50:.3f} {mark(0.45 <= cov50 <= 0.55)} (45–55%; raw simulation "
          f"{raw50:.3f}); of the 80% interval {cov80:.3f} {mark(0.75 <= cov80 <= 0.85)} (75–85%; raw {raw80:.3f})")
    print(f"  median APE: model p50 {md_m:.3f}, stage-weighted {md_b:.3f}: {1 - md_m / md_b:.0%} lower "
          f"{mark(md_m <= 0.75 * md_b)} (≥ 25%); mean pinball loss model {f['pinball_model'].mean():,.0f}, "
          f"stage-weighted {f['pinball_baseline'].mean():,.0f}")
    return f


# ----------------------------------------------------------------------------- 3. speed
def replicate_open(t, as_of, n_open):
    """``t`` with its open deals at ``as_of`` copied (new ids, history copied) to ``n_open`` open deals."""
    o, h = t.opportunities, t.opportunity_history
    is_open = (o["created_at"] < as_of) & (o["closed_at"].isna() | (o["closed_at"] >= as_of))
    base = o.loc[is_open]
    k = int(np.ceil(n_open / len(base)))
    hb = h.loc[h["opportunity_id"].isin(base["opportunity_id"])]
    copies, hcopies = [o.loc[~is_open]], [h.loc[~h["opportunity_id"].isin(base["opportunity_id"])]]
    for i in range(k):
        copies.append(base.assign(opportunity_id=base["opportunity_id"] + f"-{i}"))
        hcopies.append(hb.assign(opportunity_id=hb["opportunity_id"] + f"-{i}"))
    opp = pd.concat(copies, ignore_index=True)
    keep = opp.loc[opp["opportunity_id"].str.contains("-")].head(n_open)["opportunity_id"]
    opp = opp.loc[~opp["opportunity_id"].str.contains("-") | opp["opportunity_id"].isin(keep)]
    hist = pd.concat(hcopies, ignore_index=True)
    hist = hist.loc[hist["opportunity_id"].isin(opp["opportunity_id"])]
    return t.replace(opportunities=opp.reset_index(drop=True), opportunity_history=hist.reset_index(drop=True))


def speed(n_open, threads, reps):
    w = make_b2b_world(2000, seed=0)
    m = PipelineForecastModel(num_threads=threads, interval_origins=0).fit(w.tables, AS_OF)
    big = replicate_open(w.tables, AS_OF, n_open)
    times, score_times = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        fc = m.forecast(big, AS_OF)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sc = m.score(big, AS_OF)
        score_times.append(time.perf_counter() - t0)
    print(f"forecast of {int(fc['open_deals'].max()):,} open deals, {m.n_simulations:,} simulations, 2 quarters: "
          f"{min(times):.2f}–{max(times):.2f} s over {reps} runs {mark(max(times) <= SPEED_TARGET_S)} "
          f"(≤ {SPEED_TARGET_S:g} s); score with reasons {min(score_times):.2f}–{max(score_times):.2f} s "
          f"({len(sc):,} rows)")
    feats = m.build_features(w.tables, AS_OF).set_index("opportunity_id")
    lat, _ = score_row_latency(m, feats, 2000)
    p50, p99 = np.percentile(lat, [50, 99])
    print(f"score_row (one deal in process, with reasons and timing): p50 {p50:.2f} ms, p99 {p99:.2f} ms "
          f"{mark(p99 <= ROW_P99_TARGET_MS)} (≤ {ROW_P99_TARGET_MS:g} ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", default=None, help="per-deal quality seeds (default 0-2; --quick 0)")
    ap.add_argument("--bt-seeds", default=None, help="backtest seeds (default 0-5; --quick 0)")
    ap.add_argument("--accounts", type=int, default=None, help="accounts per quality world (default 2000)")
    ap.add_argument("--bt-accounts", type=int, default=None, help="accounts per backtest world (default 1000)")
    ap.add_argument("--every-days", type=int, default=28, help="days between backtest origins")
    ap.add_argument("--speed-deals", type=int, default=None, help="open deals to forecast (default 100,000)")
    ap.add_argument("--threads", type=int, default=2)
    for part in ("quality", "backtest", "speed"):
        ap.add_argument(f"--skip-{part}", action="store_true")
    a = ap.parse_args()
    warnings.filterwarnings("ignore", category=BaselineWarning)
    logging.getLogger("crmml").setLevel(logging.ERROR)
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else ([0] if a.quick else [0, 1, 2])
    bt_seeds = [int(x) for x in a.bt_seeds.split(",")] if a.bt_seeds else ([0] if a.quick else [0, 1, 2, 3, 4, 5])
    t_start = time.perf_counter()
    print(f"bench_forecast: {a.threads} threads{', quick' if a.quick else ''}")
    if not a.skip_quality:
        print("\n== per deal")
        per_deal(seeds, a.accounts or (600 if a.quick else 2000), a.threads)
    if not a.skip_backtest:
        print("\n== backtest")
        coverage(bt_seeds, a.bt_accounts or (400 if a.quick else 1000), a.threads, a.every_days)
    if not a.skip_speed:
        print("\n== speed")
        speed(a.speed_deals or (20_000 if a.quick else 100_000), a.threads, 3)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
