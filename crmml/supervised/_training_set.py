"""Training sets stacked over several cutoffs, each label window fully observed.

A supervised CRM model learns from the past: at each cutoff ``c`` the
features see what was known strictly before ``c`` and the label looks into
``[c, c + horizon)``. A cutoff can be used to train a model as of ``as_of``
only when its label window is over by then: ``c + horizon <= as_of``.

:func:`build_training_set` runs a feature builder and a label builder per
cutoff through :func:`crmml.features.stack_cutoffs` and returns a
:class:`TrainingSet`: one flat frame, one row per (entity, cutoff), with the
entity id, a ``cutoff`` column, the features and the label, plus one
:class:`~crmml.data.ExclusionReport` per cutoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmml.data import CRMTables, ExclusionReport
from crmml.exceptions import DataContractError, ParameterError, Problem, examples_of
from crmml.features import stack_cutoffs, to_timestamp

__all__ = ["CUTOFF", "TrainingSet", "build_training_set", "default_cutoffs", "check_horizon"]

CUTOFF = "cutoff"
"""Name of the cutoff column of every training set."""

_ENTITY_TABLES = {"customer_id": "customers", "lead_id": "leads", "opportunity_id": "opportunities"}


def check_horizon(horizon_days: object, owner: str) -> float:
    """``horizon_days`` as a float, or ParameterError worded like scikit-learn."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, float, np.integer, np.floating)) \
            or not np.isfinite(horizon_days) or horizon_days <= 0:
        raise ParameterError(f"The 'horizon_days' parameter of {owner} must be > 0. Got {horizon_days!r} instead.")
    return float(horizon_days)


def _day_text(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _check_observed(cutoffs: Sequence[pd.Timestamp], horizon: float, as_of: pd.Timestamp, owner: str) -> None:
    late = [c for c in cutoffs if c + pd.Timedelta(days=horizon) > as_of]
    if late:
        latest = as_of - pd.Timedelta(days=horizon)
        raise ParameterError(
            f"The 'cutoffs' parameter of {owner} must hold cutoffs whose label window is over by as_of "
            f"(cutoff + {horizon:g} days <= {_day_text(as_of)}, i.e. cutoffs on or before {_day_text(latest)}). "
            f"Got {[_day_text(c) for c in late]} instead. Drop them, use an earlier horizon or a later as_of "
            f"(default_cutoffs(as_of, horizon_days) chooses valid ones).")


def default_cutoffs(as_of: object, horizon_days: float, n: int = 4, spacing_days: float | None = None
                    ) -> list[pd.Timestamp]:
    """``n`` cutoffs ending one horizon before ``as_of``, ``spacing_days`` apart (oldest first).

    The latest cutoff is ``as_of - horizon`` (its label window ends exactly at
    ``as_of``); each earlier one is ``spacing_days`` before the next. The
    default spacing is the horizon itself, so label windows do not overlap and
    every training cutoff is at least one horizon before the held-out (latest)
    one — the gap :func:`~crmml.supervised.split_by_cutoff` requires. The
    history needed is ``(n - 1) * spacing + horizon`` days plus the longest
    feature window.

    Examples
    --------
    >>> [str(c.date()) for c in default_cutoffs("2025-01-01", 90, n=3)]
    ['2024-04-06', '2024-07-05', '2024-10-03']
    """
    h = check_horizon(horizon_days, "default_cutoffs")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"The 'n' parameter of default_cutoffs must be an int >= 1. Got {n!r} instead.")
    step = h if spacing_days is None else spacing_days
    if isinstance(step, bool) or not isinstance(step, (int, float, np.integer, np.floating)) \
            or not np.isfinite(step) or step <= 0:
        raise ParameterError(
            f"The 'spacing_days' parameter of default_cutoffs must be > 0 or None. Got {spacing_days!r} instead.")
    latest = to_timestamp(as_of) - pd.Timedelta(days=h)
    return [latest - pd.Timedelta(days=float(step) * i) for i in range(int(n) - 1, -1, -1)]


@dataclass(frozen=True)
class TrainingSet:
    """Rows of several cutoffs with their features and binary label.

    Attributes
    ----------
    frame : DataFrame
        RangeIndex; columns ``entity``, ``"cutoff"`` (datetime64), the
        features, ``label`` (int 0/1). Sorted by cutoff, then entity.
    entity : str
        The id column (``"customer_id"``).
    label : str
        The label column (``"churned"``).
    horizon_days : float
        Length of each label window.
    as_of : pandas.Timestamp
        The training time: every ``cutoff + horizon <= as_of``.
    cutoffs : tuple of pandas.Timestamp
        Every requested cutoff, oldest first (a cutoff may have no rows).
    exclusions : dict
        Cutoff → :class:`~crmml.data.ExclusionReport` of that cutoff's build.
    row_keys : tuple of str
        Feature columns that, with the entity and the cutoff, identify a row
        when an entity has several rows per cutoff (``("days_ahead",)`` for
        :func:`~crmml.supervised.expand_over_horizons`); empty: one row per
        entity and cutoff.
    """

    frame: pd.DataFrame
    entity: str
    label: str
    horizon_days: float
    as_of: pd.Timestamp
    cutoffs: tuple[pd.Timestamp, ...]
    exclusions: Mapping[pd.Timestamp, ExclusionReport] = field(default_factory=dict)
    row_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_horizon(self.horizon_days, "TrainingSet")
        f = self.frame
        if not isinstance(f, pd.DataFrame):
            raise TypeError(f"TrainingSet.frame must be a pandas DataFrame, got {type(f).__name__}.")
        problems = [Problem("training set", c, "required column")
                    for c in (self.entity, CUTOFF, self.label, *self.row_keys) if c not in f.columns]
        if problems:
            raise DataContractError(problems, context="building a TrainingSet")
        if not pd.api.types.is_datetime64_dtype(f[CUTOFF].dtype):
            raise DataContractError([Problem("training set", CUTOFF, f"datetime64 values (got {f[CUTOFF].dtype})")],
                                    context="building a TrainingSet")
        y = f[self.label]
        ok = pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype)
        values = y.to_numpy(dtype=np.float64, na_value=np.nan) if ok else None
        bad = ~np.isin(values, (0.0, 1.0)) if values is not None else np.ones(len(y), bool)
        if bad.any():
            raise DataContractError([Problem("training set", self.label, "a binary label: 0 or 1, no missing values",
                                             int(bad.sum()), examples_of(y[bad].head(3).map(repr)))],
                                    context="building a TrainingSet")
        dup = f.duplicated([self.entity, CUTOFF, *self.row_keys])
        if dup.any():
            key = ", ".join(("entity", "cutoff", *self.row_keys))
            raise DataContractError([Problem("training set", self.entity, f"one row per ({key})",
                                             int(dup.sum()), examples_of(f.loc[dup, self.entity].head(3)))],
                                    context="building a TrainingSet")
        cutoffs = tuple(sorted(set(self.cutoffs) | set(pd.DatetimeIndex(f[CUTOFF].unique()))))
        object.__setattr__(self, "cutoffs", cutoffs)
        object.__setattr__(self, "as_of", to_timestamp(self.as_of))
        _check_observed(cutoffs, float(self.horizon_days), self.as_of, "TrainingSet")

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, entity: str, label: str, horizon_days: float, as_of: object,
                   cutoff: str = CUTOFF) -> TrainingSet:
        """A training set from an already stacked frame (``cutoff`` names its cutoff column)."""
        f = frame.rename(columns={cutoff: CUTOFF}) if cutoff != CUTOFF else frame
        f = f.sort_values([CUTOFF, entity], kind="stable").reset_index(drop=True)
        return cls(f, entity, label, horizon_days, to_timestamp(as_of), ())

    @property
    def feature_columns(self) -> list[str]:
        """Every column but the entity, the cutoff and the label, in frame order."""
        skip = {self.entity, CUTOFF, self.label}
        return [c for c in self.frame.columns if c not in skip]

    @property
    def y(self) -> np.ndarray:
        """The label as int64."""
        return self.frame[self.label].to_numpy(dtype=np.int64)

    def counts(self) -> pd.DataFrame:
        """Rows, positives and negatives per cutoff (every requested cutoff, zeros included)."""
        g = self.frame.groupby(CUTOFF)[self.label].agg(["size", "sum"])
        g = g.reindex(pd.DatetimeIndex(self.cutoffs, name=CUTOFF), fill_value=0)
        return pd.DataFrame({"rows": g["size"].astype(np.int64), "positives": g["sum"].astype(np.int64),
                             "negatives": (g["size"] - g["sum"]).astype(np.int64)})

    def exclusions_dict(self) -> list[dict[str, object]]:
        """JSON-ready exclusion counts, one entry per rule and cutoff (``cutoff`` as ISO text)."""
        return [{"cutoff": c.isoformat(), **e} for c, rep in self.exclusions.items() for e in rep.to_dict()]


def build_training_set(
    build_features: Callable[[CRMTables, pd.Timestamp], pd.DataFrame],
    build_labels: Callable[[CRMTables, pd.Timestamp, float], pd.DataFrame],
    tables: CRMTables,
    cutoffs: Sequence[object],
    horizon_days: float,
    as_of: object,
    *,
    label: str | None = None,
) -> TrainingSet:
    """Stack features and labels over ``cutoffs`` whose label windows end by ``as_of``.

    Parameters
    ----------
    build_features : callable
        ``build_features(tables, cutoff) -> DataFrame`` indexed by the entity
        id (e.g. ``crmml.features.customer_features``); exclusion counts in its
        ``attrs["exclusions"]`` (a list of dicts) are carried over.
    build_labels : callable
        ``build_labels(tables, cutoff, horizon_days) -> DataFrame`` indexed by
        the same id (e.g. ``crmml.features.noncontractual_churn_labels``). Its
        index is the **population** of the cutoff.
    tables : CRMTables
        The full tables (the builders apply the point-in-time view).
    cutoffs : sequence of time-like
        Distinct cutoffs; each must satisfy ``cutoff + horizon_days <= as_of``.
    horizon_days : float
        Label window length.
    as_of : time-like
        The training time.
    label : str, optional
        Which label column to use when ``build_labels`` returns several.

    Returns
    -------
    TrainingSet
        Population members without a feature row are left out and reported
        per cutoff (``unit="entities"``); feature rows outside the population
        are not part of it and are dropped silently.

    Raises
    ------
    ParameterError
        A cutoff whose label window is not over by ``as_of`` (all are listed),
        repeated cutoffs, an invalid horizon, an ambiguous label.
    DataContractError
        A builder's output is not indexed by one unique entity id, or a
        feature column is named like the label or ``"cutoff"``.

    Examples
    --------
    >>> from crmml.features import customer_features, noncontractual_churn_labels
    >>> ts = build_training_set(customer_features, noncontractual_churn_labels, tables,
    ...                         default_cutoffs("2025-07-01", 90), 90, "2025-07-01")  # doctest: +SKIP
    """
    h = check_horizon(horizon_days, "build_training_set")
    ts_as_of = to_timestamp(as_of)
    stamps = [to_timestamp(c, "cutoffs") for c in cutoffs]
    _check_observed(stamps, h, ts_as_of, "build_training_set")
    reports: dict[pd.Timestamp, ExclusionReport] = {}
    meta: dict[str, str] = {}

    def build(t: CRMTables, cutoff: pd.Timestamp) -> pd.DataFrame:
        feats = build_features(t, cutoff)
        labels = build_labels(t, cutoff, h)
        entity, name = _check_outputs(feats, labels, label)
        if meta.setdefault("entity", entity) != entity or meta.setdefault("label", name) != name:
            raise DataContractError([Problem("training set", entity, f"the same entity id and label at every cutoff "
                                             f"(got {meta['entity']!r}/{meta['label']!r}, then {entity!r}/{name!r})")],
                                    context="build_training_set")
        report = ExclusionReport()
        for e in feats.attrs.get("exclusions") or ():
            report.add(str(e["table"]), str(e["rule"]), int(e["n_rows"]), unit=str(e.get("unit", "rows")))
        pos = feats.index.get_indexer(labels.index)
        missing = pos < 0
        report.add_entities(_ENTITY_TABLES.get(entity, entity),
                            f"in the population at cutoff {_day_text(cutoff)} but without a feature row "
                            "(not trained on)", labels.index[missing])
        reports[cutoff] = report
        out = feats.iloc[pos[~missing]].copy()
        out[name] = labels[name].to_numpy()[~missing]
        out.index.name = entity
        return out

    stacked = stack_cutoffs(build, tables, stamps)
    stacked.attrs = {}
    if not meta:  # stack_cutoffs refuses an empty list, so at least one build ran
        raise AssertionError("unreachable")  # pragma: no cover
    frame = stacked.reset_index().rename(columns={"as_of": CUTOFF})
    frame = frame.sort_values([CUTOFF, meta["entity"]], kind="stable").reset_index(drop=True)
    return TrainingSet(frame, meta["entity"], meta["label"], h, ts_as_of, tuple(sorted(stamps)),
                       dict(sorted(reports.items())))


def _check_outputs(feats: pd.DataFrame, labels: pd.DataFrame, label: str | None) -> tuple[str, str]:
    problems: list[Problem] = []
    for what, df in (("features", feats), ("labels", labels)):
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"build_training_set: the {what} builder must return a DataFrame, got {type(df).__name__}.")
        if df.index.name is None or isinstance(df.index, pd.MultiIndex):
            problems.append(Problem(what, None, "indexed by one named entity id (e.g. customer_id)"))
        elif not df.index.is_unique:
            dup = df.index[df.index.duplicated()]
            problems.append(Problem(what, df.index.name, "one row per entity", len(dup), examples_of(dup)))
    if not problems and feats.index.name != labels.index.name:
        problems.append(Problem("features", feats.index.name,
                                f"the same entity id as the labels ({labels.index.name!r})"))
    if problems:
        raise DataContractError(problems, context="build_training_set")
    if label is None:
        if labels.shape[1] != 1:
            raise ParameterError(
                f"The 'label' parameter of build_training_set must name one of the label columns "
                f"{list(labels.columns)} when the label builder returns several. Got None instead.")
        label = str(labels.columns[0])
    elif label not in labels.columns:
        raise ParameterError(f"The 'label' parameter of build_training_set must be one of {list(labels.columns)}. "
                             f"Got {label!r} instead.")
    clash = [c for c in (label, CUTOFF, labels.index.name) if c in feats.columns]
    if clash:
        raise DataContractError([Problem("features", c, "not a feature column name (it is reserved for the label, "
                                         "the cutoff or the entity id)") for c in clash], context="build_training_set")
    return str(labels.index.name), label
