"""LightGBM binary boosters: training with early stopping, text persistence, fast prediction.

Training (:func:`train_booster`) uses LightGBM's ``binary`` objective with
defaults for tabular CRM data (:func:`lightgbm_params`), early stopping on the
held-out cutoff, ``deterministic=True`` with ``force_row_wise=True`` and a
fixed ``seed`` (the same data and parameters give the same trees), and the
categorical columns of the :class:`~crmml.supervised.FeatureSpec`.

The served booster is always rebuilt from LightGBM's text format
(``model_to_string`` → checked canonical text → ``lgb.Booster(model_str=...)``),
truncated to the chosen number of trees: what :class:`TreeModel` predicts
right after fitting is exactly what a loaded model predicts.

Prediction calls ``Booster.predict`` on a float64 numpy matrix (no pandas):
``raw_score=True`` for scores (log-odds) and ``pred_contrib=True`` for
per-feature contributions in the same raw space (last column: the expected
value). Each row is computed independently, so one row scored alone
(``num_threads=1``) gives the same bits as in a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from crmml._payload import DEFAULT_FIX
from crmml.exceptions import IncompatibleArtifactError, ParameterError
from crmml.supervised._contrib import (
    FAST_CONTRIB_MIN_ROWS,
    contributions_by_pattern,
    tree_nodes,
)
from crmml.supervised._lgb_text import canonical_model_text
from crmml.supervised._spec import FeatureSpec

__all__ = ["TreeModel", "TrainingLog", "lightgbm_params", "default_min_data_in_leaf", "train_booster",
           "refit_booster"]

def default_min_data_in_leaf(n_rows: int) -> int:
    """``min_data_in_leaf`` scaled to the data: ``n_rows // 1000`` clipped to ``[20, 500]``.

    20 (LightGBM's default) up to 20k rows; one in a thousand rows above, so a
    leaf of a million-row fit still holds 500 customers (a stable rate).
    """
    return int(np.clip(int(n_rows) // 1000, 20, 500))


def lightgbm_params(
    n_rows: int,
    *,
    learning_rate: float = 0.1,
    num_leaves: int = 15,
    max_depth: int = 4,
    min_data_in_leaf: int | None = None,
    feature_fraction: float = 0.8,
    lambda_l2: float = 1.0,
    num_threads: int = 0,
    seed: int = 0,
    monotone_constraints: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The LightGBM parameters crmml trains binary models with.

    Parameters
    ----------
    n_rows : int
        Training rows (scales ``min_data_in_leaf`` when it is None).
    learning_rate, num_leaves, max_depth, min_data_in_leaf, feature_fraction, lambda_l2
        LightGBM's parameters of the same names. The defaults keep trees
        shallow (at most 15 leaves, depth <= 4): CRM outcomes are driven by a
        few low-order effects, and the cost of exact contributions (TreeSHAP,
        ``pred_contrib``) grows with trees × leaves × depth².
    num_threads : int
        0 = LightGBM's default (all cores).
    seed : int
        Seeds every random choice (``feature_fraction``); with
        ``deterministic=True`` and ``force_row_wise=True`` a fit is repeatable.
    monotone_constraints : sequence of int, optional
        -1, 0 or +1 per feature, in spec order.

    Examples
    --------
    >>> p = lightgbm_params(100_000)
    >>> p["objective"], p["min_data_in_leaf"], p["deterministic"]
    ('binary', 100, True)
    """
    params: dict[str, Any] = {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": float(learning_rate),
        "num_leaves": int(num_leaves),
        "max_depth": int(max_depth),
        "min_data_in_leaf": default_min_data_in_leaf(n_rows) if min_data_in_leaf is None else int(min_data_in_leaf),
        "feature_fraction": float(feature_fraction),
        "lambda_l2": float(lambda_l2),
        "deterministic": True,
        "force_row_wise": True,
        "seed": int(seed),
        "num_threads": int(num_threads),
        "verbosity": -1,
    }
    if monotone_constraints is not None and any(monotone_constraints):
        params["monotone_constraints"] = [int(v) for v in monotone_constraints]
    return params


@dataclass(frozen=True)
class TrainingLog:
    """What early stopping saw.

    Attributes
    ----------
    best_iteration : int
        The iteration with the lowest held-out log loss.
    rounds_run : int
        Trees grown before stopping.
    holdout_logloss : list of float
        Held-out binary log loss after each round.
    kept : int
        Trees kept: the fewest whose held-out log loss is within the
        tolerance of the best (``best_iteration`` when the tolerance is 0).
    """

    best_iteration: int
    rounds_run: int
    holdout_logloss: list[float]
    kept: int = 0


class TreeModel:
    """A fitted binary LightGBM booster bound to a :class:`FeatureSpec`.

    Parameters
    ----------
    booster : lightgbm.Booster
        Built from text (see the module docstring).
    spec : FeatureSpec
        The features, in booster order.
    """

    def __init__(self, booster: lgb.Booster, spec: FeatureSpec) -> None:
        self.booster = booster
        self.spec = spec
        self._trees: list[Any] | None = None  # split nodes per tree, for contributions by pattern

    # ------------------------------------------------------------ prediction
    @property
    def num_trees(self) -> int:
        """Number of trees (= boosting iterations of a binary model)."""
        return int(self.booster.num_trees())

    def raw_score(self, X: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Raw scores (log-odds) of the rows of ``X`` (float64, shape ``(n,)``)."""
        if X.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        return np.asarray(self.booster.predict(X, raw_score=True, num_threads=num_threads), dtype=np.float64)

    def contributions(self, X: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """TreeSHAP contributions in raw-score space: shape ``(n, n_features + 1)``, last column the bias.

        Each row sums to its raw score (up to float rounding). From
        ``FAST_CONTRIB_MIN_ROWS`` rows on, LightGBM's ``pred_contrib`` runs
        once per distinct decision pattern of each tree
        (:func:`~crmml.supervised._contrib.contributions_by_pattern`; equal
        to the plain call up to the order of the sum over trees, ~1e-15).
        """
        if X.shape[0] == 0:
            return np.empty((0, len(self.spec) + 1), dtype=np.float64)
        if X.shape[0] >= FAST_CONTRIB_MIN_ROWS:
            if self._trees is None:
                self._trees = tree_nodes(self.booster)
            return contributions_by_pattern(self.booster, X, num_threads=num_threads, trees=self._trees)
        return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=num_threads), dtype=np.float64)

    def feature_importance(self) -> dict[str, float]:
        """Total split gain per feature (JSON-ready floats, spec order)."""
        gain = self.booster.feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(self.spec.names, gain, strict=True)}

    # ------------------------------------------------------------ persistence
    def to_text(self) -> str:
        """LightGBM's text format of the booster."""
        return str(self.booster.model_to_string())

    @classmethod
    def from_text(cls, text: str | bytes, spec: FeatureSpec, *, num_trees: int | None = None,
                  source: str = "booster.txt") -> TreeModel:
        """Load a booster written by :meth:`to_text`, checked against ``spec`` before LightGBM parses it.

        The text is validated and rebuilt by
        :func:`~crmml.supervised._lgb_text.canonical_model_text` first:
        LightGBM's own parser aborts the process on some malformed models.

        Raises
        ------
        IncompatibleArtifactError
            Not a binary LightGBM text model of the spec's features (the
            message names ``source``, the tree and the key), or not
            ``num_trees`` trees.
        """
        canonical, n_trees = canonical_model_text(text, spec, source=source)
        if num_trees is not None and n_trees != num_trees:
            raise IncompatibleArtifactError(
                f"{source}: the booster holds {n_trees} trees; supervised.json says {num_trees}. {DEFAULT_FIX}")
        try:
            booster = lgb.Booster(model_str=canonical)
        except Exception as exc:  # pragma: no cover - the canonical text is valid by construction
            raise IncompatibleArtifactError(
                f"{source}: LightGBM cannot read the model ({str(exc)[:200]}). {DEFAULT_FIX}") from None
        return cls(booster, spec)


def _dataset(X: np.ndarray, y: np.ndarray, spec: FeatureSpec, params: Mapping[str, Any],
             reference: lgb.Dataset | None = None) -> lgb.Dataset:
    return lgb.Dataset(X, label=y.astype(np.float64), feature_name=list(spec.names),
                       categorical_feature=spec.categorical_indices, params=dict(params), reference=reference,
                       free_raw_data=True)


def _check_monotone(params: Mapping[str, Any], spec: FeatureSpec) -> None:
    mono = params.get("monotone_constraints")
    if mono is None:
        return
    if len(mono) != len(spec):
        raise ParameterError(f"monotone_constraints holds {len(mono)} values for {len(spec)} features.")
    bad = [spec.names[j] for j in spec.categorical_indices if mono[j]]
    if bad:
        raise ParameterError(f"Monotone constraints apply to numeric and bool features only; {bad} are categorical.")


def _served(booster: lgb.Booster, spec: FeatureSpec, num_iteration: int | None = None) -> TreeModel:
    """The booster as a loaded model would be: truncated, written as text, checked and read back."""
    return TreeModel.from_text(booster.model_to_string(num_iteration=num_iteration), spec, source="trained booster")


def train_booster(X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray, spec: FeatureSpec,
                  params: Mapping[str, Any], *, max_rounds: int = 1000, early_stopping_rounds: int = 50,
                  tolerance: float = 0.0) -> tuple[TreeModel, TrainingLog]:
    """Train with early stopping on ``(X_valid, y_valid)``; keep the fewest trees within ``tolerance`` of the best.

    ``tolerance`` is relative: the kept ensemble is the shortest prefix whose
    held-out log loss is at most ``(1 + tolerance) ×`` the best one. Scoring
    and TreeSHAP reasons cost time in proportion to the trees, and the last
    hundreds of rounds of a slow learning rate often buy a few parts in ten
    thousand of log loss.

    Returns
    -------
    (TreeModel, TrainingLog)
        The booster truncated to ``kept`` trees, rebuilt from text.
    """
    _check_monotone(params, spec)
    train = _dataset(X, y, spec, params)
    valid = _dataset(X_valid, y_valid, spec, params, reference=train)
    history: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(dict(params), train, num_boost_round=int(max_rounds), valid_sets=[valid],
                        valid_names=["holdout"],
                        callbacks=[lgb.early_stopping(int(early_stopping_rounds), first_metric_only=True,
                                                      verbose=False),
                                   lgb.record_evaluation(history)])
    losses = [float(v) for v in history.get("holdout", {}).get("binary_logloss", [])]
    best = int(booster.best_iteration) or booster.current_iteration()
    kept = best
    if tolerance > 0 and len(losses) >= best:
        limit = losses[best - 1] * (1.0 + float(tolerance))
        kept = next(i + 1 for i, v in enumerate(losses[:best]) if v <= limit)
    log = TrainingLog(best, len(losses) or booster.current_iteration(), losses, kept)
    return _served(booster, spec, kept), log


def refit_booster(X: np.ndarray, y: np.ndarray, spec: FeatureSpec, params: Mapping[str, Any], num_rounds: int
                  ) -> TreeModel:
    """Train ``num_rounds`` trees on all of ``(X, y)`` (no early stopping)."""
    _check_monotone(params, spec)
    booster = lgb.train(dict(params), _dataset(X, y, spec, params), num_boost_round=int(num_rounds))
    return _served(booster, spec)
