"""The default cutoff when the user gives none: never trust one row.

A CRM export is taken "now"; its last complete day is the natural cutoff.
One mistyped timestamp (a transaction dated 2205) must not move the cutoff
into the future, so rows dated after *now* are left out of the choice,
counted and reported with a warning, and the cutoff is the day after the
latest event that is not in the future.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from crmml.data import TABLES, CRMTables, ExclusionReport
from crmml.exceptions import MissingTableError, Problem
from crmml.features._pit import to_timestamp

__all__ = ["default_as_of"]


def default_as_of(
    tables: CRMTables,
    *,
    sources: Iterable[str] | None = None,
    now: object = None,
    report: ExclusionReport | None = None,
) -> pd.Timestamp:
    """The day after the latest event that is not in the future.

    Parameters
    ----------
    tables : CRMTables
        Loaded contract tables.
    sources : iterable of str, optional
        Tables whose event time (their contract ``time_column``) sets the
        cutoff, e.g. ``("transactions",)`` for a purchase model. Default:
        every supplied table.
    now : timestamp-like, optional
        The present (default: the current UTC time). Rows dated after it are
        in the future: they do not move the cutoff and are reported.
    report : ExclusionReport, optional
        Receives one warning entry per table with rows dated in the future.

    Returns
    -------
    pandas.Timestamp
        Midnight (UTC, naive) of the day after the latest event at or before
        ``now``.

    Raises
    ------
    MissingTableError
        When none of ``sources`` is supplied or none has an event up to ``now``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crmml.data import CRMTables, ExclusionReport
    >>> tx = pd.DataFrame({"transaction_id": ["t1", "t2"], "customer_id": ["c1", "c1"],
    ...                    "ts": pd.to_datetime(["2025-03-04 10:00", "2205-01-01 00:00"]), "amount": [5.0, 7.0]})
    >>> rep = ExclusionReport()
    >>> default_as_of(CRMTables(transactions=tx), now="2026-01-01", report=rep)
    Timestamp('2025-03-05 00:00:00')
    >>> print(rep)
    transactions: 1 row(s) excluded — dated after now (2026-01-01 00:00): in the future, ignored when choosing the default as_of (e.g. t2)
    """
    names = tuple(sources) if sources is not None else tables.present()
    present = [n for n in names if tables.get(n) is not None and len(tables[n])]
    if not present:
        raise MissingTableError(
            [Problem(n, None, "needed to choose the default as_of (the day after its latest event)",
                     hint="supply it, or pass as_of explicitly (e.g. --as-of 2025-01-31)") for n in names],
            context="choosing the default as_of",
        )
    now_ts = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else to_timestamp(now, "now")
    latest: list[pd.Timestamp] = []
    for name in present:
        frame = tables[name]
        column = TABLES[name].time_column
        times = frame[column].to_numpy(dtype="datetime64[ns]")
        future = times > np.datetime64(now_ts, "ns")
        if future.any() and report is not None:
            key = TABLES[name].key or TABLES[name].entity
            report.add_mask(name, f"dated after now ({now_ts:%Y-%m-%d %H:%M}): in the future, ignored when "
                            "choosing the default as_of", frame, pd.Series(future, index=frame.index), key,
                            warn=True)
        kept = times[~future & ~np.isnat(times)]
        if len(kept):
            latest.append(pd.Timestamp(kept.max()))
    if not latest:
        raise MissingTableError(
            [Problem(n, TABLES[n].time_column, f"an event at or before now ({now_ts:%Y-%m-%d %H:%M})",
                     hint="every row is dated in the future: check the time zone or the export, "
                          "or pass as_of explicitly") for n in present],
            context="choosing the default as_of",
        )
    return (max(latest) + pd.Timedelta(days=1)).normalize()
