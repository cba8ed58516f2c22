"""formula_clv: the discounted formula with revenue, cost and retention from history (hand-computed)."""

import numpy as np
import pandas as pd
import pytest

from crmml.clv import estimate_retention, formula_clv
from crmml.data import CRMTables
from crmml.exceptions import MissingTableError, ParameterError

AS_OF = "2024-04-01"


def _tables(extra_rows=()):
    rows = [
        # id, customer, ts, amount, cost
        ("t1", "a", "2023-12-01", 100.0, 60.0),  # before the 90-day window
        ("t2", "a", "2024-02-01", 50.0, 20.0),
        ("t3", "a", "2024-03-01", 30.0, 10.0),
        ("t4", "a", "2024-03-05", -10.0, 5.0),  # refund: returns revenue and its cost
        ("t5", "b", "2024-03-15", 40.0, 30.0),
        *extra_rows,
    ]
    tx = pd.DataFrame(rows, columns=["transaction_id", "customer_id", "ts", "amount", "cost"])
    tx["ts"] = pd.to_datetime(tx["ts"])
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": pd.to_datetime(["2023-11-01", "2024-03-01"]),
                              "acquisition_cost": [12.0, 3.0]})
    return CRMTables(transactions=tx, customers=customers)


def test_hand_computed_values():
    out = formula_clv(_tables(), AS_OF, period_days=30, lookback_periods=3, horizon=2,
                      discount_rate=0.1, retention=0.9)
    # a: around for > 3 periods -> 3; revenue (50 + 30 - 10) / 3, cost (20 + 10 - 5) / 3
    # b: first purchase 17 days ago -> 1 period; revenue 40, cost 30
    factor = 0.9 / 1.1 + 0.9**2 / 1.1**2
    assert out.loc["a", "revenue_per_period"] == pytest.approx(70 / 3)
    assert out.loc["a", "cost_per_period"] == pytest.approx(25 / 3)
    assert out.loc["a", "clv"] == pytest.approx((70 / 3 - 25 / 3) * factor)
    assert out.loc["b", "clv"] == pytest.approx((40 - 30) * factor)
    assert list(out.index) == ["a", "b"] and out.index.name == "customer_id"


def test_given_margin_and_acquisition_cost():
    out = formula_clv(_tables(), AS_OF, period_days=30, lookback_periods=3, horizon=1,
                      discount_rate=0.0, retention=1.0, margin=0.5, subtract_acquisition_cost=True)
    assert out.loc["a", "clv"] == pytest.approx(70 / 3 * 0.5 - 12.0)
    assert out.loc["b", "clv"] == pytest.approx(40 * 0.5 - 3.0)


def test_future_rows_change_nothing():
    base = formula_clv(_tables(), AS_OF, period_days=30, lookback_periods=3, horizon=2, retention=0.9)
    later = formula_clv(_tables([("t9", "a", "2024-04-01", 999.0, 1.0), ("t10", "c", "2024-05-01", 5.0, 1.0)]),
                        AS_OF, period_days=30, lookback_periods=3, horizon=2, retention=0.9)
    pd.testing.assert_frame_equal(base, later)


def test_estimated_retention_is_repeat_share_per_period():
    # window 1 = [2023-10-04, 2024-01-02): only a bought; window 2: a bought again -> R = 1
    assert estimate_retention(_tables().transactions, AS_OF, window_days=90, periods=3) == 1.0
    tx = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "a"], "amount": [1.0, 1.0, 1.0, 1.0, 1.0],
                       "ts": pd.to_datetime(["2024-01-05"] * 4 + ["2024-02-20"])})
    # 1 of 4 came back within the next 30-day window, which spans 2 periods -> 0.25 ** (1/2)
    assert estimate_retention(tx, "2024-03-05", window_days=30, periods=2) == pytest.approx(0.5)
    out = formula_clv(CRMTables(transactions=tx.assign(transaction_id=[f"t{i}" for i in range(5)])),
                      "2024-03-05", period_days=15, lookback_periods=2, horizon=3)
    assert np.allclose(out["retention"], 0.5)


def test_errors_name_the_parameter_and_table():
    with pytest.raises(ParameterError, match=r"The 'retention' parameter of formula_clv must be a float in the range \[0, 1\] or None. Got 1.5 instead."):
        formula_clv(_tables(), AS_OF, retention=1.5)
    with pytest.raises(MissingTableError, match="transactions: table is required by formula_clv"):
        formula_clv(CRMTables(), AS_OF)
