"""Extra (non-contract) columns of an entity table as features: parameters, checks, and the feature columns.

Lead scoring and the forecast let users declare extra columns of ``leads`` /
``opportunities`` as features (``static_columns``), screened for leakage
(:func:`~crmml.supervised.screen_columns`) unless allowed (``allow_columns``).
What every such package needs lives here once: the parameter constraint,
the checks of the declared names, and the conversion to features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmml.exceptions import ParameterError

__all__ = ["MAX_STATIC_COLUMNS", "ColumnNames", "add_static_columns", "check_static_names", "require_static_columns"]

MAX_STATIC_COLUMNS = 50
"""Most extra columns a model may declare."""


class ColumnNames:
    """Parameter constraint: a tuple of distinct column names (possibly empty); stored as a JSON array."""

    json_array = True

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, (tuple, list)) and len(value) <= MAX_STATIC_COLUMNS and all(
            isinstance(v, str) and 0 < len(v) <= 128 for v in value) and len(set(value)) == len(value)

    def __str__(self) -> str:
        return f"a list of at most {MAX_STATIC_COLUMNS} distinct column names"


def check_static_names(owner: str, table: str, contract: Sequence[str], static: Sequence[str],
                       allow: Sequence[str], why: str) -> None:
    """Refuse contract columns among ``static`` and ``allow`` names that are not in ``static``.

    ``why`` says what the contract columns are instead (e.g. "features already").

    Raises
    ------
    ParameterError
        Naming the parameter, the columns and what to do.
    """
    reserved = sorted(set(static) & set(contract))
    if reserved:
        raise ParameterError(f"The 'static_columns' parameter of {owner} names contract columns of the {table} table: "
                             f"{reserved}. List only extra columns; the contract columns {why}.")
    stray = sorted(set(allow) - set(static))
    if stray:
        raise ParameterError(f"The 'allow_columns' parameter of {owner} names columns that are not in "
                             f"'static_columns': {stray}.")


def require_static_columns(owner: str, table: str, frame: pd.DataFrame, static: Sequence[str],
                           contract: Sequence[str]) -> None:
    """Refuse declared static columns that ``frame`` (the ``table`` table) does not have, listing the extra ones."""
    missing = [c for c in static if c not in frame.columns]
    if missing:
        raise ParameterError(f"The 'static_columns' parameter of {owner} names columns the {table} table does not "
                             f"have: {missing}. Columns present beyond the contract: "
                             f"{[c for c in frame.columns if c not in contract][:20]}.")


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
