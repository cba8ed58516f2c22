"""The artifact format: data files + manifest, verified before anything is parsed."""

import json

import numpy as np
import pytest

from crmml._artifact import FORMAT_VERSION, MANIFEST, read_artifact, read_manifest, to_jsonable, write_artifact
from crmml.exceptions import IncompatibleArtifactError, TamperedArtifactError


def _write(tmp_path):
    return write_artifact(tmp_path / "m", kind="clv", entity="customer_id",
                          files={"model.json": {"a": 1.5, "b": [1, 2]}, "booster.txt": "tree\n"},
                          metadata={"business": "noncontractual"})


def test_round_trip_reads_back_every_file(tmp_path):
    path = _write(tmp_path)
    manifest, files = read_artifact(path, kind="clv")
    assert manifest.kind == "clv" and manifest.entity == "customer_id"
    assert manifest.format_version == FORMAT_VERSION
    assert json.loads(files["model.json"]) == {"a": 1.5, "b": [1, 2]}
    assert files["booster.txt"] == b"tree\n"
    assert manifest.metadata == {"business": "noncontractual"}


def test_tampered_file_is_refused(tmp_path):
    path = _write(tmp_path)
    (path / "model.json").write_text(json.dumps({"a": 2.5, "b": [1, 2]}))
    with pytest.raises(TamperedArtifactError, match="modified after it was written: the checksum of 'model.json'"):
        read_artifact(path)


def test_missing_listed_file_is_refused(tmp_path):
    path = _write(tmp_path)
    (path / "booster.txt").unlink()
    with pytest.raises(TamperedArtifactError, match="'booster.txt' listed in the manifest is missing"):
        read_artifact(path)


def test_newer_format_version_is_refused_with_upgrade_hint(tmp_path):
    path = _write(tmp_path)
    m = json.loads((path / MANIFEST).read_text())
    m["format_version"] = FORMAT_VERSION + 1
    m["crmml_version"] = "9.0.0"
    (path / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(IncompatibleArtifactError,
                       match=r"format version 2 \(written by crmml 9.0.0\); this crmml .* reads format version 1"):
        read_manifest(path)


def test_wrong_kind_is_refused(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(IncompatibleArtifactError, match="holds a 'clv' model, not a 'churn' model"):
        read_artifact(path, kind="churn")


def test_not_an_artifact(tmp_path):
    with pytest.raises(IncompatibleArtifactError, match="crmml-model.json is missing"):
        read_manifest(tmp_path)


def test_refuses_to_overwrite_foreign_directory(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a crmml model artifact"):
        write_artifact(tmp_path / "x", kind="clv", entity="customer_id", files={"model.json": {}})
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_to_jsonable_converts_numpy_and_nan():
    assert to_jsonable({"a": np.float64(1.5), "b": np.array([1, 2]), "c": float("nan"), 3: np.int64(4)}) == {
        "a": 1.5, "b": [1, 2], "c": None, "3": 4}
    with pytest.raises(TypeError, match="Cannot store a object in a crmml artifact"):
        to_jsonable(object())
