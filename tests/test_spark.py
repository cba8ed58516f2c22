"""The Spark engine (pyspark in local mode): the same partitions, the same rows, the same outputs as the local one."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = [
    pytest.mark.slow,  # a JVM, Python workers and 9 local-vs-Spark batch runs: about a minute on 2 busy cores
    # pandera imports pyspark.pandas at the first validation; pyspark then warns about pandas 3
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

AS_OF = "2025-07-01"
N = 4


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("pyspark needs Java")
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSPARK_PYTHON", sys.executable)  # the workers need this interpreter's crmml
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
            session = (SparkSession.builder.master("local[2]").appName("crmml-tests")
                       .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                       .config("spark.driver.memory", "1g").getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def b2c(tmp_path_factory):
    from crmml.churn import ChurnModel
    from crmml.clv import CLVModel
    from crmml.synthetic import make_b2c_world, write_world

    root = tmp_path_factory.mktemp("b2c")
    world = make_b2c_world(400, seed=3)
    write_world(world, root / "data", truth=False)
    CLVModel().fit(world.tables, AS_OF).save(root / "clv")
    ChurnModel(num_threads=1).fit(world.tables, AS_OF).save(root / "churn")
    return root, {"clv": str(root / "clv"), "churn": str(root / "churn")}


@pytest.fixture(scope="module")
def b2b(tmp_path_factory):
    from crmml.forecast import PipelineForecastModel
    from crmml.leadscore import LeadScoreModel
    from crmml.synthetic import make_b2b_world, write_world

    root = tmp_path_factory.mktemp("b2b")
    world = make_b2b_world(150, seed=3)
    write_world(world, root / "data", truth=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small world: the lead model may not beat its baseline
        LeadScoreModel(num_threads=1).fit(world.tables, AS_OF).save(root / "lead")
        PipelineForecastModel(num_threads=1, n_cutoffs=8, n_simulations=200, interval_origins=2).fit(
            world.tables, AS_OF).save(root / "fc")
    return root, {"lead": str(root / "lead"), "fc": str(root / "fc")}


@pytest.fixture(scope="module")
def b2b_local(b2b, tmp_path_factory):
    """The local engine's run of the B2B world (the reference of two tests)."""
    root, models = b2b
    return _run(root / "data", tmp_path_factory.mktemp("b2b-local"), models, "local")


def _run(data: Path, out: Path, models: dict[str, str], engine: str, progress="quiet"):
    from crmml.batch import BatchConfig, run_batch

    config = BatchConfig(data=data, output=out, models=models, as_of=AS_OF, n_partitions=N, engine=engine)
    return run_batch(config, progress=progress)


def _read(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in sorted(folder.glob("part-*.parquet"))], ignore_index=True)


_SORT = {"lead_list": "lead_id", "forecast_periods": "period_start"}


def _assert_same_run(local: Path, spark: Path) -> list[str]:
    """Every output of the two runs: same rows, values and dtypes; the manifests' results equal."""
    outs = sorted(str(p.relative_to(local)) for p in local.glob("*/as_of=*"))
    assert outs == sorted(str(p.relative_to(spark)) for p in spark.glob("*/as_of=*"))
    for rel in outs:
        a, b = _read(local / rel), _read(spark / rel)
        key = _SORT.get(rel.split("/")[0], a.columns[0])
        a, b = (f.sort_values(key, kind="stable").reset_index(drop=True) for f in (a, b))
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=rel)
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (local, spark))
    assert (ma["engine"], mb["engine"]) == ("local", "spark")
    assert ma["outputs"] == mb["outputs"]
    assert ma["exclusions"] == mb["exclusions"]
    assert ma["drift"] == mb["drift"]
    assert ma["run_id"] == mb["run_id"]  # the engine is not part of what was computed
    for step in ma["steps"]:
        sa, sb = ({k: v for k, v in m["steps"][step].items() if k != "seconds"} for m in (ma, mb))
        assert sa == sb
    return outs


def test_b2c_outputs_identical_to_local(spark, b2c, tmp_path):
    root, models = b2c
    events = []
    local = _run(root / "data", tmp_path / "local", models, "local")
    remote = _run(root / "data", tmp_path / "spark", models, "spark", progress=events.append)
    outs = _assert_same_run(local.run_dir, remote.run_dir)
    assert {o.split("/")[0] for o in outs} == {"model=clv", "model=churn", "customer_view"}
    assert local.manifest["outputs"]["customer_view"]["rows"] == 400
    done = [e.done for e in events if e.step == "score" and e.status == "advance"]
    assert done and done == sorted(done) and done[-1] == N


def test_b2b_outputs_identical_to_local(spark, b2b, b2b_local, tmp_path):
    root, models = b2b
    local = b2b_local
    remote = _run(root / "data", tmp_path / "spark", models, "spark")
    outs = _assert_same_run(local.run_dir, remote.run_dir)
    assert {o.split("/")[0] for o in outs} == {"model=lead", "model=fc", "lead_list", "forecast_periods"}


IDS = ["c1", "c2", "C1", "", " ", "  c1", "é", "e\u0301", "日本語", "🙂", "\u00a0", "a" * 300, "0", "1.0", "None",
       "nan", "tab\tid", "line\nid", "ß", "ẞ"]


def test_spark_split_equals_local_spill(spark, tmp_path):
    """Each partition's frames (what run_partition gets) equal the local spill's: dtypes and row order included.

    Odd ids land in partition_of's partition; a folder of files that Spark splits further keeps the local
    order; opportunity_history rows follow their opportunity's customer (unknown ones: their own id's hash);
    rows at or after as_of are dropped; only the partitions to do are built.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crmml.features import partition_of, spill_tables
    from crmml.spark._engine import partition_tables_spark

    ids = (IDS + [None]) * 3
    hours = pd.to_timedelta(np.arange(len(ids)), unit="h")
    customers = pd.DataFrame({"customer_id": pd.Series(ids, dtype="str"),
                              "signup_at": pd.Timestamp("2025-06-29").as_unit("ns") + hours})  # some after as_of
    folder = tmp_path / "customers.parquet"
    folder.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(ids))[::-1], 3)):  # three files, small row groups
        pq.write_table(pa.Table.from_pandas(customers.iloc[rows], preserve_index=False),
                       folder / f"part-{k}.parquet", row_group_size=4)
    opps = pd.DataFrame({"opportunity_id": [f"o{k}" for k in range(12)], "customer_id": IDS[:12],
                         "created_at": pd.Timestamp("2025-01-01").as_unit("ns"), "amount": 1.0,
                         "stage": "Prospecting", "closed_at": pd.NaT, "won": pd.array([None] * 12, "boolean")})
    opps.to_parquet(tmp_path / "opportunities.parquet", index=False)
    hist = pd.DataFrame({"opportunity_id": [f"o{k}" for k in range(16)] * 2,  # o12..o15: unknown opportunities
                         "ts": pd.Timestamp("2025-02-01").as_unit("ns") + pd.to_timedelta(np.arange(32), unit="D"),
                         "stage": "Prospecting"})
    hist.to_parquet(tmp_path / "opportunity_history.parquet", index=False)
    paths = {"customers": folder, "opportunities": tmp_path / "opportunities.parquet",
             "opportunity_history": tmp_path / "opportunity_history.parquet"}
    n = 5
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1500")  # several Spark splits per file
    try:
        got = partition_tables_spark(paths, AS_OF, n_partitions=n, todo=[0, 2, 3, 4])
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    spill = spill_tables(paths, AS_OF, tmp_path / "spill", n_partitions=n)
    assert sorted(got) == [0, 2, 3, 4]
    for i, frames in got.items():
        want = spill.raw_frames(i)
        assert list(frames) == list(want)
        for name in want:
            pd.testing.assert_frame_equal(frames[name], want[name], check_exact=True, obj=f"{name} part {i}")
        assert (partition_of(frames["customers"]["customer_id"], n) == i).all()
    assert sum(len(f["customers"]) for f in got.values()) + len(spill.raw_frames(1)["customers"]) == sum(
        customers["signup_at"] < pd.Timestamp(AS_OF))


def test_contract_error_raised_like_local(spark, b2c, tmp_path):
    """A partition breaking the contract fails the Spark run with the local engine's error, type and message."""
    from crmml.exceptions import DataContractError

    root, models = b2c
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    tx = pd.read_parquet(data / "transactions.parquet")
    tx.loc[5, "amount"] = np.nan
    tx.to_parquet(data / "transactions.parquet", index=False)
    with pytest.raises(DataContractError) as local:
        _run(data, tmp_path / "local", models, "local")
    with pytest.raises(DataContractError) as remote:
        _run(data, tmp_path / "spark", models, "spark")
    assert type(remote.value) is type(local.value)
    assert str(remote.value) == str(local.value)
    assert remote.value.problems == local.value.problems


def test_score_spark_dataframes(spark, b2b, b2b_local, tmp_path):
    """Spark DataFrames in (microsecond timestamps, as Spark writes them), DataFrames out, values as the batch's."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from crmml.spark import score_spark

    root, models = b2b
    src = tmp_path / "us"
    src.mkdir()
    tables = {}
    for f in sorted((root / "data").glob("*.parquet")):
        pq.write_table(pq.read_table(f), src / f.name, coerce_timestamps="us")
        tables[f.stem] = spark.read.parquet(str(src / f.name))
    got = score_spark(spark, tables, AS_OF, models, output=tmp_path / "out", n_partitions=N)
    assert set(got) == {"lead", "fc"}
    local = b2b_local
    for name in got:
        want = _read(local.run_dir / f"model={name}" / "as_of=2025-07-01")
        assert got[name].count() == len(want)
        assert got[name].columns == list(want.columns)
    published = (tmp_path / "out" / "current").resolve()
    for name, key in (("lead", "lead_id"), ("fc", "opportunity_id")):
        a = _read(local.run_dir / f"model={name}" / "as_of=2025-07-01").sort_values(key).reset_index(drop=True)
        b = _read(published / f"model={name}" / "as_of=2025-07-01").sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    manifest = json.loads((published / "manifest.json").read_text())
    assert manifest["rows"] == {k: v["rows"] for k, v in local.manifest["outputs"].items() if k in ("lead", "fc")}
    # nanosecond times come back as Spark timestamps (to the microsecond)
    fc = _read(published / "model=fc" / "as_of=2025-07-01").sort_values("opportunity_id")
    micros = [r[0] for r in got["fc"].orderBy("opportunity_id").select(F.unix_micros("expected_close_at")).collect()]
    want = fc["expected_close_at"].astype("datetime64[us]").astype("int64").where(fc["expected_close_at"].notna())
    assert [None if m is None else int(m) for m in micros] == [None if pd.isna(v) else int(v) for v in want]


def test_import_without_pyspark(monkeypatch):
    from crmml.exceptions import ParameterError

    for name in [m for m in sys.modules if m == "crmml.spark" or m.startswith("crmml.spark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(ParameterError, match=r"pip install 'crmml\[spark\]'"):
        importlib.import_module("crmml.spark")
