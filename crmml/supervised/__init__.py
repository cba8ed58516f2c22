"""The supervised spine shared by crmml's LightGBM models (churn, lead scoring, the forecast).

Below the model packages and above :mod:`crmml.features`: a model package
builds its features and labels, stacks them over cutoffs
(:func:`build_training_set`) and holds a :class:`BinaryOutcomeModel`, which
splits by cutoff, trains LightGBM with early stopping, calibrates on the
held-out cutoff, freezes tiers, explains rows in words and persists itself as
``supervised.json`` + ``booster.txt``. See ``docs/supervised.md``.
"""

from crmml.supervised._booster import (
    TrainingLog,
    TreeModel,
    default_min_data_in_leaf,
    lightgbm_params,
    refit_booster,
    train_booster,
)
from crmml.supervised._calibration import ISOTONIC_MIN_CLASS, Calibrator, fit_calibrator
from crmml.supervised._errors import BaselineWarning, InsufficientDataError
from crmml.supervised._leakage import ColumnScreen, LeakageError, LeakageReport, screen_columns
from crmml.supervised._metrics import (
    BaselineComparison,
    Evaluation,
    OracleComparison,
    calibration_bins,
    compare_to_baseline,
    compare_to_oracle,
    evaluate,
    expected_calibration_error,
    top_decile_lift,
)
from crmml.supervised._model import BOOSTER_TXT, DEFAULT_TIERS, SUPERVISED_JSON, BinaryOutcomeModel
from crmml.supervised._reasons import explain_contributions, explain_row, reason_columns, top_factors
from crmml.supervised._score_scale import ScoreScale
from crmml.supervised._scorer import SupervisedScorer
from crmml.supervised._spec import KINDS, Column, Encoded, FeatureSpec
from crmml.supervised._split import MIN_CLASS_HOLDOUT, MIN_CLASS_TRAIN, TimeSplit, split_by_cutoff
from crmml.supervised._templates import ReasonTemplate, ReasonTemplates, crm_templates
from crmml.supervised._tiers import Tier, TierPolicy
from crmml.supervised._timing import DAYS_AHEAD, expand_over_horizons, horizon_curve, horizon_curve_row
from crmml.supervised._training_set import CUTOFF, TrainingSet, build_training_set, default_cutoffs

__all__ = [
    "BOOSTER_TXT",
    "CUTOFF",
    "DAYS_AHEAD",
    "DEFAULT_TIERS",
    "ISOTONIC_MIN_CLASS",
    "KINDS",
    "MIN_CLASS_HOLDOUT",
    "MIN_CLASS_TRAIN",
    "SUPERVISED_JSON",
    "BaselineComparison",
    "BaselineWarning",
    "BinaryOutcomeModel",
    "Calibrator",
    "Column",
    "ColumnScreen",
    "Encoded",
    "Evaluation",
    "FeatureSpec",
    "InsufficientDataError",
    "LeakageError",
    "LeakageReport",
    "OracleComparison",
    "ReasonTemplate",
    "ReasonTemplates",
    "ScoreScale",
    "SupervisedScorer",
    "Tier",
    "TierPolicy",
    "TimeSplit",
    "TrainingLog",
    "TrainingSet",
    "TreeModel",
    "build_training_set",
    "calibration_bins",
    "compare_to_baseline",
    "compare_to_oracle",
    "crm_templates",
    "default_cutoffs",
    "default_min_data_in_leaf",
    "evaluate",
    "expand_over_horizons",
    "expected_calibration_error",
    "horizon_curve",
    "horizon_curve_row",
    "explain_contributions",
    "explain_row",
    "fit_calibrator",
    "lightgbm_params",
    "reason_columns",
    "screen_columns",
    "refit_booster",
    "split_by_cutoff",
    "top_decile_lift",
    "top_factors",
    "train_booster",
]
