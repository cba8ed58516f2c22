"""BinaryOutcomeModel end to end on a synthetic world with a known logistic truth."""

from __future__ import annotations

import copy
import json
import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from artifact_mutation import json_values, mutate_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logistic_world import COMPLAINT, make_training_set, true_terms
from sklearn.metrics import roc_auc_score

from crmml._artifact import read_artifact, write_artifact
from crmml.exceptions import IncompatibleArtifactError, NotFittedError, ParameterError
from crmml.supervised import (
    BaselineWarning,
    BinaryOutcomeModel,
    InsufficientDataError,
    TierPolicy,
    expected_calibration_error,
    reason_columns,
)

FEATURES = ["recency_days", "n_purchases", COMPLAINT, "days_since_complaint", "channel", "is_member",
            *[f"noise_{j}" for j in range(5)]]


# ------------------------------------------------------------------ quality
def test_auc_close_to_the_truth_and_calibrated(fitted, holdout):
    y = holdout["churned"].to_numpy()
    p_true = holdout["p_true"].to_numpy()
    p = fitted.predict_proba(fitted.transform(holdout))
    oracle_auc = roc_auc_score(y, p_true)
    assert roc_auc_score(y, p) >= oracle_auc - 0.02
    assert fitted.evaluation_.roc_auc >= oracle_auc - 0.02  # the stored, cross-fitted figure
    assert fitted.evaluation_.ece <= 0.03
    assert expected_calibration_error(y, p) <= 0.03
    assert abs(p.mean() - y.mean()) < 0.01


def test_fit_records_the_split_and_beats_the_recency_baseline(fitted):
    t = fitted.training_
    assert t["holdout_cutoff"] == "2024-10-03T00:00:00" and len(t["train_cutoffs"]) == 3
    assert (t["n_train"], t["n_holdout"]) == (15000, 5000)
    assert t["num_trees"] == t["best_iteration"] <= t["rounds_run"]
    assert fitted.calibrator_.method == "sigmoid"  # 903 held-out positives < 1,000
    assert fitted.spec_.names == tuple(FEATURES)  # p_true excluded
    assert fitted.baseline_comparison_.beats_baseline
    assert fitted.baseline_comparison_.auc_gain > 0.1


def _true_driver(frame, reference):
    terms = true_terms(frame) - true_terms(reference).mean()
    ordered = np.sort(terms.to_numpy(), axis=1)
    return terms.idxmax(axis=1), ordered[:, -1] - ordered[:, -2]


def test_reasons_recover_the_planted_driver(fitted, training_set, holdout):
    train = training_set.frame[training_set.frame["cutoff"] < holdout["cutoff"].max()]
    driver, margin = _true_driver(holdout, train)
    reasons = fitted.score_frame(holdout)
    complaints = (driver == COMPLAINT).to_numpy() & (margin > 0.5)
    # a complaint factor: the count, or the days since the last complaint (NaN without one)
    share = reasons.loc[complaints, "reason_1_feature"].isin([COMPLAINT, "days_since_complaint"]).mean()
    assert complaints.sum() > 300 and share > 0.8
    recency = (driver == "recency_days").to_numpy() & (margin > 0.5)
    assert recency.sum() > 100 and (reasons.loc[recency, "reason_1_feature"] == "recency_days").mean() > 0.8


# ------------------------------------------------------------------ outputs
def test_score_frame_layout(fitted, holdout):
    out = fitted.score_frame(holdout.head(50))
    assert list(out.columns) == ["probability", "tier", "action", *reason_columns(3, 3)]
    assert out.index.equals(holdout.head(50).index)
    assert list(out["tier"].cat.categories) == ["low", "medium", "high"] and out["tier"].cat.ordered
    assert set(out["action"].cat.categories) == {"none", "retention_offer", "alert_account_manager"}
    assert fitted.output_columns() == list(out.columns)
    expected = fitted.tiers_.assign(out["probability"].to_numpy())
    assert out["tier"].astype(str).tolist() == expected[0].tolist()


def test_score_row_equals_score_frame_exactly(fitted, holdout):
    rows = holdout.head(200).assign(purchase_interval_days=np.linspace(5, 60, 200))
    batch = fitted.score_frame(rows)
    for (idx, row), (_, b) in zip(rows.iterrows(), batch.iterrows(), strict=True):
        one = fitted.score_row(row.to_dict())
        assert list(one) == list(batch.columns)
        for key, value in one.items():
            other = b[key]
            assert (pd.isna(other) and (value is None or value != value)) or value == other, (idx, key, value, other)


def test_reasons_for_selected_tiers_only(fitted, holdout):
    rows = holdout.head(400)
    full = fitted.score_frame(rows)
    some = fitted.score_frame(rows, reasons_for=["high", "medium"])
    chosen = full["tier"].isin(["high", "medium"]).to_numpy()
    assert 0 < chosen.sum() < len(rows)
    pd.testing.assert_frame_equal(some[chosen], full[chosen])
    assert some.loc[~chosen, "reason_1"].isna().all() and some.loc[~chosen, "reason_1_contribution"].isna().all()
    with pytest.raises(ParameterError, match=re.escape("must list tiers of ['high', 'medium', 'low']. Got ['vip']")):
        fitted.score_frame(rows, reasons_for=["vip"])


def test_unseen_categories_at_scoring_are_missing_not_errors(fitted, holdout):
    rows = holdout.head(5).assign(channel=["fax"] * 5)
    out = fitted.score_frame(rows)
    assert out["probability"].notna().all()
    texts = out[[c for c in out.columns if c.startswith("reason") and not c.endswith(("_feature", "_contribution"))]]
    assert not texts.apply(lambda col: col.str.contains("channel =", na=False)).any().any()


# ------------------------------------------------------------------ persistence
def test_round_trip_through_an_artifact_gives_identical_outputs(fitted, holdout, tmp_path):
    path = write_artifact(tmp_path / "m", kind="test", entity="customer_id", files=fitted.to_files())
    _, files = read_artifact(path)
    back = BinaryOutcomeModel.from_files(files)
    pd.testing.assert_frame_equal(back.score_frame(holdout.head(300)), fitted.score_frame(holdout.head(300)))
    assert back.get_params().keys() == fitted.get_params().keys()
    assert back.to_dict() == json.loads(json.dumps(fitted.to_dict()))
    assert back.summary() == fitted.summary()


def test_files_can_be_prefixed_for_several_models_in_one_artifact(fitted, holdout):
    files = {**fitted.to_files("p1_"), **fitted.to_files("p2_")}
    assert set(files) == {"p1_supervised.json", "p1_booster.txt", "p2_supervised.json", "p2_booster.txt"}
    back = BinaryOutcomeModel.from_files({k: json.dumps(v) if isinstance(v, dict) else v for k, v in files.items()},
                                         prefix="p2_")
    np.testing.assert_array_equal(back.predict_proba(back.transform(holdout)),
                                  fitted.predict_proba(fitted.transform(holdout)))


def _text(fitted):
    return json.dumps(fitted.to_dict())


def _load(doc_text, booster):
    return BinaryOutcomeModel.from_files({"supervised.json": doc_text.encode(), "booster.txt": booster.encode()})


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["tiers"]["tiers"][0].update(threshold="NAN_HERE"),
     r"supervised\.json: tiers\.tiers\[0\]\.threshold: NaN is not a JSON number"),
    (lambda d: d.update(notes="hand edit"), r"supervised\.json: unknown key 'notes'"),
    (lambda d: d["training"].update(best_iteration=-3),
     r"supervised\.json: training\.best_iteration: expected an integer >= 1; got -3"),
    (lambda d: d["booster"].update(num_trees=-1), r"supervised\.json: booster\.num_trees: expected an integer >= 1; "
                                                  r"got -1"),
    (lambda d: d["booster"].update(num_trees=3), r"booster\.txt: the booster holds \d+ trees; supervised\.json says 3"),
    (lambda d: d.update(schema_version=1), r"supervised\.json: schema_version: expected 2 \(this crmml reads "
                                           r"supervised models of schema version 2\); got 1\. Re-train"),
    (lambda d: d["config"].update(learning_rate=0), r"supervised\.json: config\.learning_rate: expected a float in "
                                                    r"the range \(0, 1\]; got 0"),
    (lambda d: d["calibration"].update(a=-0.5), r"supervised\.json: calibration\.a: expected a finite number >= 0"),
    (lambda d: d["feature_spec"]["columns"][4].update(levels=["web"]),
     r"booster\.txt: header: feature_infos of 'channel' lists the category code 2, but the feature spec has 1 level"),
    (lambda d: d["feature_importance"].pop("channel"), r"supervised\.json: feature_importance: missing key 'channel'"),
    (lambda d: d["training"]["train_cutoffs"].__setitem__(1, "next week"),
     r"supervised\.json: training\.train_cutoffs\[1\]: expected a naive ISO 8601 timestamp"),
    (lambda d: d["training"].update(positives_holdout=10**9),
     r"supervised\.json: training\.positives_holdout: expected an integer in \[0, 5000\]"),
])
def test_tampered_supervised_json_is_refused_naming_the_field(fitted, edit, message):
    doc = json.loads(_text(fitted))
    edit(doc)
    text = json.dumps(doc).replace('"NAN_HERE"', "NaN")
    with pytest.raises(IncompatibleArtifactError, match=message):
        _load(text, fitted.tree_.to_text())


def test_damaged_or_missing_booster_is_refused(fitted):
    text = fitted.tree_.to_text()
    with pytest.raises(IncompatibleArtifactError, match=r"booster\.txt: "):
        _load(_text(fitted), text[: len(text) // 3])
    with pytest.raises(IncompatibleArtifactError, match=re.escape("The model artifact has no 'booster.txt'")):
        BinaryOutcomeModel.from_files({"supervised.json": _text(fitted).encode()})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_any_hand_edit_loads_or_is_refused_as_incompatible(fitted, data):
    doc = json.loads(_text(fitted))
    doc["calibration"] = {"method": "isotonic", "x": [-2.0, 0.0, 1.5], "y": [0.05, 0.2, 0.6]}  # a smaller document
    doc["templates"] = {"templates": [{"pattern": "x", "regex": False, "text": "{value}", "context": None,
                                       "missing": None}], "labels": {"x": "X"}}
    mutated = mutate_json(data.draw, doc, json_values(extra=[-1, 0, 10**400, "", "NaN", True]))
    try:
        raw = json.dumps(mutated)
    except (ValueError, OverflowError):
        return
    try:
        _load(raw, fitted.tree_.to_text())
    except IncompatibleArtifactError:
        pass


# ------------------------------------------------------------------ behaviour around fit
def test_not_fitted():
    with pytest.raises(NotFittedError, match=re.escape("This BinaryOutcomeModel instance is not fitted yet. Call "
                                                       "'fit' with appropriate data before using score_frame.")):
        BinaryOutcomeModel().score_frame(pd.DataFrame({"x": [1.0]}))


def test_params_and_set_params_unfits(training_set):
    model = BinaryOutcomeModel(num_leaves=7, seed=3)
    assert model.get_params()["num_leaves"] == 7 and "seed=3" in repr(model)
    small = make_training_set(800, seed=5)
    model.set_params(exclude=["p_true"], min_class_train=20, min_class_holdout=10, num_threads=1)
    model.fit(small)
    assert hasattr(model, "tree_")
    model.set_params(num_leaves=5)
    assert not hasattr(model, "tree_")
    with pytest.raises(ParameterError, match="Invalid parameter 'leaves' for BinaryOutcomeModel"):
        model.set_params(leaves=3)


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": 0}, "The 'learning_rate' parameter of BinaryOutcomeModel must be a float in the range (0, 1]. "
                           "Got 0 instead."),
    ({"max_depth": 0}, "The 'max_depth' parameter of BinaryOutcomeModel must be an int >= 1 or one of {-1}. "
                       "Got 0 instead."),
    ({"refit": 1}, "The 'refit' parameter of BinaryOutcomeModel must be a bool. Got 1 instead."),
    ({"monotone": {"recency_days": 2}}, "The 'monotone' parameter of BinaryOutcomeModel must map feature names to -1, "
                                        "0 or +1."),
    ({"baseline": "nope"}, "The 'baseline' parameter of BinaryOutcomeModel must name a column of the training set."),
    ({"exclude": ["nope"]}, "The 'exclude' parameter of BinaryOutcomeModel names columns that are not features of "
                            "the training set: ['nope']."),
    ({"exclude": ["p_true"], "monotone": {"nope": 1}}, "The 'monotone' parameter of BinaryOutcomeModel names columns "
                                                       "that are not features: ['nope']."),
])
def test_invalid_parameters_are_refused_at_fit(training_set, kwargs, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        BinaryOutcomeModel(**kwargs).fit(training_set)


def test_too_little_data_is_refused_with_counts():
    small = make_training_set(60, seed=1)
    with pytest.raises(InsufficientDataError, match=r"Too few positives or negatives \('churned' = 1 / 0\) in the "
                                                    r"train and the held-out part: the training cutoffs .* hold \d+ "
                                                    r"positives"):
        BinaryOutcomeModel(exclude=["p_true"]).fit(small)


def test_a_model_that_does_not_beat_the_baseline_warns_loudly(training_set, caplog):
    model = BinaryOutcomeModel(exclude=["p_true"], baseline="p_true", num_threads=2)
    with pytest.warns(BaselineWarning, match=r"The model does not beat the baseline 'p_true' on the held-out cutoff "
                                             r"2024-10-03: ROC AUC 0\.\d{4} vs 0\.\d{4}"):
        model.fit(training_set)
    assert not model.baseline_comparison_.beats_baseline
    assert "does not beat the baseline" in caplog.text


def test_monotone_and_capacity_tiers(training_set, holdout):
    tiers = TierPolicy.by_capacity({"high": 0.05, "medium": 0.15},
                                   actions={"low": "none", "medium": "offer", "high": "call"})
    model = BinaryOutcomeModel(exclude=["p_true"], monotone={"recency_days": 1, COMPLAINT: 1}, tiers=tiers,
                               num_threads=2).fit(training_set)
    shares = model.tiers_.realized_shares
    assert shares["high"] == pytest.approx(0.05, abs=0.01) and shares["medium"] == pytest.approx(0.15, abs=0.02)
    out = model.score_frame(holdout, reasons=False)
    assert out["tier"].value_counts(normalize=True)["high"] == pytest.approx(shares["high"])
    grid = pd.concat([holdout.head(1)] * 30, ignore_index=True).assign(recency_days=np.linspace(0, 400, 30))
    assert np.all(np.diff(model.predict_raw(model.transform(grid))) >= 0)


def test_refit_on_all_cutoffs(training_set, fitted, holdout):
    model = BinaryOutcomeModel(exclude=["p_true"], refit=True, num_threads=2).fit(training_set)
    assert model.training_["refit"] and model.tree_.num_trees <= model.training_["best_iteration"]
    assert model.evaluation_ == fitted.evaluation_  # metrics are those of the train-only booster
    p = model.predict_proba(model.transform(holdout))
    assert not np.array_equal(p, fitted.predict_proba(fitted.transform(holdout)))
    back = BinaryOutcomeModel.from_files({k: json.dumps(v) if isinstance(v, dict) else v
                                          for k, v in model.to_files().items()})
    np.testing.assert_array_equal(back.predict_proba(back.transform(holdout)), p)


def test_wrong_matrix_shape_is_refused(fitted):
    with pytest.raises(ParameterError, match=r"Expected an encoded matrix of shape \(n, 11\)"):
        fitted.predict_proba(np.zeros((2, 3)))


@pytest.mark.slow
def test_single_row_latency(fitted, holdout):
    rows = [r.to_dict() for _, r in holdout.head(300).iterrows()]
    for r in rows[:50]:
        fitted.score_row(r)
    times = []
    for r in rows * 3:
        t = time.perf_counter()
        fitted.score_row(r)
        times.append(time.perf_counter() - t)
    assert np.percentile(times, 99) < 0.005  # 5 ms; typically well under 1 ms


def test_no_warning_when_the_model_beats_the_baseline(training_set):
    with warnings.catch_warnings():
        warnings.simplefilter("error", BaselineWarning)
        BinaryOutcomeModel(exclude=["p_true"], baseline="recency_days", num_threads=2).fit(training_set)


def test_deep_copy_predicts_the_same(fitted, holdout):
    clone = copy.deepcopy(fitted)
    assert clone.tree_.booster is not fitted.tree_.booster
    np.testing.assert_array_equal(clone.predict_proba(clone.transform(holdout.head(20))),
                                  fitted.predict_proba(fitted.transform(holdout.head(20))))


def test_empty_and_one_row_frames(fitted, holdout):
    empty = fitted.score_frame(holdout.head(0))
    assert empty.shape == (0, len(fitted.output_columns())) and list(empty.columns) == fitted.output_columns()
    one = fitted.score_frame(holdout.head(1))
    assert len(one) == 1 and one.index.equals(holdout.head(1).index)


def test_exclusions_of_the_training_set_are_kept_with_the_model(training_set):
    import dataclasses

    from crmml.data import ExclusionReport

    report = ExclusionReport()
    report.add_entities("customers", "in the population but without a feature row (not trained on)", ["C1", "C2"])
    ts = dataclasses.replace(training_set, exclusions={training_set.cutoffs[0]: report})
    model = BinaryOutcomeModel(exclude=["p_true"], num_threads=2).fit(ts)
    expected = [{"cutoff": "2024-01-07T00:00:00", "table": "customers", "n_rows": 2, "unit": "entities",
                 "rule": "in the population but without a feature row (not trained on)"}]
    assert model.training_["exclusions"] == expected
    back = BinaryOutcomeModel.from_files({k: json.dumps(v) if isinstance(v, dict) else v
                                          for k, v in model.to_files().items()})
    assert back.training_["exclusions"] == expected
