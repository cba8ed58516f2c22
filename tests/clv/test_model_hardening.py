"""CLVModel under real-world input: populations, stale state, wording, contracts, default as_of."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from crmml.clv import CLVModel
from crmml.data import CRMTables, ExclusionReport, load_tables
from crmml.exceptions import DataContractError, MissingTableError, NotFittedError, ParameterError


def _shop() -> dict[str, pd.DataFrame]:
    """A small synthetic shop plus a refund-only customer, one who never bought and one who signs up later."""
    from crmml.synthetic import make_b2c_world

    t = make_b2c_world(400, seed=3).tables
    tx, customers = t.transactions, t.customers
    extra_tx = pd.DataFrame({"transaction_id": ["refund-1"], "customer_id": ["refunder"],
                             "ts": [pd.Timestamp("2024-04-01")], "amount": [-15.0]})
    extra_c = pd.DataFrame({"customer_id": ["refunder", "never", "late_signup"],
                            "signup_at": pd.to_datetime(["2023-12-01", "2023-12-01", "2025-06-01"])})
    return {"customers": pd.concat([customers, extra_c], ignore_index=True),
            "transactions": pd.concat([tx, extra_tx], ignore_index=True)}


AS_OF = "2025-01-01"


def test_every_customer_of_the_population_is_scored_or_reported():
    tables = load_tables(_shop())
    as_of = AS_OF
    model = CLVModel().fit(tables, as_of)
    report = ExclusionReport()
    scores = model.score(tables, as_of, report=report)
    entities = {e["rule"]: e["n_rows"] for e in report.to_dict() if e["unit"] == "entities"}
    assert entities == {
        "no purchase before as_of (nothing to project from; not scored)": 1,
        "only refunds or missing amounts before as_of (no purchase; not scored)": 1,
    }
    population = set(tables.customers.customer_id[tables.customers.signup_at < pd.Timestamp(as_of)])
    assert len(population) == len(scores) + sum(entities.values())
    assert {"never", "refunder"}.isdisjoint(scores.index)
    assert "late_signup" not in population  # signed up after as_of: not a customer yet, not an exclusion


def test_entity_exclusions_are_logged_with_the_fit():
    model = CLVModel().fit(load_tables(_shop()), AS_OF)
    units = {(e["rule"].split(" (")[0], e["unit"]) for e in model.exclusions_}
    assert ("no purchase before as_of", "entities") in units


def test_transactions_of_customers_missing_from_customers_are_reported_as_entities():
    shop = _shop()
    tx = shop["transactions"]
    once = tx[(tx.amount > 0) & (tx.ts < pd.Timestamp(AS_OF))].customer_id.value_counts().index[-1]
    shop["customers"] = shop["customers"][shop["customers"].customer_id != once]
    tables = load_tables(shop, validate=False)
    report = ExclusionReport()
    CLVModel().fit(tables, AS_OF).score(tables, AS_OF, report=report)
    rules = {e["rule"]: (e["n_rows"], e["unit"]) for e in report.to_dict()}
    assert rules["customer_id in transactions but not in the customers table (their transactions are excluded; "
                 "not scored)"] == (1, "entities")
    n_rows = int(((shop["transactions"].customer_id == once) & (shop["transactions"].ts < pd.Timestamp(AS_OF))).sum())
    assert rules["customer_id not in customers"] == (n_rows, "rows")


def test_changing_a_parameter_unfits_the_model():
    tables = load_tables(_shop())
    model = CLVModel().fit(tables, AS_OF)
    model.set_params(horizon_days=365)  # unchanged value: still fitted
    assert model.score(tables, AS_OF).shape[0] > 0
    model.set_params(discount_rate=0.2)
    with pytest.raises(NotFittedError, match="This CLVModel instance is not fitted yet"):
        model.score(tables, AS_OF)
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]


def test_set_params_names_unknown_parameters():
    with pytest.raises(ParameterError, match=r"Invalid parameter\(s\) 'horizon' for CLVModel; valid parameters are: "
                                             "alive_threshold, business"):
        CLVModel().set_params(horizon=3)


def test_nobody_repeating_is_worded_for_tables_not_summaries():
    tx = pd.DataFrame({"transaction_id": [f"t{i}" for i in range(20)], "customer_id": [f"c{i}" for i in range(20)],
                       "ts": pd.date_range("2024-01-01", periods=20, freq="7D"), "amount": 10.0})
    with pytest.raises(DataContractError) as err:
        CLVModel().fit(load_tables({"transactions": tx}), AS_OF)
    text = str(err.value)
    assert "transactions: at least one customer with purchases in two different days before as_of=2025-01-01 " \
           "(got 20 customer(s), none of whom bought again with a positive amount)" in text
    assert "summary" not in text


def test_contractual_mode_without_subscriptions_names_the_table():
    tables = load_tables(_shop())
    with pytest.raises(MissingTableError, match=r"subscriptions: table is required by CLVModel.fit "
                                                r"\(business='contractual'\)"):
        CLVModel(business="contractual").fit(tables, AS_OF)


def test_non_finite_amounts_in_hand_built_tables_name_the_column():
    shop = load_tables(_shop())
    tx = shop.transactions.copy()
    tx.loc[3, "amount"] = np.inf
    with pytest.raises(DataContractError, match=r"transactions.amount: must be a finite number \(got ±inf\) — 1 row"):
        CLVModel().fit(CRMTables(customers=shop.customers, transactions=tx), AS_OF)


def test_default_as_of_ignores_a_row_typed_in_the_future(caplog):
    shop = _shop()
    tx = shop["transactions"]
    typo = pd.DataFrame({"transaction_id": ["typo"], "customer_id": [tx.customer_id.iloc[0]], "ts": [pd.Timestamp("2205-01-01")],
                         "amount": [10.0]})
    shop["transactions"] = pd.concat([tx, typo], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="crmml"):
        model = CLVModel().fit(load_tables(shop))
    assert model.as_of_ == (tx.ts.max() + pd.Timedelta(days=1)).normalize()
    future = [e for e in model.exclusions_ if "in the future" in e["rule"]]
    assert future == [{"table": "transactions", "n_rows": 1, "unit": "rows",
                       "rule": future[0]["rule"]}] and future[0]["rule"].startswith("dated after now (")
    assert any("in the future" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def _contracts() -> dict[str, pd.DataFrame]:
    """Accounts with annual renewals: some churned after 1-2 years, one open-ended 1,000/month contract."""
    rows = []
    for i in range(30):
        start = pd.Timestamp("2021-01-01") + pd.Timedelta(days=10 * i)
        years = 1 + i % 3
        end = start + pd.Timedelta(days=365 * years) if i % 2 else None
        rows.append((f"s{i}", f"a{i}", start, end, 100.0 + i))
    rows.append(("open", "acme", pd.Timestamp("2023-01-01"), None, 1000.0))
    subs = pd.DataFrame(rows, columns=["subscription_id", "customer_id", "start_at", "end_at", "monthly_value"])
    customers = pd.DataFrame({"customer_id": [*sorted(set(subs.customer_id)), "prospect"],
                              "signup_at": pd.Timestamp("2020-06-01")})
    return {"customers": customers, "subscriptions": subs}


def test_open_ended_subscription_is_valued_as_a_running_contract():
    tables = load_tables(_contracts())
    as_of = "2025-06-01"
    model = CLVModel(business="contractual", horizon_days=365, discount_rate=0.1).fit(tables, as_of)
    feats = model.build_features(tables, as_of).set_index("customer_id")
    assert feats.loc["acme", "days_into_term"] == 152.0  # 2025-01-01 .. 2025-06-01, third annual term
    assert feats.loc["acme", "tenure_periods"] == 2.0
    report = ExclusionReport()
    scores = model.score(tables, as_of, report=report)
    remaining = (365 - 152) / 365
    # A one-year horizon is the rest of the running term, contracted and undiscounted: 12 × 1,000 × 213/365.
    assert scores.loc["acme", "expected_revenue"] == pytest.approx(12_000 * remaining, rel=1e-12)
    assert scores.loc["acme", "clv"] == pytest.approx(12_000 * remaining, rel=1e-12)
    entities = {e["rule"].split(" (")[0]: e["n_rows"] for e in report.to_dict() if e["unit"] == "entities"}
    assert entities["no subscription before as_of"] == 1  # the prospect
    assert entities["no running subscription at as_of"] == 15  # the churned accounts


def test_contract_term_is_the_same_in_clv_and_customer_features():
    from crmml.features import customer_features

    tables = load_tables(_contracts())
    clv = CLVModel(business="contractual").fit(tables, "2025-06-01").build_features(tables, "2025-06-01")
    cf = customer_features(tables, "2025-06-01")
    joined = clv.set_index("customer_id").join(cf["days_in_current_term"])
    np.testing.assert_array_equal(joined["days_into_term"], joined["days_in_current_term"])


@pytest.mark.parametrize(("old", "new", "match"), [
    ('"margin": 0.', '"margin": NaN, "_m": 0.', r"model.json: margin: .*NaN"),
    ('"champion_threshold": ', '"champion_threshold": Infinity, "x": ', r"model.json: champion_threshold: .*Infinity"),
    ('"r": ', '"r": -1, "_r": ', r"model.json: (transaction_model.params.r: expected a finite number > 0; got -1|"
                                 r"transaction_model.params: unknown key '_r')"),
])
def test_hand_edited_and_rehashed_model_json_is_incompatible(tmp_path, old, new, match):
    """An edit whose checksum was updated too (so it is not caught as tampering) is still refused by field."""
    import hashlib
    import json

    from crmml._artifact import MANIFEST
    from crmml.exceptions import IncompatibleArtifactError

    path = CLVModel().fit(load_tables(_shop()), AS_OF).save(tmp_path / "m")
    body = (path / "model.json").read_text()
    assert old in body
    at = body.rindex(old) if old.startswith('"margin"') else body.index(old)  # the learned margin, not config's
    edited = (body[:at] + new + body[at + len(old):]).encode()
    (path / "model.json").write_bytes(edited)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"]["model.json"] = {"sha256": hashlib.sha256(edited).hexdigest(), "size": len(edited)}
    (path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleArtifactError, match=match):
        CLVModel.load(path)
