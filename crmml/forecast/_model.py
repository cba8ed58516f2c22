"""PipelineForecastModel: per-deal win and timing probabilities on the supervised spine.

One spine model gives the time-to-win distribution of every open deal:
``F(d | x)`` = P(won within ``d`` days after as_of), trained on each
(deal, cutoff) row repeated over a grid of look-ahead days
(:func:`crmml.supervised.expand_over_horizons`), LightGBM monotone in the
look-ahead and a monotone calibrator — so P(won by t) never decreases in t
and reaches ``win_probability = F(horizon)``. A second spine model of the
same form gives P(closed — won or lost — within ``d`` days), for the chance
that a deal slips past the close date in the CRM. Features come from
:func:`crmml.features.opportunity_features` (stage, time in stage, age,
amount and its changes, regressions, close-date slips, the account's
activity and buying center, the owner's record as of the cutoff) plus the
extra ``opportunities`` columns the user declares static (screened for
leakage first). See ``docs/forecast.md``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml._validation import Interval, Options
from crmml.data import DEFAULT_OPEN_STAGES, CRMTables, ExclusionReport
from crmml.exceptions import InsufficientDataError, ParameterError
from crmml.features import as_of_view, opportunity_features, opportunity_outcome_labels
from crmml.forecast._backtest import conformal_quantiles
from crmml.forecast._bookings import QUANTILES, new_business_history, simulate_open, stage_win_rates
from crmml.forecast._periods import PERIODS, period_bounds
from crmml.supervised import (
    DAYS_AHEAD,
    BinaryOutcomeModel,
    Evaluation,
    LeakageReport,
    ReasonTemplate,
    ReasonTemplates,
    SupervisedScorer,
    TierPolicy,
    TrainingSet,
    crm_templates,
    evaluate,
    expand_over_horizons,
    horizon_curve,
    horizon_curve_row,
    screen_columns,
)
from crmml.supervised._model import BOOSTER_TXT
from crmml.supervised._scorer import TREE_PARAMETERS
from crmml.supervised._static import ColumnNames, add_static_columns, check_static_names, require_static_columns

__all__ = ["PipelineForecastModel", "WIN_GRID", "forecast_templates"]

logger = logging.getLogger("crmml.forecast")

WIN_GRID = (7, 14, 21, 30, 45, 60, 75, 90, 120, 150)
"""Look-ahead days of the training rows (the horizon is always added)."""
CURVE_STEP_DAYS = 7
"""Spacing of the grid on which the median close date is interpolated."""
_CONTRACT = ("opportunity_id", "customer_id", "created_at", "amount", "stage", "expected_close_at", "closed_at",
             "won", "owner")
DAY_NS = 86_400e9


def forecast_templates() -> ReasonTemplates:
    """:func:`~crmml.supervised.crm_templates` plus the wording of the opportunity columns."""
    return crm_templates().extended([
        ReasonTemplate("stage", "stage '{value}'", missing="stage unknown"),
        ReasonTemplate("stage_index", "at step {value:.0f} of the pipeline"),
        ReasonTemplate("age_days", "open for {value:count:day:days}"),
        ReasonTemplate("amount", "amount {value:,.0f}"),
        ReasonTemplate("n_stage_regressions", "moved back a stage {value:count:time:times}"),
        ReasonTemplate("n_stage_changes", "{value:count:stage change:stage changes}"),
        ReasonTemplate("days_since_update", "no update for {value:count:day:days}"),
        ReasonTemplate("close_slip_days", "close date pushed back {value:,.0f} days in total"),
        ReasonTemplate("amount_change_ratio", "amount changed {value:+.0%} since creation"),
        ReasonTemplate("owner_closed_count", "owner closed {value:count:deal:deals} before"),
        ReasonTemplate("account_won_opportunities", "account won {value:count:deal:deals} before"),
        ReasonTemplate("account_lost_opportunities", "account lost {value:count:deal:deals} before"),
        ReasonTemplate("account_contacts", "{value:count:contact:contacts} at the account"),
        ReasonTemplate("account_contact_roles", "{value:count:role:roles} in the buying center"),
        ReasonTemplate("account_mrr", "account pays {value:,.0f} a month"),
        ReasonTemplate("account_subscriptions_active", "{value:count:running subscription:running subscriptions}"),
        ReasonTemplate("account_days_to_term_end", "the account's contract ends in {value:count:day:days}",
                       missing="no running contract"),
        ReasonTemplate("account_months_under_contract", "customer for {value:.0f} months"),
        ReasonTemplate("account_invoices_unpaid_overdue", "{value:count:invoice:invoices} overdue"),
        ReasonTemplate("account_invoice_days_late_mean", "the account pays {value:.0f} days late on average",
                       missing="no paid invoice yet"),
        ReasonTemplate("account_invoice_share_paid_late", "{value:.0%} of the account's invoices paid late",
                       missing="no paid invoice yet"),
    ])


class PipelineForecastModel(SupervisedScorer):
    """Win probability, timing, slip risk, expected bookings and reasons per open opportunity.

    Parameters
    ----------
    period : {"quarter", "month"}, default="quarter"
        The bookings period: ``close_in_period_probability`` and
        ``expected_bookings`` refer to the calendar period holding ``as_of``.
    horizon_days : float, default=184
        How far the model looks: ``win_probability`` = P(won within
        ``horizon_days`` after as_of) — "eventually" for all but the longest
        cycles; 184 days cover this and the next quarter. Period forecasts
        may reach at most this far.
    n_cutoffs : int, default=24
        Training cutoffs (the latest, ``as_of - horizon``, is held out);
        those before the first opportunity are skipped.
    cutoff_spacing_days : float or None, default=30
    static_columns : tuple of str, default=()
        Extra columns of the ``opportunities`` table to use as features. An
        opportunities export holds *today's* values, so each is screened for
        leakage and refused when it alone (or its missingness) nearly
        predicts the label.
    allow_columns : tuple of str, default=()
        Static columns to use even though the screen flags them.
    n_simulations : int, default=2000
        Monte Carlo draws of the period forecast.
    interval_origins : int, default=12
        Origins of the backtest run at fit to correct the simulated
        intervals (every ``interval_spacing_days`` back from the latest
        origin whose current and next periods have ended by ``as_of``); each
        refits the model on what was known then. 0: no backtest, the intervals are the
        simulation's (``forecast`` says so in its ``interval`` column).
    interval_spacing_days : int, default=14
    interval_decay_days : float or None, default=730
        A backtest residual weighs ``exp(-age / interval_decay_days)`` in the
        correction (age: days from the end of its period to the forecast's
        ``as_of``; weighted conformal prediction, robust to drift); None:
        every residual weighs the same.
    learning_rate, num_leaves, max_depth, tree_tolerance, num_threads, seed
        LightGBM settings.

    Attributes
    ----------
    model_ : BinaryOutcomeModel
        P(won within ``days_ahead``), monotone in ``days_ahead``.
    closing_ : BinaryOutcomeModel
        P(closed, won or lost, within ``days_ahead``).
    period_check_ : Evaluation
        P(won before the end of the period) on the held-out cutoff's open
        deals against what happened (ROC AUC, ECE, calibration curve).
    intervals_ : dict
        The backtest run at fit: its origins, the normalised residuals that
        correct the intervals (by period index) and its cells.
    leakage_ : LeakageReport or None
    as_of_, cutoffs_, exclusions_, reason_frequencies_
        As for every supervised crmml model.
    """

    kind: ClassVar[str] = "forecast"
    entity: ClassVar[str] = "opportunity_id"
    display_name: ClassVar[str] = "pipeline forecast"
    output_names: ClassVar[dict[str, str | None]] = {"probability": "win_probability", "tier": None,
                                                     "action": None}
    context_columns: ClassVar[tuple[str, ...]] = ("customer_id", "expected_close_days", "scored_at")
    n_increasing: ClassVar[int] = 3
    n_decreasing: ClassVar[int] = 2
    _extra_state_keys: ClassVar[tuple[str, ...]] = ("leakage", "closing", "intervals", "period_check")
    first_record: ClassVar[tuple[str, str] | None] = ("opportunities", "created_at")

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "period": [Options(tuple(PERIODS))],
        "horizon_days": [Interval(28, 730, closed="both")],
        "n_cutoffs": [Interval(2, 52, integer=True)],
        "cutoff_spacing_days": [Interval(1, 3650, closed="both"), None],
        "static_columns": [ColumnNames()],
        "allow_columns": [ColumnNames()],
        "n_simulations": [Interval(100, 100_000, integer=True)],
        "interval_origins": [Interval(0, 104, integer=True)],
        "interval_spacing_days": [Interval(1, 365, integer=True)],
        "interval_decay_days": [Interval(30, 36500, closed="both"), None],
        **TREE_PARAMETERS,
    }

    def __init__(
        self,
        *,
        period: str = "quarter",
        horizon_days: float = 184,
        n_cutoffs: int = 24,
        cutoff_spacing_days: float | None = 30,
        static_columns: tuple[str, ...] = (),
        allow_columns: tuple[str, ...] = (),
        n_simulations: int = 2000,
        interval_origins: int = 12,
        interval_spacing_days: int = 14,
        interval_decay_days: float | None = 730,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        max_depth: int = 4,
        tree_tolerance: float = 0.002,
        num_threads: int = 0,
        seed: int = 0,
    ) -> None:
        self.period = period
        self.horizon_days = horizon_days
        self.n_cutoffs = n_cutoffs
        self.cutoff_spacing_days = cutoff_spacing_days
        self.static_columns = static_columns
        self.allow_columns = allow_columns
        self.n_simulations = n_simulations
        self.interval_origins = interval_origins
        self.interval_spacing_days = interval_spacing_days
        self.interval_decay_days = interval_decay_days
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.tree_tolerance = tree_tolerance
        self.num_threads = num_threads
        self.seed = seed

    # ----------------------------------------------------- training hooks
    def as_of_sources(self) -> tuple[str, ...]:
        """Tables whose latest event sets the default ``as_of``."""
        return ("opportunities", "opportunity_history")

    def _check_params(self) -> None:
        check_static_names("PipelineForecastModel", "opportunities", _CONTRACT, self.static_columns,
                           self.allow_columns, "are replayed from opportunity_history or are the outcome")

    def _require_tables(self, t: CRMTables, method: str) -> None:
        t.require("opportunities", model=f"PipelineForecastModel.{method}")
        require_static_columns("PipelineForecastModel", "opportunities", t.opportunities, self.static_columns,
                               _CONTRACT)

    def _features(self, view: CRMTables, ts: pd.Timestamp, owner_history: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
        frame = opportunity_features(view, ts, owner_history=owner_history)
        opp = view.opportunities.set_index("opportunity_id").reindex(frame.index)
        frame["customer_id"] = opp["customer_id"].astype(str).to_numpy()
        frame["expected_close_days"] = frame["days_to_expected_close"].to_numpy(dtype=np.float64)
        frame["scored_at"] = ts  # the as_of the timing outputs refer to (the current period, the close date)
        return add_static_columns(frame, view.opportunities, "opportunity_id", self.static_columns, ts)

    def _training_features(self, t: CRMTables, ts: pd.Timestamp) -> pd.DataFrame:
        return self._features(as_of_view(t, ts), ts)

    def _labels(self, t: CRMTables, ts: pd.Timestamp, h: float) -> pd.DataFrame:
        return opportunity_outcome_labels(t, ts, h)[["won"]]

    def _model_options(self) -> dict[str, Any]:
        return {**self._tree_options(), "monotone": {DAYS_AHEAD: 1},
                "exclude": ("customer_id", "expected_close_days", "scored_at")}

    def _tier_policy(self) -> TierPolicy:
        return TierPolicy.by_probability({"high": 0.6, "medium": 0.3})  # unused: no tier column

    def _reason_templates(self) -> ReasonTemplates:
        return forecast_templates()

    def _fit_description(self, ts: pd.Timestamp) -> str:
        return (f"PipelineForecastModel(horizon_days={self.horizon_days:g}, n_cutoffs={self.n_cutoffs}) "
                f"as of {ts.date()}")

    def _prepare_training_set(self, tset: TrainingSet) -> TrainingSet:
        """Screen the static columns, then repeat each (deal, cutoff) row over the look-ahead grid."""
        self.leakage_ = None if not self.static_columns else screen_columns(
            tset.frame, tset.y, self.static_columns, table="opportunities", allow=self.allow_columns,
            seed=int(self.seed), hint="allow_columns=[{name!r}] (CLI: --allow-column {shell})")
        closed_days = self._closed_after_cutoff(tset)
        won = np.asarray(tset.y) == 1
        self._closing_days = closed_days  # the closing model's event times, row-aligned with ``tset``
        self._base_set = tset
        return expand_over_horizons(tset, np.where(won, closed_days, np.nan), self._grid())

    def _closed_after_cutoff(self, tset: TrainingSet) -> np.ndarray:
        """Days from each row's cutoff to the deal's close (NaN: not closed within the horizon)."""
        o = self._fit_opps
        closed = o["closed_at"].reindex(tset.frame[tset.entity].to_numpy())
        d = (closed.to_numpy(dtype="datetime64[ns]") - tset.frame["cutoff"].to_numpy(dtype="datetime64[ns]"))
        days = d.astype("timedelta64[ns]").astype(np.float64) / DAY_NS
        days[np.isnat(d)] = np.nan
        days[(days < 0) | (days >= float(tset.horizon_days))] = np.nan
        return days

    def _grid(self) -> list[float]:
        h = float(self.horizon_days)
        return sorted({float(g) for g in WIN_GRID if g < h} | {h})

    def fit(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str],
            as_of: Any) -> PipelineForecastModel:
        """Stack opportunity features over the cutoffs, fit the time-to-win and time-to-close models.

        Raises
        ------
        InsufficientDataError
            Below the spine's floor; the message gives the counts and what to change.
        LeakageError
            A declared static column nearly predicts the outcome on its own.
        """
        from crmml.data import as_tables
        from crmml.features import to_timestamp

        t = as_tables(tables)
        ts = to_timestamp(as_of)
        self._require_tables(t, "fit")
        self._fit_opps = as_of_view(t, ts).opportunities.set_index("opportunity_id")
        try:
            super().fit(t, ts)
        finally:
            for name in ("_fit_opps", "_closing_days", "_base_set"):
                self.__dict__.pop(name, None)
        self.intervals_ = self._interval_backtest(t, ts)
        return self

    def _interval_backtest(self, t: CRMTables, ts: pd.Timestamp) -> dict[str, Any]:
        """Normalised residuals of a backtest over past origins (each model refitted then), by period index."""
        from crmml.forecast._backtest import backtest

        n = int(self.interval_origins)
        empty: dict[str, Any] = {"origins": [], "residuals": {}, "cells": []}
        if n == 0:
            return empty
        # the latest origin whose two forecast periods (its own and the next) have ended by as_of
        latest = (pd.Period(ts, freq=PERIODS[self.period]) - 1).start_time.normalize() - pd.Timedelta(days=1)
        step = pd.Timedelta(days=int(self.interval_spacing_days))
        origins = [latest - step * i for i in range(n)]
        params = {k: v for k, v in self.get_params().items() if k not in ("period", "interval_origins")}
        try:
            result = backtest(t, origins, period=self.period, periods=2, data_end=ts, interval_origins=0, **params)
        except (InsufficientDataError, ParameterError) as exc:
            logger.warning("forecast intervals: the backtest at fit could not run (%s); the intervals are the "
                           "simulation's, uncorrected", str(exc).split(". ")[0])
            return empty
        return _intervals_state(result.frame)

    def calibrate_intervals(self, result: Any) -> PipelineForecastModel:
        """Correct the forecast intervals with the residuals of a :func:`~crmml.forecast.backtest` result.

        The backtest's periods must have ended by the model's ``as_of_``
        (only what was known then may calibrate it).
        """
        self._check_fitted("calibrate_intervals")
        f = result.frame
        late = f["period_end"] > self.as_of_
        if late.any():
            raise ParameterError(f"calibrate_intervals: {int(late.sum())} backtest rows end after the model's as_of "
                                 f"({self.as_of_.date()}); use a backtest of earlier origins.")
        self.intervals_ = _intervals_state(f)
        return self

    def _fit_spine(self, tset: TrainingSet, ts: pd.Timestamp) -> BinaryOutcomeModel:
        won = self._fit_one(tset, ts)
        base = self._base_set
        closing_set = expand_over_horizons(base, self._closing_days, self._grid(), label="closed")
        self.closing_ = self._fit_one(closing_set, ts)
        self.period_check_ = self._period_check(won, base)
        return won

    def _period_check(self, won: BinaryOutcomeModel, base: TrainingSet) -> Evaluation:
        """P(won before the end of the period) vs what happened, on the held-out cutoff's open deals."""
        frame = base.frame
        cut = max(base.cutoffs)
        held = (frame["cutoff"] == cut).to_numpy()
        (_, end), = period_bounds(cut, self.period, 1)
        d_end = min((end - cut) / pd.Timedelta(days=1), float(self.horizon_days))
        p = horizon_curve(won, frame.loc[held], [d_end], num_threads=self._threads())[:, 0]
        won_days = np.where(np.asarray(base.y)[held] == 1, self._closing_days[held], np.nan)
        with np.errstate(invalid="ignore"):
            y = (won_days < d_end).astype(np.int64)
        return evaluate(y, p)

    # ------------------------------------------------------------ scoring
    def _population_frame(self, t: CRMTables, ts: pd.Timestamp, report: ExclusionReport) -> pd.DataFrame:
        """Features of the opportunities open at ``ts`` (state replayed from opportunity_history)."""
        self._require_tables(t, "score")
        return self._open_deals(as_of_view(t, ts), ts, report)

    def _open_deals(self, view: CRMTables, ts: pd.Timestamp, report: ExclusionReport,
                    owner_history: pd.DataFrame | None = None) -> pd.DataFrame:
        """:meth:`_population_frame` from a point-in-time view built already."""
        frame = self._features(view, ts, owner_history=view.opportunities if owner_history is None
                               else owner_history)
        o = view.opportunities
        done = o.loc[o["closed_at"].notna().to_numpy(dtype=bool), "opportunity_id"]
        report.add_entities("opportunities", "closed before as_of (not open; not scored)", pd.Index(done))
        frame[DAYS_AHEAD] = float(self.horizon_days)
        return frame

    def _period_end_days(self, ts: pd.Timestamp) -> float:
        (_, end), = period_bounds(ts, self.period, 1)
        return (end - ts) / pd.Timedelta(days=1)

    def timing_curve(self, frame: pd.DataFrame, days: Sequence[float] | np.ndarray) -> np.ndarray:
        """P(won within each of ``days``) for every row of a feature frame (rows × days; 0 at d ≤ 0)."""
        self._check_fitted("timing_curve")
        d = np.asarray(days, dtype=np.float64)
        clipped = np.clip(d, 1e-9, float(self.horizon_days))
        out = horizon_curve(self.model_, frame, clipped, num_threads=self._threads())
        return np.where(np.broadcast_to(d, out.shape) <= 0, 0.0, out)

    def _threads(self) -> int | None:
        return int(self.num_threads) or None

    def _outputs_as_of(self, frame: pd.DataFrame | None = None, row: Mapping[str, Any] | None = None
                       ) -> pd.Timestamp:
        """The as_of the timing outputs refer to: :meth:`score_row`'s ``as_of``, else the feature rows'
        ``scored_at`` (set by :meth:`build_features`), else today 00:00 UTC."""
        from crmml.features import to_timestamp

        ts = self.__dict__.get("_scoring_as_of")
        if ts is not None:
            return ts
        if frame is not None and "scored_at" in frame.columns and len(frame):
            values = pd.unique(frame["scored_at"])
            if len(values) > 1:
                raise ParameterError(f"The feature rows of PipelineForecastModel hold {len(values)} different "
                                     "'scored_at' values; score the rows of one as_of at a time.")
            return to_timestamp(values[0], "scored_at")
        if row is not None and row.get("scored_at") is not None:
            return to_timestamp(row.get("scored_at"), "scored_at")
        return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()

    def _curve_days(self, as_of: pd.Timestamp) -> np.ndarray:
        """The median grid (every CURVE_STEP_DAYS up to the horizon), then the period end (last column)."""
        h = float(self.horizon_days)
        grid = np.unique(np.r_[np.arange(CURVE_STEP_DAYS, h, CURVE_STEP_DAYS), h])
        return np.r_[grid, min(self._period_end_days(as_of), h)]

    def _add_outputs(self, out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        as_of = self._outputs_as_of(frame=frame)
        days = self._curve_days(as_of)
        curve = self.timing_curve(frame, days)
        exp_close = frame["expected_close_days"].to_numpy(dtype=np.float64)
        slip = self._slip(horizon_curve(self.closing_, frame, self._slip_days(exp_close)[:, None],
                                        num_threads=self._threads())[:, 0], exp_close)
        amount = frame["amount"].to_numpy(dtype=np.float64)
        first = pd.DataFrame({
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            "amount": amount,
            "stage": frame["stage"].astype(object).to_numpy(),
        }, index=out.index)
        timing = pd.DataFrame({
            "close_in_period_probability": curve[:, -1],
            "expected_close_at": as_of + pd.to_timedelta(_median_days(curve[:, :-1], days[:-1]), unit="D"),
            "slip_probability": slip,
            "expected_bookings": amount * curve[:, -1],
        }, index=out.index)
        p = self.output_names["probability"]
        return pd.concat([first, out[[p]], timing, out.drop(columns=[p])], axis=1)

    def _add_outputs_row(self, res: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
        as_of = self._outputs_as_of(row=row)
        days = self._curve_days(as_of)
        curve = horizon_curve_row(self.model_, row, np.clip(days, 1e-9, None))
        exp_close = np.array([_float(row.get("expected_close_days"))])
        closed = horizon_curve_row(self.closing_, row, self._slip_days(exp_close))
        amount = _float(row.get("amount"))
        med = _median_days(curve[None, :-1], days[:-1])[0]
        p = self.output_names["probability"]
        win = res.pop(p)
        stage = row.get("stage")
        return {"customer_id": None if row.get("customer_id") is None else str(row.get("customer_id")),
                "amount": amount, "stage": None if stage is None else str(stage), p: win,
                "close_in_period_probability": float(curve[-1]),
                "expected_close_at": as_of + pd.Timedelta(days=float(med)) if np.isfinite(med) else pd.NaT,
                "slip_probability": float(self._slip(closed, exp_close)[0]),
                "expected_bookings": amount * float(curve[-1]), **res}

    def score_row(self, row: Mapping[str, Any], *, as_of: Any = None) -> dict[str, Any]:
        """One open deal's outputs from a feature mapping (no pandas; one thread).

        ``as_of`` (default: the row's ``scored_at``, else today 00:00 UTC)
        sets the current period; the look-ahead feature is set here,
        whatever ``row`` holds.
        """
        from crmml.features import to_timestamp

        self._scoring_as_of = None if as_of is None else to_timestamp(as_of)
        try:
            return super().score_row({**row, DAYS_AHEAD: float(self.horizon_days)})
        finally:
            self.__dict__.pop("_scoring_as_of", None)

    def _slip_days(self, exp_close: np.ndarray) -> np.ndarray:
        d = np.where(np.isfinite(exp_close), exp_close, float(self.horizon_days))
        return np.clip(d, 1e-9, float(self.horizon_days))

    @staticmethod
    def _slip(closed: np.ndarray, exp_close: np.ndarray) -> np.ndarray:
        """P(not closed by the CRM's expected close date): 1 when that date has passed already."""
        return np.where(np.isfinite(exp_close) & (exp_close <= 0), 1.0, 1.0 - closed)

    def build_features(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any,
                       *, report: ExclusionReport | None = None,
                       owner_history: pd.DataFrame | None = None) -> pd.DataFrame:
        """The open deals' feature frame as of ``as_of``, ``opportunity_id`` first.

        ``owner_history``: the whole ``opportunities`` table (``owner``,
        ``created_at``, ``closed_at``, ``won``) when ``tables`` holds one hash
        partition of the accounts, as in the nightly batch: an owner's deals
        span partitions, and the owner's win rate is read from all of them
        (only deals closed before ``as_of`` count). Default: ``tables``' own
        opportunities.
        """
        if owner_history is None:
            return super().build_features(tables, as_of, report=report)
        from crmml.data import as_tables
        from crmml.features import to_timestamp

        report = report if report is not None else ExclusionReport()
        t, ts = as_tables(tables), to_timestamp(as_of)
        self._require_tables(t, "build_features")
        frame = self._open_deals(as_of_view(t, ts), ts, report, owner_history=owner_history)
        if self._learned():
            frame = self._select_schema(frame, "build_features")
        return frame.rename_axis(self.entity).reset_index()

    def score(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any, *,
              report: ExclusionReport | None = None) -> pd.DataFrame:
        """Score every opportunity open at ``as_of``: one row per deal, indexed by ``opportunity_id``.

        Columns: ``customer_id``, ``amount``, ``stage``, ``win_probability``
        (won within ``horizon_days``), ``close_in_period_probability`` (won
        before the end of the period holding ``as_of``), ``expected_close_at``
        (the median predicted close date of a win), ``slip_probability`` (not
        closed, won or lost, by the CRM's expected close date),
        ``expected_bookings`` (amount × P(won in period)), then
        ``reason_1..3`` / ``reason_neg_1..2`` with ``_feature`` and
        ``_contribution``.
        """
        return super().score(tables, as_of, report=report)

    # ------------------------------------------------------------ period forecast
    def _period_edges(self, ts: pd.Timestamp, periods: int) -> tuple[list[tuple[pd.Timestamp, pd.Timestamp]],
                                                                    np.ndarray]:
        """The periods from ``ts`` and their ends in days after ``ts`` (0 first); refuses periods past the horizon."""
        bounds = period_bounds(ts, self.period, periods)
        far = (bounds[-1][1] - ts) / pd.Timedelta(days=1)
        if far > float(self.horizon_days) + 1e-9:
            raise ParameterError(
                f"The 'periods' parameter of PipelineForecastModel.forecast reaches {far:g} days past as_of "
                f"({bounds[-1][1].date()}), beyond the model's horizon_days={self.horizon_days:g}. Fix: ask for fewer "
                f"periods, or train with a longer horizon (PipelineForecastModel(horizon_days={int(np.ceil(far))})).")
        return bounds, np.r_[0.0, [(e - ts) / pd.Timedelta(days=1) for _, e in bounds]]

    def period_inputs(self, features: pd.DataFrame, as_of: Any, *, periods: int = 2) -> pd.DataFrame:
        """What :meth:`forecast` reads of each open deal, from a :meth:`build_features` frame.

        One row per deal (indexed by ``opportunity_id``): ``amount``,
        ``stage``, ``expected_close_days`` and ``won_by_0`` …
        ``won_by_<periods>``, the probability that the deal is won by the
        end of each period (``won_by_0`` = 0, at ``as_of``). Rows of
        partitions concatenated and passed as ``forecast(...,
        period_inputs=...)`` give the whole-table forecast: the nightly batch
        computes them with each partition's features and runs the period
        step over all partitions without building the features again.
        """
        from crmml.features import to_timestamp

        self._check_fitted("period_inputs")
        ts = to_timestamp(as_of)
        _, edges = self._period_edges(ts, periods)
        frame = features.set_index(self.entity) if self.entity in features.columns else features
        F = self.timing_curve(frame, edges) if len(frame) else np.zeros((0, len(edges)))
        out = pd.DataFrame({"amount": frame["amount"].to_numpy(dtype=np.float64),
                            "stage": frame["stage"].astype(object).to_numpy(),
                            "expected_close_days": frame["expected_close_days"].to_numpy(dtype=np.float64)},
                           index=frame.index.astype(str).rename(self.entity))
        for k in range(len(edges)):
            out[f"won_by_{k}"] = F[:, k]
        return out

    def forecast(self, tables: CRMTables | Mapping[str, pd.DataFrame] | str | os.PathLike[str], as_of: Any, *,
                 periods: int = 2, group_by: str | None = None, report: ExclusionReport | None = None,
                 period_inputs: pd.DataFrame | None = None) -> pd.DataFrame:
        """Bookings per period (and group): booked, from open deals, from new deals, quantiles, stage-weighted.

        Parameters
        ----------
        tables : CRMTables, mapping or folder
        as_of : time-like
        periods : int, default=2
            The period holding ``as_of`` and the ones after it (all must end
            within ``horizon_days`` of ``as_of``).
        group_by : str, optional
            A column of ``opportunities`` (e.g. ``"owner"``) or of
            ``customers`` (e.g. ``"industry"``, joined on ``customer_id``).
        period_inputs : DataFrame, optional
            :meth:`period_inputs` of every open deal, computed already (the
            nightly batch's partitions): the open deals' features are then
            not built again, and ``tables`` needs only ``opportunities``,
            ``opportunity_history`` (and ``customers`` to group by one of its
            columns).

        Returns
        -------
        DataFrame
            One row per period (and group): ``period_start``, ``period_end``,
            [group], ``booked`` (won before ``as_of`` inside the period),
            ``from_open`` (expected bookings of the open deals),
            ``from_new`` (expected bookings of deals created after
            ``as_of``, from the same window of the last 52 weekly origins),
            ``expected``, ``p10`` … ``p90`` (simulated), ``stage_weighted``
            (booked + open amount closing in the period by the CRM date ×
            the historical win rate of its stage), ``open_deals``.
        """
        from crmml.data import as_tables
        from crmml.features import to_timestamp

        self._check_fitted("forecast")
        t = as_tables(tables)
        ts = to_timestamp(as_of)
        bounds, edges = self._period_edges(ts, periods)
        report = report if report is not None else ExclusionReport()
        self._require_tables(t, "forecast")
        view = as_of_view(t, ts)  # once: the open deals, booked amounts, new business and stage rates read it
        if period_inputs is None:
            frame = self._select_schema(self._open_deals(view, ts, report), "forecast")
            F = self.timing_curve(frame, edges) if len(frame) else np.zeros((0, len(edges)))
        else:
            frame = period_inputs.sort_index(kind="stable")
            F = frame[[f"won_by_{k}" for k in range(len(edges))]].to_numpy(dtype=np.float64)
        opps = view.opportunities
        labels, codes_all = _group_codes(t, opps, group_by)
        g_open = codes_all[pd.Index(opps["opportunity_id"]).get_indexer(frame.index)]
        amount = frame["amount"].to_numpy(dtype=np.float64)
        G, n_sims = len(labels), int(self.n_simulations)
        sims = simulate_open(F, amount, g_open, G, n_sims, int(self.seed))
        hist = new_business_history(opps, ts, bounds, codes_all, G)
        rng = np.random.default_rng(int(self.seed) + 1)
        booked = _booked(opps, ts, bounds, codes_all, G)
        rates = stage_win_rates(opps, view.opportunity_history, DEFAULT_OPEN_STAGES)
        close_days = frame["expected_close_days"].to_numpy(dtype=np.float64)
        stage = frame["stage"].astype(object).to_numpy()
        rate = np.array([rates.get(s, np.nan) if isinstance(s, str) else np.nan for s in stage], dtype=np.float64)
        rows = []
        for k, (s, e) in enumerate(bounds):
            valid = np.flatnonzero(np.isfinite(hist[k, 0]))
            pick = rng.choice(valid, n_sims) if valid.size else None
            new = hist[k][:, pick] if pick is not None else np.zeros((G, n_sims))
            lo, hi = (s - ts) / pd.Timedelta(days=1), (e - ts) / pd.Timedelta(days=1)
            in_period = (close_days < hi) & ((close_days >= lo) | (k == 0))  # overdue deals: this period
            sw_open = np.bincount(g_open[in_period], weights=np.nan_to_num(amount * rate)[in_period], minlength=G)
            p_k = F[:, k + 1] - F[:, k]
            from_open = np.bincount(g_open, weights=np.nan_to_num(amount) * p_k, minlength=G)
            pool, weights, how = self._interval_pool(ts)
            for gi, name in enumerate(labels):
                total = booked[k, gi] + sims[k, gi] + new[gi]
                q = np.quantile(total, QUANTILES)
                if pool is not None:
                    q = np.maximum(conformal_quantiles(q[None, :], pool, weights=weights)[0], booked[k, gi])
                row = {"period_start": s, "period_end": e}
                if group_by is not None:
                    row[group_by] = name
                from_new = float(np.nanmean(hist[k, gi])) if valid.size else 0.0
                row.update({"booked": booked[k, gi], "from_open": from_open[gi], "from_new": from_new,
                            "expected": booked[k, gi] + from_open[gi] + from_new,
                            **{f"p{int(round(100 * a))}": v for a, v in zip(QUANTILES, q, strict=True)},
                            "stage_weighted": booked[k, gi] + sw_open[gi],
                            "open_deals": int(np.sum((g_open == gi) & (p_k > 0))), "interval": how})
                rows.append(row)
        return pd.DataFrame(rows)

    def feature_schema(self) -> dict[str, str]:
        """The feature columns' MLflow types (``scored_at``, the as_of of the rows, is a datetime)."""
        out = super().feature_schema()
        if "scored_at" in out:
            out["scored_at"] = "datetime"
        return out

    def input_example(self) -> pd.DataFrame:
        """A made-up one-row feature frame (no real deal) for MLflow's model signature."""
        ex = super().input_example()
        if "scored_at" in ex.columns:
            ex["scored_at"] = self.as_of_
        return ex

    def output_schema(self) -> dict[str, str]:
        """The entity id and every output column with its MLflow type, in order."""
        base = super().output_schema()
        reasons = {k: v for k, v in base.items() if k.startswith("reason")}
        return {self.entity: "string", "customer_id": "string", "amount": "double", "stage": "string",
                "win_probability": "double", "close_in_period_probability": "double",
                "expected_close_at": "datetime", "slip_probability": "double", "expected_bookings": "double",
                **reasons}

    # ------------------------------------------------------------ describing
    def training_metrics(self) -> dict[str, float]:
        """The spine's held-out metrics, P(won in period) on the held-out cutoff, and the fit backtest's summary."""
        out = super().training_metrics()
        pc = self.period_check_
        out.update({f"period_{k}": v for k, v in pc.metrics().items() if v is not None})
        result = self.backtest_result()
        if result is not None:
            out.update({f"backtest_{k}": float(v) for k, v in result.summary().items() if v is not None})
        return out

    def model_card(self) -> dict[str, Any]:
        """Facts for the generated model card (no personal data)."""
        self._check_fitted("model_card")
        m = self.model_
        pc = self.period_check_
        result = self.backtest_result()
        summary = result.summary() if result is not None else None
        tables: list[dict[str, Any]] = [
            {"title": "P(won before the end of the period) on the held-out cutoff's open deals",
             "columns": ("bin", "deals", "mean predicted", "observed"),
             "rows": [(i + 1, int(n), f"{mp:.3f}", f"{ob:.3f}") for i, (mp, ob, n) in enumerate(zip(
                 pc.calibration_curve["mean_predicted"], pc.calibration_curve["observed"],
                 pc.calibration_curve["count"], strict=True))]},
            {"title": "Reason summary (held-out sample: share with the factor among the top 3 reasons)",
             "columns": ("factor", "share"),
             "rows": [(m.templates_.label(f), f"{v:.1%}") for f, v in list(self.reason_frequencies_.items())[:10]]},
        ]
        if summary is not None:
            def pct(v: Any) -> str:
                return "—" if v is None else f"{v:.0%}"

            tables.insert(0, {
                "title": f"Backtest at fit ({summary['cells']} origin × period cells, each origin refitted; corrected "
                         "coverage: each cell corrected by the other origins' residuals)",
                "columns": ("measure", "value"),
                "rows": [("coverage of the 50 % interval (corrected cells / raw simulation)",
                          f"{pct(summary['coverage_50'])} / {pct(summary['raw_coverage_50'])}"),
                         ("coverage of the 80 % interval (corrected cells / raw simulation)",
                          f"{pct(summary['coverage_80'])} / {pct(summary['raw_coverage_80'])}"),
                         ("median absolute % error: model p50 / stage-weighted",
                          f"{pct(summary['mdape_model'])} / {pct(summary['mdape_baseline'])}")]})
        return {
            "title": "crmml pipeline forecast",
            "summary": (f"Per open deal: P(won within d days) for every d up to {self.horizon_days:g} (one LightGBM "
                        "model monotone in d, calibrated), P(closed by the CRM close date), reasons. Per "
                        f"{self.period}: booked + simulated open deals ({self.n_simulations:,} draws) + new deals "
                        "resampled from the same window of the last 52 weeks; intervals corrected by the "
                        "normalised residuals of a backtest run at fit. Point-in-time features stacked over "
                        f"{len(self.cutoffs_)} cutoffs; the latest is held out for early stopping, "
                        f"{m.calibrator_.method} calibration and evaluation."),
            "intended_use": ("Weekly pipeline reviews: which deals will close this period, what will be booked, and "
                             "with what uncertainty. Not for judging individual sales reps."),
            "parameters": {**self._card_parameters(), "period_roc_auc": pc.roc_auc or float("nan"),
                           "period_ece": pc.ece},
            "outputs": {
                "win_probability": f"calibrated P(won within {self.horizon_days:g} days)",
                "close_in_period_probability": f"P(won before the end of the {self.period} holding as_of)",
                "expected_close_at": "median predicted close date of a win",
                "slip_probability": "P(not closed, won or lost, by the CRM's expected close date); 1 when past",
                "expected_bookings": "amount × close_in_period_probability",
                "reason_1..3 / reason_neg_1..2": "factors raising / lowering the win probability, in words",
            },
            "tables": tables,
            "limits": [
                "win_probability is P(won within the horizon): deals with longer cycles are under-counted.",
                "Few deals per period give wide intervals; the correction needs at least 8 backtest cells "
                "(else the interval column says 'simulation (uncorrected)').",
                "New business is resampled from the last 52 weeks: a trend or seasonality beyond that window is "
                "not modelled.",
                "Deals are simulated independently given their probabilities; shared shocks show only through "
                "the conformal correction.",
                "Reasons are associations (TreeSHAP contributions), not causes.",
            ],
        }

    def _artifact_metadata(self) -> dict[str, str]:
        return {"as_of": self.as_of_.isoformat()}

    def backtest_result(self) -> Any:
        """The backtest run at fit as a :class:`~crmml.forecast.BacktestResult` (None without one).

        Each cell's corrected interval uses the residuals of the other origins' cells (cross-conformal): an
        estimate of the coverage of the intervals :meth:`forecast` gives with those residuals.
        """
        from crmml.forecast._backtest import BacktestResult, _finish

        self._check_fitted("backtest_result")
        cells = self.intervals_["cells"]
        if not cells:
            return None
        f = pd.DataFrame(cells)
        for c in ("origin", "period_start", "period_end"):
            f[c] = pd.to_datetime(f[c])
        return BacktestResult(_finish(f.assign(expected=np.nan), pooling="other_origins",
                                      decay_days=self.interval_decay_days))

    def _interval_pool(self, as_of: pd.Timestamp) -> tuple[np.ndarray | None, np.ndarray | None, str]:
        """The residuals correcting the intervals (every period index pooled), their weights at ``as_of``
        and how the interval is described."""
        from crmml.forecast._backtest import calibration_pool, decay_weights, residuals_of

        cells = self.intervals_["cells"]
        if not cells:
            return None, None, "simulation (uncorrected)"
        f = pd.DataFrame(cells)
        res = residuals_of(f)
        ends = pd.to_datetime(f["period_end"]).to_numpy(dtype="datetime64[ns]")
        pool = calibration_pool(res, np.ones(res.size, dtype=bool))
        if pool is None:
            return None, None, "simulation (uncorrected)"
        age = np.abs((as_of.to_datetime64() - ends) / np.timedelta64(1, "D"))
        weights = decay_weights(age, self.interval_decay_days)
        how = f"conformal ({pool.size} backtest cells" + (
            f", weighted by age over {self.interval_decay_days:g} days)" if weights is not None else ")")
        return pool, weights, how

    # ------------------------------------------------------------ persistence
    def _extra_state_to_dict(self) -> dict[str, Any]:
        c = self.closing_
        return {"leakage": None if self.leakage_ is None else self.leakage_.to_dict(),
                "closing": {"supervised": c.to_dict(), "booster": {"file": BOOSTER_TXT, "text": c.tree_.to_text()}},
                "intervals": {"origins": list(self.intervals_["origins"]),
                              "residuals": {k: list(v) for k, v in self.intervals_["residuals"].items()},
                              "cells": [dict(c) for c in self.intervals_["cells"]]},
                "period_check": self.period_check_.to_dict()}

    def _extra_state_from_payload(self, p: Payload) -> None:
        leak = p.mapping("leakage", nullable=True)
        self.leakage_ = None if leak is None else LeakageReport.from_dict(leak)
        c = p.mapping("closing")
        assert c is not None
        c.keys_exactly(("supervised", "booster"))
        b = c.mapping("booster")
        assert b is not None
        b.keys_exactly(("file", "text"))
        b.str_in("file", (BOOSTER_TXT,))
        sup = c.mapping("supervised")
        assert sup is not None
        self.closing_ = BinaryOutcomeModel.from_dict(sup, b.require("text", ("string",)),
                                                     booster_source="model.json: closing.booster.text")
        iv = p.mapping("intervals")
        assert iv is not None
        iv.keys_exactly(("origins", "residuals", "cells"))
        origins = iv.array("origins")
        if not all(isinstance(o, str) and len(o) <= 40 for o in origins) or len(origins) > 1000:
            raise iv.error("origins", "at most 1,000 ISO timestamps", origins[:3])
        res = iv.mapping("residuals")
        assert res is not None
        out: dict[str, list[float]] = {}
        for key in res.keys():
            if not key.isdigit() or int(key) > 24:
                raise res.error(key, "a period index 0-24", key)
            vals = res.array(key)
            if len(vals) > 100_000 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              and np.isfinite(v) for v in vals):
                raise res.error(key, "an array of finite numbers", vals[:3])
            out[key] = [float(v) for v in vals]
        cells = iv.array("cells")
        if len(cells) > 10_000:
            raise iv.error("cells", "at most 10,000 backtest cells", len(cells))
        kept = []
        for c in cells:
            if not isinstance(c, dict) or set(c) != set(_CELL_KEYS):
                raise iv.error("cells", f"objects with the keys {list(_CELL_KEYS)}", str(c)[:80])
            row = {k: c[k] for k in ("origin", "period_start", "period_end")}
            if not all(isinstance(v, str) and len(v) <= 40 for v in row.values()):
                raise iv.error("cells", "ISO timestamps for origin, period_start and period_end", str(c)[:80])
            nums = {k: c[k] for k in _CELL_KEYS if k not in row}
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                       for v in nums.values()):
                raise iv.error("cells", "finite numbers for the quantiles, stage_weighted and actual", str(c)[:80])
            kept.append({**row, **{k: (int(v) if k == "period_index" else float(v)) for k, v in nums.items()}})
        self.intervals_ = {"origins": list(origins), "residuals": out, "cells": kept}
        pc = p.mapping("period_check")
        assert pc is not None
        self.period_check_ = Evaluation.from_dict(pc)


_CELL_KEYS = ("origin", "period_start", "period_end", "period_index", "raw_p10", "raw_p25", "raw_p50", "raw_p75",
              "raw_p90", "stage_weighted", "actual")


def _intervals_state(f: pd.DataFrame) -> dict[str, Any]:
    """The persisted backtest: origins, normalised residuals by period index, and the cells (numbers only)."""
    from crmml.forecast._backtest import residuals_of

    res = residuals_of(f)
    cells = []
    for r in f.itertuples(index=False):
        cells.append({"origin": pd.Timestamp(r.origin).isoformat(), "period_start": r.period_start.isoformat(),
                      "period_end": r.period_end.isoformat(), "period_index": int(r.period_index),
                      **{k: float(getattr(r, k)) for k in _CELL_KEYS[4:]}})
    return {"origins": sorted({pd.Timestamp(o).isoformat() for o in f["origin"]}),
            "residuals": {str(k): [float(x) for x in res[(f["period_index"] == k).to_numpy()]]
                          for k in sorted(f["period_index"].unique())},
            "cells": cells}


def _group_codes(t: CRMTables, opps: pd.DataFrame, group_by: str | None) -> tuple[list[Any], np.ndarray]:
    """Group labels and the group code of every opportunity of ``opps`` (one group ``"all"`` without group_by)."""
    if group_by is None:
        return ["all"], np.zeros(len(opps), dtype=np.int64)
    if group_by in opps.columns:
        values = opps[group_by]
    elif t.customers is not None and group_by in t.customers.columns:
        values = opps["customer_id"].map(t.customers.drop_duplicates("customer_id").set_index("customer_id")[group_by])
    else:
        cust = [] if t.customers is None else list(t.customers.columns)
        raise ParameterError(f"The 'group_by' parameter of PipelineForecastModel.forecast must name a column of "
                             f"opportunities {list(opps.columns)} or customers {cust}. Got {group_by!r} instead.")
    text = values.astype(object).where(values.notna(), "(missing)").astype(str)
    labels = sorted(pd.unique(text))
    return labels, pd.Index(labels).get_indexer(text)


def _booked(opps: pd.DataFrame, ts: pd.Timestamp, bounds: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
            codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Amount won before ``ts`` inside each period, per group."""
    won = opps["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    closed = opps["closed_at"]
    amount = np.nan_to_num(opps["amount"].to_numpy(dtype=np.float64, na_value=np.nan))
    out = np.zeros((len(bounds), n_groups))
    for k, (s, e) in enumerate(bounds):
        sel = won & ((closed >= s) & (closed < min(e, ts))).to_numpy(dtype=bool, na_value=False)
        out[k] = np.bincount(codes[sel], weights=amount[sel], minlength=n_groups)
    return out


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _median_days(curve: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per row, the ``d`` where the curve reaches half its final value (linear between grid points; 0 before)."""
    n = curve.shape[0]
    half = curve[:, -1] / 2.0
    full = np.concatenate([np.zeros((n, 1)), curve], axis=1)
    g = np.r_[0.0, grid]
    j = np.argmax(full >= half[:, None], axis=1)  # first point at or above half (≥ 1 where half > 0)
    j = np.clip(j, 1, len(g) - 1)
    lo, hi = full[np.arange(n), j - 1], full[np.arange(n), j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(hi > lo, (half - lo) / (hi - lo), 1.0)
    out = g[j - 1] + np.clip(frac, 0.0, 1.0) * (g[j] - g[j - 1])
    return np.where(half > 0, out, np.nan)
