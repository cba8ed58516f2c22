"""``crmml train clv`` options and the ``crmml score`` summary of CLV scores."""

from __future__ import annotations

import argparse
from typing import Any

from crmml.cli._common import _DAYS_POSITIVE, _NON_NEGATIVE


def add_train_options(t: argparse.ArgumentParser) -> None:
    """The CLVModel hyperparameters ``crmml train clv`` exposes."""
    t.add_argument("--horizon-days", type=_DAYS_POSITIVE, default=365.0)
    t.add_argument("--discount-rate", type=_NON_NEGATIVE, default=0.10, help="annual discount rate")
    t.add_argument("--business", choices=["noncontractual", "contractual"], default="noncontractual")
    t.add_argument("--transaction-model", choices=["bgnbd", "pareto_nbd"], default="bgnbd")


def train_params(a: argparse.Namespace) -> dict[str, Any]:
    """CLVModel keyword arguments from the parsed options."""
    return {"business": a.business, "transaction_model": a.transaction_model, "horizon_days": a.horizon_days,
            "discount_rate": a.discount_rate}


def print_scores(scores: Any, top: int) -> None:
    """Customers per segment, then the top customers by CLV."""
    counts = scores["segment"].value_counts().reindex(["Champions", "Loyal", "Potential", "At risk"], fill_value=0)
    print("\nSegments:")
    for seg, n in counts.items():
        print(f"  {seg:<10} {n:>8,}  ({n / max(len(scores), 1):.1%})")
    print(f"\nTop {top} customers by CLV:")
    cols = ["segment", "clv", "probability_alive", "expected_purchases", "expected_average_value"]
    print(scores.nlargest(top, "clv")[cols].to_string(float_format=lambda v: f"{v:,.2f}"))
