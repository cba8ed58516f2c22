"""Leakage guard for static columns: post-outcome columns are refused, honest ones pass, the report is strict."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from crmml.exceptions import (
    CrmmlError,
    DataContractError,
    IncompatibleArtifactError,
    LeakageError,
    ParameterError,
)
from crmml.supervised import ColumnScreen, LeakageReport, screen_columns
from crmml.supervised._leakage import _problem

LEADS_HINT = "allow_columns=[{name!r}] (CLI: --allow-column {shell})"
FOOTER = 'See docs/supervised.md, section "Leakage guard for static columns".'
SECRET = "SECRET-VALUE-4711"


def _oriented(y, score):
    auc = roc_auc_score(y, score)
    return max(auc, 1 - auc)


def _leads(n=4000, seed=0):
    """A stacked lead frame: honest columns and two written after the outcome."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    frame = pd.DataFrame({
        "source": pd.Series(rng.choice(["web", "event", "partner", "cold_call"], n), dtype="str"),
        "employees": rng.lognormal(4, 1, n),
        # post-outcome: the status is 'converted' exactly for the converted leads
        "status": np.where(y, "converted", rng.choice(["open", "contacted", "disqualified"], n)),
        # post-outcome: a deal size exists (> 0) only for converted leads
        "deal_size": np.where(y, rng.lognormal(9, 1, n), np.nan),
    })
    return frame, y


# ---------------------------------------------------------------------- refusing post-outcome columns
def test_post_outcome_columns_are_refused_together_with_the_exact_message():
    frame, y = _leads()
    expected = "\n".join([
        "2 columns would leak the outcome into training (found while screening the extra columns of leads):",
        "  - leads.status: alone it predicts the label with ROC AUC 1.000 (limit 0.98) — a value written after the "
        "outcome leaks it into training. Fix: drop the column, or allow it explicitly: allow_columns=['status'] "
        "(CLI: --allow-column status)",
        "  - leads.deal_size: alone it predicts the label with ROC AUC 1.000, and whether it is missing with ROC AUC "
        "1.000 (limit 0.98) — a value written after the outcome leaks it into training. Fix: drop the column, or "
        "allow it explicitly: allow_columns=['deal_size'] (CLI: --allow-column deal_size)",
        FOOTER,
    ])
    with pytest.raises(LeakageError, match="^" + re.escape(expected) + r"\Z") as info:
        screen_columns(frame, y, ["source", "employees", "status", "deal_size"], table="leads", hint=LEADS_HINT)
    err = info.value
    assert isinstance(err, DataContractError) and isinstance(err, ValueError) and isinstance(err, CrmmlError)
    assert [(p.table, p.column) for p in err.problems] == [("leads", "status"), ("leads", "deal_size")]
    assert err.context == "screening the extra columns of leads"
    report = err.report
    assert isinstance(report, LeakageReport)
    assert report.refused == ["status", "deal_size"] and report.flagged == ["status", "deal_size"]
    assert [c.verdict for c in report.columns] == ["passed", "passed", "refused", "refused"]
    assert report["deal_size"].flagged_by == ("value", "missingness")
    assert report["status"].flagged_by == ("value",)


def test_the_default_hint_names_the_allow_parameter():
    frame, y = _leads()
    with pytest.raises(LeakageError, match=re.escape("Fix: drop the column, or allow it explicitly: allow=['status']")):
        screen_columns(frame, y, ["status"], table="leads")


def test_a_column_name_with_a_space_is_quoted_for_the_shell():
    frame, y = _leads()
    frame = frame.rename(columns={"deal_size": "deal size"})
    with pytest.raises(LeakageError, match=re.escape("allow_columns=['deal size'] (CLI: --allow-column 'deal size')")):
        screen_columns(frame, y, ["deal size"], table="opportunities", hint=LEADS_HINT)


def test_allowed_columns_pass_and_are_reported_as_allowed_and_flagged():
    frame, y = _leads()
    report = screen_columns(frame, y, ["source", "status", "deal_size"], table="leads",
                            allow=["status", "deal_size", "not_screened"])
    assert report.refused == []
    assert report.flagged == ["status", "deal_size"]
    status = report["status"]
    assert status.flagged and status.allowed and status.verdict == "allowed by the user"
    assert status.value_auc == 1.0
    assert report["source"].verdict == "passed" and not report["source"].allowed
    assert report.to_dict()["columns"][1]["verdict"] == "allowed by the user"


def test_allowing_one_column_still_refuses_the_other():
    frame, y = _leads()
    with pytest.raises(LeakageError, match=r"^1 column would leak") as info:
        screen_columns(frame, y, ["status", "deal_size"], table="leads", allow=["status"])
    assert [p.column for p in info.value.problems] == ["deal_size"]
    assert info.value.report["status"].verdict == "allowed by the user"


# ---------------------------------------------------------------------- honest columns pass
def test_a_predictive_but_honest_column_passes():
    rng = np.random.default_rng(1)
    n = 20_000
    y = rng.random(n) < 0.3
    frame = pd.DataFrame({"engagement": rng.normal(size=n) + 0.95 * y,           # AUC ≈ Φ(0.95/√2) ≈ 0.75
                          "industry": np.where(rng.random(n) < np.where(y, 0.6, 0.3), "software", "retail")})
    report = screen_columns(frame, y, ["engagement", "industry"], table="leads")
    assert 0.72 < report["engagement"].value_auc < 0.78
    assert 0.60 < report["industry"].value_auc < 0.70
    assert report.flagged == [] and report["engagement"].kind == "numeric"


def test_an_id_like_column_passes_thanks_to_cross_fitting():
    frame, y = _leads()
    ids = pd.Series([f"L-{i:06d}" for i in range(len(y))], dtype="str")
    report = screen_columns(pd.DataFrame({"lead_ref": ids}), y, ["lead_ref"], table="leads")
    assert report["lead_ref"].kind == "categorical"
    assert report["lead_ref"].value_auc < 0.55 and not report["lead_ref"].flagged


def test_in_sample_target_encoding_would_have_flagged_the_id_column():
    """The same id column scored by its in-sample category rate: AUC 1.0, so the test above can fail."""
    frame, y = _leads()
    ids = pd.Series([f"L-{i:06d}" for i in range(len(y))])
    in_sample = pd.Series(y.astype(float)).groupby(ids).transform("mean").to_numpy()
    assert _oriented(y, in_sample) == 1.0 >= 0.98


def test_an_unseen_category_gets_the_rate_of_the_other_folds():
    """Half the rows hold a unique id, half a shared one: the unique ids all score at their fold's base rate."""
    rng = np.random.default_rng(3)
    n = 2000
    y = rng.random(n) < 0.5
    col = np.where(np.arange(n) % 2 == 0, "shared", np.char.add("u", np.arange(n).astype(str)))
    report = screen_columns(pd.DataFrame({"c": col}), y, ["c"], table="leads")
    assert report["c"].value_auc < 0.56


# ---------------------------------------------------------------------- missingness, orientation
def test_missingness_only_leakage_is_caught():
    """The values carry nothing (drawn independently of the label); only whether they exist does."""
    rng = np.random.default_rng(2)
    n = 5000
    y = rng.random(n) < 0.3
    filled = np.where(y, rng.random(n) < 0.995, rng.random(n) < 0.005)
    frame = pd.DataFrame({"close_value": np.where(filled, rng.normal(size=n), np.nan)})
    assert _oriented(y[filled], frame["close_value"][filled]) < 0.6        # the values alone: nothing
    with pytest.raises(LeakageError) as info:
        screen_columns(frame, y, ["close_value"], table="opportunities")
    col = info.value.report["close_value"]
    assert col.missing_auc == pytest.approx(_oriented(y, frame["close_value"].isna()))
    assert col.missing_auc >= 0.98 and "missingness" in col.flagged_by
    assert f"whether it is missing with ROC AUC {col.missing_auc:.3f}" in str(info.value)


def test_a_ranked_value_auc_is_never_below_its_missingness_auc():
    """Missing values placed at either end include the missingness split, so the value AUC bounds it."""
    rng = np.random.default_rng(4)
    for _ in range(20):
        n = 300
        y = rng.random(n) < rng.uniform(0.1, 0.9)
        x = np.where(rng.random(n) < rng.uniform(0, 1), rng.normal(size=n) + rng.normal() * y, np.nan)
        if not y.any() or y.all():
            continue
        c = screen_columns(pd.DataFrame({"x": x}), y, ["x"], table="t", auc_limit=1.0).columns[0]
        assert c.value_auc >= c.missing_auc - 1e-12


def test_the_missingness_wording_when_only_missingness_is_flagged():
    screen = ColumnScreen("deal_size", "categorical", 0.97, 0.995, 0.7, ("missingness",), False)
    assert str(_problem(screen, "leads", 0.98, LEADS_HINT)) == (
        "leads.deal_size: whether it is missing predicts the label with ROC AUC 0.995 (limit 0.98) — a value "
        "written after the outcome leaks it into training. Fix: drop the column, or allow it explicitly: "
        "allow_columns=['deal_size'] (CLI: --allow-column deal_size)")


def test_a_column_lower_for_positives_is_caught():
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.random(n) < 0.4
    days_to_close = np.where(y, rng.normal(5, 1, n), rng.normal(60, 5, n))     # closed fast when won
    assert roc_auc_score(y, days_to_close) < 0.01
    with pytest.raises(LeakageError, match=re.escape("leads.days_to_close: alone it predicts the label with ROC AUC "
                                                     "1.000 (limit 0.98)")):
        screen_columns(pd.DataFrame({"days_to_close": days_to_close}), y, ["days_to_close"], table="leads")


def test_missing_values_cannot_hide_a_leak_by_their_placement():
    """Positives high, negatives missing: missing-as-lowest reveals it even though missing-as-highest would not."""
    y = np.array([1] * 50 + [0] * 50)
    x = np.r_[np.arange(50.0) + 100, np.full(40, np.nan), np.arange(10.0)]
    low = _oriented(y, np.nan_to_num(x, nan=-1.0))
    high = _oriented(y, np.nan_to_num(x, nan=1e9))
    assert low == 1.0 and high < 0.98
    c = screen_columns(pd.DataFrame({"x": x}), y, ["x"], table="t", allow=["x"])["x"]
    assert c.value_auc == 1.0


# ---------------------------------------------------------------------- the AUC is scikit-learn's
@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-3, 3).map(float)),
                               st.booleans()), min_size=2, max_size=80))
def test_value_auc_of_a_numeric_column_is_roc_auc_score_oriented(rows):
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    assume(y.any() and not y.all())
    auc = roc_auc_score(y, x)
    c = screen_columns(pd.DataFrame({"x": x}), y, ["x"], table="t", auc_limit=1.0, allow=["x"])["x"]
    assert c.value_auc == pytest.approx(max(auc, 1 - auc), abs=1e-12)
    assert c.missing_auc == 0.5


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 4)), st.booleans()), min_size=2, max_size=60))
def test_value_auc_with_missing_values_is_the_better_placement(rows):
    x = np.array([np.nan if r[0] is None else float(r[0]) for r in rows])
    y = np.array([r[1] for r in rows])
    assume(y.any() and not y.all())
    c = screen_columns(pd.DataFrame({"x": x}), y, ["x"], table="t", auc_limit=1.0, allow=["x"])["x"]
    if np.isnan(x).all():
        assert c.value_auc == 0.5
    else:
        expected = max(_oriented(y, np.nan_to_num(x, nan=-1.0)), _oriented(y, np.nan_to_num(x, nan=5.0)))
        assert c.value_auc == pytest.approx(expected, abs=1e-12)
    n_missing = int(np.isnan(x).sum())
    expected_missing = 0.5 if n_missing in (0, len(x)) else _oriented(y, np.isnan(x))
    assert c.missing_auc == pytest.approx(expected_missing, abs=1e-12)
    assert c.missing_share == n_missing / len(x)


def test_datetimes_are_ranked_as_nanoseconds_since_the_epoch():
    rng = np.random.default_rng(6)
    n = 500
    y = rng.random(n) < 0.5
    when = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n) + 10**5 * y, unit="s"))
    aware = when.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    report = screen_columns(pd.DataFrame({"naive": when, "aware": aware}), y, ["naive", "aware"], table="leads")
    expected = _oriented(y, when.astype("datetime64[ns]").astype("int64"))
    assert report["naive"].kind == report["aware"].kind == "datetime"
    assert report["naive"].value_auc == pytest.approx(expected, abs=1e-12)
    assert report["aware"].value_auc == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------- dtypes and edge cases
Y = np.array([0, 1] * 10, dtype=bool)


@pytest.mark.parametrize("name, values, kind, value_auc, missing_auc", [
    ("constant", np.ones(20), "numeric", 0.5, 0.5),
    ("constant_text", np.array(["same"] * 20, dtype=object), "categorical", 0.5, 0.5),
    ("all_nan", np.full(20, np.nan), "numeric", 0.5, 0.5),
    ("all_none", pd.Series([None] * 20, dtype=object), "categorical", 0.5, 0.5),
    ("all_na_string", pd.Series([None] * 20, dtype="string"), "categorical", 0.5, 0.5),
    ("bool", Y.copy(), "bool", 1.0, 0.5),
    ("boolean_with_na", pd.array([True, None] * 10, dtype="boolean"), "bool", 1.0, 1.0),
    ("Int64_with_na", pd.array([None, 7] * 10, dtype="Int64"), "numeric", 1.0, 1.0),
    ("Float64_with_na", pd.array([1.5, None, 2.5, 3.5] * 5, dtype="Float64"), "numeric", 1.0, 0.75),
    ("string_with_na", pd.array(["a", None] * 10, dtype="string"), "categorical", 1.0, 1.0),
    ("category_with_nan", pd.Categorical(["a", "b", np.nan, "b"] * 5), "categorical", 1.0, 0.75),
    ("mixed_object", pd.Series([1, "a", 2.5, None] * 5, dtype=object), "categorical", 1.0, 0.75),
    ("unhashable_object", pd.Series([[1], {"k": 1}, None, "x"] * 5, dtype=object), "categorical", 1.0, 0.75),
    ("object_numbers", pd.Series([1, 2.5, None, 3] * 5, dtype=object), "numeric", 1.0, 0.75),
    ("object_bools", pd.Series([True, False, None, True] * 5, dtype=object), "bool", 0.875, 0.75),
    ("timedelta", pd.Series(pd.to_timedelta([1, 2] * 10, unit="D")), "timedelta", 1.0, 0.5),
])
def test_dtypes(name, values, kind, value_auc, missing_auc):
    report = screen_columns(pd.DataFrame({name: values}), Y, [name], table="leads", allow=[name])
    c = report[name]
    assert (c.kind, c.value_auc, c.missing_auc) == (kind, pytest.approx(value_auc), pytest.approx(missing_auc))
    assert c.flagged == (max(value_auc, missing_auc) >= 0.98)


def test_a_column_listed_twice_is_screened_once():
    frame, y = _leads()
    report = screen_columns(frame, y, ["source", "employees", "source"], table="leads")
    assert [c.name for c in report.columns] == ["source", "employees"]


def test_a_name_given_to_two_frame_columns_is_refused():
    frame, y = _leads()
    twice = pd.concat([frame[["source"]], frame[["employees"]].rename(columns={"employees": "source"})], axis=1)
    with pytest.raises(ParameterError, match=re.escape("the frame holds several columns named ['source']")):
        screen_columns(twice, y, ["source"], table="leads")


def test_a_single_outcome_is_refused_naming_the_function():
    frame, _ = _leads(100)
    with pytest.raises(ParameterError, match=re.escape("screen_columns cannot screen columns without both outcomes: "
                                                       "the label holds 0 positives and 100 negatives")):
        screen_columns(frame, np.zeros(100), ["source"], table="leads")


def test_a_column_not_in_the_frame_is_refused_naming_it():
    frame, y = _leads(100)
    with pytest.raises(ParameterError, match=re.escape("The 'columns' parameter of screen_columns names a column "
                                                       "that the leads frame does not have: ['close_reason'].")):
        screen_columns(frame, y, ["source", "close_reason"], table="leads")


@pytest.mark.parametrize("kwargs, message", [
    ({"columns": "status"}, "The 'columns' parameter of screen_columns must be a list of column names."),
    ({"columns": ["status", 3]}, "must hold non-empty column names"),
    ({"allow": "status"}, "The 'allow' parameter of screen_columns must be a list of column names."),
    ({"table": ""}, "The 'table' parameter of screen_columns must be a non-empty string."),
    ({"auc_limit": 0.5}, "The 'auc_limit' parameter of screen_columns must be in (0.5, 1]. Got 0.5 instead."),
    ({"auc_limit": True}, "The 'auc_limit' parameter of screen_columns must be in (0.5, 1]."),
    ({"folds": 1}, "The 'folds' parameter of screen_columns must be an int in [2, 100]. Got 1 instead."),
    ({"seed": -1}, "The 'seed' parameter of screen_columns must be an int >= 0. Got -1 instead."),
    ({"hint": "allow=[{column}]"}, "must be a str.format template using only the fields {name} and {shell}"),
    ({"y": np.zeros(3)}, "must hold one label per row of the frame (100 rows). Got shape (3,) instead."),
    ({"y": np.r_[np.zeros(50), np.full(50, 2.0)]}, "must hold 0/1 labels (or bool); 50 labels are neither 0 nor 1."),
    ({"y": pd.Series([0.0, None] * 50)}, "must hold a 0/1 label for every row; 50 are missing."),
    ({"frame": {"status": [1]}}, "The 'frame' parameter of screen_columns must be a pandas DataFrame."),
])
def test_invalid_parameters_are_refused(kwargs, message):
    frame, y = _leads(100)
    args = {"frame": frame, "y": y, "columns": ["status"], "table": "leads", **kwargs}
    with pytest.raises(ParameterError, match=re.escape(message)):
        screen_columns(args.pop("frame"), args.pop("y"), args.pop("columns"), **args)


def test_screening_is_deterministic_and_label_types_agree():
    frame, y = _leads()
    a = screen_columns(frame, y, ["source", "employees"], table="leads", seed=7)
    b = screen_columns(frame, pd.Series(y.astype(int), index=frame.index[::-1]), ["source", "employees"],
                       table="leads", seed=7)
    assert a == b


# ---------------------------------------------------------------------- the report
def _report():
    frame, y = _leads()
    return screen_columns(frame, y, ["source", "employees", "status", "deal_size"], table="leads",
                          allow=["status", "deal_size"])


def test_report_round_trips_through_json():
    report = _report()
    assert LeakageReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_the_report_of_a_refusal_round_trips_too():
    frame, y = _leads()
    with pytest.raises(LeakageError) as info:
        screen_columns(frame, y, ["status"], table="leads")
    data = json.loads(json.dumps(info.value.report.to_dict()))
    assert data["columns"][0]["verdict"] == "refused"
    assert LeakageReport.from_dict(data) == info.value.report


def _set(path, value):
    def edit(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set(("columns", 0, "value_auc"), 0.99),
     "LeakageReport.from_dict: columns[0].flagged_by: expected ['value'] (the checks whose AUC reaches 0.98); got an "
     "array of 0 items."),
    (_set(("columns", 0, "value_auc"), 1.2), "LeakageReport.from_dict: columns[0].value_auc: expected a finite number "
     "in [0.5, 1]; got 1.2."),
    (_set(("columns", 2, "flagged_by"), ["value", "missingness"]), "LeakageReport.from_dict: columns[2].flagged_by: "
     "expected ['value'] (the checks whose AUC reaches 0.98)"),
    (_set(("columns", 2, "flagged_by"), ["value", "value"]), "LeakageReport.from_dict: columns[2].flagged_by[1]: "
     "expected a value not given before in the array"),
    (_set(("columns", 0, "flagged"), True), "LeakageReport.from_dict: columns[0].flagged: expected false (it follows "
     "flagged_by); got true."),
    (_set(("columns", 2, "verdict"), "passed"), "LeakageReport.from_dict: columns[2].verdict: expected 'allowed by "
     "the user' (it follows flagged_by and allowed); got 'passed'."),
    (_set(("columns", 1, "kind"), "text"), "LeakageReport.from_dict: columns[1].kind: expected one of 'numeric', "
     "'bool', 'datetime', 'timedelta', 'categorical'; got 'text'."),
    (_set(("columns", 1, "missing_auc"), 0.9), "LeakageReport.from_dict: columns[1].missing_auc: expected 0.5 when "
     "the missing share is 0; got 0.9."),
    (_set(("columns", 1, "missing_share"), -0.1), "LeakageReport.from_dict: columns[1].missing_share: expected a "
     "finite number in [0, 1]; got -0.1."),
    (_set(("columns", 1, "name"), "source"), "LeakageReport.from_dict: columns[1]: expected a column not screened "
     "before in the report; got 'source'."),
    (_set(("columns", 1, "allowed"), 1), "LeakageReport.from_dict: columns[1].allowed: expected true or false; got 1."),
    (_set(("columns", 1, "extra"), 1), "LeakageReport.from_dict: columns[1]: unknown key 'extra'"),
    (_set(("negatives",), 5), "LeakageReport.from_dict: negatives: expected rows - positives = "),
    (_set(("positives",), 0), "LeakageReport.from_dict: positives: expected an integer in [1, 4000]; got 0."),
    (_set(("auc_limit",), 0.4), "LeakageReport.from_dict: auc_limit: expected a finite number in (0.5, 1]; got 0.4."),
    (_set(("folds",), 1), "LeakageReport.from_dict: folds: expected an integer in [2, 100]; got 1."),
    (_set(("seed",), 1.5), "LeakageReport.from_dict: seed: expected an integer >= 0; got 1.5."),
    (_set(("table",), ""), "LeakageReport.from_dict: table: expected a non-empty string; got ''."),
    (_set(("columns",), {}), "LeakageReport.from_dict: columns: expected an array; got an object"),
    (_set(("columns", 0, "value_auc"), float("nan")), "LeakageReport.from_dict: columns[0].value_auc: NaN is not a "
     "JSON number"),
    (lambda d: d.pop("rows"), "LeakageReport.from_dict: missing key 'rows'"),
])
def test_a_tampered_report_is_refused_naming_the_field(edit, message):
    data = _report().to_dict()
    edited = copy.deepcopy(data)
    edit(edited)
    with pytest.raises(IncompatibleArtifactError, match="^" + re.escape(message)):
        LeakageReport.from_dict(edited)


# ---------------------------------------------------------------------- no data values anywhere (GDPR)
def test_no_data_value_appears_in_messages_or_the_report():
    frame, y = _leads()
    frame["status"] = np.where(y, SECRET, frame["status"])
    frame["deal_size"] = np.where(y, 4711.0815, np.nan)
    frame["owner"] = np.where(np.arange(len(y)) % 2 == 0, SECRET + "-owner", "someone")
    columns = ["source", "status", "deal_size", "owner"]
    with pytest.raises(LeakageError) as info:
        screen_columns(frame, y, columns, table="leads")
    passed = screen_columns(frame, y, columns, table="leads", allow=["status", "deal_size"])
    texts = [str(info.value), repr(info.value.problems), json.dumps(info.value.report.to_dict()),
             json.dumps(passed.to_dict()), repr(passed)]
    for text in texts:
        assert SECRET not in text and "4711" not in text and "someone" not in text and "converted" not in text
    assert "status" in texts[0] and "deal_size" in texts[0]
