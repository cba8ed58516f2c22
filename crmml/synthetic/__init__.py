"""crmml.synthetic."""
