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

Rendering many rows (:meth:`ReasonTemplates.render`) is vectorised and equal to
:meth:`ReasonTemplates.render_one` of each row: each field's distinct values are
decoded and formatted once, the texts of the distinct combinations of values
are assembled with NumPy object-array concatenation (a C loop of ``str``
concatenations), and rows take the text of their combination.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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
_FIXED_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?\d*[,_]?\.(\d|1[0-5])([fF%])")


def _shown_specs(r: _Resolved, field: str) -> list[str]:
    """The format specs of every place ``field`` can be shown.

    The default text counts only when the text can fall back to it (it
    refers to a field other than ``value``); the missing text only for
    other fields (it shows ``value`` as ``"unknown"``).
    """
    parts = [*r.text, *(r.context or [])]
    if any(f not in (None, "value") and f not in _RESERVED and f not in r.groups for _, f, _ in r.text):
        parts += r.default
    if field != "value":
        parts += r.missing
    return [spec for _, f, spec in parts if f == field]


def _rounds_to_integer(r: _Resolved, field: str) -> bool:
    """Whether every place ``field`` is shown formats it rounded to a whole number.

    Then values that round to the same integer (half to even, as Python's
    ``round`` and ``format`` do) give the same text, and :meth:`ReasonTemplates.render`
    formats each integer once.
    """
    specs = _shown_specs(r, field)
    return bool(specs) and all(sp.startswith("count:") or _INTEGER_SPEC.fullmatch(sp) is not None for sp in specs)


def _decimal_places(specs: Sequence[str]) -> tuple[bool, int] | None:
    """``(percent, places)`` when every spec shows a number as a function of its sign and ``R(y)``.

    ``R(y)`` is ``y`` rounded half to even to a whole number, with
    ``y = x * 10**places`` for fixed-point specs (``.1f``, ``+,.2f``, ``>8.1f``,
    and the empty spec, whose text is ``.2f`` without trailing zeros) and
    ``y = (x * 100) * 10**places`` for percentages (``.0%``: Python
    multiplies the float by 100 first). Then floats with the same sign and
    ``R(y)`` give the same text (:meth:`ReasonTemplates.render` formats one of
    them); ``None`` when the specs differ in kind or places.
    """
    kinds = set()
    for sp in specs:
        m = _FIXED_SPEC.fullmatch(sp)
        kinds.add((False, 2) if not sp else None if m is None else (m.group(2) == "%", int(m.group(1))))
    return kinds.pop() if len(kinds) == 1 and None not in kinds else None


_EXACT = 2.0 ** 40
"""Products ``y`` at least this large keep a code of their own (merging is exact below ``2**52``; a margin)."""
_TIE = 2.0 ** -12
"""Products ``y`` this close to a half keep a code of their own (exactly a half would do; a margin)."""


def _merged_codes(key: np.ndarray, percent: bool, places: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of floats by ``(sign, R(y))`` (see :func:`_decimal_places`) and one float of each code.

    ``y`` is computed in floating point (``x * 10**places``: one rounding).
    Rounding is monotone and every half-integer below ``2**52`` is a float,
    so a computed ``y`` that is not a half lies between the same halves as
    the exact product and ``rint(y)`` is its ``R``. Floats whose ``y`` is
    large, not finite or near a half (:data:`_EXACT`, :data:`_TIE`) keep a
    code of their own bit pattern.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        y = key * 100.0 if percent else key  # Python's '%' multiplies the same way
        if places:
            y = y * 10.0 ** places  # an exact power of ten: one rounding
        safe = (np.abs(y) < _EXACT) & (np.abs(y - np.floor(y) - 0.5) > _TIE)  # NaN: not safe
    merged = np.rint(y[safe])  # keeps the sign: -0.0 for small negative numbers
    codes = np.empty(len(key), dtype=np.intp)
    inner, merged_keys = pd.factorize(merged.view(np.int64))
    keys = np.empty(len(merged_keys), dtype=np.float64)
    keys[inner] = key[safe]  # any float of a code has its text
    codes[safe] = inner
    if not safe.all():
        rest, rest_keys = pd.factorize(key[~safe].view(np.int64))
        codes[~safe] = rest + len(keys)
        keys = np.concatenate([keys, np.asarray(rest_keys, dtype=np.int64).view(np.float64)])
    return codes, keys


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


# ---------------------------------------------------------------------- many rows at once
def _format_floats(values: np.ndarray, spec: str) -> list[str]:
    """``_format(v, spec)`` of each float of ``values`` (none NaN), C-level loops where possible."""
    if not spec:
        # _smart: whole numbers below 1e15 as integers (str of an int64), the rest one by one
        whole = np.isfinite(values)
        whole[whole] = (np.abs(values[whole]) < 1e15) & (values[whole] == np.floor(values[whole]))
        out = np.empty(len(values), dtype=object)
        out[whole] = np.array(list(map(str, values[whole].astype(np.int64).tolist())), dtype=object)
        out[~whole] = np.array([_smart(v) for v in values[~whole].tolist()], dtype=object)
        return out.tolist()
    vals = values.tolist()
    if not spec.startswith("count:"):
        try:
            return [format(v, spec) for v in vals]  # what _format does when the spec applies
        except ValueError:
            pass
    return [_format(v, spec) for v in vals]


class _Field:
    """One field over many rows: a code per row, each distinct value decoded and formatted once.

    Values are normalised as the rows' values are for :meth:`ReasonTemplates.render_one`
    (``-0.0`` → ``0.0``) and told apart by bit pattern, so a rounded
    ``-0.0`` keeps its sign. Without a decoder, values are rounded to whole
    numbers when every place shows them rounded (:func:`_rounds_to_integer`),
    or else share a code when every place shows them with the same decimal
    places and they give the same text (:func:`_merged_codes`).
    """

    __slots__ = ("_decoded", "_texts", "codes", "keys", "missing")

    def __init__(self, column: np.ndarray, n: int, decode: Callable[[Any], Any] | None, r: _Resolved,
                 field: str) -> None:
        key = np.broadcast_to(np.asarray(column, dtype=np.float64), (n,)) + 0.0  # a new array; -0.0 -> 0.0
        nan = np.isnan(key)
        if nan.any():
            key[nan] = np.nan  # one NaN bit pattern
        places = None
        if decode is None and _rounds_to_integer(r, field):
            np.round(key, out=key)  # same text, far fewer distinct values to format
        elif decode is None:
            places = _decimal_places(_shown_specs(r, field))
        if places is None:
            codes, uniques = pd.factorize(key.view(np.int64))
            keys = np.asarray(uniques, dtype=np.int64).view(np.float64)
        else:
            codes, keys = _merged_codes(key, *places)  # same text, far fewer distinct values to format
        self.keys: np.ndarray = keys
        self.codes: np.ndarray = np.asarray(codes, dtype=np.intp)
        self._decoded: list[Any] | None = None
        if decode is None:
            self.missing: np.ndarray = np.isnan(self.keys)
        else:
            self._decoded = [None if math.isnan(v) else decode(v) for v in self.keys.tolist()]
            self.missing = np.array([_is_missing(d) for d in self._decoded], dtype=bool)
        self._texts: dict[str, np.ndarray] = {}

    def texts(self, spec: str) -> np.ndarray:
        """``_format`` of each distinct value with ``spec`` (object; ``""`` where missing)."""
        hit = self._texts.get(spec)
        if hit is None:
            known = ~self.missing
            if self._decoded is None:
                done = _format_floats(self.keys[known], spec)
            else:
                done = [_format(d, spec) for d, gone in zip(self._decoded, self.missing.tolist(), strict=True)
                        if not gone]
            hit = np.full(len(self.keys), "", dtype=object)
            hit[known] = np.array(done, dtype=object).reshape(-1)
            self._texts[spec] = hit
        return hit


def _combinations(fields: Sequence[_Field]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct combinations of the fields' codes: a combination per row, each field's code per combination."""
    first = fields[0]
    rows, members = first.codes, [np.arange(len(first.keys), dtype=np.intp)]
    for f in fields[1:]:
        m = len(f.keys)
        rows, uniques = pd.factorize(rows * m + f.codes)  # < n * m: no overflow
        uniques = np.asarray(uniques, dtype=np.intp)
        members = [mem[uniques // m] for mem in members] + [uniques % m]
        rows = np.asarray(rows, dtype=np.intp)
    return rows, members


def _concat(pieces: Sequence[str | np.ndarray]) -> str | np.ndarray:
    """Pieces joined row-wise: adjacent literals first, then object-array ``+`` (``str`` concatenation)."""
    merged: list[str | np.ndarray] = []
    for p in pieces:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif not (isinstance(p, str) and not p):
            merged.append(p)
    if not merged:
        return ""
    out = merged[0]
    for p in merged[1:]:
        out = out + p
    return out


def _where(mask: np.ndarray, a: str | np.ndarray, b: str | np.ndarray) -> np.ndarray:
    """``a`` where ``mask`` else ``b``, as an object array (either may be one ``str`` for all rows)."""
    out = np.empty(len(mask), dtype=object)
    out[:] = b
    out[mask] = a if isinstance(a, str) else a[mask]
    return out


def _nonempty(text: str | np.ndarray, n: int) -> np.ndarray:
    """Which of ``n`` texts are not empty (``text`` may be one ``str`` for all)."""
    return np.full(n, text != "") if isinstance(text, str) else np.asarray(text != "", dtype=bool)


class _Combos:
    """The distinct combinations of a feature's fields, and :meth:`ReasonTemplates.render_one` of each."""

    __slots__ = ("fields", "groups", "label", "members")

    def __init__(self, fields: Mapping[str, _Field], members: Mapping[str, np.ndarray], groups: Mapping[str, str],
                 label: str) -> None:
        self.fields, self.members, self.groups, self.label = fields, members, groups, label

    def fill(self, parts: Sequence[Part], sel: np.ndarray, value: str | None = None
             ) -> tuple[str | np.ndarray, np.ndarray]:
        """``_fill`` of the combinations ``sel``: the texts and whether each is complete.

        Fields are looked up as :meth:`ReasonTemplates.render_one` does:
        ``label``, then ``value`` (``value`` when given), pattern groups, the
        columns; a field that is none of these is missing. Where a field is
        missing the text is meaningless (``""`` stands in for it).
        """
        ok = np.ones(len(sel), dtype=bool)
        pieces: list[str | np.ndarray] = []
        for literal, field, spec in parts:
            pieces.append(literal)
            if field is None:
                continue
            if field == "label":
                pieces.append(_format(self.label, spec))
            elif field == "value" and value is not None:
                pieces.append(_format(value, spec))
            elif field in self.groups:
                pieces.append(_format(self.groups[field], spec))
            elif field in self.fields:
                at = self.members[field][sel]
                ok &= ~self.fields[field].missing[at]
                pieces.append(self.fields[field].texts(spec)[at])
            else:
                ok[:] = False
        return _concat(pieces), ok

    def render(self, r: _Resolved) -> np.ndarray:
        """The text of every combination (object array)."""
        gone = self.fields["value"].missing[self.members["value"]]
        out = np.empty(len(gone), dtype=object)
        absent = np.flatnonzero(gone)
        if absent.size:
            # _fill(missing, value="unknown") or "<label> unknown"
            text, ok = self.fill(r.missing, absent, value="unknown")
            out[absent] = _where(ok & _nonempty(text, len(absent)), text, self.label + " unknown")
        present = np.flatnonzero(~gone)
        if present.size:
            text, ok = self.fill(r.text, present)
            full = _where(ok, text, "")
            bad = np.flatnonzero(~ok)
            if bad.size:
                # _fill(default) or ""
                default, dok = self.fill(r.default, present[bad])
                full[bad] = _where(dok & _nonempty(default, len(bad)), default, "")
            if r.context is not None:
                ctx, cok = self.fill(r.context, present)
                if cok.any():
                    full[cok] = full[cok] + (ctx if isinstance(ctx, str) else ctx[cok])
            out[present] = full
        return out


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
        """Texts for many rows of one feature, equal to :meth:`render_one` of each row.

        Each field's distinct values are decoded and formatted once, and the
        texts of the distinct combinations are assembled with object-array
        concatenation (see :meth:`render_codes`).

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
        texts, codes = self.render_codes(feature, columns, decode)
        return texts[codes]

    def render_codes(self, feature: str, columns: Mapping[str, np.ndarray],
                     decode: Mapping[str, Callable[[Any], Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`render` as distinct texts and, per row, the position of its text.

        ``texts[codes]`` is the result of :meth:`render`; ``texts`` holds one
        text per distinct combination of the fields' values (texts may repeat).

        Parameters
        ----------
        feature : str
        columns, decode : mapping
            As for :meth:`render`.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Texts (object, str) and codes (intp, one per row).
        """
        value = np.asarray(columns["value"], dtype=np.float64)
        if value.ndim != 1:
            raise ParameterError(f"render expects 1-D columns; got the shape {value.shape} for 'value'.")
        if len(value) == 0:
            return np.empty(0, dtype=object), np.empty(0, dtype=np.intp)
        r = self.resolve(feature)
        names = ["value", *sorted(k for k in r.others if k in columns)]
        dec = decode or {}
        fields = {k: _Field(value if k == "value" else columns[k], len(value), dec.get(k), r, k) for k in names}
        codes, members = _combinations([fields[k] for k in names])
        combos = _Combos(fields, dict(zip(names, members, strict=True)), r.groups, self.label(feature))
        return combos.render(r), codes

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
