"""crmml.features."""
