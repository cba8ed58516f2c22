"""Extra (non-contract) columns of an entity table as features: numbers, categories, dates as days before."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["add_static_columns"]


def add_static_columns(frame: pd.DataFrame, table: pd.DataFrame, key: str, columns: Sequence[str],
                       as_of: pd.Timestamp) -> pd.DataFrame:
    """Add the declared extra columns of ``table`` to the feature ``frame`` (indexed by ``key``), in place.

    Numbers and bools become float64, dates the days between them and
    ``as_of`` (positive before it), anything else a category. Entities of
    ``frame`` missing from ``table`` get missing values. The values are
    today's snapshot: screen them for leakage
    (:func:`~crmml.supervised.screen_columns`) before training on them.

    Returns
    -------
    DataFrame
        ``frame``.
    """
    if not columns:
        return frame
    extra = table.set_index(key)[list(columns)].reindex(frame.index)
    for c in extra.columns:
        col = extra[c]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            frame[c] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            frame[c] = (as_of - col).dt.total_seconds().to_numpy() / 86_400.0  # days before as_of
        else:
            frame[c] = col.astype("category")
    return frame
