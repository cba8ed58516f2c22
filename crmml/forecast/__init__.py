"""crmml.forecast."""
