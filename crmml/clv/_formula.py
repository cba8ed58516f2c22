"""Discounted customer lifetime value: the textbook formula, vectorised."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from crmml.exceptions import ParameterError

__all__ = ["discounted_clv"]


def _per_period(name: str, value: ArrayLike, horizon: int) -> np.ndarray:
    """Broadcast a scalar / per-customer / customer×period input to (n, H)."""
    arr = np.asarray(value, dtype="float64")
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr[:, None]
    if arr.ndim == 2:
        if arr.shape[1] != horizon:
            raise ParameterError(
                f"The {name!r} parameter of discounted_clv must have one column per period "
                f"(horizon={horizon}). Got shape {arr.shape} instead."
            )
        return arr
    raise ParameterError(
        f"The {name!r} parameter of discounted_clv must be a scalar, a 1-D per-customer array or a "
        f"2-D customer x period array. Got {arr.ndim} dimensions instead."
    )


def discounted_clv(
    revenue: ArrayLike,
    cost: ArrayLike = 0.0,
    *,
    retention: ArrayLike = 1.0,
    discount_rate: float = 0.0,
    horizon: int,
    acquisition_cost: ArrayLike = 0.0,
) -> np.ndarray | float:
    r"""Discounted CLV over a finite horizon.

    .. math::

        CLV = \sum_{t=1}^{H} (R_t - C_t) \frac{r^t}{(1+d)^t} - AC

    Parameters
    ----------
    revenue, cost : float or array-like
        Revenue and cost per period: a scalar (same for every period and
        customer), a 1-D array (one value per customer, same every period) or
        a 2-D ``(n_customers, horizon)`` array.
    retention : float or array-like, default 1.0
        Per-period retention probability ``r`` in [0, 1], scalar or one per
        customer.
    discount_rate : float, default 0.0
        Per-period discount rate ``d`` >= 0.
    horizon : int
        Number of periods ``H`` >= 0 (keyword only).
    acquisition_cost : float or array-like, default 0.0
        Subtracted once (scalar or one per customer).

    Returns
    -------
    float or ndarray
        A float when every input is scalar, else one value per customer.

    Raises
    ------
    ParameterError
        ``discount_rate < 0``, ``retention`` outside [0, 1] or ``horizon`` not
        a non-negative integer, or mismatched shapes.

    References
    ----------
    .. [1] Gupta, S. & Lehmann, D. R. (2003). Customers as assets. Journal of
       Interactive Marketing 17(1), 9-24.

    Examples
    --------
    >>> round(discounted_clv(100, 40, retention=0.8, discount_rate=0.1, horizon=3), 4)
    98.4523
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ParameterError(
            f"The 'horizon' parameter of discounted_clv must be an int >= 0. Got {horizon!r} instead."
        )
    d = float(discount_rate)
    if not np.isfinite(d) or d < 0:
        raise ParameterError(
            f"The 'discount_rate' parameter of discounted_clv must be >= 0. Got {discount_rate!r} instead."
        )
    ret = np.asarray(retention, dtype="float64")
    if ret.ndim > 1 or not np.all(np.isfinite(ret)) or np.any((ret < 0) | (ret > 1)):
        raise ParameterError(
            "The 'retention' parameter of discounted_clv must be a float in the range [0, 1] "
            f"(scalar or one per customer). Got {retention!r} instead."
        )
    H = int(horizon)
    rev = _per_period("revenue", revenue, H)
    cst = _per_period("cost", cost, H)
    ac = np.asarray(acquisition_cost, dtype="float64")
    scalar = all(np.ndim(v) == 0 for v in (revenue, cost, retention, acquisition_cost))
    t = np.arange(1, H + 1, dtype="float64")
    r_col = ret.reshape(-1, 1) if ret.ndim == 1 else ret.reshape(1, 1)
    with np.errstate(divide="ignore"):
        factor = np.power(r_col, t[None, :]) / np.power(1.0 + d, t)[None, :]
    try:
        margin = np.broadcast_arrays(rev, cst, factor)
    except ValueError as exc:
        raise ParameterError(
            f"The per-customer inputs of discounted_clv have mismatched lengths "
            f"(revenue {np.shape(revenue)}, cost {np.shape(cost)}, retention {np.shape(retention)})."
        ) from exc
    total = ((margin[0] - margin[1]) * margin[2]).sum(axis=1) if H else np.zeros(margin[0].shape[0])
    out = total - ac
    if scalar:
        return float(np.ravel(out)[0])
    return np.asarray(out, dtype="float64")
