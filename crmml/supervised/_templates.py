"""Plain-words rendering of a feature's value for reasons: a configurable template registry.

A :class:`ReasonTemplate` turns one feature's value into text, e.g.
``recency_days = 124`` → ``"no purchase for 124 days — usually every 31 days"``.
:class:`ReasonTemplates` holds them, keyed by exact feature name or by a
regular expression (full match; named groups become fields), plus display
labels; it is persisted with the model as data.

Template text
-------------
Literal text with fields in braces, ``{name}`` or ``{name:spec}``:

* ``{value}`` — this feature's value; ``{label}`` — its display label;
  ``{days}``, ``{type}`` … — named groups of a regular-expression pattern;
  any other name — the value of *that* feature in the same row (from the
  model's matrix, or from the frame passed to ``explain``).
* ``spec``: empty → integers without decimals, other numbers with up to 2
  (``3.5``), categories as their level, bools as ``yes``/``no``; a Python
  number format (``.0f``, ``,.0f``, ``+.0f``, ``.0%``); or
  ``count:<singular>:<plural>`` → the value rounded to a whole number and
  the right noun: ``"1 complaint"`` / ``"3 complaints"``.
* Fields are plain names: no attribute or index access, no conversions
  (``!r``), no nested braces — a template from an artifact cannot reach
  anything but the row's values.

Missing values: when the feature's own value is missing (NaN, or a category
not seen at fit) the template's ``missing`` text is used (default
``"{label} unknown"``); when another field of ``text`` is missing the default
template ``"{label} = {value}"`` is used instead; ``context`` (appended
verbatim, e.g. ``" — usually every {purchase_interval_days:.0f} days"``) is
left out when any of its fields is missing.

Rendering is vectorised: rows are grouped by the distinct combinations of the
fields' values, each combination is formatted once.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crmml._payload import Payload
from crmml.exceptions import ParameterError
from crmml.supervised._read import element_error, objects

__all__ = ["ReasonTemplate", "ReasonTemplates", "crm_templates", "DEFAULT_TEXT", "DEFAULT_MISSING"]

DEFAULT_TEXT = "{label} = {value}"
"""The text of a feature without a template."""
DEFAULT_MISSING = "{label} unknown"
"""The text of a feature whose value is missing, unless its template says otherwise."""

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_TEXT = 500
_RESERVED = ("value", "label")

Part = tuple[str, str | None, str]  # literal, field, spec


def _parse(text: object, what: str) -> list[Part]:
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise ParameterError(f"The {what} of a reason template must be text of at most {_MAX_TEXT} characters. "
                             f"Got {text!r} instead.")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ParameterError(f"The {what} {text!r} of a reason template is not a valid template ({exc}).") from None
    out: list[Part] = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            out.append((literal, None, ""))
            continue
        if not _FIELD.fullmatch(field) or conversion is not None or "{" in (spec or "") or "}" in (spec or ""):
            raise ParameterError(
                f"The {what} {text!r} of a reason template uses the field {{{field}"
                f"{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}: fields must be plain "
                "names (value, label, a pattern group or a feature), without conversions or nested braces.")
        out.append((literal, field, spec or ""))
    return out


def _fields(parts: Sequence[Part]) -> list[str]:
    return [f for _, f, _ in parts if f is not None]


@dataclass(frozen=True)
class ReasonTemplate:
    """How one feature (or a family of features) is put into words.

    Parameters
    ----------
    pattern : str
        The feature name, or a regular expression matched against the whole
        name when ``regex`` is true (named groups become fields).
    text : str
        The reason (see the module docstring).
    context : str, optional
        Appended verbatim when all its fields are known.
    missing : str, optional
        Used when the feature's value is missing (default ``"{label} unknown"``).
    regex : bool

    Examples
    --------
    >>> t = ReasonTemplate(r"interactions_complaint_(?P<days>\\d+)d",
    ...                    "{value:count:complaint:complaints} in the last {days} days", regex=True)
    >>> ReasonTemplates([t]).render_one("interactions_complaint_90d", {"value": 3.0})
    '3 complaints in the last 90 days'
    """

    pattern: str
    text: str
    context: str | None = None
    missing: str | None = None
    regex: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern or len(self.pattern) > _MAX_TEXT:
            raise ParameterError(f"The pattern of a reason template must be non-empty text. Got {self.pattern!r} "
                                 "instead.")
        if not isinstance(self.regex, bool):
            raise ParameterError(f"The 'regex' flag of a reason template must be a bool. Got {self.regex!r} instead.")
        groups: set[str] = set()
        if self.regex:
            try:
                groups = set(re.compile(self.pattern).groupindex)
            except re.error as exc:
                raise ParameterError(f"The pattern {self.pattern!r} of a reason template is not a regular expression "
                                     f"({exc}).") from None
        bad = groups & set(_RESERVED)
        if bad:
            raise ParameterError(f"The pattern {self.pattern!r} names a group {sorted(bad)}, which is reserved.")
        _parse(self.text, "text")
        if self.context is not None:
            _parse(self.context, "context")
        if self.missing is not None:
            _parse(self.missing, "missing text")

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "regex": self.regex, "text": self.text, "context": self.context,
                "missing": self.missing}


class _Resolved:
    """A template bound to one feature name (groups filled in, texts parsed)."""

    __slots__ = ("text", "context", "missing", "groups", "default", "others")

    def __init__(self, t: ReasonTemplate | None, groups: Mapping[str, str]) -> None:
        self.default = _parse(DEFAULT_TEXT, "text")
        self.text = self.default if t is None else _parse(t.text, "text")
        self.context = None if t is None or t.context is None else _parse(t.context, "context")
        self.missing = _parse(DEFAULT_MISSING if t is None or t.missing is None else t.missing, "missing text")
        self.groups = dict(groups)
        names = set(_fields(self.text)) | set(_fields(self.context or [])) | set(_fields(self.missing))
        self.others = frozenset(names - set(_RESERVED) - set(self.groups))

    def features(self) -> frozenset[str]:
        """Other features the texts refer to."""
        return self.others


_INTEGER_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?[,_]?\.0f")


def _rounds_to_integer(r: _Resolved, field: str) -> bool:
    """Whether every place ``field`` is shown formats it rounded to a whole number.

    Then values that round to the same integer (half to even, as Python's
    ``round`` and ``format`` do) give the same text, and :meth:`ReasonTemplates.render`
    formats each integer once. The default text counts only when the text
    can fall back to it (it refers to a field other than ``value``).
    """
    parts = [*r.text, *(r.context or [])]
    if any(f not in (None, "value") and f not in _RESERVED and f not in r.groups for _, f, _ in r.text):
        parts += r.default
    specs = [spec for _, f, spec in parts if f == field]
    return bool(specs) and all(sp.startswith("count:") or _INTEGER_SPEC.fullmatch(sp) is not None for sp in specs)


def _smart(v: float) -> str:
    if math.isfinite(v) and float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    text = f"{v:.2f}".rstrip("0").rstrip(".") if math.isfinite(v) else str(v)
    return "0" if text in ("-0", "") else text


def _format(value: Any, spec: str) -> str:
    """One field: numbers (float), level text (str) or bools (bool)."""
    if isinstance(value, bool):
        if spec.startswith("count:"):
            value = float(value)
        elif not spec:
            return "yes" if value else "no"
        else:
            value = float(value)
    if isinstance(value, str):
        try:
            return format(value, spec) if spec and not spec.startswith("count:") else value
        except ValueError:
            return value
    v = float(value)
    if spec.startswith("count:"):
        words = spec.split(":")
        one, many = (words[1], words[2]) if len(words) >= 3 else (words[-1], words[-1])
        r = float(round(v)) if math.isfinite(v) else v
        return f"{_smart(r)} {one if r == 1 else many}"
    if not spec:
        return _smart(v)
    try:
        return format(v, spec)
    except ValueError:
        return _smart(v)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fill(parts: Sequence[Part], values: Mapping[str, Any]) -> str | None:
    """The text, or None when a field is missing."""
    out = []
    for literal, field, spec in parts:
        out.append(literal)
        if field is None:
            continue
        v = values.get(field)
        if _is_missing(v):
            return None
        out.append(_format(v, spec))
    return "".join(out)


class ReasonTemplates:
    """The registry of reason templates and display labels.

    Lookup for a feature: a template whose ``pattern`` equals the name, else
    the first regular-expression template that matches the whole name, else
    the default (``"{label} = {value}"``).

    Parameters
    ----------
    templates : iterable of ReasonTemplate
    labels : mapping, optional
        Feature → display label (default: the name with ``_`` as spaces).

    Examples
    --------
    >>> reg = ReasonTemplates([ReasonTemplate("recency_days", "no purchase for {value:.0f} days",
    ...     context=" — usually every {purchase_interval_days:.0f}")])
    >>> reg.render_one("recency_days", {"value": 124.2, "purchase_interval_days": 31.0})
    'no purchase for 124 days — usually every 31'
    >>> reg.render_one("recency_days", {"value": 124.2})
    'no purchase for 124 days'
    >>> reg.render_one("tenure_days", {"value": float("nan")})
    'tenure days unknown'
    """

    def __init__(self, templates: Iterable[ReasonTemplate] = (), labels: Mapping[str, str] | None = None) -> None:
        self.templates: tuple[ReasonTemplate, ...] = tuple(templates)
        for t in self.templates:
            if not isinstance(t, ReasonTemplate):
                raise ParameterError(f"ReasonTemplates expects ReasonTemplate objects; got {type(t).__name__}.")
        self.labels: dict[str, str] = dict(labels or {})
        for k, v in self.labels.items():
            if not isinstance(k, str) or not isinstance(v, str) or not v or len(v) > _MAX_TEXT:
                raise ParameterError(f"A reason label must map a feature name to non-empty text. Got {k!r}: {v!r}.")
        self._exact = {t.pattern: t for t in reversed(self.templates) if not t.regex}
        self._regex = [(re.compile(t.pattern), t) for t in self.templates if t.regex]
        self._cache: dict[str, _Resolved] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReasonTemplates) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ReasonTemplates({len(self.templates)} templates, {len(self.labels)} labels)"

    def extended(self, templates: Iterable[ReasonTemplate] = (), labels: Mapping[str, str] | None = None
                 ) -> ReasonTemplates:
        """A new registry whose ``templates`` and ``labels`` take precedence over these."""
        return ReasonTemplates([*templates, *self.templates], {**self.labels, **(labels or {})})

    def label(self, feature: str) -> str:
        """The display label of ``feature``."""
        return self.labels.get(feature, feature.replace("_", " "))

    def resolve(self, feature: str) -> _Resolved:
        """The template bound to ``feature`` (cached)."""
        hit = self._cache.get(feature)
        if hit is None:
            t = self._exact.get(feature)
            groups: dict[str, str] = {}
            if t is None:
                for rx, cand in self._regex:
                    m = rx.fullmatch(feature)
                    if m:
                        t, groups = cand, {k: v for k, v in m.groupdict().items() if v is not None}
                        break
            hit = self._cache[feature] = _Resolved(t, groups)
        return hit

    def referenced(self, feature: str) -> frozenset[str]:
        """Other features the template of ``feature`` refers to."""
        return self.resolve(feature).others

    # ------------------------------------------------------------ rendering
    def render_one(self, feature: str, values: Mapping[str, Any]) -> str:
        """The text for one row: ``values`` maps ``"value"`` and other features to their values."""
        r = self.resolve(feature)
        fields = {**values, **r.groups, "label": self.label(feature)}
        if _is_missing(values.get("value")):
            return _fill(r.missing, {**fields, "value": "unknown"}) or self.label(feature) + " unknown"
        text = _fill(r.text, fields)
        if text is None:
            text = _fill(r.default, fields) or ""
        if r.context is not None:
            ctx = _fill(r.context, fields)
            if ctx is not None:
                text += ctx
        return text

    def render(self, feature: str, columns: Mapping[str, np.ndarray],
               decode: Mapping[str, Callable[[Any], Any]] | None = None) -> np.ndarray:
        """Texts for many rows of one feature, each distinct combination formatted once.

        Parameters
        ----------
        feature : str
        columns : mapping
            ``"value"`` and every referenced feature available → a 1-D array
            (float64 with NaN for missing; categoricals as float codes).
            Referenced features absent here count as missing.
        decode : mapping, optional
            Field → function turning one key value (a float code) into its
            display value (level text, bool).

        Returns
        -------
        numpy.ndarray of object (str)
        """
        value = np.asarray(columns["value"], dtype=np.float64)
        n = len(value)
        if n == 0:
            return np.empty(0, dtype=object)
        names = ["value", *sorted(k for k in self.referenced(feature) if k in columns)]
        keys = np.empty((n, len(names)), dtype=np.float64)
        for j, k in enumerate(names):
            keys[:, j] = columns[k]
        keys += 0.0  # -0.0 -> 0.0
        keys[np.isnan(keys)] = np.nan  # one NaN bit pattern
        resolved = self.resolve(feature)
        for j, k in enumerate(names):
            if (decode is None or k not in decode) and _rounds_to_integer(resolved, k):
                keys[:, j] = np.round(keys[:, j])  # same text, far fewer distinct rows to format
        bits = keys.view(np.int64)
        if len(names) == 1:
            u, inverse = np.unique(bits[:, 0], return_inverse=True)
            uniq = u.view(np.float64).reshape(-1, 1)
        else:
            u, inverse = np.unique(bits, axis=0, return_inverse=True)
            uniq = u.view(np.float64)
        dec = decode or {}
        texts = np.empty(len(uniq), dtype=object)
        for i, row in enumerate(uniq):
            vals: dict[str, Any] = {}
            for k, v in zip(names, row.tolist(), strict=True):
                vals[k] = None if math.isnan(v) else (dec[k](v) if k in dec else v)
            texts[i] = self.render_one(feature, vals)
        return texts[inverse.reshape(-1)]

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """``{"templates": [...], "labels": {...}}`` (JSON-ready)."""
        return {"templates": [t.to_dict() for t in self.templates], "labels": dict(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload) -> ReasonTemplates:
        """Rebuild from :meth:`to_dict` output; an invalid template is refused naming its index.

        Raises
        ------
        IncompatibleArtifactError
        """
        p = Payload.of(data, source="ReasonTemplates.from_dict")
        p.keys_exactly(("templates", "labels"))
        templates = []
        for i, t in enumerate(objects(p, "templates")):
            t.keys_exactly(("pattern", "regex", "text", "context", "missing"))
            try:
                templates.append(ReasonTemplate(t.str_in("pattern", max_length=_MAX_TEXT) or "",
                                                t.str_in("text", max_length=_MAX_TEXT) or "",
                                                t.str_in("context", nullable=True, max_length=_MAX_TEXT),
                                                t.str_in("missing", nullable=True, max_length=_MAX_TEXT),
                                                t.boolean("regex")))
            except ParameterError as exc:
                raise element_error(p, "templates", i, f"a valid reason template ({exc})", t.data) from None
        labels_p = p.mapping("labels")
        assert labels_p is not None
        labels = {k: labels_p.str_in(k, max_length=_MAX_TEXT) or "" for k in labels_p.keys()}
        try:
            return cls(templates, labels)
        except ParameterError as exc:
            raise p.error("labels", "feature names mapped to non-empty text", labels) from exc


# ---------------------------------------------------------------------- CRM defaults
_INTERACTION_NOUNS = {
    "email_open": ("e-mail open", "e-mail opens"), "email_click": ("e-mail click", "e-mail clicks"),
    "web_visit": ("web visit", "web visits"), "call": ("call", "calls"), "meeting": ("meeting", "meetings"),
    "support_ticket": ("support ticket", "support tickets"), "complaint": ("complaint", "complaints"),
    "download": ("download", "downloads"), "login": ("login", "logins"),
    "form_submit": ("form submission", "form submissions"), "webinar": ("webinar", "webinars"),
    "other": ("other interaction", "other interactions"),
}


def crm_templates() -> ReasonTemplates:
    """Templates for the columns of :mod:`crmml.features` (customer, lead and opportunity features).

    A starting point for model packages (``crm_templates().extended([...])``).
    Context fields name features a model may add (``purchase_interval_days``,
    ``invoices_paid``); when absent, the context is left out.

    Examples
    --------
    >>> reg = crm_templates()
    >>> reg.render_one("interactions_complaint_90d", {"value": 3.0})
    '3 complaints in the last 90 days'
    >>> reg.render_one("invoices_paid_late", {"value": 2.0, "invoices_paid": 14.0})
    '2 of 14 invoices paid late'
    >>> reg.render_one("days_since_complaint", {"value": float("nan")})
    'no complaint yet'
    """
    t: list[ReasonTemplate] = [
        ReasonTemplate("recency_days", "no purchase for {value:count:day:days}",
                       context=" — usually every {purchase_interval_days:.0f}", missing="no purchase yet"),
        ReasonTemplate("days_since_first_purchase", "first purchase {value:count:day:days} ago",
                       missing="no purchase yet"),
        ReasonTemplate("tenure_days", "customer for {value:count:day:days}"),
        ReasonTemplate("n_purchases", "{value:count:purchase:purchases} so far"),
        ReasonTemplate("revenue_total", "revenue of {value:,.0f} so far"),
        ReasonTemplate("revenue_mean", "{value:,.2f} per purchase on average", missing="no purchase yet"),
        ReasonTemplate("refunds_count", "{value:count:refund:refunds}"),
        ReasonTemplate("refunds_amount", "{value:,.0f} refunded"),
        ReasonTemplate(r"purchases_(?P<days>\d+)d", "{value:count:purchase:purchases} in the last {days} days",
                       regex=True),
        ReasonTemplate(r"purchases_(?P<days>\d+)d_prev", "{value:count:purchase:purchases} in the {days} days "
                       "before the last {days}", regex=True),
        ReasonTemplate(r"purchases_trend_(?P<days>\d+)d", "{value:+.0f} purchases in the last {days} days vs the "
                       "{days} before", regex=True),
        ReasonTemplate(r"revenue_(?P<days>\d+)d", "revenue of {value:,.0f} in the last {days} days", regex=True),
        ReasonTemplate(r"revenue_(?P<days>\d+)d_prev", "revenue of {value:,.0f} in the {days} days before the "
                       "last {days}", regex=True),
        ReasonTemplate(r"revenue_trend_(?P<days>\d+)d", "revenue {value:+,.0f} in the last {days} days vs the "
                       "{days} before", regex=True),
        ReasonTemplate(r"interactions_(?P<days>\d+)d", "{value:count:interaction:interactions} in the last {days} "
                       "days", regex=True),
        ReasonTemplate("days_since_interaction", "last interaction {value:count:day:days} ago",
                       missing="no interaction yet"),
        ReasonTemplate(r"events_(?P<days>\d+)d", "{value:count:activity:activities} in the last {days} days",
                       regex=True),
        ReasonTemplate("events_total", "{value:count:activity:activities} so far"),
        ReasonTemplate("days_since_event", "last activity {value:count:day:days} ago", missing="no activity yet"),
        ReasonTemplate("invoices_paid_late", "{value:.0f} of {invoices_paid:count:invoice:invoices} paid late"),
        ReasonTemplate("invoice_share_paid_late", "{value:.0%} of {invoices_paid:count:invoice:invoices} paid late",
                       missing="no invoice paid yet"),
        ReasonTemplate("invoice_days_late_mean", "invoices paid {value:count:day:days} late on average",
                       missing="no invoice paid yet"),
        ReasonTemplate("invoice_days_late_max", "an invoice paid {value:count:day:days} late",
                       missing="no invoice paid yet"),
        ReasonTemplate("invoices_unpaid_overdue", "{value:count:overdue invoice:overdue invoices}"),
        ReasonTemplate("invoices_overdue_amount", "{value:,.0f} overdue"),
        ReasonTemplate("invoice_days_overdue_max", "an invoice overdue for {value:count:day:days}"),
        ReasonTemplate("days_to_term_end", "contract term ends in {value:count:day:days}",
                       missing="no running contract"),
        ReasonTemplate("days_in_current_term", "{value:count:day:days} into the contract term",
                       missing="no running contract"),
        ReasonTemplate("months_under_contract", "{value:count:month:months} under contract"),
        ReasonTemplate("subscriptions_active", "{value:count:active subscription:active subscriptions}"),
        ReasonTemplate("subscriptions_ended", "{value:count:ended subscription:ended subscriptions}"),
        ReasonTemplate("mrr", "monthly recurring revenue of {value:,.0f}"),
        ReasonTemplate("contacts_total", "{value:count:contact:contacts} in the buying center"),
        ReasonTemplate("contacts_lost", "{value:count:buying-center contact:buying-center contacts} gone silent "
                       "(active in the past year, no interaction recently)"),
        ReasonTemplate("contact_roles", "{value:count:buying-center role:buying-center roles} covered"),
        ReasonTemplate(r"contacts_(?P<role>[a-z_]+)", "{role} contacts: {value}", regex=True),
        ReasonTemplate("age_days", "open for {value:count:day:days}"),
        ReasonTemplate("days_to_expected_close", "expected to close in {value:count:day:days}"),
        ReasonTemplate("n_close_slips", "close date pushed {value:count:time:times}"),
        ReasonTemplate("days_in_stage", "{value:count:day:days} in the current stage"),
        ReasonTemplate("days_since_update", "last update {value:count:day:days} ago"),
        ReasonTemplate("owner_win_rate", "owner wins {value:.0%} of closed deals", missing="owner has no closed deal"),
    ]
    for key, (one, many) in _INTERACTION_NOUNS.items():
        for prefix in ("interactions", "events", "account_interactions"):
            t.append(ReasonTemplate(rf"{prefix}_{key}_(?P<days>\d+)d",
                                    f"{{value:count:{one}:{many}}} in the last {{days}} days", regex=True))
        t.append(ReasonTemplate(f"days_since_{key}", f"last {one} {{value:count:day:days}} ago",
                                missing=f"no {one} yet"))
    return ReasonTemplates(t)
