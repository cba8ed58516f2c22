"""Shared worlds for the synthetic-generator tests (built once per session)."""

from __future__ import annotations

import pytest

from crmml.synthetic import SyntheticWorld, make_b2b_world, make_b2c_world


@pytest.fixture(scope="session")
def b2c_world() -> SyntheticWorld:
    """A 20,000-customer shop: large enough for parameter recovery."""
    return make_b2c_world(20_000, seed=11)


@pytest.fixture(scope="session")
def b2b_world() -> SyntheticWorld:
    """A 1,000-account business with 4,000 leads."""
    return make_b2b_world(1_000, n_leads=4_000, seed=11)
