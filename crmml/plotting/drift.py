"""Drift plot: the most-drifted columns of each model as horizontal PSI bars, with the 0.1 / 0.25 lines.

Drawn from :func:`crmml.drift.drift_table` results only (column names and
PSI values: aggregates, no value of an entity). matplotlib is imported inside
the functions, never at module import, and model code never imports this
module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmml.drift import PSI_ACT, PSI_WATCH
from crmml.plotting._axes import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["STATUS_COLORS", "plot_drift", "plot_drift_bars"]

STATUS_COLORS = {"ok": "tab:green", "watch": "tab:orange", "act": "tab:red"}
"""Bar colour per PSI status."""


def plot_drift_bars(table: pd.DataFrame, *, top: int = 10, title: str | None = None,
                    ax: Axes | None = None) -> Axes:
    """The ``top`` most-drifted columns of one model's drift table as horizontal bars (largest on top).

    Parameters
    ----------
    table : DataFrame
        A :func:`crmml.drift.drift_table` (``column``, ``kind``, ``psi``, ``status`` ...).
    top : int, default 10
        Bars drawn (columns without a PSI are left out).
    title : str, optional
    ax : matplotlib Axes, optional
    """
    ax = new_axes(ax, (7, 4))
    psi = pd.to_numeric(table["psi"], errors="coerce").to_numpy(dtype=np.float64)
    order = [i for i in np.argsort(-np.where(np.isfinite(psi), psi, -np.inf), kind="stable") if np.isfinite(psi[i])]
    shown = table.iloc[order[: int(top)][::-1]]
    values = psi[order[: int(top)][::-1]]
    labels = [f"{c} (score)" if k == "score" else str(c) for c, k in zip(shown["column"], shown["kind"], strict=True)]
    colors = [STATUS_COLORS.get(str(s), "tab:grey") for s in shown["status"]]
    y = np.arange(len(values))
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, labels)
    ax.axvline(PSI_WATCH, color="tab:orange", linestyle="--", linewidth=1, label=f"watch (PSI > {PSI_WATCH:g})")
    ax.axvline(PSI_ACT, color="tab:red", linestyle="--", linewidth=1, label=f"act (PSI > {PSI_ACT:g})")
    ax.set_xlim(0, max(PSI_ACT * 1.2, float(values.max()) * 1.08 if len(values) else 0.0))
    if not len(values):
        ax.text(0.5, 0.5, "no column compared", transform=ax.transAxes, ha="center", va="center", color="grey")
    ax.set_xlabel("population stability index (PSI) against the fit reference")
    ax.set_title(title or "Most-drifted columns")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_drift(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str], *, top: int = 10) -> Path:
    """Write a PNG with the ``top`` most-drifted columns of every model (one panel per model).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Model name → its :func:`crmml.drift.drift_table`.
    path : path-like
        The PNG file to write (its folder is created if missing).
    top : int, default 10
        Bars per model.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    items = list(tables.items()) or [("no model", pd.DataFrame(columns=["column", "kind", "psi", "status"]))]
    heights = [1.2 + 0.32 * max(1, min(int(top), len(t))) for _, t in items]
    fig, axes = plt.subplots(len(items), 1, figsize=(8, sum(heights) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    try:
        for ax, (name, table) in zip(axes[:, 0], items, strict=True):
            plot_drift_bars(table, top=top, title=f"{name}: most-drifted columns", ax=ax)
        fig.tight_layout()
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)
    return out
