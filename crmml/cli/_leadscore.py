"""``crmml train leadscore`` options, the ``crmml score`` summary of lead scores, and ``crmml leads daily``'s I/O."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path
from typing import Any

from crmml.cli._churn import _threads
from crmml.cli._common import _COUNT, _DAYS_POSITIVE, _add_static_column_options, _day

#: ``--out`` / ``--previous`` file types of ``crmml leads daily``, by suffix.
LIST_FORMATS = {".csv": "csv", ".parquet": "parquet"}
DEFAULT_DAILY_TOP = 20


# ---------------------------------------------------------------- train
def _grade_cuts(text: str) -> tuple[int, int, int]:
    """``--grade-cuts 75,50,25``: three decreasing whole scores in [2, 99] (grade_a, grade_b, grade_c)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        cuts = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three whole scores A,B,C such as 75,50,25; got {text!r}") from None
    if len(cuts) != 3:
        raise argparse.ArgumentTypeError(f"expected three whole scores A,B,C such as 75,50,25; got {text!r}")
    if not all(2 <= c <= 99 for c in cuts):
        raise argparse.ArgumentTypeError(f"each cut must be a score in [2, 99]; got {text!r}")
    if not cuts[0] > cuts[1] > cuts[2]:
        raise argparse.ArgumentTypeError(f"the cuts must decrease (A > B > C); got {text!r}")
    return cuts  # type: ignore[return-value]


def add_train_options(t: argparse.ArgumentParser) -> None:
    """The LeadScoreModel hyperparameters ``crmml train leadscore`` exposes."""
    t.add_argument("--learner", choices=("auto", "lightgbm", "linear"), default="auto",
                   help="auto (default): the cold-start model below 40 conversions, LightGBM from 400, the better "
                        "of both in between; or force one (docs/leadscore.md, Cold start)")
    t.add_argument("--horizon-days", type=_DAYS_POSITIVE, default=90.0,
                   help="the label: the lead converts within this many days after as_of")
    t.add_argument("--n-cutoffs", type=_COUNT, default=36,
                   help="training cutoffs (the latest is held out; those before the first lead are skipped)")
    t.add_argument("--cutoff-spacing-days", type=_DAYS_POSITIVE, default=30.0,
                   help="days between training cutoffs (default 30: each lead is seen young at several cutoffs)")
    t.add_argument("--grade-cuts", type=_grade_cuts, default=(75, 50, 25), metavar="A,B,C",
                   help="score cut points of grades A, B and C (default 75,50,25; below C is D)")
    _add_static_column_options(t, "leads")
    t.add_argument("--num-threads", type=_threads, default=0,
                   help="LightGBM threads for training and batch scoring (0 = all cores; 1 is steadier on a "
                        "busy machine)")


def train_params(a: argparse.Namespace) -> dict[str, Any]:
    """LeadScoreModel keyword arguments from the parsed options."""
    grade_a, grade_b, grade_c = a.grade_cuts
    return {"learner": a.learner, "horizon_days": a.horizon_days, "n_cutoffs": a.n_cutoffs,
            "cutoff_spacing_days": a.cutoff_spacing_days, "grade_a": grade_a, "grade_b": grade_b, "grade_c": grade_c,
            "static_columns": tuple(a.static_column), "allow_columns": tuple(a.allow_column),
            "num_threads": a.num_threads}


# ---------------------------------------------------------------- score
def _grades_table(counts: dict[str, int], means: dict[str, float], n: int) -> None:
    for g, k in counts.items():
        mean = means.get(g, float("nan"))
        shown = "—" if mean != mean else f"{mean:.3g}"
        print(f"  {g}  {k:>9,}  ({k / max(n, 1):6.1%})  mean conversion probability {shown}")


def print_scores(scores: Any, top: int) -> None:
    """Leads per grade (with their mean conversion probability), then the top leads by score with their first reason."""
    from crmml.leadscore import GRADES

    grade = scores["grade"].astype(str)
    counts = {g: int((grade == g).sum()) for g in GRADES}
    means = {g: float(scores.loc[grade == g, "conversion_probability"].mean()) if counts[g] else float("nan")
             for g in GRADES}
    print(f"\nGrades ({len(scores):,} open leads):")
    _grades_table(counts, means, len(scores))
    print(f"\nTop {top} leads by score:")
    cols = ["score", "grade", "follow_up", "conversion_probability", "reason_1"]
    best = scores.sort_values(["score", "conversion_probability"], ascending=False, kind="stable").head(top)
    print(best[cols].to_string(formatters={"conversion_probability": "{:.3f}".format}))


# ---------------------------------------------------------- leads daily
def list_format(path: str, option: str) -> str:
    """``csv`` or ``parquet`` from ``path``'s suffix (any case); anything else is a ParameterError (exit 5)."""
    from crmml.exceptions import ParameterError

    fmt = LIST_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ParameterError(f"{option} {path!r}: unknown file type {Path(path).suffix or '(none)'!r}; expected a "
                             f".csv or .parquet file. Fix: e.g. {option} leads_today.csv.")
    return fmt


def read_previous(path: str, option: str = "--previous") -> Any:
    """A previous daily list (``lead_id``, ``score``, optionally ``grade``) from a CSV or Parquet file.

    Raises
    ------
    ParameterError
        The file does not exist, is not CSV/Parquet by suffix, cannot be read,
        or lacks ``lead_id`` or ``score`` (exit 5, naming ``option``).
    """
    import pandas as pd

    from crmml.exceptions import ParameterError

    fmt = list_format(path, option)
    if not Path(path).is_file():
        raise ParameterError(f"{option} {path!r} does not exist or is not a file. Fix: pass the list a previous "
                             "'crmml leads daily --out FILE' wrote, or drop --previous to compare with the model's "
                             "scores of the day before.")
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, dtype={"lead_id": str})
        else:
            frame = pd.read_parquet(path)
    except Exception as exc:  # a file pandas cannot parse: any reader error
        detail = str(exc).strip().splitlines()
        raise ParameterError(f"{option} {path!r} cannot be read as {fmt.upper()} "
                             f"({type(exc).__name__}: {detail[0] if detail else ''}).") from None
    missing = [c for c in ("lead_id", "score") if c not in frame.columns]
    if missing:
        raise ParameterError(f"{option} {path!r} has no {' or '.join(map(repr, missing))} column; a previous list "
                             "needs lead_id and score (as 'crmml leads daily --out' writes them).")
    return frame


def write_list_atomic(frame: Any, path: str, option: str = "--out") -> Path:
    """Write the list as CSV or Parquet (by suffix) so readers never see a partial file.

    The bytes go to ``.<name>.crmml-<pid>-<random>.tmp`` in the same folder
    (the naming :func:`crmml.scoring.write_parquet_atomic` uses, so a killed
    run's leftovers are cleaned up the same way), then :func:`os.replace`.

    Raises
    ------
    ParameterError
        Not a ``.csv`` or ``.parquet`` path.
    OutputError
        The folder cannot be created or written.
    """
    from crmml._atomic import fsync_dir, remove_stale_temps, temp_name, write_file
    from crmml.exceptions import OutputError
    from crmml.scoring._batch import TEMP_FILE

    fmt = list_format(path, option)
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{option} {path!r} is a folder; expected a file path. Fix: name a file, e.g. "
                          f"{option} {str(target / ('leads_today' + target.suffix))!r}.")
    buf = io.BytesIO()
    if fmt == "csv":
        buf.write(frame.to_csv(index=False).encode("utf-8"))
    else:
        frame.to_parquet(buf, index=False)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot write {option} {path!r}: its folder {str(parent)!r} cannot be created "
                          f"({exc.strerror}). Fix: pass a path whose parents are writable folders.") from None
    remove_stale_temps(parent, TEMP_FILE)
    tmp = parent / temp_name(f".{target.name[:100]}.crmml-", ".tmp")
    try:
        write_file(tmp, buf.getvalue())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"Cannot write {option} {path!r}: {exc.strerror or exc}. Fix: check the folder's "
                              "permissions and free space.") from None
        raise
    fsync_dir(parent)
    return target


def print_daily(daily: Any, top: int, compared_with: str) -> None:
    """The summary of a :class:`~crmml.leadscore.DailyList` (grades, new A-leads), then its first ``top`` rows."""
    print(f"\nDaily lead list as of {_day(daily.as_of)}: {daily.n_scored:,} open leads scored "
          f"(compared with {compared_with}).")
    print("Grades:")
    _grades_table(daily.per_grade, daily.mean_probability, daily.n_scored)
    shown = ", ".join(daily.new_a_leads[:10]) + (" …" if daily.n_new_a > 10 else "")
    since = "yesterday" if daily.previous_as_of is not None else "the previous list"
    print(f"New A-leads since {since}: {daily.n_new_a:,}" + (f" ({shown})" if daily.n_new_a else ""))
    print(f"Leads not on the previous list: {daily.n_new:,}")
    rows = daily.frame.head(top)
    if not len(rows):
        return
    print(f"\nTop {len(rows)} leads:")
    cols = ["rank", "lead_id", "score", "grade", "change", "follow_up", "conversion_probability",
            "days_since_event", "reason_1"]
    print(rows[cols].to_string(index=False, formatters={"conversion_probability": "{:.3f}".format,
                                                        "days_since_event": _days}))


def _days(v: float) -> str:
    return "—" if v != v else f"{v:.1f}"
