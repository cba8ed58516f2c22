"""The plots of the supervised kinds: one generic module, worded per kind; the lead grade chart."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pandas as pd
import pytest

from crmml.plotting import PLOTTERS, save_plots, supervised
from crmml.plotting import churn as churn_plots
from crmml.plotting import leadscore as lead_plots

AS_OF = pd.Timestamp("2025-07-01")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def churn_model():
    from crmml.churn import ChurnModel
    from crmml.synthetic import make_b2c_world

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ChurnModel(num_threads=1).fit(make_b2c_world(800, seed=11).tables, AS_OF)


@pytest.fixture(scope="module")
def lead_world():
    from crmml.synthetic import make_b2b_world

    return make_b2b_world(300, n_leads=9000, seed=5)


@pytest.fixture(scope="module")
def lead_model(lead_world):
    from crmml.leadscore import LeadScoreModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LeadScoreModel(num_threads=1).fit(lead_world.tables, AS_OF)


@pytest.fixture
def ax():
    import matplotlib

    matplotlib.use("Agg")  # tests/conftest.py sets MPLBACKEND=Agg as well
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


# ------------------------------------------------------------------ wording
def test_wording_per_kind_and_generic_fallback():
    assert supervised.wording(SimpleNamespace(kind="churn")) == supervised.Wording(
        "churn", "customers", "churners", "riskiest first")
    assert supervised.wording(SimpleNamespace(kind="leadscore")) == supervised.Wording(
        "conversion", "leads", "converted leads", "best-scored first")
    odd = supervised.wording(SimpleNamespace(kind="deals", output_names={"probability": "deal_win_probability"}))
    assert (odd.outcome, odd.entities, odd.positives) == ("deal win", "entities", "positives")
    plain = supervised.wording(SimpleNamespace(kind="other", output_names={"probability": "probability"}))
    assert plain.outcome == "outcome" and plain.ordering == "highest probability first"


def test_churn_module_reexports_the_generic_plots():
    for name in ("plot_calibration_curve", "plot_gain_chart", "plot_reason_frequencies", "gain_table"):
        assert getattr(churn_plots, name) is getattr(supervised, name)
    assert PLOTTERS["churn"] == ("crmml.plotting.churn", "save_churn_plots")
    assert PLOTTERS["leadscore"] == ("crmml.plotting.leadscore", "save_leadscore_plots")


# --------------------------------------------------------------- gain table
def test_gain_table_by_hand():
    # positives per bin: 0.1*100 = 10, 0.5*50 = 25, 0.2*50 = 10 (45 in all); ranked 0.8, 0.5, 0.2
    x, y = supervised.gain_table({"mean_predicted": [0.2, 0.8, 0.5], "observed": [0.1, 0.5, 0.2],
                                  "count": [100, 50, 50]})
    assert x.tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert y.tolist() == pytest.approx([0.0, 25 / 45, 35 / 45, 1.0])


def test_gain_table_without_positives_stays_at_zero():
    x, y = supervised.gain_table({"mean_predicted": [0.1, 0.2], "observed": [0.0, 0.0], "count": [3, 1]})
    assert x.tolist() == [0.0, 0.25, 1.0] and y.tolist() == [0.0, 0.0, 0.0]


# -------------------------------------------------------------------- churn
def test_churn_plots_keep_their_words(churn_model, ax):
    supervised.plot_calibration_curve(churn_model, ax=ax)
    assert ax.get_xlabel() == "mean predicted churn probability"
    assert ax.get_ylabel() == "observed churn rate"
    assert ax.get_title() == "Calibration on the held-out cutoff"
    ax.clear()
    churn_plots.plot_gain_chart(churn_model, ax=ax)
    assert ax.get_xlabel() == "share of customers contacted (riskiest first)"
    assert ax.get_ylabel() == "share of churners reached"
    assert ax.get_title() == "Cumulative gain on the held-out cutoff"
    x, y = supervised.gain_table(churn_model.model_.evaluation_.calibration_curve)
    model_line = ax.get_lines()[1]
    assert model_line.get_xdata().tolist() == x.tolist() and model_line.get_ydata().tolist() == y.tolist()
    ax.clear()
    churn_plots.plot_reason_frequencies(churn_model, top=5, ax=ax)
    assert ax.get_xlabel() == "share of held-out customers with this factor in their top 3 reasons"
    assert ax.get_title() == "Reason frequencies"
    assert len(ax.patches) == min(5, len(churn_model.reason_frequencies_))


def test_save_churn_plots_writes_pngs(churn_model, tmp_path):
    paths = churn_plots.save_churn_plots(churn_model, None, tmp_path / "plots")
    assert sorted(paths) == ["calibration_curve", "gain_chart", "reason_frequencies"]
    assert all(p.parent == tmp_path / "plots" and p.suffix == ".png" and _is_png(p) for p in paths.values())
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths.values())


@pytest.mark.parametrize("which, words", [
    ("other", ("mean predicted win probability", None, "share of entities contacted (highest probability first)",
               "share of positives reached", "share of held-out entities with this factor in their top 3 reasons")),
    ("lead", ("mean predicted conversion probability", "observed conversion rate",
              "share of leads contacted (best-scored first)", "share of converted leads reached",
              "share of held-out leads with this factor in their top 3 reasons")),
])
def test_the_words_follow_the_kind(which, words, request, ax):
    if which == "other":  # an unknown kind gets generic words (the outcome from its probability column)
        churn_model = request.getfixturevalue("churn_model")
        model = SimpleNamespace(kind="other", output_names={"probability": "win_probability"},
                                model_=churn_model.model_, reason_frequencies_=churn_model.reason_frequencies_)
    else:
        model = request.getfixturevalue("lead_model")
    calib_x, calib_y, gain_x, gain_y, reasons_x = words
    supervised.plot_calibration_curve(model, ax=ax)
    assert ax.get_xlabel() == calib_x and (calib_y is None or ax.get_ylabel() == calib_y)
    ax.clear()
    supervised.plot_gain_chart(model, ax=ax)
    assert ax.get_xlabel() == gain_x and ax.get_ylabel() == gain_y
    ax.clear()
    supervised.plot_reason_frequencies(model, ax=ax)
    assert ax.get_xlabel() == reasons_x


# --------------------------------------------------------------- leadscore
def test_save_plots_of_the_leadscore_kind(lead_model, tmp_path):
    paths = save_plots(lead_model, None, tmp_path)
    assert list(paths) == ["calibration_curve", "gain_chart", "reason_frequencies", "conversion_by_grade"]
    assert all(p.is_file() and _is_png(p) for p in paths.values())


def test_conversion_by_grade_equals_the_grades_of_the_held_out_cutoff(lead_model, lead_world):
    """Scored again at the held-out cutoff (no refit: the same trees), the real grades are the table exactly."""
    from crmml.features import lead_conversion_labels

    assert lead_model.model_.training_["refit"] is False
    cutoff = pd.Timestamp(lead_model.model_.training_["holdout_cutoff"])
    truth = lead_model.score(lead_world.tables, as_of=cutoff).join(
        lead_conversion_labels(lead_world.tables, cutoff, lead_model.horizon_days), how="inner")
    actual = truth.groupby("grade", observed=False)["converted"].agg(["size", "sum"]).reindex(list("ABCD"))
    table = lead_plots.conversion_by_grade(lead_model)
    assert list(table.index) == ["A", "B", "C", "D"]
    assert table["leads"].tolist() == actual["size"].tolist()
    assert table["converted"].tolist() == actual["sum"].tolist()


def test_grade_chart_bars_in_grade_order_with_the_rates(lead_model, ax):
    lead_plots.plot_conversion_by_grade(lead_model, ax=ax)
    table = lead_plots.conversion_by_grade(lead_model)
    bars = sorted(ax.patches, key=lambda b: b.get_x())
    assert [b.get_height() for b in bars] == pytest.approx(table["rate"].fillna(0.0).tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A (≥75)", "B (50–74)", "C (25–49)", "D (<25)"]
    assert ax.get_title() == "Conversion rate by grade on the held-out cutoff"
    assert ax.get_ylabel() == "observed conversion rate"


def test_grade_table_by_hand_on_a_small_case():
    """Scores 1..99 with 1 lead each and a conversion at every score >= 90: A = 75..99 holds 25 leads, 10 converted."""
    from crmml.leadscore import LeadScoreModel

    fake = LeadScoreModel()
    fake.model_ = SimpleNamespace(score_table_={"count": [1] * 99, "positives": [0] * 89 + [1] * 10})
    table = lead_plots.conversion_by_grade(fake)
    assert table["leads"].tolist() == [25, 25, 25, 24]
    assert table["converted"].tolist() == [10, 0, 0, 0]
    assert table["rate"].tolist() == pytest.approx([0.4, 0.0, 0.0, 0.0])


def test_empty_grade_has_no_rate_and_the_chart_says_so(lead_model, ax):
    from crmml.leadscore import LeadScoreModel

    fake = LeadScoreModel()
    fake.model_ = SimpleNamespace(score_table_={"count": [8] + [0] * 97 + [2], "positives": [0] * 98 + [2]})
    table = lead_plots.conversion_by_grade(fake)
    assert table["leads"].tolist() == [2, 0, 0, 8]
    assert table.loc["B":"C", "leads"].tolist() == [0, 0] and table.loc["B":"C", "rate"].isna().all()
    lead_plots.plot_conversion_by_grade(fake, ax=ax)
    assert sum(t.get_text() == "no leads" for t in ax.texts) == 2


def test_a_loaded_lead_model_draws_the_same_grade_table(lead_model, tmp_path):
    from crmml.leadscore import LeadScoreModel

    back = LeadScoreModel.load(lead_model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(lead_plots.conversion_by_grade(back), lead_plots.conversion_by_grade(lead_model))
