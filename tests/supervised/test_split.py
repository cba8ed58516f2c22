"""Time-ordered split by cutoff: latest held out, horizon gap, the documented floor."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from crmml.exceptions import ParameterError
from crmml.supervised import MIN_CLASS_HOLDOUT, MIN_CLASS_TRAIN, InsufficientDataError, TrainingSet, split_by_cutoff


def _set(cutoffs, per_cutoff_positives, n=10, horizon=30, as_of="2025-01-01"):
    parts = []
    for c, pos in zip(cutoffs, per_cutoff_positives, strict=True):
        parts.append(pd.DataFrame({"id": range(n), "cutoff": pd.Timestamp(c), "x": np.arange(n, dtype=float),
                                   "y": [1] * pos + [0] * (n - pos)}))
    return TrainingSet.from_frame(pd.concat(parts, ignore_index=True), entity="id", label="y", horizon_days=horizon,
                                  as_of=as_of)


def test_floor_constants():
    assert (MIN_CLASS_TRAIN, MIN_CLASS_HOLDOUT) == (50, 25)


def test_latest_cutoff_is_held_out_and_earlier_ones_train():
    ts = _set(["2024-06-01", "2024-09-01", "2024-12-01", "2024-03-01"], [3, 4, 5, 2])
    s = split_by_cutoff(ts, min_class_train=1, min_class_holdout=1)
    assert s.holdout_cutoff == pd.Timestamp("2024-12-01")
    assert s.train_cutoffs == tuple(pd.Timestamp(c) for c in ("2024-03-01", "2024-06-01", "2024-09-01"))
    assert s.gap_cutoffs == ()
    assert (s.n_train, s.positives_train, s.n_holdout, s.positives_holdout) == (30, 9, 10, 5)
    f = ts.frame
    assert (f.loc[s.holdout, "cutoff"] == pd.Timestamp("2024-12-01")).all()
    assert not (s.train & s.holdout).any()


def test_cutoffs_within_one_horizon_of_the_held_out_one_are_left_out():
    ts = _set(["2024-10-01", "2024-11-15", "2024-12-01"], [3, 3, 3], horizon=30)
    s = split_by_cutoff(ts, min_class_train=1, min_class_holdout=1)
    assert s.train_cutoffs == (pd.Timestamp("2024-10-01"),)
    assert s.gap_cutoffs == (pd.Timestamp("2024-11-15"),)
    assert s.n_train == 10 and not s.train[(ts.frame["cutoff"] == "2024-11-15").to_numpy()].any()
    assert s.to_dict()["gap_cutoffs"] == ["2024-11-15T00:00:00"]


def test_a_single_cutoff_is_refused():
    ts = _set(["2024-12-01"], [3])
    message = ("Too few cutoffs to train: the latest cutoff 2024-12-01 is held out for early stopping and "
               "calibration, and no earlier cutoff can train — it is the only cutoff with rows. At least one training "
               "cutoff on or before 2024-11-01 is needed. Use more cutoffs (default_cutoffs(as_of, horizon_days, "
               "n=...)), a longer history (an earlier first cutoff), or a shorter horizon; space cutoffs at least one "
               "horizon apart.")
    with pytest.raises(InsufficientDataError, match=re.escape(message)):
        split_by_cutoff(ts)


def test_cutoffs_too_close_are_refused_with_the_reason():
    ts = _set(["2024-11-20", "2024-12-01"], [3, 3])
    with pytest.raises(InsufficientDataError, match=re.escape(
            "the cutoffs ['2024-11-20'] are less than the horizon (30 days) before it, so their outcomes overlap "
            "the held-out period")):
        split_by_cutoff(ts)


def test_too_few_positives_say_how_many_and_what_to_change():
    ts = _set(["2024-06-01", "2024-09-01", "2024-12-01"], [2, 3, 1], n=40)
    message = ("Too few positives or negatives ('y' = 1 / 0) in the train and the held-out part: the training "
               "cutoffs ['2024-06-01', '2024-09-01'] hold 5 positives and 75 negatives (at least 50 of each are "
               "needed); the held-out cutoff 2024-12-01 holds 1 positives and 39 negatives (at least 25 of each). "
               "Use more cutoffs (default_cutoffs(as_of, horizon_days, n=...)), a longer history (an earlier first "
               "cutoff), or a shorter horizon.")
    with pytest.raises(InsufficientDataError, match=re.escape(message)):
        split_by_cutoff(ts)
    s = split_by_cutoff(ts, min_class_train=5, min_class_holdout=1)
    assert s.positives_train == 5


def test_the_floor_is_a_documented_parameter():
    ts = _set(["2024-06-01", "2024-12-01"], [3, 3])
    with pytest.raises(ParameterError, match=re.escape(
            "The 'min_class_train' parameter of split_by_cutoff must be an int >= 1. Got 0 instead.")):
        split_by_cutoff(ts, min_class_train=0)
