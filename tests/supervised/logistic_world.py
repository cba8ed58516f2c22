"""A self-contained synthetic training set with a known logistic truth (no churn code needed).

Every row is one customer at one cutoff. The outcome is drawn from
``p_true = expit(logit)``, with

    logit = -1.9 + 0.9 * log1p(recency_days / 30) - 0.22 * n_purchases
            + 1.1 * interactions_complaint_90d + channel effect + member effect

plus five pure-noise features, a categorical ``channel`` (web / store /
phone), a bool ``is_member`` and ``days_since_complaint`` (NaN for customers
without a complaint). ``TRUE_TERMS`` gives each feature's term of the logit,
so a row's true driver is known.

Imported by name (``from logistic_world import make_training_set``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmml.supervised import TrainingSet

AS_OF = pd.Timestamp("2025-01-01")
HORIZON = 90.0
CUTOFFS = [AS_OF - pd.Timedelta(days=HORIZON * k) for k in (4, 3, 2, 1)]
CHANNEL = {"web": 0.0, "store": -0.45, "phone": 0.55}
COMPLAINT = "interactions_complaint_90d"


def true_terms(frame: pd.DataFrame) -> pd.DataFrame:
    """Each feature's additive term of the true logit."""
    return pd.DataFrame({
        "recency_days": 0.9 * np.log1p(frame["recency_days"].to_numpy() / 30.0),
        "n_purchases": -0.22 * frame["n_purchases"].to_numpy(),
        COMPLAINT: 1.1 * frame[COMPLAINT].to_numpy(),
        "channel": frame["channel"].map(CHANNEL).to_numpy(dtype=float),
        "is_member": np.where(frame["is_member"].to_numpy(), -0.4, 0.0),
    }, index=frame.index)


def make_frame(n_per_cutoff: int = 5000, seed: int = 0, cutoffs: list[pd.Timestamp] | None = None) -> pd.DataFrame:
    """The stacked frame: ``customer_id``, ``cutoff``, features, ``churned``, ``p_true``."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, cutoff in enumerate(cutoffs or CUTOFFS):
        n = n_per_cutoff
        complaints = rng.poisson(0.25, n)
        f = pd.DataFrame({
            "customer_id": [f"C{j:06d}" for j in range(n)],
            "cutoff": cutoff,
            "recency_days": np.round(rng.exponential(45.0, n), 1),
            "n_purchases": rng.poisson(3.0, n).astype(np.int64),
            COMPLAINT: complaints.astype(np.int64),
            "days_since_complaint": np.where(complaints > 0, np.round(rng.uniform(1, 90, n)), np.nan),
            "channel": pd.Categorical(rng.choice(list(CHANNEL), n, p=[0.5, 0.3, 0.2]),
                                      categories=sorted(CHANNEL)),
            "is_member": rng.random(n) < 0.35,
        })
        for j in range(5):
            f[f"noise_{j}"] = rng.normal(size=n)
        logit = -1.9 + true_terms(f).sum(axis=1).to_numpy()
        p = 1.0 / (1.0 + np.exp(-logit))
        f["p_true"] = p
        f["churned"] = (rng.random(n) < p).astype(np.int64)
        parts.append(f)
        del i
    return pd.concat(parts, ignore_index=True)


def make_training_set(n_per_cutoff: int = 5000, seed: int = 0) -> TrainingSet:
    """The frame as a TrainingSet (``p_true`` kept; exclude it from the features)."""
    return TrainingSet.from_frame(make_frame(n_per_cutoff, seed), entity="customer_id", label="churned",
                                  horizon_days=HORIZON, as_of=AS_OF)
