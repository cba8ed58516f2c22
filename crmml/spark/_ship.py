"""What the driver sends to the executors, as plain data, and how a Python worker rebuilds it.

Models travel as the bytes of their artifact files, the owner history as
Parquet bytes, errors back as JSON-ready dicts; nothing crmml builds is
pickled. A Python worker keeps what it rebuilt for the tasks that follow
(Spark reuses its Python workers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from crmml import exceptions as _exc
from crmml._artifact import MANIFEST, check_file_name, read_artifact
from crmml.exceptions import (
    CrmmlError,
    DataContractError,
    Problem,
    TamperedArtifactError,
)

__all__ = [
    "artifact_payload",
    "error_from_dict",
    "error_to_dict",
    "frame_from_bytes",
    "frame_to_bytes",
    "owner_history",
    "scorers_from_payload",
    "ship",
    "unship",
]

#: Artifact SHA-256 → scorer, per Python worker process.
_SCORERS: dict[str, Any] = {}
_MAX_SCORERS = 32
#: (token, frame) of the last owner history this worker decoded.
_OWNER: list[tuple[str, pd.DataFrame]] = []


# ------------------------------------------------------------------ models
def artifact_payload(models: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Output name → ``{"sha256": ..., "files": {file name: bytes}}`` of each model's artifact.

    The files are read and verified (:func:`crmml._artifact.read_artifact`)
    on the driver; the manifest must still be the one the model was loaded
    from (``BatchModel.artifact_sha256``).

    Raises
    ------
    TamperedArtifactError
        The artifact changed since the batch loaded it.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, m in models.items():
        art = Path(m.artifact_dir)
        manifest = (art / MANIFEST).read_bytes()
        if hashlib.sha256(manifest).hexdigest() != m.artifact_sha256:
            raise TamperedArtifactError(f"The artifact of model {name!r} at {str(art)!r} changed after the batch "
                                        "loaded it. Fix: rerun the batch once the model folder is stable.")
        _, files = read_artifact(art)
        out[name] = {"sha256": m.artifact_sha256, "files": {MANIFEST: manifest, **files}}
    return out


def _scorer(sha256: str, files: Mapping[str, bytes]) -> Any:
    """Rebuild one scorer from its files (once per worker and artifact)."""
    from crmml.scoring import load_local_scorer

    hit = _SCORERS.get(sha256)
    if hit is not None:
        return hit
    if hashlib.sha256(files.get(MANIFEST, b"")).hexdigest() != sha256:
        raise TamperedArtifactError("A model artifact arrived on an executor with another manifest than the driver "
                                    "loaded. Fix: rerun the batch.")
    with tempfile.TemporaryDirectory(prefix="crmml-spark-model-") as tmp:
        for fname, data in files.items():
            if fname != MANIFEST and check_file_name(fname) is not None:
                raise TamperedArtifactError(
                    f"A model artifact lists the file name {fname!r}: {check_file_name(fname)}.")
            (Path(tmp) / fname).write_bytes(data)
        scorer = load_local_scorer(tmp)  # verifies the manifest and every checksum
    if len(_SCORERS) >= _MAX_SCORERS:
        _SCORERS.clear()
    _SCORERS[sha256] = scorer
    return scorer


def scorers_from_payload(payload: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Output name → scorer, in the payload's (the batch's) model order."""
    return {name: _scorer(p["sha256"], p["files"]) for name, p in payload.items()}


# ------------------------------------------------------------------ frames
def frame_to_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet bytes (pandas dtypes kept through pandas' metadata)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def frame_from_bytes(data: bytes) -> pd.DataFrame:
    """Inverse of :func:`frame_to_bytes`."""
    return pd.read_parquet(io.BytesIO(data))


def owner_history(shipped: Any) -> pd.DataFrame | None:
    """The owner history of a run from its shipped ``{"token", "data"}`` (decoded once per worker)."""
    value = None if shipped is None else shipped.value
    if value is None:
        return None
    if _OWNER and _OWNER[0][0] == value["token"]:
        return _OWNER[0][1]
    frame = frame_from_bytes(value["data"])
    _OWNER[:] = [(value["token"], frame)]
    return frame


# ------------------------------------------------------------------ shipping
def ship(spark: Any, value: Any) -> Any:
    """A broadcast variable holding ``value`` (Spark Connect has none: the value then travels with the task)."""
    try:
        context = spark.sparkContext
    except Exception:  # noqa: BLE001 - Spark Connect raises its own "not implemented" error here
        return SimpleNamespace(value=value)
    return context.broadcast(value)


def unship(shipped: Any) -> None:
    """Free a broadcast variable of :func:`ship`."""
    destroy = getattr(shipped, "destroy", None)
    if destroy is not None:
        with contextlib.suppress(Exception):  # the session may be stopping; nothing to free then
            destroy()


# ------------------------------------------------------------------ errors
def error_to_dict(exc: CrmmlError) -> dict[str, Any]:
    """A crmml error as JSON-ready data (type name, message, and the problems of a data contract error)."""
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, DataContractError):
        out["problems"] = [dataclasses.asdict(p) for p in exc.problems]
        out["context"] = exc.context
    return out


def error_from_dict(data: Mapping[str, Any]) -> CrmmlError:
    """The crmml error :func:`error_to_dict` described (same class, message and problems)."""
    cls = getattr(_exc, str(data.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, CrmmlError)):
        cls = CrmmlError
    if "problems" in data and issubclass(cls, DataContractError):
        problems = [Problem(**{**p, "examples": tuple(p.get("examples", ()))}) for p in data["problems"]]
        exc = DataContractError.__new__(cls)
        DataContractError.__init__(exc, problems, data.get("context", "validating tables"))
        exc.args = (data["message"],)
        return exc
    exc = cls.__new__(cls)
    Exception.__init__(exc, data["message"])
    return exc
