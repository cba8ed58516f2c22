"""Training sets over cutoffs: observed label windows, stacking, exclusions, default cutoffs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from crmml.data import CRMTables
from crmml.exceptions import DataContractError, ParameterError
from crmml.features import noncontractual_churn_labels, opportunity_outcome_labels, rfm_summary
from crmml.supervised import CUTOFF, TrainingSet, build_training_set, default_cutoffs


@pytest.fixture()
def tables():
    rows = [("a", "2024-01-10", 10.0), ("a", "2024-05-01", 12.0), ("a", "2024-08-01", 9.0),
            ("b", "2024-02-01", 20.0), ("b", "2024-02-15", -5.0),
            ("c", "2024-03-20", 7.0), ("c", "2024-06-10", 7.0), ("c", "2024-09-01", 8.0),
            ("d", "2024-06-01", 3.0)]
    tx = pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
    tx["ts"] = pd.to_datetime(tx["ts"])
    tx.insert(0, "transaction_id", [f"t{i}" for i in range(len(tx))])
    return CRMTables(transactions=tx)


def features(t, as_of):
    return rfm_summary(t.transactions, as_of)


def test_default_cutoffs_hand_computed():
    assert default_cutoffs("2025-01-01", 90, n=3) == [pd.Timestamp("2024-04-06"), pd.Timestamp("2024-07-05"),
                                                       pd.Timestamp("2024-10-03")]
    assert default_cutoffs("2025-01-01", 30, n=2, spacing_days=7) == [pd.Timestamp("2024-11-25"),
                                                                       pd.Timestamp("2024-12-02")]


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "The 'n' parameter of default_cutoffs must be an int >= 1. Got 0 instead."),
    ({"spacing_days": -1}, "The 'spacing_days' parameter of default_cutoffs must be > 0 or None. Got -1 instead."),
    ({"horizon_days": 0}, "The 'horizon_days' parameter of default_cutoffs must be > 0. Got 0 instead."),
])
def test_default_cutoffs_refuses_bad_parameters(kwargs, message):
    args = {"as_of": "2025-01-01", "horizon_days": 90, **kwargs}
    with pytest.raises(ParameterError, match=re.escape(message)):
        default_cutoffs(**args)


def test_build_stacks_cutoffs_with_labels(tables):
    ts = build_training_set(features, noncontractual_churn_labels, tables, ["2024-07-01", "2024-04-01"], 90,
                            "2024-10-01")
    f = ts.frame
    assert list(f.columns) == ["customer_id", CUTOFF, "frequency", "recency", "T", "monetary_value", "churned"]
    assert ts.entity == "customer_id" and ts.label == "churned"
    assert ts.cutoffs == (pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01"))
    # at 2024-04-01: a, b, c bought before; a buys 05-01, c buys 06-10 -> b churned
    # at 2024-07-01: a, b, c, d; a buys 08-01, c 09-01 -> b, d churned
    got = [(r.customer_id, str(r.cutoff.date()), r.churned) for r in f.itertuples()]
    assert got == [("a", "2024-04-01", 0), ("b", "2024-04-01", 1), ("c", "2024-04-01", 0),
                   ("a", "2024-07-01", 0), ("b", "2024-07-01", 1), ("c", "2024-07-01", 0), ("d", "2024-07-01", 1)]
    assert ts.counts().to_dict("list") == {"rows": [3, 4], "positives": [1, 2], "negatives": [2, 2]}


def test_exclusions_are_carried_per_cutoff(tables):
    def without_d(t, as_of):
        out = features(t, as_of)
        return out.drop(index="d", errors="ignore")

    ts = build_training_set(without_d, noncontractual_churn_labels, tables, ["2024-04-01", "2024-07-01"], 90,
                            "2024-10-01")
    first, second = (ts.exclusions[pd.Timestamp(c)] for c in ("2024-04-01", "2024-07-01"))
    # the refund of b (2024-02-15) is excluded by rfm_summary at both cutoffs
    assert [(e.table, e.n_rows, e.unit) for e in first.items] == [("transactions", 1, "rows")]
    assert [(e.table, e.n_rows, e.unit) for e in second.items] == [("transactions", 1, "rows"),
                                                                    ("customers", 1, "entities")]
    assert second.items[1].rule == "in the population at cutoff 2024-07-01 but without a feature row (not trained on)"
    assert second.items[1].examples == ("d",)
    assert "d" not in set(ts.frame["customer_id"])
    assert [e["cutoff"] for e in ts.exclusions_dict()] == ["2024-04-01T00:00:00"] + ["2024-07-01T00:00:00"] * 2


def test_cutoffs_whose_label_window_is_not_over_are_refused_all_listed(tables):
    message = ("The 'cutoffs' parameter of build_training_set must hold cutoffs whose label window is over by as_of "
               "(cutoff + 90 days <= 2024-10-01, i.e. cutoffs on or before 2024-07-03). Got ['2024-08-01', "
               "'2024-09-01'] instead.")
    with pytest.raises(ParameterError, match=re.escape(message)):
        build_training_set(features, noncontractual_churn_labels, tables, ["2024-04-01", "2024-08-01", "2024-09-01"],
                           90, "2024-10-01")


def test_a_cutoff_exactly_one_horizon_before_as_of_is_allowed(tables):
    ts = build_training_set(features, noncontractual_churn_labels, tables, ["2024-07-03"], 90, "2024-10-01")
    assert ts.cutoffs == (pd.Timestamp("2024-07-03"),)


def test_repeated_cutoffs_are_refused(tables):
    with pytest.raises(ParameterError, match="must not repeat a cutoff"):
        build_training_set(features, noncontractual_churn_labels, tables, ["2024-04-01", "2024-04-01"], 90,
                           "2024-10-01")


def test_several_label_columns_need_a_choice():
    opps = pd.DataFrame({"opportunity_id": ["o1", "o2"], "customer_id": ["a", "b"],
                         "created_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                         "closed_at": pd.to_datetime(["2024-05-01", None]), "won": pd.array([True, None])})
    t = CRMTables(opportunities=opps)

    def feats(t, as_of):
        o = t.opportunities
        return pd.DataFrame({"age": [1.0, 2.0]}, index=pd.Index(o["opportunity_id"], name="opportunity_id"))

    with pytest.raises(ParameterError, match=re.escape("must name one of the label columns ['won', "
                                                       "'closed_in_horizon'] when the label builder returns several")):
        build_training_set(feats, opportunity_outcome_labels, t, ["2024-03-01"], 90, "2024-07-01")
    ts = build_training_set(feats, opportunity_outcome_labels, t, ["2024-03-01"], 90, "2024-07-01", label="won")
    assert ts.label == "won" and ts.frame["won"].tolist() == [1, 0]


def test_builders_must_be_indexed_by_the_same_unique_entity(tables):
    def bad(t, as_of):
        return features(t, as_of).reset_index()

    with pytest.raises(DataContractError, match=re.escape("features: indexed by one named entity id")):
        build_training_set(bad, noncontractual_churn_labels, tables, ["2024-04-01"], 90, "2024-10-01")

    def clash(t, as_of):
        return features(t, as_of).assign(churned=1.0)

    with pytest.raises(DataContractError, match=re.escape("features.churned: not a feature column name")):
        build_training_set(clash, noncontractual_churn_labels, tables, ["2024-04-01"], 90, "2024-10-01")


def test_training_set_checks_its_frame():
    f = pd.DataFrame({"id": [1, 1], "cutoff": pd.to_datetime(["2024-01-01"] * 2), "x": [0.0, 1.0], "y": [0, 1]})
    with pytest.raises(DataContractError, match=re.escape("training set.id: one row per (entity, cutoff) — 1 row "
                                                          "fails (e.g. 1)")):
        TrainingSet.from_frame(f, entity="id", label="y", horizon_days=30, as_of="2024-03-01")
    with pytest.raises(DataContractError, match=re.escape("training set.y: a binary label: 0 or 1, no missing values "
                                                          "— 1 row fails (e.g. 2.0)")):
        TrainingSet.from_frame(f.assign(id=[1, 2], y=[0.0, 2.0]), entity="id", label="y", horizon_days=30,
                               as_of="2024-03-01")
    with pytest.raises(ParameterError, match=re.escape("Got ['2024-01-01'] instead.")):
        TrainingSet.from_frame(f.assign(id=[1, 2]), entity="id", label="y", horizon_days=90, as_of="2024-03-01")


def test_feature_columns_and_y():
    f = pd.DataFrame({"id": [1, 2], "when": pd.to_datetime(["2024-01-01"] * 2), "x": [0.0, 1.0], "y": [0, 1]})
    ts = TrainingSet.from_frame(f, entity="id", label="y", horizon_days=30, as_of="2024-03-01", cutoff="when")
    assert ts.feature_columns == ["x"]
    np.testing.assert_array_equal(ts.y, [0, 1])
