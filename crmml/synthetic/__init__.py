"""Synthetic CRM worlds with known ground truth (B2C shop, B2B accounts).

``make_b2c_world`` simulates a non-contractual shop whose purchases follow
BG/NBD and spend follows Gamma-Gamma exactly; ``make_b2b_world`` simulates
contractual accounts with buying centers, subscriptions, invoices, leads and
an opportunity pipeline. Every world carries the latent truth behind it; see
``docs/synthetic.md`` for the generative story.
"""

from crmml.synthetic._b2b import B2BParams, make_b2b_world
from crmml.synthetic._b2c import B2CParams, make_b2c_world
from crmml.synthetic._world import SyntheticWorld, true_alive_at
from crmml.synthetic._write import write_b2c_world, write_world

__all__ = [
    "SyntheticWorld",
    "B2CParams",
    "B2BParams",
    "make_b2c_world",
    "make_b2b_world",
    "true_alive_at",
    "write_world",
    "write_b2c_world",
]
