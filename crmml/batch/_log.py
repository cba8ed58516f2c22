"""Logging a batch run to MLflow: the manifest's figures as metrics, the manifest and drift report as files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from crmml.scoring._mlflow import mlflow_call
from crmml.tracking import check_tracking_store

__all__ = ["log_run"]


def log_run(manifest: dict[str, Any], run_dir: Path, *, tracking_uri: str | None, experiment: str) -> str:
    """Log one MLflow run in ``experiment``; returns its run id.

    Params: run id, as_of, engine, partitions, model URIs and artifact
    digests. Metrics: rows per output, seconds per step, per model the
    largest PSI and the columns to watch / act on. Files: ``manifest.json``,
    ``drift.md``, ``drift.png``. Nothing else (no scores, no ids).
    """
    uri = check_tracking_store(tracking_uri)
    params: dict[str, Any] = {"run_id": manifest["run_id"], "as_of": manifest["as_of"],
                              "engine": manifest["engine"], "n_partitions": manifest["n_partitions"]}
    for name, m in manifest["models"].items():
        params[f"model.{name}.uri"] = m["uri"]
        params[f"model.{name}.artifact_sha256"] = m["artifact_sha256"][:16]
        if m.get("registry_version"):
            params[f"model.{name}.version"] = m["registry_version"]
    metrics: dict[str, float] = {f"rows.{k}": float(v["rows"] or 0) for k, v in manifest["outputs"].items()}
    metrics.update({f"seconds.{k}": float(v) for k, v in manifest["timings_seconds"].items()})
    for name, d in manifest["drift"].items():
        if d.get("reference"):
            if d.get("max_psi") is not None:
                metrics[f"drift.{name}.max_psi"] = float(d["max_psi"])
            metrics[f"drift.{name}.watch"] = float(d["watch"])
            metrics[f"drift.{name}.act"] = float(d["act"])
    with mlflow_call(uri, "logging the batch run"):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
        run = client.create_run(exp_id, run_name=f"batch {manifest['run_id']}",
                                tags={"crmml.kind": "batch", "crmml.status": manifest["status"]})
        rid = run.info.run_id
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)

        client.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items()],
                         metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
        for f in ("manifest.json", "drift.md", "drift.png"):
            if (run_dir / f).is_file():
                client.log_artifact(rid, str(run_dir / f))
        client.set_terminated(rid, "FINISHED")
    return rid
