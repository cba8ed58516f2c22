"""B2B world: determinism, contract invariants and the latent truth driving outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmml.data import DEFAULT_CLOSED_STAGES, DEFAULT_OPEN_STAGES, validate_tables
from crmml.exceptions import ParameterError
from crmml.synthetic import B2BParams, make_b2b_world

DAY = np.timedelta64(1, "D")


def test_same_seed_gives_identical_world():
    a, b = make_b2b_world(80, seed=5), make_b2b_world(80, seed=5)
    for name, df in a.tables.items():
        pd.testing.assert_frame_equal(df, b.tables[name])
    for name, df in a.truth.items():
        pd.testing.assert_frame_equal(df, b.truth[name])


def test_world_validates_against_the_contract(b2b_world):
    assert validate_tables(b2b_world.tables) is None  # raises DataContractError listing any problem


def test_keys_unique_and_foreign_keys_valid(b2b_world):
    t = b2b_world.tables
    for name, key in (("customers", "customer_id"), ("contacts", "contact_id"),
                      ("subscriptions", "subscription_id"), ("invoices", "invoice_id"),
                      ("interactions", "interaction_id"), ("leads", "lead_id"),
                      ("opportunities", "opportunity_id")):
        assert t[name][key].is_unique, name
    accounts = set(t.customers["customer_id"])
    for name in ("contacts", "subscriptions", "invoices", "interactions", "opportunities"):
        assert set(t[name]["customer_id"]) <= accounts, name
    assert set(t.interactions["contact_id"]) <= set(t.contacts["contact_id"])
    assert set(t.lead_events["lead_id"]) <= set(t.leads["lead_id"])
    assert set(t.opportunity_history["opportunity_id"]) == set(t.opportunities["opportunity_id"])


def test_every_time_lies_in_the_window(b2b_world):
    t, lo, hi = b2b_world.tables, b2b_world.start, b2b_world.end
    cols = {"customers": ["signup_at"], "contacts": ["created_at"], "subscriptions": ["start_at", "end_at"],
            "invoices": ["issued_at", "paid_at"], "interactions": ["ts"], "leads": ["created_at", "converted_at"],
            "lead_events": ["ts"], "opportunities": ["created_at", "closed_at"], "opportunity_history": ["ts"]}
    for name, cs in cols.items():
        for c in cs:
            s = t[name][c].dropna()
            assert s.min() >= lo and s.max() < hi, f"{name}.{c}"


def test_interactions_use_contacts_that_already_exist(b2b_world):
    t = b2b_world.tables
    created = t.contacts.set_index("contact_id")["created_at"]
    it = t.interactions
    assert (created.reindex(it["contact_id"]).to_numpy() <= it["ts"].to_numpy()).all()
    same = t.contacts.set_index("contact_id")["customer_id"].reindex(it["contact_id"]).to_numpy()
    assert (same == it["customer_id"].to_numpy()).all()


def test_buying_centers_grow_with_account_size(b2b_world):
    t = b2b_world.tables
    n = t.contacts.groupby("customer_id").size()
    assert n.min() >= 2 and n.max() <= 8
    emp = t.customers.set_index("customer_id")["employees"].reindex(n.index)
    assert stats.spearmanr(emp, n).statistic > 0.2
    first_roles = t.contacts.sort_values("created_at").groupby("customer_id")["role"].first()
    assert set(t.contacts["role"]) == {"purchasing", "technical", "management", "user"}
    assert (first_roles == "purchasing").all()


def test_subscription_terms_are_annual_and_contiguous(b2b_world):
    subs = b2b_world.tables.subscriptions.sort_values(["customer_id", "start_at"])
    ended = subs["end_at"].notna()
    assert ((subs.loc[ended, "end_at"] - subs.loc[ended, "start_at"]) / DAY == 365).all()
    # a running term (end_at NaT) would end after the world's end
    running = subs.loc[~ended]
    assert (running["start_at"] + pd.Timedelta(days=365) >= b2b_world.end).all()
    assert running["customer_id"].is_unique
    nxt = subs.groupby("customer_id")["start_at"].shift(-1)
    has_next = nxt.notna()
    assert (nxt[has_next] == subs.loc[has_next, "end_at"]).all()  # renewal starts when the term ends
    assert (subs["monthly_value"] > 0).all()
    grow = subs.groupby("customer_id")["monthly_value"].diff().dropna()
    assert (grow >= 0).all()


def test_churned_accounts_match_their_last_term(b2b_world):
    subs = b2b_world.tables.subscriptions
    last = subs.sort_values("start_at").groupby("customer_id").tail(1).set_index("customer_id")
    acc = b2b_world.truth["accounts"].set_index("customer_id")
    churned = acc.loc[last.index, "churned_at"]
    pd.testing.assert_series_equal(churned, last["end_at"], check_names=False)
    assert acc.loc[~acc["subscribed"], "churned_at"].isna().all()


def test_renewal_probability_drives_renewals(b2b_world):
    r = b2b_world.truth["renewals"]
    r = r[r["decided_in_window"]]
    lo = r["renewal_probability"] < r["renewal_probability"].median()
    assert r.loc[~lo, "renewed"].mean() > r.loc[lo, "renewed"].mean() + 0.1
    # the realised renewal rate matches the mean probability (calibrated truth)
    assert r["renewed"].mean() == pytest.approx(r["renewal_probability"].mean(), abs=0.05)


def test_churned_accounts_had_lower_health(b2b_world):
    acc = b2b_world.truth["accounts"]
    sub = acc[acc["subscribed"]]
    churned = sub["churned_at"].notna()
    assert sub.loc[churned, "health_mean"].mean() < sub.loc[~churned, "health_mean"].mean() - 0.2


def test_invoices_are_monthly_and_late_payment_follows_low_health(b2b_world):
    t, months = b2b_world.tables, b2b_world.truth["account_months"]
    inv = t.invoices
    assert (inv["due_at"] >= inv["issued_at"]).all()
    assert ((inv["due_at"] - inv["issued_at"]) / DAY == 30).all()
    assert (inv["paid_at"].dropna() >= inv.loc[inv["paid_at"].notna(), "issued_at"]).all()
    assert inv["paid_at"].isna().any()
    per_sub = t.subscriptions.set_index("customer_id")
    assert set(inv["amount"].round(2)) <= set(per_sub["monthly_value"].round(2))
    acc = b2b_world.truth["accounts"].set_index("customer_id")
    delay = ((inv["paid_at"] - inv["issued_at"]) / DAY).groupby(inv["customer_id"]).mean().dropna()
    health = acc["health_mean"].reindex(delay.index)
    assert stats.spearmanr(health, delay).statistic < -0.3
    assert len(months) == len(acc) * months["month_start"].nunique()


def test_usage_weakens_before_non_renewal(b2b_world):
    it = b2b_world.tables.interactions
    acc = b2b_world.truth["accounts"].set_index("customer_id")
    churned = acc["churned_at"].dropna()
    churned = churned[churned - acc.loc[churned.index, "first_subscription_at"] > pd.Timedelta(days=300)]
    logins = it[it["type"] == "login"]
    when = churned.reindex(logins["customer_id"]).to_numpy()
    days_before = (when - logins["ts"].to_numpy()) / DAY
    last_quarter = ((days_before > 0) & (days_before <= 60)).sum()
    earlier = ((days_before > 180) & (days_before <= 240)).sum()
    assert last_quarter < 0.7 * earlier


def test_opportunity_snapshot_agrees_with_history(b2b_world):
    t = b2b_world.tables
    opp = t.opportunities.set_index("opportunity_id")
    hist = t.opportunity_history
    assert set(opp["stage"]) <= set(DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES)
    assert set(hist["stage"]) <= set(DEFAULT_OPEN_STAGES + DEFAULT_CLOSED_STAGES)
    assert (hist.groupby("opportunity_id")["ts"].apply(lambda s: s.is_monotonic_increasing)).all()
    first = hist.groupby("opportunity_id").head(1).set_index("opportunity_id")
    assert (first["ts"] == opp.loc[first.index, "created_at"]).all()
    assert (first["stage"] == "qualification").all()
    last = hist.groupby("opportunity_id").tail(1).set_index("opportunity_id")
    for c in ("stage", "amount", "expected_close_at"):
        assert (last[c] == opp.loc[last.index, c]).all(), c
    closed = opp["closed_at"].notna()
    assert (opp.loc[closed, "closed_at"] >= opp.loc[closed, "created_at"]).all()
    assert opp.loc[closed, "stage"].isin(DEFAULT_CLOSED_STAGES).all()
    assert opp.loc[~closed, "stage"].isin(DEFAULT_OPEN_STAGES).all()
    assert opp.loc[~closed, "won"].isna().all()
    won = opp.loc[closed, "won"].astype(bool)
    assert (won == (opp.loc[closed, "stage"] == "closed_won")).all()
    assert (opp["amount"] >= 0).all() and (hist["amount"] >= 0).all()
    assert str(opp["won"].dtype) == "boolean"


def test_win_rate_increases_with_true_win_probability(b2b_world):
    truth = b2b_world.truth["opportunities"]
    opp = b2b_world.tables.opportunities.set_index("opportunity_id")
    t = truth[truth["closed_in_window"]].set_index("opportunity_id")
    observed = opp.loc[t.index, "won"].astype(bool)
    assert (observed == t["won"]).all()
    bins = pd.qcut(t["win_probability"], 3, labels=False)
    rates = observed.groupby(bins).mean()
    assert rates.is_monotonic_increasing and rates.iloc[-1] > rates.iloc[0] + 0.2


def test_low_propensity_deals_slip_more(b2b_world):
    hist = b2b_world.tables.opportunity_history
    truth = b2b_world.truth["opportunities"].set_index("opportunity_id")
    changed = hist.groupby("opportunity_id")["expected_close_at"].apply(lambda s: s.iloc[:-1].nunique() - 1)
    prob = truth.loc[changed.index, "win_probability"]
    assert changed[prob < 0.4].mean() > changed[prob > 0.8].mean()


def test_conversion_rate_increases_with_true_propensity(b2b_world):
    truth = b2b_world.truth["leads"]
    leads = b2b_world.tables.leads.set_index("lead_id")
    assert (leads.loc[truth["lead_id"], "converted_at"].notna().to_numpy() == truth["converted"].to_numpy()).all()
    bins = pd.qcut(truth["conversion_probability"], 4, labels=False)
    rates = truth["will_convert"].groupby(bins).mean()
    assert rates.is_monotonic_increasing and rates.iloc[-1] > rates.iloc[0] + 0.2
    assert truth["will_convert"].mean() == pytest.approx(truth["conversion_probability"].mean(), abs=0.03)


def test_lead_events_rise_with_propensity_and_cluster_before_conversion(b2b_world):
    t, truth = b2b_world.tables, b2b_world.truth["leads"].set_index("lead_id")
    ev = t.lead_events
    n = ev.groupby("lead_id").size().reindex(truth.index, fill_value=0)
    assert stats.spearmanr(truth["conversion_logit"], n).statistic > 0.2
    conv = t.leads.set_index("lead_id")["converted_at"].reindex(ev["lead_id"]).to_numpy()
    created = t.leads.set_index("lead_id")["created_at"].reindex(ev["lead_id"]).to_numpy()
    assert not (ev["ts"].to_numpy() < created).any()
    before = (conv - ev["ts"].to_numpy()) / DAY
    assert np.nanmax(-before) < 0  # no events after conversion
    last_two_weeks = np.sum(before <= 14)
    assert last_two_weeks > 0.4 * np.isfinite(before).sum()


def test_bad_arguments_are_reported():
    with pytest.raises(ParameterError, match=r"The 'n_accounts' parameter of make_b2b_world must be an int >= 1\. Got 0 instead\."):
        make_b2b_world(0)
    with pytest.raises(ParameterError, match=r"The 'skip_prob' parameter of B2BParams must be a float in the range \[0, 1\]\. Got 2 instead\."):
        make_b2b_world(10, params=B2BParams(skip_prob=2))


def test_params_round_trip():
    p = B2BParams(health_phi=0.8)
    assert B2BParams.from_dict(p.to_dict()) == p
