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

The key is deliberately finer than the decision: per feature of the tree
its special state (missing; zero, ``|x| <= 1e-35f`` as LightGBM counts it,
for numeric splits or negative for categorical ones; other), per split node
``x <= threshold`` (numeric) or whether ``trunc(x)`` is in the category set
(categorical) — so rows with one key take the same side whatever the node's
missing-value rule and default direction.
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


class _Columns:
    """Per-feature arrays shared by every node and tree of one call (computed on first use)."""

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self._special: dict[int, np.ndarray] = {}
        self._cat: dict[int, np.ndarray] = {}

    def special(self, f: int, categorical: bool) -> np.ndarray:
        """0 missing, 1 zero (numeric) or ``int(x) < 0`` (categorical), 2 otherwise — as int64."""
        key = f if not categorical else -1 - f
        hit = self._special.get(key)
        if hit is None:
            v = self.X[:, f]
            with np.errstate(invalid="ignore"):
                other = np.trunc(v) < 0 if categorical else np.abs(v) <= _ZERO  # LightGBM: int(x) < 0
            hit = np.where(np.isnan(v), 0, np.where(other, 1, 2)).astype(np.int64)
            self._special[key] = hit
        return hit

    def category(self, f: int) -> np.ndarray:
        """``trunc(x)`` as an int64 code (-1 for missing or negative values)."""
        hit = self._cat.get(f)
        if hit is None:
            v = self.X[:, f]
            with np.errstate(invalid="ignore"):
                ok = ~np.isnan(v) & (np.trunc(v) >= 0) & (v < 2**31)  # -0.5 is category 0, as int(x)
            hit = np.where(ok, np.trunc(np.where(ok, v, 0)), -1).astype(np.int64)
            self._cat[f] = hit
        return hit


def _pattern_codes(cols: _Columns, nodes: list[dict[str, Any]]) -> np.ndarray:
    """Dense codes 0..k-1 of the rows' decision patterns in one tree.

    The key combines, for every feature the tree splits on, its special state
    (missing / zero or negative / other: one code per feature and tree), and
    for every split node the side ``x <= threshold`` (numeric) or ``trunc(x)``
    in the category set (categorical) — finer than the decisions, whatever
    the node's missing-value rule.
    """
    n = cols.X.shape[0]
    key = np.zeros(n, dtype=np.int64)
    top = 0

    def push(values: np.ndarray, base: int) -> None:
        nonlocal key, top
        if top > _MAX_KEY // base:  # compress before the key could overflow
            key = pd.factorize(key)[0].astype(np.int64)
            top = int(key.max(initial=0))
        np.multiply(key, base, out=key)
        np.add(key, values, out=key)
        top = top * base + base - 1

    seen: set[tuple[int, bool]] = set()
    for node in nodes:
        f, cat = int(node["split_feature"]), node["decision_type"] == "=="
        if (f, cat) not in seen:
            seen.add((f, cat))
            push(cols.special(f, cat), 3)
        if cat:
            codes = cols.category(f)
            cats = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
            table = np.zeros(max(cats, default=0) + 2, dtype=np.int64)
            table[cats] = 1
            side = table[np.clip(codes, -1, len(table) - 1)]  # -1 and codes above the set hit the trailing 0
        else:
            with np.errstate(invalid="ignore"):
                side = (cols.X[:, f] <= float(node["threshold"])).view(np.int8)
        push(side, 2)
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
    out = np.zeros((n, k + 1), dtype=np.float64, order="F")  # columns contiguous: one gather-add per feature
    if n == 0:
        return out
    cols = _Columns(np.asfortranarray(X, dtype=np.float64))  # contiguous columns: every node reads one
    for t, nodes in enumerate(tree_nodes(booster) if trees is None else trees):
        if not nodes:  # a single leaf: only the bias
            phi = booster.predict(X[:1], pred_contrib=True, start_iteration=t, num_iteration=1,
                                  num_threads=num_threads)
            out[:, k] += phi[0, k]
            continue
        codes = _pattern_codes(cols, nodes)
        rep = np.empty(int(codes.max()) + 1, dtype=np.int64)
        rep[codes] = np.arange(n, dtype=np.int64)  # any row of a pattern represents it
        phi = np.asarray(booster.predict(X[rep], pred_contrib=True, start_iteration=t, num_iteration=1,
                                         num_threads=num_threads), dtype=np.float64)
        for j in sorted({int(node["split_feature"]) for node in nodes}):
            out[:, j] += phi[:, j][codes]
        out[:, k] += phi[0, k]
    return np.ascontiguousarray(out)  # rows contiguous again, as pred_contrib returns them
