"""CLVModel: customer lifetime value from the contract tables, as a scorer.

Non-contractual businesses (a shop): the RFM summary as of a date feeds a
BG/NBD (or Pareto/NBD) purchase model and a Gamma-Gamma spend model; the
discounted CLV over the horizon is the formula
``Σ_t (revenue_t − cost_t) / (1 + d)^t`` with monthly periods, where
``revenue_t`` is the expected number of purchases in month ``t`` times the
expected average value and the cost is ``(1 − margin)`` of it.

Contractual businesses (B2B subscriptions): a shifted-beta-geometric model of
annual renewals fitted on account tenures; CLV is the discounted expected
contract value over the horizon given the tenure survived so far.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crmml._artifact import ModelJsonArtifact
from crmml._base import Estimator
from crmml._payload import Payload
from crmml._validation import Interval, Options
from crmml.clv._bgnbd import BetaGeoModel
from crmml.clv._formula import discounted_clv
from crmml.clv._gamma_gamma import GammaGammaModel
from crmml.clv._pareto_nbd import ParetoNBDModel
from crmml.clv._sbg import ShiftedBetaGeometricModel
from crmml.clv._segments import SEGMENTS, segment_codes, segment_reasons
from crmml.clv._summary_input import check_summary_arrays
from crmml.data import (
    TABLES,
    CRMTables,
    ExclusionReport,
    as_tables,
    read_exclusion_counts,
)
from crmml.drift import StoresDriftReference, reference_from
from crmml.exceptions import (
    ConvergenceError,
    DataContractError,
    ParameterError,
    Problem,
    examples_of,
)
from crmml.features import (
    TERM_DAYS,
    as_of_view,
    customer_margin,
    default_as_of,
    rfm_arrays,
    subscription_features,
    to_timestamp,
)

__all__ = ["CLVModel", "as_tables"]

_DAYS_PER_PERIOD = {"D": 1.0, "W": 7.0}
_PERIOD_WORDS = {"D": "days", "W": "weeks"}
_MONTH_DAYS = 365.25 / 12
_YEAR_DAYS = 365.25
_SEGMENT_ARRAY = np.array(SEGMENTS, dtype=object)
_TRANSACTION_MODELS = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel}
DRIFT_SCORE_COLUMNS = ("clv", "expected_purchases")
"""Outputs whose distribution at fit the drift reference (``drift_reference_``) stores beside every feature's."""

_NONCONTRACTUAL_FEATURES = {
    "customer_id": "string",
    "frequency": "double",
    "recency": "double",
    "T": "double",
    "monetary_value": "double",
    "margin_rate": "double",
}
_CONTRACTUAL_FEATURES = {
    "customer_id": "string",
    "tenure_periods": "double",
    "days_into_term": "double",
    "monthly_value": "double",
    "margin_rate": "double",
}
_OUTPUTS = {
    "customer_id": "string",
    "probability_alive": "double",
    "expected_purchases": "double",
    "expected_average_value": "double",
    "expected_revenue": "double",
    "clv": "double",
    "segment": "string",
    "reason": "string",
}


class CLVModel(StoresDriftReference, ModelJsonArtifact, Estimator):
    """Customer lifetime value from CRM tables, with segments — a crmml scorer.

    Parameters
    ----------
    business : {"noncontractual", "contractual"}, default="noncontractual"
        ``"noncontractual"`` (a shop: customers + transactions) fits a purchase
        model and Gamma-Gamma; ``"contractual"`` (B2B: customers +
        subscriptions) fits a shifted-beta-geometric renewal model.
    transaction_model : {"bgnbd", "pareto_nbd"}, default="bgnbd"
        Purchase model for non-contractual businesses.
    freq : {"D", "W"}, default="D"
        Time grid of the RFM summary.
    horizon_days : float, default=365
        CLV horizon.
    discount_rate : float, default=0.10
        Annual discount rate ``d``; applied monthly as ``(1 + d)^(1/12) − 1``.
    margin : float or None, default=None
        Gross margin in (0, 1]. ``None`` learns it from ``transactions.cost``
        (per customer where known, else the population margin; 1.0 — revenue
        CLV — when there is no cost column).
    penalizer : float, default=0.0
        L2 penalty on the log-parameters of every fitted model.
    alive_threshold : float, default=0.5
        Below this probability alive a customer is "At risk".
    champion_quantile : float, default=0.8
        CLV quantile of the training population above which alive customers
        are "Champions".
    loyal_min_frequency : float, default=2
        Repeat purchase periods (non-contractual) or renewals survived
        (contractual) that make an alive customer "Loyal".

    Attributes
    ----------
    transaction_model_ : BetaGeoModel, ParetoNBDModel or ShiftedBetaGeometricModel
    spend_model_ : GammaGammaModel or None
    margin_ : float
        Population margin used where a customer's own is unknown.
    champion_threshold_ : float
    as_of_ : pandas.Timestamp
        Training cutoff.
    n_customers_ : int
    exclusions_ : list of dict
        Counts of rows and entities excluded while fitting (``table``,
        ``rule``, ``n_rows``, ``unit``); saved with the model. Exclusions of a
        later :meth:`score` go to the ``report`` passed to it.
    drift_reference_ : crmml.drift.DriftReference or None
        The features and the ``clv`` / ``expected_purchases`` scores of the
        population at ``as_of``, binned (no raw values); saved as
        ``drift_reference.json`` beside ``model.json``. ``None`` after
        :meth:`from_dict` or for an artifact written before drift references.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your
       customers the easy way: An alternative to the Pareto/NBD model."
       Marketing Science 24(2), 275–284.
    .. [2] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "RFM and CLV:
       Using iso-value curves for customer base analysis." Journal of
       Marketing Research 42(4), 415–430.
    .. [3] Fader, P. S., & Hardie, B. G. S. (2007). "How to project customer
       retention." Journal of Interactive Marketing 21(1), 76–90.

    Examples
    --------
    >>> from crmml.clv import CLVModel
    >>> model = CLVModel(horizon_days=365).fit(tables, as_of="2025-07-01")   # doctest: +SKIP
    >>> model.score(tables, as_of="2025-07-01").segment.value_counts()       # doctest: +SKIP
    """

    kind: ClassVar[str] = "clv"
    entity: ClassVar[str] = "customer_id"
    display_name: ClassVar[str] = "CLV"
    """How progress messages name the model ("fitting the CLV model ...")."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "business": [Options(("noncontractual", "contractual"))],
        "transaction_model": [Options(tuple(_TRANSACTION_MODELS))],
        "freq": [Options(tuple(_DAYS_PER_PERIOD))],
        "horizon_days": [Interval(0, 36525, closed="right")],
        "discount_rate": [Interval(0, 10, closed="left")],
        "margin": [Interval(0, 1, closed="right"), None],
        "penalizer": [Interval(0, None, closed="left")],
        "alive_threshold": [Interval(0, 1, closed="both")],
        "champion_quantile": [Interval(0, 1, closed="both")],
        "loyal_min_frequency": [Interval(0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        business: str = "noncontractual",
        transaction_model: str = "bgnbd",
        freq: str = "D",
        horizon_days: float = 365,
        discount_rate: float = 0.10,
        margin: float | None = None,
        penalizer: float = 0.0,
        alive_threshold: float = 0.5,
        champion_quantile: float = 0.8,
        loyal_min_frequency: float = 2,
    ) -> None:
        self.business = business
        self.transaction_model = transaction_model
        self.freq = freq
        self.horizon_days = horizon_days
        self.discount_rate = discount_rate
        self.margin = margin
        self.penalizer = penalizer
        self.alive_threshold = alive_threshold
        self.champion_quantile = champion_quantile
        self.loyal_min_frequency = loyal_min_frequency

    # ----------------------------------------------------- training hooks
    def as_of_sources(self) -> tuple[str, ...]:
        """Tables whose latest event sets the default ``as_of`` (see :func:`crmml.features.default_as_of`).

        ``("subscriptions",)`` for a contractual model, ``("transactions",)`` otherwise.
        """
        return ("subscriptions",) if self.business == "contractual" else ("transactions",)

    def evaluate_holdout(self, tables: CRMTables | Mapping[str, pd.DataFrame], calibration_end: Any,
                         holdout_end: Any) -> Any:
        """The holdout check :func:`crmml.training.train` runs before fitting.

        Fits a copy of this configuration as of ``calibration_end`` and
        compares its predictions with what happened up to ``holdout_end``
        (:func:`crmml.clv.evaluate_holdout`); ``self`` is not changed.

        Returns
        -------
        HoldoutEvaluation or None
            ``None`` for a contractual model (no holdout check yet).
        """
        if self.business != "noncontractual":
            return None
        from crmml.clv._evaluation import evaluate_holdout

        return evaluate_holdout(tables, calibration_end, holdout_end, model=self)

    def evaluate_window(self, tables: CRMTables | Mapping[str, pd.DataFrame], start: Any, end: Any) -> Any:
        """This fitted model's predictions from ``start`` against what happened in ``[start, end)``.

        The comparison of :meth:`evaluate_holdout` without refitting
        (:func:`crmml.clv._evaluation.evaluate_fitted`); ``self`` is not changed. What
        ``crmml retrain`` compares a champion and a challenger on.

        Returns
        -------
        HoldoutEvaluation

        Raises
        ------
        ParameterError
            A contractual model (no holdout evaluation yet), or ``end <= start``.
        """
        from crmml.clv._evaluation import evaluate_fitted

        if self.business != "noncontractual":
            raise ParameterError("CLVModel.evaluate_window: a contractual CLV model has no holdout evaluation yet, "
                                 "so it cannot be compared on a window (crmml retrain). Fix: train it with "
                                 "'crmml train clv --business contractual'.")
        return evaluate_fitted(self, tables, start, end)

    def _require_tables(self, t: CRMTables, method: str) -> None:
        if self.business == "contractual":
            t.require("subscriptions", model=f"CLVModel.{method} (business='contractual')")
        else:
            t.require("transactions", model=f"CLVModel.{method} (business='noncontractual')")

    # --------------------------------------------------------------- features
    def build_features(self, tables: CRMTables | Mapping[str, pd.DataFrame], as_of: Any,
                       *, report: ExclusionReport | None = None) -> pd.DataFrame:
        """The per-customer feature frame the model consumes, as of ``as_of``.

        Non-contractual: ``frequency, recency, T, monetary_value`` (the RFM
        summary on the model's grid) and ``margin_rate``. Contractual:
        ``tenure_periods`` (annual renewals survived), ``days_into_term``,
        ``monthly_value`` and ``margin_rate`` of accounts with a running
        subscription. One row per customer, ``customer_id`` as a column.

        ``report`` (an :class:`~crmml.data.ExclusionReport`), when given,
        receives every row and entity the pipeline leaves out, as in :meth:`score`.
        """
        report = report if report is not None else ExclusionReport()
        index, cols = self._feature_arrays(as_tables(tables), to_timestamp(as_of), report)
        return pd.DataFrame({"customer_id": index.astype(str), **cols}, copy=False)

    def _feature_arrays(self, t: CRMTables, ts: pd.Timestamp,
                        report: ExclusionReport) -> tuple[pd.Index, dict[str, np.ndarray]]:
        """The features as ``(customer_id index, {column: float64 array})``.

        The one implementation behind :meth:`build_features` (which wraps it in
        a frame) and :meth:`score` (which feeds the arrays straight to the model).
        """
        self._require_tables(t, "score")
        if self.business == "contractual":
            return self._contractual_features(t, ts, report)
        _check_finite(t.transactions, ("amount", "cost"))
        index, cols = rfm_arrays(t.transactions, ts, freq=self.freq, freq_multiplier=1, customers=t.customers,
                                 monetary=True, report=report)
        cols["margin_rate"] = customer_margin(t.transactions, ts, index)
        _report_unscored_buyers(t, ts, index, report)
        return index, cols

    def _contractual_features(self, t: CRMTables, ts: pd.Timestamp,
                              report: ExclusionReport) -> tuple[pd.Index, dict[str, np.ndarray]]:
        _check_finite(t.subscriptions, ("monthly_value",))
        view = as_of_view(t.replace(**{n: None for n in t.present() if n not in ("subscriptions", "customers")}), ts)
        subs = view.subscriptions
        accounts = pd.Index(np.sort(subs["customer_id"].dropna().unique()), name="customer_id")
        state = subscription_features(subs, accounts, ts.value / 86_400e9, TERM_DAYS)
        running = state["subscriptions_active"] > 0
        report.add_entities("customers", "no running subscription at as_of (the contract ended: already churned; "
                            "not scored)", accounts[~running])
        if view.customers is not None:
            report.add_entities("customers", "no subscription before as_of (not a contract customer yet; not scored)",
                                pd.Index(view.customers["customer_id"]).difference(accounts))
        ids = accounts[running]
        margin = np.full(len(ids), np.nan)
        if self.margin is not None:
            margin[:] = self.margin
        return pd.Index(ids.astype(str), name="customer_id"), {
            "tenure_periods": np.floor(state["days_since_first_subscription"][running] / _YEAR_DAYS),
            "days_into_term": state["days_in_current_term"][running],
            "monthly_value": state["mrr"][running],
            "margin_rate": margin,
        }

    def _contractual_training(self, t: CRMTables, ts: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        """Per account: completed annual periods and whether it churned (as of ``ts``)."""
        view = as_of_view(t.replace(**{n: None for n in t.present() if n != "subscriptions"}), ts)
        subs = view.subscriptions
        g = subs.groupby("customer_id", sort=True, observed=True)
        first = g["start_at"].min()
        has_running = subs["end_at"].isna().groupby(subs["customer_id"], sort=True, observed=True).any()
        last_end = g["end_at"].max()
        churned = ~has_running.reindex(first.index).to_numpy(dtype=bool)
        end = np.where(churned, last_end.reindex(first.index).to_numpy(), np.datetime64(ts, "ns"))
        days = (pd.to_datetime(end) - first.to_numpy()).total_seconds().to_numpy() / 86400.0
        periods = np.maximum(1, np.round(days / _YEAR_DAYS)).astype(np.int64)
        # An active account has survived `floor(days/year)` renewals; a churned one churned in
        # period `round(days/year)` (its last term ended then).
        periods = np.where(churned, periods, np.floor(days / _YEAR_DAYS).astype(np.int64))
        return periods, churned

    # --------------------------------------------------------------------- fit
    def fit(self, tables: CRMTables | Mapping[str, pd.DataFrame], as_of: Any = None) -> CLVModel:
        """Fit on everything known strictly before ``as_of``.

        Parameters
        ----------
        tables : CRMTables or mapping of DataFrames
            Contract tables (a mapping is validated with
            :func:`crmml.data.load_tables`).
        as_of : timestamp-like, optional
            Training cutoff; default: the day after the last transaction
            (non-contractual) or subscription start (contractual).

        Returns
        -------
        CLVModel
            ``self``.
        """
        self._validate_params()
        self._unfit()
        try:
            return self._fit(tables, as_of)
        except BaseException:
            self._unfit()  # a failed fit leaves the model unfitted, never half fitted
            raise
        finally:
            self.__dict__.pop("_train_features", None)

    def _fit(self, tables: CRMTables | Mapping[str, pd.DataFrame], as_of: Any) -> CLVModel:
        t = as_tables(tables)
        self._require_tables(t, "fit")
        report = ExclusionReport()
        if as_of is None:
            as_of = default_as_of(t, sources=self.as_of_sources(), report=report)
        ts = to_timestamp(as_of)
        if self.business == "contractual":
            self._fit_contractual(t, ts, report)
        else:
            self._fit_noncontractual(t, ts, report)
        self.as_of_ = ts
        self.exclusions_ = report.to_dict()
        train_scores = self.predict_features(self._train_features)
        clv = train_scores["clv"].to_numpy()
        if not np.isfinite(clv).all():
            fitted = {k: f"{v:.4g}" for k, v in self.parameters().items() if k != "champion_threshold"}
            raise ConvergenceError(
                f"CLVModel.fit found degenerate parameters {fitted}: the CLV of "
                f"{int((~np.isfinite(clv)).sum()):,} of {len(clv):,} training customers is not a finite number, "
                "so the model was not kept. This happens with little data or almost no heterogeneity between "
                "customers; set a small penalizer (e.g. penalizer=0.001) or use more history."
            )
        self.champion_threshold_ = float(np.quantile(clv, self.champion_quantile)) if len(clv) else math.inf
        self._check_learned()
        # the population at as_of, built (build_features) and scored (predict_features == score) as a batch does
        self.drift_reference_ = None if not len(train_scores) else reference_from(
            self._train_features, train_scores, score_columns=DRIFT_SCORE_COLUMNS, as_of=ts, entity="customer_id")
        return self

    def _check_learned(self) -> None:
        """Every learned number is finite (``champion_threshold_`` may be +inf: nobody to rank)."""
        values = {k: v for k, v in self.parameters().items() if k != "champion_threshold"}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad or math.isnan(self.champion_threshold_):
            raise ConvergenceError(
                f"CLVModel.fit produced non-finite learned values {bad or {'champion_threshold': 'nan'}}; "
                "the model was not kept. Check the transactions for extreme amounts or costs, or set "
                "penalizer > 0 or a fixed margin."
            )

    def _fit_noncontractual(self, t: CRMTables, ts: pd.Timestamp, report: ExclusionReport) -> None:
        feats = self.build_features(t, ts, report=report)
        if len(feats) == 0:
            raise DataContractError(
                [Problem("transactions", "ts", f"at least one purchase before as_of={ts}",
                         hint="choose a later as_of or check the transactions table")],
                context="CLVModel.fit",
            )
        summary = feats.set_index("customer_id")
        repeat = summary["frequency"] > 0
        bad_value = repeat & ~(summary["monetary_value"] > 0)
        report.add("customers", "repeat buyer whose repeat purchases are all of amount 0: left out of the "
                   "spend-model fit only (still scored, with the population's mean spend)",
                   int(bad_value.sum()), summary.index[bad_value][:3], unit="fit-only")
        if not bool((repeat & ~bad_value).any()):
            raise DataContractError(
                [Problem("transactions", None,
                         f"at least one customer with purchases in two different {_PERIOD_WORDS[self.freq]} "
                         f"before as_of={ts.date()} (got {len(summary):,} customer(s), none of whom bought again "
                         "with a positive amount); the purchase and spend models learn from repeat purchases",
                         hint="use a later as_of or a longer transaction history, or freq='D' if you use 'W'")],
                context="CLVModel.fit",
            )
        tm = _TRANSACTION_MODELS[self.transaction_model](penalizer=self.penalizer)
        tm.fit(summary[["frequency", "recency", "T"]])
        gg = GammaGammaModel(penalizer=self.penalizer)
        gg.fit(summary.loc[repeat & ~bad_value, ["frequency", "monetary_value"]])
        self.transaction_model_ = tm
        self.spend_model_ = gg
        self.margin_ = self._population_margin(t, ts)
        self.n_customers_ = int(len(summary))
        self._train_features = feats

    def _population_margin(self, t: CRMTables, ts: pd.Timestamp) -> float:
        if self.margin is not None:
            return float(self.margin)
        tx = t.transactions
        if tx is None or "cost" not in tx.columns:
            return 1.0
        sel = (tx["ts"] < ts) & (tx["amount"] > 0) & tx["cost"].notna()
        amount = float(tx.loc[sel, "amount"].sum())
        return 1.0 if amount <= 0 else float(1.0 - tx.loc[sel, "cost"].sum() / amount)

    def _fit_contractual(self, t: CRMTables, ts: pd.Timestamp, report: ExclusionReport) -> None:
        periods, churned = self._contractual_training(t, ts)
        if len(periods) == 0:
            raise DataContractError(
                [Problem("subscriptions", "start_at", f"at least one subscription starting before as_of={ts}",
                         hint="choose a later as_of or check the subscriptions table")],
                context="CLVModel.fit",
            )
        sbg = ShiftedBetaGeometricModel(penalizer=self.penalizer)
        sbg.fit_customers(periods, churned)
        self.transaction_model_ = sbg
        self.spend_model_ = None
        self.margin_ = float(self.margin) if self.margin is not None else 1.0
        feats = self.build_features(t, ts, report=report)
        self.n_customers_ = int(len(periods))
        self._train_features = feats

    # ----------------------------------------------------------------- predict
    def _check_features(self, features: pd.DataFrame) -> tuple[pd.Index, dict[str, np.ndarray]]:
        """Read every feature column once: the id index and float64 arrays (numeric dtypes enforced)."""
        expected = _CONTRACTUAL_FEATURES if self.business == "contractual" else _NONCONTRACTUAL_FEATURES
        if not isinstance(features, pd.DataFrame):
            raise TypeError(f"CLVModel.predict_features expects a pandas DataFrame, got {type(features).__name__}.")
        frame = features
        if "customer_id" not in frame.columns and frame.index.name == "customer_id":
            frame = frame.reset_index()
        if frame.attrs:  # a frame carrying attrs (older crmml, user code): pandas deep-copies them on every access
            frame = frame.copy(deep=False)
            frame.attrs = {}
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            raise DataContractError(
                [Problem("features", c, "column required by the CLV model",
                         hint="build the frame with CLVModel.build_features") for c in missing],
                context="CLVModel.predict_features",
            )
        ids = frame["customer_id"]
        if not pd.api.types.is_string_dtype(ids.dtype) or ids.hasnans:
            ids = ids.astype(str)
        index = pd.Index(ids.to_numpy(), name="customer_id", copy=False)
        arrays: dict[str, np.ndarray] = {}
        problems = []
        for c in expected:
            if c == "customer_id":
                continue
            col = frame[c]
            if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
                col = pd.to_numeric(col, errors="coerce")
            v = col.to_numpy(dtype="float64", na_value=np.nan)
            arrays[c] = v
            if c in ("margin_rate", "monetary_value"):
                continue  # missing means unknown: the model falls back to population values
            bad = ~np.isfinite(v) | (v < 0)
            if bad.any():
                problems.append(Problem("features", c, "finite number >= 0", int(bad.sum()),
                                        examples_of(index[bad])))
        if problems:
            raise DataContractError(problems, context="CLVModel.predict_features")
        return index, arrays

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Score a feature frame (from :meth:`build_features`).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``: ``probability_alive``,
            ``expected_purchases`` (over the horizon), ``expected_average_value``,
            ``expected_revenue``, ``clv`` (discounted margin over the horizon),
            ``segment`` and ``reason``.
        """
        self._check_fitted("predict_features")
        index, cols = self._check_features(features)
        return self._predict_arrays(index, cols)

    def _predict_arrays(self, index: pd.Index, cols: dict[str, np.ndarray]) -> pd.DataFrame:
        if self.business == "contractual":
            return self._predict_contractual(cols, index)
        return self._predict_noncontractual(cols, index)

    def _steps(self) -> tuple[np.ndarray, float]:
        """Month boundaries (in model periods) over the horizon and the monthly discount rate."""
        n = max(1, int(round(self.horizon_days / _MONTH_DAYS)))
        edges_days = np.linspace(0.0, float(self.horizon_days), n + 1)
        step_years = self.horizon_days / _YEAR_DAYS / n
        rate = (1.0 + self.discount_rate) ** step_years - 1.0
        return edges_days / _DAYS_PER_PERIOD[self.freq], rate

    def _predict_noncontractual(self, frame: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
        s = check_summary_arrays(index, frame["frequency"], frame["recency"], frame["T"],
                                 context="CLVModel.predict_features")
        x, tx, T = s.frequency, s.recency, s.T
        edges, rate = self._steps()
        p_alive, path = self.transaction_model_._alive_and_path(x, tx, T, edges[1:])
        per_step = np.diff(path, axis=1, prepend=0.0)
        mv = frame["monetary_value"]
        usable = np.isfinite(mv) & (mv > 0)
        # customers without a usable repeat spend get the population mean (frequency treated as 0)
        value = self.spend_model_._conditional_mean(np.where(usable, x, 0.0), np.where(usable, mv, 0.0))
        if self.margin is None:
            margin = frame["margin_rate"]
            margin = np.where(np.isfinite(margin), margin, self.margin_)
        else:
            margin = np.full(len(index), self.margin_)
        revenue = per_step * value[:, None]
        clv = discounted_clv(revenue, revenue * (1.0 - margin[:, None]), discount_rate=rate,
                             horizon=per_step.shape[1])
        expected = path[:, -1]
        days_since_last = (T - tx) * _DAYS_PER_PERIOD[self.freq]
        return self._outputs(index, p_alive, expected, value, expected * value, np.asarray(clv, dtype="float64"),
                             x, days_since_last)

    def _predict_contractual(self, frame: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
        sbg = self.transaction_model_
        n = frame["tenure_periods"]
        years = max(1, int(math.ceil(self.horizon_days / _YEAR_DAYS - 1e-9)))
        mrr = frame["monthly_value"]
        margin = frame["margin_rate"]
        margin = np.where(np.isfinite(margin), margin, self.margin_)
        # Period k = 0 is the running term (already contracted); period k >= 1 requires
        # surviving k more renewals: P = S(n + k) / S(n).
        s_n = np.asarray(sbg.survival(n), dtype="float64")
        surv = np.column_stack([np.asarray(sbg.survival(n + k), dtype="float64") / s_n for k in range(years)])
        # the running term (terms restart every TERM_DAYS from start_at: see crmml.features.subscription_features)
        remaining_in_term = np.clip(1.0 - frame["days_into_term"] / TERM_DAYS, 0.0, 1.0)
        weight = np.ones((len(n), years))
        weight[:, 0] = remaining_in_term
        revenue = 12.0 * mrr[:, None] * weight * surv
        clv = discounted_clv(revenue, revenue * (1.0 - margin[:, None]), discount_rate=self.discount_rate,
                             horizon=years)
        # discounted_clv discounts period 1 by (1+d); the running term is not discounted.
        clv = np.asarray(clv, dtype="float64") * (1.0 + self.discount_rate)
        p_renew = np.asarray(sbg.survival(n + 1), dtype="float64") / s_n
        expected = surv[:, 1:].sum(axis=1) if years > 1 else np.zeros(len(n))
        return self._outputs(index, p_renew, expected, 12.0 * mrr, revenue.sum(axis=1), clv, n,
                             frame["days_into_term"])

    def _outputs(self, index: pd.Index, p_alive: np.ndarray, expected: np.ndarray, value: np.ndarray,
                 revenue: np.ndarray, clv: np.ndarray, frequency: np.ndarray,
                 days_since_last: np.ndarray) -> pd.DataFrame:
        """Assemble the output frame once (no per-column pandas work: single-customer latency)."""
        threshold = getattr(self, "champion_threshold_", math.inf)
        codes = segment_codes(clv, p_alive, frequency, champion_threshold=threshold,
                              alive_threshold=self.alive_threshold, loyal_min_frequency=self.loyal_min_frequency)
        reasons = segment_reasons(codes, clv, p_alive, frequency, days_since_last, expected,
                                  horizon_days=self.horizon_days, alive_threshold=self.alive_threshold,
                                  champion_quantile=self.champion_quantile,
                                  contractual=self.business == "contractual")
        return pd.DataFrame({
            "probability_alive": p_alive,
            "expected_purchases": expected,
            "expected_average_value": value,
            "expected_revenue": revenue,
            "clv": clv,
            "segment": _SEGMENT_ARRAY[codes],
            "reason": reasons,
        }, index=index, copy=False)

    def score(self, tables: CRMTables | Mapping[str, pd.DataFrame], as_of: Any, *,
              report: ExclusionReport | None = None) -> pd.DataFrame:
        """Score every customer as of ``as_of`` (features + model).

        Parameters
        ----------
        tables : CRMTables or mapping of DataFrames
        as_of : timestamp-like
        report : ExclusionReport, optional
            Receives every row the feature pipeline leaves out and every
            customer of the population who gets no row, with the reason
            (``unit="entities"``). Without it they are only logged at INFO level.

        Returns
        -------
        pandas.DataFrame
            See :meth:`predict_features` (no ``attrs``).

        Examples
        --------
        >>> from crmml.data import ExclusionReport
        >>> report = ExclusionReport()
        >>> scores = model.score(tables, as_of="2025-07-01", report=report)   # doctest: +SKIP
        >>> report.to_frame()                                                  # doctest: +SKIP
        """
        self._check_fitted("score")
        report = report if report is not None else ExclusionReport()
        # the same feature code as build_features, without the frame in between
        index, cols = self._feature_arrays(as_tables(tables), to_timestamp(as_of), report)
        return self._predict_arrays(index.astype(str).rename("customer_id"), cols)

    # ------------------------------------------------------------- describing
    def feature_schema(self) -> dict[str, str]:
        return dict(_CONTRACTUAL_FEATURES if self.business == "contractual" else _NONCONTRACTUAL_FEATURES)

    def output_schema(self) -> dict[str, str]:
        return dict(_OUTPUTS)

    def input_example(self) -> pd.DataFrame:
        """A made-up one-row feature frame (no real customer) for MLflow's model signature."""
        if self.business == "contractual":
            row = {"customer_id": "example", "tenure_periods": 2.0, "days_into_term": 100.0,
                   "monthly_value": 1000.0, "margin_rate": 0.5}
        else:
            row = {"customer_id": "example", "frequency": 3.0, "recency": 200.0, "T": 300.0,
                   "monetary_value": 50.0, "margin_rate": 0.3}
        return pd.DataFrame([row])

    def parameters(self) -> dict[str, float]:
        """Fitted parameters of the sub-models, flat (``bgnbd.r``, ``gg.p`` ...)."""
        self._check_fitted("parameters")
        out = {f"{self._tm_key()}.{k}": float(v) for k, v in self.transaction_model_.params_.items()}
        if self.spend_model_ is not None:
            out.update({f"gamma_gamma.{k}": float(v) for k, v in self.spend_model_.params_.items()})
        out["margin"] = self.margin_
        out["champion_threshold"] = self.champion_threshold_
        return out

    def _tm_key(self) -> str:
        return "sbg" if self.business == "contractual" else self.transaction_model

    def model_card(self) -> dict[str, Any]:
        self._check_fitted("model_card")
        if self.business == "contractual":
            summary = ("Contractual CLV: a shifted-beta-geometric model of annual renewals (Fader & Hardie 2007) "
                       "gives each account's survival over the horizon; CLV is the discounted expected contract "
                       "margin, the running term counted undiscounted.")
        else:
            summary = (f"Non-contractual CLV: {'BG/NBD' if self.transaction_model == 'bgnbd' else 'Pareto/NBD'} "
                       "purchase model and Gamma-Gamma spend model (Fader, Hardie & Lee 2005) on the RFM summary; "
                       f"CLV = Σ_t (revenue_t − cost_t)/(1+d)^t over {self.horizon_days:g} days in monthly steps, "
                       f"annual discount rate {self.discount_rate:g}.")
        return {
            "title": f"crmml CLV ({self.business})",
            "summary": summary,
            "intended_use": ("Rank and segment existing customers by expected future value (Champions, Loyal, "
                             "Potential, At risk) to plan retention budgets and campaigns; aggregate expected "
                             "revenue for planning. Not for individual credit or eligibility decisions."),
            "parameters": self.parameters(),
            "outputs": {
                "probability_alive": "P(customer still active) at as_of (contractual: P(renew at next renewal))",
                "expected_purchases": f"expected purchases in the next {self.horizon_days:g} days "
                                      "(contractual: expected renewals)",
                "expected_average_value": "expected value per purchase (contractual: annual contract value)",
                "expected_revenue": "expected revenue over the horizon, undiscounted",
                "clv": "discounted expected margin over the horizon",
                "segment": "Champions / Loyal / Potential / At risk (rule in crmml.clv._segments)",
                "reason": "why the customer is in its segment",
            },
            "limits": [
                "Stationary purchase and spend processes: promotions, seasonality and price changes are not modelled.",
                "BG/NBD gives every customer without a repeat purchase P(alive)=1 (a known property of the model).",
                "Spend is assumed independent of purchase frequency (Gamma-Gamma).",
                "Customers with no purchase before as_of have no RFM history and are not scored (counted).",
                "Contractual mode uses tenure only (no covariates); account-level churn risk is the churn model's job.",
            ],
        }

    # ------------------------------------------------------------ persistence
    # Payloads written before schema_version existed have the same layout: version 1.
    _legacy_schema_version: ClassVar[int | None] = 1
    _state_keys: ClassVar[tuple[str, ...]] = (
        "transaction_model", "spend_model", "margin", "champion_threshold", "as_of", "n_customers", "exclusions")

    def _state_to_dict(self) -> dict[str, Any]:
        """Fitted state as JSON-ready data (every number finite; see :meth:`to_dict`).

        ``champion_threshold`` is ``None`` when the training population was
        empty (nobody can be a Champion), never ``inf``.
        """
        thr = self.champion_threshold_
        return {
            "transaction_model": self.transaction_model_.to_dict(),
            "spend_model": None if self.spend_model_ is None else self.spend_model_.to_dict(),
            "margin": self.margin_,
            "champion_threshold": thr if math.isfinite(thr) else None,
            "as_of": self.as_of_.isoformat(),
            "n_customers": self.n_customers_,
            "exclusions": self.exclusions_,
        }

    def _state_from_payload(self, p: Payload, version: int) -> None:
        """Read the fitted state, checking every field (see :meth:`from_dict`)."""
        contractual = self.business == "contractual"
        tm_cls = ShiftedBetaGeometricModel if contractual else _TRANSACTION_MODELS[self.transaction_model]
        self.transaction_model_ = tm_cls.from_dict(p.mapping("transaction_model"))
        spend = p.mapping("spend_model", nullable=contractual)
        if contractual and spend is not None:
            raise p.error("spend_model", "null for a contractual model", spend.data)
        self.spend_model_ = None if spend is None else GammaGammaModel.from_dict(spend)
        # the learned margin is 1 - cost/revenue: negative when costs exceed revenue
        self.margin_ = p.finite_float("margin", high=1.0) if self.margin is None else \
            p.finite_float("margin", low=self.margin, high=self.margin)
        thr = p.finite_float("champion_threshold", nullable=True)
        self.champion_threshold_ = math.inf if thr is None else thr
        self.as_of_ = _read_timestamp(p, "as_of")
        self.n_customers_ = p.int_in("n_customers", low=0)
        self.exclusions_ = read_exclusion_counts(p)

    def _artifact_metadata(self) -> dict[str, str]:
        return {"business": self.business, "as_of": self.as_of_.isoformat()}


def _check_finite(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> None:
    """Refuse ±inf in money columns of tables that bypassed :func:`~crmml.data.load_tables`."""
    if frame is None:
        return
    table = next((n for n in ("transactions", "subscriptions") if set(columns) <= set(TABLES[n].column_names)), "?")
    problems = []
    for c in columns:
        if c not in frame.columns:
            continue
        v = frame[c].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isinf(v)
        if bad.any():
            key = TABLES[table].key if table in TABLES else None
            ex = frame.loc[bad, key] if key in frame.columns else frame.index[bad]
            problems.append(Problem(table, c, "must be a finite number (got ±inf)", int(bad.sum()), examples_of(ex),
                                    hint="fix the export; load tables with crmml.load_tables, which refuses them"))
    if problems:
        raise DataContractError(problems, context="CLVModel")


def _report_unscored_buyers(t: CRMTables, ts: pd.Timestamp, scored: pd.Index, report: ExclusionReport) -> None:
    """Report every customer of the population who gets no CLV row, with the reason.

    The population is the ``customers`` table's customers who signed up
    before ``as_of`` (when the table is supplied), else every customer with a
    transaction before ``as_of``. A row needs at least one purchase
    (``amount >= 0``) before ``as_of``. (Customer ids in ``transactions`` but
    not in ``customers`` are reported by :func:`~crmml.features.rfm_arrays`.)
    Scored customers are always part of the population, so equal counts mean
    nobody is missing: the common case costs two array operations.
    """
    tx = t.transactions
    cut = np.datetime64(ts, "ns")
    before = tx["ts"].to_numpy(dtype="datetime64[ns]") < cut
    ids = tx["customer_id"].to_numpy(dtype=object)[before]
    if t.customers is not None:
        cust = t.customers
        universe_ids = cust["customer_id"].to_numpy(dtype=object)[
            cust["signup_at"].to_numpy(dtype="datetime64[ns]") < cut]
        if len(universe_ids) == len(scored):
            return
        universe = pd.Index(universe_ids)
    else:
        universe = pd.Index(pd.unique(ids[pd.notna(ids)]))
        if len(universe) == len(scored):
            return
    missing = universe.difference(pd.Index(scored.to_numpy(dtype=object)))
    if not len(missing):
        return
    amount = tx["amount"].to_numpy(dtype="float64", na_value=np.nan)[before]
    has_tx = pd.Index(pd.unique(ids[pd.notna(ids)]))
    has_buy = pd.Index(pd.unique(ids[pd.notna(ids) & (amount >= 0)]))
    no_tx = missing.difference(has_tx)
    refunds_only = missing.intersection(has_tx).difference(has_buy)
    other = missing.difference(no_tx).difference(refunds_only)
    report.add_entities("customers", "no purchase before as_of (nothing to project from; not scored)", no_tx)
    report.add_entities("customers", "only refunds or missing amounts before as_of (no purchase; not scored)",
                        refunds_only)
    report.add_entities("customers", "purchases only before the customer's signup_at (excluded; not scored)", other)


def _read_timestamp(p: Payload, key: str) -> pd.Timestamp:
    """An ISO 8601 timestamp field of an artifact."""
    text = p.str_in(key, max_length=64)
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts) or ts.tzinfo is not None:
        raise p.error(key, "a naive ISO 8601 timestamp such as '2025-07-01T00:00:00'", text)
    return ts


