"""``crmml retrain KIND``: train a challenger, promote it only when it is not worse than the champion.

The work is :func:`crmml.retrain.retrain`; this module adds the parser, the
up-front checks and the side-by-side report. A kept champion is a normal
outcome (exit 0), not an error.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from crmml.cli._common import (
    _DAYS_POSITIVE,
    EXIT_OK,
    _check_data,
    _day,
    _default_as_of,
    _load,
    _parse_as_of,
    _print_progress,
)

#: How the library's parameters are called on the command line (for its messages).
_LABELS = {"kind": "KIND", "holdout_days": "--holdout-days", "tracking_uri": "--tracking-uri", "name": "--name",
           "alias": "--alias"}


def _tolerance(high: float, low: float = 0.0) -> Any:
    """An argparse ``type=``: a finite number in ``[low, high]`` (else a usage error naming the option)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not (math.isfinite(v) and low <= v <= high):
            raise argparse.ArgumentTypeError(f"must be a number in [{low:g}, {high:g}], got {text!r}")
        return v

    parse.__name__ = "float"
    return parse


def add_parser(sub: Any, leaf: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``crmml retrain KIND`` for every kind of :data:`crmml.cli._kinds.CLI_KINDS` (its ``train`` options too)."""
    from crmml.cli._kinds import CLI_KINDS

    rt = sub.add_parser("retrain", help="train a challenger; replace the champion only if it is not worse "
                                        "(gate logged in MLflow)", parents=parents)
    rts = rt.add_subparsers(dest="model_kind", required=True, metavar="KIND")
    for kind, hooks in CLI_KINDS.items():
        r = leaf(rts, kind, hooks.help)
        add_options(r)
        hooks.add_train_options(r)
        r.set_defaults(func=cmd_retrain, _leaf=r)


def add_options(r: argparse.ArgumentParser) -> None:
    """The options every kind's ``crmml retrain`` shares (the kind adds its ``train`` options)."""
    from crmml.retrain import GateRule

    rule = GateRule()
    r.add_argument("--data", required=True, help="folder of contract tables")
    r.add_argument("--as-of", help="end of the holdout and training cutoff of the promoted model (default: the day "
                                   "after the latest event of the model's source tables not in the future)")
    r.add_argument("--holdout-days", type=_DAYS_POSITIVE, default=None,
                   help="the holdout is [as-of - N days, as-of): the challenger is fitted before it and scored on "
                        "it, with the champion (its settings refitted before it when it saw the holdout) (default "
                        "180, or the model's horizon when longer)")
    r.add_argument("--name", help="registered model name (default: crmml-<kind>)")
    r.add_argument("--alias", default="champion", help="alias of the champion, moved when the challenger wins")
    r.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    r.add_argument("--auc-tolerance", type=_tolerance(1), default=rule.auc_tolerance,
                   help=f"how much lower the challenger's ROC AUC may be (default {rule.auc_tolerance:g})")
    r.add_argument("--calibration-tolerance", type=_tolerance(1), default=rule.calibration_tolerance,
                   help="how much higher its calibration error (ECE) may be (default "
                        f"{rule.calibration_tolerance:g})")
    r.add_argument("--error-tolerance", type=_tolerance(10), default=rule.error_tolerance,
                   help="CLV: how much higher, relatively, its holdout purchases MAE may be (default "
                        f"{rule.error_tolerance:g} = {rule.error_tolerance * 100:g} %%)")
    r.add_argument("--baseline-margin", type=_tolerance(1, low=-1), default=rule.baseline_margin,
                   help="churn, leadscore: the ROC AUC gain over the naive baseline (recency_days ...) the "
                        f"challenger needs on the holdout, besides a Brier score not worse (default "
                        f"{rule.baseline_margin:g})")


def cmd_retrain(a: argparse.Namespace) -> int:
    """Check → load → champion → holdout → gate → decision run → (promoted) refit, register; print the report."""
    from crmml.cli._kinds import CLI_KINDS
    from crmml.retrain import GateRule, prepare_retrain

    as_of = _parse_as_of(a.as_of)
    _check_data(a.data)
    rule = GateRule(auc_tolerance=a.auc_tolerance, calibration_tolerance=a.calibration_tolerance,
                    error_tolerance=a.error_tolerance, baseline_margin=a.baseline_margin)
    job = prepare_retrain(a.model_kind, name=a.name, alias=a.alias, holdout_days=a.holdout_days,
                          tracking_uri=a.tracking_uri, params=CLI_KINDS[a.model_kind].train_params(a), rule=rule,
                          progress=_print_progress, labels=_LABELS)
    tables = _load(a.data)
    if as_of is None:
        as_of = _default_as_of(tables, sources=job.as_of_sources())
    result = job.run(tables, as_of)
    print_result(result)
    return EXIT_OK


def _value(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if float(v).is_integer() and abs(v) >= 1:
        return f"{v:,.0f}"  # counts
    return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4f}"  # money and totals; rates and errors


def print_result(result: Any) -> None:
    """The metric sets side by side, the gate's comparisons, the decision and where the alias points (stdout).

    Columns: the champion compared (its recipe refit when it saw the holdout), the challenger, the naive
    baseline (when the kind has one) and, when it saw the holdout, the registered champion (not used for the
    decision).
    """
    days = (result.holdout_end - result.holdout_start) / _one_day()
    print(f"\nHoldout [{_day(result.holdout_start)}, {_day(result.holdout_end)}) ({days:g} days), "
          f"{result.kind} model {result.name}@{result.alias}:")
    v = result.champion_version
    refit = result.champion_compared == "recipe refit"
    champ = "champion" if v is None else f"champion v{v}" + (" refit" if refit else "")
    columns = [(champ, result.champion_metrics), ("challenger", result.challenger_metrics)]
    if result.baseline is not None:
        columns.append(("naive baseline", result.baseline.baseline.metrics()))
    if refit:
        columns.append((f"v{v} registered*", result.champion_registered_metrics))
    names = list(result.challenger_metrics) + [k for k in result.champion_metrics
                                               if k not in result.challenger_metrics]
    width = max([len(n) for n in names] + [6])
    widths = [max(14, len(label)) for label, _ in columns]
    print(f"  {'metric':<{width}}" + "".join(f"  {label:>{w}}" for (label, _), w in zip(columns, widths)))
    for k in names:
        print(f"  {k:<{width}}" + "".join(f"  {_value(m.get(k)):>{w}}" for (_, m), w in zip(columns, widths)))
    if result.baseline is not None:
        print(f"  naive baseline: {result.baseline_column} (ROC AUC of the column; Brier score and ECE of its "
              "isotonic fit on the holdout)")
    if refit:
        print(f"  * champion v{v} as registered (trained as of {_day(result.champion_as_of)}): saw "
              f"{result.champion_saw_holdout_days:g} days of the holdout; not used for the decision")
    if result.checks:
        rule = result.rule
        if any(c.metric == "roc_auc" for c in result.checks):
            tolerances = f"AUC tolerance {rule.auc_tolerance:g}, calibration tolerance {rule.calibration_tolerance:g}"
        else:
            tolerances = f"error tolerance {rule.error_tolerance * 100:g} %"
        against = (f"vs champion v{v}'s settings refitted as of {_day(result.holdout_start)}" if refit
                   else f"vs champion v{v} as registered")
        print(f"Gate ({tolerances}; {against}):")
        for c in result.checks:
            print(f"  {'pass' if c.passed else 'FAIL'}  {c}")
    if result.holdout_note:
        print(f"Note: {result.holdout_note}.")
    print(f"Decision: {result.decision} — {result.reason}.")
    if result.promoted and result.tracked is not None:
        print(f"  {result.registry_uri} -> version {result.tracked.version} (refitted as of {_day(result.as_of)}; "
              f"was {'none' if result.champion_version is None else 'version ' + result.champion_version})")
    else:
        print(f"  {result.registry_uri} stays at version {result.champion_version} (nothing registered)")
    print(f"  MLflow decision run {result.run_id} (experiment crmml-retrain)")


def _one_day() -> Any:
    import pandas as pd

    return pd.Timedelta(days=1)
