"""The pandera schemas are generated from the contract, not hand-written."""

from __future__ import annotations

import pandera.pandas as pa
import pytest

from crmml.data import TABLE_NAMES, TABLES
from crmml.data._schemas import resolve_stages, table_schema


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_schema_columns_follow_the_contract(name: str) -> None:
    schema = table_schema(name)
    spec = TABLES[name]
    assert isinstance(schema, pa.DataFrameSchema)
    assert list(schema.columns) == list(spec.column_names)
    for col in spec.columns:
        assert schema.columns[col.name].nullable == col.nullable
        assert schema.columns[col.name].required == col.required
    assert schema.strict is False and schema.coerce is False


def test_min_value_becomes_a_check() -> None:
    checks = table_schema("subscriptions").columns["monthly_value"].checks
    assert [c.error for c in checks] == ["must be a finite number (not inf or -inf)", "must be >= 0"]


def test_stage_check_lists_the_configured_stages() -> None:
    checks = table_schema("opportunity_history", ["a", "b", "w", "l"]).columns["stage"].checks
    assert [c.error for c in checks] == ["must not be empty text", "must be one of the configured stages (a, b, w, l)"]


def test_default_stages_come_from_the_contract() -> None:
    st = resolve_stages()
    assert st.open == ("qualification", "needs_analysis", "proposal", "negotiation")
    assert (st.won, st.lost) == ("closed_won", "closed_lost")
