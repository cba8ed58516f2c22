"""Errors and warnings specific to the supervised layer.

Both derive from crmml's bases (:class:`~crmml.exceptions.CrmmlError`) and the
matching built-ins, so ``except ValueError`` and ``except CrmmlError`` keep
catching them.
"""

from __future__ import annotations

from crmml.exceptions import InsufficientDataError

__all__ = ["InsufficientDataError", "BaselineWarning"]


class BaselineWarning(UserWarning):
    """A fitted model does not beat the simple baseline score on the held-out cutoff."""
