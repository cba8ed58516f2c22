"""Binned reference distributions: bins, counts, no raw values stored, strict payloads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.drift import BinnedDistribution, hash_label
from crmml.exceptions import IncompatibleArtifactError, ParameterError


def _json(dist: BinnedDistribution) -> str:
    return json.dumps(dist.to_dict(), allow_nan=False)


# ---------------------------------------------------------------- numeric
def test_numeric_edges_are_rounded_deduplicated_quantiles():
    rng = np.random.default_rng(3)
    values = pd.Series(rng.lognormal(3.0, 1.2, 5000) + np.pi)
    dist = BinnedDistribution.numeric(values)
    raw = set(values.to_numpy())
    assert dist.kind == "numeric" and 1 <= len(dist.edges) <= 9
    assert list(dist.edges) == sorted(set(dist.edges))
    for e in dist.edges:
        assert e == float(f"{e:.4g}")  # 4 significant digits
        assert e not in raw  # no value of the population stored exactly
    assert dist.n == 5000 and len(dist.proportions) == len(dist.edges) + 2
    assert sum(dist.proportions) == pytest.approx(1.0, abs=1e-12)
    assert dist.proportions[-1] == 0.0  # nothing missing


def test_numeric_bins_are_left_closed_and_missing_has_its_own_bin():
    dist = BinnedDistribution.numeric(pd.Series([1.0, 2.0, 3.0, 4.0] * 25), n_bins=4)
    assert dist.edges == (1.75, 2.5, 3.25)
    counts = dist.counts(pd.Series([-np.inf, 1.75, 2.5, 3.25, np.inf, np.nan, None, "not a number"]))
    assert counts.tolist() == [1, 1, 1, 2, 3]  # < 1.75, [1.75, 2.5), [2.5, 3.25), >= 3.25, missing


def test_a_constant_or_tiny_numeric_column_keeps_few_bins():
    constant = BinnedDistribution.numeric(pd.Series([5.0] * 300))
    assert constant.edges == (5.0,) and constant.proportions == (0.0, 1.0, 0.0)  # a smaller value would show
    assert len(BinnedDistribution.numeric(pd.Series(np.arange(35.0))).edges) <= 2  # at least 10 values per bin
    empty = BinnedDistribution.numeric(pd.Series([np.nan] * 40))
    assert empty.edges == () and empty.proportions == (0.0, 1.0)


def test_nullable_integer_and_boolean_values_are_counted_as_numbers():
    dist = BinnedDistribution.numeric(pd.Series(list(range(100)), dtype="Int64"))
    assert dist.counts(pd.Series([1, None, 99], dtype="Int64")).sum() == 3
    assert dist.counts(pd.Series([1, None, 99], dtype="Int64"))[-1] == 1


# ---------------------------------------------------------------- categorical
def test_categorical_labels_are_hashed_and_rare_labels_are_other():
    values = pd.Series(["alice@example.com"] * 40 + ["gold"] * 50 + ["silver"] * 9 + [None] * 1
                       + [f"person{i}@example.com" for i in range(900)])
    dist = BinnedDistribution.categorical(values)
    assert dist.labels == (hash_label("gold"), hash_label("alice@example.com"))  # most frequent first
    assert all(len(h) == 12 and set(h) <= set("0123456789abcdef") for h in dist.labels)
    assert dist.n == 1000
    assert dist.proportions == (0.05, 0.04, 0.909, 0.001)  # gold, alice, other (silver: < 10 rows), missing
    text = _json(dist)
    for raw in ("alice", "example.com", "person1", "gold", "silver"):
        assert raw not in text


def test_a_label_of_a_few_rows_is_never_stored_even_in_a_small_population():
    values = pd.Series(["bob@example.com"] * 5 + ["carol@example.com"] * 5)  # 50 % each, but 5 rows each
    dist = BinnedDistribution.categorical(values)
    assert dist.labels == () and dist.proportions == (1.0, 0.0)
    assert hash_label("bob@example.com") not in _json(dist)


def test_at_most_twenty_categories_holding_one_percent_each():
    values = pd.Series([f"c{i:02d}" for i in range(30) for _ in range(100)] + ["tiny"] * 20)
    dist = BinnedDistribution.categorical(values)
    assert len(dist.labels) == 20 and dist.n_bins == 22
    assert dist.counts(pd.Series(["tiny", "never seen", None])).tolist()[-2:] == [2, 1]


def test_categorical_counts_of_booleans_and_categories():
    flags = pd.Series([True] * 60 + [False] * 40 + [None] * 5, dtype="boolean")
    dist = BinnedDistribution.categorical(flags)
    assert dist.labels == (hash_label("True"), hash_label("False"))
    assert dist.counts(pd.Series([True, True, False], dtype=bool)).tolist() == [2, 1, 0, 0]
    cats = pd.Series(pd.Categorical(["a"] * 30 + ["b"] * 20, categories=["a", "b", "unused"]))
    d2 = BinnedDistribution.categorical(cats)
    assert d2.counts(pd.Series(["b", "a", "a"])).tolist() == [2, 1, 0, 0]


# ---------------------------------------------------------------- additivity
_numbers = st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.none()), min_size=0, max_size=200)
_labels = st.lists(st.one_of(st.sampled_from(["a", "b", "c", "d", "e@x.org"]), st.none()), min_size=0, max_size=200)


@settings(max_examples=60, deadline=None)
@given(_numbers, st.lists(st.integers(0, 200), max_size=4))
def test_numeric_counts_add_up_over_any_split(values, cuts):
    ref = BinnedDistribution.numeric(pd.Series(np.linspace(-1e3, 1e3, 500)))
    s = pd.Series(values, dtype="float64")
    bounds = [0, *sorted(min(c, len(s)) for c in cuts), len(s)]
    parts = [ref.counts(s.iloc[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert (np.sum(parts, axis=0) == ref.counts(s)).all()
    assert ref.counts(s).sum() == len(s)


@settings(max_examples=60, deadline=None)
@given(_labels, st.lists(st.integers(0, 200), max_size=4))
def test_categorical_counts_add_up_over_any_split(values, cuts):
    ref = BinnedDistribution.categorical(pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20))
    s = pd.Series(values, dtype=object)
    bounds = [0, *sorted(min(c, len(s)) for c in cuts), len(s)]
    parts = [ref.counts(s.iloc[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert (np.sum(parts, axis=0) == ref.counts(s)).all()
    assert ref.counts(s).sum() == len(s)


def test_the_reference_values_counted_again_give_the_reference_shares():
    rng = np.random.default_rng(0)
    values = pd.Series(rng.normal(size=1234)).where(rng.uniform(size=1234) > 0.1)
    dist = BinnedDistribution.numeric(values)
    assert tuple((dist.counts(values) / len(values)).tolist()) == dist.proportions


# ---------------------------------------------------------------- persistence
@pytest.mark.parametrize("dist", [
    BinnedDistribution.numeric(pd.Series(np.random.default_rng(1).gamma(2.0, 3.0, 700))),
    BinnedDistribution.categorical(pd.Series(["x"] * 30 + ["y"] * 70 + [None] * 3)),
    BinnedDistribution.numeric(pd.Series([np.nan] * 12)),
])
def test_to_dict_and_from_dict_round_trip(dist):
    back = BinnedDistribution.from_dict(Payload.parse(_json(dist), source="drift_reference.json"))
    assert back == dist
    assert back.to_dict() == dist.to_dict()


def _numeric_payload() -> dict:
    return BinnedDistribution.numeric(pd.Series(np.arange(200.0))).to_dict()


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("n"), r"^x.json: missing key 'n'"),
    (lambda d: d.update(extra=1), r"^x.json: unknown key 'extra'"),
    (lambda d: d.update(kind="ordinal"), r"^x.json: kind: expected one of 'numeric', 'categorical'"),
    (lambda d: d.update(n=-1), r"^x.json: n: expected an integer >= 0"),
    (lambda d: d.update(n=True), r"^x.json: n: expected an integer"),
    (lambda d: d["edges"].__setitem__(2, "1.5"), r"^x.json: edges\[2\]: expected a finite number; got '1.5'"),
    (lambda d: d["edges"].__setitem__(3, d["edges"][2]), r"^x.json: edges: expected strictly increasing"),
    (lambda d: d["proportions"].__setitem__(0, 1.5), r"^x.json: proportions\[0\]: expected a finite number >= 0"),
    (lambda d: d["proportions"].pop(), r"^x.json: proportions: expected an array of 11 shares"),
    (lambda d: d["proportions"].__setitem__(0, 0.5), r"^x.json: proportions: expected shares that add up to 1"),
    (lambda d: d.update(labels=["abc"]), r"^x.json: unknown key 'labels'"),
])
def test_from_dict_errors_name_the_field(edit, match):
    d = _numeric_payload()
    edit(d)
    with pytest.raises(IncompatibleArtifactError, match=match):
        BinnedDistribution.from_dict(Payload.of(d, source="x.json"))


def test_categorical_from_dict_checks_the_hashes():
    d = BinnedDistribution.categorical(pd.Series(["x"] * 30 + ["y"] * 70)).to_dict()
    d["labels"][1] = "alice@example"
    with pytest.raises(IncompatibleArtifactError, match=r"^x.json: labels\[1\]: expected a label hash of 12"):
        BinnedDistribution.from_dict(Payload.of(d, source="x.json"))


def test_an_inconsistent_distribution_cannot_be_built():
    with pytest.raises(ParameterError, match="proportions"):
        BinnedDistribution("numeric", edges=(1.0,), proportions=(1.0,), n=3)
    with pytest.raises(ParameterError, match="n_bins"):
        BinnedDistribution.numeric(pd.Series([1.0]), n_bins=0)
