"""Fixtures for the feature tests (the hand-made world lives in features_world.py)."""

from __future__ import annotations

import pytest

from crmml.data import CRMTables
from features_world import AS_OF, make_world  # noqa: F401


@pytest.fixture(scope="session")
def world() -> CRMTables:
    return make_world()
