"""Timing on the spine: P(event within d days) as one binary model, monotone in d.

A model package that must say *when* an event happens (the forecast: a deal
won by the end of the quarter, closed by its expected date) does not need a
second kind of learner. Each training row (entity, cutoff) is repeated for a
grid of look-ahead days ``d`` with the label "the event happened in
``[cutoff, cutoff + d)``" and ``d`` as a feature (:func:`expand_over_horizons`);
the spine's :class:`~crmml.supervised.BinaryOutcomeModel`, trained with a
monotone-increasing constraint on ``d`` and calibrated with a monotone
calibrator, then gives the cumulative distribution ``F(d | x)`` of the event
time: non-decreasing in ``d`` by construction, and ``F(horizon | x)`` is the
probability that the event happens within the horizon
(:func:`horizon_curve` evaluates it on many ``d`` at once).

Every ``d`` is at most the training set's horizon, whose label window is over
by ``as_of`` at every cutoff, so no row is censored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmml.exceptions import ParameterError
from crmml.supervised._training_set import CUTOFF, TrainingSet

__all__ = ["DAYS_AHEAD", "expand_over_horizons", "horizon_curve", "horizon_curve_row"]

DAYS_AHEAD = "days_ahead"
"""The look-ahead feature of an expanded training set (days after the cutoff)."""


def _grid(horizons: Sequence[float], limit: float, owner: str) -> np.ndarray:
    d = np.asarray(horizons, dtype=np.float64)
    if d.ndim != 1 or d.size == 0 or not np.isfinite(d).all() or (d <= 0).any() or (d > limit).any() \
            or np.unique(d).size != d.size:
        raise ParameterError(f"The 'horizons' parameter of {owner} must be distinct days in (0, {limit:g}]. "
                             f"Got {list(horizons)!r} instead.")
    return np.sort(d)


def expand_over_horizons(tset: TrainingSet, event_days: np.ndarray, horizons: Sequence[float], *,
                         label: str | None = None) -> TrainingSet:
    """Repeat every row for each look-ahead ``d`` with the label "event within ``d`` days".

    Parameters
    ----------
    tset : TrainingSet
        One row per (entity, cutoff); its label is ignored.
    event_days : array of float
        Per row of ``tset.frame``: days from the cutoff to the event, NaN when
        it did not happen within the horizon (or not at all).
    horizons : sequence of float
        The grid of ``d`` (days, each at most ``tset.horizon_days``).
    label : str, optional
        Name of the new label column (default: the training set's label).

    Returns
    -------
    TrainingSet
        ``len(horizons)`` rows per input row, with the feature
        :data:`DAYS_AHEAD` (a row key) and the label ``event_days < d``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crmml.supervised import TrainingSet
    >>> f = pd.DataFrame({"id": ["a", "b"], "cutoff": pd.to_datetime(["2024-01-01"] * 2),
    ...                   "x": [1.0, 2.0], "won": [1, 0]})
    >>> t = TrainingSet.from_frame(f, entity="id", label="won", horizon_days=60, as_of="2024-06-01")
    >>> e = expand_over_horizons(t, np.array([20.0, np.nan]), [10, 30, 60])
    >>> e.frame[["id", "days_ahead", "won"]].values.tolist()
    [['a', 10.0, 0], ['a', 30.0, 1], ['a', 60.0, 1], ['b', 10.0, 0], ['b', 30.0, 0], ['b', 60.0, 0]]
    """
    grid = _grid(horizons, float(tset.horizon_days), "expand_over_horizons")
    ev = np.asarray(event_days, dtype=np.float64)
    frame = tset.frame
    if ev.shape != (len(frame),):
        raise ParameterError(f"The 'event_days' parameter of expand_over_horizons must hold one value per training "
                             f"row ({len(frame):,}). Got shape {ev.shape} instead.")
    if DAYS_AHEAD in frame.columns:
        raise ParameterError(f"expand_over_horizons: the training set already has a {DAYS_AHEAD!r} column.")
    name = label or tset.label
    k = grid.size
    rows = np.repeat(np.arange(len(frame)), k)
    d = np.tile(grid, len(frame))
    out = frame.drop(columns=[tset.label]).iloc[rows].reset_index(drop=True)
    out[DAYS_AHEAD] = d
    with np.errstate(invalid="ignore"):
        out[name] = (ev[rows] < d).astype(np.int64)
    out = out.sort_values([CUTOFF, tset.entity, DAYS_AHEAD], kind="stable").reset_index(drop=True)
    return TrainingSet(out, tset.entity, name, tset.horizon_days, tset.as_of, tset.cutoffs, tset.exclusions,
                       row_keys=(DAYS_AHEAD,))


def horizon_curve(model: object, frame: pd.DataFrame, days: Sequence[float] | np.ndarray, *,
                  num_threads: int | None = None) -> np.ndarray:
    """Calibrated P(event within ``d`` days) of every row of ``frame`` at each ``d``.

    Parameters
    ----------
    model : BinaryOutcomeModel
        Fitted on an :func:`expand_over_horizons` training set.
    frame : DataFrame
        Feature rows (``DAYS_AHEAD`` is set here; any value present is ignored).
    days : sequence of float, or 2-D array
        The ``d`` to evaluate: one grid for every row (1-D, ``k`` values), or
        one row of ``k`` values per frame row (2-D).

    Returns
    -------
    ndarray, shape (len(frame), k)
        Non-decreasing along each row wherever ``days`` is (the model is
        monotone in ``d``; ``np.maximum.accumulate`` removes rounding noise).
    """
    d = np.asarray(days, dtype=np.float64)
    n = len(frame)
    grid = np.broadcast_to(d, (n, d.size)) if d.ndim == 1 else d
    if grid.shape[0] != n:
        raise ParameterError(f"horizon_curve: 'days' has {grid.shape[0]} rows for {n} frame rows.")
    k = grid.shape[1]
    spec = model.spec_  # type: ignore[attr-defined]
    base = frame.drop(columns=[DAYS_AHEAD], errors="ignore").assign(**{DAYS_AHEAD: 0.0})
    X = spec.transform(base)
    col = spec.index(DAYS_AHEAD)
    out = np.empty((n, k), dtype=np.float64)
    for j in range(k):
        X[:, col] = grid[:, j]
        out[:, j] = model.predict_proba(X, num_threads=num_threads)  # type: ignore[attr-defined]
    order = np.argsort(grid, axis=1, kind="stable")
    sorted_p = np.take_along_axis(out, order, axis=1)
    np.maximum.accumulate(sorted_p, axis=1, out=sorted_p)
    np.put_along_axis(out, order, sorted_p, axis=1)
    return out


def horizon_curve_row(model: object, row: Mapping[str, Any], days: Sequence[float] | np.ndarray) -> np.ndarray:
    """:func:`horizon_curve` of one row given as a mapping (no pandas; one thread) — the in-process path."""
    d = np.asarray(days, dtype=np.float64).ravel()
    spec = model.spec_  # type: ignore[attr-defined]
    x = spec.transform_row({**row, DAYS_AHEAD: 0.0})
    X = np.repeat(x, d.size, axis=0)
    X[:, spec.index(DAYS_AHEAD)] = d
    p = model.predict_proba(X, num_threads=1)  # type: ignore[attr-defined]
    order = np.argsort(d, kind="stable")
    p[order] = np.maximum.accumulate(p[order])
    return p
