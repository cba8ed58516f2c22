"""``crmml train churn`` options and the ``crmml score`` summary of churn scores."""

from __future__ import annotations

import argparse
from typing import Any

from crmml.cli._common import _COUNT, _DAYS_POSITIVE


def _threads(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads >= 0; got {text!r}") from None
    if not 0 <= v <= 1024:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads in [0, 1024]; got {text!r}")
    return v


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}")
    return v


def add_train_options(t: argparse.ArgumentParser) -> None:
    """The ChurnModel hyperparameters ``crmml train churn`` exposes."""
    t.add_argument("--business", choices=["noncontractual", "contractual"], default="noncontractual",
                   help="noncontractual (B2C: churn is silence) or contractual (B2B: churn is a non-renewal)")
    t.add_argument("--horizon-days", type=_DAYS_POSITIVE, default=90.0, help="churn window after as_of")
    t.add_argument("--active-within-days", type=_DAYS_POSITIVE, default=None,
                   help="B2C: score only customers with a purchase in this many days before as_of (the others "
                        "have lapsed and are reported); default: everyone with a purchase")
    t.add_argument("--n-cutoffs", type=_COUNT, default=4, help="training cutoffs (the latest is held out)")
    t.add_argument("--tier-mode", choices=["probability", "capacity"], default="probability")
    t.add_argument("--high-tier", type=_share, default=0.6, help="probability (or top share) for the high tier")
    t.add_argument("--medium-tier", type=_share, default=0.3, help="probability (or next share) for medium")
    t.add_argument("--reasons-for", choices=["all", "actionable"], default="all",
                   help="reasons for every customer, or only medium and high tiers (faster)")
    t.add_argument("--num-threads", type=_threads, default=0,
                   help="LightGBM threads for training and batch scoring (0 = all cores; 1 is steadier on a "
                        "busy machine)")


def train_params(a: argparse.Namespace) -> dict[str, Any]:
    """ChurnModel keyword arguments from the parsed options."""
    return {"business": a.business, "horizon_days": a.horizon_days, "active_within_days": a.active_within_days,
            "n_cutoffs": a.n_cutoffs,
            "tier_mode": a.tier_mode, "high_tier": a.high_tier, "medium_tier": a.medium_tier,
            "reasons_for": a.reasons_for, "num_threads": a.num_threads}


def print_scores(scores: Any, top: int) -> None:
    """Customers per risk tier (with the revenue at risk), then the top at-risk customers with their first reason."""
    n = max(len(scores), 1)
    print("\nRisk tiers:")
    for tier in ("high", "medium", "low"):
        sel = scores["risk_tier"].astype(str) == tier
        k = int(sel.sum())
        money = float(scores.loc[sel, "revenue_at_risk"].sum())
        print(f"  {tier:<7} {k:>9,}  ({k / n:.1%})  revenue at risk {money:,.0f}")
    print(f"\nTop {top} at-risk customers by revenue at risk:")
    cols = ["churn_probability", "risk_tier", "action", "revenue_at_risk", "reason_1"]
    best = scores.sort_values(["revenue_at_risk", "churn_probability"], ascending=False, kind="stable").head(top)
    print(best[cols].to_string(float_format=lambda v: f"{v:,.3f}"))
