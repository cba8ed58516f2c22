"""``crmml batch run`` and ``crmml batch init``: the nightly job from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crmml.cli._common import _COUNT, EXIT_OK, _err, _parse_as_of

#: Exit code of ``crmml batch run --fail-on-drift`` when a model drifted to the act level (> 0.25).
EXIT_DRIFT = 7


def add_batch_parser(sub: Any, leaf: Any) -> None:
    """``crmml batch run|init``."""
    b = sub.add_parser("batch", help="the nightly batch: every model, resumable and atomic, drift-checked")
    bs = b.add_subparsers(dest="batch_command", required=True, metavar="COMMAND")
    r = leaf(bs, "run", "score every configured model over the data and publish the run atomically")
    r.add_argument("--config", required=True, help="the batch configuration (TOML; crmml batch init writes one)")
    r.add_argument("--as-of", help="override the configuration's as_of (default: today 00:00 UTC)")
    r.add_argument("--engine", choices=["local", "spark"], help="override the configuration's engine")
    r.add_argument("--workers", type=_COUNT, default=None,
                   help="processes scoring partitions at once (default: one per core for large inputs)")
    shown = r.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="print nothing but errors and the final summary line")
    shown.add_argument("--progress", choices=["auto", "bar", "plain"], default="auto",
                       help="a progress bar on a terminal, plain log lines otherwise (default auto)")
    r.add_argument("--fail-on-drift", action="store_true",
                   help=f"exit {EXIT_DRIFT} when a model's features or score drifted to the act level (PSI > 0.25); "
                        "the run is published either way")
    r.set_defaults(func=_cmd_batch_run)
    i = leaf(bs, "init", "write an example batch configuration")
    i.add_argument("--out", default="batch.toml", help="where to write it (default batch.toml; never overwritten)")
    i.set_defaults(func=_cmd_batch_init)


def _cmd_batch_init(a: argparse.Namespace) -> int:
    from crmml.batch import EXAMPLE_CONFIG
    from crmml.exceptions import OutputError

    out = Path(a.out)
    try:
        with open(out, "x", encoding="utf-8") as f:
            f.write(EXAMPLE_CONFIG)
    except FileExistsError:
        raise OutputError(f"{str(out)!r} exists; crmml batch init never overwrites. Fix: pass --out with a new "
                          "file name, or edit the existing file.") from None
    except OSError as exc:
        raise OutputError(f"Cannot write {str(out)!r} ({exc.strerror}). Fix: pass --out in a writable folder."
                          ) from None
    print(out)
    return EXIT_OK


def _cmd_batch_run(a: argparse.Namespace) -> int:
    from crmml.batch import load_config, run_batch

    as_of = _parse_as_of(a.as_of)
    config = load_config(a.config, as_of=as_of, engine=a.engine, workers=a.workers)
    progress = "quiet" if a.quiet else a.progress
    res = run_batch(config, progress=progress)
    m = res.manifest
    rows = ", ".join(f"{k} {v['rows']:,}" for k, v in m.get("outputs", {}).items() if v.get("rows") is not None)
    drift = res.drift_status
    state = "already published" if res.already_published else (
        f"resumed ({res.reused_partitions} partitions reused)" if res.reused_partitions else "published")
    print(f"run {res.run_id} {state}: {res.run_dir} | {rows} | drift: {drift}", file=sys.stdout, flush=True)
    if not a.quiet:
        for name, d in m.get("drift", {}).items():
            if d.get("act") or d.get("watch"):
                _err(f"  drift {name}: {d['act']} column(s) to act on, {d['watch']} to watch "
                     f"(max PSI {d.get('max_psi') or 0:.3f}); see {res.run_dir / 'drift.md'}")
    if a.fail_on_drift and drift == "act":
        _err(f"error: drift at the act level (PSI > 0.25); see {res.run_dir / 'drift.md'}. The run was published.")
        return EXIT_DRIFT
    return EXIT_OK
