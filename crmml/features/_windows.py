"""Validation of trailing-window parameters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crmml.exceptions import ParameterError

__all__ = ["check_windows"]


def check_windows(windows: Sequence[int], owner: str, name: str = "windows") -> tuple[int, ...]:
    """Return ``windows`` as a tuple of distinct positive ints, or raise naming the parameter ``name``.

    Examples
    --------
    >>> check_windows([30, 90], "customer_features")
    (30, 90)
    """
    try:
        vals = tuple(windows)
    except TypeError:
        vals = None
    ok = bool(vals) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in vals
    ) and len(set(vals)) == len(vals)
    if not ok:
        raise ParameterError(
            f"The 'windows' parameter of {owner} must be a non-empty sequence of distinct ints > 0 "
            f"(days). Got {windows!r} instead."
            if name == "windows" else
            f"The '{name}' parameter of {owner} must be an int > 0 (days). Got {windows[0]!r} instead."
        )
    return tuple(int(v) for v in vals)
