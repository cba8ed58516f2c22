"""Generated B2B worlds satisfy the contract's no-exact-copies rule even where simulated times collide."""

import pandas as pd

from crmml.data import load_tables
from crmml.synthetic import make_b2b_world
from crmml.synthetic._b2b import B2BParams


def test_lead_events_in_the_same_second_are_one_event():
    # a tiny decay packs every lead's events into seconds, so collisions are certain without the rule
    # (without the rule this world has 36 exact copies among 7,324 events)
    w = make_b2b_world(40, n_leads=2000, seed=1,
                       params=B2BParams(lead_event_rate=5000.0, lead_event_decay_days=0.0005))
    ev = w.tables.lead_events
    assert len(ev) == 7324 - 36 and not ev.duplicated().any()
    load_tables({k: pd.DataFrame(v) for k, v in w.tables.items()})  # validates: raises on a broken rule
