"""The drift report in markdown: per model, how many columns to watch and act on, and which.

The report shows column names, PSI values and row counts only — aggregates,
never a value of an entity — so it may be written beside a batch's manifest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmml.drift._psi import NO_DATA, PSI_ACT, PSI_EPS, PSI_WATCH

__all__ = ["drift_markdown", "TOP_OK"]

TOP_OK = 5
"""Columns with status "ok" listed per model after every act and watch column (the most drifted first)."""

_HEADER = "| column | kind | PSI | status | reference rows | current rows |\n|---|---|---:|---|---:|---:|"


def _cell(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _section(name: str, table: pd.DataFrame, top_ok: int) -> list[str]:
    status = table["status"].astype(str) if len(table) else pd.Series(dtype=object)
    n_act, n_watch = int((status == "act").sum()), int((status == "watch").sum())
    n_ok, n_none = int((status == "ok").sum()), int((status == NO_DATA).sum())
    lines = [f"## {_cell(name)}", "",
             f"- **act** (PSI > {PSI_ACT:g}): {_plural(n_act, 'column')}",
             f"- **watch** ({PSI_WATCH:g} < PSI ≤ {PSI_ACT:g}): {_plural(n_watch, 'column')}",
             f"- ok (PSI ≤ {PSI_WATCH:g}): {_plural(n_ok, 'column')}"]
    if n_none:
        lines.append(f"- no data (no rows to compare): {_plural(n_none, 'column')}")
    lines.append("")
    if not len(table):
        return [*lines, "No column was compared.", ""]
    drifted = table[status.isin(["act", "watch"]).to_numpy()]
    ok = table[(status == "ok").to_numpy()].head(top_ok)
    shown = pd.concat([drifted, ok])
    if n_act + n_watch == 0:
        lines += ["No column drifted. The most shifted ones:", ""]
    lines.append(_HEADER)
    for r in shown.itertuples(index=False):
        value = "—" if r.psi is None or math.isnan(r.psi) else f"{r.psi:.4f}"
        mark = f"**{r.status}**" if r.status in ("act", "watch") else r.status
        lines.append(f"| {_cell(r.column)} | {r.kind} | {value} | {mark} | {r.n_reference:,} | {r.n_current:,} |")
    hidden = n_ok - len(ok)
    if hidden > 0:
        lines += ["", f"and {_plural(hidden, 'more column')} with status ok."]
    return [*lines, ""]


def drift_markdown(tables: Mapping[str, pd.DataFrame], *, as_of: Any, title: str = "Drift report",
                   top_ok: int = TOP_OK) -> str:
    """A markdown drift report: one section per model, then the thresholds explained.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Model name → its :func:`~crmml.drift.drift_table`.
    as_of : timestamp-like or str
        When the current population was taken (shown in the heading).
    title : str, default "Drift report"
    top_ok : int, default 5
        "ok" columns listed per model after every act and watch column.

    Returns
    -------
    str
        Markdown text (ends with a newline).

    Examples
    --------
    >>> t = pd.DataFrame({"column": ["recency", "orders"], "kind": ["feature", "feature"], "psi": [0.31, 0.02],
    ...                   "status": ["act", "ok"], "n_reference": [900, 900], "n_current": [950, 950]})
    >>> print(drift_markdown({"churn": t}, as_of="2025-08-01").splitlines()[6])
    - **act** (PSI > 0.25): 1 column
    """
    when = str(as_of)
    try:
        when = pd.Timestamp(as_of).isoformat()
    except (ValueError, TypeError):
        pass
    lines = [f"# {_cell(title)}", "",
             f"Population as of {when}: the population stability index (PSI) of every feature and score of each "
             "model against the reference distribution stored when the model was fitted.", ""]
    for name, table in tables.items():
        lines += _section(str(name), table, int(top_ok))
    lines += [
        "## Thresholds", "",
        "PSI = Σ (a − e) · ln(a / e) over the reference bins (numeric: quantiles of the fit population; "
        "categorical: its most frequent labels, other, missing), with `e` the reference share and `a` the current "
        f"share of a bin, each floored at {PSI_EPS:g}.", "",
        f"- **ok** — PSI ≤ {PSI_WATCH:g}: no significant change.",
        f"- **watch** — {PSI_WATCH:g} < PSI ≤ {PSI_ACT:g}: a moderate shift; check the data feed and watch the "
        "next runs.",
        f"- **act** — PSI > {PSI_ACT:g}: a major shift; the model sees a population it was not trained on. Find the "
        "cause (a changed data feed, a new customer mix) and re-train.", "",
    ]
    return "\n".join(lines)
