"""Contributions by decision pattern equal LightGBM's own pred_contrib, whatever the splits and missing values."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from crmml.supervised._contrib import _nodes, contributions_by_pattern, tree_nodes


def _model(zero_as_missing: bool, seed: int = 0, n: int = 6000):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 12, n).astype(float), rng.normal(size=n),
                         rng.exponential(size=n)])
    X[: n // 10, 2] = np.nan
    X[: n // 20, 1] = np.nan
    X[n // 4: n // 4 + n // 20, 3] = 0.0
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] - (X[:, 1] % 3) + np.nan_to_num(X[:, 2])))).astype(float)
    params = dict(objective="binary", verbosity=-1, num_leaves=15, max_depth=4, min_data_in_leaf=5,
                  max_cat_to_onehot=2, zero_as_missing=zero_as_missing, deterministic=True, force_row_wise=True,
                  seed=seed)
    return lgb.train(params, lgb.Dataset(X, y, categorical_feature=[1]), 40), X


def _edge_rows(booster, X):
    """The training rows plus rows sitting exactly on every numeric threshold and odd category values."""
    Z = X.copy()
    i = 0
    for nodes in tree_nodes(booster):
        for node in nodes:
            if node["decision_type"] == "<=" and i < len(Z):
                Z[i, node["split_feature"]] = node["threshold"]
                i += 1
    Z[i:i + 50, 1], Z[i + 50:i + 100, 1], Z[i + 100:i + 150, 1] = -1.0, 2.5, 40.0
    Z[i + 150:i + 200, 3] = np.float32(1e-35)
    Z[i + 200:i + 250, 3] = -0.0
    # rows equal but for the categorical value: int(-0.5) == 0 is category 0, int(-1.0) is negative
    odd = np.array([-1.0, -0.5, -0.0, 0.0, 0.5, 2.5, 11.9, 12.0, 40.0, np.nan, *range(12)])
    block = np.repeat(X[:40], len(odd), axis=0)
    block[:, 1] = np.tile(odd, 40)
    return np.vstack([Z, block])


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_equal_to_lightgbm_pred_contrib(zero_as_missing):
    booster, X = _model(zero_as_missing)
    Z = _edge_rows(booster, X)
    want = booster.predict(Z, pred_contrib=True)
    got = contributions_by_pattern(booster, Z, num_threads=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(Z, raw_score=True), rtol=0, atol=1e-12)


def test_a_tree_of_one_leaf_contributes_only_its_bias():
    X = np.zeros((100, 2))
    booster = lgb.train(dict(objective="binary", verbosity=-1), lgb.Dataset(X, np.r_[np.zeros(50), np.ones(50)]), 2)
    assert all(not nodes for nodes in tree_nodes(booster))
    np.testing.assert_allclose(contributions_by_pattern(booster, X), booster.predict(X, pred_contrib=True),
                               atol=1e-15)


def test_deep_trees_compress_their_keys():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20000, 6))
    y = (rng.random(20000) < 1 / (1 + np.exp(-X.sum(axis=1)))).astype(float)
    booster = lgb.train(dict(objective="binary", verbosity=-1, num_leaves=200, min_data_in_leaf=5, max_depth=-1),
                        lgb.Dataset(X, y), 3)
    assert max(len(_nodes(t["tree_structure"])) for t in booster.dump_model()["tree_info"]) > 40  # > 31 splits
    np.testing.assert_allclose(contributions_by_pattern(booster, X), booster.predict(X, pred_contrib=True),
                               rtol=0, atol=1e-12)


def test_tree_model_switches_to_patterns_for_large_batches_with_the_same_reasons():
    from crmml.supervised import Column, FeatureSpec, TreeModel, crm_templates
    from crmml.supervised._contrib import FAST_CONTRIB_MIN_ROWS
    from crmml.supervised._reasons import explain_contributions

    booster, X = _model(False, seed=1, n=FAST_CONTRIB_MIN_ROWS + 500)
    spec = FeatureSpec([Column("Column_0", "numeric"), Column("Column_1", "categorical", tuple("abcdefghijkl")),
                        Column("Column_2", "numeric"), Column("Column_3", "numeric")])
    model = TreeModel(booster, spec)
    fast = model.contributions(X, num_threads=1)
    plain = booster.predict(X, pred_contrib=True, num_threads=1)
    assert model._trees is not None  # the pattern path ran
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-12)
    a = explain_contributions(fast, X, spec, crm_templates())
    b = explain_contributions(plain, X, spec, crm_templates())
    text = [c for c in a.columns if not c.endswith("_contribution")]
    pd.testing.assert_frame_equal(a[text], b[text])  # no near-tie flips the order here


def _numeric_edge_values(booster):
    """Every numeric threshold, its float64 neighbours, and LightGBM's zero state with its neighbours."""
    zero = float(np.float32(1e-35))
    values = [0.0, -0.0, zero, -zero, zero / 2, -zero / 2, np.nextafter(zero, 1), np.nextafter(-zero, -1),
              np.inf, -np.inf, np.nan]
    for nodes in tree_nodes(booster):
        for node in nodes:
            if node["decision_type"] == "<=":
                t = float(node["threshold"])
                values += [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
    return np.array(values)


def _spread_rows(X, column, values, seed=0):
    """Rows of ``X`` (cycled) with ``values`` (cycled) in ``column``, mixed into random other rows."""
    rng = np.random.default_rng(seed)
    m = max(len(values), 400)
    Z = X[rng.integers(0, len(X), m)].copy()
    Z[:, column] = np.resize(values, m)
    return Z


def test_many_thresholds_shared_across_trees_and_every_edge_value():
    # fine bins: one feature gets more thresholds than the comparison path takes (two-level buckets)
    rng = np.random.default_rng(5)
    n = 8000
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), np.round(rng.exponential(size=n), 1)])
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.2, 2] = 0.0
    y = (rng.random(n) < 1 / (1 + np.exp(-np.sin(3 * np.nan_to_num(X[:, 0])) - X[:, 1] + X[:, 2]))).astype(float)
    booster = lgb.train(dict(objective="binary", verbosity=-1, num_leaves=31, min_data_in_leaf=3, max_bin=1023,
                             deterministic=True, force_row_wise=True, seed=5), lgb.Dataset(X, y), 60)
    from crmml.supervised._contrib import _FEW_EDGES, _plan
    features, _ = _plan(tree_nodes(booster))
    assert max(len(f.edges) for f in features) > 4 * _FEW_EDGES  # the two-level path runs
    edges = _numeric_edge_values(booster)
    Z = np.vstack([X] + [_spread_rows(X, c, edges, seed=c) for c in range(3)])
    np.testing.assert_allclose(contributions_by_pattern(booster, Z, num_threads=2),
                               booster.predict(Z, pred_contrib=True), rtol=0, atol=1e-12)


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_zero_state_and_missing_columns(zero_as_missing):
    booster, X = _model(zero_as_missing, seed=2)
    Z = np.vstack([X, _spread_rows(X, 3, _numeric_edge_values(booster)), _spread_rows(X, 0, [0.0, -0.0, 1e-40])])
    all_nan, all_zero = Z.copy(), Z.copy()
    all_nan[:, 2] = np.nan  # a split feature missing in every row
    all_zero[:, 3] = 0.0
    for W in (Z, all_nan, all_zero):
        np.testing.assert_allclose(contributions_by_pattern(booster, W, num_threads=1),
                                   booster.predict(W, pred_contrib=True), rtol=0, atol=1e-12)


@pytest.mark.parametrize("offset", [0, 70_000])
def test_categorical_sets_with_large_codes(offset):
    # codes past the category table take the binary search; negative, fractional, huge and missing values too
    rng = np.random.default_rng(7)
    n = 6000
    cats = np.r_[np.arange(8), offset + np.arange(8)] if offset else np.arange(16)
    c = rng.choice(cats, n).astype(float)
    X = np.column_stack([c, rng.normal(size=n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(c % 5 - 2) - X[:, 1]))).astype(float)
    booster = lgb.train(dict(objective="binary", verbosity=-1, num_leaves=15, min_data_in_leaf=5,
                             max_cat_to_onehot=2, cat_smooth=1, min_data_per_group=5, deterministic=True,
                             force_row_wise=True, seed=7), lgb.Dataset(X, y, categorical_feature=[0]), 30)
    from crmml.supervised._contrib import _plan
    cat = [f for f in _plan(tree_nodes(booster))[0] if f.categorical]
    assert cat and all((f._where is None) == bool(offset) for f in cat)  # table (small codes) or binary search
    odd = np.r_[cats, cats + 0.5, -0.5, -0.0, -1.0, -3.7, cats.max() + 1, 2.0**31, 2.0**31 + 5, 1e12, np.inf,
                -np.inf, np.nan]
    Z = np.vstack([X, _spread_rows(X, 0, odd)])
    np.testing.assert_allclose(contributions_by_pattern(booster, Z, num_threads=2),
                               booster.predict(Z, pred_contrib=True), rtol=0, atol=1e-12)


def test_blocks_chunks_stages_and_threads(monkeypatch):
    # tiny blocks, chunks, key tables and groups: uneven last blocks, several chunks, keys made dense in
    # stages and by the hash; one thread or several (LightGBM's calls in the background) give the same values
    import crmml.supervised._contrib as contrib

    booster, X = _model(False, seed=3)
    Z = _edge_rows(booster, X)[:5003]
    want = booster.predict(Z, pred_contrib=True)
    default = contributions_by_pattern(booster, Z, num_threads=1)
    monkeypatch.setattr(contrib, "_BLOCK", 97)
    monkeypatch.setattr(contrib, "_BUCKET_BLOCK", 89)
    monkeypatch.setattr(contrib, "_CHUNK", 2600)  # two chunks of three output blocks (1024 rows at least)
    monkeypatch.setattr(contrib, "_DENSE_KEYS", 64)
    monkeypatch.setattr(contrib, "_GROUP", 16)
    monkeypatch.setattr(contrib, "_OUT_BLOCK_BYTES", 8 * 6 * 1100)
    monkeypatch.setattr(contrib, "_SERIAL_ROWS", 100)  # LightGBM's own threads in the background calls too
    for threads in (1, 2, 3):
        got = contributions_by_pattern(booster, Z, num_threads=threads)
        assert got.flags.c_contiguous and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got, default, rtol=0, atol=1e-13)


def test_float32_and_fortran_rows():
    booster, X = _model(False, seed=4)
    Z = _edge_rows(booster, X)
    for W in (np.asfortranarray(Z), Z.astype(np.float32)):
        np.testing.assert_allclose(contributions_by_pattern(booster, W),
                                   booster.predict(W, pred_contrib=True), rtol=0, atol=1e-12)


def test_no_rows():
    booster, X = _model(False, seed=0, n=500)
    assert contributions_by_pattern(booster, X[:0]).shape == (0, X.shape[1] + 1)


def test_wide_rows_few_split_columns():
    # most columns never split on: the buckets read only the split ones, the others' contributions stay 0
    rng = np.random.default_rng(9)
    n = 5000
    X = np.zeros((n, 12))
    X[:, 3], X[:, 8] = rng.normal(size=n), rng.integers(0, 5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 3] - X[:, 8] + 2))).astype(float)
    booster = lgb.train(dict(objective="binary", verbosity=-1, num_leaves=7, deterministic=True, force_row_wise=True),
                        lgb.Dataset(X, y), 20)
    assert {n["split_feature"] for nodes in tree_nodes(booster) for n in nodes} == {3, 8}
    Z = X + rng.normal(size=X.shape) * (rng.random(X.shape) < 0.1)
    got = contributions_by_pattern(booster, Z, num_threads=2)
    np.testing.assert_allclose(got, booster.predict(Z, pred_contrib=True), rtol=0, atol=1e-12)
    assert not got[:, [0, 1, 2, 4, 5, 6, 7, 9, 10, 11]].any()
