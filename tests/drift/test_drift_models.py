"""Every model stores a drift reference at fit, saves it beside model.json and loads it back."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from crmml._artifact import MANIFEST, read_artifact, write_artifact
from crmml._payload import Payload
from crmml.drift import DRIFT_REFERENCE_FILE, DriftReference, drift_table
from crmml.exceptions import IncompatibleArtifactError
from crmml.scoring import load_scorer

AS_OF = pd.Timestamp("2025-07-01")  # the fit's as_of (conftest.py)


def test_a_fitted_churn_model_holds_a_reference_of_its_features_and_scores(drift_churn):
    ref = drift_churn.drift_reference_
    assert isinstance(ref, DriftReference)
    assert set(ref.features) == set(drift_churn.feature_schema()) - {"customer_id"}
    assert set(ref.scores) == {"churn_probability", "revenue_at_risk"}
    assert ref.as_of == AS_OF.isoformat()


def test_scoring_the_fit_population_again_gives_psi_zero_for_every_column(drift_churn, drift_world):
    ref = drift_churn.drift_reference_
    features = drift_churn.build_features(drift_world.tables, AS_OF)
    scores = drift_churn.score(drift_world.tables, AS_OF)
    table = drift_table(ref, ref.counts(features, scores))
    assert len(table) == len(ref.columns()) and (table["n_current"] == ref.n_rows).all()
    assert (table["psi"] == 0.0).all(), table.head()


def test_a_shifted_feature_is_flagged_act(drift_churn, drift_world):
    ref = drift_churn.drift_reference_
    features = drift_churn.build_features(drift_world.tables, AS_OF)
    features["recency_days"] = features["recency_days"] + 180.0  # everyone half a year less recent
    table = drift_table(ref, ref.counts(features, None)).set_index("column")
    assert table.loc["recency_days", "psi"] > 0.25 and table.loc["recency_days", "status"] == "act"
    assert (table.drop(index="recency_days")["psi"] == 0.0).all()


def test_save_and_load_keep_the_reference(drift_churn, tmp_path):
    folder = drift_churn.save(tmp_path / "model")
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["files"]) == {"model.json", DRIFT_REFERENCE_FILE}
    text = (folder / DRIFT_REFERENCE_FILE).read_text()
    assert "drift_reference" not in (folder / "model.json").read_text()
    assert DriftReference.from_dict(Payload.parse(text, source="x")) == drift_churn.drift_reference_
    loaded = load_scorer(folder)
    assert loaded.drift_reference_ == drift_churn.drift_reference_
    assert type(drift_churn).load(folder).drift_reference_ == drift_churn.drift_reference_


def test_an_artifact_without_a_reference_loads_with_none(drift_churn, tmp_path):
    folder = write_artifact(tmp_path / "old", kind="churn", entity="customer_id",
                            files={"model.json": drift_churn.to_dict()})
    assert load_scorer(folder).drift_reference_ is None
    assert type(drift_churn).from_dict(drift_churn.to_dict()).drift_reference_ is None
    model = copy.deepcopy(drift_churn)
    model.drift_reference_ = None  # e.g. an empty population at as_of: no file written
    again = model.save(tmp_path / "none")
    assert set(read_artifact(again)[1]) == {"model.json"} and load_scorer(again).drift_reference_ is None


def test_a_damaged_reference_is_refused_naming_the_field(drift_churn, tmp_path):
    ref = drift_churn.drift_reference_.to_dict()
    ref["n_rows"] = "many"
    folder = write_artifact(tmp_path / "bad", kind="churn", entity="customer_id",
                            files={"model.json": drift_churn.to_dict(), DRIFT_REFERENCE_FILE: ref})
    with pytest.raises(IncompatibleArtifactError, match=r"drift_reference.json: n_rows: expected an integer"):
        load_scorer(folder)


def test_set_params_drops_the_reference(drift_churn):
    model = copy.deepcopy(drift_churn)
    model.set_params(horizon_days=60)
    assert "drift_reference_" not in vars(model)


@pytest.mark.parametrize("business", ["noncontractual", "contractual"])
def test_clv_stores_a_reference_with_psi_zero_on_its_own_population(business, drift_world, tmp_path):
    from crmml.clv import CLVModel
    from crmml.synthetic import make_b2b_world

    tables = drift_world.tables if business == "noncontractual" else make_b2b_world(250, seed=5).tables
    model = CLVModel(business=business).fit(tables, AS_OF)
    ref = model.drift_reference_
    assert set(ref.scores) == {"clv", "expected_purchases"}
    assert set(ref.features) == set(model.feature_schema()) - {"customer_id"}
    table = drift_table(ref, ref.counts(model.build_features(tables, AS_OF), model.score(tables, AS_OF)))
    assert (table["psi"] == 0.0).all() and len(table) == len(ref.columns())
    assert load_scorer(model.save(tmp_path / "clv")).drift_reference_ == ref


def test_the_population_is_the_one_score_sees(drift_churn, drift_world):
    later = pd.Timestamp("2025-10-01")
    ref = drift_churn.drift_reference_
    table = drift_table(ref, ref.counts(drift_churn.build_features(drift_world.tables, later),
                                        drift_churn.score(drift_world.tables, later)))
    assert (table["psi"] > 0).any()  # three months later the population has moved


def test_every_supervised_kind_bins_its_probability_and_own_numeric_scores():
    from crmml.churn import ChurnModel
    from crmml.forecast import PipelineForecastModel
    from crmml.leadscore import LeadScoreModel

    assert ChurnModel()._drift_score_columns() == ("churn_probability", "revenue_at_risk")
    assert LeadScoreModel()._drift_score_columns() == ("conversion_probability", "score")
    assert PipelineForecastModel()._drift_score_columns() == ("win_probability",)
    for model in (ChurnModel(), LeadScoreModel(), PipelineForecastModel()):
        assert set(model._drift_score_columns()) <= set(model.output_schema())
