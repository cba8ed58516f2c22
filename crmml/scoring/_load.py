"""Loading a scorer from a local artifact or an MLflow model URI."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from crmml._artifact import MANIFEST, read_artifact
from crmml.exceptions import IncompatibleArtifactError
from crmml.scoring._registry import scorer_class

__all__ = ["load_scorer", "load_local_scorer", "find_artifact_dir"]

_MLFLOW_URI = re.compile(r"^(models|runs|mlflow-artifacts|dbfs|s3|gs|wasbs|https?):/")


def find_artifact_dir(path: str | os.PathLike[str]) -> Path:
    """Locate the crmml artifact inside ``path``.

    ``path`` may be the artifact itself or an MLflow pyfunc model directory
    (``MLmodel`` + ``data/<artifact>``) written by :mod:`crmml.tracking`.
    """
    root = Path(path)
    if (root / MANIFEST).is_file():
        return root
    if root.is_dir():
        found = sorted(root.glob(f"*/{MANIFEST}")) + sorted(root.glob(f"*/*/{MANIFEST}"))
        if len(found) == 1:
            return found[0].parent
        if len(found) > 1:
            raise IncompatibleArtifactError(
                f"{str(root)!r} holds several crmml artifacts ({', '.join(str(f.parent) for f in found)}); "
                "pass one of them."
            )
    if not root.exists():
        raise FileNotFoundError(
            f"No model at {str(root)!r}. Pass a directory written by Scorer.save() or an MLflow URI "
            "such as 'models:/crmml-clv@champion'."
        )
    raise IncompatibleArtifactError(
        f"{str(root)!r} is not a crmml model artifact: no {MANIFEST} found. "
        "Pass a directory written by Scorer.save() or an MLflow model logged by crmml."
    )


def load_local_scorer(path: str | os.PathLike[str], *, kind: str | None = None) -> Any:
    """Load a scorer from a local directory without importing MLflow."""
    art = find_artifact_dir(path)
    manifest, files = read_artifact(art, kind=kind)
    cls = scorer_class(manifest.kind)
    return cls.from_artifact(manifest, files)


def load_scorer(uri: str | os.PathLike[str], *, kind: str | None = None) -> Any:
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

    Returns
    -------
    Scorer
        The model, rebuilt by crmml's installed code from JSON/text files.

    Examples
    --------
    >>> import crmml
    >>> scorer = crmml.load_scorer("models:/crmml-clv@champion")      # doctest: +SKIP
    >>> scorer.score(tables, as_of="2025-12-01").head()               # doctest: +SKIP
    """
    text = os.fspath(uri)
    if _MLFLOW_URI.match(text):
        import mlflow.artifacts

        local = mlflow.artifacts.download_artifacts(artifact_uri=text)
        return load_local_scorer(local, kind=kind)
    return load_local_scorer(text, kind=kind)
