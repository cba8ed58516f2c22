"""Fixtures of the lead-scoring tests: one small B2B world with many leads (built once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

AS_OF = pd.Timestamp("2025-07-01")


@pytest.fixture(scope="session")
def lead_world():
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(300, n_leads=9000, seed=5)


@pytest.fixture(scope="session")
def fitted_leads(lead_world):
    from crmml.leadscore import LeadScoreModel

    return LeadScoreModel(num_threads=1).fit(lead_world.tables, AS_OF)
