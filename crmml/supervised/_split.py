"""Time-ordered split of a training set by cutoff, with the horizon as gap.

The **latest** cutoff is held out: it early-stops the booster, fits the
calibrator, freezes capacity tiers and is where the model is evaluated
against the baseline. The model trains on the earlier cutoffs whose label
window is over by the held-out cutoff (``cutoff + horizon <= held-out
cutoff``); cutoffs closer than one horizon to it are left out of training
(their outcomes overlap the held-out period) and reported in
:attr:`TimeSplit.gap_cutoffs`.

The floor
---------
At least one training cutoff, and at least :data:`MIN_CLASS_TRAIN` positives
and negatives in the training cutoffs together and :data:`MIN_CLASS_HOLDOUT`
of each in the held-out cutoff. Below it, :class:`InsufficientDataError`
says how many were found and what to change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmml.exceptions import ParameterError
from crmml.supervised._errors import InsufficientDataError
from crmml.supervised._training_set import CUTOFF, TrainingSet

__all__ = ["MIN_CLASS_TRAIN", "MIN_CLASS_HOLDOUT", "TimeSplit", "split_by_cutoff"]

MIN_CLASS_TRAIN = 50
"""Fewest positives, and fewest negatives, the training cutoffs may hold together."""
MIN_CLASS_HOLDOUT = 25
"""Fewest positives, and fewest negatives, the held-out cutoff may hold."""

_FIX = ("Use more cutoffs (default_cutoffs(as_of, horizon_days, n=...)), a longer history (an earlier first "
        "cutoff), or a shorter horizon")


@dataclass(frozen=True)
class TimeSplit:
    """Which rows of a :class:`TrainingSet` train and which are held out.

    Attributes
    ----------
    train, holdout : numpy.ndarray of bool
        Row masks over ``training_set.frame`` (disjoint; rows of gap cutoffs
        are in neither).
    train_cutoffs : tuple of Timestamp
    holdout_cutoff : Timestamp
    gap_cutoffs : tuple of Timestamp
        Cutoffs left out because their label window overlaps the held-out period.
    n_train, positives_train, n_holdout, positives_holdout : int
    """

    train: np.ndarray
    holdout: np.ndarray
    train_cutoffs: tuple[pd.Timestamp, ...]
    holdout_cutoff: pd.Timestamp
    gap_cutoffs: tuple[pd.Timestamp, ...]
    n_train: int
    positives_train: int
    n_holdout: int
    positives_holdout: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (cutoffs as ISO text, counts)."""
        return {
            "train_cutoffs": [c.isoformat() for c in self.train_cutoffs],
            "holdout_cutoff": self.holdout_cutoff.isoformat(),
            "gap_cutoffs": [c.isoformat() for c in self.gap_cutoffs],
            "n_train": self.n_train, "positives_train": self.positives_train,
            "n_holdout": self.n_holdout, "positives_holdout": self.positives_holdout,
        }


def _days(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _check_floor(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"The {name!r} parameter of split_by_cutoff must be an int >= 1. Got {value!r} instead.")
    return int(value)


def split_by_cutoff(training_set: TrainingSet, *, min_class_train: int = MIN_CLASS_TRAIN,
                    min_class_holdout: int = MIN_CLASS_HOLDOUT) -> TimeSplit:
    """Hold out the latest cutoff; train on earlier cutoffs at least one horizon before it.

    Parameters
    ----------
    training_set : TrainingSet
    min_class_train, min_class_holdout : int
        The floor (see the module docstring).

    Returns
    -------
    TimeSplit

    Raises
    ------
    InsufficientDataError
        Fewer than two usable cutoffs, or fewer positives/negatives than the
        floor on either side; the message gives the counts and the fix.

    Examples
    --------
    >>> f = pd.DataFrame({"id": [1, 2, 1, 2], "cutoff": pd.to_datetime(["2024-01-01"] * 2 + ["2024-04-01"] * 2),
    ...                   "x": [0.1, 0.2, 0.3, 0.4], "y": [0, 1, 1, 0]})
    >>> ts = TrainingSet.from_frame(f, entity="id", label="y", horizon_days=90, as_of="2024-07-01")
    >>> s = split_by_cutoff(ts, min_class_train=1, min_class_holdout=1)
    >>> s.train.tolist(), str(s.holdout_cutoff.date())
    ([True, True, False, False], '2024-04-01')
    """
    lo_train = _check_floor("min_class_train", min_class_train)
    lo_hold = _check_floor("min_class_holdout", min_class_holdout)
    frame = training_set.frame
    h = pd.Timedelta(days=training_set.horizon_days)
    present = sorted(pd.DatetimeIndex(frame[CUTOFF].unique()))
    if not present:
        raise InsufficientDataError(
            f"The training set is empty: no cutoff of {[_days(c) for c in training_set.cutoffs]} has a row. "
            f"{_FIX}.")
    hold = present[-1]
    train_cutoffs = tuple(c for c in present[:-1] if c + h <= hold)
    gap = tuple(c for c in present[:-1] if c + h > hold)
    if not train_cutoffs:
        horizon = f"{training_set.horizon_days:g} days"
        why = (f"the cutoffs {[_days(c) for c in gap]} are less than the horizon ({horizon}) before it, so their "
               "outcomes overlap the held-out period" if gap else "it is the only cutoff with rows")
        raise InsufficientDataError(
            f"Too few cutoffs to train: the latest cutoff {_days(hold)} is held out for early stopping and "
            f"calibration, and no earlier cutoff can train — {why}. At least one training cutoff on or before "
            f"{_days(hold - h)} is needed. {_FIX}; space cutoffs at least one horizon apart.")
    cut = frame[CUTOFF].to_numpy(dtype="datetime64[ns]")
    train = np.isin(cut, np.array([c.to_datetime64() for c in train_cutoffs], dtype="datetime64[ns]"))
    holdout = cut == hold.to_datetime64()
    y = training_set.y
    n_tr, p_tr = int(train.sum()), int(y[train].sum())
    n_ho, p_ho = int(holdout.sum()), int(y[holdout].sum())
    short = []
    if min(p_tr, n_tr - p_tr) < lo_train:
        short.append("train")
    if min(p_ho, n_ho - p_ho) < lo_hold:
        short.append("held-out")
    if short:
        lab = training_set.label
        raise InsufficientDataError(
            f"Too few positives or negatives ({lab!r} = 1 / 0) in the {' and the '.join(short)} part: the training "
            f"cutoffs {[_days(c) for c in train_cutoffs]} hold {p_tr:,} positives and {n_tr - p_tr:,} negatives "
            f"(at least {lo_train:,} of each are needed); the held-out cutoff {_days(hold)} holds {p_ho:,} positives "
            f"and {n_ho - p_ho:,} negatives (at least {lo_hold:,} of each). {_FIX}.")
    return TimeSplit(train, holdout, train_cutoffs, hold, gap, n_tr, p_tr, n_ho, p_ho)
