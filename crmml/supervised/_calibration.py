"""Calibration of raw scores into probabilities, fitted on the held-out cutoff.

Two scikit-learn methods, chosen by how many events the held-out cutoff holds
(``method="auto"``):

* **isotonic** (:class:`sklearn.isotonic.IsotonicRegression`, increasing,
  clipped to ``[0, 1]`` and out of bounds) when the held-out cutoff holds at
  least :data:`ISOTONIC_MIN_CLASS` positives **and** as many negatives;
* **sigmoid** (Platt scaling) otherwise: ``p = 1 / (1 + exp(-(a·s + b)))``
  fitted by scikit-learn's public
  :class:`~sklearn.linear_model.LogisticRegression` (unpenalised, ``C=inf``)
  on Platt's smoothed targets — positives ``(N+ + 1)/(N+ + 2)``, negatives
  ``1/(N- + 2)``, expressed as two weighted copies of each row — the same
  objective as scikit-learn's private ``_SigmoidCalibration``, which is not
  a public API.

Why 1,000: isotonic regression is a step function with one free value per
step; scikit-learn's user guide advises against it with "too few calibration
samples (<<1000)" because it overfits. Counting the *minority* class matters
more than rows (a 3% churn rate with 10,000 rows gives 300 positives and
steps estimated from a handful of events), so crmml requires 1,000 of each.

Either way the calibrator is stored as data — isotonic: the breakpoints
``x``/``y`` (``IsotonicRegression.X_thresholds_`` / ``y_thresholds_``);
sigmoid: ``a`` (>= 0) and ``b`` — and applied in pure numpy
(:meth:`Calibrator.apply`): linear interpolation between breakpoints,
constant beyond them. Both are monotone non-decreasing in the raw score, so
rankings (and the reasons, computed on raw scores) are preserved.

Ties. Isotonic regression pools adjacent scores into flat steps: on a world
where most one-off buyers never return, a fifth of the customers share
``p = 1.0`` exactly, which erases the model's ranking among them (a "top 5 %"
list or a capacity tier cannot be cut inside the step, and the AUC of the
probability is lower than the AUC of the score). An isotonic calibrator
therefore adds a tie-break, ``p = (1 − ε)·iso(s) + ε·(½ + atan(s)/π)`` with
``ε =`` :data:`TIE_BREAK` (10⁻⁶): strictly increasing in the raw score, still
in ``[0, 1]``, and never more than 10⁻⁶ away from the isotonic fit — far
below any calibration error that could be measured. ``atan`` rather than
the logistic function because it keeps separating scores far in the tails.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from crmml._payload import Payload
from crmml.exceptions import ParameterError
from crmml.supervised._read import float_array

__all__ = ["ISOTONIC_MIN_CLASS", "METHODS", "TIE_BREAK", "Calibrator", "fit_calibrator", "choose_method", "cross_fit",
           "out_of_fold"]

logger = logging.getLogger("crmml")

ISOTONIC_MIN_CLASS = 1000
"""Fewest held-out positives, and negatives, for ``method="auto"`` to choose isotonic."""

METHODS = ("auto", "isotonic", "sigmoid")

TIE_BREAK = 1e-6
"""Weight ``ε`` of the strictly increasing tie-break added to isotonic calibration (see the module docstring)."""

_MAX_TIE_BREAK = 1e-3


@dataclass(frozen=True, eq=False)
class Calibrator:
    """A fitted, monotone map from raw score to probability.

    Attributes
    ----------
    method : {"isotonic", "sigmoid"}
    x, y : numpy.ndarray
        Isotonic breakpoints (``x`` strictly increasing, ``y``
        non-decreasing in ``[0, 1]``); empty for sigmoid.
    a, b : float
        Sigmoid slope (>= 0) and intercept; ``nan`` for isotonic.
    tie_break : float
        Isotonic only: weight of the strictly increasing tie-break term
        (:data:`TIE_BREAK`; 0 reproduces scikit-learn's step function).
    """

    method: str
    x: np.ndarray
    y: np.ndarray
    a: float = math.nan
    b: float = math.nan
    tie_break: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities of raw scores (float64, same shape), pure numpy.

        Examples
        --------
        >>> Calibrator.sigmoid(1.0, 0.0).apply(np.array([0.0]))
        array([0.5])
        >>> iso = Calibrator.isotonic(np.array([0.0, 1.0]), np.array([0.2, 0.6]), tie_break=0.0)
        >>> iso.apply(np.array([-5.0, 0.5, 5.0]))
        array([0.2, 0.4, 0.6])
        >>> p = Calibrator.isotonic(np.array([0.0, 1.0]), np.array([0.2, 0.6])).apply(np.array([5.0, 6.0]))
        >>> bool(p[0] < p[1]), bool(abs(p[1] - 0.6) < 1e-6)
        (True, True)
        """
        s = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            p = np.interp(s, self.x, self.y)
            if self.tie_break:
                p = (1.0 - self.tie_break) * p + self.tie_break * (0.5 + np.arctan(s) / np.pi)
            return p
        z = self.a * s + self.b
        e = np.exp(-np.abs(z))  # never overflows
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    @classmethod
    def isotonic(cls, x: np.ndarray, y: np.ndarray, *, tie_break: float = TIE_BREAK) -> Calibrator:
        """An isotonic calibrator from breakpoints (checked), with the tie-break of weight ``tie_break``."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) == 0 or not np.isfinite(x).all() \
                or not np.isfinite(y).all() or np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0) \
                or y.min() < 0 or y.max() > 1:
            raise ParameterError("Isotonic breakpoints must be finite, x strictly increasing and y non-decreasing "
                                 "in [0, 1], of equal non-zero length.")
        if not (isinstance(tie_break, (int, float)) and 0.0 <= tie_break <= _MAX_TIE_BREAK):
            raise ParameterError(f"The 'tie_break' of an isotonic calibrator must be a number in "
                                 f"[0, {_MAX_TIE_BREAK}]. Got {tie_break!r} instead.")
        return cls("isotonic", x, y, tie_break=float(tie_break))

    @classmethod
    def sigmoid(cls, a: float, b: float) -> Calibrator:
        """A sigmoid calibrator ``1 / (1 + exp(-(a·s + b)))`` with ``a >= 0``."""
        if not (math.isfinite(a) and math.isfinite(b)) or a < 0:
            raise ParameterError(f"A sigmoid calibrator needs a finite slope a >= 0 and a finite b. Got a={a!r}, "
                                 f"b={b!r} instead.")
        return cls("sigmoid", np.empty(0), np.empty(0), float(a), float(b))

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """``{"method": "isotonic", "x": [...], "y": [...], "tie_break": ε}`` or ``{"method": "sigmoid", "a", "b"}``."""
        if self.method == "isotonic":
            return {"method": "isotonic", "x": self.x.tolist(), "y": self.y.tolist(), "tie_break": self.tie_break}
        return {"method": "sigmoid", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload) -> Calibrator:
        """Rebuild from :meth:`to_dict` output; every number is checked (finite, ordered, in range).

        Raises
        ------
        IncompatibleArtifactError
            Naming the field (``supervised.json: calibration.x[3]``).
        """
        p = Payload.of(data, source="Calibrator.from_dict")
        method = p.str_in("method", ("isotonic", "sigmoid"))
        if method == "isotonic":
            p.keys_exactly(("method", "x", "y", "tie_break"))
            x = float_array(p, "x", min_length=1, order="increasing")
            y = float_array(p, "y", length=len(x), low=0.0, high=1.0, order="nondecreasing")
            tie = p.finite_float("tie_break", low=0.0, high=_MAX_TIE_BREAK)
            assert tie is not None
            return cls("isotonic", x, y, tie_break=tie)
        p.keys_exactly(("method", "a", "b"))
        a = p.finite_float("a", low=0.0)
        b = p.finite_float("b")
        assert a is not None and b is not None
        return cls("sigmoid", np.empty(0), np.empty(0), a, b)


def _platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid on smoothed targets via an unpenalised public LogisticRegression."""
    from sklearn.linear_model import LogisticRegression

    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    target = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    X = np.concatenate([raw, raw])[:, None]
    labels = np.concatenate([np.ones(len(raw)), np.zeros(len(raw))])
    weights = np.concatenate([target, 1.0 - target])
    lr = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000, tol=1e-10)
    lr.fit(X, labels, sample_weight=weights)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def choose_method(y: np.ndarray, method: str = "auto", isotonic_min_class: int = ISOTONIC_MIN_CLASS) -> str:
    """``"isotonic"`` or ``"sigmoid"``: ``method`` itself, or the ``"auto"`` rule on the counts of ``y``.

    Examples
    --------
    >>> choose_method(np.r_[np.zeros(1500), np.ones(999)])
    'sigmoid'
    >>> choose_method(np.r_[np.zeros(1500), np.ones(1000)])
    'isotonic'
    """
    if method not in METHODS:
        raise ParameterError(f"The 'calibration' parameter must be one of {METHODS}. Got {method!r} instead.")
    if method != "auto":
        return method
    n_pos = int(np.sum(np.asarray(y) == 1))
    n_neg = int(np.sum(np.asarray(y) == 0))
    return "isotonic" if min(n_pos, n_neg) >= isotonic_min_class else "sigmoid"


def out_of_fold(score: np.ndarray, y: np.ndarray, fit: Callable[[np.ndarray, np.ndarray], Calibrator], *,
                folds: int = 5, seed: int = 0) -> np.ndarray:
    """Probabilities of each row from a calibrator fitted without its fold (stratified K-fold).

    ``folds`` is lowered to the minority-class count when that is smaller
    (at least 2; with fewer the in-sample fit is used).
    """
    from sklearn.model_selection import StratifiedKFold

    t = np.asarray(y).astype(np.int64)
    k = min(int(folds), int(t.sum()), int(len(t) - t.sum()))
    if k < 2:
        return fit(score, t).apply(score)
    out = np.empty(len(t), dtype=np.float64)
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(score.reshape(-1, 1), t):
        out[test] = fit(score[train], t[train]).apply(score[test])
    return out


def cross_fit(raw: np.ndarray, y: np.ndarray, *, method: str = "auto", isotonic_min_class: int = ISOTONIC_MIN_CLASS,
              folds: int = 5, seed: int = 0) -> tuple[Calibrator, np.ndarray]:
    """The calibrator fitted on all rows, and honest (out-of-fold) probabilities to evaluate it.

    A calibrator evaluated on the rows it was fitted on looks better than it
    is (an isotonic fit has an equal-mass ECE of exactly 0 in-sample), so the
    held-out metrics of crmml use the out-of-fold probabilities: each of
    ``folds`` stratified parts is calibrated by a calibrator of the same
    method fitted on the other parts.
    """
    chosen = choose_method(y, method, isotonic_min_class)
    calibrator = fit_calibrator(raw, y, method=chosen)
    oof = out_of_fold(np.asarray(raw, dtype=np.float64), np.asarray(y),
                      lambda s, t: fit_calibrator(s, t, method=chosen), folds=folds, seed=seed)
    return calibrator, oof


def fit_calibrator(raw: np.ndarray, y: np.ndarray, *, method: str = "auto",
                   isotonic_min_class: int = ISOTONIC_MIN_CLASS) -> Calibrator:
    """Fit a calibrator on held-out raw scores and 0/1 outcomes.

    Parameters
    ----------
    raw : numpy.ndarray
        Raw scores (log-odds) of the held-out rows.
    y : numpy.ndarray
        Their outcomes (0/1).
    method : {"auto", "isotonic", "sigmoid"}
        ``"auto"``: isotonic with at least ``isotonic_min_class`` positives
        and negatives, sigmoid otherwise.
    isotonic_min_class : int

    Returns
    -------
    Calibrator
        For sigmoid, a negative fitted slope (a score that ranks the held-out
        rows backwards) is set to 0 with a warning: the calibrator then
        predicts the held-out base rate for everyone instead of reversing the
        ranking.

    Raises
    ------
    ParameterError
        Unknown method, mismatched lengths, non-finite scores, labels other
        than 0/1, or a single class.
    """
    choose_method(np.zeros(0), method)  # validates the name
    s = np.asarray(raw, dtype=np.float64)
    t = np.asarray(y)
    if s.ndim != 1 or s.shape != t.shape:
        raise ParameterError(f"fit_calibrator needs one score per outcome; got {s.shape} and {t.shape}.")
    if not np.isfinite(s).all():
        raise ParameterError("fit_calibrator needs finite raw scores.")
    if not np.isin(t, (0, 1)).all():
        raise ParameterError("fit_calibrator needs outcomes of 0 or 1.")
    t = t.astype(np.int64)
    n_pos = int(t.sum())
    n_neg = len(t) - n_pos
    if min(n_pos, n_neg) == 0:
        raise ParameterError(f"fit_calibrator needs both outcomes; got {n_pos} positives and {n_neg} negatives.")
    chosen = choose_method(t, method, isotonic_min_class)
    if chosen == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        iso.fit(s, t.astype(np.float64))
        return Calibrator.isotonic(np.asarray(iso.X_thresholds_, dtype=np.float64),
                                   np.clip(np.asarray(iso.y_thresholds_, dtype=np.float64), 0.0, 1.0))
    a, b = _platt(s, t)
    if a < 0:
        logger.warning("calibration: the raw score ranks the held-out cutoff backwards (sigmoid slope %.3g); "
                       "predicting the base rate for everyone", a)
        rate = (n_pos + 1.0) / (len(t) + 2.0)
        a, b = 0.0, math.log(rate / (1.0 - rate))
    return Calibrator.sigmoid(a, b)
