"""The period forecast: simulation, booked / from_open / from_new, stage-weighted, conformal intervals, backtest."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.exceptions import ParameterError
from crmml.forecast import backtest, conformal_quantiles, period_bounds, pinball_loss
from crmml.forecast._backtest import MIN_CALIBRATION_CELLS, _finish
from crmml.forecast._bookings import simulate_open

from .conftest import AS_OF


def test_period_bounds_are_calendar_periods():
    q = period_bounds(pd.Timestamp("2025-02-10 13:00"), "quarter", 3)
    assert [(str(a.date()), str(b.date())) for a, b in q] == [
        ("2025-01-01", "2025-04-01"), ("2025-04-01", "2025-07-01"), ("2025-07-01", "2025-10-01")]
    m = period_bounds(pd.Timestamp("2025-12-31"), "month", 2)
    assert [(str(a.date()), str(b.date())) for a, b in m] == [("2025-12-01", "2026-01-01"),
                                                               ("2026-01-01", "2026-02-01")]
    with pytest.raises(ParameterError, match=re.escape("The 'period' parameter must be one of ['month', 'quarter']. "
                                                       "Got 'week' instead.")):
        period_bounds(pd.Timestamp("2025-01-01"), "week", 1)


def test_pinball_loss_by_hand():
    # y = 10; quantiles 8 (level 0.1) and 12 (level 0.9): 0.1*2 = 0.2 and 0.1*2 = 0.2 -> mean 0.2
    assert pinball_loss(np.array([10.0]), np.array([[8.0, 12.0]]), (0.1, 0.9)).tolist() == pytest.approx([0.2])
    # below the 0.9 quantile by 5: (1 - 0.9) * 5 = 0.5; above the 0.1 quantile... y=20 vs q=10 at 0.1: 1.0
    assert pinball_loss(np.array([20.0]), np.array([[10.0, 25.0]]), (0.1, 0.9)).tolist() == pytest.approx([0.75])


def test_conformal_quantiles_by_hand():
    raw = np.array([[90.0, 95.0, 100.0, 105.0, 110.0]])  # p50 100, p90 - p10 = 20
    r = np.arange(-4, 5, dtype=float) / 4  # nine residuals -1.0 ... 1.0
    q = conformal_quantiles(raw, r)
    # n = 9: level 0.9 -> ceil(10 * 0.9) = 9th = 1.0; 0.75 -> ceil(7.5) = 8th = 0.75; 0.5 -> 5th = 0
    # 0.25 -> floor(2.5) = 2nd = -0.75; 0.1 -> floor(1.0) = 1st = -1.0
    assert q[0].tolist() == pytest.approx([80.0, 85.0, 100.0, 115.0, 120.0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=MIN_CALIBRATION_CELLS, max_size=60),
       st.floats(0, 1e6), st.floats(1, 1e5))
def test_conformal_quantiles_are_ordered_and_cover_the_residuals_conservatively(res, m, w):
    raw = np.array([[m - w / 2, m - w / 4, m, m + w / 4, m + w / 2]])
    q = conformal_quantiles(raw, np.array(res))[0]
    assert (np.diff(q) >= 0).all()
    # the 80 % interval holds at least (n - 1) / (n + 1) - 0.2 ... of the calibration residuals themselves
    y = m + np.array(res) * w
    inside = ((q[0] <= y + 1e-6 * max(1.0, abs(m))) & (y <= q[4] + 1e-6 * max(1.0, abs(m)))).mean()
    assert inside >= 0.8 - 1.0 / len(res) - 1e-9


def test_simulation_wins_each_deal_in_at_most_one_period_with_the_models_probability():
    rng = np.random.default_rng(0)
    n = 400
    F1 = rng.uniform(0, 0.6, n)
    F2 = F1 + rng.uniform(0, 0.3, n)
    bounds = np.column_stack([np.zeros(n), F1, F2])
    amount = rng.gamma(2, 1000, n)
    group = rng.integers(0, 3, n)
    sims = simulate_open(bounds, amount, group, 3, 4000, seed=1)
    assert sims.shape == (2, 3, 4000)
    total = sims.sum(axis=(0, 1))
    assert (total <= amount.sum() + 1e-6).all()  # at most once per deal over both periods
    for k in range(2):
        expected = np.bincount(group, weights=amount * (bounds[:, k + 1] - bounds[:, k]), minlength=3)
        sd = np.sqrt(np.bincount(group, weights=amount ** 2 * 0.25, minlength=3) / 4000)
        assert np.all(np.abs(sims[k].mean(axis=1) - expected) < 5 * sd)
    assert simulate_open(bounds, amount, group, 3, 10, seed=1).tolist() == \
        simulate_open(bounds, amount, group, 3, 10, seed=1).tolist()


def _won_in(o, s, e):
    won = o["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return won & ((o["closed_at"] >= s) & (o["closed_at"] < e)).to_numpy(dtype=bool, na_value=False)


def test_forecast_columns_add_up_and_booked_is_what_was_won_before_as_of(fitted_forecast, deal_world):
    t = deal_world.tables
    fc = fitted_forecast.forecast(t, AS_OF, periods=2)
    assert list(fc.columns) == ["period_start", "period_end", "booked", "from_open", "from_new", "expected", "p10",
                                "p25", "p50", "p75", "p90", "stage_weighted", "open_deals", "interval"]
    o = t.opportunities
    q1 = pd.Timestamp("2025-01-01")
    assert fc.loc[0, "booked"] == pytest.approx(o.loc[_won_in(o, q1, AS_OF), "amount"].sum())
    assert fc.loc[1, "booked"] == 0.0
    np.testing.assert_allclose(fc["expected"], fc["booked"] + fc["from_open"] + fc["from_new"])
    assert (fc[["p10", "p25", "p50", "p75", "p90"]].diff(axis=1).iloc[:, 1:] >= 0).all().all()
    assert (fc["p10"] >= fc["booked"] - 1e-6).all()
    scores = fitted_forecast.score(t, AS_OF)
    assert fc.loc[0, "from_open"] == pytest.approx(scores["expected_bookings"].sum())
    assert (fc["interval"] == "conformal (10 backtest cells, weighted by age over 730 days)").all()


def test_forecast_by_group_adds_up_to_the_total(fitted_forecast, deal_world):
    t = deal_world.tables
    total = fitted_forecast.forecast(t, AS_OF, periods=1)
    by_owner = fitted_forecast.forecast(t, AS_OF, periods=1, group_by="owner")
    by_industry = fitted_forecast.forecast(t, AS_OF, periods=1, group_by="industry")  # a customers column
    for g in (by_owner, by_industry):
        for c in ("booked", "from_open", "from_new", "stage_weighted"):
            assert g[c].sum() == pytest.approx(total.loc[0, c], rel=1e-9)
    assert set(by_owner["owner"]) <= set(t.opportunities["owner"])
    with pytest.raises(ParameterError, match="The 'group_by' parameter of PipelineForecastModel.forecast must name a "
                                             "column of opportunities"):
        fitted_forecast.forecast(t, AS_OF, group_by="colour")


def test_periods_beyond_the_horizon_are_refused(fitted_forecast, deal_world):
    with pytest.raises(ParameterError, match=re.escape("The 'periods' parameter of PipelineForecastModel.forecast "
                                                       "reaches 325 days past as_of (2026-01-01), beyond the model's "
                                                       "horizon_days=184.")):
        fitted_forecast.forecast(deal_world.tables, AS_OF, periods=4)


def test_the_fit_backtest_corrects_the_intervals_and_is_persisted(fitted_forecast, deal_world, tmp_path):
    m = fitted_forecast
    cells = m.intervals_["cells"]
    assert len(m.intervals_["origins"]) == 5 and len(cells) == 10
    assert all(pd.Timestamp(c["period_end"]) <= AS_OF for c in cells)  # only what had happened by as_of
    res = m.backtest_result()
    assert res.summary()["cells"] == 10 and len(res.frame) == 10
    assert res.frame["corrected"].all()  # cross-conformal: each cell by the other origins' 8 residuals
    # a cell's corrected interval uses the residuals of the other origins only
    from crmml.forecast._backtest import decay_weights, residuals_of

    f = res.frame
    r = residuals_of(f)
    first = (f["origin"] == f["origin"].iloc[0]).to_numpy()
    age = np.abs((f["origin"].iloc[0] - f.loc[~first, "period_end"]).dt.days.to_numpy())
    want = conformal_quantiles(f.loc[first, ["raw_p10", "raw_p25", "raw_p50", "raw_p75", "raw_p90"]].to_numpy(),
                               r[~first], weights=decay_weights(age, 730))
    np.testing.assert_allclose(f.loc[first, ["p10", "p25", "p50", "p75", "p90"]].to_numpy(), want)
    fc = m.forecast(deal_world.tables, AS_OF)
    assert (fc["interval"] == "conformal (10 backtest cells, weighted by age over 730 days)").all()


def test_a_backtest_refits_at_each_origin_and_corrects_later_cells(deal_world):
    origins = pd.date_range("2024-01-01", periods=7, freq="28D")
    r = backtest(deal_world.tables, origins, periods=2, num_threads=1, n_simulations=200)
    f = r.frame
    assert set(f["origin"]) == set(origins) and len(f) == 14
    assert not f.loc[f["origin"] == origins[0], "corrected"].any()  # nothing had ended yet
    y = f["actual"]
    o = deal_world.tables.opportunities
    r0 = f.iloc[0]
    assert r0["actual"] == pytest.approx(o.loc[_won_in(o, r0["period_start"], r0["period_end"]), "amount"].sum())
    np.testing.assert_allclose(f["ape_model"], np.abs(f["p50"] - y) / y)
    s = r.summary()
    assert s["cells"] == 14 and s["mdape_model"] == pytest.approx(float(np.nanmedian(f["ape_model"])))
    with pytest.raises(ParameterError, match="backtest: 'interval_origins' must be 0"):
        backtest(deal_world.tables, origins, interval_origins=3)


def test_weighted_conformal_quantiles_by_hand():
    raw = np.array([[90.0, 95.0, 100.0, 105.0, 110.0]])  # p50 100, p90 - p10 = 20
    r = np.array([-1.0, 0.0, 1.0, 2.0])
    w = np.array([1.0, 1.0, 1.0, 6.0])  # total with the new cell's unit weight: 10
    q = conformal_quantiles(raw, r, weights=w)
    # 0.9 * 10 = 9 -> cumulative 1, 2, 3, 9: the 4th residual (2.0); 0.5 * 10 = 5 -> also 2.0
    # 0.1 from the top: 0.9 * 10 = 9 -> from the top 6, 7, 8, 9: the 4th from the top (-1.0)
    # 0.25 from the top: 0.75 * 10 = 7.5 -> 6, 7, 8: the 3rd from the top (0.0)
    assert q[0].tolist() == pytest.approx([80.0, 100.0, 140.0, 140.0, 140.0])
    np.testing.assert_allclose(conformal_quantiles(raw, r), conformal_quantiles(raw, r, weights=np.ones(4)))


def test_finish_uses_only_cells_that_had_ended():
    origins = pd.date_range("2023-01-02", periods=20, freq="14D")
    rows = []
    for o in origins:
        s = pd.Timestamp(o).to_period("Q").start_time
        rows.append({"origin": o, "period_start": s, "period_end": s + pd.offsets.QuarterBegin(1),
                     "period_index": 0, "raw_p10": 90.0, "raw_p25": 95.0, "raw_p50": 100.0, "raw_p75": 105.0,
                     "raw_p90": 110.0, "stage_weighted": 100.0, "actual": 130.0, "expected": 100.0})
    f = _finish(pd.DataFrame(rows))
    ended = [(f["period_end"] <= o).sum() for o in f["origin"]]
    assert (f["corrected"] == (np.array(ended) >= MIN_CALIBRATION_CELLS)).all()
    # every residual is +1.5: a corrected interval is centred on 130
    assert f.loc[f["corrected"], "p50"].eq(130.0).all()
