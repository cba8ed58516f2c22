"""Evaluation of binary probabilities: ranking, calibration, and comparisons.

Definitions (``y`` in {0, 1}, ``p`` the predicted probability):

* ``roc_auc`` — :func:`sklearn.metrics.roc_auc_score`;
* ``pr_auc`` — average precision, :func:`sklearn.metrics.average_precision_score`;
* ``top_decile_lift`` — the positive rate among the 10% highest ``p`` divided
  by the overall rate. Rows tied at the decile boundary count fractionally
  (the expectation over random tie-breaking), so plateaus of an isotonic
  calibrator neither inflate nor deflate the lift;
* ``brier`` — :func:`sklearn.metrics.brier_score_loss`;
* ``ece`` — expected calibration error over ``n_bins`` **equal-mass** bins
  (rows ranked by ``p``, ties given their average rank so tied rows share a
  bin): ``sum_b n_b / n * |mean p_b - mean y_b|``. Equal-mass bins put the
  same number of rows in each bin, so the error is not dominated by a few
  near-empty high-probability bins as with equal-width bins;
* ``calibration_curve`` — per bin (the same bins): mean predicted, observed
  rate and count. scikit-learn's :func:`~sklearn.calibration.calibration_curve`
  has no counts and merges tied quantile edges, hence the own binning.

Metrics that are undefined (a single class: AUC, PR AUC, lift) are ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from crmml._payload import Payload
from crmml.exceptions import ParameterError
from crmml.supervised._calibration import Calibrator, out_of_fold
from crmml.supervised._read import float_array

__all__ = ["Evaluation", "BaselineComparison", "OracleComparison", "evaluate", "expected_calibration_error",
           "calibration_bins", "top_decile_lift", "compare_to_baseline", "compare_to_oracle"]


def _check(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray, what: str = "p"
           ) -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y)
    pp = np.asarray(p, dtype=np.float64)
    if yy.ndim != 1 or yy.shape != pp.shape or len(yy) == 0:
        raise ParameterError(f"Metrics need one {what} per outcome, at least one row; got {yy.shape} and {pp.shape}.")
    if not np.isin(yy, (0, 1)).all():
        raise ParameterError("Metrics need outcomes of 0 or 1.")
    if not np.isfinite(pp).all():
        raise ParameterError(f"Metrics need finite values of {what}.")
    return yy.astype(np.int64), pp


def _f(p: Payload, key: str, low: float | None, high: float | None, nullable: bool = False) -> Any:
    return p.finite_float(key, low=low, high=high, nullable=nullable)


def _bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ParameterError(f"The 'n_bins' parameter must be an int >= 1. Got {n_bins!r} instead.")
    rank = rankdata(p, method="average")
    return np.minimum(((rank - 1.0) * n_bins / len(p)).astype(np.int64), n_bins - 1)


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Equal-mass calibration curve: ``{"mean_predicted", "observed", "count"}`` (empty bins left out).

    Examples
    --------
    >>> calibration_bins(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]), n_bins=2)
    {'mean_predicted': [0.15000000000000002, 0.8], 'observed': [0.0, 1.0], 'count': [2, 2]}
    """
    yy, pp = _check(y, p)
    b = _bins(pp, n_bins)
    count = np.bincount(b, minlength=n_bins)
    keep = count > 0
    sp = np.bincount(b, weights=pp, minlength=n_bins)[keep]
    sy = np.bincount(b, weights=yy.astype(np.float64), minlength=n_bins)[keep]
    c = count[keep]
    return {"mean_predicted": (sp / c).tolist(), "observed": (sy / c).tolist(), "count": c.tolist()}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE over equal-mass bins (see the module docstring).

    Examples
    --------
    >>> round(expected_calibration_error(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5]), 2), 12)
    0.0
    >>> round(expected_calibration_error(np.array([0, 0, 1, 1]), np.array([0.2, 0.2, 0.6, 0.6]), 2), 12)
    0.3
    """
    curve = calibration_bins(y, p, n_bins)
    c = np.asarray(curve["count"], dtype=np.float64)
    gap = np.abs(np.asarray(curve["mean_predicted"]) - np.asarray(curve["observed"]))
    return float(np.sum(c * gap) / c.sum())


def top_decile_lift(y: np.ndarray, score: np.ndarray, fraction: float = 0.1) -> float | None:
    """Positive rate in the top ``fraction`` by ``score`` over the overall rate (ties counted fractionally).

    Examples
    --------
    >>> top_decile_lift(np.array([1, 0, 0, 0]), np.array([0.9, 0.1, 0.2, 0.3]), fraction=0.25)
    4.0
    >>> top_decile_lift(np.array([1, 0, 0, 0]), np.array([0.5, 0.5, 0.1, 0.1]), fraction=0.25)
    2.0
    """
    yy, s = _check(y, score, "score")
    if not 0 < fraction <= 1:
        raise ParameterError(f"The 'fraction' parameter must be in (0, 1]. Got {fraction!r} instead.")
    rate = yy.mean()
    if rate == 0:
        return None
    m = fraction * len(s)
    desc = np.sort(s)[::-1]
    t = desc[min(len(s), max(1, math.ceil(m - 1e-9))) - 1]
    above = s > t
    tied = s == t
    need = m - above.sum()
    hits = yy[above].sum() + need * yy[tied].mean()
    return float(hits / m / rate)


@dataclass(frozen=True)
class Evaluation:
    """Metrics of probabilities ``p`` against outcomes ``y`` (see the module docstring)."""

    n: int
    n_positive: int
    base_rate: float
    mean_predicted: float
    roc_auc: float | None
    pr_auc: float | None
    top_decile_lift: float | None
    brier: float
    ece: float
    calibration_curve: dict[str, list[float]]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Payload) -> Evaluation:
        """Rebuild from :meth:`to_dict` output, checking every field (IncompatibleArtifactError naming it)."""
        p = Payload.of(data, source="Evaluation.from_dict")
        p.keys_exactly(("n", "n_positive", "base_rate", "mean_predicted", "roc_auc", "pr_auc", "top_decile_lift",
                        "brier", "ece", "calibration_curve"))
        n = p.int_in("n", low=1)
        assert n is not None
        c = p.mapping("calibration_curve")
        assert c is not None
        c.keys_exactly(("mean_predicted", "observed", "count"))
        mp = float_array(c, "mean_predicted", min_length=1, low=0.0, high=1.0)
        ob = float_array(c, "observed", length=len(mp), low=0.0, high=1.0)
        ct = float_array(c, "count", length=len(mp), low=1.0, high=float(n))
        return cls(n, p.int_in("n_positive", low=0, high=n) or 0, _f(p, "base_rate", 0, 1),
                   _f(p, "mean_predicted", 0, 1),
                   _f(p, "roc_auc", 0, 1, True), _f(p, "pr_auc", 0, 1, True), _f(p, "top_decile_lift", 0, None, True),
                   _f(p, "brier", 0, 1), _f(p, "ece", 0, 1),
                   {"mean_predicted": mp.tolist(), "observed": ob.tolist(), "count": [int(v) for v in ct]})

    def metrics(self) -> dict[str, float]:
        """Scalar metrics only, undefined ones left out (for ``mlflow.log_metrics``)."""
        return {k: float(v) for k, v in self.to_dict().items() if isinstance(v, (int, float)) and v is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every scalar (``None`` when undefined) and the calibration curve."""
        return {"n": self.n, "n_positive": self.n_positive, "base_rate": self.base_rate,
                "mean_predicted": self.mean_predicted, "roc_auc": self.roc_auc, "pr_auc": self.pr_auc,
                "top_decile_lift": self.top_decile_lift, "brier": self.brier, "ece": self.ece,
                "calibration_curve": self.calibration_curve}


def evaluate(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> Evaluation:
    """Every metric of the module docstring for probabilities ``p``.

    Raises
    ------
    ParameterError
        Mismatched lengths, outcomes other than 0/1, non-finite or
        out-of-[0, 1] probabilities.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    yy, pp = _check(y, p)
    if pp.min() < 0 or pp.max() > 1:
        raise ParameterError("evaluate needs probabilities in [0, 1]; use compare_to_baseline for other scores.")
    both = 0 < yy.sum() < len(yy)
    return Evaluation(
        n=int(len(yy)), n_positive=int(yy.sum()), base_rate=float(yy.mean()), mean_predicted=float(pp.mean()),
        roc_auc=float(roc_auc_score(yy, pp)) if both else None,
        pr_auc=float(average_precision_score(yy, pp)) if both else None,
        top_decile_lift=top_decile_lift(yy, pp) if both else None,
        brier=float(brier_score_loss(yy, pp, labels=[0, 1])),
        ece=expected_calibration_error(yy, pp, n_bins),
        calibration_curve=calibration_bins(yy, pp, n_bins),
    )


@dataclass(frozen=True)
class BaselineComparison:
    """The model and a baseline score evaluated on the same rows.

    Attributes
    ----------
    model, baseline : Evaluation
        The baseline's AUC, PR AUC and lift are those of its score; its
        Brier, ECE and curve those of its isotonic probability.
    auc_gain : float or None
        ``model.roc_auc - baseline.roc_auc``.
    beats_baseline : bool
        ``auc_gain >= margin`` and the model's Brier score is not worse.
    margin : float
    """

    model: Evaluation
    baseline: Evaluation
    auc_gain: float | None
    beats_baseline: bool
    margin: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: both evaluations, the gain, the verdict."""
        return {"model": self.model.to_dict(), "baseline": self.baseline.to_dict(), "auc_gain": self.auc_gain,
                "margin": self.margin, "beats_baseline": self.beats_baseline}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Payload) -> BaselineComparison:
        """Rebuild from :meth:`to_dict` output, checking every field."""
        p = Payload.of(data, source="BaselineComparison.from_dict")
        p.keys_exactly(("model", "baseline", "auc_gain", "margin", "beats_baseline"))
        model = Evaluation.from_dict(p.mapping("model"))  # type: ignore[arg-type]
        base = Evaluation.from_dict(p.mapping("baseline"))  # type: ignore[arg-type]
        return cls(model, base, _f(p, "auc_gain", -1, 1, True), p.boolean("beats_baseline"), _f(p, "margin", -1, 1))

    def metrics(self) -> dict[str, float]:
        """Flat scalars: ``model_*``, ``baseline_*``, ``auc_gain``, ``beats_baseline`` (0/1)."""
        out = {f"model_{k}": v for k, v in self.model.metrics().items()}
        out.update({f"baseline_{k}": v for k, v in self.baseline.metrics().items()})
        if self.auc_gain is not None:
            out["auc_gain"] = self.auc_gain
        out["beats_baseline"] = float(self.beats_baseline)
        return out


def compare_to_baseline(y: np.ndarray, p_model: np.ndarray, baseline_score: np.ndarray, *,
                        direction: str = "increasing", margin: float = 0.01, n_bins: int = 10,
                        folds: int | None = 5, seed: int = 0) -> BaselineComparison:
    """Evaluate the model and a simple monotone baseline score on the same rows.

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes.
    p_model : numpy.ndarray
        The model's calibrated probabilities.
    baseline_score : numpy.ndarray
        A score such as days since the last purchase. Missing values rank as
        the **lowest** risk.
    direction : {"increasing", "decreasing"}
        Whether risk increases with the score (days since last purchase) or
        decreases (days to contract end).
    margin : float
        AUC gain the model needs to beat the baseline.
    n_bins : int
    folds : int or None
        The baseline's probability (for Brier, ECE and the curve) is an
        isotonic regression of ``y`` on the oriented score, cross-fitted over
        ``folds`` stratified folds like the model's held-out probabilities
        (:func:`~crmml.supervised.cross_fit`); ``None`` fits it on all rows
        (in-sample, which favours the baseline).
    seed : int
        Seed of the folds.

    Returns
    -------
    BaselineComparison

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> c = compare_to_baseline(y, np.array([.1, .2, .8, .9, .3, .7]), np.array([5., 1., 3., 9., 2., 4.]),
    ...                         folds=None)
    >>> c.model.roc_auc, round(c.baseline.roc_auc, 3), c.beats_baseline
    (1.0, 0.778, True)
    """
    from sklearn.isotonic import IsotonicRegression

    if direction not in ("increasing", "decreasing"):
        raise ParameterError(f"The 'direction' parameter must be 'increasing' or 'decreasing'. Got {direction!r}.")
    yy, pm = _check(y, p_model)
    s = np.asarray(baseline_score, dtype=np.float64)
    if s.shape != yy.shape:
        raise ParameterError(f"compare_to_baseline needs one baseline score per outcome; got {s.shape} for "
                             f"{yy.shape}.")
    s = s if direction == "increasing" else -s
    missing = ~np.isfinite(s)
    if missing.all():
        s = np.zeros_like(s)
    elif missing.any():
        s = np.where(missing, np.min(s[~missing]) - 1.0, s)
    model = evaluate(yy, pm, n_bins=n_bins)
    def fit(score: np.ndarray, t: np.ndarray) -> Calibrator:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, t.astype(np.float64))
        return Calibrator.isotonic(iso.X_thresholds_, np.clip(iso.y_thresholds_, 0.0, 1.0), tie_break=0.0)  # steps

    p_base = fit(s, yy).apply(s) if not folds else out_of_fold(s, yy, fit, folds=folds, seed=seed)
    base = evaluate(yy, p_base, n_bins=n_bins)
    from sklearn.metrics import average_precision_score, roc_auc_score

    both = 0 < yy.sum() < len(yy)
    base = Evaluation(base.n, base.n_positive, base.base_rate, base.mean_predicted,
                      float(roc_auc_score(yy, s)) if both else None,
                      float(average_precision_score(yy, s)) if both else None,
                      top_decile_lift(yy, s) if both else None, base.brier, base.ece, base.calibration_curve)
    gain = None if model.roc_auc is None or base.roc_auc is None else model.roc_auc - base.roc_auc
    beats = gain is not None and gain >= margin and model.brier <= base.brier
    return BaselineComparison(model, base, gain, bool(beats), float(margin))


@dataclass(frozen=True)
class OracleComparison:
    """The model against the true probabilities of a synthetic world, on the same rows.

    Attributes
    ----------
    model, oracle : Evaluation
    auc_gap : float or None
        ``oracle.roc_auc - model.roc_auc`` (how much ranking is left).
    mean_abs_error : float
        Mean ``|p_model - p_oracle|``.
    correlation : float or None
        Pearson correlation of the two probabilities (None if either is constant).
    """

    model: Evaluation
    oracle: Evaluation
    auc_gap: float | None
    mean_abs_error: float
    correlation: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "oracle": self.oracle.to_dict(), "auc_gap": self.auc_gap,
                "mean_abs_error": self.mean_abs_error, "correlation": self.correlation}

    def metrics(self) -> dict[str, float]:
        out = {f"model_{k}": v for k, v in self.model.metrics().items()}
        out.update({f"oracle_{k}": v for k, v in self.oracle.metrics().items()})
        out.update({k: v for k, v in (("auc_gap", self.auc_gap), ("mean_abs_error", self.mean_abs_error),
                                      ("correlation", self.correlation)) if v is not None})
        return out


def compare_to_oracle(y: np.ndarray, p_model: np.ndarray, p_oracle: np.ndarray, *, n_bins: int = 10
                      ) -> OracleComparison:
    """Evaluate the model and the true probabilities on the same rows.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1])
    >>> c = compare_to_oracle(y, np.array([.2, .6, .55, .5]), np.array([.1, .9, .2, .8]))
    >>> round(c.auc_gap, 3), round(c.mean_abs_error, 4)
    (0.25, 0.2625)
    """
    yy, pm = _check(y, p_model)
    _, po = _check(yy, p_oracle, "p_oracle")
    model = evaluate(yy, pm, n_bins=n_bins)
    oracle = evaluate(yy, po, n_bins=n_bins)
    gap = None if model.roc_auc is None or oracle.roc_auc is None else oracle.roc_auc - model.roc_auc
    corr = float(np.corrcoef(pm, po)[0, 1]) if pm.std() > 0 and po.std() > 0 else None
    return OracleComparison(model, oracle, gap, float(np.mean(np.abs(pm - po))), corr)
