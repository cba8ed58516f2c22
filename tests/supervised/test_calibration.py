"""Calibration: method choice, scikit-learn equivalence, monotonicity, persistence, cross-fitting."""

from __future__ import annotations

import json
import logging
import math
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.exceptions import IncompatibleArtifactError, ParameterError
from crmml.supervised import ISOTONIC_MIN_CLASS, Calibrator, expected_calibration_error, fit_calibrator
from crmml.supervised._calibration import TIE_BREAK, choose_method, cross_fit, out_of_fold


def _scores(n, seed, base=-1.5):
    rng = np.random.default_rng(seed)
    raw = rng.normal(base, 1.3, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * raw + 0.3)))).astype(np.int64)
    return raw, y


def test_isotonic_needs_a_thousand_of_each_class():
    assert ISOTONIC_MIN_CLASS == 1000
    assert choose_method(np.r_[np.zeros(5000), np.ones(999)]) == "sigmoid"
    assert choose_method(np.r_[np.zeros(1000), np.ones(5000)]) == "isotonic"
    assert choose_method(np.r_[np.zeros(10), np.ones(10)], "isotonic") == "isotonic"
    with pytest.raises(ParameterError, match="The 'calibration' parameter must be one of"):
        choose_method(np.zeros(3), "platt")


def test_auto_picks_by_class_counts():
    raw, y = _scores(3000, 0)
    assert fit_calibrator(raw, y).method == "sigmoid"  # ~600 positives
    raw, y = _scores(12_000, 0, base=0.0)
    assert min(y.sum(), len(y) - y.sum()) >= 1000
    assert fit_calibrator(raw, y).method == "isotonic"


def test_isotonic_apply_equals_scikit_learn():
    from sklearn.isotonic import IsotonicRegression

    raw, y = _scores(4000, 1)
    cal = fit_calibrator(raw, y, method="isotonic")
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw, y.astype(float))
    grid = np.linspace(raw.min() - 2, raw.max() + 2, 2001)
    exact = Calibrator.isotonic(cal.x, cal.y, tie_break=0.0)
    np.testing.assert_allclose(exact.apply(grid), iso.predict(grid), rtol=0, atol=1e-12)
    np.testing.assert_allclose(cal.apply(grid), iso.predict(grid), rtol=0, atol=TIE_BREAK)  # the tie-break moves p by <= 1e-6


def test_isotonic_tie_break_keeps_the_ranking_inside_flat_steps():
    # every score above the last breakpoint has isotonic p = 1.0; the tie-break orders them as the scores
    cal = Calibrator.isotonic(np.array([-1.0, 0.0, 1.0]), np.array([0.1, 1.0, 1.0]))
    s = np.array([0.2, 0.5, 1.0, 3.0, 8.0, 25.0])
    p = cal.apply(s)
    assert np.all(np.diff(p) > 0)
    assert np.all(p <= 1.0) and np.all(p >= 1.0 - TIE_BREAK)
    # hand-computed: (1 - eps) * 0.55 + eps * (1/2 + atan(-0.5)/pi) at s = -0.5
    eps = TIE_BREAK
    assert cal.apply(np.array([-0.5]))[0] == pytest.approx((1 - eps) * 0.55 + eps * (0.5 + math.atan(-0.5) / math.pi),
                                                           rel=0, abs=1e-15)
    assert cal.apply(np.array([-1e300]))[0] >= 0.0 and cal.apply(np.array([1e300]))[0] <= 1.0


def test_sigmoid_equals_platt_scaling_of_scikit_learn():
    calibration = pytest.importorskip("sklearn.calibration")
    platt = getattr(calibration, "_sigmoid_calibration", None)
    if platt is None:
        pytest.skip("scikit-learn's private Platt implementation is not available")
    raw, y = _scores(3000, 2)
    cal = fit_calibrator(raw, y, method="sigmoid")
    a, b = platt(raw, y)
    # scikit-learn: p = 1 / (1 + exp(a * s + b)); crmml: p = 1 / (1 + exp(-(a * s + b)))
    assert cal.a == pytest.approx(-a, rel=1e-4) and cal.b == pytest.approx(-b, rel=1e-4, abs=1e-5)


def test_sigmoid_hand_computed_apply():
    cal = Calibrator.sigmoid(2.0, -1.0)
    np.testing.assert_allclose(cal.apply(np.array([0.0, 0.5, 1.0])), [1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-1))])


@settings(max_examples=60, deadline=None)
@given(raw=st.lists(st.floats(-30, 30), min_size=4, max_size=60), data=st.data(),
       method=st.sampled_from(["isotonic", "sigmoid"]))
def test_calibrated_output_is_monotone_in_the_raw_score(raw, data, method):
    s = np.asarray(raw)
    y = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=len(s), max_size=len(s))))
    assume(0 < y.sum() < len(y))
    cal = fit_calibrator(s, y, method=method)
    grid = np.sort(np.asarray(data.draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50))))
    p = cal.apply(grid)
    assert np.all(np.diff(p) >= 0)
    assert np.all((p >= 0) & (p <= 1))


def test_a_backwards_score_gives_the_base_rate(caplog):
    raw, y = _scores(2000, 3)
    with caplog.at_level(logging.WARNING, logger="crmml"):
        cal = fit_calibrator(-raw, y, method="sigmoid")
    assert cal.a == 0.0
    assert cal.apply(np.array([-5.0, 5.0])) == pytest.approx([(y.sum() + 1) / (len(y) + 2)] * 2)
    assert "ranks the held-out cutoff backwards" in caplog.text


def test_fit_refuses_bad_input():
    message = "fit_calibrator needs both outcomes; got 0 positives and 3 negatives."
    with pytest.raises(ParameterError, match=re.escape(message)):
        fit_calibrator(np.zeros(3), np.zeros(3, dtype=int))
    with pytest.raises(ParameterError, match=re.escape("fit_calibrator needs finite raw scores.")):
        fit_calibrator(np.array([0.0, np.nan]), np.array([0, 1]))
    with pytest.raises(ParameterError, match=re.escape("fit_calibrator needs outcomes of 0 or 1.")):
        fit_calibrator(np.array([0.0, 1.0]), np.array([0, 2]))


# ------------------------------------------------------------------ cross-fitting
def test_in_sample_isotonic_is_perfect_by_construction_so_metrics_are_cross_fitted():
    raw, y = _scores(20_000, 4, base=0.0)
    cal, oof = cross_fit(raw, y, method="isotonic", folds=5, seed=0)
    steps = Calibrator.isotonic(cal.x, cal.y, tie_break=0.0)  # scikit-learn's step function
    assert expected_calibration_error(y, steps.apply(raw)) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < expected_calibration_error(y, oof) < 0.03
    np.testing.assert_array_equal(cal.apply(raw), fit_calibrator(raw, y, method="isotonic").apply(raw))


def test_out_of_fold_falls_back_in_sample_with_a_single_minority_row():
    raw = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0, 0, 0, 1])
    p = out_of_fold(raw, y, lambda s, t: Calibrator.sigmoid(1.0, 0.0), folds=5)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-raw)))


# ------------------------------------------------------------------ persistence
def _load(text):
    return Calibrator.from_dict(Payload.parse(text, source="supervised.json"))


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_round_trip(method):
    raw, y = _scores(3000, 5)
    cal = fit_calibrator(raw, y, method=method)
    back = _load(json.dumps(cal.to_dict()))
    np.testing.assert_array_equal(back.apply(raw), cal.apply(raw))


@pytest.mark.parametrize("text, message", [
    ('{"method": "isotonic", "x": [0, 1], "y": [0.1, 0.2]}', r"supervised\.json: missing key 'tie_break'"),
    ('{"method": "isotonic", "x": [0, 1], "y": [0.1, 0.2], "tie_break": 0.5}',
     r"supervised\.json: tie_break: expected a finite number in \[0, 0\.001\]; got 0\.5"),
    ('{"method": "isotonic", "x": [0, NaN, 2], "y": [0.1, 0.2, 0.3], "tie_break": 0}',
     r"supervised\.json: x\[1\]: NaN is not a JSON number \(JSON has no NaN or infinity\)"),
    ('{"method": "isotonic", "x": [0, 2, 1], "y": [0.1, 0.2, 0.3], "tie_break": 0}',
     r"supervised\.json: x\[2\]: expected a number > the previous item \(2\.0\): the array must be increasing; "
     r"got 1"),
    ('{"method": "isotonic", "x": [0, 1, 2], "y": [0.1, 0.3, 0.2], "tie_break": 0}',
     r"supervised\.json: y\[2\]: expected a number >= the previous item"),
    ('{"method": "isotonic", "x": [0, 1], "y": [0.1, 1.5], "tie_break": 0}',
     r"supervised\.json: y\[1\]: expected a finite number >= 0 <= 1; got 1\.5"),
    ('{"method": "isotonic", "x": [0, 1], "y": [0.1], "tie_break": 0}', r"supervised\.json: y: expected an array of 2 items"),
    ('{"method": "isotonic", "x": [], "y": [], "tie_break": 0}', r"supervised\.json: x: expected an array of at least 1 numbers"),
    ('{"method": "sigmoid", "a": -1, "b": 0}', r"supervised\.json: a: expected a finite number >= 0; got -1"),
    ('{"method": "sigmoid", "a": 1, "b": "0"}', r"supervised\.json: b: expected a finite number; got '0'"),
    ('{"method": "sigmoid", "a": 1, "b": 0, "c": 1}', r"supervised\.json: unknown key 'c'"),
    ('{"method": "beta", "a": 1, "b": 0}', r"supervised\.json: method: expected one of 'isotonic', 'sigmoid'"),
])
def test_tampered_calibrators_are_refused_naming_the_field(text, message):
    with pytest.raises(IncompatibleArtifactError, match=message):
        _load(text)


def test_constructors_check_their_arguments():
    with pytest.raises(ParameterError, match="x strictly increasing"):
        Calibrator.isotonic(np.array([0.0, 0.0]), np.array([0.1, 0.2]))
    with pytest.raises(ParameterError, match=r"finite slope a >= 0"):
        Calibrator.sigmoid(float("nan"), 0.0)
