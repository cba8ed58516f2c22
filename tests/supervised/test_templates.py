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


def test_integer_formats_are_formatted_once_per_integer(monkeypatch):
    reg = ReasonTemplates([ReasonTemplate("x", "{value:count:day:days}")])
    calls = []
    real = reg.render_one
    monkeypatch.setattr(reg, "render_one", lambda *a: calls.append(a) or real(*a))
    out = reg.render("x", {"value": np.array([1.2, 0.8, 1.4, 2.6, 3.0])})
    assert out.tolist() == ["1 day", "1 day", "1 day", "3 days", "3 days"] and len(calls) == 2


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
