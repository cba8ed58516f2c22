"""Counting and reporting rows a pipeline excludes (never drop silently)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from crmml.exceptions import examples_of

__all__ = ["Exclusion", "ExclusionReport"]

logger = logging.getLogger("crmml")


@dataclass(frozen=True)
class Exclusion:
    """Rows of one table excluded by one rule."""

    table: str
    rule: str
    n_rows: int
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        ex = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.table}: {self.n_rows:,} row(s) excluded — {self.rule}{ex}"


@dataclass
class ExclusionReport:
    """Accumulates the exclusions of one pipeline run.

    Every step that leaves rows out calls :meth:`add`; the report is attached
    to results (``df.attrs["exclusions"]``), logged at INFO level and logged to
    MLflow by the tracking layer (counts only, never row content beyond a few
    ids).

    Examples
    --------
    >>> r = ExclusionReport()
    >>> r.add("transactions", "refund (amount < 0)", 3, ["t1", "t2"])
    >>> r.total()
    3
    """

    items: list[Exclusion] = field(default_factory=list)

    def add(self, table: str, rule: str, n_rows: int, examples: Iterable[object] = ()) -> None:
        """Record ``n_rows`` rows of ``table`` excluded by ``rule`` (no-op for 0)."""
        n = int(n_rows)
        if n <= 0:
            return
        ex = Exclusion(table, rule, n, examples_of(examples, 3))
        self.items.append(ex)
        logger.info("%s", ex)

    def add_mask(self, table: str, rule: str, frame: pd.DataFrame, mask: pd.Series, key: str | None) -> None:
        """Record the rows of ``frame`` selected by boolean ``mask``."""
        n = int(mask.sum())
        if n:
            ex = frame.loc[mask, key].head(3) if key and key in frame else frame.index[mask][:3]
            self.add(table, rule, n, ex)

    def total(self) -> int:
        return sum(e.n_rows for e in self.items)

    def to_frame(self) -> pd.DataFrame:
        """One row per exclusion: table, rule, n_rows."""
        return pd.DataFrame(
            [{"table": e.table, "rule": e.rule, "n_rows": e.n_rows} for e in self.items],
            columns=["table", "rule", "n_rows"],
        )

    def to_dict(self) -> list[dict[str, object]]:
        """JSON-ready counts (no example ids: safe to log as an artifact)."""
        return [{"table": e.table, "rule": e.rule, "n_rows": e.n_rows} for e in self.items]

    def __str__(self) -> str:
        if not self.items:
            return "no rows excluded"
        return "\n".join(str(e) for e in self.items)
