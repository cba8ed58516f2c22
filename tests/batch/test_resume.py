"""kill -9 a real `crmml batch run` at several points; the rerun resumes and publishes the same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.batch.conftest import AS_OF

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]


def _config(b2c_dir: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "batch.toml"
    cfg.write_text(f'data = "{b2c_dir / "data"}"\noutput = "out"\nas_of = "{AS_OF.date()}"\nn_partitions = 8\n'
                   f'[models]\nclv = "{b2c_dir / "models" / "clv"}"\nchurn = "{b2c_dir / "models" / "churn"}"\n')
    return cfg


def _run(cfg: Path) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "crmml.cli", "batch", "run", "--config", str(cfg),
                             "--progress", "plain"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _staging(out: Path) -> Path | None:
    base = out / ".staging"
    found = sorted(base.iterdir()) if base.is_dir() else []
    return found[0] if found else None


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL
            return
        if proc.poll() is not None:
            pytest.fail(f"the run finished (exit {proc.returncode}) before the kill point; stderr: "
                        f"{proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.002)
    proc.kill()
    pytest.fail("the kill point was never reached")


def _outputs(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {p.relative_to(run_dir).as_posix(): pd.read_parquet(p) for p in sorted(run_dir.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def reference(b2c_dir, tmp_path_factory):
    cfg = _config(b2c_dir, tmp_path_factory.mktemp("uninterrupted"))
    proc = _run(cfg)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]
    run_dir = (cfg.parent / "out" / "current").resolve()
    return run_dir.name, _outputs(run_dir), json.loads((run_dir / "manifest.json").read_text())


def _parts_done(out: Path, k: int):
    def ready() -> bool:
        s = _staging(out)
        return s is not None and len(list((s / "_parts").glob("part-*.json"))) >= k
    return ready


def _staging_has(out: Path, name: str):
    def ready() -> bool:
        s = _staging(out)
        return s is not None and (s / name).exists()
    return ready


KILL_POINTS = {
    "while splitting the input": lambda out: _staging_has(out, "_parts"),
    "after 3 of 8 partitions": lambda out: _parts_done(out, 3),
    "after the drift report, before publishing": lambda out: _staging_has(out, "drift.md"),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_then_rerun_publishes_the_uninterrupted_result(point, b2c_dir, tmp_path, reference):
    run_id, want, want_manifest = reference
    cfg = _config(b2c_dir, tmp_path)
    out = tmp_path / "out"
    _kill_when(_run(cfg), KILL_POINTS[point](out))
    assert not (out / "current").exists()  # nothing half-done is ever published
    assert _staging(out) is not None and _staging(out).name == run_id
    proc = _run(cfg)
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]
    run_dir = (out / "current").resolve()
    assert run_dir.name == run_id
    got = _outputs(run_dir)
    assert list(got) == list(want)
    for path, frame in want.items():
        pd.testing.assert_frame_equal(got[path], frame, check_exact=True, obj=path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for key in ("outputs", "exclusions", "drift", "input", "models"):
        assert manifest[key] == want_manifest[key], key
    if point == "after 3 of 8 partitions":
        assert manifest["reused_partitions"] >= 3
        assert "resumed (" in stdout.decode()
    assert not (out / ".staging").exists()
