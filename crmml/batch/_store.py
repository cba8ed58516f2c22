"""The output root: staging, per-partition checkpoints, atomic publish, retention, one run at a time.

Layout of ``<output>``::

    current -> runs/<run_id>                    the published run (a symbolic link, swapped atomically)
    runs/<run_id>/
        model=<name>/as_of=<date>/part-00012.parquet
        customer_view/as_of=<date>/part-00012.parquet
        lead_list/as_of=<date>/part-00000.parquet          (with a lead-scoring model)
        forecast_periods/as_of=<date>/part-00000.parquet   (with a forecast model)
        manifest.json  drift.md  drift.png  _SUCCESS
    .staging/<run_id>/                          a run in progress: the same tree, plus
        _spill/  _parts/part-00012.json  _steps/<step>.json     checkpoints of finished work
        _internal/forecast_inputs/part-00012.parquet            what a whole-run step reads
    .lock                                       held (flock) while a run writes

A run's id is its as_of and a digest of its inputs, models and settings, so
rerunning the same command after a crash finds its own staging folder and
reuses every finished partition; the rows written do not depend on which
run wrote them. Publishing renames the staging folder into ``runs/`` and then
replaces the ``current`` link with :func:`os.replace` — readers resolve
``current`` once and see the whole previous run or the whole new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from crmml._atomic import fsync_dir, temp_name, write_file
from crmml.exceptions import OutputError

__all__ = ["RunStore", "SUCCESS", "MANIFEST_NAME", "part_name"]

SUCCESS = "_SUCCESS"
MANIFEST_NAME = "manifest.json"
CURRENT = "current"


def part_name(i: int) -> str:
    """``part-00012.parquet``."""
    return f"part-{i:05d}.parquet"


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.parent / temp_name(f".{path.name}.", ".tmp")
    write_file(tmp, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())
    os.replace(tmp, path)


def _write_part(folder: Path, i: int, frame: pd.DataFrame, **parquet: Any) -> Path:
    """``folder/part-<i>.parquet`` written under a temporary name, then renamed (readers never see half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / part_name(i)
    tmp = folder / temp_name(f".{target.name}.", ".tmp")
    try:
        frame.to_parquet(tmp, index=False, **parquet)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


class RunStore:
    """One run's folders under the output root (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str], run_id: str, as_of: pd.Timestamp) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.as_of_dir = f"as_of={as_of:%Y-%m-%d}"
        self.staging = self.root / ".staging" / run_id
        self.published = self.root / "runs" / run_id

    # ------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``<output>/.lock`` (an advisory ``flock``; released by the kernel when the process dies)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"Cannot use the output folder {str(self.root)!r} ({exc.strerror}). Fix: pass an "
                              "output path in a writable folder.") from None
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - not POSIX
                pass
            except BlockingIOError:
                raise OutputError(f"Another crmml batch is writing to {str(self.root)!r} (it holds "
                                  f"{str(self.root / '.lock')!r}). Fix: wait for it to finish, or use another "
                                  "output folder.") from None
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ state
    def is_published(self) -> bool:
        """The run is complete under ``runs/`` (its ``_SUCCESS`` is there)."""
        return (self.published / SUCCESS).is_file()

    def current_target(self) -> Path | None:
        """The run ``current`` points at (None without one)."""
        link = self.root / CURRENT
        if not link.is_symlink():
            return None
        return (self.root / os.readlink(link)).resolve()

    def previous_run(self) -> Path | None:
        """The published run ``current`` points at, when it is another run than this one."""
        cur = self.current_target()
        if cur is None or not (cur / SUCCESS).is_file() or cur == self.published.resolve():
            return None
        return cur

    def start(self) -> bool:
        """Create the staging folder; True when it already existed (a resumed run)."""
        existed = self.staging.is_dir()
        for sub in ("_parts", "_steps"):
            (self.staging / sub).mkdir(parents=True, exist_ok=True)
        return existed

    # ------------------------------------------------------------ checkpoints
    def output_dir(self, output: str) -> Path:
        """``<staging>/model=<name>/as_of=<date>`` (``<output>/as_of=<date>`` for the batch's own outputs)."""
        top = output if output in ("customer_view", "lead_list", "forecast_periods") else f"model={output}"
        return self.staging / top / self.as_of_dir

    def write_part(self, output: str, i: int, frame: pd.DataFrame) -> Path:
        """Write one part file atomically (temporary name, then rename)."""
        # microsecond timestamps: what Spark and most Parquet readers take (pandas' nanoseconds are refused)
        return _write_part(self.output_dir(output), i, frame, coerce_timestamps="us", allow_truncated_timestamps=True)

    def internal_dir(self, name: str) -> Path:
        """``<staging>/_internal/<name>``: intermediate part files of a whole-run step (never published)."""
        return self.staging / "_internal" / name

    def write_internal(self, name: str, i: int, frame: pd.DataFrame) -> Path:
        """Write one intermediate part file atomically."""
        return _write_part(self.internal_dir(name), i, frame)

    def part_done(self, i: int) -> dict[str, Any] | None:
        """The checkpoint of partition ``i`` (None when it has not finished)."""
        return self._read(self.staging / "_parts" / f"part-{i:05d}.json")

    def mark_part(self, i: int, meta: dict[str, Any]) -> None:
        """Record partition ``i`` as finished (after its part files are in place)."""
        _write_json_atomic(self.staging / "_parts" / f"part-{i:05d}.json", meta)

    def step_done(self, step: str) -> dict[str, Any] | None:
        """The checkpoint of a whole-run step (``spill``, ``lead_list``, ``forecast_periods``)."""
        return self._read(self.staging / "_steps" / f"{step}.json")

    def mark_step(self, step: str, meta: dict[str, Any]) -> None:
        _write_json_atomic(self.staging / "_steps" / f"{step}.json", meta)

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a damaged checkpoint: the work is redone

    def spill_dir(self) -> Path:
        return self.staging / "_spill"

    def write_json(self, name: str, data: Any) -> Path:
        path = self.staging / name
        _write_json_atomic(path, data)
        return path

    # ---------------------------------------------------------------- publish
    def publish(self) -> Path:
        """Drop the checkpoints, write ``_SUCCESS``, move the run into ``runs/`` and point ``current`` at it."""
        if not self.is_published():
            shutil.rmtree(self.staging / "_spill", ignore_errors=True)
            shutil.rmtree(self.staging / "_parts", ignore_errors=True)
            shutil.rmtree(self.staging / "_steps", ignore_errors=True)
            shutil.rmtree(self.staging / "_internal", ignore_errors=True)
            (self.staging / SUCCESS).unlink(missing_ok=True)  # a run killed while publishing
            write_file(self.staging / SUCCESS, b"")
            fsync_dir(self.staging)
            self.published.parent.mkdir(parents=True, exist_ok=True)
            if self.published.exists():  # an incomplete copy (no _SUCCESS) cannot be a reader's run
                shutil.rmtree(self.published)
            os.replace(self.staging, self.published)
            fsync_dir(self.published.parent)
        self.point_current()
        with contextlib.suppress(OSError):
            (self.root / ".staging").rmdir()  # only when empty
        return self.published

    def point_current(self) -> None:
        """Replace the ``current`` link atomically (a new link under a temporary name, then rename)."""
        link = self.root / CURRENT
        if link.exists() and not link.is_symlink():
            raise OutputError(f"{str(link)!r} exists and is not a link crmml made. Fix: move it away; crmml "
                              "points 'current' at the published run.")
        tmp = self.root / temp_name(".current.", ".tmp")
        os.symlink(os.path.join("runs", self.run_id), tmp)
        os.replace(tmp, link)
        fsync_dir(self.root)

    def prune(self, keep: int) -> list[str]:
        """Remove the oldest published runs beyond ``keep`` (never the current one); returns their ids."""
        runs_dir = self.root / "runs"
        if not runs_dir.is_dir():
            return []
        runs = sorted((p for p in runs_dir.iterdir() if p.is_dir() and (p / SUCCESS).is_file()),
                      key=lambda p: (p / SUCCESS).stat().st_mtime_ns)
        cur = self.current_target()
        removed = []
        for p in runs[:max(0, len(runs) - keep)]:
            if cur is not None and p.resolve() == cur:
                continue
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
        return removed

    def stale_staging(self) -> list[Path]:
        """Staging folders of other runs (another as_of, other inputs or models)."""
        base = self.root / ".staging"
        if not base.is_dir():
            return []
        return sorted(p for p in base.iterdir() if p.is_dir() and p.name != self.run_id)
