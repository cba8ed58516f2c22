"""LeadScoreModel: outputs, grades, score scale, leakage guard, point-in-time behaviour."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from crmml.exceptions import LeakageError, ParameterError
from crmml.features import lead_conversion_labels
from crmml.leadscore import GRADES, LeadScoreModel

from .conftest import AS_OF


def test_scores_every_open_lead_with_probability_score_grade_follow_up_and_reasons(fitted_leads, lead_world):
    scores = fitted_leads.score(lead_world.tables, AS_OF)
    le = lead_world.tables.leads
    open_ = le[(le["created_at"] < AS_OF) & (le["converted_at"].isna() | (le["converted_at"] >= AS_OF))]
    assert set(scores.index) == set(open_["lead_id"].astype(str)) and scores.index.name == "lead_id"
    assert list(scores.columns[:4]) == ["conversion_probability", "score", "grade", "follow_up"]
    assert [c for c in scores.columns if re.fullmatch(r"reason(_neg)?_\d", c)] == [
        "reason_1", "reason_2", "reason_3", "reason_neg_1", "reason_neg_2"]
    assert scores["score"].between(1, 99).all() and scores["score"].dtype == np.int64
    # grades cut on the score, follow-ups by grade
    want = np.select([scores["score"] >= 75, scores["score"] >= 50, scores["score"] >= 25], ["A", "B", "C"], "D")
    assert (scores["grade"].astype(str).to_numpy() == want).all()
    follow = {"A": "call_today", "B": "personal_email_this_week", "C": "nurture_campaign", "D": "no_action"}
    assert (scores["follow_up"].astype(str) == scores["grade"].astype(str).map(follow)).all()
    assert list(scores["grade"].cat.categories) == list(GRADES)


def test_the_score_is_monotone_in_the_probability(fitted_leads, lead_world):
    s = fitted_leads.score(lead_world.tables, AS_OF).sort_values("conversion_probability", kind="stable")
    assert (np.diff(s["score"].to_numpy()) >= 0).all()


def test_grades_rank_conversion_on_the_next_window(fitted_leads, lead_world):
    scores = fitted_leads.score(lead_world.tables, AS_OF)
    y = lead_conversion_labels(lead_world.tables, AS_OF, 90)["converted"].reindex(scores.index)
    rate = y.groupby(scores["grade"].astype(str)).mean()
    assert rate.get("A", 0) > 3 * y.mean() and rate.get("D", 1) < y.mean()


def test_one_lead_scored_from_its_features_equals_its_batch_row(fitted_leads, lead_world):
    feats = fitted_leads.build_features(lead_world.tables, AS_OF).set_index("lead_id")
    scores = fitted_leads.predict_features(feats.reset_index())
    for lid in scores.sort_values("score").index[[0, len(scores) // 2, -1]]:
        one = fitted_leads.score_row(feats.loc[lid].to_dict())
        assert list(one)[:4] == ["conversion_probability", "score", "grade", "follow_up"]
        assert one["score"] == scores.at[lid, "score"] and one["grade"] == scores.at[lid, "grade"]
        assert one["follow_up"] == scores.at[lid, "follow_up"] and one["reason_1"] == scores.at[lid, "reason_1"]
        assert one["conversion_probability"] == pytest.approx(scores.at[lid, "conversion_probability"], abs=1e-12)


def test_events_after_conversion_change_no_score_at_an_earlier_as_of(fitted_leads, lead_world):
    t = lead_world.tables
    conv = t.leads.dropna(subset=["converted_at"])
    later = conv[conv["converted_at"] >= AS_OF]
    assert len(later) > 5
    extra = pd.DataFrame({"lead_id": np.repeat(later["lead_id"].to_numpy(), 3),
                          "ts": np.repeat(later["converted_at"].to_numpy(), 3) + pd.Timedelta(days=1),
                          "type": "meeting"})
    noisy = t.replace(lead_events=pd.concat([t.lead_events, extra.astype(t.lead_events.dtypes.to_dict())],
                                            ignore_index=True))
    pd.testing.assert_frame_equal(fitted_leads.score(noisy, AS_OF), fitted_leads.score(t, AS_OF))


def _with_status(tables, leak: bool):
    le = tables.leads.copy()
    rng = np.random.default_rng(0)
    converted = le["converted_at"].notna().to_numpy()
    le["status"] = np.where(converted, "converted", rng.choice(["open", "nurture", "lost"], len(le))) if leak \
        else rng.choice(["open", "nurture", "lost"], len(le))
    le["budget"] = rng.gamma(2.0, 5000.0, len(le))
    return tables.replace(leads=le)


def test_a_post_conversion_static_column_is_refused_unless_allowed(lead_world):
    t = _with_status(lead_world.tables, leak=True)
    with pytest.raises(LeakageError) as err:
        LeadScoreModel(static_columns=("status", "budget"), num_threads=1).fit(t, AS_OF)
    msg = str(err.value)
    assert "leads.status: alone it predicts the label with ROC AUC" in msg
    assert "allow_columns=['status'] (CLI: --allow-column status)" in msg and "budget" not in msg
    assert "converted" not in msg.replace("converted_at", "")  # no data values in the message
    m = LeadScoreModel(static_columns=("status", "budget"), allow_columns=("status",), num_threads=1).fit(t, AS_OF)
    entry = {c.name: c for c in m.leakage_.columns}
    assert entry["status"].flagged and entry["status"].allowed and not entry["budget"].flagged
    assert "status" in m.model_.spec_.names and "budget" in m.model_.spec_.names


def test_honest_static_columns_are_used_and_saved(lead_world, tmp_path):
    t = _with_status(lead_world.tables, leak=False)
    m = LeadScoreModel(static_columns=("status", "budget"), num_threads=1).fit(t, AS_OF)
    assert {"status", "budget"} <= set(m.model_.spec_.names)
    back = LeadScoreModel.load(m.save(tmp_path / "m"))
    assert back.leakage_.to_dict() == m.leakage_.to_dict()
    pd.testing.assert_frame_equal(back.score(t, AS_OF), m.score(t, AS_OF))


def test_parameter_errors_name_the_parameter(lead_world):
    with pytest.raises(ParameterError, match=re.escape("must decrease: grade_a > grade_b > grade_c. Got 50, 50, 25")):
        LeadScoreModel(grade_a=50).fit(lead_world.tables, AS_OF)
    with pytest.raises(ParameterError, match=re.escape("names contract columns of the leads table: ['source']")):
        LeadScoreModel(static_columns=("source",)).fit(lead_world.tables, AS_OF)
    with pytest.raises(ParameterError, match=re.escape("names columns the leads table does not have: ['status']")):
        LeadScoreModel(static_columns=("status",)).fit(lead_world.tables, AS_OF)
    with pytest.raises(ParameterError, match=re.escape("'allow_columns' parameter of LeadScoreModel names columns "
                                                       "that are not in 'static_columns': ['x']")):
        LeadScoreModel(allow_columns=("x",)).fit(lead_world.tables, AS_OF)


def test_contradicting_parameters_are_refused_before_any_table_is_read():
    from crmml.training import prepare_training

    with pytest.raises(ParameterError, match=re.escape("that are not in 'static_columns': ['x']")):
        prepare_training("leadscore", params={"allow_columns": ("x",)}, log=False)
