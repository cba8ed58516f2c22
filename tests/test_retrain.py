"""crmml.retrain / ``crmml retrain``: a challenger replaces the champion only when the gate passes."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from crmml.exceptions import IncompatibleArtifactError, InsufficientDataError, ParameterError
from crmml.retrain import GateRule, retrain
from crmml.scoring import scorer_class
from crmml.tracking import alias_version, log_scorer
from crmml.training import train

AS_OF = pd.Timestamp("2025-07-01")
HOLDOUT = 180
START = AS_OF - pd.Timedelta(days=HOLDOUT)
WEEK_AGO = AS_OF - pd.Timedelta(days=7)  # a weekly schedule: last week's champion saw 173 days of the holdout
CHURN = {"num_threads": 1}


@pytest.fixture(scope="module")
def world():
    from crmml.synthetic import make_b2c_world

    return make_b2c_world(800, seed=11)


@pytest.fixture(scope="module")
def weekly_champion(world):
    """Last week's champion: the challenger's settings, trained a week before AS_OF (fitted once, registered
    under each test's own name)."""
    return scorer_class("churn")(**CHURN).fit(world.tables, WEEK_AGO)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One SQLite store for the module (a new store costs seconds of schema migrations); every test
    registers under its own model name. The experiments' artifacts go to the temporary folder."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("retrain")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    for name in ("crmml-churn", "crmml-clv", "crmml-retrain"):
        client.create_experiment(name, artifact_location=(root / name).as_uri())
    return uri


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything MLflow would put under ./mlruns stays out of the repository
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(None)  # log_scorer sets the process-wide URI


@pytest.fixture
def store(shared_store):
    return shared_store


def _client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _versions(uri, name):
    return sorted(int(v.version) for v in _client(uri).search_model_versions(f"name='{name}'"))


def _decision_run(uri, run_id):
    run = _client(uri).get_run(run_id)
    assert _client(uri).get_experiment(run.info.experiment_id).name == "crmml-retrain"
    return run


def _shuffled_labels(original):
    def labels(t, ts, h):
        out = original(t, ts, h).copy()
        out.iloc[:, 0] = np.random.default_rng(0).permutation(out.iloc[:, 0].to_numpy())
        return out

    return labels


def _cripple_every_fit(monkeypatch):
    """Every churn fit from now on learns from shuffled labels (a broken training: same settings, bad model)."""
    cls = scorer_class("churn")
    fit = cls.fit

    def crippled(self, tables, as_of):
        self._labels = _shuffled_labels(cls._labels.__get__(self))
        try:
            return fit(self, tables, as_of)
        finally:
            del self._labels

    monkeypatch.setattr(cls, "fit", crippled)


def _register(model, world, uri, name="crmml-churn"):
    """Log and register a fitted model as the champion of ``name``."""
    return log_scorer(model, tables=world.tables, as_of=model.as_of_, register=True, model_name=name,
                      tracking_uri=uri)


# ------------------------------------------------------------------------------------------ the rule
def test_gate_rule_supervised_checks_auc_and_calibration():
    rule = GateRule()
    champ = {"roc_auc": 0.80, "ece": 0.020, "brier": 0.15}
    ok = rule.checks(champ, {"roc_auc": 0.7951, "ece": 0.0299, "brier": 0.2})
    assert [c.metric for c in ok] == ["roc_auc", "ece"] and all(c.passed for c in ok)
    assert str(ok[0]) == "ROC AUC 0.7951 >= 0.8000 - 0.005 = 0.7950"
    assert str(ok[1]) == "ECE 0.0299 <= 0.0200 + 0.01 = 0.0300"
    assert all(c.passed for c in rule.checks(champ, champ))  # an identical model always passes
    low, bad_cal = rule.checks(champ, {"roc_auc": 0.7949, "ece": 0.0301})
    assert not low.passed and not bad_cal.passed
    assert str(low) == "ROC AUC 0.7949 < 0.8000 - 0.005 = 0.7950"
    brier = rule.checks({"roc_auc": 0.8, "brier": 0.1}, {"roc_auc": 0.8, "brier": 0.105})
    assert brier[1].metric == "brier" and brier[1].passed  # Brier when ECE is missing
    with pytest.raises(InsufficientDataError, match="ROC AUC is undefined"):
        rule.checks({"ece": 0.0, "brier": 0.0}, {"ece": 0.0, "brier": 0.0})


def test_gate_rule_clv_allows_two_percent_more_error():
    rule = GateRule()
    (ok,) = rule.checks({"holdout_purchases_mae": 1.0}, {"holdout_purchases_mae": 1.02})
    (worse,) = rule.checks({"holdout_purchases_mae": 1.0}, {"holdout_purchases_mae": 1.0201})
    assert ok.passed and not worse.passed and not ok.higher_is_better
    assert str(worse) == "purchases MAE 1.0201 > 1.0000 x 1.02 = 1.0200"
    with pytest.raises(ParameterError, match=r"The 'auc_tolerance' parameter of GateRule must be"):
        GateRule(auc_tolerance=-0.1)
    assert GateRule().baseline_margin == 0.0 and GateRule(baseline_margin=-0.02).to_params()["rule_baseline_margin"] \
        == -0.02
    with pytest.raises(ParameterError, match=r"The 'baseline_margin' parameter of GateRule must be"):
        GateRule(baseline_margin=1.5)


# ------------------------------------------------------------------------------ evaluate_window hooks
def test_windows_evaluate_fitted_models_without_changing_them(world):
    t = world.tables
    churn = scorer_class("churn")(**CHURN).fit(t, START)
    ev = churn.evaluate_window(t, START, AS_OF)
    assert ev.cutoffs == (START, START + pd.Timedelta(days=90))  # two non-overlapping 90-day outcome windows
    assert ev.metrics["n"] == 1600 and 0.8 < ev.metrics["roc_auc"] < 1 and len(ev.outcomes_sha256) == 64
    with pytest.raises(ParameterError, match=r"at least one label window of horizon_days=90 days"):
        churn.evaluate_window(t, AS_OF - pd.Timedelta(days=60), AS_OF)

    from crmml.clv import evaluate_holdout

    clv = scorer_class("clv")().fit(t, START)
    window = clv.evaluate_window(t, START, AS_OF)
    assert clv.horizon_days == 365  # the copy predicts over the window; the model is unchanged
    refit = evaluate_holdout(t, START, AS_OF)  # the training holdout check: same comparison, fitted there
    assert window.metrics["holdout_purchases_mae"] == pytest.approx(refit.metrics["holdout_purchases_mae"])
    assert window.outcomes_sha256 == refit.outcomes_sha256


# ------------------------------------------------------------------------------------ the decisions
def test_no_champion_promotes_and_sets_the_alias(world, store):
    events = []
    result = retrain("churn", world.tables, AS_OF, tracking_uri=store, params=CHURN, holdout_days=HOLDOUT,
                     progress=events.append)
    assert result.promoted and result.decision == "promoted"
    assert result.reason == "no champion: no version of 'crmml-churn' has the alias 'champion'"
    assert result.champion_version is None and result.champion_metrics == {} and result.checks == ()
    assert result.registered_version == "1" and alias_version("crmml-churn", "champion", tracking_uri=store) == "1"
    assert result.model.as_of_ == AS_OF and result.challenger.as_of_ == START  # registered: the refit on everything
    assert (result.holdout_start, result.holdout_end) == (START, AS_OF)
    run = _decision_run(store, result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["crmml.decision"] == "promoted" and run.data.tags["crmml.registered_version"] == "1"
    assert run.data.metrics["promoted"] == 1.0 and "challenger_roc_auc" in run.data.metrics
    assert not [k for k in run.data.metrics if k.startswith("champion_") and k != "champion_saw_holdout"]
    assert run.data.params["champion_version"] == "none" and run.data.params["holdout_days"] == "180.0"
    assert run.data.params["champion_compared"] == "none" and "crmml.champion_compared" not in run.data.tags
    assert run.data.tags["crmml.train_run_id"] == result.tracked.run_id
    # the naive baseline (churn: recency_days) on the holdout's rows, logged even without a champion
    assert result.baseline_column == "recency_days" and result.baseline.beats_baseline
    assert result.baseline.model.roc_auc == pytest.approx(result.challenger_metrics["roc_auc"])  # the same rows
    assert run.data.metrics["beats_baseline"] == 1.0 and run.data.params["baseline"] == "recency_days"
    assert run.data.metrics["baseline_roc_auc"] == pytest.approx(result.baseline.baseline.roc_auc)
    assert run.data.metrics["baseline_roc_auc"] < run.data.metrics["challenger_roc_auc"] - 0.01
    assert run.data.tags["crmml.baseline"] == "recency_days: beaten by the challenger on the holdout"
    steps = [e.step for e in events if e.status == "start"]
    assert steps == ["check", "champion", "holdout", "evaluate", "baseline", "decision", "fit", "plots", "log",
                     "register"]


def test_an_equal_challenger_is_promoted(world, store):
    """A champion trained as of the holdout start with the same settings: identical metrics, a clean holdout."""
    train("churn", world.tables, START, params=CHURN, holdout_days=0, tracking_uri=store, register=True,
          name="equal")
    result = retrain("churn", world.tables, AS_OF, name="equal", tracking_uri=store, params=CHURN,
                     holdout_days=HOLDOUT)
    assert result.champion_version == "1" and not result.champion_saw_holdout and result.holdout_note is None
    assert result.champion_compared == "registered" and result.champion_refit is None
    assert result.champion_metrics == result.challenger_metrics == result.champion_registered_metrics
    assert result.promoted and result.reason.startswith("the challenger is not worse: ROC AUC ")
    assert result.registered_version == "2" and alias_version("equal", "champion", tracking_uri=store) == "2"
    run = _decision_run(store, result.run_id)
    assert run.data.tags["crmml.decision"] == "promoted"
    assert run.data.metrics["champion_roc_auc"] == run.data.metrics["challenger_roc_auc"]
    assert run.data.tags["crmml.champion_compared"] == "registered"
    assert run.data.tags["crmml.champion_compared_reason"] == (
        "the champion was trained as of 2025-01-02, not after the holdout start 2025-01-02: it saw none of the "
        "holdout, so the registered champion was compared")
    assert run.data.metrics["champion_saw_holdout_days"] == 0.0


def test_a_bad_champion_is_replaced_by_a_good_challenger(world, store, monkeypatch):
    cls = scorer_class("churn")
    bad = cls(**CHURN)
    bad._labels = _shuffled_labels(bad._labels)  # trained on shuffled labels: ranks at random
    bad.fit(world.tables, START)
    del bad._labels
    _register(bad, world, store, "bad-champion")
    result = retrain("churn", world.tables, AS_OF, name="bad-champion", tracking_uri=store, params=CHURN,
                     holdout_days=HOLDOUT)
    # it did not see the holdout: the registered model is compared (its recipe refitted would rank well)
    assert result.champion_compared == "registered" and result.champion_refit is None
    assert result.champion_metrics == result.champion_registered_metrics
    assert result.champion_metrics["roc_auc"] < 0.6 and result.challenger_metrics["roc_auc"] > 0.8
    assert result.promoted and alias_version("bad-champion", "champion", tracking_uri=store) == "2"


def test_a_crippled_challenger_keeps_the_champion(world, store, monkeypatch):
    cls = scorer_class("churn")
    _register(cls(**CHURN).fit(world.tables, START), world, store, "crippled")
    _cripple_every_fit(monkeypatch)
    result = retrain("churn", world.tables, AS_OF, name="crippled", tracking_uri=store, params=CHURN,
                     holdout_days=HOLDOUT)
    assert not result.promoted and result.decision == "kept champion"
    assert result.champion_compared == "registered"
    assert result.reason.startswith("the challenger is worse: ROC AUC ")
    assert "; nor does it beat the naive baseline: ROC AUC " in result.reason
    assert not result.baseline.beats_baseline
    assert result.tracked is None and result.model is None
    assert alias_version("crippled", "champion", tracking_uri=store) == "1" and _versions(store, "crippled") == [1]

    run = _decision_run(store, result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["crmml.decision"] == "kept champion" and run.data.tags["crmml.reason"] == result.reason
    assert "crmml.registered_version" not in run.data.tags
    m = run.data.metrics
    assert m["promoted"] == 0.0 and m["champion_saw_holdout"] == 0.0
    for k in ("roc_auc", "ece", "brier", "n", "n_positive"):
        assert m[f"champion_{k}"] == pytest.approx(result.champion_metrics[k])
        assert m[f"challenger_{k}"] == pytest.approx(result.challenger_metrics[k])
    assert m["champion_roc_auc"] - m["challenger_roc_auc"] > 0.005
    assert m["beats_baseline"] == 0.0 and m["champion_registered_roc_auc"] == m["champion_roc_auc"]
    p = run.data.params
    assert (p["kind"], p["name"], p["alias"], p["champion_version"]) == ("churn", "crippled", "champion", "1")
    assert (p["holdout_start"], p["holdout_end"]) == (str(START), str(AS_OF))
    assert p["rule_auc_tolerance"] == "0.005" and p["rule_calibration_tolerance"] == "0.01"
    assert p["rule_baseline_margin"] == "0.0" and p["baseline"] == "recency_days"


def test_weekly_champion_is_compared_through_its_recipe_and_promoted(world, store, weekly_champion):
    """Last week's champion saw 173 of the 180 holdout days: as registered it outranks the challenger, which would
    block every weekly retrain. Its recipe (the same settings) refitted before the holdout start is the challenger
    itself, so the challenger is promoted; the registered champion is reported, not used."""
    _register(weekly_champion, world, store, "weekly")
    result = retrain("churn", world.tables, AS_OF, name="weekly", tracking_uri=store, params=CHURN,
                     holdout_days=HOLDOUT)
    assert result.champion_saw_holdout and result.champion_as_of == WEEK_AGO
    assert result.champion_saw_holdout_days == 173 and result.champion_compared == "recipe refit"
    assert result.champion_refit is result.challenger  # equal settings: the refit as of START is the challenger
    assert result.champion_metrics == result.challenger_metrics
    flattered = result.champion_registered_metrics
    assert flattered["roc_auc"] > result.challenger_metrics["roc_auc"] + 0.005  # would have failed the old gate
    assert result.promoted and result.reason.startswith("the challenger is not worse: ROC AUC ")
    assert " and it beats the naive baseline: ROC AUC " in result.reason
    assert [c.against for c in result.checks] == ["champion", "champion", "baseline", "baseline"]
    assert result.registered_version == "2" and alias_version("weekly", "champion", tracking_uri=store) == "2"
    assert "it saw 173 days of the holdout, which flatters it, so the gate compared the challenger with the " \
           "champion's settings refitted before 2025-01-02" in result.holdout_note

    run = _decision_run(store, result.run_id)
    m, tags, p = run.data.metrics, run.data.tags, run.data.params
    assert m["champion_roc_auc"] == pytest.approx(result.challenger_metrics["roc_auc"])  # the one decided on
    assert m["champion_registered_roc_auc"] == pytest.approx(flattered["roc_auc"])  # reported only
    assert m["champion_registered_ece"] == pytest.approx(flattered["ece"])
    assert m["champion_saw_holdout"] == 1.0 and m["champion_saw_holdout_days"] == 173.0
    assert m["beats_baseline"] == 1.0 and m["promoted"] == 1.0
    assert tags["crmml.champion_compared"] == "recipe refit" and tags["crmml.champion_saw_holdout"] == "true"
    assert tags["crmml.champion_compared_reason"] == (
        "the champion was trained as of 2025-06-24, after the holdout start 2025-01-02: it saw 173 days of the "
        "holdout, which flatters it, so its settings were refitted on the data before 2025-01-02 and that refit "
        "was compared (same data, same window as the challenger: only the settings differ)")
    assert "flatters it" in tags["mlflow.note.content"]
    assert p["champion_compared"] == "recipe refit" and '"num_threads": 1' in p["champion_params"]


def test_weekly_worse_settings_are_judged_against_the_champions_refit(world, store, weekly_champion):
    """A parameter-crippled challenger (stumps, tiny learning rate) against last week's champion: its recipe is
    refitted as of the holdout start (a real fit, other settings) and the challenger is kept."""
    _register(weekly_champion, world, store, "weekly-worse")
    events = []
    stumps = {**CHURN, "num_leaves": 2, "max_depth": 1, "learning_rate": 0.001}
    result = retrain("churn", world.tables, AS_OF, name="weekly-worse", tracking_uri=store, params=stumps,
                     holdout_days=HOLDOUT, progress=events.append)
    refit = result.champion_refit
    assert result.champion_compared == "recipe refit" and refit is not result.challenger
    assert refit.get_params() == weekly_champion.get_params() and refit.as_of_ == START
    assert result.champion_metrics["roc_auc"] != result.champion_registered_metrics["roc_auc"]
    assert not result.promoted and result.reason.startswith("the challenger is worse: ROC AUC ")
    assert result.checks[0].champion == result.champion_metrics["roc_auc"]  # the refit's, not the registered one
    assert alias_version("weekly-worse", "champion", tracking_uri=store) == "1"
    assert any(e.status == "start" and e.message.startswith("refitting the champion's settings (version 1) as of "
                                                            "2025-01-02") for e in events)


def test_weekly_broken_training_is_kept_by_the_naive_baseline(world, store, weekly_champion, monkeypatch):
    """A broken training with unchanged settings: the champion's recipe refitted on the same data is as broken, so
    only the naive baseline catches it."""
    _register(weekly_champion, world, store, "weekly-broken")
    _cripple_every_fit(monkeypatch)
    result = retrain("churn", world.tables, AS_OF, name="weekly-broken", tracking_uri=store, params=CHURN,
                     holdout_days=HOLDOUT)
    assert result.champion_compared == "recipe refit" and result.champion_metrics == result.challenger_metrics
    assert all(c.passed for c in result.checks if c.against == "champion")  # as broken as its recipe
    assert not result.promoted and not result.baseline.beats_baseline
    assert result.reason.startswith("the challenger does not beat the naive baseline: ROC AUC ")
    assert "naive baseline recency_days" in result.reason
    assert alias_version("weekly-broken", "champion", tracking_uri=store) == "1"
    assert _versions(store, "weekly-broken") == [1]
    run = _decision_run(store, result.run_id)
    assert run.data.metrics["beats_baseline"] == 0.0 and run.data.tags["crmml.decision"] == "kept champion"
    assert run.data.tags["crmml.baseline"] == "recency_days: NOT beaten by the challenger on the holdout"


def test_clv_gate_uses_the_holdout_purchases_error(world, store):
    first = retrain("clv", world.tables, START, tracking_uri=store, holdout_days=HOLDOUT)
    assert first.promoted and first.challenger_metrics["holdout_purchases_mae"] > 0
    result = retrain("clv", world.tables, AS_OF, tracking_uri=store, holdout_days=HOLDOUT)
    assert not result.champion_saw_holdout  # the champion was trained as of the holdout start
    assert result.champion_compared == "registered" and result.baseline is None  # CLV: no naive baseline
    (check,) = result.checks
    assert check.metric == "holdout_purchases_mae" and check.passed and result.promoted
    run = _decision_run(store, result.run_id)
    assert run.data.metrics["champion_holdout_purchases_mae"] == pytest.approx(check.champion)
    assert run.data.params["rule_error_tolerance"] == "0.02" and run.data.params["baseline"] == "none"
    assert run.data.tags["crmml.baseline"].startswith("none: CLV has no naive baseline")
    assert "beats_baseline" not in run.data.metrics
    assert alias_version("crmml-clv", "champion", tracking_uri=store) == "2"


# ---------------------------------------------------------------------------------------------- errors
def test_a_champion_of_another_kind_is_refused(world, store):
    _register(scorer_class("clv")().fit(world.tables, START), world, store, name="wrong-kind")
    with pytest.raises(IncompatibleArtifactError) as info:
        retrain("churn", world.tables, AS_OF, name="wrong-kind", tracking_uri=store, params=CHURN)
    assert str(info.value) == (
        "The champion wrong-kind@champion (version 1) is a 'clv' model, not a 'churn' model: a churn challenger "
        "cannot replace it. Fix: pass the name of a churn model (default crmml-churn), or retrain the clv model "
        "('crmml retrain clv ...').")
    exp = _client(store).get_experiment_by_name("crmml-retrain").experiment_id
    assert not _client(store).search_runs([exp], "params.name = 'wrong-kind'")  # nothing logged


def test_a_champion_with_another_outcome_definition_is_not_compared(world, store):
    _register(scorer_class("churn")(**CHURN).fit(world.tables, START), world, store, "other-horizon")
    with pytest.raises(ParameterError, match=r"evaluated on different entities or outcomes of the holdout.*"
                                             r"the champion has horizon_days=90 \(challenger 60\)"):
        retrain("churn", world.tables, AS_OF, name="other-horizon", tracking_uri=store,
                params={**CHURN, "horizon_days": 60},
                holdout_days=HOLDOUT)


@pytest.mark.parametrize("kwargs, match", [
    ({"holdout_days": 0}, r"The 'holdout_days' parameter of retrain must be"),
    ({"alias": "latest"}, r"The 'alias' parameter must be"),
    ({"params": {"horizon": 3}}, r"Invalid parameter\(s\) 'horizon'"),
    ({"params": {"horizon_days": 200}, "holdout_days": 180},
     r"The 'holdout_days' parameter of retrain must be at least the model's horizon \(200 days"),
])
def test_settings_are_checked_before_anything_is_logged(world, tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        retrain("churn", world.tables, AS_OF, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", **kwargs)
    assert not (tmp_path / "mlflow.db").exists()


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_prints_every_metric_set_and_exits_0_when_the_champion_is_kept(world, store, weekly_champion, tmp_path,
                                                                         capsys, monkeypatch):
    from crmml.cli import EXIT_ARTIFACT, EXIT_OK, main
    from crmml.synthetic import write_world

    data = tmp_path / "b2c"
    write_world(world, data)
    _register(weekly_champion, world, store, "cli")
    _cripple_every_fit(monkeypatch)
    args = ["retrain", "churn", "--data", str(data), "--as-of", "2025-07-01", "--tracking-uri", store,
            "--num-threads", "1", "--name", "cli", "--baseline-margin", "0.01"]
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert "Holdout [2025-01-02, 2025-07-01) (180 days), churn model cli@champion:" in out
    header = next(line for line in out if line.lstrip().startswith("metric"))
    assert header.split() == ["metric", "champion", "v1", "refit", "challenger", "naive", "baseline", "v1",
                              "registered*"]
    auc = next(line for line in out if line.lstrip().startswith("roc_auc")).split()
    assert len(auc) == 5 and auc[1] == auc[2] and float(auc[4]) > float(auc[3]) > float(auc[2])
    assert "  * champion v1 as registered (trained as of 2025-06-24): saw 173 days of the holdout; not used for " \
           "the decision" in out
    assert "Gate (AUC tolerance 0.005, calibration tolerance 0.01; vs champion v1's settings refitted as of " \
           "2025-01-02):" in out
    assert any(line.startswith("  pass  ROC AUC ") for line in out)
    assert any(line.startswith("  FAIL  ROC AUC ") and "< naive baseline recency_days 0." in line
               and " + 0.01 = " in line for line in out)  # --baseline-margin 0.01
    assert any(line.startswith("Note: the champion was trained as of 2025-06-24, after the holdout start")
               for line in out)
    assert any(line.startswith("Decision: kept champion — the challenger does not beat the naive baseline: ")
               for line in out)
    assert "  models:/cli@champion stays at version 1 (nothing registered)" in out
    assert _versions(store, "cli") == [1]

    assert main(["retrain", "clv", "--data", str(data), "--tracking-uri", store, "--name", "cli"]) \
        == EXIT_ARTIFACT
    assert "is a 'churn' model, not a 'clv' model" in capsys.readouterr().err
