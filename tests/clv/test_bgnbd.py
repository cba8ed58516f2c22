import json

import numpy as np
import pandas as pd
import pytest

from crmml.clv import BetaGeoModel, simulate_bgnbd
from crmml.exceptions import DataContractError, NotFittedError, ParameterError

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee (2005), CDNOW


@pytest.fixture(scope="module")
def fitted(cdnow):
    return BetaGeoModel().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_twin(fitted):
    from lifetimes import BetaGeoFitter

    lf = BetaGeoFitter()
    lf.params_ = pd.Series(fitted.params_)
    return lf


def test_cdnow_published_parameters(fitted):
    for k, v in PUBLISHED.items():
        assert fitted.params_[k] == pytest.approx(v, rel=2e-3)
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.n_customers_ == 2357


def test_cdnow_standard_errors_match_lifetimes(fitted):
    # lifetimes 0.11.3 on the same data: r 0.01256, alpha 0.3782, a 0.1857, b 0.7053
    ref = {"r": 0.012557, "alpha": 0.378221, "a": 0.185719, "b": 0.705345}
    for k, v in ref.items():
        assert fitted.standard_errors_[k] == pytest.approx(v, rel=1e-3)
    ci = fitted.confidence_intervals_
    assert ci.loc["r", "lower 95% bound"] < fitted.params_["r"] < ci.loc["r", "upper 95% bound"]


def test_predictions_agree_with_lifetimes(fitted, lifetimes_twin, cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    exp = fitted.expected_purchases(39, cdnow)
    assert exp.index.equals(cdnow.index)
    np.testing.assert_allclose(
        exp, lifetimes_twin.conditional_expected_number_of_purchases_up_to_time(39, f, r, T), rtol=1e-10)
    np.testing.assert_allclose(
        fitted.probability_alive(cdnow), lifetimes_twin.conditional_probability_alive(f, r, T), rtol=1e-12)
    assert fitted.expected_purchases_new_customer(39) == pytest.approx(
        lifetimes_twin.expected_number_of_purchases_up_to_time(39), rel=1e-12)
    assert fitted.probability_of_n_purchases(3, 39) == pytest.approx(
        lifetimes_twin.probability_of_n_purchases_up_to_time(39, 3), rel=1e-10)


def test_probabilities_of_n_sum_to_one(fitted):
    assert sum(fitted.probability_of_n_purchases(n, 39) for n in range(400)) == pytest.approx(1.0, abs=1e-6)


def test_extreme_frequency_and_age_stay_finite(fitted, lifetimes_twin):
    s = pd.DataFrame({"frequency": [3000.0, 5000.0, 0.0], "recency": [29995.0, 39995.0, 0.0],
                      "T": [30000.0, 40000.0, 40000.0]}, index=["a", "b", "c"])
    e = fitted.expected_purchases(100, s)
    pa = fitted.probability_alive(s)
    assert np.isfinite(e).all() and (e > 0).all()
    assert np.isfinite(pa).all()
    with np.errstate(all="ignore"):
        ref = np.asarray(lifetimes_twin.conditional_expected_number_of_purchases_up_to_time(
            100, s["frequency"], s["recency"], s["T"]))
    np.testing.assert_allclose(e, ref, rtol=1e-8)
    # a customer still buying at a steady rate keeps buying at about that rate
    assert e["a"] == pytest.approx(3000 / 30000 * 100, rel=0.05)


def test_fit_on_extreme_data_does_not_overflow():
    rng = np.random.default_rng(3)
    s = simulate_bgnbd(3000, {"r": 3.0, "alpha": 30.0, "a": 0.5, "b": 20.0}, T=rng.uniform(5000, 20000, 3000), seed=4)
    assert s["frequency"].max() > 1000
    m = BetaGeoModel().fit(s)
    assert np.isfinite(m.log_likelihood_)
    assert m.params_["r"] == pytest.approx(3.0, rel=0.15)


def test_parameter_recovery_on_simulated_data():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    s = simulate_bgnbd(20000, truth, T=np.random.default_rng(0).uniform(20, 60, 20000), seed=11)
    m = BetaGeoModel().fit(s)
    for k, v in truth.items():
        assert abs(m.params_[k] - v) < 3.5 * m.standard_errors_[k], (k, m.params_[k], m.standard_errors_[k])


def test_weights_equal_duplicated_rows(cdnow):
    sub = cdnow.iloc[:400]
    w = np.random.default_rng(0).integers(1, 4, len(sub))
    weighted = BetaGeoModel().fit(sub, sample_weight=w)
    expanded = BetaGeoModel().fit(sub.loc[sub.index.repeat(w)].reset_index(drop=True))
    for k in weighted.params_:
        assert weighted.params_[k] == pytest.approx(expanded.params_[k], rel=1e-5)
        assert weighted.standard_errors_[k] == pytest.approx(expanded.standard_errors_[k], rel=1e-3)
    assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-9)


def test_json_round_trip(fitted, cdnow):
    d = json.loads(json.dumps(fitted.to_dict()))
    assert d["model"] == "BetaGeoModel" and set(d["params"]) == {"r", "alpha", "a", "b"}
    back = BetaGeoModel.from_dict(d)
    assert back.params_ == fitted.params_
    assert back.standard_errors_ == fitted.standard_errors_
    pd.testing.assert_series_equal(back.expected_purchases(10, cdnow), fitted.expected_purchases(10, cdnow))


def test_not_fitted():
    with pytest.raises(NotFittedError, match="This BetaGeoModel instance is not fitted yet"):
        BetaGeoModel().probability_alive(pd.DataFrame({"frequency": [1], "recency": [1], "T": [2]}))


def test_bad_penalizer():
    with pytest.raises(ParameterError, match=r"The 'penalizer' parameter of BetaGeoModel must be >= 0. Got -1"):
        BetaGeoModel(penalizer=-1).fit(pd.DataFrame({"frequency": [1], "recency": [1], "T": [2]}))


def _bad(**cols):
    base = {"frequency": [1.0, 0.0, 2.0, 3.0], "recency": [5.0, 0.0, 7.0, 9.0], "T": [10.0, 10.0, 10.0, 10.0]}
    base.update(cols)
    return pd.DataFrame(base, index=["c1", "c2", "c3", "c4"])


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (_bad(frequency=[1.0, np.nan, 2.0, np.inf]), r"summary.frequency: finite values \(no NaN or inf\) — 2 rows fail \(e.g. c2, c4\)"),
        (_bad(recency=[5.0, 0.0, 17.0, 9.0]), r"summary.recency: recency <= T — 1 row fails \(e.g. c3\)"),
        (_bad(frequency=[1.5, 0.0, 2.0, 3.0]), r"summary.frequency: integer frequency — 1 row fails \(e.g. c1\)"),
        (_bad(frequency=[-1.0, 0.0, 2.0, 3.0]), r"summary.frequency: frequency >= 0 — 1 row fail"),
        (_bad(recency=[5.0, 4.0, 7.0, 9.0]), r"summary.recency: recency == 0 when frequency == 0 — 1 row fails \(e.g. c2\)"),
        (_bad(T=[10.0, -1.0, 10.0, 10.0], recency=[5.0, 0.0, 7.0, 9.0]), r"summary.T: T >= 0 — 1 row fail"),
        (_bad().drop(columns="T"), r"summary.T: column present"),
    ],
)
def test_bad_summary_is_a_data_contract_error(frame, match):
    with pytest.raises(DataContractError, match=match):
        BetaGeoModel().fit(frame)


def test_bad_weights():
    with pytest.raises(DataContractError, match=r"summary.sample_weight: weights >= 0 — 1 row fail"):
        BetaGeoModel().fit(_bad(), sample_weight=[1, -1, 1, 1])


def test_recency_zero_with_repeat_purchases_is_allowed():
    s = simulate_bgnbd(2000, {"r": 0.3, "alpha": 4.0, "a": 0.8, "b": 2.5}, T=30.0, seed=1, discrete=True)
    assert ((s["frequency"] > 0) & (s["recency"] == 0)).any()
    assert np.isfinite(BetaGeoModel().fit(s).log_likelihood_)
