"""Per-row reasons from raw-score contributions: top increasing and decreasing factors in words.

Input: LightGBM's ``pred_contrib=True`` output — one TreeSHAP contribution
per feature in raw-score (log-odds) space plus the expected value in the last
column. A calibrator on top is monotone, so reasons are read before
calibration: a positive contribution raises the probability of the outcome.

Selection (per row)
-------------------
* **increasing** factors: features with a contribution ``> 0``, largest first;
* **decreasing** factors: features with a contribution ``< 0``, most negative first;
* ties keep the spec's column order; zero contributions are never reasons;
* when a row has fewer such features than slots (or ``k`` exceeds the number
  of features), the remaining slots are empty (missing text and feature,
  NaN contribution).

Output layout (:func:`reason_columns`)
--------------------------------------
For ``i = 1..n_increasing``: ``reason_{i}`` (text), ``reason_{i}_feature``
(the column name), ``reason_{i}_contribution`` (signed raw-score
contribution, float64); then for ``j = 1..n_decreasing`` the same with
``reason_neg_{j}``. Text and feature columns have pandas' ``str`` dtype.

The value of each feature is rendered by a :class:`ReasonTemplates`
registry; categorical features show their level, missing values the
template's ``missing`` text.

Batch path (:func:`explain_contributions`): selection is ``k`` passes of
``argmax`` over cache-sized row blocks; rendering groups the (slot, row)
cells by feature across all slots and renders each feature once
(:meth:`ReasonTemplates.render_codes`: each field's distinct values are
formatted once, the texts of distinct combinations assembled with
object-array concatenation); with Arrow-backed strings the text and feature
columns are taken from one Arrow array of the distinct strings, without a
Python object per row. :func:`explain_row` is the one-row path in plain
Python and gives the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmml.exceptions import ParameterError
from crmml.supervised._spec import FeatureSpec
from crmml.supervised._templates import ReasonTemplates

__all__ = ["reason_columns", "top_factors", "explain_contributions", "explain_row"]

_BLOCK_CELLS = 1 << 16
"""Cells of a row block of :func:`top_factors` (512 KiB of float64: stays in cache)."""


def _check_k(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"The {name!r} parameter must be an int >= 0. Got {value!r} instead.")
    return int(value)


def reason_columns(n_increasing: int = 3, n_decreasing: int = 3) -> list[str]:
    """The column names of :func:`explain_contributions`, in order.

    Examples
    --------
    >>> reason_columns(1, 1)
    ['reason_1', 'reason_1_feature', 'reason_1_contribution',
     'reason_neg_1', 'reason_neg_1_feature', 'reason_neg_1_contribution']
    """
    cols: list[str] = []
    for prefix, k in (("reason_", _check_k("n_increasing", n_increasing)),
                      ("reason_neg_", _check_k("n_decreasing", n_decreasing))):
        for i in range(1, k + 1):
            cols += [f"{prefix}{i}", f"{prefix}{i}_feature", f"{prefix}{i}_contribution"]
    return cols


def top_factors(contributions: np.ndarray, k: int, *, increasing: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest positive (or most negative) contributions of each row.

    Parameters
    ----------
    contributions : numpy.ndarray
        ``(n, n_features)``, without the bias column.
    k : int
    increasing : bool
        Positive contributions, largest first (else negative, most negative first).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(n, k)`` feature positions (``-1`` for an empty slot) and
        contributions (NaN for an empty slot). Ties: lower position first.

    Examples
    --------
    >>> idx, val = top_factors(np.array([[0.5, -1.0, 0.5, 2.0]]), 3)
    >>> idx.tolist(), val.tolist()
    ([[3, 0, 2]], [[2.0, 0.5, 0.5]])
    >>> top_factors(np.array([[0.5, -1.0]]), 2, increasing=False)[0].tolist()
    [[1, -1]]
    """
    c = np.asarray(contributions, dtype=np.float64)
    n, m = c.shape
    k = _check_k("k", k)
    idx = np.full((n, k), -1, dtype=np.int64)
    val = np.full((n, k), np.nan)
    take = min(k, m)
    if take == 0 or n == 0:
        return idx, val
    # k passes of argmax (first maximum = lowest position on ties) instead of a full sort of every row, over
    # row blocks that stay in cache; NaN -> -inf (fmax), used maxima -> -inf
    block = max(1, _BLOCK_CELLS // m)
    work = np.empty((min(block, n), m))
    offsets = np.arange(min(block, n)) * m
    for a in range(0, n, block):
        part = c[a:a + block]
        rows = len(part)
        w = work[:rows]
        np.fmax(part if increasing else np.negative(part, out=w), -np.inf, out=w)
        flat, at = w.reshape(-1), offsets[:rows]
        for s in range(take):
            j = w.argmax(axis=1)
            cell = at + j
            best = flat[cell]
            ok = best > 0
            if not ok.any():
                break
            idx[a:a + rows, s] = np.where(ok, j, -1)
            val[a:a + rows, s] = np.where(ok, best if increasing else -best, np.nan)  # negation is exact
            flat[cell] = -np.inf
    return idx, val


def _sources(X: np.ndarray, spec: FeatureSpec, frame: pd.DataFrame | None
             ) -> Callable[[str, np.ndarray], tuple[np.ndarray, Callable[[float], Any] | None] | None]:
    """Where a referenced feature's values come from: the matrix, else the frame."""
    cache: dict[str, tuple[np.ndarray, Callable[[float], Any] | None] | None] = {}

    def full(name: str) -> tuple[np.ndarray, Callable[[float], Any] | None] | None:
        if name in cache:
            return cache[name]
        out: tuple[np.ndarray, Callable[[float], Any] | None] | None = None
        if name in spec.names:
            j = spec.index(name)
            out = (X[:, j], _decoder(spec, name))
        elif frame is not None and name in frame.columns and not isinstance(frame[name], pd.DataFrame):
            col = frame[name]
            if pd.api.types.is_bool_dtype(col.dtype):
                out = (col.to_numpy(dtype=np.float64, na_value=np.nan), lambda v: bool(v))
            elif pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
                out = (col.to_numpy(dtype=np.float64, na_value=np.nan), None)
            else:
                codes, uniques = pd.factorize(col, use_na_sentinel=True)
                texts = [u if isinstance(u, str) else str(u) for u in np.asarray(uniques, dtype=object)]
                out = (np.where(codes >= 0, codes, np.nan).astype(np.float64), lambda v, t=texts: t[int(v)])
        cache[name] = out
        return out

    def get(name: str, rows: np.ndarray) -> tuple[np.ndarray, Callable[[float], Any] | None] | None:
        hit = full(name)
        return None if hit is None else (hit[0][rows], hit[1])

    return get


def _decoder(spec: FeatureSpec, name: str) -> Callable[[float], Any] | None:
    col = spec.columns[spec.index(name)]
    if col.kind == "categorical":
        levels = col.levels
        return lambda v: levels[int(v)] if 0 <= v < len(levels) else None
    if col.kind == "bool":
        return lambda v: bool(v)
    return None


def explain_contributions(contributions: np.ndarray, X: np.ndarray, spec: FeatureSpec, templates: ReasonTemplates,
                          *, n_increasing: int = 3, n_decreasing: int = 3, frame: pd.DataFrame | None = None,
                          index: pd.Index | None = None) -> pd.DataFrame:
    """Reasons of every row (see the module docstring for the layout).

    Parameters
    ----------
    contributions : numpy.ndarray
        ``(n, n_features + 1)`` from ``pred_contrib`` (last column the bias)
        or ``(n, n_features)``.
    X : numpy.ndarray
        The encoded rows (``spec.transform``), whose values are rendered.
    spec : FeatureSpec
    templates : ReasonTemplates
    n_increasing, n_decreasing : int
        Slots of each kind.
    frame : DataFrame, optional
        Row-aligned extra columns for template fields that are not features
        (e.g. ``purchase_interval_days``).
    index : pandas.Index, optional
        Index of the result (default: ``frame.index`` or a RangeIndex).

    Returns
    -------
    DataFrame
    """
    c = np.asarray(contributions, dtype=np.float64)
    k = len(spec)
    if c.ndim != 2 or c.shape[1] not in (k, k + 1) or X.shape != (c.shape[0], k):
        raise ParameterError(f"explain needs contributions of shape (n, {k}) or (n, {k + 1}) and X of shape (n, {k}); "
                             f"got {c.shape} and {X.shape}.")
    c = c[:, :k]
    n = c.shape[0]
    if frame is not None and len(frame) != n:
        raise ParameterError(f"The frame passed to explain has {len(frame)} rows for {n} rows of features.")
    if index is None:
        index = frame.index if frame is not None else pd.RangeIndex(n)
    source = _sources(X, spec, frame)
    slots: list[tuple[str, np.ndarray, np.ndarray]] = []  # column name, feature positions, contributions
    for prefix, n_slots, inc in (("reason_", n_increasing, True), ("reason_neg_", n_decreasing, False)):
        idx, val = top_factors(c, _check_k("n_increasing" if inc else "n_decreasing", n_slots), increasing=inc)
        slots += [(f"{prefix}{s + 1}", idx[:, s], val[:, s]) for s in range(idx.shape[1])]
    # every (slot, row) cell, grouped by feature: each feature is rendered once for all its slots
    cells = np.empty(len(slots) * n, dtype=np.int8 if k < 2 ** 7 else np.int16 if k < 2 ** 15 else np.int64)
    for s, (_, feats, _) in enumerate(slots):
        cells[s * n:(s + 1) * n] = feats
    order = np.argsort(cells, kind="stable")  # a radix sort for 8 and 16 bits
    bounds = np.cumsum(np.bincount(cells + 1, minlength=k + 1))  # feature f: order[bounds[f]:bounds[f + 1]]
    codes = np.full(len(cells), -1, dtype=np.int32 if len(cells) < 2 ** 31 else np.int64)  # position in texts
    texts: list[np.ndarray] = []
    offset = 0
    for f in range(k):
        a, b = int(bounds[f]), int(bounds[f + 1])
        if a == b:
            continue
        at = order[a:b]
        rows = at % n
        name = spec.names[f]
        cols = {"value": X[rows, f]}
        dec = {}
        d = _decoder(spec, name)
        if d is not None:
            dec["value"] = d
        for other in templates.referenced(name):
            hit = source(other, rows)
            if hit is not None:
                cols[other] = hit[0]
                if hit[1] is not None:
                    dec[other] = hit[1]
        distinct, where = templates.render_codes(name, cols, dec)
        codes[at] = where + offset
        texts.append(distinct)
        offset += len(distinct)
    text_column = _StrColumn(np.concatenate(texts) if texts else np.empty(0, dtype=object))
    feature_column = _StrColumn(np.array(spec.names, dtype=object))
    data: dict[str, Any] = {}
    for s, (col, feats, val) in enumerate(slots):
        data[col] = text_column.take(codes[s * n:(s + 1) * n])
        data[f"{col}_feature"] = feature_column.take(feats)
        data[f"{col}_contribution"] = val
    return pd.DataFrame(data, index=index, columns=reason_columns(n_increasing, n_decreasing))


class _StrColumn:
    """Columns of pandas' ``str`` dtype whose values are taken by position from a set of strings.

    Equal to ``pd.array(values, dtype="str")`` of the object array
    ``strings[positions]`` (``None`` at position ``-1``); with Arrow-backed
    strings (pandas 3) the values are taken in Arrow, without a Python
    object per row.
    """

    def __init__(self, strings: np.ndarray) -> None:
        self.strings = np.append(strings, None)  # position -1 -> None
        dtype = pd.array(np.empty(0, dtype=object), dtype="str").dtype
        self.dtype = dtype if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" else None
        if self.dtype is not None:
            import pyarrow as pa

            self.arrow = pa.array(self.strings, type=pa.large_string())

    def take(self, positions: np.ndarray) -> Any:
        """The column of ``strings[positions]`` (``-1``: missing)."""
        if self.dtype is None:
            return pd.array(self.strings[positions], dtype="str")
        import pyarrow as pa

        return self.dtype.__from_arrow__(self.arrow.take(pa.array(np.where(positions < 0, len(self.strings) - 1,
                                                                          positions))))


def _row_value(name: str, x: np.ndarray, spec: FeatureSpec, extra: Mapping[str, Any] | None) -> tuple[bool, Any]:
    """``(available, value)`` of a field for one row, decoded as the batch path decodes it."""
    if name in spec.names:
        v = float(x[spec.index(name)])
        if v != v:
            return True, None
        d = _decoder(spec, name)
        return True, (d(v + 0.0) if d is not None else v + 0.0)
    if extra is None or name not in extra:
        return False, None
    v = extra[name]
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and v != v):
        return True, None
    if isinstance(v, (bool, np.bool_)):
        return True, bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return True, float(v) + 0.0
    return True, v if isinstance(v, str) else str(v)


def explain_row(contributions: np.ndarray, x: np.ndarray, spec: FeatureSpec, templates: ReasonTemplates, *,
                n_increasing: int = 3, n_decreasing: int = 3, extra: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
    """The reasons of one row as a dict — equal to that row of :func:`explain_contributions`.

    Missing texts and features are ``None`` (``NaN``/``<NA>`` in the frame);
    missing contributions NaN. ``extra`` plays the role of ``frame``.
    """
    k = len(spec)
    c = np.asarray(contributions, dtype=np.float64).reshape(-1)[:k].tolist()
    xr = np.asarray(x, dtype=np.float64).reshape(-1)
    out: dict[str, Any] = {}
    # the order of top_factors without numpy: value first, then the lower position; NaN is never a reason
    positive = sorted((j for j in range(k) if c[j] > 0), key=lambda j: (-c[j], j))
    negative = sorted((j for j in range(k) if c[j] < 0), key=lambda j: (c[j], j))
    for prefix, slots, chosen in (("reason_", n_increasing, positive), ("reason_neg_", n_decreasing, negative)):
        n_slots = _check_k("n_increasing" if prefix == "reason_" else "n_decreasing", slots)
        for s in range(n_slots):
            f = chosen[s] if s < len(chosen) else -1
            if f < 0:
                out[f"{prefix}{s + 1}"] = None
                out[f"{prefix}{s + 1}_feature"] = None
                out[f"{prefix}{s + 1}_contribution"] = float("nan")
                continue
            name = spec.names[f]
            values: dict[str, Any] = {"value": _row_value(name, xr, spec, None)[1]}
            for other in templates.referenced(name):
                ok, v = _row_value(other, xr, spec, extra)
                if ok:
                    values[other] = v
            out[f"{prefix}{s + 1}"] = templates.render_one(name, values)
            out[f"{prefix}{s + 1}_feature"] = name
            out[f"{prefix}{s + 1}_contribution"] = c[f]
    return out
