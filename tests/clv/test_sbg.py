import json

import numpy as np
import pytest

from crmml.clv import ShiftedBetaGeometricModel, simulate_sbg
from crmml.exceptions import DataContractError, ParameterError

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(("alive", "alpha", "beta"), [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)])
def test_published_values_fader_hardie_2007(alive, alpha, beta):
    # the published estimates are reproduced by fitting all 7 years (8 counts incl. year 0)
    m = ShiftedBetaGeometricModel().fit(alive)
    assert m.params_["alpha"] == pytest.approx(alpha, abs=1e-3)
    assert m.params_["beta"] == pytest.approx(beta, abs=1e-3)


def test_survival_retention_churn_identities():
    m = ShiftedBetaGeometricModel().fit(REGULAR)
    t = np.arange(1, 12)
    S = m.survival(np.arange(0, 12))
    assert S[0] == 1.0
    np.testing.assert_allclose(m.retention_rate(t), S[1:] / S[:-1], rtol=1e-12)
    np.testing.assert_allclose(m.churn_probability(t), S[:-1] - S[1:], rtol=1e-10)
    a, b = m.params_["alpha"], m.params_["beta"]
    assert m.retention_rate(1) == pytest.approx(b / (a + b))


def test_derl_equals_brute_force_sum():
    m = ShiftedBetaGeometricModel().fit(HIGH_END)
    d, n = 0.1, 5
    t = np.arange(n, 3000)
    brute = float(np.sum(m.survival(t) / m.survival(n - 1) / (1 + d) ** (t - n)))
    assert m.expected_discounted_residual_lifetime(n, d) == pytest.approx(brute, rel=1e-9)


def test_customer_level_fit_equals_cohort_fit_and_recovers_truth():
    sim = simulate_sbg(30000, {"alpha": 0.7, "beta": 1.2}, n_periods=8, seed=3)
    ind = ShiftedBetaGeometricModel().fit_customers(sim["tenure"], sim["churned"])
    alive = [int(((sim["tenure"] >= t) & ~sim["churned"] | (sim["tenure"] > t)).sum()) for t in range(9)]
    alive[0] = len(sim)
    coh = ShiftedBetaGeometricModel().fit(alive)
    assert ind.params_["alpha"] == pytest.approx(coh.params_["alpha"], rel=1e-6)
    assert abs(ind.params_["alpha"] - 0.7) < 3.5 * ind.standard_errors_["alpha"]
    assert abs(ind.params_["beta"] - 1.2) < 3.5 * ind.standard_errors_["beta"]


def test_bad_inputs():
    with pytest.raises(DataContractError, match=r"cohort.alive: non-increasing survivor counts"):
        ShiftedBetaGeometricModel().fit([100, 120, 50])
    with pytest.raises(DataContractError, match=r"cohort.tenure: tenure >= 1 for churned customers — 1 row fail"):
        ShiftedBetaGeometricModel().fit_customers([0, 2], [True, False])
    m = ShiftedBetaGeometricModel().fit(REGULAR)
    with pytest.raises(ParameterError, match=r"The 't' parameter of ShiftedBetaGeometricModel.retention_rate must be an int >= 1"):
        m.retention_rate(0)


def test_json_round_trip():
    m = ShiftedBetaGeometricModel().fit(REGULAR)
    back = ShiftedBetaGeometricModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back.params_ == m.params_ and back.survival(5) == m.survival(5)
