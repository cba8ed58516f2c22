"""Evaluation metrics: hand-computed values, scikit-learn agreement, baseline and oracle comparisons."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from crmml._payload import Payload
from crmml.exceptions import IncompatibleArtifactError, ParameterError
from crmml.supervised import (
    BaselineComparison,
    Evaluation,
    calibration_bins,
    compare_to_baseline,
    compare_to_oracle,
    evaluate,
    expected_calibration_error,
    top_decile_lift,
)


def _sample(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 5.0, n)
    y = (rng.random(n) < p).astype(np.int64)
    return y, p


def test_ece_hand_computed():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    p = np.array([0.1, 0.1, 0.2, 0.2, 0.6, 0.7, 0.8, 0.9])
    # two equal-mass bins: {.1,.1,.2,.2} mean .15 vs observed .25; {.6,.7,.8,.9} mean .75 vs .75
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.5 * 0.1)
    assert calibration_bins(y, p, n_bins=2) == {"mean_predicted": [pytest.approx(0.15), pytest.approx(0.75)],
                                                 "observed": [0.25, 0.75], "count": [4, 4]}


def test_tied_probabilities_share_a_bin():
    curve = calibration_bins(np.array([0, 1, 0, 1, 1]), np.array([0.2, 0.2, 0.2, 0.2, 0.9]), n_bins=5)
    assert curve["count"] == [4, 1]


def test_lift_with_ties_is_the_expectation_over_tie_breaking():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    score = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    # top 20% = 2 rows: the 0.9 row (positive) and one of four tied rows (1 positive in 4)
    assert top_decile_lift(y, score, fraction=0.2) == pytest.approx(((1 + 0.25) / 2) / 0.2)
    assert top_decile_lift(np.zeros(5, dtype=int), np.arange(5.0)) is None


def test_evaluate_agrees_with_scikit_learn():
    y, p = _sample()
    ev = evaluate(y, p)
    assert ev.roc_auc == roc_auc_score(y, p)
    assert ev.pr_auc == average_precision_score(y, p)
    assert ev.brier == brier_score_loss(y, p)
    assert ev.n == 4000 and ev.n_positive == y.sum() and ev.base_rate == y.mean()
    assert sum(ev.calibration_curve["count"]) == 4000 and len(ev.calibration_curve["count"]) == 10
    assert ev.ece < 0.03  # the true probabilities are calibrated
    assert set(ev.metrics()) == {"n", "n_positive", "base_rate", "mean_predicted", "roc_auc", "pr_auc",
                                 "top_decile_lift", "brier", "ece"}


def test_single_class_leaves_ranking_metrics_undefined():
    ev = evaluate(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.3, 0.4]))
    assert ev.roc_auc is None and ev.pr_auc is None and ev.top_decile_lift is None
    assert json.loads(json.dumps(ev.to_dict()))["roc_auc"] is None


@pytest.mark.parametrize("args, message", [
    ((np.array([0, 1]), np.array([0.5])), "Metrics need one p per outcome"),
    ((np.array([0, 2]), np.array([0.5, 0.5])), "Metrics need outcomes of 0 or 1."),
    ((np.array([0, 1]), np.array([0.5, np.nan])), "Metrics need finite values of p."),
    ((np.array([0, 1]), np.array([0.5, 1.5])), "evaluate needs probabilities in [0, 1]"),
])
def test_bad_input_is_refused(args, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        evaluate(*args)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=1, max_size=80), st.integers(1, 12))
def test_ece_is_bounded_and_the_curve_partitions_the_rows(rows, n_bins):
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    ece = expected_calibration_error(y, p, n_bins)
    curve = calibration_bins(y, p, n_bins)
    assert 0 <= ece <= 1 and sum(curve["count"]) == len(rows) and len(curve["count"]) <= n_bins
    assert all(0 <= v <= 1 for v in curve["mean_predicted"] + curve["observed"])


def test_baseline_direction_and_missing_values():
    y, p = _sample(3000, 1)
    rng = np.random.default_rng(2)
    days = -np.log(p) * 30 + rng.normal(0, 20, len(p))  # riskier -> fewer days: a decreasing baseline
    inc = compare_to_baseline(y, p, -days)
    dec = compare_to_baseline(y, p, days, direction="decreasing")
    assert inc.baseline.roc_auc == pytest.approx(dec.baseline.roc_auc)
    assert dec.baseline.roc_auc == pytest.approx(roc_auc_score(y, -days))
    assert dec.auc_gain == pytest.approx(dec.model.roc_auc - dec.baseline.roc_auc)
    assert dec.beats_baseline  # the true probability beats a noisy proxy
    with_nan = days.copy()
    with_nan[:10] = np.nan
    c = compare_to_baseline(y, p, with_nan, direction="decreasing")
    filled = np.where(np.isnan(with_nan), np.nanmax(with_nan) + 1.0, with_nan)  # missing = lowest risk
    assert c.baseline.roc_auc == pytest.approx(roc_auc_score(y, -filled))


def test_a_model_that_is_the_baseline_does_not_beat_it():
    y, p = _sample(3000, 3)
    c = compare_to_baseline(y, p, p, margin=0.01)
    assert c.auc_gain == pytest.approx(0.0) and not c.beats_baseline
    assert c.metrics()["beats_baseline"] == 0.0


def test_baseline_probability_is_cross_fitted_by_default():
    y, p = _sample(3000, 4)
    crossed = compare_to_baseline(y, p, p)
    in_sample = compare_to_baseline(y, p, p, folds=None)
    assert in_sample.baseline.ece == pytest.approx(0.0, abs=1e-12)  # isotonic in-sample: perfect by construction
    assert crossed.baseline.ece > 0


def test_oracle_comparison():
    y, p = _sample(3000, 5)
    noisy = np.clip(p + np.random.default_rng(6).normal(0, 0.05, len(p)), 0, 1)
    c = compare_to_oracle(y, noisy, p)
    assert c.auc_gap == pytest.approx(roc_auc_score(y, p) - roc_auc_score(y, noisy))
    assert c.mean_abs_error == pytest.approx(np.mean(np.abs(noisy - p)))
    assert 0.9 < c.correlation < 1
    assert {"auc_gap", "oracle_roc_auc", "model_ece"} <= set(c.metrics())


def test_evaluations_round_trip_through_the_payload_reader():
    y, p = _sample(2000, 7)
    c = compare_to_baseline(y, p, -p * 3)
    back = BaselineComparison.from_dict(Payload.parse(json.dumps(c.to_dict()), source="supervised.json"))
    assert back == c
    d = c.to_dict()
    d["model"]["roc_auc"] = 1.5
    with pytest.raises(IncompatibleArtifactError, match=r"supervised\.json: model\.roc_auc: expected a finite number "
                                                        r"in \[0, 1\] or null; got 1\.5"):
        BaselineComparison.from_dict(Payload.parse(json.dumps(d), source="supervised.json"))
    d = c.to_dict()["model"]
    d["calibration_curve"]["count"][0] = -1
    with pytest.raises(IncompatibleArtifactError, match=r"calibration_curve\.count\[0\]"):
        Evaluation.from_dict(Payload.parse(json.dumps(d), source="supervised.json"))
