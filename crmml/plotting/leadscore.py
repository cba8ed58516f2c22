"""Lead-scoring plots: the supervised plots worded for leads, plus the conversion rate per grade A–D.

The calibration curve, gain chart and reason frequencies are those of every
supervised crmml model (:mod:`crmml.plotting.supervised`). The grade chart is
drawn from what the fitted :class:`~crmml.leadscore.LeadScoreModel` stores,
so a loaded model draws the same plot. matplotlib is imported inside the
functions, never at module import, and model code never imports this module.

The conversion rate per grade is exact: the spine stores, per score 1–99,
how many held-out leads got it and how many of them converted
(``BinaryOutcomeModel.score_table_``), so any grade cut points aggregate it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmml.plotting._axes import new_axes
from crmml.plotting.supervised import save_supervised_plots, wording

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["conversion_by_grade", "plot_conversion_by_grade", "save_leadscore_plots"]

_GRADES = ("A", "B", "C", "D")  # the positions 0-3 of LeadScoreModel._grade (plotting never imports a model package)


def conversion_by_grade(model: Any) -> pd.DataFrame:
    """Held-out leads and conversions per grade A–D: :meth:`LeadScoreModel.conversion_by_grade` (exact)."""
    return model.conversion_by_grade()


def _grade_labels(model: Any) -> list[str]:
    a, b, c = int(model.grade_a), int(model.grade_b), int(model.grade_c)
    return [f"A (≥{a})", f"B ({b}–{a - 1})", f"C ({c}–{b - 1})", f"D (<{c})"]


def plot_conversion_by_grade(model: Any, ax: Axes | None = None) -> Axes:
    """Conversion rate per grade A–D on the held-out cutoff (exact: the model's held-out score table).

    One bar per grade, A to D left to right, labelled with the grade's score
    range and annotated with the rate and the number of held-out leads; the
    dashed line is the rate of all held-out leads.
    """
    ax = new_axes(ax, (7, 4.5))
    w = wording(model)
    table = conversion_by_grade(model)
    rates = table["rate"].to_numpy(dtype=np.float64)
    x = np.arange(len(table))
    bars = ax.bar(x, np.nan_to_num(rates, nan=0.0), color=["tab:green", "tab:blue", "tab:orange", "tab:grey"])
    total = float(table["leads"].sum())
    if total > 0:
        ax.axhline(float(table["converted"].sum()) / total, color="black", linestyle="--", linewidth=1,
                   label=f"all held-out {w.entities}")
        ax.legend(loc="upper right")
    for bar, rate, leads in zip(bars, rates, table["leads"].to_numpy(), strict=True):
        text = f"no {w.entities}" if leads == 0 else f"{rate:.1%}\n{int(leads):,} {w.entities}"
        ax.annotate(text, xy=(bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, _grade_labels(model))
    ax.set_xlabel("grade (score range)")
    ax.set_ylabel(f"observed {w.outcome} rate")
    ax.set_ylim(0, max(float(np.nanmax(rates)) if np.isfinite(rates).any() else 0.0, 0.01) * 1.3)
    ax.set_title(f"{w.outcome.capitalize()} rate by grade on the held-out cutoff")
    return ax


def save_leadscore_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the lead-scoring plots as PNG files; returns name → path (``evaluation`` is unused).

    ``calibration_curve``, ``gain_chart``, ``reason_frequencies``
    (:func:`crmml.plotting.supervised.save_supervised_plots`) and
    ``conversion_by_grade``.
    """
    return save_supervised_plots(model, evaluation, out_dir,
                                 extra=[("conversion_by_grade", plot_conversion_by_grade)])
