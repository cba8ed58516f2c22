"""Strict reading of LightGBM's text model format before LightGBM sees it.

LightGBM's C++ model parser trusts its input: a truncated or hand-edited
``booster.txt`` can make it read past the end of the text or index arrays out
of range, which **aborts the process** (observed with LightGBM 4.7 on a model
cut in the middle of a tree) instead of raising an error. A model artifact is
untrusted input, so :func:`canonical_model_text` parses the text in Python,
checks everything LightGBM relies on and returns a canonical copy assembled
only from checked parts:

* the header: exactly the keys a binary LightGBM 4 model has, the feature
  names of the :class:`~crmml.supervised.FeatureSpec`, ``num_class=1``,
  ``objective=binary sigmoid:<finite>``, one ``feature_infos`` token per
  feature of the right kind (numeric range or category list);
* every tree: ``Tree=<i>`` numbered in order, only known keys, each array of
  the length ``num_leaves`` implies and made of finite numbers of the right
  type; children that form one binary tree rooted at node 0 (every internal
  node and leaf reached exactly once); split features in range, categorical
  splits only on categorical features with their bitsets in range, numeric
  splits only on numeric features; valid ``decision_type`` bits; counts that
  add up (node count = sum of its children's); no linear trees;
* ``tree_sizes`` recomputed, everything after ``end of trees`` dropped.

Anything else raises :class:`~crmml.exceptions.IncompatibleArtifactError`
naming the file, the tree and the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from crmml._payload import DEFAULT_FIX
from crmml.exceptions import IncompatibleArtifactError
from crmml.supervised._spec import FeatureSpec

__all__ = ["canonical_model_text", "MAX_LEAVES", "MAX_TREES"]

MAX_LEAVES = 131_072
"""Most leaves per tree (LightGBM's own limit)."""
MAX_TREES = 100_000
"""Most trees per model (the ``max_rounds`` limit of BinaryOutcomeModel)."""

_INT = re.compile(r"-?\d{1,10}")
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")
_NUM_INFO = re.compile(rf"\[({_FLOAT.pattern}):({_FLOAT.pattern})\]")
_CAT_INFO = re.compile(r"-?\d{1,10}(?::-?\d{1,10})*")
_OBJECTIVE = re.compile(rf"binary sigmoid:({_FLOAT.pattern})")

_HEADER_REQUIRED = ("version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx", "objective",
                    "feature_names", "feature_infos")
_HEADER_OPTIONAL = ("monotone_constraints", "tree_sizes")
_TREE_ARRAYS_INTERNAL = ("split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child",
                         "internal_value", "internal_weight", "internal_count")
_TREE_ARRAYS_LEAF = ("leaf_value", "leaf_weight", "leaf_count")
_TREE_KEYS = ("num_leaves", "num_cat", *_TREE_ARRAYS_INTERNAL, *_TREE_ARRAYS_LEAF, "cat_boundaries", "cat_threshold",
              "is_linear", "shrinkage")
_CATEGORICAL_BIT = 1
_DEFAULT_LEFT_BIT = 2


class _Error(Exception):
    """A problem found while reading; turned into IncompatibleArtifactError with the source."""


def _ints(text: str, what: str, n: int | None = None, low: int | None = None, high: int | None = None) -> list[int]:
    tokens = text.split(" ") if text else []
    if n is not None and len(tokens) != n:
        raise _Error(f"{what}: expected {n} integers; got {len(tokens)}")
    out = []
    for tok in tokens:
        if not _INT.fullmatch(tok):
            raise _Error(f"{what}: expected integers; got {tok[:30]!r}")
        v = int(tok)
        if (low is not None and v < low) or (high is not None and v > high):
            raise _Error(f"{what}: expected integers in [{low}, {high}]; got {v}")
        out.append(v)
    return out


def _floats(text: str, what: str, n: int, low: float | None = None, *, allow_inf: bool = False) -> list[float]:
    """Parse ``n`` space-separated numbers; finite unless ``allow_inf`` admits ``+inf``.

    LightGBM writes the threshold ``inf`` for a numeric split that sends every
    non-missing value left and only missing values right, so split thresholds
    are read with ``allow_inf=True``; NaN and ``-inf`` are never valid.
    """
    tokens = text.split(" ") if text else []
    if len(tokens) != n:
        raise _Error(f"{what}: expected {n} numbers; got {len(tokens)}")
    out = []
    for tok in tokens:
        v = float(tok) if _FLOAT.fullmatch(tok) or (allow_inf and tok == "inf") else math.nan
        ok = math.isfinite(v) or (allow_inf and v == math.inf)
        if not ok or (low is not None and v < low):
            expected = "finite numbers or inf" if allow_inf else "finite numbers"
            raise _Error(f"{what}: expected {expected}{'' if low is None else f' >= {low:g}'}; got {tok[:30]!r}")
        out.append(v)
    return out


def _key_values(lines: Sequence[str], where: str, allowed: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            raise _Error(f"{where}: expected 'key=value' lines; got {line[:40]!r}")
        if key not in allowed:
            raise _Error(f"{where}: unknown key {key[:40]!r}")
        if key in out:
            raise _Error(f"{where}: the key {key!r} appears twice")
        out[key] = value
    return out


def _header(lines: list[str], spec: FeatureSpec) -> list[str]:
    if not lines or lines[0] != "tree":
        raise _Error("not a LightGBM text model (the first line must be 'tree')")
    kv = _key_values(lines[1:], "header", (*_HEADER_REQUIRED, *_HEADER_OPTIONAL))
    missing = [k for k in _HEADER_REQUIRED if k not in kv]
    if missing:
        raise _Error(f"header: missing {', '.join(missing)}")
    k = len(spec)
    fixed = {"version": "v4", "num_class": "1", "num_tree_per_iteration": "1", "label_index": "0",
             "max_feature_idx": str(k - 1)}
    for key, want in fixed.items():
        if kv[key] != want:
            what = "a binary LightGBM 4 model of the spec's features" if key != "max_feature_idx" else \
                f"{k} features as in the feature spec"
            raise _Error(f"header: expected {key}={want} ({what}); got {key}={kv[key][:40]}")
    m = _OBJECTIVE.fullmatch(kv["objective"])
    if m is None or not (math.isfinite(float(m.group(1))) and float(m.group(1)) > 0):
        raise _Error(f"header: expected objective=binary sigmoid:<number > 0>; got objective={kv['objective'][:60]}")
    names = kv["feature_names"].split(" ")
    if names != list(spec.names):
        raise _Error(f"the booster's features {names[:5]}{' ...' if len(names) > 5 else ''} ({len(names)}) differ "
                     f"from the feature spec's {list(spec.names[:5])}{' ...' if k > 5 else ''} ({k})")
    infos = kv["feature_infos"].split(" ")
    if len(infos) != k:
        raise _Error(f"header: feature_infos: expected {k} items; got {len(infos)}")
    for col, info in zip(spec.columns, infos, strict=True):
        numeric = _NUM_INFO.fullmatch(info)
        ok = info == "none" or (_CAT_INFO.fullmatch(info) is not None if col.kind == "categorical"
                                else numeric is not None and all(math.isfinite(float(g)) for g in numeric.groups()))
        if not ok:
            raise _Error(f"header: feature_infos of {col.name!r} ({col.kind}): unexpected {info[:40]!r}")
        if col.kind == "categorical" and info != "none":
            top = max(int(v) for v in info.split(":"))
            if top >= len(col.levels):
                raise _Error(f"header: feature_infos of {col.name!r} lists the category code {top}, but the feature "
                             f"spec has {len(col.levels)} level{'s' if len(col.levels) != 1 else ''}")
    out = ["tree", *(f"{key}={kv[key]}" for key in _HEADER_REQUIRED[:-1])]
    if "monotone_constraints" in kv:
        _ints(kv["monotone_constraints"], "header: monotone_constraints", k, -1, 1)
        out.append(f"monotone_constraints={kv['monotone_constraints']}")
    out.append(f"feature_infos={kv['feature_infos']}")
    return out


def _tree(index: int, lines: list[str], spec: FeatureSpec) -> list[str]:
    where = f"Tree={index}"
    kv = _key_values(lines, where, _TREE_KEYS)
    for key in ("num_leaves", "num_cat", "leaf_value", "is_linear", "shrinkage"):
        if key not in kv:
            raise _Error(f"{where}: missing {key}")
    n_leaves = _ints(kv["num_leaves"], f"{where}: num_leaves", 1, 1, MAX_LEAVES)[0]
    n_internal = n_leaves - 1
    n_cat = _ints(kv["num_cat"], f"{where}: num_cat", 1, 0, n_internal)[0]
    if kv["is_linear"] != "0":
        raise _Error(f"{where}: linear trees are not supported (is_linear={kv['is_linear'][:10]})")
    _floats(kv["shrinkage"], f"{where}: shrinkage", 1)
    _floats(kv["leaf_value"], f"{where}: leaf_value", n_leaves)
    for key in (*_TREE_ARRAYS_INTERNAL, "leaf_weight", "leaf_count"):
        if key not in kv:
            raise _Error(f"{where}: missing {key}")
    if (n_cat > 0) != ("cat_boundaries" in kv) or (n_cat > 0) != ("cat_threshold" in kv):
        raise _Error(f"{where}: cat_boundaries and cat_threshold must be present exactly when num_cat > 0")
    leaf_count = _ints(kv["leaf_count"], f"{where}: leaf_count", n_leaves, 0)
    if n_leaves == 1:
        for key in (*_TREE_ARRAYS_INTERNAL, "leaf_weight"):
            if kv[key] != "":
                raise _Error(f"{where}: {key} must be empty in a tree of one leaf")
        return [f"{key}={kv[key]}" for key in _TREE_KEYS if key in kv]
    _floats(kv["leaf_weight"], f"{where}: leaf_weight", n_leaves, 0.0)
    k = len(spec)
    features = _ints(kv["split_feature"], f"{where}: split_feature", n_internal, 0, k - 1)
    _floats(kv["split_gain"], f"{where}: split_gain", n_internal)
    thresholds = _floats(kv["threshold"], f"{where}: threshold", n_internal, allow_inf=True)
    decision = _ints(kv["decision_type"], f"{where}: decision_type", n_internal, 0, 15)
    left = _ints(kv["left_child"], f"{where}: left_child", n_internal, -n_leaves, n_internal - 1)
    right = _ints(kv["right_child"], f"{where}: right_child", n_internal, -n_leaves, n_internal - 1)
    _floats(kv["internal_value"], f"{where}: internal_value", n_internal)
    _floats(kv["internal_weight"], f"{where}: internal_weight", n_internal, 0.0)
    internal_count = _ints(kv["internal_count"], f"{where}: internal_count", n_internal, 0)
    _check_structure(where, left, right, n_leaves, internal_count, leaf_count)
    n_words = 0
    if n_cat:
        bounds = _ints(kv["cat_boundaries"], f"{where}: cat_boundaries", n_cat + 1, 0)
        if bounds[0] != 0 or any(b < a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise _Error(f"{where}: cat_boundaries must start at 0 and never decrease")
        n_words = bounds[-1]
        _ints(kv["cat_threshold"], f"{where}: cat_threshold", n_words, 0, 2**32 - 1)
    used_cat = 0
    for node, (f, t, d) in enumerate(zip(features, thresholds, decision, strict=True)):
        if (d >> 2) & 3 == 3:
            raise _Error(f"{where}: decision_type of node {node}: unknown missing-value type")
        is_cat = bool(d & _CATEGORICAL_BIT)
        if is_cat != (spec.columns[f].kind == "categorical"):
            raise _Error(f"{where}: node {node} splits {spec.names[f]!r} ({spec.columns[f].kind}) as a "
                         f"{'categorical' if is_cat else 'numeric'} feature")
        if is_cat:
            used_cat += 1
            if not (float(t).is_integer() and 0 <= t < n_cat):
                raise _Error(f"{where}: node {node}: the category set index must be in [0, {n_cat}); got {t!r}")
    if used_cat != n_cat:
        raise _Error(f"{where}: num_cat={n_cat} but {used_cat} categorical splits")
    return [f"{key}={kv[key]}" for key in _TREE_KEYS if key in kv]


def _check_structure(where: str, left: list[int], right: list[int], n_leaves: int, internal_count: list[int],
                     leaf_count: list[int]) -> None:
    """Children form one binary tree rooted at node 0; counts add up."""
    n_internal = n_leaves - 1
    seen_nodes = [False] * n_internal
    seen_leaves = [False] * n_leaves
    seen_nodes[0] = True
    stack = [0]
    while stack:
        node = stack.pop()
        total = 0
        for child in (left[node], right[node]):
            if child < 0:
                leaf = ~child
                if seen_leaves[leaf]:
                    raise _Error(f"{where}: leaf {leaf} is reached twice")
                seen_leaves[leaf] = True
                total += leaf_count[leaf]
            else:
                if child == 0 or seen_nodes[child]:
                    raise _Error(f"{where}: node {child} is reached twice (the children do not form a tree)")
                seen_nodes[child] = True
                stack.append(child)
                total += internal_count[child]
        if total != internal_count[node]:
            raise _Error(f"{where}: internal_count of node {node} is {internal_count[node]}, its children hold {total}")
    if not all(seen_nodes) or not all(seen_leaves):
        raise _Error(f"{where}: some nodes or leaves are not reachable from the root")


def canonical_model_text(text: str | bytes, spec: FeatureSpec, *, source: str = "booster.txt") -> tuple[str, int]:
    """Check a LightGBM text model against ``spec``; return its canonical text and tree count.

    Raises
    ------
    IncompatibleArtifactError
        ``"<source>: <what is wrong>. <fix>"`` for anything outside what a
        binary LightGBM 4 model of these features can hold.
    """
    try:
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise _Error("not UTF-8 text; expected LightGBM's text model format") from None
        if not isinstance(text, str):
            raise _Error(f"expected text; got {type(text).__name__}")
        if "\r" in text or "\x00" in text:
            raise _Error("unexpected carriage-return or NUL characters")
        lines = text.split("\n")
        try:
            end = lines.index("end of trees")
        except ValueError:
            raise _Error("not a complete LightGBM text model (no 'end of trees' line)") from None
        starts = [i for i in range(end) if lines[i].startswith("Tree=")]
        if not starts:
            raise _Error("the model holds no tree")
        if len(starts) > MAX_TREES:
            raise _Error(f"the model holds {len(starts)} trees; at most {MAX_TREES} are read")
        head = [ln for ln in lines[:starts[0]] if ln]
        out_head = _header(head, spec)
        blocks: list[str] = []
        for i, start in enumerate(starts):
            stop = starts[i + 1] if i + 1 < len(starts) else end
            if lines[start] != f"Tree={i}":
                raise _Error(f"expected 'Tree={i}'; got {lines[start][:40]!r}")
            body = lines[start + 1:stop]
            while body and body[-1] == "":
                body.pop()
            if not body or "" in body:
                raise _Error(f"Tree={i}: expected consecutive 'key=value' lines")
            blocks.append("\n".join([f"Tree={i}", *_tree(i, body, spec)]) + "\n\n\n")
        sizes = " ".join(str(len(b.encode("utf-8"))) for b in blocks)
        canonical = "\n".join([*out_head, f"tree_sizes={sizes}"]) + "\n\n" + "".join(blocks) + "end of trees\n"
        return canonical, len(blocks)
    except _Error as exc:
        raise IncompatibleArtifactError(f"{source}: {exc}. {DEFAULT_FIX}") from None
