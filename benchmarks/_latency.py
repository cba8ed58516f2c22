"""One entity scored in process: the latency loop shared by the supervised benchmarks."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd


def score_row_latency(scorer: Any, features: pd.DataFrame, n: int, *, warmup: int = 20,
                      seed: int = 0) -> tuple[np.ndarray, pd.Index]:
    """Milliseconds of ``scorer.score_row`` for ``n`` sampled rows of a feature frame (indexed by entity).

    Returns the latencies and the sampled entity ids (for a follow-up measurement on the same entities).
    """
    pick = features.sample(min(n, len(features)), random_state=seed)
    mappings = [r.to_dict() for _, r in pick.iterrows()]
    for m in mappings[:warmup]:
        scorer.score_row(m)
    lat = []
    for m in mappings:
        t0 = time.perf_counter()
        scorer.score_row(m)
        lat.append(time.perf_counter() - t0)
    return np.array(lat) * 1e3, pick.index
