"""Work shared between the feature builders of one build: each derived array is computed once.

A churn feature frame joins :func:`~crmml.features.customer_features`,
:func:`~crmml.features.retention_features` and the population of
:func:`~crmml.features.churn_population`; each of them turns the same
interaction and transaction columns into entity codes, event-type codes and
days. Inside :func:`shared_work` those arrays are memoised per source object
(a table's DataFrame, the customer index): the first builder computes them,
the others reuse them. Outside the block nothing is cached, so a caller who
changes a frame between two calls never sees stale values.

Keys hold the source objects themselves (not only their ``id``), so an id
cannot be reused by another object while the block is open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["shared_work", "memoised"]

T = TypeVar("T")

_MEMO: ContextVar[dict[tuple[Any, ...], tuple[tuple[object, ...], Any]] | None] = ContextVar(
    "crmml_feature_memo", default=None)


@contextmanager
def shared_work() -> Iterator[None]:
    """Memoise derived arrays of the same source objects until the block ends (nests: the outer block wins)."""
    token = _MEMO.set({}) if _MEMO.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _MEMO.reset(token)


def memoised(kind: str, sources: tuple[object, ...], params: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``, or its value from earlier in the open :func:`shared_work` block.

    Parameters
    ----------
    kind : str
        What is computed (part of the key).
    sources : tuple
        The objects the value is derived from, compared by identity.
    params : tuple
        Hashable parameters of the computation (compared by value).
    compute : callable
        Computes the value; its result must not be modified by callers.
    """
    cache = _MEMO.get()
    if cache is None:
        return compute()
    key = (kind, tuple(id(s) for s in sources), params)
    hit = cache.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], sources, strict=True)):
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    cache[key] = (sources, value)
    return value
