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

How it is computed, cheaply. Every feature (numeric or categorical, as the
trees split on it) first gets one small code per row, its *bucket*: for
numeric splits the number of the feature's thresholds (over all trees, plus
the edges ``-1e-35f`` and ``1e-35f`` of the zero state) below ``x``, with
its own bucket for missing; for categorical ones the position of
``trunc(x)`` among the categories any tree names, with buckets for other,
negative and missing values. Every comparison the key makes is constant on
a bucket, so per tree a lookup table, computed on one value of each bucket,
gives each feature's part of the key — or that of a few features at once,
indexed by their joint bucket. The tree's key is the mixed-radix sum of the
parts, made dense by a table of seen keys whenever its range would outgrow
that table (a hash table only serves a range that one lookup alone makes
too large). The trees' dense codes are kept (uint16; rows are taken about a
million at a time) until LightGBM has given every pattern's values; then
the values are summed block of rows by block in a feature-major buffer
that stays in cache, and each block is written row-major into the result
(no full-size temporary, no transposed copy). The bucket and output
passes split the row blocks among a few threads (numpy releases the GIL
inside each call); the key pass, made of many small calls, runs in one
thread while LightGBM computes the previous tree's values in another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["FAST_CONTRIB_MIN_ROWS", "contributions_by_pattern", "tree_nodes"]

FAST_CONTRIB_MIN_ROWS = 20_000
"""Below this many rows plain ``pred_contrib`` is as fast (the per-tree calls have a fixed cost)."""

_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold, a float: 1.0000000180025095e-35
_BELOW_ZERO = float(np.nextafter(-_ZERO, -np.inf))  # the largest float64 below the zero state
_DENSE_KEYS = 1 << 22  # keys grow up to this range, then a table of seen keys makes them dense (a hash, beyond)
_BLOCK = 1 << 15  # rows per block of the key pass: its buffers stay in cache
_BUCKET_BLOCK = 1 << 14  # rows per block of the bucket pass: the transposed block stays in cache
_OUT_BLOCK_BYTES = 1 << 25  # the output pass sums (n_features + 1) x rows float64 per block and worker
_CHUNK = 1 << 20  # rows per chunk: bounds the per-tree codes kept between the two passes
_FEW_EDGES = 24  # up to this many edges a feature is bucketed by one comparison per edge, above in two levels
_GROUP = 1 << 16  # features of a tree whose bucket counts multiply to at most this share one lookup table
_CATEGORY_TABLE = 1 << 16  # categories below this are bucketed by a table, others by binary search
_SERIAL_ROWS = 2048  # per-tree LightGBM calls on fewer rows run in one thread: a team of threads costs more
_MAX_WORKERS = 4  # threads over row blocks at most: numpy releases the GIL in each call, not between calls


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


def tree_nodes(booster: lgb.Booster) -> list[list[dict[str, Any]]]:
    """The split nodes of every tree (``Booster.dump_model``), for :func:`contributions_by_pattern`."""
    return [_nodes(info["tree_structure"]) for info in booster.dump_model()["tree_info"]]


def _category_set(node: dict[str, Any]) -> list[int]:
    """The categories of a categorical split node (its left side)."""
    return [int(c) for c in str(node["threshold"]).split("||") if c != ""]


def _special(v: np.ndarray, categorical: bool) -> np.ndarray:
    """0 missing, 1 zero (numeric, ``|x| <= 1e-35f``) or ``int(x) < 0`` (categorical), 2 otherwise."""
    with np.errstate(invalid="ignore"):
        other = np.trunc(v) < 0 if categorical else np.abs(v) <= _ZERO  # LightGBM: int(x) < 0
    return np.where(np.isnan(v), 0, np.where(other, 1, 2))


def _side(v: np.ndarray, node: dict[str, Any]) -> np.ndarray:
    """1 where ``x <= threshold`` (numeric) or ``trunc(x)`` is in the category set (categorical), else 0."""
    with np.errstate(invalid="ignore"):
        if node["decision_type"] != "==":
            return (v <= float(node["threshold"])).astype(np.int64)
        ok = ~np.isnan(v) & (np.trunc(v) >= 0) & (v < 2**31)  # -0.5 is category 0, as int(x)
        codes = np.where(ok, np.trunc(np.where(ok, v, 0)), -1).astype(np.int64)
    return np.isin(codes, _category_set(node)).astype(np.int64)  # -1 (missing, negative, huge) is in no set


@dataclass
class _Feature:
    """One feature as the trees split on it (numeric or categorical), with its global buckets.

    ``edges`` are the sorted thresholds (numeric, with the edges of the zero
    state) or categories (categorical) of every tree; ``values`` holds one
    value of each bucket, on which the per-tree lookup tables are computed.
    """

    column: int
    categorical: bool
    edges: np.ndarray = field(init=False)
    values: np.ndarray = field(init=False)
    dtype: type = field(init=False)
    _where: np.ndarray | None = field(init=False, default=None)

    def setup(self, nodes: list[dict[str, Any]]) -> None:
        """Collect the thresholds or categories of ``nodes`` (every split on this feature)."""
        cats = sorted({c for node in nodes for c in _category_set(node)}) if self.categorical else []
        if self.categorical:
            self.edges = np.asarray(cats, dtype=np.float64)
            other = float(cats[-1] + 1) if cats else 0.0  # a category in no set
            self.values = np.r_[self.edges, other, -1.0, np.nan]  # buckets: members, other, negative, missing
        else:
            thresholds = {float(node["threshold"]) for node in nodes} | {_BELOW_ZERO, _ZERO}
            self.edges = np.asarray(sorted(thresholds), dtype=np.float64)
            self.values = np.r_[self.edges, np.inf, np.nan]  # bucket i: edges[i-1] < x <= edges[i]; above; missing
        self.dtype = np.uint8 if len(self.values) <= 256 else np.uint16 if len(self.values) <= 65536 else np.int32
        if self.categorical and (not cats or cats[-1] < _CATEGORY_TABLE):  # category -> bucket by a table
            self._where = np.full((cats[-1] if cats else 0) + 2, len(cats), dtype=self.dtype)
            self._where[cats] = np.arange(len(cats))

    def buckets(self, v: np.ndarray, out: np.ndarray) -> None:
        """The bucket of every value of ``v`` (a float64 column), into ``out``."""
        m = len(self.edges)
        with np.errstate(invalid="ignore"):
            if self.categorical:
                t = np.trunc(v)
                if self._where is not None:
                    top = len(self._where) - 1  # a category in no set
                    ok = (t >= 0) & (t < top)
                    np.take(self._where, np.where(ok, t, top).astype(np.intp), out=out, mode="clip")
                else:
                    pos = np.searchsorted(self.edges, t)
                    hit = self.edges[np.minimum(pos, m - 1)] == t
                    out[:] = np.where(hit, pos, m)  # values >= 2**31 are in no set either
                np.putmask(out, t < 0, m + 1)
            elif m <= _FEW_EDGES:
                _count_below(v, self.edges, out)
            else:  # two levels: every step-th edge, then the edges between the two around x
                step = int(np.ceil(np.sqrt(m)))
                _count_below(v, self.edges[step - 1::step], out)
                at = out.astype(np.intp)
                np.multiply(at, step, out=at)
                padded = np.r_[self.edges, np.full(step, np.inf)]
                edge = np.empty(len(v), dtype=np.float64)
                above = np.empty(len(v), dtype=bool)
                np.copyto(out, at, casting="unsafe")
                for _ in range(step - 1):
                    np.take(padded, at, out=edge, mode="clip")
                    np.greater(v, edge, out=above)
                    np.add(out, above.view(np.uint8), out=out)
                    at += 1
            np.putmask(out, np.isnan(v), len(self.values) - 1)


def _count_below(v: np.ndarray, edges: np.ndarray, out: np.ndarray) -> None:
    """How many of the sorted ``edges`` are below each value of ``v`` (0 for NaN), into ``out``."""
    out.fill(0)
    above = np.empty(len(v), dtype=bool)
    ones = above.view(np.uint8)  # adding bytes is faster than casting booleans
    for edge in edges:
        np.greater(v, edge, out=above)
        np.add(out, ones, out=out)


@dataclass
class _Group:
    """Features of one tree looked up together: their buckets' joint index -> their part of the tree's key."""

    features: list[int]  # indices into the feature list
    sizes: list[int]  # their bucket counts: the joint index is mixed-radix in these
    table: np.ndarray  # int64: the group's code (mixed-radix in the features' local codes) per joint index
    radix: int  # the group's codes are below this


@dataclass
class _Tree:
    """One tree's plan: groups of its features, and the columns it splits on."""

    groups: list[_Group]
    columns: list[int]  # the only nonzero contributions besides the bias


def _plan(trees: list[list[dict[str, Any]]]) -> tuple[list[_Feature], list[_Tree | None]]:
    """The features of all trees and every tree's lookup tables (``None`` for a tree of one leaf)."""
    index: dict[tuple[int, bool], int] = {}
    features: list[_Feature] = []
    by_feature: list[list[dict[str, Any]]] = []
    per_tree: list[dict[int, list[dict[str, Any]]]] = []
    for nodes in trees:
        mine: dict[int, list[dict[str, Any]]] = {}
        for node in nodes:
            key = (int(node["split_feature"]), node["decision_type"] == "==")
            if key not in index:
                index[key] = len(features)
                features.append(_Feature(*key))
                by_feature.append([])
            by_feature[index[key]].append(node)
            mine.setdefault(index[key], []).append(node)
        per_tree.append(mine)
    for feat, nodes in zip(features, by_feature):
        feat.setup(nodes)
    plans: list[_Tree | None] = []
    for mine in per_tree:
        if not mine:
            plans.append(None)
            continue
        parts = []
        for i, nodes in mine.items():
            v = features[i].values
            special, sides = _special(v, features[i].categorical), [_side(v, node) for node in nodes]
            if len(sides) <= 60:  # the bucket's state and sides as one integer
                code = special.astype(np.int64)
                for side in sides:
                    code = 2 * code + side
                local = np.unique(code, return_inverse=True)[1]
            else:
                local = np.unique(np.column_stack([special, *sides]), axis=0, return_inverse=True)[1]
            local = local.reshape(-1).astype(np.int64)
            if local.max() > 0:  # a feature whose buckets all take the same sides adds nothing
                parts.append((i, local))
        parts.sort(key=lambda p: len(p[1]))
        groups: list[_Group] = []
        for i, local in parts:
            last = groups[-1] if groups else None
            if last is not None and int(np.prod(last.sizes)) * len(local) <= _GROUP:
                last.features.append(i)
                last.sizes.append(len(local))
                last.table = (last.table[:, None] + local[None, :] * last.radix).reshape(-1)
                last.radix *= int(local.max()) + 1
            else:
                groups.append(_Group([i], [len(local)], local, int(local.max()) + 1))
        plans.append(_Tree(groups, sorted({features[i].column for i in mine})))
    return features, plans


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _blocks(n: int, size: int) -> list[slice]:
    """Consecutive slices of ``size`` rows (the last one shorter) covering ``n`` rows."""
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


class _Workers:
    """Runs a function over row blocks in a few threads (numpy releases the GIL inside each call)."""

    def __init__(self, count: int) -> None:
        self.count = max(1, count)
        self._pool = ThreadPoolExecutor(self.count) if self.count > 1 else None

    def run(self, fn: Callable[[int, Iterable[slice]], None], blocks: list[slice]) -> None:
        """Call ``fn(worker, share)`` in every worker; the shares draw from ``blocks`` as the workers go.

        Workers take the next block when done with one, so a worker that
        waits for a busy core delays the others by one block at most.
        """
        k = min(self.count, len(blocks))
        if self._pool is None or k < 2:
            fn(0, blocks)
            return
        lock, pending = threading.Lock(), iter(blocks)

        def share() -> Iterator[slice]:
            while True:
                with lock:
                    s = next(pending, None)
                if s is None:
                    return
                yield s

        for future in [self._pool.submit(fn, i, share()) for i in range(k)]:
            future.result()

    def close(self) -> None:
        """Stop the threads."""
        if self._pool is not None:
            self._pool.shutdown()


def _bucket_blocks(X: np.ndarray, features: list[_Feature], out: list[np.ndarray], bufs: list[np.ndarray],
                   where: dict[int, int], every: bool, cols: list[int], worker: int,
                   share: Iterable[slice]) -> None:
    """The buckets of the rows of ``share``, from the block's columns transposed into ``bufs[worker]``."""
    for s in share:
        part = bufs[worker][:, : s.stop - s.start]
        np.copyto(part, X[s].T if every else X[s, cols].T)  # rows of this block, feature-major
        for f, o in zip(features, out):
            f.buckets(part[where[f.column]], o[s])


def _chunk_buckets(X: np.ndarray, features: list[_Feature], workers: _Workers) -> list[np.ndarray]:
    """Every feature's buckets for the rows of ``X``."""
    n, k = X.shape
    out = [np.empty(n, dtype=f.dtype) for f in features]
    cols = sorted({f.column for f in features})
    every = 2 * len(cols) > k  # transposing every column is cheaper than picking most of them
    where = {c: c if every else i for i, c in enumerate(cols)}
    bufs = [np.empty((k if every else len(cols), _BUCKET_BLOCK), dtype=np.float64) for _ in range(workers.count)]
    workers.run(partial(_bucket_blocks, X, features, out, bufs, where, every, cols), _blocks(n, _BUCKET_BLOCK))
    return out


class _Scratch:
    """Buffers of the key pass, reused by every tree of a chunk."""

    def __init__(self, n: int) -> None:
        self.key = np.empty(n, dtype=np.int64)
        self.part = np.empty(_BLOCK, dtype=np.int64)
        self.joint = np.empty(_BLOCK, dtype=np.uint16)
        self.code = np.empty(_BLOCK, dtype=np.intp)
        self.seen = np.empty(_DENSE_KEYS, dtype=bool)


def _joint(group: _Group, G: list[np.ndarray], s: slice, buf: np.ndarray) -> np.ndarray:
    """The group's joint bucket index of the rows ``s``."""
    first = G[group.features[0]][s]
    if len(group.features) == 1:
        return first
    out = buf[: s.stop - s.start]
    np.multiply(first, group.sizes[1], out=out, dtype=np.uint16)
    np.add(out, G[group.features[1]][s], out=out, dtype=np.uint16)
    for i, size in zip(group.features[2:], group.sizes[2:]):
        np.multiply(out, size, out=out, dtype=np.uint16)
        np.add(out, G[i][s], out=out, dtype=np.uint16)
    return out


def _tree_codes(tree: _Tree, G: list[np.ndarray], w: _Scratch, into: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..k-1 of the rows' keys in one tree (in ``into``, uint16, if they fit), one row of each code.

    The groups' parts are summed (mixed radix) while the key space stays
    small enough for a table of seen keys; then the key is made dense and
    the next groups are added to it — a hash table only serves a key space
    that one group alone makes too large. Its many small numpy calls hold the
    GIL too often for threads to help: this pass runs in one thread (while
    LightGBM computes the previous tree's values in another).
    """
    key = w.key
    n = len(key)
    blocks = _blocks(n, _BLOCK)
    if not tree.groups:  # every feature's buckets take the same sides: one pattern
        into.fill(0)
        return into, np.zeros(1, dtype=np.intp)
    groups = tree.groups
    pos, radix = 0, 1
    while True:
        fresh = radix == 1
        stage = [(groups[pos], groups[pos].table * radix)]
        radix *= groups[pos].radix
        pos += 1
        while pos < len(groups) and radix * groups[pos].radix <= _DENSE_KEYS:
            stage.append((groups[pos], groups[pos].table * radix))
            radix *= groups[pos].radix
            pos += 1
        seen = w.seen[:radix] if radix <= _DENSE_KEYS else None
        if seen is not None:
            seen.fill(False)
        for s in blocks:
            kb = key[s]
            for j, (group, table) in enumerate(stage):
                index = _joint(group, G, s, w.joint)
                if j == 0 and fresh:
                    table.take(index, out=kb, mode="clip")
                else:
                    part = w.part[: s.stop - s.start]
                    table.take(index, out=part, mode="clip")
                    np.add(kb, part, out=kb)
            if seen is not None:
                seen[kb] = True
        remap: np.ndarray | None
        if seen is not None:
            present = np.flatnonzero(seen)
            remap = np.empty(radix, dtype=np.intp)
            radix = len(present)
            remap[present] = np.arange(radix, dtype=np.intp)
        else:  # one group made the key space large: a hash table makes it dense
            dense, uniques = pd.factorize(key)
            key[:] = dense
            radix, remap = len(uniques), None
        if pos == len(groups):
            break
        if remap is not None:
            for s in blocks:
                c = w.code[: s.stop - s.start]
                remap.take(key[s], out=c, mode="clip")
                key[s] = c
    codes = into if radix <= 65536 else np.empty(n, dtype=np.int32)
    rep = np.empty(radix, dtype=np.intp)
    for s in blocks:
        c = w.code[: s.stop - s.start]
        if remap is None:
            np.copyto(c, key[s])
        else:
            remap.take(key[s], out=c, mode="clip")
        rep[c] = np.arange(s.start, s.stop, dtype=np.intp)  # any row of a pattern represents it
        np.copyto(codes[s], c, casting="unsafe")
    return codes, rep


def _touch(a: np.ndarray) -> None:
    """Write one element per memory page of a C-contiguous array nobody else writes yet: faults the pages in."""
    a.reshape(-1)[:: max(1, 4096 // a.itemsize)] = 0


def _values(booster: lgb.Booster, rows: np.ndarray, t: int, threads: int) -> np.ndarray:
    """LightGBM's TreeSHAP values of ``rows`` in tree ``t`` alone."""
    return np.asarray(booster.predict(rows, pred_contrib=True, start_iteration=t, num_iteration=1,
                                      num_threads=threads if len(rows) >= _SERIAL_ROWS else 1), dtype=np.float64)


_Done = list[tuple[np.ndarray, list[int], list[np.ndarray]]]  # per tree: codes, columns, their values by code


def _out_blocks(done: _Done, out: np.ndarray, bias: float, used: list[int], rows: int, worker: int,
                share: Iterable[slice]) -> None:
    """Sum the trees' values of the rows of ``share`` in a feature-major block, then write it row-major."""
    k = out.shape[1] - 1
    acc = np.zeros((k + 1, rows), dtype=np.float64)
    idx = np.empty(rows, dtype=np.intp)
    val = np.empty(rows, dtype=np.float64)
    for s in share:
        m = s.stop - s.start
        a = acc[:, :m]
        a[used] = 0.0
        a[k] = bias
        lines = list(a)
        ci, vi = idx[:m], val[:m]
        for codes, columns, values in done:
            np.copyto(ci, codes[s])
            for j, v in zip(columns, values):
                v.take(ci, out=vi, mode="clip")
                np.add(lines[j], vi, out=lines[j])
        out[s] = a.T


def _chunk(booster: lgb.Booster, X: np.ndarray, features: list[_Feature], plans: list[_Tree | None],
           out: np.ndarray, biases: list[float | None], workers: _Workers, num_threads: int) -> None:
    """Contributions of the rows of ``X`` into ``out`` (row-major); ``biases`` holds the trees' biases."""
    n, k = X.shape
    G = _chunk_buckets(X, features, workers)
    w = _Scratch(n)
    store = np.empty((sum(tree is not None for tree in plans), n), dtype=np.uint16)  # one allocation: huge pages
    done: _Done = []

    def keep(t: int, codes: np.ndarray, columns: list[int], phi: np.ndarray) -> None:
        biases[t] = float(phi[0, k])
        done.append((codes, columns, [np.ascontiguousarray(phi[:, j]) for j in columns]))

    # with a second thread, LightGBM computes tree t's values while the key pass runs on tree t + 1, and a
    # third one faults in the pages of the result (untouched until the output pass; slow in some VMs)
    background = ThreadPoolExecutor(1) if workers.count > 1 else None
    toucher = threading.Thread(target=_touch, args=(out,), daemon=True) if workers.count > 1 else None
    threads = max(1, (num_threads if num_threads > 0 else _cores()) - 1) if background is not None else num_threads
    pending: list[tuple[int, np.ndarray, list[int], Future[np.ndarray]]] = []
    try:
        if toucher is not None:
            toucher.start()
        for t, tree in enumerate(plans):
            if tree is None:
                continue
            codes, rep = _tree_codes(tree, G, w, store[len(done) + len(pending)])
            if background is None:
                keep(t, codes, tree.columns, _values(booster, X[rep], t, threads))
                continue
            pending.append((t, codes, tree.columns, background.submit(_values, booster, X[rep], t, threads)))
            if len(pending) > 1:  # at most one call waits for the thread
                t0, codes0, columns0, future = pending.pop(0)
                keep(t0, codes0, columns0, future.result())
        for t0, codes0, columns0, future in pending:
            keep(t0, codes0, columns0, future.result())
    finally:
        if background is not None:
            background.shutdown()
        if toucher is not None:
            toucher.join()
    del G, w
    bias = 0.0
    for b in biases:  # in tree order, as LightGBM sums them
        bias += float(b)  # type: ignore[arg-type]
    used = sorted({j for _, columns, _ in done for j in columns})
    rows = max(1024, min(1 << 16, _OUT_BLOCK_BYTES // (8 * (k + 1))))
    workers.run(partial(_out_blocks, done, out, bias, used, rows), _blocks(n, rows))


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
        Threads to use (0: all cores). With two or more, LightGBM's per-tree
        calls run (on ``num_threads - 1`` threads) alongside the key pass,
        and the bucket and output passes split the rows among up to four
        threads.
    trees : list, optional
        :func:`tree_nodes` of ``booster`` (computed when not given).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n_features + 1)``, row-major, the last column the bias;
        equal to LightGBM's full ``pred_contrib`` up to floating-point
        summation order.
    """
    X = np.asarray(X, dtype=np.float64)
    n, k = X.shape
    out = np.empty((n, k + 1), dtype=np.float64)
    if n == 0:
        return out
    features, plans = _plan(tree_nodes(booster) if trees is None else trees)
    biases: list[float | None] = [None] * len(plans)
    for t, tree in enumerate(plans):
        if tree is None:  # a single leaf: only the bias
            phi = booster.predict(X[:1], pred_contrib=True, start_iteration=t, num_iteration=1,
                                  num_threads=num_threads)
            biases[t] = float(phi[0, k])
    chunks = -(-n // _CHUNK)
    size = -(-n // chunks)
    workers = _Workers(min(_MAX_WORKERS, num_threads if num_threads > 0 else _cores()))
    try:
        for a in range(0, n, size):
            _chunk(booster, X[a:a + size], features, plans, out[a:a + size], biases, workers, num_threads)
    finally:
        workers.close()
    return out
