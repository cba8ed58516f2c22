"""Holdout evaluation of a CLV model: calibrate before a date, compare after it."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmml.clv._model import CLVModel, as_tables
from crmml.data import CRMTables
from crmml.exceptions import ParameterError
from crmml.features import to_timestamp

__all__ = ["HoldoutEvaluation", "evaluate_holdout", "evaluate_fitted"]

_PERIOD_DAYS = {"D": 1.0, "W": 7.0}


@dataclass
class HoldoutEvaluation:
    """Predicted vs actual purchases and revenue in a holdout window.

    Attributes
    ----------
    model : CLVModel
        The model fitted on the calibration window (as of ``calibration_end``).
    calibration_end, holdout_end : pandas.Timestamp
        Calibration uses rows before ``calibration_end``; the holdout is
        ``[calibration_end, holdout_end)``.
    per_customer : pandas.DataFrame
        Indexed by ``customer_id``: ``frequency_cal``, ``predicted_purchases``,
        ``actual_purchases`` (distinct purchase periods in the holdout),
        ``predicted_revenue``, ``actual_revenue`` (net of refunds),
        ``probability_alive``.
    by_frequency : pandas.DataFrame
        Mean predicted and actual holdout purchases by calibration frequency
        (0, 1, ..., ``max_bucket``+).
    tracking : pandas.DataFrame
        Cumulative repeat purchases over time, actual and predicted by the
        model's unconditional expectation for each first-purchase cohort.
    metrics : dict
        Aggregate errors (``holdout_purchases_mae``, ``..._rmse``,
        ``holdout_purchases_ratio`` = predicted/actual total, the same for
        revenue, and the correlation of predicted and actual purchases).
    outcomes_sha256 : str
        sha256 of the customers and their actual holdout purchases and
        revenue: two models were compared with the same outcomes exactly when
        it is equal (it identifies rows, reveals none).
    """

    model: CLVModel
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp
    per_customer: pd.DataFrame
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    metrics: dict[str, float] = field(default_factory=dict)
    outcomes_sha256: str = ""

    def summary(self) -> str:
        """One line for progress output: predicted/actual holdout purchases and revenue."""
        m = self.metrics
        return (f"predicted/actual holdout purchases: {m['holdout_purchases_ratio']:.3f}, "
                f"revenue: {m['holdout_revenue_ratio']:.3f}")


def _holdout_actuals(tx: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.DataFrame:
    sel = (tx["ts"] >= start) & (tx["ts"] < end)
    h = tx.loc[sel, ["customer_id", "ts", "amount"]]
    period_days = _PERIOD_DAYS[freq]
    buys = h[h["amount"] > 0]
    period = np.floor((buys["ts"] - start).dt.total_seconds().to_numpy() / 86400.0 / period_days)
    purchases = (pd.DataFrame({"customer_id": buys["customer_id"].to_numpy(), "p": period})
                 .drop_duplicates().groupby("customer_id", observed=True).size())
    revenue = h.groupby("customer_id", observed=True)["amount"].sum()
    return pd.DataFrame({"actual_purchases": purchases, "actual_revenue": revenue})


def _tracking(model: CLVModel, tx: pd.DataFrame, cal_end: pd.Timestamp, hold_end: pd.Timestamp,
              first: pd.Series, n_points: int = 120) -> pd.DataFrame:
    """Actual vs expected cumulative repeat purchases for customers acquired before ``cal_end``."""
    period_days = _PERIOD_DAYS[model.freq]
    start = first.min()
    grid = pd.date_range(start, hold_end, periods=n_points)
    buys = tx[(tx["amount"] > 0) & (tx["ts"] < hold_end) & tx["customer_id"].isin(first.index)]
    per = np.floor((buys["ts"] - start).dt.total_seconds().to_numpy() / 86400.0 / period_days)
    uniq = pd.DataFrame({"c": buys["customer_id"].to_numpy(), "p": per, "ts": buys["ts"].to_numpy()})
    uniq = uniq.sort_values("ts").drop_duplicates(["c", "p"])
    first_period = uniq.groupby("c", observed=True)["p"].transform("min")
    repeat_times = np.sort(uniq.loc[uniq["p"] > first_period, "ts"].to_numpy())
    actual = np.searchsorted(repeat_times, grid.to_numpy(), side="right")
    cohorts = first.value_counts()
    cohort_age = np.array([(g - cohorts.index).total_seconds().to_numpy() / 86400.0 / period_days for g in grid])
    ages = np.clip(cohort_age, 0.0, None)
    flat = np.asarray(model.transaction_model_.expected_purchases_new_customer(ages.ravel()), dtype="float64")
    predicted = (flat.reshape(ages.shape) * cohorts.to_numpy()[None, :]).sum(axis=1)
    return pd.DataFrame({"actual": actual.astype(float), "predicted": predicted},
                        index=pd.DatetimeIndex(grid, name="date"))


def evaluate_holdout(
    tables: CRMTables | Mapping[str, pd.DataFrame],
    calibration_end: Any,
    holdout_end: Any,
    *,
    model: CLVModel | None = None,
    max_bucket: int = 7,
) -> HoldoutEvaluation:
    """Fit on the calibration window and compare predictions with the holdout.

    Parameters
    ----------
    tables : CRMTables or mapping
        Contract tables covering both windows.
    calibration_end : timestamp-like
        The model is fitted as of this date.
    holdout_end : timestamp-like
        End (exclusive) of the holdout window.
    model : CLVModel, optional
        Unfitted configuration to use (default ``CLVModel()``); non-contractual only.
    max_bucket : int
        Last frequency bucket of :attr:`HoldoutEvaluation.by_frequency`.

    Returns
    -------
    HoldoutEvaluation

    Examples
    --------
    >>> ev = evaluate_holdout(tables, "2025-01-01", "2025-07-01")   # doctest: +SKIP
    >>> ev.metrics["holdout_purchases_ratio"]                       # doctest: +SKIP
    """
    t, cal_end, hold_end = _window(tables, calibration_end, holdout_end, "evaluate_holdout")
    base = model if model is not None else CLVModel()
    _check_noncontractual(base, "evaluate_holdout")
    fitted = CLVModel(**base.get_params()).set_params(horizon_days=(hold_end - cal_end).total_seconds() / 86400.0)
    fitted.fit(t, cal_end)
    return _compare(fitted, t, cal_end, hold_end, max_bucket)


def evaluate_fitted(
    model: CLVModel,
    tables: CRMTables | Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    *,
    max_bucket: int = 7,
) -> HoldoutEvaluation:
    """Compare an already fitted model's predictions from ``start`` with what happened in ``[start, end)``.

    The same comparison as :func:`evaluate_holdout`, without fitting: the
    model predicts from the customers' history before ``start`` over the
    window's length (its fitted parameters as they are; ``model`` is not
    changed). A model fitted as of ``start`` or earlier never saw the window;
    one fitted later saw part of it.

    Parameters
    ----------
    model : CLVModel
        A fitted non-contractual model.
    tables : CRMTables or mapping
    start, end : timestamp-like
        The window ``[start, end)``.
    max_bucket : int

    Returns
    -------
    HoldoutEvaluation
        ``model`` is a copy predicting over the window's length.
    """
    t, s, e = _window(tables, start, end, "evaluate_fitted", names=("start", "end"))
    model._check_fitted("evaluate_window")
    _check_noncontractual(model, "evaluate_fitted")
    view = copy.copy(model)  # shares the fitted sub-models; only the prediction horizon differs
    view.horizon_days = (e - s).total_seconds() / 86400.0
    return _compare(view, t, s, e, max_bucket)


def _window(tables: Any, first: Any, last: Any, owner: str, names: tuple[str, str] = ("calibration_end", "holdout_end")
            ) -> tuple[CRMTables, pd.Timestamp, pd.Timestamp]:
    t = as_tables(tables)
    a, b = to_timestamp(first, names[0]), to_timestamp(last, names[1])
    if b <= a:
        raise ParameterError(
            f"The {names[1]!r} parameter of {owner} must be after {names[0]}={a}. Got {b} instead."
        )
    return t, a, b


def _check_noncontractual(model: CLVModel, owner: str) -> None:
    if model.business != "noncontractual":
        raise ParameterError(f"The 'model' parameter of {owner} must be a non-contractual CLVModel. "
                             f"Got business={model.business!r} instead.")


def _compare(fitted: CLVModel, t: CRMTables, cal_end: pd.Timestamp, hold_end: pd.Timestamp,
             max_bucket: int) -> HoldoutEvaluation:
    """Predictions of ``fitted`` from the history before ``cal_end`` against ``[cal_end, hold_end)``."""
    feats = fitted.build_features(t, cal_end)
    pred = fitted.predict_features(feats)
    actual = _holdout_actuals(t.transactions, cal_end, hold_end, fitted.freq)
    per = pd.DataFrame({
        "frequency_cal": feats.set_index("customer_id")["frequency"].reindex(pred.index).to_numpy(),
        "predicted_purchases": pred["expected_purchases"].to_numpy(),
        "predicted_revenue": pred["expected_revenue"].to_numpy(),
        "probability_alive": pred["probability_alive"].to_numpy(),
    }, index=pred.index)
    per = per.join(actual.reindex(per.index).fillna(0.0))
    bucket = np.minimum(per["frequency_cal"].to_numpy(), max_bucket).astype(int)
    by_f = (per.assign(bucket=bucket).groupby("bucket")
            .agg(n=("actual_purchases", "size"), actual=("actual_purchases", "mean"),
                 predicted=("predicted_purchases", "mean")))
    by_f.index = [f"{b}+" if b == max_bucket else str(b) for b in by_f.index]
    by_f.index.name = "frequency_cal"
    first = (t.transactions.loc[(t.transactions["ts"] < cal_end) & (t.transactions["amount"] > 0)]
             .groupby("customer_id", observed=True)["ts"].min())
    first = first[first.index.isin(per.index)]
    period_days = _PERIOD_DAYS[fitted.freq]
    first_period_start = first.min()
    first = first_period_start + pd.to_timedelta(
        np.floor((first - first_period_start).dt.total_seconds() / 86400.0 / period_days) * period_days, unit="D")
    tracking = _tracking(fitted, t.transactions, cal_end, hold_end, first)
    err = per["predicted_purchases"] - per["actual_purchases"]
    act_total = float(per["actual_purchases"].sum())
    rev_total = float(per["actual_revenue"].sum())
    corr = float(np.corrcoef(per["predicted_purchases"], per["actual_purchases"])[0, 1]) if len(per) > 2 else float("nan")
    metrics = {
        "holdout_customers": float(len(per)),
        "holdout_purchases_actual": act_total,
        "holdout_purchases_predicted": float(per["predicted_purchases"].sum()),
        "holdout_purchases_ratio": float(per["predicted_purchases"].sum() / act_total) if act_total else float("nan"),
        "holdout_purchases_mae": float(err.abs().mean()),
        "holdout_purchases_rmse": float(np.sqrt((err ** 2).mean())),
        "holdout_purchases_corr": corr,
        "holdout_revenue_actual": rev_total,
        "holdout_revenue_predicted": float(per["predicted_revenue"].sum()),
        "holdout_revenue_ratio": float(per["predicted_revenue"].sum() / rev_total) if rev_total else float("nan"),
    }
    keys = pd.DataFrame({"customer_id": per.index.astype(str), "purchases": per["actual_purchases"].to_numpy(),
                         "revenue": per["actual_revenue"].to_numpy()})
    digest = hashlib.sha256(pd.util.hash_pandas_object(keys, index=False).to_numpy().tobytes()).hexdigest()
    return HoldoutEvaluation(fitted, cal_end, hold_end, per, by_f, tracking, metrics, digest)
