"""crmml errors survive pickling (a worker process raises, the caller sees the same error)."""

import pickle

import pytest

from crmml.exceptions import (
    DataContractError,
    LeakageError,
    MissingTableError,
    NotFittedError,
    ParameterError,
    Problem,
)


@pytest.mark.parametrize("err", [
    DataContractError([Problem("transactions", "amount", "must be finite", n_rows=3, hint="drop them")],
                      context="CLVModel.fit"),
    LeakageError([Problem("leads", "status", "predicts the label")], report={"auc": 0.99}),
    MissingTableError([Problem("customers", None, "not found")], context="crmml batch"),
    NotFittedError("ChurnModel", "score"),
    ParameterError("The 'n' parameter of f must be >= 1. Got 0 instead."),
], ids=lambda e: type(e).__name__)
def test_pickle_round_trip_keeps_type_message_and_attributes(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.args == err.args
    assert vars(back) == vars(err)
