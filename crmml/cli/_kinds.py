"""What the CLI knows per model kind: its ``train`` options and its ``score`` summary.

Adding a kind to the CLI is one entry in :data:`CLI_KINDS` (with a small
module like :mod:`crmml.cli._clv`): ``crmml train <kind>`` gets the common
options (``--data``, ``--as-of``, ``--holdout-days``, MLflow, ``--save``,
``--plots-dir``) plus the kind's own, and ``crmml score`` prints the kind's
summary. Training itself is :func:`crmml.training.train`, the same for every
kind. A kind registered in :data:`crmml.scoring.KINDS` without an entry here
can still be scored (``crmml score --model``): its first rows are printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crmml.cli import _churn, _clv, _forecast, _leadscore


@dataclass(frozen=True)
class KindCLI:
    """The CLI hooks of one model kind.

    Attributes
    ----------
    help : str
        One line for ``crmml train --help``.
    add_train_options : callable
        ``(parser) -> None``: adds the kind's hyperparameter options to ``crmml train <kind>``.
    train_params : callable
        ``(namespace) -> dict``: the model's keyword arguments from the parsed options.
    print_scores : callable
        ``(scores, top) -> None``: the summary ``crmml score`` prints (stdout).
    """

    help: str
    add_train_options: Callable[[argparse.ArgumentParser], None]
    train_params: Callable[[argparse.Namespace], dict[str, Any]]
    print_scores: Callable[[Any, int], None]


CLI_KINDS: dict[str, KindCLI] = {
    "clv": KindCLI("customer lifetime value", _clv.add_train_options, _clv.train_params, _clv.print_scores),
    "churn": KindCLI("churn risk (calibrated, tiered, explained)", _churn.add_train_options, _churn.train_params,
                     _churn.print_scores),
    "leadscore": KindCLI("lead scoring (conversion probability, 1-99 score, grade A-D, reasons)",
                         _leadscore.add_train_options, _leadscore.train_params, _leadscore.print_scores),
    "forecast": KindCLI("pipeline forecast (win and timing per deal, period bookings with intervals)",
                        _forecast.add_train_options, _forecast.train_params, _forecast.print_scores),
}


def _print_first_rows(scores: Any, top: int) -> None:
    print(f"\n{len(scores):,} scored; the first {min(top, len(scores))}:")
    print(scores.head(top).to_string(float_format=lambda v: f"{v:,.4g}"))


def print_scores(kind: str, scores: Any, top: int) -> None:
    """Print the summary of ``kind``'s scores (its hook, else the first ``top`` rows)."""
    entry = CLI_KINDS.get(kind)
    (entry.print_scores if entry is not None else _print_first_rows)(scores, top)
