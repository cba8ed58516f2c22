"""Checks on the RFM summary frame that the probabilistic CLV models consume.

The summary has one row per customer (index: customer id) and the columns
``frequency`` (number of *repeat* purchase periods, x), ``recency`` (age at the
last repeat purchase, t_x; 0 when x = 0) and ``T`` (age at the end of the
calibration period), plus ``monetary_value`` (mean value of the repeat
purchases) for the Gamma-Gamma model. Every broken rule is reported at once
in one :class:`~crmml.exceptions.DataContractError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmml.exceptions import DataContractError, Problem, examples_of

__all__ = ["SummaryArrays", "check_summary", "check_summary_arrays", "check_sample_weight", "SUMMARY_TABLE"]

SUMMARY_TABLE = "summary"


@dataclass(frozen=True)
class SummaryArrays:
    """Validated float64 arrays of a summary frame (row order preserved)."""

    index: pd.Index
    frequency: np.ndarray
    recency: np.ndarray | None
    T: np.ndarray | None
    monetary_value: np.ndarray | None


def _numeric(frame: pd.DataFrame, col: str, problems: list[Problem]) -> np.ndarray | None:
    s = frame[col]
    if not (pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)):
        problems.append(
            Problem(SUMMARY_TABLE, col, f"numeric dtype (got {s.dtype})",
                    hint=f"convert '{col}' with pd.to_numeric")
        )
        return None
    return s.to_numpy(dtype="float64", na_value=np.nan)  # finiteness: check_summary_arrays


def check_summary(
    summary: object,
    *,
    context: str,
    need_recency: bool = True,
    need_monetary: bool = False,
) -> SummaryArrays:
    """Validate a customer summary frame and return its columns as arrays.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per customer with ``frequency``, ``recency``, ``T`` (and
        ``monetary_value`` when ``need_monetary``).
    context : str
        What is being done, e.g. ``"BetaGeoModel.fit"`` (used in messages).
    need_recency : bool
        Require ``recency`` and ``T`` (False for Gamma-Gamma).
    need_monetary : bool
        Require ``monetary_value``.

    Raises
    ------
    DataContractError
        Listing every broken rule with its column, row count and example ids.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataContractError(
            [Problem(SUMMARY_TABLE, None,
                     f"a pandas DataFrame indexed by customer id (got {type(summary).__name__})",
                     hint="build it with crmml.features or lifetimes.utils.summary_data_from_transaction_data")],
            context,
        )
    cols = ["frequency"] + (["recency", "T"] if need_recency else []) + (
        ["monetary_value"] if need_monetary else [])
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise DataContractError(
            [Problem(SUMMARY_TABLE, c, "column present", hint=f"add column '{c}'") for c in missing],
            context,
        )
    if len(summary) == 0:
        raise DataContractError(
            [Problem(SUMMARY_TABLE, None, "at least one customer row", hint="pass a non-empty summary")],
            context,
        )
    problems: list[Problem] = []
    x = _numeric(summary, "frequency", problems)
    tx = _numeric(summary, "recency", problems) if need_recency else None
    T = _numeric(summary, "T", problems) if need_recency else None
    m = _numeric(summary, "monetary_value", problems) if need_monetary else None
    return check_summary_arrays(summary.index, x, tx, T, m, context=context, problems=problems)


def check_summary_arrays(
    index: pd.Index,
    frequency: np.ndarray | None,
    recency: np.ndarray | None = None,
    T: np.ndarray | None = None,
    monetary_value: np.ndarray | None = None,
    *,
    context: str,
    problems: list[Problem] | None = None,
) -> SummaryArrays:
    """The value rules of :func:`check_summary` on float64 arrays (one per column).

    For callers that already hold the columns as arrays (model scoring);
    non-finite values are reported here too. ``None`` skips a column.
    """
    problems = [] if problems is None else problems
    idx = index
    x, tx, m = frequency, recency, monetary_value
    for col, arr in (("frequency", x), ("recency", tx), ("T", T), ("monetary_value", m)):
        if arr is not None:
            bad = ~np.isfinite(arr)
            if bad.any():
                problems.append(Problem(SUMMARY_TABLE, col, "finite values (no NaN or inf)", int(bad.sum()),
                                        examples_of(idx[bad]), hint=f"drop or fill the customers with missing '{col}'"))

    def rule(mask: np.ndarray, col: str, text: str, hint: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            problems.append(Problem(SUMMARY_TABLE, col, text, int(mask.sum()), examples_of(idx[mask]), hint))

    with np.errstate(invalid="ignore"):
        if x is not None:
            fin = np.isfinite(x)
            rule(fin & (x < 0), "frequency", "frequency >= 0", "frequency counts repeat purchases")
            rule(fin & (x >= 0) & (x != np.floor(x)), "frequency", "integer frequency",
                 "frequency is a count of repeat purchase periods; round or recompute it")
        if tx is not None and T is not None:
            rule(np.isfinite(tx) & (tx < 0), "recency", "recency >= 0", "recency is the age at the last purchase")
            rule(np.isfinite(T) & (T < 0), "T", "T >= 0", "T is the customer's age at the end of the period")
            rule(np.isfinite(tx) & np.isfinite(T) & (tx > T), "recency", "recency <= T",
                 "the last purchase cannot be after the end of the observation period")
            if x is not None:
                rule(np.isfinite(x) & np.isfinite(tx) & (x == 0) & (tx != 0), "recency",
                     "recency == 0 when frequency == 0",
                     "customers without repeat purchases have recency 0 by convention")
            if np.isfinite(T).all() and (T <= 0).all():
                problems.append(Problem(SUMMARY_TABLE, "T", "some T > 0", len(T),
                                        hint="no customer has been observed for any time"))
        if m is not None and x is not None:
            rep = np.isfinite(x) & (x > 0)
            rule(rep & np.isfinite(m) & (m <= 0), "monetary_value",
                 "monetary_value > 0 for customers with frequency > 0",
                 "the Gamma-Gamma model needs positive mean spend; exclude refunds/zero-value customers")
    if problems:
        raise DataContractError(problems, context)
    return SummaryArrays(idx, x, tx, T, m)  # type: ignore[arg-type]


def check_sample_weight(
    sample_weight: object, n: int, *, context: str, index: pd.Index | None = None
) -> np.ndarray:
    """Return float64 weights of length ``n`` (ones when ``None``).

    A pandas Series is aligned on ``index`` when given.

    Raises
    ------
    DataContractError
        Wrong length, NaN/inf or negative weights, or all weights zero.
    """
    if sample_weight is None:
        return np.ones(n)
    if isinstance(sample_weight, pd.Series) and index is not None:
        if not sample_weight.index.equals(index):
            sample_weight = sample_weight.reindex(index)
    w = np.asarray(sample_weight, dtype="float64")
    problems: list[Problem] = []
    if w.ndim != 1 or w.shape[0] != n:
        raise DataContractError(
            [Problem(SUMMARY_TABLE, "sample_weight", f"one weight per customer ({n})",
                     hint=f"got shape {w.shape}")], context)
    bad = ~np.isfinite(w)
    if bad.any():
        problems.append(Problem(SUMMARY_TABLE, "sample_weight", "finite weights", int(bad.sum()),
                                hint="weights are customer counts; fill missing ones"))
    neg = np.isfinite(w) & (w < 0)
    if neg.any():
        problems.append(Problem(SUMMARY_TABLE, "sample_weight", "weights >= 0", int(neg.sum()),
                                hint="weights are customer counts"))
    if not problems and w.sum() <= 0:
        problems.append(Problem(SUMMARY_TABLE, "sample_weight", "a positive total weight", n,
                                hint="at least one customer must have weight > 0"))
    if problems:
        raise DataContractError(problems, context)
    return w


def as_index_like(values: Sequence[float] | np.ndarray, index: pd.Index, name: str) -> pd.Series:
    """Wrap a prediction array as a Series indexed like the input summary."""
    return pd.Series(np.asarray(values, dtype="float64"), index=index, name=name)
