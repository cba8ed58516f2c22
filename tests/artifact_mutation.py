"""Random edits of JSON documents, for property tests of artifact loading (shared by test modules).

Imported by name (``from artifact_mutation import mutate_json``): pytest puts
``tests/`` on ``sys.path`` for its root conftest.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hypothesis import strategies as st


def json_values(extra: Sequence[Any] = (), text_size: int = 8, max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Any JSON value (NaN/±inf floats and huge ints included), plus ``extra`` values worth trying."""
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=text_size)
    if extra:
        leaves = leaves | st.sampled_from(list(extra))
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=text_size), children,
                                                                           max_size=3),
        max_leaves=max_leaves,
    )


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key/index path in a JSON document, the root's ``()`` first."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def mutate_json(draw: Callable[[st.SearchStrategy[Any]], Any], doc: Any,
                values: st.SearchStrategy[Any] | None = None) -> Any:
    """A copy of ``doc`` with one random node replaced, one key deleted, or one key added."""
    values = values if values is not None else json_values()
    doc = copy.deepcopy(doc)
    path = draw(st.sampled_from([p for p in paths(doc) if p]))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(values)
    else:
        parent[path[-1]] = draw(values)
    return doc
