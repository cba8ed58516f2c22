"""The input fingerprint of a batch run: counts, time ranges and hashes of the Parquet inputs (no values)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmml.data import TABLES

__all__ = ["input_fingerprint", "fingerprint_digest"]

_CHUNK = 1 << 22


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _time_range(files: list[Path], column: str) -> tuple[str | None, str | None]:
    """Min and max of ``column`` from the Parquet row-group statistics (None when a file has none)."""
    import pyarrow.parquet as pq

    lo = hi = None
    for f in files:
        md = pq.ParquetFile(f).metadata
        names = md.schema.names
        if column not in names:
            return None, None
        j = names.index(column)
        for g in range(md.num_row_groups):
            st = md.row_group(g).column(j).statistics
            if st is None or not st.has_min_max:
                if md.row_group(g).num_rows:
                    return None, None
                continue
            lo = st.min if lo is None else min(lo, st.min)
            hi = st.max if hi is None else max(hi, st.max)
    return (None if lo is None else str(lo)), (None if hi is None else str(hi))


def input_fingerprint(paths: Mapping[str, Path]) -> dict[str, Any]:
    """Per table: files (relative names, bytes), SHA-256 of their contents, rows, time range of the time column.

    Reads file bytes and Parquet footers only; no value of any row is recorded.
    """
    out: dict[str, Any] = {}
    for name, path in paths.items():
        import pyarrow.parquet as pq

        files = _files(path)
        h = hashlib.sha256()
        listing = []
        rows = 0
        for f in files:
            rel = f.name if path.is_file() else os.path.relpath(f, path)
            digest = _sha256(f)
            h.update(f"{rel}\0{digest}\n".encode())
            listing.append({"file": rel, "bytes": f.stat().st_size})
            rows += pq.ParquetFile(f).metadata.num_rows
        lo, hi = _time_range(files, TABLES[name].time_column)
        out[name] = {"rows": rows, "files": len(files), "bytes": sum(x["bytes"] for x in listing),
                     "sha256": h.hexdigest(), "time_column": TABLES[name].time_column, "min": lo, "max": hi}
    return out


def fingerprint_digest(*parts: object) -> str:
    """SHA-256 of the canonical JSON of ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
