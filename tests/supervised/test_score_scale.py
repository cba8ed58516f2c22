"""ScoreScale: the 1–99 score as a share of the held-out cutoff's expected outcomes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.exceptions import IncompatibleArtifactError, ParameterError
from crmml.supervised import ScoreScale


def test_hand_computed_abc_scale():
    # 90 cold leads (p=.01) hold 0.9 of 6.3 expected conversions = 14.3 %; 9 warm (p=.5) 4.5; one hot (p=.9)
    scale = ScoreScale.fit(np.array([0.01] * 90 + [0.5] * 9 + [0.9]))
    assert scale.score(np.array([0.0, 0.01, 0.5, 0.9, 1.0])).tolist() == [1, 1, 16, 85, 85]
    # a cut at 75 (grade A) then holds only the hot lead, whose share of the expected outcomes starts at 86 %


def test_grades_hold_about_a_quarter_of_the_expected_outcomes_each():
    p = np.random.default_rng(0).beta(0.5, 8.0, 50_000)
    s = ScoreScale.fit(p).score(p)
    for lo, hi in ((75, 100), (50, 75), (25, 50), (1, 25)):
        share = p[(s >= lo) & (s < hi)].sum() / p.sum()
        assert share == pytest.approx((hi - lo) / 98, abs=0.02)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.lists(st.floats(0, 1), min_size=2, max_size=50))
def test_the_score_is_monotone_and_in_range(reference, probe):
    scale = ScoreScale.fit(np.asarray(reference))
    q = np.sort(np.asarray(probe))
    s = scale.score(q)
    assert np.all(np.diff(s) >= 0) and s.min() >= 1 and s.max() <= 99
    assert [scale.score_one(float(v)) for v in q] == s.tolist()


def test_all_zero_reference_and_bad_input():
    assert ScoreScale.fit(np.zeros(10)).score(np.array([0.0, 0.3])).tolist() == [50, 50]  # no spread: no ranking
    with pytest.raises(ParameterError, match="probabilities in \\[0, 1\\]"):
        ScoreScale.fit(np.array([0.2, 1.5]))


def test_round_trip_and_tampering():
    scale = ScoreScale.fit(np.random.default_rng(1).random(500))
    back = ScoreScale.from_dict(Payload.parse(json.dumps(scale.to_dict()), source="supervised.json"))
    np.testing.assert_array_equal(back.knots, scale.knots)
    bad = scale.to_dict()
    bad["knots"] = bad["knots"][::-1]
    with pytest.raises(IncompatibleArtifactError, match=r"supervised\.json: knots\[1\]: expected a number >="):
        ScoreScale.from_dict(Payload.parse(json.dumps(bad), source="supervised.json"))
