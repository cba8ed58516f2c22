"""A B2B business (contractual): accounts, buying centers, subscriptions, pipeline.

The generative story is documented in ``docs/synthetic.md``. Monthly account
health follows an AR(1) process; renewals, payment behaviour, usage and
upsells depend on it. Leads convert with a latent propensity; opportunities
walk the default stages towards an outcome drawn from a latent win
probability. Each part draws from its own stream ``SeedSequence([seed, k])``.

References
----------
Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention.
Journal of Interactive Marketing 21(1), 76-90 (contractual retention).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa

from crmml._validation import Interval, check_param
from crmml.data import DEFAULT_OPEN_STAGES, CRMTables
from crmml.synthetic._rng import (
    DAYS_PER_MONTH,
    bad_param,
    choice_codes,
    days_to_ns,
    format_ids,
    id_width,
    rng_for,
    sigmoid,
    window,
)
from crmml.synthetic._world import SyntheticWorld

__all__ = ["B2BParams", "make_b2b_world"]

TERM_DAYS = 365.0
USAGE_TYPES = ("login", "web_visit", "email_open", "call", "meeting")
SERVICE_TYPES = ("support_ticket", "complaint")
LEAD_ENGAGEMENT_TYPES = ("web_visit", "email_open", "email_click", "download", "webinar",
                         "form_submit", "call", "meeting")
LEAD_BURST_TYPES = ("call", "meeting", "form_submit", "webinar", "download")
ROLES = ("purchasing", "technical", "management", "user")
KINDS = ("new_business", "renewal", "upsell")  # opportunity kinds (truth ``kind``)
HISTORY_STAGES = DEFAULT_OPEN_STAGES + ("closed_won", "closed_lost")
MAX_WALK_STEPS = 12  # a stage walk stops after this many steps even short of its target stage
_STAGE, _SLIP, _AMOUNT = 0, 1, 2  # kinds of opportunity events


@dataclass(frozen=True)
class B2BParams:
    """Generating parameters of a B2B world (time unit: days, months of 365.25/12 days).

    Parameters
    ----------
    signup_fraction : float
        Accounts are created uniformly over the first ``signup_fraction`` of the window.
    industries, industry_probs, industry_health : tuple
        Industry mix and its effect on the account's long-run health.
    countries, country_probs, channels, channel_probs : tuple
    employees_median, employees_sigma : float
        ``employees = ceil(LogNormal(log(median), sigma))``.
    health_phi, health_sigma : float
        Monthly AR(1) health ``h[m+1] = mu + phi*(h[m]-mu) + sigma*eps``.
    health_mean_sd, health_size_effect : float
        ``mu = industry + size_effect*(log10(employees)-2) + Normal(0, mean_sd)``.
    usage_health_effect, usage_noise_sd : float
        Monthly usage ``exp(effect*h + u)``, ``u ~ Normal(0, noise_sd)``.
    renewal_intercept, renewal_health, renewal_usage : float
        ``P(renew) = sigmoid(b0 + b_h*h + b_u*mean(u over the last 3 months))``
        with ``h`` the health in the term's last month.
    upsell_mean, upsell_health, upsell_sd : float
        On renewal ``monthly_value *= max(1, exp(Normal(mean + health*h, sd)))``.
    value_base, value_size_exponent, value_sd : float
        First monthly value ``base * employees**exponent * LogNormal(0, sd)``.
    pay_delay_mean_days, pay_delay_health : float
        Payment delay ``Gamma(4, mean*exp(-health*h)/4)`` days after issue.
    unpaid_intercept, unpaid_health : float
        ``P(never paid) = sigmoid(intercept + health*h)``.
    pre_churn_months, pre_churn_usage : float
        Usage is multiplied by ``pre_churn_usage`` in the last months before a
        non-renewal.
    usage_rates, service_rates : tuple of float
        Monthly interaction rates of ``login, web_visit, email_open, call,
        meeting`` (times usage) and ``support_ticket, complaint`` (times
        ``exp(-service_health_effect*h)``).
    service_health_effect : float
    contacts_min, contacts_max, contacts_size_effect : float
        ``n_contacts = clip(min + Poisson(size_effect*log10(employees)), min, max)``.
    role_probs : tuple of float
        Role mix of contacts after the first (always ``purchasing``).
    leads_per_account : float
        Default ``n_leads = round(leads_per_account * n_accounts)``.
    lead_sources, lead_source_effect, lead_roles, lead_role_effect : tuple
    lead_intercept, lead_size_effect, lead_noise_sd : float
        Conversion logit ``b0 + source + role + industry_health + size*(log10(emp)-2) + noise``.
    lead_delay_mean_days : float
        Conversion happens ``Gamma(2, mean/2)`` days after creation.
    lead_event_rate, lead_event_propensity_effect, lead_event_decay_days : float
        Lead engagement intensity ``rate*exp(effect*logit)*exp(-t/decay)`` per day.
    lead_burst_mean, lead_burst_days : float
        Converters get ``Poisson(burst_mean)`` events in the ``burst_days`` before conversion.
    n_owners, owner_sd : float
        Sales reps and the sd of their skill effect on the win logit.
    new_business_intercept, new_business_health : float
    upsell_rate_per_year, upsell_intercept, upsell_win_health : float
    deal_noise_sd : float
        Noise sd of the win logit of new business and upsell deals.
    cycle_mean_days : float
        Mean planned sales cycle; actual cycles are longer for low win probability.
    skip_prob, regress_prob : float
        Per-step probability of skipping a stage / regressing one stage.
    slip_rate_per_month : float
        Close-date slips per month, scaled by ``(1 - win_probability)``.
    amount_change_prob : float
        Probability that a deal's amount is revised once.
    renewal_lead_days : float
        Renewal opportunities open this many days before the term ends.
    """

    signup_fraction: float = 0.75
    industries: tuple[str, ...] = ("software", "manufacturing", "retail", "finance", "healthcare",
                                   "logistics")
    industry_probs: tuple[float, ...] = (0.25, 0.2, 0.15, 0.15, 0.15, 0.1)
    industry_health: tuple[float, ...] = (0.3, 0.0, -0.3, 0.2, 0.1, -0.2)
    countries: tuple[str, ...] = ("US", "GB", "DE", "FR", "NL", "SE")
    country_probs: tuple[float, ...] = (0.45, 0.15, 0.15, 0.1, 0.08, 0.07)
    channels: tuple[str, ...] = ("inbound", "outbound", "partner", "event", "referral")
    channel_probs: tuple[float, ...] = (0.35, 0.25, 0.15, 0.1, 0.15)
    employees_median: float = 150.0
    employees_sigma: float = 1.3
    health_phi: float = 0.9
    health_sigma: float = 0.3
    health_mean_sd: float = 0.5
    health_size_effect: float = 0.2
    usage_health_effect: float = 0.7
    usage_noise_sd: float = 0.4
    renewal_intercept: float = 1.6
    renewal_health: float = 1.5
    renewal_usage: float = 1.0
    upsell_mean: float = 0.04
    upsell_health: float = 0.06
    upsell_sd: float = 0.05
    value_base: float = 40.0
    value_size_exponent: float = 0.6
    value_sd: float = 0.3
    pay_delay_mean_days: float = 20.0
    pay_delay_health: float = 0.5
    unpaid_intercept: float = -4.0
    unpaid_health: float = -1.5
    pre_churn_months: float = 3.0
    pre_churn_usage: float = 0.4
    usage_rates: tuple[float, ...] = (4.0, 2.0, 3.0, 0.4, 0.25)
    service_rates: tuple[float, ...] = (0.4, 0.05)
    service_health_effect: float = 0.8
    contacts_min: int = 2
    contacts_max: int = 8
    contacts_size_effect: float = 1.0
    role_probs: tuple[float, ...] = (0.1, 0.3, 0.2, 0.4)
    leads_per_account: float = 3.0
    lead_sources: tuple[str, ...] = ("inbound_web", "webinar", "referral", "paid_ads", "outbound",
                                     "event")
    lead_source_probs: tuple[float, ...] = (0.3, 0.15, 0.1, 0.2, 0.15, 0.1)
    lead_source_effect: tuple[float, ...] = (0.3, 0.2, 1.0, -0.4, -0.8, 0.0)
    lead_roles: tuple[str, ...] = ("purchasing", "technical", "management", "user", "other")
    lead_role_probs: tuple[float, ...] = (0.2, 0.25, 0.2, 0.2, 0.15)
    lead_role_effect: tuple[float, ...] = (0.5, 0.0, 0.7, -0.3, -0.8)
    lead_intercept: float = -2.0
    lead_size_effect: float = 0.3
    lead_noise_sd: float = 0.8
    lead_delay_mean_days: float = 40.0
    lead_event_rate: float = 0.15
    lead_event_propensity_effect: float = 0.5
    lead_event_decay_days: float = 30.0
    lead_burst_mean: float = 3.0
    lead_burst_days: float = 14.0
    n_owners: int = 12
    owner_sd: float = 0.3
    new_business_intercept: float = 0.6
    new_business_health: float = 0.8
    upsell_rate_per_year: float = 0.5
    upsell_intercept: float = -0.5
    upsell_win_health: float = 1.0
    deal_noise_sd: float = 0.5
    cycle_mean_days: float = 45.0
    skip_prob: float = 0.1
    regress_prob: float = 0.1
    slip_rate_per_month: float = 1.0
    amount_change_prob: float = 0.3
    renewal_lead_days: float = 90.0

    def validate(self) -> None:
        """Raise :class:`~crmml.exceptions.ParameterError` on an impossible value."""
        owner = "B2BParams"
        unit = [Interval(0, 1)]
        for name in ("skip_prob", "regress_prob", "amount_change_prob", "pre_churn_usage"):
            check_param(owner, name, getattr(self, name), unit)
        check_param(owner, "signup_fraction", self.signup_fraction, [Interval(0, 1, closed="right")])
        check_param(owner, "health_phi", self.health_phi, [Interval(-1, 1, closed="neither")])
        for name in ("employees_median", "cycle_mean_days", "lead_delay_mean_days",
                     "lead_event_decay_days", "lead_burst_days", "value_base", "renewal_lead_days"):
            check_param(owner, name, getattr(self, name), [Interval(0, None, closed="neither")])
        for name in ("employees_sigma", "health_sigma", "health_mean_sd", "usage_noise_sd",
                     "upsell_sd", "value_sd", "lead_noise_sd", "owner_sd", "deal_noise_sd",
                     "leads_per_account", "lead_event_rate", "lead_burst_mean",
                     "upsell_rate_per_year", "slip_rate_per_month", "pre_churn_months"):
            check_param(owner, name, getattr(self, name), [Interval(0, None)])
        check_param(owner, "n_owners", self.n_owners, [Interval(1, None, integer=True)])
        check_param(owner, "contacts_min", self.contacts_min, [Interval(1, None, integer=True)])
        check_param(owner, "contacts_max", self.contacts_max,
                    [Interval(self.contacts_min, None, integer=True)])
        pairs = (("industries", "industry_probs"), ("industries", "industry_health"),
                 ("countries", "country_probs"), ("channels", "channel_probs"),
                 ("lead_sources", "lead_source_probs"), ("lead_sources", "lead_source_effect"),
                 ("lead_roles", "lead_role_probs"), ("lead_roles", "lead_role_effect"))
        for names, values in pairs:
            if len(getattr(self, names)) != len(getattr(self, values)):
                bad_param(owner, values, getattr(self, values),
                          f"a tuple with one value per entry of {names!r}")
        for name, n in (("usage_rates", len(USAGE_TYPES)), ("service_rates", len(SERVICE_TYPES)),
                        ("role_probs", len(ROLES))):
            v = getattr(self, name)
            if len(v) != n or min(v) < 0:
                bad_param(owner, name, v, f"a tuple of {n} values >= 0")

    def to_dict(self) -> dict:
        """JSON-ready parameters (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> B2BParams:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


# ---------------------------------------------------------------------------
def _ids(prefix: str, n: int, minimum: int = 6) -> pd.Series:
    return format_ids(prefix, np.arange(1, n + 1), id_width(n, minimum)).to_pandas().astype(str)


def _ts(start_ns: int, days: np.ndarray) -> pd.Series:
    """Days after start (NaN -> NaT) as a datetime64[ns] series."""
    days = np.asarray(days, dtype=np.float64)
    nan = np.isnan(days)
    ns = days_to_ns(start_ns, np.where(nan, 0.0, days))
    out = ns.view("datetime64[ns]").copy()
    out[nan] = np.datetime64("NaT")
    return pd.Series(out, dtype="datetime64[ns]")


def _cat(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object)[codes], dtype=str)


def _take_str(values: pd.Series | tuple[str, ...], index: np.ndarray) -> pd.Series:
    """``values[index]`` as a ``str`` series, gathered in Arrow without Python string objects.

    Parameters
    ----------
    values : Series of str or tuple of str
    index : ndarray of int
        Positions into ``values``.

    Returns
    -------
    Series
        Equal (values and dtype) to ``pd.Series(np.asarray(values, dtype=object)[index], dtype=str)``.
    """
    arr = pa.array(values if isinstance(values, pd.Series) else list(values), type=pa.large_string())
    return pd.Series(arr.take(pa.array(np.asarray(index, dtype=np.int64))), dtype=str)


@dataclass(frozen=True)
class _Deals:
    """Opportunities as parallel arrays, one entry per deal.

    Parameters
    ----------
    account : ndarray of int64
        Account index (row of ``customers``).
    kind : ndarray of int64
        Code into :data:`KINDS`.
    created, close : ndarray of float64
        Creation and (eventual) close time in days after the window start;
        ``close`` may lie at or after the window end (deal still open then).
    won : ndarray of bool
        Eventual outcome.
    prob : ndarray of float64
        Latent win probability.
    amount : ndarray of float64
        Initial amount.
    owner : ndarray of int64
        Sales rep index.
    """

    account: np.ndarray
    kind: np.ndarray
    created: np.ndarray
    close: np.ndarray
    won: np.ndarray
    prob: np.ndarray
    amount: np.ndarray
    owner: np.ndarray

    @classmethod
    def build(cls, account: np.ndarray, kind: int, created: np.ndarray, close: np.ndarray, won: np.ndarray,
              prob: np.ndarray, amount: np.ndarray, owner: np.ndarray) -> _Deals:
        """Deals of one ``kind`` (a code into :data:`KINDS`) with canonical dtypes."""
        account = np.asarray(account, dtype=np.int64)
        return cls(account=account, kind=np.full(account.size, kind, dtype=np.int64),
                   created=np.asarray(created, dtype=np.float64), close=np.asarray(close, dtype=np.float64),
                   won=np.asarray(won, dtype=bool), prob=np.asarray(prob, dtype=np.float64),
                   amount=np.asarray(amount, dtype=np.float64), owner=np.asarray(owner, dtype=np.int64))

    @classmethod
    def concat(cls, parts: list[_Deals]) -> _Deals:
        """Stack the deals of ``parts`` in order."""
        return cls(**{f.name: np.concatenate([getattr(d, f.name) for d in parts]) for f in fields(cls)})

    def take(self, index: np.ndarray) -> _Deals:
        """The deals at positions ``index``."""
        return _Deals(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def __len__(self) -> int:
        return int(self.account.size)


@dataclass(frozen=True)
class _Terms:
    """Subscription terms sorted by ``(account, term number)`` (see ``subscriptions``).

    Parameters
    ----------
    account : ndarray of int64
    start, end, value, prob : ndarray of float64
        Term start/end (days), monthly value, renewal probability.
    renewed : ndarray of bool
    """

    account: np.ndarray
    start: np.ndarray
    end: np.ndarray
    value: np.ndarray
    prob: np.ndarray
    renewed: np.ndarray


def _renewal_deals(rng: np.random.Generator, terms: _Terms, p: B2BParams, days: float) -> _Deals:
    """One renewal opportunity per term whose renewal window opens inside the observation window.

    Created ``renewal_lead_days`` before the term end (at least a day after its
    start), closing ``Uniform(0.5, 14)`` days before the term end (at least a day
    after creation); won iff the term renewed, with the true renewal probability;
    amount ``12 *`` the next term's monthly value (the current one when there is
    no next term).
    """
    n_sub = terms.account.size
    created = np.maximum(terms.end - p.renewal_lead_days, terms.start + 1.0)
    j = np.flatnonzero(created < days)
    created = created[j]
    close = np.maximum(terms.end[j] - rng.uniform(0.5, 14.0, j.size), created + 1.0)
    nxt = np.minimum(j + 1, max(n_sub - 1, 0))
    has_next = terms.renewed[j] & (j + 1 < n_sub) & (terms.account[nxt] == terms.account[j])
    next_value = np.where(has_next, terms.value[nxt], terms.value[j])
    owner = rng.integers(0, p.n_owners, j.size)
    return _Deals.build(terms.account[j], KINDS.index("renewal"), created, close, terms.renewed[j],
                        terms.prob[j], 12.0 * next_value, owner)


def _current_value(terms: _Terms, account: np.ndarray, t: np.ndarray, value0: np.ndarray) -> np.ndarray:
    """Monthly value of the latest term of ``account`` started at or before ``t`` (else ``value0``)."""
    if terms.account.size == 0:
        return value0[account]
    first = np.searchsorted(terms.account, account, side="left")
    last = np.searchsorted(terms.account, account, side="right")
    n_started = np.zeros(account.size, dtype=np.int64)
    last_pos = terms.account.size - 1
    for r in range(int((last - first).max(initial=0))):  # terms of an account start in increasing order
        pos = first + r
        n_started += (pos < last) & (terms.start[np.minimum(pos, last_pos)] <= t)
    return np.where(n_started > 0, terms.value[np.maximum(first + n_started - 1, 0)], value0[account])


def _upsell_deals(rng: np.random.Generator, terms: _Terms, p: B2BParams, days: float, h: np.ndarray,
                  frac: np.ndarray, a_lo: np.ndarray, a_hi: np.ndarray, owner_skill: np.ndarray,
                  value0: np.ndarray) -> _Deals:
    """Upsell opportunities arriving at ``upsell_rate_per_year * exp(0.5 h)`` while subscribed.

    ``frac``, ``a_lo``, ``a_hi`` are the subscribed fraction and interval of each
    account-month. Win probability ``sigmoid(b0 + b_h h + owner_skill + noise)``,
    cycle as new business, amount ``12 * monthly_value * Uniform(0.1, 0.5)``.
    """
    n_months = h.shape[1]
    up_cnt = rng.poisson(p.upsell_rate_per_year / 12.0 * frac * np.exp(0.5 * h)).ravel()
    cell = np.repeat(np.arange(up_cnt.size), up_cnt)
    ua, um = np.divmod(cell, n_months)
    lo_c = np.nan_to_num(a_lo.ravel()[cell])
    ut = lo_c + rng.random(cell.size) * (a_hi.ravel()[cell] - lo_c)
    keep = ut < days
    ua, um, ut = ua[keep], um[keep], ut[keep]
    m = ua.size
    owner = rng.integers(0, p.n_owners, m)
    prob = sigmoid(p.upsell_intercept + p.upsell_win_health * h[ua, um] + owner_skill[owner]
                   + p.deal_noise_sd * rng.standard_normal(m))
    cycle = rng.gamma(3.0, p.cycle_mean_days / 3.0, m) * (1.0 + 1.5 * (1.0 - prob)) + 3.0
    won = rng.random(m) < prob
    amount = 12.0 * _current_value(terms, ua, ut, value0) * rng.uniform(0.1, 0.5, m)
    return _Deals.build(ua, KINDS.index("upsell"), ut, ut + cycle, won, prob, amount, owner)


def _segment_ffill(flag: np.ndarray, group_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the latest flagged row at or before each row inside its group.

    Returns ``(index, found)``; ``index`` is only meaningful where ``found``.
    ``group_start`` is the first row of each row's group (rows sorted by group).
    """
    idx = np.maximum.accumulate(np.where(flag, np.arange(flag.size), -1))
    found = idx >= group_start
    return np.maximum(idx, 0), found


@dataclass(frozen=True)
class _Walks:
    """History rows of all deals (grouped by deal, in time order) and each deal's last row.

    Parameters
    ----------
    deal : ndarray of int64
        Deal of each history row.
    t, amount, expected_close : ndarray of float64
        Row time, amount and expected close date (days).
    stage : ndarray of int64
        Code into :data:`HISTORY_STAGES`.
    last : ndarray of int64
        Row index of each deal's last row.
    closed : ndarray of bool
        Whether each deal closed inside the window.
    """

    deal: np.ndarray
    t: np.ndarray
    stage: np.ndarray
    amount: np.ndarray
    expected_close: np.ndarray
    last: np.ndarray
    closed: np.ndarray


def _walk_deals(rng: np.random.Generator, deals: _Deals, p: B2BParams, days: float) -> _Walks:
    """Stage walks, close-date slips and amount revisions of all deals at once.

    The outcome is fixed first; a won deal walks to ``negotiation``, a lost one
    to a stage drawn with weights ``(1 - w, 1, w + 0.5, w + 0.2)``. Each of at
    most :data:`MAX_WALK_STEPS` steps regresses one stage (prob ``regress_prob``,
    not from the first stage), skips one stage (``cur + 2 <= target``; prob
    ``skip_prob``, or ``regress_prob + skip_prob`` from the first stage) or
    advances. Stage changes fall at sorted uniform times in ``[created, close)``;
    ``Poisson(slip_rate * (1 - w) * cycle_months)`` slips push the expected close
    date by ``Uniform(14, 45)`` days; with probability ``amount_change_prob`` the
    amount is revised once by ``LogNormal(0, 0.15^2)``; an expected close date in
    the past at an event is moved to ``t + Uniform(7, 30)``. Events at or after
    ``days`` are dropped and a closing row is added for deals closing before it.
    """
    n = len(deals)
    n_open = len(DEFAULT_OPEN_STAGES)
    created, close, prob = deals.created, deals.close, deals.prob
    span = close - created
    deal_ix = np.arange(n)

    # target stage: won deals reach the last open stage, lost deals stop earlier when unlikely to win
    w = np.column_stack([1.0 - prob, np.ones(n), prob + 0.5, prob + 0.2])[:, :n_open]
    cdf = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    cdf[:, -1] = 1.0
    lost_target = (cdf <= rng.random(n)[:, None]).sum(axis=1)
    target = np.where(deals.won, n_open - 1, lost_target)

    # the walk: all deals step together; a deal stops once it reaches its target
    path = np.zeros((n, MAX_WALK_STEPS), dtype=np.int64)
    n_steps = np.zeros(n, dtype=np.int64)
    cur = np.zeros(n, dtype=np.int64)
    for s in range(MAX_WALK_STEPS):
        mv = np.flatnonzero(cur < target)
        if mv.size == 0:
            break
        c, u = cur[mv], rng.random(mv.size)
        c = c + np.where((c > 0) & (u < p.regress_prob), -1,
                         np.where((c + 2 <= target[mv]) & (u < p.regress_prob + p.skip_prob), 2, 1))
        cur[mv] = c
        path[mv, s] = c
        n_steps[mv] += 1
    st_deal = np.repeat(deal_ix, n_steps)
    st_code = path[np.arange(MAX_WALK_STEPS)[None, :] < n_steps[:, None]]  # row-major: per deal, in order
    st_u = rng.random(st_deal.size)  # event times are created + u * span; stage changes at sorted u
    st_u = st_u[np.argsort(st_deal + 0.5 * st_u, kind="stable")]  # 0.5: keys of a deal stay below the next

    # close-date slips and the optional amount revision
    n_slip = rng.poisson(p.slip_rate_per_month * (1.0 - prob) * span / DAYS_PER_MONTH)
    sl_deal = np.repeat(deal_ix, n_slip)
    sl_u = rng.random(sl_deal.size)
    sl_days = rng.uniform(14.0, 45.0, sl_deal.size)
    am_deal = np.flatnonzero(rng.random(n) < p.amount_change_prob)
    am_u = rng.random(am_deal.size)
    am_factor = np.exp(rng.normal(0.0, 0.15, am_deal.size))
    planned = created + np.maximum(7.0, rng.gamma(3.0, p.cycle_mean_days / 3.0, n))
    planned = np.where(deals.kind == KINDS.index("renewal"), close, planned)

    # events of each deal in time order (ties: stage, slip, amount), dropped from the window end on
    ev_deal = np.concatenate([st_deal, sl_deal, am_deal])
    ev_u = np.concatenate([st_u, sl_u, am_u])
    ev_what = np.concatenate([np.full(st_deal.size, _STAGE), np.full(sl_deal.size, _SLIP),
                              np.full(am_deal.size, _AMOUNT)])
    ev_val = np.concatenate([st_code.astype(np.float64), sl_days, am_factor])
    order = np.argsort(ev_deal + 0.5 * ev_u, kind="stable")
    ev_deal, ev_u, ev_what, ev_val = ev_deal[order], ev_u[order], ev_what[order], ev_val[order]
    ev_t = created[ev_deal] + ev_u * span[ev_deal]
    keep = ev_t < days
    ev_deal, ev_t, ev_what, ev_val = ev_deal[keep], ev_t[keep], ev_what[keep], ev_val[keep]
    ev_reset = rng.uniform(7.0, 30.0, ev_deal.size)
    n_ev = np.bincount(ev_deal, minlength=n)
    ev_first = np.cumsum(n_ev) - n_ev
    rank = np.arange(ev_deal.size) - ev_first[ev_deal]

    # stage and amount after each event: the latest stage event / the amount revision so far
    i_st, has_st = _segment_ffill(ev_what == _STAGE, ev_first[ev_deal])
    ev_stage = np.where(has_st, ev_val[i_st], 0.0).astype(np.int64)
    amount0 = np.round(deals.amount, 2)
    amount1 = amount0.copy()
    revised = ev_what == _AMOUNT
    amount1[ev_deal[revised]] = np.round(amount0[ev_deal[revised]] * ev_val[revised], 2)
    _, has_am = _segment_ffill(revised, ev_first[ev_deal])
    ev_amount = np.where(has_am, amount1[ev_deal], amount0[ev_deal])

    # expected close date: a sequential rule, evaluated for the r-th event of every deal at once
    ev_close = np.empty(ev_deal.size)
    running = planned.copy()
    by_count = np.argsort(-n_ev, kind="stable")  # deals with the most events first
    n_with = np.cumsum(np.bincount(n_ev)[::-1])[::-1]  # n_with[k]: deals with at least k events
    for r in range(n_with.size - 1):
        d = by_count[:n_with[r + 1]]  # the deals that have an r-th event
        idx = ev_first[d] + r
        t = ev_t[idx]
        ec = running[d]
        ec = np.where(ev_what[idx] == _SLIP, np.maximum(ec, t) + ev_val[idx], ec)
        ec = np.where(ec < t, t + ev_reset[idx], ec)
        running[d] = ec
        ev_close[idx] = ec

    # history rows: the creation row, the events, the closing row
    closed = close < days
    n_rows = 1 + n_ev + closed
    first = np.cumsum(n_rows) - n_rows
    last = first + n_rows - 1
    n_total = int(n_rows.sum())
    h_deal = np.repeat(deal_ix, n_rows)
    h_t, h_amount, h_close = np.empty(n_total), np.empty(n_total), np.empty(n_total)
    h_stage = np.empty(n_total, dtype=np.int64)
    h_t[first], h_stage[first], h_amount[first], h_close[first] = created, 0, amount0, planned
    pos = first[ev_deal] + 1 + rank
    h_t[pos], h_stage[pos], h_amount[pos], h_close[pos] = ev_t, ev_stage, ev_amount, ev_close
    c = np.flatnonzero(closed)
    pos = last[c]
    h_t[pos], h_close[pos] = close[c], close[c]
    h_stage[pos] = np.where(deals.won[c], HISTORY_STAGES.index("closed_won"), HISTORY_STAGES.index("closed_lost"))
    h_amount[pos] = h_amount[pos - 1]  # the amount after all events (all fall before the close)
    return _Walks(deal=h_deal, t=h_t, stage=h_stage, amount=h_amount, expected_close=h_close, last=last,
                  closed=closed)


def _opportunities(seed: int, p: B2BParams, days: float, s0: int, acc_ids: pd.Series, new_business: _Deals,
                   terms: _Terms, h: np.ndarray, frac: np.ndarray, a_lo: np.ndarray, a_hi: np.ndarray,
                   owner_skill: np.ndarray, value0: np.ndarray
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Renewal and upsell deals (stream 8), stage walks (stream 9) and the pipeline tables.

    Returns
    -------
    opportunities, opportunity_history, truth : DataFrame
        Opportunity ids follow ``(created, account)`` (ties keep new business,
        renewal, upsell order); history rows are grouped by opportunity in time
        order.
    """
    rng = rng_for(seed, 8)
    deals = _Deals.concat([new_business, _renewal_deals(rng, terms, p, days),
                           _upsell_deals(rng, terms, p, days, h, frac, a_lo, a_hi, owner_skill, value0)])
    deals = deals.take(np.lexsort((deals.account, deals.created)))  # stable, like sorting by (created, account)
    walks = _walk_deals(rng_for(seed, 9), deals, p, days)

    opp_ids = _ids("O", len(deals))
    owner_names = tuple(f"rep_{i + 1:02d}" for i in range(p.n_owners))
    opportunity_history = pd.DataFrame({
        "opportunity_id": _take_str(opp_ids, walks.deal),
        "ts": _ts(s0, walks.t),
        "stage": _take_str(HISTORY_STAGES, walks.stage),
        "amount": walks.amount,
        "expected_close_at": _ts(s0, walks.expected_close),
    })
    closed = walks.closed
    customer = _take_str(acc_ids, deals.account)
    opportunities = pd.DataFrame({
        "opportunity_id": opp_ids,
        "customer_id": customer,
        "created_at": _ts(s0, deals.created),
        "amount": walks.amount[walks.last],
        "stage": _take_str(HISTORY_STAGES, walks.stage[walks.last]),
        "expected_close_at": _ts(s0, walks.expected_close[walks.last]),
        "closed_at": _ts(s0, np.where(closed, deals.close, np.nan)),
        "won": pd.arrays.BooleanArray(deals.won & closed, ~closed),
        "owner": _take_str(owner_names, deals.owner),
    })
    truth = pd.DataFrame({
        "opportunity_id": opp_ids,
        "customer_id": customer,
        "kind": _take_str(KINDS, deals.kind),
        "win_probability": deals.prob,
        "won": deals.won,
        "closed_in_window": closed,
        "close_at": _ts(s0, deals.close),
    })
    return opportunities, opportunity_history, truth


# ---------------------------------------------------------------------------
def make_b2b_world(n_accounts: int = 500, *, n_leads: int | None = None, seed: int = 0,
                   start: object = "2022-01-01", end: object = "2025-12-31",
                   params: B2BParams | None = None) -> SyntheticWorld:
    """Simulate a contractual B2B business with accounts, leads and a pipeline.

    Parameters
    ----------
    n_accounts : int
        Number of accounts (``customers`` rows). Each gets a new-business
        opportunity; accounts whose deal is won subscribe (annual terms).
    n_leads : int or None
        Number of leads (default ``round(params.leads_per_account * n_accounts)``).
    seed : int
        Same seed, sizes, window and parameters give the identical world.
    start, end : str or Timestamp
        Observation window ``[start, end)``.
    params : B2BParams or None

    Returns
    -------
    SyntheticWorld
        Tables ``customers, contacts, subscriptions, invoices, interactions,
        leads, lead_events, opportunities, opportunity_history``; truth tables
        ``accounts``, ``account_months``, ``renewals``, ``leads``,
        ``opportunities``.

    References
    ----------
    Fader & Hardie (2007), How to project customer retention, Journal of
    Interactive Marketing 21(1).

    Examples
    --------
    >>> from crmml.synthetic import make_b2b_world
    >>> world = make_b2b_world(100, seed=7)
    >>> len(world.tables.customers)
    100
    >>> set(world.tables.opportunities["stage"]) <= {
    ...     "qualification", "needs_analysis", "proposal", "negotiation", "closed_won", "closed_lost"}
    True
    """
    owner = "make_b2b_world"
    check_param(owner, "n_accounts", n_accounts, [Interval(1, None, integer=True)])
    check_param(owner, "n_leads", n_leads, [Interval(0, None, integer=True), None])
    check_param(owner, "seed", seed, [Interval(0, None, integer=True)])
    p = B2BParams() if params is None else params
    p.validate()
    s, e, days = window(start, end, owner)
    n = int(n_accounts)
    nl = int(round(p.leads_per_account * n)) if n_leads is None else int(n_leads)
    s0 = s.value
    params_dict = {"kind": "b2b", "generator": "crmml.synthetic.make_b2b_world", "seed": int(seed),
                   "n_accounts": n, "n_leads": nl, "start": s.isoformat(), "end": e.isoformat(),
                   **p.to_dict()}

    # ------------------------------------------------------------ accounts
    rng = rng_for(seed, 1)
    signup = rng.random(n) * p.signup_fraction * days
    industry = choice_codes(rng, p.industry_probs, n)
    country = choice_codes(rng, p.country_probs, n)
    channel = choice_codes(rng, p.channel_probs, n)
    employees = np.ceil(np.exp(np.log(p.employees_median) + p.employees_sigma * rng.standard_normal(n)))
    size = np.log10(employees) - 2.0
    n_months = int(np.ceil(days / DAYS_PER_MONTH)) + 15  # health beyond the window for renewals
    mu = (np.asarray(p.industry_health)[industry] + p.health_size_effect * size
          + p.health_mean_sd * rng.standard_normal(n))
    h = np.empty((n, n_months))
    sd0 = p.health_sigma / np.sqrt(1.0 - p.health_phi ** 2)
    h[:, 0] = mu + sd0 * rng.standard_normal(n)
    for m in range(1, n_months):
        h[:, m] = mu + p.health_phi * (h[:, m - 1] - mu) + p.health_sigma * rng.standard_normal(n)
    u = p.usage_noise_sd * rng.standard_normal((n, n_months))
    usage = np.exp(p.usage_health_effect * h + u)

    def month_of(t: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(t) // DAYS_PER_MONTH).astype(np.int64), 0, n_months - 1)

    owner_skill = p.owner_sd * rng_for(seed, 2).standard_normal(p.n_owners)
    value0 = np.round(p.value_base * employees ** p.value_size_exponent
                      * np.exp(p.value_sd * rng.standard_normal(n)), 2)

    # ------------------------------------------------------------ new business -> first term
    rng = rng_for(seed, 3)
    nb_owner = rng.integers(0, p.n_owners, n)
    nb_logit = (p.new_business_intercept + p.new_business_health * h[np.arange(n), month_of(signup)]
                + owner_skill[nb_owner] + p.deal_noise_sd * rng.standard_normal(n))
    nb_prob = sigmoid(nb_logit)
    nb_won = rng.random(n) < nb_prob
    nb_cycle = rng.gamma(3.0, p.cycle_mean_days / 3.0, n) * (1.0 + 1.5 * (1.0 - nb_prob)) + 3.0
    nb_close = signup + nb_cycle
    new_business = _Deals.build(np.arange(n), KINDS.index("new_business"), signup, nb_close, nb_won, nb_prob,
                                12 * value0, nb_owner)

    # ------------------------------------------------------------ subscription terms
    rng = rng_for(seed, 4)
    subscribed = nb_won & (nb_close < days)
    terms = []  # (account, k, start, end, value, prob, renewed)
    active = np.flatnonzero(subscribed)
    t_start = nb_close[active].copy()
    value = value0[active].copy()
    k = 0
    churned = np.full(n, np.nan)
    while active.size:
        t_end = t_start + TERM_DAYS
        me = month_of(t_end - 1.0)
        lo = np.maximum(me - 2, 0)
        u_last = (u[active, lo] + u[active, np.minimum(lo + 1, n_months - 1)] + u[active, me]) / 3.0
        prob = sigmoid(p.renewal_intercept + p.renewal_health * h[active, me] + p.renewal_usage * u_last)
        renewed = rng.random(active.size) < prob
        growth = np.maximum(1.0, np.exp(rng.normal(p.upsell_mean + p.upsell_health * h[active, me],
                                                   p.upsell_sd)))
        terms.append(np.column_stack([active, np.full(active.size, k), t_start, t_end, value, prob,
                                      renewed]))
        lost = ~renewed & (t_end < days)
        churned[active[lost]] = t_end[lost]
        go = renewed & (t_end < days)
        active, t_start, value = active[go], t_end[go], np.round(value[go] * growth[go], 2)
        k += 1
    term = (np.concatenate(terms) if terms else np.empty((0, 7)))
    term = term[np.lexsort((term[:, 1], term[:, 0]))]
    t_acc = term[:, 0].astype(np.int64)
    t_k = term[:, 1].astype(np.int64)
    t_s, t_e, t_val, t_prob = term[:, 2], term[:, 3], term[:, 4], term[:, 5]
    t_ren = term[:, 6].astype(bool)
    n_sub = len(term)
    sub_ids = _ids("S", n_sub)
    acc_ids = _ids("A", n)
    subscriptions = pd.DataFrame({
        "subscription_id": sub_ids,
        "customer_id": acc_ids.to_numpy()[t_acc],
        "start_at": _ts(s0, t_s),
        "end_at": _ts(s0, np.where(t_e < days, t_e, np.nan)),
        "monthly_value": t_val,
    })
    subscriptions["customer_id"] = subscriptions["customer_id"].astype(str)

    # ------------------------------------------------------------ invoices
    rng = rng_for(seed, 5)
    inv_term = np.repeat(np.arange(n_sub), 12)
    inv_k = np.tile(np.arange(12), n_sub)
    issued = t_s[inv_term] + inv_k * DAYS_PER_MONTH
    keep = issued < days
    inv_term, issued = inv_term[keep], issued[keep]
    inv_acc = t_acc[inv_term]
    hi = h[inv_acc, month_of(issued)]
    delay = rng.gamma(4.0, p.pay_delay_mean_days * np.exp(-p.pay_delay_health * hi) / 4.0)
    unpaid = rng.random(issued.size) < sigmoid(p.unpaid_intercept + p.unpaid_health * hi)
    paid = issued + delay
    paid[unpaid | (paid >= days)] = np.nan
    inv_order = np.lexsort((issued, inv_acc))
    invoices = pd.DataFrame({
        "invoice_id": _ids("INV", issued.size),
        "customer_id": acc_ids.to_numpy()[inv_acc[inv_order]],
        "issued_at": _ts(s0, issued[inv_order]),
        "due_at": _ts(s0, issued[inv_order] + 30.0),
        "paid_at": _ts(s0, paid[inv_order]),
        "amount": t_val[inv_term[inv_order]],
    })
    invoices["customer_id"] = invoices["customer_id"].astype(str)

    # ------------------------------------------------------------ contacts
    rng = rng_for(seed, 6)
    n_c = np.clip(p.contacts_min + rng.poisson(p.contacts_size_effect * np.maximum(np.log10(employees), 0)),
                  p.contacts_min, p.contacts_max)
    c_acc = np.repeat(np.arange(n), n_c)
    c_start = np.cumsum(n_c) - n_c
    c_rank = np.arange(c_acc.size) - np.repeat(c_start, n_c)
    c_created = signup[c_acc] + np.where(
        c_rank == 0, 0.0, rng.random(c_acc.size) ** 2 * (days - signup[c_acc]) * 0.8)
    c_role = np.where(c_rank == 0, 0, choice_codes(rng, p.role_probs, c_acc.size))
    contact_ids = _ids("P", c_acc.size, 7)
    contacts = pd.DataFrame({
        "contact_id": contact_ids,
        "customer_id": acc_ids.to_numpy()[c_acc],
        "role": _cat(ROLES, c_role),
        "created_at": _ts(s0, c_created),
    })
    contacts["customer_id"] = contacts["customer_id"].astype(str)

    # ------------------------------------------------------------ interactions (while subscribed)
    rng = rng_for(seed, 7)
    first_start = np.full(n, np.nan)
    if n_sub:
        first_start[t_acc[t_k == 0]] = t_s[t_k == 0]
    live_to = np.where(np.isnan(churned), days, churned)
    m_lo = np.arange(n_months) * DAYS_PER_MONTH
    a_lo = np.maximum(first_start[:, None], m_lo[None, :])
    a_hi = np.minimum(live_to[:, None], m_lo[None, :] + DAYS_PER_MONTH)
    frac = np.where(np.isnan(a_lo), 0.0, np.clip((a_hi - a_lo) / DAYS_PER_MONTH, 0.0, None))
    mid = m_lo[None, :] + DAYS_PER_MONTH / 2
    pre = np.isfinite(churned)[:, None] & (churned[:, None] - mid < p.pre_churn_months * DAYS_PER_MONTH)
    use = usage * np.where(pre, p.pre_churn_usage, 1.0)
    serv = np.exp(-p.service_health_effect * h)
    i_acc, i_t, i_code = [], [], []
    types = USAGE_TYPES + SERVICE_TYPES
    for code, base in enumerate(p.usage_rates + p.service_rates):
        lam = base * frac * (use if code < len(USAGE_TYPES) else serv)
        cnt = rng.poisson(lam).ravel()
        cell = np.repeat(np.arange(cnt.size), cnt)
        ai, mi = np.divmod(cell, n_months)
        lo_c = np.nan_to_num(a_lo.ravel()[cell])
        t = lo_c + rng.random(cell.size) * (a_hi.ravel()[cell] - lo_c)
        i_acc.append(ai)
        i_t.append(t)
        i_code.append(np.full(cell.size, code))
    ia, it, ic = np.concatenate(i_acc), np.concatenate(i_t), np.concatenate(i_code)
    ok = it < days
    ia, it, ic = ia[ok], it[ok], ic[ok]
    o = np.lexsort((it, ia))
    ia, it, ic = ia[o], it[o], ic[o]
    pick = c_start[ia] + np.floor(rng.random(ia.size) * n_c[ia]).astype(np.int64)
    pick = np.where(c_created[pick] <= it, pick, c_start[ia])
    interactions = pd.DataFrame({
        "interaction_id": _ids("I", ia.size, 8),
        "customer_id": acc_ids.to_numpy()[ia],
        "ts": _ts(s0, it),
        "type": _cat(types, ic),
        "contact_id": contact_ids.to_numpy()[pick],
    })
    for c in ("customer_id", "contact_id"):
        interactions[c] = interactions[c].astype(str)

    # ------------------------------------------------------------ opportunities (streams 8 and 9)
    terms = _Terms(account=t_acc, start=t_s, end=t_e, value=t_val, prob=t_prob, renewed=t_ren)
    opportunities, opportunity_history, truth_opps = _opportunities(
        seed, p, days, s0, acc_ids, new_business, terms, h, frac, a_lo, a_hi, owner_skill, value0)

    # ------------------------------------------------------------ leads
    rng = rng_for(seed, 10)
    l_created = rng.random(nl) * days
    l_source = choice_codes(rng, p.lead_source_probs, nl)
    l_ind = choice_codes(rng, p.industry_probs, nl)
    l_country = choice_codes(rng, p.country_probs, nl)
    l_role = choice_codes(rng, p.lead_role_probs, nl)
    l_emp = np.ceil(np.exp(np.log(p.employees_median) + p.employees_sigma * rng.standard_normal(nl)))
    l_logit = (p.lead_intercept + np.asarray(p.lead_source_effect)[l_source]
               + np.asarray(p.lead_role_effect)[l_role] + np.asarray(p.industry_health)[l_ind]
               + p.lead_size_effect * (np.log10(l_emp) - 2.0) + p.lead_noise_sd * rng.standard_normal(nl))
    l_prob = sigmoid(l_logit)
    l_will = rng.random(nl) < l_prob
    l_conv = l_created + rng.gamma(2.0, p.lead_delay_mean_days / 2.0, nl)
    l_conv_obs = np.where(l_will & (l_conv < days), l_conv, np.nan)
    l_stop = np.where(l_will, np.minimum(l_conv, days), days)
    horizon = l_stop - l_created
    dec = p.lead_event_decay_days
    mass = -np.expm1(-horizon / dec)
    cnt = rng.poisson(p.lead_event_rate * np.exp(p.lead_event_propensity_effect * (l_logit - p.lead_intercept))
                      * dec * mass)
    ev_l = np.repeat(np.arange(nl), cnt)
    ev_t = l_created[ev_l] - dec * np.log1p(-rng.random(ev_l.size) * mass[ev_l])
    ev_c = choice_codes(rng, (0.35, 0.3, 0.12, 0.1, 0.05, 0.04, 0.02, 0.02), ev_l.size)
    ev_type = np.asarray(LEAD_ENGAGEMENT_TYPES, dtype=object)[ev_c]
    bcnt = np.where(l_will, rng.poisson(p.lead_burst_mean, nl), 0)
    b_l = np.repeat(np.arange(nl), bcnt)
    b_t = l_conv[b_l] - rng.random(b_l.size) * np.minimum(p.lead_burst_days, l_conv[b_l] - l_created[b_l])
    b_type = np.asarray(LEAD_BURST_TYPES, dtype=object)[choice_codes(rng, (0.3, 0.3, 0.2, 0.1, 0.1), b_l.size)]
    el = np.concatenate([ev_l, b_l])
    et = np.concatenate([ev_t, b_t])
    ety = np.concatenate([ev_type, b_type])
    ok = et < np.minimum(l_stop[el], days)
    el, et, ety = el[ok], et[ok], ety[ok]
    o = np.lexsort((et, el))
    lead_ids = _ids("L", nl, 7)
    leads = pd.DataFrame({
        "lead_id": lead_ids,
        "created_at": _ts(s0, l_created),
        "source": _cat(p.lead_sources, l_source),
        "industry": _cat(p.industries, l_ind),
        "employees": l_emp.astype(np.float64),
        "country": _cat(p.countries, l_country),
        "role": _cat(p.lead_roles, l_role),
        "converted_at": _ts(s0, l_conv_obs),
    })
    lead_events = pd.DataFrame({
        "lead_id": pd.Series(lead_ids.to_numpy()[el[o]], dtype=str),
        "ts": _ts(s0, et[o]),
        "type": pd.Series(ety[o], dtype=str),
    })
    # Times are whole seconds: two events of a lead of one type in the same second are one event (the
    # contract refuses exact copies); about 1 in 700,000 events at the default rates.
    lead_events = lead_events.drop_duplicates(ignore_index=True)

    customers = pd.DataFrame({
        "customer_id": acc_ids,
        "signup_at": _ts(s0, signup),
        "country": _cat(p.countries, country),
        "industry": _cat(p.industries, industry),
        "employees": employees.astype(np.float64),
        "channel": _cat(p.channels, channel),
    })

    # ------------------------------------------------------------ truth
    in_window = month_of(np.array([days - 1e-9]))[0] + 1
    hw = h[:, :in_window]
    month_start = np.arange(in_window) * DAYS_PER_MONTH
    live = (np.isfinite(first_start)[:, None]) & (month_start[None, :] + DAYS_PER_MONTH > first_start[:, None]) \
        & (month_start[None, :] < live_to[:, None])
    last_m = month_of(np.array([days - 1e-9]))[0]
    truth_accounts = pd.DataFrame({
        "customer_id": acc_ids,
        "health_longrun_mean": mu,
        "health_mean": np.where(live.any(1), np.where(live, hw, 0).sum(1) / np.maximum(live.sum(1), 1), np.nan),
        "health_min": np.where(live.any(1), np.where(live, hw, np.inf).min(1), np.nan),
        "health_at_end": h[:, last_m],
        "subscribed": subscribed,
        "first_subscription_at": _ts(s0, first_start),
        "churned_at": _ts(s0, churned),
        "n_terms": np.bincount(t_acc, minlength=n),
    })
    am_acc = np.repeat(np.arange(n), in_window)
    am_m = np.tile(np.arange(in_window), n)
    truth_months = pd.DataFrame({
        "customer_id": acc_ids.to_numpy()[am_acc],
        "month_start": _ts(s0, am_m * DAYS_PER_MONTH),
        "health": hw.ravel(),
        "usage": (use[:, :in_window]).ravel(),
        "subscribed": live.ravel(),
    })
    truth_months["customer_id"] = truth_months["customer_id"].astype(str)
    truth_renewals = pd.DataFrame({
        "subscription_id": sub_ids,
        "customer_id": subscriptions["customer_id"],
        "term": t_k,
        "term_end_at": _ts(s0, t_e),
        "renewal_probability": t_prob,
        "renewed": t_ren,
        "decided_in_window": t_e < days,
    })
    truth_leads = pd.DataFrame({
        "lead_id": lead_ids,
        "conversion_logit": l_logit,
        "conversion_probability": l_prob,
        "will_convert": l_will,
        "converted": np.isfinite(l_conv_obs),
    })
    tables = CRMTables.from_frames({
        "customers": customers, "contacts": contacts, "subscriptions": subscriptions,
        "invoices": invoices, "interactions": interactions, "leads": leads,
        "lead_events": lead_events, "opportunities": opportunities,
        "opportunity_history": opportunity_history,
    })
    truth = {"accounts": truth_accounts, "account_months": truth_months, "renewals": truth_renewals,
             "leads": truth_leads, "opportunities": truth_opps}
    return SyntheticWorld(tables=tables, truth=truth, params=params_dict, start=s, end=e)

