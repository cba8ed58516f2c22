"""LightGBM training, text persistence and prediction paths."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml.exceptions import IncompatibleArtifactError, ParameterError
from crmml.supervised import (
    Column,
    FeatureSpec,
    TreeModel,
    default_min_data_in_leaf,
    lightgbm_params,
    refit_booster,
    train_booster,
)

SPEC = FeatureSpec([Column("a", "numeric"), Column("b", "numeric"), Column("c", "categorical", ("x", "y", "z")),
                    Column("d", "bool"), Column("e", "numeric")])


def _data(n, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.exponential(size=n), rng.integers(0, 3, n).astype(float),
                         (rng.random(n) < 0.3).astype(float), rng.normal(size=n)])
    X[rng.random(n) < 0.1, 1] = np.nan
    logit = 1.2 * X[:, 0] - 0.8 * np.nan_to_num(X[:, 1], nan=2.0) + np.array([0.0, 0.7, -0.7])[X[:, 2].astype(int)] \
        + 0.5 * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def trained():
    X, y = _data(3000, 0)
    Xv, yv = _data(1000, 1)
    params = lightgbm_params(len(X), num_threads=2)
    return train_booster(X, y, Xv, yv, SPEC, params), (X, y, Xv, yv, params)


def test_min_data_in_leaf_scales_with_the_data():
    assert [default_min_data_in_leaf(n) for n in (100, 20_000, 100_000, 499_999, 10_000_000)] == [20, 20, 100, 499,
                                                                                                  500]


def test_params_defaults():
    p = lightgbm_params(100_000, monotone_constraints=[0, 1, 0, 0, -1])
    assert p == {"objective": "binary", "metric": "binary_logloss", "learning_rate": 0.1, "num_leaves": 15,
                 "max_depth": 4, "min_data_in_leaf": 100, "feature_fraction": 0.8, "lambda_l2": 1.0,
                 "deterministic": True, "force_row_wise": True, "seed": 0, "num_threads": 0, "verbosity": -1,
                 "monotone_constraints": [0, 1, 0, 0, -1]}
    assert "monotone_constraints" not in lightgbm_params(10, monotone_constraints=[0, 0])


def test_early_stopping_keeps_the_best_iteration(trained):
    (tree, log), _ = trained
    assert tree.num_trees == log.best_iteration == log.kept
    assert log.rounds_run == len(log.holdout_logloss) >= log.best_iteration
    assert int(np.argmin(log.holdout_logloss)) + 1 == log.best_iteration


@pytest.mark.parametrize("tolerance", [0.002, 0.01, 0.05])
def test_tree_tolerance_keeps_the_shortest_prefix_within_it_of_the_best(trained, tolerance):
    _, (X, y, Xv, yv, params) = trained
    tree, log = train_booster(X, y, Xv, yv, SPEC, params, tolerance=tolerance)
    losses = log.holdout_logloss
    limit = losses[log.best_iteration - 1] * (1 + tolerance)
    assert tree.num_trees == log.kept <= log.best_iteration
    assert losses[log.kept - 1] <= limit
    assert all(v > limit for v in losses[: log.kept - 1])  # no shorter prefix qualifies
    raw = tree.raw_score(Xv)
    assert np.isclose(np.mean(np.logaddexp(0, raw) - yv * raw), losses[log.kept - 1], rtol=1e-6)


def test_training_is_deterministic(trained):
    (tree, _), (X, y, Xv, yv, params) = trained
    again, _ = train_booster(X, y, Xv, yv, SPEC, params)
    assert again.to_text() == tree.to_text()


def test_text_round_trip_predicts_identically(trained):
    (tree, _), (_, _, Xv, _, _) = trained
    back = TreeModel.from_text(tree.to_text(), SPEC, num_trees=tree.num_trees)
    np.testing.assert_array_equal(back.raw_score(Xv), tree.raw_score(Xv))
    np.testing.assert_array_equal(back.contributions(Xv), tree.contributions(Xv))
    back_bytes = TreeModel.from_text(tree.to_text().encode(), SPEC)
    np.testing.assert_array_equal(back_bytes.raw_score(Xv), tree.raw_score(Xv))


def test_contributions_sum_to_the_raw_score(trained):
    (tree, _), (_, _, Xv, _, _) = trained
    c = tree.contributions(Xv)
    assert c.shape == (len(Xv), len(SPEC) + 1)
    np.testing.assert_allclose(c.sum(axis=1), tree.raw_score(Xv), rtol=0, atol=1e-10)


def test_one_row_equals_batch_bit_for_bit(trained):
    (tree, _), (_, _, Xv, _, _) = trained
    rows = Xv[:200]
    batch_raw = tree.raw_score(rows, num_threads=2)
    batch_c = tree.contributions(rows, num_threads=2)
    for i in range(len(rows)):
        assert tree.raw_score(rows[i:i + 1], num_threads=1)[0] == batch_raw[i]
        np.testing.assert_array_equal(tree.contributions(rows[i:i + 1], num_threads=1)[0], batch_c[i])


def test_empty_input(trained):
    (tree, _), _ = trained
    assert tree.raw_score(np.empty((0, 5))).shape == (0,)
    assert tree.contributions(np.empty((0, 5))).shape == (0, 6)


def test_feature_importance_is_named(trained):
    (tree, _), _ = trained
    imp = tree.feature_importance()
    assert list(imp) == list(SPEC.names) and imp["a"] > imp["e"] >= 0


def test_refit_grows_the_requested_trees(trained):
    (_, log), (X, y, _, _, params) = trained
    tree = refit_booster(X, y, SPEC, params, log.best_iteration)
    assert tree.num_trees == log.best_iteration


@pytest.mark.parametrize("text, message", [
    ("hello", r"booster\.txt: not a complete LightGBM text model \(no 'end of trees' line\)\. The artifact is "
              r"damaged"),
    (b"\xff\xfe", r"booster\.txt: not UTF-8 text"),
    ("tree\nversion=v4\nend of trees\n", r"booster\.txt: the model holds no tree"),
    ("tree\nversion=v4\nnum_class=1\nobjective=regression\nTree=0\nend of trees\n",
     r"booster\.txt: header: missing num_tree_per_iteration, label_index, max_feature_idx, feature_names, "
     r"feature_infos"),
])
def test_garbage_boosters_are_refused(text, message):
    with pytest.raises(IncompatibleArtifactError, match=message):
        TreeModel.from_text(text, SPEC)


def test_booster_of_other_features_or_tree_count_is_refused(trained):
    (tree, _), _ = trained
    other = FeatureSpec([Column(n, "numeric") for n in "abxde"])
    with pytest.raises(IncompatibleArtifactError, match=re.escape(
            "booster.txt: the booster's features ['a', 'b', 'c', 'd', 'e'] (5) differ from the feature spec's "
            "['a', 'b', 'x', 'd', 'e'] (5).")):
        TreeModel.from_text(tree.to_text(), other)
    with pytest.raises(IncompatibleArtifactError, match=re.escape(
            f"booster.txt: the booster holds {tree.num_trees} trees; supervised.json says 3.")):
        TreeModel.from_text(tree.to_text(), SPEC, num_trees=3)


def test_monotone_constraints_on_categorical_features_are_refused(trained):
    _, (X, y, Xv, yv, _) = trained
    params = lightgbm_params(len(X), monotone_constraints=[0, 0, 1, 0, 0])
    with pytest.raises(ParameterError, match=re.escape("Monotone constraints apply to numeric and bool features "
                                                       "only; ['c'] are categorical.")):
        train_booster(X, y, Xv, yv, SPEC, params)


@pytest.fixture(scope="module")
def monotone_tree(trained):
    _, (X, y, Xv, yv, _) = trained
    params = lightgbm_params(len(X), num_threads=2, monotone_constraints=[1, -1, 0, 0, 0])
    return train_booster(X, y, Xv, yv, SPEC, params)[0]


@settings(max_examples=40, deadline=None)
@given(row=st.integers(0, 999), grid=st.lists(st.floats(-4, 4), min_size=2, max_size=20))
def test_monotone_constraints_hold(monotone_tree, trained, row, grid):
    _, (_, _, Xv, _, _) = trained
    values = np.sort(np.asarray(grid))
    X = np.repeat(Xv[row:row + 1], len(values), axis=0)
    X[:, 0] = values
    assert np.all(np.diff(monotone_tree.raw_score(X)) >= 0)
    X[:, 0] = Xv[row, 0]
    X[:, 1] = np.abs(values)
    X = X[np.argsort(X[:, 1])]
    assert np.all(np.diff(monotone_tree.raw_score(X)) <= 0)

