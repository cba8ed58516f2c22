"""MLflow ``loader_module`` for crmml models (pyfunc flavor).

MLflow calls :func:`_load_pyfunc` with the logged ``data_path`` (the crmml
artifact directory). Only crmml's installed code runs: the artifact holds JSON
and text, no pickle and no code.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmml.scoring._load import load_local_scorer

__all__ = ["CrmmlPyfuncModel"]


class CrmmlPyfuncModel:
    """What ``mlflow.pyfunc.load_model`` returns for a crmml model.

    ``predict`` takes the per-entity feature frame (the model's declared
    signature) and returns the model's outputs with the entity id as a column.
    """

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        out = self.scorer.predict_features(pd.DataFrame(model_input))
        return out.reset_index()


def _load_pyfunc(data_path: str) -> CrmmlPyfuncModel:
    return CrmmlPyfuncModel(load_local_scorer(data_path))
