"""Reason templates: plain words for values, safe format fields, vectorised rendering, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmml._payload import Payload
from crmml.exceptions import IncompatibleArtifactError, ParameterError
from crmml.supervised import ReasonTemplate, ReasonTemplates, crm_templates
from crmml.supervised import _templates as tpl

NAN = float("nan")


@pytest.mark.parametrize("feature, values, text", [
    ("recency_days", {"value": 124.0, "purchase_interval_days": 31.2}, "no purchase for 124 days — usually every 31"),
    ("recency_days", {"value": 1.0}, "no purchase for 1 day"),
    ("recency_days", {"value": NAN}, "no purchase yet"),
    ("interactions_complaint_90d", {"value": 3.0}, "3 complaints in the last 90 days"),
    ("interactions_complaint_30d", {"value": 1.0}, "1 complaint in the last 30 days"),
    ("interactions_support_ticket_365d", {"value": 2.0}, "2 support tickets in the last 365 days"),
    ("invoices_paid_late", {"value": 2.0, "invoices_paid": 14.0}, "2 of 14 invoices paid late"),
    ("invoices_paid_late", {"value": 2.0}, "invoices paid late = 2"),  # context field missing -> default text
    ("invoice_share_paid_late", {"value": 0.25, "invoices_paid": 8.0}, "25% of 8 invoices paid late"),
    ("days_since_complaint", {"value": NAN}, "no complaint yet"),
    ("days_since_login", {"value": 12.4}, "last login 12 days ago"),
    ("purchases_trend_90d", {"value": -3.0}, "-3 purchases in the last 90 days vs the 90 before"),
    ("revenue_365d", {"value": 12345.6}, "revenue of 12,346 in the last 365 days"),
    ("contacts_purchasing", {"value": 2.0}, "purchasing contacts: 2"),
    ("channel", {"value": "web"}, "channel = web"),
    ("is_vip", {"value": True}, "is vip = yes"),
    ("ratio", {"value": 0.333333}, "ratio = 0.33"),
    ("ratio", {"value": NAN}, "ratio unknown"),
])
def test_crm_templates(feature, values, text):
    assert crm_templates().render_one(feature, values) == text


def test_exact_name_wins_over_patterns_and_first_pattern_wins():
    reg = ReasonTemplates([ReasonTemplate(r"x_(?P<n>\d+)", "pattern {n}", regex=True),
                           ReasonTemplate(r"x_.*", "second", regex=True),
                           ReasonTemplate("x_1", "exact {value}")])
    assert reg.render_one("x_1", {"value": 5.0}) == "exact 5"
    assert reg.render_one("x_2", {"value": 5.0}) == "pattern 2"
    assert reg.render_one("x_a", {"value": 5.0}) == "second"


def test_labels_and_extension():
    reg = crm_templates().extended([ReasonTemplate("tenure_days", "with us {value:count:day:days}")],
                                   labels={"nps": "Net promoter score"})
    assert reg.render_one("tenure_days", {"value": 400.0}) == "with us 400 days"
    assert reg.render_one("nps", {"value": 7.0}) == "Net promoter score = 7"
    assert reg.label("recency_days") == "recency days"


@pytest.mark.parametrize("text", ["{value.__class__}", "{value[0]}", "{value!r}", "{value:{width}}", "{0}", "{}",
                                  "{value"])
def test_only_plain_fields_are_allowed(text):
    with pytest.raises(ParameterError, match="reason template"):
        ReasonTemplate("x", text)


def test_bad_patterns_are_refused():
    with pytest.raises(ParameterError, match="is not a regular expression"):
        ReasonTemplate("(", "x", regex=True)
    with pytest.raises(ParameterError, match="names a group \\['value'\\], which is reserved"):
        ReasonTemplate("(?P<value>.*)", "x", regex=True)


def test_a_format_spec_that_does_not_apply_falls_back():
    reg = ReasonTemplates([ReasonTemplate("channel", "via {value:.2f}"), ReasonTemplate("n", "n is {value:>>x}")])
    assert reg.render_one("channel", {"value": "web"}) == "via web"
    assert reg.render_one("n", {"value": 3.0}) == "n is 3"


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from([0.0, -0.0, 1.0, 2.0, 124.4, NAN]),
                                 st.floats(-1e6, 1e6)), min_size=1, max_size=30),
       context=st.lists(st.sampled_from([NAN, 31.0, 7.5]), min_size=30, max_size=30))
def test_vectorised_rendering_equals_one_row_rendering(values, context):
    reg = crm_templates()
    v = np.asarray(values)
    c = np.asarray(context[:len(v)])
    batch = reg.render("recency_days", {"value": v, "purchase_interval_days": c})
    one = [reg.render_one("recency_days", {"value": None if np.isnan(a) else a + 0.0,
                                           "purchase_interval_days": None if np.isnan(b) else b})
           for a, b in zip(v, c, strict=True)]
    assert batch.tolist() == one


HALVES = st.sampled_from([0.5, 1.5, 2.5, -0.5, -0.4, 0.49999999999999994, 1e16 + 2, 999.5, 1000.5, -1.5, NAN])


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(HALVES, st.floats(-1e7, 1e7)), min_size=1, max_size=40),
       other=st.lists(st.one_of(HALVES, st.floats(-1e4, 1e4)), min_size=40, max_size=40),
       spec=st.sampled_from(["count:day:days", ".0f", ",.0f", "+.0f", ">8,.0f", ".1f", ""]))
def test_rounding_before_formatting_never_changes_a_text(values, other, spec):
    reg = ReasonTemplates([ReasonTemplate("x", "x is {value:%s} vs {y:.0f}" % spec, context=" (y {y:count:a:as})"),
                           ReasonTemplate("z", "z is {value:%s}" % spec)])
    v, o = np.asarray(values), np.asarray(other[:len(values)])
    for name, cols in (("x", {"value": v, "y": o}), ("z", {"value": v})):
        batch = reg.render(name, cols)
        one = [reg.render_one(name, {k: None if np.isnan(c[i]) else c[i] + 0.0 for k, c in cols.items()})
               for i in range(len(v))]
        assert batch.tolist() == one


def _formatted(monkeypatch):
    """Record the values the vectorised path formats (one call per field and spec)."""
    calls = []
    real = tpl._format_floats
    monkeypatch.setattr(tpl, "_format_floats", lambda values, spec: calls.extend(values.tolist()) or real(values, spec))
    return calls


def test_integer_formats_are_formatted_once_per_integer(monkeypatch):
    reg = ReasonTemplates([ReasonTemplate("x", "{value:count:day:days}")])
    calls = _formatted(monkeypatch)
    out = reg.render("x", {"value": np.array([1.2, 0.8, 1.4, 2.6, 3.0])})
    assert out.tolist() == ["1 day", "1 day", "1 day", "3 days", "3 days"] and sorted(calls) == [1.0, 3.0]


def test_values_with_the_same_decimals_are_formatted_once(monkeypatch):
    reg = ReasonTemplates([ReasonTemplate("x", "{value:.1f} vs {value:+.1f}"), ReasonTemplate("s", "{value:.0%}"),
                           ReasonTemplate("m", "{value:.1f} vs {value:.2f}")])
    calls = _formatted(monkeypatch)
    out = reg.render("x", {"value": np.array([0.12, 0.1234, 0.0999, -0.01, -0.04, 0.05, 0.0])})
    assert out.tolist() == ["0.1 vs +0.1"] * 3 + ["-0.0 vs -0.0"] * 2 + ["0.1 vs +0.1", "0.0 vs +0.0"]
    assert len(calls) == 2 * 4  # 0.1, -0.0, 0.05 (too close to a half to share) and 0.0, for each spec
    calls.clear()
    assert reg.render("s", {"value": np.array([0.251, 0.2549, 0.9999, 0.125, 0.125])}).tolist() == [
        "25%", "25%", "100%", "12%", "12%"]
    assert len(calls) == 3  # 0.125 * 100 is a tie: formatted on its own (once)
    calls.clear()
    assert reg.render("m", {"value": np.array([0.12, 0.1234])}).tolist() == ["0.1 vs 0.12"] * 2
    assert len(calls) == 4  # different places: no sharing


def test_render_decodes_categories():
    reg = ReasonTemplates()
    out = reg.render("channel", {"value": np.array([0.0, 1.0, np.nan, 0.0])},
                     {"value": lambda code: ("store", "web")[int(code)]})
    assert out.tolist() == ["channel = store", "channel = web", "channel unknown", "channel = store"]


def test_round_trip_and_tampering():
    reg = crm_templates().extended(labels={"nps": "NPS"})
    back = ReasonTemplates.from_dict(Payload.parse(json.dumps(reg.to_dict()), source="supervised.json"))
    assert back == reg
    d = reg.to_dict()
    d["templates"][3]["text"] = "{value.__globals__}"
    with pytest.raises(IncompatibleArtifactError, match=r"supervised\.json: templates\[3\]: expected a valid reason "
                                                        r"template \(The text '\{value\.__globals__\}'"):
        ReasonTemplates.from_dict(Payload.parse(json.dumps(d), source="supervised.json"))
    d = reg.to_dict()
    d["labels"]["nps"] = 3
    with pytest.raises(IncompatibleArtifactError, match=r"supervised\.json: labels\.nps: expected a string"):
        ReasonTemplates.from_dict(Payload.parse(json.dumps(d), source="supervised.json"))


# ---------------------------------------------------------------------- vectorised rendering == one row at a time
SPECS = ["", ".0f", ".1f", "+.1f", ",.2f", ".0%", ".1%", "+,.1%", "count:day:days", "count:x", ">8,.0f", "z.1f",
         "#.0f", "08.3F", "_>9.2f", ".2e", ".3", "g", "d", ">>x", "s"]
TIES = [0.5, 1.5, 2.5, -0.5, 0.05, 0.15, 0.25, 0.35, -0.05, 1.005, 2.675, 0.125, 0.375, 0.005, 0.0005, 0.255, 0.495,
        0.4999999999999999, 1e10 + 0.05, 1e-300, -1e-300, 5e-324, 2.0 ** 53, 2.0 ** 40 / 10, 1e15, 1e16, 123456.785]


def _near(x: float, ulps: int) -> float:
    for _ in range(abs(ulps)):
        x = float(np.nextafter(x, np.inf if ulps > 0 else -np.inf))
    return x


FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 3.0, NAN, np.inf, -np.inf]),
    st.builds(_near, st.sampled_from(TIES), st.integers(-2, 2)),
    st.builds(lambda k, p: (k + 0.5) / 10.0 ** p, st.integers(-3000, 3000), st.integers(0, 4)),
    st.integers(-10 ** 6, 10 ** 6).map(float),
    st.builds(lambda k, p: k / 10.0 ** p, st.integers(-30000, 30000), st.integers(1, 5)),  # shared leading decimals
    st.builds(_near, st.sampled_from([1e15, 2.0 ** 40, 2.0 ** 40 / 10, 2.0 ** 40 / 100, 2.0 ** 40 / 1000]),
              st.integers(-40, 40)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e4, 1e4),
)
_PART = st.tuples(st.sampled_from(["", "a ", " — ", "{{", "}} "]),
                  st.sampled_from(["value", "value", "label", "y", "w", "n", "absent"]), st.sampled_from(SPECS))


def _template_text(parts):
    return "".join(f"{lit}{{{field}{':' + spec if spec else ''}}}" for lit, field, spec in parts)


def _one_row(reg, name, cols, decode, i):
    values = {}
    for k, c in cols.items():
        v = float(c[i]) + 0.0
        values[k] = None if np.isnan(v) else (decode[k](v) if k in decode else v)
    return reg.render_one(name, values)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_vectorised_rendering_equals_render_one(data):
    text = data.draw(st.lists(_PART, min_size=0, max_size=3).map(_template_text))
    context = data.draw(st.one_of(st.none(), st.lists(_PART, min_size=1, max_size=2).map(_template_text)))
    missing = data.draw(st.one_of(st.none(), st.just(""), st.lists(_PART, min_size=1, max_size=2).map(_template_text)))
    reg = ReasonTemplates([ReasonTemplate(r"x_(?P<n>\d+)", text, context=context, missing=missing, regex=True)],
                          labels=data.draw(st.sampled_from([{}, {"x_30": "Thirty"}])))
    n = data.draw(st.integers(1, 60))
    pool = data.draw(st.lists(FLOATS, min_size=1, max_size=12))
    column = st.lists(st.sampled_from(pool), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.float64))
    cols = {"value": data.draw(column)}
    decode = {}
    if data.draw(st.booleans()):
        cols["y"] = data.draw(column)
    if data.draw(st.booleans()):  # a categorical (code 2 is not a level) or a bool
        cols["w"] = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, -0.0, NAN]), min_size=n, max_size=n)))
        decode["w"] = data.draw(st.sampled_from([lambda v: ("store", "web")[int(v)] if 0 <= v < 2 else None,
                                                 lambda v: bool(v)]))
    if data.draw(st.booleans()):  # the feature's own value decoded
        cols["value"] = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, NAN]), min_size=n, max_size=n)))
        decode["value"] = lambda v: ("a", "b")[int(v)] if v < 2 else None
    batch = reg.render("x_30", cols, decode)
    assert batch.dtype == object and len(batch) == n
    assert batch.tolist() == [_one_row(reg, "x_30", cols, decode, i) for i in range(n)]
    texts, codes = reg.render_codes("x_30", cols, decode)
    assert texts[codes].tolist() == batch.tolist()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(FLOATS, min_size=1, max_size=40), spec=st.sampled_from(SPECS))
def test_formatting_many_floats_equals_one_at_a_time(values, spec):
    v = np.array([x for x in values if not np.isnan(x)] or [0.0])
    assert tpl._format_floats(v, spec) == [tpl._format(x, spec) for x in v.tolist()]


def test_render_of_no_rows_and_of_constant_texts():
    reg = ReasonTemplates([ReasonTemplate("x", "always", missing="")])
    assert reg.render("x", {"value": np.array([])}).tolist() == []
    texts, codes = reg.render_codes("x", {"value": np.array([])})
    assert texts.dtype == object and codes.tolist() == []
    assert reg.render("x", {"value": np.array([1.0, NAN, 2.0])}).tolist() == ["always", "x unknown", "always"]


def test_a_missing_text_showing_another_field_gets_its_exact_value():
    # the field is shown rounded in the text but with decimals in the missing text: no rounding before formatting
    reg = ReasonTemplates([ReasonTemplate("x", "{value} and {y:.0f}", missing="none, y={y:.2f}")])
    assert reg.render("x", {"value": np.array([NAN, 1.0]), "y": np.array([1.26, 1.26])}).tolist() == [
        "none, y=1.26", "1 and 1"]


_AROUND = [1e15, 2.0 ** 40 / 10, 2.0 ** 40 / 100, 2.0 ** 40 / 1000, 2.0 ** 40 / 1e5, 0.05, 2.0 ** 52 / 10]


@pytest.mark.parametrize("spec", [".1f", ".2f", ".0%", ".1%", "", ",.3f", "+.0f", ">9.1%"])
@pytest.mark.parametrize("values", [[_near(b, u) for b in _AROUND for u in range(-64, 65)],
                                    (np.arange(-3000, 3000) / 1000).tolist(),
                                    (np.arange(-3000, 3000) / 1e5 + 1e-7).tolist()], ids=["large", "milli", "small"])
def test_values_sharing_a_text_are_merged_exactly(spec, values):
    v = np.array(values + [-x for x in values])
    reg = ReasonTemplates([ReasonTemplate("x", f"{{value:{spec}}}" if spec else "{value}")])
    assert reg.render("x", {"value": v}).tolist() == [reg.render_one("x", {"value": x + 0.0}) for x in v.tolist()]
