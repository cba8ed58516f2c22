"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import special

from crmml.clv._mle import MLEModel, log_param_hessian, minimize_nll
from crmml.clv._summary_input import SUMMARY_TABLE, as_index_like, check_sample_weight, check_summary
from crmml.data._report import ExclusionReport
from crmml.exceptions import DataContractError, ParameterError, Problem

__all__ = ["GammaGammaModel", "gamma_gamma_log_likelihood"]

_FREQ_FACTOR = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24}


class TransactionModel(Protocol):
    def expected_purchases(self, t: float, summary: pd.DataFrame) -> pd.Series: ...


def gamma_gamma_log_likelihood(params: tuple[float, float, float], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of mean spend ``m`` over ``x`` transactions."""
    p, q, v = (float(a) for a in params)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v))


def _fun_grad(z: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray, pen: float) -> tuple[float, np.ndarray]:
    p, q, v = theta = np.exp(z)
    W = w.sum()
    px = p * x
    lxmv = np.log(x * m + v)
    ll = gamma_gamma_log_likelihood((p, q, v), x, m)
    psi = special.digamma(px + q)
    g = np.array([
        w @ (x * (psi - special.digamma(px) + np.log(m) + np.log(x) - lxmv)),
        w @ (psi - special.digamma(q) + np.log(v) - lxmv),
        w @ (q / v - (px + q) / (x * m + v)),
    ])
    f = -float(w @ ll) / W + pen * float(theta @ theta)
    return f, (-g / W + 2 * pen * theta) * theta


def _too_few_repeat_buyers(n: int, context: str) -> DataContractError:
    return DataContractError(
        [Problem(SUMMARY_TABLE, "frequency", f"at least 2 customers with a repeat purchase (frequency > 0); got {n}",
                 hint="the Gamma-Gamma spend model is fitted on repeat buyers only; use a longer purchase history")],
        context)


class GammaGammaModel(MLEModel):
    """Gamma-Gamma model of the mean transaction value of repeat buyers.

    Each transaction value is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, v)`` across
    customers; it is fitted on customers with ``frequency > 0`` only (the mean
    of zero repeat transactions is undefined). Rows with ``frequency == 0`` are
    counted in ``exclusions_`` (an :class:`~crmml.data.ExclusionReport`).

    The parameter keys are ``p``, ``q`` and ``v`` as in lifetimes (``v`` is the
    paper's gamma).

    Parameters
    ----------
    penalizer, tol, max_iter
        As in :class:`BetaGeoModel`.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV:
       Using Iso-Value Curves for Customer Base Analysis. Journal of
       Marketing Research 42(4), 415-430.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of
       Monetary Value. http://brucehardie.com/notes/025/

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from crmml.clv import GammaGammaModel, simulate_gamma_gamma
    >>> x = np.random.default_rng(0).integers(1, 8, 2000)
    >>> s = pd.DataFrame({"frequency": x, "monetary_value": simulate_gamma_gamma(x, {"p": 6, "q": 4, "v": 15}, seed=1)})
    >>> model = GammaGammaModel().fit(s)
    >>> bool((model.expected_average_value(s) > 0).all())
    True
    """

    _param_names = ("p", "q", "v")

    _fit_hint = ("check that enough customers made repeat purchases and that monetary_value is in a unit of "
                 "moderate size (e.g. currency units rather than billions)")

    def fit(self, summary: pd.DataFrame, sample_weight: Any = None) -> GammaGammaModel:
        """Fit on ``frequency`` and ``monetary_value`` of repeat buyers; returns ``self``.

        Raises
        ------
        DataContractError
            The summary breaks a rule, or fewer than 2 customers (with weight
            > 0) have a repeat purchase — an empty summary included.
        ConvergenceError
            The optimiser did not converge, or ended with a non-finite
            parameter or log-likelihood (e.g. an extreme monetary unit).
        """
        self._validate_params()
        ctx = f"{type(self).__name__}.fit"
        if isinstance(summary, pd.DataFrame) and len(summary) == 0 and {"frequency", "monetary_value"} <= set(summary):
            raise _too_few_repeat_buyers(0, ctx)
        sm = check_summary(summary, context=ctx, need_recency=False, need_monetary=True)
        w = check_sample_weight(sample_weight, len(sm.index), context=ctx, index=sm.index)
        report = ExclusionReport()
        rep = sm.frequency > 0
        report.add(SUMMARY_TABLE, "frequency == 0 (no repeat purchase: mean spend undefined)",
                   int((~rep).sum()), sm.index[~rep][:3])
        n_rep = int((rep & (w > 0)).sum())
        if n_rep < 2:
            raise _too_few_repeat_buyers(n_rep, ctx)
        x, m, ww = sm.frequency[rep], sm.monetary_value[rep], w[rep]  # type: ignore[index]
        keep = ww > 0
        x, m, ww = x[keep], m[keep], ww[keep]
        pen = float(self.penalizer)
        with np.errstate(all="ignore"):
            scale = 1.0 / float(np.average(m, weights=ww))

        def fg(z: np.ndarray) -> tuple[float, np.ndarray]:
            return _fun_grad(z, x, m * scale, ww, pen)

        z = minimize_nll(fg, np.zeros(3), owner=type(self).__name__, tol=self.tol, max_iter=self.max_iter,
                         hint=self._fit_hint)
        H = log_param_hessian(fg, z) * ww.sum()
        with np.errstate(all="ignore"):  # extreme monetary units overflow here; _set_fit refuses the result
            theta = np.exp(z)
            theta[2] /= scale
            cov = self._cov_from_log_hessian(H, theta)
            ll = float(ww @ gamma_gamma_log_likelihood(tuple(theta), x, m))
        self._set_fit(theta, cov, ll, ww.sum())
        self.exclusions_ = report
        return self

    def expected_average_value(self, summary: pd.DataFrame) -> pd.Series:
        """E[mean spend | x, m] = (p(v + x m)) / (p x + q - 1) (note 025, eq. 5).

        Customers with ``frequency == 0`` get the population mean ``p v / (q - 1)``.
        """
        self._check_fitted("expected_average_value")
        sm = check_summary(summary, context=f"{type(self).__name__}.expected_average_value",
                           need_recency=False, need_monetary=True)
        out = self._conditional_mean(sm.frequency, sm.monetary_value)  # type: ignore[arg-type]
        attrs_df = as_index_like(out, sm.index, "expected_average_value")
        return attrs_df

    def _conditional_mean(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, v = (self.params_[k] for k in self._param_names)
        wgt = p * x / (p * x + q - 1)
        return (1 - wgt) * (v * p / (q - 1)) + wgt * np.where(x > 0, m, 0.0)

    def customer_lifetime_value(
        self,
        transaction_model: TransactionModel,
        summary: pd.DataFrame,
        *,
        time_months: int = 12,
        discount_rate: float = 0.01,
        freq: str = "D",
    ) -> pd.Series:
        """Discounted expected spend over ``time_months`` months (lifetimes' convention).

        ``Σ_{i=1}^{months} E[avg value] · (E[X(i·f)] - E[X((i-1)·f)]) / (1 + d)^i`` where ``f`` is
        the number of time units per month (``D``: 30, ``W``: 4.345, ``M``: 1, ``H``: 720).

        Parameters
        ----------
        transaction_model : BetaGeoModel or ParetoNBDModel
            A fitted model with ``expected_purchases(t, summary)``.
        summary : pandas.DataFrame
            ``frequency``, ``recency``, ``T``, ``monetary_value``.
        time_months : int
            Horizon in months.
        discount_rate : float
            Monthly discount rate.
        freq : {"D", "W", "M", "H"}
            Time unit of ``recency`` and ``T``.
        """
        self._check_fitted("customer_lifetime_value")
        if freq not in _FREQ_FACTOR:
            raise ParameterError(
                f"The 'freq' parameter of {type(self).__name__}.customer_lifetime_value must be one of "
                f"{sorted(_FREQ_FACTOR)}. Got {freq!r} instead.")
        if isinstance(time_months, bool) or not isinstance(time_months, (int, np.integer)) or time_months < 0:
            raise ParameterError(
                f"The 'time_months' parameter of {type(self).__name__}.customer_lifetime_value must be an "
                f"int >= 0. Got {time_months!r} instead.")
        if not np.isfinite(discount_rate) or discount_rate < 0:
            raise ParameterError(
                f"The 'discount_rate' parameter of {type(self).__name__}.customer_lifetime_value must be "
                f">= 0. Got {discount_rate!r} instead.")
        value = self.expected_average_value(summary).to_numpy()
        f = _FREQ_FACTOR[freq]
        clv = np.zeros(len(summary))
        prev = np.zeros(len(summary))
        for i in range(1, int(time_months) + 1):
            cur = transaction_model.expected_purchases(i * f, summary).to_numpy()
            clv += value * (cur - prev) / (1 + discount_rate) ** i
            prev = cur
        return pd.Series(clv, index=summary.index, name="clv")
