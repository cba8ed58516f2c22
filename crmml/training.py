"""Training as a library call: one function every model kind trains through.

:func:`train` runs the same steps for every kind registered in
:data:`crmml.scoring.KINDS`, in this order:

1. **check everything up front** — the kind, the hyperparameters (the model
   class's declared constraints), ``holdout_days``, the ``save`` folder
   (:func:`crmml._artifact.check_save_target`), ``plots_dir``, and for MLflow
   the registered name and alias and the tracking store — so a mistake fails
   in a second, not after the fit, and nothing is logged or written;
2. **holdout check** — the kind's ``evaluate_holdout`` hook, fitted on the data
   before ``as_of - holdout_days`` and compared with what happened after;
3. **fit** as of ``as_of``;
4. **plots** — the kind's plot function from :data:`crmml.plotting.PLOTTERS`;
5. **MLflow log** (:func:`crmml.tracking.log_scorer`) — parameters, metrics,
   fingerprint, plots, model card and the model;
6. **save** the artifact (``save=``);
7. **register** last (:func:`crmml.tracking.register_logged_model`): a failing
   save registers nothing, an invalid alias moves nothing (it is refused in
   step 1, before any run exists).

:func:`prepare_training` is step 1 alone: it returns a :class:`TrainingJob`
whose :meth:`~TrainingJob.run` does the rest, so a caller can check its
settings before it reads the data (the CLI does).

**Hooks a model class provides** (all optional; ``training.py`` never imports
a model package — the class comes from the kind registry):

``display_name`` (class attribute)
    How progress names the model ("fitting the CLV model ..."); default: the kind.
``as_of_sources() -> tuple[str, ...]``
    Tables whose latest event sets the default ``as_of``
    (:func:`crmml.features.default_as_of`); default: every supplied table.
``evaluate_holdout(tables, calibration_end, holdout_end) -> Evaluation | None``
    Fit a copy of the configuration as of ``calibration_end`` and compare
    with ``[calibration_end, holdout_end)``, leaving ``self`` unchanged. The
    result has ``metrics`` (name → float, logged) and may have ``summary()``
    (one line for progress); ``None`` means no holdout check for this
    configuration. Without the hook there is no holdout check.
``training_metrics() -> Mapping[str, float]``
    Metrics the fit computed itself (e.g. on a held-out cutoff), logged with
    the holdout metrics; called on the fitted model.

The fitted model's ``model_card()["parameters"]`` and ``exclusions_`` are
reported as progress; plots are a kind's entry in :data:`crmml.plotting.PLOTTERS`.

Examples
--------
>>> from crmml.training import train
>>> result = train("clv", tables, as_of="2025-12-01", params={"horizon_days": 365},
...                register=True, tracking_uri="sqlite:///mlflow.db")        # doctest: +SKIP
>>> result.registry_uri                                                     # doctest: +SKIP
'models:/crmml-clv@champion'
>>> result.model.score(tables, "2025-12-01").head()                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

from crmml._artifact import check_save_target
from crmml._validation import Interval, check_param, validate_params
from crmml.data import CRMTables, ExclusionReport
from crmml.exceptions import OutputError, ParameterError
from crmml.features import default_as_of, to_timestamp
from crmml.plotting import PLOTTERS, save_plots
from crmml.scoring import KINDS, scorer_class
from crmml.tracking import (
    TrackedModel,
    check_registration,
    check_tracking_store,
    log_scorer,
    register_logged_model,
)

__all__ = [
    "DEFAULT_HOLDOUT_DAYS",
    "Evaluation",
    "ProgressEvent",
    "TrainResult",
    "TrainingJob",
    "as_of_sources",
    "describe_exclusion",
    "prepare_training",
    "train",
]

DEFAULT_HOLDOUT_DAYS = 180.0
"""Days before ``as_of`` the holdout check compares with (0 skips it)."""


class Evaluation(Protocol):
    """What a kind's ``evaluate_holdout`` hook returns (``summary()`` is optional)."""

    metrics: Mapping[str, float]


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of :func:`train`, passed to the ``progress`` callback.

    Attributes
    ----------
    step : str
        ``"check"``, ``"holdout"``, ``"fit"``, ``"plots"``, ``"log"``,
        ``"save"`` or ``"register"``.
    status : {"start", "done", "info", "result"}
        A long step starts / is done (``seconds`` set), a detail of the step,
        or a result worth keeping (the run, the saved folder, the registered
        version).
    message : str
        The step's label (``start``, ``done``) or the detail / result in words.
    seconds : float or None
        Elapsed time of a ``done`` step.

    ``str(event)`` is the line the CLI prints: ``… label``, ``  done in 1.2 s``,
    ``  detail`` or the result as is.
    """

    step: str
    status: Literal["start", "done", "info", "result"]
    message: str
    seconds: float | None = None

    def __str__(self) -> str:
        if self.status == "start":
            return f"… {self.message}"
        if self.status == "done":
            return f"  done in {self.seconds or 0.0:.1f} s"
        if self.status == "info":
            return f"  {self.message}"
        return self.message


Progress = Callable[[ProgressEvent], None]


class _Reporter:
    def __init__(self, callback: Progress | None) -> None:
        self.callback = callback

    def emit(self, step: str, status: Literal["start", "done", "info", "result"], message: str,
             seconds: float | None = None) -> None:
        if self.callback is not None:
            self.callback(ProgressEvent(step, status, message, seconds))

    @contextmanager
    def step(self, step: str, message: str) -> Iterator[None]:
        self.emit(step, "start", message)
        t0 = time.perf_counter()
        yield
        self.emit(step, "done", message, time.perf_counter() - t0)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    model : Scorer
        The fitted model.
    kind : str
    as_of : pandas.Timestamp
        The training cutoff used (the default one when none was passed).
    metrics : dict
        Holdout metrics and the model's own ``training_metrics()`` (what was logged).
    evaluation : object or None
        The holdout evaluation (the kind's ``evaluate_holdout`` result).
    exclusions : list of dict
        What the fit left out (the model's ``exclusions_``).
    tracked : TrackedModel or None
        The MLflow run and, when registered, the registered version.
    saved_to : pathlib.Path or None
        The saved artifact folder.
    plots : dict
        Plot name → PNG file kept in ``plots_dir`` (empty without it).
    """

    model: Any
    kind: str
    as_of: pd.Timestamp
    metrics: dict[str, float]
    evaluation: Any | None
    exclusions: list[dict[str, Any]]
    tracked: TrackedModel | None = None
    saved_to: Path | None = None
    plots: dict[str, Path] = field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        return None if self.tracked is None else self.tracked.run_id

    @property
    def model_uri(self) -> str | None:
        """``models:/m-…`` of the logged MLflow model (``None`` without MLflow)."""
        return None if self.tracked is None else self.tracked.model_uri

    @property
    def registry_uri(self) -> str | None:
        """``models:/<name>@<alias>`` when registered."""
        return None if self.tracked is None else self.tracked.registry_uri


def as_of_sources(model: Any) -> tuple[str, ...] | None:
    """The tables that set ``model``'s default ``as_of`` (its ``as_of_sources()`` hook; ``None``: all)."""
    hook = getattr(model, "as_of_sources", None)
    return tuple(hook()) if callable(hook) else None


def describe_exclusion(e: Mapping[str, Any]) -> str:
    """One exclusion entry in words.

    ``excluded 12 transactions row(s): <rule>`` for rows;
    ``excluded 524 entities of customers: <rule>`` for entities (and
    ``fit-only`` entries: left out of the fit, still scored).
    """
    unit = e.get("unit", "rows")
    what = {"rows": f"{e['table']} row(s)", "entities": f"entities of {e['table']}",
            "fit-only": f"entities of {e['table']} from the fit only"}.get(unit, f"{e['table']} {unit}")
    return f"excluded {e['n_rows']:,} {what}: {e['rule']}"


def _day(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class TrainingJob:
    """Checked training settings (from :func:`prepare_training`); :meth:`run` trains.

    Attributes
    ----------
    kind : str
    model : Scorer
        The unfitted, validated configuration (``run`` fits a copy).
    holdout_days : float
    tracking_uri : str or None
        The resolved, checked store; ``None`` when not logging to MLflow.
    register : bool
    name, alias : str
        Registered model name and alias (``name`` also names the logged model).
    save, plots_dir : pathlib.Path or None
    progress : callable or None
    """

    kind: str
    model: Any = field(compare=False)
    holdout_days: float = DEFAULT_HOLDOUT_DAYS
    tracking_uri: str | None = None
    register: bool = False
    name: str = ""
    alias: str = "champion"
    save: Path | None = None
    plots_dir: Path | None = None
    progress: Progress | None = field(default=None, compare=False)

    @property
    def log(self) -> bool:
        """Whether the run is logged to MLflow."""
        return self.tracking_uri is not None

    def as_of_sources(self) -> tuple[str, ...] | None:
        """The tables whose latest event sets the default ``as_of`` for this model."""
        return as_of_sources(self.model)

    def default_as_of(self, tables: CRMTables) -> pd.Timestamp:
        """The default cutoff: the day after the latest event of :meth:`as_of_sources` not in the future."""
        return default_as_of(tables, sources=self.as_of_sources(), report=ExclusionReport())

    def tables_and_as_of(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
                         as_of: Any, rep: _Reporter, step: str) -> tuple[CRMTables, pd.Timestamp]:
        """The validated tables, and ``as_of`` or its default (reported as an ``info`` event of ``step``)."""
        ts = None if as_of is None else to_timestamp(as_of, "as_of")
        if isinstance(tables, CRMTables):
            t = tables
        else:
            from crmml.data import load_tables

            t = load_tables(tables)
        if ts is None:
            ts = self.default_as_of(t)
            rep.emit(step, "info", f"as_of: {_day(ts)} (default: the day after the latest event)")
        return t, ts

    def run(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
            as_of: Any = None) -> TrainResult:
        """Holdout check → fit → plots → MLflow log → save → register (see the module docstring).

        Parameters
        ----------
        tables : CRMTables, mapping of DataFrames or folder
            The contract tables (anything but ``CRMTables`` is loaded and
            validated with :func:`crmml.data.load_tables` first).
        as_of : timestamp-like, optional
            Training cutoff; default :meth:`default_as_of`.

        Returns
        -------
        TrainResult
        """
        rep = _Reporter(self.progress)
        t, ts = self.tables_and_as_of(tables, as_of, rep, "fit")

        metrics: dict[str, float] = {}
        evaluation = self._holdout(t, ts, rep)
        if evaluation is not None:
            metrics.update(_floats(evaluation.metrics))

        model = type(self.model)(**self.model.get_params())
        display = getattr(model, "display_name", self.kind)
        with rep.step("fit", f"fitting the {display} model as of {_day(ts)}"):
            model.fit(t, ts)
        for k, v in (model.model_card().get("parameters") or {}).items():
            rep.emit("fit", "info", f"{k} = {_number(v)}")
        exclusions = [dict(e) for e in getattr(model, "exclusions_", [])]
        for e in exclusions:
            rep.emit("fit", "info", describe_exclusion(e))
        own = getattr(model, "training_metrics", None)
        if callable(own):
            metrics.update(_floats(own()))

        tracked: TrackedModel | None = None
        plots: dict[str, Path] = {}
        with tempfile.TemporaryDirectory(prefix="crmml-plots-") as tmp:
            if (self.plots_dir is not None or self.log) and self.kind in PLOTTERS:
                where = f" to {self.plots_dir}" if self.plots_dir is not None else ""
                with rep.step("plots", f"drawing the plots{where}"):
                    plots = save_plots(model, evaluation, self.plots_dir if self.plots_dir is not None else tmp)
            if self.tracking_uri is not None:
                with rep.step("log", f"logging to MLflow ({self.tracking_uri})"):
                    tracked = log_scorer(model, tables=t, as_of=ts, metrics=metrics, plots=plots,
                                         exclusions=exclusions, register=False, model_name=self.name,
                                         tracking_uri=self.tracking_uri)
                rep.emit("log", "result", f"run {tracked.run_id}: {tracked.model_uri}")
        kept = plots if self.plots_dir is not None else {}

        saved: Path | None = None
        if self.save is not None:
            with rep.step("save", f"saving the model to {self.save}"):
                saved = model.save(self.save)
            rep.emit("save", "result", f"saved model to {saved}")

        if self.register and tracked is not None:  # last: only once everything else succeeded
            with rep.step("register", f"registering {self.name!r} and pointing {self.alias!r} at the new version"):
                tracked = register_logged_model(tracked, model_name=self.name, alias=self.alias,
                                                tracking_uri=self.tracking_uri)
            rep.emit("register", "result", f"registered {tracked.registered_name} version {tracked.version} "
                                           f"as {tracked.registry_uri}")
        return TrainResult(model=model, kind=self.kind, as_of=ts, metrics=metrics, evaluation=evaluation,
                           exclusions=exclusions, tracked=tracked, saved_to=saved, plots=kept)

    def _holdout(self, t: CRMTables, ts: pd.Timestamp, rep: _Reporter) -> Any:
        hook = getattr(self.model, "evaluate_holdout", None)
        if not self.holdout_days or not callable(hook):
            return None
        cal_end = ts - pd.Timedelta(days=self.holdout_days)
        with rep.step("holdout", f"holdout check: calibrate before {_day(cal_end)}, compare up to {_day(ts)}"):
            evaluation = hook(t, cal_end, ts)
        if evaluation is None:
            rep.emit("holdout", "info", "no holdout check for this model configuration")
            return None
        summary = getattr(evaluation, "summary", None)
        if callable(summary):
            rep.emit("holdout", "info", summary())
        return evaluation


def _floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in metrics.items() if v is not None}


_HOLDOUT_DAYS = Interval(0, 36525, closed="both")
_LABELS = ("kind", "params", "holdout_days", "save", "plots_dir", "tracking_uri", "name", "alias", "register")


def prepare_training(
    kind: str,
    *,
    params: Mapping[str, Any] | None = None,
    holdout_days: float = DEFAULT_HOLDOUT_DAYS,
    log: bool = True,
    tracking_uri: str | None = None,
    register: bool = False,
    name: str | None = None,
    alias: str = "champion",
    save: str | os.PathLike[str] | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    labels: Mapping[str, str] | None = None,
) -> TrainingJob:
    """Check every training setting without reading data; return the job to :meth:`~TrainingJob.run`.

    Parameters are those of :func:`train`; ``labels`` maps a parameter name
    (``"name"``, ``"alias"``, ``"tracking_uri"``) to how the caller calls it
    (``"--name"``), for error messages.

    Returns
    -------
    TrainingJob

    Raises
    ------
    ParameterError
        An unknown kind, an unknown or out-of-range hyperparameter, a negative
        ``holdout_days``, ``register`` without ``log``, an invalid ``name`` or
        ``alias``, an unknown tracking URI scheme.
    OutputError
        ``save`` is a folder crmml would not replace, ``plots_dir`` is a file.
    TrackingError
        The tracking store does not answer or cannot be opened.
    """
    label = {k: k for k in _LABELS} | dict(labels or {})
    rep = _Reporter(progress)
    if not isinstance(kind, str) or kind not in KINDS:
        raise ParameterError(f"The {label['kind']!r} parameter of train must be one of "
                             f"{', '.join(map(repr, sorted(KINDS)))}. Got {kind!r} instead.")
    model = scorer_class(kind)()
    if params is not None and not isinstance(params, Mapping):
        raise ParameterError(f"The {label['params']!r} parameter of train must be a mapping of "
                             f"{type(model).__name__} hyperparameters. Got {type(params).__name__} instead.")
    model.set_params(**dict(params or {}))  # an unknown name is a ParameterError listing the valid ones
    validate_params(model)
    cross_check = getattr(model, "_check_params", None)
    if callable(cross_check):
        cross_check()  # parameters that contradict each other, before any table is loaded
    check_param("train", label["holdout_days"], holdout_days, [_HOLDOUT_DAYS])
    if register and not log:
        raise ParameterError(f"The {label['register']!r} parameter of train needs MLflow: registering a model "
                             "logs it first. Fix: pass log=True, or register=False.")
    if save is not None:
        check_save_target(save)
    if plots_dir is not None and Path(plots_dir).exists() and not Path(plots_dir).is_dir():
        raise OutputError(f"{label['plots_dir']} {str(plots_dir)!r} is a file; expected a folder. "
                          "Fix: choose a new or existing folder.")
    name = name if name is not None else f"crmml-{kind}"
    uri = None
    if log:
        if register:
            check_registration(name, alias, name_param=label["name"], alias_param=label["alias"])
        with rep.step("check", "checking the MLflow tracking store"):
            uri = check_tracking_store(tracking_uri, name=label["tracking_uri"])
    return TrainingJob(kind=kind, model=model, holdout_days=float(holdout_days), tracking_uri=uri,
                       register=bool(register), name=name, alias=alias,
                       save=None if save is None else Path(save),
                       plots_dir=None if plots_dir is None else Path(plots_dir), progress=progress)


def train(
    kind: str,
    tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
    as_of: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    holdout_days: float = DEFAULT_HOLDOUT_DAYS,
    log: bool = True,
    tracking_uri: str | None = None,
    register: bool = False,
    name: str | None = None,
    alias: str = "champion",
    save: str | os.PathLike[str] | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a model of any registered kind: check → holdout → fit → plots → MLflow → save → register.

    Parameters
    ----------
    kind : str
        A kind of :data:`crmml.scoring.KINDS` (``"clv"``).
    tables : CRMTables, mapping of DataFrames or folder
        The contract tables.
    as_of : timestamp-like, optional
        Training cutoff: the model learns from rows strictly before it.
        Default: the day after the latest event (not in the future) of the
        model's ``as_of_sources()`` tables.
    params : mapping, optional
        Hyperparameters of the kind's model class (``{"horizon_days": 365}``),
        checked against its declared constraints before anything runs.
    holdout_days : float, default 180
        Run the kind's holdout check on the last ``holdout_days`` before
        ``as_of`` first (0 skips it); its metrics are logged.
    log : bool, default True
        Log the run to MLflow (parameters, metrics, data fingerprint, plots,
        model card, the model as a pyfunc).
    tracking_uri : str, optional
        MLflow store (default ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
    register : bool, default False
        Register the logged model as ``name`` and point ``alias`` at the new
        version — the last step, after ``save`` succeeded. Needs ``log``.
    name : str, optional
        Registered model name (default ``crmml-<kind>``).
    alias : str, default "champion"
    save : path-like, optional
        Also save the artifact there (a new or empty folder, or a previous model).
    plots_dir : path-like, optional
        Keep the PNG plots there too (otherwise they live only in the MLflow run).
    progress : callable, optional
        Called with a :class:`ProgressEvent` per step (``print`` works: ``str(event)``
        is a line); ``None`` reports nothing.

    Returns
    -------
    TrainResult
        The fitted model, as_of, metrics, exclusions, the MLflow run and
        registered version, the saved folder.

    Raises
    ------
    ParameterError, OutputError, TrackingError
        From the checks of :func:`prepare_training`, before any data is read,
        fitted, logged or written. An invalid alias or name therefore leaves
        no run and no version behind.
    DataContractError, ConvergenceError
        From the holdout check or the fit (nothing logged yet).
    TrackingError, OutputError
        From logging or saving: the run may exist, nothing is registered.
    """
    ts = None if as_of is None else to_timestamp(as_of, "as_of")
    job = prepare_training(kind, params=params, holdout_days=holdout_days, log=log, tracking_uri=tracking_uri,
                           register=register, name=name, alias=alias, save=save, plots_dir=plots_dir,
                           progress=progress)
    return job.run(tables, ts)

