"""The Scorer interface every crmml model implements: everything callers use, nothing more."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from crmml._artifact import Manifest
    from crmml.data import CRMTables, ExclusionReport

__all__ = ["Scorer"]


@runtime_checkable
class Scorer(Protocol):
    """A model that is fitted on the contract tables and scores entities as of a date.

    Model packages implement it structurally (they never import
    :mod:`crmml.scoring`); ``tests/test_conformance.py`` checks every kind in
    :data:`crmml.scoring.KINDS` against it. Hyperparameters, the not-fitted
    check and the versioned ``to_dict``/``from_dict`` come from
    :class:`crmml._base.Estimator`, which every crmml model inherits.

    The feature pipeline travels with the model: :meth:`build_features` is the
    exact code that built the training features, so training and serving
    cannot skew. :meth:`score` equals ``predict_features(build_features(...))``.

    **Exclusions are returned explicitly**, never in ``DataFrame.attrs``:
    :meth:`score` and :meth:`build_features` take ``report=``, an
    :class:`~crmml.data.ExclusionReport` that receives every row the feature
    pipeline leaves out and every entity of the population that gets no
    output row, with the reason (``unit="entities"``). What ``fit`` left out
    is the fitted model's ``exclusions_`` (a list of dicts, saved with it).
    Scores and entity exclusions together cover the documented population.

    **Output columns.** One row per entity, indexed by :attr:`entity`; every
    model adds a tier or segment and a reason in words. Supervised models
    (churn, lead scoring, forecast: LightGBM) give their reasons as columns
    ``reason_1..k`` (text) with the signed contribution of each
    (``reason_1_contribution`` ...); CLV gives one ``reason``.

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

    # ---------------------------------------------------------- estimator
    def fit(self, tables: CRMTables | Any, as_of: Any = None) -> Self:
        """Learn from everything known strictly before ``as_of``; returns ``self``."""
        ...

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters (the constructor's keyword arguments)."""
        ...

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters; a changed value unfits a fitted model."""
        ...

    # ------------------------------------------------------------ scoring
    def build_features(self, tables: CRMTables | Any, as_of: Any, *,
                       report: ExclusionReport | None = None) -> pd.DataFrame:
        """Per-entity feature frame (one row per entity, entity id as a column)."""
        ...

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Outputs from a feature frame, indexed by the entity id (what the MLflow pyfunc calls)."""
        ...

    def score(self, tables: CRMTables | Any, as_of: Any, *,
              report: ExclusionReport | None = None) -> pd.DataFrame:
        """Outputs for every entity of the population as of ``as_of``, indexed by the entity id."""
        ...

    # --------------------------------------------------------- describing
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
        """Facts for the model card: title, summary, intended use, parameters, outputs, limits."""
        ...

    # -------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as a crmml artifact (JSON/text, no pickle)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """``{"model", "schema_version", "config", <learned state>}`` as JSON-ready data."""
        ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Any) -> Self:
        """Rebuild from :meth:`to_dict` output; refuses unknown keys and newer schema versions."""
        ...

    @classmethod
    def from_artifact(cls, manifest: Manifest, files: Mapping[str, bytes]) -> Self:
        """Rebuild from a verified artifact's files (what :func:`crmml.load_scorer` calls)."""
        ...

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved with :meth:`save` (refuses another kind)."""
        ...

