"""Reasons: top increasing/decreasing factors, the column layout, values in words, one row == batch."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.exceptions import ParameterError
from crmml.supervised import (
    Column,
    FeatureSpec,
    crm_templates,
    explain_contributions,
    explain_row,
    reason_columns,
    top_factors,
)

SPEC = FeatureSpec([Column("recency_days", "numeric"), Column("interactions_complaint_90d", "numeric"),
                    Column("channel", "categorical", ("store", "web")), Column("is_member", "bool"),
                    Column("invoices_paid_late", "numeric")])


def test_layout():
    assert reason_columns(2, 1) == [
        "reason_1", "reason_1_feature", "reason_1_contribution", "reason_2", "reason_2_feature",
        "reason_2_contribution", "reason_neg_1", "reason_neg_1_feature", "reason_neg_1_contribution"]
    assert reason_columns(0, 0) == []
    message = "The 'n_increasing' parameter must be an int >= 0. Got -1 instead."
    with pytest.raises(ParameterError, match=re.escape(message)):
        reason_columns(-1, 0)


def test_top_factors_hand_computed_with_ties_zeros_and_large_k():
    c = np.array([[0.5, -1.0, 0.5, 2.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0],
                  [-0.1, -0.3, -0.3, 0.2, -0.05]])
    idx, val = top_factors(c, 7)
    assert idx.tolist() == [[3, 0, 2, -1, -1, -1, -1], [-1] * 7, [3, -1, -1, -1, -1, -1, -1]]
    np.testing.assert_array_equal(val[0, :3], [2.0, 0.5, 0.5])
    assert np.isnan(val[0, 3:]).all() and np.isnan(val[1]).all()
    idx, val = top_factors(c, 3, increasing=False)
    assert idx.tolist() == [[1, -1, -1], [-1, -1, -1], [1, 2, 0]]
    np.testing.assert_array_equal(val[2], [-0.3, -0.3, -0.1])


def test_explain_hand_computed():
    X = np.array([[124.0, 3.0, 1.0, 0.0, 2.0],
                  [5.0, 0.0, np.nan, 1.0, np.nan]])
    c = np.array([[0.8, 1.2, -0.2, 0.1, 0.05, -1.5],
                  [-0.6, -0.1, 0.3, -0.2, 0.0, -1.5]])
    frame = pd.DataFrame({"invoices_paid": [14, 3], "purchase_interval_days": [31.0, np.nan]}, index=["c1", "c2"])
    out = explain_contributions(c, X, SPEC, crm_templates(), n_increasing=2, n_decreasing=2, frame=frame)
    assert list(out.columns) == reason_columns(2, 2)
    assert list(out.index) == ["c1", "c2"]
    first = out.loc["c1"]
    assert first["reason_1"] == "3 complaints in the last 90 days"
    assert first["reason_2"] == "no purchase for 124 days — usually every 31"
    assert first["reason_neg_1"] == "channel = web" and first["reason_neg_1_contribution"] == -0.2
    assert pd.isna(first["reason_neg_2"]) and np.isnan(first["reason_neg_2_contribution"])
    second = out.loc["c2"]
    assert second["reason_1"] == "channel unknown" and second["reason_1_feature"] == "channel"
    assert pd.isna(second["reason_2"]) and pd.isna(second["reason_2_feature"])
    assert second[["reason_neg_1", "reason_neg_2"]].tolist() == ["no purchase for 5 days", "is member = yes"]
    assert str(out["reason_1"].dtype) == "str" and out["reason_1_contribution"].dtype == np.float64


def test_context_from_the_matrix_and_missing_context():
    X = np.array([[1.0, 0.0, 0.0, 0.0, 2.0]])
    c = np.array([[0.0, 0.0, 0.0, 0.0, 0.4]])
    out = explain_contributions(c, X, SPEC, crm_templates(), n_increasing=1, n_decreasing=0)
    assert out["reason_1"].tolist() == ["invoices paid late = 2"]  # invoices_paid neither a feature nor in a frame
    out = explain_contributions(c, X, SPEC, crm_templates(), n_increasing=1, n_decreasing=0,
                                frame=pd.DataFrame({"invoices_paid": [14]}))
    assert out["reason_1"].tolist() == ["2 of 14 invoices paid late"]


def test_shape_mismatch_is_refused():
    with pytest.raises(ParameterError, match=r"explain needs contributions of shape \(n, 5\) or \(n, 6\)"):
        explain_contributions(np.zeros((2, 3)), np.zeros((2, 5)), SPEC, crm_templates())
    message = "The frame passed to explain has 1 rows for 2 rows of features."
    with pytest.raises(ParameterError, match=re.escape(message)):
        explain_contributions(np.zeros((2, 6)), np.zeros((2, 5)), SPEC, crm_templates(), frame=pd.DataFrame({"a": [1]}))


_cells = st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0, 2.0]), st.floats(-500, 500))


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_one_row_equals_its_row_of_the_batch(data):
    n = data.draw(st.integers(1, 8))
    X = np.array([[data.draw(_cells), data.draw(_cells), data.draw(st.sampled_from([0.0, 1.0, np.nan])),
                   data.draw(st.sampled_from([0.0, 1.0, np.nan])), data.draw(_cells)] for _ in range(n)])
    c = np.array([[data.draw(st.sampled_from([0.0, 0.5, -0.5, 1.0])) for _ in range(6)] for _ in range(n)])
    paid = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 20)), min_size=n, max_size=n))
    frame = pd.DataFrame({"invoices_paid": pd.array(paid, dtype="Int64")})
    k, m = data.draw(st.integers(0, 7)), data.draw(st.integers(0, 7))
    batch = explain_contributions(c, X, SPEC, crm_templates(), n_increasing=k, n_decreasing=m, frame=frame)
    for i in range(n):
        row = explain_row(c[i], X[i], SPEC, crm_templates(), n_increasing=k, n_decreasing=m,
                          extra={"invoices_paid": paid[i]})
        assert list(row) == list(batch.columns)
        for key, value in row.items():
            b = batch.iloc[i][key]
            assert (pd.isna(b) and (value is None or value != value)) or b == value, (key, value, b)
