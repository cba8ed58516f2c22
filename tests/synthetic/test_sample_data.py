"""The committed sample worlds under data/synthetic are what their README commands generate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crmml.data import load_tables
from crmml.synthetic import make_b2b_world, make_b2c_world

DATA = Path(__file__).resolve().parents[2] / "data" / "synthetic"


@pytest.mark.parametrize(("folder", "make"), [
    ("b2c", lambda: make_b2c_world(3000, seed=7)),
    ("b2b", lambda: make_b2b_world(300, seed=7)),
])
def test_sample_world_regenerates_exactly(folder, make):
    root = DATA / folder
    world = make()
    for name, df in world.tables.items():
        pd.testing.assert_frame_equal(pd.read_parquet(root / f"{name}.parquet"), df, check_dtype=False)
    for name, df in world.truth.items():
        pd.testing.assert_frame_equal(pd.read_parquet(root / "_truth" / f"{name}.parquet"), df,
                                      check_dtype=False)
    assert json.loads((root / "_truth" / "params.json").read_text()) == world.params


@pytest.mark.parametrize("folder", ["b2c", "b2b"])
def test_sample_world_loads_cleanly(folder):
    tables = load_tables(DATA / folder)
    assert tables.customers is not None


def test_sample_data_stays_small():
    total = sum(f.stat().st_size for f in DATA.rglob("*") if f.is_file())
    assert total <= 5 * 2**20
