"""The ``crmml`` command line (top layer: imports anything, imported by nothing).

Commands::

    crmml synth b2c|b2b   generate a synthetic CRM world with ground truth
    crmml features        build point-in-time features and print a summary
    crmml train clv       fit, evaluate on a holdout, log to MLflow (and register)
    crmml score clv       score every customer with a saved/registered model
    crmml demo            the main job on the embedded sample world

Exit codes (also printed by ``crmml --help``)::

    0    success
    1    another crmml error (e.g. a fit that did not converge), an operating-system error,
         or an internal error ("internal error: … — rerun with --debug and report it")
    2    usage error: unknown command or option, a number that is not finite or out of
         range (nan, inf, a negative count), contradictory options
    3    bad input data: the tables break the data contract, --data is not a folder of
         tables, no event to choose the default --as-of from
    4    the model cannot be loaded: no model at --model, not a crmml artifact, an
         incompatible or tampered artifact, a registered model/version/alias or run
         that does not exist
    5    invalid parameter: a value out of range or not understood (--as-of 31/31/2025,
         an unknown --tracking-uri scheme, an invalid --name/--alias), or a path crmml
         cannot write (--out is a folder, not writable, --save/--out is a non-empty
         folder crmml did not write)
    6    the MLflow tracking store or registry is unusable: the server does not answer
         (a few seconds of retries, not minutes), no store at the URI for a read, the
         store refuses or fails
    130  interrupted (Ctrl-C)

Every path a command writes (``--out``, ``--save``, ``--plots-dir``,
``--workdir``) and every MLflow setting (``--tracking-uri``, ``--name``,
``--alias``) is checked before the long work starts. ``--debug`` prints the
traceback of a crmml error and lets an unexpected exception propagate.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DATA, EXIT_ARTIFACT, EXIT_PARAM, EXIT_TRACKING = 0, 1, 2, 3, 4, 5, 6
EXIT_INTERRUPTED = 130
SAMPLE_B2C = Path("data/synthetic/b2c")

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    another crmml error, an operating-system error, or an internal error
  2    usage error (unknown option, nan/inf/negative number, contradictory options)
  3    bad input data (data contract; --data is not a folder of tables)
  4    the model cannot be loaded (no model at --model, bad artifact, unknown
       registered model/version/alias or run)
  5    invalid parameter (e.g. --as-of, --tracking-uri scheme, --name/--alias) or a
       path crmml cannot write (--out is a folder, unwritable, a non-empty folder)
  6    MLflow tracking store or registry unusable (unreachable, missing, failing)
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


# ------------------------------------------------------------- output paths
def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_writable(path: Path, option: str, *, want: str) -> None:
    """Refuse, before any work, a path crmml could not write (``want``: ``"file"`` or ``"folder"``).

    Raises
    ------
    OutputError
        The path is a folder where a file is wanted (or the reverse), lies
        under a file, or its folder is not writable.
    """
    from crmml.exceptions import OutputError

    shown = f"{option} {str(path)!r}"
    if path.exists():
        if want == "file" and path.is_dir():
            raise OutputError(f"{shown} is a folder; expected a file path. Fix: name a file, e.g. "
                              f"{option} {str(path / 'scores.parquet')!r}.")
        if want == "folder" and not path.is_dir():
            raise OutputError(f"{shown} is a file; expected a folder. Fix: choose a new or existing folder.")
        folder = path if want == "folder" else path.parent.absolute()
    else:
        folder = _nearest_existing(path)
        if not folder.is_dir():
            raise OutputError(f"{shown} cannot be created: {str(folder)!r} is a file, not a folder. "
                              "Fix: choose a path under a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{shown} is not writable: no write permission on the folder {str(folder)!r}. "
                          "Fix: choose a folder you can write to.")


def _names(paths: Sequence[Path], limit: int = 5) -> str:
    shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _check_save_dir(path: Path, option: str = "--save") -> None:
    """``--save``: a new or empty folder, or a previous crmml model artifact (replaced)."""
    from crmml._artifact import MANIFEST
    from crmml.exceptions import OutputError

    _check_writable(path, option, want="folder")
    if path.is_dir() and not (path / MANIFEST).is_file():
        content = sorted(path.iterdir())
        if content:
            raise OutputError(
                f"{option} {str(path)!r} is a non-empty folder that is not a crmml model artifact (it holds "
                f"{_names(content)}); crmml only replaces a previous model artifact. Fix: choose an empty or new "
                "folder, or the folder of a model saved before."
            )


def _is_parts_folder(folder: Path) -> bool:
    return all(p.is_file() and p.name.startswith("part-") and p.suffix == ".parquet" for p in folder.iterdir())


def _synth_layout(folder: Path) -> tuple[list[Path], list[Path]]:
    """Split a folder's entries into what ``crmml synth`` writes and anything else.

    synth writes ``<table>.parquet`` or ``<table>/part-*.parquet`` per contract
    table and ``_truth/`` (``*.parquet``, ``params.json``, part folders).
    """
    from crmml.data import TABLES

    ours: list[Path] = []
    foreign: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".parquet" and entry.stem in TABLES:
            ours.append(entry)
        elif entry.is_dir() and entry.name in TABLES and _is_parts_folder(entry):
            ours.append(entry)
        elif entry.is_dir() and entry.name == "_truth" and all(
                (p.is_file() and (p.suffix == ".parquet" or p.name == "params.json"))
                or (p.is_dir() and _is_parts_folder(p)) for p in entry.iterdir()):
            ours.append(entry)
        else:
            foreign.append(entry)
    return ours, foreign


def _prepare_world_dir(path: Path, option: str, *, force: bool, own: bool = False, fix: str = "") -> list[Path]:
    """Check a folder a synthetic world is written to; return the old synth files to remove first.

    A new or empty folder is fine. A folder holding only a previous synth
    world is replaced with ``force`` (or ``own``: the demo's own data folder).
    A folder holding anything else is refused, ``force`` or not: crmml never
    deletes files it did not write.
    """
    from crmml.exceptions import OutputError

    _check_writable(path, option, want="folder")
    if not path.is_dir() or not any(path.iterdir()):
        return []
    ours, foreign = _synth_layout(path)
    if foreign:
        raise OutputError(
            f"{option} {str(path)!r} holds files crmml synth did not write ({_names(foreign)}); crmml never "
            f"deletes those, not even with --force. Fix: {fix or 'choose an empty or new folder'}."
        )
    if not (force or own):
        raise OutputError(
            f"{option} {str(path)!r} is not empty: it holds a synthetic world ({_names(ours)}). Fix: pass --force "
            "to replace it, or choose an empty or new folder."
        )
    return ours


def _clear(paths: Sequence[Path]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


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
    unit = e.get("unit", "rows")
    return f"  excluded {e['n_rows']:,} {e['table']} {'row(s)' if unit == 'rows' else unit}: {e['rule']}"


def _load_model(model: str, tracking_uri: str | None) -> Any:
    """A scorer from a folder or an MLflow URI; a missing model is ``ModelNotFoundError`` (exit 4)."""
    from crmml.scoring import load_local_scorer
    from crmml.scoring._mlflow import download_model, is_mlflow_uri

    with _step(f"loading model {model}"):
        if is_mlflow_uri(model):  # as load_scorer does, naming the CLI option in store errors
            return load_local_scorer(download_model(model, tracking_uri=tracking_uri, name="--tracking-uri"),
                                     kind="clv")
        return load_local_scorer(model, kind="clv")


# ----------------------------------------------------------------------- synth
def _cmd_synth(a: argparse.Namespace) -> int:
    from crmml import synthetic

    out = Path(a.out)
    stale = _prepare_world_dir(out, "--out", force=a.force)
    if a.world == "b2c":
        if a.stream:
            def progress(done: int, total: int) -> None:
                _err(f"  {done:,}/{total:,} customers")

            _clear(stale)
            with _step(f"writing a B2C world of {a.customers:,} customers to {out} (streaming)"):
                counts = synthetic.write_b2c_world(out, a.customers, seed=a.seed, progress=progress)
            print(", ".join(f"{k}: {v:,}" for k, v in counts.items() if isinstance(v, int)))
            return EXIT_OK
        with _step(f"generating a B2C world of {a.customers:,} customers"):
            world = synthetic.make_b2c_world(a.customers, seed=a.seed)
    else:
        with _step(f"generating a B2B world of {a.accounts:,} accounts"):
            world = synthetic.make_b2b_world(a.accounts, n_leads=a.leads, seed=a.seed)
    if stale:
        _err(f"  replacing the synthetic world in {out} (--force): {_names(stale)}")
    _clear(stale)
    with _step(f"writing to {out}"):
        synthetic.write_world(world, out)
    print(world.tables)
    return EXIT_OK


# -------------------------------------------------------------------- features
def _summarise(name: str, frame: Any) -> None:
    print(f"{name}: {len(frame):,} rows × {frame.shape[1]} features")
    num = frame.select_dtypes("number")
    if len(num.columns):
        desc = num.describe().T[["mean", "50%", "max"]].head(12)
        print(desc.to_string(float_format=lambda v: f"{v:,.2f}"))


def _cmd_features(a: argparse.Namespace) -> int:
    from crmml import features as F

    as_of = _parse_as_of(a.as_of)
    if a.out:
        _check_writable(Path(a.out), "--out", want="folder")
    tables = _load(a.data)
    if as_of is None:
        as_of = _default_as_of(tables, sources=None)
    built = {}
    with _step(f"building point-in-time features as of {_day(as_of)}"):
        if tables.transactions is not None:
            built["rfm_summary"] = F.rfm_summary(tables.transactions, as_of, customers=tables.customers)
        if tables.customers is not None:
            built["customer_features"] = F.customer_features(tables, as_of)
        if tables.leads is not None:
            built["lead_features"] = F.lead_features(tables, as_of)
        if tables.opportunities is not None:
            built["opportunity_features"] = F.opportunity_features(tables, as_of)
    for name, frame in built.items():
        _summarise(name, frame)
        if a.out:
            from crmml.scoring import write_parquet_atomic

            p = write_parquet_atomic(frame, Path(a.out) / f"{name}.parquet")
            _err(f"  wrote {p}")
    return EXIT_OK


# ----------------------------------------------------------------------- train
def _preflight_train(a: argparse.Namespace) -> Any:
    """Everything that can be checked before the data is read: paths, MLflow settings.

    Returns the tracking URI to log to (``None`` with ``--no-mlflow``).
    """
    if a.save:
        _check_save_dir(Path(a.save), "--save")
    if a.plots_dir:
        _check_writable(Path(a.plots_dir), "--plots-dir", want="folder")
    if a.no_mlflow:
        return None
    from crmml.tracking import check_registration, check_tracking_store

    if a.register:
        check_registration(a.name, a.alias, name_param="--name", alias_param="--alias")
    with _step("checking the MLflow tracking store"):
        return check_tracking_store(a.tracking_uri, name="--tracking-uri")


def _train_clv(a: argparse.Namespace, tables: Any, as_of: Any, tracking_uri: str | None) -> tuple[Any, Any]:
    """Fit (after a holdout check), log the run, save, and register last."""
    import pandas as pd

    from crmml.clv import CLVModel, evaluate_holdout

    if as_of is None:
        as_of = _default_as_of(tables, sources=("subscriptions",) if a.business == "contractual"
                               else ("transactions",))
    as_of = pd.Timestamp(as_of)
    config = dict(business=a.business, transaction_model=a.transaction_model, horizon_days=a.horizon_days,
                  discount_rate=a.discount_rate)
    metrics: dict[str, float] = {}
    evaluation = None
    if a.holdout_days and a.business == "noncontractual":
        cal_end = as_of - pd.Timedelta(days=a.holdout_days)
        with _step(f"holdout check: calibrate before {cal_end.date()}, compare up to {as_of.date()}"):
            evaluation = evaluate_holdout(tables, cal_end, as_of, model=CLVModel(**config))
        metrics = evaluation.metrics
        _err(f"  predicted/actual holdout purchases: {metrics['holdout_purchases_ratio']:.3f}, "
             f"revenue: {metrics['holdout_revenue_ratio']:.3f}")
    with _step(f"fitting the CLV model as of {as_of.date()}"):
        model = CLVModel(**config).fit(tables, as_of)
    for k, v in model.parameters().items():
        _err(f"  {k} = {v:.4g}")
    for e in model.exclusions_:
        _err(_exclusion(e))
    tracked = None
    if tracking_uri is not None:
        from crmml.plotting.clv import save_clv_plots
        from crmml.tracking import log_scorer

        with tempfile.TemporaryDirectory() as tmp, _step(f"logging to MLflow ({tracking_uri})"):
            plots = save_clv_plots(model, evaluation, Path(a.plots_dir) if a.plots_dir else Path(tmp))
            tracked = log_scorer(model, tables=tables, as_of=as_of, metrics=metrics, plots=plots,
                                 exclusions=model.exclusions_, register=False, model_name=a.name,
                                 tracking_uri=tracking_uri)
        print(f"run {tracked.run_id}: {tracked.model_uri}")
    elif a.plots_dir:
        from crmml.plotting.clv import save_clv_plots

        save_clv_plots(model, evaluation, Path(a.plots_dir))
    if a.save:
        p = model.save(a.save)
        print(f"saved model to {p}")
    if tracked is not None and a.register:  # last: only once everything else succeeded
        from crmml.tracking import register_logged_model

        with _step(f"registering {a.name!r} and pointing {a.alias!r} at the new version"):
            tracked = register_logged_model(tracked, model_name=a.name, alias=a.alias, tracking_uri=tracking_uri)
        print(f"registered {tracked.registered_name} version {tracked.version} as {tracked.registry_uri}")
    return model, tracked


def _cmd_train(a: argparse.Namespace) -> int:
    as_of = _parse_as_of(a.as_of)
    _check_data(a.data)
    tracking_uri = _preflight_train(a)
    tables = _load(a.data)
    _train_clv(a, tables, as_of, tracking_uri)
    return EXIT_OK


# ----------------------------------------------------------------------- score
def _print_scores(scores: Any, top: int) -> None:
    counts = scores["segment"].value_counts().reindex(["Champions", "Loyal", "Potential", "At risk"], fill_value=0)
    print("\nSegments:")
    for seg, n in counts.items():
        print(f"  {seg:<10} {n:>8,}  ({n / max(len(scores), 1):.1%})")
    print(f"\nTop {top} customers by CLV:")
    cols = ["segment", "clv", "probability_alive", "expected_purchases", "expected_average_value"]
    print(scores.nlargest(top, "clv")[cols].to_string(float_format=lambda v: f"{v:,.2f}"))


def _cmd_score(a: argparse.Namespace, tables: Any | None = None) -> int:
    from crmml.scoring import write_parquet_atomic

    as_of = _parse_as_of(a.as_of)
    if a.out:
        _check_writable(Path(a.out), "--out", want="file")
    if tables is None:
        _check_data(a.data)
    scorer = _load_model(a.model, getattr(a, "tracking_uri", None))
    tables = tables if tables is not None else _load(a.data)
    if as_of is None:
        contractual = getattr(scorer, "business", None) == "contractual"
        as_of = _default_as_of(tables, sources=("subscriptions",) if contractual else ("transactions",))
    from crmml.data import ExclusionReport

    report = ExclusionReport()
    with _step(f"scoring as of {_day(as_of)}"):
        scores = scorer.score(tables, as_of, report=report)
    for e in report.to_dict():
        _err(_exclusion(e))
    if a.out:
        with _step(f"writing {len(scores):,} scores to {a.out}"):
            write_parquet_atomic(scores, a.out)
    _print_scores(scores, a.top)
    return EXIT_OK


# ------------------------------------------------------------------------ demo
def _cmd_demo(a: argparse.Namespace) -> int:
    from crmml import features as F
    from crmml import synthetic

    as_of = _parse_as_of(a.as_of)
    work = Path(a.workdir)
    data = work / "b2c"
    _check_writable(work, "--workdir", want="folder")
    stale = _prepare_world_dir(data, "--workdir", own=True, force=False,
                               fix="choose another --workdir (the demo writes b2c/, plots/ and clv_scores.parquet)")
    _check_writable(work / "plots", "--workdir", want="folder")
    _check_writable(work / "clv_scores.parquet", "--workdir", want="file")
    train_args = argparse.Namespace(business="noncontractual", transaction_model="bgnbd", horizon_days=365.0,
                                    discount_rate=0.10, holdout_days=a.holdout_days, no_mlflow=False,
                                    tracking_uri=a.tracking_uri, register=True, name="crmml-clv",
                                    alias="champion", plots_dir=str(work / "plots"), save=None)
    tracking_uri = _preflight_train(train_args)
    with _step(f"generating the sample B2C world ({a.customers:,} customers, seed {a.seed}) in {data}"):
        world = synthetic.make_b2c_world(a.customers, seed=a.seed)
        _clear(stale)  # the previous demo's world only (checked above)
        synthetic.write_world(world, data)
    tables = _load(str(data))
    if as_of is None:
        as_of = world.end.normalize()
    with _step(f"building point-in-time customer features as of {_day(as_of)}"):
        cf = F.customer_features(tables, as_of)
    _summarise("customer_features", cf)
    _, tracked = _train_clv(train_args, tables, as_of, tracking_uri)
    score_args = argparse.Namespace(model=tracked.registry_uri, data=str(data), as_of=_day(as_of),
                                    out=str(work / "clv_scores.parquet"), top=a.top, tracking_uri=tracking_uri)
    return _cmd_score(score_args, tables)


# ---------------------------------------------------------------------- parser
def _parser() -> argparse.ArgumentParser:
    from crmml import __version__

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

    def common_train(t: argparse.ArgumentParser) -> None:
        t.add_argument("--data", required=True, help="folder of contract tables")
        t.add_argument("--as-of", help="training cutoff (default: the day after the latest transaction "
                                       "not in the future)")
        t.add_argument("--horizon-days", type=_DAYS_POSITIVE, default=365.0)
        t.add_argument("--discount-rate", type=_NON_NEGATIVE, default=0.10, help="annual discount rate")
        t.add_argument("--business", choices=["noncontractual", "contractual"], default="noncontractual")
        t.add_argument("--transaction-model", choices=["bgnbd", "pareto_nbd"], default="bgnbd")
        t.add_argument("--holdout-days", type=_NON_NEGATIVE, default=180.0,
                       help="evaluate on the last N days before as-of first (0 to skip)")
        t.add_argument("--register", action="store_true",
                       help="register in the MLflow model registry (last, after --save succeeded)")
        t.add_argument("--name", default="crmml-clv", help="registered model name")
        t.add_argument("--alias", default="champion", help="alias set on the registered version")
        t.add_argument("--tracking-uri",
                       help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
        t.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
        t.add_argument("--plots-dir", help="also keep the PNG plots here")
        t.add_argument("--save", help="also save the model artifact to this folder (new, empty, or a previous "
                                      "model artifact)")

    tr = sub.add_parser("train", help="train a model", parents=[debug])
    trs = tr.add_subparsers(dest="model_kind", required=True)
    tc = leaf(trs, "clv", "customer lifetime value")
    common_train(tc)
    tc.set_defaults(func=_cmd_train, _leaf=tc)

    sc = sub.add_parser("score", help="score with a saved or registered model", parents=[debug])
    scs = sc.add_subparsers(dest="model_kind", required=True)
    scc = leaf(scs, "clv", "customer lifetime value")
    scc.add_argument("--model", required=True, help="model folder or MLflow URI, e.g. models:/crmml-clv@champion")
    scc.add_argument("--data", required=True, help="folder of contract tables")
    scc.add_argument("--as-of", help="scoring cutoff (default: the day after the latest transaction "
                                     "not in the future)")
    scc.add_argument("--out", help="output Parquet file (written atomically)")
    scc.add_argument("--top", type=_TOP, default=10, help="top customers to print")
    scc.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs "
                                            "(default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db; never created)")
    scc.set_defaults(func=_cmd_score)

    d = leaf(sub, "demo", "the main job on the embedded sample world")
    d.add_argument("--workdir", default="crmml-demo", help="where data, plots and scores go (default ./crmml-demo); "
                   "its b2c/ folder is the demo's own and is replaced on every run")
    d.add_argument("--customers", type=_COUNT, default=3000)
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
        NotFittedError,
        OutputError,
        ParameterError,
        TrackingError,
    )

    if isinstance(exc, DataContractError):
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
    """Run the CLI; returns the exit code (see the module docstring and ``crmml --help``).

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
