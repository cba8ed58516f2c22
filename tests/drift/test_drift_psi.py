"""The population stability index and its thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmml.drift import PSI_ACT, PSI_WATCH, psi, psi_status
from crmml.exceptions import ParameterError


def test_psi_of_a_hand_computed_example():
    # a = [0.8, 0.2], e = [0.5, 0.5]:
    # (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.3 ln 1.6 - 0.3 ln 0.4 = 0.3 ln 4 = 0.41588830833596...
    assert psi(np.array([0.5, 0.5]), np.array([80, 20])) == pytest.approx(0.3 * math.log(4.0), rel=1e-12)
    assert psi(np.array([0.5, 0.5]), np.array([80, 20])) == pytest.approx(0.4158883083359672, rel=1e-12)


def test_an_empty_bin_is_floored_at_eps():
    # a = [1, 0] floored to [1, 1e-4]; e = [0.5, 0.5]:
    # 0.5 ln(1 / 0.5) + (1e-4 - 0.5) ln(1e-4 / 0.5)
    expected = 0.5 * math.log(2.0) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi([0.5, 0.5], [10, 0]) == pytest.approx(expected, rel=1e-12)
    assert psi([0.5, 0.5], [10, 0], eps=1e-2) < psi([0.5, 0.5], [10, 0])


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=30).filter(lambda c: sum(c) > 0),
       st.integers(1, 50))
def test_psi_of_the_same_distribution_is_zero(counts, scale):
    c = np.array(counts)
    shares = c / c.sum()
    assert psi(shares, c * scale) == 0.0


@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12), st.lists(st.integers(0, 1000), min_size=12,
                                                                         max_size=12))
def test_psi_is_never_negative(weights, counts):
    e = np.array(weights) / np.sum(weights)
    a = np.array(counts[: len(e)])
    if a.sum() == 0:
        a[0] = 1
    assert psi(e, a) >= 0.0


def test_status_thresholds_are_strict():
    assert (PSI_WATCH, PSI_ACT) == (0.1, 0.25)
    assert psi_status(0.0) == "ok"
    assert psi_status(0.1) == "ok"  # > not >=
    assert psi_status(math.nextafter(0.1, 1.0)) == "watch"
    assert psi_status(0.25) == "watch"
    assert psi_status(math.nextafter(0.25, 1.0)) == "act"
    assert psi_status(3.0) == "act"
    with pytest.raises(ParameterError, match="NaN"):
        psi_status(float("nan"))


@pytest.mark.parametrize("expected, actual, match", [
    ([0.5, 0.5], [1, 2, 3], "same bins"),
    ([0.5, 0.6], [1, 2], "add up to 1"),
    ([0.5, 0.5], [0, 0], "without current rows"),
    ([0.5, 0.5], [-1, 2], "non-negative"),
    ([0.5, 0.5], [np.nan, 2], "finite"),
])
def test_psi_refuses_what_it_cannot_compare(expected, actual, match):
    with pytest.raises(ParameterError, match=match):
        psi(np.array(expected), np.array(actual))
