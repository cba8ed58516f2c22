"""crmml.leadscore."""
