"""Binned reference distributions of one column: numeric cut points or hashed categories, no raw values.

A :class:`BinnedDistribution` is what a model stores at fit about one of its
features or scores so that a later batch can measure how far the population
has moved (:func:`crmml.drift.psi`). It holds bins and the reference share of
each, never a raw value:

* **numeric** — interior cut points at the reference quantiles
  (``1/k, ..., (k-1)/k`` of the non-missing values), each rounded to 4
  significant digits, deduplicated; bin ``i`` holds ``edges[i-1] <= x <
  edges[i]`` (the first bin everything below ``edges[0]``, the last
  everything at or above ``edges[-1]``), then one bin for missing values.
  A bin is asked to hold :data:`MIN_BIN_ROWS` reference values on average
  (fewer cut points for a small population), so no cut point is the value of
  one individual alone.
* **categorical** — the (at most :data:`MAX_CATEGORIES`) most frequent labels
  holding at least :data:`MIN_CATEGORY_SHARE` of the reference rows and at
  least :data:`MIN_CATEGORY_ROWS` rows each, stored only as
  ``sha256(label)[:12]`` (hex); then an ``other`` bin (every other label,
  including labels never seen) and a ``missing`` bin. A label of a few
  individuals (an e-mail address, a name) is therefore never stored, not even
  hashed.

The reference shares are computed by :meth:`BinnedDistribution.counts` — the
same function a batch uses on new values — so the population of the fit
counted again has exactly the reference shares (PSI 0).

Bottom of the drift package: imports only numpy, pandas and crmml's bottom
modules.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from crmml._payload import Payload, bounded_number, number_bounds_words
from crmml.exceptions import ParameterError

__all__ = [
    "BinnedDistribution",
    "DEFAULT_BINS",
    "MAX_CATEGORIES",
    "MIN_BIN_ROWS",
    "MIN_CATEGORY_ROWS",
    "MIN_CATEGORY_SHARE",
    "hash_label",
    "round_significant",
]

DEFAULT_BINS = 10
"""Quantile bins of a numeric column (before deduplication)."""
MIN_BIN_ROWS = 10
"""Reference values a numeric bin holds on average at least (a small population gets fewer bins)."""
MAX_CATEGORIES = 20
"""Most labels a categorical distribution keeps (the most frequent); the rest are ``other``."""
MIN_CATEGORY_SHARE = 0.01
"""Smallest share of the reference rows a kept label holds."""
MIN_CATEGORY_ROWS = 10
"""Fewest reference rows a kept label holds (a label of a few individuals is never stored)."""
HASH_CHARS = 12
"""Hex characters of ``sha256(label)`` stored per label."""
SHARE_TOLERANCE = 1e-6
"""How far from 1 the stored shares may add up (JSON round trip of floats is exact; this is slack)."""

Kind = Literal["numeric", "categorical"]
_HEX = frozenset("0123456789abcdef")


def hash_label(label: Any) -> str:
    """``sha256(str(label))[:12]`` in hex: how a category label is stored.

    Examples
    --------
    >>> hash_label("gold")
    '24d7f03d8dc3'
    """
    return hashlib.sha256(str(label).encode("utf-8")).hexdigest()[:HASH_CHARS]


def round_significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (as a cut point is stored).

    Examples
    --------
    >>> round_significant(1234.5678), round_significant(0.000123456), round_significant(-7.0)
    (1235.0, 0.0001235, -7.0)
    """
    return float(f"{float(value):.{digits}g}")


@dataclass(frozen=True)
class BinnedDistribution:
    """The reference distribution of one column over fixed bins (see the module docstring).

    Build one with :meth:`numeric` or :meth:`categorical` from reference
    values, or :meth:`from_dict` from a stored payload.

    Attributes
    ----------
    kind : {"numeric", "categorical"}
    edges : tuple of float
        Numeric: the interior cut points, strictly increasing (``len(edges) + 2``
        bins, the last one for missing values). Empty for a categorical column.
    labels : tuple of str
        Categorical: ``sha256(label)[:12]`` of the kept labels, most frequent
        first (``len(labels) + 2`` bins: then ``other`` and ``missing``).
        Empty for a numeric column.
    proportions : tuple of float
        Reference share of each bin (they add up to 1; all 0 for ``n == 0``).
    n : int
        Reference rows.

    Examples
    --------
    >>> ref = BinnedDistribution.numeric(pd.Series([1.0, 2, 3, 4, None] * 20), n_bins=4)
    >>> ref.edges, ref.bin_names()
    ((1.75, 2.5, 3.25), ('< 1.75', '[1.75, 2.5)', '[2.5, 3.25)', '>= 3.25', 'missing'))
    >>> ref.proportions
    (0.2, 0.2, 0.2, 0.2, 0.2)
    >>> ref.counts(pd.Series([0.5, 2.5, None]))
    array([1, 0, 1, 0, 1])
    """

    kind: Kind
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    proportions: tuple[float, ...] = ()
    n: int = 0

    def __post_init__(self) -> None:
        for name in ("edges", "labels", "proportions"):  # sequences given as lists are stored as tuples
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        problem = _problem(self.kind, self.edges, self.labels, self.proportions, self.n)
        if problem is not None:
            raise ParameterError(f"Invalid BinnedDistribution: {problem[1]} ({problem[0]}).")

    # ------------------------------------------------------------ building
    @classmethod
    def numeric(cls, values: pd.Series, *, n_bins: int = DEFAULT_BINS) -> BinnedDistribution:
        """Quantile bins of numeric reference ``values`` (missing values get their own bin).

        Parameters
        ----------
        values : pandas.Series
            Numbers (anything that is not a number counts as missing).
        n_bins : int, default 10
            Quantile bins before rounding and deduplication, at most one per
            :data:`MIN_BIN_ROWS` non-missing values.
        """
        if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or not 1 <= n_bins <= 1000:
            raise ParameterError(f"The 'n_bins' parameter of BinnedDistribution.numeric must be an int in "
                                 f"[1, 1000]. Got {n_bins!r} instead.")
        x = _as_float(values)
        finite = x[np.isfinite(x)]
        k = max(1, min(int(n_bins), len(finite) // MIN_BIN_ROWS))
        edges: tuple[float, ...] = ()
        if k > 1:
            cuts = np.quantile(finite, np.arange(1, k) / k)
            edges = tuple(sorted({round_significant(c) + 0.0 for c in cuts}))  # + 0.0: no -0.0
        return _from_counts("numeric", edges, (), _count_numeric(edges, x))

    @classmethod
    def categorical(cls, values: pd.Series) -> BinnedDistribution:
        """The most frequent labels of reference ``values``, hashed (``other`` and ``missing`` bins after them)."""
        s = _series(values)
        floor = max(MIN_CATEGORY_ROWS, math.ceil(MIN_CATEGORY_SHARE * len(s) - 1e-9))
        per_hash: dict[str, int] = {}
        for label, c in _label_counts(s).items():
            h = hash_label(label)
            per_hash[h] = per_hash.get(h, 0) + c  # labels sharing a 12-hex hash share a bin
        kept = sorted(((h, c) for h, c in per_hash.items() if c >= floor), key=lambda hc: (-hc[1], hc[0]))
        labels = tuple(h for h, _ in kept[:MAX_CATEGORIES])  # ties broken by hash, never by the raw label
        return _from_counts("categorical", (), labels, _count_categorical(labels, s))

    # ------------------------------------------------------------ counting
    @property
    def n_bins(self) -> int:
        """Number of bins, the missing bin (and ``other``) included."""
        return len(self.edges) + 2 if self.kind == "numeric" else len(self.labels) + 2

    def bin_names(self) -> tuple[str, ...]:
        """A readable name per bin (``"< 1.75"``, ``"[1.75, 2.5)"`` ...; hashes, ``other``, ``missing``)."""
        if self.kind == "categorical":
            return (*self.labels, "other", "missing")
        if not self.edges:
            return ("all values", "missing")
        e = [f"{v:g}" for v in self.edges]
        middle = [f"[{a}, {b})" for a, b in zip(e[:-1], e[1:], strict=True)]
        return (f"< {e[0]}", *middle, f">= {e[-1]}", "missing")

    def counts(self, values: pd.Series) -> np.ndarray:
        """Rows of ``values`` per bin of this distribution (int64, length :attr:`n_bins`).

        The bins are the reference's, so counts of several parts of a
        population add up to the counts of the whole (a batch may sum them
        over partitions). Numeric: values that are not numbers count as
        missing; categorical: a label not among the kept ones counts as
        ``other``.
        """
        if self.kind == "numeric":
            return _count_numeric(self.edges, _as_float(values))
        return _count_categorical(self.labels, _series(values))

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready payload: ``kind``, ``edges`` (numeric) or ``labels`` (categorical), ``proportions``, ``n``."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "numeric":
            out["edges"] = list(self.edges)
        else:
            out["labels"] = list(self.labels)
        out["proportions"] = list(self.proportions)
        out["n"] = self.n
        return out

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any] | Payload) -> BinnedDistribution:
        """Rebuild from :meth:`to_dict` output, checking every field.

        Raises
        ------
        IncompatibleArtifactError
            A missing or unknown key, a value of the wrong type or range,
            edges that do not increase, labels that are not 12 hex digits,
            shares that do not match the bins or do not add up to 1; the
            message names the field (``drift_reference.json: features.recency.edges[2]``).
        """
        p = Payload.of(payload, source="BinnedDistribution.from_dict")
        kind = p.str_in("kind", ("numeric", "categorical"))
        bins_key = "edges" if kind == "numeric" else "labels"
        p.keys_exactly(("kind", bins_key, "proportions", "n"))
        n = p.int_in("n", low=0)
        assert n is not None
        edges: tuple[float, ...] = ()
        labels: tuple[str, ...] = ()
        if kind == "numeric":
            edges = tuple(_numbers(p, "edges"))
        else:
            labels = tuple(_hashes(p, "labels"))
        shares = tuple(_numbers(p, "proportions", low=0.0, high=1.0))
        problem = _problem(kind, edges, labels, shares, n)
        if problem is not None:
            field, why = problem
            raise p.error(field, why, p.data.get(field))
        return cls(kind, edges, labels, shares, n)  # type: ignore[arg-type]


# ---------------------------------------------------------------- helpers
def _series(values: Any) -> pd.Series:
    return values if isinstance(values, pd.Series) else pd.Series(values)


def _as_float(values: Any) -> np.ndarray:
    """Numbers as float64; missing values and anything that is not a number as NaN."""
    s = _series(values)
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        s = pd.to_numeric(s.astype(object), errors="coerce")
    return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _label_counts(s: pd.Series) -> dict[str, int]:
    """Non-missing rows per label text (``str`` of the value: ``True``, ``gold``, ``3``)."""
    out: dict[str, int] = {}
    for label, c in s.dropna().value_counts(sort=False).items():
        text = str(label)
        out[text] = out.get(text, 0) + int(c)
    return out


def _count_numeric(edges: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    missing = np.isnan(x)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), x[~missing], side="right")
    out = np.bincount(idx, minlength=len(edges) + 1).astype(np.int64)
    return np.append(out, np.int64(missing.sum()))


def _count_categorical(labels: tuple[str, ...], s: pd.Series) -> np.ndarray:
    out = np.zeros(len(labels) + 2, dtype=np.int64)
    position = {h: i for i, h in enumerate(labels)}
    counted = 0
    for label, c in _label_counts(s).items():
        out[position.get(hash_label(label), len(labels))] += c
        counted += c
    out[-1] = len(s) - counted
    return out


def _from_counts(kind: Kind, edges: tuple[float, ...], labels: tuple[str, ...],
                 counts: np.ndarray) -> BinnedDistribution:
    n = int(counts.sum())
    shares = counts / n if n else np.zeros(len(counts))
    return BinnedDistribution(kind, edges, labels, tuple(float(v) for v in shares), n)


def _problem(kind: str, edges: tuple[float, ...], labels: tuple[str, ...], proportions: tuple[float, ...],
             n: int) -> tuple[str, str] | None:
    """``(field, what was expected)`` when the fields of a distribution do not fit together, else None."""
    if kind not in ("numeric", "categorical"):
        return "kind", "'numeric' or 'categorical'"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        return "n", "an integer >= 0"
    if kind == "numeric":
        if labels:
            return "labels", "no labels for a numeric distribution"
        e = np.asarray(edges, dtype=np.float64)
        if not np.isfinite(e).all() or (len(e) > 1 and not (np.diff(e) > 0).all()):
            return "edges", "strictly increasing finite cut points"
    else:
        if edges:
            return "edges", "no cut points for a categorical distribution"
        if len(labels) > MAX_CATEGORIES or len(set(labels)) != len(labels) or not all(
                isinstance(h, str) and len(h) == HASH_CHARS and set(h) <= _HEX for h in labels):
            return "labels", f"at most {MAX_CATEGORIES} distinct label hashes of {HASH_CHARS} lowercase hex digits"
    n_bins = (len(edges) if kind == "numeric" else len(labels)) + 2
    shares = np.asarray(proportions, dtype=np.float64)
    if len(shares) != n_bins:
        return "proportions", f"an array of {n_bins} shares (one per bin)"
    if not np.isfinite(shares).all() or (shares < 0).any() or (shares > 1).any():
        return "proportions", "shares in [0, 1]"
    total = float(shares.sum())
    if (n > 0 and abs(total - 1.0) > SHARE_TOLERANCE) or (n == 0 and total != 0.0):
        return "proportions", "shares that add up to 1 (all 0 when n is 0)"
    return None


def _items(p: Payload, key: str) -> tuple[list[Any], Payload]:
    """The array at ``key`` and a view whose ``error(i, ...)`` names ``key[i]``."""
    raw = p.array(key)
    assert raw is not None
    return raw, Payload({}, p.source, (*p.path, key), p.fix)


def _numbers(p: Payload, key: str, *, low: float | None = None, high: float | None = None) -> list[float]:
    raw, at = _items(p, key)
    out = []
    for i, v in enumerate(raw):
        fv = bounded_number(v, low, high)
        if fv is None:
            raise at.error(i, "a finite number" + number_bounds_words(low, high), v)
        out.append(fv)
    return out


def _hashes(p: Payload, key: str) -> list[str]:
    raw, at = _items(p, key)
    for i, h in enumerate(raw):
        if not isinstance(h, str) or len(h) != HASH_CHARS or not set(h) <= _HEX:
            raise at.error(i, f"a label hash of {HASH_CHARS} lowercase hex digits", h)
    return list(raw)
