"""The parser, error handling and ``main``."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from crmml.cli import _forecast, _retrain
from crmml.cli._commands import (
    _cmd_backtest_forecast,
    _cmd_demo,
    _cmd_features,
    _cmd_forecast,
    _cmd_leads_daily,
    _cmd_score,
    _cmd_synth,
    _cmd_train,
)
from crmml.cli._common import (
    _COUNT,
    _NON_NEGATIVE,
    _SEED,
    _TOP,
    EXIT_ARTIFACT,
    EXIT_CODES_HELP,
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PARAM,
    EXIT_TRACKING,
    _err,
    _number,
)


# ---------------------------------------------------------------------- parser
def _common_train_options(t: argparse.ArgumentParser) -> None:
    """The options of ``crmml train <kind>`` that every kind shares (the kind adds its own)."""
    from crmml.training import DEFAULT_HOLDOUT_DAYS

    t.add_argument("--data", required=True, help="folder of contract tables")
    t.add_argument("--as-of", help="training cutoff (default: the day after the latest event of the model's "
                                   "source tables not in the future)")
    t.add_argument("--holdout-days", type=_NON_NEGATIVE, default=DEFAULT_HOLDOUT_DAYS,
                   help="evaluate on the last N days before as-of first (0 to skip)")
    t.add_argument("--register", action="store_true",
                   help="register in the MLflow model registry (last, after --save succeeded)")
    t.add_argument("--name", help="registered model name (default: crmml-<kind>)")
    t.add_argument("--alias", default="champion", help="alias set on the registered version")
    t.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    t.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    t.add_argument("--plots-dir", help="also keep the PNG plots here")
    t.add_argument("--save", help="also save the model artifact to this folder (new, empty, or a previous "
                                  "model artifact)")


def _parser() -> argparse.ArgumentParser:
    from crmml import __version__
    from crmml.cli._kinds import CLI_KINDS
    from crmml.scoring import KINDS

    fmt = argparse.RawDescriptionHelpFormatter
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="print tracebacks; let unexpected errors propagate")

    def leaf(parent: Any, name: str, help: str) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=help, parents=[debug], epilog=EXIT_CODES_HELP, formatter_class=fmt)

    p = argparse.ArgumentParser(prog="crmml", description="Predictive CRM analytics from CRM event tables.",
                                epilog=EXIT_CODES_HELP, formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"crmml {__version__}")
    p.add_argument("--debug", action="store_true", default=False,
                   help="print tracebacks; let unexpected errors propagate")
    sub = p.add_subparsers(dest="command", required=True)

    s = leaf(sub, "synth", "generate a synthetic CRM world with ground truth")
    s.add_argument("world", choices=["b2c", "b2b"])
    s.add_argument("--customers", type=_COUNT, default=3000, help="B2C customers (default 3000)")
    s.add_argument("--accounts", type=_COUNT, default=300, help="B2B accounts (default 300)")
    s.add_argument("--leads", type=_number(int, minimum=0), default=None, help="B2B leads (default: 3 per account)")
    s.add_argument("--seed", type=_SEED, default=7)
    s.add_argument("--out", required=True, help="output folder (one Parquet file or folder per table); "
                   "must be new or empty unless --force")
    s.add_argument("--force", action="store_true",
                   help="replace a synthetic world already in --out (only the table files and folders synth "
                        "writes; a folder holding other files is refused)")
    s.add_argument("--stream", action="store_true", help="B2C only: write in chunks (for millions of customers)")
    s.set_defaults(func=_cmd_synth)

    f = leaf(sub, "features", "build point-in-time features and print a summary")
    f.add_argument("--data", required=True, help="folder of contract tables")
    f.add_argument("--as-of", help="cutoff date (default: the day after the latest event not in the future)")
    f.add_argument("--out", help="folder to write <builder>.parquet files to")
    f.set_defaults(func=_cmd_features)

    tr = sub.add_parser("train", help="train a model (holdout check, fit, MLflow, register)", parents=[debug])
    trs = tr.add_subparsers(dest="model_kind", required=True, metavar="KIND")
    for kind, hooks in CLI_KINDS.items():
        t = leaf(trs, kind, hooks.help)
        _common_train_options(t)
        hooks.add_train_options(t)
        t.set_defaults(func=_cmd_train, _leaf=t)

    _retrain.add_parser(sub, leaf, [debug])  # crmml retrain KIND

    sc = leaf(sub, "score", "score with a saved or registered model (the kind is read from the model)")
    sc.add_argument("kind", nargs="?", choices=sorted(KINDS), default=None,
                    help="optional: refuse a model of another kind (crmml score clv --model ...)")
    sc.add_argument("--model", required=True, help="model folder or MLflow URI, e.g. models:/crmml-clv@champion")
    sc.add_argument("--data", required=True, help="folder of contract tables")
    sc.add_argument("--as-of", help="scoring cutoff (default: the day after the latest event of the model's "
                                    "source tables not in the future)")
    sc.add_argument("--out", help="output Parquet file (written atomically)")
    sc.add_argument("--top", type=_TOP, default=10, help="top entities to print")
    sc.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs "
                                           "(default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db; never created)")
    sc.set_defaults(func=_cmd_score)

    ld = sub.add_parser("leads", help="lead lists from a lead-scoring model", parents=[debug])
    lds = ld.add_subparsers(dest="leads_command", required=True, metavar="COMMAND")
    dl = leaf(lds, "daily", "today's open leads by score, with the change since yesterday")
    dl.add_argument("--model", required=True, help="lead-scoring model folder or MLflow URI, e.g. "
                                                   "models:/crmml-leadscore@champion")
    dl.add_argument("--data", required=True, help="folder of contract tables")
    dl.add_argument("--as-of", help="the list's point in time (default: the day after the latest leads / "
                                    "lead_events event not in the future, i.e. the start of today)")
    dl.add_argument("--top", type=_TOP, default=None,
                    help="print (and with --out, write) only the first N leads (default: print 20, write all)")
    dl.add_argument("--out", help="write the list to a .csv or .parquet file (atomically)")
    dl.add_argument("--previous", help="compare with this previous list instead of the model's scores of the day "
                                       "before: a .csv or .parquet with lead_id and score, e.g. yesterday's --out "
                                       "written without --top (a lead missing from it counts as new)")
    dl.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs "
                                           "(default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db; never created)")
    dl.set_defaults(func=_cmd_leads_daily)

    fc = leaf(sub, "forecast", "period bookings from a forecast model: P10-P90 beside the stage-weighted pipeline")
    fc.add_argument("--model", required=True, help="forecast model folder or MLflow URI, e.g. "
                                                   "models:/crmml-forecast@champion")
    fc.add_argument("--data", required=True, help="folder of contract tables")
    fc.add_argument("--as-of", help="the forecast date (default: the day after the latest opportunities / "
                                    "opportunity_history event not in the future)")
    fc.add_argument("--periods", type=_COUNT, default=2, help="the current period and the ones after it (default 2)")
    fc.add_argument("--group-by", help="a column of opportunities (e.g. owner) or customers (e.g. industry)")
    fc.add_argument("--out", help="write the forecast to a .csv or .parquet file (atomically)")
    fc.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs "
                                           "(default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db; never created)")
    fc.set_defaults(func=_cmd_forecast)

    bt = sub.add_parser("backtest", help="replay a model over past origins against what happened", parents=[debug])
    bts = bt.add_subparsers(dest="backtest_kind", required=True, metavar="KIND")
    bf = leaf(bts, "forecast", "the pipeline forecast: refit at each origin, coverage and errors vs stage-weighted")
    bf.add_argument("--data", required=True, help="folder of contract tables (the full history)")
    bf.add_argument("--start", required=True, help="first origin (date)")
    bf.add_argument("--end", help="last origin (default: the latest origin whose next period ended in the data)")
    bf.add_argument("--every-days", type=_COUNT, default=14, help="days between origins (default 14)")
    bf.add_argument("--periods", type=_COUNT, default=2, help="periods forecast from each origin (default 2)")
    bf.add_argument("--out-dir", help="folder for backtest.csv, fan_chart.png and coverage.png")
    _forecast.add_train_options(bf)
    bf.set_defaults(func=_cmd_backtest_forecast)

    from crmml.cli._batch import add_batch_parser

    add_batch_parser(sub, leaf)

    d = leaf(sub, "demo", "the main job on the embedded sample world")
    d.add_argument("--workdir", default="crmml-demo", help="where data, plots and scores go (default ./crmml-demo); "
                   "its b2c/ and b2b/ folders are the demo's own and are replaced on every run")
    d.add_argument("--customers", type=_COUNT, default=3000)
    d.add_argument("--accounts", type=_COUNT, default=3000,
                   help="accounts of the generated B2B world for the contractual churn and lead-scoring steps "
                        "(default 3000)")
    d.add_argument("--seed", type=_SEED, default=7)
    d.add_argument("--as-of", help="default: the end of the synthetic world")
    d.add_argument("--holdout-days", type=_NON_NEGATIVE, default=180.0)
    d.add_argument("--tracking-uri")
    d.add_argument("--top", type=_TOP, default=10)
    d.set_defaults(func=_cmd_demo)
    return p


# ------------------------------------------------------------------------ main
class _StderrHandler(logging.Handler):
    """crmml's log records on stderr as ``warning: …`` (looked up per record: test capture works)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr, flush=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


@contextmanager
def _cli_logging(debug: bool) -> Iterator[None]:
    """Show crmml's warnings (INFO too with ``--debug``) for the duration of one command."""
    logger = logging.getLogger("crmml")
    handler = _StderrHandler(logging.DEBUG if debug else logging.WARNING)
    level = logger.level
    logger.addHandler(handler)
    if debug:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _exit_code(exc: BaseException) -> int:
    from crmml.exceptions import (
        ArtifactError,
        DataContractError,
        InsufficientDataError,
        NotFittedError,
        OutputError,
        ParameterError,
        TrackingError,
    )

    if isinstance(exc, (DataContractError, InsufficientDataError)):
        return EXIT_DATA
    if isinstance(exc, (ArtifactError, NotFittedError)):
        return EXIT_ARTIFACT
    if isinstance(exc, (ParameterError, OutputError)):
        return EXIT_PARAM
    if isinstance(exc, TrackingError):
        return EXIT_TRACKING
    return EXIT_ERROR


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see :mod:`crmml.cli` and ``crmml --help``).

    Usage errors exit through argparse (``SystemExit(2)``). Every other fault
    is one ``error: …`` message on stderr and an exit code; an unexpected
    exception prints ``internal error: … — rerun with --debug and report it``
    (exit 1), and ``--debug`` lets it propagate with its traceback.
    """
    from crmml.exceptions import CrmmlError

    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "register", False) and getattr(args, "no_mlflow", False):
        args._leaf.error("--register needs MLflow: drop --no-mlflow, or drop --register")
    if getattr(args, "stream", False) and getattr(args, "world", None) == "b2b":
        parser.error("--stream writes B2C worlds only: drop --stream for synth b2b")
    debug = bool(getattr(args, "debug", False))
    func: Callable[[argparse.Namespace], int] = args.func
    with _cli_logging(debug):
        try:
            return func(args)
        except KeyboardInterrupt:
            _err("interrupted (Ctrl-C): stopped.")
            return EXIT_INTERRUPTED
        except CrmmlError as exc:
            if debug:
                traceback.print_exc()
            _err(f"error: {exc}")
            return _exit_code(exc)
        except Exception as exc:
            if debug:
                raise
            if (type(exc).__module__ or "").split(".")[0] == "mlflow":  # should have become a TrackingError
                _err(f"error: MLflow failed: {_first_line(exc)}. Fix: check --tracking-uri / MLFLOW_TRACKING_URI.")
                return EXIT_TRACKING
            if isinstance(exc, OSError):
                _err(f"error: {exc}. Fix: check the path, its permissions and the free space.")
                return EXIT_ERROR
            _err(f"internal error: {_first_line(exc)} — rerun with --debug and report it")
            return EXIT_ERROR
