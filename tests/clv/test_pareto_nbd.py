import json

import numpy as np
import pandas as pd
import pytest

from crmml.clv import ParetoNBDModel, simulate_pareto_nbd
from crmml.clv._pareto_nbd import _log_integral_hyp, pareto_nbd_log_likelihood

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


@pytest.fixture(scope="module")
def fitted(cdnow):
    return ParetoNBDModel().fit(cdnow)


def test_cdnow_published_parameters(fitted):
    for k, v in PUBLISHED.items():
        assert fitted.params_[k] == pytest.approx(v, rel=2e-3)
    assert fitted.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)


def test_log_likelihood_matches_lifetimes(cdnow):
    from lifetimes import ParetoNBDFitter

    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    for p in [(0.553, 10.578, 0.606, 11.669), (0.553, 30.0, 0.606, 2.0), (2.0, 1.0, 0.3, 50.0), (0.5, 40, 2, 0.01)]:
        np.testing.assert_allclose(pareto_nbd_log_likelihood(p, x, tx, T),
                                   ParetoNBDFitter._conditional_log_likelihood(p, x, tx, T), rtol=1e-9, atol=1e-12)


def test_series_matches_hypergeometric_form_on_extreme_rows():
    from crmml.clv._pareto_nbd import _log_integral

    x = np.array([0.0, 3000.0, 5.0, 50.0])
    tx = np.array([0.0, 29000.0, 10.0, 40.0])
    T = np.array([20000.0, 30000.0, 20000.0, 40.0 + 1e-9])
    for p in [(0.5, 0.01, 2, 40), (0.5, 40, 2, 0.01), (0.55, 10.6, 0.6, 11.7)]:
        a, _ = _log_integral(*p, x, tx, T)
        b = _log_integral_hyp(*p, x, tx, T)
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a[:3], b[:3], rtol=1e-10)


def test_predictions_agree_with_lifetimes(fitted, cdnow):
    from lifetimes import ParetoNBDFitter

    lf = ParetoNBDFitter()
    lf.params_ = pd.Series(fitted.params_)
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    np.testing.assert_allclose(fitted.expected_purchases(39, cdnow),
                               lf.conditional_expected_number_of_purchases_up_to_time(39, f, r, T), rtol=1e-10)
    np.testing.assert_allclose(fitted.probability_alive(cdnow), lf.conditional_probability_alive(f, r, T), rtol=1e-10)
    assert fitted.expected_purchases_new_customer(39) == pytest.approx(lf.expected_number_of_purchases_up_to_time(39))


def test_parameter_recovery():
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    s = simulate_pareto_nbd(15000, truth, T=np.random.default_rng(0).uniform(30, 80, 15000), seed=5)
    m = ParetoNBDModel().fit(s)
    for k, v in truth.items():
        assert abs(m.params_[k] - v) < 3.5 * m.standard_errors_[k], (k, m.params_[k])


def test_weights_equal_duplicated_rows(cdnow):
    sub = cdnow.iloc[:500]
    w = np.random.default_rng(1).integers(1, 4, len(sub))
    a = ParetoNBDModel().fit(sub, sample_weight=w)
    b = ParetoNBDModel().fit(sub.loc[sub.index.repeat(w)].reset_index(drop=True))
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-4)


def test_json_round_trip(fitted, cdnow):
    back = ParetoNBDModel.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert back.params_ == fitted.params_
    pd.testing.assert_series_equal(back.probability_alive(cdnow), fitted.probability_alive(cdnow))
