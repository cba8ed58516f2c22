"""Tiers by probability or capacity, frozen at fit; actions per tier; persistence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.exceptions import IncompatibleArtifactError, NotFittedError, ParameterError
from crmml.supervised import TierPolicy

ACTIONS = {"low": "none", "medium": "retention_offer", "high": "alert_account_manager"}


def test_probability_tiers_hand_computed():
    pol = TierPolicy.by_probability({"high": 0.6, "medium": 0.3}, actions=ACTIONS)
    tier, action = pol.assign(np.array([0.6, 0.5999, 0.3, 0.2999, 0.0, 1.0]))
    assert tier.tolist() == ["high", "medium", "medium", "low", "low", "high"]
    assert action.tolist() == ["alert_account_manager", "retention_offer", "retention_offer", "none", "none",
                               "alert_account_manager"]
    assert pol.tier_names == ["high", "medium", "low"]


def test_without_actions_only_tiers():
    tier, action = TierPolicy.by_probability({"hot": 0.5}, default_tier="cold").assign(np.array([0.7, 0.1]))
    assert tier.tolist() == ["hot", "cold"] and action is None


def test_capacity_tiers_are_frozen_on_the_reference_population():
    ref = np.arange(1, 101) / 100.0  # 0.01 .. 1.00
    pol = TierPolicy.by_capacity({"high": 0.05, "medium": 0.15}, actions=ACTIONS).freeze(ref)
    assert [t.threshold for t in pol.tiers] == [0.96, 0.81]
    assert pol.realized_shares == {"high": 0.05, "medium": 0.15, "low": 0.8}
    # frozen: one row scored alone gets the tier it had in the reference batch
    assert pol.assign(np.array([0.96]))[0].tolist() == ["high"]
    assert pol.assign(np.array([0.955]))[0].tolist() == ["medium"]


def test_capacity_ties_are_kept_together_and_reported():
    ref = np.array([0.9, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    pol = TierPolicy.by_capacity({"high": 0.2}).freeze(ref)
    assert pol.tiers[0].threshold == 0.5
    assert pol.realized_shares["high"] == 0.4


def test_capacity_thresholds_that_do_not_decrease_are_refused():
    with pytest.raises(ParameterError, match=re.escape("give thresholds {'high': 0.5, 'medium': 0.5} that do not "
                                                       "decrease")):
        TierPolicy.by_capacity({"high": 0.1, "medium": 0.1}).freeze(np.full(20, 0.5))


def test_capacity_policy_must_be_frozen_before_use():
    with pytest.raises(NotFittedError, match="This TierPolicy instance is not fitted yet"):
        TierPolicy.by_capacity({"high": 0.1}).assign(np.array([0.5]))


@pytest.mark.parametrize("build, message", [
    (lambda: TierPolicy.by_probability({"high": 0.3, "medium": 0.6}),
     "Tier thresholds must decrease from the riskiest tier down. Got {'high': 0.3, 'medium': 0.6}."),
    (lambda: TierPolicy.by_probability({"high": 1.5}), "The threshold of tier 'high' must be a probability in (0, 1]."),
    (lambda: TierPolicy.by_probability({"low": 0.5}), "Tier names must be distinct (default tier included)."),
    (lambda: TierPolicy.by_capacity({"high": 0.7, "medium": 0.5}), "Capacity tier shares must add up to at most 1."),
    (lambda: TierPolicy.by_capacity({"high": 0.0}), "Capacity tier shares must be in (0, 1). Got {'high': 0.0}."),
    (lambda: TierPolicy.by_probability({"high": 0.6}, actions={"high": "call"}),
     "The actions must name exactly the tiers ['high', 'low']; missing ['low'], unknown []."),
])
def test_invalid_policies_are_refused(build, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        build()


@settings(max_examples=50, deadline=None)
@given(ref=st.lists(st.floats(0, 1), min_size=5, max_size=200), probe=st.lists(st.floats(0, 1), min_size=1,
                                                                                 max_size=30))
def test_one_entity_alone_gets_its_batch_tier(ref, probe):
    try:
        pol = TierPolicy.by_capacity({"high": 0.1, "medium": 0.2}, actions=ACTIONS).freeze(np.asarray(ref))
    except ParameterError:
        return  # tied reference: refused by design
    batch, _ = pol.assign(np.asarray(probe))
    alone = [pol.assign(np.array([p]))[0][0] for p in probe]
    assert batch.tolist() == alone


def _load(d, **kw):
    return TierPolicy.from_dict(Payload.parse(json.dumps(d), source="supervised.json"), **kw)


def test_round_trip():
    pol = TierPolicy.by_capacity({"high": 0.05, "medium": 0.15}, actions=ACTIONS).freeze(np.linspace(0, 1, 101))
    back = _load(pol.to_dict())
    assert back == pol
    unfrozen = TierPolicy.by_capacity({"high": 0.05})
    assert _load(unfrozen.to_dict(), frozen=False) == unfrozen


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["tiers"][1].update(threshold=0.9), r"tiers\[1\]\.threshold: expected a probability below the "
                                                    r"previous tier's \(0\.6\); got 0\.9"),
    (lambda d: d["tiers"][0].update(threshold=None), r"tiers\[0\]\.threshold: expected a finite number in \(0, 1\]; "
                                                     r"got null"),
    (lambda d: d["tiers"][0].update(threshold=0), r"tiers\[0\]\.threshold: expected a finite number in \(0, 1\]"),
    (lambda d: d.update(extra=1), r"supervised\.json: unknown key 'extra'"),
    (lambda d: d["actions"].pop("low"), r"supervised\.json: expected a valid tier policy \(The actions must name "
                                        r"exactly the tiers"),
    (lambda d: d["realized_shares"].update(vip=0.1), r"realized_shares: expected shares of the tiers"),
])
def test_tampered_policies_are_refused_naming_the_field(edit, message):
    d = json.loads(json.dumps(TierPolicy.by_probability({"high": 0.6, "medium": 0.3}, actions=ACTIONS).to_dict()))
    edit(d)
    with pytest.raises(IncompatibleArtifactError, match=message):
        _load(d)
