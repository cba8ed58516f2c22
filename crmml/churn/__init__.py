"""Churn risk for B2C (silence) and B2B (non-renewal) on the supervised spine. See ``docs/churn.md``."""

from crmml.churn._model import ChurnModel, churn_templates

__all__ = ["ChurnModel", "churn_templates"]
