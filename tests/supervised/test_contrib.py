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
