"""factorize_sorted: every code path gives sorted, consistent codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmml.features._ids import _packed_bytes, _radix_codes, factorize_sorted

rng = np.random.default_rng(7)
ALNUM = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
CASES = {
    "radix": [f"C{i:06d}" for i in rng.integers(0, 5000, 3000)] + ["c1", "c10", "c2"],
    "dictionary": ["".join(rng.choice(ALNUM, rng.integers(1, 9))) for _ in range(3000)],
    "fallback-long": [f"customer-{i:012d}" for i in rng.integers(0, 500, 1000)],
    "non-ascii": ["é", "e", "ü", "z", "日本", "a"] * 50,
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", ["str", object])
def test_codes_follow_sorted_ids(case, dtype):
    ids = pd.Series(CASES[case], dtype=dtype)
    rows = np.flatnonzero(rng.random(len(ids)) < 0.8)
    codes, uniques = factorize_sorted(ids, rows)
    expected = sorted(set(ids.iloc[rows]))
    assert list(uniques) == expected
    assert (uniques[codes] == ids.iloc[rows].to_numpy()).all()


def test_path_selection():
    ids = pd.Series(CASES["radix"], dtype="str")
    assert _radix_codes(_packed_bytes(ids), np.arange(len(ids))) is not None
    ids = pd.Series(CASES["dictionary"], dtype="str")
    assert _packed_bytes(ids) is not None
    assert _radix_codes(_packed_bytes(ids), np.arange(len(ids))) is None
    assert _packed_bytes(pd.Series(CASES["fallback-long"], dtype="str")) is None
    assert _packed_bytes(pd.Series(["a\x00", "a"], dtype="str")) is None  # NUL would collide with padding
