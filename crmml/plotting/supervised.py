"""Plots of every supervised crmml model: calibration curve, cumulative gain chart, reason frequencies.

Churn, lead scoring and every other model on the supervised spine
(:mod:`crmml.supervised`) store the same held-out-cutoff results: the
equal-mass calibration bins (``model.model_.evaluation_.calibration_curve``),
the baseline comparison (``model.model_.baseline_comparison_``), the reason
frequencies (``model.reason_frequencies_``) and the reason templates
(``model.model_.templates_``). The plots are drawn from those alone, so a
loaded model draws the same plots; only the words differ per kind, and they
come from :data:`WORDING` (generic words for a kind without an entry).

matplotlib is imported inside the functions, never at module import, and
model code never imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crmml.plotting._axes import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "WORDING",
    "Wording",
    "gain_table",
    "plot_calibration_curve",
    "plot_gain_chart",
    "plot_reason_frequencies",
    "save_supervised_plots",
    "wording",
]


@dataclass(frozen=True)
class Wording:
    """The nouns a kind's plots use.

    Attributes
    ----------
    outcome : str
        The predicted event ("churn": "mean predicted churn probability").
    entities : str
        What is scored, plural ("customers").
    positives : str
        The entities with the event ("churners").
    ordering : str
        How the gain chart ranks the entities ("riskiest first").
    """

    outcome: str
    entities: str
    positives: str
    ordering: str


WORDING: dict[str, Wording] = {
    "churn": Wording("churn", "customers", "churners", "riskiest first"),
    "leadscore": Wording("conversion", "leads", "converted leads", "best-scored first"),
    "forecast": Wording("win", "deal × look-ahead rows", "wins", "likeliest first"),
}
"""Model kind → the nouns of its plots (a kind without an entry gets :func:`wording`'s generic words)."""

_GENERIC = Wording("outcome", "entities", "positives", "highest probability first")


def wording(model: Any) -> Wording:
    """The nouns of ``model``'s plots: :data:`WORDING` of its kind, else generic words.

    For a kind without an entry the outcome is taken from the name of its
    probability column when that reads ``<outcome>_probability``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> wording(SimpleNamespace(kind="churn")).positives
    'churners'
    >>> wording(SimpleNamespace(kind="new", output_names={"probability": "win_probability"})).outcome
    'win'
    >>> wording(SimpleNamespace(kind="new")).entities
    'entities'
    """
    kind = getattr(model, "kind", None)
    if kind in WORDING:
        return WORDING[kind]
    names = getattr(model, "output_names", None)
    column = names.get("probability") if isinstance(names, dict) else None
    if isinstance(column, str) and column.endswith("_probability") and len(column) > len("_probability"):
        outcome = column[: -len("_probability")].replace("_", " ")
        return Wording(outcome, _GENERIC.entities, _GENERIC.positives, _GENERIC.ordering)
    return _GENERIC


def _ax(ax: Axes | None, figsize: tuple[float, float] = (7, 4.5)) -> Axes:
    return new_axes(ax, figsize)


def plot_calibration_curve(model: Any, ax: Axes | None = None) -> Axes:
    """Observed outcome rate vs mean predicted probability per equal-mass bin of the held-out cutoff.

    The model's bins and, when it was compared with one, the baseline's; the
    dotted diagonal is perfect calibration.
    """
    ax = _ax(ax)
    w = wording(model)
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
    ax.set_xlabel(f"mean predicted {w.outcome} probability")
    ax.set_ylabel(f"observed {w.outcome} rate")
    ax.set_title("Calibration on the held-out cutoff")
    ax.legend()
    return ax


def gain_table(curve: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of entities (highest probability first) and of positives captured, from calibration bins.

    Parameters
    ----------
    curve : dict
        Equal-mass calibration bins: ``mean_predicted``, ``observed`` (rate)
        and ``count`` per bin.

    Returns
    -------
    x, y : numpy.ndarray
        Starting at 0: after each bin (highest mean probability first), the
        share of all entities taken and the share of all positives among them.

    Examples
    --------
    >>> x, y = gain_table({"mean_predicted": [0.1, 0.9], "observed": [0.0, 1.0], "count": [50, 50]})
    >>> x.tolist(), y.tolist()
    ([0.0, 0.5, 1.0], [0.0, 1.0, 1.0])
    """
    p = np.asarray(curve["mean_predicted"], dtype=float)
    obs = np.asarray(curve["observed"], dtype=float)
    n = np.asarray(curve["count"], dtype=float)
    order = np.argsort(-p, kind="stable")
    pos = (obs * n)[order]
    x = np.concatenate([[0.0], np.cumsum(n[order]) / max(n.sum(), 1.0)])
    y = np.concatenate([[0.0], np.cumsum(pos) / max(pos.sum(), 1e-12)])
    return x, y


def plot_gain_chart(model: Any, ax: Axes | None = None) -> Axes:
    """Cumulative gain: share of positives among the top x% by probability (model vs baseline vs random)."""
    ax = _ax(ax)
    w = wording(model)
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
    ax.set_xlabel(f"share of {w.entities} contacted ({w.ordering})")
    ax.set_ylabel(f"share of {w.positives} reached")
    ax.set_title("Cumulative gain on the held-out cutoff")
    ax.legend(loc="lower right")
    return ax


def plot_reason_frequencies(model: Any, top: int = 15, ax: Axes | None = None) -> Axes:
    """How often each feature is among the top increasing reasons (a sample of the held-out cutoff)."""
    ax = _ax(ax, (7, 5))
    w = wording(model)
    freq = list(model.reason_frequencies_.items())[:top][::-1]
    labels = [model.model_.templates_.label(f) for f, _ in freq]
    ax.barh(range(len(freq)), [v for _, v in freq], color="tab:blue")
    ax.set_yticks(range(len(freq)), labels)
    n = int(getattr(model, "n_increasing", 3))
    ax.set_xlabel(f"share of held-out {w.entities} with this factor in their top {n} reasons")
    ax.set_title("Reason frequencies")
    return ax


Draw = Callable[..., Any]
"""A plot function ``draw(model, ax=ax)``."""


def save_supervised_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str],
                          extra: Iterable[tuple[str, Draw]] = ()) -> dict[str, Path]:
    """Write the calibration curve, gain chart, reason frequencies and ``extra`` plots as PNG files.

    Parameters
    ----------
    model : fitted supervised crmml model
    evaluation : object or None
        Unused (the held-out cutoff inside ``fit`` is the check); accepted
        for the :data:`crmml.plotting.PLOTTERS` signature.
    out_dir : path-like
        Folder for the files (created if missing).
    extra : iterable of (name, draw)
        More plots of the kind, each ``draw(model, ax=ax)``, written as
        ``<name>.png`` after the generic three.

    Returns
    -------
    dict
        Plot name → PNG file.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    jobs: list[tuple[str, Draw]] = [("calibration_curve", plot_calibration_curve), ("gain_chart", plot_gain_chart),
                                    ("reason_frequencies", plot_reason_frequencies), *extra]
    for name, draw in jobs:
        fig, ax = plt.subplots(figsize=(7, 5))
        try:
            draw(model, ax=ax)
            fig.tight_layout()
            p = out / f"{name}.png"
            fig.savefig(p, dpi=110)
        finally:
            plt.close(fig)
        paths[name] = p
    return paths
