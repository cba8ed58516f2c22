"""Writing worlds: single files, streaming parts, and equivalence with make_b2c_world."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq

from crmml.data import load_tables
from crmml.synthetic import B2CParams, make_b2b_world, make_b2c_world, write_b2c_world, write_world
from crmml.synthetic._b2c import arrow_to_frame


def _read_parts(folder):
    parts = sorted(folder.glob("part-*.parquet"))
    return pd.concat([arrow_to_frame(pq.read_table(p)) for p in parts], ignore_index=True), len(parts)


def test_streamed_world_equals_in_memory_world(tmp_path):
    params = B2CParams(block_size=500)
    calls = []
    counts = write_b2c_world(tmp_path, 2_300, seed=5, chunk_size=1_000, params=params,
                             progress=lambda done, total: calls.append((done, total)))
    world = make_b2c_world(2_300, seed=5, params=params)
    assert calls == [(1_000, 2_300), (2_000, 2_300), (2_300, 2_300)]
    for name, df in world.tables.items():
        got, n_parts = _read_parts(tmp_path / name)
        assert n_parts == 3
        pd.testing.assert_frame_equal(got, df)
        assert counts[name] == len(df)
    got, _ = _read_parts(tmp_path / "_truth" / "customers")
    pd.testing.assert_frame_equal(got, world.truth["customers"])
    assert json.loads((tmp_path / "_truth" / "params.json").read_text()) == world.params


def test_chunk_size_does_not_change_the_world(tmp_path):
    params = B2CParams(block_size=300)
    write_b2c_world(tmp_path / "a", 1_000, seed=2, chunk_size=300, params=params, truth=False)
    write_b2c_world(tmp_path / "b", 1_000, seed=2, chunk_size=10_000, params=params, truth=False)
    a, na = _read_parts(tmp_path / "a" / "transactions")
    b, nb = _read_parts(tmp_path / "b" / "transactions")
    assert (na, nb) == (4, 1)
    pd.testing.assert_frame_equal(a, b)
    assert not (tmp_path / "a" / "_truth").exists()


def test_streamed_folders_load_through_the_contract_loader(tmp_path):
    write_b2c_world(tmp_path, 500, seed=1)
    tables = load_tables(tmp_path)
    assert tables.n_rows()["customers"] == 500


def test_write_world_round_trips(tmp_path):
    world = make_b2b_world(60, seed=4)
    paths = write_world(world, tmp_path)
    assert paths["opportunities"] == tmp_path / "opportunities.parquet"
    assert (tmp_path / "_truth" / "renewals.parquet").exists()
    loaded = load_tables(tmp_path)
    for name, df in world.tables.items():
        pd.testing.assert_frame_equal(loaded[name][df.columns.tolist()], df, check_dtype=False)
    truth = pd.read_parquet(tmp_path / "_truth" / "opportunities.parquet")
    assert truth["win_probability"].tolist() == world.truth["opportunities"]["win_probability"].tolist()
    assert json.loads((tmp_path / "_truth" / "params.json").read_text()) == world.params
