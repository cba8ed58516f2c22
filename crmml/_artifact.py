"""The on-disk model artifact format: data files plus a manifest, never pickle.

An artifact is a folder::

    crmml-model.json   manifest: format name and version, crmml version, model
                       kind, entity, creation time, sha256 and size of every file
    model.json         parameters and config (JSON)
    booster.txt        (models with a LightGBM booster: LightGBM's text format)
    drift_reference.json  (models fitted since drift monitoring: binned reference
                       distributions of the features and scores, no raw values;
                       see crmml.drift)

Artifacts are untrusted input. Reading (:func:`read_artifact`):

1. the manifest must be a regular file of at most :data:`MAX_MANIFEST_BYTES`,
   valid JSON with exactly the keys of its format version (1 or 2), checked
   field by field (:class:`crmml._payload.Payload`);
2. every listed name must be a plain file name (:func:`check_file_name`) —
   this is checked for all names *before* the filesystem is touched, so a
   manifest naming ``../x`` or ``/etc/hostname`` learns nothing about them;
3. each listed file must be a regular file (``lstat``: no symbolic links, no
   devices), of the size the manifest records (format 2), within the size
   limits (:data:`MAX_JSON_BYTES`, :data:`MAX_FILE_BYTES`,
   :data:`MAX_TOTAL_BYTES`) — all checked before a byte is read — and match
   its sha256. Files in the folder that the manifest does not list are
   ignored: they are never opened.

Nothing in an artifact is executed: the model class is chosen by crmml's own
registry from the ``kind`` field, and that class rebuilds itself from the
JSON/text files.

Writing (:func:`write_artifact`) serialises everything in memory first (a
non-finite number anywhere is refused), then writes into a new or empty
folder, or replaces a folder that holds nothing but a previous crmml model,
atomically (sibling temporary folder, then rename). Files and folders are
created with the ordinary modes (``0o666``/``0o777``) so the process umask
applies as for any other file. Stale temporary entries left by a killed
writer are removed on the next write (:func:`crmml._atomic.remove_stale_temps`).

This module sits in the bottom layer (next to :mod:`crmml.exceptions`) so that
model packages can write artifacts without importing upwards.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crmml._atomic import fsync_dir, remove_stale_temps, temp_name, write_file
from crmml._payload import DEFAULT_FIX, Payload, describe, dump_json, to_jsonable
from crmml._version import __version__
from crmml.exceptions import (
    ArtifactError,
    IncompatibleArtifactError,
    OutputError,
    TamperedArtifactError,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "READABLE_FORMAT_VERSIONS",
    "MANIFEST",
    "MAX_MANIFEST_BYTES",
    "MAX_JSON_BYTES",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "MAX_FILES",
    "Manifest",
    "ModelJsonArtifact",
    "check_file_name",
    "write_artifact",
    "check_save_target",
    "read_artifact",
    "read_manifest",
    "to_jsonable",
]

FORMAT_NAME = "crmml-model"
FORMAT_VERSION = 2
"""Written by this crmml. Version 2 records ``{"sha256", "size"}`` per file; version 1 only the sha256."""
READABLE_FORMAT_VERSIONS = (1, 2)
MANIFEST = "crmml-model.json"

MiB = 1 << 20
GiB = 1 << 30
MAX_MANIFEST_BYTES = 1 * MiB
MAX_JSON_BYTES = 16 * MiB
"""Largest ``*.json`` file of an artifact (CLV's model.json is a few KB)."""
MAX_FILE_BYTES = 2 * GiB
"""Largest other file: a LightGBM text booster of 2 GiB holds tens of thousands of deep trees."""
MAX_TOTAL_BYTES = 2 * GiB
"""All listed files together: the most a load holds in memory."""
MAX_FILES = 64

_TMP_DIR_PREFIX = ".crmml-tmp-"
_OLD_DIR_PREFIX = ".crmml-old-"
_TMP_DIR = re.compile(r"\.crmml-tmp-(?P<pid>\d{1,10})-[0-9a-f]{16}")
_TMP_DIR_LEGACY = re.compile(r"\.crmml-tmp-[a-z0-9_]{8}")  # tempfile.mkdtemp names of earlier releases
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TEXT_FIELD = 200


@dataclass(frozen=True)
class Manifest:
    """What an artifact's manifest records.

    ``files`` maps each file name to its sha256; ``sizes`` to its size in
    bytes (recorded from format version 2; for version 1 the size found on
    disk when the artifact was read, empty from :func:`read_manifest`).
    """

    kind: str
    entity: str
    format_version: int
    crmml_version: str
    created_at: str
    files: dict[str, str]
    metadata: dict[str, Any]
    sizes: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ names and limits
def check_file_name(name: object) -> str | None:
    """Why ``name`` may not be an artifact file name, or ``None`` if it may.

    Allowed: 1-128 characters from letters, digits, ``.``, ``_`` and ``-``,
    starting with a letter or digit, not ending with ``.``, not a Windows
    device name, not the manifest's name. So no separators, no ``..``, no
    absolute paths, no hidden files.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return ("artifact files are plain names inside the model folder: 1-128 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit (no '/', '\\', '..', absolute paths or hidden files)")
    if name.endswith("."):
        return "a file name may not end with '.'"
    if name.split(".")[0].lower() in _WINDOWS_DEVICES:
        return "a file name may not be a Windows device name (CON, NUL, COM1 ...)"
    if name.casefold() == MANIFEST.casefold():
        return f"{MANIFEST} is the manifest itself"
    return None


def _size_limit(name: str) -> int:
    return MAX_JSON_BYTES if name.lower().endswith(".json") else MAX_FILE_BYTES


def _human(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


# ------------------------------------------------------------------ reading
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def _lstat_regular(path: Path, root: Path, label: str) -> os.stat_result:
    """``lstat`` of a file the artifact needs; refuses links and non-regular files."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise TamperedArtifactError(
            f"The model artifact {str(root)!r} is incomplete: {label} listed in the manifest is missing. "
            "Restore the original artifact or re-train.") from None
    except OSError as exc:
        raise ArtifactError(f"Cannot read {label} of the model artifact {str(root)!r} ({exc.strerror}); "
                            "check the folder's permissions.") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise IncompatibleArtifactError(
            f"{label} in the model artifact {str(root)!r} is {what}; crmml artifacts hold plain files only. "
            "Restore the original artifact or re-train.")
    return st


def _read_regular(path: Path, size: int, root: Path, label: str) -> bytes:
    """Read exactly ``size`` bytes of a regular file, without following a symbolic link."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:  # ELOOP: a link was swapped in after lstat
        raise IncompatibleArtifactError(
            f"{label} in the model artifact {str(root)!r} cannot be opened as a plain file ({exc.strerror}). "
            "Restore the original artifact or re-train.") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        data = f.read(size + 1) if stat.S_ISREG(st.st_mode) and st.st_size == size else b""
    if len(data) != size:
        raise TamperedArtifactError(
            f"{label} of the model artifact {str(root)!r} changed while it was read (expected {size} bytes). "
            "Load it again once nothing is writing to it.")
    return data


def _version_error(root: Path, version: int, raw: Payload) -> IncompatibleArtifactError:
    written_by = raw.data.get("crmml_version")
    written_by = written_by if isinstance(written_by, str) and len(written_by) <= 40 else "?"
    readable = " and ".join(str(v) for v in READABLE_FORMAT_VERSIONS)
    return IncompatibleArtifactError(
        f"The model artifact {str(root)!r} has format version {version} (written by crmml {written_by}); "
        f"this crmml {__version__} reads format versions {readable}. Install the crmml version that wrote it, "
        "or re-train.")


def _parse_manifest(raw: bytes, root: Path) -> Manifest:
    """Validate a manifest's content field by field (no filesystem access)."""
    p = Payload.parse(raw, source=str(root / MANIFEST))
    fmt = p.data.get("format")
    if fmt != FORMAT_NAME:
        raise IncompatibleArtifactError(
            f"{str(root / MANIFEST)!r} is not a crmml model manifest (format={describe(fmt)}, "
            f"expected {FORMAT_NAME!r}). Pass a folder written by Scorer.save() or an MLflow model logged by crmml.")
    version_raw = p.data.get("format_version")
    if isinstance(version_raw, int) and not isinstance(version_raw, bool) and version_raw > FORMAT_VERSION:
        raise _version_error(root, version_raw, p)
    version = p.int_in("format_version", low=1, high=FORMAT_VERSION)
    assert version is not None
    p.keys_exactly(("format", "format_version", "crmml_version", "kind", "entity", "created_at", "files", "metadata"))
    kind = p.str_in("kind", max_length=_TEXT_FIELD)
    entity = p.str_in("entity", max_length=_TEXT_FIELD)
    crmml_version = p.str_in("crmml_version", max_length=_TEXT_FIELD)
    created_at = p.str_in("created_at", max_length=_TEXT_FIELD)
    metadata = p.mapping("metadata")
    files = p.mapping("files")
    assert kind is not None and entity is not None and crmml_version is not None and created_at is not None
    assert metadata is not None and files is not None
    if len(files.data) > MAX_FILES:
        raise files.error(None, f"at most {MAX_FILES} files", files.data)
    seen: dict[str, str] = {}
    for name in files.data:  # every name is checked before any file is looked at
        why = check_file_name(name)
        if why:
            raise IncompatibleArtifactError(f"{files.where()}: the file name {describe(name)} "
                                            f"is not allowed: {why}. {DEFAULT_FIX}")
        if name.casefold() in seen:
            raise IncompatibleArtifactError(
                f"{files.where()}: the file names {seen[name.casefold()]!r} and {name!r} differ only in case. "
                f"{DEFAULT_FIX}")
        seen[name.casefold()] = name
    digests: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name in files.data:
        if version == 1:
            digest = files.str_in(name, max_length=64)
        else:
            entry = files.mapping(name)
            assert entry is not None
            entry.keys_exactly(("sha256", "size"))
            digest = entry.str_in("sha256", max_length=64)
            limit = _size_limit(name)
            size = entry.int_in("size", low=0)
            assert size is not None
            if size > limit:
                raise IncompatibleArtifactError(
                    f"{entry.where('size')}: {name!r} is {_human(size)}; this crmml reads "
                    f"{'JSON files' if limit == MAX_JSON_BYTES else 'files'} of at most {_human(limit)}. "
                    "The artifact was not written by crmml; re-train the model.")
            sizes[name] = size
        assert digest is not None
        if not _SHA256.fullmatch(digest):
            where = files.where(name) if version == 1 else f"{files.where(name)}.sha256"
            raise IncompatibleArtifactError(
                f"{where}: expected a sha256 as 64 lowercase hex digits; got {digest[:70]!r}. {DEFAULT_FIX}")
        digests[name] = digest
    if sum(sizes.values()) > MAX_TOTAL_BYTES:
        raise IncompatibleArtifactError(
            f"{files.where()}: the files add up to {_human(sum(sizes.values()))}; this crmml loads artifacts of at "
            f"most {_human(MAX_TOTAL_BYTES)}. The artifact was not written by crmml; re-train the model.")
    return Manifest(kind=kind, entity=entity, format_version=version, crmml_version=crmml_version,
                    created_at=created_at, files=digests, metadata=metadata.data, sizes=sizes)


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and validate an artifact's manifest (nothing else is opened).

    Raises
    ------
    IncompatibleArtifactError
        Not a crmml artifact, a format version this crmml cannot read, or a
        malformed manifest (the message names the field).
    """
    root = Path(path)
    mpath = root / MANIFEST
    try:
        st = os.lstat(mpath)
    except (FileNotFoundError, NotADirectoryError):
        raise IncompatibleArtifactError(
            f"{str(root)!r} is not a crmml model artifact: {MANIFEST} is missing. "
            "Pass the directory written by Scorer.save() or an MLflow model URI logged by crmml.") from None
    except OSError as exc:
        raise ArtifactError(f"Cannot read {str(mpath)!r} ({exc.strerror}); check the folder's permissions.") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise IncompatibleArtifactError(
            f"{str(mpath)!r} is {what}; crmml artifacts hold plain files only. Restore the original artifact "
            "or re-train.")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise IncompatibleArtifactError(
            f"{str(mpath)!r} is {_human(st.st_size)}; a crmml manifest is at most {_human(MAX_MANIFEST_BYTES)}. "
            "The artifact was not written by crmml; re-train the model.")
    return _parse_manifest(_read_regular(mpath, st.st_size, root, MANIFEST), root)


def read_artifact(path: str | os.PathLike[str], *, kind: str | None = None) -> tuple[Manifest, dict[str, bytes]]:
    """Read an artifact, verifying format, version, kind, names, sizes and every checksum.

    Parameters
    ----------
    path : path-like
        The artifact directory.
    kind : str, optional
        Expected model kind; a different kind raises IncompatibleArtifactError.

    Returns
    -------
    (Manifest, dict)
        The manifest (with ``sizes`` filled in) and the raw bytes of each listed file.

    Raises
    ------
    IncompatibleArtifactError
        Malformed manifest, another kind, a file that is a link or not a
        regular file, a file over the size limits.
    TamperedArtifactError
        A listed file is missing, or its size or sha256 differs from the manifest.
    """
    root = Path(path)
    manifest = read_manifest(root)
    if kind is not None and manifest.kind != kind:
        raise IncompatibleArtifactError(
            f"The model artifact {str(root)!r} holds a {manifest.kind!r} model, not a {kind!r} model."
        )
    sizes: dict[str, int] = {}
    for name in manifest.files:  # every size is checked (lstat) before any file is read
        st = _lstat_regular(root / name, root, repr(name))
        declared = manifest.sizes.get(name)
        if declared is not None and st.st_size != declared:
            raise TamperedArtifactError(
                f"The model artifact {str(root)!r} was modified after it was written: the checksum of {name!r} "
                f"does not match the manifest (the file is {st.st_size} bytes, the manifest says {declared}; "
                "checked before reading). Restore the original artifact or re-train.")
        limit = _size_limit(name)
        sizes[name] = st.st_size
        if st.st_size > limit or sum(sizes.values()) > MAX_TOTAL_BYTES:
            raise IncompatibleArtifactError(
                f"{name!r} in the model artifact {str(root)!r} is {_human(st.st_size)}; this crmml reads "
                f"{'JSON files' if limit == MAX_JSON_BYTES else 'files'} of at most {_human(limit)} and artifacts "
                f"of at most {_human(MAX_TOTAL_BYTES)} in all. The artifact was not written by crmml; re-train.")
    contents: dict[str, bytes] = {}
    for name, digest in manifest.files.items():
        data = _read_regular(root / name, sizes[name], root, repr(name))
        if hashlib.sha256(data).hexdigest() != digest:
            raise TamperedArtifactError(
                f"The model artifact {str(root)!r} was modified after it was written: the checksum of "
                f"{name!r} does not match the manifest. Restore the original artifact or re-train."
            )
        contents[name] = data
    return replace(manifest, sizes=sizes), contents


# ------------------------------------------------------------------ writing
def _encode(files: Mapping[str, str | bytes | Mapping[str, Any]]) -> dict[str, bytes]:
    """Every file's bytes, checked (names, finite JSON, sizes) before anything is written."""
    blobs: dict[str, bytes] = {}
    if len(files) > MAX_FILES:
        raise ArtifactError(f"An artifact holds at most {MAX_FILES} files; got {len(files)}.")
    seen: set[str] = set()
    for name, content in files.items():
        why = check_file_name(name)
        if why:
            raise ArtifactError(f"Invalid artifact file name {name!r}: {why}.")
        if name.casefold() in seen:
            raise ArtifactError(f"Invalid artifact file name {name!r}: another file differs from it only in case.")
        seen.add(name.casefold())
        if isinstance(content, Mapping):
            data = dump_json(content, source=name).encode("utf-8")
        elif isinstance(content, str):
            data = content.encode("utf-8")
        else:
            data = bytes(content)
        limit = _size_limit(name)
        if len(data) > limit:
            raise ArtifactError(
                f"Cannot write {name!r}: it is {_human(len(data))}; crmml artifacts hold "
                f"{'JSON files' if limit == MAX_JSON_BYTES else 'files'} of at most {_human(limit)}.")
        blobs[name] = data
    total = sum(len(b) for b in blobs.values())
    if total > MAX_TOTAL_BYTES:
        raise ArtifactError(f"Cannot write the artifact: its files add up to {_human(total)}; "
                            f"crmml artifacts hold at most {_human(MAX_TOTAL_BYTES)}.")
    return blobs


@dataclass(frozen=True)
class _Plan:
    mode: str  # "new", "empty", "in_place" (the empty working directory) or "replace"
    allowed: frozenset[str] = frozenset()


def _refuse(target: Path, why: str, fix: str) -> OutputError:
    return OutputError(f"Refusing to write the model to {str(target)!r}: {why}. {fix}")


def _foreign_entries(folder: Path, allowed: frozenset[str]) -> list[str]:
    out = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name not in allowed or not entry.is_file(follow_symlinks=False):
                out.append(entry.name)
    return sorted(out)


def _plan(target: Path) -> _Plan:
    """Decide how ``target`` may be written, or refuse (nothing is changed here)."""
    absolute = Path(os.path.abspath(target))
    try:
        st = os.lstat(absolute)
    except FileNotFoundError:
        return _Plan("new")
    except OSError as exc:
        raise _refuse(target, f"it cannot be used as a folder ({exc.strerror})",
                      "Pass a folder path whose parents are folders.") from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(target, "it is a symbolic link", "Pass the folder it points to, or a new folder.")
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(target, "it is a file, not a folder", "Pass a new or empty folder path.")
    try:
        entries = os.listdir(absolute)
    except OSError as exc:
        raise _refuse(target, f"the folder cannot be read ({exc.strerror})", "Check its permissions.") from None
    try:
        cwd: str | None = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was deleted
        cwd = None
    real = os.path.realpath(absolute)
    if cwd is not None and (cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep)):
        if cwd == real and not entries:
            return _Plan("in_place")
        where = ("it is the current working directory" if cwd == real
                 else f"it contains the current working directory ({cwd!r})")
        raise _refuse(target, f"{where}, and replacing it would leave this process in a deleted folder",
                      "Save to a new folder elsewhere (e.g. '../model-new'), or change directory first.")
    if not entries:
        return _Plan("empty")
    try:
        manifest = read_manifest(absolute)
    except ArtifactError as exc:
        reason = str(exc).split(". ")[0]
        raise _refuse(target, f"the folder is not empty and is not a crmml model artifact ({reason})",
                      "crmml only replaces a folder that holds nothing but a previous model: choose a new or "
                      "empty folder, or move its files away.") from None
    allowed = frozenset(manifest.files) | {MANIFEST}
    foreign = _foreign_entries(absolute, allowed)
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise _refuse(target, f"besides a crmml model the folder holds {shown}",
                      "crmml only replaces a folder that holds nothing but a previous model: move those away, "
                      "or choose a new folder.")
    return _Plan("replace", allowed)


def check_save_target(path: str | os.PathLike[str]) -> None:
    """Refuse, without writing anything, a folder :func:`write_artifact` would refuse.

    For up-front checks (the CLI's ``--save``) before long work.

    Raises
    ------
    OutputError
        See :func:`write_artifact`.
    """
    _plan(Path(path))


def _make_temp_dir(parent: Path, target: Path) -> Path:
    for _ in range(100):
        tmp = parent / temp_name(_TMP_DIR_PREFIX)
        try:
            os.mkdir(tmp, 0o777)  # the umask applies, as for any folder
            return tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise _refuse(target, f"cannot create a folder in {str(parent)!r} ({exc.strerror})",
                          "Pass a path in a writable folder.") from None
    raise _refuse(target, f"cannot find a free temporary name in {str(parent)!r}", "Try again.")


def _swap(tmp: Path, absolute: Path, target: Path, plan: _Plan) -> None:
    """Move the finished ``tmp`` folder to ``absolute``; on failure the old content stays."""
    if plan.mode in ("new", "empty"):
        try:
            os.rename(tmp, absolute)  # POSIX: replaces an empty folder, fails on a non-empty one
        except OSError as exc:
            if plan.mode == "empty" and os.name == "nt":  # pragma: no cover - Windows cannot rename onto a folder
                try:
                    os.rmdir(absolute)  # fails if something was written there meanwhile
                    os.rename(tmp, absolute)
                    return
                except OSError:
                    pass
            raise _refuse(target, f"something else was written there meanwhile ({exc.strerror})",
                          "Choose a new or empty folder.") from None
        return
    # The previous model is moved aside as .crmml-old-*, which is never removed automatically: a
    # kill between the next two renames leaves the previous model there (rename it back to recover).
    old = absolute.parent / temp_name(_OLD_DIR_PREFIX)
    try:
        os.rename(absolute, old)
    except OSError as exc:
        raise _refuse(target, f"the previous model cannot be moved aside ({exc.strerror})",
                      "Check the folder's permissions.") from None
    try:
        foreign = _foreign_entries(old, plan.allowed)
    except OSError as exc:
        foreign = [f"<unreadable: {exc.strerror}>"]
    if foreign:  # a file appeared since the check: put everything back
        os.rename(old, absolute)
        raise _refuse(target, f"files were added to the folder while saving ({', '.join(map(repr, foreign[:5]))})",
                      "Save again once nothing else writes there, or choose a new folder.")
    try:
        os.rename(tmp, absolute)
    except BaseException as exc:
        os.rename(old, absolute)
        if isinstance(exc, OSError):
            raise _refuse(target, f"the new model cannot be moved in ({exc.strerror}); the previous model is "
                          "unchanged", "Check the folder's permissions.") from None
        raise
    garbage = absolute.parent / temp_name(_TMP_DIR_PREFIX)  # from here on a kill leaves a removable entry
    try:
        os.rename(old, garbage)
    except OSError:
        garbage = old
    shutil.rmtree(garbage, ignore_errors=True)


def _write_all(folder: Path, blobs: Mapping[str, bytes], manifest: bytes, target: Path) -> None:
    """Write every file, the manifest last: until it exists the folder is not an artifact."""
    try:
        for name, data in blobs.items():
            write_file(folder / name, data)
        write_file(folder / MANIFEST, manifest)
    except OSError as exc:
        raise _refuse(target, f"writing failed ({exc.strerror})",
                      "Check the folder's space and permissions.") from None
    fsync_dir(folder)


def write_artifact(
    path: str | os.PathLike[str],
    *,
    kind: str,
    entity: str,
    files: Mapping[str, str | bytes | Mapping[str, Any]],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write an artifact folder atomically, never deleting anything but a previous model.

    Parameters
    ----------
    path : path-like
        Target folder. It may be new, an empty folder, or a folder holding
        nothing but a crmml model (valid manifest, only its listed files),
        which is replaced. The current working directory may be written only
        while it is empty (files are then written in place, manifest last);
        a folder that contains the working directory is refused.
    kind : str
        Registry key of the model (``"clv"``).
    entity : str
        The id column the model scores (``"customer_id"``).
    files : mapping
        File name → content: a mapping (written as JSON), ``str`` (UTF-8 text)
        or ``bytes``. Names follow :func:`check_file_name`.
    metadata : mapping, optional
        Extra JSON-ready facts for the manifest (no personal data).

    Returns
    -------
    Path
        The artifact folder (``path``).

    Raises
    ------
    ArtifactError
        Invalid file name, a non-finite number in a JSON payload (the message
        names the field, e.g. ``model.json: champion_threshold``), a file over
        the size limits. Nothing is written.
    OutputError
        The target is a file, a link, a non-empty folder that is not only a
        crmml model, contains the working directory, or is not writable.
        Nothing is changed.
    """
    blobs = _encode(files)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "crmml_version": __version__,
        "kind": kind,
        "entity": entity,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                  for name, data in blobs.items()},
        "metadata": dict(metadata or {}),
    }
    manifest_bytes = dump_json(manifest, source=MANIFEST).encode("utf-8")
    target = Path(path)
    absolute = Path(os.path.abspath(target))
    plan = _plan(target)
    parent = absolute.parent
    try:
        os.makedirs(parent, exist_ok=True)  # mode 0o777: the umask applies
    except OSError as exc:
        raise _refuse(target, f"its parent folder cannot be created ({exc.strerror})",
                      "Pass a path whose parents are writable folders.") from None
    remove_stale_temps(parent, _TMP_DIR, _TMP_DIR_LEGACY)
    if plan.mode == "in_place":
        _write_all(absolute, blobs, manifest_bytes, target)
        return target
    tmp = _make_temp_dir(parent, target)
    try:
        _write_all(tmp, blobs, manifest_bytes, target)
        _swap(tmp, absolute, target, plan)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
    return target


class ModelJsonArtifact:
    """Mixin for a model saved as ``model.json`` (its :meth:`to_dict`) and, optionally, companion files.

    The class sets ``kind``, ``entity`` and ``display_name``, and may
    override :meth:`_artifact_metadata` (the manifest's free-form metadata).
    Used by every model kind, so saving and loading are written once.

    Companion files (e.g. ``drift_reference.json``) come through two hooks,
    :meth:`_extra_files` and :meth:`_read_extra_files`, which do nothing
    here. This module is the bottom layer and may not import what those
    files hold; a mixin of the layer that owns them overrides the pair once
    for every kind (:class:`crmml.drift.StoresDriftReference`, listed before
    this class among a model's bases).
    """

    kind: str
    entity: str
    display_name: str

    def _artifact_metadata(self) -> dict[str, str]:
        """Manifest metadata of this model (plain strings; no personal data)."""
        return {}

    def _extra_files(self) -> dict[str, Mapping[str, Any]]:
        """Files written beside ``model.json``: name → JSON mapping (none here; see the class docstring)."""
        return {}

    def _read_extra_files(self, files: Mapping[str, bytes]) -> None:
        """Restore what :meth:`_extra_files` wrote from a verified artifact's files (nothing here).

        Called by :meth:`from_artifact` after :meth:`from_dict`; a file may be
        absent (an artifact written before it existed).
        """
        return None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as a crmml artifact directory (``model.json``: JSON, no pickle).

        Saves into a new or empty folder, or replaces a folder that holds only
        a crmml model, atomically; anything else is refused with
        :class:`~crmml.exceptions.OutputError` (see docs/scoring.md).
        """
        self._check_fitted("save")  # type: ignore[attr-defined]
        extra = self._extra_files()
        if "model.json" in extra:  # pragma: no cover - a programming error in a subclass
            raise TypeError(f"{type(self).__name__}._extra_files may not name model.json")
        return write_artifact(path, kind=self.kind, entity=self.entity,
                              files={"model.json": self.to_dict(), **extra},  # type: ignore[attr-defined]
                              metadata=self._artifact_metadata())

    @classmethod
    def from_artifact(cls, manifest: Manifest, files: Mapping[str, bytes]) -> Any:
        """Rebuild from a verified artifact (used by :func:`crmml.load_scorer`)."""
        if "model.json" not in files:
            raise IncompatibleArtifactError(f"The {cls.display_name} artifact has no model.json.")
        obj = cls.from_dict(Payload.parse(files["model.json"], source="model.json"))  # type: ignore[attr-defined]
        obj._read_extra_files(files)
        return obj

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Load a model saved with :meth:`save`."""
        manifest, files = read_artifact(path, kind=cls.kind)
        return cls.from_artifact(manifest, files)
