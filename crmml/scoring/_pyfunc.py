"""MLflow ``loader_module`` for crmml models (pyfunc flavor).

MLflow calls :func:`_load_pyfunc` with the logged ``data_path`` (the crmml
artifact directory). Only crmml's installed code runs: the artifact holds JSON
and text, no pickle and no code.

Errors never echo row contents. crmml logs its pyfunc models with an
output-only signature (see :func:`crmml.tracking._signature`): MLflow's own
input-schema enforcement would print the whole offending frame, customer ids
included, into its exception. :meth:`CrmmlPyfuncModel.predict` enforces the
feature schema itself and raises :class:`~crmml.exceptions.DataContractError`
naming columns, the expected type and counts only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmml.exceptions import DataContractError, Problem
from crmml.scoring._load import load_local_scorer

__all__ = ["CrmmlPyfuncModel", "check_feature_frame"]

_CONTEXT = "MLflow pyfunc predict (row contents withheld)"
_NUMERIC = {"double", "float", "long", "integer"}


def check_feature_frame(model_input: Any, schema: Mapping[str, str]) -> pd.DataFrame:
    """Enforce ``schema`` (column → MLflow type) on a feature frame, reporting counts only.

    Parameters
    ----------
    model_input : pandas.DataFrame or mapping of columns
        What ``predict`` received.
    schema : mapping
        The model's ``feature_schema()``: ``"string"`` columns (ids) and
        numeric columns (``"double"`` ...).

    Returns
    -------
    pandas.DataFrame
        The declared columns in order, ids as ``str`` and numbers as
        ``float64`` (extra columns are dropped).

    Raises
    ------
    DataContractError
        Missing columns, or values that are not of the declared type; the
        message names the column, the type expected, the type received and
        how many rows fail — never a value or an id.

    Examples
    --------
    >>> frame = pd.DataFrame({"customer_id": ["secret-id"], "frequency": ["three"]})
    >>> check_feature_frame(frame, {"customer_id": "string", "frequency": "double"})
    Traceback (most recent call last):
    ...
    crmml.exceptions.DataContractError: 1 data contract problem found while MLflow pyfunc predict (row contents withheld):
      - features.frequency: a number (MLflow type double); got ... values that are not numbers — 1 row fails. ...
    """
    if isinstance(model_input, pd.DataFrame):
        frame = model_input
    elif isinstance(model_input, Mapping):
        try:
            frame = pd.DataFrame(model_input)
        except ValueError:  # scalars only: one row
            frame = pd.DataFrame([dict(model_input)])
    else:
        raise DataContractError(
            [Problem("features", None, f"a pandas DataFrame (or a mapping of columns); got {type(model_input).__name__}",
                     hint="pass the frame CLVModel.build_features returns")],
            context=_CONTEXT,
        )
    if frame.index.name in schema and frame.index.name not in frame.columns:
        frame = frame.reset_index()  # the id as the index, as predict_features returns it
    missing = [c for c in schema if c not in frame.columns]
    problems = [Problem("features", c, f"column required by the model (MLflow type {schema[c]})",
                        hint="build the frame with the model's build_features") for c in missing]
    out: dict[str, Any] = {}
    for col, kind in schema.items():
        if col in missing:
            continue
        values = frame[col]
        if kind == "string":
            nulls = int(values.isna().sum())
            if nulls:
                problems.append(Problem("features", col, "an id (MLflow type string), not missing", nulls))
            out[col] = values.astype(str)
        elif kind in _NUMERIC:
            if pd.api.types.is_bool_dtype(values.dtype):
                problems.append(Problem("features", col, f"a number (MLflow type {kind}); got booleans", len(values)))
                continue
            if pd.api.types.is_numeric_dtype(values.dtype):
                numbers = values.astype("float64")
            else:
                numbers = pd.to_numeric(values, errors="coerce").astype("float64")
                bad = int((numbers.isna() & values.notna()).sum())
                if bad:
                    problems.append(Problem("features", col, f"a number (MLflow type {kind}); got {values.dtype} "
                                            "values that are not numbers", bad,
                                            hint="send numbers (JSON numbers, not strings)"))
            out[col] = numbers
        else:
            out[col] = values
    if problems:
        raise DataContractError(problems, context=_CONTEXT)
    return pd.DataFrame(out, index=frame.index)


def _without_rows(exc: DataContractError) -> DataContractError:
    """The same problems with their example values (ids) removed."""
    problems = [dataclasses.replace(p, examples=()) for p in exc.problems]
    return DataContractError(problems, context=_CONTEXT)


class CrmmlPyfuncModel:
    """What ``mlflow.pyfunc.load_model`` returns for a crmml model.

    ``predict`` takes the per-entity feature frame (the model's feature
    schema, recorded in the MLflow model's metadata as
    ``crmml.feature_schema``) and returns the model's outputs with the entity
    id as a column. Errors name columns and counts, never values or ids.
    """

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Score a feature frame; see :func:`check_feature_frame` for the checks."""
        frame = check_feature_frame(model_input, self.scorer.feature_schema())
        try:
            out = self.scorer.predict_features(frame)
        except DataContractError as exc:
            raise _without_rows(exc) from None
        return out.reset_index()


def _load_pyfunc(data_path: str) -> CrmmlPyfuncModel:
    return CrmmlPyfuncModel(load_local_scorer(data_path))

