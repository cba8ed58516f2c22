"""The model-package layer every supervised crmml model shares: fit over cutoffs, score, describe, persist.

A supervised model package (churn, lead scoring, the forecast) defines *who*
is scored and *what* the outcome is; everything else is the same and lives
here, once:

* ``fit(tables, as_of)``: cutoffs (:func:`~crmml.supervised.default_cutoffs`),
  the stacked training set (:func:`~crmml.supervised.build_training_set`
  over the package's feature and label builders), a
  :class:`~crmml.supervised.BinaryOutcomeModel` (split, LightGBM, calibration,
  tiers, baseline), the training floor's error reworded with the package's
  parameters, the held-out reason frequencies of the model card, and the
  drift reference (``drift_reference_``: the population at ``as_of`` built
  and scored as :meth:`~SupervisedScorer.score` does, binned by
  :func:`crmml.drift.reference_from`; saved as ``drift_reference.json``);
* ``build_features`` / ``predict_features`` / ``score`` / ``score_row`` with
  the spine's columns renamed (``probability`` → e.g. ``churn_probability``,
  ``tier`` → ``risk_tier``, ``action`` → ``follow_up``) and a hook for the
  package's own columns (revenue at risk, a 1–99 score);
* ``evaluate_window(tables, start, end)``: a fitted model scored on the
  outcomes of a later window (what ``crmml retrain`` compares a champion and
  a challenger on);
* the MLflow schemas, an input example without personal data, the
  held-out metrics, and the persisted state (``model.json``: the spine's
  ``supervised.json`` payload and the LightGBM text model inside it).

A package subclasses :class:`SupervisedScorer`, sets the class attributes and
implements the hooks marked *hook* below. Model packages never import each
other; they all import this.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crmml._artifact import ModelJsonArtifact
from crmml._base import Estimator
from crmml._payload import Payload
from crmml._validation import Interval
from crmml.data import CRMTables, ExclusionReport, as_tables, read_exclusion_counts
from crmml.drift import DriftReference, StoresDriftReference, reference_from
from crmml.exceptions import DataContractError, InsufficientDataError, ParameterError, Problem
from crmml.features import to_timestamp
from crmml.supervised._metrics import Evaluation, evaluate
from crmml.supervised._model import BOOSTER_TXT, BinaryOutcomeModel
from crmml.supervised._read import timestamp as read_timestamp
from crmml.supervised._read import timestamps as read_timestamps
from crmml.supervised._reasons import reason_columns
from crmml.supervised._templates import ReasonTemplates
from crmml.supervised._tiers import TierPolicy
from crmml.supervised._training_set import TrainingSet, build_training_set, default_cutoffs

__all__ = ["SupervisedScorer", "WindowEvaluation", "REASON_SAMPLE", "TREE_PARAMETERS", "flat_exclusions",
           "reason_frequencies"]

REASON_SAMPLE = 5000
"""Held-out rows (at most) whose reasons are counted at fit for the reason-frequency chart."""

_CATEGORY_SCHEMA = "string"

TREE_PARAMETERS: dict[str, list[Any]] = {
    "learning_rate": [Interval(0, 1, closed="right")],
    "num_leaves": [Interval(2, 4096, integer=True)],
    "max_depth": [Interval(1, 64, integer=True)],
    "tree_tolerance": [Interval(0, 0.5, closed="both")],
    "num_threads": [Interval(0, 1024, integer=True)],
    "seed": [Interval(0, 2**31 - 1, integer=True)],
}
"""Constraints of the LightGBM settings every supervised package exposes (its ``_parameter_constraints``
include them: ``{**TREE_PARAMETERS, ...}``); :meth:`SupervisedScorer._tree_options` passes them on."""


@dataclass(frozen=True)
class WindowEvaluation:
    """A fitted model's probabilities against the outcomes of a later window.

    What :meth:`SupervisedScorer.evaluate_window` returns.

    Attributes
    ----------
    start, end : pandas.Timestamp
        The window ``[start, end)``.
    cutoffs : tuple of pandas.Timestamp
        The cutoffs scored (oldest first); each label window ``[c, c + horizon)`` lies in the window.
    evaluation : Evaluation
        ROC AUC, PR AUC, lift, Brier score, ECE and the calibration curve over every scored row.
    outcomes_sha256 : str
        sha256 of the (entity, cutoff, outcome) rows: two models were evaluated on the same
        entities and outcomes exactly when it is equal (it identifies rows, reveals none).
    outcomes, probabilities : numpy.ndarray
        Every scored row's outcome (0/1) and the model's probability, cutoff by cutoff.
    baseline_values : numpy.ndarray or None
        The same rows' values of the spine's naive baseline column (``model_.baseline``, e.g.
        ``recency_days``), for a comparison with the naive baseline on the window; None without one.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    cutoffs: tuple[pd.Timestamp, ...]
    evaluation: Evaluation
    outcomes_sha256: str
    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False, repr=False)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False, repr=False)
    baseline_values: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def metrics(self) -> dict[str, float]:
        """The evaluation's scalar metrics (``roc_auc``, ``ece``, ``brier``, ``n`` ...; undefined ones left out)."""
        return self.evaluation.metrics()

    def summary(self) -> str:
        """One line: rows, positives, ROC AUC and ECE."""
        e = self.evaluation
        auc = "undefined" if e.roc_auc is None else f"{e.roc_auc:.4f}"
        return (f"{e.n:,} rows over {len(self.cutoffs)} cutoff(s), {e.n_positive:,} positive: ROC AUC {auc}, "
                f"ECE {e.ece:.4f}, Brier {e.brier:.4f}")


class SupervisedScorer(StoresDriftReference, ModelJsonArtifact, Estimator):
    """Base class of crmml's supervised model packages (see the module docstring).

    Class attributes a package sets
    -------------------------------
    kind, entity, display_name : str
        Registry key, the id column the outputs are keyed by, and the name in messages.
    output_names : dict
        The spine's output columns renamed: ``{"probability": ..., "tier": ..., "action": ...}``;
        ``None`` drops the column (a package that derives its own grade).
    context_columns : tuple of str
        Non-feature columns of the feature frame the package's own outputs need
        (kept in :meth:`build_features` when the builders produce them).
    n_increasing, n_decreasing : int
        Reason slots of each kind.
    drift_score_columns : tuple of str or None
        Output columns whose distribution at fit is stored in the drift
        reference (``drift_reference_``) beside every feature's; ``None``
        (default): the probability column and the package's own numeric
        outputs (:meth:`_extra_outputs_schema`), e.g. ``churn_probability``
        and ``revenue_at_risk``, or ``conversion_probability`` and ``score``.

    Hooks a package implements
    --------------------------
    ``_require_tables(t, method)``, ``_population_frame(t, ts, report)``,
    ``_training_features(t, ts)``, ``_labels(t, ts, h)``,
    ``_tier_policy()``, ``_reason_templates()``, ``_baseline()``,
    ``_reasons_for()``, ``_model_options()``, ``_fit_description(ts)``,
    ``_add_outputs(out, frame)``, ``_add_outputs_row(res, row)``,
    ``_extra_outputs_schema()`` and the persistence pair
    ``_extra_state_to_dict()`` / ``_extra_state_from_payload(p)`` (with
    ``_extra_state_keys``). ``horizon_days``, ``n_cutoffs``,
    ``cutoff_spacing_days``, ``num_threads`` and ``seed`` are expected
    hyperparameters.
    """

    kind: ClassVar[str]
    entity: ClassVar[str]
    display_name: ClassVar[str]
    output_names: ClassVar[dict[str, str | None]] = {"probability": "probability", "tier": "tier", "action": "action"}
    context_columns: ClassVar[tuple[str, ...]] = ()
    n_increasing: ClassVar[int] = 3
    n_decreasing: ClassVar[int] = 3
    drift_score_columns: ClassVar[tuple[str, ...] | None] = None
    _extra_state_keys: ClassVar[tuple[str, ...]] = ()
    first_record: ClassVar[tuple[str, str] | None] = None
    """``(table, time column)`` whose earliest value bounds the training cutoffs (None: no bound)."""

    # ------------------------------------------------------------------ hooks
    def _require_tables(self, t: CRMTables, method: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _population_frame(self, t: CRMTables, ts: pd.Timestamp,
                          report: ExclusionReport) -> pd.DataFrame:  # pragma: no cover - abstract
        """Features of the population at ``ts`` (indexed by the entity id); everyone else reported."""
        raise NotImplementedError

    def _training_features(self, t: CRMTables, ts: pd.Timestamp) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _labels(self, t: CRMTables, ts: pd.Timestamp, h: float) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _tier_policy(self) -> TierPolicy:  # pragma: no cover - abstract
        raise NotImplementedError

    def _reason_templates(self) -> ReasonTemplates:  # pragma: no cover - abstract
        raise NotImplementedError

    def _baseline(self) -> tuple[str, str] | None:
        """``(column, direction)`` of the naive baseline, or None."""
        return None

    def _reasons_for(self) -> tuple[str, ...] | None:
        """Tiers whose rows get reasons (None: every row)."""
        return None

    def _model_options(self) -> dict[str, Any]:
        """Extra keyword arguments of the :class:`BinaryOutcomeModel` (default: :meth:`_tree_options`)."""
        return self._tree_options()

    def _tree_options(self) -> dict[str, Any]:
        """The LightGBM settings of :data:`TREE_PARAMETERS` as :class:`BinaryOutcomeModel` arguments."""
        return {"learning_rate": self.learning_rate, "num_leaves": self.num_leaves,  # type: ignore[attr-defined]
                "max_depth": self.max_depth, "tree_tolerance": float(self.tree_tolerance),  # type: ignore[attr-defined]
                "allow_missing": (), "exclude": ()}

    def _fit_description(self, ts: pd.Timestamp) -> str:
        """How the model is named in the training floor's error (e.g. ``ChurnModel(...) as of 2025-07-01``)."""
        return f"{type(self).__name__} as of {ts.date()}"

    def _prepare_training_set(self, tset: TrainingSet) -> TrainingSet:
        """Check or change the stacked training set before the spine fits it (e.g. a leakage screen)."""
        return tset

    def _add_outputs(self, out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        """The package's own columns added to the renamed spine outputs (``frame``: the feature frame)."""
        return out

    def _add_outputs_row(self, res: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`_add_outputs` for one row (no pandas)."""
        return res

    def _extra_outputs_schema(self) -> dict[str, str]:
        """MLflow types of the package's own output columns, in order."""
        return {}

    def _extra_state_to_dict(self) -> dict[str, Any]:
        return {}

    def _extra_state_from_payload(self, p: Payload) -> None:
        return None

    # ------------------------------------------------------------------ fit
    def fit(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
            as_of: Any) -> SupervisedScorer:
        """Stack features and labels over the cutoffs and fit the spine (see the module docstring).

        Raises
        ------
        InsufficientDataError
            Below the spine's floor (positives/negatives per part; fewer than
            two usable cutoffs); the message gives the counts and what to change.
        """
        self._validate_params()
        self._check_params()
        self._unfit()
        self._tier_policy()  # parameter errors before any work
        t = as_tables(tables)
        ts = to_timestamp(as_of)
        self._require_tables(t, "fit")
        h = float(self.horizon_days)  # type: ignore[attr-defined]
        cutoffs = self._training_cutoffs(t, ts, h)
        tset = self._prepare_training_set(build_training_set(self._training_features, self._labels, t, cutoffs,
                                                             h, ts))
        model = self._fit_spine(tset, ts)
        self.model_ = model
        self.as_of_ = ts
        self.cutoffs_ = [pd.Timestamp(c) for c in tset.cutoffs]
        self.context_ = [c for c in self.context_columns if c in set(tset.feature_columns)]
        self.exclusions_ = [{"table": e["table"], "rule": e["rule"], "n_rows": int(e["n_rows"]),
                             "unit": e.get("unit", "rows")} for e in flat_exclusions(tset.exclusions_dict())]
        self.reason_frequencies_ = reason_frequencies(model, tset, int(self.seed))  # type: ignore[attr-defined]
        self.drift_reference_ = self._drift_reference(t, ts)
        return self

    def _drift_reference(self, t: CRMTables, ts: pd.Timestamp) -> DriftReference | None:
        """The population at ``ts`` binned, built and scored exactly as :meth:`score` does (None when empty).

        Counting :meth:`build_features` and :meth:`score` of the same tables
        at the fit's ``as_of`` into this reference gives PSI 0 for every column.
        """
        frame = self._population_frame(t, ts, ExclusionReport())
        if not len(frame):
            return None
        frame = self._scorable(frame, "fit")
        return reference_from(frame, self._predict(frame, reasons=False), score_columns=self._drift_score_columns(),
                              as_of=ts, entity=self.entity)

    def _drift_score_columns(self) -> tuple[str, ...]:
        """:attr:`drift_score_columns`, or by default the probability column and the package's numeric outputs."""
        if self.drift_score_columns is not None:
            return tuple(self.drift_score_columns)
        own = [c for c, t in self._extra_outputs_schema().items() if t in ("double", "float", "long", "integer")]
        return (str(self.output_names["probability"]), *own)

    def _training_cutoffs(self, tables: CRMTables, ts: pd.Timestamp, horizon: float) -> list[pd.Timestamp]:
        """The training cutoffs (oldest first; the latest is held out): ``n_cutoffs`` of
        :func:`~crmml.supervised.default_cutoffs`, ``cutoff_spacing_days`` apart; with
        :attr:`first_record` set, those at or before the table's first record are skipped (nothing
        existed yet), keeping at least the latest."""
        cutoffs = default_cutoffs(ts, horizon, n=int(self.n_cutoffs),  # type: ignore[attr-defined]
                                  spacing_days=self.cutoff_spacing_days)  # type: ignore[attr-defined]
        if self.first_record is None:
            return cutoffs
        table, column = self.first_record
        frame = getattr(tables, table, None)
        first = frame[column].min() if frame is not None and len(frame) else pd.NaT
        if pd.isna(first):
            return cutoffs
        kept = [c for c in cutoffs if c > first]
        return kept if kept else cutoffs[-1:]

    def _check_params(self) -> None:
        """Checks across parameters, after the per-parameter constraints."""
        return None

    def _fit_spine(self, tset: TrainingSet, ts: pd.Timestamp) -> BinaryOutcomeModel:
        """The fitted spine model of the training set (a package may fit several and pick one)."""
        return self._fit_one(tset, ts)

    def _fit_one(self, tset: TrainingSet, ts: pd.Timestamp, **overrides: Any) -> BinaryOutcomeModel:
        """A :class:`BinaryOutcomeModel` fitted on ``tset`` with the package's options (and ``overrides``).

        Raises
        ------
        InsufficientDataError
            Below the floor, reworded with the package's parameters.
        """
        present = set(tset.feature_columns)
        base = self._baseline()
        baseline, direction = base if base is not None and base[0] in present else (None, "increasing")
        options = {**self._model_options(), **overrides}
        model = BinaryOutcomeModel(
            tiers=self._tier_policy(), templates=self._reason_templates(), baseline=baseline,
            baseline_direction=direction, n_increasing=self.n_increasing, n_decreasing=self.n_decreasing,
            num_threads=int(self.num_threads), seed=int(self.seed),  # type: ignore[attr-defined]
            **options,
        )
        try:
            return model.fit(tset)
        except InsufficientDataError as exc:
            raise InsufficientDataError(
                f"{self._fit_description(ts)}: "
                + str(exc).replace("default_cutoffs(as_of, horizon_days, n=...)",
                                   f"{type(self).__name__}(n_cutoffs=...)")
                + f" The floor is documented in docs/{self.kind}.md (Minimum data).") from None

    def training_metrics(self) -> dict[str, float]:
        """Held-out-cutoff metrics of the model and of the baseline (for :func:`crmml.training.train`)."""
        self._check_fitted("training_metrics")
        out = {f"holdout_{k}": v for k, v in self.model_.evaluation_.metrics().items() if v is not None}
        bc = self.model_.baseline_comparison_
        if bc is not None:
            out.update({f"baseline_{k}": v for k, v in bc.baseline.metrics().items() if v is not None})
            out["beats_baseline"] = float(bc.beats_baseline)
        return out

    # ------------------------------------------------------------------ evaluation
    def min_window_days(self) -> float:
        """The shortest window :meth:`evaluate_window` accepts: one label window (``horizon_days``)."""
        return float(self.horizon_days)  # type: ignore[attr-defined]

    def evaluate_window(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
                        start: Any, end: Any) -> WindowEvaluation:
        """Score this fitted model on the outcomes of ``[start, end)``; ``self`` is not changed.

        The cutoffs are ``end - horizon``, ``end - 2 * horizon``, ... down to
        ``start`` (every label window ``[c, c + horizon)`` inside the window,
        windows not overlapping). At each the model scores its population with
        features as of ``c`` (exactly as :meth:`score` does) and the
        probabilities are compared with the outcomes
        (:func:`~crmml.supervised.evaluate`). A model fitted as of ``start``
        or earlier never saw these outcomes; one fitted later saw part of them.

        Raises
        ------
        ParameterError
            The window is shorter than ``horizon_days`` (:meth:`min_window_days`).
        InsufficientDataError
            Nobody of the population at any cutoff.
        """
        self._check_fitted("evaluate_window")
        t = as_tables(tables)
        s, e = to_timestamp(start, "start"), to_timestamp(end, "end")
        h = float(self.horizon_days)  # type: ignore[attr-defined]
        days = (e - s) / pd.Timedelta(days=1)
        if days < h:
            raise ParameterError(
                f"The window of {type(self).__name__}.evaluate_window must hold at least one label window of "
                f"horizon_days={h:g} days; got [{s.date()}, {e.date()}) ({days:g} days). "
                f"Fix: a holdout of at least {math.ceil(h)} days.")
        self._require_tables(t, "evaluate_window")
        cutoffs = default_cutoffs(e, h, n=int(days // h))
        ys: list[np.ndarray] = []
        ps: list[np.ndarray] = []
        bs: list[np.ndarray] = []
        keys: list[pd.DataFrame] = []
        base = getattr(self.model_, "baseline", None)
        for c in cutoffs:
            frame = self._population_frame(t, c, ExclusionReport())
            frame.index = frame.index.astype(str)
            values = frame[base] if base is not None and base in frame.columns else None
            frame = self._select_schema(frame, "evaluate_window")
            labels = self._labels(t, c, h)
            labels.index = labels.index.astype(str)
            common = frame.index.intersection(labels.index, sort=True)
            if not len(common):
                continue
            y = labels.loc[common, labels.columns[0]].to_numpy(dtype=np.int64)
            X = self.model_.transform(frame.loc[common])
            ps.append(self.model_.predict_proba(X))
            ys.append(y)
            if values is not None:
                bs.append(values.loc[common].to_numpy(dtype=np.float64, na_value=np.nan))
            keys.append(pd.DataFrame({"entity": common.to_numpy(), "cutoff": c, "outcome": y}))
        if not ys:
            raise InsufficientDataError(
                f"{type(self).__name__}.evaluate_window: nobody of the {self.kind} population at the cutoffs "
                f"{[str(c.date()) for c in cutoffs]} of [{s.date()}, {e.date()}). Fix: check the tables cover the "
                "window, or choose another window.")
        rows = pd.concat(keys, ignore_index=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()).hexdigest()
        y_all, p_all = np.concatenate(ys), np.concatenate(ps)
        return WindowEvaluation(s, e, tuple(cutoffs), evaluate(y_all, p_all), digest, outcomes=y_all,
                                probabilities=p_all,
                                baseline_values=np.concatenate(bs) if len(bs) == len(ys) else None)

    # ------------------------------------------------------------------ scoring
    def _schema_columns(self) -> list[str]:
        names = list(self.model_.spec_.names)
        return names + [c for c in self.context_columns if c not in names and c in self.context_]

    def build_features(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any,
                       *, report: ExclusionReport | None = None) -> pd.DataFrame:
        """The population's feature frame as of ``as_of``, the entity id as the first column.

        Fitted: exactly the columns of :meth:`feature_schema` (the model's
        features plus the context columns the outputs need); unfitted: every
        candidate feature. ``report`` receives the entities outside the
        population, with the reason.
        """
        report = report if report is not None else ExclusionReport()
        frame = self._population_frame(as_tables(tables), to_timestamp(as_of), report)
        if self._learned():
            frame = self._select_schema(frame, "build_features")
        return frame.rename_axis(self.entity).reset_index()

    def _select_schema(self, frame: pd.DataFrame, method: str) -> pd.DataFrame:
        """The model's columns of a freshly built feature frame; a DataContractError names the missing ones.

        A column is missing when a table the model was trained with is absent (e.g. ``opportunity_history``
        or ``interactions``): every one is listed, with the fix.
        """
        want = self._schema_columns()
        missing = [c for c in want if c not in frame.columns]
        if missing:
            raise DataContractError(
                [Problem("features", c, "a column the model was trained with; its source table is missing or "
                         "lacks the columns it is built from",
                         hint="supply the tables the model was trained with, or refit on these tables")
                 for c in missing], context=f"{type(self).__name__}.{method}")
        return frame[want]

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores of a :meth:`build_features` frame (see :meth:`score`)."""
        self._check_fitted("predict_features")
        frame = features.set_index(self.entity) if self.entity in features.columns else features
        return self._predict(frame.set_axis(frame.index.astype(str).rename(self.entity), axis=0))

    def _predict(self, frame: pd.DataFrame, *, reasons: bool = True) -> pd.DataFrame:
        """The outputs of a :meth:`_scorable` frame; ``reasons=False`` leaves out the reason columns (the
        drift reference at fit bins scores only, and the reasons cost most of the time)."""
        out = self.model_.score_frame(frame, reasons=reasons, reasons_for=self._reasons_for())
        out = out.drop(columns=[k for k, v in self.output_names.items() if v is None and k in out.columns])
        out = out.rename(columns={k: v for k, v in self.output_names.items() if v is not None})
        return self._add_outputs(out, frame)

    def score(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any, *,
              report: ExclusionReport | None = None) -> pd.DataFrame:
        """Score the population as of ``as_of``: one row per entity, indexed by the entity id.

        ``report`` receives every entity of the contract tables that is not
        scored, with the reason.
        """
        self._check_fitted("score")
        report = report if report is not None else ExclusionReport()
        frame = self._population_frame(as_tables(tables), to_timestamp(as_of), report)
        return self._predict(self._scorable(frame, "score"))

    def _scorable(self, frame: pd.DataFrame, method: str) -> pd.DataFrame:
        """A population frame as :meth:`_predict` takes it: the model's columns, the entity ids as strings."""
        frame = self._select_schema(frame, method)
        frame.index = frame.index.astype(str).rename(self.entity)
        return frame

    def score_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One entity's outputs from a feature mapping (no pandas; one thread) — the in-process fast path."""
        self._check_fitted("score_row")
        out = self.model_.score_row(row, reasons_for=self._reasons_for())
        res = {self.output_names.get(k, k): v for k, v in out.items() if self.output_names.get(k, k) is not None}
        return self._add_outputs_row(res, row)

    # ------------------------------------------------------------------ describing
    def feature_schema(self) -> dict[str, str]:
        """The entity id and every feature column with its MLflow type (fitted models only)."""
        self._check_fitted("feature_schema")
        kinds = {c.name: c.kind for c in self.model_.spec_.columns}
        out = {self.entity: "string"}
        for c in self._schema_columns():
            out[c] = _CATEGORY_SCHEMA if kinds.get(c) == "categorical" else \
                "boolean" if kinds.get(c) == "bool" else "double"
        return out

    def output_schema(self) -> dict[str, str]:
        """The entity id and every output column with its MLflow type, in order."""
        policy = self.model_.tiers_ if self._learned() else self._tier_policy()
        names = self.output_names
        cols = {self.entity: "string", str(names["probability"]): "double"}
        if names["tier"] is not None:
            cols[names["tier"]] = "string"
        if policy.actions is not None and names["action"] is not None:
            cols[names["action"]] = "string"
        cols.update(self._extra_outputs_schema())
        for c in reason_columns(self.n_increasing, self.n_decreasing):
            cols[c] = "double" if c.endswith("_contribution") else "string"
        return cols

    def input_example(self) -> pd.DataFrame:
        """A made-up one-row feature frame (no real entity) for MLflow's model signature."""
        row: dict[str, Any] = {}
        for c, kind in self.feature_schema().items():
            if c == self.entity:
                row[c] = "example"
            elif kind == "string":
                col = next(x for x in self.model_.spec_.columns if x.name == c)
                row[c] = col.levels[0] if col.levels else "example"
            elif kind == "boolean":
                row[c] = False
            else:
                row[c] = 30.0
        return pd.DataFrame([row])

    def _card_parameters(self) -> dict[str, float]:
        """The numbers every supervised model card shows (horizon, cutoffs, trees, held-out metrics, baseline)."""
        m = self.model_
        params = {"horizon_days": float(self.horizon_days),  # type: ignore[attr-defined]
                  "n_cutoffs": float(len(self.cutoffs_)), "num_trees": float(m.tree_.num_trees)}
        for k in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift"):
            v = getattr(m.evaluation_, k)
            if v is not None:
                params[f"holdout_{k}"] = float(v)
        bc = m.baseline_comparison_
        if bc is not None and bc.baseline.roc_auc is not None:
            params["baseline_roc_auc"] = float(bc.baseline.roc_auc)
        return params

    # ------------------------------------------------------------------ persistence
    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls._state_keys = ("as_of", "cutoffs", "context", "exclusions", "reason_frequencies", *cls._extra_state_keys,
                           "supervised", "booster")
        super().__init_subclass__(**kwargs)

    def _state_to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of_.isoformat(),
            "cutoffs": [c.isoformat() for c in self.cutoffs_],
            "context": list(self.context_),
            "exclusions": [dict(e) for e in self.exclusions_],
            "reason_frequencies": dict(self.reason_frequencies_),
            **self._extra_state_to_dict(),
            "supervised": self.model_.to_dict(),
            "booster": {"file": BOOSTER_TXT, "text": self.model_.tree_.to_text()} if self.model_._trees() else None,
        }

    def _state_from_payload(self, p: Payload, version: int) -> None:
        self.as_of_ = read_timestamp(p, "as_of")
        cut = read_timestamps(p, "cutoffs")
        if not 2 <= len(cut) <= 52:
            raise p.error("cutoffs", "an array of 2 to 52 ISO timestamps", [str(c) for c in cut])
        self.cutoffs_ = cut
        ctx = p.array("context")
        if not all(c in self.context_columns for c in ctx):
            raise p.error("context", f"an array of names among {list(self.context_columns)}", ctx)
        self.context_ = list(ctx)
        self.exclusions_ = read_exclusion_counts(p)
        rf = p.mapping("reason_frequencies")
        assert rf is not None
        b = p.mapping("booster", nullable=True)
        text = None
        if b is not None:
            b.keys_exactly(("file", "text"))
            b.str_in("file", (BOOSTER_TXT,))
            text = b.require("text", ("string",))
        sup = p.mapping("supervised")
        assert sup is not None
        self.model_ = BinaryOutcomeModel.from_dict(sup, text, booster_source="model.json: booster.text")
        unknown = sorted(set(rf.keys()) - set(self.model_.spec_.names))
        if unknown:
            raise p.error("reason_frequencies", "feature names of the model", unknown)
        self.reason_frequencies_ = {k: rf.finite_float(k, low=0.0, high=1.0) for k in rf.keys()}  # noqa: SIM118 (Payload.keys)
        self._extra_state_from_payload(p)


def flat_exclusions(per_cutoff: Any) -> list[dict[str, Any]]:
    """The training set's exclusions as one list (the cutoff is prefixed to the rule)."""
    out: list[dict[str, Any]] = []
    for e in per_cutoff:
        day = str(e.get("cutoff", ""))[:10]
        rule = str(e["rule"])
        out.append({"table": e["table"], "rule": rule if not day or day in rule else f"cutoff {day}: {rule}",
                    "n_rows": e["n_rows"], "unit": e.get("unit", "rows")})
    return out


def reason_frequencies(model: BinaryOutcomeModel, tset: TrainingSet, seed: int) -> dict[str, float]:
    """Share of held-out rows (a seeded sample) with each feature among their top increasing reasons."""
    frame = tset.frame
    held = frame.loc[frame["cutoff"] == max(tset.cutoffs)]
    if len(held) > REASON_SAMPLE:
        held = held.sample(REASON_SAMPLE, random_state=seed)
    if not len(held):
        return {}
    expl = model.explain(model.transform(held), held)
    counts: dict[str, int] = {}
    for i in range(1, model.n_increasing + 1):
        for f, k in expl[f"reason_{i}_feature"].dropna().value_counts().items():
            counts[str(f)] = counts.get(str(f), 0) + int(k)
    return {f: round(k / len(held), 6) for f, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def finite_or_zero(value: Any) -> float:
    """``value`` as a float, 0 when missing or not finite (context columns of one row)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def nonnegative(values: pd.Series | np.ndarray) -> np.ndarray:
    """A numeric column as float64 with missing values and negatives as 0."""
    v = np.asarray(pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    return np.nan_to_num(np.maximum(v, 0.0), nan=0.0)
