"""How a model keeps its drift reference in its artifact: ``drift_reference.json`` beside ``model.json``.

:class:`crmml._artifact.ModelJsonArtifact` (the bottom layer) writes
``model.json`` and asks the model for more files through two hooks,
``_extra_files()`` and ``_read_extra_files(files)``, which do nothing there:
the bottom layer may not import this package. :class:`StoresDriftReference`
implements the pair once for every model kind (the supervised spine and CLV
inherit it), so the reference is written and read by one code path.

The reference is not part of ``model.json`` (:meth:`to_dict`): it is data
about the training population, not a parameter of the model, and an
artifact written before it existed still loads (``drift_reference_`` is
``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmml._payload import Payload
from crmml.drift._reference import DriftReference

__all__ = ["DRIFT_REFERENCE_FILE", "StoresDriftReference"]

DRIFT_REFERENCE_FILE = "drift_reference.json"
"""Artifact file holding :meth:`DriftReference.to_dict` (absent when the model has no reference)."""


class StoresDriftReference:
    """Mixin: save ``drift_reference_`` as ``drift_reference.json`` and read it back.

    List it before :class:`~crmml._artifact.ModelJsonArtifact` among the
    bases (``class Model(StoresDriftReference, ModelJsonArtifact, Estimator)``).
    ``fit`` sets ``drift_reference_`` (a :class:`DriftReference`, or ``None``
    when the population at ``as_of`` is empty); :meth:`from_dict` sets it to
    ``None`` (``model.json`` does not hold it) and loading an artifact
    restores it from ``drift_reference.json`` when the file is there.
    """

    drift_reference_: DriftReference | None

    def _extra_files(self) -> dict[str, Mapping[str, Any]]:
        """``model.json``'s companions: ``drift_reference.json`` when the model has a reference."""
        files = dict(super()._extra_files())  # type: ignore[misc]
        ref = getattr(self, "drift_reference_", None)
        if ref is not None:
            files[DRIFT_REFERENCE_FILE] = ref.to_dict()
        return files

    def _read_extra_files(self, files: Mapping[str, bytes]) -> None:
        """Restore ``drift_reference_`` from a verified artifact's files (``None`` without the file).

        Raises
        ------
        IncompatibleArtifactError
            ``drift_reference.json`` is malformed; the message names the field.
        """
        super()._read_extra_files(files)  # type: ignore[misc]
        raw = files.get(DRIFT_REFERENCE_FILE)
        self.drift_reference_ = None if raw is None else DriftReference.from_dict(
            Payload.parse(raw, source=DRIFT_REFERENCE_FILE))

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        """The estimator's ``from_dict``, with ``drift_reference_ = None`` (``model.json`` does not hold it)."""
        obj = super().from_dict(data)  # type: ignore[misc]
        obj.drift_reference_ = None
        return obj
