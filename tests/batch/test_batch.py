"""The nightly batch end to end: outputs equal whole-table scoring, layout, manifest, publish, drift, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from crmml.batch import BatchConfig, load_config, run_batch
from crmml.batch._partition import _plain  # the part files' form: id column first, text categoricals
from tests.batch.conftest import AS_OF, b2c_config, read_output

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def b2c_run(b2c_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("b2c-out")
    return run_batch(b2c_config(b2c_dir, out), progress="quiet"), out


def test_partitioned_outputs_equal_whole_table_scoring(b2c_dir, b2c_run):
    from crmml import load_scorer
    from crmml.data import load_tables

    res, _ = b2c_run
    tables = load_tables(b2c_dir / "data")
    for name in ("clv", "churn"):
        model = load_scorer(b2c_dir / "models" / name)
        want = _plain(model.score(tables, AS_OF), "customer_id")
        got = read_output(res.run_dir, f"model={name}").sort_values("customer_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-12)
        assert res.manifest["outputs"][name]["rows"] == len(want)


def test_customer_view_joins_clv_and_churn(b2c_run):
    res, _ = b2c_run
    view = read_output(res.run_dir, "customer_view").set_index("customer_id")
    clv = read_output(res.run_dir, "model=clv").set_index("customer_id")
    churn = read_output(res.run_dir, "model=churn").set_index("customer_id")
    assert list(view.columns) == ["clv", "segment", "churn_probability", "risk_tier", "action", "value_at_risk"]
    assert view.index.is_unique and set(view.index) == set(clv.index) | set(churn.index)
    both = view.index.intersection(clv.index).intersection(churn.index)
    np.testing.assert_allclose(view.loc[both, "value_at_risk"],
                               clv.loc[both, "clv"] * churn.loc[both, "churn_probability"])
    assert (view.loc[both, "segment"] == clv.loc[both, "segment"]).all()
    assert (view.loc[both, "action"] == churn.loc[both, "action"]).all()


def test_layout_success_marker_current_link_and_manifest(b2c_run, b2c_dir):
    res, out = b2c_run
    assert res.run_dir == out / "runs" / res.run_id
    assert os.readlink(out / "current") == os.path.join("runs", res.run_id)
    assert (res.run_dir / "_SUCCESS").is_file()
    parts = sorted(p.relative_to(res.run_dir).as_posix() for p in res.run_dir.rglob("*.parquet"))
    assert parts == [f"{top}/as_of=2025-07-01/part-{i:05d}.parquet"
                     for top in ("customer_view", "model=churn", "model=clv") for i in range(3)]
    assert not (out / ".staging").exists()
    m = json.loads((res.run_dir / "manifest.json").read_text())
    assert m == res.manifest
    assert m["status"] == "succeeded" and m["format"] == "crmml-batch-run" and m["n_partitions"] == 3
    assert set(m["input"]) == {"customers", "transactions", "interactions"}
    assert m["input"]["transactions"]["rows"] > 0 and len(m["input"]["transactions"]["sha256"]) == 64
    assert {"load", "spill", "score", "drift"} <= set(m["timings_seconds"])  # publishing follows the manifest
    assert m["models"]["churn"]["kind"] == "churn" and len(m["models"]["churn"]["artifact_sha256"]) == 64
    # no personal data: no customer id appears anywhere in the manifest or the drift report
    ids = read_output(res.run_dir, "model=clv")["customer_id"].head(50).tolist()
    text = (res.run_dir / "manifest.json").read_text() + (res.run_dir / "drift.md").read_text()
    assert not [i for i in ids if f'"{i}"' in text or f" {i} " in text]


def test_exclusions_are_counted_like_whole_table_scoring(b2c_dir, b2c_run):
    from crmml import load_scorer
    from crmml.data import ExclusionReport, load_tables

    res, _ = b2c_run
    report = ExclusionReport()
    load_scorer(b2c_dir / "models" / "churn").score(load_tables(b2c_dir / "data"), AS_OF, report=report)
    want = sorted((e["table"], e["rule"], e["unit"], e["n_rows"]) for e in report.to_dict())
    got = sorted((e["table"], e["rule"], e["unit"], e["n_rows"]) for e in res.manifest["exclusions"]["churn"])
    assert got == want


def test_drift_is_zero_at_the_fit_as_of_on_the_fit_data(b2c_run):
    res, _ = b2c_run
    for name in ("clv", "churn"):
        d = res.manifest["drift"][name]
        assert d["reference"] is True and d["columns"]
        assert d["max_psi"] == pytest.approx(0.0, abs=1e-12), d["columns"][:3]
        assert d["watch"] == d["act"] == 0
    assert res.drift_status == "ok"
    assert (res.run_dir / "drift.md").is_file() and (res.run_dir / "drift.png").stat().st_size > 1000


def test_rerun_of_a_published_run_computes_nothing(b2c_dir, b2c_run):
    res, out = b2c_run
    again = run_batch(b2c_config(b2c_dir, out), progress="quiet")
    assert again.already_published and again.run_id == res.run_id and again.manifest == res.manifest


def test_previous_run_stays_current_until_the_new_one_is_published(b2c_dir, tmp_path):
    first = run_batch(b2c_config(b2c_dir, tmp_path, as_of="2025-06-01"), progress="quiet")
    seen = []

    def watch(event):
        target = os.readlink(tmp_path / "current")
        seen.append((event.step, target, (tmp_path / target / "_SUCCESS").is_file()))

    second = run_batch(b2c_config(b2c_dir, tmp_path), progress=watch)
    before = [s for s in seen if s[0] != "publish"]
    assert before and all(t == os.path.join("runs", first.run_id) and ok for _, t, ok in before)
    assert os.readlink(tmp_path / "current") == os.path.join("runs", second.run_id)
    assert (tmp_path / "runs" / first.run_id / "_SUCCESS").is_file()  # kept: a reader may still hold it


def test_keep_runs_prunes_the_oldest(b2c_dir, tmp_path):
    ids = [run_batch(b2c_config(b2c_dir, tmp_path, as_of=d, keep_runs=2), progress="quiet").run_id
           for d in ("2025-05-01", "2025-06-01", "2025-07-01")]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(ids[1:])


def test_drift_act_on_shifted_data_and_cli_fail_on_drift(b2c_dir, tmp_path, capsys):
    from crmml.cli import main

    data = tmp_path / "data"
    data.mkdir()
    for f in ("customers.parquet", "interactions.parquet"):
        (data / f).write_bytes((b2c_dir / "data" / f).read_bytes())
    tx = pd.read_parquet(b2c_dir / "data" / "transactions.parquet")
    tx["amount"] = tx["amount"] * 5.0  # every order five times as large
    tx.to_parquet(data / "transactions.parquet")
    cfg = tmp_path / "batch.toml"
    cfg.write_text(f'data = "data"\noutput = "out"\nas_of = "2025-07-01"\nn_partitions = 2\n[models]\n'
                   f'clv = "{b2c_dir / "models" / "clv"}"\n')
    code = main(["batch", "run", "--config", str(cfg), "--quiet", "--fail-on-drift"])
    err = capsys.readouterr().err
    assert code == 7, err
    assert "drift at the act level (PSI > 0.25)" in err
    m = json.loads((tmp_path / "out" / "current" / "manifest.json").read_text())
    cols = {c["column"]: c for c in m["drift"]["clv"]["columns"]}
    assert cols["monetary"]["status"] == "act" if "monetary" in cols else any(
        c["status"] == "act" for c in cols.values())
    assert (tmp_path / "out" / "current" / "_SUCCESS").is_file()  # published all the same


def test_b2b_lead_list_and_forecast_periods(b2b_dir, tmp_path):
    from crmml import load_scorer
    from crmml.data import load_tables
    from crmml.leadscore import daily_list

    cfg = BatchConfig(data=b2b_dir / "data", output=tmp_path, as_of=AS_OF, n_partitions=3,
                      models={"leads": str(b2b_dir / "models" / "leadscore"),
                              "deals": str(b2b_dir / "models" / "forecast")})
    res = run_batch(cfg, progress="quiet")
    tables = load_tables(b2b_dir / "data")
    lead_model = load_scorer(b2b_dir / "models" / "leadscore")
    listed = read_output(res.run_dir, "lead_list")
    want = daily_list(lead_model, tables, AS_OF, previous=pd.DataFrame({"lead_id": [], "score": []})).frame
    assert listed["lead_id"].tolist() == want["lead_id"].astype(str).tolist()
    assert listed["rank"].tolist() == list(range(1, len(want) + 1))
    np.testing.assert_array_equal(listed["score"].to_numpy(), want["score"].to_numpy())
    assert (listed["change"].astype(str) == "new").all()  # no previous run to compare with
    fc_model = load_scorer(b2b_dir / "models" / "forecast")
    periods = read_output(res.run_dir, "forecast_periods")
    fc = fc_model.forecast(tables, AS_OF, periods=2)
    np.testing.assert_allclose(periods[["expected", "p10", "p50", "p90"]].to_numpy(),
                               fc[["expected", "p10", "p50", "p90"]].to_numpy())
    deals = read_output(res.run_dir, "model=deals").sort_values("opportunity_id").reset_index(drop=True)
    whole = _plain(fc_model.score(tables, AS_OF), "opportunity_id")
    whole["expected_close_at"] = whole["expected_close_at"].dt.floor("us")  # part files hold microseconds
    pd.testing.assert_frame_equal(deals, whole, check_dtype=False, check_exact=False, rtol=1e-12)
    # the next day's list compares with this run's
    res2 = run_batch(BatchConfig(**{**cfg.__dict__, "as_of": AS_OF + pd.Timedelta(days=1)}), progress="quiet")
    assert res2.manifest["steps"]["lead_list"]["compared_with_run"] == res.run_id
    assert not (read_output(res2.run_dir, "lead_list")["change"].astype(str) == "new").all()


# ----------------------------------------------------------------------------- configuration errors
def test_config_errors_name_the_file_and_key(tmp_path):
    from crmml.exceptions import ParameterError

    cfg = tmp_path / "b.toml"
    cfg.write_text('data = "d"\noutput = "o"\nmodles = {}\n')
    with pytest.raises(ParameterError, match=r"b\.toml: unknown key\(s\) 'modles'\. Known keys: .*Fix: correct"):
        load_config(cfg)
    cfg.write_text('data = "d"\noutput = "o"\n[models]\nchurn = 3\n')
    with pytest.raises(ParameterError) as e:
        load_config(cfg)
    assert str(e.value) == (f"{cfg}: 'models.churn' must be a model URI (models:/name@alias) or a model folder. "
                            'Got 3 instead. Fix: write it as a string, e.g. "models:/crmml-churn@champion".')
    cfg.write_text('data = "d"\noutput = "o"\nas_of = "01/02/2025"\n[models]\nchurn = "m"\n')
    with pytest.raises(ParameterError, match=r"b\.toml: .*as_of"):
        load_config(cfg)
    with pytest.raises(ParameterError, match="No batch configuration at"):
        load_config(tmp_path / "missing.toml")
    cfg.write_text('data = "d"\noutput = "o"\n[models]\ncustomer_view = "m"\n')
    with pytest.raises(ParameterError, match="output names of lower-case letters"):
        load_config(cfg)


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text('data = "d"\noutput = "o"\ntracking_uri = "sqlite:///m.db"\n[models]\nchurn = "models/churn"\n'
                   'clv = "models:/crmml-clv@champion"\n')
    c = load_config(cfg)
    assert c.data == tmp_path / "d" and c.output == tmp_path / "o"
    assert c.models == {"churn": str(tmp_path / "models" / "churn"), "clv": "models:/crmml-clv@champion"}
    assert c.tracking_uri == f"sqlite:///{tmp_path / 'm.db'}"


def test_cli_exit_codes_for_user_mistakes(b2c_dir, tmp_path, capsys):
    from crmml.cli import main

    assert main(["batch", "run", "--config", str(tmp_path / "none.toml")]) == 5
    assert "No batch configuration at" in capsys.readouterr().err
    cfg = tmp_path / "b.toml"
    cfg.write_text(f'data = "{tmp_path}"\noutput = "o"\n[models]\nchurn = "{b2c_dir / "models" / "churn"}"\n')
    assert main(["batch", "run", "--config", str(cfg)]) == 3  # no contract table in the data folder
    cfg.write_text(f'data = "{b2c_dir / "data"}"\noutput = "o"\n[models]\nchurn = "{tmp_path / "nope"}"\n')
    assert main(["batch", "run", "--config", str(cfg)]) == 4
    assert "No model at" in capsys.readouterr().err


def test_second_batch_on_the_same_output_is_refused_while_one_runs(b2c_dir, tmp_path):
    from crmml.batch import RunStore
    from crmml.exceptions import OutputError

    holder = RunStore(tmp_path, "x", AS_OF)
    with holder.lock():
        with pytest.raises(OutputError, match="Another crmml batch is writing to"):
            run_batch(b2c_config(b2c_dir, tmp_path), progress="quiet")


def test_progress_plain_lines_and_quiet(b2c_dir, tmp_path, capsys):
    from crmml.cli import main

    cfg = tmp_path / "b.toml"
    cfg.write_text(f'data = "{b2c_dir / "data"}"\noutput = "o"\nas_of = "2025-07-01"\nn_partitions = 2\n'
                   f'[models]\nchurn = "{b2c_dir / "models" / "churn"}"\n')
    assert main(["batch", "run", "--config", str(cfg), "--progress", "plain"]) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert any("crmml batch [score] partition 2/2: churn" in x for x in lines)
    assert any("crmml batch [publish] published" in x for x in lines)
    assert out.startswith("run 2025-07-01-") and "already published" not in out
    assert main(["batch", "run", "--config", str(cfg), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "already published" in out


def test_worker_processes_write_the_same_outputs(b2c_dir, b2c_run, tmp_path):
    res, _ = b2c_run
    two = run_batch(b2c_config(b2c_dir, tmp_path, workers=2), progress="quiet")
    assert two.run_id == res.run_id  # the partitions, not the number of processes, define the run
    for top in ("model=clv", "model=churn", "customer_view"):
        for f in sorted((res.run_dir / top).rglob("*.parquet")):
            pd.testing.assert_frame_equal(pd.read_parquet(two.run_dir / f.relative_to(res.run_dir)),
                                          pd.read_parquet(f), check_exact=True)
    assert two.manifest["drift"] == res.manifest["drift"]
    assert two.manifest["exclusions"] == res.manifest["exclusions"]


def test_a_contract_violation_stops_the_run_unpublished_with_a_failure_manifest(b2c_dir, tmp_path, capsys):
    from crmml.cli import main

    data = tmp_path / "data"
    data.mkdir()
    for f in ("customers.parquet", "interactions.parquet"):
        (data / f).write_bytes((b2c_dir / "data" / f).read_bytes())
    tx = pd.read_parquet(b2c_dir / "data" / "transactions.parquet")
    tx.loc[tx.index[:3], "amount"] = np.inf  # three broken rows
    tx.to_parquet(data / "transactions.parquet")
    cfg = tmp_path / "batch.toml"
    cfg.write_text(f'data = "data"\noutput = "out"\nas_of = "2025-07-01"\nn_partitions = 2\n[models]\n'
                   f'clv = "{b2c_dir / "models" / "clv"}"\n')
    assert main(["batch", "run", "--config", str(cfg), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "transactions" in err and "amount" in err and "finite" in err
    assert not (tmp_path / "out" / "current").exists()  # nothing published
    (staging,) = (tmp_path / "out" / ".staging").iterdir()
    m = json.loads((staging / "manifest.json").read_text())
    assert m["status"] == "failed" and m["error"]["type"] == "DataContractError"
    assert {(p["table"], p["column"]) for p in m["error"]["problems"]} == {("transactions", "amount")}
    assert sum(p["n_rows"] for p in m["error"]["problems"]) == 3
    ids = tx["customer_id"].head(3).tolist() + tx["transaction_id"].head(3).tolist()
    assert not [i for i in ids if i in (staging / "manifest.json").read_text()]  # no example ids
