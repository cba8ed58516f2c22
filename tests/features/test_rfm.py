"""rfm_summary against lifetimes (CDNOW, example data, random data) and its exclusions."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.data import ExclusionReport
from crmml.exceptions import DataContractError, ParameterError
from crmml.features import rfm_summary

lifetimes = pytest.importorskip("lifetimes")
from lifetimes.datasets import load_transaction_data  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402


def lifetimes_summary(tx: pd.DataFrame, as_of: pd.Timestamp | None, freq: str = "D", mult: int = 1) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if as_of is None:
            return summary_data_from_transaction_data(tx, "customer_id", "ts", monetary_value_col="amount",
                                                      freq=freq, freq_multiplier=mult)
        return summary_data_from_transaction_data(
            tx[tx["ts"] < as_of], "customer_id", "ts", monetary_value_col="amount",
            observation_period_end=as_of - pd.Timedelta(1, "ns"), freq=freq, freq_multiplier=mult)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    path = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "CDNOW_master.txt")
    raw = pd.read_csv(path, sep=r"\s+", header=0, names=["customer_id", "date", "n", "amount"],
                      dtype={"customer_id": str, "date": str})
    return pd.DataFrame({
        "transaction_id": pd.Series([f"t{i}" for i in range(len(raw))], dtype="str"),
        "customer_id": raw["customer_id"].astype("str"),
        "ts": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]"),
        "amount": raw["amount"].astype(float),
    })


@pytest.mark.parametrize("freq, as_of", [
    ("D", "1997-10-01"), ("D", "1998-07-01"), ("W", "1997-09-29"), ("W", "1997-10-02 15:00"),
    ("D", "1997-03-25 13:30"),
])
def test_identical_to_lifetimes_on_cdnow(cdnow, freq, as_of):
    a = pd.Timestamp(as_of)
    ours = rfm_summary(cdnow, a, freq=freq)
    ref = lifetimes_summary(cdnow, a, freq)
    pd.testing.assert_frame_equal(ours, ref, check_exact=False, rtol=1e-12)
    assert len(ours) == 23570 or a < pd.Timestamp("1997-04-01")


def test_cdnow_period_boundary_needs_no_prefilter(cdnow):
    a = pd.Timestamp("1997-10-01")  # midnight: observation_period_end = as_of - 1 day, unfiltered input
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = summary_data_from_transaction_data(cdnow, "customer_id", "ts", monetary_value_col="amount",
                                                 observation_period_end=a - pd.Timedelta(days=1))
    pd.testing.assert_frame_equal(rfm_summary(cdnow, a), ref, check_exact=False, rtol=1e-12)


def test_cdnow_published_summary(cdnow):
    """Fader & Hardie's 39-week calibration summary of the 1/10 CDNOW sample has 2357 customers;
    on the full master file, customers first buying in Q1 1997 all appear (23,570)."""
    s = rfm_summary(cdnow, "1997-10-01", freq="W")
    assert len(s) == 23570
    assert s["T"].max() == 39.0  # first week of 1997 to the week holding 1997-09-30


def test_identical_to_lifetimes_on_example_transactions():
    raw = load_transaction_data()
    tx = pd.DataFrame({"customer_id": raw["id"].astype(str).astype("str"),
                       "ts": pd.to_datetime(raw["date"]).astype("datetime64[ns]"),
                       "amount": 1.0})
    for freq in ("D", "W"):
        pd.testing.assert_frame_equal(rfm_summary(tx, None, freq=freq), lifetimes_summary(tx, None, freq),
                                      check_exact=False, rtol=1e-12)
        a = pd.Timestamp("2014-09-01")
        pd.testing.assert_frame_equal(rfm_summary(tx, a, freq=freq), lifetimes_summary(tx, a, freq),
                                      check_exact=False, rtol=1e-12)


def test_hourly_with_multiplier_matches_lifetimes(cdnow):
    a = pd.Timestamp("1997-06-01")
    pd.testing.assert_frame_equal(rfm_summary(cdnow, a, freq="h", freq_multiplier=24),
                                  lifetimes_summary(cdnow, a, "h", 24), check_exact=False, rtol=1e-12)


ids = st.sampled_from(["a", "b", "c", "dd", "customer-long-id-0001", "é", "z9"])
minutes = st.integers(min_value=0, max_value=60 * 24 * 120)
rows = st.lists(st.tuples(ids, minutes, st.floats(min_value=0, max_value=1e4, allow_nan=False)),
                min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(rows=rows, cut=st.integers(min_value=1, max_value=60 * 24 * 121), freq=st.sampled_from(["D", "W", "h"]))
def test_identical_to_lifetimes_on_random_data(rows, cut, freq):
    origin = pd.Timestamp("2024-01-01")
    tx = pd.DataFrame({
        "customer_id": pd.Series([r[0] for r in rows], dtype="str"),
        "ts": (origin + pd.to_timedelta([r[1] for r in rows], unit="min")).astype("datetime64[ns]"),
        "amount": [r[2] for r in rows],
    })
    as_of = origin + pd.Timedelta(minutes=cut)
    ours = rfm_summary(tx, as_of, freq=freq)
    if not (tx["ts"] < as_of).any():
        assert ours.empty and list(ours.columns) == ["frequency", "recency", "T", "monetary_value"]
        return
    pd.testing.assert_frame_equal(ours, lifetimes_summary(tx, as_of, freq), check_exact=False, rtol=1e-9)


def test_refunds_and_pre_signup_rows_are_excluded_and_counted(world):
    rep = ExclusionReport()
    s = rfm_summary(world.transactions, "2024-03-01", customers=world.customers, report=rep)
    rules = {e.rule: e.n_rows for e in rep.items}
    assert rules == {"refund or missing amount (amount < 0): not a purchase in the RFM summary": 1,
                     "before the customer's signup_at": 1}
    assert s.attrs["exclusions"] == rep.to_dict()
    # c2: refund t12 and pre-signup t5 excluded -> purchases 2023-07-01, 2024-01-20
    assert s.loc["c2"].tolist() == [1.0, 203.0, 243.0, 70.0]
    # zero-amount purchase counts as a purchase
    assert s.loc["c4", "frequency"] == 0.0 and s.loc["c4", "T"] == 4.0


def test_unknown_customers_are_excluded_and_counted(world):
    s = rfm_summary(world.transactions, "2024-03-01", customers=world.customers.iloc[:2])
    assert list(s.index) == ["c1", "c2"]
    assert {"table": "transactions", "rule": "customer_id not in customers", "n_rows": 2, "unit": "rows"} in s.attrs["exclusions"]


def test_as_of_none_is_after_last_row():
    tx = pd.DataFrame({"customer_id": pd.Series(["a", "a", "b"], dtype="str"),
                       "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-03 00:00", "2024-01-10 08:00"]),
                       "amount": [1.0, 2.0, 3.0]})
    s = rfm_summary(tx)
    assert s.loc["a"].tolist() == [1.0, 2.0, 9.0, 2.0]
    assert s.loc["b"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_monetary_false_and_object_ids():
    tx = pd.DataFrame({"customer_id": np.array(["b", "a", "a"], dtype=object),
                       "ts": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-05"]),
                       "amount": [1.0, 2.0, 3.0]})
    s = rfm_summary(tx, "2024-01-06", monetary=False)
    assert list(s.columns) == ["frequency", "recency", "T"] and list(s.index) == ["a", "b"]
    assert s.index.name == "customer_id" and s.loc["a", "T"] == 4.0


def test_bad_parameters():
    tx = pd.DataFrame({"customer_id": ["a"], "ts": pd.to_datetime(["2024-01-01"]), "amount": [1.0]})
    with pytest.raises(ParameterError, match=r"The 'freq' parameter of rfm_summary must be one of \{'D', 'W', 'h'\}. Got 'M' instead."):
        rfm_summary(tx, "2024-02-01", freq="M")
    with pytest.raises(ParameterError, match="The 'freq_multiplier' parameter of rfm_summary must be an int >= 1. Got 0 instead."):
        rfm_summary(tx, "2024-02-01", freq_multiplier=0)
    with pytest.raises(DataContractError, match=r"transactions.amount: column is required"):
        rfm_summary(tx.drop(columns="amount"), "2024-02-01")


@pytest.mark.parametrize("freq", ["D", "W"])
def test_identical_to_lifetimes_on_the_synthetic_shop(b2c_world, freq):
    from lifetimes.utils import summary_data_from_transaction_data

    tx = b2c_world.tables.transactions
    as_of = pd.Timestamp("2025-06-01")
    ours = rfm_summary(tx, as_of, freq=freq)
    # lifetimes on the same rows: purchases (refunds excluded, as the contract says) before as_of
    ref_rows = tx[(tx["ts"] < as_of) & (tx["amount"] >= 0)]
    ref = summary_data_from_transaction_data(ref_rows, "customer_id", "ts", monetary_value_col="amount",
                                             observation_period_end=as_of - pd.Timedelta(1, "ns"), freq=freq)
    assert len(ours) > 1000
    pd.testing.assert_frame_equal(ours, ref.astype("float64"), check_names=False, check_index_type=False,
                                  rtol=1e-12)
