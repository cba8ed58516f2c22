"""Backtest of the period forecast: refit at each origin on what was known then, compare with what was booked.

The intervals' coverage is *earned* here: each cell's simulated quantiles are
corrected by the normalised residuals of the earlier cells whose period had
ended by the cell's origin (split conformal in time order, see
:func:`conformal_quantiles`; the residuals of every period index are pooled),
exactly as a model used every week would learn from its own past forecasts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmml.data import CRMTables, as_tables
from crmml.exceptions import ParameterError
from crmml.features import to_timestamp
from crmml.forecast._bookings import QUANTILES

__all__ = ["BacktestResult", "DECAY_DAYS", "MIN_CALIBRATION_CELLS", "backtest", "calibration_pool",
           "conformal_quantiles", "decay_weights", "pinball_loss", "residuals_of"]

DECAY_DAYS = 730.0
"""Residuals weigh ``exp(-age / DECAY_DAYS)`` (age: days between their period's end and the forecast): under
drift, recent residuals say more. On the benchmark, unweighted pooled residuals covered 0.43–0.48 / 0.76–0.77
with the 50 % / 80 % intervals, weighted with 730 days 0.49–0.51 / 0.78–0.79 (docs/forecast.md)."""
MIN_CALIBRATION_CELLS = 8
"""Earlier cells a correction needs; with fewer the simulated quantiles are used as they are."""
QCOLS = tuple(f"p{int(round(100 * q))}" for q in QUANTILES)


def pinball_loss(actual: np.ndarray, quantiles: np.ndarray, levels: Sequence[float] = QUANTILES) -> np.ndarray:
    """Mean pinball (quantile) loss over ``levels`` per row (``quantiles``: rows × levels)."""
    y = np.asarray(actual, dtype=np.float64)[:, None]
    q = np.asarray(quantiles, dtype=np.float64)
    a = np.asarray(levels, dtype=np.float64)[None, :]
    diff = y - q
    return np.mean(np.maximum(a * diff, (a - 1.0) * diff), axis=1)


def conformal_quantiles(raw: np.ndarray, residuals: np.ndarray, levels: Sequence[float] = QUANTILES,
                        weights: np.ndarray | None = None) -> np.ndarray:
    """Quantiles corrected by earlier normalised residuals (weighted split conformal).

    With ``m = p50`` and ``w = p90 - p10`` of the simulation, an earlier
    cell's residual is ``r = (actual - m) / w``; the corrected quantile at
    level ``a`` is ``m + Q_a(r) · w``, ``Q_a`` the conformal quantile of the
    earlier residuals with ``weights`` and a unit weight for the new cell
    (Barber, Candès, Ramdas & Tibshirani 2023, "Conformal prediction beyond
    exchangeability"): for ``a ≥ 0.5`` the smallest residual whose cumulative
    weight reaches ``a · (Σw + 1)``, for ``a < 0.5`` the largest whose weight
    counted from the top reaches ``(1 − a) · (Σw + 1)`` — clipped to the most
    extreme residual when the weights do not reach that far. Unit weights give
    the usual rule: the ⌈(n + 1)·a⌉-th smallest, or the ⌊(n + 1)·a⌋-th.

    Parameters
    ----------
    raw : ndarray, shape (n_cells, 5)
        Simulated ``p10, p25, p50, p75, p90``.
    residuals : ndarray
        Normalised residuals of the earlier cells (at least
        :data:`MIN_CALIBRATION_CELLS`).
    weights : ndarray, optional
        One per residual (e.g. :func:`decay_weights` of their age); default 1.
    """
    r = np.asarray(residuals, dtype=np.float64)
    wt = np.ones(r.size) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(r) & np.isfinite(wt) & (wt > 0)
    order = np.argsort(r[ok], kind="stable")
    r, wt = r[ok][order], wt[ok][order]
    total = wt.sum() + 1.0
    up, down = np.cumsum(wt), np.cumsum(wt[::-1])
    m = raw[:, 2:3]
    w = np.maximum(raw[:, 4:5] - raw[:, 0:1], 1e-9 * np.maximum(np.abs(m), 1.0))
    qs = []
    for a in levels:
        if a >= 0.5:
            k = int(np.searchsorted(up, a * total - 1e-12))
            qs.append(r[min(k, r.size - 1)])
        else:
            k = int(np.searchsorted(down, (1.0 - a) * total - 1e-12))
            qs.append(r[::-1][min(k, r.size - 1)])
    out = m + np.asarray(qs)[None, :] * w
    return np.maximum.accumulate(out, axis=1)


def decay_weights(age_days: np.ndarray, decay_days: float | None) -> np.ndarray | None:
    """``exp(-age / decay_days)`` per residual (None without decay): older residuals count less under drift."""
    if decay_days is None:
        return None
    return np.exp(-np.maximum(np.asarray(age_days, dtype=np.float64), 0.0) / float(decay_days))


def calibration_pool(residuals: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """The residuals that correct a cell: every known one (whatever its period index), or None below
    :data:`MIN_CALIBRATION_CELLS`.

    Pooling the period indices keeps the pool recent: the residuals of the next period are known only
    once that period has ended, half a year after its origin for quarters, and on the benchmark a pool
    of those alone covered 65–73 % with the 80 % interval (pooled: 77 %).
    """
    if known.sum() >= MIN_CALIBRATION_CELLS:
        return residuals[known]
    return None


def residuals_of(frame: pd.DataFrame) -> np.ndarray:
    """Normalised residuals ``(actual - p50_raw) / (p90_raw - p10_raw)`` of backtest rows."""
    m = frame["raw_p50"].to_numpy(dtype=np.float64)
    w = frame["raw_p90"].to_numpy(dtype=np.float64) - frame["raw_p10"].to_numpy(dtype=np.float64)
    w = np.maximum(w, 1e-9 * np.maximum(np.abs(m), 1.0))
    return (frame["actual"].to_numpy(dtype=np.float64) - m) / w


@dataclass(frozen=True)
class BacktestResult:
    """Rows per origin × period, and the summary of coverage and errors.

    Attributes
    ----------
    frame : DataFrame
        ``origin``, ``period_start``, ``period_end``, ``period_index`` (0:
        the period holding the origin), ``expected``, ``p10`` … ``p90``
        (corrected when at least :data:`MIN_CALIBRATION_CELLS` earlier cells
        had ended; ``corrected`` says which), ``raw_p10`` … ``raw_p90``,
        ``stage_weighted``, ``actual``, ``ape_model`` / ``ape_baseline``
        (|p50 − actual| / actual and |stage_weighted − actual| / actual),
        ``pinball_model`` / ``pinball_baseline`` (mean over the five levels;
        the baseline's point is used at every level).
    """

    frame: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """Coverage of the 50 % and 80 % intervals, median APE and pinball loss, model vs baseline."""
        f = self.frame
        c = f.loc[f["corrected"]] if f["corrected"].any() else f.iloc[0:0]
        out: dict[str, Any] = {"cells": int(len(f)), "corrected_cells": int(len(c))}
        for name, part in (("", c), ("raw_", f)):
            lo50, hi50, lo80, hi80 = ((f"{name}p25", f"{name}p75", f"{name}p10", f"{name}p90")
                                      if name else ("p25", "p75", "p10", "p90"))
            y = part["actual"]
            out[f"{name}coverage_50"] = float(((part[lo50] <= y) & (y <= part[hi50])).mean()) if len(part) else None
            out[f"{name}coverage_80"] = float(((part[lo80] <= y) & (y <= part[hi80])).mean()) if len(part) else None
        out["mdape_model"] = float(np.nanmedian(f["ape_model"])) if len(f) else None
        out["mdape_baseline"] = float(np.nanmedian(f["ape_baseline"])) if len(f) else None
        out["pinball_model"] = float(f["pinball_model"].mean()) if len(f) else None
        out["pinball_baseline"] = float(f["pinball_baseline"].mean()) if len(f) else None
        return out


def backtest(tables: CRMTables | Mapping[str, pd.DataFrame] | str, origins: Iterable[Any], *,
             period: str = "quarter", periods: int = 2, data_end: Any = None, progress: bool = False,
             **model_params: Any) -> BacktestResult:
    """Replay the forecast from each origin, each model trained only on what was known then.

    Parameters
    ----------
    tables : CRMTables, mapping or folder
        The full history.
    origins : iterable of time-like
        Forecast dates, in any order (run oldest first).
    period : {"quarter", "month"}
    periods : int, default=2
    data_end : time-like, optional
        When the data stop (default: the latest ``opportunity_history`` or
        ``opportunities`` time); a period ending after it has no ``actual``
        and is left out.
    progress : bool
        A tqdm progress bar over the origins.
    **model_params
        Passed to :class:`PipelineForecastModel` (``period`` is set here;
        ``interval_origins`` is 0: the backtest corrects its intervals itself,
        in time order).

    Returns
    -------
    BacktestResult
    """
    from crmml.forecast._model import PipelineForecastModel

    decay = model_params.get("interval_decay_days", DECAY_DAYS)
    if model_params.get("interval_origins", 0):
        raise ParameterError("backtest: 'interval_origins' must be 0 (or left out) — each origin's intervals are "
                             "corrected by the residuals of the earlier origins in this backtest. Got "
                             f"{model_params['interval_origins']!r} instead.")
    params = {**model_params, "period": period, "interval_origins": 0}
    t = as_tables(tables)
    stamps = sorted({to_timestamp(o, "origins") for o in origins})
    if not stamps:
        raise ParameterError("The 'origins' parameter of backtest must hold at least one date. Got none.")
    end = to_timestamp(data_end, "data_end") if data_end is not None else _data_end(t)
    opps = t.opportunities
    won = opps["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    closed = opps["closed_at"]
    amount = np.nan_to_num(opps["amount"].to_numpy(dtype=np.float64, na_value=np.nan))
    rows: list[dict[str, Any]] = []
    it: Iterable[pd.Timestamp] = stamps
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(stamps, desc="backtest origins", unit="origin")
    for o in it:
        model = PipelineForecastModel(**params).fit(t, o)
        fc = model.forecast(t, o, periods=periods)
        for k, r in enumerate(fc.itertuples(index=False)):
            if r.period_end > end:
                continue
            sel = won & ((closed >= r.period_start) & (closed < r.period_end)).to_numpy(dtype=bool, na_value=False)
            rows.append({"origin": o, "period_start": r.period_start, "period_end": r.period_end, "period_index": k,
                         "expected": r.expected, **{f"raw_{q}": getattr(r, q) for q in QCOLS},
                         "stage_weighted": r.stage_weighted, "actual": float(amount[sel].sum())})
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ParameterError(f"backtest: no origin × period ended by the end of the data ({end.date()}); use earlier "
                             "origins or fewer periods.")
    return BacktestResult(_finish(frame, decay_days=decay))


def _finish(frame: pd.DataFrame, pooling: str = "time", decay_days: float | None = DECAY_DAYS) -> pd.DataFrame:
    """Conformal correction, then the errors.

    ``pooling="time"``: each cell is corrected by the cells whose period had
    ended by its origin (what a model used every week would have known).
    ``"other_origins"``: by the cells of every other origin (cross-conformal)
    — for the backtest run at fit, whose cells all end by ``as_of`` but whose
    origins are too close together for the time order to correct any of them;
    it estimates the coverage of the corrected intervals ``forecast`` gives.
    """
    raw = frame[[f"raw_{q}" for q in QCOLS]].to_numpy(dtype=np.float64)
    res = residuals_of(frame)
    out = raw.copy()
    corrected = np.zeros(len(frame), dtype=bool)
    ends = frame["period_end"].to_numpy(dtype="datetime64[ns]")
    origins = frame["origin"].to_numpy(dtype="datetime64[ns]")
    for i, o in enumerate(origins):
        known = ends <= o if pooling == "time" else origins != o
        pool = calibration_pool(res, known)
        if pool is not None:
            age = np.abs((o - ends[known]) / np.timedelta64(1, "D"))
            out[i] = conformal_quantiles(raw[i:i + 1], pool, weights=decay_weights(age, decay_days))[0]
            corrected[i] = True
    for j, q in enumerate(QCOLS):
        frame[q] = out[:, j]
    frame["corrected"] = corrected
    y = frame["actual"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["ape_model"] = np.where(y > 0, np.abs(out[:, 2] - y) / y, np.nan)
        sw = frame["stage_weighted"].to_numpy(dtype=np.float64)
        frame["ape_baseline"] = np.where(y > 0, np.abs(sw - y) / y, np.nan)
    frame["pinball_model"] = pinball_loss(y, out)
    frame["pinball_baseline"] = pinball_loss(y, np.repeat(frame[["stage_weighted"]].to_numpy(), len(QCOLS), axis=1))
    return frame


def _data_end(t: CRMTables) -> pd.Timestamp:
    times = [t.opportunities["created_at"].max(), t.opportunities["closed_at"].max()]
    if t.opportunity_history is not None:
        times.append(t.opportunity_history["ts"].max())
    return pd.Timestamp(max(x for x in times if pd.notna(x)))
