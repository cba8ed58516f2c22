"""Shared pieces of the CLI: exit codes, progress on stderr, option types, loading the tables."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DATA, EXIT_ARTIFACT, EXIT_PARAM, EXIT_TRACKING = 0, 1, 2, 3, 4, 5, 6
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    another crmml error, an operating-system error, or an internal error
  2    usage error (unknown option, nan/inf/negative number, contradictory options)
  3    bad input data (data contract; --data is not a folder of tables)
  4    the model cannot be loaded (no model at --model, bad artifact, unknown
       registered model/version/alias or run, a model of another kind)
  5    invalid parameter (e.g. --as-of, --tracking-uri scheme, --name/--alias) or a
       path crmml cannot write (--out is a folder, unwritable, a non-empty folder)
  6    MLflow tracking store or registry unusable (unreachable, missing, failing)
  7    crmml batch run --fail-on-drift: a model drifted to the act level (the run is published)
  130  interrupted (Ctrl-C)
"""


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextmanager
def _step(label: str) -> Iterator[None]:
    """Progress for a long step: label, then elapsed time (on stderr)."""
    _err(f"… {label}")
    t0 = time.perf_counter()
    yield
    _err(f"  done in {time.perf_counter() - t0:.1f} s")


def _print_progress(event: Any) -> None:
    """The ``progress`` callback of :func:`crmml.training.train`: results on stdout, the rest on stderr."""
    if event.status == "result":
        print(event.message, flush=True)
    else:
        _err(str(event))


# ------------------------------------------------------------- option parsing
def _number(kind: type, *, minimum: float | None = None, exclusive: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=``: a finite ``int``/``float``, optionally bounded below.

    argparse turns the ``ArgumentTypeError`` into a usage error (exit 2) that
    names the option: ``argument --holdout-days: must be a finite number, got 'nan'``.
    """
    what = "an integer" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if minimum is not None and (value < minimum or (exclusive and value == minimum)):
            raise argparse.ArgumentTypeError(f"must be {what} {'>' if exclusive else '>='} {minimum:g}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


_COUNT = _number(int, minimum=1)
_SEED = _number(int, minimum=0)
_DAYS_POSITIVE = _number(float, minimum=0, exclusive=True)
_NON_NEGATIVE = _number(float, minimum=0)
_TOP = _number(int, minimum=0)


def _parse_as_of(text: str | None) -> Any:
    """``--as-of`` as a Timestamp, checked before any data is read (ParameterError → exit 5)."""
    if text is None:
        return None
    from crmml.features import to_timestamp

    return to_timestamp(text, "--as-of")


def _day(ts: Any) -> str:
    return str(ts.date()) if ts == ts.normalize() else str(ts)


# ------------------------------------------------------------------ loading
def _no_data(path: str, detail: str) -> Exception:
    from crmml.exceptions import DataContractError, Problem

    return DataContractError(
        [Problem("(folder)", None, f"--data {path!r} {detail}; expected a folder of contract table files",
                 hint="pass the folder holding customers.parquet, transactions.csv ...")],
        context="loading tables",
    )


def _check_data(path: str) -> None:
    """``--data`` must be a folder (DataContractError → exit 3), checked before the long work."""
    if not Path(path).is_dir():
        raise _no_data(path, "does not exist" if not Path(path).exists() else "is a file")


def _load(path: str, tables: Sequence[str] | None = None) -> Any:
    from crmml.data import load_tables

    _check_data(path)
    with _step(f"loading tables from {path}"):
        t = load_tables(path, tables=tables)
    _err("  " + ", ".join(f"{n}: {k:,}" for n, k in t.n_rows().items()))
    return t


def _default_as_of(tables: Any, sources: Sequence[str] | None) -> Any:
    """The default cutoff (the day after the latest event not in the future), announced.

    Rows dated in the future are reported by ``default_as_of`` at WARNING
    level; the CLI's log handler prints them as ``warning: …``.
    """
    from crmml.data import ExclusionReport
    from crmml.features import default_as_of

    ts = default_as_of(tables, sources=sources, report=ExclusionReport())
    _err(f"as_of: {_day(ts)} (default: the day after the latest event; pass --as-of to choose)")
    return ts


def _exclusion(e: dict[str, Any]) -> str:
    from crmml.training import describe_exclusion

    return f"  {describe_exclusion(e)}"


def _add_static_column_options(t: Any, table: str, note: str = "") -> None:
    """``--static-column`` / ``--allow-column`` of a model with extra columns of ``table`` (screened for leakage)."""
    t.add_argument("--static-column", action="append", default=[], metavar="NAME",
                   help=f"an extra column of the {table} table to use as a feature (repeatable; screened for "
                        f"leakage first{note})")
    t.add_argument("--allow-column", action="append", default=[], metavar="NAME",
                   help="a --static-column to use even though the leakage screen flags it (repeatable)")
