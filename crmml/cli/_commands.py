"""The commands: synth, features, train, score, leads daily, demo. Training and scoring are library calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crmml.cli._common import (
    EXIT_OK,
    _check_data,
    _day,
    _default_as_of,
    _err,
    _exclusion,
    _load,
    _parse_as_of,
    _print_progress,
    _step,
)
from crmml.cli._paths import (
    _check_save_dir,
    _check_writable,
    _clear,
    _names,
    _prepare_world_dir,
)

#: How the training library's parameters are called on the command line (for its messages).
_TRAIN_LABELS = {"kind": "KIND", "holdout_days": "--holdout-days", "save": "--save", "plots_dir": "--plots-dir",
                 "tracking_uri": "--tracking-uri", "name": "--name", "alias": "--alias", "register": "--register"}


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
def _prepare_train(a: argparse.Namespace, kind: str, params: dict[str, Any]) -> Any:
    """Every check before the data is read: the CLI's path checks (naming the options), then the library's.

    Returns the :class:`crmml.training.TrainingJob`.
    """
    from crmml.training import prepare_training

    if a.save:
        _check_save_dir(Path(a.save), "--save")
    if a.plots_dir:
        _check_writable(Path(a.plots_dir), "--plots-dir", want="folder")
    return prepare_training(kind, params=params, holdout_days=a.holdout_days, log=not a.no_mlflow,
                            tracking_uri=a.tracking_uri, register=a.register, name=a.name, alias=a.alias,
                            save=a.save, plots_dir=a.plots_dir, progress=_print_progress, labels=_TRAIN_LABELS)


def _cmd_train(a: argparse.Namespace) -> int:
    from crmml.cli._kinds import CLI_KINDS

    as_of = _parse_as_of(a.as_of)
    _check_data(a.data)
    job = _prepare_train(a, a.model_kind, CLI_KINDS[a.model_kind].train_params(a))
    tables = _load(a.data)
    if as_of is None:
        as_of = _default_as_of(tables, sources=job.as_of_sources())
    job.run(tables, as_of)
    return EXIT_OK


# ----------------------------------------------------------------------- score
def _load_model(model: str, tracking_uri: str | None, kind: str | None, *, fix: str | None = None) -> Any:
    """A scorer from a folder or an MLflow URI; its kind must be ``kind`` when given (exit 4 otherwise).

    ``fix`` replaces the default advice of the kind error (``crmml score``'s) for commands that need
    one kind of model.
    """
    from crmml.exceptions import IncompatibleArtifactError
    from crmml.scoring import load_local_scorer
    from crmml.scoring._mlflow import download_model, is_mlflow_uri

    with _step(f"loading model {model}"):
        if is_mlflow_uri(model):  # as load_scorer does, naming the CLI option in store errors
            scorer = load_local_scorer(download_model(model, tracking_uri=tracking_uri, name="--tracking-uri"))
        else:
            scorer = load_local_scorer(model)
    if kind is not None and scorer.kind != kind:
        advice = fix or (f"run 'crmml score {scorer.kind} --model ...', or 'crmml score --model ...' to take the kind "
                         "from the model.")
        raise IncompatibleArtifactError(f"--model {model!r} holds a {scorer.kind!r} model, not a {kind!r} model. "
                                        f"Fix: {advice}")
    _err(f"  a {scorer.kind!r} model")
    return scorer


def _cmd_score(a: argparse.Namespace, tables: Any | None = None) -> int:
    from crmml.cli._kinds import print_scores
    from crmml.data import ExclusionReport
    from crmml.scoring import write_parquet_atomic
    from crmml.training import as_of_sources

    as_of = _parse_as_of(a.as_of)
    if a.out:
        _check_writable(Path(a.out), "--out", want="file")
    if tables is None:
        _check_data(a.data)
    scorer = _load_model(a.model, getattr(a, "tracking_uri", None), getattr(a, "kind", None))
    tables = tables if tables is not None else _load(a.data)
    if as_of is None:
        as_of = _default_as_of(tables, sources=as_of_sources(scorer))
    report = ExclusionReport()
    with _step(f"scoring as of {_day(as_of)}"):
        scores = scorer.score(tables, as_of, report=report)
    for e in report.to_dict():
        _err(_exclusion(e))
    if a.out:
        with _step(f"writing {len(scores):,} scores to {a.out}"):
            write_parquet_atomic(scores, a.out)
    print_scores(scorer.kind, scores, a.top)
    return EXIT_OK


# ----------------------------------------------------------------- leads daily
def _cmd_leads_daily(a: argparse.Namespace) -> int:
    """Today's lead list from a lead-scoring model: summary and top rows on stdout, the list to --out."""
    from crmml.cli import _leadscore
    from crmml.data import ExclusionReport
    from crmml.leadscore import daily_list
    from crmml.training import as_of_sources

    as_of = _parse_as_of(a.as_of)
    if a.out:
        _check_writable(Path(a.out), "--out", want="file")
        _leadscore.list_format(a.out, "--out")
    previous = _leadscore.read_previous(a.previous, "--previous") if a.previous else None
    _check_data(a.data)
    scorer = _load_model(a.model, a.tracking_uri, "leadscore",
                         fix="the daily lead list needs a lead-scoring model: pass one ('crmml train leadscore "
                             "--data DIR --save FOLDER', or models:/crmml-leadscore@champion).")
    tables = _load(a.data)
    if as_of is None:
        as_of = _default_as_of(tables, sources=as_of_sources(scorer))
    report = ExclusionReport()
    compared = f"--previous {a.previous}" if a.previous else "the scores of the day before"
    with _step(f"scoring the open leads as of {_day(as_of)} and comparing with {compared}"):
        daily = daily_list(scorer, tables, as_of, previous=previous, top=a.top, report=report)
    for e in report.to_dict():
        _err(_exclusion(e))
    if a.out:
        with _step(f"writing {len(daily.frame):,} leads to {a.out}"):
            _leadscore.write_list_atomic(daily.frame, a.out, "--out")
    if daily.previous_as_of is not None:
        compared = f"the scores as of {_day(daily.previous_as_of)}"
    _leadscore.print_daily(daily, a.top if a.top is not None else _leadscore.DEFAULT_DAILY_TOP, compared)
    return EXIT_OK


# --------------------------------------------------------------- forecast
def _cmd_forecast(a: argparse.Namespace) -> int:
    """Period bookings from a forecast model: the table on stdout, the frame to --out."""
    from crmml.cli import _forecast, _leadscore
    from crmml.data import ExclusionReport
    from crmml.training import as_of_sources

    as_of = _parse_as_of(a.as_of)
    if a.out:
        _check_writable(Path(a.out), "--out", want="file")
        _leadscore.list_format(a.out, "--out")
    _check_data(a.data)
    scorer = _load_model(a.model, a.tracking_uri, "forecast",
                         fix="pass a forecast model ('crmml train forecast --data DIR --save FOLDER', or "
                             "models:/crmml-forecast@champion).")
    tables = _load(a.data)
    if as_of is None:
        as_of = _default_as_of(tables, sources=as_of_sources(scorer))
    report = ExclusionReport()
    with _step(f"forecasting {a.periods} {scorer.period}(s) from {_day(as_of)}"):
        frame = scorer.forecast(tables, as_of, periods=a.periods, group_by=a.group_by, report=report)
    for e in report.to_dict():
        _err(_exclusion(e))
    if a.out:
        with _step(f"writing {len(frame):,} rows to {a.out}"):
            _leadscore.write_list_atomic(frame, a.out, "--out")
    _forecast.print_forecast(frame, a.group_by)
    return EXIT_OK


def _cmd_backtest_forecast(a: argparse.Namespace) -> int:
    """Replay the forecast from every origin between --start and --end; print the summary, write the plots."""
    import pandas as pd

    from crmml.cli import _forecast
    from crmml.exceptions import ParameterError
    from crmml.forecast import backtest

    start = _parse_as_of(a.start)
    end = _parse_as_of(a.end)
    out = Path(a.out_dir) if a.out_dir else None
    if out is not None:
        _check_writable(out, "--out-dir", want="folder")
    _check_data(a.data)
    tables = _load(a.data, ("customers", "opportunities", "opportunity_history", "interactions", "contacts"))
    if end is None:
        from crmml.forecast._backtest import _data_end

        end = _data_end(tables) - pd.DateOffset(months=6 if a.period == "quarter" else 2)
    if end < start:
        raise ParameterError(f"--end {_day(end)} is before --start {_day(start)}. Fix: an earlier --start.")
    origins = pd.date_range(start, end, freq=f"{a.every_days}D")
    params = {k: v for k, v in _forecast.train_params(a).items() if k not in ("period", "interval_origins")}
    with _step(f"backtesting {len(origins)} origins from {_day(start)} to {_day(origins[-1])} "
               f"(each refits the model)"):
        result = backtest(tables, origins, period=a.period, periods=a.periods, progress=sys.stderr.isatty(),
                          **params)
    if out is not None:
        from crmml.cli._leadscore import write_list_atomic
        from crmml.plotting.forecast import plot_coverage, plot_fan_chart

        out.mkdir(parents=True, exist_ok=True)
        with _step(f"writing backtest.csv, fan_chart.png and coverage.png to {out}"):
            write_list_atomic(result.frame, str(out / "backtest.csv"), "--out-dir")
            _save_figure(lambda ax: plot_fan_chart(result.frame, 0, ax=ax), out / "fan_chart.png")
            _save_figure(lambda ax: plot_coverage(result.frame, ax=ax), out / "coverage.png")
    _forecast.print_backtest(result.summary())
    return EXIT_OK


def _save_figure(draw: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        draw(ax)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------ demo
#: What ``crmml demo`` trains: the CLV model and the B2C churn model (registered as ``crmml-<kind>@champion``).
_DEMO_CLV = {"business": "noncontractual", "transaction_model": "bgnbd", "horizon_days": 365.0, "discount_rate": 0.10}
#: One LightGBM thread: on ~12,000 training rows it is as fast as several, and it stays fast on a busy
#: machine (all-core OpenMP threads competing with other processes slowed the fit from ~1 s to 5-30 s).
_DEMO_CHURN = {"business": "noncontractual", "horizon_days": 90.0, "num_threads": 1}
#: B2B churn (a non-renewal) on a generated B2B world: the 300-account sample is below churn's training floor.
_DEMO_CHURN_B2B = {"business": "contractual", "horizon_days": 90.0, "num_threads": 1}
#: Lead scoring on the same generated B2B world (9,000 leads; the cold-start model below 40 conversions).
_DEMO_LEADS = {"horizon_days": 90.0, "num_threads": 1}
#: The pipeline forecast on the same B2B world (8 backtest origins at fit correct the intervals).
_DEMO_FORECAST = {"period": "quarter", "interval_origins": 8, "num_threads": 1}
_DEMO_OUTPUTS = ("b2c/, b2b/, plots/, batch/, clv_scores.parquet, churn_scores.parquet, "
                 "churn_b2b_scores.parquet, leads_today.csv and forecast.csv")


def _cmd_demo(a: argparse.Namespace) -> int:
    """The main job: sample B2C world → features → CLV (holdout, train, register, score) → churn (same); B2B churn."""
    from crmml import features as F
    from crmml import synthetic
    from crmml.training import prepare_training

    as_of = _parse_as_of(a.as_of)
    work = Path(a.workdir)
    data = work / "b2c"
    _check_writable(work, "--workdir", want="folder")
    stale = _prepare_world_dir(data, "--workdir", own=True, force=False,
                               fix=f"choose another --workdir (the demo writes {_DEMO_OUTPUTS})")
    data_b2b = work / "b2b"
    stale_b2b = _prepare_world_dir(data_b2b, "--workdir", own=True, force=False,
                                   fix=f"choose another --workdir (the demo writes {_DEMO_OUTPUTS})")
    for folder in ("plots", "plots/churn", "plots/churn-b2b", "plots/leadscore", "plots/forecast", "batch"):
        _check_writable(work / folder, "--workdir", want="folder")
    for file in ("clv_scores.parquet", "churn_scores.parquet", "churn_b2b_scores.parquet", "leads_today.csv",
                 "forecast.csv"):
        _check_writable(work / file, "--workdir", want="file")
    jobs = {name: prepare_training(kind, params=params, holdout_days=a.holdout_days, tracking_uri=a.tracking_uri,
                                   register=True, name=name, alias="champion", plots_dir=plots,
                                   progress=_print_progress, labels=_TRAIN_LABELS)
            for name, kind, params, plots in (("crmml-clv", "clv", _DEMO_CLV, work / "plots"),
                                              ("crmml-churn", "churn", _DEMO_CHURN, work / "plots" / "churn"),
                                              ("crmml-churn-b2b", "churn", _DEMO_CHURN_B2B,
                                               work / "plots" / "churn-b2b"),
                                              ("crmml-leadscore", "leadscore", _DEMO_LEADS,
                                               work / "plots" / "leadscore"),
                                              ("crmml-forecast", "forecast", _DEMO_FORECAST,
                                               work / "plots" / "forecast"))}
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
    job = jobs["crmml-clv"]
    result = job.run(tables, as_of)
    score_args = argparse.Namespace(model=result.registry_uri, kind="clv", data=str(data), as_of=_day(as_of),
                                    out=str(work / "clv_scores.parquet"), top=a.top, tracking_uri=job.tracking_uri)
    rc = _cmd_score(score_args, tables)
    if rc != EXIT_OK:
        return rc
    rc = _demo_churn(jobs["crmml-churn"], tables, as_of, work / "churn_scores.parquet", a.top,
                     fix="run the demo with more --customers (the default 3000 is enough)")
    if rc != EXIT_OK:
        return rc
    with _step(f"generating a B2B world ({a.accounts:,} accounts with contracts, seed {a.seed}) in {data_b2b}"):
        b2b = synthetic.make_b2b_world(a.accounts, seed=a.seed)
        _clear(stale_b2b)
        synthetic.write_world(b2b, data_b2b)
    b2b_as_of = as_of if a.as_of is not None else b2b.end.normalize()
    b2b_tables = _load(str(data_b2b))
    rc = _demo_churn(jobs["crmml-churn-b2b"], b2b_tables, b2b_as_of, work / "churn_b2b_scores.parquet",
                     a.top, fix="run the demo with more --accounts (the default 3000 is enough)")
    if rc != EXIT_OK:
        return rc
    rc = _demo_leads(jobs["crmml-leadscore"], b2b_tables, b2b_as_of, work / "leads_today.csv")
    if rc != EXIT_OK:
        return rc
    rc = _demo_forecast(jobs["crmml-forecast"], b2b_tables, b2b_as_of, work / "forecast.csv")
    if rc != EXIT_OK:
        return rc
    return _demo_batch(work, {"b2c": (data, as_of, {"clv": "crmml-clv", "churn": "crmml-churn"}),
                              "b2b": (data_b2b, b2b_as_of, {"churn": "crmml-churn-b2b", "leads": "crmml-leadscore",
                                                            "deals": "crmml-forecast"})},
                       job.tracking_uri)


def _demo_batch(work: Path, worlds: dict[str, Any], tracking_uri: str) -> int:
    """The nightly batch over both sample worlds through the registered champions (``crmml batch run``)."""
    from crmml.batch import BatchConfig, run_batch
    from crmml.tracking import alias_version

    print("\nNightly batch (crmml batch run) through the registered champions:")
    for world, (data, as_of, names) in worlds.items():
        models = {k: f"models:/{n}@champion" for k, n in names.items()
                  if alias_version(n, "champion", tracking_uri=tracking_uri) is not None}
        if not models:
            print(f"  {world}: skipped — no model of this world was trained")
            continue
        config = BatchConfig(data=data, output=work / "batch" / world, models=models, as_of=as_of,
                             tracking_uri=tracking_uri, log_mlflow=True)
        with _step(f"scoring the {world.upper()} world with {', '.join(models)} into {config.output}"):
            res = run_batch(config, progress="quiet")
        rows = ", ".join(f"{k} {v['rows']:,}" for k, v in res.manifest["outputs"].items() if v.get("rows"))
        print(f"  {world}: {rows}; drift {res.drift_status}")
        print(f"    {res.run_dir} (manifest.json, drift.md, _SUCCESS; {config.output / 'current'} points here)")
    return EXIT_OK


def _train_or_skip(job: Any, tables: Any, as_of: Any, warning: str, skipped: str) -> Any | None:
    """Train and register a demo model; below its training floor, warn (``{exc}`` in ``warning`` is the reason),
    print ``skipped`` and return None: the demo's other parts stand on their own."""
    from crmml.exceptions import InsufficientDataError

    try:
        return job.run(tables, as_of)
    except InsufficientDataError as exc:
        _err(warning.format(exc=exc))
        print(f"\n{skipped} (see the warning on stderr).")
        return None


def _demo_forecast(job: Any, tables: Any, as_of: Any, out: Path) -> int:
    """Train and register the forecast, then this and next quarter through ``models:/crmml-forecast@champion``."""
    from crmml.cli import _forecast, _leadscore

    result = _train_or_skip(job, tables, as_of, "warning: the forecast was skipped: too few closed deals in the "
                            "sample world. {exc}", "Pipeline forecast: skipped — too few closed deals")
    if result is None:
        return EXIT_OK
    scorer = _load_model(result.registry_uri, job.tracking_uri, "forecast")
    with _step(f"forecasting this and next quarter from {_day(as_of)} through {result.registry_uri}"):
        frame = scorer.forecast(tables, as_of, periods=2)
    with _step(f"writing the forecast to {out}"):
        _leadscore.write_list_atomic(frame, str(out), "--workdir")
    print("\nBookings, this and next quarter (P10 / P50 / P90 beside the stage-weighted pipeline):")
    _forecast.print_forecast(frame, None)
    return EXIT_OK


def _demo_leads(job: Any, tables: Any, as_of: Any, out: Path) -> int:
    """Train and register lead scoring, then today's prioritised list through ``models:/crmml-leadscore@champion``."""
    from crmml.cli import _leadscore
    from crmml.leadscore import daily_list

    result = _train_or_skip(job, tables, as_of, "warning: lead scoring skipped: too few conversions in the sample "
                            "world. {exc}", "Lead scoring: skipped — too few conversions")
    if result is None:
        return EXIT_OK
    scorer = _load_model(result.registry_uri, job.tracking_uri, "leadscore")
    with _step(f"today's lead list as of {_day(as_of)} ({scorer.model_type_} model) through {result.registry_uri}"):
        daily = daily_list(scorer, tables, as_of)
    with _step(f"writing {len(daily.frame):,} leads to {out}"):
        _leadscore.write_list_atomic(daily.frame, str(out), "--workdir")
    _leadscore.print_daily(daily, 10, f"the scores as of {_day(daily.previous_as_of)}")
    return EXIT_OK


def _demo_churn(job: Any, tables: Any, as_of: Any, out: Path, top: int, *, fix: str) -> int:
    """Train and register churn, score every customer through ``models:/<name>@champion``, print a summary.

    A sample world too small for churn (the training floor of docs/churn.md)
    skips this step with a warning: the other parts stand on their own.
    """
    from crmml.data import ExclusionReport
    from crmml.scoring import write_parquet_atomic

    result = _train_or_skip(job, tables, as_of, "warning: churn skipped: the sample world is too small to train "
                            f"churn. {{exc}} Fix: {fix}.", "Churn: skipped — the sample world is too small to "
                            "train it")
    if result is None:
        if out.is_file():  # the previous run's churn scores belong to another world
            out.unlink()
            _err(f"  removed the previous demo's {out}")
        return EXIT_OK
    scorer = _load_model(result.registry_uri, job.tracking_uri, "churn")
    report = ExclusionReport()
    with _step(f"scoring {scorer.business} churn risk as of {_day(as_of)} through {result.registry_uri}"):
        scores = scorer.score(tables, as_of, report=report)
    for e in report.to_dict():
        _err(_exclusion(e))
    with _step(f"writing {len(scores):,} churn scores to {out}"):
        write_parquet_atomic(scores, out)
    _print_demo_churn(scorer, scores, top)
    return EXIT_OK


def _print_demo_churn(scorer: Any, scores: Any, top: int) -> None:
    """Customers per risk tier with its action, then the top ``top`` by revenue at risk (ids only, no names)."""
    n = max(len(scores), 1)
    tiers = scores["risk_tier"].astype(str)
    b2b = scorer.business == "contractual"
    what = "every contract ends without renewal" if b2b else "no purchase"
    print(f"\n{'B2B' if b2b else 'B2C'} churn risk tiers ({what} in the next {scorer.horizon_days:g} days):")
    for tier in ("high", "medium", "low"):
        sel = tiers == tier
        k = int(sel.sum())
        money = float(scores.loc[sel, "revenue_at_risk"].sum())
        action = getattr(scorer, f"{tier}_action")
        print(f"  {tier:<7} {k:>8,}  ({k / n:6.1%})  action {action:<22} revenue at risk {money:>12,.0f}")
    print(f"\nTop {top} at-risk {'accounts' if b2b else 'customers'} by revenue at risk:")
    cols = ["churn_probability", "risk_tier", "action", "revenue_at_risk", "reason_1"]
    best = scores.sort_values("revenue_at_risk", ascending=False, kind="stable").head(top)
    print(best[cols].to_string(formatters={"churn_probability": "{:.3f}".format,
                                           "revenue_at_risk": "{:,.2f}".format}))
