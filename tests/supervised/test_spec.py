"""FeatureSpec: kinds, levels, the one encoding path, one-row path, policies, persistence."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.exceptions import DataContractError, IncompatibleArtifactError, ParameterError
from crmml.supervised import Column, FeatureSpec


@pytest.fixture()
def frame():
    return pd.DataFrame({
        "recency_days": [3.0, 40.0, np.nan],
        "n": pd.array([1, None, 4], dtype="Int64"),
        "channel": pd.Categorical(["web", "store", None], categories=["web", "store", "phone"]),
        "country": ["DE", "FR", "DE"],
        "vip": [True, False, True],
        "customer_id": ["a", "b", "c"],
    })


def test_learn_infers_kinds_levels_and_order(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    assert spec.names == ("recency_days", "n", "channel", "country", "vip")
    assert [c.kind for c in spec.columns] == ["numeric", "numeric", "categorical", "categorical", "bool"]
    # levels: only values seen at fit (phone is a declared but unused category), sorted
    assert spec.columns[2].levels == ("store", "web")
    assert spec.columns[3].levels == ("DE", "FR")
    assert spec.categorical_indices == [2, 3]


def test_transform_hand_computed(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    X = spec.transform(frame)
    expected = np.array([[3.0, 1.0, 1.0, 0.0, 1.0],
                         [40.0, np.nan, 0.0, 1.0, 0.0],
                         [np.nan, 4.0, np.nan, 0.0, 1.0]])
    np.testing.assert_array_equal(X, expected)
    assert X.dtype == np.float64 and X.flags["F_CONTIGUOUS"]


def test_column_order_follows_spec_and_extra_columns_are_ignored(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    shuffled = frame[["vip", "country", "customer_id", "channel", "n", "recency_days"]].assign(extra=1.0)
    np.testing.assert_array_equal(spec.transform(shuffled), spec.transform(frame))


def test_categories_match_by_text_whatever_the_dtype(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    other = frame.assign(channel=frame["channel"].astype(object),
                         country=pd.Categorical(frame["country"], categories=["FR", "DE", "IT"]))
    np.testing.assert_array_equal(spec.transform(other), spec.transform(frame))


def test_unseen_category_is_missing_and_counted(frame, caplog):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    new = frame.assign(country=["IT", "IT", "DE"], channel=pd.Categorical(["phone", "web", "web"]))
    with caplog.at_level("INFO", logger="crmml"):
        enc = spec.encode(new)
    assert enc.unseen == {"channel": 1, "country": 2}
    assert np.isnan(enc.matrix[:2, 3]).all() and enc.matrix[2, 3] == 0.0
    assert np.isnan(enc.matrix[0, 2]) and enc.matrix[1, 2] == 1.0
    assert "channel (1 rows), country (2 rows)" in caplog.text


def test_missing_column_is_named(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    with pytest.raises(DataContractError, match=re.escape(
            "features.country: missing column (the model was trained with it). Fix: supply the column, or refit "
            "with allow_missing for it")) as err:
        spec.transform(frame.drop(columns=["country", "vip"]))
    assert "features.vip: missing column" in str(err.value)


def test_allowed_missing_column_is_all_nan(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"], allow_missing=["country"])
    enc = spec.encode(frame.drop(columns=["country"]))
    assert enc.filled == ("country",)
    assert np.isnan(enc.matrix[:, 3]).all()
    assert np.isnan(spec.transform_row({"recency_days": 1, "n": 1, "channel": "web", "vip": True})[0, 3])


def test_wrong_types_are_refused_naming_the_column(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    with pytest.raises(DataContractError, match=r"features\.recency_days: numbers \(the model was trained on a "
                                                r"numeric column\) — 1 row fails \(e\.g\. 'soon'\)"):
        spec.transform(frame.assign(recency_days=["soon", None, None]))
    with pytest.raises(DataContractError, match=r"features\.vip: true/false \(or 1/0\) \(the model was trained on "
                                                r"a bool column\) — 1 row fails \(e\.g\. 2\.0\)"):
        spec.transform(frame.assign(vip=[1, 0, 2]))
    with pytest.raises(DataContractError, match=r"features\.recency_days: numbers"):
        spec.transform_row({"recency_days": "soon", "n": 1, "channel": "web", "country": "DE", "vip": True})


def test_learn_refuses_non_feature_columns():
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01"]), "x": [1.0]})
    with pytest.raises(DataContractError, match=r"features\.t: a numeric, bool or categorical column \(got dtype "
                                                r"datetime64\[(ns|us|s|ms)\]\)"):
        FeatureSpec.learn(frame)


def test_forced_categorical_numbers_use_their_text():
    spec = FeatureSpec.learn(pd.DataFrame({"tier_code": [3, 1, 3]}), categorical=["tier_code"])
    assert spec.columns[0].levels == ("1", "3")
    np.testing.assert_array_equal(spec.transform(pd.DataFrame({"tier_code": [1, 3, 7]}))[:, 0], [0.0, 1.0, np.nan])
    assert spec.transform_row({"tier_code": 3})[0, 0] == 1.0


@pytest.mark.parametrize("name", ["", "a b", 'a"b', "a,b", "a:b", "a[0]", "{x}"])
def test_names_lightgbm_refuses_are_refused(name):
    with pytest.raises(ParameterError, match="cannot be used"):
        FeatureSpec([Column(name, "numeric")])


def test_constructor_checks():
    with pytest.raises(ParameterError, match="appears more than once"):
        FeatureSpec([Column("a", "numeric"), Column("a", "bool")])
    with pytest.raises(ParameterError, match="must be one of"):
        FeatureSpec([Column("a", "text")])
    with pytest.raises(ParameterError, match="only categorical features have levels"):
        FeatureSpec([Column("a", "numeric", ("x",))])


# ------------------------------------------------------------------ one row == batch
_values = {
    "numeric": st.one_of(st.none(), st.just(float("nan")), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False, width=64)),
    "categorical": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "zz"]), st.integers(0, 3)),
    "bool": st.one_of(st.none(), st.booleans()),
}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_row_path_equals_batch_path(data):
    spec = FeatureSpec([Column("x", "numeric"), Column("c", "categorical", ("0", "1", "a", "b")),
                        Column("f", "bool"), Column("m", "numeric", allow_missing=True)])
    n = data.draw(st.integers(1, 6))
    rows = [{"x": data.draw(_values["numeric"]), "c": data.draw(_values["categorical"]),
             "f": data.draw(_values["bool"])} for _ in range(n)]
    frame = pd.DataFrame({"x": pd.Series([r["x"] for r in rows], dtype=object),
                          "c": pd.Series([r["c"] for r in rows], dtype=object),
                          "f": pd.Series([r["f"] for r in rows], dtype=object)})
    batch = spec.transform(frame)
    one = np.vstack([spec.transform_row(r) for r in rows])
    np.testing.assert_array_equal(one, batch)


def test_one_row_of_a_series_equals_batch(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"])
    X = spec.transform(frame)
    for i in range(len(frame)):
        np.testing.assert_array_equal(spec.transform_row(frame.iloc[i]), X[i:i + 1])


# ------------------------------------------------------------------ persistence
def _load(d):
    return FeatureSpec.from_dict(Payload.parse(json.dumps(d), source="supervised.json"))


def test_round_trip(frame):
    spec = FeatureSpec.learn(frame, exclude=["customer_id"], allow_missing=["n"])
    back = _load(spec.to_dict())
    assert back == spec
    np.testing.assert_array_equal(back.transform(frame), spec.transform(frame))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["columns"][0].update(kind="text"),
     r"supervised\.json: columns\[0\]\.kind: expected one of 'numeric', 'categorical', 'bool'; got 'text'"),
    (lambda d: d["columns"][1].update(name="recency_days"),
     r"supervised\.json: columns\[1\]\.name: expected a non-empty feature name"),
    (lambda d: d["columns"][0].update(levels=["x"]),
     r"supervised\.json: columns\[0\]\.levels: expected a null; got an array of 1 item \(array\)"),
    (lambda d: d["columns"][2].update(levels=["web", "web"]),
     r"supervised\.json: columns\[2\]\.levels\[1\]: expected a value not given before in the array; got 'web'"),
    (lambda d: d["columns"][0].update(extra=1),
     r"supervised\.json: columns\[0\]: unknown key 'extra'"),
    (lambda d: d.update(columns=[]), r"supervised\.json: columns: expected an array of at least 1 object"),
    (lambda d: d["columns"][4].update(allow_missing=1),
     r"supervised\.json: columns\[4\]\.allow_missing: expected true or false; got 1"),
])
def test_tampered_spec_is_refused_naming_the_field(frame, edit, message):
    d = json.loads(json.dumps(FeatureSpec.learn(frame, exclude=["customer_id"]).to_dict()))
    edit(d)
    with pytest.raises(IncompatibleArtifactError, match=message):
        _load(d)
