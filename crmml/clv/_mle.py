"""Shared maximum-likelihood machinery of the probabilistic CLV models.

* :func:`compress` collapses customers with identical sufficient statistics
  into one row with a count (Fader & Hardie fit on such counts).
* :func:`minimize_nll` runs L-BFGS-B on log-parameters with an analytic
  gradient and turns failures into :class:`~crmml.exceptions.ConvergenceError`.
* :func:`log_param_hessian` differentiates the analytic gradient numerically
  (central differences) to get the observed information; standard errors of
  the natural parameters follow by the delta method.
* :class:`MLEModel` is the common base: fitted state, ``confidence_intervals_``
  and the learned state of ``to_dict`` / ``from_dict`` (hyperparameters,
  fitted checks and the versioned payload come from :class:`crmml._base.Estimator`).

Every fit ends with finite, positive parameters and a finite log-likelihood
or raises :class:`~crmml.exceptions.ConvergenceError`; ``from_dict`` checks
every stored value (:class:`crmml._payload.Payload`), so a model is never
rebuilt from a hand-edited or damaged description.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from crmml._base import Estimator
from crmml._payload import Payload
from crmml._validation import Interval
from crmml.exceptions import ConvergenceError, DataContractError, Problem

WARM_START_ROWS = 50_000

__all__ = ["compress", "minimize_nll", "log_param_hessian", "MLEModel"]

FunGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]

_Z95 = 1.959963984540054


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread (via threadpoolctl, a scikit-learn dependency)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def compress(*columns: np.ndarray, weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Collapse identical rows of ``columns`` into unique rows with summed weights.

    Returns
    -------
    unique_columns : list of ndarray
        One array per input column, one entry per unique row.
    counts : ndarray
        Summed weights of each unique row (rows of weight 0 are dropped).
    inverse : ndarray of int
        Position of each input row in the unique rows.
    """
    cols = [np.asarray(c, dtype="float64") for c in columns]
    # factorise each column by hashing, then the mixed-radix combination of the codes
    per_col = [pd.factorize(c, sort=False) for c in cols]
    sizes = [len(u) for _, u in per_col]
    if float(np.prod(np.array(sizes, dtype="float64"))) < 2.0**62:
        key = np.zeros(len(cols[0]), dtype=np.int64)
        for (codes_j, _), size in zip(per_col, sizes, strict=True):
            key = key * size + codes_j
        codes, _ = pd.factorize(key, sort=False)
    else:  # pragma: no cover - astronomically many distinct values
        stacked = np.ascontiguousarray(np.column_stack(cols))
        keys = stacked.view(f"S{8 * len(cols)}").ravel()
        codes, _ = pd.factorize(keys, sort=False)
    n_unique = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_unique, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    counts = np.bincount(codes, weights=weights, minlength=n_unique)
    return [c[first] for c in cols], counts, codes


class CountData:
    """Compressed (x, t_x, T) rows with weights, plus the unique-frequency lookup.

    The sufficient statistics BG/NBD and Pareto/NBD likelihoods run over; each
    model's subclass adds its own precomputed lookups.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        keep = w > 0
        (self.x, self.tx, self.T), self.w, _ = compress(x[keep], tx[keep], T[keep], weights=w[keep])
        self.W = float(self.w.sum())
        self.ux, self.ix = np.unique(self.x, return_inverse=True)
        self.wx = np.bincount(self.ix, weights=self.w)


_DEFAULT_HINT = ("check that enough customers made repeat purchases and that recency and T share one "
                 "time unit of moderate size (days or weeks)")


def minimize_nll(fun_grad: FunGrad, x0: np.ndarray, *, owner: str, tol: float, max_iter: int,
                 hint: str = _DEFAULT_HINT) -> np.ndarray:
    """Minimise a (scaled) negative log-likelihood over log-parameters.

    ``hint`` completes the advice of the error message ("Try a small
    'penalizer' (e.g. 0.001), a larger 'max_iter', or <hint>.").

    Raises
    ------
    ConvergenceError
        When L-BFGS-B stops without converging or lands on a non-finite value.
    """

    def safe(z: np.ndarray) -> tuple[float, np.ndarray]:
        if np.any(np.abs(z) > 50):
            return np.inf, np.zeros_like(z)
        with np.errstate(all="ignore"):
            f, g = fun_grad(z)
        if not np.isfinite(f) or not np.all(np.isfinite(g)):
            return np.inf, np.zeros_like(z)
        return f, g

    # the objective is a handful of dot products over long vectors plus a tiny
    # L-BFGS state: multi-threaded BLAS only adds wake-up latency (10x slower on
    # a busy 2-core machine), so run single-threaded
    with single_threaded_blas():
        res = optimize.minimize(
            safe, np.asarray(x0, dtype="float64"), jac=True, method="L-BFGS-B",
            bounds=[(-30.0, 30.0)] * len(x0),
            options={"maxiter": max_iter, "ftol": tol * 1e-3, "gtol": tol, "maxcor": 20},
        )
        f, g = safe(res.x)
    ok = np.isfinite(f) and (res.success or np.max(np.abs(g)) < 100 * tol)
    if not ok or np.any(np.abs(res.x) >= 29.9):
        raise ConvergenceError(
            f"The maximum-likelihood fit of {owner} did not converge ({res.message!s}; "
            f"log-parameters {np.round(res.x, 3).tolist()}). Try a small 'penalizer' "
            f"(e.g. 0.001), a larger 'max_iter', or {hint}."
        )
    return np.asarray(res.x)


def log_param_hessian(fun_grad: FunGrad, z: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Hessian of ``fun`` at ``z`` by central differences of the analytic gradient."""
    k = len(z)
    H = np.empty((k, k))
    with single_threaded_blas():
        for i in range(k):
            e = np.zeros(k)
            e[i] = step
            with np.errstate(all="ignore"):
                gp = fun_grad(z + e)[1]
                gm = fun_grad(z - e)[1]
            H[i] = (gp - gm) / (2 * step)
    return 0.5 * (H + H.T)


def _finite_or_none(v: float) -> float | None:
    """A statistic that may legitimately be unknown (singular information matrix): ``None`` if not finite."""
    return float(v) if np.isfinite(v) else None


class MLEModel(Estimator):
    """Base class: fitted parameters, their uncertainty and persistence.

    Subclasses set ``_param_names`` and fill ``params_``, ``covariance_``,
    ``log_likelihood_`` and ``n_customers_`` in ``fit``. Hyperparameters
    (``get_params``/``set_params``/repr), the not-fitted check and the
    versioned ``to_dict``/``from_dict`` envelope are :class:`crmml._base.Estimator`'s.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _fit_hint: ClassVar[str] = _DEFAULT_HINT
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "penalizer": [Interval(0, None, closed="left")],
        "tol": [Interval(0, None, closed="neither")],
        "max_iter": [Interval(1, None, closed="left", integer=True)],
    }

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-7, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # ---------------------------------------------------------------- state
    def _p(self) -> tuple[float, ...]:
        """The fitted parameters in ``_param_names`` order."""
        return tuple(self.params_[k] for k in self._param_names)

    def _arrays(self, summary: pd.DataFrame, method: str) -> Any:
        """Check fitted, then validate a (frequency, recency, T) summary for ``method``."""
        from crmml.clv._summary_input import check_summary

        self._check_fitted(method)
        return check_summary(summary, context=f"{type(self).__name__}.{method}")

    # ------------------------------------------------- count-model fitting
    def _count_data(self, summary: pd.DataFrame, sample_weight: Any, data_cls: Any) -> tuple[Any, float, float, list[np.ndarray]]:
        """Validate a (frequency, recency, T) summary, rescale time so ``max(T) = 1`` and compress.

        Returns the compressed data, the time scale, the total weight and the
        default starting log-parameters ``(r, alpha, ·, ·)`` shared by BG/NBD and
        Pareto/NBD (alpha from the mean inter-purchase time).
        """
        from crmml.clv._summary_input import SUMMARY_TABLE, check_sample_weight, check_summary

        self._validate_params()
        ctx = f"{type(self).__name__}.fit"
        s = check_summary(summary, context=ctx)
        w = check_sample_weight(sample_weight, len(s.index), context=ctx, index=s.index)
        assert s.recency is not None and s.T is not None
        if not np.any((s.frequency > 0) & (w > 0)):
            raise DataContractError(
                [Problem(SUMMARY_TABLE, "frequency", "at least one customer with a repeat purchase (frequency > 0)",
                         hint="purchase rates and drop-out cannot be estimated when nobody bought twice; "
                              "use a longer purchase history")], ctx)
        scale = 1.0 / float(s.T.max())
        d = data_cls(s.frequency, s.recency * scale, s.T * scale, w)
        xbar = float(d.w @ d.x) / d.W
        Tbar = float(d.w @ d.T) / d.W
        starts = [np.log([1.0, max(Tbar / max(xbar, 1e-3), 1e-3), 1.0, 1.0]), np.zeros(4)]
        return d, scale, float(w.sum()), starts

    def _minimize_counts(self, fun_grad: Callable[[np.ndarray, Any, float], tuple[float, np.ndarray]],
                         d: Any, data_cls: Any, starts: list[np.ndarray]) -> tuple[np.ndarray, FunGrad]:
        """Minimise over the compressed data; large inputs are warm-started.

        With more than :data:`WARM_START_ROWS` unique patterns, a fixed random
        subsample of them is fitted first (cheap evaluations) and its optimum is
        tried first on the full data, so the result is the full-data optimum.

        Returns the optimum and the full-data objective (for the Hessian).
        """
        pen = float(self.penalizer)

        def fg(z: np.ndarray) -> tuple[float, np.ndarray]:
            return fun_grad(z, d, pen)

        if len(d.w) > WARM_START_ROWS:
            pick = np.random.default_rng(0).choice(len(d.w), size=WARM_START_ROWS, replace=False)
            sub = data_cls(d.x[pick], d.tx[pick], d.T[pick], d.w[pick])
            try:
                starts = [self._minimize(lambda z: fun_grad(z, sub, pen), starts), *starts]
            except ConvergenceError:
                pass  # the full fit still tries the default starts
        return self._minimize(fg, starts), fg

    def _minimize(self, fg: FunGrad, starts: list[np.ndarray]) -> np.ndarray:
        """Try each start in turn; re-raise the first failure if all fail."""
        err: Exception | None = None
        for z0 in starts:
            try:
                return minimize_nll(fg, z0, owner=type(self).__name__, tol=self.tol, max_iter=self.max_iter,
                                    hint=self._fit_hint)
            except ConvergenceError as e:
                err = err or e
        assert err is not None
        raise err

    def _set_fit(self, params: np.ndarray, cov: np.ndarray | None, loglik: float, n: float) -> None:
        """Store a fit; refuse non-finite or non-positive parameters and a non-finite log-likelihood.

        Raises
        ------
        ConvergenceError
            Before anything is stored, naming the offending values and what to try.
        """
        bad = {k: float(v) for k, v in zip(self._param_names, params, strict=True) if not (np.isfinite(v) and v > 0)}
        if bad or not np.isfinite(loglik):
            what = ", ".join(f"{k}={v!r}" for k, v in bad.items()) if bad else f"log-likelihood={float(loglik)!r}"
            raise ConvergenceError(
                f"The maximum-likelihood fit of {type(self).__name__} ended with {what}, which is not a usable "
                f"model (parameters must be finite and > 0, the log-likelihood finite). Try a small 'penalizer' "
                f"(e.g. 0.001), or {self._fit_hint}."
            )
        self.params_ = {k: float(v) for k, v in zip(self._param_names, params, strict=True)}
        self.covariance_ = (
            pd.DataFrame(cov, index=list(self._param_names), columns=list(self._param_names))
            if cov is not None else None
        )
        if cov is not None:
            with np.errstate(invalid="ignore"):
                se = np.sqrt(np.diag(cov))
        else:
            se = np.full(len(params), np.nan)
        self.standard_errors_ = {k: float(v) for k, v in zip(self._param_names, se, strict=True)}
        self.log_likelihood_ = float(loglik)
        self.n_customers_ = float(n) if not float(n).is_integer() else int(n)

    def _cov_from_log_hessian(self, H_log: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Delta method: Cov(theta) = J Cov(log theta) J', J = diag(theta)."""
        try:
            cov_log = np.linalg.inv(H_log)
        except np.linalg.LinAlgError:
            return np.full((len(params), len(params)), np.nan)
        J = np.diag(params)
        return J @ cov_log @ J

    @property
    def confidence_intervals_(self) -> pd.DataFrame:
        """95% Wald intervals ``param ± 1.96·SE`` (as lifetimes reports them)."""
        self._check_fitted("confidence_intervals_")
        p = pd.Series(self.params_)
        se = pd.Series(self.standard_errors_)
        return pd.DataFrame({"lower 95% bound": p - _Z95 * se, "upper 95% bound": p + _Z95 * se})

    def summary(self) -> pd.DataFrame:
        """Parameters, standard errors and 95% intervals in one frame."""
        ci = self.confidence_intervals_
        return pd.DataFrame({"coef": pd.Series(self.params_), "se": pd.Series(self.standard_errors_)}).join(ci)

    # ---------------------------------------------------------- persistence
    # Payloads written before schema_version existed have the same layout: version 1.
    _legacy_schema_version: ClassVar[int | None] = 1
    _state_keys: ClassVar[tuple[str, ...]] = (
        "params", "standard_errors", "covariance", "n_customers", "log_likelihood")

    def _state_to_dict(self) -> dict[str, Any]:
        """Fitted state as JSON-ready data (no pickle).

        ``params`` and ``log_likelihood`` are always finite. A standard error
        or covariance entry that is unknown (singular information matrix) is
        stored as ``None`` explicitly; ``covariance`` is ``None`` when not estimated.
        """
        cov = (None if self.covariance_ is None
               else [[_finite_or_none(v) for v in row] for row in self.covariance_.to_numpy(dtype="float64")])
        return {
            "params": {k: float(v) for k, v in self.params_.items()},
            "standard_errors": {k: _finite_or_none(v) for k, v in self.standard_errors_.items()},
            "covariance": cov,
            "n_customers": self.n_customers_,
            "log_likelihood": float(self.log_likelihood_),
        }

    def _state_from_payload(self, p: Payload, version: int) -> None:
        """Read the fitted state, checking every value.

        A parameter must be a finite number > 0 (not ``null``, a string,
        ``NaN`` ...); a standard error ``null`` or a finite number >= 0; the
        covariance ``null`` or a k×k matrix of finite numbers or ``null``;
        ``n_customers`` and ``log_likelihood`` finite. Otherwise
        :class:`~crmml.exceptions.IncompatibleArtifactError` names the field
        (``model.json: transaction_model.params.r``).
        """
        names = self._param_names
        params = p.mapping("params")
        errors = p.mapping("standard_errors")
        assert params is not None and errors is not None
        params.keys_exactly(names)
        errors.keys_exactly(names)
        theta = np.array([params.finite_float(k, low=0, closed="neither") for k in names], dtype="float64")
        se = [errors.finite_float(k, low=0, nullable=True) for k in names]
        cov = p.float_matrix("covariance", (len(names), len(names)), null_entries=True, nullable=True)
        n = p.finite_float("n_customers", low=0)
        ll = p.finite_float("log_likelihood")
        assert n is not None and ll is not None
        self._set_fit(theta, cov, ll, n)
        self.standard_errors_ = {k: (np.nan if v is None else v) for k, v in zip(names, se, strict=True)}
