"""crmml — predictive CRM analytics from CRM event tables.

Customer lifetime value, churn risk, lead scoring and pipeline forecasts, each
built from the contract tables *as of* a point in time and served as an
importable scorer.

Importing crmml is cheap: model packages, MLflow and plotting load only when
used.
"""

from crmml._version import __version__

__all__ = ["__version__"]
