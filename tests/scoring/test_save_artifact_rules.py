"""Saving never deletes user files: new/empty folders or a previous model only, atomically,
with the process umask, and stale temporary entries of crmml's own naming cleaned up."""

import os
import stat
import subprocess
import sys
import time

import pandas as pd
import pytest

import crmml._artifact as artifact
from crmml._artifact import MANIFEST, read_artifact, write_artifact
from crmml._atomic import ABANDONED_AFTER_SECONDS, STALE_AFTER_SECONDS, remove_stale_temps
from crmml.exceptions import OutputError
from crmml.scoring import write_parquet_atomic
from crmml.scoring._batch import TEMP_FILE


def _save(path, value=1.0):
    return write_artifact(path, kind="clv", entity="customer_id", files={"model.json": {"v": value}})


def _value(path):
    import json

    return json.loads(read_artifact(path)[1]["model.json"])["v"]


@pytest.fixture
def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


# ---------------------------------------------------------------- where a model may be written
def test_new_folder_and_missing_parents_are_created(tmp_path):
    _save(tmp_path / "a" / "b" / "m")
    assert _value(tmp_path / "a" / "b" / "m") == 1.0


def test_empty_folder_is_used(tmp_path):
    (tmp_path / "m").mkdir()
    _save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path / "m")) == [MANIFEST, "model.json"]


def test_previous_model_is_replaced_and_nothing_is_left_beside_it(tmp_path):
    _save(tmp_path / "m", 1.0)
    _save(tmp_path / "m", 2.0)
    assert _value(tmp_path / "m") == 2.0
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_a_previous_model_with_fewer_files_than_listed_is_replaced(tmp_path):
    write_artifact(tmp_path / "m", kind="clv", entity="customer_id", files={"model.json": {}, "booster.txt": "t"})
    (tmp_path / "m" / "booster.txt").unlink()
    _save(tmp_path / "m", 3.0)
    assert _value(tmp_path / "m") == 3.0


def test_model_folder_holding_a_user_file_is_refused_and_untouched(tmp_path):
    _save(tmp_path / "m", 1.0)
    (tmp_path / "m" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"Refusing to write the model to '.*m': besides a crmml model the folder "
                                          r"holds 'notes.txt'. crmml only replaces a folder that holds nothing but a "
                                          r"previous model: move those away, or choose a new folder."):
        _save(tmp_path / "m", 2.0)
    assert (tmp_path / "m" / "notes.txt").read_text() == "mine" and _value(tmp_path / "m") == 1.0


def test_model_folder_holding_a_sub_folder_is_refused(tmp_path):
    _save(tmp_path / "m")
    (tmp_path / "m" / "data").mkdir()
    with pytest.raises(OutputError, match=r"besides a crmml model the folder holds 'data'"):
        _save(tmp_path / "m")


def test_folder_with_a_damaged_manifest_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MANIFEST).write_text("{not json")
    with pytest.raises(OutputError, match=r"not empty and is not a crmml model artifact \(.*not valid JSON"):
        _save(tmp_path / "m")
    assert (tmp_path / "m" / MANIFEST).read_text() == "{not json"


def test_file_target_is_refused(tmp_path):
    (tmp_path / "m").write_text("mine")
    with pytest.raises(OutputError, match=r"'.*m': it is a file, not a folder. Pass a new or empty folder path."):
        _save(tmp_path / "m")
    assert (tmp_path / "m").read_text() == "mine"


def test_parent_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(OutputError, match=r"Refusing to write the model to '.*f/m'"):
        _save(tmp_path / "f" / "m")


def test_symlink_target_is_refused(tmp_path):
    _save(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputError, match=r"it is a symbolic link. Pass the folder it points to, or a new folder."):
        _save(tmp_path / "link")
    assert (tmp_path / "link").is_symlink()


def test_save_dot_inside_a_model_folder_is_refused_and_the_model_kept(tmp_path, monkeypatch):
    _save(tmp_path / "m", 1.0)
    monkeypatch.chdir(tmp_path / "m")
    with pytest.raises(OutputError, match=r"'\.': it is the current working directory, and replacing it would leave "
                                          r"this process in a deleted folder. Save to a new folder elsewhere"):
        _save(".", 2.0)
    assert _value(tmp_path / "m") == 1.0 and os.getcwd() == str(tmp_path / "m")


def test_save_dot_in_an_empty_working_directory_writes_in_place(tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    monkeypatch.chdir(tmp_path / "m")
    _save(".", 5.0)
    assert _value(".") == 5.0 and os.getcwd() == str(tmp_path / "m")
    assert sorted(os.listdir(".")) == [MANIFEST, "model.json"]


def test_save_into_an_ancestor_of_the_working_directory_is_refused(tmp_path, monkeypatch):
    (tmp_path / "project" / "work").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "project" / "work")
    with pytest.raises(OutputError, match=r"it contains the current working directory"):
        _save("..")
    with pytest.raises(OutputError, match=r"it contains the current working directory"):
        _save(tmp_path)
    assert os.listdir(tmp_path / "project") == ["work"]


def test_a_failed_swap_keeps_the_previous_model(tmp_path, monkeypatch):
    _save(tmp_path / "m", 1.0)
    real = os.rename
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # moving the new model in
            raise PermissionError(13, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(artifact.os, "rename", flaky)
    with pytest.raises(OutputError, match=r"the new model cannot be moved in \(Permission denied\); the previous "
                                          r"model is unchanged"):
        _save(tmp_path / "m", 2.0)
    monkeypatch.setattr(artifact.os, "rename", real)
    assert _value(tmp_path / "m") == 1.0
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_interrupted_write_leaves_the_previous_model(tmp_path, monkeypatch):
    _save(tmp_path / "m", 1.0)

    def boom(path, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(artifact, "write_file", boom)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path / "m", 2.0)
    monkeypatch.undo()
    assert _value(tmp_path / "m") == 1.0 and sorted(os.listdir(tmp_path)) == ["m"]


# ---------------------------------------------------------------- permissions
@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "dir_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640),
                                                              (0o002, 0o775, 0o664)])
def test_model_files_honour_the_umask(tmp_path, umask, mask, dir_mode, file_mode):
    umask(mask)
    _save(tmp_path / "m")
    assert stat.S_IMODE(os.stat(tmp_path / "m").st_mode) == dir_mode
    for name in (MANIFEST, "model.json"):
        assert stat.S_IMODE(os.stat(tmp_path / "m" / name).st_mode) == file_mode


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_scores_file_honours_the_umask(tmp_path, umask, mask, file_mode):
    umask(mask)
    write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "scores.parquet")
    assert stat.S_IMODE(os.stat(tmp_path / "scores.parquet").st_mode) == file_mode


# ---------------------------------------------------------------- stale temporary entries
def test_stale_temp_dirs_of_a_killed_save_are_removed_and_fresh_ones_kept(tmp_path, dead_pid):
    stale = tmp_path / f".crmml-tmp-{dead_pid}-{'a' * 16}"
    fresh = tmp_path / f".crmml-tmp-{dead_pid}-{'b' * 16}"
    alive = tmp_path / f".crmml-tmp-{os.getpid()}-{'c' * 16}"
    legacy_old = tmp_path / ".crmml-tmp-abcd_123"
    legacy_new = tmp_path / ".crmml-tmp-efgh_456"
    aside = tmp_path / f".crmml-old-{dead_pid}-{'d' * 16}"  # a previous model: never removed
    other = tmp_path / ".crmml-tmp-notes"
    for d in (stale, fresh, alive, legacy_old, legacy_new, aside, other):
        d.mkdir()
        (d / "model.json").write_text("{}")
    for d in (stale, alive, aside, other):
        _age(d / "model.json", STALE_AFTER_SECONDS + 60)
        _age(d, STALE_AFTER_SECONDS + 60)
    _age(legacy_old / "model.json", ABANDONED_AFTER_SECONDS + 60)
    _age(legacy_old, ABANDONED_AFTER_SECONDS + 60)
    _save(tmp_path / "m")
    left = sorted(os.listdir(tmp_path))
    assert stale.name not in left and legacy_old.name not in left
    assert {fresh.name, alive.name, legacy_new.name, aside.name, other.name, "m"} == set(left)


def test_a_temp_dir_being_written_is_not_stale_even_if_the_folder_is_old(tmp_path, dead_pid):
    d = tmp_path / f".crmml-tmp-{dead_pid}-{'a' * 16}"
    d.mkdir()
    (d / "booster.txt").write_text("still growing")  # fresh mtime inside
    _age(d, STALE_AFTER_SECONDS + 60)
    assert remove_stale_temps(tmp_path, artifact._TMP_DIR) == []


def test_anything_abandoned_for_a_day_is_removed_even_if_the_pid_is_alive(tmp_path):
    d = tmp_path / f".crmml-tmp-{os.getpid()}-{'a' * 16}"
    d.mkdir()
    _age(d, ABANDONED_AFTER_SECONDS + 60)
    assert remove_stale_temps(tmp_path, artifact._TMP_DIR) == [d.name]


def test_a_symlink_with_temp_naming_is_never_followed_or_removed(tmp_path, dead_pid):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data.txt").write_text("keep")
    link = tmp_path / f".crmml-tmp-{dead_pid}-{'a' * 16}"
    link.symlink_to(victim)
    os.utime(link, (0, 0), follow_symlinks=False)
    assert remove_stale_temps(tmp_path, artifact._TMP_DIR) == []
    assert (victim / "data.txt").read_text() == "keep"


def test_stale_scores_temp_files_are_removed_and_fresh_ones_kept(tmp_path, dead_pid):
    stale = tmp_path / f".scores.parquet.crmml-{dead_pid}-{'a' * 16}.tmp"
    fresh = tmp_path / f".scores.parquet.crmml-{dead_pid}-{'b' * 16}.tmp"
    legacy_stale = tmp_path / ".scores.parquet.k3j_x9q2.tmp"  # tempfile.mkstemp name of earlier releases
    legacy_fresh = tmp_path / ".scores.parquet.p0o9i8u7.tmp"
    mine = tmp_path / ".scores.parquet.notes.tmp"
    for f in (stale, fresh, legacy_stale, legacy_fresh, mine):
        f.write_bytes(b"partial")
    _age(stale, STALE_AFTER_SECONDS + 60)
    _age(legacy_stale, ABANDONED_AFTER_SECONDS + 60)
    _age(mine, ABANDONED_AFTER_SECONDS + 60)
    write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "scores.parquet")
    assert {p.name for p in tmp_path.iterdir()} == {"scores.parquet", fresh.name, legacy_fresh.name, mine.name}
    assert TEMP_FILE.fullmatch(fresh.name)


def test_killed_scores_write_leaves_a_temp_file_the_next_run_removes(tmp_path):
    code = ("import os, pandas as pd\n"
            "import crmml.scoring._batch as b\n"
            "def die(self, *a, **k): os.kill(os.getpid(), 9)\n"
            "pd.DataFrame.to_parquet = die\n"
            f"b.write_parquet_atomic(pd.DataFrame({{'x': [1]}}), {str(tmp_path / 'scores.parquet')!r})\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    (orphan,) = [p for p in tmp_path.iterdir() if p.name.startswith(".scores.parquet.crmml-")]
    write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "scores.parquet")
    assert orphan.exists()  # fresh: it might still be written
    _age(orphan, STALE_AFTER_SECONDS + 60)
    write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "scores.parquet")
    assert not orphan.exists() and [p.name for p in tmp_path.iterdir()] == ["scores.parquet"]


# ---------------------------------------------------------------- scores output errors
def test_scores_to_a_folder_is_an_output_error(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputError, match=r"Cannot write the scores to '.*out': it is a folder. Pass a file path such "
                                          r"as '.*out/scores.parquet'."):
        write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_scores_under_a_file_is_an_output_error(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(OutputError, match=r"Cannot write the scores to '.*f/scores.parquet': the path cannot be used "
                                          r"\(Not a directory\). Pass a file path inside a writable folder."):
        write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "f" / "scores.parquet")


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root ignores permissions")
def test_scores_in_an_unwritable_folder_is_an_output_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"Cannot write the scores to '.*ro/s.parquet': cannot create a file in"):
            write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), ro / "s.parquet")
    finally:
        ro.chmod(0o700)


def test_unwritable_folder_is_an_output_error_via_a_simulated_permission_error(tmp_path, monkeypatch):
    import crmml.scoring._batch as batch

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(batch, "create_file", denied)
    with pytest.raises(OutputError, match=r"cannot create a file in '.*' \(Permission denied\). Pass a path in a "
                                          r"writable folder."):
        write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "s.parquet")


def test_disk_errors_while_writing_scores_are_output_errors_and_leave_nothing(tmp_path, monkeypatch):
    def full(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(OutputError, match=r"writing failed \(No space left on device\)"):
        write_parquet_atomic(pd.DataFrame({"clv": [1.0]}), tmp_path / "s.parquet")
    assert list(tmp_path.iterdir()) == []


def test_check_save_target_refuses_up_front_without_writing(tmp_path):
    from crmml._artifact import check_save_target

    _save(tmp_path / "m")
    (tmp_path / "m" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"besides a crmml model the folder holds 'notes.txt'"):
        check_save_target(tmp_path / "m")
    check_save_target(tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_file_added_while_saving_is_kept_with_the_previous_model(tmp_path, monkeypatch):
    _save(tmp_path / "m", 1.0)
    real = artifact._make_temp_dir

    def racing(parent, target):
        (tmp_path / "m" / "late.txt").write_text("written meanwhile")  # after the folder was checked
        return real(parent, target)

    monkeypatch.setattr(artifact, "_make_temp_dir", racing)
    with pytest.raises(OutputError, match=r"files were added to the folder while saving \('late.txt'\)"):
        _save(tmp_path / "m", 2.0)
    assert (tmp_path / "m" / "late.txt").read_text() == "written meanwhile" and _value(tmp_path / "m") == 1.0
    assert sorted(os.listdir(tmp_path)) == ["m"]
