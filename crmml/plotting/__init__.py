"""crmml.plotting."""
