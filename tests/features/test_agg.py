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


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 4), st.sampled_from([-np.inf, -3.0, 0.0, 2.5, np.inf, np.nan])),
                max_size=30))
def test_max_and_min_by_match_pandas_and_keep_infinite_values(rows):
    # an infinite value is a value, not "no value": only entities without any finite-or-infinite value get NaN
    from crmml.features._agg import max_by, min_by

    codes = np.array([r[0] for r in rows], dtype=np.int64)
    v = np.array([r[1] for r in rows], dtype=np.float64)
    df = pd.DataFrame({"c": codes, "v": v}).dropna()
    df = df[df["c"] >= 0]
    for fn, how in ((max_by, "max"), (min_by, "min")):
        want = df.groupby("c")["v"].agg(how).reindex(range(5)).to_numpy()
        np.testing.assert_array_equal(fn(codes, v, 5), want)


def test_shared_work_computes_each_array_once_and_forgets_it_afterwards():
    from crmml.features import shared_work
    from crmml.features._agg import customer_index, frame_codes, frame_type_codes

    cust = pd.DataFrame({"customer_id": pd.Series(["b", "a"], dtype="string")})
    ix = pd.DataFrame({"customer_id": pd.Series(["a", "b", "x", None], dtype="string"),
                       "type": pd.Series(["login", "fax", "complaint", None], dtype="string")})
    with shared_work():
        c1, index = customer_index(cust)
        assert customer_index(cust)[1] is index  # the same object: builders share it
        codes = frame_codes(index, ix)
        assert codes.tolist() == [0, 1, -1, -1]
        assert frame_codes(index, ix) is codes
        assert frame_codes(pd.Index(["a", "b"]), ix) is not codes  # another index is another key
        assert frame_type_codes(ix, "type", KNOWN).tolist() == [1, 3, 0, 3]
        assert frame_type_codes(ix, "type", ("fax",)).tolist() == [1, 0, 1, 1]  # one factorisation, any known list
        ix.loc[0, "customer_id"] = "b"  # inside a block a changed frame is not noticed (documented) ...
        assert frame_codes(index, ix) is codes
    # ... outside the block nothing is cached
    assert frame_codes(index, ix).tolist() == [1, 1, -1, -1]
    assert customer_index(cust)[1] is not index


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "zz", "é", None]), max_size=30),
       st.sampled_from(["string", "str", object]))
def test_codes_of_is_the_same_on_the_arrow_fast_path_and_the_factorize_path(ids, dtype):
    from crmml.features._agg import codes_of

    index = pd.Index(pd.Series(["a", "c", "é", "q"], dtype="string[pyarrow]"))
    series = pd.Series(ids, dtype=dtype if dtype is not object else object)
    want = [index.get_loc(v) if isinstance(v, str) and v in set(index) else -1 for v in ids]
    assert codes_of(index, series).tolist() == want
    assert codes_of(pd.Index(index.astype(object)), series).tolist() == want  # not Arrow: the factorize path
