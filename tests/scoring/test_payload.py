"""The JSON payload reader/writer: malformed input is an IncompatibleArtifactError naming the field."""

import json

import numpy as np
import pandas as pd
import pytest

from crmml._payload import MAX_DEPTH, Payload, dump_json, format_path, to_jsonable
from crmml.exceptions import ArtifactError, IncompatibleArtifactError


@pytest.mark.parametrize(("raw", "match"), [
    (b"{not json", r"^model.json: not valid JSON"),
    (b"\xff\xfe{}", r"^model.json: not UTF-8 text"),
    (b"[1, 2]", r"^model.json: expected a JSON object at the top level; got an array of 2 items"),
    (b'"text"', r"^model.json: expected a JSON object at the top level; got 'text'"),
    (b"null", r"^model.json: expected a JSON object at the top level; got null"),
    (b'{"a": NaN}', r"^model.json: a: NaN is not a JSON number"),
    (b'{"a": {"b": [1, Infinity]}}', r"^model.json: a.b\[1\]: Infinity is not a JSON number"),
    (b'{"a": -Infinity}', r"^model.json: a: -Infinity is not a JSON number"),
    (b'{"a": 1e999}', r"^model.json: a: the number is inf \(JSON numbers must be finite; a literal such as 1e999 overflows\)"),
    (b'{"a": 1, "a": 2}', r"^model.json: the key 'a' appears more than once"),
    (b'{"a": ' + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5) + b"}", r"nested more than 64 levels deep"),
    (b"[" * 100_000, r"^model.json: nested more than 64 levels deep"),  # would be a RecursionError
    (b'{"a": ' + b"9" * 5000 + b"}", r"^model.json: not valid JSON"),  # int longer than Python converts
])
def test_malformed_json_is_incompatible_and_names_the_place(raw, match):
    with pytest.raises(IncompatibleArtifactError, match=match):
        Payload.parse(raw, source="model.json")


def _p(obj):
    return Payload.parse(json.dumps(obj).encode(), source="model.json")


@pytest.mark.parametrize(("value", "got"), [
    (-1, "-1"), (0, "0"), (None, "null"), ("0.5", "'0.5'"), (True, "true"), ([1], "an array of 1 item"),
    ({"x": 1}, "an object with keys 'x'"), (10**400, "1000000000"),
])
def test_finite_float_names_field_expectation_and_value(value, got):
    p = _p({"params": {"r": value}}).mapping("params")
    with pytest.raises(IncompatibleArtifactError,
                       match=rf"^model.json: params.r: expected a finite number > 0; got {got}.*re-train"):
        p.finite_float("r", low=0, closed="neither")


def test_finite_float_bounds_and_nullable():
    p = _p({"a": 1, "b": 0.5, "c": None})
    assert p.finite_float("a", low=0, high=1) == 1.0 and isinstance(p.finite_float("a"), float)
    assert p.finite_float("c", nullable=True) is None
    with pytest.raises(IncompatibleArtifactError, match=r"b: expected a finite number in \(0.5, 1\]; got 0.5"):
        p.finite_float("b", low=0.5, high=1, closed="right")
    with pytest.raises(IncompatibleArtifactError, match=r"c: expected a finite number; got null"):
        p.finite_float("c")


@pytest.mark.parametrize("value", [1.0, True, "1", 0, 3, None, 10**100])
def test_int_in_is_strict(value):
    with pytest.raises(IncompatibleArtifactError, match=r"^manifest: format_version: expected an integer in \[1, 2\]"):
        Payload.parse(json.dumps({"format_version": value}), source="manifest").int_in("format_version", low=1, high=2)


def test_str_in_boolean_require_array_and_missing():
    p = _p({"kind": "clv", "flag": 1, "xs": [1, 2], "n": 3})
    assert p.str_in("kind", ("clv", "churn")) == "clv"
    with pytest.raises(IncompatibleArtifactError, match=r"kind: expected one of 'churn'; got 'clv'"):
        p.str_in("kind", ("churn",))
    with pytest.raises(IncompatibleArtifactError, match=r"flag: expected true or false; got 1"):
        p.boolean("flag")
    assert p.require("n", "number") == 3 and p.require("xs", ("array", "null")) == [1, 2]
    with pytest.raises(IncompatibleArtifactError, match=r"n: expected a string; got 3 \(integer\)"):
        p.require("n", "string")
    with pytest.raises(IncompatibleArtifactError, match=r"xs: expected an array of 3 items; got an array of 2 items"):
        p.array("xs", length=3)
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: missing: missing; expected it to be present"):
        p.finite_float("missing")


def test_keys_exactly_names_missing_and_unknown_keys():
    root = _p({"a": 1, "zz": 2, "yy": 3})
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: unknown keys 'zz', 'yy'; expected only 'a'"):
        root.keys_exactly(["a"])
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: missing key 'b'"):
        root.keys_exactly(["a", "b"], optional=["zz", "yy"])
    root.keys_exactly(["a"], optional=["zz", "yy", "ww"])


def test_nested_paths_and_quoted_keys():
    p = _p({"files": {"model.json": {"size": -1}}})
    entry = p.mapping("files").mapping("model.json")
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: files\['model.json'\].size: expected an integer >= 0"):
        entry.int_in("size", low=0)
    assert format_path("", ()) == "value"
    assert format_path("m", ["a", 0, "b"]) == "m: a[0].b"


def test_float_matrix_with_null_entries():
    p = _p({"cov": [[1.0, None], [None, 2]], "bad": [[1.0, "x"], [1, 2]], "short": [[1.0]]})
    m = p.float_matrix("cov", (2, 2), null_entries=True)
    assert m[0, 0] == 1.0 and np.isnan(m[0, 1]) and m.dtype == np.float64
    with pytest.raises(IncompatibleArtifactError, match=r"cov\[0\]\[1\]: expected a finite number; got null"):
        p.float_matrix("cov", (2, 2))
    with pytest.raises(IncompatibleArtifactError, match=r"bad\[0\]\[1\]: expected a finite number or null; got 'x'"):
        p.float_matrix("bad", (2, 2), null_entries=True)
    with pytest.raises(IncompatibleArtifactError, match=r"short: expected an array of 2 items"):
        p.float_matrix("short", (2, 2))


def test_of_checks_an_in_memory_mapping_too():
    with pytest.raises(IncompatibleArtifactError, match=r"^BetaGeoModel.from_dict: params.r: NaN is not a JSON number"):
        Payload.of({"params": {"r": float("nan")}}, source="BetaGeoModel.from_dict")
    with pytest.raises(IncompatibleArtifactError, match=r"^x: expected a JSON object; got an array of 1 item"):
        Payload.of([1], source="x")  # type: ignore[arg-type]
    p = _p({"a": 1})
    assert Payload.of(p, source="ignored") is p


def test_to_jsonable_converts_numpy_and_refuses_non_finite_with_the_path():
    assert to_jsonable({"a": np.float64(1.5), "b": np.array([1, 2]), 3: np.int64(4), "t": pd.Timestamp("2025-01-01")}) == {
        "a": 1.5, "b": [1, 2], "3": 4, "t": "2025-01-01T00:00:00"}
    with pytest.raises(ArtifactError, match=r"Cannot store model.json: champion_threshold = inf in a crmml artifact"):
        to_jsonable({"champion_threshold": float("inf")}, source="model.json")
    with pytest.raises(ArtifactError, match=r"Cannot store model.json: tm.covariance\[1\]\[0\] = nan"):
        to_jsonable({"tm": {"covariance": np.array([[1.0, 2.0], [np.nan, 1.0]])}}, source="model.json")
    with pytest.raises(ArtifactError, match=r"Cannot store value = -inf"):
        to_jsonable(np.float32("-inf"))
    with pytest.raises(ArtifactError, match=r"Cannot store model.json: as_of = NaT"):
        to_jsonable({"as_of": pd.NaT}, source="model.json")
    with pytest.raises(TypeError, match="Cannot store m: x \\(a object\\) in a crmml artifact"):
        to_jsonable({"x": object()}, source="m")


def test_dump_json_is_strict_and_round_trips():
    text = dump_json({"b": [1.5, None], "a": "é"})
    assert json.loads(text) == {"a": "é", "b": [1.5, None]} and text.isascii()
    with pytest.raises(ArtifactError, match="margin = -inf"):
        dump_json({"margin": -np.inf}, source="model.json")
