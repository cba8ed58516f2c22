"""The Scorer interface every crmml model implements."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from crmml.data import CRMTables

__all__ = ["Scorer"]


@runtime_checkable
class Scorer(Protocol):
    """A fitted model that scores entities from the contract tables as of a date.

    The feature pipeline travels with the model: :meth:`build_features` is the
    exact code that built the training features, so training and serving
    cannot skew. :meth:`score` is ``predict_features(build_features(...))``.

    Attributes
    ----------
    kind : str
        Registry key (``"clv"``); the artifact records it and
        :func:`crmml.load_scorer` uses it to pick crmml's own loader.
    entity : str
        The id the outputs are keyed by (``"customer_id"``).
    """

    kind: ClassVar[str]
    entity: ClassVar[str]

    def build_features(self, tables: CRMTables | Any, as_of: Any) -> pd.DataFrame:
        """Per-entity feature frame (one row per entity, entity id as a column)."""
        ...

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Outputs from a feature frame, indexed by the entity id."""
        ...

    def score(self, tables: CRMTables | Any, as_of: Any) -> pd.DataFrame:
        """Outputs for every entity as of ``as_of``, indexed by the entity id."""
        ...

    def feature_schema(self) -> dict[str, str]:
        """Feature column → MLflow type (``"string"``, ``"double"``, ``"long"``)."""
        ...

    def output_schema(self) -> dict[str, str]:
        """Output column → MLflow type."""
        ...

    def input_example(self) -> pd.DataFrame:
        """A made-up one-row feature frame (never real data) logged with the MLflow model."""
        ...

    def model_card(self) -> dict[str, Any]:
        """Facts for the model card: intended use, limits, data window, metrics."""
        ...

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as a crmml artifact (JSON/text, no pickle)."""
        ...
