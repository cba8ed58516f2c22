"""The batch's models: loaded once, with what identifies them in the manifest and what they need."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmml._artifact import MANIFEST, read_manifest
from crmml.exceptions import ParameterError
from crmml.scoring import find_artifact_dir, load_local_scorer
from crmml.scoring._mlflow import download_model, is_mlflow_uri

__all__ = ["BatchModel", "load_models", "ENTITY_TABLES", "required_tables"]

#: The tables a kind reads when scoring (a missing optional table is fine; the model says if it needs it).
ENTITY_TABLES: dict[str, tuple[str, ...]] = {
    "clv": ("customers", "transactions", "subscriptions"),
    "churn": ("customers", "transactions", "interactions", "contacts", "invoices", "subscriptions"),
    "leadscore": ("leads", "lead_events"),
    "forecast": ("customers", "transactions", "interactions", "contacts", "invoices", "subscriptions",
                 "opportunities", "opportunity_history"),
}


@dataclass(frozen=True)
class BatchModel:
    """One model of the batch.

    Attributes
    ----------
    name : str
        The output name (``model=<name>``).
    uri : str
        As configured.
    kind, entity : str
    scorer : Scorer
    artifact_dir : Path
        The local crmml artifact (downloaded for MLflow URIs).
    artifact_sha256 : str
        SHA-256 of the artifact's manifest (which holds the SHA-256 of every
        file): the model's identity, whatever URI pointed at it.
    registry_version : str or None
        The registered version a ``models:/`` URI resolved to.
    """

    name: str
    uri: str
    kind: str
    entity: str
    scorer: Any
    artifact_dir: Path
    artifact_sha256: str
    registry_version: str | None

    def describe(self) -> dict[str, Any]:
        """The manifest entry (no personal data: URIs, kinds, hashes, dates)."""
        as_of = getattr(self.scorer, "as_of_", None)
        return {"uri": self.uri, "kind": self.kind, "entity": self.entity,
                "artifact_sha256": self.artifact_sha256, "registry_version": self.registry_version,
                "trained_as_of": None if as_of is None else str(as_of)}


def _registry_version(uri: str, tracking_uri: str | None) -> str | None:
    """The version a ``models:/name@alias`` or ``models:/name/3`` URI points at (None for other URIs)."""
    if not uri.startswith("models:/"):
        return None
    rest = uri[len("models:/"):]
    if "@" in rest:
        from crmml.tracking import alias_version

        name, alias = rest.split("@", 1)
        return alias_version(name, alias, tracking_uri=tracking_uri)
    parts = rest.split("/")
    return parts[1] if len(parts) > 1 and parts[1].isdigit() else None


def load_models(models: Mapping[str, str], *, tracking_uri: str | None = None,
                download_root: str | os.PathLike[str] | None = None) -> dict[str, BatchModel]:
    """Load every configured model once (crmml's own loaders; nothing in the artifact is executed).

    MLflow URIs are downloaded under ``download_root/<name>`` when given.

    Raises
    ------
    ArtifactError, TrackingError
        As :func:`crmml.load_scorer`.
    ParameterError
        Two outputs of the forecast or lead-scoring kind (their batch steps
        expect one), or two models writing the customer view's inputs that
        cannot be told apart.
    """
    out: dict[str, BatchModel] = {}
    for name, uri in models.items():
        if is_mlflow_uri(uri):
            dst = None
            if download_root is not None:
                dst = Path(download_root) / name
                dst.mkdir(parents=True, exist_ok=True)
            version = _registry_version(uri, tracking_uri)
            pinned = uri
            if version is not None and "@" in uri:  # the version the alias points at now: the manifest is exact
                pinned = f"{uri.split('@', 1)[0]}/{version}"
            local = download_model(pinned, tracking_uri=tracking_uri, dst_path=dst)
        else:
            local, version = Path(uri), None
        art = find_artifact_dir(local)
        scorer = load_local_scorer(art)
        read_manifest(art)
        digest = hashlib.sha256((art / MANIFEST).read_bytes()).hexdigest()
        out[name] = BatchModel(name=name, uri=uri, kind=scorer.kind, entity=scorer.entity, scorer=scorer,
                               artifact_dir=art, artifact_sha256=digest, registry_version=version)
    for kind in ("leadscore", "forecast"):
        names = [m.name for m in out.values() if m.kind == kind]
        if len(names) > 1:
            raise ParameterError(f"[models] {', '.join(names)} are all {kind} models; the batch runs one model of "
                                 f"this kind (its {'lead list' if kind == 'leadscore' else 'period forecast'} is "
                                 "written once). Fix: keep one of them.")
    return out


def required_tables(models: Mapping[str, BatchModel]) -> tuple[str, ...]:
    """The contract tables the models read, in contract order."""
    from crmml.data import TABLE_NAMES

    want = {t for m in models.values() for t in ENTITY_TABLES.get(m.kind, TABLE_NAMES)}
    return tuple(t for t in TABLE_NAMES if t in want)
