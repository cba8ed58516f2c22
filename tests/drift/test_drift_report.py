"""The markdown drift report and the drift plot."""

from __future__ import annotations

import math

import pandas as pd

from crmml.drift import drift_markdown


def _table(rows) -> pd.DataFrame:
    t = pd.DataFrame(rows, columns=["column", "kind", "psi", "status", "n_reference", "n_current"])
    return t.sort_values("psi", ascending=False, na_position="last").reset_index(drop=True)


CHURN = _table([("recency_days", "feature", 0.41, "act", 800, 900), ("churn_probability", "score", 0.12, "watch", 800,
                                                                    900)]
               + [(f"f{i}", "feature", 0.01 * i / 10, "ok", 800, 900) for i in range(9)])
CLV = _table([("frequency", "feature", 0.02, "ok", 3000, 3100), ("clv", "score", 0.01, "ok", 3000, 3100),
              ("margin_rate", "feature", math.nan, "no data", 3000, 0)])


def test_markdown_has_a_section_per_model_with_act_and_watch_first():
    text = drift_markdown({"churn": CHURN, "clv|b2c": CLV}, as_of="2025-10-01")
    assert text.startswith("# Drift report\n") and "2025-10-01T00:00:00" in text
    churn = text[text.index("## churn"):text.index("## clv")]
    assert "- **act** (PSI > 0.25): 1 column" in churn and "- **watch** (0.1 < PSI ≤ 0.25): 1 column" in churn
    assert "- ok (PSI ≤ 0.1): 9 columns" in churn
    rows = [line for line in churn.splitlines() if line.startswith("| ") and "PSI" not in line]
    assert rows[0].startswith("| recency_days | feature | 0.4100 | **act** | 800 | 900 |")
    assert rows[1].startswith("| churn_probability | score | 0.1200 | **watch** |")
    assert len(rows) == 2 + 5 and "and 4 more columns with status ok." in churn  # top 5 ok shown
    clv = text[text.index("## clv"):text.index("## Thresholds")]
    assert "clv\\|b2c" in clv and "No column drifted" in clv and "no data (no rows to compare): 1 column" in clv
    assert "| margin_rate" not in clv  # only act, watch and the top ok columns are listed
    thresholds = text[text.index("## Thresholds"):]
    assert "PSI = Σ (a − e) · ln(a / e)" in thresholds and "**watch**" in thresholds and "**act**" in thresholds


def test_plot_writes_a_png(tmp_path):
    from crmml.plotting import plot_drift

    path = plot_drift({"churn": CHURN, "clv": CLV, "empty": CHURN.iloc[:0]}, tmp_path / "plots" / "drift.png", top=5)
    assert path == tmp_path / "plots" / "drift.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_drift({}, tmp_path / "none.png").exists()
