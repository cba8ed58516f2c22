"""ChurnModel: calibrated, tiered and explained churn risk for B2C (silence) and B2B (non-renewal).

A model package on the supervised spine (:mod:`crmml.supervised`): features
come from :mod:`crmml.features` (``customer_features`` + ``retention_features``),
labels from its churn label builders, training sets are stacked over cutoffs
whose label window is over by ``as_of``, and a
:class:`~crmml.supervised.BinaryOutcomeModel` does the rest. See ``docs/churn.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crmml._artifact import ModelJsonArtifact
from crmml._base import Estimator
from crmml._payload import Payload
from crmml._validation import Interval, Options
from crmml.data import CRMTables, ExclusionReport, as_tables, read_exclusion_counts
from crmml.exceptions import (
    InsufficientDataError,
    ParameterError,
)
from crmml.features import (
    as_of_view,
    churn_population,
    contractual_churn_labels,
    customer_features,
    noncontractual_churn_labels,
    retention_features,
    shared_work,
    to_timestamp,
)
from crmml.supervised import (
    BOOSTER_TXT,
    BinaryOutcomeModel,
    ReasonTemplate,
    TierPolicy,
    build_training_set,
    crm_templates,
    default_cutoffs,
    reason_columns,
)
from crmml.supervised._read import timestamp as read_timestamp
from crmml.supervised._read import timestamps as read_timestamps

__all__ = ["ChurnModel", "churn_templates"]

_TIERS = ("low", "medium", "high")
_REASONS_FOR = {"all": None, "actionable": ("medium", "high")}
_BASELINE = {"noncontractual": ("recency_days", "increasing"), "contractual": ("days_to_term_end", "decreasing")}
_CATEGORY_SCHEMA = "string"
_CONTEXT = ("revenue_365d", "mrr")


def churn_templates() -> Any:
    """:func:`~crmml.supervised.crm_templates` plus the retention columns of :func:`crmml.features.retention_features`."""
    return crm_templates().extended([
        ReasonTemplate("purchase_interval_days", "usually buys every {value:count:day:days}",
                       missing="fewer than two purchases so far"),
        ReasonTemplate("recency_ratio", "{value:.1f}× the usual time between purchases since the last one",
                       missing="no usual purchase rhythm yet"),
        ReasonTemplate(r"engagement_(?P<days>\d+)d", "{value:count:engagement event:engagement events} (e-mail, "
                       "web, logins) in the last {days} days", regex=True),
        ReasonTemplate(r"engagement_trend_(?P<days>\d+)d", "engagement {value:+.0f} in the last {days} days vs the "
                       "{days} before", regex=True),
        ReasonTemplate(r"logins_trend_(?P<days>\d+)d", "logins {value:+.0f} in the last {days} days vs the "
                       "{days} before", regex=True),
        ReasonTemplate(r"service_(?P<days>\d+)d", "{value:count:support ticket or complaint:support tickets and "
                       "complaints} in the last {days} days", regex=True),
        ReasonTemplate(r"contacts_active_(?P<days>\d+)d", "{value:count:contact:contacts} active in the last "
                       "{days} days", regex=True),
        ReasonTemplate("purchases_per_year", "{value:.1f} repeat purchases a year since the first",
                       missing="no purchase yet"),
        ReasonTemplate("engagement_per_year", "{value:.0f} engagement events a year (e-mail, web, logins) on average"),
        ReasonTemplate("engagement_since_purchase_ratio", "engaging at {value:.0%} of the usual rate since the last "
                       "purchase", missing="no engagement to compare with"),
        ReasonTemplate("engagement_since_purchase_vs_usual", "{value:+.1f} engagement events since the last purchase "
                       "vs the usual rate", missing="no usual engagement rate yet"),
        ReasonTemplate("service_since_purchase", "{value:count:support ticket or complaint:support tickets and "
                       "complaints} since the last purchase", missing="no purchase yet"),
        ReasonTemplate(r"service_before_purchase_(?P<days>\d+)d", "{value:count:support ticket or complaint:support "
                       "tickets and complaints} in the {days} days before the last purchase", regex=True,
                       missing="no purchase yet"),
        ReasonTemplate(r"complaints_before_purchase_(?P<days>\d+)d", "{value:count:complaint:complaints} in the "
                       "{days} days before the last purchase", regex=True, missing="no purchase yet"),
    ])


class _Share:
    """Constraint: a float strictly between 0 and 1 (a probability threshold or a share)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1

    def __str__(self) -> str:
        return "a float in (0, 1)"


class _Action:
    """Constraint: an action name (1-64 characters of letters, digits, '_' or '-')."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 64 and all(c.isalnum() or c in "_-" for c in value)

    def __str__(self) -> str:
        return "an action name (letters, digits, '_' or '-')"


class ChurnModel(ModelJsonArtifact, Estimator):
    """Churn risk per customer: calibrated probability, tier, action, reasons and revenue at risk.

    Parameters
    ----------
    business : {"noncontractual", "contractual"}, default="noncontractual"
        ``"noncontractual"`` (B2C shop): population = customers with at least
        one purchase before ``as_of``; churned = no purchase in
        ``[as_of, as_of + horizon)``. ``"contractual"`` (B2B): population =
        accounts with a running subscription at ``as_of``; churned = every
        subscription ends within the horizon and no new one starts.
    horizon_days : float, default=90
    active_within_days : float or None, default=None
        B2C only: score (and train on) customers whose latest purchase lies in
        the last ``active_within_days`` before ``as_of``; the others have
        lapsed already (win-back, not retention) and are reported as
        exclusions. ``None``: everyone with a purchase.
    n_cutoffs : int, default=4
        Training cutoffs (:func:`~crmml.supervised.default_cutoffs`): the latest
        is ``as_of - horizon`` (held out: early stopping, calibration, tiers,
        evaluation), the others ``cutoff_spacing_days`` apart.
    cutoff_spacing_days : float or None, default=None
        Days between cutoffs (``None``: one horizon, so label windows do not overlap).
    tier_mode : {"probability", "capacity"}, default="probability"
        ``"probability"``: ``p >= high_tier`` → high, ``p >= medium_tier`` →
        medium. ``"capacity"``: the top ``high_tier`` share → high, the next
        ``medium_tier`` share → medium (frozen on the held-out cutoff).
    high_tier, medium_tier : float
        Thresholds (or shares) of the tiers.
    low_action, medium_action, high_action : str
        Action per tier (``none`` / ``retention_offer`` / ``alert_account_manager``).
    reasons_for : {"all", "actionable"}, default="all"
        Reasons for every row, or only for the medium and high tiers (faster:
        contributions are the expensive part of scoring).
    learning_rate, num_leaves, max_depth : LightGBM parameters (see docs/supervised.md)
    tree_tolerance : float, default=0.002
        Keep the fewest trees whose held-out log loss is within this relative
        tolerance of the best (see :class:`~crmml.supervised.BinaryOutcomeModel`):
        scoring and reasons cost time in proportion to the trees.
    num_threads : int, default=0
        LightGBM threads (0 = all cores).
    seed : int, default=0

    Attributes
    ----------
    model_ : BinaryOutcomeModel
    as_of_ : pandas.Timestamp
    cutoffs_ : list of pandas.Timestamp
    exclusions_ : list of dict
        Entity counts left out while building the training set (all cutoffs).

    Examples
    --------
    >>> from crmml.churn import ChurnModel
    >>> model = ChurnModel(horizon_days=90).fit(tables, as_of="2025-07-01")   # doctest: +SKIP
    >>> model.score(tables, "2025-07-01").risk_tier.value_counts()              # doctest: +SKIP
    """

    kind: ClassVar[str] = "churn"
    entity: ClassVar[str] = "customer_id"
    display_name: ClassVar[str] = "churn"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "business": [Options(("noncontractual", "contractual"))],
        "horizon_days": [Interval(1, 3650, closed="both")],
        "active_within_days": [Interval(1, 36500, closed="both"), None],
        "n_cutoffs": [Interval(2, 52, integer=True)],
        "cutoff_spacing_days": [Interval(1, 3650, closed="both"), None],
        "tier_mode": [Options(("probability", "capacity"))],
        "high_tier": [_Share()],
        "medium_tier": [_Share()],
        "low_action": [_Action()],
        "medium_action": [_Action()],
        "high_action": [_Action()],
        "reasons_for": [Options(tuple(_REASONS_FOR))],
        "learning_rate": [Interval(0, 1, closed="right")],
        "num_leaves": [Interval(2, 4096, integer=True)],
        "max_depth": [Interval(1, 64, integer=True)],
        "tree_tolerance": [Interval(0, 0.5, closed="both")],
        "num_threads": [Interval(0, 1024, integer=True)],
        "seed": [Interval(0, 2**31 - 1, integer=True)],
    }

    def __init__(
        self,
        *,
        business: str = "noncontractual",
        horizon_days: float = 90,
        active_within_days: float | None = None,
        n_cutoffs: int = 4,
        cutoff_spacing_days: float | None = None,
        tier_mode: str = "probability",
        high_tier: float = 0.6,
        medium_tier: float = 0.3,
        low_action: str = "none",
        medium_action: str = "retention_offer",
        high_action: str = "alert_account_manager",
        reasons_for: str = "all",
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        max_depth: int = 4,
        tree_tolerance: float = 0.002,
        num_threads: int = 0,
        seed: int = 0,
    ) -> None:
        self.business = business
        self.horizon_days = horizon_days
        self.active_within_days = active_within_days
        self.n_cutoffs = n_cutoffs
        self.cutoff_spacing_days = cutoff_spacing_days
        self.tier_mode = tier_mode
        self.high_tier = high_tier
        self.medium_tier = medium_tier
        self.low_action = low_action
        self.medium_action = medium_action
        self.high_action = high_action
        self.reasons_for = reasons_for
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.tree_tolerance = tree_tolerance
        self.num_threads = num_threads
        self.seed = seed

    # ----------------------------------------------------- training hooks
    def as_of_sources(self) -> tuple[str, ...]:
        """Tables whose latest event sets the default ``as_of``."""
        return ("subscriptions",) if self.business == "contractual" else ("transactions",)

    def training_metrics(self) -> dict[str, float]:
        """Held-out-cutoff metrics of the model and of the baseline (for :func:`crmml.training.train`)."""
        self._check_fitted("training_metrics")
        out = {f"holdout_{k}": v for k, v in self.model_.evaluation_.metrics().items() if v is not None}
        bc = self.model_.baseline_comparison_
        if bc is not None:
            out.update({f"baseline_{k}": v for k, v in bc.baseline.metrics().items() if v is not None})
            out["beats_baseline"] = float(bc.beats_baseline)
        return out

    def _check_business_params(self) -> None:
        if self.active_within_days is not None and self.business == "contractual":
            raise ParameterError("The 'active_within_days' parameter of ChurnModel applies to "
                                 "business='noncontractual' only (B2B populations are running contracts). Got "
                                 f"{self.active_within_days!r} with business='contractual'.")

    def _tier_policy(self) -> TierPolicy:
        actions = {"low": self.low_action, "medium": self.medium_action, "high": self.high_action}
        if self.tier_mode == "capacity":
            if self.high_tier + self.medium_tier > 1:
                raise ParameterError("The 'high_tier' and 'medium_tier' shares of ChurnModel (tier_mode='capacity') "
                                     f"must add up to at most 1. Got {self.high_tier} + {self.medium_tier}.")
            return TierPolicy.by_capacity({"high": self.high_tier, "medium": self.medium_tier}, actions=actions)
        if not self.high_tier > self.medium_tier:
            raise ParameterError("The 'high_tier' threshold of ChurnModel must be above 'medium_tier'. Got "
                                 f"{self.high_tier} and {self.medium_tier}.")
        return TierPolicy.by_probability({"high": self.high_tier, "medium": self.medium_tier}, actions=actions)

    def _require_tables(self, t: CRMTables, method: str) -> None:
        what = f"ChurnModel.{method} (business={self.business!r})"
        t.require("customers", model=what)
        t.require("subscriptions" if self.business == "contractual" else "transactions", model=what)

    # --------------------------------------------------------------- features
    def _all_features(self, view: CRMTables, ts: pd.Timestamp) -> pd.DataFrame:
        """``customer_features`` joined with ``retention_features`` for every signed-up customer of a view."""
        window = int(min(max(round(self.horizon_days), 30), 365))
        cf = customer_features(view, ts)
        rf = retention_features(view, ts, window=window)
        return cf.join(rf) if len(rf.columns) else cf

    def _training_features(self, t: CRMTables, ts: pd.Timestamp) -> pd.DataFrame:
        with shared_work():  # entity codes, days and type codes computed once for the builders and the population
            view = as_of_view(t, ts)  # once: the builders and the population find nothing left to mask
            frame = self._all_features(view, ts)
            pop = churn_population(view, ts, self.business, active_within_days=self.active_within_days)
        return frame.loc[frame.index.intersection(pop, sort=True)]

    def _labels(self, t: CRMTables, ts: pd.Timestamp, h: float) -> pd.DataFrame:
        if self.business == "contractual":
            return contractual_churn_labels(t, ts, h)
        return noncontractual_churn_labels(t, ts, h, active_within_days=self.active_within_days)

    def _population_frame(self, t: CRMTables, ts: pd.Timestamp, report: ExclusionReport) -> pd.DataFrame:
        """Features of the population at ``ts`` (index ``customer_id``); everyone else reported."""
        self._require_tables(t, "score")
        with shared_work():
            view = as_of_view(t, ts)
            frame = self._all_features(view, ts)
            pop = churn_population(view, ts, self.business, active_within_days=self.active_within_days,
                                   report=report)
        no_row = pop.difference(frame.index)
        report.add_entities("customers", "in the churn population but not in the customers table before as_of "
                            "(signup_at missing or later; not scored)", no_row)
        return frame.loc[frame.index.intersection(pop, sort=True)]

    def _schema_columns(self) -> list[str]:
        names = list(self.model_.spec_.names)
        return names + [c for c in _CONTEXT if c not in names and c in self.context_]

    def build_features(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any,
                       *, report: ExclusionReport | None = None) -> pd.DataFrame:
        """The population's feature frame as of ``as_of``, ``customer_id`` as the first column.

        Fitted: exactly the columns of :meth:`feature_schema` (the model's
        features plus the context ``revenue_at_risk`` needs); unfitted: every
        candidate feature. ``report`` receives the customers of the contract
        tables outside the population, with the reason.
        """
        report = report if report is not None else ExclusionReport()
        frame = self._population_frame(as_tables(tables), to_timestamp(as_of), report)
        if self._learned():
            frame = frame[[c for c in self._schema_columns()]]
        return frame.rename_axis("customer_id").reset_index()

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores of a :meth:`build_features` frame (see :meth:`score`)."""
        self._check_fitted("predict_features")
        frame = features.set_index("customer_id") if "customer_id" in features.columns else features
        return self._predict(frame.set_axis(frame.index.astype(str).rename("customer_id"), axis=0))

    def _predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        m = self.model_
        out = m.score_frame(frame, reasons_for=_REASONS_FOR[self.reasons_for])
        out = out.rename(columns={"probability": "churn_probability", "tier": "risk_tier"})
        p = out["churn_probability"].to_numpy(dtype=np.float64)
        out.insert(3, "revenue_at_risk", self._annual_revenue(frame) * p)
        return out

    def _annual_revenue(self, frame: pd.DataFrame) -> np.ndarray:
        """Trailing-12-month revenue (B2C) or 12 × MRR (B2B); 0 where unknown."""
        col = "mrr" if self.business == "contractual" else "revenue_365d"
        if col not in frame.columns:
            return np.zeros(len(frame))
        v = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
        v = 12.0 * v if self.business == "contractual" else v
        return np.nan_to_num(np.maximum(v, 0.0), nan=0.0)

    def score(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any, *,
              report: ExclusionReport | None = None) -> pd.DataFrame:
        """Score the population as of ``as_of``: one row per customer, indexed by ``customer_id``.

        Columns: ``churn_probability`` (calibrated), ``risk_tier``
        (low/medium/high, ordered categorical), ``action``,
        ``revenue_at_risk``, then the reason columns of the spine
        (``reason_1..3`` with ``_feature`` and ``_contribution``, and
        ``reason_neg_1..3``). ``report`` receives every customer of the
        contract tables who is not scored, with the reason.
        """
        self._check_fitted("score")
        report = report if report is not None else ExclusionReport()
        frame = self._population_frame(as_tables(tables), to_timestamp(as_of), report)
        frame = frame[self._schema_columns()]
        frame.index = frame.index.astype(str).rename("customer_id")
        return self._predict(frame)

    def score_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One customer's outputs from a feature mapping (no pandas; one thread) — the in-process fast path."""
        self._check_fitted("score_row")
        out = self.model_.score_row(row, reasons_for=_REASONS_FOR[self.reasons_for])
        p = out.pop("probability")
        res: dict[str, Any] = {"churn_probability": p, "risk_tier": out.pop("tier"), "action": out.pop("action")}
        col = "mrr" if self.business == "contractual" else "revenue_365d"
        v = row.get(col)
        v = 0.0 if v is None or not math.isfinite(float(v)) else max(float(v), 0.0)
        res["revenue_at_risk"] = (12.0 * v if self.business == "contractual" else v) * p
        res.update(out)
        return res

    # ------------------------------------------------------------------ fit
    def fit(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any) -> ChurnModel:
        """Stack features and labels over the cutoffs, fit the spine, evaluate against the baseline.

        Raises
        ------
        InsufficientDataError
            Below the spine's floor (positives/negatives per part; fewer than
            two usable cutoffs); the message gives the counts and what to change.
        """
        self._validate_params()
        self._check_business_params()
        self._unfit()
        policy = self._tier_policy()
        t = as_tables(tables)
        ts = to_timestamp(as_of)
        self._require_tables(t, "fit")
        h = float(self.horizon_days)
        cutoffs = default_cutoffs(ts, h, n=int(self.n_cutoffs), spacing_days=self.cutoff_spacing_days)
        tset = build_training_set(self._training_features, self._labels, t, cutoffs, h, ts)
        baseline, direction = _BASELINE[self.business]
        present = set(tset.feature_columns)
        model = BinaryOutcomeModel(
            learning_rate=self.learning_rate, num_leaves=self.num_leaves, max_depth=self.max_depth,
            tree_tolerance=float(self.tree_tolerance), tiers=policy, templates=churn_templates(),
            baseline=baseline if baseline in present else None, baseline_direction=direction,
            num_threads=int(self.num_threads), seed=int(self.seed),
            allow_missing=(), exclude=(),
        )
        try:
            model.fit(tset)
        except InsufficientDataError as exc:
            raise InsufficientDataError(
                f"ChurnModel(business={self.business!r}, horizon_days={self.horizon_days:g}, "
                f"n_cutoffs={self.n_cutoffs}) as of {ts.date()}: "
                + str(exc).replace("default_cutoffs(as_of, horizon_days, n=...)", "ChurnModel(n_cutoffs=...)")
                + " The floor is documented in docs/churn.md (Minimum data).") from None
        self.model_ = model
        self.as_of_ = ts
        self.cutoffs_ = [pd.Timestamp(c) for c in tset.cutoffs]
        self.context_ = [c for c in _CONTEXT if c in present]
        self.exclusions_ = [{"table": e["table"], "rule": e["rule"], "n_rows": int(e["n_rows"]),
                             "unit": e.get("unit", "rows")} for e in _flat_exclusions(tset.exclusions_dict())]
        self.reason_frequencies_ = _reason_frequencies(model, tset, int(self.seed))
        return self

    # ------------------------------------------------------------ describing
    def feature_schema(self) -> dict[str, str]:
        """``customer_id`` and every feature column with its MLflow type (fitted models only)."""
        self._check_fitted("feature_schema")
        kinds = {c.name: c.kind for c in self.model_.spec_.columns}
        out = {"customer_id": "string"}
        for c in self._schema_columns():
            out[c] = _CATEGORY_SCHEMA if kinds.get(c) == "categorical" else \
                "boolean" if kinds.get(c) == "bool" else "double"
        return out

    def output_schema(self) -> dict[str, str]:
        cols = {"customer_id": "string", "churn_probability": "double", "risk_tier": "string", "action": "string",
                "revenue_at_risk": "double"}
        for c in reason_columns(3, 3):
            cols[c] = "double" if c.endswith("_contribution") else "string"
        return cols

    def input_example(self) -> pd.DataFrame:
        """A made-up one-row feature frame (no real customer) for MLflow's model signature."""
        row: dict[str, Any] = {}
        for c, kind in self.feature_schema().items():
            if c == "customer_id":
                row[c] = "example"
            elif kind == "string":
                col = next(x for x in self.model_.spec_.columns if x.name == c)
                row[c] = col.levels[0] if col.levels else "example"
            elif kind == "boolean":
                row[c] = False
            else:
                row[c] = 30.0
        return pd.DataFrame([row])

    def model_card(self) -> dict[str, Any]:
        self._check_fitted("model_card")
        m = self.model_
        s = m.summary()
        ev = m.evaluation_
        bc = m.baseline_comparison_
        contractual = self.business == "contractual"
        definition = ("Contractual (B2B): population = accounts with a running subscription at as_of; churned = "
                      f"every subscription ends within {self.horizon_days:g} days and no new one starts."
                      if contractual else
                      "Non-contractual (B2C): population = customers with at least one purchase before as_of"
                      + ("" if self.active_within_days is None else
                         f" and one in the {self.active_within_days:g} days before it")
                      + f"; churned = no purchase in [as_of, as_of + {self.horizon_days:g} days).")
        params = {"horizon_days": float(self.horizon_days), "n_cutoffs": float(len(self.cutoffs_)),
                  "num_trees": float(m.tree_.num_trees)}
        for k in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift"):
            v = getattr(ev, k)
            if v is not None:
                params[f"holdout_{k}"] = float(v)
        if bc is not None and bc.baseline.roc_auc is not None:
            params["baseline_roc_auc"] = float(bc.baseline.roc_auc)
        return {
            "title": f"crmml churn ({self.business})",
            "summary": definition + " LightGBM on point-in-time features stacked over "
                       f"{len(self.cutoffs_)} cutoffs; the latest is held out for early stopping, "
                       f"{m.calibrator_.method} calibration and evaluation.",
            "intended_use": ("Flag customers at risk weeks before they leave: medium risk → automated retention "
                             "offer, high risk → alert the account manager. Not for credit, pricing or "
                             "eligibility decisions about individuals."),
            "parameters": params,
            "model_vs_baseline": None if bc is None else bc.to_dict(),
            "supervised": s,
            "outputs": {
                "churn_probability": "calibrated P(churn within the horizon)",
                "risk_tier": f"low / medium / high ({self.tier_mode} thresholds {self.high_tier:g} / "
                             f"{self.medium_tier:g})",
                "action": f"{self.low_action} / {self.medium_action} / {self.high_action}",
                "revenue_at_risk": "12 × MRR × probability" if contractual
                else "trailing-12-month revenue × probability",
                "reason_1..3": "top factors raising the risk, in words, with their log-odds contributions",
                "reason_neg_1..3": "top factors lowering it",
            },
            "limits": [
                ("Trained on the cutoffs before as_of: a change of behaviour since the latest held-out cutoff is "
                 "not reflected until re-training."),
                "Reasons are associations (TreeSHAP contributions), not causes.",
                ("Customers without a purchase (B2C) or a running subscription (B2B) at as_of are not scored "
                 "(reported as exclusions)."),
            ],
        }

    # ------------------------------------------------------------ persistence
    _state_keys: ClassVar[tuple[str, ...]] = ("as_of", "cutoffs", "context", "exclusions", "reason_frequencies",
                                              "supervised", "booster")

    def _state_to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of_.isoformat(),
            "cutoffs": [c.isoformat() for c in self.cutoffs_],
            "context": list(self.context_),
            "exclusions": [dict(e) for e in self.exclusions_],
            "reason_frequencies": dict(self.reason_frequencies_),
            "supervised": self.model_.to_dict(),
            "booster": {"file": BOOSTER_TXT, "text": self.model_.tree_.to_text()},
        }

    def _state_from_payload(self, p: Payload, version: int) -> None:
        self.as_of_ = read_timestamp(p, "as_of")
        cut = read_timestamps(p, "cutoffs")
        if not 2 <= len(cut) <= 52:
            raise p.error("cutoffs", "an array of 2 to 52 ISO timestamps", [str(c) for c in cut])
        self.cutoffs_ = cut
        ctx = p.array("context")
        if not all(c in _CONTEXT for c in ctx):
            raise p.error("context", f"an array of names among {list(_CONTEXT)}", ctx)
        self.context_ = list(ctx)
        self.exclusions_ = read_exclusion_counts(p)
        rf = p.mapping("reason_frequencies")
        assert rf is not None
        b = p.mapping("booster")
        assert b is not None
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

    def _artifact_metadata(self) -> dict[str, str]:
        return {"business": self.business, "as_of": self.as_of_.isoformat()}


def _flat_exclusions(per_cutoff: Any) -> list[dict[str, Any]]:
    """The training set's exclusions as one list (the cutoff is prefixed to the rule)."""
    out: list[dict[str, Any]] = []
    for e in per_cutoff:
        day = str(e.get("cutoff", ""))[:10]
        rule = str(e["rule"])
        out.append({"table": e["table"], "rule": rule if not day or day in rule else f"cutoff {day}: {rule}",
                    "n_rows": e["n_rows"], "unit": e.get("unit", "rows")})
    return out


REASON_SAMPLE = 5000
"""Held-out rows (at most) whose reasons are counted at fit for the reason-frequency chart."""


def _reason_frequencies(model: BinaryOutcomeModel, tset: Any, seed: int) -> dict[str, float]:
    """Share of held-out rows (a seeded sample) with each feature among their top-3 increasing reasons."""
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
