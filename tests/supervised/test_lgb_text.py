"""booster.txt is untrusted: every malformed model is refused before LightGBM's parser sees it.

LightGBM's C++ parser aborts the process on some malformed models (a model
cut in the middle of a tree), so the random edits run in a child process: a
crash there fails the test instead of killing the test run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import lightgbm as lgb
import numpy as np
import pytest

from crmml.exceptions import IncompatibleArtifactError
from crmml.supervised import Column, FeatureSpec, TreeModel
from crmml.supervised._lgb_text import canonical_model_text

SPEC = FeatureSpec([Column("a", "numeric"), Column("c", "categorical", tuple("0123456789AB")),
                    Column("b", "numeric")])


def _model_text(seed: int = 0, rounds: int = 4) -> str:
    rng = np.random.default_rng(seed)
    n = 3000
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 12, n).astype(float), rng.normal(size=n)])
    X[:200, 2] = np.nan
    X[:100, 1] = np.nan
    eff = np.array([0, 2, -2, 1, 0, 0, 3, -1, 0, 0, 1, 2.0])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] + eff[np.nan_to_num(X[:, 1]).astype(int)])))).astype(float)
    params = dict(objective="binary", verbosity=-1, num_leaves=4, min_data_in_leaf=5, deterministic=True,
                  force_row_wise=True, max_cat_to_onehot=2, monotone_constraints=[1, 0, 0], seed=seed)
    ds = lgb.Dataset(X, y, feature_name=list(SPEC.names), categorical_feature=[1])
    return lgb.train(params, ds, num_boost_round=rounds).model_to_string()


@pytest.fixture(scope="module")
def text():
    t = _model_text()
    assert "cat_boundaries=" in t and "num_cat=1" in t  # the fixture has categorical splits
    return t


def test_canonical_text_predicts_identically(text):
    canonical, n = canonical_model_text(text, SPEC)
    assert n == 4 and canonical.endswith("end of trees\n") and "parameters:" not in canonical
    X = np.random.default_rng(1).normal(size=(300, 3))
    X[:, 1] = np.abs(X[:, 1] * 4).round()
    X[::7, 1] = np.nan
    X[::5, 2] = np.nan
    a, b = lgb.Booster(model_str=text), lgb.Booster(model_str=canonical)
    np.testing.assert_array_equal(a.predict(X, raw_score=True), b.predict(X, raw_score=True))
    np.testing.assert_array_equal(a.predict(X, pred_contrib=True), b.predict(X, pred_contrib=True))
    assert canonical_model_text(canonical, SPEC) == (canonical, 4)  # a fixed point


def _edit(text: str, tree: int, key: str, value: str) -> str:
    block_start = text.index(f"Tree={tree}\n")
    start = text.index(f"\n{key}=", block_start) + 1
    end = text.index("\n", start)
    return text[:start] + f"{key}={value}" + text[end:]


def _line(text: str, tree: int, key: str) -> str:
    start = text.index(f"\n{key}=", text.index(f"Tree={tree}\n")) + 1
    return text[start:text.index("\n", start)].split("=", 1)[1]


CASES = [
    (lambda t: t[: len(t) // 2], r"no 'end of trees' line"),
    (lambda t: t[: t.index("Tree=1") + 40] + "\n" + t[t.index("end of trees"):],
     r"Tree=1: expected 'key=value' lines; got 'split_feat"),
    (lambda t: t.replace("num_class=1", "num_class=3"), r"header: expected num_class=1"),
    (lambda t: t.replace("objective=binary sigmoid:1", "objective=regression"),
     r"header: expected objective=binary sigmoid:<number > 0>; got objective=regression"),
    (lambda t: t.replace("feature_names=a c b", "feature_names=a b c"), r"the booster's features \['a', 'b', 'c'\]"),
    (lambda t: t.replace("max_feature_idx=2", "max_feature_idx=7"), r"header: expected max_feature_idx=2"),
    (lambda t: t.replace("version=v4", "version=v4\naverage_output"), r"header: expected 'key=value' lines"),
    (lambda t: t.replace("label_index=0", "label_index=0\nlabel_index=0"), r"header: the key 'label_index' appears "
                                                                             r"twice"),
    (lambda t: t.replace("monotone_constraints=1 0 0", "monotone_constraints=1 0 5"),
     r"header: monotone_constraints: expected integers in \[-1, 1\]; got 5"),
    (lambda t: t.replace("-1:", "11:12:", 1), r"header: feature_infos of 'c' lists the category code 12, but the "
                                             r"feature spec has 12 levels"),
    (lambda t: t.replace("Tree=1\n", "Tree=7\n"), r"expected 'Tree=1'; got 'Tree=7'"),
    (lambda t: _edit(t, 0, "num_leaves", "5"), r"Tree=0: leaf_value: expected 5 numbers; got 4"),
    (lambda t: _edit(t, 0, "num_leaves", "-4"), r"Tree=0: num_leaves: expected integers in \[1, 131072\]; got -4"),
    (lambda t: _edit(t, 0, "left_child", "2 -2 7"), r"Tree=0: left_child: expected integers in \[-4, 2\]; got 7"),
    (lambda t: _edit(t, 0, "left_child", "2 -2 1"), r"Tree=0: node 1 is reached twice"),
    (lambda t: _edit(t, 0, "right_child", "1 -2 -4"), r"Tree=0: leaf 1 is reached twice"),
    (lambda t: _edit(t, 0, "split_feature", "1 9 0"), r"Tree=0: split_feature: expected integers in \[0, 2\]; got 9"),
    (lambda t: _edit(t, 0, "split_feature", "0 0 0"), r"Tree=0: node 0 splits 'a' \(numeric\) as a categorical"),
    (lambda t: _edit(t, 0, "leaf_value", "nan 1 1 1"), r"Tree=0: leaf_value: expected finite numbers; got 'nan'"),
    (lambda t: _edit(t, 0, "leaf_value", "1e999 1 1 1"), r"Tree=0: leaf_value: expected finite numbers"),
    (lambda t: _edit(t, 0, "threshold", "5 0.1 0.2"), r"Tree=0: node 0: the category set index must be in \[0, 1\)"),
    (lambda t: _edit(t, 0, "cat_boundaries", "0 9"), r"Tree=0: cat_threshold: expected 9 integers; got 1"),
    (lambda t: _edit(t, 0, "cat_boundaries", "1 1"), r"Tree=0: cat_boundaries must start at 0"),
    (lambda t: _edit(t, 0, "cat_threshold", "-1"), r"Tree=0: cat_threshold: expected integers in \[0, 4294967295\]"),
    (lambda t: _edit(t, 0, "decision_type", "13 2 2"), r"Tree=0: decision_type of node 0: unknown missing-value type"),
    (lambda t: _edit(t, 0, "decision_type", "99 2 2"), r"Tree=0: decision_type: expected integers in \[0, 15\]"),
    (lambda t: _edit(t, 0, "internal_count", "1 1 1"), r"Tree=0: internal_count of node 0 is 1, its children hold"),
    (lambda t: _edit(t, 0, "is_linear", "1"), r"Tree=0: linear trees are not supported"),
    (lambda t: _edit(t, 0, "shrinkage", "1\nshrinkage=1"), r"Tree=0: the key 'shrinkage' appears twice"),
    (lambda t: _edit(t, 0, "shrinkage", "1\nleaf_const=1"), r"Tree=0: unknown key 'leaf_const'"),
    (lambda t: _edit(t, 0, "shrinkage", "1\ngarbage"), r"Tree=0: expected 'key=value' lines; got 'garbage'"),
    (lambda t: _edit(t, 1, "num_cat", "0"), r"Tree=1: (cat_boundaries and cat_threshold must be present exactly when "
                                            r"num_cat > 0|num_cat=0 but 1 categorical splits)"),
    (lambda t: t.replace("\nleaf_count=", "\n\nleaf_count=", 1), r"Tree=0: expected consecutive 'key=value' lines"),
    (lambda t: t.replace("\n", "\r\n"), r"unexpected carriage-return or NUL characters"),
]


@pytest.mark.parametrize("edit, message", CASES, ids=[str(i) for i in range(len(CASES))])
def test_malformed_models_are_refused_naming_tree_and_key(text, edit, message):
    bad = edit(text)
    with pytest.raises(IncompatibleArtifactError, match=r"^booster\.txt: .*" + message):
        canonical_model_text(bad, SPEC)


def _numeric_split_model(seed: int = 0) -> str:
    """A model whose only feature splits 'every number left, missing right' (LightGBM writes threshold inf)."""
    rng = np.random.default_rng(seed)
    n = 2000
    x = rng.normal(size=n)
    x[: n // 2] = np.nan
    y = np.where(np.isnan(x), rng.random(n) < 0.9, rng.random(n) < 0.1).astype(float)
    params = dict(objective="binary", verbosity=-1, num_leaves=2, min_data_in_leaf=5, deterministic=True,
                  force_row_wise=True, seed=seed)
    X = np.column_stack([x, np.zeros(n), np.zeros(n)])
    ds = lgb.Dataset(X, y, feature_name=list(SPEC.names), categorical_feature=[1])
    return lgb.train(params, ds, num_boost_round=2).model_to_string()


def test_an_infinite_split_threshold_is_accepted_and_predicts_identically():
    text = _numeric_split_model()
    assert "threshold=inf" in text  # what LightGBM writes for this split
    canonical, _ = canonical_model_text(text, SPEC)
    X = np.array([[np.nan, 0, 0], [1e300, 0, 0], [-3.0, 0, 0]])
    a, b = lgb.Booster(model_str=text), lgb.Booster(model_str=canonical)
    np.testing.assert_array_equal(a.predict(X, raw_score=True), b.predict(X, raw_score=True))


@pytest.mark.parametrize("bad", ["nan", "-inf", "Infinity"])
def test_a_threshold_that_is_nan_or_minus_infinity_is_refused(bad):
    text = _numeric_split_model()
    with pytest.raises(IncompatibleArtifactError, match=r"Tree=0: threshold: expected finite numbers or inf; got "
                                                        + repr(bad)):
        canonical_model_text(_edit(text, 0, "threshold", bad), SPEC)


def test_a_single_leaf_tree_is_accepted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[:, 1] = rng.integers(0, 3, 200)
    booster = lgb.train(dict(objective="binary", verbosity=-1, min_data_in_leaf=500),
                        lgb.Dataset(X, (rng.random(200) < 0.3).astype(float), feature_name=list(SPEC.names),
                                    categorical_feature=[1]), num_boost_round=2)
    model = TreeModel.from_text(booster.model_to_string(), SPEC)
    assert model.num_trees == 1
    np.testing.assert_array_equal(model.raw_score(X), booster.predict(X, raw_score=True))


_FUZZ = textwrap.dedent("""
    import random, sys
    import numpy as np, lightgbm as lgb
    sys.path.insert(0, {tests!r})
    from test_lgb_text import SPEC, _model_text
    from crmml.exceptions import IncompatibleArtifactError
    from crmml.supervised._lgb_text import canonical_model_text
    rng = random.Random(0)
    text = _model_text(1, rounds=3)
    X = np.random.default_rng(2).normal(size=(64, 3)); X[:, 1] = np.abs(X[:, 1] * 5).round(); X[::3, 2] = np.nan
    tokens = ["0", "-1", "1", "7", "-7", "nan", "1e999", "", "=", "Tree=0", "end of trees", "99999999999", "0.5"]
    accepted = refused = 0
    for i in range({n}):
        lines = text.split("\\n")
        for _ in range(rng.randint(1, 3)):
            if not lines:
                break
            j = rng.randrange(len(lines))
            action = rng.choice(["drop", "dup", "swap", "token", "cut"])
            if action == "drop":
                del lines[j]
            elif action == "dup":
                lines.insert(j, lines[j])
            elif action == "swap":
                k = rng.randrange(len(lines)); lines[j], lines[k] = lines[k], lines[j]
            elif action == "token" and "=" in lines[j]:
                key, _, value = lines[j].partition("=")
                parts = value.split(" ")
                parts[rng.randrange(len(parts))] = rng.choice(tokens)
                lines[j] = key + "=" + " ".join(parts)
            else:
                lines = lines[:j]
        bad = "\\n".join(lines)
        try:
            canonical, _ = canonical_model_text(bad, SPEC)
        except IncompatibleArtifactError:
            refused += 1
            continue
        booster = lgb.Booster(model_str=canonical)
        assert np.isfinite(booster.predict(X, raw_score=True)).all()
        booster.predict(X, pred_contrib=True)
        accepted += 1
    print(accepted, refused)
""")


@pytest.mark.slow
def test_random_edits_never_crash_the_process(tmp_path):
    script = tmp_path / "fuzz.py"
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    script.write_text(_FUZZ.format(tests=tests_dir, n=1500))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the child process failed (returncode {done.returncode}):\n{done.stderr[-3000:]}"
    accepted, refused = map(int, done.stdout.split())
    assert refused > 500 and accepted + refused == 1500


def test_truncated_model_is_refused_instead_of_aborting(text):
    cut = text[: text.index("Tree=2") + 60]
    with pytest.raises(IncompatibleArtifactError, match=re.escape("booster.txt: not a complete LightGBM text model")):
        TreeModel.from_text(cut, SPEC)
