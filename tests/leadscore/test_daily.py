"""daily_list: call order, change since the previous list, the default previous day, the summary, top N."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmml.data import ExclusionReport
from crmml.exceptions import ParameterError
from crmml.features import default_as_of
from crmml.leadscore import DAILY_COLUMNS, GRADES, DailyList, daily_list

from .conftest import AS_OF

DAY = pd.Timedelta(days=1)


# --------------------------------------------------------- a hand-made model
def _grades(score):
    return pd.Categorical(np.select([score >= 75, score >= 50, score >= 25], ["A", "B", "C"], "D"),
                          categories=list(GRADES))


def _scores(scores: dict[str, int]) -> pd.DataFrame:
    ids = list(scores)
    s = np.array([scores[i] for i in ids], dtype=np.int64)
    out = pd.DataFrame({"conversion_probability": s / 100.0, "score": s, "grade": _grades(s)},
                       index=pd.Index(ids, name="lead_id"))
    follow = {"A": "call_today", "B": "personal_email_this_week", "C": "nurture_campaign", "D": "no_action"}
    out["follow_up"] = out["grade"].astype(str).map(follow)
    for r in ("reason_1", "reason_2", "reason_3", "reason_neg_1", "reason_neg_2"):
        out[r] = [f"{r} of {i}" for i in ids]
        out[f"{r}_feature"] = "age_days"
        out[f"{r}_contribution"] = 0.1
    return out


class StubModel:
    """Duck-typed lead-scoring model with hand-set scores today, yesterday's scores, and activity recency."""

    kind = "leadscore"
    grade_a = 75

    def __init__(self, today: dict[str, int], yesterday: dict[str, int], recency: dict[str, float]) -> None:
        self.today, self.yesterday, self.recency = today, yesterday, recency
        self.calls: list[tuple[str, pd.Timestamp]] = []

    def as_of_sources(self):
        return ("leads", "lead_events")

    def build_features(self, tables, as_of, *, report=None):
        self.calls.append(("build_features", pd.Timestamp(as_of)))
        return pd.DataFrame({"lead_id": list(self.today), "age_days": 10.0,
                             "days_since_event": [self.recency[i] for i in self.today]})

    def predict_features(self, features):
        return _scores(self.today).loc[features["lead_id"].tolist()]

    def score(self, tables, as_of, *, report=None):
        self.calls.append(("score", pd.Timestamp(as_of)))
        return _scores(self.yesterday)


# Six leads: four tied at 80 (recency 5, 2, missing, 2), one at 90 without activity, one at 10.
TODAY = {"L3": 80, "L1": 80, "L2": 80, "L4": 80, "L5": 90, "L6": 10}
RECENCY = {"L3": 5.0, "L1": 2.0, "L2": np.nan, "L4": 2.0, "L5": np.nan, "L6": 1.0}
# Yesterday: L1 was 70 (B), L3 83, L4 and L2 80, L6 12; L5 did not exist; L9 has converted since.
YESTERDAY = {"L1": 70, "L3": 83, "L4": 80, "L2": 80, "L6": 12, "L9": 95}


@pytest.fixture
def stub():
    return StubModel(TODAY, YESTERDAY, RECENCY)


def test_order_is_score_then_recent_activity_then_lead_id(stub, lead_world):
    d = daily_list(stub, lead_world.tables, AS_OF)
    f = d.frame
    assert list(f.columns) == list(DAILY_COLUMNS)
    # 90 first (no activity does not matter: it has the best score); the four 80s by recency (2, 2, 5, none),
    # L1 before L4 on the id; 10 last
    assert f["lead_id"].tolist() == ["L5", "L1", "L4", "L3", "L2", "L6"]
    assert f["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert f["score"].tolist() == [90, 80, 80, 80, 80, 10]
    assert f["days_since_event"].tolist()[1:4] == [2.0, 2.0, 5.0] and np.isnan(f["days_since_event"].iloc[4])
    assert f["reason_1"].tolist()[:2] == ["reason_1 of L5", "reason_1 of L1"]
    assert not any(c.endswith(("_feature", "_contribution")) for c in f.columns)


def test_change_against_the_previous_day(stub, lead_world):
    f = daily_list(stub, lead_world.tables, AS_OF).frame.set_index("lead_id")
    assert f["change"].to_dict() == {"L5": "new", "L1": "↑ 10", "L4": "=", "L3": "↓ 3", "L2": "=", "L6": "↓ 2"}
    assert f["previous_score"].dtype == "Int64"
    assert f["previous_score"].isna().tolist() == [True, False, False, False, False, False]
    assert f["previous_score"].dropna().astype(int).to_dict() == {"L1": 70, "L4": 80, "L3": 83, "L2": 80, "L6": 12}


def test_the_default_previous_is_the_model_scored_one_day_earlier(stub, lead_world):
    d = daily_list(stub, lead_world.tables, AS_OF)
    assert ("score", AS_OF - DAY) in stub.calls and ("build_features", AS_OF) in stub.calls
    assert d.as_of == AS_OF and d.previous_as_of == AS_OF - DAY


def test_summary_counts(stub, lead_world):
    d = daily_list(stub, lead_world.tables, AS_OF)
    assert d.n_scored == 6 and d.per_grade == {"A": 5, "B": 0, "C": 0, "D": 1}
    # A today and not A yesterday: L5 (new) and L1 (was B at 70); L3, L4, L2 were A already
    assert d.new_a_leads == ("L5", "L1") and d.n_new_a == 2 and d.n_new == 1
    assert d.mean_probability["A"] == pytest.approx((0.9 + 4 * 0.8) / 5) and np.isnan(d.mean_probability["B"])
    assert d.summary() == {"as_of": "2025-07-01T00:00:00", "previous_as_of": "2025-06-30T00:00:00", "n_scored": 6,
                           "per_grade": {"A": 5, "B": 0, "C": 0, "D": 1},
                           "mean_probability": d.mean_probability, "n_new_a": 2, "n_new": 1}


def test_top_keeps_the_first_rows_and_the_whole_summary(stub, lead_world):
    full = daily_list(stub, lead_world.tables, AS_OF)
    top = daily_list(stub, lead_world.tables, AS_OF, top=2)
    pd.testing.assert_frame_equal(top.frame, full.frame.head(2))
    assert top.n_scored == 6 and top.per_grade == full.per_grade and top.new_a_leads == full.new_a_leads
    assert len(daily_list(stub, lead_world.tables, AS_OF, top=0).frame) == 0


def test_a_previous_list_passed_by_the_caller(stub, lead_world):
    # no grade column: yesterday's grade is read off the score with the model's cut (75)
    prev = pd.DataFrame({"lead_id": ["L1", "L3", "L4", "L6"], "score": [78, 81, 79, 10]})
    d = daily_list(stub, lead_world.tables, AS_OF, previous=prev)
    assert not any(c[0] == "score" for c in stub.calls) and d.previous_as_of is None
    f = d.frame.set_index("lead_id")
    assert f["change"].to_dict() == {"L5": "new", "L1": "↑ 2", "L4": "↑ 1", "L3": "↓ 1", "L2": "new", "L6": "="}
    assert d.new_a_leads == ("L5", "L2") and d.n_new == 2  # L1 was 78: already A
    # lead_id as the index, a grade column, or a DailyList: the same
    with_grade = prev.assign(grade=["B", "A", "A", "D"]).set_index("lead_id")
    assert daily_list(stub, lead_world.tables, AS_OF, previous=with_grade).new_a_leads == ("L5", "L1", "L2")
    again = daily_list(stub, lead_world.tables, AS_OF, previous=d)
    assert again.frame["change"].tolist() == ["=", "=", "=", "=", "=", "="] and again.n_new_a == 0


def test_as_of_defaults_to_the_start_of_the_day_after_the_latest_lead_event(stub, lead_world):
    d = daily_list(stub, lead_world.tables)
    want = default_as_of(lead_world.tables, sources=("leads", "lead_events"), report=ExclusionReport())
    assert d.as_of == want and want == want.normalize() and d.previous_as_of == want - DAY


@pytest.mark.parametrize("kwargs, match", [
    ({"top": -1}, "'top' parameter"), ({"top": 2.5}, "'top' parameter"), ({"top": True}, "'top' parameter"),
    ({"previous": pd.DataFrame({"lead_id": ["L1"]})}, "no 'score' column"),
    ({"previous": pd.DataFrame({"score": [1]})}, "no 'lead_id' column"),
    ({"previous": pd.DataFrame({"lead_id": ["L1", "L1"], "score": [1, 2]})}, "more than once"),
    ({"previous": pd.DataFrame({"lead_id": ["L1"], "score": [np.nan]})}, "missing value"),
    ({"previous": pd.DataFrame({"lead_id": ["L1"], "score": ["high"]})}, "must be numeric"),
    ({"previous": {"L1": 3}}, "'previous' parameter"),
    ({"as_of": "31/31/2025"}, "as_of"),
])
def test_bad_arguments_are_parameter_errors(stub, lead_world, kwargs, match):
    args = {"as_of": AS_OF, **kwargs}
    with pytest.raises(ParameterError, match=match):
        daily_list(stub, lead_world.tables, **args)


def test_a_model_of_another_kind_is_refused(lead_world):
    from crmml.churn import ChurnModel

    with pytest.raises(ParameterError, match="must be a fitted LeadScoreModel.*'churn' model"):
        daily_list(ChurnModel(), lead_world.tables, AS_OF)


# --------------------------------------------------------------- the real model
@pytest.fixture(scope="module")
def real_daily(fitted_leads, lead_world):
    return daily_list(fitted_leads, lead_world.tables, AS_OF, report=ExclusionReport())


def test_the_list_holds_the_model_scores_of_every_open_lead(real_daily, fitted_leads, lead_world):
    report = ExclusionReport()
    d = daily_list(fitted_leads, lead_world.tables, AS_OF, report=report)
    scores = fitted_leads.score(lead_world.tables, AS_OF)
    f = d.frame.set_index("lead_id")
    assert d.n_scored == len(scores) == len(f) and set(f.index) == set(scores.index)
    for c in ("score", "conversion_probability", "reason_1", "reason_3", "reason_neg_2"):
        pd.testing.assert_series_equal(f[c], scores[c].reindex(f.index), check_names=False)
    assert (f["grade"].astype(str) == scores["grade"].astype(str).reindex(f.index)).all()
    assert list(f["grade"].cat.categories) == list(GRADES)
    feats = fitted_leads.build_features(lead_world.tables, AS_OF).set_index("lead_id")
    np.testing.assert_array_equal(f["days_since_event"], feats["days_since_event"].reindex(f.index))
    assert "converted before as_of" in str(report)
    # the call order: score desc, then recency (missing last), then lead id
    key = pd.DataFrame({"s": -f["score"].to_numpy(), "r": f["days_since_event"].fillna(np.inf).to_numpy(),
                        "i": f.index.to_numpy()})
    assert key.equals(key.sort_values(["s", "r", "i"]).reset_index(drop=True))


def test_the_real_previous_day_is_the_model_scored_at_as_of_minus_one_day(real_daily, fitted_leads, lead_world):
    yesterday = fitted_leads.score(lead_world.tables, AS_OF - DAY)
    f = real_daily.frame.set_index("lead_id")
    known = f.index.isin(yesterday.index)
    prev = yesterday["score"].reindex(f.index)
    assert (f["previous_score"].isna().to_numpy() == ~known).all()
    assert (f.loc[known, "previous_score"].astype(int) == prev[known].astype(int)).all()
    diff = (f["score"] - prev)[known].astype(int)
    want = np.where(diff > 0, "↑ " + diff.abs().astype(str), np.where(diff < 0, "↓ " + diff.abs().astype(str), "="))
    assert (f.loc[known, "change"].to_numpy() == want).all() and (f.loc[~known, "change"] == "new").all()
    # the leads new today are those created on the day before as_of
    le = lead_world.tables.leads.set_index("lead_id")
    created = le["created_at"].reindex(f.index[~known])
    assert (~known).sum() > 0 and ((created >= AS_OF - DAY) & (created < AS_OF)).all()
    was_a = yesterday["grade"].astype(str).reindex(f.index).eq("A")
    want_a = f.index[(f["grade"].astype(str) == "A") & ~was_a]
    assert real_daily.new_a_leads == tuple(want_a) and real_daily.n_new == int((~known).sum())
    assert real_daily.per_grade == f["grade"].astype(str).value_counts().reindex(list(GRADES), fill_value=0).to_dict()


def test_a_hand_computed_previous_list_on_the_real_model(real_daily, fitted_leads, lead_world):
    f = real_daily.frame
    picks = f.iloc[[0, 40, 400, 4000]]
    s = picks["score"].to_numpy()
    prev = pd.DataFrame({"lead_id": picks["lead_id"].to_numpy(),
                         "score": [s[0] - 12, s[1] + 3, s[2], s[3] - 1]})
    d = daily_list(fitted_leads, lead_world.tables, AS_OF, previous=prev)
    g = d.frame.set_index("lead_id")
    assert g.loc[picks["lead_id"], "change"].tolist() == ["↑ 12", "↓ 3", "=", "↑ 1"]
    assert (g["change"] == "new").sum() == len(g) - 4
    pd.testing.assert_frame_equal(d.frame.drop(columns=["change", "previous_score"]),
                                  f.drop(columns=["change", "previous_score"]))
    assert isinstance(d, DailyList) and d.previous_as_of is None
