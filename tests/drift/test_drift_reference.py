"""Drift references of a population, their payload, counts and the drift table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from artifact_mutation import mutate_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.drift import NO_DATA, DriftReference, drift_table, reference_from
from crmml.exceptions import IncompatibleArtifactError, ParameterError


def _population(n: int = 1000, seed: int = 7, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "account_id": rng.integers(0, 50, n).astype(str),
        "recency_days": rng.exponential(40.0, n) + shift,
        "orders": rng.poisson(3.0, n),
        "vip": rng.uniform(size=n) < 0.2,
        "country": pd.Categorical(rng.choice(["DE", "FR", "NL"], n)),
        "email": [f"user{i}@example.com" for i in range(n)],
        "signup_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
    })
    outputs = pd.DataFrame({"churn_probability": rng.beta(2, 5, n), "risk_tier": rng.choice(["low", "high"], n)},
                           index=features["customer_id"])
    return features, outputs


def _reference(**kwargs) -> DriftReference:
    f, o = _population(**kwargs)
    return reference_from(f, o, score_columns=["churn_probability"], as_of="2025-07-01", entity="customer_id")


def test_reference_bins_features_by_type_and_skips_ids_and_times():
    ref = _reference()
    assert set(ref.features) == {"recency_days", "orders", "vip", "country", "email"}
    assert {c: d.kind for c, d in ref.features.items()} == {
        "recency_days": "numeric", "orders": "numeric", "vip": "categorical", "country": "categorical",
        "email": "categorical"}
    assert list(ref.scores) == ["churn_probability"] and ref.scores["churn_probability"].kind == "numeric"
    assert ref.n_rows == 1000 and ref.as_of == "2025-07-01T00:00:00" and ref.format_version == 1
    assert ref.features["email"].labels == ()  # one row per address: nothing kept


def test_no_raw_personal_value_in_the_payload():
    text = json.dumps(_reference().to_dict())
    for raw in ("user1@example.com", "example.com", "c17", "DE", "2024-"):
        assert raw not in text


def test_reference_from_refuses_a_missing_score_column_and_mismatched_frames():
    f, o = _population()
    with pytest.raises(ParameterError, match=r"'clv'"):
        reference_from(f, o, score_columns=["clv"], as_of="2025-07-01")
    with pytest.raises(ParameterError, match="same rows"):
        reference_from(f, o.iloc[:10], score_columns=["churn_probability"], as_of="2025-07-01")


def test_counts_skip_absent_columns_and_empty_counts_cover_every_column():
    ref = _reference()
    f, o = _population(seed=8)
    counts = ref.counts(f.drop(columns=["orders"]), None)
    assert set(counts) == {"feature:recency_days", "feature:vip", "feature:country", "feature:email"}
    assert all(c.sum() == len(f) for c in counts.values())
    empty = ref.empty_counts()
    assert set(empty) == {*(f"feature:{c}" for c in ref.features), "score:churn_probability"}
    assert all(v.sum() == 0 and len(v) == ref.columns()[k].n_bins for k, v in empty.items())


def test_the_same_population_has_psi_zero_and_a_shift_is_flagged():
    ref = _reference()
    f, o = _population()
    same = drift_table(ref, ref.counts(f, o))
    assert (same["psi"] == 0.0).all() and (same["status"] == "ok").all()
    f2, o2 = _population(seed=9, shift=60.0)
    table = drift_table(ref, ref.counts(f2, o2))
    assert list(table.columns) == ["column", "kind", "psi", "status", "n_reference", "n_current"]
    assert table.loc[0, "column"] == "recency_days" and table.loc[0, "psi"] > 0.25 and table.loc[0, "status"] == "act"
    assert table["psi"].is_monotonic_decreasing
    assert set(table.loc[table["column"] != "recency_days", "status"]) == {"ok"}  # another seed: noise only


def test_drift_table_sums_partitions_and_reports_no_data():
    ref = _reference()
    f, o = _population(seed=10)
    total = ref.empty_counts()
    for part in np.array_split(np.arange(len(f)), 4):
        for k, v in ref.counts(f.iloc[part], o.iloc[part]).items():
            total[k] = total[k] + v
    pd.testing.assert_frame_equal(drift_table(ref, total), drift_table(ref, ref.counts(f, o)))
    empty = drift_table(ref, ref.empty_counts())
    assert (empty["status"] == NO_DATA).all() and empty["psi"].isna().all()
    with pytest.raises(ParameterError, match="bins"):
        drift_table(ref, {"feature:orders": np.zeros(3)})


def test_to_dict_and_from_dict_round_trip_through_json():
    ref = _reference()
    back = DriftReference.from_dict(Payload.parse(json.dumps(ref.to_dict()), source="drift_reference.json"))
    assert back == ref


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(format_version=2), r"^r.json: format_version: .*\(at most 1\); got 2.*newer crmml"),
    (lambda d: d.pop("as_of"), r"^r.json: missing key 'as_of'"),
    (lambda d: d.update(as_of="yesterday"), r"^r.json: as_of: expected an ISO 8601 timestamp"),
    (lambda d: d.update(n_rows=-3), r"^r.json: n_rows: expected an integer >= 0"),
    (lambda d: d.update(surprise=1), r"^r.json: unknown key 'surprise'"),
    (lambda d: d["features"]["orders"].update(n=5), r"^r.json: features.orders.n: expected the reference's n_rows"),
    (lambda d: d["features"]["vip"]["labels"].append(1), r"^r.json: features.vip.labels\[2\]: expected a label hash"),
    (lambda d: d["scores"]["churn_probability"].pop("edges"), r"^r.json: scores.churn_probability: missing key"),
])
def test_from_dict_errors_name_the_field(edit, match):
    d = json.loads(json.dumps(_reference().to_dict()))
    edit(d)
    with pytest.raises(IncompatibleArtifactError, match=match):
        DriftReference.from_dict(Payload.of(d, source="r.json"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_payload_is_refused_or_valid_never_another_error(data):
    doc = mutate_json(data.draw, _SMALL.to_dict())
    try:
        back = DriftReference.from_dict(Payload.of(doc, source="drift_reference.json"))
    except IncompatibleArtifactError as exc:
        assert str(exc).startswith("drift_reference.json")
    else:
        assert DriftReference.from_dict(back.to_dict()) == back


_SMALL = reference_from(pd.DataFrame({"x": np.arange(60.0), "c": ["a", "b", "a"] * 20}),
                        pd.DataFrame({"p": np.linspace(0, 1, 60)}), score_columns=["p"], as_of="2025-07-01")
