"""Small vectorised per-entity reductions shared by the feature builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmml.features._memo import memoised

__all__ = ["codes_of", "count_by", "sum_by", "max_by", "min_by", "days", "as_category", "customer_index",
           "frame_codes", "frame_days", "frame_type_codes"]

_NS_PER_DAY = 86_400 * 10**9


def codes_of(index: pd.Index, ids: pd.Series | np.ndarray) -> np.ndarray:
    """Position of each id in ``index`` (-1 when the entity is not in it, or the id is missing).

    The distinct ids are found first (``pandas.factorize``, native on Arrow
    strings) and only those are looked up, so tens of millions of event rows
    are never turned into Python strings.
    """
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    fast = _arrow_index_in(index, ids)
    if fast is not None:
        return fast
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    pos = np.asarray(index.get_indexer(pd.Index(uniques)), dtype=np.int64)
    return np.append(pos, -1)[np.asarray(codes, dtype=np.int64)]  # the sentinel -1 picks the trailing -1


def _arrow_pieces(values: object) -> object | None:
    """The pyarrow string array behind an Arrow-backed pandas object, else None."""
    arr = getattr(getattr(values, "array", values), "_pa_array", None)
    if arr is None:
        return None
    import pyarrow as pa

    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _arrow_index_in(index: pd.Index, ids: pd.Series | np.ndarray) -> np.ndarray | None:
    """:func:`codes_of` by one Arrow hash lookup (``pyarrow.compute.index_in``) when both sides are Arrow strings.

    About 3× faster than factorising tens of millions of ids first; None when either side is not Arrow-backed
    strings or the index has repeats (positions would be ambiguous).
    """
    arr, keys = _arrow_pieces(ids), _arrow_pieces(index)
    if arr is None or keys is None or not index.is_unique:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    if value_set.type != arr.type:
        value_set = value_set.cast(arr.type)
    pos = pc.index_in(arr, value_set=value_set)
    return np.asarray(pos.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def count_by(codes: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Rows per entity (``codes`` from :func:`codes_of`; -1 ignored)."""
    m = codes >= 0 if mask is None else (codes >= 0) & mask
    return np.bincount(codes[m], minlength=n).astype(np.int64)


def sum_by(codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``values`` per entity (NaN values ignored)."""
    v = np.asarray(values, dtype=np.float64)
    m = (codes >= 0) & ~np.isnan(v)
    if mask is not None:
        m &= mask
    return np.bincount(codes[m], weights=v[m], minlength=n).astype(np.float64)  # empty -> int64 otherwise


def _reduce(codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray | None, how: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    m = (codes >= 0) & ~np.isnan(v)
    if mask is not None:
        m &= mask
    return _extreme_at(codes[m], v[m], n, how)


def _extreme_at(keys: np.ndarray, values: np.ndarray, n: int, how: str) -> np.ndarray:
    """Max (or min) of ``values`` per key in ``0..n-1``, NaN for keys without a value (``ufunc.at``, no sort)."""
    out = np.full(n, -np.inf if how == "max" else np.inf)
    if len(keys):
        (np.maximum if how == "max" else np.minimum).at(out, keys, values)
    seen = np.zeros(n, dtype=bool)
    seen[keys] = True
    out[~seen] = np.nan
    return out


def max_by(codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Maximum of ``values`` per entity (NaN where none)."""
    return _reduce(codes, values, n, mask, "max")


def min_by(codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Minimum of ``values`` per entity (NaN where none)."""
    return _reduce(codes, values, n, mask, "min")


def days(times: pd.Series | np.ndarray) -> np.ndarray:
    """Nanosecond timestamps as float days since the epoch (NaT -> NaN)."""
    t = np.asarray(times, dtype="datetime64[ns]")
    out = t.view(np.int64).astype(np.float64) / _NS_PER_DAY
    out[np.isnat(t)] = np.nan
    return out


def as_category(values: pd.Series | np.ndarray, index: pd.Index) -> pd.Series:
    """A string column as a ``category`` Series with sorted categories.

    Categories are the sorted distinct values present, so per-partition
    results concatenate to the whole-table result after
    :func:`crmml.features.build_partitioned` unions the categories.
    """
    s = pd.Series(np.asarray(values, dtype=object), index=index)
    s = s.where(s.notna(), None)
    cats = sorted({v for v in s.dropna().unique()})
    return pd.Series(pd.Categorical(s, categories=cats), index=index)


def in_days(t_days: np.ndarray, now: float, w: float, offset: float = 0.0) -> np.ndarray:
    """Events in the window ``[now - offset - w, now - offset)`` (times in days)."""
    return (t_days >= now - offset - w) & (t_days < now - offset)


def type_bucket(types: pd.Series, known: Sequence[str]) -> np.ndarray:
    """Event types as an array, every type outside ``known`` (or missing) as ``"other"``."""
    names = [*dict.fromkeys(known), "other"]
    return np.asarray(names, dtype=object)[type_codes(types, known)]


def type_codes(types: pd.Series, known: Sequence[str]) -> np.ndarray:
    """Position of each event type in ``[*known, "other"]`` (unknown or missing types → ``"other"``).

    The distinct values are found once (``pandas.factorize``), so the cost
    does not grow with string comparisons per row and per type.
    """
    return _lookup_types(pd.factorize(types, use_na_sentinel=True), known)


def _lookup_types(factorized: tuple[np.ndarray, object], known: Sequence[str]) -> np.ndarray:
    names = [*dict.fromkeys(known)]
    codes, uniques = factorized
    lookup = np.array([names.index(u) if isinstance(u, str) and u in names else len(names)
                       for u in np.asarray(uniques, dtype=object)] + [len(names)], dtype=np.int64)
    return lookup[np.asarray(codes, dtype=np.int64)]  # the sentinel -1 picks the trailing "other"


def _max_by_pair(codes: np.ndarray, kind: np.ndarray, n_kinds: int, values: np.ndarray, n: int) -> np.ndarray:
    """Maximum of ``values`` per (entity, kind): shape ``(n, n_kinds)``, NaN where none."""
    m = (codes >= 0) & ~np.isnan(values)
    return _extreme_at(codes[m] * n_kinds + kind[m], values[m], n * n_kinds, "max").reshape(n, n_kinds)


def typed_event_counts(codes: np.ndarray, n: int, t_days: np.ndarray, types: pd.Series | np.ndarray,
                       known: Sequence[str], windows: Sequence[int], now: float, *, prefix: str, event: str
                       ) -> dict[str, np.ndarray]:
    """Counts per window and per event type, and days since the last event of each type.

    Columns: ``{prefix}_{w}d``, ``{prefix}_{type}_{w}d`` for each window, then
    ``days_since_{event}`` and ``days_since_{type}`` (NaN without such an event);
    types outside ``known`` count as ``other``. ``types`` is the type column,
    or its :func:`type_codes` for ``known`` already computed.
    """
    kind = np.asarray(types, dtype=np.int64) if isinstance(types, np.ndarray) else type_codes(types, known)
    names = [*dict.fromkeys(known), "other"]
    k = len(names)
    valid = codes >= 0
    cols: dict[str, np.ndarray] = {}
    for w in windows:
        win = valid & in_days(t_days, now, w)
        per = np.bincount(codes[win] * k + kind[win], minlength=n * k).reshape(n, k).astype(np.int64)
        cols[f"{prefix}_{w}d"] = per.sum(axis=1)
        for j, name in enumerate(names):
            cols[f"{prefix}_{name}_{w}d"] = np.ascontiguousarray(per[:, j])
    last = _max_by_pair(codes, kind, k, np.asarray(t_days, dtype=np.float64), n)
    with np.errstate(invalid="ignore"):
        overall = np.fmax.reduce(last, axis=1) if k else np.full(n, np.nan)
    cols[f"days_since_{event}"] = now - overall
    for j, name in enumerate(names):
        cols[f"days_since_{name}"] = now - last[:, j]
    return cols


# ---------------------------------------------------------------------- shared within one build
def customer_index(customers: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """The customers sorted by id and their ``customer_id`` index (shared inside :func:`shared_work`)."""
    def compute() -> tuple[pd.DataFrame, pd.Index]:
        cust = customers.sort_values("customer_id", kind="stable")
        return cust, pd.Index(cust["customer_id"], name="customer_id")

    return memoised("customer_index", (customers,), (), compute)


def frame_codes(index: pd.Index, frame: pd.DataFrame, column: str = "customer_id") -> np.ndarray:
    """:func:`codes_of` ``frame[column]`` in ``index`` (shared inside :func:`shared_work`)."""
    return memoised("codes", (index, frame), (column,), lambda: codes_of(index, frame[column]))


def frame_days(frame: pd.DataFrame, column: str) -> np.ndarray:
    """:func:`days` of ``frame[column]`` (shared inside :func:`shared_work`)."""
    return memoised("days", (frame,), (column,), lambda: days(frame[column]))


def frame_type_codes(frame: pd.DataFrame, column: str, known: Sequence[str]) -> np.ndarray:
    """:func:`type_codes` of ``frame[column]`` (the factorisation shared inside :func:`shared_work`)."""
    factorized = memoised("factorize", (frame,), (column,),
                          lambda: pd.factorize(frame[column], use_na_sentinel=True))
    return _lookup_types(factorized, known)
