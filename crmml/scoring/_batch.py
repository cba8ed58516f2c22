"""Batch output: scores written atomically to Parquet."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pandas as pd

from crmml._atomic import create_file, remove_stale_temps, temp_name
from crmml.exceptions import OutputError

__all__ = ["write_parquet_atomic", "TEMP_FILE"]

TEMP_FILE = re.compile(r"\..+\.crmml-(?P<pid>\d{1,10})-[0-9a-f]{16}\.tmp")
"""Temporary files of :func:`write_parquet_atomic`: ``.<name>.crmml-<pid>-<16 hex>.tmp``."""


def _legacy_temp(name: str) -> re.Pattern[str]:
    """``tempfile.mkstemp`` names earlier releases used for ``name``: ``.<name>.<8 chars>.tmp``."""
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")


def _refuse(target: Path, why: str, fix: str) -> OutputError:
    return OutputError(f"Cannot write the scores to {str(target)!r}: {why}. {fix}")


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` to ``path`` so readers never see a partial file.

    The frame is written to ``.<name>.crmml-<pid>-<random>.tmp`` in the same
    folder and moved into place with :func:`os.replace` (atomic on POSIX).
    The file is created with mode ``0o666`` minus the process umask, like any
    file the user writes. Temporary files of this naming left by a killed
    run are removed when stale (see :func:`crmml._atomic.remove_stale_temps`).

    Raises
    ------
    OutputError
        ``path`` is a folder, its parent cannot be created or is not
        writable, or the disk refuses the write; the message names the path.
    """
    target = Path(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _refuse(target, f"the path cannot be used ({exc.strerror})",
                      "Pass a file path inside a writable folder.") from None
    else:
        if stat.S_ISDIR(st.st_mode):
            raise _refuse(target, "it is a folder", f"Pass a file path such as {str(target / 'scores.parquet')!r}.")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(target, f"its folder {str(parent)!r} cannot be created ({exc.strerror})",
                      "Pass a path whose parents are writable folders.") from None
    remove_stale_temps(parent, TEMP_FILE, _legacy_temp(target.name))
    tmp = parent / temp_name(f".{target.name[:100]}.crmml-", ".tmp")  # stays under 255 bytes
    try:
        fd = create_file(tmp)
    except OSError as exc:
        raise _refuse(target, f"cannot create a file in {str(parent)!r} ({exc.strerror})",
                      "Pass a path in a writable folder.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            frame.to_parquet(f, index=True)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _refuse(target, f"writing failed ({exc.strerror or exc})",
                          "Check the folder's space and permissions.") from exc
        raise
    return target
