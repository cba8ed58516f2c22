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
    ReasonTemplate,
    crm_templates,
    explain_contributions,
    explain_row,
    reason_columns,
    top_factors,
)
from crmml.supervised import _reasons as reasons

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


# ---------------------------------------------------------------------- batch == reference, ties, blocks, empties
def _top_reference(row, k, increasing):
    """The order of the module docstring, one row in plain Python: value first, then the lower position."""
    vals = [float(v) for v in row]
    chosen = sorted((j for j, v in enumerate(vals) if (v > 0 if increasing else v < 0)),
                    key=lambda j: (-vals[j] if increasing else vals[j], j))[:k]
    return chosen + [-1] * (k - len(chosen)), [vals[j] for j in chosen] + [np.nan] * (k - len(chosen))


_TIED = st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, np.nan, np.inf, -np.inf, 1e-300, -1e-300])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), block=st.sampled_from([1, 5, 64, 1 << 16]))
def test_top_factors_equal_the_per_row_order_with_many_ties(data, block):
    n, m = data.draw(st.integers(0, 40)), data.draw(st.integers(0, 9))
    c = np.array(data.draw(st.lists(st.lists(_TIED, min_size=m, max_size=m), min_size=n, max_size=n)),
                 dtype=np.float64).reshape(n, m)
    if data.draw(st.booleans()):  # not contiguous, like the contributions without their bias column
        c = np.hstack([c, np.ones((n, 1))])[:, :m]
    k = data.draw(st.integers(0, 11))
    old = reasons._BLOCK_CELLS
    reasons._BLOCK_CELLS = block
    try:
        for inc in (True, False):
            idx, val = top_factors(c, k, increasing=inc)
            assert idx.shape == val.shape == (n, k) and idx.dtype == np.int64 and val.dtype == np.float64
            for i in range(n):
                ref_idx, ref_val = _top_reference(c[i], k, inc)
                assert idx[i].tolist() == ref_idx
                np.testing.assert_array_equal(val[i], ref_val)
    finally:
        reasons._BLOCK_CELLS = old


SPEC2 = FeatureSpec([Column("recency_days", "numeric"), Column("channel", "categorical", ("store", "web")),
                     Column("is_member", "bool"), Column("invoices_paid_late", "numeric"),
                     Column("engagement_ratio", "numeric"), Column("tenure_days", "numeric"),
                     Column("score", "numeric")])
TEMPLATES2 = crm_templates().extended([
    ReasonTemplate("engagement_ratio", "engaging at {value:.0%} of the usual rate ({value:+.0%})",
                   context=" in {segment}", missing="no engagement yet ({segment})"),
    ReasonTemplate("tenure_days", "customer for {value:count:day:days}{vip}", context=" since {signup_ratio:.1f}",
                   missing=""),
    ReasonTemplate("score", "score {value:.1f} via {channel} (member: {is_member})"),
], labels={"recency_days": "Recency"})


def _frame_from_rows(rows, index):
    cols = reason_columns(*rows.n_slots)
    data = {}
    for col in cols:
        values = [r[col] for r in rows]
        data[col] = (np.array(values, dtype=np.float64) if col.endswith("_contribution")
                     else pd.array(np.array(values, dtype=object), dtype="str"))
    return pd.DataFrame(data, index=index, columns=cols)


class _Rows(list):
    n_slots = (0, 0)


_XCELL = st.one_of(st.sampled_from([np.nan, 0.0, -0.0, 1.0, 2.0, 0.125, 0.5]), st.floats(-1e4, 1e4),
                   st.builds(lambda k: k / 1000, st.integers(-5000, 5000)))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), block=st.sampled_from([3, 1 << 16]), storage=st.sampled_from(["pyarrow", "python"]))
def test_batch_equals_explain_row_exactly(data, block, storage):
    n = data.draw(st.integers(0, 30))
    k = len(SPEC2)
    X = np.array([[data.draw(_XCELL), data.draw(st.sampled_from([0.0, 1.0, 2.0, np.nan])),
                   data.draw(st.sampled_from([0.0, 1.0, np.nan])), data.draw(_XCELL), data.draw(_XCELL),
                   data.draw(_XCELL), data.draw(_XCELL)] for _ in range(n)]).reshape(n, k)
    c = np.array(data.draw(st.lists(st.lists(_TIED, min_size=k + 1, max_size=k + 1), min_size=n, max_size=n)),
                 dtype=np.float64).reshape(n, k + 1)
    extra = [{"invoices_paid": data.draw(st.one_of(st.none(), st.integers(0, 20))),
              "segment": data.draw(st.sampled_from([None, "smb", "enterprise"])),
              "vip": data.draw(st.sampled_from([None, True, False])),
              "signup_ratio": data.draw(st.sampled_from([np.nan, 0.25, 1.04, -0.04]))} for _ in range(n)]
    frame = pd.DataFrame({"invoices_paid": pd.array([e["invoices_paid"] for e in extra], dtype="Int64"),
                          "segment": np.array([e["segment"] for e in extra], dtype=object),
                          "vip": pd.array([e["vip"] for e in extra], dtype="boolean"),
                          "signup_ratio": [e["signup_ratio"] for e in extra]},
                         index=pd.Index([f"c{i}" for i in range(n)], dtype=object))
    slots = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))
    old = reasons._BLOCK_CELLS
    reasons._BLOCK_CELLS = block
    try:
        with pd.option_context("mode.string_storage", storage):
            batch = explain_contributions(c, X, SPEC2, TEMPLATES2, n_increasing=slots[0], n_decreasing=slots[1],
                                          frame=frame)
            rows = _Rows(explain_row(c[i], X[i], SPEC2, TEMPLATES2, n_increasing=slots[0], n_decreasing=slots[1],
                                     extra=extra[i]) for i in range(n))
            rows.n_slots = slots
            expected = _frame_from_rows(rows, frame.index)
    finally:
        reasons._BLOCK_CELLS = old
    pd.testing.assert_frame_equal(batch, expected, check_exact=True)
    for col in batch.columns:
        if col.endswith("_contribution"):  # the same bits (sign of zero, NaN)
            np.testing.assert_array_equal(batch[col].to_numpy().view(np.int64), expected[col].to_numpy().view(np.int64))


def test_empty_batches_and_slots():
    X, c = np.empty((0, 5)), np.empty((0, 6))
    out = explain_contributions(c, X, SPEC, crm_templates(), n_increasing=2, n_decreasing=1)
    assert list(out.columns) == reason_columns(2, 1) and len(out) == 0
    assert str(out["reason_1"].dtype) == "str" and out["reason_1_contribution"].dtype == np.float64
    out = explain_contributions(np.ones((2, 6)), np.ones((2, 5)), SPEC, crm_templates(), n_increasing=0,
                                n_decreasing=0)
    assert out.shape == (2, 0)
    out = explain_contributions(np.zeros((3, 6)), np.ones((3, 5)), SPEC, crm_templates(), n_increasing=1,
                                n_decreasing=1)  # zero contributions are never reasons
    assert out.isna().all().all()
    assert str(out["reason_1"].dtype) == "str" and str(out["reason_neg_1_feature"].dtype) == "str"


def test_a_feature_in_several_slots_is_rendered_once_for_all(monkeypatch):
    reg = crm_templates()
    calls = []
    real = reg.render_codes
    monkeypatch.setattr(reg, "render_codes", lambda name, *a: calls.append(name) or real(name, *a))
    X = np.array([[124.0, 3.0, 1.0, 0.0, 2.0], [12.0, 1.0, 0.0, 1.0, 4.0]])
    c = np.array([[0.9, 0.5, 0.0, 0.0, 0.0, 0.0], [0.1, 0.5, 0.0, 0.0, 0.0, 0.0]])  # recency 1st, then 2nd
    out = explain_contributions(c, X, SPEC, reg, n_increasing=2, n_decreasing=0)
    assert sorted(calls) == ["interactions_complaint_90d", "recency_days"]
    assert out["reason_1"].tolist() == ["no purchase for 124 days", "1 complaint in the last 90 days"]
    assert out["reason_2"].tolist() == ["3 complaints in the last 90 days", "no purchase for 12 days"]
