"""One conformance suite over every registered model kind (like scikit-learn's ``parametrize_with_checks``).

Every kind in :data:`crmml.scoring.KINDS` must have a factory in
:data:`FACTORIES`; each factory returns one or more :class:`Case` s (a model
configuration on a small synthetic world, fixed seeds). Every test marked
``@by_case`` below (a check) runs on every case. To add a model kind: register it in
``crmml/scoring/_registry.py`` and add one entry to :data:`FACTORIES` —
nothing else (see docs/scoring.md, "The conformance suite").
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmml._artifact import MANIFEST
from crmml._payload import Payload
from crmml.data import TABLES, CRMTables, ExclusionReport
from crmml.exceptions import (
    IncompatibleArtifactError,
    NotFittedError,
    ParameterError,
    TamperedArtifactError,
)
from crmml.scoring import KINDS, Scorer, load_scorer, scorer_class


# --------------------------------------------------------------------------- the registry of cases
def filter_to_entities(tables: CRMTables, column: str, ids: Sequence[str]) -> CRMTables:
    """``tables`` with every table that has ``column`` restricted to ``ids`` (others unchanged)."""
    keep = pd.Index(list(ids))
    return tables.replace(**{name: df[df[column].isin(keep)].reset_index(drop=True)
                             for name, df in tables.items() if column in df.columns})


@dataclass(frozen=True)
class Case:
    """One model configuration on one small world, as the checks see it.

    Parameters
    ----------
    kind : str
        The registry key the model is saved and loaded under.
    name : str
        Test id (``"clv-noncontractual"``).
    make : callable
        Returns a new, unfitted model.
    tables : callable
        Returns the world's tables (cached: build them once).
    as_of : pandas.Timestamp
        Cutoff for ``fit`` and ``score``; the world must have rows after it.
    population : callable
        ``(tables, as_of) -> set of ids``: the model's documented population.
        Scores plus entity exclusions must cover exactly this set.
    changed_params : dict
        A valid change of hyperparameters (``set_params`` must unfit).
    subset : callable, optional
        ``(tables, ids) -> tables`` holding only those entities' data
        (default: filter every table with the entity column).
    with_context : bool
        The subset also keeps the context an entity's features need (a
        deal's account and the closed deals behind its owner's record), so
        scoring it may score that context too: the entity's row must equal
        its batch row, and a left-out entity must stay left out.
    """

    kind: str
    name: str
    make: Callable[[], Any]
    tables: Callable[[], CRMTables]
    as_of: pd.Timestamp
    population: Callable[[CRMTables, pd.Timestamp], set[str]]
    changed_params: dict[str, Any]
    subset: Callable[[CRMTables, Sequence[str]], CRMTables] | None = field(default=None)
    with_context: bool = False

    def only(self, tables: CRMTables, ids: Sequence[str]) -> CRMTables:
        if self.subset is not None:
            return self.subset(tables, ids)
        return filter_to_entities(tables, self.make().entity, ids)


@functools.cache
def _b2c_tables() -> CRMTables:
    from crmml.synthetic import make_b2c_world

    return make_b2c_world(500, seed=5).tables


@functools.cache
def _b2b_tables() -> CRMTables:
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(250, seed=5).tables


def _signed_up(tables: CRMTables, as_of: pd.Timestamp) -> set[str]:
    c = tables.customers
    return set(c.loc[c["signup_at"] < as_of, "customer_id"].astype(str))


def _clv_noncontractual_population(tables: CRMTables, as_of: pd.Timestamp) -> set[str]:
    """Customers who signed up before as_of (docs/clv-models.md, "Population and exclusions")."""
    if tables.customers is not None:
        return _signed_up(tables, as_of)
    tx = tables.transactions
    return set(tx.loc[tx["ts"] < as_of, "customer_id"].astype(str))


def _clv_contractual_population(tables: CRMTables, as_of: pd.Timestamp) -> set[str]:
    """Accounts with a subscription starting before as_of, and customers without one."""
    subs = tables.subscriptions
    accounts = set(subs.loc[subs["start_at"] < as_of, "customer_id"].astype(str))
    return accounts | (_signed_up(tables, as_of) if tables.customers is not None else set())


def _clv_cases() -> list[Case]:
    from crmml.clv import CLVModel

    as_of = pd.Timestamp("2025-07-01")
    return [
        Case("clv", "clv-noncontractual", lambda: CLVModel(), _b2c_tables, as_of,
             _clv_noncontractual_population, {"horizon_days": 180}),
        Case("clv", "clv-contractual", lambda: CLVModel(business="contractual"), _b2b_tables, as_of,
             _clv_contractual_population, {"discount_rate": 0.2}),
    ]


@functools.cache
def _churn_b2b_tables() -> CRMTables:
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(1500, seed=5).tables  # ~60 held-out non-renewals at a 90-day horizon: above the floor


def _churn_cases() -> list[Case]:
    from crmml.churn import ChurnModel

    as_of = pd.Timestamp("2025-07-01")
    return [
        Case("churn", "churn-noncontractual", lambda: ChurnModel(num_threads=1), _b2c_tables, as_of,
             _clv_noncontractual_population, {"horizon_days": 60}),
        Case("churn", "churn-noncontractual-active", lambda: ChurnModel(active_within_days=180, num_threads=1),
             _b2c_tables, as_of, _clv_noncontractual_population, {"horizon_days": 60}),
        Case("churn", "churn-contractual", lambda: ChurnModel(business="contractual", num_threads=1),
             _churn_b2b_tables, as_of, _clv_contractual_population, {"high_tier": 0.5}),
    ]


@functools.cache
def _lead_tables() -> CRMTables:
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(300, n_leads=9000, seed=5).tables  # ~45 held-out conversions: above the floor


def _lead_population(tables: CRMTables, as_of: pd.Timestamp) -> set[str]:
    """Leads created before as_of: the open ones are scored, the converted ones reported (docs/leadscore.md)."""
    le = tables.leads
    return set(le.loc[le["created_at"] < as_of, "lead_id"].astype(str))


def _leadscore_cases() -> list[Case]:
    from crmml.leadscore import LeadScoreModel

    as_of = pd.Timestamp("2025-07-01")
    return [
        Case("leadscore", "leadscore", lambda: LeadScoreModel(num_threads=1), _lead_tables, as_of,
             _lead_population, {"grade_a": 80}),
    ]


@functools.cache
def _deal_tables() -> CRMTables:
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(400, seed=3).tables


def _deal_population(tables: CRMTables, as_of: pd.Timestamp) -> set[str]:
    """Deals created before as_of: the open ones are scored, the closed ones reported (docs/forecast.md)."""
    o = tables.opportunities
    return set(o.loc[o["created_at"] < as_of, "opportunity_id"].astype(str))


def _deal_with_context(tables: CRMTables, ids: Sequence[str]) -> CRMTables:
    """The deals, their accounts' other deals and every deal closed before the case's as_of (owners' records)."""
    o = tables.opportunities
    accounts = set(o.loc[o["opportunity_id"].isin(list(ids)), "customer_id"])
    keep = o["opportunity_id"].isin(list(ids)) | o["customer_id"].isin(accounts) | (o["closed_at"] < _DEAL_AS_OF)
    kept = set(o.loc[keep, "opportunity_id"])
    h = tables.opportunity_history
    return tables.replace(opportunities=o.loc[keep].reset_index(drop=True),
                          opportunity_history=h.loc[h["opportunity_id"].isin(kept)].reset_index(drop=True))


_DEAL_AS_OF = pd.Timestamp("2025-02-10")


def _forecast_cases() -> list[Case]:
    from crmml.forecast import PipelineForecastModel

    return [
        Case("forecast", "forecast", lambda: PipelineForecastModel(num_threads=1, interval_origins=0,
                                                                   n_simulations=200),
             _deal_tables, _DEAL_AS_OF, _deal_population, {"period": "month"}, subset=_deal_with_context,
             with_context=True),
    ]


FACTORIES: dict[str, Callable[[], list[Case]]] = {
    "clv": _clv_cases,
    "churn": _churn_cases,
    "leadscore": _leadscore_cases,
    "forecast": _forecast_cases,
}
"""Model kind → its cases. Every kind in ``crmml.scoring.KINDS`` needs an entry."""

CASES = [case for kind in KINDS if kind in FACTORIES for case in FACTORIES[kind]()]
by_case = pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)


@functools.cache
def _fitted(name: str) -> Any:
    case = next(c for c in CASES if c.name == name)
    return case.make().fit(case.tables(), case.as_of)


def fitted(case: Case) -> Any:
    """A fitted model of ``case`` the caller may change (a copy of the one fitted per session)."""
    return copy.deepcopy(_fitted(case.name))


def _scores(model: Any, tables: CRMTables, as_of: Any) -> tuple[pd.DataFrame, ExclusionReport]:
    report = ExclusionReport()
    return model.score(tables, as_of, report=report), report


# --------------------------------------------------------------------------- the registry itself
def test_every_registered_kind_has_a_factory():
    missing = sorted(set(KINDS) - set(FACTORIES))
    assert not missing, f"add a factory for {missing} to FACTORIES in tests/test_conformance.py"
    assert not set(FACTORIES) - set(KINDS), "FACTORIES names a kind crmml.scoring.KINDS does not register"


def test_the_protocol_lists_everything_callers_use():
    members = {*Scorer.__annotations__, *(n for n in vars(Scorer) if not n.startswith("_"))}
    assert members == {"kind", "entity", "fit", "get_params", "set_params", "score", "build_features",
                       "predict_features", "feature_schema", "output_schema", "input_example", "model_card",
                       "save", "to_dict", "from_dict", "from_artifact", "load"}


# --------------------------------------------------------------------------- checks
@by_case
def test_satisfies_the_protocol(case):
    model = case.make()
    cls = type(model)
    assert scorer_class(case.kind) is cls
    assert cls.kind == case.kind and isinstance(cls.entity, str) and cls.entity
    assert isinstance(model, Scorer)
    members = {n for n in vars(Scorer) if not n.startswith("_")}
    for name in members:
        assert callable(getattr(model, name, None)), f"{cls.__name__}.{name} is missing or not callable"
    for name in ("from_dict", "from_artifact", "load"):
        assert isinstance(inspect.getattr_static(cls, name), classmethod), f"{cls.__name__}.{name} is not a classmethod"


@by_case
def test_get_params_and_set_params(case):
    model = fitted(case)
    params = model.get_params()
    assert type(model)(**params).get_params() == params
    shown = repr(type(model)(**case.changed_params))
    assert all(f"{k}={v!r}" in shown for k, v in case.changed_params.items()), shown
    model.set_params(**params)  # the same values: still fitted
    model.score(case.tables(), case.as_of)
    model.set_params(**case.changed_params)
    assert model.get_params() == {**params, **case.changed_params}
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("_")], "set_params kept learned state"
    with pytest.raises(NotFittedError, match=rf"This {type(model).__name__} instance is not fitted yet"):
        model.score(case.tables(), case.as_of)
    with pytest.raises(ParameterError, match=r"Invalid parameter\(s\) 'no_such_parameter' .* valid parameters are"):
        model.set_params(no_such_parameter=1)


@by_case
def test_an_unfitted_model_refuses_to_work(case):
    model = case.make()
    features = fitted(case).build_features(case.tables(), case.as_of)
    for call in (lambda: model.score(case.tables(), case.as_of), lambda: model.predict_features(features),
                 model.to_dict, model.model_card):
        with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
            call()


@by_case
def test_outputs_follow_the_declared_schemas(case):
    model = fitted(case)
    scores, _ = _scores(model, case.tables(), case.as_of)
    assert scores.index.name == model.entity and scores.index.is_unique and len(scores) > 0
    assert [model.entity, *scores.columns] == list(model.output_schema())
    assert not scores.attrs, "exclusions are returned through report=, not DataFrame.attrs"
    features = model.build_features(case.tables(), case.as_of)
    assert list(features.columns) == list(model.feature_schema()) and not features.attrs
    assert list(model.input_example().columns) == list(model.feature_schema())


@by_case
def test_one_entity_scored_alone_equals_its_row_in_the_batch(case):
    model = fitted(case)
    tables = case.tables()
    batch, _ = _scores(model, tables, case.as_of)
    ids = list(batch.index[[0, len(batch) // 2, len(batch) - 1]])
    for entity_id in ids:
        alone, _ = _scores(model, case.only(tables, [entity_id]), case.as_of)
        if case.with_context:
            alone = alone.loc[[entity_id]]
        pd.testing.assert_frame_equal(alone, batch.loc[[entity_id]], check_exact=False, rtol=1e-12)
    left_out = sorted(case.population(tables, case.as_of) - set(batch.index))
    if left_out:  # an entity the batch leaves out is left out alone too, and reported
        alone, alone_report = _scores(model, case.only(tables, left_out[:1]), case.as_of)
        if case.with_context:
            assert left_out[0] not in alone.index and alone_report.entities() >= 1
        else:
            assert alone.empty and alone_report.entities() == 1


@by_case
def test_score_equals_predict_features_of_build_features(case):
    model = fitted(case)
    scored, score_report = _scores(model, case.tables(), case.as_of)
    built_report = ExclusionReport()
    via_frame = model.predict_features(model.build_features(case.tables(), case.as_of, report=built_report))
    pd.testing.assert_frame_equal(scored, via_frame)
    assert score_report.to_dict() == built_report.to_dict()


@by_case
def test_save_and_load_round_trip_identically(case, tmp_path):
    model = fitted(case)
    folder = model.save(tmp_path / "model")
    loaded = load_scorer(folder)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    assert loaded.to_dict() == model.to_dict()
    pd.testing.assert_frame_equal(loaded.score(case.tables(), case.as_of), model.score(case.tables(), case.as_of))
    assert type(model).load(folder).to_dict() == model.to_dict()


@by_case
def test_a_tampered_artifact_is_refused(case, tmp_path):
    folder = fitted(case).save(tmp_path / "model")
    listed = json.loads((folder / MANIFEST).read_text())["files"]
    for name in listed:
        original = (folder / name).read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01  # one bit of one byte: same size, other checksum
        (folder / name).write_bytes(bytes(flipped))
        with pytest.raises(TamperedArtifactError, match=rf"checksum of '{name}' does not match"):
            load_scorer(folder)
        (folder / name).write_bytes(original)
    load_scorer(folder)


def with_future_rows(tables: CRMTables, as_of: pd.Timestamp) -> CRMTables:
    """``tables`` with everything at or after ``as_of`` changed and more such rows appended.

    In every supplied table: numbers of rows dated at or after ``as_of`` are
    changed; event times at or after ``as_of`` (``end_at``, ``paid_at`` ...)
    move 30 days later and the values masked with them (``won``) flip; copies
    of a few earlier rows are appended, dated exactly ``as_of``, a day and 90
    days later, under new keys. None of it was known at ``as_of``.
    """
    changed: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        spec = TABLES[name]
        out = df.copy()
        future = (out[spec.time_column] >= as_of).to_numpy()
        for col in spec.columns:
            if col.name in out.columns and col.kind in ("float", "int") and col.name != spec.key:
                out.loc[future, col.name] = out.loc[future, col.name] * 3 + 1
        for event in spec.event_columns:
            later = (out[event] >= as_of).fillna(False).to_numpy(dtype=bool)
            out.loc[later, event] = out.loc[later, event] + pd.Timedelta(days=30)
            for masked, by in spec.masked_with.items():
                if by == event and masked in out.columns:
                    out.loc[later, masked] = ~out.loc[later, masked].astype("boolean")
        past = df[~future]
        if len(past):
            extra = past.iloc[np.linspace(0, len(past) - 1, 3).astype(int)].copy()
            when = [as_of, as_of + pd.Timedelta(days=1), as_of + pd.Timedelta(days=90)]
            extra[spec.time_column] = when
            for col in spec.columns:
                if col.kind == "datetime" and col.name != spec.time_column and col.name in extra.columns:
                    extra[col.name] = pd.NaT if col.nullable else [w + pd.Timedelta(days=30) for w in when]
            if spec.key is not None:
                extra[spec.key] = (extra[spec.key].astype(str) + [f"~future{i}" for i in range(3)]).astype(
                    df[spec.key].dtype)
            out = pd.concat([out, extra], ignore_index=True)
        changed[name] = out
    return tables.replace(**changed)


@by_case
def test_rows_at_or_after_as_of_change_nothing(case):
    model = fitted(case)
    tables = case.tables()
    future = with_future_rows(tables, case.as_of)
    for name in tables.present():
        assert len(future[name]) > len(tables[name])
    pd.testing.assert_frame_equal(model.score(future, case.as_of), model.score(tables, case.as_of))
    refit = case.make().fit(future, case.as_of)
    pd.testing.assert_frame_equal(refit.score(tables, case.as_of), model.score(tables, case.as_of))


@by_case
def test_scoring_a_local_folder_never_imports_mlflow(case, tmp_path):
    model_dir = fitted(case).save(tmp_path / "model")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, df in case.tables().items():
        df.to_parquet(data_dir / f"{name}.parquet", index=False)
    code = textwrap.dedent(f"""
        import sys
        import crmml
        scorer = crmml.load_scorer({str(model_dir)!r})
        scores = scorer.score(crmml.load_tables({str(data_dir)!r}), {str(case.as_of)!r})
        print(len(scores), sorted(m for m in sys.modules if m.split(".")[0] == "mlflow"))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, modules = out.stdout.strip().split(" ", 1)
    assert modules == "[]", f"scoring imported {modules}"
    assert int(n) > 0


@by_case
def test_scores_and_entity_exclusions_cover_the_population(case):
    model = fitted(case)
    tables = case.tables()
    scores, report = _scores(model, tables, case.as_of)
    population = case.population(tables, case.as_of)
    outside = set(scores.index) - population
    assert not outside, f"{len(outside)} scored ids are not in the population, e.g. {sorted(outside)[:3]}"
    assert len(scores) + report.entities() == len(population), report.to_dict()


@by_case
def test_to_dict_and_from_dict_round_trip(case):
    model = fitted(case)
    text = json.dumps(model.to_dict(), allow_nan=False)
    back = type(model).from_dict(Payload.parse(text, source="model.json"))
    assert back.to_dict() == model.to_dict()
    assert model.to_dict()["model"] == type(model).__name__ and isinstance(model.to_dict()["schema_version"], int)
    pd.testing.assert_frame_equal(back.score(case.tables(), case.as_of), model.score(case.tables(), case.as_of))


@by_case
def test_a_payload_with_an_unknown_key_is_refused(case):
    d = fitted(case).to_dict()
    d["surprise"] = 1
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: unknown key 'surprise'"):
        type(fitted(case)).from_dict(Payload.of(d, source="model.json"))


@by_case
def test_a_newer_schema_version_is_refused(case):
    model = fitted(case)
    d = model.to_dict()
    d["schema_version"] += 1
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: schema_version: .*; got \d+\. The model was "
                                                        r"written by a newer crmml: upgrade crmml"):
        type(model).from_dict(Payload.of(d, source="model.json"))


@by_case
def test_another_models_payload_is_refused(case):
    d = fitted(case).to_dict()
    d["model"] = "SomeOtherModel"
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: model: expected one of"):
        type(fitted(case)).from_dict(Payload.of(d, source="model.json"))
