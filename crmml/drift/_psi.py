"""The population stability index (PSI) and the drift table of a model.

For reference shares ``e_i`` (stored at fit) and current shares ``a_i``
(a batch's counts over the same bins, divided by their total)::

    PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)

the symmetric form of the Kullback–Leibler divergence used in credit-risk
monitoring (Siddiqi, *Credit Risk Scorecards*, 2006; Yurdakul, *Statistical
Properties of Population Stability Index*, 2018). Every term is ≥ 0, so the
PSI is 0 exactly when both distributions agree and grows with any shift. An
empty bin would make ``ln`` infinite, so both shares are floored at ``eps``
(default ``1e-4``, i.e. 0.01 %) before the sum; the shares are not
renormalised after flooring. Conventional reading (:data:`PSI_WATCH`,
:data:`PSI_ACT`): at most 0.1 no significant change, above 0.1 a moderate
shift to watch, above 0.25 a major shift to act on (investigate, re-train).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from crmml.drift._binning import SHARE_TOLERANCE
from crmml.drift._reference import DriftReference, split_key
from crmml.exceptions import ParameterError

__all__ = ["PSI_WATCH", "PSI_ACT", "PSI_EPS", "NO_DATA", "TABLE_COLUMNS", "psi", "psi_status", "drift_table"]

PSI_WATCH = 0.1
"""Above this PSI a column has shifted moderately: watch it."""
PSI_ACT = 0.25
"""Above this PSI a column has shifted a lot: act (investigate the data, re-train)."""
PSI_EPS = 1e-4
"""Floor of each share in :func:`psi` (an empty bin would contribute an infinite term)."""
NO_DATA = "no data"
"""Status in :func:`drift_table` of a column without current (or reference) rows: no PSI."""
TABLE_COLUMNS = ("column", "kind", "psi", "status", "n_reference", "n_current")

Status = Literal["ok", "watch", "act"]


def psi(expected: np.ndarray, actual_counts: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index of current counts against reference shares.

    ``PSI = Σ (a − e) · ln(a / e)`` with ``a`` the current shares
    (``actual_counts / actual_counts.sum()``) and ``e`` the reference shares
    (``expected``), both floored at ``eps``.

    Parameters
    ----------
    expected : array-like
        Reference share of each bin (adding up to 1, within 1e-6).
    actual_counts : array-like
        Current rows of each bin (same bins).
    eps : float, default 1e-4
        Floor of every share, so an empty bin adds a large but finite term.

    Returns
    -------
    float
        ≥ 0; 0 when the current shares equal the reference's.

    Raises
    ------
    ParameterError
        Bins of different numbers, negative or non-finite entries, reference
        shares that do not add up to 1, or no current rows (the PSI is undefined).

    Examples
    --------
    >>> round(psi([0.5, 0.5], [80, 20]), 6)   # 0.3·ln(0.8/0.5) − 0.3·ln(0.2/0.5) = 0.3·ln 4
    0.415888
    >>> psi([0.25, 0.75], [25, 75])
    0.0
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual_counts, dtype=np.float64)
    if e.ndim != 1 or e.shape != a.shape:
        raise ParameterError(f"psi needs two 1-d arrays over the same bins; got shapes {e.shape} and {a.shape}.")
    if not (np.isfinite(e).all() and np.isfinite(a).all()) or (e < 0).any() or (a < 0).any():
        raise ParameterError("psi needs finite, non-negative shares and counts.")
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ParameterError(f"The 'eps' parameter of psi must be a number in (0, 1). Got {eps!r} instead.")
    e_total, a_total = float(e.sum()), float(a.sum())
    if abs(e_total - 1.0) > SHARE_TOLERANCE:
        raise ParameterError(f"psi needs reference shares that add up to 1; these add up to {e_total:g} "
                             "(divide reference counts by their total).")
    if a_total <= 0:
        raise ParameterError("psi is undefined without current rows: the counts add up to 0.")
    e = np.maximum(e, eps)  # as stored: dividing by their float sum could move them by an ulp
    a = np.maximum(a / a_total, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_status(value: float) -> Status:
    """``"act"`` above :data:`PSI_ACT` (0.25), ``"watch"`` above :data:`PSI_WATCH` (0.1), else ``"ok"``.

    The thresholds themselves are still the lower status (``psi_status(0.1) == "ok"``).

    Examples
    --------
    >>> psi_status(0.1), psi_status(0.1000001), psi_status(0.25), psi_status(0.3)
    ('ok', 'watch', 'watch', 'act')
    """
    v = float(value)
    if math.isnan(v):
        raise ParameterError("psi_status needs a PSI value; got NaN (no rows to compare).")
    if v > PSI_ACT:
        return "act"
    if v > PSI_WATCH:
        return "watch"
    return "ok"


def drift_table(reference: DriftReference, counts: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """PSI and status of every referenced column that has counts, most drifted first.

    Parameters
    ----------
    reference : DriftReference
        What the model stored at fit.
    counts : mapping
        ``"feature:<column>"`` / ``"score:<column>"`` → counts per bin
        (:meth:`DriftReference.counts`, possibly summed over partitions).
        Referenced columns without counts are left out; keys the reference
        does not know are ignored.

    Returns
    -------
    DataFrame
        ``column``, ``kind`` ("feature" / "score"), ``psi``, ``status``
        ("ok" / "watch" / "act", or ``"no data"`` with ``psi`` NaN when
        either side has no rows), ``n_reference``, ``n_current``; sorted by
        ``psi`` descending (NaN last).

    Raises
    ------
    ParameterError
        Counts whose number of bins differs from the reference's.
    """
    rows = []
    for key, dist in reference.columns().items():
        if key not in counts:
            continue
        c = np.asarray(counts[key])
        if c.shape != (dist.n_bins,):
            raise ParameterError(f"The counts of {key!r} have shape {c.shape}; the reference has {dist.n_bins} bins. "
                                 "Count with DriftReference.counts of the same reference.")
        n_current = int(c.sum())
        kind, column = split_key(key)
        if n_current > 0 and dist.n > 0:
            value = psi(np.asarray(dist.proportions), c)
            status: str = psi_status(value)
        else:
            value, status = math.nan, NO_DATA
        rows.append((column, kind, value, status, int(dist.n), n_current))
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["psi"] = table["psi"].astype(np.float64)
    table[["n_reference", "n_current"]] = table[["n_reference", "n_current"]].astype(np.int64)
    return table.sort_values("psi", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
