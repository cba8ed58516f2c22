"""CLVModel from tables: fit, score, segments, persistence, errors."""

import json

import numpy as np
import pandas as pd
import pytest

from crmml.clv import CLVModel
from crmml.clv._segments import SEGMENTS, assign_segments
from crmml.data import CRMTables
from crmml.exceptions import (
    DataContractError,
    IncompatibleArtifactError,
    MissingTableError,
    NotFittedError,
    ParameterError,
    TamperedArtifactError,
)


def _true_bgnbd(world):
    p = world.params
    src = p.get("bgnbd", p)
    return {k: float(src[k]) for k in ("r", "alpha", "a", "b")}


def test_recovers_generating_parameters_of_the_synthetic_shop(fitted_clv, b2c_world):
    model, _ = fitted_clv
    truth = _true_bgnbd(b2c_world)
    p = model.transaction_model_.params_
    se = model.transaction_model_.standard_errors_
    # The world's BG/NBD parameters are known; a 3,000-customer fit lands within 4 standard errors.
    for k in ("r", "alpha", "a", "b"):
        assert abs(p[k] - truth[k]) < 4 * se[k], (k, p[k], truth[k], se[k])


def test_scores_every_purchasing_customer_once(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    scores = model.score(b2c_world.tables, as_of)
    tx = b2c_world.tables.transactions
    buyers = tx.loc[(tx.ts < as_of) & (tx.amount > 0), "customer_id"].unique()
    assert scores.index.name == "customer_id"
    assert scores.index.is_unique and set(scores.index) == set(map(str, buyers))
    assert list(scores.columns) == ["probability_alive", "expected_purchases", "expected_average_value",
                                    "expected_revenue", "clv", "segment", "reason"]
    assert scores["probability_alive"].between(0, 1).all()
    assert (scores["clv"] >= 0).all() and (scores["clv"] <= scores["expected_revenue"] + 1e-9).all()
    assert set(scores["segment"]) <= set(SEGMENTS)
    assert scores["reason"].str.len().gt(10).all()


def test_clv_is_the_discounted_formula_over_monthly_steps(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    feats = model.build_features(b2c_world.tables, as_of).head(50)
    out = model.predict_features(feats)
    tm = model.transaction_model_
    summary = feats[["frequency", "recency", "T"]]
    edges = np.linspace(0, 365, 13)
    cum = np.column_stack([np.zeros(len(feats))] + [np.asarray(tm.expected_purchases(e, summary)) for e in edges[1:]])
    monthly_d = 1.10 ** (365 / 365.25 / 12) - 1
    margin = feats["margin_rate"].fillna(model.margin_).to_numpy()
    value = out["expected_average_value"].to_numpy()
    by_hand = sum(np.diff(cum, axis=1)[:, k] * value * margin / (1 + monthly_d) ** (k + 1) for k in range(12))
    np.testing.assert_allclose(out["clv"].to_numpy(), by_hand, rtol=1e-10)


def test_clv_ranks_customers_by_true_value(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    scores = model.score(b2c_world.tables, as_of)
    truth = b2c_world.truth["customers"].set_index("customer_id")
    alive = b2c_world.truth["customers"].set_index("customer_id")["alive_at_end"].astype(float)
    true_value = truth["lambda"] * alive / truth["nu"]  # purchase rate × mean spend (∝ 1/ν), if alive
    joined = scores.join(true_value.rename("true"), how="inner")
    rho = joined["clv"].rank().corr(joined["true"].rank())
    assert rho > 0.5, rho


def test_at_risk_customers_are_mostly_truly_gone(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    scores = model.score(b2c_world.tables, as_of)
    alive = b2c_world.truth["customers"].set_index("customer_id")["alive_at_end"].astype(float)
    at_risk = scores.index[scores.segment == "At risk"]
    assert len(at_risk) > 20
    assert alive.reindex(at_risk).mean() < 0.35
    champions = scores.index[scores.segment == "Champions"]
    assert alive.reindex(champions).mean() > 0.8


def test_single_customer_scores_equal_batch_scores(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    batch = model.score(b2c_world.tables, as_of)
    cid = batch.index[7]
    t = b2c_world.tables
    one = CRMTables(transactions=t.transactions[t.transactions.customer_id == cid],
                    customers=t.customers[t.customers.customer_id == cid])
    single = model.score(one, as_of)
    pd.testing.assert_frame_equal(single, batch.loc[[cid]], check_exact=False, rtol=1e-12)


def test_save_load_round_trip_is_identical(fitted_clv, b2c_world, tmp_path):
    model, as_of = fitted_clv
    path = model.save(tmp_path / "clv")
    loaded = CLVModel.load(path)
    pd.testing.assert_frame_equal(loaded.score(b2c_world.tables, as_of), model.score(b2c_world.tables, as_of))
    assert json.loads((path / "model.json").read_text())["config"] == model.get_params()


def test_tampered_parameters_are_refused(fitted_clv, tmp_path):
    model, _ = fitted_clv
    path = model.save(tmp_path / "clv")
    d = json.loads((path / "model.json").read_text())
    d["transaction_model"]["params"]["r"] *= 2
    (path / "model.json").write_text(json.dumps(d))
    with pytest.raises(TamperedArtifactError, match="checksum of 'model.json' does not match"):
        CLVModel.load(path)


def test_wrong_kind_artifact_is_refused(tmp_path):
    from crmml._artifact import write_artifact

    write_artifact(tmp_path / "m", kind="churn", entity="customer_id", files={"model.json": {}})
    with pytest.raises(IncompatibleArtifactError, match="holds a 'churn' model, not a 'clv' model"):
        CLVModel.load(tmp_path / "m")


def test_not_fitted_message():
    with pytest.raises(NotFittedError, match="This CLVModel instance is not fitted yet. Call 'fit'"):
        CLVModel().score(CRMTables(), "2025-01-01")


@pytest.mark.parametrize("param, value, message", [
    ("horizon_days", -3, r"The 'horizon_days' parameter of CLVModel must be a float in the range \(0, 36525\]. Got -3 instead."),
    ("discount_rate", -0.1, r"The 'discount_rate' parameter of CLVModel must be a float in the range \[0, 10\). Got -0.1 instead."),
    ("freq", "M", r"The 'freq' parameter of CLVModel must be one of \{'D', 'W'\}. Got 'M' instead."),
    ("margin", 1.5, r"The 'margin' parameter of CLVModel must be a float in the range \(0, 1\] or None. Got 1.5 instead."),
])
def test_parameter_limits_are_checked_at_fit(b2c_world, param, value, message):
    with pytest.raises(ParameterError, match=message):
        CLVModel(**{param: value}).fit(b2c_world.tables, "2025-06-01")


def test_missing_transactions_table_is_named():
    customers = pd.DataFrame({"customer_id": ["a"], "signup_at": [pd.Timestamp("2024-01-01")]})
    with pytest.raises(MissingTableError, match="transactions: table is required by CLVModel"):
        CLVModel().fit(CRMTables(customers=customers), "2025-01-01")


def test_feature_frame_errors_name_the_column(fitted_clv):
    model, _ = fitted_clv
    bad = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [1.0, np.nan], "recency": [3.0, 1.0],
                        "T": [10.0, 5.0], "monetary_value": [5.0, 0.0], "margin_rate": [np.nan, np.nan]})
    with pytest.raises(DataContractError, match=r"features.frequency: finite number >= 0 — 1 row fails \(e.g. b\)"):
        model.predict_features(bad)
    with pytest.raises(DataContractError, match="features.T: column required by the CLV model"):
        model.predict_features(bad.drop(columns="T"))


def test_segment_rule_order():
    seg = assign_segments(np.array([900.0, 900.0, 50.0, 10.0]), np.array([0.4, 0.9, 0.9, 0.9]),
                          np.array([9, 9, 2, 1]), champion_threshold=500)
    assert seg.tolist() == ["At risk", "Champions", "Loyal", "Potential"]


def test_champion_share_matches_quantile_on_training_population(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    scores = model.score(b2c_world.tables, as_of)
    share_top = (scores["clv"] >= model.champion_threshold_).mean()
    assert share_top == pytest.approx(0.2, abs=0.01)


def test_exclusions_are_counted_not_dropped(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    tx = b2c_world.tables.transactions
    n_refunds = int(((tx.amount < 0) & (tx.ts < as_of)).sum())
    assert n_refunds > 0
    counted = sum(e["n_rows"] for e in model.exclusions_ if "refund" in e["rule"].lower())
    assert counted == n_refunds, model.exclusions_


def test_contractual_clv_on_b2b_accounts(b2b_world):
    as_of = b2b_world.end.normalize()
    model = CLVModel(business="contractual", horizon_days=3 * 365.25).fit(b2b_world.tables, as_of)
    p = model.transaction_model_.params_
    assert set(p) == {"alpha", "beta"} and all(v > 0 for v in p.values())
    scores = model.score(b2b_world.tables, as_of)
    assert len(scores) > 50 and scores.index.is_unique
    assert scores["probability_alive"].between(0, 1).all()
    # Retention rises with tenure under sBG: longer-tenured accounts renew more likely.
    feats = model.build_features(b2b_world.tables, as_of).set_index("customer_id")
    by_tenure = scores.join(feats).groupby("tenure_periods")["probability_alive"].mean()
    assert by_tenure.is_monotonic_increasing
    # CLV over 3 years is at most 3 years of contract value, and positive for running accounts.
    assert (scores["clv"] <= 3 * scores["expected_average_value"] + 1e-6).all()
    assert (scores["clv"] > 0).all()


@pytest.mark.parametrize("business", ["noncontractual", "contractual"])
def test_score_equals_predict_on_built_features(business, fitted_clv, b2c_world, b2b_world):
    # score() feeds the feature arrays straight to the model; the frame path must agree exactly.
    if business == "noncontractual":
        model, as_of = fitted_clv
        tables = b2c_world.tables
    else:
        as_of = b2b_world.end.normalize()
        tables = b2b_world.tables
        model = CLVModel(business="contractual").fit(tables, as_of)
    via_frame = model.predict_features(model.build_features(tables, as_of))
    pd.testing.assert_frame_equal(model.score(tables, as_of), via_frame)
