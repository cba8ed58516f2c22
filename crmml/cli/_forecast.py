"""``crmml train forecast`` options, the ``crmml score`` summary of deal scores, and the period forecast's output."""

from __future__ import annotations

import argparse
from typing import Any

from crmml.cli._churn import _threads
from crmml.cli._common import _COUNT, _DAYS_POSITIVE, _add_static_column_options, _number

_ORIGINS = _number(int, minimum=0)
_SIMS = _number(int, minimum=100)


def add_train_options(t: argparse.ArgumentParser) -> None:
    """The PipelineForecastModel hyperparameters ``crmml train forecast`` exposes."""
    t.add_argument("--period", choices=("quarter", "month"), default="quarter",
                   help="the bookings period (default: quarter)")
    t.add_argument("--horizon-days", type=_DAYS_POSITIVE, default=184.0,
                   help="win_probability = P(won within this many days); period forecasts reach at most this far "
                        "(default 184: this and the next quarter)")
    t.add_argument("--n-cutoffs", type=_COUNT, default=24,
                   help="training cutoffs (the latest is held out; those before the first deal are skipped)")
    t.add_argument("--cutoff-spacing-days", type=_DAYS_POSITIVE, default=30.0, help="days between training cutoffs")
    t.add_argument("--interval-origins", type=_ORIGINS, default=12,
                   help="origins of the backtest run at fit to correct the intervals (each refits the model; 0: "
                        "uncorrected simulation intervals)")
    t.add_argument("--interval-decay-days", type=_DAYS_POSITIVE, default=730.0,
                   help="a backtest residual weighs exp(-age / this) in the interval correction (default 730)")
    t.add_argument("--n-simulations", type=_SIMS, default=2000, help="Monte Carlo draws of the period forecast")
    _add_static_column_options(t, "opportunities", ": an export holds today's values")
    t.add_argument("--num-threads", type=_threads, default=0,
                   help="LightGBM threads (0 = all cores; 1 is steadier on a busy machine)")


def train_params(a: argparse.Namespace) -> dict[str, Any]:
    """PipelineForecastModel keyword arguments from the parsed options."""
    return {"period": a.period, "horizon_days": a.horizon_days, "n_cutoffs": a.n_cutoffs,
            "cutoff_spacing_days": a.cutoff_spacing_days, "interval_origins": a.interval_origins,
            "interval_decay_days": a.interval_decay_days,
            "n_simulations": a.n_simulations, "static_columns": tuple(a.static_column),
            "allow_columns": tuple(a.allow_column), "num_threads": a.num_threads}


def print_scores(scores: Any, top: int) -> None:
    """Open deals, expected bookings this period, then the deals with the largest expected bookings."""
    n = len(scores)
    total = float(scores["expected_bookings"].sum()) if n else 0.0
    print(f"\n{n:,} open deals; expected bookings this period {total:,.0f} "
          f"(amount {float(scores['amount'].sum()) if n else 0.0:,.0f}); "
          f"{int((scores['slip_probability'] > 0.5).sum()) if n else 0:,} likely to slip past their CRM close date")
    print(f"\nTop {top} deals by expected bookings this period:")
    cols = ["customer_id", "stage", "amount", "win_probability", "close_in_period_probability", "expected_close_at",
            "slip_probability", "reason_1"]
    best = scores.sort_values("expected_bookings", ascending=False, kind="stable").head(top)
    print(best[cols].to_string(formatters={
        "amount": "{:,.0f}".format, "win_probability": "{:.2f}".format,
        "close_in_period_probability": "{:.2f}".format, "slip_probability": "{:.2f}".format,
        "expected_close_at": lambda v: str(v.date()) if hasattr(v, "date") else str(v)}))


def print_forecast(frame: Any, group_by: str | None) -> None:
    """The period forecast: P10/P50/P90 beside the stage-weighted pipeline, per period (and group)."""
    cols = ["period_start", *([group_by] if group_by else []), "booked", "from_open", "from_new", "p10", "p50",
            "p90", "stage_weighted"]
    shown = frame[cols].copy()
    shown["period_start"] = shown["period_start"].dt.date
    money = {c: "{:,.0f}".format for c in cols if c not in ("period_start", group_by)}
    print(shown.to_string(index=False, formatters=money))
    how = sorted(set(frame["interval"]))
    print(f"intervals: {', '.join(how)}")


def print_backtest(summary: dict[str, Any]) -> None:
    """The backtest summary: interval coverage (corrected and raw) and errors, model vs stage-weighted."""
    def pct(v: Any) -> str:
        return "—" if v is None else f"{v:.1%}"

    print(f"\nBacktest: {summary['cells']} origin × period cells ({summary['corrected_cells']} with corrected "
          "intervals: enough earlier cells had ended)")
    print(f"  coverage of the 50% interval: {pct(summary['coverage_50'])} "
          f"(raw simulation {pct(summary['raw_coverage_50'])})")
    print(f"  coverage of the 80% interval: {pct(summary['coverage_80'])} "
          f"(raw simulation {pct(summary['raw_coverage_80'])})")
    print(f"  median absolute % error: model p50 {pct(summary['mdape_model'])}, stage-weighted "
          f"{pct(summary['mdape_baseline'])}")
    print(f"  mean pinball loss: model {summary['pinball_model']:,.0f}, stage-weighted "
          f"{summary['pinball_baseline']:,.0f}")
