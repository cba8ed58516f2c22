"""Retraining behind a gate: a challenger replaces the champion only when it is not worse.

:func:`retrain` runs, for any kind registered in :data:`crmml.scoring.KINDS`:

1. **check everything up front** (:func:`prepare_retrain`) — the kind, the
   hyperparameters, ``holdout_days``, the gate rule, the registered name and
   alias, the tracking store — before any data is read;
2. **champion** — the version the alias points at
   (:func:`crmml.tracking.alias_version`), loaded with
   :func:`crmml.load_scorer`; none registered: the challenger will be
   promoted ("no champion"); a champion of another kind is an
   :class:`~crmml.exceptions.IncompatibleArtifactError`;
3. **holdout** — the window ``[as_of - holdout_days, as_of)``: the
   challenger is fitted on the data strictly before its start and scored on
   the window's entities and outcomes by the kind's
   ``evaluate_window(tables, start, end)`` hook (the supervised spine's
   :meth:`~crmml.supervised.SupervisedScorer.evaluate_window`,
   :meth:`crmml.clv.CLVModel.evaluate_window`), and so is the registered
   champion. Both evaluations must cover the same entities and outcomes
   (``outcomes_sha256``): a champion with another outcome definition
   (horizon, business) cannot be compared;
4. **the champion compared** — a champion trained as of a date *after* the
   holdout start saw part of the holdout's outcomes, which flatters it (on a
   weekly schedule it saw nearly all of them). It is then compared through
   its **recipe**: its own settings (``get_params()`` of the registered
   model, through :func:`crmml.scoring.scorer_class`) refitted on the data
   strictly before the holdout start and scored on the holdout — same data,
   same window as the challenger, only the settings differ (settings equal
   to the challenger's: the refit *is* the challenger, not fitted twice).
   The registered champion's holdout metrics are still reported and logged
   (``champion_registered_<metric>``), not used for the decision. A champion
   trained before the holdout start is compared as registered;
5. **naive baseline** — where the spine fits one (churn ``recency_days`` /
   ``days_to_term_end``, lead scoring ``days_since_event``: the fitted
   model's ``model_.baseline``), the challenger is compared with it on the
   holdout's rows by :func:`crmml.supervised.compare_to_baseline` (the
   spine's ``beats_baseline`` rule: ROC AUC gain >= the rule's
   ``baseline_margin``, default 0, and Brier score not worse). This catches
   a broken training that the recipe comparison cannot (the champion's
   recipe refitted on the same broken data would be as broken). CLV and the
   forecast have no such baseline;
6. **gate** — :class:`GateRule` (docs/production.md, "Retraining behind a
   gate") against the champion compared, and the naive baseline;
7. **promote** (only when the gate passes) — the challenger configuration is
   refitted on everything before ``as_of`` and logged like ``crmml train``
   (:class:`crmml.training.TrainingJob`), then registered as a new version of
   ``name`` with the alias moved to it (:func:`crmml.tracking.register_logged_model`)
   — unless the alias moved while the retrain ran; a kept champion registers
   nothing;
8. **decision run** — one MLflow run in the experiment ``crmml-retrain``:
   parameters (kind, name, as_of, the holdout window, the rule, the
   champion compared), metrics ``champion_<metric>`` (the champion compared:
   the recipe refit or the registered champion), ``champion_registered_<metric>``
   (the registered champion), ``challenger_<metric>``, ``baseline_<metric>``,
   ``beats_baseline`` and ``promoted`` (0/1), tags ``crmml.decision``
   (``promoted`` / ``kept champion``), ``crmml.reason`` (in words),
   ``crmml.champion_compared`` (``recipe refit`` / ``registered``) and
   ``crmml.champion_compared_reason``, the data fingerprint. No personal
   data: metrics, dates, counts and hashes only. The run is opened before
   the promotion and marked FAILED if the promotion fails.

**Hooks a model class provides** (``retrain.py`` never imports a model package):

``evaluate_window(tables, start, end) -> evaluation``
    Score the *fitted* model on ``[start, end)``; the result has ``metrics``
    (name → float) and ``outcomes_sha256``, and may have ``summary()``.
``min_window_days() -> float`` (optional)
    The shortest window the hook accepts: the default holdout is raised to it.
``get_params()`` and the class of :func:`crmml.scoring.scorer_class`
    The champion's recipe (refitted when the champion saw the holdout).

The naive-baseline check reads the supervised spine's fitted
``model_.baseline`` / ``baseline_direction`` / ``seed`` and rebuilds
the rows of ``evaluate_window`` (its ``cutoffs``) with the scorer's
``_population_frame`` / ``_labels`` / ``_select_schema`` hooks, checking they
are the same rows (``outcomes_sha256``); a model without them has no check.

Examples
--------
>>> from crmml.retrain import GateRule, retrain
>>> result = retrain("churn", tables, "2026-01-01", params={"num_threads": 1},
...                  tracking_uri="sqlite:///mlflow.db")            # doctest: +SKIP
>>> result.decision, result.reason                                   # doctest: +SKIP
('promoted', 'the challenger is not worse: ROC AUC 0.8866 >= 0.8871 - 0.005 = 0.8821 and ...')
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from crmml._validation import Interval, check_param
from crmml._version import __version__
from crmml.data import CRMTables
from crmml.exceptions import (
    IncompatibleArtifactError,
    InsufficientDataError,
    ParameterError,
    TrackingError,
)
from crmml.features import to_timestamp
from crmml.scoring import load_scorer, scorer_class
from crmml.scoring._mlflow import mlflow_call
from crmml.tracking import (
    TrackedModel,
    alias_version,
    check_registration,
    data_fingerprint,
    param_values,
    register_logged_model,
)
from crmml.training import (
    DEFAULT_HOLDOUT_DAYS,
    Progress,
    TrainingJob,
    TrainResult,
    _day,
    _floats,
    _Reporter,
    prepare_training,
)

__all__ = [
    "EXPERIMENT",
    "GateCheck",
    "GateRule",
    "RetrainJob",
    "RetrainResult",
    "prepare_retrain",
    "retrain",
]

EXPERIMENT = "crmml-retrain"
"""The MLflow experiment of the decision runs."""

PROMOTED, KEPT = "promoted", "kept champion"

#: ``champion_compared``: the champion's settings refitted before the holdout start, or the registered model.
REFIT, REGISTERED = "recipe refit", "registered"

#: Float noise allowed in a comparison: an identical model always passes.
_EPS = 1e-12

_AUC = "roc_auc"
_CLV_ERROR = "holdout_purchases_mae"
_NAMES = {"roc_auc": "ROC AUC", "ece": "ECE", "brier": "Brier score", _CLV_ERROR: "purchases MAE"}


@dataclass(frozen=True)
class GateCheck:
    """One comparison of the gate.

    Attributes
    ----------
    metric : str
        ``roc_auc``, ``ece`` (or ``brier``), ``holdout_purchases_mae``.
    champion, challenger : float
        ``champion`` is the reference value: the champion compared's, or the
        naive baseline's when ``against`` is ``"baseline"``.
    limit : float
        The worst value the challenger may have.
    higher_is_better : bool
    passed : bool
    rule : str
        How the limit is derived, in words.
    against : {"champion", "baseline"}
        What the challenger is compared with.
    """

    metric: str
    champion: float
    challenger: float
    limit: float
    higher_is_better: bool
    passed: bool
    rule: str
    against: str = "champion"

    def __str__(self) -> str:
        op = (">=" if self.passed else "<") if self.higher_is_better else ("<=" if self.passed else ">")
        return f"{_NAMES.get(self.metric, self.metric)} {self.challenger:.4f} {op} {self.rule} = {self.limit:.4f}"


@dataclass(frozen=True)
class GateRule:
    """When a challenger replaces the champion (docs/production.md, "Retraining behind a gate").

    Both are scored on the same holdout. Supervised kinds (churn, leadscore,
    forecast): the challenger's ROC AUC must be at least the champion's minus
    ``auc_tolerance`` **and** its expected calibration error (equal-mass
    bins; the Brier score when ECE is missing) at most the champion's plus
    ``calibration_tolerance``. CLV: its mean absolute error of predicted vs
    actual holdout purchases per customer at most the champion's times
    ``1 + error_tolerance``. "The champion" is the one :func:`retrain`
    compares: the registered model, or its recipe refitted before the
    holdout when it saw the holdout.

    And, where the supervised spine fits a naive baseline (churn, lead
    scoring), the challenger must beat it on the holdout's rows: ROC AUC at
    least the baseline's plus ``baseline_margin`` and Brier score not worse
    (the spine's ``beats_baseline`` rule, :func:`crmml.supervised.compare_to_baseline`).

    Attributes
    ----------
    auc_tolerance : float, default 0.005
        How much lower the challenger's ROC AUC may be (absolute).
    calibration_tolerance : float, default 0.01
        How much higher its calibration error may be (absolute, in probability).
    error_tolerance : float, default 0.02
        How much higher the CLV holdout error may be (relative: 0.02 = 2 %).
    baseline_margin : float, default 0.0
        The ROC AUC gain over the naive baseline the challenger needs (absolute,
        in [-1, 1]). 0: at least the baseline's ranking. The spine's fit-time
        margin (0.01) is a warning threshold and too strict to block on: on
        the B2B sample world the lead model's gain over ``days_since_event``
        is below 0.01 at three of six monthly dates.
    """

    auc_tolerance: float = 0.005
    calibration_tolerance: float = 0.01
    error_tolerance: float = 0.02
    baseline_margin: float = 0.0

    def __post_init__(self) -> None:
        for name, high in (("auc_tolerance", 1.0), ("calibration_tolerance", 1.0), ("error_tolerance", 10.0)):
            check_param("GateRule", name, getattr(self, name), [Interval(0, high, closed="both")])
        check_param("GateRule", "baseline_margin", self.baseline_margin, [Interval(-1, 1, closed="both")])

    def to_params(self) -> dict[str, float]:
        """``rule_<field>`` → value (MLflow parameters)."""
        return {f"rule_{k}": float(v) for k, v in asdict(self).items()}

    def checks(self, champion: Mapping[str, float], challenger: Mapping[str, float]) -> tuple[GateCheck, ...]:
        """The comparisons of the rule for these holdout metrics.

        Raises
        ------
        InsufficientDataError
            ROC AUC is undefined on the holdout (one outcome class only).
        ParameterError
            The metrics are neither a supervised nor a CLV holdout evaluation.
        """
        both = set(champion) & set(challenger)
        if {"ece", "brier"} & both:  # supervised: ranking and calibration
            if _AUC not in both:
                raise InsufficientDataError(
                    "The holdout has outcomes of one class only, so ROC AUC is undefined and the gate cannot "
                    "compare the models. Fix: a longer holdout (--holdout-days) or a later as_of.")
            cal = "ece" if "ece" in both else "brier"
            auc_limit = champion[_AUC] - self.auc_tolerance
            cal_limit = champion[cal] + self.calibration_tolerance
            return (
                GateCheck(_AUC, champion[_AUC], challenger[_AUC], auc_limit, True,
                          challenger[_AUC] >= auc_limit - _EPS,
                          f"{champion[_AUC]:.4f} - {self.auc_tolerance:g}"),
                GateCheck(cal, champion[cal], challenger[cal], cal_limit, False,
                          challenger[cal] <= cal_limit + _EPS,
                          f"{champion[cal]:.4f} + {self.calibration_tolerance:g}"),
            )
        if _CLV_ERROR in both:
            limit = champion[_CLV_ERROR] * (1.0 + self.error_tolerance)
            return (GateCheck(_CLV_ERROR, champion[_CLV_ERROR], challenger[_CLV_ERROR], limit, False,
                              challenger[_CLV_ERROR] <= limit + _EPS,
                              f"{champion[_CLV_ERROR]:.4f} x {1.0 + self.error_tolerance:g}"),)
        raise ParameterError(f"The gate knows the metrics of supervised (roc_auc, ece) and CLV ({_CLV_ERROR}) "
                             f"holdout evaluations; got {sorted(both)}.")


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`retrain` decided and did.

    Attributes
    ----------
    kind, name, alias : str
    as_of : pandas.Timestamp
    holdout_start, holdout_end : pandas.Timestamp
        The holdout window ``[holdout_start, holdout_end)`` (``holdout_end`` is ``as_of``).
    promoted : bool
    reason : str
        The decision in words.
    checks : tuple of GateCheck
        The gate's comparisons (empty without a champion).
    champion_version : str or None
        The version the alias pointed at (``None``: no champion).
    champion_as_of : pandas.Timestamp or None
        The champion's training cutoff.
    champion_saw_holdout : bool
        The champion was trained as of a date after the holdout start: it saw
        part of the holdout's outcomes, which flatters it — it is then
        compared through its recipe refitted before the holdout start.
    champion_metrics : dict
        The holdout metrics of the champion **compared** (the gate's): its
        recipe refit when it saw the holdout, else the registered champion
        (empty without a champion).
    challenger_metrics : dict
        The challenger's holdout metrics.
    rule : GateRule
    challenger : Scorer
        The challenger fitted before the holdout start (the one evaluated).
    champion_registered_metrics : dict
        The registered champion's holdout metrics (reported; used for the
        decision only when it did not see the holdout). Empty without a champion.
    champion_compared : {"recipe refit", "registered"} or None
        Which champion the gate compared with (``None``: no champion).
    champion_refit : Scorer or None
        The champion's settings fitted before the holdout start (the
        challenger itself when the settings are equal); ``None`` unless
        ``champion_compared`` is ``"recipe refit"``.
    baseline : BaselineComparison or None
        The challenger against the spine's naive baseline on the holdout's
        rows (``None``: the kind has none, e.g. CLV and the forecast).
    baseline_column : str or None
        The baseline's column (``recency_days`` ...).
    run_id : str
        The decision run in the ``crmml-retrain`` experiment.
    trained : TrainResult or None
        The refit on everything before ``as_of`` (promoted only).
    tracked : TrackedModel or None
        Its MLflow run and registered version (promoted only).
    """

    kind: str
    name: str
    alias: str
    as_of: pd.Timestamp
    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    promoted: bool
    reason: str
    checks: tuple[GateCheck, ...]
    champion_version: str | None
    champion_as_of: pd.Timestamp | None
    champion_saw_holdout: bool
    champion_metrics: dict[str, float]
    challenger_metrics: dict[str, float]
    rule: GateRule
    challenger: Any = field(compare=False)
    champion_registered_metrics: dict[str, float] = field(default_factory=dict)
    champion_compared: str | None = None
    champion_refit: Any = field(default=None, compare=False)
    baseline: Any = None
    baseline_column: str | None = None
    run_id: str = ""
    trained: TrainResult | None = field(default=None, compare=False)
    tracked: TrackedModel | None = None

    @property
    def decision(self) -> str:
        """``"promoted"`` or ``"kept champion"`` (the ``crmml.decision`` tag)."""
        return PROMOTED if self.promoted else KEPT

    @property
    def model(self) -> Any:
        """The promoted model (refitted as of ``as_of``), else ``None``."""
        return None if self.trained is None else self.trained.model

    @property
    def registered_version(self) -> str | None:
        return None if self.tracked is None else self.tracked.version

    @property
    def registry_uri(self) -> str:
        """``models:/<name>@<alias>``: the champion now (the new version when promoted)."""
        return f"models:/{self.name}@{self.alias}"

    @property
    def champion_saw_holdout_days(self) -> float:
        """Days of the holdout before the champion's training cutoff (0 when it saw none)."""
        if self.champion_as_of is None or not self.champion_saw_holdout:
            return 0.0
        return (min(self.champion_as_of, self.holdout_end) - self.holdout_start) / pd.Timedelta(days=1)

    @property
    def champion_compared_reason(self) -> str | None:
        """Why the gate compared the recipe refit or the registered champion (``None``: no champion)."""
        if self.champion_compared is None or self.champion_as_of is None:
            return None
        trained = f"the champion was trained as of {_day(self.champion_as_of)}"
        if self.champion_compared == REFIT:
            return (f"{trained}, after the holdout start {_day(self.holdout_start)}: it saw "
                    f"{self.champion_saw_holdout_days:g} days of the holdout, which flatters it, so its settings "
                    f"were refitted on the data before {_day(self.holdout_start)} and that refit was compared "
                    "(same data, same window as the challenger: only the settings differ)")
        return (f"{trained}, not after the holdout start {_day(self.holdout_start)}: it saw none of the holdout, "
                "so the registered champion was compared")

    @property
    def holdout_note(self) -> str | None:
        """How a champion that saw the holdout was handled, or ``None`` when the comparison was direct."""
        if self.champion_compared != REFIT or self.champion_as_of is None:
            return None
        return (f"the champion was trained as of {_day(self.champion_as_of)}, after the holdout start "
                f"{_day(self.holdout_start)}: it saw {self.champion_saw_holdout_days:g} days of the holdout, which "
                f"flatters it, so the gate compared the challenger with the champion's settings refitted before "
                f"{_day(self.holdout_start)}; the registered champion's holdout metrics are reported, not used for "
                "the decision")


@dataclass(frozen=True)
class RetrainJob:
    """Checked retrain settings (from :func:`prepare_retrain`); :meth:`run` retrains.

    Attributes
    ----------
    training : TrainingJob
        The challenger's configuration, store, name and alias (used for the refit when promoted).
    holdout_days : float or None
        ``None``: :data:`~crmml.training.DEFAULT_HOLDOUT_DAYS`, raised to the model's ``min_window_days()``.
    rule : GateRule
    """

    training: TrainingJob
    holdout_days: float | None
    rule: GateRule
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        return self.training.kind

    def as_of_sources(self) -> tuple[str, ...] | None:
        return self.training.as_of_sources()

    def window_days(self) -> float:
        """The holdout length: ``holdout_days``, else the default raised to the model's minimum window."""
        if self.holdout_days is not None:
            return self.holdout_days
        need = getattr(self.training.model, "min_window_days", None)
        return max(DEFAULT_HOLDOUT_DAYS, float(need()) if callable(need) else 0.0)

    def run(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
            as_of: Any = None) -> RetrainResult:
        """Champion → holdout → gate → decision run → (promoted) refit, log, register. See the module docstring."""
        job = self.training
        rep = _Reporter(job.progress)
        uri = job.tracking_uri
        assert uri is not None
        t, ts = job.tables_and_as_of(tables, as_of, rep, "holdout")
        days = self.window_days()
        start = ts - pd.Timedelta(days=days)

        # -- champion
        with rep.step("champion", f"looking up {job.name}@{job.alias}"):
            version = alias_version(job.name, job.alias, tracking_uri=uri)
            champion = None
            if version is not None:
                champion = load_scorer(f"models:/{job.name}/{version}", tracking_uri=uri)
        if champion is None:
            rep.emit("champion", "info", f"no champion: no version of {job.name!r} has the alias {job.alias!r}")
        else:
            if champion.kind != self.kind:
                label = self.labels.get("name", "name")
                raise IncompatibleArtifactError(
                    f"The champion {job.name}@{job.alias} (version {version}) is a {champion.kind!r} model, not a "
                    f"{self.kind!r} model: a {self.kind} challenger cannot replace it. Fix: pass the {label} of a "
                    f"{self.kind} model (default crmml-{self.kind}), or retrain the {champion.kind} model "
                    f"('crmml retrain {champion.kind} ...').")
            rep.emit("champion", "info", f"version {version}: a {champion.kind!r} model trained as of "
                                         f"{_day(champion.as_of_)}")
        champion_as_of = None if champion is None else pd.Timestamp(champion.as_of_)
        saw = champion_as_of is not None and champion_as_of > start

        # -- holdout: the champion first (no fit: a champion that cannot be evaluated fails fast)
        registered_eval = None
        if champion is not None:
            with rep.step("evaluate", f"scoring the champion on the holdout [{_day(start)}, {_day(ts)})"):
                registered_eval = champion.evaluate_window(t, start, ts)
            _summary(rep, registered_eval)
        challenger = type(job.model)(**job.model.get_params())
        display = getattr(challenger, "display_name", self.kind)
        with rep.step("holdout", f"fitting the challenger {display} model as of {_day(start)} (the holdout start)"):
            challenger.fit(t, start)
        with rep.step("evaluate", f"scoring the challenger on the holdout [{_day(start)}, {_day(ts)})"):
            challenger_eval = challenger.evaluate_window(t, start, ts)
        _summary(rep, challenger_eval)
        if registered_eval is not None and registered_eval.outcomes_sha256 != challenger_eval.outcomes_sha256:
            raise ParameterError(_not_comparable(self.kind, job, version, champion, challenger))

        # -- the champion compared: its recipe refitted before the holdout start when it saw the holdout
        compared_eval, refit, compared = registered_eval, None, None
        if champion is not None:
            compared = REFIT if saw else REGISTERED
        if saw:
            refit, compared_eval = self._refit_champion(rep, t, start, ts, version, champion, challenger,
                                                        challenger_eval)

        # -- naive baseline of the spine on the holdout's rows
        baseline = _baseline_on_window(rep, challenger, t, challenger_eval, self.rule.baseline_margin)

        # -- gate
        champ_m = {} if compared_eval is None else _floats(compared_eval.metrics)
        registered_m = {} if registered_eval is None else _floats(registered_eval.metrics)
        chall_m = _floats(challenger_eval.metrics)
        base_checks = () if baseline is None else _baseline_checks(*baseline)
        base_failed = [c for c in base_checks if not c.passed]
        if compared_eval is None:
            checks: tuple[GateCheck, ...] = ()
            promoted = True
            reason = f"no champion: no version of {job.name!r} has the alias {job.alias!r}"
            if base_failed:  # nothing to keep: the first version is registered, as 'crmml train' would
                reason += (f" (warning: the challenger does not beat the naive baseline {baseline[0]} on the "
                           "holdout: " + " and ".join(map(str, base_failed)) + ")")
        else:
            champ_checks = self.rule.checks(champ_m, chall_m)
            checks = champ_checks + base_checks
            failed = [c for c in champ_checks if not c.passed]
            promoted = not failed and not base_failed
            if promoted:
                reason = "the challenger is not worse: " + " and ".join(map(str, champ_checks))
                if base_checks:
                    reason += " and it beats the naive baseline: " + " and ".join(map(str, base_checks))
            elif failed:
                reason = "the challenger is worse: " + " and ".join(map(str, failed))
                if base_failed:
                    reason += "; nor does it beat the naive baseline: " + " and ".join(map(str, base_failed))
            else:
                reason = ("the challenger does not beat the naive baseline: " + " and ".join(map(str, base_failed))
                          + " (it is not worse than the champion compared: "
                          + " and ".join(map(str, champ_checks)) + ")")
        rep.emit("gate", "info", f"decision: {PROMOTED if promoted else KEPT} ({reason})")
        result = RetrainResult(kind=self.kind, name=job.name, alias=job.alias, as_of=ts, holdout_start=start,
                               holdout_end=ts, promoted=promoted, reason=reason, checks=checks,
                               champion_version=version, champion_as_of=champion_as_of, champion_saw_holdout=saw,
                               champion_metrics=champ_m, challenger_metrics=chall_m, rule=self.rule,
                               challenger=challenger, champion_registered_metrics=registered_m,
                               champion_compared=compared, champion_refit=refit,
                               baseline=None if baseline is None else baseline[1],
                               baseline_column=None if baseline is None else baseline[0])
        if result.holdout_note:
            rep.emit("gate", "info", f"note: {result.holdout_note}")

        # -- decision run, then the promotion inside it
        run = _DecisionRun(uri)
        with rep.step("decision", f"logging the decision to MLflow (experiment {EXPERIMENT})"):
            run.open(result, days, challenger.get_params(), data_fingerprint(t, ts),
                     None if champion is None else champion.get_params())
        rep.emit("decision", "info", f"decision run {run.run_id}")
        result = _replace(result, run_id=run.run_id)
        if not promoted:
            run.close("FINISHED")
            return result
        try:
            trained = job.run(t, ts)
            assert trained.tracked is not None
            now = alias_version(job.name, job.alias, tracking_uri=uri)
            if now != version:
                raise TrackingError(
                    f"The alias {job.alias!r} of {job.name!r} moved from version {version} to {now} while this "
                    "retrain ran (another job?): nothing was registered, the alias was left alone. Fix: rerun the "
                    "retrain, which compares with the new champion.")
            with rep.step("register", f"registering {job.name!r} and pointing {job.alias!r} at the new version"):
                tracked = register_logged_model(trained.tracked, model_name=job.name, alias=job.alias,
                                                tracking_uri=uri)
            rep.emit("register", "result", f"registered {tracked.registered_name} version {tracked.version} "
                                           f"as {tracked.registry_uri}")
            run.tag({"crmml.registered_version": str(tracked.version), "crmml.train_run_id": tracked.run_id})
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the promotion's own error is the one to report
                run.tag({"crmml.error": type(exc).__name__})  # the type only: messages may name entities
                run.close("FAILED")
            raise
        run.close("FINISHED")
        return _replace(result, trained=trained, tracked=tracked)


    def _refit_champion(self, rep: _Reporter, t: CRMTables, start: pd.Timestamp, end: pd.Timestamp,
                        version: str | None, champion: Any, challenger: Any, challenger_eval: Any
                        ) -> tuple[Any, Any]:
        """The champion's settings fitted on the data before ``start`` and its holdout evaluation.

        Settings equal to the challenger's: the challenger and its evaluation
        (the same settings fitted on the same data give the same model).
        """
        params = dict(champion.get_params())
        if params == dict(challenger.get_params()):
            rep.emit("holdout", "info", f"the champion's settings (version {version}) are the challenger's: its "
                                        f"refit as of {_day(start)} is the challenger")
            return challenger, challenger_eval
        cls = scorer_class(champion.kind)
        try:
            refit = cls(**params)
        except ParameterError as exc:
            job = self.training
            raise ParameterError(
                f"The champion {job.name}@{job.alias} (version {version}) saw part of the holdout, so its settings "
                f"are refitted before the holdout start to be compared fairly, but this crmml does not accept them: "
                f"{exc} Fix: register a champion trained with this crmml ('crmml train {self.kind} --register "
                "...'), or a holdout that starts after the champion's training date (--holdout-days).") from None
        with rep.step("holdout", f"refitting the champion's settings (version {version}) as of {_day(start)} "
                                 "(it saw the holdout)"):
            refit.fit(t, start)
        with rep.step("evaluate", f"scoring the champion's refit on the holdout [{_day(start)}, {_day(end)})"):
            evaluation = refit.evaluate_window(t, start, end)
        _summary(rep, evaluation)
        return refit, evaluation


def _replace(result: RetrainResult, **changes: Any) -> RetrainResult:
    return dataclasses.replace(result, **changes)


def _summary(rep: _Reporter, evaluation: Any) -> None:
    summary = getattr(evaluation, "summary", None)
    if callable(summary):
        rep.emit("evaluate", "info", summary())


def _baseline_on_window(rep: _Reporter, model: Any, t: CRMTables, evaluation: Any,
                        margin: float) -> tuple[str, Any] | None:
    """The challenger against the spine's naive baseline on the holdout's rows (None: no baseline to compare).

    :meth:`~crmml.supervised.SupervisedScorer.evaluate_window` keeps each holdout row's outcome, the model's
    probability and the baseline column's value (``baseline_values``); the comparison is
    :func:`crmml.supervised.compare_to_baseline` with the spine's column and direction, as at fit
    (``baseline_comparison_``), here on the holdout and with the gate's ``margin``.
    """
    spine = getattr(model, "model_", None)
    column = getattr(spine, "baseline", None)
    values = getattr(evaluation, "baseline_values", None)
    if column is None or values is None:
        return None
    from crmml.supervised import compare_to_baseline

    with rep.step("baseline", f"scoring the naive baseline {column} on the holdout's rows"):
        comparison = compare_to_baseline(evaluation.outcomes, evaluation.probabilities, values,
                                         direction=spine.baseline_direction, margin=float(margin),
                                         seed=int(spine.seed))
    b = comparison.baseline
    auc = "undefined" if b.roc_auc is None else f"{b.roc_auc:.4f}"
    rep.emit("baseline", "info", f"naive baseline {column}: ROC AUC {auc}, Brier {b.brier:.4f}; the challenger "
                                 f"{'beats' if comparison.beats_baseline else 'does NOT beat'} it")
    return str(column), comparison


def _baseline_checks(column: str, comparison: Any) -> tuple[GateCheck, ...]:
    """The spine's ``beats_baseline`` rule as gate checks: ROC AUC gain >= margin, Brier score not worse."""
    m, b = comparison.model, comparison.baseline
    if m.roc_auc is None or b.roc_auc is None:  # one class: the champion comparison already says so
        return ()
    margin = float(comparison.margin)
    rule = f"naive baseline {column}"
    if margin:
        rule += f" {b.roc_auc:.4f} {'+' if margin > 0 else '-'} {abs(margin):g}"
    return (
        GateCheck(_AUC, b.roc_auc, m.roc_auc, b.roc_auc + margin, True, m.roc_auc >= b.roc_auc + margin - _EPS,
                  rule, against="baseline"),
        GateCheck("brier", b.brier, m.brier, b.brier, False, m.brier <= b.brier + _EPS,
                  f"naive baseline {column}", against="baseline"),
    )


def _not_comparable(kind: str, job: TrainingJob, version: str | None, champion: Any, challenger: Any) -> str:
    mine, theirs = challenger.get_params(), champion.get_params()
    differ = [f"{k}={theirs.get(k)!r} (challenger {mine.get(k)!r})" for k in sorted(set(mine) | set(theirs))
              if theirs.get(k) != mine.get(k)]
    what = "; the champion has " + ", ".join(differ) if differ else ""
    return (f"The champion {job.name}@{job.alias} (version {version}) and the challenger are evaluated on different "
            f"entities or outcomes of the holdout, so the gate cannot compare them: they define the {kind} population "
            f"or outcome differently{what}. Fix: retrain with the champion's outcome settings (e.g. the same "
            "--horizon-days / --business), or register the new definition under another --name "
            "('crmml train ... --register --name ...').")


def _baseline_tag(result: RetrainResult) -> str:
    """The ``crmml.baseline`` tag: the naive baseline checked, or why there is none."""
    if result.baseline is not None:
        verdict = "beaten" if result.baseline.beats_baseline else "NOT beaten"
        return f"{result.baseline_column}: {verdict} by the challenger on the holdout"
    if result.kind == "clv":
        return "none: CLV has no naive baseline on the holdout (the gate compares the purchases error only)"
    return f"none: the {result.kind} model fits no naive baseline"


class _DecisionRun:
    """The decision's MLflow run (MlflowClient: no active run, so the refit's own run can be logged meanwhile)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.run_id = ""

    def open(self, result: RetrainResult, days: float, challenger_params: Mapping[str, Any],
             fingerprint: Mapping[str, Any], champion_params: Mapping[str, Any] | None = None) -> None:
        params = {"kind": result.kind, "name": result.name, "alias": result.alias, "as_of": str(result.as_of),
                  "holdout_start": str(result.holdout_start), "holdout_end": str(result.holdout_end),
                  "holdout_days": float(days), **result.rule.to_params(),
                  "champion_version": result.champion_version or "none",
                  "champion_as_of": "none" if result.champion_as_of is None else str(result.champion_as_of),
                  "champion_compared": result.champion_compared or "none",
                  "challenger_params": dict(challenger_params),
                  "baseline": result.baseline_column or "none"}
        if champion_params is not None:
            params["champion_params"] = dict(champion_params)
        metrics = {f"champion_{k}": v for k, v in result.champion_metrics.items()}
        metrics.update({f"champion_registered_{k}": v for k, v in result.champion_registered_metrics.items()})
        metrics.update({f"challenger_{k}": v for k, v in result.challenger_metrics.items()})
        if result.baseline is not None:
            metrics.update({f"baseline_{k}": v for k, v in result.baseline.baseline.metrics().items()})
            metrics["baseline_auc_gain"] = result.baseline.auc_gain
            metrics["beats_baseline"] = float(result.baseline.beats_baseline)
        metrics["promoted"] = float(result.promoted)
        metrics["champion_saw_holdout"] = float(result.champion_saw_holdout)
        if result.champion_version is not None:
            metrics["champion_saw_holdout_days"] = result.champion_saw_holdout_days
        metrics = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        note = result.reason + (f". Note: {result.holdout_note}." if result.holdout_note else ".")
        tags = {"crmml.kind": result.kind, "crmml.version": __version__, "crmml.decision": result.decision,
                "crmml.reason": result.reason, "crmml.champion_saw_holdout": str(result.champion_saw_holdout).lower(),
                "crmml.baseline": _baseline_tag(result),
                "mlflow.note.content": f"{result.decision}: {note}"}
        if result.champion_compared is not None:
            tags["crmml.champion_compared"] = result.champion_compared
            tags["crmml.champion_compared_reason"] = result.champion_compared_reason or ""
        with mlflow_call(self.uri, "logging the retrain decision"):
            from mlflow import MlflowClient
            from mlflow.entities import Metric, Param

            client = MlflowClient(tracking_uri=self.uri)
            exp = client.get_experiment_by_name(EXPERIMENT)
            exp_id = exp.experiment_id if exp is not None else client.create_experiment(EXPERIMENT)
            run = client.create_run(exp_id, run_name=f"retrain-{result.kind}", tags=tags)
            self.run_id = run.info.run_id
            stamp = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
            client.log_batch(self.run_id,
                             metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()],
                             params=[Param(k, str(v)) for k, v in param_values(params).items()])
            client.log_dict(self.run_id, dict(fingerprint), "data/fingerprint.json")
            client.log_dict(self.run_id, {"decision": result.decision, "reason": result.reason,
                                          "champion_compared": result.champion_compared,
                                          "champion_compared_reason": result.champion_compared_reason,
                                          "checks": [asdict(c) for c in result.checks]}, "retrain/decision.json")

    def tag(self, tags: Mapping[str, str]) -> None:
        with mlflow_call(self.uri, "tagging the retrain decision"):
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=self.uri)
            for k, v in tags.items():
                client.set_tag(self.run_id, k, v)

    def close(self, status: str) -> None:
        with mlflow_call(self.uri, "closing the retrain decision run"):
            from mlflow import MlflowClient

            MlflowClient(tracking_uri=self.uri).set_terminated(self.run_id, status)


_HOLDOUT = Interval(0, 36525, closed="right")


def prepare_retrain(
    kind: str,
    *,
    name: str | None = None,
    alias: str = "champion",
    holdout_days: float | None = None,
    tracking_uri: str | None = None,
    params: Mapping[str, Any] | None = None,
    rule: GateRule | None = None,
    progress: Progress | None = None,
    labels: Mapping[str, str] | None = None,
) -> RetrainJob:
    """Check every retrain setting without reading data; return the job to :meth:`~RetrainJob.run`.

    Parameters are those of :func:`retrain`; ``labels`` maps a parameter name
    (``"name"``, ``"alias"``, ``"holdout_days"``, ``"tracking_uri"``) to how
    the caller calls it (``"--name"``), for messages.

    Raises
    ------
    ParameterError
        An unknown kind or hyperparameter, a kind without ``evaluate_window``,
        ``holdout_days`` not in (0, 36525], an invalid name or alias or rule,
        an unknown tracking URI scheme.
    TrackingError
        The tracking store does not answer or cannot be opened.
    """
    label = {"holdout_days": "holdout_days", "name": "name", "alias": "alias", "rule": "rule"} | dict(labels or {})
    if holdout_days is not None:
        check_param("retrain", label["holdout_days"], holdout_days, [_HOLDOUT])
    rule = GateRule() if rule is None else rule
    if not isinstance(rule, GateRule):
        raise ParameterError(f"The {label['rule']!r} parameter of retrain must be a GateRule. "
                             f"Got {type(rule).__name__} instead.")
    if isinstance(kind, str) and name is None:
        name = f"crmml-{kind}"
    if isinstance(name, str):
        check_registration(name, alias, name_param=label["name"], alias_param=label["alias"])
    training = prepare_training(kind, params=params, holdout_days=0, log=True, tracking_uri=tracking_uri,
                                register=False, name=name, alias=alias, progress=progress, labels=labels)
    if not callable(getattr(training.model, "evaluate_window", None)):
        raise ParameterError(f"A {kind!r} model has no evaluate_window hook, so retrain cannot score it on the "
                             "holdout. Fix: train it with 'crmml train' instead.")
    need = getattr(training.model, "min_window_days", None)
    if holdout_days is not None and callable(need) and holdout_days < float(need()):
        raise ParameterError(f"The {label['holdout_days']!r} parameter of retrain must be at least the model's "
                             f"horizon ({float(need()):g} days: one full outcome window). Got {holdout_days:g} "
                             "instead.")
    return RetrainJob(training=training, holdout_days=None if holdout_days is None else float(holdout_days),
                      rule=rule, labels=label)


def retrain(
    kind: str,
    tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
    as_of: Any = None,
    *,
    name: str | None = None,
    alias: str = "champion",
    holdout_days: float | None = None,
    tracking_uri: str | None = None,
    params: Mapping[str, Any] | None = None,
    rule: GateRule | None = None,
    progress: Progress | None = None,
) -> RetrainResult:
    """Train a challenger, compare it with the champion on the latest holdout, promote it only if it is not worse.

    The champion is compared as registered when it was trained before the
    holdout, else through its recipe (its settings refitted before the
    holdout start); a supervised challenger must also beat the naive baseline
    (module docstring; docs/production.md, "Retraining behind a gate").

    Parameters
    ----------
    kind : str
        A kind of :data:`crmml.scoring.KINDS`.
    tables : CRMTables, mapping of DataFrames or folder
    as_of : timestamp-like, optional
        The end of the holdout and the promoted model's training cutoff.
        Default: the day after the latest event of the model's source tables.
    name : str, optional
        Registered model name (default ``crmml-<kind>``).
    alias : str, default "champion"
        The alias the champion is read from and moved when promoted.
    holdout_days : float, optional
        The holdout ``[as_of - holdout_days, as_of)``. Default 180 days, or the
        model's horizon when that is longer (a supervised model needs one full
        outcome window).
    tracking_uri : str, optional
        MLflow store (default ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
    params : mapping, optional
        The challenger's hyperparameters (as for :func:`crmml.training.train`).
    rule : GateRule, optional
        Default ``GateRule()``: AUC not lower by more than 0.005 and ECE not
        higher by more than 0.01; CLV holdout MAE not higher by more than 2 %.
    progress : callable, optional
        Called with a :class:`~crmml.training.ProgressEvent` per step.

    Returns
    -------
    RetrainResult
        ``promoted`` or not, why, the metric sets (champion compared,
        registered champion, challenger, naive baseline), the decision run,
        and (promoted) the refitted model and its registered version.

    Raises
    ------
    ParameterError, TrackingError
        Settings checked before the data is read.
    IncompatibleArtifactError
        The champion is a model of another kind.
    ParameterError
        The champion defines the population or outcome differently (not comparable), or its settings (to be
        refitted: it saw the holdout) are not accepted by this crmml.
    InsufficientDataError, DataContractError
        From the holdout fit or evaluation (nothing logged yet).
    """
    ts = None if as_of is None else to_timestamp(as_of, "as_of")
    job = prepare_retrain(kind, name=name, alias=alias, holdout_days=holdout_days, tracking_uri=tracking_uri,
                          params=params, rule=rule, progress=progress)
    return job.run(tables, ts)
