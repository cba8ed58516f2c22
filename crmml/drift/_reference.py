"""The drift reference a model stores at fit: binned distributions of its features and scores.

:func:`reference_from` bins the population the fitted model scores at its
``as_of`` — its feature frame and its outputs — into a
:class:`DriftReference`; the model saves it beside ``model.json`` as
``drift_reference.json`` (see :class:`crmml.drift.StoresDriftReference`). A
batch later counts its own population into the same bins
(:meth:`DriftReference.counts`, additive over partitions) and compares
(:func:`crmml.drift.drift_table`).

No raw value is stored: numeric cut points are rounded quantiles, category
labels 12-hex-digit hashes of frequent labels only
(:class:`~crmml.drift.BinnedDistribution`); id columns are never binned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml.drift._binning import DEFAULT_BINS, BinnedDistribution
from crmml.exceptions import ParameterError

__all__ = ["DriftReference", "FORMAT_VERSION", "column_key", "split_key", "reference_from", "is_id_like"]

FORMAT_VERSION = 1
"""Layout of ``drift_reference.json`` written by this crmml."""
_MAX_NAME = 1000
_KINDS = ("feature", "score")


def column_key(kind: str, column: str) -> str:
    """The key of a column in :meth:`DriftReference.counts`: ``"feature:<column>"`` or ``"score:<column>"``."""
    return f"{kind}:{column}"


def split_key(key: str) -> tuple[str, str]:
    """``(kind, column)`` of a :func:`column_key` (the column name may itself hold ``:``)."""
    kind, _, column = key.partition(":")
    if kind not in _KINDS or not column:
        raise ParameterError(f"A drift count key is 'feature:<column>' or 'score:<column>'. Got {key!r} instead.")
    return kind, column


@dataclass(frozen=True)
class DriftReference:
    """Reference distributions of a fitted model's features and scores (no raw values).

    Attributes
    ----------
    features : dict of str to BinnedDistribution
        Feature column → its reference distribution.
    scores : dict of str to BinnedDistribution
        Output (score) column → its reference distribution.
    n_rows : int
        Rows of the reference population (every distribution counts them all,
        missing values included).
    as_of : str
        ISO timestamp of the population (the model's fit ``as_of``).
    format_version : int
        Layout version of :meth:`to_dict` (1).
    """

    features: dict[str, BinnedDistribution]
    scores: dict[str, BinnedDistribution]
    n_rows: int
    as_of: str
    format_version: int = FORMAT_VERSION

    def columns(self) -> dict[str, BinnedDistribution]:
        """Every distribution keyed ``"feature:<column>"`` / ``"score:<column>"`` (features first)."""
        out = {column_key("feature", c): d for c, d in self.features.items()}
        out.update({column_key("score", c): d for c, d in self.scores.items()})
        return out

    def counts(self, features_frame: pd.DataFrame | None, outputs_frame: pd.DataFrame | None
               ) -> dict[str, np.ndarray]:
        """Rows per bin of every referenced column present in the frames.

        Parameters
        ----------
        features_frame : DataFrame or None
            The model's feature frame (``build_features``); columns it lacks
            are skipped.
        outputs_frame : DataFrame or None
            The model's outputs (``score``); columns it lacks are skipped.

        Returns
        -------
        dict
            ``"feature:<column>"`` / ``"score:<column>"`` → int64 counts per
            bin. Counts of several partitions add up (start from
            :meth:`empty_counts` and sum).
        """
        out: dict[str, np.ndarray] = {}
        for kind, dists, frame in (("feature", self.features, features_frame), ("score", self.scores, outputs_frame)):
            if frame is None:
                continue
            for column, dist in dists.items():
                if column in frame.columns:
                    out[column_key(kind, column)] = dist.counts(frame[column])
        return out

    def empty_counts(self) -> dict[str, np.ndarray]:
        """Zero counts for every referenced column (the start of a sum over partitions)."""
        return {key: np.zeros(d.n_bins, dtype=np.int64) for key, d in self.columns().items()}

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready payload (``drift_reference.json``)."""
        return {
            "format_version": self.format_version,
            "as_of": self.as_of,
            "n_rows": self.n_rows,
            "features": {c: d.to_dict() for c, d in self.features.items()},
            "scores": {c: d.to_dict() for c, d in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any] | Payload) -> DriftReference:
        """Rebuild from :meth:`to_dict` output, checking every field.

        Pass a :class:`crmml._payload.Payload` (``Payload.parse(raw,
        source="drift_reference.json")``) so that messages name the file.

        Raises
        ------
        IncompatibleArtifactError
            A ``format_version`` newer than this crmml reads, a missing or
            unknown key, a value of the wrong type or range, a distribution
            that does not count ``n_rows`` rows; the message names the field
            (``drift_reference.json: features.recency.edges[2]: ...``).
        """
        p = Payload.of(payload, source="DriftReference.from_dict")
        raw = p.data.get("format_version")
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > FORMAT_VERSION:
            raise p.error("format_version", f"a drift reference format version this crmml reads (at most "
                          f"{FORMAT_VERSION})", raw, hint="It was written by a newer crmml: upgrade crmml "
                                                        "(pip install --upgrade crmml) or re-train the model.")
        version = p.int_in("format_version", low=1, high=FORMAT_VERSION)
        p.keys_exactly(("format_version", "as_of", "n_rows", "features", "scores"))
        as_of = p.str_in("as_of", max_length=64)
        assert as_of is not None and version is not None
        try:
            stamp = pd.Timestamp(as_of)
        except (ValueError, TypeError, OverflowError):
            stamp = pd.NaT
        if pd.isna(stamp):
            raise p.error("as_of", "an ISO 8601 timestamp such as '2025-07-01T00:00:00'", as_of)
        n_rows = p.int_in("n_rows", low=0)
        assert n_rows is not None
        groups: dict[str, dict[str, BinnedDistribution]] = {}
        for group in ("features", "scores"):
            g = p.mapping(group)
            assert g is not None
            dists: dict[str, BinnedDistribution] = {}
            for name in g.keys():
                if not name or len(name) > _MAX_NAME:
                    raise g.error(name, f"a column name of 1 to {_MAX_NAME} characters", name)
                sub = g.mapping(name)
                assert sub is not None
                dist = BinnedDistribution.from_dict(sub)
                if dist.n != n_rows:
                    raise sub.error("n", f"the reference's n_rows ({n_rows}): every row is counted", dist.n)
                dists[name] = dist
            groups[group] = dists
        return cls(groups["features"], groups["scores"], n_rows, as_of, version)


def is_id_like(column: str, entity: str | None = None) -> bool:
    """Whether ``column`` names an identifier (never binned): the entity, ``id`` or ``*_id``."""
    name = str(column)
    return name == entity or name.lower() == "id" or name.lower().endswith("_id")


def _binned(values: pd.Series, n_bins: int) -> BinnedDistribution | None:
    """The distribution of one column by its dtype: bool/text/category → categorical, numbers → numeric,
    times → None (not binned)."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype) or \
            isinstance(dtype, pd.PeriodDtype):
        return None
    if pd.api.types.is_bool_dtype(dtype):
        return BinnedDistribution.categorical(values)
    if pd.api.types.is_numeric_dtype(dtype):
        return BinnedDistribution.numeric(values, n_bins=n_bins)
    if pd.api.types.is_object_dtype(dtype):
        sample = values.dropna()
        if len(sample) and all(isinstance(v, (pd.Timestamp, np.datetime64)) for v in sample.iloc[:100]):
            return None  # timestamps stored as objects
    return BinnedDistribution.categorical(values)


def reference_from(features: pd.DataFrame, outputs: pd.DataFrame, *, score_columns: Sequence[str], as_of: Any,
                   n_bins: int = DEFAULT_BINS, entity: str | None = None,
                   exclude: Sequence[str] = ()) -> DriftReference:
    """Bin a fitted model's population (its feature frame and outputs at ``as_of``) into a drift reference.

    Parameters
    ----------
    features : DataFrame
        The feature frame of the population (one row per entity). Every
        column is binned except identifiers (``entity``, ``id``, ``*_id``),
        ``exclude`` and time columns (datetime, timedelta): booleans, text
        and categories as categorical, numbers as numeric.
    outputs : DataFrame
        The model's outputs for the same rows.
    score_columns : sequence of str
        Output columns to bin (each must be in ``outputs``).
    as_of : timestamp-like
        When the population was taken (stored as ISO text).
    n_bins : int, default 10
        Quantile bins of numeric columns.
    entity : str, optional
        The entity id column (skipped if it is a column of ``features``).
    exclude : sequence of str
        More feature columns not to bin.

    Returns
    -------
    DriftReference

    Raises
    ------
    ParameterError
        A score column missing from ``outputs``, or frames of different lengths.

    Examples
    --------
    >>> feats = pd.DataFrame({"customer_id": ["a", "b"] * 50, "orders": range(100), "vip": [True, False] * 50})
    >>> outs = pd.DataFrame({"churn_probability": np.linspace(0, 1, 100)})
    >>> ref = reference_from(feats, outs, score_columns=["churn_probability"], as_of="2025-07-01",
    ...                      entity="customer_id")
    >>> sorted(ref.features), sorted(ref.scores), ref.n_rows, ref.as_of
    (['orders', 'vip'], ['churn_probability'], 100, '2025-07-01T00:00:00')
    >>> ref.features["vip"].kind, len(ref.features["orders"].edges)
    ('categorical', 9)
    """
    if len(features) != len(outputs):
        raise ParameterError(f"reference_from needs the features and outputs of the same rows; got {len(features)} "
                             f"feature rows and {len(outputs)} output rows.")
    missing = [c for c in score_columns if c not in outputs.columns]
    if missing:
        raise ParameterError(f"The score column(s) {missing} are not among the outputs' columns "
                             f"{list(map(str, outputs.columns))}.")
    skip = {str(c) for c in exclude}
    feats: dict[str, BinnedDistribution] = {}
    for column in features.columns:
        name = str(column)
        if name in skip or is_id_like(name, entity):
            continue
        dist = _binned(features[column], n_bins)
        if dist is not None:
            feats[name] = dist
    scores: dict[str, BinnedDistribution] = {}
    for column in score_columns:
        dist = _binned(outputs[column], n_bins)
        if dist is None:
            raise ParameterError(f"The score column {column!r} holds times; drift is measured on numbers and labels.")
        scores[str(column)] = dist
    return DriftReference(feats, scores, int(len(features)), pd.Timestamp(as_of).isoformat())
