"""crmml.plotting: the plots logged with every training run, one module per model kind.

Model packages never import this package (nor matplotlib). Training finds a
kind's plots through :data:`PLOTTERS`, which maps the kind to a function of
crmml's own code::

    save_<kind>_plots(model, evaluation, out_dir) -> dict[str, pathlib.Path]

``model`` is the fitted model, ``evaluation`` what its ``evaluate_holdout``
hook returned (``None`` when there was no holdout check), ``out_dir`` a folder
to write PNG files to; the function returns plot name → file. A kind without
an entry is trained without plots. Plotting modules import matplotlib inside
their functions only. The supervised kinds share
:mod:`crmml.plotting.supervised` (calibration curve, gain chart, reason
frequencies, worded per kind through its ``WORDING``). The batch's drift
report draws :func:`plot_drift` (:mod:`crmml.plotting.drift`): the
most-drifted columns of each model with the PSI thresholds.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from crmml.plotting.drift import plot_drift

__all__ = ["PLOTTERS", "plot_drift", "save_plots"]

PLOTTERS: dict[str, tuple[str, str]] = {
    "clv": ("crmml.plotting.clv", "save_clv_plots"),
    "churn": ("crmml.plotting.churn", "save_churn_plots"),
    "leadscore": ("crmml.plotting.leadscore", "save_leadscore_plots"),
    "forecast": ("crmml.plotting.forecast", "save_forecast_plots"),
}
"""Model kind → (module, function) drawing its training plots."""


def save_plots(model: Any, evaluation: Any | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the training plots of ``model``'s kind to ``out_dir``; ``{}`` for a kind without plots.

    Parameters
    ----------
    model : Scorer
        A fitted model; its ``kind`` picks the plot function from :data:`PLOTTERS`.
    evaluation : object or None
        The holdout evaluation (the model's ``evaluate_holdout`` result).
    out_dir : path-like
        Folder for the PNG files (created if missing).

    Returns
    -------
    dict
        Plot name → PNG file.
    """
    entry = PLOTTERS.get(model.kind)
    if entry is None:
        return {}
    module, name = entry
    draw = getattr(importlib.import_module(module), name)
    return dict(draw(model, evaluation, out_dir))
