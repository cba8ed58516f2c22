"""Writing synthetic worlds to Parquet (in one go, or streamed block by block)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from crmml._validation import Interval, check_param
from crmml.synthetic._b2c import B2C_SCHEMAS, B2CParams, b2c_setup, iter_b2c_blocks
from crmml.synthetic._world import SyntheticWorld

__all__ = ["write_world", "write_b2c_world"]


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_world(world: SyntheticWorld, out_dir: str | Path, *, truth: bool = True) -> dict[str, Path]:
    """Write a world as one Parquet file per table.

    Contract tables go to ``out_dir/<table>.parquet``; with ``truth=True`` the
    truth tables go to ``out_dir/_truth/<name>.parquet`` and the generating
    parameters to ``out_dir/_truth/params.json``.

    Parameters
    ----------
    world : SyntheticWorld
    out_dir : str or Path
        Created if missing; existing files of the same names are overwritten.
    truth : bool
        Also write the ground truth.

    Returns
    -------
    dict of str to Path
        Written files keyed by table name (truth tables as ``"_truth/<name>"``,
        parameters as ``"_truth/params"``).

    Examples
    --------
    >>> import tempfile
    >>> from crmml.synthetic import make_b2c_world, write_world
    >>> paths = write_world(make_b2c_world(100, seed=1), tempfile.mkdtemp())
    >>> sorted(paths)[:2]
    ['_truth/customers', '_truth/params']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, df in world.tables.items():
        path = out / f"{name}.parquet"
        df.to_parquet(path, index=False)
        written[name] = path
    if truth:
        tdir = out / "_truth"
        tdir.mkdir(exist_ok=True)
        for name, df in world.truth.items():
            path = tdir / f"{name}.parquet"
            df.to_parquet(path, index=False)
            written[f"_truth/{name}"] = path
        _write_json(tdir / "params.json", world.params)
        written["_truth/params"] = tdir / "params.json"
    return written


def write_b2c_world(out_dir: str | Path, n_customers: int, *, seed: int = 0, chunk_size: int = 100_000,
                    start: object = "2023-01-01", end: object = "2025-12-31",
                    params: B2CParams | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    truth: bool = True) -> dict[str, int]:
    """Stream a B2C world to Parquet folders, one part file per chunk of customers.

    Writes ``out_dir/<table>/part-00000.parquet, part-00001.parquet, ...`` for
    ``customers``, ``transactions`` and ``interactions`` (and, with
    ``truth=True``, ``out_dir/_truth/customers/part-*.parquet`` plus
    ``out_dir/_truth/params.json``). Only one chunk is in memory at a time.
    Reading the folders back gives exactly ``make_b2c_world(n_customers,
    seed=seed, ...)``: customers are simulated in the same fixed blocks
    (``params.block_size``) with the same per-block seeds.

    Parameters
    ----------
    out_dir : str or Path
    n_customers : int
    seed : int
    chunk_size : int
        Customers per part file, rounded up to a whole number of blocks.
    start, end : str or Timestamp
        Observation window ``[start, end)``.
    params : B2CParams or None
    progress : callable or None
        Called as ``progress(customers_done, n_customers)`` after each part.
    truth : bool
        Also write the ground truth.

    Returns
    -------
    dict of str to int
        Rows written per table (truth as ``"_truth/customers"``).

    Examples
    --------
    >>> import tempfile
    >>> from crmml.synthetic import write_b2c_world
    >>> counts = write_b2c_world(tempfile.mkdtemp(), 300, seed=1)
    >>> counts["customers"]
    300
    """
    p, s, _, days, d = b2c_setup(n_customers, seed, start, end, params, "write_b2c_world")
    check_param("write_b2c_world", "chunk_size", chunk_size, [Interval(1, None, integer=True)])
    blocks_per_part = -(-int(chunk_size) // p.block_size)
    out = Path(out_dir)
    names = ["customers", "transactions", "interactions"] + (["truth_customers"] if truth else [])
    dirs = {k: (out / "_truth" / "customers" if k == "truth_customers" else out / k) for k in names}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
    counts = dict.fromkeys(names, 0)
    buffer: dict[str, list[pa.Table]] = {k: [] for k in names}
    part = done = in_buffer = 0

    def flush() -> None:
        nonlocal part, in_buffer
        for k in names:
            table = pa.concat_tables(buffer[k]) if buffer[k] else B2C_SCHEMAS[k].empty_table()
            pq.write_table(table, dirs[k] / f"part-{part:05d}.parquet")
            counts[k] += table.num_rows
            buffer[k].clear()
        part += 1
        in_buffer = 0
        if progress is not None:
            progress(done, int(n_customers))

    for n, tabs in iter_b2c_blocks(n_customers, seed=seed, start_ns=s.value, days=days, params=p):
        for k in names:
            buffer[k].append(tabs[k])
        done += n
        in_buffer += 1
        if in_buffer == blocks_per_part:
            flush()
    if in_buffer:
        flush()
    if truth:
        _write_json(out / "_truth" / "params.json", d)
    return {("_truth/customers" if k == "truth_customers" else k): v for k, v in counts.items()}
