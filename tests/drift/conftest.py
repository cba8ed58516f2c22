"""A small synthetic world and a churn model fitted on it, shared by the drift tests (fixed seeds)."""

from __future__ import annotations

import pandas as pd
import pytest

AS_OF = pd.Timestamp("2025-07-01")


@pytest.fixture(scope="session")
def drift_world():
    from crmml.synthetic import make_b2c_world

    return make_b2c_world(800, seed=11)


@pytest.fixture(scope="session")
def drift_churn(drift_world):
    from crmml.churn import ChurnModel

    return ChurnModel(num_threads=1).fit(drift_world.tables, AS_OF)
