"""crmml.clv."""
