"""The BG/NBD / Pareto-NBD summary (frequency, recency, T, monetary value).

A vectorised, point-in-time version of
``lifetimes.utils.summary_data_from_transaction_data``: integer periods,
customer codes from one factorisation, unique (customer, period) pairs by
sorting one int64 key, and reductions with ``np.bincount``. No pandas
``groupby(...).apply``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmml.data import ExclusionReport
from crmml.exceptions import DataContractError, ParameterError, Problem
from crmml.features._ids import factorize_sorted
from crmml.features._pit import to_timestamp

__all__ = ["rfm_summary", "rfm_arrays", "RFM_FREQS"]

RFM_FREQS: tuple[str, ...] = ("D", "W", "h")
_NS_PER = {"D": 86_400 * 10**9, "h": 3_600 * 10**9}
_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def _periods(t_ns: np.ndarray, freq: str) -> np.ndarray:
    """Integer period number of nanosecond epoch times (pandas Period semantics).

    ``"D"``: days since 1970-01-01; ``"h"``: hours; ``"W"``: pandas ``W-SUN``
    weeks (Monday to Sunday) — 1970-01-01 was a Thursday, so Monday-based
    weeks are ``(days + 3) // 7``.
    """
    if freq == "W":
        return (t_ns // _NS_PER["D"] + 3) // 7
    return t_ns // _NS_PER[freq]


def _check_params(freq: object, freq_multiplier: object) -> None:
    if freq not in RFM_FREQS:
        raise ParameterError(
            f"The 'freq' parameter of rfm_summary must be one of {{'D', 'W', 'h'}}. Got {freq!r} instead."
        )
    if isinstance(freq_multiplier, bool) or not isinstance(freq_multiplier, (int, np.integer)) \
            or freq_multiplier < 1:
        raise ParameterError(
            f"The 'freq_multiplier' parameter of rfm_summary must be an int >= 1. Got {freq_multiplier!r} instead."
        )


def _check_columns(transactions: pd.DataFrame, monetary: bool) -> None:
    if not isinstance(transactions, pd.DataFrame):
        raise ParameterError(
            "The 'transactions' parameter of rfm_summary must be an instance of 'DataFrame'. "
            f"Got {type(transactions).__name__} instead."
        )
    need = ["customer_id", "ts", "amount"]
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise DataContractError(
            [Problem("transactions", c, "column is required", hint=f"add a {c!r} column (or map yours to it)")
             for c in missing],
            context="building the RFM summary",
        )


def _full(n: int, positions: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[positions] = True
    return m


def _count(rep: ExclusionReport, rule: str, tx: pd.DataFrame, mask: np.ndarray) -> None:
    rep.add_mask("transactions", rule, tx, pd.Series(mask, index=tx.index), "transaction_id")


def _empty_arrays(monetary: bool, ids: pd.Series) -> tuple[pd.Index, dict[str, np.ndarray]]:
    cols = list(_COLUMNS if monetary else _COLUMNS[:3])
    return pd.Index(ids.iloc[:0], name="customer_id"), {c: np.zeros(0) for c in cols}


def rfm_summary(
    transactions: pd.DataFrame,
    as_of: object = None,
    *,
    freq: str = "D",
    freq_multiplier: int = 1,
    customers: pd.DataFrame | None = None,
    monetary: bool = True,
    report: ExclusionReport | None = None,
) -> pd.DataFrame:
    """Frequency / recency / T (/ monetary value) summary as of a cutoff.

    The sufficient statistics of the BG/NBD, Pareto/NBD and Gamma-Gamma
    models [1]_ [2]_, computed from the transactions strictly before
    ``as_of``. Time is counted in whole periods of ``freq``:

    * ``frequency`` — number of distinct periods with a purchase, minus one
      (repeat purchase periods);
    * ``recency`` — periods between the first and the last purchase period;
    * ``T`` — periods between the first purchase period and the *end
      period*, the period holding the last instant before ``as_of``
      (``as_of - 1ns``);
    * ``monetary_value`` — mean over the repeat periods of the amount spent
      per period (0 when ``frequency == 0``);

    each divided by ``freq_multiplier``.

    **Correspondence with lifetimes.** The result is identical (values,
    float64 dtypes, index sorted by ``customer_id``) to::

        lifetimes.utils.summary_data_from_transaction_data(
            tx[tx.ts < as_of], "customer_id", "ts", monetary_value_col="amount",
            observation_period_end=as_of - pd.Timedelta(1, "ns"),
            freq=freq, freq_multiplier=freq_multiplier)

    on the same refund-free input. lifetimes' ``observation_period_end`` is
    *inclusive of its whole period*; crmml's ``as_of`` is a strict cutoff.
    When ``as_of`` is a period boundary (midnight for ``"D"``, Monday 00:00
    for ``"W"``, a full hour for ``"h"``) the pre-filter is unnecessary and
    ``observation_period_end=as_of - 1 period`` is equivalent; for an
    ``as_of`` inside a period, crmml ignores the part of that period from
    ``as_of`` on (it is the future) while T still counts up to that period.

    Parameters
    ----------
    transactions : DataFrame
        The ``transactions`` table: ``customer_id``, ``ts`` and ``amount``.
    as_of : str, date, Timestamp or None
        Cutoff. ``None`` means "just after the last row of ``transactions``"
        (refunds included), which is lifetimes' default
        ``observation_period_end`` (the period of the latest timestamp).
    freq : {"D", "W", "h"}
        Period length: day, week (pandas ``W-SUN``: Monday to Sunday), hour.
    freq_multiplier : int
        Divide ``recency`` and ``T`` by this (e.g. ``freq="h"``,
        ``freq_multiplier=24`` gives fractional days).
    customers : DataFrame, optional
        The ``customers`` table. When given, transactions before the
        customer's ``signup_at`` and transactions of customers missing from it
        are excluded and counted.
    monetary : bool
        Add ``monetary_value``.
    report : ExclusionReport, optional
        Receives the exclusion counts; a new one is made when omitted. Either
        way the counts are attached as ``result.attrs["exclusions"]``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted; only customers with at least one
        purchase before ``as_of``), float64 columns ``frequency``,
        ``recency``, ``T`` (and ``monetary_value``).

    Notes
    -----
    Refunds (``amount < 0``) are not purchases: they are excluded and
    counted. Zero-amount rows are kept as purchases (e.g. fully discounted
    orders); they count towards frequency and lower the mean spend.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S., Lee, K. L. (2005). "Counting your
       customers the easy way: An alternative to the Pareto/NBD model."
       Marketing Science 24(2), 275-284.
    .. [2] Fader, P. S., Hardie, B. G. S. (2013). "The Gamma-Gamma model of
       monetary value."

    Examples
    --------
    >>> tx = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "ts": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-03"]),
    ...     "amount": [10.0, 5.0, 20.0, 8.0]})
    >>> rfm_summary(tx, "2024-01-11")
                 frequency  recency    T  monetary_value
    customer_id
    a                  1.0      4.0  9.0            20.0
    b                  0.0      0.0  7.0             0.0
    """
    rep = report if report is not None else ExclusionReport()
    index, cols = rfm_arrays(transactions, as_of, freq=freq, freq_multiplier=freq_multiplier,
                              customers=customers, monetary=monetary, report=rep)
    out = pd.DataFrame(cols, index=index)
    out.attrs["exclusions"] = rep.to_dict()
    return out


def rfm_arrays(
    transactions: pd.DataFrame,
    as_of: object,
    *,
    freq: str,
    freq_multiplier: int,
    customers: pd.DataFrame | None,
    monetary: bool,
    report: ExclusionReport,
) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """The RFM summary as ``(index, {column: array})``: what :func:`rfm_summary` wraps.

    Same rules, same exclusions (counted in ``report``), same values; for
    model code that only needs arrays, so scoring one customer does not build
    a DataFrame only to take it apart again.
    """
    _check_params(freq, freq_multiplier)
    _check_columns(transactions, monetary)
    rep = report

    ids = transactions["customer_id"]
    t = transactions["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    amount = transactions["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    nat = np.iinfo(np.int64).min
    valid_t = t != nat

    if as_of is None:
        if not valid_t.any():
            return _empty_arrays(monetary, ids)
        end_ns = int(t[valid_t].max())
        keep = valid_t.copy()
    else:
        cut = to_timestamp(as_of).value
        end_ns = cut - 1
        keep = valid_t & (t < cut)

    refund = keep & ~(amount >= 0)  # negative (or missing) amounts are not purchases
    if refund.any():
        _count(rep, "refund or missing amount (amount < 0): not a purchase in the RFM summary",
               transactions, refund)
        keep &= ~refund

    rows = np.flatnonzero(keep)
    codes, uniques = factorize_sorted(ids, rows)
    drop = codes < 0
    if drop.any():
        _count(rep, "missing customer_id", transactions, _full(len(t), rows[drop]))
    if customers is not None and len(rows):
        pos = pd.Index(customers["customer_id"]).get_indexer(uniques)
        known = pos >= 0
        safe = np.where(codes >= 0, codes, 0)
        unknown = ~drop & ~known[safe]
        if unknown.any():
            _count(rep, "customer_id not in customers", transactions, _full(len(t), rows[unknown]))
            rep.add_entities("customers", "customer_id in transactions but not in the customers table "
                             "(their transactions are excluded; not scored)", uniques[~known])
        signup = customers["signup_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        su = np.where(known, signup[np.where(known, pos, 0)], nat)
        before = ~drop & ~unknown & (t[rows] < su[safe])
        if before.any():
            _count(rep, "before the customer's signup_at", transactions, _full(len(t), rows[before]))
        drop |= unknown | before
    if drop.any():
        rows, codes = rows[~drop], codes[~drop]
        present = np.bincount(codes, minlength=len(uniques)) > 0
        uniques = uniques[present]
        codes = (np.cumsum(present) - 1)[codes]

    if not len(rows):
        return _empty_arrays(monetary, ids)
    n = len(uniques)
    keep = rows

    p = _periods(t[keep], freq)
    p_end = int(_periods(np.array([end_ns], dtype=np.int64), freq)[0])
    p_min = int(p.min())
    span = int(p.max()) - p_min + 1
    key = codes * np.int64(span) + (p - p_min)
    if n * span < 2**31:
        key = key.astype(np.int32)  # sorting 4-byte keys is faster
    s = np.sort(key)
    first_of_run = np.empty(len(s), dtype=bool)
    first_of_run[0] = True
    np.not_equal(s[1:], s[:-1], out=first_of_run[1:])
    uk = s[first_of_run]
    cu = uk // span
    pu = (uk - cu * span).astype(np.int64)  # period offset from p_min
    starts = np.flatnonzero(np.r_[True, cu[1:] != cu[:-1]])
    ends = np.r_[starts[1:], len(uk)] - 1
    n_periods = np.diff(np.r_[starts, len(uk)])
    first_p = pu[starts]
    last_p = pu[ends]

    m = float(freq_multiplier)
    frequency = (n_periods - 1).astype(np.float64)
    cols: dict[str, np.ndarray] = {
        "frequency": frequency,
        "recency": (last_p - first_p).astype(np.float64) / m,
        "T": (p_end - p_min - first_p).astype(np.float64) / m,
    }
    if monetary:
        a = amount[keep]
        repeat = (p - p_min) != first_p[codes]
        repeat_sum = np.bincount(codes, weights=np.where(repeat, a, 0.0), minlength=n).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mv = np.where(frequency > 0, repeat_sum / np.maximum(frequency, 1.0), 0.0)
        cols["monetary_value"] = mv
    return uniques.rename("customer_id"), cols
