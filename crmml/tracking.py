"""MLflow tracking and registry for crmml scorers (the write side of MLflow).

Every training run logs parameters, metrics, a data fingerprint (row counts,
dates and content hashes — no personal data), plots, a generated model card
and the model as an MLflow pyfunc model whose ``predict`` takes the per-entity
feature frame. The pyfunc uses MLflow's ``loader_module`` form: the artifact
holds crmml's JSON/text files and MLflow calls :mod:`crmml.scoring._pyfunc`
from the installed crmml to load it — no pickle, no code inside the artifact.

MLflow is imported here and, lazily, in :mod:`crmml.scoring._mlflow` (the read
side: downloads for ``crmml.load_scorer``; it also holds the URI checks and
error mapping this module uses).

Tracking store: an explicit ``tracking_uri`` argument, else
``MLFLOW_TRACKING_URI``, else MLflow's embedded SQLite store
``sqlite:///mlflow.db`` in the working directory.

Faults and what they raise (the CLI maps them to exit codes):

* a URI scheme MLflow has no store for (``bogus://``), an invalid registered
  model name or alias → :class:`~crmml.exceptions.ParameterError`, before
  anything is logged;
* a tracking server that does not answer → :class:`~crmml.exceptions.TrackingError`
  within seconds (:func:`crmml.scoring._mlflow.probe_tracking_server`;
  MLflow's own HTTP retries are bounded while crmml calls it);
* any other MLflow failure → :class:`~crmml.exceptions.TrackingError` naming
  the store URI.

Registration comes last: :func:`log_scorer` validates the name and alias
before it starts the run, and the alias moves only once the new version exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmml._artifact import to_jsonable
from crmml._version import __version__
from crmml.data import TABLES, CRMTables
from crmml.exceptions import ParameterError
from crmml.features import as_of_view, to_timestamp
from crmml.scoring._card import render_model_card
from crmml.scoring._mlflow import (
    DEFAULT_TRACKING_URI,
    _is_not_found,
    _use_tracking_uri,
    check_tracking_uri,
    local_store_path,
    mlflow_call,
    probe_tracking_server,
    resolve_tracking_uri,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "TrackedModel",
    "alias_version",
    "param_values",
    "resolve_tracking_uri",
    "check_tracking_uri",
    "check_registration",
    "check_tracking_store",
    "data_fingerprint",
    "log_scorer",
    "register_logged_model",
]

_MLFLOW_TYPES = {"string", "double", "long", "integer", "boolean", "float", "datetime"}

#: MLflow's registered-model rules (mlflow.utils.validation, MLflow 3.17):
#: names are non-blank, without '/' or ':', normalise to themselves as a POSIX
#: path and fit the registry's 256-character column; aliases match
#: ``^[\w\-]*$``, are at most 255 characters, and are neither ``latest`` (any
#: case) nor a version alias such as ``v3``.
_MAX_NAME, _MAX_ALIAS = 256, 255


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


def check_registration(model_name: str, alias: str, *, name_param: str = "model_name",
                       alias_param: str = "alias") -> None:
    """Refuse a registered model name or alias MLflow would reject, before anything is logged.

    Parameters
    ----------
    model_name, alias : str
    name_param, alias_param : str
        How the caller calls them (``"--name"``, ``"--alias"``), for messages.

    Raises
    ------
    ParameterError
        Naming the parameter, the rule and the value.

    Examples
    --------
    >>> check_registration("crmml-clv", "champion")
    >>> check_registration("crmml-clv", "v2")
    Traceback (most recent call last):
    ...
    crmml.exceptions.ParameterError: The 'alias' parameter must be ... Got 'v2' instead. ...
    """
    import posixpath
    import re

    name_ok = (isinstance(model_name, str) and model_name.strip() != "" and not any(c in model_name for c in "/:@")
               and posixpath.normpath(model_name) == model_name and model_name != "."
               and not model_name.startswith("..") and len(model_name) <= _MAX_NAME)
    if not name_ok:
        raise ParameterError(
            f"The {name_param!r} parameter must be a registered model name MLflow accepts: not blank, at most "
            f"{_MAX_NAME} characters, without '/', ':' or '@' (crmml builds models:/<name>@<alias> URIs), and not "
            f"a relative path such as '.' or '..'. Got {model_name!r} instead. Fix: e.g. crmml-clv."
        )
    alias_ok = (isinstance(alias, str) and re.fullmatch(r"[\w\-]+", alias) is not None and len(alias) <= _MAX_ALIAS
                and alias.lower() != "latest" and re.fullmatch(r"[vV]\d+", alias) is None)
    if not alias_ok:
        raise ParameterError(
            f"The {alias_param!r} parameter must be a model alias MLflow accepts: 1 to {_MAX_ALIAS} letters, "
            "digits, underscores or dashes, and not a reserved alias ('latest' in any case, or a version alias "
            f"such as 'v3'). Got {alias!r} instead. Fix: e.g. champion, challenger or staging."
        )


@contextlib.contextmanager
def _kept_env(name: str) -> Iterator[None]:
    """Put environment variable ``name`` back as it was (MLflow's ``set_experiment`` writes it for the process)."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def check_tracking_store(tracking_uri: str | None = None, *, name: str = "tracking_uri") -> str:
    """Check that the tracking store can be written to, before a long training job.

    The URI scheme is checked; an ``http(s)`` server is probed (a few seconds
    at most); a store that exists is opened once (a corrupt or too-new SQLite
    file, a refused file store or an unreachable database fail here). A local
    SQLite file that does not exist yet is not created here (MLflow creates it
    when the run is logged), so a job that fails on its data leaves no empty
    store behind.

    Parameters
    ----------
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.
    name : str
        How the user set the URI (``"--tracking-uri"``), for messages.

    Returns
    -------
    str
        The resolved tracking URI.

    Raises
    ------
    ParameterError
        Unknown URI scheme.
    TrackingError
        The store does not answer or cannot be opened.
    """
    if not tracking_uri and os.environ.get("MLFLOW_TRACKING_URI"):
        name = "MLFLOW_TRACKING_URI"
    uri = check_tracking_uri(resolve_tracking_uri(tracking_uri), name=name)
    probe_tracking_server(uri)
    path = local_store_path(uri)
    if path is not None and not path.exists() and uri.startswith("sqlite:"):
        return uri  # MLflow creates the file when the run is logged; a failed job leaves no empty store
    with mlflow_call(uri, "opening the store"):
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    return uri


def _hash_frame(df: pd.DataFrame) -> str:
    """sha256 over pandas' row hashes: identifies content, reveals none of it."""
    h = hashlib.sha256()
    h.update(",".join(map(str, df.columns)).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _day(value: Any) -> str | None:
    """The calendar day of a timestamp (``"2025-03-04"``): exact event times are not logged."""
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else str(ts.date())


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
        Per table: rows seen, rows supplied, columns, the first and last day
        of its event time column (dates only: an exact event time can single
        out a customer) and a sha256 content hash of the rows seen; plus
        ``as_of``.
    """
    seen = tables if as_of is None else as_of_view(tables, as_of)
    out: dict[str, Any] = {"as_of": None if as_of is None else str(to_timestamp(as_of)), "tables": {}}
    for name, df in seen.items():
        tcol = TABLES[name].time_column
        entry: dict[str, Any] = {"rows": int(len(df)), "rows_supplied": int(len(tables[name])),
                                 "columns": [str(c) for c in df.columns]}
        if tcol in df and len(df):
            first, last = _day(df[tcol].min()), _day(df[tcol].max())
            if first is not None:
                entry["time_min"], entry["time_max"] = first, last
        entry["sha256"] = _hash_frame(df)
        out["tables"][name] = entry
    return out


def param_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """MLflow parameter values: dicts, lists and tuples as JSON text, the rest as they are."""
    return {str(k): (json.dumps(to_jsonable(v)) if isinstance(v, (dict, list, tuple)) else v)
            for k, v in params.items()}


def alias_version(model_name: str, alias: str, *, tracking_uri: str | None = None) -> str | None:
    """The version of ``model_name`` that ``alias`` points at; ``None`` when there is none.

    ``None`` when the registered model or the alias does not exist, or when
    the store is a local SQLite file or folder that does not exist yet (it is
    not created: a look-up never writes).

    Raises
    ------
    ParameterError
        An invalid name or alias, an unknown tracking URI scheme.
    TrackingError
        The store does not answer or fails.
    """
    check_registration(model_name, alias)
    uri = check_tracking_uri(resolve_tracking_uri(tracking_uri), name="tracking_uri")
    path = local_store_path(uri)
    if path is not None and not path.exists():
        return None
    probe_tracking_server(uri)
    with mlflow_call(uri, f"looking up {model_name}@{alias}"):
        from mlflow import MlflowClient

        try:
            return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(model_name, alias).version)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise


def _schema(cols: Mapping[str, str]) -> Any:
    from mlflow.types.schema import ColSpec, Schema

    bad = {c: t for c, t in cols.items() if t not in _MLFLOW_TYPES}
    if bad:
        raise ValueError(f"Unsupported MLflow column types {bad}; use one of {sorted(_MLFLOW_TYPES)}.")
    return Schema([ColSpec(t, c) for c, t in cols.items()])


def _signature(scorer: Any) -> Any:
    """The pyfunc signature: outputs only.

    An input schema would make MLflow enforce it *before* crmml's code runs,
    and MLflow's enforcement error prints the offending frame — customer ids
    and all — into the exception (``Failed to enforce schema of data '...'``).
    crmml's pyfunc wrapper (:mod:`crmml.scoring._pyfunc`) enforces the same
    column types itself and reports columns and counts only; the input schema
    is recorded in the MLflow model's metadata instead
    (``mlflow.pyfunc.load_model(uri).metadata.metadata["crmml"]["feature_schema"]``).
    """
    from mlflow.models import ModelSignature

    return ModelSignature(inputs=None, outputs=_schema(scorer.output_schema()))


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
        version (see :func:`register_logged_model`). The name and alias are
        checked before the run starts.
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

    Raises
    ------
    ParameterError
        Unknown tracking URI scheme, or (with ``register=True``) an invalid
        model name or alias — raised before anything is logged.
    TrackingError
        The store does not answer or MLflow fails; names the store URI.
    """
    uri = check_tracking_uri(resolve_tracking_uri(tracking_uri), name="tracking_uri")
    kind = scorer.kind
    model_name = model_name or f"crmml-{kind}"
    if register:
        check_registration(model_name, alias)
    probe_tracking_server(uri)
    experiment = experiment or f"crmml-{kind}"
    fingerprint = data_fingerprint(tables, as_of)
    metrics = {k: float(v) for k, v in (metrics or {}).items() if v is not None and pd.notna(v)}
    all_params = {**scorer.get_params(), **dict(params or {}), "as_of": str(pd.Timestamp(as_of))}
    card = render_model_card(scorer, fingerprint=fingerprint, metrics=metrics, exclusions=exclusions)

    with mlflow_call(uri, "logging the run"), _use_tracking_uri(uri), _kept_env("MLFLOW_EXPERIMENT_ID"):
        import mlflow

        mlflow.set_experiment(experiment)  # the process-wide URI and experiment are put back afterwards
        with mlflow.start_run(run_name=run_name or f"train-{kind}") as run, \
                tempfile.TemporaryDirectory() as tmp:
            mlflow.set_tags({"crmml.kind": kind, "crmml.version": __version__, "crmml.entity": scorer.entity})
            mlflow.log_params(param_values(all_params))
            if metrics:
                mlflow.log_metrics(metrics)
            mlflow.log_dict(fingerprint, "data/fingerprint.json")
            if exclusions is not None:
                mlflow.log_dict({"exclusions": to_jsonable(exclusions)}, "data/exclusions.json")
            for path in (plots or {}).values():
                mlflow.log_artifact(os.fspath(path), artifact_path="plots")
            mlflow.log_text(card, "model_card.md")

            art = scorer.save(Path(tmp) / "crmml_model")
            info = mlflow.pyfunc.log_model(
                name="model",
                loader_module="crmml.scoring._pyfunc",
                data_path=str(art),
                signature=_signature(scorer),
                input_example=scorer.input_example() if hasattr(scorer, "input_example") else None,
                metadata={"crmml": {"kind": kind, "entity": scorer.entity,
                                    "feature_schema": dict(scorer.feature_schema())}},
                pip_requirements=[f"crmml=={__version__}"],
            )
            run_id = run.info.run_id
    tracked = TrackedModel(run_id=run_id, model_uri=info.model_uri)
    if register:
        tracked = register_logged_model(tracked, model_name=model_name, alias=alias, tracking_uri=uri)
    return tracked


def register_logged_model(
    tracked: TrackedModel,
    *,
    model_name: str,
    alias: str = "champion",
    tracking_uri: str | None = None,
) -> TrackedModel:
    """Register a logged model as a new version of ``model_name`` and point ``alias`` at it.

    Call it last, once everything else (saving a local copy, checks) has
    succeeded: the alias is what servers load (``models:/<name>@<alias>``).
    The alias moves only after the new version exists; if registration
    fails, the previous version keeps the alias.

    Parameters
    ----------
    tracked : TrackedModel
        From :func:`log_scorer` (``register=False``).
    model_name : str
        Registered model name.
    alias : str
        Alias to point at the new version.
    tracking_uri : str, optional
        The store (default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``);
        the registry is ``MLFLOW_REGISTRY_URI`` when set, else this store.

    Returns
    -------
    TrackedModel
        ``tracked`` with the registered name, version and alias.

    Raises
    ------
    ParameterError
        Invalid name or alias (checked before MLflow is called).
    TrackingError
        The registry refused or failed.
    """
    check_registration(model_name, alias)
    uri = check_tracking_uri(resolve_tracking_uri(tracking_uri), name="tracking_uri")
    with mlflow_call(uri, f"registering {model_name!r} with alias {alias!r}"):
        import mlflow
        from mlflow import MlflowClient

        with _use_tracking_uri(uri):
            mv = mlflow.register_model(tracked.model_uri, model_name)
        version = str(mv.version)
        MlflowClient(tracking_uri=uri).set_registered_model_alias(model_name, alias, version)
    return dataclasses.replace(tracked, registered_name=model_name, version=version, alias=alias)
