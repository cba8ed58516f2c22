"""PipelineForecastModel per deal: population, coherent timing, slip, persistence, leakage guard, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmml.data import ExclusionReport
from crmml.exceptions import DataContractError, LeakageError, ParameterError
from crmml.forecast import PipelineForecastModel
from crmml.supervised import DAYS_AHEAD

from .conftest import AS_OF

COLUMNS = ["customer_id", "amount", "stage", "win_probability", "close_in_period_probability", "expected_close_at",
           "slip_probability", "expected_bookings", "reason_1"]


def _open_at(t, ts):
    o = t.opportunities
    return o[(o["created_at"] < ts) & (o["closed_at"].isna() | (o["closed_at"] >= ts))]


def test_scores_every_open_deal_and_reports_the_closed_ones(fitted_forecast, deal_world):
    t = deal_world.tables
    report = ExclusionReport()
    scores = fitted_forecast.score(t, AS_OF, report=report)
    open_ = _open_at(t, AS_OF)
    assert set(scores.index) == set(open_["opportunity_id"]) and scores.index.name == "opportunity_id"
    assert [c for c in COLUMNS if c in scores.columns] == COLUMNS
    assert list(scores.columns[:8]) == COLUMNS[:8]
    closed_before = t.opportunities[(t.opportunities["created_at"] < AS_OF) & (t.opportunities["closed_at"] < AS_OF)]
    counts = {(e["table"], e["rule"]): e["n_rows"] for e in report.to_dict()}
    assert counts[("opportunities", "closed before as_of (not open; not scored)")] == len(closed_before)
    o = open_.set_index("opportunity_id").loc[scores.index]
    assert (scores["customer_id"] == o["customer_id"]).all()
    assert DAYS_AHEAD not in set(scores.filter(like="_feature").stack())  # the look-ahead is never a reason


def test_timing_is_coherent_and_reaches_the_win_probability(fitted_forecast, deal_world):
    m = fitted_forecast
    feats = m.build_features(deal_world.tables, AS_OF).set_index("opportunity_id")
    days = np.array([0, 1, 5, 7, 30, 31.5, 60, 90, 120, 184, 400])
    curve = m.timing_curve(feats, days)
    assert (np.diff(curve, axis=1) >= 0).all() and (curve[:, 0] == 0).all()
    scores = m.score(deal_world.tables, AS_OF)
    np.testing.assert_allclose(curve[:, -2], scores["win_probability"].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve[:, -1], curve[:, -2])  # beyond the horizon: the horizon's value
    period_end_days = (pd.Timestamp("2025-04-01") - AS_OF).days
    np.testing.assert_allclose(m.timing_curve(feats, [period_end_days])[:, 0], scores["close_in_period_probability"])
    assert (scores["close_in_period_probability"] <= scores["win_probability"] + 1e-12).all()
    np.testing.assert_allclose(scores["expected_bookings"], scores["amount"] * scores["close_in_period_probability"])
    # the median close date of a win lies within the horizon, after as_of
    ec = scores["expected_close_at"]
    assert (ec > AS_OF).all() and (ec <= AS_OF + pd.Timedelta(days=184)).all()


def test_won_deals_rank_above_lost_ones_and_probabilities_follow_outcomes(fitted_forecast, deal_world):
    scores = fitted_forecast.score(deal_world.tables, AS_OF)
    o = deal_world.tables.opportunities.set_index("opportunity_id").loc[scores.index]
    won_soon = (o["won"].astype("boolean").fillna(False) & (o["closed_at"] < AS_OF + pd.Timedelta(days=184)))
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(won_soon, scores["win_probability"]) > 0.7
    assert abs(scores["win_probability"].mean() - won_soon.mean()) < 0.1


def test_slip_probability_is_one_for_a_deal_already_past_its_crm_close_date(fitted_forecast, deal_world):
    m = fitted_forecast
    feats = m.build_features(deal_world.tables, AS_OF).set_index("opportunity_id")
    scores = m.predict_features(feats.reset_index())
    past = feats["expected_close_days"] <= 0
    assert past.any() and (scores.loc[past, "slip_probability"] == 1.0).all()
    ahead = scores.loc[~past, "slip_probability"]
    assert ahead.between(0, 1).all() and ahead.lt(1).all()


def test_one_deal_in_process_equals_its_batch_row(fitted_forecast, deal_world):
    m = fitted_forecast
    feats = m.build_features(deal_world.tables, AS_OF).set_index("opportunity_id")
    batch = m.score(deal_world.tables, AS_OF)
    for oid in batch.sort_values("win_probability").index[[0, len(batch) // 2, -1]]:
        row = feats.loc[oid].to_dict()
        row.pop(DAYS_AHEAD)  # a CRM backend does not know the look-ahead feature: score_row sets it
        one = m.score_row(row, as_of=AS_OF)
        assert list(one)[:8] == COLUMNS[:8]
        for c in ("win_probability", "close_in_period_probability", "slip_probability", "expected_bookings"):
            assert one[c] == pytest.approx(batch.at[oid, c], abs=1e-12), c
        assert abs((one["expected_close_at"] - batch.at[oid, "expected_close_at"]).total_seconds()) < 1
        assert one["reason_1"] == batch.at[oid, "reason_1"] and one["customer_id"] == batch.at[oid, "customer_id"]


def test_round_trip_through_the_artifact_folder(fitted_forecast, deal_world, tmp_path):
    back = PipelineForecastModel.load(fitted_forecast.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(back.score(deal_world.tables, AS_OF), fitted_forecast.score(deal_world.tables, AS_OF))
    pd.testing.assert_frame_equal(back.forecast(deal_world.tables, AS_OF),
                                  fitted_forecast.forecast(deal_world.tables, AS_OF))


def test_history_after_as_of_changes_no_score(fitted_forecast, deal_world):
    t = deal_world.tables
    h = t.opportunity_history
    later = h["ts"] >= AS_OF
    shuffled = h.copy()
    shuffled.loc[later, "stage"] = "qualification"
    shuffled.loc[later, "amount"] = 1.0
    o = t.opportunities.copy()
    o.loc[o["closed_at"] >= AS_OF, "won"] = ~o.loc[o["closed_at"] >= AS_OF, "won"].astype(bool)
    changed = t.replace(opportunity_history=shuffled, opportunities=o)
    pd.testing.assert_frame_equal(fitted_forecast.score(changed, AS_OF), fitted_forecast.score(t, AS_OF))


def _with_close_value(t, leak):
    o = t.opportunities.copy()
    rng = np.random.default_rng(0)
    won = o["won"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    o["close_value"] = np.where(won, o["amount"], 0.0) if leak else rng.gamma(2.0, 1000.0, len(o))
    return t.replace(opportunities=o)


def test_a_post_outcome_snapshot_column_is_refused_unless_allowed(deal_world):
    t = _with_close_value(deal_world.tables, leak=True)
    with pytest.raises(LeakageError) as err:
        PipelineForecastModel(static_columns=("close_value",), num_threads=1, interval_origins=0).fit(t, AS_OF)
    msg = str(err.value)
    assert "opportunities.close_value: alone it predicts the label with ROC AUC" in msg
    assert "allow_columns=['close_value'] (CLI: --allow-column close_value)" in msg
    m = PipelineForecastModel(static_columns=("close_value",), allow_columns=("close_value",), num_threads=1,
                              interval_origins=0)
    assert "close_value" in m.fit(t, AS_OF).model_.spec_.names


def test_an_honest_static_column_is_used(deal_world):
    t = _with_close_value(deal_world.tables, leak=False)
    m = PipelineForecastModel(static_columns=("close_value",), num_threads=1, interval_origins=0).fit(t, AS_OF)
    assert "close_value" in m.model_.spec_.names and not m.leakage_.columns[0].flagged


def test_parameters_are_checked_before_any_work(deal_world):
    with pytest.raises(ParameterError, match="names contract columns of the opportunities table: \\['stage'\\]"):
        PipelineForecastModel(static_columns=("stage",)).fit(deal_world.tables, AS_OF)
    with pytest.raises(ParameterError, match="The 'period' parameter of PipelineForecastModel must be"):
        PipelineForecastModel(period="week").fit(deal_world.tables, AS_OF)


def test_scoring_without_a_table_the_model_was_trained_with_names_the_missing_columns(fitted_forecast, deal_world):
    t = deal_world.tables.replace(opportunity_history=None)
    for call in (lambda: fitted_forecast.score(t, AS_OF), lambda: fitted_forecast.forecast(t, AS_OF),
                 lambda: fitted_forecast.build_features(t, AS_OF)):
        with pytest.raises(DataContractError) as err:
            call()
        msg = str(err.value)
        assert "features.days_in_stage: a column the model was trained with" in msg
        assert "Fix: supply the tables the model was trained with, or refit on these tables" in msg
