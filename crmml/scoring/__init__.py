"""crmml.scoring."""
