"""The on-disk model artifact format: data files plus a manifest, never pickle.

An artifact is a directory::

    crmml-model.json   manifest: format name and version, crmml version, model
                       kind, entity, creation time, sha256 of every file
    model.json         parameters and config (JSON)
    booster.txt        (models with a LightGBM booster: LightGBM's text format)

Reading verifies the format name, the format version and every checksum
before any content is parsed. Nothing in an artifact is executed: the model
class is chosen by crmml's own registry from the ``kind`` field, and that
class rebuilds itself from the JSON/text files.

This module sits in the bottom layer (next to :mod:`crmml.exceptions`) so that
model packages can write artifacts without importing upwards.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crmml._version import __version__
from crmml.exceptions import IncompatibleArtifactError, TamperedArtifactError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST",
    "Manifest",
    "write_artifact",
    "read_artifact",
    "read_manifest",
    "to_jsonable",
]

FORMAT_NAME = "crmml-model"
FORMAT_VERSION = 1
MANIFEST = "crmml-model.json"


@dataclass(frozen=True)
class Manifest:
    """What an artifact's manifest records."""

    kind: str
    entity: str
    format_version: int
    crmml_version: str
    created_at: str
    files: dict[str, str]
    metadata: dict[str, Any]


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON types.

    Non-finite floats become ``None`` (JSON has no NaN).
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        np = None  # type: ignore[assignment]
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if np is not None:
        if isinstance(obj, np.ndarray):
            return [to_jsonable(v) for v in obj.tolist()]
        if isinstance(obj, np.generic):
            obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"Cannot store a {type(obj).__name__} in a crmml artifact (JSON only).")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_artifact(
    path: str | os.PathLike[str],
    *,
    kind: str,
    entity: str,
    files: Mapping[str, str | bytes | Mapping[str, Any]],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write an artifact directory atomically.

    Parameters
    ----------
    path : path-like
        Target directory; replaced if it exists and is an artifact, refused if
        it exists and is something else.
    kind : str
        Registry key of the model (``"clv"``).
    entity : str
        The id column the model scores (``"customer_id"``).
    files : mapping
        File name → content: a mapping (written as JSON), ``str`` (UTF-8 text)
        or ``bytes``.
    metadata : mapping, optional
        Extra JSON-ready facts for the manifest (no personal data).

    Returns
    -------
    Path
        The artifact directory.
    """
    target = Path(path)
    if target.exists() and not (target / MANIFEST).exists() and any(target.iterdir()):
        raise FileExistsError(
            f"Refusing to overwrite {str(target)!r}: it exists and is not a crmml model artifact. "
            "Choose an empty or new directory."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".crmml-tmp-", dir=target.parent))
    try:
        digests: dict[str, str] = {}
        for name, content in files.items():
            if "/" in name or "\\" in name or name in ("", ".", "..", MANIFEST):
                raise ValueError(f"Invalid artifact file name {name!r}.")
            p = tmp / name
            if isinstance(content, Mapping):
                p.write_text(json.dumps(to_jsonable(content), indent=2, sort_keys=True), encoding="utf-8")
            elif isinstance(content, str):
                p.write_text(content, encoding="utf-8")
            else:
                p.write_bytes(bytes(content))
            digests[name] = _sha256(p)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "crmml_version": __version__,
            "kind": kind,
            "entity": entity,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": digests,
            "metadata": to_jsonable(dict(metadata or {})),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and check an artifact's manifest (format and version only).

    Raises
    ------
    IncompatibleArtifactError
        Not a crmml artifact, or written in a format version this crmml cannot read.
    """
    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise IncompatibleArtifactError(
            f"{str(root)!r} is not a crmml model artifact: {MANIFEST} is missing. "
            "Pass the directory written by Scorer.save() or an MLflow model URI logged by crmml."
        )
    try:
        raw = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TamperedArtifactError(
            f"The manifest {str(mpath)!r} is not valid JSON ({exc}). The artifact is damaged; "
            "re-train or restore it from the MLflow registry."
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise IncompatibleArtifactError(
            f"{str(mpath)!r} is not a crmml model manifest (format={raw.get('format') if isinstance(raw, dict) else None!r}, "
            f"expected {FORMAT_NAME!r})."
        )
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise IncompatibleArtifactError(
            f"The model artifact {str(root)!r} has format version {version!r} "
            f"(written by crmml {raw.get('crmml_version', '?')}); this crmml {__version__} reads "
            f"format version {FORMAT_VERSION}. Install the crmml version that wrote it, or re-train."
        )
    return Manifest(
        kind=str(raw.get("kind")),
        entity=str(raw.get("entity")),
        format_version=int(version),
        crmml_version=str(raw.get("crmml_version")),
        created_at=str(raw.get("created_at")),
        files=dict(raw.get("files") or {}),
        metadata=dict(raw.get("metadata") or {}),
    )


def read_artifact(path: str | os.PathLike[str], *, kind: str | None = None) -> tuple[Manifest, dict[str, bytes]]:
    """Read an artifact, verifying format, version, kind and every checksum.

    Parameters
    ----------
    path : path-like
        The artifact directory.
    kind : str, optional
        Expected model kind; a different kind raises IncompatibleArtifactError.

    Returns
    -------
    (Manifest, dict)
        The manifest and the raw bytes of each listed file.
    """
    root = Path(path)
    manifest = read_manifest(root)
    if kind is not None and manifest.kind != kind:
        raise IncompatibleArtifactError(
            f"The model artifact {str(root)!r} holds a {manifest.kind!r} model, not a {kind!r} model."
        )
    contents: dict[str, bytes] = {}
    for name, digest in manifest.files.items():
        p = root / name
        if not p.is_file():
            raise TamperedArtifactError(
                f"The model artifact {str(root)!r} is incomplete: {name!r} listed in the manifest is missing."
            )
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise TamperedArtifactError(
                f"The model artifact {str(root)!r} was modified after it was written: the checksum of "
                f"{name!r} does not match the manifest. Restore the original artifact or re-train."
            )
        contents[name] = data
    return manifest, contents
