"""Paths the CLI writes, checked before the long work: --out, --save, --plots-dir, --workdir, synth folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path


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
