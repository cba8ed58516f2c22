"""The CRM data contract: table specs, schemas, loading and the table container."""

from crmml.data._contract import (
    CONTRACT_VERSION,
    DEFAULT_CLOSED_STAGES,
    DEFAULT_OPEN_STAGES,
    KNOWN_INTERACTION_TYPES,
    KNOWN_LEAD_EVENT_TYPES,
    TABLE_NAMES,
    TABLES,
    ColumnSpec,
    ForeignKey,
    TableSpec,
)
from crmml.data._load import as_tables, load_tables, read_table
from crmml.data._report import Exclusion, ExclusionReport, read_exclusion_counts
from crmml.data._tables import CRMTables
from crmml.data._validate import validate_tables

__all__ = [
    "CONTRACT_VERSION",
    "DEFAULT_CLOSED_STAGES",
    "DEFAULT_OPEN_STAGES",
    "KNOWN_INTERACTION_TYPES",
    "KNOWN_LEAD_EVENT_TYPES",
    "TABLE_NAMES",
    "TABLES",
    "ColumnSpec",
    "ForeignKey",
    "TableSpec",
    "CRMTables",
    "Exclusion",
    "ExclusionReport",
    "read_exclusion_counts",
    "as_tables",
    "load_tables",
    "read_table",
    "validate_tables",
]
