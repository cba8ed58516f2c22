"""Small synthetic worlds and fitted churn models shared by the churn tests (fixed seeds)."""

from __future__ import annotations

import pandas as pd
import pytest

AS_OF = pd.Timestamp("2025-07-01")


@pytest.fixture(scope="session")
def b2c_world():
    from crmml.synthetic import make_b2c_world

    return make_b2c_world(800, seed=11)


@pytest.fixture(scope="session")
def b2b_world():
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(1500, seed=5)


@pytest.fixture(scope="session")
def b2c_model(b2c_world):
    from crmml.churn import ChurnModel

    return ChurnModel(num_threads=1).fit(b2c_world.tables, AS_OF)


@pytest.fixture(scope="session")
def b2b_model(b2b_world):
    from crmml.churn import ChurnModel

    return ChurnModel(business="contractual", num_threads=1).fit(b2b_world.tables, AS_OF)
