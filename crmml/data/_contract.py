"""The CRM data contract (v1) as data: tables, columns, keys and time columns.

This module is the single source of truth that the pandera schemas
(:mod:`crmml.data._schemas`), the loader, the synthetic generators and the
point-in-time engine all read. See ``docs/user-guide.md`` for the prose.

Internal representation after loading (what code behind the boundary may
trust):

* ids (``*_id``) and categorical text: pandas string dtype (``"str"`` in
  pandas 3, ``object`` of ``str`` in pandas 2);
* timestamps: ``datetime64[ns]``, timezone-naive, in UTC;
* money: ``float64``; counts (``employees``): ``float64`` holding integers or
  NaN (nullable); ``won``: pandas ``boolean`` (nullable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CONTRACT_VERSION",
    "ColumnSpec",
    "TableSpec",
    "ForeignKey",
    "TABLES",
    "TABLE_NAMES",
    "DEFAULT_OPEN_STAGES",
    "DEFAULT_CLOSED_STAGES",
    "KNOWN_INTERACTION_TYPES",
    "KNOWN_LEAD_EVENT_TYPES",
]

CONTRACT_VERSION = 1

Kind = Literal["id", "str", "datetime", "float", "int", "bool"]

DEFAULT_OPEN_STAGES: tuple[str, ...] = ("qualification", "needs_analysis", "proposal", "negotiation")
DEFAULT_CLOSED_STAGES: tuple[str, ...] = ("closed_won", "closed_lost")

KNOWN_INTERACTION_TYPES: tuple[str, ...] = (
    "email_open", "email_click", "web_visit", "call", "meeting",
    "support_ticket", "complaint", "download", "login",
)
KNOWN_LEAD_EVENT_TYPES: tuple[str, ...] = (
    "web_visit", "email_open", "email_click", "download", "form_submit", "webinar", "call", "meeting",
)


@dataclass(frozen=True)
class ColumnSpec:
    """One contract column.

    Parameters
    ----------
    name : str
    kind : {"id", "str", "datetime", "float", "int", "bool"}
    required : bool
        ``False`` for columns marked *opt* in the contract (may be absent).
    nullable : bool
        Whether missing values are allowed in a present column.
    min_value : float or None
        Inclusive lower bound (``amount >= 0``).
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    min_value: float | None = None


@dataclass(frozen=True)
class ForeignKey:
    """``table.column`` must reference ``ref_table.ref_column``."""

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class TableSpec:
    """One contract table.

    Parameters
    ----------
    name : str
    key : str or None
        Unique key column (``None`` for event logs without a key).
    columns : tuple of ColumnSpec
    time_column : str
        The row's event time: a point-in-time view as of ``as_of`` keeps a row
        only when this time is strictly before ``as_of``.
    event_columns : tuple of str
        Further time columns that record later events (``paid_at``,
        ``closed_at``): in a point-in-time view they are masked to NaT when not
        strictly before ``as_of``.
    masked_with : dict
        Columns whose value is only known once an event column is known
        (``won`` with ``closed_at``); masked to missing together with it.
    foreign_keys : tuple of ForeignKey
    entity : str or None
        The entity the table's rows belong to (``customer_id``, ``lead_id``,
        ``opportunity_id``), used for hash partitioning.
    """

    name: str
    key: str | None
    columns: tuple[ColumnSpec, ...]
    time_column: str
    event_columns: tuple[str, ...] = ()
    masked_with: dict[str, str] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    entity: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _c(name: str, kind: Kind, **kw: object) -> ColumnSpec:
    return ColumnSpec(name, kind, **kw)  # type: ignore[arg-type]


_CUST = ForeignKey("customer_id", "customers", "customer_id")

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "customers", "customer_id",
            (
                _c("customer_id", "id"),
                _c("signup_at", "datetime"),
                _c("country", "str", required=False, nullable=True),
                _c("channel", "str", required=False, nullable=True),
                _c("industry", "str", required=False, nullable=True),
                _c("employees", "int", required=False, nullable=True, min_value=0),
                _c("acquisition_cost", "float", required=False, nullable=True, min_value=0),
            ),
            time_column="signup_at", entity="customer_id",
        ),
        TableSpec(
            "transactions", "transaction_id",
            (
                _c("transaction_id", "id"),
                _c("customer_id", "id"),
                _c("ts", "datetime"),
                _c("amount", "float"),
                _c("cost", "float", required=False, nullable=True),
            ),
            time_column="ts", foreign_keys=(_CUST,), entity="customer_id",
        ),
        TableSpec(
            "interactions", "interaction_id",
            (
                _c("interaction_id", "id", required=False),
                _c("customer_id", "id"),
                _c("ts", "datetime"),
                _c("type", "str"),
                _c("contact_id", "id", required=False, nullable=True),
            ),
            time_column="ts",
            foreign_keys=(_CUST, ForeignKey("contact_id", "contacts", "contact_id")),
            entity="customer_id",
        ),
        TableSpec(
            "contacts", "contact_id",
            (
                _c("contact_id", "id"),
                _c("customer_id", "id"),
                _c("role", "str"),
                _c("created_at", "datetime"),
            ),
            time_column="created_at", foreign_keys=(_CUST,), entity="customer_id",
        ),
        TableSpec(
            "invoices", "invoice_id",
            (
                _c("invoice_id", "id"),
                _c("customer_id", "id"),
                _c("issued_at", "datetime"),
                _c("due_at", "datetime"),
                _c("paid_at", "datetime", nullable=True),
                _c("amount", "float"),
            ),
            time_column="issued_at", event_columns=("paid_at",),
            foreign_keys=(_CUST,), entity="customer_id",
        ),
        TableSpec(
            "subscriptions", "subscription_id",
            (
                _c("subscription_id", "id"),
                _c("customer_id", "id"),
                _c("start_at", "datetime"),
                _c("end_at", "datetime", nullable=True),
                _c("monthly_value", "float", min_value=0),
            ),
            time_column="start_at", event_columns=("end_at",),
            foreign_keys=(_CUST,), entity="customer_id",
        ),
        TableSpec(
            "leads", "lead_id",
            (
                _c("lead_id", "id"),
                _c("created_at", "datetime"),
                _c("source", "str"),
                _c("industry", "str", required=False, nullable=True),
                _c("employees", "int", required=False, nullable=True, min_value=0),
                _c("country", "str", required=False, nullable=True),
                _c("role", "str", required=False, nullable=True),
                _c("converted_at", "datetime", nullable=True),
            ),
            time_column="created_at", event_columns=("converted_at",), entity="lead_id",
        ),
        TableSpec(
            "lead_events", None,
            (
                _c("lead_id", "id"),
                _c("ts", "datetime"),
                _c("type", "str"),
            ),
            time_column="ts", foreign_keys=(ForeignKey("lead_id", "leads", "lead_id"),),
            entity="lead_id",
        ),
        TableSpec(
            "opportunities", "opportunity_id",
            (
                _c("opportunity_id", "id"),
                _c("customer_id", "id"),
                _c("created_at", "datetime"),
                _c("amount", "float", min_value=0),
                _c("stage", "str"),
                _c("expected_close_at", "datetime"),
                _c("closed_at", "datetime", nullable=True),
                _c("won", "bool", nullable=True),
                _c("owner", "str", required=False, nullable=True),
            ),
            time_column="created_at", event_columns=("closed_at",),
            masked_with={"won": "closed_at"},
            foreign_keys=(_CUST,), entity="opportunity_id",
        ),
        TableSpec(
            "opportunity_history", None,
            (
                _c("opportunity_id", "id"),
                _c("ts", "datetime"),
                _c("stage", "str"),
                _c("amount", "float", min_value=0),
                _c("expected_close_at", "datetime"),
            ),
            time_column="ts",
            foreign_keys=(ForeignKey("opportunity_id", "opportunities", "opportunity_id"),),
            entity="opportunity_id",
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
