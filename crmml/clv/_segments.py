"""CLV segments: Champions, Loyal, Potential, At risk — one documented rule.

The rule, applied in this order to every scored customer:

1. **At risk** — ``probability_alive < alive_threshold`` (default 0.5): the
   model thinks the customer has more likely than not stopped buying. These
   are the customers a win-back action targets.
2. **Champions** — alive and ``clv >= champion_threshold``, where the
   threshold is the ``champion_quantile`` (default 0.8) of CLV over the
   *training* population, fixed at fit time (so scoring one customer gives
   the same segment as scoring everyone).
3. **Loyal** — alive, not a champion, and ``frequency >= loyal_min_frequency``
   (default 2 repeat purchase periods): proven repeat buyers.
4. **Potential** — everyone else: alive but new or occasional (0–1 repeat
   purchases) — where growth can come from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SEGMENTS", "assign_segments", "segment_codes", "segment_reasons"]

SEGMENTS: tuple[str, ...] = ("Champions", "Loyal", "Potential", "At risk")


def assign_segments(
    clv: np.ndarray,
    probability_alive: np.ndarray,
    frequency: np.ndarray,
    *,
    champion_threshold: float,
    alive_threshold: float = 0.5,
    loyal_min_frequency: float = 2,
) -> pd.Categorical:
    """Apply the segment rule (see module docstring).

    Examples
    --------
    >>> assign_segments(np.array([900., 50., 10., 800.]), np.array([.9, .9, .9, .2]),
    ...                 np.array([5, 3, 0, 6]), champion_threshold=500).tolist()
    ['Champions', 'Loyal', 'Potential', 'At risk']
    """
    codes = segment_codes(clv, probability_alive, frequency, champion_threshold=champion_threshold,
                          alive_threshold=alive_threshold, loyal_min_frequency=loyal_min_frequency)
    return pd.Categorical.from_codes(codes, categories=list(SEGMENTS))


def segment_codes(
    clv: np.ndarray,
    probability_alive: np.ndarray,
    frequency: np.ndarray,
    *,
    champion_threshold: float,
    alive_threshold: float = 0.5,
    loyal_min_frequency: float = 2,
) -> np.ndarray:
    """The rule as int8 codes into :data:`SEGMENTS` (what :func:`assign_segments` wraps)."""
    clv = np.asarray(clv, dtype=float)
    pa = np.asarray(probability_alive, dtype=float)
    freq = np.asarray(frequency, dtype=float)
    codes = np.full(clv.shape, 2, dtype=np.int8)  # Potential
    codes[freq >= loyal_min_frequency] = 1  # Loyal
    codes[clv >= champion_threshold] = 0  # Champions
    codes[pa < alive_threshold] = 3  # At risk
    return codes


def segment_reasons(
    segment: pd.Categorical | np.ndarray,
    clv: np.ndarray,
    probability_alive: np.ndarray,
    frequency: np.ndarray,
    days_since_last: np.ndarray,
    expected_purchases: np.ndarray,
    *,
    horizon_days: float,
    alive_threshold: float,
    champion_quantile: float,
    contractual: bool = False,
) -> np.ndarray:
    """One short, human-readable reason per customer for its segment.

    ``contractual=True`` words the reasons in renewals (``frequency`` is the
    number of renewals survived, ``expected_purchases`` expected renewals,
    ``days_since_last`` days into the running term).
    """
    seg = np.asarray(segment.codes if isinstance(segment, pd.Categorical) else segment)
    pa = np.round(np.asarray(probability_alive, dtype=float), 2).tolist()
    f = np.asarray(frequency, dtype=float).astype(np.int64).tolist()
    dsl = np.asarray(days_since_last, dtype=float).round().astype(np.int64).tolist()
    ep = np.round(np.asarray(expected_purchases, dtype=float), 1).tolist()
    cl = np.round(np.asarray(clv, dtype=float)).astype(np.int64).tolist()
    top = int(round((1 - champion_quantile) * 100))
    h = int(round(horizon_days))
    a = f"{alive_threshold:g}"
    if contractual:
        templates = {
            3: lambda i: f"P(renew) {pa[i]} < {a} after {f[i]} renewals",
            0: lambda i: f"top {top}% contract value: CLV {cl[i]} over {h} days, P(renew) {pa[i]}",
            1: lambda i: f"{f[i]} renewals survived, P(renew) {pa[i]}",
            2: lambda i: f"young account ({f[i]} renewals so far), {dsl[i]} days into the current term, P(renew) {pa[i]}",
        }
    else:
        templates = {
            3: lambda i: f"P(alive) {pa[i]} < {a}: {f[i]} repeat purchases, last one {dsl[i]} days ago",
            0: lambda i: f"top {top}% expected value: CLV {cl[i]} over {h} days, P(alive) {pa[i]}",
            1: lambda i: f"{f[i]} repeat purchases, P(alive) {pa[i]}, expects {ep[i]} purchases in {h} days",
            2: lambda i: f"new or occasional buyer ({f[i]} repeat purchases); expects {ep[i]} purchases in {h} days",
        }
    return np.array([templates[int(c)](i) for i, c in enumerate(seg.tolist())], dtype=object)
