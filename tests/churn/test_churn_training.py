"""crmml.training.train("churn", ...): MLflow log with plots and metrics, register, champion and pyfunc load."""

from __future__ import annotations

import pandas as pd
import pytest

import crmml
from crmml.training import train

AS_OF = pd.Timestamp("2025-07-01")


@pytest.mark.slow
def test_train_churn_registers_and_loads_as_champion_and_pyfunc(tmp_path):
    import mlflow

    from crmml.synthetic import make_b2b_world

    world = make_b2b_world(1500, seed=5)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(store)
    try:
        mlflow.create_experiment("crmml-churn", artifact_location=(tmp_path / "artifacts").as_uri())
        result = train("churn", world.tables, AS_OF, params={"business": "contractual", "num_threads": 1},
                       tracking_uri=store, register=True, save=tmp_path / "model")
        assert result.registry_uri == "models:/crmml-churn@champion"
        assert result.metrics["holdout_roc_auc"] > result.metrics["baseline_roc_auc"]
        assert result.metrics["beats_baseline"] == 1.0
        expected = result.model.score(world.tables, AS_OF)
        champion = crmml.load_scorer("models:/crmml-churn@champion", tracking_uri=store)
        pd.testing.assert_frame_equal(champion.score(world.tables, AS_OF), expected)
        run = mlflow.MlflowClient(tracking_uri=store).get_run(result.run_id)
        assert "holdout_ece" in run.data.metrics
        pyfunc = mlflow.pyfunc.load_model(result.model_uri)
        feats = result.model.build_features(world.tables, AS_OF)
        out = pyfunc.predict(feats.head(5))
        assert list(out["churn_probability"].round(12)) == list(expected["churn_probability"].head(5).round(12))
    finally:
        mlflow.set_tracking_uri(None)
