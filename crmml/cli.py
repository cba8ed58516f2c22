"""The ``crmml`` command line (top layer: imports anything, imported by nothing).

Commands::

    crmml synth b2c|b2b   generate a synthetic CRM world with ground truth
    crmml features        build point-in-time features and print a summary
    crmml train clv       fit, evaluate on a holdout, log to MLflow (and register)
    crmml score clv       score every customer with a saved/registered model
    crmml demo            the main job on the embedded sample world

Exit codes: 0 success · 2 usage error · 3 bad input data (data contract) ·
4 model artifact cannot be loaded · 5 invalid parameter · 1 other crmml error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DATA, EXIT_ARTIFACT, EXIT_PARAM = 0, 1, 2, 3, 4, 5
SAMPLE_B2C = Path("data/synthetic/b2c")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextmanager
def _step(label: str) -> Iterator[None]:
    """Progress for a long step: label, then elapsed time (on stderr)."""
    _err(f"… {label}")
    t0 = time.perf_counter()
    yield
    _err(f"  done in {time.perf_counter() - t0:.1f} s")


def _load(path: str, tables: Sequence[str] | None = None) -> Any:
    from crmml.data import load_tables

    with _step(f"loading tables from {path}"):
        t = load_tables(path, tables=tables)
    _err("  " + ", ".join(f"{n}: {k:,}" for n, k in t.n_rows().items()))
    return t


# ----------------------------------------------------------------------- synth
def _cmd_synth(a: argparse.Namespace) -> int:
    from crmml import synthetic

    out = Path(a.out)
    if a.world == "b2c":
        if a.stream:
            def progress(done: int, total: int) -> None:
                _err(f"  {done:,}/{total:,} customers")

            with _step(f"writing a B2C world of {a.customers:,} customers to {out} (streaming)"):
                counts = synthetic.write_b2c_world(out, a.customers, seed=a.seed, progress=progress)
            print(", ".join(f"{k}: {v:,}" for k, v in counts.items() if isinstance(v, int)))
            return EXIT_OK
        with _step(f"generating a B2C world of {a.customers:,} customers"):
            world = synthetic.make_b2c_world(a.customers, seed=a.seed)
    else:
        with _step(f"generating a B2B world of {a.accounts:,} accounts"):
            world = synthetic.make_b2b_world(a.accounts, n_leads=a.leads, seed=a.seed)
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

    tables = _load(a.data)
    as_of = a.as_of or _default_as_of(tables)
    built = {}
    with _step(f"building point-in-time features as of {as_of}"):
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


def _default_as_of(tables: Any) -> str:
    """The day after the last event in transactions, subscriptions or leads."""
    import pandas as pd

    from crmml.exceptions import MissingTableError, Problem

    sources = (("transactions", "ts"), ("subscriptions", "start_at"), ("leads", "created_at"))
    times = [tables.get(n)[c].max() for n, c in sources if tables.get(n) is not None and len(tables.get(n))]
    if not times:
        raise MissingTableError(
            [Problem(n, None, "an event table to take the default --as-of from",
                     hint="supply it, or pass --as-of YYYY-MM-DD") for n, _ in sources],
            context="choosing the default --as-of",
        )
    return str((max(times) + pd.Timedelta(days=1)).normalize().date())


# ----------------------------------------------------------------------- train
def _train_clv(a: argparse.Namespace, tables: Any | None = None) -> tuple[Any, Any]:
    import pandas as pd

    from crmml.clv import CLVModel, evaluate_holdout

    tables = tables if tables is not None else _load(a.data)
    as_of = pd.Timestamp(a.as_of or _default_as_of(tables))
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
    tracked = None
    if not a.no_mlflow:
        from crmml.plotting.clv import save_clv_plots
        from crmml.tracking import log_scorer, resolve_tracking_uri

        with tempfile.TemporaryDirectory() as tmp, _step(f"logging to MLflow ({resolve_tracking_uri(a.tracking_uri)})"):
            plots = save_clv_plots(model, evaluation, Path(a.plots_dir) if a.plots_dir else Path(tmp))
            tracked = log_scorer(model, tables=tables, as_of=as_of, metrics=metrics, plots=plots,
                                 exclusions=model.exclusions_, register=a.register, model_name=a.name,
                                 alias=a.alias, tracking_uri=a.tracking_uri)
        print(f"run {tracked.run_id}: {tracked.model_uri}")
        if tracked.registry_uri:
            print(f"registered {tracked.registered_name} version {tracked.version} as {tracked.registry_uri}")
    if a.save:
        p = model.save(a.save)
        print(f"saved model to {p}")
    return model, tracked


def _cmd_train(a: argparse.Namespace) -> int:
    _train_clv(a)
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
    import crmml
    from crmml.scoring import write_parquet_atomic

    with _step(f"loading model {a.model}"):
        scorer = crmml.load_scorer(a.model, kind="clv")
    tables = tables if tables is not None else _load(a.data)
    as_of = a.as_of or _default_as_of(tables)
    with _step(f"scoring as of {as_of}"):
        scores = scorer.score(tables, as_of)
    for e in scores.attrs.get("exclusions", []):
        _err(f"  excluded {e['n_rows']:,} {e['table']} row(s): {e['rule']}")
    if a.out:
        with _step(f"writing {len(scores):,} scores to {a.out}"):
            write_parquet_atomic(scores, a.out)
    _print_scores(scores, a.top)
    return EXIT_OK


# ------------------------------------------------------------------------ demo
def _cmd_demo(a: argparse.Namespace) -> int:
    from crmml import features as F
    from crmml import synthetic

    work = Path(a.workdir)
    data = work / "b2c"
    with _step(f"generating the sample B2C world ({a.customers:,} customers, seed {a.seed}) in {data}"):
        world = synthetic.make_b2c_world(a.customers, seed=a.seed)
        synthetic.write_world(world, data)
    tables = _load(str(data))
    as_of = str(world.end.normalize().date()) if a.as_of is None else a.as_of
    with _step(f"building point-in-time customer features as of {as_of}"):
        cf = F.customer_features(tables, as_of)
    _summarise("customer_features", cf)
    args = argparse.Namespace(data=str(data), as_of=as_of, business="noncontractual", transaction_model="bgnbd",
                              horizon_days=365.0, discount_rate=0.10, holdout_days=a.holdout_days,
                              no_mlflow=False, tracking_uri=a.tracking_uri, register=True, name="crmml-clv",
                              alias="champion", plots_dir=str(work / "plots"), save=None)
    _, tracked = _train_clv(args, tables)
    score_args = argparse.Namespace(model=tracked.registry_uri, data=str(data), as_of=as_of,
                                    out=str(work / "clv_scores.parquet"), top=a.top)
    return _cmd_score(score_args, tables)


# ---------------------------------------------------------------------- parser
def _parser() -> argparse.ArgumentParser:
    from crmml import __version__

    p = argparse.ArgumentParser(prog="crmml", description="Predictive CRM analytics from CRM event tables.")
    p.add_argument("--version", action="version", version=f"crmml {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="generate a synthetic CRM world with ground truth")
    s.add_argument("world", choices=["b2c", "b2b"])
    s.add_argument("--customers", type=int, default=3000, help="B2C customers (default 3000)")
    s.add_argument("--accounts", type=int, default=300, help="B2B accounts (default 300)")
    s.add_argument("--leads", type=int, default=None, help="B2B leads (default: 3 per account)")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--out", required=True, help="output folder (one Parquet file or folder per table)")
    s.add_argument("--stream", action="store_true", help="B2C only: write in chunks (for millions of customers)")
    s.set_defaults(func=_cmd_synth)

    f = sub.add_parser("features", help="build point-in-time features and print a summary")
    f.add_argument("--data", required=True, help="folder of contract tables")
    f.add_argument("--as-of", help="cutoff date (default: the day after the last event)")
    f.add_argument("--out", help="folder to write <builder>.parquet files to")
    f.set_defaults(func=_cmd_features)

    def common_train(t: argparse.ArgumentParser) -> None:
        t.add_argument("--data", required=True, help="folder of contract tables")
        t.add_argument("--as-of", help="training cutoff (default: the day after the last transaction)")
        t.add_argument("--horizon-days", type=float, default=365.0)
        t.add_argument("--discount-rate", type=float, default=0.10, help="annual discount rate")
        t.add_argument("--business", choices=["noncontractual", "contractual"], default="noncontractual")
        t.add_argument("--transaction-model", choices=["bgnbd", "pareto_nbd"], default="bgnbd")
        t.add_argument("--holdout-days", type=float, default=180.0,
                       help="evaluate on the last N days before as-of first (0 to skip)")
        t.add_argument("--register", action="store_true", help="register in the MLflow model registry")
        t.add_argument("--name", default="crmml-clv", help="registered model name")
        t.add_argument("--alias", default="champion", help="alias set on the registered version")
        t.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
        t.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
        t.add_argument("--plots-dir", help="also keep the PNG plots here")
        t.add_argument("--save", help="also save the model artifact to this folder")

    tr = sub.add_parser("train", help="train a model")
    trs = tr.add_subparsers(dest="model_kind", required=True)
    tc = trs.add_parser("clv", help="customer lifetime value")
    common_train(tc)
    tc.set_defaults(func=_cmd_train)

    sc = sub.add_parser("score", help="score with a saved or registered model")
    scs = sc.add_subparsers(dest="model_kind", required=True)
    scc = scs.add_parser("clv", help="customer lifetime value")
    scc.add_argument("--model", required=True, help="model folder or MLflow URI, e.g. models:/crmml-clv@champion")
    scc.add_argument("--data", required=True, help="folder of contract tables")
    scc.add_argument("--as-of", help="scoring cutoff (default: the day after the last transaction)")
    scc.add_argument("--out", help="output Parquet file (written atomically)")
    scc.add_argument("--top", type=int, default=10, help="top customers to print")
    scc.set_defaults(func=_cmd_score)

    d = sub.add_parser("demo", help="the main job on the embedded sample world")
    d.add_argument("--workdir", default="crmml-demo", help="where data, plots and scores go (default ./crmml-demo)")
    d.add_argument("--customers", type=int, default=3000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--as-of", help="default: the end of the synthetic world")
    d.add_argument("--holdout-days", type=float, default=180.0)
    d.add_argument("--tracking-uri")
    d.add_argument("--top", type=int, default=10)
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see module docstring)."""
    from crmml.exceptions import ArtifactError, CrmmlError, DataContractError, NotFittedError, ParameterError

    args = _parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except DataContractError as exc:
        _err(f"error: {exc}")
        return EXIT_DATA
    except (ArtifactError, NotFittedError, FileNotFoundError) as exc:
        _err(f"error: {exc}")
        return EXIT_ARTIFACT
    except ParameterError as exc:
        _err(f"error: {exc}")
        return EXIT_PARAM
    except CrmmlError as exc:
        _err(f"error: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
