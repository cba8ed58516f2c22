"""Churn plots: calibration curve, cumulative gain (lift) chart, reason frequencies.

The plots of every supervised crmml model (:mod:`crmml.plotting.supervised`),
worded for churn ("churn probability", "customers", "churners", "riskiest
first"); this module keeps the churn names. Everything is drawn from what the
fitted model stores (held-out-cutoff metrics and reason frequencies), so a
loaded model draws the same plots. matplotlib is imported inside the
functions, never at module import, and model code never imports this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crmml.plotting.supervised import (
    gain_table,
    plot_calibration_curve,
    plot_gain_chart,
    plot_reason_frequencies,
    save_supervised_plots,
)

__all__ = [
    "gain_table",
    "plot_calibration_curve",
    "plot_gain_chart",
    "plot_reason_frequencies",
    "save_churn_plots",
]


def save_churn_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the churn plots as PNG files; returns name → path (``evaluation`` is unused: no holdout hook).

    The files are ``calibration_curve.png``, ``gain_chart.png`` and
    ``reason_frequencies.png`` (:func:`crmml.plotting.supervised.save_supervised_plots`).
    """
    return save_supervised_plots(model, evaluation, out_dir)
