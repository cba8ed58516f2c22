"""One entity scored in process: the latency loop shared by the supervised benchmarks."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd


def call_latency(fn: Any, inputs: list[Any], *, warmup: int = 20) -> np.ndarray:
    """Milliseconds of ``fn(x)`` for each of ``inputs`` (after ``warmup`` untimed calls)."""
    for x in inputs[:warmup]:
        fn(x)
    lat = []
    for x in inputs:
        t0 = time.perf_counter()
        fn(x)
        lat.append(time.perf_counter() - t0)
    return np.array(lat) * 1e3


def score_row_latency(scorer: Any, features: pd.DataFrame, n: int, *, warmup: int = 20,
                      seed: int = 0) -> tuple[np.ndarray, pd.Index]:
    """Milliseconds of ``scorer.score_row`` for ``n`` sampled rows of a feature frame (indexed by entity).

    Returns the latencies and the sampled entity ids (for a follow-up measurement on the same entities).
    """
    pick = features.sample(min(n, len(features)), random_state=seed)
    return call_latency(scorer.score_row, [r.to_dict() for _, r in pick.iterrows()], warmup=warmup), pick.index


def score_latency(scorer: Any, one_entity_tables: list[Any], as_of: Any) -> np.ndarray:
    """Milliseconds of ``scorer.score(tables, as_of)`` on each entity's own tables (features included)."""
    scorer.score(one_entity_tables[0], as_of)  # warm-up
    out = []
    for one in one_entity_tables:
        t0 = time.perf_counter()
        scorer.score(one, as_of)
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


def timed_batch(scorer: Any, tables: Any, as_of: Any,
                out: Any) -> tuple[pd.DataFrame, pd.DataFrame, float, float, float]:
    """Features, model and reasons, Parquet write of a batch score: ``(features, scores, t_feat, t_model, t_write)``."""
    t0 = time.perf_counter()
    feats = scorer.build_features(tables, as_of)
    t_feat = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = scorer.predict_features(feats)
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores.to_parquet(out)
    return feats, scores, t_feat, t_model, time.perf_counter() - t0
