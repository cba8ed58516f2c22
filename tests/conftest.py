"""Shared fixtures: small synthetic worlds (fixed seeds), built once per session."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def b2c_world():
    from crmml.synthetic import make_b2c_world

    return make_b2c_world(3000, seed=11)


@pytest.fixture(scope="session")
def b2b_world():
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(400, seed=11)


@pytest.fixture(scope="session")
def fitted_clv(b2c_world):
    from crmml.clv import CLVModel

    as_of = b2c_world.end.normalize()
    return CLVModel().fit(b2c_world.tables, as_of), as_of
