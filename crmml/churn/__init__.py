"""crmml.churn."""
