"""Counting and reporting rows a pipeline excludes (never drop silently)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from crmml._payload import Payload
from crmml.exceptions import examples_of

__all__ = ["EXCLUSION_UNITS", "Exclusion", "ExclusionReport", "read_exclusion_counts"]

EXCLUSION_UNITS = ("rows", "entities", "fit-only")
"""Units of an exclusion count: rows of a table, entities of a population, entities left out of a fit only."""

logger = logging.getLogger("crmml")


@dataclass(frozen=True)
class Exclusion:
    """Rows of one table (or entities of one population) excluded by one rule.

    ``unit`` is ``"rows"`` for rows of ``table`` and ``"entities"`` for
    entities (customers, leads, opportunities) left out of a model's
    population; ``n_rows`` counts them either way.
    """

    table: str
    rule: str
    n_rows: int
    examples: tuple[str, ...] = ()
    unit: str = "rows"

    def __str__(self) -> str:
        ex = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        what = "row(s)" if self.unit == "rows" else self.unit
        return f"{self.table}: {self.n_rows:,} {what} excluded — {self.rule}{ex}"


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

    def add(self, table: str, rule: str, n_rows: int, examples: Iterable[object] = (), *,
            unit: str = "rows", warn: bool = False) -> None:
        """Record ``n_rows`` rows of ``table`` excluded by ``rule`` (no-op for 0).

        ``unit="entities"`` records entities left out of a model's population
        (``table`` is then the entity's table, e.g. ``"customers"``);
        ``warn=True`` logs at WARNING instead of INFO (suspicious data, such as
        rows dated in the future).
        """
        n = int(n_rows)
        if n <= 0:
            return
        ex = Exclusion(table, rule, n, examples_of(examples, 3), unit)
        self.items.append(ex)
        logger.log(logging.WARNING if warn else logging.INFO, "%s", ex)

    def add_entities(self, table: str, rule: str, ids: Iterable[object] | pd.Index, *, warn: bool = False) -> None:
        """Record the entities ``ids`` of ``table`` left out of the population by ``rule``."""
        ids = ids if isinstance(ids, pd.Index) else pd.Index(list(ids))
        self.add(table, rule, len(ids), ids[:3], unit="entities", warn=warn)

    def add_mask(self, table: str, rule: str, frame: pd.DataFrame, mask: pd.Series, key: str | None,
                 *, warn: bool = False) -> None:
        """Record the rows of ``frame`` selected by boolean ``mask``."""
        n = int(mask.sum())
        if n:
            ex = frame.loc[mask, key].head(3) if key and key in frame else frame.index[mask][:3]
            self.add(table, rule, n, ex, warn=warn)

    def total(self) -> int:
        """How many rows and entities were excluded, all rules together."""
        return sum(e.n_rows for e in self.items)

    def entities(self) -> int:
        """How many entities were left out of the population."""
        return sum(e.n_rows for e in self.items if e.unit == "entities")

    def to_frame(self) -> pd.DataFrame:
        """One row per exclusion: table, rule, n_rows, unit."""
        return pd.DataFrame(self.to_dict(), columns=["table", "rule", "n_rows", "unit"])

    def to_dict(self) -> list[dict[str, object]]:
        """JSON-ready counts (no example ids: safe to log as an artifact)."""
        return [{"table": e.table, "rule": e.rule, "n_rows": e.n_rows, "unit": e.unit} for e in self.items]

    def __str__(self) -> str:
        if not self.items:
            return "no rows excluded"
        return "\n".join(str(e) for e in self.items)


def read_exclusion_counts(p: Payload, key: str = "exclusions") -> list[dict[str, object]]:
    """The exclusion counts a model stores, read from an artifact (``unit`` optional: ``"rows"``).

    Each entry is ``{"table", "rule", "n_rows", "unit"}``; anything else is an
    :class:`~crmml.exceptions.IncompatibleArtifactError` naming the field.
    """
    out: list[dict[str, object]] = []
    for i, item in enumerate(p.array(key)):
        if not isinstance(item, dict):
            raise p.error(key, "an array of objects", item)
        e = Payload(item, p.source, (*p.path, key, i), p.fix)
        e.keys_exactly(("table", "rule", "n_rows"), optional=("unit",))
        out.append({"table": e.str_in("table", max_length=200), "rule": e.str_in("rule", max_length=2000),
                    "n_rows": e.int_in("n_rows", low=0),
                    "unit": e.str_in("unit", EXCLUSION_UNITS) if "unit" in e else "rows"})
    return out
