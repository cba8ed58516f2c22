"""Fixtures of the forecast tests: one small B2B world and a model fitted on it (built once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

AS_OF = pd.Timestamp("2025-02-10")


@pytest.fixture(scope="session")
def deal_world():
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(400, seed=3)


@pytest.fixture(scope="session")
def fitted_forecast(deal_world):
    from crmml.forecast import PipelineForecastModel

    return PipelineForecastModel(num_threads=1, n_simulations=500, interval_origins=5).fit(deal_world.tables, AS_OF)
