"""Fixtures of the supervised-spine tests: a synthetic training set with a known truth, one fitted model."""

from __future__ import annotations

import pytest
from logistic_world import make_training_set

from crmml.supervised import BinaryOutcomeModel, TierPolicy

ACTIONS = {"low": "none", "medium": "retention_offer", "high": "alert_account_manager"}


@pytest.fixture(scope="session")
def training_set():
    """4 cutoffs × 5,000 customers; ``p_true`` holds the true probability."""
    return make_training_set(5000, seed=0)


@pytest.fixture(scope="session")
def fitted(training_set):
    """The spine fitted on ``training_set`` (2 threads), baseline = recency, churn-style tiers and actions."""
    model = BinaryOutcomeModel(exclude=["p_true"], baseline="recency_days", num_threads=2,
                               tiers=TierPolicy.by_probability({"high": 0.4, "medium": 0.2}, actions=ACTIONS))
    return model.fit(training_set)


@pytest.fixture(scope="session")
def holdout(training_set):
    """The rows of the held-out (latest) cutoff."""
    f = training_set.frame
    return f[f["cutoff"] == f["cutoff"].max()]
