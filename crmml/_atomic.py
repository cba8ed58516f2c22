"""Writing files so that readers never see a partial one, and cleaning up after a killed writer.

Shared by model artifacts (:mod:`crmml._artifact`) and scores
(:func:`crmml.scoring.write_parquet_atomic`):

* :func:`create_file` creates a new file with mode ``0o666`` (the process
  umask applies, as for ``open(path, "w")``), never following a link;
* :func:`temp_name` names a temporary entry ``<prefix><pid>-<16 hex>`` so that
  it says which process owns it;
* :func:`remove_stale_temps` removes temporary entries of crmml's own naming
  that a killed writer left behind: after :data:`STALE_AFTER_SECONDS` when
  their process is gone, after :data:`ABANDONED_AFTER_SECONDS` regardless.

Bottom layer: standard library only.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path

__all__ = [
    "STALE_AFTER_SECONDS",
    "ABANDONED_AFTER_SECONDS",
    "temp_name",
    "remove_stale_temps",
    "create_file",
    "write_file",
    "fsync_dir",
]

STALE_AFTER_SECONDS = 600
"""A temporary entry of crmml's naming whose writer process is gone is removed after 10 minutes ..."""
ABANDONED_AFTER_SECONDS = 86_400
"""... and any temporary entry of crmml's naming after a day (the pid may have been reused)."""

def temp_name(prefix: str, suffix: str = "") -> str:
    """``<prefix><pid>-<16 hex><suffix>``: unique, and says which process owns it."""
    return f"{prefix}{os.getpid()}-{secrets.token_hex(8)}{suffix}"


def _pid_alive(pid: int) -> bool:
    if os.name == "nt" or pid == os.getpid():  # os.kill(pid, 0) is not a probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False
    except OSError:  # EPERM: alive, owned by someone else
        return True
    return True


def _last_change(path: Path, st: os.stat_result) -> float:
    newest = st.st_mtime
    if stat.S_ISDIR(st.st_mode):
        try:
            with os.scandir(path) as it:
                for entry in it:
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
        except OSError:
            pass
    return newest


def remove_stale_temps(directory: str | os.PathLike[str], current: re.Pattern[str],
                       legacy: re.Pattern[str] | None = None, *, now: float | None = None) -> list[str]:
    """Remove stale temporary entries of crmml's own naming from ``directory`` (best effort).

    An entry whose whole name matches ``current`` (which must have a ``pid``
    group) is stale when nothing in it changed for :data:`STALE_AFTER_SECONDS`
    and process ``pid`` is not running on this machine, or when nothing in it
    changed for :data:`ABANDONED_AFTER_SECONDS`. An entry matching ``legacy``
    (no pid) is stale after :data:`ABANDONED_AFTER_SECONDS`. Symbolic links
    and anything else are never touched; errors are ignored.

    Returns
    -------
    list of str
        Names removed.
    """
    base = Path(directory)
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        m = current.fullmatch(name)
        if m is None and (legacy is None or legacy.fullmatch(name) is None):
            continue
        path = base / name
        try:
            st = os.lstat(path)
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                continue
            age = now - _last_change(path, st)
            stale = age > ABANDONED_AFTER_SECONDS or (
                m is not None and age > STALE_AFTER_SECONDS and not _pid_alive(int(m.group("pid"))))
            if not stale:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(name)
        except OSError:
            continue
    return removed


def create_file(path: str | os.PathLike[str]) -> int:
    """Create a new file for writing and return its descriptor.

    Mode ``0o666`` minus the process umask (what ``open(path, "w")`` gives),
    never following a symbolic link, failing if ``path`` exists.
    """
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))
    return os.open(path, flags, 0o666)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file (:func:`create_file`) and flush it to disk."""
    fd = create_file(path)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk; best effort, a no-op on Windows."""
    if os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
