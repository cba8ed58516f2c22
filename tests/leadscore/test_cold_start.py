"""Cold start: below the floor of conversions the cold-start logistic regression scores from the first days."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crmml.exceptions import IncompatibleArtifactError
from crmml.leadscore import COLD_START_FLOOR, ENOUGH_CONVERSIONS, PICK_MARGIN, LeadScoreModel
from crmml.leadscore._model import _pick
from crmml.supervised import FeatureSpec
from crmml.supervised._linear import LinearModel

from .conftest import AS_OF


@pytest.fixture(scope="module")
def few_leads():
    from crmml.synthetic import make_b2b_world

    # a CRM started a year before as_of: 36 conversions in the training window (10 monthly cutoffs)
    return make_b2b_world(300, n_leads=400, seed=5, start="2024-07-01").tables


@pytest.fixture(scope="module")
def cold(few_leads):
    return LeadScoreModel(num_threads=1).fit(few_leads, AS_OF)


def test_below_the_floor_the_cold_start_model_scores_and_says_so(cold, few_leads):
    assert cold.selection_["conversions"] < COLD_START_FLOOR and cold.model_type_ == "cold_start"
    assert cold.selection_["rule"].endswith(f"< {COLD_START_FLOOR}: the cold-start model")
    scores = cold.score(few_leads, AS_OF)
    assert (scores["model_type"] == "cold_start").all() and scores["reason_1"].notna().all()
    assert cold.model_card()["title"] == "crmml lead scoring (cold_start)"
    assert scores["score"].between(1, 99).all()


def test_cold_start_round_trips_and_scores_one_lead_like_the_batch(cold, few_leads, tmp_path):
    back = LeadScoreModel.load(cold.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(back.score(few_leads, AS_OF), cold.score(few_leads, AS_OF))
    feats = cold.build_features(few_leads, AS_OF).set_index("lead_id")
    scores = cold.predict_features(feats.reset_index())
    lid = scores["score"].idxmax()
    one = cold.score_row(feats.loc[lid].to_dict())
    assert one["model_type"] == "cold_start" and one["score"] == scores.at[lid, "score"]
    assert one["reason_1"] == scores.at[lid, "reason_1"]


def test_in_between_both_are_fitted_and_lightgbm_must_win_clearly_on_the_held_out_cutoff():
    from crmml.synthetic import make_b2b_world

    world = make_b2b_world(300, n_leads=2000, seed=5)
    m = LeadScoreModel(num_threads=1).fit(world.tables, AS_OF)  # 224 conversions: between the floors
    assert COLD_START_FLOOR < m.selection_["conversions"] < ENOUGH_CONVERSIONS
    young, every = m.selection_["holdout_roc_auc"], m.selection_["holdout_roc_auc_all"]
    assert None not in (*young.values(), *every.values())
    clear = young["lightgbm"] >= young["linear"] + PICK_MARGIN and every["lightgbm"] >= every["linear"]
    assert m.selection_["chosen"] == ("lightgbm" if clear else "linear") == m.model_.learner


@pytest.mark.parametrize(("young", "every", "chosen"), [
    ({"lightgbm": 0.80, "linear": 0.79}, {"lightgbm": 0.95, "linear": 0.90}, "linear"),   # young gain < margin
    ({"lightgbm": 0.82, "linear": 0.79}, {"lightgbm": 0.89, "linear": 0.90}, "linear"),   # worse on all leads
    ({"lightgbm": 0.81, "linear": 0.79}, {"lightgbm": 0.90, "linear": 0.90}, "lightgbm"),  # margin met, all equal
    ({"lightgbm": None, "linear": 0.79}, {"lightgbm": None, "linear": 0.90}, "linear"),
])
def test_the_pick_rule_keeps_the_cold_start_unless_lightgbm_wins_clearly(young, every, chosen):
    fitted = {k: object() for k, v in young.items() if v is not None}
    assert _pick(fitted, young, every) == chosen

def _linear_world(seed=0, n=4000):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n), "gap": np.where(rng.random(n) < 0.2, np.nan, rng.gamma(2, 3, n)),
                          "src": pd.Categorical(rng.choice(["web", "ref", "ads"], n))})
    logit = -1.0 + 1.2 * frame["x"] + np.where(frame["src"] == "ref", 1.0, 0.0) - 0.1 * frame["gap"].fillna(5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    spec = FeatureSpec.learn(frame)
    return spec, spec.transform(frame), y


def test_linear_contributions_add_up_to_the_raw_score_and_recover_the_signs():
    spec, X, y = _linear_world()
    lm = LinearModel.fit(X, y, spec)
    c = lm.contributions(X)
    np.testing.assert_allclose(c.sum(axis=1), lm.raw_score(X), rtol=0, atol=1e-10)
    w = {(spec.names[col["feature"]], col["kind"], col["level"]): col["weight"] for col in lm.columns}
    assert w[("x", "value", -1)] > 0.5 and w[("gap", "value", -1)] < 0
    ref = spec.columns[spec.index("src")].levels.index("ref")
    assert w[("src", "level", ref)] > max(v for (f, k, lv), v in w.items() if f == "src" and lv != ref)
    # contributions average to zero over the training rows (centred on the training means)
    np.testing.assert_allclose(c[:, :-1].mean(axis=0), 0.0, atol=1e-10)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["columns"][0].update(kind="level"), r"linear\.columns\[0\]"),
    (lambda d: d["columns"][0].update(scale=0), r"linear\.columns\[0\]\.scale: expected a finite number > 0"),
    (lambda d: d.update(C=-1), r"linear\.C: expected a finite number > 0"),
    (lambda d: d["columns"][0].update(feature=99), r"linear\.columns\[0\]\.feature"),
])
def test_a_tampered_linear_model_is_refused_naming_the_field(edit, message):
    from crmml._payload import Payload

    spec, X, y = _linear_world()
    data = json.loads(json.dumps(LinearModel.fit(X, y, spec).to_dict()))
    edit(data)
    with pytest.raises(IncompatibleArtifactError, match=message):
        LinearModel.from_dict(Payload.of({"linear": data}, source="supervised.json").mapping("linear"), spec)
