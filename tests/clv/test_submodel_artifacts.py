"""CLV sub-models: fits are always finite, from_dict checks every stored value.

Parametrized over BG/NBD, Pareto/NBD, Gamma-Gamma and sBG.
"""

import copy
import json

import numpy as np
import pandas as pd
import pytest
from artifact_mutation import json_values, mutate_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmml.clv._gamma_gamma as gg_module
import crmml.clv._mle as mle_module
import crmml.clv._sbg as sbg_module
from crmml._artifact import write_artifact
from crmml._payload import Payload
from crmml.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    ShiftedBetaGeometricModel,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
)
from crmml.exceptions import (
    ArtifactError,
    ConvergenceError,
    DataContractError,
    IncompatibleArtifactError,
)

MODELS = [BetaGeoModel, ParetoNBDModel, GammaGammaModel, ShiftedBetaGeometricModel]


def _fit(cls, model=None):
    model = cls() if model is None else model
    if cls is BetaGeoModel:
        return model.fit(simulate_bgnbd(800, {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}, T=40.0, seed=1))
    if cls is ParetoNBDModel:
        return model.fit(simulate_pareto_nbd(800, {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}, T=39.0, seed=1))
    if cls is GammaGammaModel:
        x = np.random.default_rng(0).integers(1, 8, 800)
        return model.fit(pd.DataFrame({"frequency": x, "monetary_value": simulate_gamma_gamma(
            x, {"p": 6, "q": 4, "v": 15}, seed=1)}))
    return model.fit([1000, 631, 468, 382, 326, 289, 262, 241])


@pytest.fixture(scope="module", params=MODELS, ids=lambda c: c.__name__)
def fitted(request):
    return _fit(request.param)


def _dumped(model):
    return json.loads(json.dumps(model.to_dict(), allow_nan=False))


def _load(cls, d):
    return cls.from_dict(Payload.parse(json.dumps(d).encode(), source="model.json"))


def test_round_trip_through_strict_json(fitted):
    cls = type(fitted)
    back = _load(cls, _dumped(fitted))
    assert back.params_ == fitted.params_ and back.log_likelihood_ == fitted.log_likelihood_
    assert back.get_params() == fitted.get_params()
    np.testing.assert_array_equal(back.covariance_.to_numpy(), fitted.covariance_.to_numpy())


# ------------------------------------------------------------------ from_dict: every value checked
def _first(model):
    return model._param_names[0]


CASES = [
    ("negative", lambda d, k: d["params"].__setitem__(k, -1), r"params.{k}: expected a finite number > 0; got -1"),
    ("zero", lambda d, k: d["params"].__setitem__(k, 0), r"params.{k}: expected a finite number > 0; got 0"),
    ("null", lambda d, k: d["params"].__setitem__(k, None), r"params.{k}: expected a finite number > 0; got null"),
    ("string", lambda d, k: d["params"].__setitem__(k, "0.5"), r"params.{k}: expected a finite number > 0; got '0.5'"),
    ("bool", lambda d, k: d["params"].__setitem__(k, True), r"params.{k}: expected a finite number > 0; got true"),
    ("huge", lambda d, k: d["params"].__setitem__(k, 10**400), r"params.{k}: expected a finite number > 0; got 1000"),
    ("missing", lambda d, k: d["params"].pop(k), r"model.json: params: missing key '{k}'"),
    ("extra param", lambda d, k: d["params"].__setitem__("z", 1.0), r"model.json: params: unknown key 'z'"),
    ("extra key", lambda d, k: d.__setitem__("pickle", "x"), r"model.json: unknown key 'pickle'"),
    ("missing key", lambda d, k: d.pop("log_likelihood"), r"model.json: missing key 'log_likelihood'"),
    ("params null", lambda d, k: d.__setitem__("params", None), r"model.json: params: expected an object; got null"),
    ("se negative", lambda d, k: d["standard_errors"].__setitem__(k, -0.1),
     r"standard_errors.{k}: expected a finite number >= 0 or null; got -0.1"),
    ("se missing", lambda d, k: d["standard_errors"].pop(k), r"standard_errors: missing key '{k}'"),
    ("cov shape", lambda d, k: d.__setitem__("covariance", [[1.0]]), r"covariance: expected an array of \d items"),
    ("cov entry", lambda d, k: d["covariance"][0].__setitem__(0, "x"),
     r"covariance\[0\]\[0\]: expected a finite number or null; got 'x'"),
    ("loglik null", lambda d, k: d.__setitem__("log_likelihood", None), r"log_likelihood: expected a finite number; got null"),
    ("n negative", lambda d, k: d.__setitem__("n_customers", -5), r"n_customers: expected a finite number >= 0; got -5"),
    ("config range", lambda d, k: d["config"].__setitem__("penalizer", -1), r"config.penalizer: expected >= 0; got -1"),
    ("config type", lambda d, k: d["config"].__setitem__("max_iter", "many"), r"config.max_iter: expected an int >= 1; got 'many'"),
    ("config float", lambda d, k: d["config"].__setitem__("max_iter", 2.5), r"config.max_iter: expected an int >= 1; got 2.5"),
    ("config unknown", lambda d, k: d["config"].__setitem__("seed", 1), r"config: unknown key 'seed'"),
    ("config object", lambda d, k: d["config"].__setitem__("tol", {"x": 1}), r"config.tol: expected a number or a string"),
    ("other model", lambda d, k: d.__setitem__("model", "CLVModel"), r"model.json: model: expected one of '\w+'; got 'CLVModel'"),
]


@pytest.mark.parametrize(("mutate", "match"), [(m, r) for _, m, r in CASES], ids=[c[0] for c in CASES])
def test_from_dict_refuses_bad_values_naming_the_field(fitted, mutate, match):
    d = _dumped(fitted)
    mutate(d, _first(fitted))
    with pytest.raises(IncompatibleArtifactError, match=match.format(k=_first(fitted))):
        _load(type(fitted), d)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_from_dict_refuses_non_finite_literals(fitted, literal):
    d = _dumped(fitted)
    k = _first(fitted)
    d["params"][k] = "@@"
    raw = json.dumps(d).replace('"@@"', literal).encode()
    with pytest.raises(IncompatibleArtifactError, match=rf"^model.json: params.{k}: "):
        type(fitted).from_dict(Payload.parse(raw, source="model.json"))


def test_from_dict_on_a_plain_mapping_names_the_class(fitted):
    d = _dumped(fitted)
    d["params"][_first(fitted)] = float("nan")  # a dict built in Python
    name = type(fitted).__name__
    with pytest.raises(IncompatibleArtifactError, match=rf"^{name}.from_dict: params.{_first(fitted)}: NaN"):
        type(fitted).from_dict(d)
    with pytest.raises(ArtifactError, match=rf"^{name}.from_dict: expected a JSON object; got null"):
        type(fitted).from_dict(None)


def test_nested_payload_names_the_full_path(fitted):
    d = {"transaction_model": _dumped(fitted)}
    d["transaction_model"]["params"][_first(fitted)] = -1
    root = Payload.parse(json.dumps(d).encode(), source="model.json")
    with pytest.raises(IncompatibleArtifactError,
                       match=rf"^model.json: transaction_model.params.{_first(fitted)}: expected a finite number > 0"):
        type(fitted).from_dict(root.mapping("transaction_model"))


def test_unknown_standard_errors_and_covariance_are_stored_as_null_and_accepted(fitted):
    model = copy.deepcopy(fitted)
    k = _first(model)
    model.standard_errors_[k] = float("nan")
    model.covariance_.iloc[0, 0] = np.nan
    d = model.to_dict()
    assert d["standard_errors"][k] is None and d["covariance"][0][0] is None
    back = _load(type(model), json.loads(json.dumps(d, allow_nan=False)))
    assert np.isnan(back.standard_errors_[k]) and np.isnan(back.covariance_.iloc[0, 0])
    assert back.params_ == model.params_


def test_old_artifacts_with_integral_float_max_iter_still_load(fitted):
    d = _dumped(fitted)
    d["config"]["max_iter"] = 1000.0
    assert _load(type(fitted), d).max_iter == 1000


JSON_VALUES = json_values(extra=[0, -1, 1e-300, 1e300, 10**400, "NaN"])


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_randomly_mutated_model_json_loads_a_valid_model_or_raises_an_artifact_error(cls, data):
    if cls not in _DUMPS:
        _DUMPS[cls] = _dumped(_fit(cls))
    base = _DUMPS[cls]
    raw = json.dumps(mutate_json(data.draw, base, JSON_VALUES)).encode()  # NaN/Infinity floats are written as literals
    try:
        model = cls.from_dict(Payload.parse(raw, source="model.json"))
    except ArtifactError:
        return
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert np.isfinite(model.log_likelihood_)


_DUMPS: dict = {}


# ------------------------------------------------------------------ fit never ends non-finite
def test_pareto_nbd_with_one_repeat_buyer_no_longer_returns_a_nan_log_likelihood():
    s = pd.DataFrame({"frequency": [1.0] + [0.0] * 49, "recency": [3.0] + [0.0] * 49, "T": np.linspace(5, 40, 50)})
    with pytest.raises(ConvergenceError, match=r"The maximum-likelihood fit of ParetoNBDModel ended with "
                                               r"log-likelihood=nan, which is not a usable model"):
        ParetoNBDModel().fit(s)


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel], ids=lambda c: c.__name__)
def test_extreme_time_unit_overflowing_alpha_is_a_convergence_error(cls):
    sim = simulate_bgnbd(3000, {"r": 0.5, "alpha": 4000.0, "a": 0.8, "b": 2.5}, T=39.0, seed=0)
    big = sim.assign(recency=sim["recency"] * 1e306, T=sim["T"] * 1e306)
    with pytest.raises(ConvergenceError, match=rf"fit of {cls.__name__} ended with alpha=inf.*Try a small 'penalizer' "
                                               r"\(e.g. 0.001\), or check that .* time unit of moderate size"):
        cls().fit(big)


def _overflowing_minimizer(*args, **kwargs):
    k = len(args[1])
    return np.full(k, 800.0)  # exp(800) = inf


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_fit_refuses_non_finite_parameters(cls, monkeypatch):
    for module in (mle_module, gg_module, sbg_module):
        monkeypatch.setattr(module, "minimize_nll", _overflowing_minimizer)
    model = cls()
    with pytest.raises(ConvergenceError, match=rf"^The maximum-likelihood fit of {cls.__name__} ended with "
                                               r"\w+=inf.*parameters must be finite and > 0"):
        _fit(cls, model)
    assert not hasattr(model, "params_")  # nothing half-stored


def test_saving_a_model_with_a_non_finite_parameter_is_refused_by_the_writer(tmp_path):
    model = _fit(BetaGeoModel)
    model.params_["r"] = float("inf")
    with pytest.raises(ArtifactError, match=r"Cannot store model.json: params.r = inf in a crmml artifact"):
        write_artifact(tmp_path / "m", kind="x", entity="y", files={"model.json": model.to_dict()})
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------ messages for direct use
def test_nobody_repeats_is_a_data_contract_error_for_count_models():
    s = pd.DataFrame({"frequency": [0.0] * 20, "recency": [0.0] * 20, "T": np.linspace(5, 40, 20)})
    for cls in (BetaGeoModel, ParetoNBDModel):
        with pytest.raises(DataContractError, match=rf"while {cls.__name__}.fit:\n  - summary.frequency: at least one "
                                                    r"customer with a repeat purchase \(frequency > 0\). Fix: purchase "
                                                    r"rates and drop-out cannot be estimated when nobody bought twice"):
            cls().fit(s)


@pytest.mark.parametrize(("frame", "n"), [
    (pd.DataFrame({"frequency": pd.Series([], dtype=float), "monetary_value": pd.Series([], dtype=float)}), 0),
    (pd.DataFrame({"frequency": [0, 0], "monetary_value": [0.0, 0.0]}), 0),
    (pd.DataFrame({"frequency": [1, 0], "monetary_value": [2.0, 0.0]}), 1),
])
def test_gamma_gamma_without_two_repeat_buyers_says_so(frame, n):
    with pytest.raises(DataContractError, match=rf"summary.frequency: at least 2 customers with a repeat purchase "
                                                rf"\(frequency > 0\); got {n}. Fix: the Gamma-Gamma spend model is "
                                                r"fitted on repeat buyers only"):
        GammaGammaModel().fit(frame)


def test_gamma_gamma_counts_only_weighted_repeat_buyers():
    frame = pd.DataFrame({"frequency": [1, 2, 3], "monetary_value": [2.0, 3.0, 4.0]})
    with pytest.raises(DataContractError, match=r"at least 2 customers with a repeat purchase \(frequency > 0\); got 1"):
        GammaGammaModel().fit(frame, sample_weight=[1, 0, 0])


def test_sbg_without_churn_names_the_input_it_was_given():
    with pytest.raises(DataContractError, match=r"while ShiftedBetaGeometricModel.fit:\n  - cohort.alive: a cohort "
                                                r"that shrinks at least once"):
        ShiftedBetaGeometricModel().fit([100, 100, 100])
    with pytest.raises(DataContractError, match=r"while ShiftedBetaGeometricModel.fit_customers:\n  - cohort.churned: "
                                                r"at least one churned customer"):
        ShiftedBetaGeometricModel().fit_customers([1, 2], [False, False])


def test_convergence_hints_fit_each_model():
    assert "monetary_value" in GammaGammaModel._fit_hint and "cohort" not in GammaGammaModel._fit_hint
    assert "churning" in ShiftedBetaGeometricModel._fit_hint and "repeat" not in ShiftedBetaGeometricModel._fit_hint
    assert "summary" not in BetaGeoModel._fit_hint  # CLVModel users never pass a summary
