"""Seeding, time and id helpers shared by the synthetic generators.

Every random stream is derived from the user's ``seed`` and a fixed key with
:class:`numpy.random.SeedSequence`, so a world is a pure function of its seed,
its size and its parameters, and a block of customers draws the same numbers
whether it is generated alone (streaming) or together with the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "NS_PER_DAY",
    "DAYS_PER_MONTH",
    "rng_for",
    "to_timestamp",
    "window",
    "days_to_ns",
    "format_ids",
    "id_width",
    "sigmoid",
    "choice_codes",
    "bad_param",
]

NS_PER_DAY = 86_400 * 10**9
DAYS_PER_MONTH = 365.25 / 12


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """Return the generator of the stream ``(seed, *keys)``.

    Parameters
    ----------
    seed : int
        The world's seed (>= 0).
    *keys : int
        Stream keys (block number, table number ...).
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))


def to_timestamp(value: object) -> pd.Timestamp:
    """Parse ``value`` to a tz-naive UTC :class:`pandas.Timestamp`."""
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")


def window(start: object, end: object, owner: str) -> tuple[pd.Timestamp, pd.Timestamp, float]:
    """Parse the observation window; return ``(start, end, length_in_days)``."""
    from crmml.exceptions import ParameterError

    s, e = to_timestamp(start), to_timestamp(end)
    if not e > s:
        raise ParameterError(
            f"The 'end' parameter of {owner} must be after 'start'. Got start={s.isoformat()} "
            f"and end={e.isoformat()} instead; pass an end date later than the start date."
        )
    return s, e, (e.value - s.value) / NS_PER_DAY


def days_to_ns(origin_ns: np.ndarray | int, days: np.ndarray) -> np.ndarray:
    """``origin + days`` as int64 nanoseconds, floored to whole seconds."""
    secs = np.floor(np.asarray(days, dtype=np.float64) * 86_400.0).astype(np.int64)
    return np.asarray(origin_ns, dtype=np.int64) + secs * 10**9


def id_width(n: int, minimum: int) -> int:
    """Digits needed to zero-pad ids ``1..n`` (at least ``minimum``)."""
    return max(minimum, len(str(max(int(n), 1))))


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Vectorised ``f"{prefix}{k:0{width}d}"`` as an Arrow string array."""
    s = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    s = pc.utf8_lpad(s, width=width, padding="0")
    return pc.binary_join_element_wise(prefix, s, "")


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def choice_codes(rng: np.random.Generator, probs: Sequence[float], size: int) -> np.ndarray:
    """Draw ``size`` category codes with probabilities ``probs`` (normalised)."""
    p = np.asarray(probs, dtype=np.float64)
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def bad_param(owner: str, name: str, value: object, expected: str) -> None:
    """Raise :class:`~crmml.exceptions.ParameterError` in the scikit-learn wording."""
    from crmml.exceptions import ParameterError

    raise ParameterError(f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")
