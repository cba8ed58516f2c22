"""TreeSHAP contributions of many rows, computed once per distinct decision pattern of each tree.

LightGBM's ``pred_contrib`` runs path-dependent TreeSHAP for every row and
tree, about a microsecond each: a million customers and a hundred trees take
a minute on two cores. But a row's TreeSHAP values in one tree depend on the
row only through the side it takes at each of that tree's splits. This module
computes, per tree, a key that refines those decisions (rows with equal keys
take the same side everywhere in the tree), asks LightGBM's ``pred_contrib``
(``start_iteration=t, num_iteration=1``) for one representative row per key,
and spreads the values to every row with that key. The values are LightGBM's
own, tree by tree; only the order of the floating-point sum over trees
differs (results agree to about 1e-15, tested).

The key is deliberately finer than the decision: per split node a code of

* numeric splits: missing (NaN), zero (``|x| <= 1e-35f``, LightGBM's zero),
  else ``x <= threshold`` or not;
* categorical splits: missing, negative, else whether ``trunc(x)`` is in the
  split's category set;

so rows with one key take the same side whatever the node's missing-value
rule and default direction.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["FAST_CONTRIB_MIN_ROWS", "contributions_by_pattern", "tree_nodes"]

FAST_CONTRIB_MIN_ROWS = 20_000
"""Below this many rows plain ``pred_contrib`` is as fast (the per-tree calls have a fixed cost)."""

_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold, a float: 1.0000000180025095e-35
_MAX_KEY = np.iinfo(np.int64).max // 4


def _nodes(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The split nodes of one tree of ``Booster.dump_model()`` (iterative: deep trees stay safe)."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            out.append(node)
            stack.append(node["left_child"])
            stack.append(node["right_child"])
    return out


def _node_code(X: np.ndarray, node: dict[str, Any]) -> np.ndarray:
    """A code per row in 0..3 that determines the side the row takes at ``node``."""
    v = X[:, int(node["split_feature"])]
    nan = np.isnan(v)
    with np.errstate(invalid="ignore"):
        if node["decision_type"] == "==":
            cats = np.array([int(c) for c in str(node["threshold"]).split("||") if c != ""], dtype=np.float64)
            special = np.where(nan, 0, np.where(v < 0, 1, -1))
            side = np.isin(np.trunc(v), cats)
        else:
            special = np.where(nan, 0, np.where(np.abs(v) <= _ZERO, 1, -1))
            side = v <= float(node["threshold"])
    return np.where(special >= 0, special, 2 + side.astype(np.int64)).astype(np.int64)


def _pattern_codes(X: np.ndarray, nodes: list[dict[str, Any]]) -> np.ndarray:
    """Dense codes 0..k-1 of the rows' decision patterns in one tree."""
    key = np.zeros(X.shape[0], dtype=np.int64)
    top = 0
    for node in nodes:
        if top > _MAX_KEY // 4:  # compress before the key could overflow
            key = pd.factorize(key)[0].astype(np.int64)
            top = int(key.max(initial=0))
        key = key * 4 + _node_code(X, node)
        top = top * 4 + 3
    return pd.factorize(key)[0].astype(np.int64)


def tree_nodes(booster: lgb.Booster) -> list[list[dict[str, Any]]]:
    """The split nodes of every tree (``Booster.dump_model``), for :func:`contributions_by_pattern`."""
    return [_nodes(info["tree_structure"]) for info in booster.dump_model()["tree_info"]]


def contributions_by_pattern(booster: lgb.Booster, X: np.ndarray, *, num_threads: int = 0,
                             trees: list[list[dict[str, Any]]] | None = None) -> np.ndarray:
    """``booster.predict(X, pred_contrib=True)`` of a binary model, one TreeSHAP call per distinct pattern.

    Parameters
    ----------
    booster : lightgbm.Booster
        A binary model (one tree per iteration).
    X : numpy.ndarray
        float64 rows, shape ``(n, n_features)``.
    num_threads : int
        LightGBM threads for the per-tree calls (0: all cores).
    trees : list, optional
        :func:`tree_nodes` of ``booster`` (computed when not given).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n_features + 1)``, the last column the bias; equal to
        LightGBM's full ``pred_contrib`` up to floating-point summation order.
    """
    n, k = X.shape
    out = np.zeros((n, k + 1), dtype=np.float64)
    if n == 0:
        return out
    for t, nodes in enumerate(tree_nodes(booster) if trees is None else trees):
        if not nodes:  # a single leaf: only the bias
            phi = booster.predict(X[:1], pred_contrib=True, start_iteration=t, num_iteration=1,
                                  num_threads=num_threads)
            out[:, k] += phi[0, k]
            continue
        codes = _pattern_codes(X, nodes)
        rep = np.empty(int(codes.max()) + 1, dtype=np.int64)
        rep[codes] = np.arange(n, dtype=np.int64)  # any row of a pattern represents it
        phi = np.asarray(booster.predict(X[rep], pred_contrib=True, start_iteration=t, num_iteration=1,
                                         num_threads=num_threads), dtype=np.float64)
        used = sorted({int(node["split_feature"]) for node in nodes})
        out[:, used] += phi[:, used][codes]
        out[:, k] += phi[0, k]
    return out
