"""Which crmml class loads which artifact kind.

The mapping is crmml's own code: an artifact only names its ``kind``; it can
never name a module or class to import.

Registering a kind also enrols it in the conformance suite: add its factory to
``FACTORIES`` in ``tests/test_conformance.py`` (a test fails until you do). It
also makes the kind trainable with :func:`crmml.training.train`, which finds
the class here; the per-kind training hooks (``as_of_sources``,
``evaluate_holdout``, plots, CLI options) are listed in docs/scoring.md.
"""

from __future__ import annotations

import importlib
from typing import Any

from crmml.exceptions import IncompatibleArtifactError

__all__ = ["KINDS", "scorer_class"]

KINDS: dict[str, tuple[str, str]] = {
    "clv": ("crmml.clv", "CLVModel"),
    "churn": ("crmml.churn", "ChurnModel"),
    "leadscore": ("crmml.leadscore", "LeadScoreModel"),
    "forecast": ("crmml.forecast", "PipelineForecastModel"),
}


def scorer_class(kind: str) -> Any:
    """Return the class registered for ``kind``."""
    try:
        module, name = KINDS[kind]
    except KeyError:
        raise IncompatibleArtifactError(
            f"Unknown model kind {kind!r} in the artifact; this crmml knows "
            f"{', '.join(sorted(KINDS))}. Upgrade crmml to the version that wrote the artifact."
        ) from None
    return getattr(importlib.import_module(module), name)
