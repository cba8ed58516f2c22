"""``run_batch``: every model over every partition, the whole-run steps, drift, manifest, atomic publish."""

from __future__ import annotations

import datetime as _dt
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmml._version import __version__
from crmml.batch._config import BatchConfig
from crmml.batch._fingerprint import fingerprint_digest, input_fingerprint
from crmml.batch._models import BatchModel, load_models, required_tables
from crmml.batch._partition import LEAD_LIST_EXTRA, VIEW
from crmml.batch._progress import BatchEvent, Mode, Progress, make_progress
from crmml.batch._steps import run_partition, sum_drift_counts, sum_exclusions
from crmml.batch._store import MANIFEST_NAME, SUCCESS, RunStore
from crmml.batch._workers import default_workers
from crmml.exceptions import MissingTableError, Problem
from crmml.features import Spill, find_parquet_tables, read_owner_history, spill_tables

__all__ = ["run_batch", "BatchResult", "MANIFEST_FORMAT", "EVENTS_PER_PARTITION"]

MANIFEST_FORMAT = {"format": "crmml-batch-run", "format_version": 1}
#: Default partition size: input rows per hash partition.
EVENTS_PER_PARTITION = 2_000_000

#: The table each kind scores; the batch refuses to start without it.
_POPULATION_TABLE = {"clv": "transactions", "churn": "customers", "leadscore": "leads", "forecast": "opportunities"}


@dataclass(frozen=True)
class BatchResult:
    """What :func:`run_batch` did.

    Attributes
    ----------
    run_id : str
    run_dir : Path
        The published run (``<output>/runs/<run_id>``; ``<output>/current`` points here).
    manifest : dict
        The run manifest (also ``run_dir/manifest.json``).
    reused_partitions : int
        Partitions a previous, interrupted run of the same inputs had finished.
    already_published : bool
        The same run had been published before; nothing was computed.
    """

    run_id: str
    run_dir: Path
    manifest: dict[str, Any]
    reused_partitions: int
    already_published: bool

    @property
    def drift_status(self) -> str:
        """``"act"``, ``"watch"`` or ``"ok"``: the worst drift status of any model."""
        worst = "ok"
        for d in self.manifest.get("drift", {}).values():
            if d.get("act"):
                return "act"
            if d.get("watch"):
                worst = "watch"
        return worst


def _view_inputs(config: BatchConfig, models: dict[str, BatchModel]) -> tuple[str | None, str | None]:
    def pick(kind: str, chosen: str | None) -> str | None:
        if chosen is not None:
            if models[chosen].kind != kind:
                from crmml.exceptions import ParameterError

                raise ParameterError(f"{config.source}: 'view.{kind}' names {chosen!r}, a {models[chosen].kind} "
                                     f"model; the customer view needs a {kind} model there. Fix: name the "
                                     f"{kind} model of [models].")
            return chosen
        names = [n for n, m in models.items() if m.kind == kind]
        return names[0] if len(names) == 1 else None

    return pick("clv", config.view_clv), pick("churn", config.view_churn)


def _check_inputs(paths: dict[str, Path], models: dict[str, BatchModel], data: Path) -> None:
    missing = [(m.name, _POPULATION_TABLE[m.kind]) for m in models.values()
               if m.kind in _POPULATION_TABLE and _POPULATION_TABLE[m.kind] not in paths]
    if missing:
        raise MissingTableError(
            [Problem(table, None, f"needed by the {name!r} model but not found in {str(data)!r}",
                     hint=f"write it as {table}.parquet (a file or a folder of part files), or remove the model")
             for name, table in missing], context="crmml batch")


def _auto_partitions(fingerprint: dict[str, Any]) -> int:
    rows = sum(int(v["rows"]) for v in fingerprint.values())
    return max(1, math.ceil(rows / EVENTS_PER_PARTITION))


def _read_parts(folder: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _lead_list(store: RunStore, model: BatchModel, as_of: pd.Timestamp) -> dict[str, Any]:
    """The prioritised lead list over all partitions, compared with the previous published run's."""
    from crmml.leadscore import rank_leads

    scores = _read_parts(store.output_dir(model.name))
    prev, prev_as_of, prev_run = None, None, None
    before = store.previous_run()
    if before is not None:
        found = sorted((before / "lead_list").glob("as_of=*"))
        if found:
            old = _read_parts(found[-1])
            if len(old):
                prev = pd.DataFrame({"score": old["score"].to_numpy(dtype="float64"),
                                     "grade": old["grade"].astype(str).to_numpy()},
                                    index=old["lead_id"].astype(str).to_numpy())
                prev_as_of = pd.Timestamp(found[-1].name.split("=", 1)[1])
                prev_run = before.name
    if len(scores):
        dse = pd.Series(scores[LEAD_LIST_EXTRA].to_numpy(dtype="float64"), index=scores["lead_id"].to_numpy()) \
            if LEAD_LIST_EXTRA in scores.columns else None
        listed = rank_leads(model.scorer, scores.drop(columns=[LEAD_LIST_EXTRA], errors="ignore")
                            .set_index("lead_id"), as_of, days_since_event=dse, previous=prev,
                            previous_as_of=prev_as_of)
        frame = listed.frame.copy()
        summary = {"leads": listed.n_scored, "per_grade": listed.per_grade, "new_a_leads": len(listed.new_a_leads),
                   "new_leads": listed.n_new}
    else:
        frame, summary = pd.DataFrame(), {"leads": 0}
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None).astype("string")
    store.write_part("lead_list", 0, frame)
    return {**summary, "compared_with_run": prev_run}


def _forecast_periods(store: RunStore, model: BatchModel, spill: Spill | None, paths: dict[str, Path], n: int,
                      as_of: pd.Timestamp, periods: int) -> dict[str, Any]:
    """Period bookings of the forecast model over all partitions (its intervals need every open deal at once).

    Each partition computed its open deals' period inputs with its features
    (``_internal/forecast_inputs``); this step reads them and the deals'
    tables (``opportunities``, ``opportunity_history``, ``customers``: booked
    amounts, new business, stage win rates), with their rows in partition
    order so that the sums run in the same order on both engines.
    """
    from crmml.data import load_tables
    from crmml.features import read_in_partition_order

    names = [t for t in ("customers", "opportunities", "opportunity_history") if t in paths]
    if spill is not None:  # the local engine's spill holds them split already, in that order
        frames = {t: pd.concat([spill.raw_frames(i, tables=(t,))[t] for i in range(n)], ignore_index=True)
                  for t in names}
    else:
        frames = read_in_partition_order(paths, as_of, n_partitions=n, tables=names)
    tables = load_tables(frames, validate=False)
    inputs = _read_parts(store.internal_dir("forecast_inputs"))
    inputs = inputs.set_index(model.entity) if len(inputs) else None
    fc = model.scorer.forecast(tables, as_of, periods=periods, period_inputs=inputs)
    fc = fc.astype({c: "string" for c in fc.columns if fc[c].dtype == object})
    store.write_part("forecast_periods", 0, fc)
    return {"periods": len(fc), "expected": [float(v) for v in fc["expected"]]}


def _finite(value: Any) -> float | None:
    """A PSI for JSON: rounded to 6 decimals; None when no current row was counted (NaN)."""
    v = float(value)
    return round(v, 6) if math.isfinite(v) else None


def _drift(store: RunStore, models: dict[str, BatchModel], metas: list[dict[str, Any]],
           as_of: pd.Timestamp) -> dict[str, Any]:
    from crmml.drift import drift_markdown, drift_table

    counts = sum_drift_counts(metas)
    tables: dict[str, pd.DataFrame] = {}
    summary: dict[str, Any] = {}
    for name, m in models.items():
        ref = getattr(m.scorer, "drift_reference_", None)
        if ref is None:
            summary[name] = {"reference": False, "watch": 0, "act": 0, "columns": []}
            continue
        table = drift_table(ref, counts.get(name, {}))
        tables[name] = table
        summary[name] = {
            "reference": True, "reference_as_of": str(ref.as_of),
            "watch": int((table["status"] == "watch").sum()), "act": int((table["status"] == "act").sum()),
            "max_psi": _finite(table["psi"].max()) if len(table) else 0.0,
            "columns": [{"column": r.column, "kind": r.kind, "psi": _finite(r.psi), "status": r.status}
                        for r in table.itertuples()],
        }
    md = drift_markdown(tables, as_of=as_of)
    missing = [n for n, s in summary.items() if not s["reference"]]
    if missing:
        md += ("\n\n## Models without a reference\n\n" + "\n".join(
            f"- {n}: trained by a crmml that stored no drift reference; retrain it to check drift" for n in missing)
               + "\n")
    (store.staging / "drift.md").write_text(md, encoding="utf-8")
    if tables:
        from crmml.plotting.drift import plot_drift

        plot_drift(tables, store.staging / "drift.png")
    return summary


def run_batch(config: BatchConfig, *, progress: Mode | Callable[[BatchEvent], None] | None = "auto") -> BatchResult:
    """Score every configured model over the data, write the outputs and publish them atomically.

    See docs/production.md for the output layout, resuming, the manifest and
    drift. Rerunning the same configuration on the same inputs resumes an
    interrupted run (finished partitions are reused) or, when the run was
    published already, only points ``current`` at it again.

    Parameters
    ----------
    config : BatchConfig
        See :func:`load_config`.
    progress : {"auto", "bar", "plain", "quiet"} or callable
        A tqdm bar on a terminal, plain lines otherwise (``"auto"``), or a
        callback receiving every :class:`BatchEvent`.

    Returns
    -------
    BatchResult

    Raises
    ------
    DataContractError, MissingTableError
        The inputs break the data contract (the message names table, column and fix).
    ArtifactError, TrackingError
        A model cannot be loaded.
    OutputError
        The output folder cannot be written, or another batch holds it.
    """
    prog = make_progress(progress)
    try:
        return _run(config, prog)
    finally:
        prog.close()


def _run(config: BatchConfig, prog: Progress) -> BatchResult:
    timings: dict[str, float] = {}
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    as_of = config.resolved_as_of()

    def say(step: str, msg: str, status: str = "info", **kw: Any) -> None:
        prog.emit(BatchEvent(step, status, msg, **kw))

    if config.engine == "spark":
        import crmml.spark  # noqa: F401 - without pyspark: a clear error before any work

    t = time.perf_counter()
    paths = find_parquet_tables(config.data)
    work_tmp = Path(tempfile.mkdtemp(prefix="crmml-batch-models-"))
    try:
        models = load_models(config.models, tracking_uri=config.tracking_uri, download_root=work_tmp)
    except BaseException:
        shutil.rmtree(work_tmp, ignore_errors=True)
        raise
    try:
        _check_inputs(paths, models, config.data)
        paths = {n: p for n, p in paths.items() if n in required_tables(models)}
        view = _view_inputs(config, models)
        say("load", f"{len(models)} model(s): " + ", ".join(f"{n} ({m.kind})" for n, m in models.items()))
        fingerprint = input_fingerprint(paths)
        timings["load"] = time.perf_counter() - t
        n = config.n_partitions or _auto_partitions(fingerprint)
        settings = {"as_of": str(as_of), "n_partitions": n, "view": view, "forecast_periods": config.forecast_periods,
                    "crmml": __version__}
        key = fingerprint_digest(settings, fingerprint, {k: m.artifact_sha256 for k, m in models.items()})
        run_id = f"{as_of:%Y-%m-%d}-{key[:12]}"
        store = RunStore(config.output, run_id, as_of)
        with store.lock():
            if store.is_published():
                store.publish()
                manifest = _read_manifest(store.published)
                say("publish", f"run {run_id} was published already: {store.published}", "done")
                return BatchResult(run_id, store.published, manifest, 0, True)
            for stale in store.stale_staging():
                shutil.rmtree(stale, ignore_errors=True)
            resumed = store.start()
            if resumed:
                say("load", f"resuming run {run_id}")
            try:
                spill = _spill(store, paths, as_of, n, config, say, timings) if config.engine == "local" else None
                metas, reused = _score(store, spill, paths, n, as_of, models, view, config, say, timings)
                steps = _whole_run_steps(store, models, spill, paths, n, as_of, config, say, timings)
                t = time.perf_counter()
                drift = _drift(store, models, metas, as_of)
                timings["drift"] = time.perf_counter() - t
            except BaseException as exc:
                store.write_json(MANIFEST_NAME, _failure(run_id, started, as_of, config, n, fingerprint, models,
                                                         timings, exc))
                raise
            manifest = _manifest(run_id, started, as_of, config, n, fingerprint, models, metas, steps, drift,
                                 timings, reused, view)
            store.write_json(MANIFEST_NAME, manifest)
            t = time.perf_counter()
            store.publish()
            removed = store.prune(config.keep_runs)
            timings["publish"] = time.perf_counter() - t
            say("publish", f"published {store.published} (current -> runs/{run_id})"
                + (f"; removed {len(removed)} old run(s)" if removed else ""), "done")
        if config.log_mlflow:
            from crmml.batch._log import log_run

            log_run(manifest, store.published, tracking_uri=config.tracking_uri, experiment=config.experiment)
            say("publish", f"logged in MLflow experiment {config.experiment!r}")
        return BatchResult(run_id, store.published, manifest, reused, False)
    finally:
        shutil.rmtree(work_tmp, ignore_errors=True)


def _spill(store: RunStore, paths: dict[str, Path], as_of: pd.Timestamp, n: int, config: BatchConfig,
           say: Callable[..., None], timings: dict[str, float]) -> Spill:
    t = time.perf_counter()
    done = store.step_done("spill")
    if done is not None:
        say("spill", "input already split into partitions (resumed)")
        spill = Spill(work=store.spill_dir(), paths=paths, n_partitions=n,
                      rows={k: int(v) for k, v in done["rows"].items()}, owner_history=read_owner_history(paths))
    else:
        shutil.rmtree(store.spill_dir(), ignore_errors=True)
        say("spill", f"splitting {len(paths)} table(s) into {n} partition(s) as of {as_of:%Y-%m-%d}", "start")
        spill = spill_tables(paths, as_of, store.spill_dir(), n_partitions=n, batch_rows=config.batch_rows,
                             on_table=lambda name, rows: say("spill", f"{name}: {rows:,} rows before as_of"))
        store.mark_step("spill", {"rows": spill.rows})
    timings["spill"] = time.perf_counter() - t
    return spill


def _score(store: RunStore, spill: Spill | None, paths: dict[str, Path], n: int, as_of: pd.Timestamp,
           models: dict[str, BatchModel], view: tuple[str | None, str | None], config: BatchConfig,
           say: Callable[..., None], timings: dict[str, float]) -> tuple[list[dict[str, Any]], int]:
    t = time.perf_counter()
    metas: dict[int, dict[str, Any]] = {}
    for i in range(n):
        done = store.part_done(i)
        if done is not None:
            metas[i] = done
    reused = len(metas)
    todo = [i for i in range(n) if i not in metas]
    say("score", f"scoring {n} partition(s)" + (f" ({reused} finished before)" if reused else ""), "start",
        done=reused, total=n)
    if spill is None:  # engine = "spark": Spark splits the tables and runs run_partition on its executors
        from crmml.spark import score_partitions_spark

        metas.update(score_partitions_spark(
            paths, as_of, models, store, n_partitions=n, todo=todo, view=view,
            forecast_periods=config.forecast_periods,
            on_done=lambda k: say("score", f"{reused + k}/{n} partitions", "advance", done=reused + k, total=n)))
    else:
        workers = config.workers or default_workers(len(todo), sum(spill.rows.values()), EVENTS_PER_PARTITION)
        if workers > 1:
            from crmml.batch._workers import score_in_processes

            finished = score_in_processes(todo, spill, as_of, models, store, view, workers,
                                          forecast_periods=config.forecast_periods)
        else:
            scorers = {k: m.scorer for k, m in models.items()}
            finished = ((i, run_partition(i, spill.raw_frames(i), as_of, scorers, store,
                                          owner_history=spill.owner_history, view=view,
                                          forecast_periods=config.forecast_periods)) for i in todo)
        for k, (i, meta) in enumerate(finished, start=1):
            metas[i] = meta
            rows = ", ".join(f"{name} {r:,}" for name, r in meta["rows"].items())
            say("score", f"partition {i + 1}/{n}: {rows}", "advance", done=reused + k, total=n)
    timings["score"] = time.perf_counter() - t
    say("score", f"scored {n} partition(s) in {timings['score']:.1f} s", "done", done=n, total=n)
    return [metas[i] for i in range(n)], reused


def _whole_run_steps(store: RunStore, models: dict[str, BatchModel], spill: Spill | None,
                     paths: dict[str, Path], n: int, as_of: pd.Timestamp,
                     config: BatchConfig, say: Callable[..., None], timings: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in models.values():
        step = {"leadscore": "lead_list", "forecast": "forecast_periods"}.get(m.kind)
        if step is None:
            continue
        done = store.step_done(step)
        if done is None:
            t = time.perf_counter()
            say(step, f"{step.replace('_', ' ')} from {m.name!r}", "start")
            if step == "lead_list":
                done = _lead_list(store, m, as_of)
            else:
                done = _forecast_periods(store, m, spill, paths, n, as_of, config.forecast_periods)
            done["seconds"] = time.perf_counter() - t
            store.mark_step(step, done)
        timings[step] = float(done.get("seconds", 0.0))
        out[step] = done
    return out


def _outputs(store: RunStore, metas: list[dict[str, Any]], steps: dict[str, Any],
             models: dict[str, BatchModel]) -> dict[str, Any]:
    rows: dict[str, int] = {}
    for m in metas:
        for name, r in m["rows"].items():
            rows[name] = rows.get(name, 0) + int(r)
    out = {}
    for name in [*(k for k in models if k in rows), *(k for k in rows if k not in models)]:  # config order
        r = rows[name]
        top = name if name == VIEW else f"model={name}"
        out[name] = {"path": f"{top}/{store.as_of_dir}", "rows": r, "files": len(metas),
                     **({"kind": models[name].kind} if name in models else {})}
    for step in steps:
        path = store.output_dir(step)
        n_rows = steps[step].get("leads") if step == "lead_list" else steps[step].get("periods")
        out[step] = {"path": f"{step}/{store.as_of_dir}", "rows": n_rows, "files": len(list(path.glob("part-*")))}
    return out


def _manifest(run_id: str, started: str, as_of: pd.Timestamp, config: BatchConfig, n: int,
              fingerprint: dict[str, Any], models: dict[str, BatchModel], metas: list[dict[str, Any]],
              steps: dict[str, Any], drift: dict[str, Any], timings: dict[str, float], reused: int,
              view: tuple[str | None, str | None]) -> dict[str, Any]:
    store = RunStore(config.output, run_id, as_of)
    return {
        **MANIFEST_FORMAT,
        "run_id": run_id,
        "status": "succeeded",
        "as_of": str(as_of),
        "started_at": started,
        "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "crmml_version": __version__,
        "engine": config.engine,
        "n_partitions": n,
        "reused_partitions": reused,
        "input": fingerprint,
        "models": {k: m.describe() for k, m in models.items()},
        "customer_view": {"clv": view[0], "churn": view[1]},
        "outputs": _outputs(store, metas, steps, models),
        "steps": steps,
        "exclusions": sum_exclusions(metas),
        "drift": drift,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "partition_seconds": {k: round(sum(float(m["seconds"].get(k, 0.0)) for m in metas), 3)
                              for k in sorted({k for m in metas for k in m["seconds"]})},
        "success_marker": SUCCESS,
    }


def _failure(run_id: str, started: str, as_of: pd.Timestamp, config: BatchConfig, n: int,
             fingerprint: dict[str, Any], models: dict[str, BatchModel], timings: dict[str, float],
             exc: BaseException) -> dict[str, Any]:
    """The manifest of a run that stopped (left in its staging folder, never published).

    The error is recorded by class, and for a data-contract error by table,
    column and rule — not by its message, which may quote example ids.
    """
    from crmml.exceptions import DataContractError

    error: dict[str, Any] = {"type": type(exc).__name__}
    if isinstance(exc, DataContractError):
        error["problems"] = [{"table": p.table, "column": p.column, "rule": p.rule, "n_rows": p.n_rows}
                             for p in exc.problems]
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    return {**MANIFEST_FORMAT, "run_id": run_id, "status": status, "as_of": str(as_of), "started_at": started,
            "stopped_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "crmml_version": __version__,
            "engine": config.engine, "n_partitions": n, "input": fingerprint,
            "models": {k: m.describe() for k, m in models.items()}, "error": error,
            "timings_seconds": {k: round(v, 3) for k, v in timings.items()}}


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads((run_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return {}
