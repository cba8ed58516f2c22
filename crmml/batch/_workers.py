"""Partitions scored in worker processes on one machine (one per core by default for large inputs).

Workers are *spawned* (a fresh interpreter, never a fork of a process that
may already run OpenMP threads), load the models from their artifact folders
with crmml's own loader — as Spark executors do — and run the same
:func:`~crmml.batch._steps.run_partition` as the single-process loop. Each
worker's OpenMP (LightGBM) uses ``cores // workers`` threads, so the workers
do not oversubscribe the cores.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["score_in_processes", "default_workers"]

_STATE: dict[str, Any] = {}


def default_workers(n_todo: int, total_rows: int, events_per_partition: int) -> int:
    """One worker per core when the input is large (two partitions or more of the default size), else 1."""
    if total_rows < 2 * events_per_partition or n_todo < 2:
        return 1
    return max(1, min(os.cpu_count() or 1, n_todo))


def _init(artifacts: Mapping[str, str], work: str, paths: Mapping[str, str], n: int, as_of: str, root: str,
          run_id: str, view: tuple[str | None, str | None], threads: int, forecast_periods: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before LightGBM is imported by the model packages
    from crmml.batch._store import RunStore
    from crmml.features import Spill, read_owner_history
    from crmml.scoring import load_local_scorer

    p = {k: Path(v) for k, v in paths.items()}
    ts = pd.Timestamp(as_of)
    _STATE.update(
        scorers={name: load_local_scorer(d) for name, d in artifacts.items()},
        spill=Spill(work=Path(work), paths=p, n_partitions=n, rows={}, owner_history=read_owner_history(p)),
        store=RunStore(root, run_id, ts), as_of=ts, view=tuple(view), forecast_periods=forecast_periods)


def _task(i: int) -> tuple[int, dict[str, Any]]:
    from crmml.batch._steps import run_partition

    s = _STATE
    return i, run_partition(i, s["spill"].raw_frames(i), s["as_of"], s["scorers"], s["store"],
                            owner_history=s["spill"].owner_history, view=s["view"],
                            forecast_periods=s["forecast_periods"])


def score_in_processes(todo: list[int], spill: Any, as_of: pd.Timestamp, models: Mapping[str, Any], store: Any,
                       view: tuple[str | None, str | None], workers: int, *, forecast_periods: int = 2
                       ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(partition, checkpoint)`` as worker processes finish them (in completion order)."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    args = ({k: str(m.artifact_dir) for k, m in models.items()}, str(spill.work),
            {k: str(v) for k, v in spill.paths.items()}, spill.n_partitions, str(as_of), str(store.root),
            store.run_id, view, threads, forecast_periods)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init,
                             initargs=args) as pool:
        pending = {pool.submit(_task, i) for i in todo}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        except BaseException:
            for f in pending:
                f.cancel()
            raise
