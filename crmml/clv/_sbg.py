"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from crmml.clv._mle import MLEModel, log_param_hessian, minimize_nll
from crmml.exceptions import DataContractError, ParameterError, Problem

__all__ = ["ShiftedBetaGeometricModel"]

_TABLE = "cohort"


def _fun_grad(z: np.ndarray, t: np.ndarray, churned: np.ndarray, w: np.ndarray, pen: float) -> tuple[float, np.ndarray]:
    a, b = theta = np.exp(z)
    W = w.sum()
    psi_ab = special.digamma(a + b)
    psi_abt = special.digamma(a + b + t)
    # churned in period t: log P(T = t) = log B(a+1, b+t-1) - log B(a, b)
    lp = special.betaln(a + 1, b + t - 1) - special.betaln(a, b)
    dpa = special.digamma(a + 1) - psi_abt - special.digamma(a) + psi_ab
    dpb = special.digamma(np.maximum(b + t - 1, 1e-300)) - psi_abt - special.digamma(b) + psi_ab
    # survived t periods: log S(t) = log B(a, b+t) - log B(a, b)
    ls = special.betaln(a, b + t) - special.betaln(a, b)
    dsa = psi_ab - psi_abt
    dsb = special.digamma(b + t) - psi_abt - special.digamma(b) + psi_ab
    ll = np.where(churned, lp, ls)
    g = np.array([w @ np.where(churned, dpa, dsa), w @ np.where(churned, dpb, dsb)])
    f = -float(w @ ll) / W + pen * float(theta @ theta)
    return f, (-g / W + 2 * pen * theta) * theta


class ShiftedBetaGeometricModel(MLEModel):
    """sBG model: each customer churns each period with probability ``theta ~ Beta(alpha, beta)``.

    Fit either from cohort survivor counts (:meth:`fit`) or from one row per
    customer (:meth:`fit_customers`).

    Parameters
    ----------
    penalizer, tol, max_iter
        As in :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta``.

    References
    ----------
    .. [1] Fader, P. S. & Hardie, B. G. S. (2007). How to Project Customer
       Retention. Journal of Interactive Marketing 21(1), 76-90.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2010). Customer-Base Valuation in a
       Contractual Setting: The Perils of Ignoring Heterogeneity. Marketing
       Science 29(1), 85-93.

    Examples
    --------
    >>> m = ShiftedBetaGeometricModel().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> round(m.params_["alpha"], 3), round(m.params_["beta"], 3)
    (0.704, 1.182)
    """

    _param_names = ("alpha", "beta")
    _fit_hint = "check that the data covers several periods with some customers churning and some staying"

    def fit(self, alive: Sequence[int] | np.ndarray) -> ShiftedBetaGeometricModel:
        """Fit on survivor counts ``alive[t]`` of one cohort, ``alive[0]`` = cohort size.

        ``alive[t-1] - alive[t]`` customers churned in period ``t``; ``alive[-1]``
        are still active after ``len(alive) - 1`` periods (right-censored).

        Raises
        ------
        DataContractError
            Fewer than two counts, negative or increasing counts, or a cohort
            that never shrinks.
        ConvergenceError
            The optimiser did not converge or ended with a non-finite value.
        """
        self._validate_params()
        a = np.asarray(alive, dtype="float64")
        ctx = f"{type(self).__name__}.fit"
        problems = []
        if a.ndim != 1 or len(a) < 2:
            raise DataContractError([Problem(_TABLE, "alive", "at least two survivor counts (cohort size first)",
                                             hint=f"got {a.tolist()!r}")], ctx)
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            problems.append(Problem(_TABLE, "alive", "finite counts >= 0", int((~np.isfinite(a) | (a < 0)).sum())))
        elif np.any(np.diff(a) > 0):
            problems.append(Problem(_TABLE, "alive", "non-increasing survivor counts",
                                    int((np.diff(a) > 0).sum()), hint="a cohort can only shrink"))
        elif a[0] <= 0:
            problems.append(Problem(_TABLE, "alive", "a positive cohort size alive[0]"))
        if problems:
            raise DataContractError(problems, ctx)
        n = len(a) - 1
        t = np.concatenate([np.arange(1, n + 1), [n]]).astype("float64")
        churned = np.concatenate([np.ones(n, bool), [False]])
        w = np.concatenate([-np.diff(a), [a[-1]]])
        return self._fit_arrays(t, churned, w, context=ctx, no_churn=Problem(
            _TABLE, "alive", "a cohort that shrinks at least once (some customers churn)",
            hint="the churn rate cannot be estimated when nobody churns"))

    def fit_customers(
        self, tenure: Sequence[int] | np.ndarray, churned: Sequence[bool] | np.ndarray,
        sample_weight: Any = None,
    ) -> ShiftedBetaGeometricModel:
        """Fit on one row per customer.

        Parameters
        ----------
        tenure : array-like of int
            Periods observed: the period of churn when ``churned``, else the
            number of periods survived so far (>= 1 when churned, >= 0 else).
        churned : array-like of bool
            Whether the customer churned (in period ``tenure``).
        sample_weight : array-like, optional
            Customer counts.
        """
        self._validate_params()
        ctx = f"{type(self).__name__}.fit_customers"
        t = np.asarray(tenure, dtype="float64")
        c = np.asarray(churned).astype(bool)
        w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        problems = []
        if not (t.shape == c.shape == w.shape) or t.ndim != 1:
            raise DataContractError([Problem(_TABLE, "tenure", "tenure, churned and sample_weight of equal length",
                                             hint=f"got {t.shape}, {c.shape}, {w.shape}")], ctx)
        bad = ~np.isfinite(t) | (t < 0) | (t != np.floor(np.nan_to_num(t)))
        if bad.any():
            problems.append(Problem(_TABLE, "tenure", "integer tenure >= 0", int(bad.sum())))
        bad = c & (t < 1)
        if bad.any():
            problems.append(Problem(_TABLE, "tenure", "tenure >= 1 for churned customers", int(bad.sum()),
                                    hint="churn in period t means t >= 1"))
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            problems.append(Problem(_TABLE, "sample_weight", "finite weights >= 0", int(bad.sum())))
        if problems:
            raise DataContractError(problems, ctx)
        return self._fit_arrays(t, c, w, context=ctx, no_churn=Problem(
            _TABLE, "churned", "at least one churned customer (with weight > 0)",
            hint="the churn rate cannot be estimated when nobody churns"))

    def _fit_arrays(self, t: np.ndarray, churned: np.ndarray, w: np.ndarray, *,
                    no_churn: Problem, context: str) -> ShiftedBetaGeometricModel:
        keep = w > 0
        t, churned, w = t[keep], churned[keep], w[keep]
        if not churned.any():
            raise DataContractError([no_churn], context)
        pen = float(self.penalizer)

        def fg(z: np.ndarray) -> tuple[float, np.ndarray]:
            return _fun_grad(z, t, churned, w, pen)

        z = minimize_nll(fg, np.zeros(2), owner=type(self).__name__, tol=self.tol, max_iter=self.max_iter,
                         hint=self._fit_hint)
        with np.errstate(all="ignore"):
            theta = np.exp(z)
            cov = self._cov_from_log_hessian(log_param_hessian(fg, z) * w.sum(), theta)
            ll = -fg(z)[0] * w.sum() if pen == 0 else -_fun_grad(z, t, churned, w, 0.0)[0] * w.sum()
        self._set_fit(theta, cov, ll, w.sum())
        return self

    # ------------------------------------------------------------ predictions
    def _ab(self, method: str) -> tuple[float, float]:
        self._check_fitted(method)
        return self.params_["alpha"], self.params_["beta"]

    @staticmethod
    def _t(t: Any, method: str, low: int = 0) -> np.ndarray:
        arr = np.asarray(t, dtype="float64")
        if np.any(arr < low) or np.any(arr != np.floor(arr)):
            raise ParameterError(
                f"The 't' parameter of ShiftedBetaGeometricModel.{method} must be an int >= {low}. Got {t!r} instead.")
        return arr

    @staticmethod
    def _out(x: np.ndarray) -> np.ndarray | float:
        return float(x) if np.ndim(x) == 0 else x

    def survival(self, t: Any) -> np.ndarray | float:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): share still active after t periods."""
        a, b = self._ab("survival")
        t = self._t(t, "survival")
        return self._out(np.exp(special.betaln(a, b + t) - special.betaln(a, b)))

    def churn_probability(self, t: Any) -> np.ndarray | float:
        """P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta): churn in period t (t >= 1)."""
        a, b = self._ab("churn_probability")
        t = self._t(t, "churn_probability", low=1)
        return self._out(np.exp(special.betaln(a + 1, b + t - 1) - special.betaln(a, b)))

    def retention_rate(self, t: Any) -> np.ndarray | float:
        """r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1."""
        a, b = self._ab("retention_rate")
        t = self._t(t, "retention_rate", low=1)
        return self._out((b + t - 1) / (a + b + t - 1))

    def expected_discounted_residual_lifetime(self, n: int, discount_rate: float) -> float:
        """DERL for a customer who has made ``n - 1`` renewals (alive for ``n`` periods).

        ``DERL = B(alpha, beta+n) / B(alpha, beta+n-1) · 2F1(1, beta+n; alpha+beta+n; 1/(1+d))``
        (Fader & Hardie 2010, eq. 6): expected number of future payments,
        discounted at ``d`` per period, counting the one about to be made.
        """
        a, b = self._ab("expected_discounted_residual_lifetime")
        if int(n) != n or n < 1:
            raise ParameterError(
                f"The 'n' parameter of ShiftedBetaGeometricModel.expected_discounted_residual_lifetime "
                f"must be an int >= 1. Got {n!r} instead.")
        if not np.isfinite(discount_rate) or discount_rate <= 0:
            raise ParameterError(
                f"The 'discount_rate' parameter of ShiftedBetaGeometricModel.expected_discounted_residual_lifetime "
                f"must be > 0. Got {discount_rate!r} instead.")
        pre = np.exp(special.betaln(a, b + n) - special.betaln(a, b + n - 1))
        return float(pre * special.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount_rate)))
