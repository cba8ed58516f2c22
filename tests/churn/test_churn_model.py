"""ChurnModel behaviour: populations, labels and leakage, tiers, features used, persistence, errors, money."""

from __future__ import annotations

import math

import json
import re

import numpy as np
import pandas as pd
import pytest

from crmml.churn import ChurnModel
from crmml.data import ExclusionReport
from crmml.exceptions import (
    IncompatibleArtifactError,
    InsufficientDataError,
    MissingTableError,
    ParameterError,
)
from crmml.features import (
    churn_population,
    contractual_churn_labels,
    noncontractual_churn_labels,
)
from crmml.scoring import load_scorer

AS_OF = pd.Timestamp("2025-07-01")


def _new_customers(tables, ids, signup="2024-01-01"):
    c = tables.customers
    extra = c.iloc[: len(ids)].copy()
    extra["customer_id"] = pd.array(ids, dtype=c["customer_id"].dtype)
    extra["signup_at"] = pd.Timestamp(signup)
    return pd.concat([c, extra], ignore_index=True)


def _tx(tables, rows):
    tx = tables.transactions
    extra = pd.DataFrame(rows)
    extra["transaction_id"] = [f"T-extra-{i}" for i in range(len(extra))]
    extra["customer_id"] = extra["customer_id"].astype(tx["customer_id"].dtype)
    extra["transaction_id"] = extra["transaction_id"].astype(tx["transaction_id"].dtype)
    for col in tx.columns:
        if col not in extra.columns:
            extra[col] = np.nan
    return pd.concat([tx, extra[tx.columns]], ignore_index=True)


# ------------------------------------------------------------------ populations and exclusions
def test_b2c_population_is_buyers_and_the_others_are_reported(b2c_model, b2c_world):
    t = b2c_world.tables
    customers = _new_customers(t, ["X-refund", "X-none", "X-later"])
    tx = _tx(t, [{"customer_id": "X-refund", "ts": pd.Timestamp("2025-03-01"), "amount": -20.0},
                 {"customer_id": "X-later", "ts": AS_OF, "amount": 50.0}])
    tables = t.replace(customers=customers, transactions=tx)
    report = ExclusionReport()
    scores = b2c_model.score(tables, AS_OF, report=report)
    pop = churn_population(tables, AS_OF, "noncontractual")
    assert list(scores.index) == list(pop.astype(str))
    assert pop.equals(noncontractual_churn_labels(tables, AS_OF, 90).index)
    assert not {"X-refund", "X-none", "X-later"} & set(scores.index)
    rules = {e["rule"]: e["n_rows"] for e in report.to_dict()}
    assert rules["only refunds or missing amounts before as_of (no purchase; not scored)"] >= 1
    assert rules["no purchase before as_of (not in the churn population; not scored)"] >= 2  # X-none, X-later
    signed_up = set(customers.loc[customers["signup_at"] < AS_OF, "customer_id"].astype(str))
    assert len(scores) + report.entities() == len(signed_up)


def test_b2b_population_is_accounts_with_a_running_subscription(b2b_model, b2b_world):
    t = b2b_world.tables
    report = ExclusionReport()
    scores = b2b_model.score(t, AS_OF, report=report)
    s = t.subscriptions
    running = s.loc[(s["start_at"] < AS_OF) & (s["end_at"].isna() | (s["end_at"] >= AS_OF)), "customer_id"]
    assert set(scores.index) == set(running.astype(str))
    assert churn_population(t, AS_OF, "contractual").equals(contractual_churn_labels(t, AS_OF, 90).index)
    rules = {e["rule"] for e in report.to_dict()}
    assert "no running subscription at as_of (the contract ended: already churned; not scored)" in rules
    assert "no subscription before as_of (not a contract customer yet; not scored)" in rules


# ------------------------------------------------------------------ labels, cutoffs and leakage
def test_label_window_is_half_open(b2c_world):
    t = b2c_world.tables
    customers = _new_customers(t, ["L-in", "L-edge", "L-out"])
    first = {"ts": pd.Timestamp("2025-01-10"), "amount": 10.0}
    tx = _tx(t, [{"customer_id": c, **first} for c in ("L-in", "L-edge", "L-out")] + [
        {"customer_id": "L-in", "ts": AS_OF + pd.Timedelta(days=89, hours=23), "amount": 10.0},
        {"customer_id": "L-edge", "ts": AS_OF, "amount": 10.0},
        {"customer_id": "L-out", "ts": AS_OF + pd.Timedelta(days=90), "amount": 10.0}])
    y = noncontractual_churn_labels(t.replace(customers=customers, transactions=tx), AS_OF, 90)["churned"]
    assert (y["L-in"], y["L-edge"], y["L-out"]) == (0, 0, 1)


def test_every_training_label_window_ends_by_as_of(b2c_model):
    h = pd.Timedelta(days=90)
    assert max(b2c_model.cutoffs_) == AS_OF - h
    assert all(c + h <= AS_OF for c in b2c_model.cutoffs_) and len(b2c_model.cutoffs_) == 4
    assert np.diff(np.array(b2c_model.cutoffs_, dtype="datetime64[ns]")).astype("timedelta64[D]").astype(int).tolist() \
        == [90, 90, 90]


def test_rows_at_or_after_as_of_change_neither_scores_nor_fit(b2c_model, b2c_world):
    t = b2c_world.tables
    ids = list(b2c_model.score(t, AS_OF).index[:20])
    future = _tx(t, [{"customer_id": c, "ts": AS_OF + pd.Timedelta(days=d), "amount": 999.0}
                     for c in ids for d in (0, 1, 30)])
    changed = t.replace(transactions=future)
    pd.testing.assert_frame_equal(b2c_model.score(changed, AS_OF), b2c_model.score(t, AS_OF))
    refit = ChurnModel(num_threads=1).fit(changed, AS_OF)
    assert refit.model_.tree_.to_text() == b2c_model.model_.tree_.to_text()


# ------------------------------------------------------------------ quality on the synthetic truth
def test_long_dead_customers_get_the_high_tier(b2c_model, b2c_world):
    scores = b2c_model.score(b2c_world.tables, AS_OF)
    truth = b2c_world.truth["customers"].set_index("customer_id")
    dead = truth.index[truth["dropout_at"] < AS_OF - pd.Timedelta(days=365)].astype(str)
    dead = scores.index.intersection(dead)
    assert len(dead) > 30
    assert (scores.loc[dead, "risk_tier"] == "high").mean() > 0.9
    assert (scores.loc[dead, "action"] == "alert_account_manager").mean() > 0.9
    active = scores.index.intersection(truth.index[truth["alive_at_end"]].astype(str))
    assert scores.loc[dead, "churn_probability"].mean() > scores.loc[active, "churn_probability"].mean() + 0.2


def test_the_model_beats_the_baseline_on_the_held_out_cutoff(b2c_model, b2b_model):
    for m in (b2c_model, b2b_model):
        bc = m.model_.baseline_comparison_
        assert bc is not None and bc.beats_baseline
        metrics = m.training_metrics()
        assert metrics["holdout_roc_auc"] > metrics["baseline_roc_auc"]
    assert b2c_model.model_.baseline == "recency_days"
    assert b2b_model.model_.baseline == "days_to_term_end"
    assert b2b_model.model_.baseline_direction == "decreasing"


def test_b2b_uses_contract_payment_usage_and_buying_center_features(b2b_model):
    names = set(b2b_model.model_.spec_.names)
    assert {"days_to_term_end", "days_in_current_term", "invoices_paid_late", "invoice_share_paid_late",
            "logins_trend_90d", "engagement_trend_90d", "service_90d", "contacts_total", "contacts_lost",
            "contacts_active_90d", "contacts_purchasing", "contact_roles", "mrr"} <= names
    gain = b2b_model.model_.feature_importance_
    assert gain["days_to_term_end"] > 0
    assert sum(v for k, v in gain.items() if k.startswith(("logins", "engagement", "interactions_login"))) > 0


def test_b2c_reasons_are_in_words(b2c_model, b2c_world):
    scores = b2c_model.score(b2c_world.tables, AS_OF)
    row = scores.loc[scores["reason_1_feature"] == "recency_days"].head(1)
    if len(row):
        assert re.fullmatch(r"no purchase for \d+ days?( — usually every \d+)?", row["reason_1"].iloc[0])
    assert scores["reason_1"].notna().all()
    contrib = scores[["reason_1_contribution", "reason_2_contribution", "reason_3_contribution"]].to_numpy()
    ok = ~np.isnan(contrib)
    assert (contrib[ok] > 0).all() and (np.diff(np.where(ok, contrib, -np.inf), axis=1) <= 0).all()


# ------------------------------------------------------------------ revenue at risk
def test_revenue_at_risk_b2c_is_trailing_12_month_revenue_times_probability(b2c_model, b2c_world):
    t = b2c_world.tables
    scores = b2c_model.score(t, AS_OF)
    tx = t.transactions
    win = tx[(tx["ts"] >= AS_OF - pd.Timedelta(days=365)) & (tx["ts"] < AS_OF) & (tx["amount"] >= 0)]
    revenue = win.groupby("customer_id", observed=True)["amount"].sum()
    for cid in scores.index[[0, 5, 50, -1]]:
        expected = float(revenue.get(cid, 0.0)) * scores.loc[cid, "churn_probability"]
        assert scores.loc[cid, "revenue_at_risk"] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_revenue_at_risk_b2b_is_twelve_times_mrr_times_probability(b2b_model, b2b_world):
    t = b2b_world.tables
    scores = b2b_model.score(t, AS_OF)
    s = t.subscriptions
    run = s[(s["start_at"] < AS_OF) & (s["end_at"].isna() | (s["end_at"] >= AS_OF))]
    mrr = run.groupby("customer_id", observed=True)["monthly_value"].sum()
    for cid in scores.index[[0, 7, -1]]:
        expected = 12 * float(mrr[cid]) * scores.loc[cid, "churn_probability"]
        assert scores.loc[cid, "revenue_at_risk"] == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ persistence
def test_save_load_round_trip_and_score_row(b2b_model, b2b_world, tmp_path):
    folder = b2b_model.save(tmp_path / "m")
    assert "model.json" in {p.name for p in folder.iterdir()}
    loaded = load_scorer(folder)
    a, b = loaded.score(b2b_world.tables, AS_OF), b2b_model.score(b2b_world.tables, AS_OF)
    pd.testing.assert_frame_equal(a, b)
    feats = b2b_model.build_features(b2b_world.tables, AS_OF).set_index("customer_id")
    cid = a.index[3]
    one = loaded.score_row(feats.loc[cid].to_dict())
    assert one["churn_probability"] == a.loc[cid, "churn_probability"]
    assert one["risk_tier"] == a.loc[cid, "risk_tier"] and one["reason_1"] == a.loc[cid, "reason_1"]
    assert one["revenue_at_risk"] == pytest.approx(a.loc[cid, "revenue_at_risk"], rel=1e-12)


def test_a_payload_with_a_broken_booster_or_bad_field_is_refused(b2c_model):
    from crmml._payload import Payload

    d = json.loads(json.dumps(b2c_model.to_dict()))
    d["booster"]["text"] = d["booster"]["text"][: len(d["booster"]["text"]) // 2]
    with pytest.raises(IncompatibleArtifactError, match=r"booster\.text"):
        ChurnModel.from_dict(Payload.of(d, source="model.json"))
    d = json.loads(json.dumps(b2c_model.to_dict()))
    d["supervised"]["config"]["num_leaves"] = -3
    with pytest.raises(IncompatibleArtifactError, match=r"num_leaves"):
        ChurnModel.from_dict(Payload.of(d, source="model.json"))
    d = json.loads(json.dumps(b2c_model.to_dict()))
    d["reason_frequencies"] = {"no_such_feature": 0.5}
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: reason_frequencies: expected feature names"):
        ChurnModel.from_dict(Payload.of(d, source="model.json"))


# ------------------------------------------------------------------ errors
def test_missing_tables_are_named(b2c_world, b2b_world):
    with pytest.raises(MissingTableError) as e:
        ChurnModel().fit(b2c_world.tables.replace(transactions=None), AS_OF)
    assert str(e.value).startswith(
        "1 data contract problem found while preparing ChurnModel.fit (business='noncontractual'):\n"
        "  - transactions: table is required by ChurnModel.fit (business='noncontractual') but was not supplied. "
        "Fix: pass a 'transactions' DataFrame or a transactions.parquet/.csv file")
    with pytest.raises(MissingTableError, match=r"subscriptions: table is required by ChurnModel\.fit "
                                                r"\(business='contractual'\)"):
        ChurnModel(business="contractual").fit(b2b_world.tables.replace(subscriptions=None), AS_OF)


def test_insufficient_data_says_what_was_found_and_what_to_change():
    from crmml.synthetic import make_b2c_world

    tables = make_b2c_world(120, seed=1).tables
    with pytest.raises(InsufficientDataError) as e:
        ChurnModel(n_cutoffs=2, horizon_days=30).fit(tables, AS_OF)
    msg = str(e.value)
    assert msg.startswith("ChurnModel(business='noncontractual', horizon_days=30, n_cutoffs=2) as of 2025-07-01: "
                          "Too few positives or negatives ('churned' = 1 / 0)")
    assert re.search(r"the training cutoffs \['2025-05-02'\] hold \d+ positives and \d+ negatives \(at least 50 of "
                     r"each are needed\)", msg)
    assert "Use more cutoffs (ChurnModel(n_cutoffs=...)), a longer history" in msg
    assert msg.endswith("The floor is documented in docs/churn.md (Minimum data).")


def test_invalid_tier_settings_are_refused(b2c_world):
    with pytest.raises(ParameterError, match="'high_tier' threshold of ChurnModel must be above 'medium_tier'"):
        ChurnModel(high_tier=0.2, medium_tier=0.4).fit(b2c_world.tables, AS_OF)
    with pytest.raises(ParameterError, match=r"The 'business' parameter of ChurnModel must be"):
        ChurnModel(business="b2c").fit(b2c_world.tables, AS_OF)


def test_capacity_tiers_and_actionable_reasons(b2c_world):
    m = ChurnModel(tier_mode="capacity", high_tier=0.1, medium_tier=0.2, reasons_for="actionable",
                   num_threads=1).fit(b2c_world.tables, AS_OF)
    # isotonic steps tie many held-out customers; the calibrator's tie-break lets the shares be met exactly
    held_out = m.model_.training_["n_holdout"]
    shares = m.model_.tiers_.realized_shares
    assert shares["high"] == pytest.approx(math.ceil(0.1 * held_out) / held_out)
    assert shares["high"] + shares["medium"] == pytest.approx(math.ceil(0.3 * held_out - 1e-9) / held_out)
    scores = m.score(b2c_world.tables, AS_OF)
    low = scores["risk_tier"] == "low"
    assert scores.loc[low, "reason_1"].isna().all() and scores.loc[~low, "reason_1"].notna().all()
    assert set(scores["action"].astype(str)) <= {"none", "retention_offer", "alert_account_manager"}
    assert (scores.loc[low, "action"] == "none").all()
    feats = m.build_features(b2c_world.tables, AS_OF).set_index("customer_id")
    for cid in (scores.index[low][0], scores.index[~low][0]):  # one customer alone = its batch row, reasons or not
        one = m.score_row(feats.loc[cid].to_dict())
        assert (one["reason_1"] is None) == bool(low[cid])
        assert one["reason_1"] == (None if low[cid] else scores.at[cid, "reason_1"])
        assert one["churn_probability"] == pytest.approx(scores.at[cid, "churn_probability"], abs=1e-12)


@pytest.mark.slow
def test_lightgbm_infinite_thresholds_are_accepted_by_the_spine():
    from crmml.synthetic import make_b2c_world

    ChurnModel(num_threads=1).fit(make_b2c_world(20000, seed=42).tables, AS_OF)


def test_active_within_days_scores_only_recent_buyers_and_reports_the_lapsed(b2c_world):
    from crmml.features import churn_population, noncontractual_churn_labels

    t = b2c_world.tables
    tx = t.transactions
    recent = tx.loc[(tx["ts"] < AS_OF) & (tx["ts"] >= AS_OF - pd.Timedelta(days=180)) & (tx["amount"] >= 0),
                    "customer_id"]
    pop = churn_population(t, AS_OF, active_within_days=180)
    assert set(pop) == set(recent.astype(str)) and len(pop) < len(churn_population(t, AS_OF))
    pd.testing.assert_index_equal(noncontractual_churn_labels(t, AS_OF, 90, active_within_days=180).index, pop)
    m = ChurnModel(active_within_days=180, num_threads=1).fit(t, AS_OF)
    report = ExclusionReport()
    scores = m.score(t, AS_OF, report=report)
    assert list(scores.index) == list(pop.astype(str))
    lapsed = [e for e in report.to_dict() if "lapsed" in e["rule"]]
    assert len(lapsed) == 1 and lapsed[0]["n_rows"] == len(churn_population(t, AS_OF)) - len(pop)
    assert lapsed[0]["rule"] == ("no purchase in the 180 days before as_of (lapsed: active_within_days; "
                                 "not scored)")
    assert "and one in the 180 days before it" in m.model_card()["summary"]
    with pytest.raises(ParameterError, match=r"'active_within_days' parameter of ChurnModel applies to "
                                             r"business='noncontractual' only"):
        ChurnModel(business="contractual", active_within_days=30).fit(t, AS_OF)


def test_predict_features_leaves_the_callers_frame_alone(b2c_world):
    m = ChurnModel(num_threads=1).fit(b2c_world.tables, AS_OF)
    feats = m.build_features(b2c_world.tables, AS_OF).set_index("customer_id")
    feats.index = feats.index.astype("category")  # a non-str index the scorer must convert on its own copy
    before = feats.copy()
    scores = m.predict_features(feats)
    pd.testing.assert_frame_equal(feats, before)
    assert pd.api.types.is_string_dtype(scores.index) and scores.index.name == "customer_id"
