"""Typed readers for arrays and timestamps inside a :class:`~crmml._payload.Payload`.

Every failure is an :class:`~crmml.exceptions.IncompatibleArtifactError` whose
message starts with the dotted path of the field, element index included
(``supervised.json: calibration.x[3]: expected a finite number; got null``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmml._payload import Payload, bounded_number, number_bounds_words

__all__ = ["float_array", "str_array", "objects", "timestamp", "timestamps", "element_error"]


def _elements(p: Payload, key: str) -> Payload:
    """A view whose path ends at ``key`` so ``error(i, ...)`` names ``key[i]``."""
    return Payload({}, p.source, (*p.path, key), p.fix)


def element_error(p: Payload, key: str, index: int, expected: str, got: Any) -> Exception:
    """The error for item ``index`` of the array at ``key`` (not raised)."""
    return _elements(p, key).error(index, expected, got)


def float_array(p: Payload, key: str, *, length: int | None = None, min_length: int = 0,
                low: float | None = None, high: float | None = None,
                order: str | None = None) -> np.ndarray:
    """An array of finite numbers as float64.

    Parameters
    ----------
    low, high : float, optional
        Inclusive bounds of every item.
    order : {"increasing", "nondecreasing"}, optional
        Required order of consecutive items.
    """
    raw = p.array(key, length=length)
    if len(raw) < min_length:
        raise p.error(key, f"an array of at least {min_length} numbers", raw)
    out = np.empty(len(raw), dtype=np.float64)
    for i, v in enumerate(raw):
        fv = bounded_number(v, low, high)
        if fv is None:
            raise element_error(p, key, i, "a finite number" + number_bounds_words(low, high), v)
        if order is not None and i:
            prev = out[i - 1]
            if (order == "increasing" and not fv > prev) or (order == "nondecreasing" and not fv >= prev):
                raise element_error(p, key, i, f"a number {'>' if order == 'increasing' else '>='} the previous "
                                    f"item ({float(prev)!r}): the array must be {order}", v)
        out[i] = fv
    return out


def str_array(p: Payload, key: str, *, unique: bool = False, nonempty_items: bool = True,
              max_length: int = 1000) -> list[str]:
    """An array of strings (each non-empty when ``nonempty_items``), optionally without repeats."""
    raw = p.array(key)
    seen: set[str] = set()
    for i, v in enumerate(raw):
        if not isinstance(v, str) or len(v) > max_length or (nonempty_items and not v):
            raise element_error(p, key, i, f"a{' non-empty' if nonempty_items else ''} string of at most "
                                f"{max_length} characters", v)
        if unique and v in seen:
            raise element_error(p, key, i, "a value not given before in the array", v)
        seen.add(v)
    return list(raw)


def objects(p: Payload, key: str, *, min_length: int = 0) -> list[Payload]:
    """An array of objects, each as a :class:`Payload` whose path names its index."""
    raw = p.array(key)
    if len(raw) < min_length:
        raise p.error(key, f"an array of at least {min_length} object{'s' if min_length != 1 else ''}", raw)
    out = []
    for i, v in enumerate(raw):
        if not isinstance(v, dict):
            raise element_error(p, key, i, "an object", v)
        out.append(Payload(v, p.source, (*p.path, key, i), p.fix))
    return out


_TIMESTAMP = "a naive ISO 8601 timestamp such as '2025-07-01T00:00:00'"


def _parse_time(text: str) -> pd.Timestamp | None:
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if ts is pd.NaT or pd.isna(ts) or ts.tzinfo is not None else ts


def timestamp(p: Payload, key: str, *, nullable: bool = False) -> pd.Timestamp | None:
    """A naive ISO 8601 timestamp (``'2025-07-01T00:00:00'``)."""
    text = p.str_in(key, max_length=64, nullable=nullable)
    if text is None:
        return None
    ts = _parse_time(text)
    if ts is None:
        raise p.error(key, _TIMESTAMP, text)
    return ts


def timestamps(p: Payload, key: str) -> list[pd.Timestamp]:
    """An array of distinct naive ISO 8601 timestamps (``key[i]`` named on failure)."""
    out = []
    for i, text in enumerate(str_array(p, key, unique=True, max_length=64)):
        ts = _parse_time(text)
        if ts is None:
            raise element_error(p, key, i, _TIMESTAMP, text)
        out.append(ts)
    return out
