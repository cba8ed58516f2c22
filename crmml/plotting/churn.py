"""Churn plots: calibration curve, cumulative gain (lift) chart, reason frequencies.

matplotlib is imported inside the functions, never at module import, and
model code never imports this module. Everything is drawn from what the
fitted model stores (held-out-cutoff metrics and reason frequencies), so a
loaded model draws the same plots.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crmml.plotting._axes import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "gain_table",
    "plot_calibration_curve",
    "plot_gain_chart",
    "plot_reason_frequencies",
    "save_churn_plots",
]


def _ax(ax: Axes | None, figsize: tuple[float, float] = (7, 4.5)) -> Axes:
    return new_axes(ax, figsize)


def plot_calibration_curve(model: Any, ax: Axes | None = None) -> Axes:
    """Observed churn rate vs mean predicted probability per equal-mass bin of the held-out cutoff."""
    ax = _ax(ax)
    ev = model.model_.evaluation_
    curve = ev.calibration_curve
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    ax.plot(curve["mean_predicted"], curve["observed"], marker="o", color="tab:blue",
            label=f"model (ECE {ev.ece:.3f})")
    bc = model.model_.baseline_comparison_
    if bc is not None:
        b = bc.baseline.calibration_curve
        ax.plot(b["mean_predicted"], b["observed"], marker="s", linestyle="--", color="tab:orange",
                label=f"baseline (ECE {bc.baseline.ece:.3f})")
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration on the held-out cutoff")
    ax.legend()
    return ax


def gain_table(curve: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of customers (riskiest first) and of churners captured, from calibration bins."""
    p = np.asarray(curve["mean_predicted"], dtype=float)
    obs = np.asarray(curve["observed"], dtype=float)
    n = np.asarray(curve["count"], dtype=float)
    order = np.argsort(-p, kind="stable")
    pos = (obs * n)[order]
    x = np.concatenate([[0.0], np.cumsum(n[order]) / max(n.sum(), 1.0)])
    y = np.concatenate([[0.0], np.cumsum(pos) / max(pos.sum(), 1e-12)])
    return x, y


def plot_gain_chart(model: Any, ax: Axes | None = None) -> Axes:
    """Cumulative gain: share of churners among the riskiest x% (model vs baseline vs random)."""
    ax = _ax(ax)
    ev = model.model_.evaluation_
    x, y = gain_table(ev.calibration_curve)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.plot(x, y, marker="o", color="tab:blue",
            label=f"model (AUC {ev.roc_auc:.3f}, top-decile lift {ev.top_decile_lift:.2f})"
            if ev.roc_auc is not None and ev.top_decile_lift is not None else "model")
    bc = model.model_.baseline_comparison_
    if bc is not None:
        bx, by = gain_table(bc.baseline.calibration_curve)
        ax.plot(bx, by, marker="s", linestyle="--", color="tab:orange",
                label=f"baseline {model.model_.baseline} (AUC {bc.baseline.roc_auc:.3f})"
                if bc.baseline.roc_auc is not None else "baseline")
    ax.set_xlabel("share of customers contacted (riskiest first)")
    ax.set_ylabel("share of churners reached")
    ax.set_title("Cumulative gain on the held-out cutoff")
    ax.legend(loc="lower right")
    return ax


def plot_reason_frequencies(model: Any, top: int = 15, ax: Axes | None = None) -> Axes:
    """How often each feature is among the top-3 increasing reasons (held-out sample)."""
    ax = _ax(ax, (7, 5))
    freq = list(model.reason_frequencies_.items())[:top][::-1]
    labels = [model.model_.templates_.label(f) for f, _ in freq]
    ax.barh(range(len(freq)), [v for _, v in freq], color="tab:blue")
    ax.set_yticks(range(len(freq)), labels)
    ax.set_xlabel("share of held-out customers with this factor in their top 3 reasons")
    ax.set_title("Reason frequencies")
    return ax


def save_churn_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the churn plots as PNG files; returns name → path (``evaluation`` is unused: no holdout hook)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    jobs = [("calibration_curve", plot_calibration_curve), ("gain_chart", plot_gain_chart),
            ("reason_frequencies", plot_reason_frequencies)]
    for name, draw in jobs:
        fig, ax = plt.subplots(figsize=(7, 5))
        draw(model, ax=ax)
        fig.tight_layout()
        p = out / f"{name}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths[name] = p
    return paths
