"""The batch configuration: a TOML file (or the same fields in Python), checked before any work."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crmml._time import parse_time
from crmml.exceptions import ParameterError

__all__ = ["BatchConfig", "load_config", "ENGINES", "EXAMPLE_CONFIG"]

ENGINES = ("local", "spark")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_RESERVED = {"customer_view", "lead_list", "forecast_periods"}

EXAMPLE_CONFIG = """\
# crmml nightly batch (crmml batch run --config batch.toml)
data = "data/synthetic/b2c"        # folder of contract tables: <table>.parquet files or part folders
output = "scores"                  # output root: runs/<run>/model=<name>/as_of=<date>/part-*.parquet
# as_of = "2025-07-01"             # default: today 00:00 UTC
# tracking_uri = "sqlite:///mlflow.db"   # for models:/ URIs (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)
# n_partitions = 16                # default: about 2 million events per partition
# keep_runs = 7                    # published runs kept under runs/
# engine = "local"                 # or "spark" (pip install 'crmml[spark]')
# workers = 2                      # processes (local engine); default: one per core for large inputs

[models]                           # output name = model URI or folder
clv = "models:/crmml-clv@champion"
churn = "models:/crmml-churn@champion"

# [view]                           # the customer view joins these two outputs (default: the clv and churn kinds)
# clv = "clv"
# churn = "churn"

# [forecast]
# periods = 2                      # period bookings of a forecast model: this period and the next

# [mlflow]
# log = true                       # log the run manifest as an MLflow run
# experiment = "crmml-batch"
"""


@dataclass(frozen=True)
class BatchConfig:
    """What the nightly batch scores, with which models, as of when, and where it writes.

    Parameters
    ----------
    data : path
        Folder of contract tables as Parquet: ``<table>.parquet`` (a file or
        a folder of part files) or ``<table>/`` part folders.
    output : path
        Output root (see docs/production.md for the layout).
    models : dict
        Output name → model URI (``models:/crmml-churn@champion``,
        ``runs:/…``) or a model folder. Names are lower-case
        (``[a-z][a-z0-9_-]*``); ``customer_view``, ``lead_list`` and
        ``forecast_periods`` are the batch's own outputs.
    as_of : time-like, optional
        The scoring cutoff; default: today 00:00 UTC.
    tracking_uri : str, optional
        MLflow store of ``models:/`` URIs and of the run log.
    n_partitions : int, optional
        Hash partitions of the entities; default: about 2 million events each.
    keep_runs : int, default 7
        Published runs kept (the current one included; at least 2 so a reader
        of the previous run is never cut off).
    view_clv, view_churn : str, optional
        The model outputs the customer view joins; default: the one ``clv``
        and the one ``churn`` model (no view without either).
    forecast_periods : int, default 2
    log_mlflow : bool, default False
    experiment : str, default "crmml-batch"
    engine : {"local", "spark"}
    workers : int, optional
        Processes scoring partitions at once (local engine); default: one
        per core when the input holds at least two default-size partitions
        (4 million rows), else 1.
    batch_rows : int, default 1_000_000
        Rows per record batch when streaming the input.
    """

    data: Path
    output: Path
    models: dict[str, str]
    as_of: pd.Timestamp | None = None
    tracking_uri: str | None = None
    n_partitions: int | None = None
    keep_runs: int = 7
    view_clv: str | None = None
    view_churn: str | None = None
    forecast_periods: int = 2
    log_mlflow: bool = False
    experiment: str = "crmml-batch"
    engine: str = "local"
    workers: int | None = None
    batch_rows: int = 1_000_000
    source: str = field(default="BatchConfig", compare=False)

    def __post_init__(self) -> None:
        src = self.source
        object.__setattr__(self, "data", Path(_path(self.data, "data", src)))
        object.__setattr__(self, "output", Path(_path(self.output, "output", src)))
        if not isinstance(self.models, Mapping) or not self.models:
            raise _bad(src, "models", "a table of at least one output name = model URI or folder", self.models,
                       'add e.g. [models] churn = "models:/crmml-churn@champion"')
        models = {}
        for name, uri in self.models.items():
            if not isinstance(name, str) or not _NAME.fullmatch(name) or name in _RESERVED:
                raise _bad(src, "models", "output names of lower-case letters, digits, _ or - (starting with a "
                           f"letter), none of {sorted(_RESERVED)}", name, "rename the entry")
            if not isinstance(uri, (str, os.PathLike)) or not os.fspath(uri).strip():
                raise _bad(src, f"models.{name}", "a model URI (models:/name@alias) or a model folder", uri,
                           'write it as a string, e.g. "models:/crmml-churn@champion"')
            models[name] = os.fspath(uri)
        object.__setattr__(self, "models", models)
        if self.as_of is not None:
            try:
                object.__setattr__(self, "as_of", parse_time(self.as_of, "as_of"))
            except ParameterError as exc:
                raise ParameterError(f"{src}: {exc}") from None
        if self.tracking_uri is not None and (not isinstance(self.tracking_uri, str) or not self.tracking_uri):
            raise _bad(src, "tracking_uri", "an MLflow tracking URI", self.tracking_uri,
                       'e.g. "sqlite:///mlflow.db" or "http://127.0.0.1:5000"')
        _int(self.n_partitions, "n_partitions", src, low=1, optional=True)
        _int(self.keep_runs, "keep_runs", src, low=2)
        _int(self.forecast_periods, "forecast_periods", src, low=1)
        _int(self.workers, "workers", src, low=1, optional=True)
        _int(self.batch_rows, "batch_rows", src, low=1000)
        for key in ("view_clv", "view_churn"):
            v = getattr(self, key)
            if v is not None and v not in models:
                raise _bad(src, key.replace("_", "."), f"one of the [models] names ({', '.join(models)})", v,
                           "name a model of the [models] table")
        if self.engine not in ENGINES:
            raise _bad(src, "engine", " or ".join(repr(e) for e in ENGINES), self.engine, 'use "local" or "spark"')
        if not isinstance(self.log_mlflow, bool):
            raise _bad(src, "mlflow.log", "true or false", self.log_mlflow, "write log = true")
        if not isinstance(self.experiment, str) or not self.experiment.strip():
            raise _bad(src, "mlflow.experiment", "an experiment name", self.experiment, 'e.g. "crmml-batch"')

    def resolved_as_of(self) -> pd.Timestamp:
        """``as_of``, or today 00:00 UTC (naive, as every crmml time)."""
        if self.as_of is not None:
            return self.as_of
        return pd.Timestamp.now(tz="UTC").normalize().tz_localize(None)


def _bad(source: str, key: str, expected: str, got: object, fix: str) -> ParameterError:
    shown = repr(got)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return ParameterError(f"{source}: '{key}' must be {expected}. Got {shown} instead. Fix: {fix}.")


def _path(value: object, key: str, source: str) -> str:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        raise _bad(source, key, "a folder path", value, f'write e.g. {key} = "path/to/folder"')
    return os.fspath(value)


def _int(value: object, key: str, source: str, *, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(source, key, f"an integer >= {low}", value, f"write {key} = {max(low, 2)}")


_TOP_KEYS = {"data", "output", "as_of", "tracking_uri", "n_partitions", "keep_runs", "engine", "workers",
             "batch_rows", "models", "view", "forecast", "mlflow"}
_SECTION_KEYS = {"view": {"clv", "churn"}, "forecast": {"periods"}, "mlflow": {"log", "experiment"}}


def load_config(path: str | os.PathLike[str], **overrides: Any) -> BatchConfig:
    """Read a batch TOML file (see :data:`EXAMPLE_CONFIG`); relative paths are relative to the file's folder.

    ``overrides`` replace fields after reading (``engine="spark"``,
    ``as_of=...``); ``None`` values are ignored.

    Raises
    ------
    ParameterError
        The file is missing or is not TOML, a key is unknown, or a value is of
        the wrong type; the message names the file and the key.
    """
    p = Path(path)
    label = str(p)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"No batch configuration at {label!r}. Fix: pass --config with the path of a TOML file "
                             "(crmml batch init writes an example).") from None
    except IsADirectoryError:
        raise ParameterError(f"{label!r} is a folder, not a batch configuration file. Fix: pass the TOML file."
                             ) from None
    except UnicodeDecodeError:
        raise ParameterError(f"{label}: not UTF-8 text. Fix: save the configuration as UTF-8 TOML.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{label}: not valid TOML ({exc}). Fix: correct the syntax.") from None
    except OSError as exc:
        raise ParameterError(f"{label}: cannot be read ({exc.strerror}). Fix: check the path and permissions."
                             ) from None
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ParameterError(f"{label}: unknown key(s) {', '.join(map(repr, unknown))}. Known keys: "
                             f"{', '.join(sorted(_TOP_KEYS))}. Fix: correct or remove them.")
    for sec, keys in _SECTION_KEYS.items():
        val = raw.get(sec, {})
        if not isinstance(val, dict):
            raise _bad(label, sec, "a table", val, f"write it as [{sec}]")
        extra = sorted(set(val) - keys)
        if extra:
            raise ParameterError(f"{label}: unknown key(s) {', '.join(map(repr, extra))} in [{sec}]. Known keys: "
                                 f"{', '.join(sorted(keys))}. Fix: correct or remove them.")
    base = p.parent

    def rel(v: object) -> object:
        if isinstance(v, str) and v and not Path(v).is_absolute():
            return str(base / v)
        return v

    models = raw.get("models")
    if isinstance(models, dict):
        models = {k: (rel(v) if isinstance(v, str) and ":" not in v.split("/")[0] else v) for k, v in models.items()}
    kw: dict[str, Any] = {
        "data": rel(raw.get("data")), "output": rel(raw.get("output")), "models": models,
        "as_of": raw.get("as_of"), "tracking_uri": raw.get("tracking_uri"),
        "n_partitions": raw.get("n_partitions"), "keep_runs": raw.get("keep_runs", 7),
        "engine": raw.get("engine", "local"), "workers": raw.get("workers"),
        "batch_rows": raw.get("batch_rows", 1_000_000),
        "view_clv": raw.get("view", {}).get("clv"), "view_churn": raw.get("view", {}).get("churn"),
        "forecast_periods": raw.get("forecast", {}).get("periods", 2),
        "log_mlflow": raw.get("mlflow", {}).get("log", False),
        "experiment": raw.get("mlflow", {}).get("experiment", "crmml-batch"),
    }
    tracking = kw["tracking_uri"]
    if isinstance(tracking, str) and tracking.startswith("sqlite:///") and not tracking.startswith("sqlite:////"):
        kw["tracking_uri"] = "sqlite:///" + str(base / tracking[len("sqlite:///"):])
    if kw["as_of"] is not None and not isinstance(kw["as_of"], str):
        kw["as_of"] = str(kw["as_of"])  # TOML dates
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return BatchConfig(**kw, source=label)
