"""LeadScoreModel: a calibrated conversion probability, a 1–99 score, a grade, reasons and a follow-up per open lead.

A model package on the supervised spine (:mod:`crmml.supervised`): features
come from :func:`crmml.features.lead_features` (firmographics, engagement by
event type and window, recency, velocity, age) plus the extra ``leads``
columns the user declares static (screened for leakage first), labels from
:func:`crmml.features.lead_conversion_labels`, and a
:class:`~crmml.supervised.SupervisedScorer` does the rest. See ``docs/leadscore.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml._validation import Interval, Options
from crmml.data import CRMTables, ExclusionReport
from crmml.exceptions import InsufficientDataError, ParameterError
from crmml.features import as_of_view, lead_conversion_labels, lead_features
from crmml.supervised import (
    BinaryOutcomeModel,
    LeakageReport,
    ReasonTemplate,
    ReasonTemplates,
    SupervisedScorer,
    TierPolicy,
    TrainingSet,
    crm_templates,
    screen_columns,
)
from crmml.supervised._scorer import TREE_PARAMETERS
from crmml.supervised._static import ColumnNames, add_static_columns, check_static_names, require_static_columns

__all__ = ["COLD_START_FLOOR", "ENOUGH_CONVERSIONS", "GRADES", "PICK_MARGIN", "PICK_MAX_AGE_DAYS", "LeadScoreModel",
           "lead_templates"]

GRADES = ("A", "B", "C", "D")
COLD_START_FLOOR = 40
"""Fewer distinct converted leads than this in the training window (all cutoffs): the cold-start model only."""
ENOUGH_CONVERSIONS = 400
"""From this many conversions on: LightGBM only. In between both are fitted and the better one on the
held-out cutoff is kept: the ROC AUC on the leads at most :data:`PICK_MAX_AGE_DAYS` old there (where the ranking
matters: older open leads are mostly long dead and easy for both), on all held-out leads when those hold fewer than
5 conversions; a tie goes to the cold-start model."""
PICK_MAX_AGE_DAYS = 90
PICK_MARGIN = 0.02
"""Between the floors LightGBM replaces the cold-start model only when its held-out ROC AUC on the young leads is
higher by at least this much and its ROC AUC on all held-out leads is not lower. The held-out cutoff also
early-stops LightGBM, which flatters it there: on worlds with 30–340 conversions the cold-start model was the
better one out of sample in 22 of 25 (docs/leadscore.md, Cold start)."""
_COLD_FLOORS = {"min_class_train": 5, "min_class_holdout": 2}
_MIDDLE_FLOORS = {"min_class_train": 20, "min_class_holdout": 10}
MODEL_TYPES = {"lightgbm": "lightgbm", "linear": "cold_start"}
_CONTRACT = ("lead_id", "created_at", "source", "industry", "employees", "country", "role", "converted_at")


def lead_templates() -> ReasonTemplates:
    """:func:`~crmml.supervised.crm_templates` plus the lead columns of :func:`crmml.features.lead_features`."""
    return crm_templates().extended([
        ReasonTemplate("age_days", "lead created {value:count:day:days} ago"),
        ReasonTemplate("events_per_day", "{value:.2f} activities a day since the lead was created"),
        ReasonTemplate("event_velocity", "activity at {value:.1f}× the lead's usual rate recently",
                       missing="no activity yet"),
        ReasonTemplate("employees", "{value:,.0f} employees", missing="company size unknown"),
        ReasonTemplate("source", "source '{value}'", missing="source unknown"),
        ReasonTemplate("industry", "industry '{value}'", missing="industry unknown"),
        ReasonTemplate("country", "country '{value}'", missing="country unknown"),
        ReasonTemplate("role", "role '{value}'", missing="role unknown"),
    ])


def _pick_auc(model: BinaryOutcomeModel, tset: TrainingSet) -> float | None:
    """Held-out ROC AUC on the young leads (at most PICK_MAX_AGE_DAYS old), else on every held-out lead."""
    from sklearn.metrics import roc_auc_score

    frame = tset.frame
    held = (frame["cutoff"] == max(tset.cutoffs)).to_numpy()
    young = held & (frame["age_days"].to_numpy(dtype=np.float64) <= PICK_MAX_AGE_DAYS)
    y = np.asarray(tset.y)
    if min(int(y[young].sum()), int((1 - y[young]).sum())) < 5:
        return model.evaluation_.roc_auc
    p = model.predict_proba(model.transform(frame.loc[young]))
    return float(roc_auc_score(y[young], p))


def _pick(fitted: Mapping[str, BinaryOutcomeModel], young: Mapping[str, float | None],
          every: Mapping[str, float | None]) -> str:
    """The learner kept: the only one fitted, else the cold start unless LightGBM wins clearly (PICK_MARGIN)."""
    if len(fitted) == 1:
        return next(iter(fitted))
    g_young, l_young = young["lightgbm"], young["linear"]
    g_all, l_all = every["lightgbm"], every["linear"]
    if None in (g_young, l_young, g_all, l_all):
        return "linear"
    assert g_young is not None and l_young is not None and g_all is not None and l_all is not None
    return "lightgbm" if g_young >= l_young + PICK_MARGIN and g_all >= l_all else "linear"


class _Text:
    """Constraint: a short name (1-64 characters of letters, digits, '_' or '-')."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 64 and all(c.isalnum() or c in "_-" for c in value)

    def __str__(self) -> str:
        return "a name of letters, digits, '_' or '-'"


class LeadScoreModel(SupervisedScorer):
    """Conversion probability, 1–99 score, grade A–D, follow-up and reasons per open lead.

    Parameters
    ----------
    learner : {"auto", "lightgbm", "linear"}, default="auto"
        ``"auto"``: below :data:`COLD_START_FLOOR` conversions in the training
        window the cold-start model (a strongly regularised logistic
        regression, ``model_type = "cold_start"``); from
        :data:`ENOUGH_CONVERSIONS` on LightGBM; in between both, keeping the
        better one on the held-out cutoff. ``"lightgbm"`` / ``"linear"``
        force one.
    horizon_days : float, default=90
        The label: the lead converts in ``[as_of, as_of + horizon)``.
    n_cutoffs : int, default=36
        Training cutoffs (:func:`~crmml.supervised.default_cutoffs`); the
        latest, ``as_of - horizon``, is held out (early stopping, calibration,
        the score scale, evaluation). Cutoffs at or before the first lead's
        ``created_at`` are skipped (no lead was open); ``cutoffs_`` lists
        those used.
    cutoff_spacing_days : float or None, default=30
        Days between cutoffs (``None``: one horizon). Monthly cutoffs over
        three years see each lead young at several cutoffs: on the benchmark
        they lift the ROC AUC on leads created in the last 14 days from 0.700
        (4 cutoffs a horizon apart) to 0.727, next to the observable ceiling
        0.741 (docs/leadscore.md).
    grade_a, grade_b, grade_c : int, default=75, 50, 25
        Score cut points: ``score >= grade_a`` → A, ``>= grade_b`` → B,
        ``>= grade_c`` → C, else D.
    follow_up_a, follow_up_b, follow_up_c, follow_up_d : str
        The follow-up of each grade (``call_today`` /
        ``personal_email_this_week`` / ``nurture_campaign`` / ``no_action``).
    static_columns : tuple of str, default=()
        Extra columns of the ``leads`` table to use as features (the contract
        allows extra columns). Each is screened for leakage at fit and refused
        when it alone predicts the label almost perfectly.
    allow_columns : tuple of str, default=()
        Static columns to use even though the leakage screen flags them.
    learning_rate, num_leaves, max_depth, tree_tolerance : LightGBM settings
    num_threads : int, default=0
    seed : int, default=0

    Attributes
    ----------
    model_ : BinaryOutcomeModel
    leakage_ : LeakageReport or None
        How well each declared static column alone predicted the label at
        fit (None without static columns).
        (``model_.score_scale_``: the 1–99 scale frozen on the held-out cutoff.)
    as_of_, cutoffs_, exclusions_, reason_frequencies_
        As for every supervised crmml model.
    """

    kind: ClassVar[str] = "leadscore"
    entity: ClassVar[str] = "lead_id"
    display_name: ClassVar[str] = "lead scoring"
    output_names: ClassVar[dict[str, str | None]] = {"probability": "conversion_probability", "tier": None,
                                                     "action": None}
    context_columns: ClassVar[tuple[str, ...]] = ("days_since_event",)
    n_increasing: ClassVar[int] = 3
    n_decreasing: ClassVar[int] = 2
    _extra_state_keys: ClassVar[tuple[str, ...]] = ("leakage", "selection")
    first_record: ClassVar[tuple[str, str] | None] = ("leads", "created_at")

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "learner": [Options(("auto", "lightgbm", "linear"))],
        "horizon_days": [Interval(1, 3650, closed="both")],
        "n_cutoffs": [Interval(2, 52, integer=True)],
        "cutoff_spacing_days": [Interval(1, 3650, closed="both"), None],
        "grade_a": [Interval(2, 99, integer=True)],
        "grade_b": [Interval(2, 99, integer=True)],
        "grade_c": [Interval(2, 99, integer=True)],
        "follow_up_a": [_Text()],
        "follow_up_b": [_Text()],
        "follow_up_c": [_Text()],
        "follow_up_d": [_Text()],
        "static_columns": [ColumnNames()],
        "allow_columns": [ColumnNames()],
        **TREE_PARAMETERS,
    }

    def __init__(
        self,
        *,
        learner: str = "auto",
        horizon_days: float = 90,
        n_cutoffs: int = 36,
        cutoff_spacing_days: float | None = 30,
        grade_a: int = 75,
        grade_b: int = 50,
        grade_c: int = 25,
        follow_up_a: str = "call_today",
        follow_up_b: str = "personal_email_this_week",
        follow_up_c: str = "nurture_campaign",
        follow_up_d: str = "no_action",
        static_columns: tuple[str, ...] = (),
        allow_columns: tuple[str, ...] = (),
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        max_depth: int = 4,
        tree_tolerance: float = 0.002,
        num_threads: int = 0,
        seed: int = 0,
    ) -> None:
        self.learner = learner
        self.horizon_days = horizon_days
        self.n_cutoffs = n_cutoffs
        self.cutoff_spacing_days = cutoff_spacing_days
        self.grade_a = grade_a
        self.grade_b = grade_b
        self.grade_c = grade_c
        self.follow_up_a = follow_up_a
        self.follow_up_b = follow_up_b
        self.follow_up_c = follow_up_c
        self.follow_up_d = follow_up_d
        self.static_columns = static_columns
        self.allow_columns = allow_columns
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.tree_tolerance = tree_tolerance
        self.num_threads = num_threads
        self.seed = seed

    # ----------------------------------------------------- training hooks
    def as_of_sources(self) -> tuple[str, ...]:
        """Tables whose latest event sets the default ``as_of``."""
        return ("leads", "lead_events")

    def _check_params(self) -> None:
        if not self.grade_a > self.grade_b > self.grade_c:
            raise ParameterError("The grade cut points of LeadScoreModel must decrease: grade_a > grade_b > grade_c. "
                                 f"Got {self.grade_a}, {self.grade_b}, {self.grade_c}.")
        check_static_names("LeadScoreModel", "leads", _CONTRACT, self.static_columns, self.allow_columns,
                           "are features already (converted_at is the label)")

    def _prepare_training_set(self, tset: TrainingSet) -> TrainingSet:
        """Screen the declared static columns for leakage on the stacked training set (refused → LeakageError)."""
        self.leakage_ = None if not self.static_columns else screen_columns(
            tset.frame, tset.y, self.static_columns, table="leads", allow=self.allow_columns, seed=int(self.seed),
            hint="allow_columns=[{name!r}] (CLI: --allow-column {shell})")
        return tset

    def _fit_spine(self, tset: TrainingSet, ts: pd.Timestamp) -> BinaryOutcomeModel:
        """Cold start, LightGBM, or both and the better one on the held-out cutoff (see ``learner``)."""
        n_pos = _distinct_conversions(tset)
        if self.learner != "auto":
            rule = f"learner={self.learner!r} (forced)"
            kinds = [self.learner]
        elif n_pos < COLD_START_FLOOR:
            rule = f"{n_pos} conversions in the training window < {COLD_START_FLOOR}: the cold-start model"
            kinds = ["linear"]
        elif n_pos >= ENOUGH_CONVERSIONS:
            rule = f"{n_pos} conversions in the training window >= {ENOUGH_CONVERSIONS}: LightGBM"
            kinds = ["lightgbm"]
        else:
            rule = (f"{n_pos} conversions in the training window, between {COLD_START_FLOOR} and "
                    f"{ENOUGH_CONVERSIONS}: both fitted; LightGBM kept only when its held-out ROC AUC is "
                    f">= {PICK_MARGIN:g} higher on young leads and not lower on all leads")
            kinds = ["linear", "lightgbm"]
        middle = n_pos < ENOUGH_CONVERSIONS  # LightGBM below "enough" uses the same lower floor, forced or not
        fitted: dict[str, BinaryOutcomeModel] = {}
        auc: dict[str, float | None] = {"lightgbm": None, "linear": None}
        auc_all: dict[str, float | None] = {"lightgbm": None, "linear": None}
        for i, kind in enumerate(kinds):
            floors = _COLD_FLOORS if kind == "linear" else (_MIDDLE_FLOORS if middle else {})
            try:
                fitted[kind] = self._fit_one(tset, ts, learner=kind, **floors)
            except InsufficientDataError:
                if i + 1 < len(kinds) or fitted:  # the other candidate may still fit
                    continue
                raise
            auc[kind] = _pick_auc(fitted[kind], tset)
            auc_all[kind] = fitted[kind].evaluation_.roc_auc
        if not fitted:  # pragma: no cover - the last candidate re-raises above
            raise InsufficientDataError(f"{self._fit_description(ts)}: no model could be fitted.")
        chosen = _pick(fitted, auc, auc_all)
        self.selection_ = {"conversions": n_pos, "rule": rule, "chosen": chosen,
                           "holdout_roc_auc": dict(auc), "holdout_roc_auc_all": dict(auc_all)}
        return fitted[chosen]

    @property
    def model_type_(self) -> str:
        """``"lightgbm"`` or ``"cold_start"``: the learner of the fitted model."""
        self._check_fitted("model_type_")
        return MODEL_TYPES[self.model_.learner]

    def _extra_state_to_dict(self) -> dict[str, Any]:
        return {"leakage": None if self.leakage_ is None else self.leakage_.to_dict(),
                "selection": dict(self.selection_)}

    def _extra_state_from_payload(self, p: Payload) -> None:
        leak = p.mapping("leakage", nullable=True)
        self.leakage_ = None if leak is None else LeakageReport.from_dict(leak)
        sel = p.mapping("selection")
        assert sel is not None
        sel.keys_exactly(("conversions", "rule", "chosen", "holdout_roc_auc", "holdout_roc_auc_all"))
        aucs, aucs_all = sel.mapping("holdout_roc_auc"), sel.mapping("holdout_roc_auc_all")
        assert aucs is not None and aucs_all is not None
        aucs.keys_exactly(("lightgbm", "linear"))
        aucs_all.keys_exactly(("lightgbm", "linear"))
        chosen = sel.str_in("chosen", ("lightgbm", "linear"))
        if chosen != self.model_.learner:
            raise sel.error("chosen", f"the learner of the supervised model ({self.model_.learner!r})", chosen)
        self.selection_ = {"conversions": sel.int_in("conversions", low=0), "rule": sel.str_in("rule", max_length=400),
                           "chosen": chosen,
                           "holdout_roc_auc": {k: aucs.finite_float(k, low=0.0, high=1.0, nullable=True)
                                               for k in ("lightgbm", "linear")},
                           "holdout_roc_auc_all": {k: aucs_all.finite_float(k, low=0.0, high=1.0, nullable=True)
                                                   for k in ("lightgbm", "linear")}}

    def _tier_policy(self) -> TierPolicy:
        return TierPolicy.by_probability({"high": 0.6, "medium": 0.3})  # unused: grades come from the score

    def _reason_templates(self) -> ReasonTemplates:
        return lead_templates()

    def _baseline(self) -> tuple[str, str]:
        return ("days_since_event", "decreasing")

    def _fit_description(self, ts: pd.Timestamp) -> str:
        return (f"LeadScoreModel(horizon_days={self.horizon_days:g}, n_cutoffs={self.n_cutoffs}) as of {ts.date()}")

    def _require_tables(self, t: CRMTables, method: str) -> None:
        t.require("leads", model=f"LeadScoreModel.{method}")
        require_static_columns("LeadScoreModel", "leads", t.leads, self.static_columns, _CONTRACT)

    # --------------------------------------------------------------- features
    def _features(self, view: CRMTables, ts: pd.Timestamp) -> pd.DataFrame:
        return add_static_columns(lead_features(view, ts), view.leads, "lead_id", self.static_columns, ts)

    def _training_features(self, t: CRMTables, ts: pd.Timestamp) -> pd.DataFrame:
        return self._features(as_of_view(t, ts), ts)

    def _labels(self, t: CRMTables, ts: pd.Timestamp, h: float) -> pd.DataFrame:
        return lead_conversion_labels(t, ts, h)

    def _population_frame(self, t: CRMTables, ts: pd.Timestamp, report: ExclusionReport) -> pd.DataFrame:
        """Features of the leads open at ``ts`` (created before it, not converted before it)."""
        self._require_tables(t, "score")
        view = as_of_view(t, ts)
        frame = self._features(view, ts)
        le = view.leads
        done = le.loc[le["converted_at"].notna().to_numpy(dtype=bool), "lead_id"]
        report.add_entities("leads", "converted before as_of (not open; not scored)", pd.Index(done))
        return frame

    # ------------------------------------------------------------ outputs
    def _grade(self, score: np.ndarray) -> np.ndarray:
        pos = np.full(score.shape, 3, dtype=np.int64)
        for i, cut in ((2, self.grade_c), (1, self.grade_b), (0, self.grade_a)):
            pos[score >= cut] = i
        return pos

    def _follow_ups(self) -> list[str]:
        return [self.follow_up_a, self.follow_up_b, self.follow_up_c, self.follow_up_d]

    def _add_outputs(self, out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        out["model_type"] = pd.Categorical([self.model_type_] * len(out), categories=list(MODEL_TYPES.values()))
        score = self.model_.score_scale_.score(out["conversion_probability"].to_numpy(dtype=np.float64))
        pos = self._grade(score)
        out.insert(1, "score", score)
        out.insert(2, "grade", pd.Categorical.from_codes(pos[::1], categories=list(GRADES)[::1]))
        acts = self._follow_ups()
        cats = list(dict.fromkeys(acts))
        out.insert(3, "follow_up", pd.Categorical.from_codes(np.array([cats.index(a) for a in acts])[pos],
                                                             categories=cats))
        return out

    def _add_outputs_row(self, res: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
        p = res.pop("conversion_probability")
        score = self.model_.score_scale_.score_one(p)
        pos = int(self._grade(np.array([score]))[0])
        return {"conversion_probability": p, "score": score, "grade": GRADES[pos],
                "follow_up": self._follow_ups()[pos], **res, "model_type": self.model_type_}

    def _extra_outputs_schema(self) -> dict[str, str]:
        return {"score": "long", "grade": "string", "follow_up": "string"}

    def output_schema(self) -> dict[str, str]:
        return {**super().output_schema(), "model_type": "string"}

    # ------------------------------------------------------------------ fit
    def fit(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
            as_of: Any) -> LeadScoreModel:
        """Stack lead features and conversions over the cutoffs, fit the spine, freeze the 1–99 scale.

        Raises
        ------
        InsufficientDataError
            Below the spine's floor; the message gives the counts and what to change.
        """
        super().fit(tables, as_of)
        return self

    def score(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any, *,
              report: ExclusionReport | None = None) -> pd.DataFrame:
        """Score every lead open at ``as_of``: one row per lead, indexed by ``lead_id``.

        Columns: ``conversion_probability`` (calibrated P(convert in
        ``[as_of, as_of + horizon)``)), ``score`` (1–99: the leads with a lower
        probability account for about that share (%) of the conversions
        expected among the held-out cutoff's open leads — an ABC analysis),
        ``grade`` (A–D on the score),
        ``follow_up``, then ``reason_1..3`` (raising the probability) and
        ``reason_neg_1..2`` (lowering it), each with ``_feature`` and
        ``_contribution``. ``report`` receives the leads not scored (converted
        before ``as_of``).
        """
        return super().score(tables, as_of, report=report)

    # ------------------------------------------------------------ describing
    def conversion_by_grade(self) -> pd.DataFrame:
        """Held-out leads and conversions per grade A–D (exact: the spine's held-out score table).

        Returns
        -------
        DataFrame
            Indexed by grade ``A``–``D``: ``leads``, ``converted`` and
            ``rate`` (NaN for a grade without leads).
        """
        self._check_fitted("conversion_by_grade")
        table = self.model_.score_table_
        grade = self._grade(np.arange(1, 100))
        leads = np.bincount(grade, weights=np.asarray(table["count"], dtype=np.float64), minlength=len(GRADES))
        conv = np.bincount(grade, weights=np.asarray(table["positives"], dtype=np.float64), minlength=len(GRADES))
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(leads > 0, conv / np.maximum(leads, 1), np.nan)
        return pd.DataFrame({"leads": leads.astype(np.int64), "converted": conv.astype(np.int64), "rate": rate},
                            index=pd.Index(list(GRADES), name="grade"))

    def model_card(self) -> dict[str, Any]:
        self._check_fitted("model_card")
        m = self.model_
        bc = m.baseline_comparison_
        return {
            "title": f"crmml lead scoring ({self.model_type_})",
            "model_selection": dict(self.selection_),
            "summary": (f"Model type {self.model_type_} ({self.selection_['rule']}). Population = leads open at "
                        "as_of (created before it, not converted before it); "
                        f"label = converted within {self.horizon_days:g} days. Point-in-time features "
                        f"stacked over {len(self.cutoffs_)} cutoffs; the latest is held out for early stopping, "
                        f"{m.calibrator_.method} calibration, the score scale and evaluation."),
            "intended_use": ("Prioritise the sales team's daily calls and e-mails: A → call today, B → personal "
                             "e-mail this week, C → nurture campaign, D → no action. Not for decisions about "
                             "individuals beyond sales prioritisation."),
            "parameters": self._card_parameters(),
            "model_vs_baseline": None if bc is None else bc.to_dict(),
            "supervised": m.summary(),
            "outputs": {
                "conversion_probability": f"calibrated P(convert within {self.horizon_days:g} days)",
                "score": "1–99: leads with a lower probability hold about that share (%) of the conversions expected "
                         "among the held-out cutoff's open leads (ABC analysis; grades hold about a quarter each)",
                "grade": f"A ≥ {self.grade_a}, B ≥ {self.grade_b}, C ≥ {self.grade_c}, else D (on the score)",
                "follow_up": " / ".join(self._follow_ups()),
                "reason_1..3": "top factors raising the probability, in words, with their log-odds contributions",
                "reason_neg_1..2": "top factors lowering it",
            },
            "tables": [
                {"title": "Conversion by grade (held-out cutoff)", "columns": ("grade", "leads", "converted", "rate"),
                 "rows": [(g, int(r.leads), int(r.converted), "—" if r.rate != r.rate else f"{r.rate:.1%}")
                          for g, r in self.conversion_by_grade().iterrows()]},
                {"title": "Reason summary (held-out sample: share with the factor among the top 3 reasons)",
                 "columns": ("factor", "share"),
                 "rows": [(self.model_.templates_.label(f), f"{v:.1%}")
                          for f, v in list(self.reason_frequencies_.items())[:10]]},
            ],
            "limits": [
                "Trained on the cutoffs before as_of: a change in lead sources or campaigns since the latest "
                "held-out cutoff is not reflected until re-training.",
                "Reasons are associations (TreeSHAP contributions), not causes.",
                "Static columns are today's values: only columns the leakage screen passes (or the user allows) "
                "are used.",
            ],
        }

    def _artifact_metadata(self) -> dict[str, str]:
        return {"as_of": self.as_of_.isoformat()}


def _distinct_conversions(tset: TrainingSet) -> int:
    """Leads that convert in some cutoff's label window: with cutoffs closer than the horizon a lead
    converting once is a positive at several cutoffs, but it is one conversion."""
    pos = tset.frame.loc[np.asarray(tset.y) == 1, tset.entity]
    return int(pos.nunique())
