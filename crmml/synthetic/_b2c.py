"""A B2C shop (non-contractual): BG/NBD purchasing, Gamma-Gamma spend.

The generative story is documented in ``docs/synthetic.md``. Customers are
simulated in fixed blocks of ``B2CParams.block_size`` customers, each block
with its own seed ``SeedSequence([seed, block])``; every step is vectorised
over the customers and events of a block (no Python loop per customer or per
event), so a million customers take about a minute.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers"
the easy way: An alternative to the Pareto/NBD model. Marketing Science 24(2).

Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary
value. http://www.brucehardie.com/notes/025/
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import betainc, ndtri

from crmml._validation import Interval, check_param
from crmml.data import CRMTables
from crmml.synthetic._rng import (
    bad_param,
    choice_codes,
    days_to_ns,
    format_ids,
    id_width,
    rng_for,
    window,
)
from crmml.synthetic._world import SyntheticWorld

__all__ = ["B2CParams", "make_b2c_world", "iter_b2c_blocks", "B2C_SCHEMAS"]

ENGAGEMENT_TYPES = ("email_open", "email_click", "web_visit", "login")
SERVICE_TYPES = ("support_ticket", "complaint")
INTERACTION_TYPES = ENGAGEMENT_TYPES + SERVICE_TYPES

_TS = pa.timestamp("ns")
B2C_SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema([
        ("customer_id", pa.string()), ("signup_at", _TS), ("country", pa.string()),
        ("channel", pa.string()), ("acquisition_cost", pa.float64()),
    ]),
    "transactions": pa.schema([
        ("transaction_id", pa.string()), ("customer_id", pa.string()), ("ts", _TS),
        ("amount", pa.float64()), ("cost", pa.float64()),
    ]),
    "interactions": pa.schema([
        ("interaction_id", pa.string()), ("customer_id", pa.string()), ("ts", _TS),
        ("type", pa.string()),
    ]),
    "truth_customers": pa.schema([
        ("customer_id", pa.string()), ("lambda", pa.float64()), ("p", pa.float64()),
        ("nu", pa.float64()), ("satisfaction", pa.float64()), ("cost_share", pa.float64()),
        ("dropout_at", _TS), ("alive_at_end", pa.bool_()),
    ]),
}


@dataclass(frozen=True)
class B2CParams:
    """Generating parameters of a B2C shop world (time unit: days).

    Parameters
    ----------
    r, alpha : float
        Purchase rate heterogeneity: ``lambda ~ Gamma(shape=r, rate=alpha)``
        (purchases per day while alive). Defaults give a mean of one purchase
        every 80 days.
    a, b : float
        Dropout heterogeneity: ``p ~ Beta(a, b)``, the probability of becoming
        inactive right after each repeat purchase.
    p_spend, q_spend, gamma_spend : float
        Gamma-Gamma spend: ``nu ~ Gamma(shape=q, rate=gamma)`` and each purchase
        ``z ~ Gamma(shape=p, rate=nu)``; mean spend ``p*gamma/(q-1)``.
    cost_share_low, cost_share_high : float
        Per-customer cost of goods as a share of revenue, ``Uniform(low, high)``.
    refund_rate : float
        Probability that a purchase is refunded (an extra row with the
        negative amount ``refund_min_days..refund_max_days`` later).
    refund_min_days, refund_max_days : float
    signup_fraction : float
        Sign-ups are uniform over the first ``signup_fraction`` of the window.
    satisfaction_rho : float
        Correlation of satisfaction with ``-Phi^-1(F_Beta(p))``: low satisfaction
        means a high dropout probability while ``p`` stays exactly ``Beta(a, b)``.
    engagement_rates : tuple of float
        Daily rates of ``email_open, email_click, web_visit, login`` while alive
        for an average customer.
    engagement_lambda_exponent, engagement_satisfaction_effect : float
        Rate multiplier ``(lambda/E[lambda])**exponent * exp(effect*s)``.
    post_dropout_level, post_dropout_decay_days : float
        After dropout the engagement rate falls to ``level`` times its active
        value and decays as ``exp(-t/decay_days)``.
    service_rates : tuple of float
        Daily ``support_ticket, complaint`` rates while alive at ``s = 0``.
    service_satisfaction_effect : float
        Service rates are multiplied by ``exp(-effect*s)``.
    burst_mean, burst_satisfaction_effect, burst_days : float
        Before dropout a burst of ``Poisson(burst_mean*exp(-effect*s))``
        support tickets / complaints falls in the ``burst_days`` before it.
    burst_complaint_share : float
        Share of burst events that are complaints (the rest support tickets).
    countries, country_probs, channels, channel_probs : tuple
        Categorical attributes of customers.
    channel_cost : tuple of float
        Mean acquisition cost per channel (``Gamma(4, mean/4)`` per customer).
    block_size : int
        Customers per generation block (part of the seed layout: changing it
        changes the world).
    """

    r: float = 0.75
    alpha: float = 60.0
    a: float = 0.8
    b: float = 2.5
    p_spend: float = 6.0
    q_spend: float = 4.0
    gamma_spend: float = 25.0
    cost_share_low: float = 0.60
    cost_share_high: float = 0.75
    refund_rate: float = 0.015
    refund_min_days: float = 1.0
    refund_max_days: float = 14.0
    signup_fraction: float = 2.0 / 3.0
    satisfaction_rho: float = 0.7
    engagement_rates: tuple[float, ...] = (0.03, 0.008, 0.04, 0.015)
    engagement_lambda_exponent: float = 0.5
    engagement_satisfaction_effect: float = 0.3
    post_dropout_level: float = 0.5
    post_dropout_decay_days: float = 45.0
    service_rates: tuple[float, ...] = (0.002, 0.0004)
    service_satisfaction_effect: float = 0.6
    burst_mean: float = 1.0
    burst_satisfaction_effect: float = 0.5
    burst_days: float = 30.0
    burst_complaint_share: float = 0.5
    countries: tuple[str, ...] = ("US", "GB", "DE", "FR", "CA", "NL", "ES", "IT")
    country_probs: tuple[float, ...] = (0.35, 0.15, 0.15, 0.10, 0.10, 0.05, 0.05, 0.05)
    channels: tuple[str, ...] = ("organic", "paid_search", "social", "referral", "email")
    channel_probs: tuple[float, ...] = (0.35, 0.25, 0.20, 0.10, 0.10)
    channel_cost: tuple[float, ...] = (2.0, 35.0, 25.0, 15.0, 5.0)
    block_size: int = 10_000

    def validate(self) -> None:
        """Raise :class:`~crmml.exceptions.ParameterError` on an impossible value."""
        owner = "B2CParams"
        pos = [Interval(0, None, closed="neither")]
        for name in ("r", "alpha", "a", "b", "p_spend", "q_spend", "gamma_spend",
                     "post_dropout_decay_days", "burst_days"):
            check_param(owner, name, getattr(self, name), pos)
        for name in ("cost_share_low", "cost_share_high", "refund_rate", "post_dropout_level",
                     "burst_complaint_share"):
            check_param(owner, name, getattr(self, name), [Interval(0, 1)])
        check_param(owner, "signup_fraction", self.signup_fraction, [Interval(0, 1, closed="right")])
        check_param(owner, "satisfaction_rho", self.satisfaction_rho, [Interval(-1, 1)])
        check_param(owner, "block_size", self.block_size, [Interval(1, None, integer=True)])
        check_param(owner, "refund_min_days", self.refund_min_days, [Interval(0, None)])
        check_param(owner, "refund_max_days", self.refund_max_days,
                    [Interval(self.refund_min_days, None)])
        check_param(owner, "burst_mean", self.burst_mean, [Interval(0, None)])
        for name, n in (("engagement_rates", 4), ("service_rates", 2)):
            v = getattr(self, name)
            if len(v) != n or min(v) < 0:
                bad_param(owner, name, v, f"a tuple of {n} rates >= 0")
        for names, probs in (("countries", "country_probs"), ("channels", "channel_probs"),
                             ("channels", "channel_cost")):
            if len(getattr(self, names)) != len(getattr(self, probs)):
                bad_param(owner, probs, getattr(self, probs),
                          f"a tuple with one value per entry of {names!r}")

    def to_dict(self) -> dict:
        """JSON-ready parameters (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> B2CParams:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})

    @property
    def mean_lambda(self) -> float:
        """``E[lambda] = r/alpha`` (purchases per day)."""
        return self.r / self.alpha

    @property
    def mean_spend(self) -> float:
        """``E[z] = p*gamma/(q-1)`` (infinite when ``q <= 1``)."""
        return self.p_spend * self.gamma_spend / (self.q_spend - 1) if self.q_spend > 1 else np.inf


# ---------------------------------------------------------------------- helpers
def _group_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For events grouped by owner: owner of each event, 0-based rank, group starts."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return owner, rank, starts


def _first_order_stats(rng: np.random.Generator, n_arrivals: np.ndarray, k: np.ndarray,
                       horizon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` of ``n`` sorted uniform points on ``[0, horizon)``, per owner.

    Uses ``1 - U_(j) = prod_{i<=j} V_i**(1/(n-i+1))`` with ``V`` uniform, so only
    the ``k`` needed order statistics are drawn (no sort).
    """
    owner, rank, starts = _group_index(k)
    if owner.size == 0:
        return owner, np.empty(0)
    e = np.log(rng.random(owner.size)) / (n_arrivals[owner] - rank).astype(np.float64)
    cs = np.cumsum(e)
    before = np.where(starts > 0, cs[np.maximum(starts - 1, 0)], 0.0)
    cum = cs - np.repeat(before, k)
    return owner, horizon[owner] * (-np.expm1(cum))


def _uniform_events(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray,
                    hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    owner = np.repeat(np.arange(counts.size), counts)
    return owner, lo[owner] + rng.random(owner.size) * (hi - lo)[owner]


# ---------------------------------------------------------------------- block
def _simulate_block(p: B2CParams, seed: int, block: int, first: int, n: int,
                    days: float) -> dict[str, dict[str, np.ndarray]]:
    """Simulate customers ``first .. first+n-1`` (0-based); times in days from start."""
    rng = rng_for(seed, block)
    ar = np.arange(n)

    # customers
    signup = rng.random(n) * (p.signup_fraction * days)
    T = days - signup  # observation length from sign-up (days)
    country = choice_codes(rng, p.country_probs, n)
    channel = choice_codes(rng, p.channel_probs, n)
    acq = np.round(np.asarray(p.channel_cost)[channel] * rng.gamma(4.0, 0.25, n), 2)

    # latent BG/NBD + Gamma-Gamma traits
    lam = rng.gamma(p.r, 1.0 / p.alpha, n)
    pdrop = rng.beta(p.a, p.b, n)
    nu = rng.gamma(p.q_spend, 1.0 / p.gamma_spend, n)
    cost_share = rng.uniform(p.cost_share_low, p.cost_share_high, n)
    z_p = ndtri(np.clip(betainc(p.a, p.b, pdrop), 1e-12, 1 - 1e-12))
    rho = p.satisfaction_rho
    sat = -rho * z_p + np.sqrt(1.0 - rho * rho) * rng.standard_normal(n)

    # BG/NBD: Poisson(lambda) repeat purchases on (0, T]; inactive right after
    # the J-th repeat purchase, J ~ Geometric(p) on {1, 2, ...}.
    J = rng.geometric(pdrop)
    N = rng.poisson(lam * T)
    K = np.minimum(J, N)
    owner_r, t_r = _first_order_stats(rng, N, K, T)
    dropped = J <= N
    tau = T + rng.gamma(np.maximum(J - N, 1), 1.0 / lam)  # dropout beyond the window
    last = np.cumsum(K) - 1
    tau[dropped] = t_r[last[dropped]]

    # transactions: first purchase at sign-up + repeats, then refunds
    t_owner = np.concatenate([ar, owner_r])
    t_time = np.concatenate([np.zeros(n), t_r])
    amount = rng.gamma(p.p_spend, 1.0, t_owner.size) / nu[t_owner]
    amount = np.maximum(np.round(amount, 2), 0.01)
    refunded = rng.random(t_owner.size) < p.refund_rate
    r_time = t_time[refunded] + rng.uniform(p.refund_min_days, p.refund_max_days, int(refunded.sum()))
    r_owner = t_owner[refunded]
    keep = r_time < T[r_owner]
    tx_owner = np.concatenate([t_owner, r_owner[keep]])
    tx_time = np.concatenate([t_time, r_time[keep]])
    tx_amount = np.concatenate([amount, -amount[refunded][keep]])
    tx_cost = np.round(tx_amount * cost_share[tx_owner], 2)
    o = np.lexsort((tx_time, tx_owner))

    # interactions
    lam_rel = lam / p.mean_lambda
    alive_len = np.minimum(tau, T)
    post_len = np.maximum(T - tau, 0.0)
    dec = p.post_dropout_decay_days
    owners, times, codes = [], [], []
    for code, base in enumerate(p.engagement_rates):
        rate = base * lam_rel ** p.engagement_lambda_exponent * np.exp(p.engagement_satisfaction_effect * sat)
        c = rng.poisson(rate * alive_len)
        ow, tt = _uniform_events(rng, c, np.zeros(n), alive_len)
        mass = -np.expm1(-post_len / dec)  # share of the decaying tail inside the window
        c2 = rng.poisson(rate * p.post_dropout_level * dec * mass)
        ow2 = np.repeat(ar, c2)
        tt2 = tau[ow2] - dec * np.log1p(-rng.random(ow2.size) * mass[ow2])
        owners += [ow, ow2]
        times += [tt, tt2]
        codes += [np.full(ow.size + ow2.size, code)]
    for j, base in enumerate(p.service_rates):
        code = len(ENGAGEMENT_TYPES) + j
        c = rng.poisson(base * np.exp(-p.service_satisfaction_effect * sat) * alive_len)
        ow, tt = _uniform_events(rng, c, np.zeros(n), alive_len)
        owners.append(ow)
        times.append(tt)
        codes.append(np.full(ow.size, code))
    # pre-dropout burst of support tickets / complaints
    c = rng.poisson(p.burst_mean * np.exp(-p.burst_satisfaction_effect * sat))
    ow = np.repeat(ar, c)
    tt = tau[ow] - rng.random(ow.size) * p.burst_days
    ok = (tt >= 0) & (tt < T[ow])
    kind = np.where(rng.random(ow.size) < p.burst_complaint_share, 5, 4)
    owners.append(ow[ok])
    times.append(tt[ok])
    codes.append(kind[ok])
    i_owner = np.concatenate(owners)
    i_time = np.concatenate(times)
    i_code = np.concatenate(codes)
    keep = i_time < T[i_owner]
    i_owner, i_time, i_code = i_owner[keep], i_time[keep], i_code[keep]
    oi = np.lexsort((i_time, i_owner))

    return {
        "customers": {
            "index": first + ar, "signup": signup, "country": country, "channel": channel,
            "acquisition_cost": acq,
        },
        "transactions": {
            "owner": tx_owner[o], "time": signup[tx_owner[o]] + tx_time[o],
            "amount": tx_amount[o], "cost": tx_cost[o],
        },
        "interactions": {
            "owner": i_owner[oi], "time": signup[i_owner[oi]] + i_time[oi], "code": i_code[oi],
        },
        "truth": {
            "lambda": lam, "p": pdrop, "nu": nu, "satisfaction": sat, "cost_share": cost_share,
            "dropout": np.where(dropped, signup + tau, np.nan), "alive_at_end": ~dropped,
        },
    }


def iter_b2c_blocks(n_customers: int, *, seed: int, start_ns: int, days: float, params: B2CParams,
                    ) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    """Yield ``(n_customers_in_block, arrow tables)`` block by block.

    Transaction and interaction ids continue across blocks, so the
    concatenation of all blocks is the world.
    """
    bs = params.block_size
    cw = id_width(n_customers, 7)
    n_tx = n_int = 0
    countries = pa.array(list(params.countries))
    channels = pa.array(list(params.channels))
    types = pa.array(list(INTERACTION_TYPES))
    for block, first in enumerate(range(0, n_customers, bs)):
        n = min(bs, n_customers - first)
        sim = _simulate_block(params, seed, block, first, n, days)
        c, t, i, tr = sim["customers"], sim["transactions"], sim["interactions"], sim["truth"]
        cid = format_ids("C", c["index"] + 1, cw)
        customers = pa.table([
            cid,
            pa.array(days_to_ns(start_ns, c["signup"]), _TS),
            countries.take(pa.array(c["country"])),
            channels.take(pa.array(c["channel"])),
            pa.array(c["acquisition_cost"]),
        ], schema=B2C_SCHEMAS["customers"])
        m = t["owner"].size
        transactions = pa.table([
            format_ids("T", np.arange(n_tx + 1, n_tx + m + 1), 10),
            cid.take(pa.array(t["owner"])),
            pa.array(days_to_ns(start_ns, t["time"]), _TS),
            pa.array(t["amount"]),
            pa.array(t["cost"]),
        ], schema=B2C_SCHEMAS["transactions"])
        n_tx += m
        k = i["owner"].size
        interactions = pa.table([
            format_ids("I", np.arange(n_int + 1, n_int + k + 1), 11),
            cid.take(pa.array(i["owner"])),
            pa.array(days_to_ns(start_ns, i["time"]), _TS),
            types.take(pa.array(i["code"])),
        ], schema=B2C_SCHEMAS["interactions"])
        n_int += k
        drop = tr["dropout"]
        drop_ns = np.where(np.isnan(drop), 0, days_to_ns(start_ns, np.nan_to_num(drop)))
        truth = pa.table([
            cid, pa.array(tr["lambda"]), pa.array(tr["p"]), pa.array(tr["nu"]),
            pa.array(tr["satisfaction"]), pa.array(tr["cost_share"]),
            pa.array(drop_ns, _TS, mask=np.isnan(drop)),
            pa.array(tr["alive_at_end"]),
        ], schema=B2C_SCHEMAS["truth_customers"])
        yield n, {"customers": customers, "transactions": transactions,
                  "interactions": interactions, "truth_customers": truth}


def check_size(owner: str, name: str, value: int) -> None:
    check_param(owner, name, value, [Interval(1, None, integer=True)])


def b2c_setup(n_customers: int, seed: int, start: object, end: object, params: B2CParams | None,
              owner: str) -> tuple[B2CParams, pd.Timestamp, pd.Timestamp, float, dict]:
    """Validate the arguments; return ``(params, start, end, days, params_dict)``."""
    check_size(owner, "n_customers", n_customers)
    check_param(owner, "seed", seed, [Interval(0, None, integer=True)])
    p = B2CParams() if params is None else params
    p.validate()
    s, e, days = window(start, end, owner)
    d = {"kind": "b2c", "generator": "crmml.synthetic.make_b2c_world", "seed": int(seed),
         "n_customers": int(n_customers), "start": s.isoformat(), "end": e.isoformat(),
         **p.to_dict()}
    return p, s, e, days, d


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table to the internal pandas representation (str ids, ns times)."""
    df = table.to_pandas()
    for name, typ in zip(table.schema.names, table.schema.types, strict=True):
        if pa.types.is_string(typ):
            df[name] = df[name].astype(str)
        elif pa.types.is_timestamp(typ):
            df[name] = df[name].astype("datetime64[ns]")
    return df


def make_b2c_world(n_customers: int = 5000, *, seed: int = 0, start: object = "2023-01-01",
                   end: object = "2025-12-31", params: B2CParams | None = None) -> SyntheticWorld:
    """Simulate a B2C shop whose purchases follow BG/NBD and spend Gamma-Gamma.

    Parameters
    ----------
    n_customers : int
        Number of customers (each makes a first purchase at sign-up).
    seed : int
        Same seed, size, window and parameters give the identical world.
    start, end : str or Timestamp
        Observation window ``[start, end)``.
    params : B2CParams or None
        Generating parameters (defaults: :class:`B2CParams`).

    Returns
    -------
    SyntheticWorld
        Tables ``customers``, ``transactions`` (refunds are negative rows),
        ``interactions``; truth table ``customers`` (``lambda``, ``p``, ``nu``,
        ``satisfaction``, ``cost_share``, ``dropout_at``, ``alive_at_end``).

    References
    ----------
    Fader, Hardie & Lee (2005), Marketing Science 24(2), 275-284 (BG/NBD);
    Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value".

    Examples
    --------
    >>> from crmml.synthetic import make_b2c_world
    >>> world = make_b2c_world(500, seed=7)
    >>> world.tables.customers.shape[0]
    500
    >>> float(world.truth["customers"]["p"].between(0, 1).mean())
    1.0
    """
    p, s, e, days, d = b2c_setup(n_customers, seed, start, end, params, "make_b2c_world")
    parts: dict[str, list[pa.Table]] = {}
    for _, tabs in iter_b2c_blocks(n_customers, seed=seed, start_ns=s.value, days=days, params=p):
        for k, v in tabs.items():
            parts.setdefault(k, []).append(v)
    frames = {k: arrow_to_frame(pa.concat_tables(v)) for k, v in parts.items()}
    truth = frames.pop("truth_customers")
    return SyntheticWorld(tables=CRMTables.from_frames(frames), truth={"customers": truth},
                          params=d, start=s, end=e)
