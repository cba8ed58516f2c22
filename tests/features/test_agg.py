"""The shared per-entity reductions agree with a plain pandas computation of the same definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.features._agg import type_bucket, type_codes, typed_event_counts

KNOWN = ("complaint", "login", "web_visit")
TYPES = st.sampled_from([*KNOWN, "other", "fax", "", None])


def test_type_codes_put_unknown_and_missing_types_last():
    types = pd.Series(["login", "fax", None, "complaint", "login", "other"], dtype="string")
    assert type_codes(types, KNOWN).tolist() == [1, 3, 3, 0, 1, 3]
    assert type_bucket(types, KNOWN).tolist() == ["login", "other", "other", "complaint", "login", "other"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 4), st.floats(0, 400), TYPES), max_size=40))
def test_typed_event_counts_match_a_naive_groupby(events):
    n, now = 5, 400.0
    codes = np.array([e[0] for e in events], dtype=np.int64)
    t = np.array([e[1] for e in events], dtype=np.float64)
    types = pd.Series([e[2] for e in events], dtype="string")
    got = typed_event_counts(codes, n, t, types, KNOWN, (30, 90), now, prefix="ix", event="event")
    kind = [k if k in KNOWN else "other" for k in types.astype(object).where(types.notna(), None)]
    df = pd.DataFrame({"c": codes, "t": t, "k": kind})
    df = df[df["c"] >= 0]
    for w in (30, 90):
        win = df[(df["t"] >= now - w) & (df["t"] < now)]
        assert got[f"ix_{w}d"].tolist() == [int((win["c"] == i).sum()) for i in range(n)]
        for k in (*KNOWN, "other"):
            sel = win[win["k"] == k]
            assert got[f"ix_{k}_{w}d"].tolist() == [int((sel["c"] == i).sum()) for i in range(n)]
    for k in (None, *KNOWN, "other"):
        sel = df if k is None else df[df["k"] == k]
        want = [now - sel.loc[sel["c"] == i, "t"].max() if (sel["c"] == i).any() else np.nan for i in range(n)]
        np.testing.assert_array_equal(got["days_since_event" if k is None else f"days_since_{k}"], want)
