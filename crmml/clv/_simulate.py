"""Vectorised simulators of the CLV models (summary frames with known truth)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["simulate_bgnbd", "simulate_pareto_nbd", "simulate_gamma_gamma", "simulate_sbg"]


def _ages(n: int, T: ArrayLike) -> np.ndarray:
    arr = np.asarray(T, dtype="float64")
    return np.full(n, float(arr)) if arr.ndim == 0 else arr.astype("float64").copy()


def _frame(n: int, x: np.ndarray, tx: np.ndarray, T: np.ndarray, discrete: bool, extra: dict) -> pd.DataFrame:
    if discrete:
        # daily grid: purchase ages in whole periods (recency rounded down, never above T)
        tx = np.minimum(np.floor(tx), T)
    df = pd.DataFrame({"frequency": x.astype("float64"), "recency": np.where(x > 0, tx, 0.0), "T": T, **extra},
                      index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    return df


def _order_stat(rng: np.random.Generator, x: np.ndarray, n_events: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Time of the x-th of ``n_events`` uniform events on [0, window] (0 when x = 0)."""
    pos = x > 0
    out = np.zeros(len(x))
    out[pos] = window[pos] * rng.beta(x[pos], n_events[pos] - x[pos] + 1)
    return out


def simulate_bgnbd(
    n: int, params: Mapping[str, float], T: ArrayLike, seed: int | None = None, *, discrete: bool = False
) -> pd.DataFrame:
    """Simulate BG/NBD summaries (frequency, recency, T) for ``n`` customers.

    ``lambda ~ Gamma(r, rate alpha)``, ``p ~ Beta(a, b)``; repeat purchases
    follow a Poisson process and the customer drops out after each repeat
    purchase with probability ``p``. Columns ``lambda``, ``p``, ``alive`` hold
    the truth. ``discrete=True`` floors recency to whole periods.
    """
    rng = np.random.default_rng(seed)
    Ta = _ages(n, T)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    n_events = rng.poisson(lam * Ta)  # purchases in (0, T] if never dropping out
    death_after = rng.geometric(p)  # repeat purchase after which the customer drops out
    x = np.minimum(n_events, death_after)
    tx = _order_stat(rng, x, n_events, Ta)
    alive = n_events < death_after
    return _frame(n, x, tx, Ta, discrete, {"lambda": lam, "p": p, "alive": alive})


def simulate_pareto_nbd(
    n: int, params: Mapping[str, float], T: ArrayLike, seed: int | None = None, *, discrete: bool = False
) -> pd.DataFrame:
    """Simulate Pareto/NBD summaries: ``lambda ~ Gamma(r, alpha)``, lifetime ``~ Exp(mu)``, ``mu ~ Gamma(s, beta)``."""
    rng = np.random.default_rng(seed)
    Ta = _ages(n, T)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
    tau = rng.exponential(1.0 / mu)
    window = np.minimum(tau, Ta)
    x = rng.poisson(lam * window)
    tx = _order_stat(rng, x, x, window)
    return _frame(n, x, tx, Ta, discrete, {"lambda": lam, "mu": mu, "alive": tau > Ta})


def simulate_gamma_gamma(
    frequency: ArrayLike, params: Mapping[str, float], seed: int | None = None
) -> np.ndarray:
    """Mean spend of ``frequency`` transactions per customer (0 where frequency is 0).

    Each value is ``Gamma(p, rate nu)`` with ``nu ~ Gamma(q, rate v)``.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype="float64")
    nu = rng.gamma(params["q"], 1.0 / params["v"], len(x))
    pos = x > 0
    out = np.zeros(len(x))
    out[pos] = rng.gamma(params["p"] * x[pos], 1.0 / nu[pos]) / x[pos]
    return out


def simulate_sbg(n: int, params: Mapping[str, float], n_periods: int, seed: int | None = None) -> pd.DataFrame:
    """Simulate a contractual cohort: churn probability ``theta ~ Beta(alpha, beta)`` per period.

    Returns one row per customer with ``tenure`` (period of churn, or
    ``n_periods`` if still active) and ``churned`` (feed them to
    ``ShiftedBetaGeometricModel.fit_customers``); ``theta`` holds the truth.
    """
    rng = np.random.default_rng(seed)
    theta = rng.beta(params["alpha"], params["beta"], n)
    life = rng.geometric(theta)  # period in which the customer churns (>= 1)
    churned = life <= n_periods
    tenure = np.where(churned, life, n_periods)
    return pd.DataFrame({"tenure": tenure.astype("int64"), "churned": churned, "theta": theta},
                        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
