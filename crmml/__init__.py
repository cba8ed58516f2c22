"""crmml — predictive CRM analytics from CRM event tables.

Customer lifetime value, churn risk, lead scoring and pipeline forecasts, each
built from the contract tables *as of* a point in time and served as an
importable scorer.

Importing crmml is cheap: data, model packages, MLflow and plotting load only
when first used.

Examples
--------
>>> import crmml
>>> tables = crmml.load_tables("data/synthetic/b2c")                # doctest: +SKIP
>>> scorer = crmml.load_scorer("models:/crmml-clv@champion")        # doctest: +SKIP
>>> scorer.score(tables, as_of="2025-12-01")                        # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from crmml._version import __version__

__all__ = ["__version__", "load_scorer", "load_tables", "CRMTables"]

_LAZY = {
    "load_scorer": ("crmml.scoring._load", "load_scorer"),
    "load_tables": ("crmml.data", "load_tables"),
    "CRMTables": ("crmml.data", "CRMTables"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crmml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
