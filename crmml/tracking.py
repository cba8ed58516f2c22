"""MLflow tracking and registry for crmml scorers (the only module importing MLflow).

Every training run logs parameters, metrics, a data fingerprint (row counts,
time ranges and content hashes — no personal data), plots, a generated model
card and the model as an MLflow pyfunc model whose ``predict`` takes the
per-entity feature frame. The pyfunc uses MLflow's ``loader_module`` form:
the artifact holds crmml's JSON/text files and MLflow calls
:mod:`crmml.scoring._pyfunc` from the installed crmml to load it — no pickle,
no code inside the artifact.

Tracking store: an explicit ``tracking_uri`` argument, else
``MLFLOW_TRACKING_URI``, else MLflow's embedded SQLite store
``sqlite:///mlflow.db`` in the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmml._artifact import to_jsonable
from crmml._version import __version__
from crmml.data import TABLES, CRMTables
from crmml.features import as_of_view, to_timestamp
from crmml.scoring._card import render_model_card

__all__ = [
    "DEFAULT_TRACKING_URI",
    "TrackedModel",
    "resolve_tracking_uri",
    "data_fingerprint",
    "log_scorer",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

_MLFLOW_TYPES = {"string", "double", "long", "integer", "boolean", "float", "datetime"}


@dataclass(frozen=True)
class TrackedModel:
    """Where a logged model went."""

    run_id: str
    model_uri: str
    registered_name: str | None = None
    version: str | None = None
    alias: str | None = None

    @property
    def registry_uri(self) -> str | None:
        """``models:/<name>@<alias>`` when registered with an alias."""
        if self.registered_name and self.alias:
            return f"models:/{self.registered_name}@{self.alias}"
        return None


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI crmml will use (argument > environment > local SQLite)."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _hash_frame(df: pd.DataFrame) -> str:
    """sha256 over pandas' row hashes: identifies content, reveals none of it."""
    h = hashlib.sha256()
    h.update(",".join(map(str, df.columns)).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def data_fingerprint(tables: CRMTables, as_of: Any = None) -> dict[str, Any]:
    """Describe the data a model saw, without personal data.

    Parameters
    ----------
    tables : CRMTables
    as_of : timestamp-like, optional
        The training cutoff: the fingerprint then describes the point-in-time
        view (rows strictly before ``as_of``), which is what the model saw.

    Returns
    -------
    dict
        Per table: rows seen, rows supplied, columns, the range of its event
        time column and a sha256 content hash of the rows seen; plus ``as_of``.
    """
    seen = tables if as_of is None else as_of_view(tables, as_of)
    out: dict[str, Any] = {"as_of": None if as_of is None else str(to_timestamp(as_of)), "tables": {}}
    for name, df in seen.items():
        tcol = TABLES[name].time_column
        entry: dict[str, Any] = {"rows": int(len(df)), "rows_supplied": int(len(tables[name])),
                                 "columns": [str(c) for c in df.columns]}
        if tcol in df and len(df):
            entry["time_min"] = str(df[tcol].min())
            entry["time_max"] = str(df[tcol].max())
        entry["sha256"] = _hash_frame(df)
        out["tables"][name] = entry
    return out


def _signature(scorer: Any) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    def schema(cols: Mapping[str, str]) -> Schema:
        bad = {c: t for c, t in cols.items() if t not in _MLFLOW_TYPES}
        if bad:
            raise ValueError(f"Unsupported MLflow column types {bad}; use one of {sorted(_MLFLOW_TYPES)}.")
        return Schema([ColSpec(t, c) for c, t in cols.items()])

    return ModelSignature(inputs=schema(scorer.feature_schema()), outputs=schema(scorer.output_schema()))


def log_scorer(
    scorer: Any,
    *,
    tables: CRMTables,
    as_of: Any,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    plots: Mapping[str, str | os.PathLike[str]] | None = None,
    exclusions: list[dict[str, Any]] | None = None,
    experiment: str | None = None,
    register: bool = False,
    model_name: str | None = None,
    alias: str = "champion",
    tracking_uri: str | None = None,
    run_name: str | None = None,
) -> TrackedModel:
    """Log a fitted scorer as one MLflow run, optionally register it with an alias.

    Parameters
    ----------
    scorer : Scorer
        A fitted crmml model (``kind``, ``save``, ``feature_schema``...).
    tables : CRMTables
        The training tables (fingerprinted, never logged).
    as_of : timestamp-like
        Training cutoff.
    metrics, params : mapping, optional
        Extra metrics (holdout evaluation) and parameters; the scorer's own
        ``get_params()`` are always logged.
    plots : mapping, optional
        Name → PNG file, logged under ``plots/``.
    exclusions : list of dict, optional
        Counts of excluded rows (``ExclusionReport.to_dict()``).
    experiment : str, optional
        Experiment name (default ``crmml-<kind>``).
    register : bool
        Register the model as ``model_name`` and point ``alias`` at the new
        version.
    model_name : str, optional
        Registered model name (default ``crmml-<kind>``).
    alias : str
        Alias set on the new version when registering.
    tracking_uri : str, optional
        Overrides ``MLFLOW_TRACKING_URI`` and the local SQLite default.
    run_name : str, optional

    Returns
    -------
    TrackedModel
    """
    import mlflow
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    kind = scorer.kind
    experiment = experiment or f"crmml-{kind}"
    model_name = model_name or f"crmml-{kind}"
    mlflow.set_experiment(experiment)
    fingerprint = data_fingerprint(tables, as_of)
    metrics = {k: float(v) for k, v in (metrics or {}).items() if v is not None and pd.notna(v)}
    all_params = {**scorer.get_params(), **dict(params or {}), "as_of": str(pd.Timestamp(as_of))}

    with mlflow.start_run(run_name=run_name or f"train-{kind}") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"crmml.kind": kind, "crmml.version": __version__, "crmml.entity": scorer.entity})
        mlflow.log_params({k: (json.dumps(to_jsonable(v)) if isinstance(v, (dict, list, tuple)) else v)
                           for k, v in all_params.items()})
        if metrics:
            mlflow.log_metrics(metrics)
        mlflow.log_dict(fingerprint, "data/fingerprint.json")
        if exclusions is not None:
            mlflow.log_dict({"exclusions": to_jsonable(exclusions)}, "data/exclusions.json")
        for name, path in (plots or {}).items():
            mlflow.log_artifact(os.fspath(path), artifact_path="plots")
        card = render_model_card(scorer, fingerprint=fingerprint, metrics=metrics, exclusions=exclusions)
        mlflow.log_text(card, "model_card.md")

        art = scorer.save(Path(tmp) / "crmml_model")
        info = mlflow.pyfunc.log_model(
            name="model",
            loader_module="crmml.scoring._pyfunc",
            data_path=str(art),
            signature=_signature(scorer),
            input_example=scorer.input_example() if hasattr(scorer, "input_example") else None,
            pip_requirements=[f"crmml=={__version__}"],
        )
        run_id = run.info.run_id
    model_uri = info.model_uri
    version = None
    if register:
        mv = mlflow.register_model(model_uri, model_name)
        version = str(mv.version)
        MlflowClient().set_registered_model_alias(model_name, alias, version)
    return TrackedModel(run_id=run_id, model_uri=model_uri,
                        registered_name=model_name if register else None,
                        version=version, alias=alias if register else None)
