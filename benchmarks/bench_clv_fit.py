"""Fit time of crmml's BG/NBD and Pareto/NBD against lifetimes, same data, same run.

    python benchmarks/bench_clv_fit.py [--quick]

Simulates customers on a daily grid (T uniform in 1..1095 days, recency
floored to whole days) with the CDNOW parameters rescaled from weeks to days,
fits lifetimes' fitter and crmml's model on the same summary and prints both
times, their ratio, both parameter sets and the peak memory.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np

from crmml.clv import BetaGeoModel, ParetoNBDModel, simulate_bgnbd, simulate_pareto_nbd

BG_DAILY = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
PNBD_DAILY = {"r": 0.553, "alpha": 10.578 * 7, "s": 0.606, "beta": 11.669 * 7}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fmt(p: dict) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in p.items())


def run(name: str, n: int, sim, params: dict, model_cls, lifetimes_cls, seed: int) -> None:
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 1096, n).astype(float)
    s = sim(n, params, T=T, seed=seed + 1, discrete=True)[["frequency", "recency", "T"]]
    print(f"\n{name}: {n:,} customers, {len(s.drop_duplicates()):,} unique (x, t_x, T)")
    t0 = time.perf_counter()
    m = model_cls().fit(s)
    t_crmml = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lf = lifetimes_cls()
        t0 = time.perf_counter()
        lf.fit(s["frequency"].astype(int), s["recency"], s["T"])
        t_ref = time.perf_counter() - t0
    print(f"  crmml {model_cls.__name__}: {t_crmml:8.2f} s   {_fmt(m.params_)}  (loglik {m.log_likelihood_:.2f})")
    print(f"  lifetimes {lifetimes_cls.__name__}: {t_ref:8.2f} s   {_fmt(lf.params_.to_dict())}")
    print(f"  speed-up: {t_ref / t_crmml:.1f}x   peak RSS so far: {_peak_mb():.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100k BG/NBD and 10k Pareto/NBD customers")
    args = ap.parse_args()
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    n_bg, n_pn = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    run("BG/NBD", n_bg, simulate_bgnbd, BG_DAILY, BetaGeoModel, BetaGeoFitter, 0)
    run("Pareto/NBD", n_pn, simulate_pareto_nbd, PNBD_DAILY, ParetoNBDModel, ParetoNBDFitter, 10)


if __name__ == "__main__":
    main()
