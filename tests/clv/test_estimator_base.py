"""The estimator base (crmml._base.Estimator) as the CLV models use it.

Hyperparameters from ``__init__``, unfit on change, repr, versioned payloads
(legacy payloads without ``schema_version`` still load). The checks every
scorer kind must pass are in tests/test_conformance.py.
"""

import json
from typing import ClassVar

import pytest

from crmml._base import Estimator
from crmml._payload import Payload
from crmml._validation import Interval
from crmml.clv import (
    BetaGeoModel,
    CLVModel,
    GammaGammaModel,
    ParetoNBDModel,
    ShiftedBetaGeometricModel,
)
from crmml.data import CRMTables
from crmml.exceptions import (
    DataContractError,
    IncompatibleArtifactError,
    NotFittedError,
    ParameterError,
)

SBG_COHORT = [1000, 631, 468, 382, 326, 289, 262, 241]


def _strip_schema_version(node):
    """The payload as crmml wrote it before payloads were versioned (no schema_version anywhere)."""
    if isinstance(node, dict):
        return {k: _strip_schema_version(v) for k, v in node.items() if k != "schema_version"}
    if isinstance(node, list):
        return [_strip_schema_version(v) for v in node]
    return node


def _parse(d):
    return Payload.parse(json.dumps(d).encode(), source="model.json")


# ------------------------------------------------------------------ hyperparameters
def test_hyperparameters_are_the_constructor_keywords():
    assert list(CLVModel().get_params()) == ["business", "transaction_model", "freq", "horizon_days",
                                             "discount_rate", "margin", "penalizer", "alive_threshold",
                                             "champion_quantile", "loyal_min_frequency"]
    assert BetaGeoModel(penalizer=0.1).get_params() == {"penalizer": 0.1, "tol": 1e-7, "max_iter": 1000}


def test_repr_shows_non_default_values_only():
    assert repr(CLVModel()) == "CLVModel()"
    assert repr(CLVModel(business="contractual", horizon_days=180)) == \
        "CLVModel(business='contractual', horizon_days=180)"
    assert repr(ParetoNBDModel(max_iter=50)) == "ParetoNBDModel(max_iter=50)"


def test_sub_models_unfit_when_a_parameter_changes():
    model = ShiftedBetaGeometricModel().fit(SBG_COHORT)
    model.set_params(penalizer=0.0)  # unchanged: still fitted
    assert model.survival(1) > 0
    model.set_params(penalizer=0.01)
    assert not hasattr(model, "params_") and not hasattr(model, "log_likelihood_")
    with pytest.raises(NotFittedError, match="This ShiftedBetaGeometricModel instance is not fitted yet. "
                                             "Call 'fit' with appropriate data before using survival"):
        model.survival(1)


def test_set_params_with_an_unknown_name_changes_nothing():
    model = GammaGammaModel()
    with pytest.raises(ParameterError, match=r"Invalid parameter\(s\) 'tolerance' for GammaGammaModel; valid "
                                             r"parameters are: max_iter, penalizer, tol\."):
        model.set_params(penalizer=0.5, tolerance=1)
    assert model.penalizer == 0.0


def test_scikit_learn_clone_works():
    from sklearn.base import clone

    model = CLVModel(horizon_days=90)
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()


def test_a_failed_fit_leaves_the_model_unfitted(b2c_world):
    model = CLVModel().fit(b2c_world.tables, b2c_world.end.normalize())
    with pytest.raises(DataContractError, match="at least one purchase before as_of"):
        model.fit(b2c_world.tables, "2000-01-01")
    assert not [k for k in vars(model) if k.endswith("_")]
    assert "_train_features" not in vars(model)


def test_constraints_must_name_exactly_the_constructor_keywords():
    with pytest.raises(TypeError, match=r"must list exactly the keyword arguments of __init__ "
                                        r"\(missing: \['beta'\], not parameters: \[\]\)"):
        class _Forgot(Estimator):
            _parameter_constraints: ClassVar = {"alpha": [Interval(0, 1)]}

            def __init__(self, *, alpha=0.5, beta=1.0):
                self.alpha, self.beta = alpha, beta


# ------------------------------------------------------------------ versioned payloads
def test_payloads_record_the_model_and_schema_version(fitted_clv):
    d = fitted_clv[0].to_dict()
    assert (d["model"], d["schema_version"]) == ("CLVModel", 1)
    assert (d["transaction_model"]["model"], d["transaction_model"]["schema_version"]) == ("BetaGeoModel", 1)
    assert d["spend_model"]["schema_version"] == 1


def test_a_payload_written_before_schema_versions_loads_as_version_1(fitted_clv, b2c_world):
    model, as_of = fitted_clv
    old = _strip_schema_version(json.loads(json.dumps(model.to_dict())))
    assert "schema_version" not in json.dumps(old)
    loaded = CLVModel.from_dict(_parse(old))
    assert loaded.to_dict() == model.to_dict()
    assert loaded.score(b2c_world.tables, as_of).equals(model.score(b2c_world.tables, as_of))


@pytest.mark.parametrize(("value", "got"), [(2, "2"), (99, "99")])
def test_a_newer_nested_schema_version_names_the_field_and_says_upgrade(fitted_clv, value, got):
    d = json.loads(json.dumps(fitted_clv[0].to_dict()))
    d["transaction_model"]["schema_version"] = value
    with pytest.raises(IncompatibleArtifactError,
                       match=rf"^model.json: transaction_model.schema_version: expected a BetaGeoModel schema version "
                             rf"this crmml reads \(at most 1\); got {got}. The model was written by a newer crmml: "
                             r"upgrade crmml \(pip install --upgrade crmml\) to load it"):
        CLVModel.from_dict(_parse(d))


@pytest.mark.parametrize(("value", "got"), [("1", "'1'"), (1.0, "1.0"), (True, "true"), (0, "0"), (None, "null")])
def test_schema_version_must_be_an_integer_of_at_least_1(fitted_clv, value, got):
    d = json.loads(json.dumps(fitted_clv[0].to_dict()))
    d["schema_version"] = value
    with pytest.raises(IncompatibleArtifactError,
                       match=rf"^model.json: schema_version: expected an integer >= 1; got {got}\."):
        CLVModel.from_dict(_parse(d))


def test_a_huge_integer_hyperparameter_is_refused_naming_it():
    d = json.loads(json.dumps(ShiftedBetaGeometricModel().fit(SBG_COHORT).to_dict()))
    d["config"]["penalizer"] = 10**400
    with pytest.raises(IncompatibleArtifactError, match=r"^model.json: config.penalizer: expected >= 0; got 1000"):
        ShiftedBetaGeometricModel.from_dict(_parse(d))


class _Level(Estimator):
    """A model created after payloads were versioned: no legacy layout."""

    _parameter_constraints: ClassVar = {"alpha": [Interval(0, 1)]}
    _state_keys = ("level",)

    def __init__(self, *, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def fit(self, values):
        self._validate_params()
        self.level_ = sum(values) / len(values)
        return self

    def _state_to_dict(self):
        return {"level": self.level_}

    def _state_from_payload(self, p, version):
        self.level_ = p.finite_float("level")


def test_a_new_model_requires_the_schema_version():
    d = _Level().fit([1.0, 2.0]).to_dict()
    assert _Level.from_dict(d).level_ == 1.5
    del d["schema_version"]
    with pytest.raises(IncompatibleArtifactError, match=r"^_Level.from_dict: schema_version: missing"):
        _Level.from_dict(d)


def test_to_dict_before_fit_is_not_fitted():
    with pytest.raises(NotFittedError, match="This _Level instance is not fitted yet. Call 'fit' with appropriate "
                                             "data before using to_dict"):
        _Level().to_dict()
    with pytest.raises(NotFittedError, match="before using to_dict"):
        CLVModel().to_dict()
    with pytest.raises(NotFittedError, match="before using score"):
        CLVModel().score(CRMTables(), "2025-01-01")
