"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from crmml.clv._mle import CountData, MLEModel, log_param_hessian
from crmml.clv._summary_input import as_index_like
from crmml.exceptions import ParameterError

__all__ = ["ParetoNBDModel", "pareto_nbd_log_likelihood"]

_MAX_TERMS = 400


def _log_integral(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
    *, grad: bool = False, exact: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``log I`` with ``I = ∫_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy`` and its gradient.

    ``I = A_0 / (r+s+x)`` in Fader & Hardie's note 009 (eqs. 19-20), usually
    computed as the *difference* of two Gauss hypergeometric terms, which
    cancels catastrophically when ``t_x`` is close to ``T``. With
    ``M = max(alpha, beta)``, ``u = |alpha-beta| / (M + t_x)``,
    ``E = (M + t_x) / (M + T)`` and ``c = r+s+x`` we instead sum the series
    termwise::

        I = (M+t_x)^-c  Σ_k (e)_k / k! · u^k · (1 - E^(c+k)) / (c+k)

    where ``e = s+1`` if ``alpha >= beta`` else ``r+x``. Every term is
    positive (no cancellation) and the gradient follows term by term. Rows
    where the series converges slowly (``u > 0.5`` or ``e·u/(1-u) > 8``) use
    scipy's ``hyp2f1`` (``exact=True``) or, inside the optimizer
    (``exact=False``), Gauss-Legendre quadrature, which is much faster; their
    gradient always comes from the quadrature. Rows with
    ``t_x == T`` get ``-inf``. Gradient columns: r, alpha, s, beta.
    """
    x = np.asarray(x, dtype="float64")
    tx = np.asarray(tx, dtype="float64")
    T = np.asarray(T, dtype="float64")
    n = len(x)
    a_ge_b = alpha >= beta
    M = max(alpha, beta)
    D = abs(alpha - beta)
    e = np.full(n, s + 1.0) if a_ge_b else r + x
    Mtx = M + tx
    u = D / Mtx
    ser = (u <= 0.7) & (e * u <= 20 * (1 - u))
    logI = np.empty(n)
    G = np.zeros((n, 4)) if grad else None
    idx = np.flatnonzero(ser)
    if len(idx):
        li, gi = _series(r, alpha, s, beta, a_ge_b, M, x[idx], tx[idx], T[idx], e[idx], u[idx], grad)
        logI[idx] = li
        if grad:
            G[idx] = gi  # type: ignore[index]
    idx = np.flatnonzero(~ser)
    if len(idx):
        args = (x[idx], tx[idx], T[idx])
        lq, gq = _quadrature(r, alpha, s, beta, *args)
        logI[idx] = _log_integral_hyp(r, alpha, s, beta, *args) if exact else lq
        if grad:
            G[idx] = gq  # type: ignore[index]
    return logI, G


def _series(
    r: float, alpha: float, s: float, beta: float, a_ge_b: bool, M: float,
    x: np.ndarray, tx: np.ndarray, T: np.ndarray, e: np.ndarray, u: np.ndarray, grad: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    c = r + s + x
    Mtx, MT = M + tx, M + T
    Theta = np.log(MT) - np.log(Mtx)
    Ec = np.exp(-c * Theta)  # E^c
    one_m_Ec = -np.expm1(-c * Theta)  # 1 - E^c, accurate for T ~ t_x
    E = np.exp(-Theta)
    one_m_E = -np.expm1(-Theta)
    # k = 0 term
    ak = np.ones_like(u)  # (e)_k / k! * u^k
    Ek = np.ones_like(u)  # E^k
    qk = np.zeros_like(u)  # 1 - E^k
    Hk = np.zeros_like(u)  # sum_{j<k} 1/(e+j)  (d log (e)_k / de)
    one_m_Eck = one_m_Ec
    S = one_m_Ec / c
    if grad:
        dSc = Theta * Ec / c - one_m_Ec / (c * c)
        dSTh = Ec.copy()
        dSu = np.zeros_like(u)
        dSe = np.zeros_like(u)
    # rows still summing: compacted every 8 terms so each row costs only the terms it needs
    act = np.arange(len(u))
    st = [ak, Ek, qk, Hk, one_m_E, Ec, one_m_Ec, e, u, c, Theta, E]
    acc = [S] + ([dSc, dSTh, dSu, dSe] if grad else [])
    cur = [v.copy() for v in st]
    cacc = [v.copy() for v in acc]
    for k in range(1, _MAX_TERMS):
        ak, Ek, qk, Hk, om_E, Ec_, om_Ec, e_, u_, c_, Th_, E_ = cur
        ak_prev = ak
        Hk = Hk + 1.0 / (e_ + k - 1)
        ak = ak * (e_ + k - 1) / k * u_
        qk = qk + Ek * om_E
        Ek = Ek * E_
        EcEk = Ec_ * Ek
        one_m_Eck = om_Ec + Ec_ * qk  # 1 - E^(c+k)
        ck = c_ + k
        bk = ak * one_m_Eck / ck
        cacc[0] = cacc[0] + bk
        if grad:
            cacc[1] = cacc[1] + ak * (Th_ * EcEk / ck - one_m_Eck / (ck * ck))
            cacc[2] = cacc[2] + ak * EcEk
            cacc[3] = cacc[3] + ak_prev * (e_ + k - 1) * one_m_Eck / ck  # k * b_k / u
            cacc[4] = cacc[4] + bk * Hk
        cur = [ak, Ek, qk, Hk, om_E, Ec_, om_Ec, e_, u_, c_, Th_, E_]
        if k % 8 == 0 or k == _MAX_TERMS - 1:
            done = bk <= 1e-17 * cacc[0]
            if done.any():
                for a_full, a_cur in zip(acc, cacc, strict=True):
                    a_full[act[done]] = a_cur[done]
                keep = ~done
                act = act[keep]
                if len(act) == 0:
                    break
                cur = [v[keep] for v in cur]
                cacc = [v[keep] for v in cacc]
    if len(act):
        for a_full, a_cur in zip(acc, cacc, strict=True):
            a_full[act] = a_cur
    S = acc[0]
    if grad:
        dSc, dSTh, dSu, dSe = acc[1:]
    with np.errstate(divide="ignore"):
        logI = -c * np.log(Mtx) + np.log(S)
    if not grad:
        return logI, None
    lc, lTh, lu, le = dSc / S, dSTh / S, dSu / S, dSe / S
    G = np.empty((len(x), 4))
    if a_ge_b:  # M = alpha, u = (alpha - beta)/(alpha + t_x), e = s + 1
        dL = 1.0 / Mtx  # d log(M + t_x) / d alpha
        dTh = 1.0 / MT - 1.0 / Mtx
        G[:, 0] = -np.log(Mtx) + lc
        G[:, 1] = -c * dL + lTh * dTh + lu * (beta + tx) / Mtx**2
        G[:, 2] = -np.log(Mtx) + lc + le
        G[:, 3] = lu * (-1.0 / Mtx)
    else:  # M = beta, u = (beta - alpha)/(beta + t_x), e = r + x
        dL = 1.0 / Mtx
        dTh = 1.0 / MT - 1.0 / Mtx
        G[:, 0] = -np.log(Mtx) + lc + le
        G[:, 1] = lu * (-1.0 / Mtx)
        G[:, 2] = -np.log(Mtx) + lc
        G[:, 3] = -c * dL + lTh * dTh + lu * (alpha + tx) / Mtx**2
    G[~np.isfinite(logI)] = 0.0
    return logI, G


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)


def _quadrature(r: float, alpha: float, s: float, beta: float,
                x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log I`` and its gradient by Gauss-Legendre quadrature in ``theta = log((M+y)/(M+t_x))``.

    Used only for the rows where the series converges slowly; the value
    itself comes from ``hyp2f1``. The nodes are mapped through
    ``v = 1 - exp(-c theta)``, which absorbs the dominant power of the
    integrand; ``d log I / d param`` is the integrand-weighted mean of
    ``d log f / d param`` at the nodes.
    """
    M = max(alpha, beta)
    D = abs(alpha - beta)
    c = r + s + x
    e = np.full(len(x), s + 1.0) if alpha >= beta else r + x
    lMtx = np.log(M + tx)
    L0 = c * (lMtx - np.log(M + T))
    V = -np.expm1(np.minimum(L0, 0.0))
    v = V[:, None] * ((1 + _NODES) / 2)[None, :]
    theta = -np.log1p(-v) / c[:, None]
    u1 = D / (M + tx)
    with np.errstate(all="ignore"):
        lt = -e[:, None] * np.log1p(-u1[:, None] * np.exp(-theta)) + np.log(_WEIGHTS / 2)[None, :]
        mx = lt.max(axis=1, keepdims=True)
        pi = np.exp(lt - mx)
        tot = pi.sum(axis=1, keepdims=True)
        logI = (-c * lMtx - np.log(c) + np.log(V) + mx[:, 0] + np.log(tot[:, 0]))
        pi /= tot
        yM = np.exp(lMtx[:, None] + theta)  # M + y
        other = yM - D
        if alpha >= beta:
            la, inv_a, lb, inv_b = lMtx[:, None] + theta, 1.0 / yM, np.log(other), 1.0 / other
        else:
            lb, inv_b, la, inv_a = lMtx[:, None] + theta, 1.0 / yM, np.log(other), 1.0 / other
        G = np.stack([
            -(pi * la).sum(axis=1),
            -(r + x) * (pi * inv_a).sum(axis=1),
            -(pi * lb).sum(axis=1),
            -(s + 1) * (pi * inv_b).sum(axis=1),
        ], axis=1)
    G[~(V > 0) | ~np.all(np.isfinite(G), axis=1)] = 0.0
    logI = np.where(V > 0, logI, -np.inf)
    return logI, G


def _log_integral_hyp(r: float, alpha: float, s: float, beta: float,
                      x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``log I`` from the two hypergeometric terms (note 009 eqs. 19-20; fallback)."""
    if alpha >= beta:
        M, e = alpha, s + 1.0
    else:
        M, e = beta, r + x
    D = abs(alpha - beta)
    c = r + s + x
    with np.errstate(all="ignore"):
        l1 = np.log(special.hyp2f1(c, e, c + 1, D / (M + tx))) - c * np.log(M + tx)
        l2 = np.log(special.hyp2f1(c, e, c + 1, D / (M + T))) - c * np.log(M + T)
        out = l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0))) - np.log(c)
    return np.where(T > tx, out, -np.inf)


def pareto_nbd_log_likelihood(
    params: tuple[float, float, float, float], x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005, note 009, eq. 18).

    ``L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+y)^-(r+x) (β+y)^-(s+1) dy ]``
    """
    r, alpha, s, beta = (float(p) for p in params)
    x = np.asarray(x, dtype="float64")
    tx = np.asarray(tx, dtype="float64")
    T = np.asarray(T, dtype="float64")
    logC = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    B1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    logI, _ = _log_integral(r, alpha, s, beta, x, tx, T)
    return logC + np.logaddexp(B1, np.log(s) + logI)


class _Data(CountData):
    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        super().__init__(x, tx, T, w)
        self.lT_cache = None


def _fun_grad(z: np.ndarray, d: _Data, penalizer: float) -> tuple[float, np.ndarray]:
    r, alpha, s, beta = theta = np.exp(z)
    x, T, w = d.x, d.T, d.w
    lg = special.gammaln(r + d.ux) - special.gammaln(r)
    dg = special.digamma(r + d.ux) - special.digamma(r)
    laT, lbT = np.log(alpha + T), np.log(beta + T)
    B1 = -(r + x) * laT - s * lbT
    logI, G = _log_integral(r, alpha, s, beta, x, d.tx, T, grad=True, exact=False)
    assert G is not None
    G = np.ascontiguousarray(G.T)
    B2 = np.log(s) + logI
    lse = np.logaddexp(B1, B2)
    p2 = np.exp(B2 - lse)
    p1 = 1.0 - p2
    total = float(d.wx @ lg) + d.W * (r * np.log(alpha) + s * np.log(beta)) + float(w @ lse)
    g = np.empty(4)
    g[0] = d.wx @ dg + d.W * np.log(alpha) + (w * p1) @ (-laT) + (w * p2) @ G[0]
    g[1] = d.W * r / alpha + (w * p1) @ (-(r + x) / (alpha + T)) + (w * p2) @ G[1]
    g[2] = d.W * np.log(beta) + (w * p1) @ (-lbT) + (w * p2) @ (1.0 / s + G[2])
    g[3] = d.W * s / beta + (w * p1) @ (-s / (beta + T)) + (w * p2) @ G[3]
    f = -total / d.W + penalizer * float(theta @ theta)
    return f, (-g / d.W + 2 * penalizer * theta) * theta


class ParetoNBDModel(MLEModel):
    """Pareto/NBD model: Poisson purchases, exponential lifetimes, gamma heterogeneity.

    While alive a customer buys at rate ``lambda ~ Gamma(r, alpha)``; their
    lifetime is exponential with rate ``mu ~ Gamma(s, beta)``.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` on the mean negative
        log-likelihood (time rescaled to ``max(T) = 1``).
    tol : float, default 1e-7
        Gradient tolerance of L-BFGS-B.
    max_iter : int, default 1000
        Iteration limit.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta``.
    standard_errors_, covariance_, confidence_intervals_, log_likelihood_, n_customers_
        As in :class:`BetaGeoModel`.

    References
    ----------
    .. [1] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting
       Your Customers: Who Are They and What Will They Do Next? Management
       Science 33(1), 1-24.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2005). A Note on Deriving the
       Pareto/NBD Model and Related Expressions. http://brucehardie.com/notes/009/
    .. [3] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). A Note on
       Implementing the Pareto/NBD Model in MATLAB. http://brucehardie.com/notes/008/

    Examples
    --------
    >>> from crmml.clv import ParetoNBDModel, simulate_pareto_nbd
    >>> summary = simulate_pareto_nbd(2000, {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}, T=39.0, seed=0)
    >>> ParetoNBDModel().fit(summary).params_["r"] > 0
    True
    """

    _param_names = ("r", "alpha", "s", "beta")

    def fit(self, summary: pd.DataFrame, sample_weight: Any = None) -> ParetoNBDModel:
        """Fit on a summary frame with ``frequency``, ``recency``, ``T``; returns ``self``.

        Raises the errors of :meth:`BetaGeoModel.fit` (``DataContractError``,
        ``ConvergenceError``) for the same reasons.
        """
        d, scale, n, starts = self._count_data(summary, sample_weight, _Data)
        z, fg = self._minimize_counts(_fun_grad, d, _Data, starts)
        H = log_param_hessian(fg, z) * d.W
        with np.errstate(all="ignore"):  # extreme time units overflow here; _set_fit refuses the result
            theta = np.exp(z)
            theta[1] /= scale
            theta[3] /= scale
            cov = self._cov_from_log_hessian(H, theta)
            ll = float(d.w @ pareto_nbd_log_likelihood(tuple(theta), d.x, d.tx / scale, d.T / scale))
        self._set_fit(theta, cov, ll, n)
        return self

    # ------------------------------------------------------------ predictions

    def _log_palive(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self._p()
        B1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        logI, _ = _log_integral(r, alpha, s, beta, x, tx, T)
        return B1 - np.logaddexp(B1, np.log(s) + logI)

    def probability_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(alive | x, t_x, T) (note 009, eq. 36)."""
        s = self._arrays(summary, "probability_alive")
        pa = np.exp(self._log_palive(s.frequency, s.recency, s.T))  # type: ignore[arg-type]
        return as_index_like(pa, s.index, "probability_alive")

    def expected_purchases(self, t: float, summary: pd.DataFrame) -> pd.Series:
        """Expected purchases in ``(T, T + t]`` given the history (note 009, eq. 41)."""
        sm = self._arrays(summary, "expected_purchases")
        if t < 0:
            raise ParameterError(
                f"The 't' parameter of {type(self).__name__}.expected_purchases must be >= 0. Got {t!r} instead.")
        r, alpha, s, beta = self._p()
        x, T = sm.frequency, sm.T
        pa = np.exp(self._log_palive(x, sm.recency, T))  # type: ignore[arg-type]
        e = pa * (r + x) * (beta + T) / (alpha + T) * _one_minus_ratio_pow(beta + T, float(t), s)  # type: ignore[operator]
        return as_index_like(e, sm.index, "expected_purchases")

    def expected_purchases_path(self, t: Any, summary: pd.DataFrame) -> np.ndarray:
        """Expected purchases in ``(T, T + t_k]`` for several horizons at once.

        Returns an array of shape (n_customers, len(t)) whose column ``k``
        equals ``expected_purchases(t[k], summary)``; the input is validated once.
        """
        tt = np.atleast_1d(np.asarray(t, dtype="float64"))
        if not np.all(np.isfinite(tt) & (tt >= 0)):
            raise ParameterError(
                f"The 't' parameter of {type(self).__name__}.expected_purchases_path must be >= 0. Got {t!r} instead.")
        sm = self._arrays(summary, "expected_purchases_path")
        return self._alive_and_path(sm.frequency, sm.recency, sm.T, tt)[1]  # type: ignore[arg-type]

    def _alive_and_path(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(alive) and cumulative expected purchases at horizons ``t`` for validated arrays."""
        r, alpha, s, beta = self._p()
        pa = np.exp(self._log_palive(x, tx, T))
        scale = pa * (r + x) * (beta + T) / (alpha + T)
        return pa, scale[:, None] * _one_minus_ratio_pow((beta + T)[:, None], t[None, :], s)

    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray | float:
        """Unconditional E[X(t)] = r β / α · [1 - (β/(β+t))^(s-1)] / (s-1) (note 009, eq. 27)."""
        self._check_fitted("expected_purchases_new_customer")
        r, alpha, s, beta = self._p()
        t_arr = np.asarray(t, dtype="float64")
        out = r * beta / alpha * _one_minus_ratio_pow(np.asarray(beta), t_arr, s)
        return float(out) if np.ndim(out) == 0 else out


def _one_minus_ratio_pow(base: np.ndarray, t: Any, s: float) -> np.ndarray:
    """``[1 - (base/(base+t))^(s-1)] / (s-1)``, with its limit ``log((base+t)/base)`` at s = 1."""
    L = np.log(base) - np.log(base + t)
    if abs(s - 1) < 1e-12:
        return -L
    return -np.expm1((s - 1) * L) / (s - 1)
