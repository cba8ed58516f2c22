import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.clv import discounted_clv
from crmml.exceptions import ParameterError


def test_hand_computed_three_periods():
    expected = 60 * (0.8 / 1.1 + 0.64 / 1.21 + 0.512 / 1.331)
    assert discounted_clv(100, 40, retention=0.8, discount_rate=0.1, horizon=3) == pytest.approx(expected, rel=1e-12)


def test_acquisition_cost_subtracted_once():
    expected = 50 * (0.9 / 1.05 + 0.81 / 1.05**2) - 30
    got = discounted_clv(50, retention=0.9, discount_rate=0.05, horizon=2, acquisition_cost=30)
    assert got == pytest.approx(expected)


def test_per_customer_and_per_period_inputs():
    rev = np.array([[100.0, 50.0], [10.0, 20.0]])
    cost = np.array([40.0, 0.0])
    ret = np.array([0.5, 1.0])
    got = discounted_clv(rev, cost, retention=ret, discount_rate=0.0, horizon=2)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, [60 * 0.5 + 10 * 0.25, 10 + 20])


def test_no_discount_full_retention_is_plain_sum():
    assert discounted_clv(7.0, 2.0, horizon=4) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"discount_rate": -0.1, "horizon": 3}, r"'discount_rate' parameter of discounted_clv must be >= 0. Got -0.1"),
        ({"retention": 1.2, "horizon": 3}, r"'retention' parameter of discounted_clv must be a float in the range \[0, 1\]"),
        ({"horizon": -1}, r"'horizon' parameter of discounted_clv must be an int >= 0. Got -1 instead"),
        ({"horizon": 2.5}, r"'horizon' parameter of discounted_clv must be an int >= 0. Got 2.5 instead"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        discounted_clv(100, **kwargs)


def test_per_period_columns_must_match_horizon():
    with pytest.raises(ParameterError, match=r"'revenue' parameter .* one column per period \(horizon=3\)"):
        discounted_clv(np.ones((2, 2)), horizon=3)


money = st.floats(0, 1e4, allow_nan=False)
rate = st.floats(0, 1, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(m=money, r1=rate, r2=rate, d=st.floats(0, 2), h=st.integers(1, 30))
def test_monotone_in_retention(m, r1, r2, d, h):
    lo, hi = sorted([r1, r2])
    assert discounted_clv(m, retention=lo, discount_rate=d, horizon=h) <= discounted_clv(
        m, retention=hi, discount_rate=d, horizon=h) + 1e-9


@settings(max_examples=60, deadline=None)
@given(m=money, r=rate, d1=st.floats(0, 2), d2=st.floats(0, 2), h=st.integers(1, 30))
def test_decreasing_in_discount_rate(m, r, d1, d2, h):
    lo, hi = sorted([d1, d2])
    assert discounted_clv(m, retention=r, discount_rate=hi, horizon=h) <= discounted_clv(
        m, retention=r, discount_rate=lo, horizon=h) + 1e-9


@settings(max_examples=40, deadline=None)
@given(m=money, c=money, r=rate, d=st.floats(0, 2), ac=money)
def test_zero_horizon_is_minus_acquisition_cost(m, c, r, d, ac):
    assert discounted_clv(m, c, retention=r, discount_rate=d, horizon=0, acquisition_cost=ac) == -ac


@settings(max_examples=40, deadline=None)
@given(m=money, r=rate, d=st.floats(0, 2), h=st.integers(0, 20))
def test_one_more_period_adds_its_discounted_margin(m, r, d, h):
    a = discounted_clv(m, retention=r, discount_rate=d, horizon=h)
    b = discounted_clv(m, retention=r, discount_rate=d, horizon=h + 1)
    assert b - a == pytest.approx(m * r ** (h + 1) / (1 + d) ** (h + 1), rel=1e-9, abs=1e-9)
