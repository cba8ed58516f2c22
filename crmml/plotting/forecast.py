"""Forecast plots: the fan chart of a backtest, the coverage of its intervals, the calibration of P(won in period).

The fan chart and the coverage plot take a backtest frame
(:attr:`crmml.forecast.BacktestResult.frame`, or ``model.backtest_result().frame``
for the backtest run at fit); the calibration plot reads what a fitted
:class:`~crmml.forecast.PipelineForecastModel` stores, so a loaded model
draws the same plots. matplotlib is imported inside the functions only, and
model code never imports this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmml.plotting._axes import new_axes
from crmml.plotting.supervised import save_supervised_plots

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_coverage", "plot_fan_chart", "plot_period_calibration", "save_forecast_plots"]

_NOMINAL = {"50%": ("p25", "p75", 0.5), "80%": ("p10", "p90", 0.8)}


def plot_fan_chart(frame: pd.DataFrame, period_index: int = 0, ax: Axes | None = None) -> Axes:
    """Forecast bands vs actual bookings over the backtest origins, for one period index.

    x: the origin; shaded: the 80 % (p10–p90) and 50 % (p25–p75) intervals;
    line: p50; dots: the actual bookings of the period; dashed: the
    stage-weighted pipeline.
    """
    ax = new_axes(ax, (8, 4.5))
    f = frame.loc[frame["period_index"] == period_index].sort_values("origin")
    x = pd.to_datetime(f["origin"])
    ax.fill_between(x, f["p10"], f["p90"], color="tab:blue", alpha=0.18, label="80 % interval")
    ax.fill_between(x, f["p25"], f["p75"], color="tab:blue", alpha=0.35, label="50 % interval")
    ax.plot(x, f["p50"], color="tab:blue", linewidth=1.5, label="p50")
    ax.plot(x, f["stage_weighted"], color="tab:orange", linestyle="--", linewidth=1, label="stage-weighted")
    ax.scatter(x, f["actual"], color="black", s=12, zorder=3, label="actual")
    which = "the current period" if period_index == 0 else f"period +{period_index}"
    ax.set_title(f"Backtest: bookings of {which} by forecast origin")
    ax.set_xlabel("forecast origin")
    ax.set_ylabel("bookings")
    ax.legend(loc="best", fontsize=8)
    return ax


def coverage_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Empirical coverage of the 50 % and 80 % intervals, corrected and raw (simulation), per period index."""
    rows = []
    for k, part in frame.groupby("period_index"):
        y = part["actual"]
        for name, (lo, hi, nominal) in _NOMINAL.items():
            corr = part.loc[part["corrected"]] if "corrected" in part else part.iloc[0:0]
            yc = corr["actual"]
            rows.append({"period_index": int(k), "interval": name, "nominal": nominal,
                         "corrected": float(((corr[lo] <= yc) & (yc <= corr[hi])).mean()) if len(corr) else np.nan,
                         "raw": float(((part[f"raw_{lo}"] <= y) & (y <= part[f"raw_{hi}"])).mean()),
                         "cells": int(len(part)), "corrected_cells": int(len(corr))})
    return pd.DataFrame(rows)


def plot_coverage(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Empirical vs nominal coverage of the 50 % and 80 % intervals (corrected and raw), per period index."""
    ax = new_axes(ax, (7, 4.5))
    t = coverage_table(frame)
    labels = [f"{r.interval}, period +{r.period_index}" for r in t.itertuples()]
    x = np.arange(len(t))
    ax.bar(x - 0.2, t["raw"], width=0.4, color="tab:grey", label="simulation (raw)")
    ax.bar(x + 0.2, np.nan_to_num(t["corrected"].to_numpy(dtype=np.float64)), width=0.4, color="tab:blue",
           label="conformal (corrected)")
    for xi, nominal in zip(x, t["nominal"], strict=True):
        ax.hlines(nominal, xi - 0.45, xi + 0.45, color="black", linestyle="--", linewidth=1)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of actual bookings inside the interval")
    ax.set_title("Interval coverage in the backtest (dashed: nominal)")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_period_calibration(model: Any, ax: Axes | None = None) -> Axes:
    """P(won before the end of the period) vs the observed rate on the held-out cutoff (equal-mass bins)."""
    ax = new_axes(ax, (7, 4.5))
    ev = model.period_check_
    c = ev.calibration_curve
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    ax.plot(c["mean_predicted"], c["observed"], marker="o", color="tab:blue", label=f"model (ECE {ev.ece:.3f})")
    ax.set_xlabel("mean predicted P(won in the period)")
    ax.set_ylabel("observed share won in the period")
    ax.set_title("Calibration of P(won in period), held-out cutoff")
    ax.legend()
    return ax


def save_forecast_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the forecast plots as PNG files; returns name → path (``evaluation`` is unused).

    The supervised plots (calibration of P(won within d days), gain chart,
    reason frequencies), ``period_calibration``, and — when the model ran a
    backtest at fit — ``fan_chart`` and ``coverage``.
    """
    extra: list[tuple[str, Any]] = [("period_calibration", plot_period_calibration)]
    result = model.backtest_result()
    if result is not None:
        frame = result.frame
        extra += [("fan_chart", lambda m, ax: plot_fan_chart(frame, 0, ax=ax)),
                  ("coverage", lambda m, ax: plot_coverage(frame, ax=ax))]
    return save_supervised_plots(model, evaluation, out_dir, extra=extra)
