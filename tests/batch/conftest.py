"""Fixtures of the batch tests: small worlds written as Parquet and models saved as artifacts (once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

AS_OF = pd.Timestamp("2025-07-01")


@pytest.fixture(scope="session")
def b2c_dir(tmp_path_factory):
    """A B2C world of 800 customers as Parquet files, with CLV and churn models fitted at AS_OF."""
    from crmml.churn import ChurnModel
    from crmml.clv import CLVModel
    from crmml.synthetic import make_b2c_world, write_world

    root = tmp_path_factory.mktemp("batch-b2c")
    world = make_b2c_world(800, seed=11)
    write_world(world, root / "data")
    CLVModel().fit(world.tables, AS_OF).save(root / "models" / "clv")
    ChurnModel(num_threads=1).fit(world.tables, AS_OF).save(root / "models" / "churn")
    return root


@pytest.fixture(scope="session")
def b2b_dir(tmp_path_factory):
    """A B2B world of 300 accounts with leads and deals, with lead-scoring and forecast models fitted at AS_OF."""
    from crmml.forecast import PipelineForecastModel
    from crmml.leadscore import LeadScoreModel
    from crmml.synthetic import make_b2b_world, write_world

    root = tmp_path_factory.mktemp("batch-b2b")
    world = make_b2b_world(300, n_leads=3000, seed=5)
    write_world(world, root / "data")
    LeadScoreModel(num_threads=1).fit(world.tables, AS_OF).save(root / "models" / "leadscore")
    PipelineForecastModel(num_threads=1, n_simulations=300, interval_origins=4).fit(
        world.tables, AS_OF).save(root / "models" / "forecast")
    return root


def b2c_config(root, output, **kw):
    from crmml.batch import BatchConfig

    base = {"data": root / "data", "output": output, "as_of": AS_OF, "n_partitions": 3,
            "models": {"clv": str(root / "models" / "clv"), "churn": str(root / "models" / "churn")}}
    return BatchConfig(**{**base, **kw})


def read_output(run_dir, top):
    """Every part file of ``run_dir/top/as_of=*`` concatenated (pandas)."""
    import pyarrow.parquet as pq

    files = sorted(run_dir.glob(f"{top}/as_of=*/part-*.parquet"))
    assert files, f"no part files under {run_dir / top}"
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
