"""B2C shop world: determinism, BG/NBD and Gamma-Gamma truth, satisfaction signals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import hyp2f1

from crmml.data import validate_tables
from crmml.exceptions import ParameterError
from crmml.synthetic import B2CParams, make_b2c_world, true_alive_at


def _repeat_summary(world):
    """BG/NBD summary (x, t_x, T in days) from the positive transactions."""
    c = world.tables.customers.set_index("customer_id")
    tx = world.tables.transactions
    tx = tx[tx["amount"] > 0]
    g = tx.groupby("customer_id")["ts"]
    x = (g.size() - 1).reindex(c.index)
    last = g.max().reindex(c.index)
    day = np.timedelta64(1, "D")
    t_x = (last - c["signup_at"]) / day
    T = (world.end - c["signup_at"]) / day
    return x.to_numpy(), t_x.to_numpy(), T.to_numpy()


def test_same_seed_gives_identical_world():
    a, b = make_b2c_world(400, seed=3), make_b2c_world(400, seed=3)
    for name, df in a.tables.items():
        pd.testing.assert_frame_equal(df, b.tables[name])
    pd.testing.assert_frame_equal(a.truth["customers"], b.truth["customers"])
    assert a.params == b.params


def test_other_seed_gives_other_world():
    a, b = make_b2c_world(400, seed=3), make_b2c_world(400, seed=4)
    assert not a.truth["customers"]["lambda"].equals(b.truth["customers"]["lambda"])


def test_world_validates_against_the_contract(b2c_world):
    assert validate_tables(b2c_world.tables) is None  # raises DataContractError listing any problem


def test_ids_sort_and_times_lie_in_the_window(b2c_world):
    t = b2c_world.tables
    assert t.customers["customer_id"].iloc[0] == "C0000001"
    assert t.customers["customer_id"].is_monotonic_increasing
    assert t.transactions["transaction_id"].is_monotonic_increasing
    assert t.interactions["interaction_id"].is_unique
    for df, col in ((t.customers, "signup_at"), (t.transactions, "ts"), (t.interactions, "ts")):
        assert df[col].min() >= b2c_world.start
        assert df[col].max() < b2c_world.end


def test_first_purchase_is_at_signup(b2c_world):
    t = b2c_world.tables
    first = t.transactions.groupby("customer_id")["ts"].min()
    signup = t.customers.set_index("customer_id")["signup_at"]
    pd.testing.assert_series_equal(first.reindex(signup.index), signup, check_names=False)


def test_mean_repeat_purchases_match_bgnbd_expectation(b2c_world):
    P = b2c_world.params
    r, alpha, a, b = P["r"], P["alpha"], P["a"], P["b"]
    x, _, T = _repeat_summary(b2c_world)
    # E[X(t)] of Fader, Hardie & Lee (2005), eq. (9)
    z = T / (alpha + T)
    expected = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + T)) ** r * hyp2f1(r, b, a + b - 1, z))
    assert x.mean() == pytest.approx(expected.mean(), rel=0.04)


def test_lifetimes_recovers_bgnbd_parameters(b2c_world):
    lifetimes = pytest.importorskip("lifetimes")
    x, t_x, T = _repeat_summary(b2c_world)
    fit = lifetimes.BetaGeoFitter().fit(x, t_x, T)
    P = b2c_world.params
    for name in ("r", "alpha", "a", "b"):
        assert fit.params_[name] == pytest.approx(P[name], rel=0.15), name


def test_p_is_exactly_beta_distributed(b2c_world):
    P = b2c_world.params
    p = b2c_world.truth["customers"]["p"]
    assert stats.kstest(p, stats.beta(P["a"], P["b"]).cdf).pvalue > 0.01


def test_spend_follows_gamma_gamma(b2c_world):
    P = b2c_world.params
    tx = b2c_world.tables.transactions
    buy = tx[tx["amount"] > 0]
    # E[z] = p * gamma / (q - 1) (Fader & Hardie 2013)
    mean = P["p_spend"] * P["gamma_spend"] / (P["q_spend"] - 1)
    assert buy["amount"].mean() == pytest.approx(mean, rel=0.04)
    # given nu, E[z | nu] = p / nu: amounts scaled by the true nu average p
    nu = b2c_world.truth["customers"].set_index("customer_id")["nu"]
    scaled = buy["amount"].to_numpy() * nu.reindex(buy["customer_id"]).to_numpy()
    assert scaled.mean() == pytest.approx(P["p_spend"], rel=0.02)


def test_refunds_mirror_an_earlier_purchase(b2c_world):
    tx = b2c_world.tables.transactions
    refunds = tx[tx["amount"] < 0]
    assert 0.008 < len(refunds) / len(tx) < 0.02
    buys = tx[tx["amount"] > 0]
    m = refunds.merge(buys, on="customer_id", suffixes=("", "_buy"))
    m = m[(m["amount_buy"] == -m["amount"]) & (m["ts_buy"] < m["ts"])]
    assert m["transaction_id"].nunique() == len(refunds)


def test_cost_is_a_per_customer_share_of_amount(b2c_world):
    tx = b2c_world.tables.transactions
    share = (tx["cost"] / tx["amount"]).to_numpy()
    assert share.min() > 0.59 and share.max() < 0.76


def test_low_satisfaction_means_high_dropout(b2c_world):
    truth = b2c_world.truth["customers"]
    assert stats.spearmanr(truth["satisfaction"], truth["p"]).statistic < -0.5
    low = truth["satisfaction"] < truth["satisfaction"].quantile(0.25)
    high = truth["satisfaction"] > truth["satisfaction"].quantile(0.75)
    assert (~truth.loc[low, "alive_at_end"]).mean() > (~truth.loc[high, "alive_at_end"]).mean() + 0.15


def test_complaints_cluster_before_dropout(b2c_world):
    truth = b2c_world.truth["customers"].set_index("customer_id")
    it = b2c_world.tables.interactions
    comp = it[it["type"] == "complaint"]
    drop = truth["dropout_at"].reindex(comp["customer_id"]).to_numpy()
    before = (comp["ts"].to_numpy() < drop) & (comp["ts"].to_numpy() >= drop - np.timedelta64(30, "D"))
    # 30 days before dropout hold far more complaints than 30 days of an average life
    n_dropped = truth["dropout_at"].notna().sum()
    per_month_before = before.sum() / n_dropped
    life_days = ((b2c_world.end - b2c_world.tables.customers["signup_at"]) / np.timedelta64(1, "D")).sum()
    per_month_overall = len(comp) / life_days * 30
    assert per_month_before > 5 * per_month_overall


def test_engagement_decays_after_dropout(b2c_world):
    truth = b2c_world.truth["customers"].set_index("customer_id")
    it = b2c_world.tables.interactions
    web = it[it["type"] == "web_visit"]
    drop = truth["dropout_at"].reindex(web["customer_id"]).to_numpy()
    ts = web["ts"].to_numpy()
    d90 = np.timedelta64(90, "D")
    before = ((ts < drop) & (ts >= drop - d90)).sum()
    after = ((ts >= drop + d90) & (ts < drop + 2 * d90)).sum()
    assert after < 0.2 * before


def test_true_alive_at(b2c_world):
    truth = b2c_world.truth["customers"].set_index("customer_id")
    at_end = true_alive_at(b2c_world, b2c_world.end)
    pd.testing.assert_series_equal(at_end, truth["alive_at_end"].rename("alive"), check_index_type=False)
    mid = true_alive_at(b2c_world, "2024-06-01")
    signed = b2c_world.tables.customers.set_index("customer_id")["signup_at"] < "2024-06-01"
    assert set(mid.index) == set(signed[signed].index)
    assert (mid | ~at_end.reindex(mid.index)).all()  # once dropped out, never alive again


def test_params_round_trip_as_json():
    p = B2CParams(r=0.5, channels=("a", "b"), channel_probs=(0.5, 0.5), channel_cost=(1.0, 2.0))
    d = json.loads(json.dumps(p.to_dict()))
    assert B2CParams.from_dict(d) == p


def test_world_params_record_seed_and_size():
    w = make_b2c_world(50, seed=9, start="2024-01-01", end="2024-07-01")
    assert w.params["seed"] == 9 and w.params["n_customers"] == 50
    assert json.loads(json.dumps(w.params))["r"] == B2CParams().r


def test_bad_size_is_reported():
    with pytest.raises(ParameterError, match=r"The 'n_customers' parameter of make_b2c_world must be an int >= 1\. Got 0 instead\."):
        make_b2c_world(0)


def test_end_before_start_is_reported():
    with pytest.raises(ParameterError, match=r"The 'end' parameter of make_b2c_world must be after 'start'"):
        make_b2c_world(10, start="2025-01-01", end="2024-01-01")


def test_bad_params_are_reported():
    with pytest.raises(ParameterError, match=r"The 'a' parameter of B2CParams must be > 0\. Got -1 instead\."):
        make_b2c_world(10, params=B2CParams(a=-1))
    with pytest.raises(ParameterError, match=r"'channel_probs' parameter of B2CParams must be a tuple with one value per entry of 'channels'"):
        make_b2c_world(10, params=B2CParams(channel_probs=(1.0,)))
