"""crmml.training: one library call trains every kind — checks first, register last."""

import pandas as pd
import pytest

import crmml
from crmml.exceptions import OutputError, ParameterError
from crmml.features import default_as_of
from crmml.training import ProgressEvent, prepare_training, train

AS_OF = pd.Timestamp("2025-12-01")
NOT_TABLES = object()  # the checks run before the data is touched: any object will do


@pytest.fixture(scope="module")
def world():
    from crmml.synthetic import make_b2c_world

    return make_b2c_world(600, seed=4)


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory):
    """One run through every step into a local SQLite store: crmml-clv version 1 is the champion."""
    import mlflow

    root = tmp_path_factory.mktemp("training")
    store = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(store)
    # Artifacts of a new experiment go under the working directory's ./mlruns unless told otherwise.
    mlflow.create_experiment("crmml-clv", artifact_location=(root / "artifacts").as_uri())
    events: list[ProgressEvent] = []
    result = train("clv", world.tables, AS_OF, params={"horizon_days": 180}, holdout_days=120,
                   tracking_uri=store, register=True, save=root / "model", plots_dir=root / "plots",
                   progress=events.append)
    yield result, store, root, events
    mlflow.set_tracking_uri(None)


def _client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _state(uri):
    """(champion version, all versions, number of runs) of crmml-clv."""
    client = _client(uri)
    champion = client.get_model_version_by_alias("crmml-clv", "champion").version
    versions = sorted(int(v.version) for v in client.search_model_versions("name='crmml-clv'"))
    runs = len(client.search_runs([client.get_experiment_by_name("crmml-clv").experiment_id]))
    return str(champion), versions, runs


def test_train_registers_and_the_champion_scores_identically(trained, world):
    result, store, root, _ = trained
    assert result.kind == "clv" and result.as_of == AS_OF
    assert result.model.horizon_days == 180 and result.model.as_of_ == AS_OF
    assert result.registry_uri == "models:/crmml-clv@champion" and result.tracked.version == "1"
    assert result.metrics["holdout_purchases_ratio"] > 0
    assert result.exclusions == result.model.exclusions_
    assert result.saved_to == root / "model" and (root / "model" / "crmml-model.json").is_file()
    assert sorted(result.plots) == ["calibration_by_frequency", "cumulative_tracking", "probability_alive_matrix"]
    assert all(p.is_file() for p in result.plots.values())

    expected = result.model.score(world.tables, AS_OF)
    champion = crmml.load_scorer("models:/crmml-clv@champion", tracking_uri=store)
    pd.testing.assert_frame_equal(champion.score(world.tables, AS_OF), expected)
    pd.testing.assert_frame_equal(crmml.load_scorer(root / "model").score(world.tables, AS_OF), expected)
    run = _client(store).get_run(result.run_id)
    assert run.data.metrics["holdout_purchases_ratio"] == pytest.approx(result.metrics["holdout_purchases_ratio"])
    assert run.data.params["horizon_days"] == "180"


def test_progress_reports_the_steps_in_order(trained):
    *_, events = trained
    started = [e.step for e in events if e.status == "start"]
    assert started == ["check", "holdout", "fit", "plots", "log", "save", "register"]
    assert [e.step for e in events if e.status == "result"] == ["log", "save", "register"]
    assert str(events[0]) == "… checking the MLflow tracking store"
    assert str(events[1]).startswith("  done in ") and events[1].seconds >= 0
    assert any(e.status == "info" and e.message.startswith("predicted/actual holdout purchases") for e in events)
    assert any(e.status == "info" and e.message.startswith("bgnbd.r = ") for e in events)


def test_without_mlflow_nothing_is_logged_and_as_of_defaults_to_the_models_sources(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train("clv", world.tables, log=False, holdout_days=0)
    assert result.tracked is None and result.run_id is None and result.registry_uri is None
    assert result.metrics == {} and result.evaluation is None and result.plots == {}
    assert result.as_of == default_as_of(world.tables, sources=("transactions",))
    assert list(tmp_path.iterdir()) == []  # no store, no plots, no files


@pytest.mark.parametrize("kwargs, error, match", [
    ({"kind": "nope"}, ParameterError, r"The 'kind' parameter of train must be one of 'churn', 'clv'"),
    ({"params": {"horizon": 3}}, ParameterError, r"Invalid parameter\(s\) 'horizon' for CLVModel"),
    ({"params": {"horizon_days": -3}}, ParameterError, r"The 'horizon_days' parameter of CLVModel must be"),
    ({"params": {"business": "retail"}}, ParameterError, r"The 'business' parameter of CLVModel"),
    ({"holdout_days": -1}, ParameterError, r"The 'holdout_days' parameter of train"),
    ({"holdout_days": float("nan")}, ParameterError, r"The 'holdout_days' parameter of train"),
    ({"register": True, "log": False}, ParameterError, r"The 'register' parameter of train needs MLflow"),
    ({"register": True, "alias": "latest"}, ParameterError, r"The 'alias' parameter must be"),
    ({"register": True, "name": "team/clv"}, ParameterError, r"The 'name' parameter must be"),
    ({"tracking_uri": "bogus://x"}, ParameterError, r"bogus"),
])
def test_every_setting_is_checked_before_the_data_is_touched(tmp_path, monkeypatch, kwargs, error, match):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    kind = kwargs.pop("kind", "clv")
    events = []
    with pytest.raises(error, match=match):
        train(kind, NOT_TABLES, AS_OF, progress=events.append, **kwargs)
    assert not [e for e in events if e.step != "check"]
    assert list(tmp_path.iterdir()) == []  # in particular no mlflow.db: an invalid alias leaves no run


def test_output_paths_are_checked_up_front(tmp_path):
    foreign = tmp_path / "reports"
    foreign.mkdir()
    (foreign / "q3.xlsx").write_text("x")
    with pytest.raises(OutputError, match="the folder is not empty and is not a crmml model artifact"):
        train("clv", NOT_TABLES, AS_OF, log=False, save=foreign)
    blocker = tmp_path / "plots"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="plots_dir .* is a file; expected a folder"):
        train("clv", NOT_TABLES, AS_OF, log=False, plots_dir=blocker)


def test_an_invalid_alias_leaves_the_champion_and_adds_no_run(trained, world):
    _, store, _, _ = trained
    before = _state(store)
    with pytest.raises(ParameterError, match="The 'alias' parameter"):
        train("clv", world.tables, AS_OF, holdout_days=0, tracking_uri=store, register=True, alias="v2")
    assert _state(store) == before


def test_a_save_that_fails_late_registers_nothing(trained, world, tmp_path):
    _, store, _, _ = trained
    champion, versions, runs = _state(store)
    target = tmp_path / "model"

    def meanwhile(event):  # someone writes into the save folder after the checks passed
        if event.step == "log" and event.status == "done":
            target.mkdir()
            (target / "notes.md").write_text("x")

    with pytest.raises(OutputError, match="not a crmml model artifact"):
        train("clv", world.tables, AS_OF, holdout_days=0, tracking_uri=store, register=True, save=target,
              progress=meanwhile)
    assert _state(store) == (champion, versions, runs + 1)  # the run was logged; nothing was registered


def test_prepare_training_returns_a_job_that_runs_later(world, tmp_path):
    job = prepare_training("clv", params={"transaction_model": "pareto_nbd"}, log=False, holdout_days=0)
    assert job.kind == "clv" and not job.log and job.name == "crmml-clv" and job.as_of_sources() == ("transactions",)
    result = job.run(world.tables, AS_OF)
    assert result.model.transaction_model == "pareto_nbd"
    assert not hasattr(job.model, "as_of_")  # the job's configuration stays unfitted
