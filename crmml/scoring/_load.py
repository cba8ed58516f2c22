"""Loading a scorer from a local artifact or an MLflow model URI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crmml._artifact import MANIFEST, read_artifact
from crmml.exceptions import ArtifactError, CrmmlError, IncompatibleArtifactError, ModelNotFoundError
from crmml.scoring._mlflow import download_model, is_mlflow_uri
from crmml.scoring._registry import scorer_class

__all__ = ["load_scorer", "load_local_scorer", "find_artifact_dir"]

def _subdirs(folder: Path) -> list[Path]:
    """Sub-folders of ``folder``, sorted, symbolic links not followed."""
    try:
        with os.scandir(folder) as it:
            return sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def find_artifact_dir(path: str | os.PathLike[str]) -> Path:
    """Locate the crmml artifact inside ``path``.

    ``path`` may be the artifact itself or an MLflow pyfunc model directory
    (``MLmodel`` + ``data/<artifact>``) written by :mod:`crmml.tracking`; the
    search looks two folder levels down and never follows a symbolic link.
    """
    root = Path(path)
    if os.path.lexists(root / MANIFEST):
        return root  # read_manifest refuses a manifest that is a link or not a file
    if root.is_dir():
        level1 = _subdirs(root)
        found = [d for d in level1 if os.path.lexists(d / MANIFEST)]
        found += [d for sub in level1 for d in _subdirs(sub) if os.path.lexists(d / MANIFEST)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise IncompatibleArtifactError(
                f"{str(root)!r} holds several crmml artifacts ({', '.join(str(f) for f in found)}); "
                "pass one of them."
            )
    if not root.exists():
        raise ModelNotFoundError(
            f"No model at {str(root)!r}. Pass a directory written by Scorer.save() or an MLflow URI "
            "such as 'models:/crmml-clv@champion'."
        )
    raise IncompatibleArtifactError(
        f"{str(root)!r} is not a crmml model artifact: no {MANIFEST} found. "
        "Pass a directory written by Scorer.save() or an MLflow model logged by crmml."
    )


_REBUILD_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError, RecursionError)


def load_local_scorer(path: str | os.PathLike[str], *, kind: str | None = None) -> Any:
    """Load a scorer from a local directory without importing MLflow.

    Raises
    ------
    IncompatibleArtifactError, TamperedArtifactError
        Anything wrong with the artifact (see :func:`crmml._artifact.read_artifact`).
        A model class that fails to rebuild itself with a Python error
        (``KeyError``, ``TypeError`` ...) or another crmml error is reported
        as :class:`~crmml.exceptions.IncompatibleArtifactError` too, the
        original chained: loading untrusted files raises nothing else.
    ModelNotFoundError
        ``path`` does not exist.
    """
    art = find_artifact_dir(path)
    manifest, files = read_artifact(art, kind=kind)
    cls = scorer_class(manifest.kind)
    try:
        return cls.from_artifact(manifest, files)
    except ArtifactError:
        raise
    except (CrmmlError, *_REBUILD_ERRORS) as exc:
        detail = f"{type(exc).__name__}: {exc}"
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise IncompatibleArtifactError(
            f"The {manifest.kind!r} model in {str(art)!r} cannot be rebuilt from its files ({detail}). "
            "The artifact is damaged, was edited by hand or was written by an incompatible crmml; restore it "
            "from the MLflow registry or re-train."
        ) from exc


def load_scorer(uri: str | os.PathLike[str], *, kind: str | None = None, tracking_uri: str | None = None) -> Any:
    """Load a fitted crmml scorer.

    Parameters
    ----------
    uri : str or path-like
        A local artifact directory (``Scorer.save`` output or an MLflow model
        directory), or an MLflow URI: ``models:/crmml-clv@champion``,
        ``models:/crmml-clv/3``, ``runs:/<run_id>/model``. MLflow is imported
        only for MLflow URIs.
    kind : str, optional
        Expected model kind (``"clv"``); a different kind raises
        :class:`~crmml.exceptions.IncompatibleArtifactError`.
    tracking_uri : str, optional
        MLflow store for ``models:/`` and ``runs:/`` URIs (default:
        ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``). Loading never
        creates a store: a local store that does not exist is an error.

    Returns
    -------
    Scorer
        The model, rebuilt by crmml's installed code from JSON/text files.

    Raises
    ------
    ModelNotFoundError
        Nothing at ``uri`` (no folder; no such registered model, version,
        alias or run).
    IncompatibleArtifactError, TamperedArtifactError
        The artifact is malformed or was modified.
    TrackingError
        The MLflow store is missing, unreachable or failing.

    Examples
    --------
    >>> import crmml
    >>> scorer = crmml.load_scorer("models:/crmml-clv@champion")      # doctest: +SKIP
    >>> scorer.score(tables, as_of="2025-12-01").head()               # doctest: +SKIP
    """
    text = os.fspath(uri)
    if is_mlflow_uri(text):
        return load_local_scorer(download_model(text, tracking_uri=tracking_uri), kind=kind)
    return load_local_scorer(text, kind=kind)
