"""ChurnModel: calibrated, tiered and explained churn risk for B2C (silence) and B2B (non-renewal).

A model package on the supervised spine (:mod:`crmml.supervised`): features
come from :mod:`crmml.features` (``customer_features`` + ``retention_features``),
labels from its churn label builders, training sets are stacked over cutoffs
whose label window is over by ``as_of``, and a
:class:`~crmml.supervised.BinaryOutcomeModel` does the rest. See ``docs/churn.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crmml._validation import Interval, Options
from crmml.data import CRMTables, ExclusionReport
from crmml.exceptions import ParameterError
from crmml.features import (
    as_of_view,
    churn_population,
    contractual_churn_labels,
    customer_features,
    noncontractual_churn_labels,
    retention_features,
    shared_work,
)
from crmml.supervised import (
    ReasonTemplate,
    ReasonTemplates,
    SupervisedScorer,
    TierPolicy,
    crm_templates,
)
from crmml.supervised._scorer import TREE_PARAMETERS, finite_or_zero, nonnegative

__all__ = ["ChurnModel", "churn_templates"]

_TIERS = ("low", "medium", "high")
_REASONS_FOR = {"all": None, "actionable": ("medium", "high")}
_BASELINE = {"noncontractual": ("recency_days", "increasing"), "contractual": ("days_to_term_end", "decreasing")}


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


class ChurnModel(SupervisedScorer):
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
    output_names: ClassVar[dict[str, str | None]] = {"probability": "churn_probability", "tier": "risk_tier",
                                              "action": "action"}
    context_columns: ClassVar[tuple[str, ...]] = ("revenue_365d", "mrr")

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
        **TREE_PARAMETERS,
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

    def _check_params(self) -> None:
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

    def _reason_templates(self) -> ReasonTemplates:
        return churn_templates()

    def _baseline(self) -> tuple[str, str]:
        return _BASELINE[self.business]

    def _reasons_for(self) -> tuple[str, ...] | None:
        return _REASONS_FOR[self.reasons_for]

    def _fit_description(self, ts: pd.Timestamp) -> str:
        return (f"ChurnModel(business={self.business!r}, horizon_days={self.horizon_days:g}, "
                f"n_cutoffs={self.n_cutoffs}) as of {ts.date()}")

    # ------------------------------------------------------------ outputs
    def _add_outputs(self, out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        p = out["churn_probability"].to_numpy(dtype=np.float64)
        out.insert(3, "revenue_at_risk", self._annual_revenue(frame) * p)
        return out

    def _annual_revenue(self, frame: pd.DataFrame) -> np.ndarray:
        """Trailing-12-month revenue (B2C) or 12 × MRR (B2B); 0 where unknown."""
        col = "mrr" if self.business == "contractual" else "revenue_365d"
        if col not in frame.columns:
            return np.zeros(len(frame))
        v = nonnegative(frame[col])
        return 12.0 * v if self.business == "contractual" else v

    def _add_outputs_row(self, res: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
        col = "mrr" if self.business == "contractual" else "revenue_365d"
        v = max(finite_or_zero(row.get(col)), 0.0)
        head = {k: res.pop(k) for k in ("churn_probability", "risk_tier", "action")}
        head["revenue_at_risk"] = (12.0 * v if self.business == "contractual" else v) * head["churn_probability"]
        return {**head, **res}

    def _extra_outputs_schema(self) -> dict[str, str]:
        return {"revenue_at_risk": "double"}

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
        return super().score(tables, as_of, report=report)

    def fit(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any) -> ChurnModel:
        """Stack features and labels over the cutoffs, fit the spine, evaluate against the baseline.

        Raises
        ------
        InsufficientDataError
            Below the spine's floor (positives/negatives per part; fewer than
            two usable cutoffs); the message gives the counts and what to change.
        """
        super().fit(tables, as_of)
        return self

    def model_card(self) -> dict[str, Any]:
        self._check_fitted("model_card")
        m = self.model_
        s = m.summary()
        bc = m.baseline_comparison_
        contractual = self.business == "contractual"
        definition = ("Contractual (B2B): population = accounts with a running subscription at as_of; churned = "
                      f"every subscription ends within {self.horizon_days:g} days and no new one starts."
                      if contractual else
                      "Non-contractual (B2C): population = customers with at least one purchase before as_of"
                      + ("" if self.active_within_days is None else
                         f" and one in the {self.active_within_days:g} days before it")
                      + f"; churned = no purchase in [as_of, as_of + {self.horizon_days:g} days).")
        params = self._card_parameters()
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

    def _artifact_metadata(self) -> dict[str, str]:
        return {"business": self.business, "as_of": self.as_of_.isoformat()}
