"""``BinaryOutcomeModel``: the supervised spine every LightGBM model of crmml holds.

It composes the pieces of :mod:`crmml.supervised` — feature spec, split by
cutoff, LightGBM with early stopping, calibration, tiers, reasons and
evaluation against a baseline — behind ``fit`` / ``predict_proba`` /
``explain`` / ``score_frame`` / ``score_row`` and persists them as two files
a model package embeds in its artifact: ``supervised.json`` and
``booster.txt``.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml._validation import Interval, Options, read_hyperparameters, validate_params
from crmml.exceptions import IncompatibleArtifactError, NotFittedError, ParameterError
from crmml.supervised._booster import TrainingLog, TreeModel, lightgbm_params, refit_booster, train_booster
from crmml.supervised._calibration import ISOTONIC_MIN_CLASS, METHODS, Calibrator, cross_fit
from crmml.supervised._errors import BaselineWarning
from crmml.supervised._linear import LinearModel
from crmml.supervised._metrics import BaselineComparison, Evaluation, compare_to_baseline, evaluate
from crmml.supervised._read import float_array, objects, str_array, timestamp, timestamps
from crmml.supervised._reasons import explain_contributions, explain_row, reason_columns
from crmml.supervised._score_scale import ScoreScale
from crmml.supervised._spec import FeatureSpec
from crmml.supervised._split import MIN_CLASS_HOLDOUT, MIN_CLASS_TRAIN, split_by_cutoff
from crmml.supervised._templates import ReasonTemplates, crm_templates
from crmml.supervised._tiers import TierPolicy
from crmml.supervised._timing import DAYS_AHEAD
from crmml.supervised._training_set import TrainingSet

__all__ = ["BinaryOutcomeModel", "SUPERVISED_JSON", "BOOSTER_TXT", "SCHEMA_VERSION", "DEFAULT_TIERS",
           "CALIBRATION_FOLDS"]

logger = logging.getLogger("crmml")

SUPERVISED_JSON = "supervised.json"
BOOSTER_TXT = "booster.txt"
LEARNERS = ("lightgbm", "linear")
"""``"lightgbm"``: boosted trees (early-stopped); ``"linear"``: the cold-start logistic regression (:mod:`._linear`)."""
SCHEMA_VERSION = 2
_FORMAT = "crmml-supervised"
CALIBRATION_FOLDS = 5
"""Folds of the cross-fitted held-out probabilities the stored metrics are computed on."""
DEFAULT_TIERS = {"high": 0.6, "medium": 0.3}
"""Probability thresholds of the default tier policy (no actions)."""

_OBJECT_PARAMS = ("monotone", "categorical", "allow_missing", "exclude", "tiers", "templates")
_PAYLOAD_KEYS = ("format", "schema_version", "config", "monotone", "categorical", "allow_missing", "exclude",
                 "feature_spec", "booster", "linear", "calibration", "tiers", "score_scale", "score_table", "templates",
                 "training", "metrics", "feature_importance")


class _Text:
    """A constraint: a non-empty string of at most 200 characters."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 200

    def __str__(self) -> str:
        return "a non-empty str"


class _Bool:
    """A constraint: exactly True or False (not 0/1)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, bool)

    def __str__(self) -> str:
        return "a bool"


class BinaryOutcomeModel:
    """Calibrated, tiered and explained LightGBM model of a binary outcome over cutoffs.

    ``fit(training_set)`` holds out the latest cutoff (see
    :func:`~crmml.supervised.split_by_cutoff`), learns a
    :class:`~crmml.supervised.FeatureSpec` on the training cutoffs, trains
    LightGBM with early stopping on the held-out cutoff, fits the calibrator
    there, freezes the tiers on its calibrated probabilities and evaluates
    it — against the ``baseline`` column when one is named (warning with
    :class:`~crmml.supervised.BaselineWarning` when the model does not beat it).

    Parameters
    ----------
    learning_rate, num_leaves, max_depth, min_data_in_leaf, feature_fraction, lambda_l2
        LightGBM parameters (see :func:`~crmml.supervised.lightgbm_params`;
        ``min_data_in_leaf=None`` scales with the training rows).
    max_rounds, early_stopping_rounds : int
        Most trees, and rounds without held-out improvement before stopping.
    tree_tolerance : float, default=0.0
        Keep the fewest trees whose held-out log loss is within this relative
        tolerance of the best (``0.002``: within 0.2 %); fewer trees make
        batch scoring and reasons faster in proportion.
    monotone : mapping, optional
        Feature → +1 (probability never decreases with it) or -1.
    categorical : iterable of str
        Columns forced to be categorical.
    allow_missing : bool or iterable of str
        Columns encoded all-NaN when absent at scoring time (``True``: all).
    exclude : iterable of str
        Columns of the training frame that are not features (a baseline-only
        column, an oracle probability...).
    calibration : {"auto", "isotonic", "sigmoid"}
    isotonic_min_class : int
        ``"auto"`` chooses isotonic with at least this many held-out
        positives and negatives.
    refit : bool
        After choosing the number of trees on the held-out cutoff, retrain
        on all cutoffs (held-out included) with that many trees. The
        calibrator and the stored metrics stay those of the train-only model
        on the held-out cutoff (an approximation: see docs/supervised.md).
    tiers : TierPolicy, optional
        Default: ``TierPolicy.by_probability({"high": 0.6, "medium": 0.3})``.
    n_increasing, n_decreasing : int
        Reason slots of each kind.
    templates : ReasonTemplates, optional
        Default: :func:`~crmml.supervised.crm_templates`. The registry used
        is stored with the model (``templates_``), so a loaded model words
        its reasons as it did when it was saved, whatever crmml's defaults
        have become; a loaded model's ``templates`` parameter is that registry.
    baseline : str, optional
        A column of the training frame scored as the baseline on the
        held-out cutoff (e.g. ``"recency_days"``).
    baseline_direction : {"increasing", "decreasing"}
        Whether risk increases with the baseline column.
    baseline_margin : float
        AUC the model must gain over the baseline to "beat" it.
    min_class_train, min_class_holdout : int
        The floor of positives and negatives (see :func:`~crmml.supervised.split_by_cutoff`).
    num_threads : int
        LightGBM threads for training and batch prediction (0 = all cores).
    seed : int

    Attributes
    ----------
    spec_ : FeatureSpec
    tree_ : TreeModel
    calibrator_ : Calibrator
    tiers_ : TierPolicy
        Frozen.
    score_scale_ : ScoreScale
        The 1–99 score of a probability (an ABC analysis of expected outcomes), frozen on the held-out
        cutoff's calibrated probabilities (for packages that show a score).
    score_table_ : dict
        ``{"count": [...], "positives": [...]}``: held-out entities and
        outcomes per score 1..99 — exact rates for any grade cut points.
    templates_ : ReasonTemplates
        The registry the reasons are worded with.
    evaluation_ : Evaluation
        On the held-out cutoff.
    baseline_comparison_ : BaselineComparison or None
    training_ : dict
        Cutoffs, counts, entity, label, horizon, as_of, trees, the training
        set's exclusions per cutoff, fit seconds.
    feature_importance_ : dict
        Total split gain per feature.

    Examples
    --------
    >>> model = BinaryOutcomeModel(baseline="recency_days").fit(training_set)  # doctest: +SKIP
    >>> scores = model.score_frame(features_now)                                # doctest: +SKIP
    >>> files = model.to_files()   # {"supervised.json": {...}, "booster.txt": "tree\\n..."}  # doctest: +SKIP
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "learner": [Options(LEARNERS)],
        "learning_rate": [Interval(0, 1, closed="right")],
        "num_leaves": [Interval(2, 131072, integer=True)],
        "max_depth": [Interval(1, None, integer=True), Options((-1,))],
        "min_data_in_leaf": [Interval(1, None, integer=True), None],
        "feature_fraction": [Interval(0, 1, closed="right")],
        "lambda_l2": [Interval(0, None)],
        "max_rounds": [Interval(1, 100_000, integer=True)],
        "early_stopping_rounds": [Interval(1, None, integer=True)],
        "tree_tolerance": [Interval(0, 0.5, closed="both")],
        "calibration": [Options(METHODS)],
        "isotonic_min_class": [Interval(1, None, integer=True)],
        "refit": [_Bool()],
        "n_increasing": [Interval(0, 50, integer=True)],
        "n_decreasing": [Interval(0, 50, integer=True)],
        "baseline": [_Text(), None],
        "baseline_direction": [Options(("increasing", "decreasing"))],
        "baseline_margin": [Interval(-1, 1)],
        "min_class_train": [Interval(1, None, integer=True)],
        "min_class_holdout": [Interval(1, None, integer=True)],
        "num_threads": [Interval(0, 1024, integer=True)],
        "seed": [Interval(0, 2**31 - 1, integer=True)],
    }

    def __init__(
        self,
        *,
        learner: str = "lightgbm",
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        max_depth: int = 4,
        min_data_in_leaf: int | None = None,
        feature_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        max_rounds: int = 1000,
        early_stopping_rounds: int = 50,
        tree_tolerance: float = 0.0,
        monotone: Mapping[str, int] | None = None,
        categorical: Iterable[str] = (),
        allow_missing: bool | Iterable[str] = (),
        exclude: Iterable[str] = (),
        calibration: str = "auto",
        isotonic_min_class: int = ISOTONIC_MIN_CLASS,
        refit: bool = False,
        tiers: TierPolicy | None = None,
        n_increasing: int = 3,
        n_decreasing: int = 3,
        templates: ReasonTemplates | None = None,
        baseline: str | None = None,
        baseline_direction: str = "increasing",
        baseline_margin: float = 0.01,
        min_class_train: int = MIN_CLASS_TRAIN,
        min_class_holdout: int = MIN_CLASS_HOLDOUT,
        num_threads: int = 0,
        seed: int = 0,
    ) -> None:
        self.learner = learner
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.lambda_l2 = lambda_l2
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.tree_tolerance = tree_tolerance
        self.monotone = monotone
        self.categorical = categorical
        self.allow_missing = allow_missing
        self.exclude = exclude
        self.calibration = calibration
        self.isotonic_min_class = isotonic_min_class
        self.refit = refit
        self.tiers = tiers
        self.n_increasing = n_increasing
        self.n_decreasing = n_decreasing
        self.templates = templates
        self.baseline = baseline
        self.baseline_direction = baseline_direction
        self.baseline_margin = baseline_margin
        self.min_class_train = min_class_train
        self.min_class_holdout = min_class_holdout
        self.num_threads = num_threads
        self.seed = seed

    # ------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BinaryOutcomeModel:
        """Set constructor parameters; a fitted model becomes unfitted."""
        names = self._param_names()
        for k, v in params.items():
            if k not in names:
                raise ParameterError(f"Invalid parameter {k!r} for BinaryOutcomeModel. Valid parameters: {names}.")
            setattr(self, k, v)
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)
        return self

    def __repr__(self) -> str:
        defaults = type(self)().get_params()
        changed = {k: v for k, v in self.get_params().items() if not _same(v, defaults[k])}
        return "BinaryOutcomeModel(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def _check_params(self) -> None:
        validate_params(self)
        if self.monotone is not None and (not isinstance(self.monotone, Mapping) or any(
                not isinstance(k, str) or isinstance(v, bool) or v not in (-1, 0, 1)
                for k, v in self.monotone.items())):
                raise ParameterError("The 'monotone' parameter of BinaryOutcomeModel must map feature names to -1, "
                                     f"0 or +1. Got {self.monotone!r} instead.")
        for name in ("categorical", "exclude") + (() if isinstance(self.allow_missing, bool) else ("allow_missing",)):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ParameterError(f"The {name!r} parameter of BinaryOutcomeModel must be a collection of column "
                                     f"names. Got {value!r} instead.")
        if self.tiers is not None and not isinstance(self.tiers, TierPolicy):
            raise ParameterError(f"The 'tiers' parameter of BinaryOutcomeModel must be a TierPolicy or None. Got "
                                 f"{self.tiers!r} instead.")
        if self.templates is not None and not isinstance(self.templates, ReasonTemplates):
            raise ParameterError(f"The 'templates' parameter of BinaryOutcomeModel must be a ReasonTemplates or "
                                 f"None. Got {self.templates!r} instead.")

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "tree_"):
            raise NotFittedError("BinaryOutcomeModel", method)

    @property
    def tier_policy(self) -> TierPolicy:
        """The configured tier policy (the default when ``tiers`` is None)."""
        return self.tiers if self.tiers is not None else TierPolicy.by_probability(DEFAULT_TIERS)

    @property
    def reason_templates(self) -> ReasonTemplates:
        """The configured templates (the CRM defaults when ``templates`` is None)."""
        return self.templates if self.templates is not None else crm_templates()

    # ------------------------------------------------------------ fit
    def fit(self, training_set: TrainingSet) -> BinaryOutcomeModel:
        """Split, train, calibrate, freeze tiers and evaluate (see the class docstring).

        Raises
        ------
        ParameterError
            Invalid parameters; ``baseline``/``monotone``/``exclude`` naming
            columns the training set lacks.
        InsufficientDataError
            Below the floor of cutoffs, positives or negatives.
        DataContractError
            Feature columns that are not numeric, bool or categorical.
        """
        start = time.perf_counter()
        self._check_params()
        if not isinstance(training_set, TrainingSet):
            raise TypeError(f"BinaryOutcomeModel.fit expects a TrainingSet, got {type(training_set).__name__}.")
        ts = training_set
        frame = ts.frame
        exclude = set(self.exclude)
        unknown = sorted(exclude - set(ts.feature_columns))
        if unknown:
            raise ParameterError(f"The 'exclude' parameter of BinaryOutcomeModel names columns that are not features "
                                 f"of the training set: {unknown}.")
        if self.baseline is not None and self.baseline not in frame.columns:
            raise ParameterError(f"The 'baseline' parameter of BinaryOutcomeModel must name a column of the training "
                                 f"set. Got {self.baseline!r}; columns are {list(frame.columns)[:12]} ...")
        features = [c for c in ts.feature_columns if c not in exclude]
        split = split_by_cutoff(ts, min_class_train=self.min_class_train, min_class_holdout=self.min_class_holdout)
        y = ts.y
        train_frame = frame.loc[split.train, features]
        spec = FeatureSpec.learn(train_frame, categorical=self.categorical, allow_missing=self.allow_missing)
        mono = self._monotone_list(spec)
        X_tr = spec.transform(train_frame)
        hold = spec.encode(frame.loc[split.holdout, features])
        y_tr, y_ho = y[split.train], y[split.holdout]
        tree: TreeModel | LinearModel
        if self.learner == "linear":
            tree = LinearModel.fit(X_tr, y_tr, spec)
            log = TrainingLog(best_iteration=1, rounds_run=1, holdout_logloss=[], kept=0)
        else:
            params = self._lgb_params(split.n_train, mono)
            tree, log = train_booster(X_tr, y_tr, hold.matrix, y_ho, spec, params, max_rounds=self.max_rounds,
                                      early_stopping_rounds=self.early_stopping_rounds,
                                      tolerance=float(self.tree_tolerance))
        raw_ho = tree.raw_score(hold.matrix, num_threads=self.num_threads)
        calibrator, p_oof = cross_fit(raw_ho, y_ho, method=self.calibration,
                                      isotonic_min_class=self.isotonic_min_class, folds=CALIBRATION_FOLDS,
                                      seed=self.seed)
        p_ho = calibrator.apply(raw_ho)
        tiers = self.tier_policy.freeze(p_ho)
        score_scale = ScoreScale.fit(p_ho)
        s_ho = score_scale.score(p_ho)
        score_table = {"count": np.bincount(s_ho, minlength=100)[1:].astype(int).tolist(),
                       "positives": np.bincount(s_ho, weights=y_ho, minlength=100)[1:].astype(int).tolist()}
        evaluation = evaluate(y_ho, p_oof)
        comparison = None
        if self.baseline is not None:
            score = frame.loc[split.holdout, self.baseline]
            comparison = compare_to_baseline(y_ho, p_oof, score.to_numpy(dtype=np.float64, na_value=np.nan),
                                             direction=self.baseline_direction, margin=self.baseline_margin,
                                             folds=CALIBRATION_FOLDS, seed=self.seed)
            if not comparison.beats_baseline:
                msg = (f"The model does not beat the baseline {self.baseline!r} on the held-out cutoff "
                       f"{split.holdout_cutoff.date()}: ROC AUC {_num(comparison.model.roc_auc)} vs "
                       f"{_num(comparison.baseline.roc_auc)} (a gain of at least {self.baseline_margin:g} is "
                       f"required), Brier {comparison.model.brier:.4f} vs {comparison.baseline.brier:.4f}. "
                       "Check the features for leakage or staleness, add history (more cutoffs), or use the "
                       "baseline.")
                logger.warning("%s", msg)
                warnings.warn(msg, BaselineWarning, stacklevel=2)
        n_trees_chosen = log.kept
        if self.refit and self.learner == "lightgbm":
            used = split.train | split.holdout
            all_frame = frame.loc[used, features]
            spec = FeatureSpec.learn(all_frame, categorical=self.categorical, allow_missing=self.allow_missing)
            tree = refit_booster(spec.transform(all_frame), y[used], spec,
                                 self._lgb_params(int(used.sum()), self._monotone_list(spec)), n_trees_chosen)
        templates = self.reason_templates
        missing_refs = sorted({r for name in spec.names for r in templates.referenced(name)} - set(spec.names))
        if missing_refs:
            logger.info("reasons: template fields %s are not features; pass them in the frame to explain/score_frame",
                        missing_refs)
        self.spec_ = spec
        self.templates_ = templates
        self.tree_ = tree
        self.calibrator_ = calibrator
        self.tiers_ = tiers
        self.score_scale_ = score_scale
        self.score_table_ = score_table
        self.evaluation_ = evaluation
        self.baseline_comparison_ = comparison
        self.feature_importance_ = tree.feature_importance()
        self.training_ = {
            "entity": ts.entity, "label": ts.label, "horizon_days": float(ts.horizon_days),
            "as_of": ts.as_of.isoformat(), **split.to_dict(),
            "best_iteration": int(log.best_iteration), "rounds_run": int(log.rounds_run),
            "num_trees": tree.num_trees, "refit": bool(self.refit),
            "calibration_folds": CALIBRATION_FOLDS, "unseen_holdout": dict(hold.unseen),
            "exclusions": ts.exclusions_dict(), "fit_seconds": round(time.perf_counter() - start, 3),
        }
        return self

    def _monotone_list(self, spec: FeatureSpec) -> list[int] | None:
        if not self.monotone:
            return None
        unknown = sorted(set(self.monotone) - set(spec.names))
        if unknown:
            raise ParameterError(f"The 'monotone' parameter of BinaryOutcomeModel names columns that are not "
                                 f"features: {unknown}.")
        return [int(self.monotone.get(n, 0)) for n in spec.names]

    def _lgb_params(self, n_rows: int, mono: list[int] | None) -> dict[str, Any]:
        return lightgbm_params(n_rows, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                               max_depth=self.max_depth, min_data_in_leaf=self.min_data_in_leaf,
                               feature_fraction=self.feature_fraction, lambda_l2=self.lambda_l2,
                               num_threads=self.num_threads, seed=self.seed, monotone_constraints=mono)

    # ------------------------------------------------------------ prediction
    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature matrix of ``frame`` (:meth:`FeatureSpec.transform`)."""
        self._check_fitted("transform")
        return self.spec_.transform(frame)

    def predict_raw(self, X: np.ndarray, *, num_threads: int | None = None) -> np.ndarray:
        """Raw scores (log-odds) of an encoded matrix."""
        self._check_fitted("predict_raw")
        return self.tree_.raw_score(_matrix(X, len(self.spec_)), num_threads=self._threads(num_threads))

    def predict_proba(self, X: np.ndarray, *, num_threads: int | None = None) -> np.ndarray:
        """Calibrated probability of the outcome (shape ``(n,)``) for an encoded matrix."""
        return self.calibrator_.apply(self.predict_raw(X, num_threads=num_threads))

    def contributions(self, X: np.ndarray, *, num_threads: int | None = None) -> np.ndarray:
        """Raw-score contributions ``(n, n_features + 1)``; the last column is the bias."""
        self._check_fitted("contributions")
        return self._fold_query(self.tree_.contributions(_matrix(X, len(self.spec_)),
                                                         num_threads=self._threads(num_threads)))

    def _fold_query(self, contrib: np.ndarray) -> np.ndarray:
        """Move the look-ahead's contribution (:data:`~crmml.supervised.DAYS_AHEAD`) into the bias.

        The look-ahead is the question asked ("within how many days?"), not a property of the entity, so it is
        never a reason; the contributions still add up to the raw score.
        """
        if DAYS_AHEAD in self.spec_.names:
            j = self.spec_.index(DAYS_AHEAD)
            contrib[:, -1] += contrib[:, j]
            contrib[:, j] = 0.0
        return contrib

    def explain(self, X: np.ndarray, frame: pd.DataFrame | None = None, *, num_threads: int | None = None
                ) -> pd.DataFrame:
        """Reasons of each row of ``X`` (layout: :func:`~crmml.supervised.reason_columns`).

        ``frame`` (row-aligned) supplies template fields that are not
        features, and the index of the result.
        """
        contrib = self.contributions(X, num_threads=num_threads)
        return explain_contributions(contrib, X, self.spec_, self.templates_, n_increasing=self.n_increasing,
                                     n_decreasing=self.n_decreasing, frame=frame)

    def output_columns(self) -> list[str]:
        """Columns of :meth:`score_frame` (``action`` only with actions; reasons when asked)."""
        policy = self.tiers_ if hasattr(self, "tiers_") else self.tier_policy
        cols = ["probability", "tier"] + (["action"] if policy.actions is not None else [])
        return cols + reason_columns(self.n_increasing, self.n_decreasing)

    def score_frame(self, frame: pd.DataFrame, *, reasons: bool = True, reasons_for: Iterable[str] | None = None,
                    num_threads: int | None = None) -> pd.DataFrame:
        """Probability, tier, action and reasons of every row of a feature frame (same index).

        ``tier`` is an ordered categorical (default tier first), ``action`` a
        categorical. ``reasons_for`` limits the reasons to rows of the listed
        tiers (the others get empty reason columns): contributions cost about
        a microsecond per tree and row, the rest of scoring far less.
        """
        self._check_fitted("score_frame")
        X = self.spec_.transform(frame)
        p = self.predict_proba(X, num_threads=num_threads)
        tier, action = self.tiers_.assign(p)
        order = self.tiers_.tier_names[::-1]
        out = pd.DataFrame({"probability": p}, index=frame.index)
        out["tier"] = pd.Categorical(tier, categories=order, ordered=True)
        if action is not None:
            acts = list(dict.fromkeys(self.tiers_.actions[t] for t in order))  # type: ignore[index]
            out["action"] = pd.Categorical(action, categories=acts)
        if reasons:
            if reasons_for is None:
                expl = self.explain(X, frame, num_threads=num_threads).set_axis(frame.index, axis=0)
            else:
                wanted = set(reasons_for)
                unknown = sorted(wanted - set(self.tiers_.tier_names))
                if unknown:
                    raise ParameterError(f"The 'reasons_for' parameter of score_frame must list tiers of "
                                         f"{self.tiers_.tier_names}. Got {unknown} instead.")
                rows = np.flatnonzero(np.isin(tier, list(wanted)))
                part = self.explain(X[rows], frame.iloc[rows], num_threads=num_threads)
                expl = _spread(part, rows, len(frame), frame.index)
            out = pd.concat([out, expl], axis=1)
        return out

    def score_row(self, row: Mapping[str, Any], *, reasons: bool = True,
                  reasons_for: Iterable[str] | None = None) -> dict[str, Any]:
        """One entity's outputs as a dict, without pandas, on one thread.

        Equal to that row of :meth:`score_frame` with the same ``reasons`` and
        ``reasons_for`` (texts ``None`` where the frame holds a missing value;
        outside the ``reasons_for`` tiers the reason slots are empty).
        """
        self._check_fitted("score_row")
        x = self.spec_.transform_row(row)
        raw = self.tree_.raw_score(x, num_threads=1)
        p = float(self.calibrator_.apply(raw)[0])
        tier, action = self.tiers_.assign(np.array([p]))
        out: dict[str, Any] = {"probability": p, "tier": str(tier[0])}
        if action is not None:
            out["action"] = str(action[0])
        if reasons and (reasons_for is None or out["tier"] in set(reasons_for)):
            contrib = self._fold_query(self.tree_.contributions(x, num_threads=1))
            out.update(explain_row(contrib[0], x[0], self.spec_, self.templates_,
                                   n_increasing=self.n_increasing, n_decreasing=self.n_decreasing, extra=row))
        elif reasons:
            out.update({c: float("nan") if c.endswith("_contribution") else None
                        for c in reason_columns(self.n_increasing, self.n_decreasing)})
        return out

    def _trees(self) -> bool:
        """Whether the fitted learner is LightGBM (else the cold-start linear model)."""
        return isinstance(self.tree_, TreeModel)

    def _threads(self, num_threads: int | None) -> int:
        return self.num_threads if num_threads is None else int(num_threads)

    # ------------------------------------------------------------ reporting
    def summary(self) -> dict[str, Any]:
        """JSON-ready facts for a model card: training, trees, calibration, tiers, metrics, top features."""
        self._check_fitted("summary")
        top = sorted(self.feature_importance_.items(), key=lambda kv: -kv[1])[:10]
        return {
            "training": dict(self.training_),
            "calibration": self.calibrator_.method,
            "tiers": {t.name: t.threshold for t in self.tiers_.tiers},
            "realized_shares": dict(self.tiers_.realized_shares),
            "holdout": self.evaluation_.to_dict(),
            "baseline": None if self.baseline_comparison_ is None else self.baseline_comparison_.to_dict(),
            "top_features": dict(top),
        }

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The content of ``supervised.json`` (every number finite)."""
        self._check_fitted("to_dict")
        params = self.get_params()
        config = {k: params[k] for k in self._parameter_constraints}
        return {
            "format": _FORMAT,
            "schema_version": SCHEMA_VERSION,
            "config": config,
            "monotone": None if self.monotone is None else {k: int(v) for k, v in self.monotone.items()},
            "categorical": list(self.categorical),
            "allow_missing": self.allow_missing if isinstance(self.allow_missing, bool) else list(self.allow_missing),
            "exclude": list(self.exclude),
            "feature_spec": self.spec_.to_dict(),
            "booster": {"file": BOOSTER_TXT, "num_trees": self.tree_.num_trees} if self._trees() else None,
            "linear": None if self._trees() else self.tree_.to_dict(),
            "calibration": self.calibrator_.to_dict(),
            "tiers": self.tiers_.to_dict(),
            "score_scale": self.score_scale_.to_dict(),
            "score_table": {k: list(v) for k, v in self.score_table_.items()},
            "templates": self.templates_.to_dict(),
            "training": dict(self.training_),
            "metrics": {"holdout": self.evaluation_.to_dict(),
                        "baseline": None if self.baseline_comparison_ is None
                        else self.baseline_comparison_.to_dict()},
            "feature_importance": dict(self.feature_importance_),
        }

    def to_files(self, prefix: str = "") -> dict[str, Any]:
        """``{prefix + "supervised.json": dict, prefix + "booster.txt": str}``, ready for ``write_artifact``."""
        self._check_fitted("to_files")
        files: dict[str, Any] = {prefix + SUPERVISED_JSON: self.to_dict()}
        if self._trees():
            files[prefix + BOOSTER_TXT] = self.tree_.to_text()
        return files

    @classmethod
    def from_files(cls, files: Mapping[str, bytes | str | Mapping[str, Any]], prefix: str = "") -> BinaryOutcomeModel:
        """Rebuild from :meth:`to_files` output (bytes as read from an artifact, or text/dicts).

        Raises
        ------
        IncompatibleArtifactError
            A file is missing; ``supervised.json`` has a missing, unknown,
            mistyped or out-of-range field (the message names it); the
            booster does not match the feature spec.
        """
        name, bname = prefix + SUPERVISED_JSON, prefix + BOOSTER_TXT
        if name not in files:
            raise IncompatibleArtifactError(f"The model artifact has no {name!r}; it was not written by this crmml. "
                                            "Re-train the model.")
        raw = files[name]
        p = Payload.of(raw, source=name) if isinstance(raw, Mapping) else Payload.parse(raw, source=name)
        booster_text = files.get(bname)
        if booster_text is None and isinstance(p.data, Mapping) and p.data.get("booster") is not None:
            raise IncompatibleArtifactError(f"The model artifact has no {bname!r}; it was not written by this crmml. "
                                            "Re-train the model.")
        if isinstance(booster_text, Mapping):
            raise IncompatibleArtifactError(f"{bname}: expected LightGBM's text model format; got a JSON object.")
        return cls.from_dict(p, booster_text, booster_source=bname)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload, booster_text: str | bytes | None, *,
                  booster_source: str = BOOSTER_TXT) -> BinaryOutcomeModel:
        """Rebuild from :meth:`to_dict` and the booster text (None for the linear learner), checking every field."""
        p = Payload.of(data, source=SUPERVISED_JSON)
        p.str_in("format", (_FORMAT,))
        version = p.int_in("schema_version", low=0)
        if version != SCHEMA_VERSION:
            raise p.error("schema_version", f"{SCHEMA_VERSION} (this crmml reads supervised models of schema "
                          f"version {SCHEMA_VERSION})", version, hint="Re-train the model with this crmml.")
        p.keys_exactly(_PAYLOAD_KEYS)
        config = p.mapping("config")
        assert config is not None
        kwargs = read_hyperparameters(config, "BinaryOutcomeModel", cls._parameter_constraints)
        mono = p.mapping("monotone", nullable=True)
        if mono is not None:
            kwargs["monotone"] = {k: mono.int_in(k, low=-1, high=1) for k in mono.keys()}
        kwargs["categorical"] = tuple(str_array(p, "categorical", unique=True))
        am = p.require("allow_missing", ("boolean", "array"))
        kwargs["allow_missing"] = am if isinstance(am, bool) else tuple(str_array(p, "allow_missing", unique=True))
        kwargs["exclude"] = tuple(str_array(p, "exclude", unique=True))
        tiers = TierPolicy.from_dict(p.mapping("tiers"))  # type: ignore[arg-type]
        templates = ReasonTemplates.from_dict(p.mapping("templates"))  # type: ignore[arg-type]
        kwargs["templates"] = templates
        kwargs["tiers"] = tiers
        model = cls(**kwargs)
        spec = FeatureSpec.from_dict(p.mapping("feature_spec"))  # type: ignore[arg-type]
        model.spec_ = spec
        model.templates_ = templates
        if kwargs["learner"] == "linear":
            if p.mapping("booster", nullable=True) is not None:
                raise p.error("booster", "null for the linear learner", "an object")
            lin = p.mapping("linear")
            assert lin is not None
            model.tree_ = LinearModel.from_dict(lin, spec)
            n_trees = 0
        else:
            if p.mapping("linear", nullable=True) is not None:
                raise p.error("linear", "null for the lightgbm learner", "an object")
            b = p.mapping("booster")
            assert b is not None
            b.keys_exactly(("file", "num_trees"))
            b.str_in("file", (BOOSTER_TXT,))
            n_trees = b.int_in("num_trees", low=1)
            if booster_text is None:
                raise p.error("booster", "the booster text beside supervised.json", None)
            model.tree_ = TreeModel.from_text(booster_text, spec, num_trees=n_trees, source=booster_source)
        model.calibrator_ = Calibrator.from_dict(p.mapping("calibration"))  # type: ignore[arg-type]
        model.tiers_ = tiers
        model.score_scale_ = ScoreScale.from_dict(p.mapping("score_scale"))  # type: ignore[arg-type]
        model.score_table_ = _read_score_table(p.mapping("score_table"))  # type: ignore[arg-type]
        model.training_ = _read_training(p.mapping("training"))  # type: ignore[arg-type]
        if model.training_["num_trees"] != n_trees:
            raise p.error("training", f"num_trees = {n_trees} (as in booster.num_trees)",
                          model.training_["num_trees"])
        m = p.mapping("metrics")
        assert m is not None
        m.keys_exactly(("holdout", "baseline"))
        model.evaluation_ = Evaluation.from_dict(m.mapping("holdout"))  # type: ignore[arg-type]
        bc = m.mapping("baseline", nullable=True)
        model.baseline_comparison_ = None if bc is None else BaselineComparison.from_dict(bc)
        fi = p.mapping("feature_importance")
        assert fi is not None
        fi.keys_exactly(spec.names)
        model.feature_importance_ = {k: fi.finite_float(k, low=0.0) for k in spec.names}
        return model


def _read_score_table(p: Payload) -> dict[str, list[int]]:
    """Held-out entities and positives per score 1..99 (positives within the counts)."""
    p.keys_exactly(("count", "positives"))
    raw_count = float_array(p, "count", length=99, low=0)
    raw_pos = float_array(p, "positives", length=99, low=0)
    count, pos = [int(v) for v in raw_count], [int(v) for v in raw_pos]
    bad = [i for i in range(99) if pos[i] > count[i] or count[i] != raw_count[i] or pos[i] != raw_pos[i]]
    if bad:
        raise p.error("positives", "integers within the counts of the same scores", pos[bad[0]])
    return {"count": count, "positives": pos}


def _read_training(p: Payload) -> dict[str, Any]:
    keys = ("entity", "label", "horizon_days", "as_of", "train_cutoffs", "holdout_cutoff", "gap_cutoffs", "n_train",
            "positives_train", "n_holdout", "positives_holdout", "best_iteration", "rounds_run", "num_trees", "refit",
            "calibration_folds", "unseen_holdout", "exclusions", "fit_seconds")
    p.keys_exactly(keys)
    out: dict[str, Any] = {"entity": p.str_in("entity", max_length=200), "label": p.str_in("label", max_length=200),
                           "horizon_days": p.finite_float("horizon_days", low=0, closed="neither")}
    out["as_of"] = timestamp(p, "as_of").isoformat()  # type: ignore[union-attr]
    for key in ("train_cutoffs", "gap_cutoffs"):
        out[key] = [ts.isoformat() for ts in timestamps(p, key)]
    out["holdout_cutoff"] = timestamp(p, "holdout_cutoff").isoformat()  # type: ignore[union-attr]
    for key in ("n_train", "n_holdout"):
        out[key] = p.int_in(key, low=1)
    out["positives_train"] = p.int_in("positives_train", low=0, high=out["n_train"])
    out["positives_holdout"] = p.int_in("positives_holdout", low=0, high=out["n_holdout"])
    for key in ("best_iteration", "rounds_run"):
        out[key] = p.int_in(key, low=1)
    out["num_trees"] = p.int_in("num_trees", low=0)  # 0: the linear learner
    out["refit"] = p.boolean("refit")
    out["calibration_folds"] = p.int_in("calibration_folds", low=1, high=100)
    u = p.mapping("unseen_holdout")
    assert u is not None
    out["unseen_holdout"] = {k: u.int_in(k, low=1) for k in u.keys()}
    exclusions = []
    for e in objects(p, "exclusions"):
        e.keys_exactly(("cutoff", "table", "rule", "n_rows", "unit"))
        exclusions.append({"cutoff": timestamp(e, "cutoff").isoformat(),  # type: ignore[union-attr]
                           "table": e.str_in("table", max_length=200), "rule": e.str_in("rule", max_length=2000),
                           "n_rows": e.int_in("n_rows", low=0), "unit": e.str_in("unit", max_length=40)})
    out["exclusions"] = exclusions
    out["fit_seconds"] = p.finite_float("fit_seconds", low=0.0)
    return out


def _spread(part: pd.DataFrame, rows: np.ndarray, n: int, index: pd.Index) -> pd.DataFrame:
    """``part`` (reasons of ``rows``) placed into ``n`` rows; the others empty."""
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows), dtype=np.int64)
    data: dict[str, Any] = {}
    for c in part.columns:
        if c.endswith("_contribution"):
            full = np.full(n, np.nan)
            full[rows] = part[c].to_numpy(dtype=np.float64)
            data[c] = full
        else:  # text columns stay Arrow strings: a take with -1 as missing, no Python objects
            data[c] = pd.array(part[c].array, dtype="str").take(pos, allow_fill=True)
    return pd.DataFrame(data, index=index, columns=part.columns)


def _matrix(X: np.ndarray, k: int) -> np.ndarray:
    a = np.asarray(X, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != k:
        raise ParameterError(f"Expected an encoded matrix of shape (n, {k}) (FeatureSpec.transform); got {a.shape}. "
                             "Use score_frame for a DataFrame.")
    return a


def _num(v: float | None) -> str:
    return "undefined" if v is None or not math.isfinite(v) else f"{v:.4f}"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
