"""CLV plots: cumulative tracking, calibration by frequency, P(alive) matrix.

matplotlib is imported inside the functions, never at module import, and
model code never imports this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmml.plotting._axes import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_cumulative_tracking",
    "plot_calibration_by_frequency",
    "plot_probability_alive_matrix",
    "save_clv_plots",
]


def _ax(ax: Axes | None, figsize: tuple[float, float] = (7, 4)) -> Axes:
    return new_axes(ax, figsize)


def plot_cumulative_tracking(evaluation: Any, ax: Axes | None = None) -> Axes:
    """Actual vs model-expected cumulative repeat purchases, with the calibration end marked."""
    ax = _ax(ax)
    tr = evaluation.tracking
    ax.plot(tr.index, tr["actual"], label="actual", color="black")
    ax.plot(tr.index, tr["predicted"], label="model", color="tab:blue", linestyle="--")
    ax.axvline(evaluation.calibration_end, color="grey", linestyle=":", label="calibration end")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title("Tracking cumulative repeat purchases")
    ax.legend()
    return ax


def plot_calibration_by_frequency(evaluation: Any, ax: Axes | None = None) -> Axes:
    """Mean holdout purchases, actual vs predicted, by calibration-period frequency."""
    ax = _ax(ax)
    bf = evaluation.by_frequency
    x = np.arange(len(bf))
    ax.plot(x, bf["actual"], marker="o", color="black", label="actual")
    ax.plot(x, bf["predicted"], marker="s", linestyle="--", color="tab:blue", label="model")
    ax.set_xticks(x, list(bf.index))
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean purchases in holdout")
    ax.set_title("Conditional expectations: holdout vs calibration frequency")
    ax.legend()
    return ax


def plot_probability_alive_matrix(model: Any, *, max_frequency: int | None = None,
                                  max_recency: float | None = None, ax: Axes | None = None) -> Axes:
    """P(alive) over a grid of frequency × recency for a customer of age ``max_recency``."""
    ax = _ax(ax, (6, 5))
    tm = model.transaction_model_
    T = float(max_recency if max_recency is not None else 365.0 / (7.0 if model.freq == "W" else 1.0))
    fmax = int(max_frequency if max_frequency is not None else 30)
    f = np.arange(fmax + 1, dtype=float)
    r = np.linspace(0.0, T, 60)
    F, R = np.meshgrid(f, r, indexing="ij")
    R = np.where(F == 0, 0.0, R)
    grid = pd.DataFrame({"frequency": F.ravel(), "recency": R.ravel(), "T": np.full(F.size, T)})
    pa = np.asarray(tm.probability_alive(grid), dtype=float).reshape(F.shape)
    im = ax.imshow(pa, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis",
                   extent=(0, T, -0.5, fmax + 0.5))
    ax.figure.colorbar(im, ax=ax, label="P(alive)")
    ax.set_xlabel(f"recency (age at last purchase, {'days' if model.freq == 'D' else 'weeks'})")
    ax.set_ylabel("repeat purchases (frequency)")
    ax.set_title(f"Probability alive, customer age {T:g}")
    return ax


def save_clv_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the CLV plots as PNG files; returns name → path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    jobs: list[tuple[str, Any]] = []
    if evaluation is not None:
        jobs += [("cumulative_tracking", lambda ax: plot_cumulative_tracking(evaluation, ax=ax)),
                 ("calibration_by_frequency", lambda ax: plot_calibration_by_frequency(evaluation, ax=ax))]
    if model.business == "noncontractual":
        jobs.append(("probability_alive_matrix", lambda ax: plot_probability_alive_matrix(model, ax=ax)))
    for name, draw in jobs:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        draw(ax)
        fig.tight_layout()
        p = out / f"{name}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths[name] = p
    return paths
