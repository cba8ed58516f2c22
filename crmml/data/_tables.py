"""The typed container of contract tables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace

import pandas as pd

from crmml.data._contract import TABLE_NAMES, TABLES
from crmml.exceptions import MissingTableError, Problem

__all__ = ["CRMTables"]


@dataclass(frozen=True)
class CRMTables:
    """The CRM event tables of one business, validated against the contract.

    Every attribute is a DataFrame in the internal representation described in
    :mod:`crmml.data._contract`, or ``None`` when the table was not supplied.
    Build one with :func:`crmml.data.load_tables` (which validates and coerces);
    the constructor itself trusts its input.

    Examples
    --------
    >>> from crmml.data import load_tables
    >>> tables = load_tables("data/synthetic/b2c")          # doctest: +SKIP
    >>> tables.require("customers", "transactions", model="CLVModel")  # doctest: +SKIP
    """

    customers: pd.DataFrame | None = None
    transactions: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    invoices: pd.DataFrame | None = None
    subscriptions: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    lead_events: pd.DataFrame | None = None
    opportunities: pd.DataFrame | None = None
    opportunity_history: pd.DataFrame | None = None

    # ------------------------------------------------------------------ access
    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise KeyError(f"Unknown table {name!r}; contract tables are {', '.join(TABLE_NAMES)}.")
        df = getattr(self, name)
        if df is None:
            raise MissingTableError(
                [Problem(name, None, "table is required but was not supplied",
                         hint=f"pass a {name!r} DataFrame or a {name}.parquet/.csv file")],
                context=f"reading table {name!r}",
            )
        return df

    def get(self, name: str) -> pd.DataFrame | None:
        """Return the table or ``None`` when it was not supplied."""
        return getattr(self, name)

    def present(self) -> tuple[str, ...]:
        """Names of the supplied tables, in contract order."""
        return tuple(n for n in TABLE_NAMES if getattr(self, n) is not None)

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Iterate over ``(name, frame)`` of the supplied tables."""
        for n in self.present():
            yield n, getattr(self, n)

    def require(self, *names: str, model: str) -> None:
        """Raise :class:`MissingTableError` naming every missing table.

        Parameters
        ----------
        *names : str
            Tables the caller needs.
        model : str
            Who needs them, for the message (``"CLVModel.fit"``).
        """
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise MissingTableError(
                [Problem(n, None, f"table is required by {model} but was not supplied",
                         hint=f"pass a {n!r} DataFrame or a {n}.parquet/.csv file") for n in missing],
                context=f"preparing {model}",
            )

    def replace(self, **tables: pd.DataFrame | None) -> CRMTables:
        """Return a copy with some tables replaced (no validation)."""
        return replace(self, **tables)

    def to_dict(self) -> dict[str, pd.DataFrame]:
        """The supplied tables as a plain dict."""
        return dict(self.items())

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame]) -> CRMTables:
        """Wrap already-clean frames without validation (internal use, tests)."""
        unknown = set(frames) - set(TABLE_NAMES)
        if unknown:
            raise KeyError(f"Unknown table(s) {sorted(unknown)}; contract tables are {', '.join(TABLE_NAMES)}.")
        return cls(**dict(frames))

    def n_rows(self) -> dict[str, int]:
        """Row count of each supplied table."""
        return {n: len(df) for n, df in self.items()}

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={len(df):,} rows" for n, df in self.items())
        return f"CRMTables({parts})"


assert [f.name for f in fields(CRMTables)] == list(TABLE_NAMES)
