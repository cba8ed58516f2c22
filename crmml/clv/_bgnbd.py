"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from crmml.clv._mle import CountData, MLEModel, log_param_hessian
from crmml.clv._summary_input import as_index_like

__all__ = ["BetaGeoModel", "bgnbd_log_likelihood"]


def bgnbd_log_likelihood(
    params: tuple[float, float, float, float], x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood ``log L(r, alpha, a, b | x, t_x, T)``.

    Computed in log space (``gammaln``, ``logaddexp``) so it stays finite for
    frequencies in the thousands and ages of tens of thousands of periods.
    """
    r, alpha, a, b = (float(p) for p in params)
    x = np.asarray(x, dtype="float64")
    tx = np.asarray(tx, dtype="float64")
    T = np.asarray(T, dtype="float64")
    A1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    A2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    A3 = -(r + x) * np.log(alpha + T)
    A4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx)
    return A1 + A2 + np.where(x > 0, np.logaddexp(A3, A4), A3)


class _Data(CountData):
    """Compressed sufficient statistics with the unique T / t_x lookups BG/NBD uses."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        super().__init__(x, tx, T, w)
        self.uT, self.iT = np.unique(self.T, return_inverse=True)
        self.utx, self.itx = np.unique(self.tx, return_inverse=True)
        self.pos = self.x > 0
        self.xm1 = np.maximum(self.ux, 1) - 1


def _fun_grad(z: np.ndarray, d: _Data, penalizer: float) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood (plus penalty) and its gradient in log-params."""
    r, alpha, a, b = theta = np.exp(z)
    ux, ix, w = d.ux, d.ix, d.w
    # terms that depend on x only
    lg = special.gammaln(r + ux) - special.gammaln(r)
    dg = special.digamma(r + ux) - special.digamma(r)
    A2 = special.gammaln(a + b) + special.gammaln(b + ux) - special.gammaln(b) - special.gammaln(a + b + ux)
    psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + ux)
    dA2a = psi_ab - psi_abx
    dA2b = psi_ab + special.digamma(b + ux) - special.digamma(b) - psi_abx
    lbx = np.log(b + d.xm1)
    # terms that depend on T / t_x only
    lT_u = np.log(alpha + d.uT)
    ltx_u = np.log(alpha + d.utx)
    lT, ltx = lT_u[d.iT], ltx_u[d.itx]
    iT, itx = (1.0 / (alpha + d.uT))[d.iT], (1.0 / (alpha + d.utx))[d.itx]
    rx = r + d.x
    A3 = -rx * lT
    D = np.log(a) - lbx[ix] - rx * ltx - A3
    D = np.where(d.pos, D, -np.inf)
    lse = A3 + np.logaddexp(0.0, D)
    p4 = special.expit(D)
    p3 = 1.0 - p4
    total = float(d.wx @ (lg + A2 + r * np.log(alpha)) + w @ lse)
    wp4 = w * p4
    g = np.empty(4)
    g[0] = d.wx @ dg + d.W * np.log(alpha) - (w * p3) @ lT - wp4 @ ltx
    g[1] = d.W * r / alpha - (w * rx) @ (p3 * iT + p4 * itx)
    wp4x = np.bincount(ix, weights=wp4, minlength=len(ux))
    g[2] = d.wx @ dA2a + wp4x.sum() / a
    g[3] = d.wx @ dA2b - wp4x @ np.where(ux > 0, 1.0 / (b + d.xm1), 0.0)
    f = -total / d.W + penalizer * float(theta @ theta)
    grad = (-g / d.W + 2 * penalizer * theta) * theta
    return f, grad


class BetaGeoModel(MLEModel):
    """BG/NBD ("beta-geometric / negative binomial") model of repeat purchases.

    While alive a customer buys as a Poisson process with rate
    ``lambda ~ Gamma(r, alpha)``; after each repeat purchase they drop out with
    probability ``p ~ Beta(a, b)``. Fit by maximum likelihood on the customer
    summary (frequency, recency, T).

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` added to the mean negative
        log-likelihood (time rescaled so that ``max(T) = 1``, as lifetimes does).
    tol : float, default 1e-7
        Gradient tolerance of L-BFGS-B (on the mean log-likelihood).
    max_iter : int, default 1000
        Iteration limit of the optimizer.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b`` (``alpha`` in the time unit of the summary).
    standard_errors_ : dict
        From the inverse observed information (delta method from log-parameters).
    covariance_ : pandas.DataFrame
        Asymptotic covariance of the parameters.
    confidence_intervals_ : pandas.DataFrame
        95% Wald intervals.
    log_likelihood_ : float
        Maximised (unpenalised) log-likelihood, in the summary's time unit.
    n_customers_ : int or float
        Number (total weight) of customers fitted.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your
       Customers" the Easy Way: An Alternative to the Pareto/NBD Model.
       Marketing Science 24(2), 275-284.
    .. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing
       P(alive) using the BG/NBD model. http://brucehardie.com/notes/021/

    Examples
    --------
    >>> from crmml.clv import BetaGeoModel, simulate_bgnbd
    >>> summary = simulate_bgnbd(2000, {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, T=39.0, seed=0)
    >>> model = BetaGeoModel().fit(summary)
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    """

    _param_names = ("r", "alpha", "a", "b")

    def fit(self, summary: pd.DataFrame, sample_weight: Any = None) -> BetaGeoModel:
        """Fit on a summary frame with ``frequency``, ``recency``, ``T``.

        Parameters
        ----------
        summary : pandas.DataFrame
            One row per customer (or per pattern, with ``sample_weight`` as counts).
        sample_weight : array-like, optional
            Non-negative weight (count) of each row.

        Returns
        -------
        BetaGeoModel
            ``self``, fitted.

        Raises
        ------
        DataContractError
            The summary breaks a rule (named column, rows, examples), or no
            customer has a repeat purchase (``frequency > 0``).
        ConvergenceError
            The optimiser did not converge, or ended with a non-finite
            parameter or log-likelihood (e.g. an extreme time unit).
        """
        d, scale, n, starts = self._count_data(summary, sample_weight, _Data)
        z, fg = self._minimize_counts(_fun_grad, d, _Data, starts)
        H = log_param_hessian(fg, z) * d.W
        with np.errstate(all="ignore"):  # extreme time units overflow here; _set_fit refuses the result
            theta = np.exp(z)
            cov = self._cov_from_log_hessian(H, np.array([theta[0], theta[1] / scale, theta[2], theta[3]]))
            theta[1] /= scale
            ll = float(d.w @ bgnbd_log_likelihood(tuple(theta), d.x, d.tx / scale, d.T / scale))
        self._set_fit(theta, cov, ll, n)
        return self

    # ------------------------------------------------------------ predictions

    def _log_odds_dead(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._p()
        with np.errstate(divide="ignore"):
            ld = (r + x) * (np.log(alpha + T) - np.log(alpha + tx)) + np.log(a) - np.log(b + np.maximum(x, 1) - 1)
        return np.where(x > 0, ld, -np.inf)

    def probability_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, note 021).

        Customers without repeat purchases are alive with probability 1 under
        BG/NBD (drop-out only happens after a repeat purchase).
        """
        s = self._arrays(summary, "probability_alive")
        pa = special.expit(-self._log_odds_dead(s.frequency, s.recency, s.T))
        return as_index_like(pa, s.index, "probability_alive")

    def expected_purchases(self, t: float, summary: pd.DataFrame) -> pd.Series:
        """Expected repeat purchases in ``(T, T + t]`` given the history (eq. 10 of [1]).

        Uses the Euler transform of the Gauss hypergeometric function so that
        large frequencies do not overflow.
        """
        _check_t(self, "expected_purchases", t)
        s = self._arrays(summary, "expected_purchases")
        e = self._conditional_expectation(float(t), s.frequency, s.recency, s.T)  # type: ignore[arg-type]
        return as_index_like(e, s.index, "expected_purchases")

    def expected_purchases_path(self, t: Any, summary: pd.DataFrame) -> np.ndarray:
        """Expected purchases in ``(T, T + t_k]`` for several horizons at once.

        Parameters
        ----------
        t : array-like of float, shape (k,)
            Horizons (in model periods), each >= 0.
        summary : pandas.DataFrame
            ``frequency, recency, T`` per customer.

        Returns
        -------
        numpy.ndarray, shape (n_customers, k)
            Column ``k`` equals ``expected_purchases(t[k], summary)``; the
            input is validated once, which is what keeps single-customer
            scoring fast.
        """
        tt = _check_t(self, "expected_purchases_path", t)
        s = self._arrays(summary, "expected_purchases_path")
        cols = (s.frequency[:, None], s.recency[:, None], s.T[:, None])  # type: ignore[index]
        return self._conditional_expectation(tt[None, :], *cols)

    def _alive_and_path(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(alive) and cumulative expected purchases at horizons ``t`` for validated arrays."""
        pa = special.expit(-self._log_odds_dead(x, tx, T))
        return pa, self._conditional_expectation(t[None, :], x[:, None], tx[:, None], T[:, None])

    def _conditional_expectation(self, t: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._p()
        log1mz = np.log(alpha + T) - np.log(alpha + T + t)  # log(1 - z)
        z = -np.expm1(log1mz)
        F = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        second = -np.expm1((a - 1) * log1mz + np.log(F))
        first = (a + b + x - 1) / (a - 1)
        palive = special.expit(-self._log_odds_dead(x, tx, T))
        return first * second * palive

    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray | float:
        """Unconditional E[X(t)] for a randomly chosen new customer (eq. 9 of [1])."""
        self._check_fitted("expected_purchases_new_customer")
        r, alpha, a, b = self._p()
        t_arr = np.asarray(t, dtype="float64")
        log1mz = np.log(alpha) - np.log(alpha + t_arr)
        z = -np.expm1(log1mz)
        F = special.hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        out = (a + b - 1) / (a - 1) * -np.expm1((a - 1) * log1mz + np.log(F))
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases(self, n: int, t: float) -> float:
        """P(X(t) = n) for a new customer (eq. 8 of [1]), computed in log space."""
        self._check_fitted("probability_of_n_purchases")
        r, alpha, a, b = self._p()
        n = int(n)
        p = alpha / (alpha + t)
        first = np.exp(
            special.betaln(a, b + n) - special.betaln(a, b) + stats.nbinom.logpmf(n, r, p)
        )
        second = 0.0
        if n > 0:
            second = np.exp(special.betaln(a + 1, b + n - 1) - special.betaln(a, b)) * stats.nbinom.sf(n - 1, r, p)
        return float(first + second)


def _check_t(model: object, method: str, t: Any) -> np.ndarray:
    """Horizons as a float array; every one must be finite and >= 0."""
    from crmml.exceptions import ParameterError

    arr = np.atleast_1d(np.asarray(t, dtype="float64"))
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise ParameterError(f"The 't' parameter of {type(model).__name__}.{method} must be >= 0. Got {t!r} instead.")
    return arr
