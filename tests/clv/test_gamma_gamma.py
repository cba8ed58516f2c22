import json

import numpy as np
import pandas as pd
import pytest

from crmml.clv import BetaGeoModel, GammaGammaModel, simulate_gamma_gamma
from crmml.exceptions import DataContractError


@pytest.fixture(scope="module")
def gg(cdnow_monetary):
    return GammaGammaModel().fit(cdnow_monetary)


def test_cdnow_published_parameters(gg):
    # Fader, Hardie & Lee (2005) "RFM and CLV": p = 6.25, q = 3.74, gamma = 15.44 on 946 repeat buyers
    assert gg.params_["p"] == pytest.approx(6.25, rel=2e-3)
    assert gg.params_["q"] == pytest.approx(3.74, rel=2e-3)
    assert gg.params_["v"] == pytest.approx(15.44, rel=2e-3)
    assert gg.n_customers_ == 946
    assert gg.exclusions_.total() == 2357 - 946
    assert "frequency == 0" in gg.exclusions_.items[0].rule


def test_expected_average_value_and_clv_match_lifetimes(gg, cdnow_monetary):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    df = cdnow_monetary
    lgg = GammaGammaFitter()
    lgg.params_ = pd.Series(gg.params_)
    np.testing.assert_allclose(
        gg.expected_average_value(df),
        lgg.conditional_expected_average_profit(df["frequency"], df["monetary_value"]), rtol=1e-12)
    bg = BetaGeoModel().fit(df)
    lbg = BetaGeoFitter()
    lbg.params_ = pd.Series(bg.params_)
    lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time
    ref = lgg.customer_lifetime_value(lbg, df["frequency"], df["recency"], df["T"], df["monetary_value"],
                                      time=12, discount_rate=0.01, freq="W")
    got = gg.customer_lifetime_value(bg, df, time_months=12, discount_rate=0.01, freq="W")
    assert got.index.equals(df.index)
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_nonpositive_monetary_value_of_repeat_buyer_is_rejected():
    s = pd.DataFrame({"frequency": [1, 2, 0], "monetary_value": [10.0, -3.0, 0.0]}, index=["a", "b", "c"])
    with pytest.raises(DataContractError, match=r"summary.monetary_value: monetary_value > 0 for customers with frequency > 0 — 1 row fails \(e.g. b\)"):
        GammaGammaModel().fit(s)


def test_parameter_recovery():
    truth = {"p": 6.0, "q": 4.0, "v": 15.0}
    x = np.random.default_rng(1).integers(1, 10, 20000)
    s = pd.DataFrame({"frequency": x, "monetary_value": simulate_gamma_gamma(x, truth, seed=2)})
    m = GammaGammaModel().fit(s)
    for k, v in truth.items():
        assert abs(m.params_[k] - v) < 3.5 * m.standard_errors_[k]


def test_json_round_trip(gg, cdnow_monetary):
    back = GammaGammaModel.from_dict(json.loads(json.dumps(gg.to_dict())))
    assert back.params_ == gg.params_
    pd.testing.assert_series_equal(back.expected_average_value(cdnow_monetary), gg.expected_average_value(cdnow_monetary))
