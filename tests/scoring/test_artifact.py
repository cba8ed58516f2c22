"""The artifact format: data files + manifest, verified before anything is parsed.

Artifacts are untrusted input: names, sizes and every manifest field are
checked before a file is read, and anything wrong is an ArtifactError.
"""

import hashlib
import json
import os
import re

import pytest
from artifact_mutation import json_values, mutate_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmml._artifact as artifact
from crmml._artifact import (
    FORMAT_VERSION,
    MANIFEST,
    MAX_JSON_BYTES,
    check_file_name,
    read_artifact,
    read_manifest,
    write_artifact,
)
from crmml.exceptions import (
    ArtifactError,
    IncompatibleArtifactError,
    TamperedArtifactError,
)

MODEL_JSON = {"a": 1.5, "b": [1, 2]}


def _write(tmp_path, name="m"):
    return write_artifact(tmp_path / name, kind="clv", entity="customer_id",
                          files={"model.json": MODEL_JSON, "booster.txt": "tree\n"},
                          metadata={"business": "noncontractual"})


def _manifest(path):
    return json.loads((path / MANIFEST).read_text())


def _put_manifest(path, m):
    (path / MANIFEST).write_text(json.dumps(m))


def test_round_trip_reads_back_every_file(tmp_path):
    path = _write(tmp_path)
    manifest, files = read_artifact(path, kind="clv")
    assert manifest.kind == "clv" and manifest.entity == "customer_id"
    assert manifest.format_version == FORMAT_VERSION == 2
    assert json.loads(files["model.json"]) == MODEL_JSON
    assert files["booster.txt"] == b"tree\n"
    assert manifest.metadata == {"business": "noncontractual"}
    assert manifest.sizes == {"model.json": len(files["model.json"]), "booster.txt": 5}


def test_format_2_manifest_records_sha256_and_size(tmp_path):
    m = _manifest(_write(tmp_path))
    assert m["format_version"] == 2
    assert m["files"]["booster.txt"] == {"sha256": hashlib.sha256(b"tree\n").hexdigest(), "size": 5}


def test_tampered_file_is_refused(tmp_path):
    path = _write(tmp_path)
    (path / "model.json").write_text(json.dumps({"a": 2.5, "b": [1, 2]}, indent=2, sort_keys=True))  # same size
    with pytest.raises(TamperedArtifactError, match="modified after it was written: the checksum of 'model.json'"):
        read_artifact(path)


def test_size_mismatch_is_refused_before_reading(tmp_path, monkeypatch):
    path = _write(tmp_path)
    (path / "booster.txt").write_text("tree\nmore trees\n")
    monkeypatch.setattr(artifact, "_read_regular", _must_not_read_listed_files(artifact._read_regular))
    with pytest.raises(TamperedArtifactError,
                       match=r"checksum of 'booster.txt' does not match the manifest \(the file is 16 bytes, "
                             r"the manifest says 5; checked before reading\)"):
        read_artifact(path)


def _must_not_read_listed_files(real):
    def spy(path, size, root, label):
        assert label == MANIFEST, f"{label} was read"
        return real(path, size, root, label)
    return spy


def test_missing_listed_file_is_refused(tmp_path):
    path = _write(tmp_path)
    (path / "booster.txt").unlink()
    with pytest.raises(TamperedArtifactError, match="'booster.txt' listed in the manifest is missing"):
        read_artifact(path)


def test_newer_format_version_is_refused_with_upgrade_hint(tmp_path):
    path = _write(tmp_path)
    m = _manifest(path)
    m["format_version"] = FORMAT_VERSION + 1
    m["crmml_version"] = "9.0.0"
    m["files"] = "a layout this crmml does not know"
    _put_manifest(path, m)
    with pytest.raises(IncompatibleArtifactError,
                       match=r"format version 3 \(written by crmml 9.0.0\); this crmml .* reads format versions 1 and 2"):
        read_manifest(path)


def test_wrong_kind_is_refused(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(IncompatibleArtifactError, match="holds a 'clv' model, not a 'churn' model"):
        read_artifact(path, kind="churn")


def test_not_an_artifact(tmp_path):
    with pytest.raises(IncompatibleArtifactError, match="crmml-model.json is missing"):
        read_manifest(tmp_path)


# ---------------------------------------------------------------- format 1
# A manifest exactly as crmml wrote it before format 2 (files: {name: sha256}); such artifacts sit in users' MLflow stores.
V1_MODEL_JSON = '{\n  "a": 1.5,\n  "b": [\n    1,\n    2\n  ]\n}'
V1_MANIFEST = """{
  "created_at": "2025-11-02T10:00:00+00:00",
  "crmml_version": "0.1.0",
  "entity": "customer_id",
  "files": {
    "booster.txt": "f27e01fe7624cca3e69811a0bf9a4efd9dca9fd39f7a3a8f939cae0cfe8cdfb8",
    "model.json": "991aa31a6a6fc3df06c5821888110e306d584235040c25ac8ba828d7927a0f14"
  },
  "format": "crmml-model",
  "format_version": 1,
  "kind": "clv",
  "metadata": {
    "as_of": "2025-10-01T00:00:00",
    "business": "noncontractual"
  }
}"""


def _v1(tmp_path):
    path = tmp_path / "v1"
    path.mkdir()
    (path / MANIFEST).write_text(V1_MANIFEST)
    (path / "model.json").write_text(V1_MODEL_JSON)
    (path / "booster.txt").write_text("tree\n")
    return path


def test_format_1_artifacts_still_load(tmp_path):
    manifest, files = read_artifact(_v1(tmp_path), kind="clv")
    assert manifest.format_version == 1 and manifest.crmml_version == "0.1.0"
    assert json.loads(files["model.json"]) == MODEL_JSON and files["booster.txt"] == b"tree\n"
    assert manifest.sizes == {"booster.txt": 5, "model.json": len(V1_MODEL_JSON)}


def test_format_1_oversized_file_is_refused_from_lstat_without_reading(tmp_path, monkeypatch):
    path = _v1(tmp_path)
    with open(path / "booster.txt", "r+b") as f:
        f.truncate(3 * 2**30)  # a sparse 3 GiB file: costs no disk, would cost 3 GiB of memory to read
    monkeypatch.setattr(artifact, "_read_regular", _must_not_read_listed_files(artifact._read_regular))
    with pytest.raises(IncompatibleArtifactError, match=r"'booster.txt' in the model artifact .* is 3 GiB; this crmml "
                                                        r"reads files of at most 2 GiB"):
        read_artifact(path)


def test_format_1_oversized_json_is_refused(tmp_path, monkeypatch):
    path = _v1(tmp_path)
    with open(path / "model.json", "r+b") as f:
        f.truncate(MAX_JSON_BYTES + 1)
    monkeypatch.setattr(artifact, "_read_regular", _must_not_read_listed_files(artifact._read_regular))
    with pytest.raises(IncompatibleArtifactError, match=r"reads JSON files of at most 16 MiB"):
        read_artifact(path)


# ---------------------------------------------------------------- sizes (format 2)
def test_declared_size_over_the_limit_is_refused_before_any_file_is_touched(tmp_path, monkeypatch):
    path = _write(tmp_path)
    m = _manifest(path)
    m["files"]["booster.txt"]["size"] = 3 * 2**30
    _put_manifest(path, m)
    monkeypatch.setattr(artifact, "_lstat_regular", lambda *a: pytest.fail("a listed file was looked at"))
    with pytest.raises(IncompatibleArtifactError, match=r"files\['booster.txt'\].size: 'booster.txt' is 3 GiB; "
                                                        r"this crmml reads files of at most 2 GiB"):
        read_artifact(path)


def test_manifest_size_is_capped(tmp_path):
    path = _write(tmp_path)
    m = _manifest(path)
    m["metadata"]["padding"] = "x" * (2 * 2**20)
    _put_manifest(path, m)
    with pytest.raises(IncompatibleArtifactError, match=r"crmml-model.json' is 2 MiB; a crmml manifest is at most 1 MiB"):
        read_manifest(path)


# ---------------------------------------------------------------- names and links
OUTSIDE_NAMES = ["../../secret.txt", "../secret.txt", "/etc/hostname", "sub/model.json", "..\\secret.txt",
                 "..", ".", "", ".hidden", "C:secret.txt", "model.json\x00", "NUL", "con.txt", "trailing.",
                 MANIFEST, "CRMML-MODEL.JSON", "x" * 129]


@pytest.mark.parametrize("name", OUTSIDE_NAMES)
def test_manifest_names_outside_plain_file_names_are_refused(tmp_path, name):
    assert check_file_name(name) is not None
    path = _write(tmp_path)
    m = _manifest(path)
    m["files"][name] = {"sha256": "0" * 64, "size": 1}
    _put_manifest(path, m)
    with pytest.raises(IncompatibleArtifactError, match=r"files: the file name .* is not allowed"):
        read_artifact(path)


def test_an_outside_file_with_the_right_checksum_is_not_loaded_and_its_existence_not_revealed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    digest = hashlib.sha256(b"password").hexdigest()
    messages = []
    for target in ("../secret.txt", "../no-such-file.txt", str(secret)):
        path = _write(tmp_path, name=f"m{len(messages)}")
        m = _manifest(path)
        m["files"] = {target: {"sha256": digest, "size": 8}}
        _put_manifest(path, m)
        with pytest.raises(IncompatibleArtifactError) as info:
            read_artifact(path)
        messages.append(re.sub(r"the file name .* is not allowed", "<name>", str(info.value).replace(str(path), "<path>")))
    assert messages[0] == messages[1] == messages[2]


def test_format_1_outside_name_is_refused_too(tmp_path):
    path = _v1(tmp_path)
    m = json.loads((path / MANIFEST).read_text())
    m["files"]["/etc/hostname"] = "0" * 64
    _put_manifest(path, m)
    with pytest.raises(IncompatibleArtifactError, match=r"the file name '/etc/hostname' is not allowed"):
        read_artifact(path)


def test_names_differing_only_in_case_are_refused(tmp_path):
    path = _write(tmp_path)
    m = _manifest(path)
    m["files"]["Model.json"] = m["files"]["model.json"]
    _put_manifest(path, m)
    with pytest.raises(IncompatibleArtifactError, match="differ only in case"):
        read_manifest(path)


def test_listed_file_that_is_a_symlink_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("tree\n")  # same content and size as the booster: only the link gives it away
    path = _write(tmp_path)
    (path / "booster.txt").unlink()
    (path / "booster.txt").symlink_to(secret)
    with pytest.raises(IncompatibleArtifactError, match=r"'booster.txt' in the model artifact .* is a symbolic link"):
        read_artifact(path)


def test_manifest_that_is_a_symlink_is_refused(tmp_path):
    path = _write(tmp_path)
    real = tmp_path / "elsewhere.json"
    (path / MANIFEST).rename(real)
    (path / MANIFEST).symlink_to(real)
    with pytest.raises(IncompatibleArtifactError, match=r"crmml-model.json' is a symbolic link"):
        read_manifest(path)


def test_listed_name_that_is_a_folder_is_refused(tmp_path):
    path = _write(tmp_path)
    (path / "booster.txt").unlink()
    (path / "booster.txt").mkdir()
    with pytest.raises(IncompatibleArtifactError, match=r"'booster.txt' .* is not a regular file"):
        read_artifact(path)


def test_unlisted_files_are_ignored_never_opened(tmp_path):
    path = _write(tmp_path)
    (path / "notes.txt").write_text("not part of the model")
    os.mkfifo(path / "pipe")  # opening a FIFO would block: it is never opened
    manifest, files = read_artifact(path)
    assert set(files) == {"model.json", "booster.txt"}


# ---------------------------------------------------------------- malformed manifests
def _set(key, value):
    def mutate(m):
        m[key] = value
    return mutate


def _drop(key):
    def mutate(m):
        del m[key]
    return mutate


def _file_entry(value):
    def mutate(m):
        m["files"]["model.json"] = value
    return mutate


MALFORMED = [
    (_set("format_version", 1.0), r"format_version: expected an integer in \[1, 2\]; got 1.0"),
    (_set("format_version", True), r"format_version: expected an integer in \[1, 2\]; got true"),
    (_set("format_version", "1"), r"format_version: expected an integer in \[1, 2\]; got '1'"),
    (_set("format_version", 0), r"format_version: expected an integer in \[1, 2\]; got 0"),
    (_set("format_version", None), r"format_version: expected an integer in \[1, 2\]; got null"),
    (_drop("format_version"), r"format_version: missing"),
    (_set("format", "other"), r"is not a crmml model manifest \(format='other', expected 'crmml-model'\)"),
    (_set("kind", ["clv"]), r"kind: expected a string of at most 200 characters; got an array of 1 item"),
    (_set("kind", None), r"kind: expected a string .*; got null"),
    (_set("entity", 7), r"entity: expected a string .*; got 7"),
    (_set("files", ["model.json"]), r"files: expected an object; got an array"),
    (_set("files", None), r"files: expected an object; got null"),
    (_set("metadata", "x"), r"metadata: expected an object; got 'x'"),
    (_drop("kind"), r"crmml-model.json: missing key 'kind'"),
    (_drop("created_at"), r"crmml-model.json: missing key 'created_at'"),
    (_set("unexpected", 1), r"crmml-model.json: unknown key 'unexpected'"),
    (_file_entry("ab" * 32), r"files\['model.json'\]: expected an object; got 'abab"),
    (_file_entry({"sha256": "AB" * 32, "size": 1}), r"files\['model.json'\].sha256: expected a sha256 as 64 lowercase hex"),
    (_file_entry({"sha256": 5, "size": 1}), r"files\['model.json'\].sha256: expected a string"),
    (_file_entry({"sha256": "0" * 64, "size": -1}), r"files\['model.json'\].size: expected an integer >= 0; got -1"),
    (_file_entry({"sha256": "0" * 64, "size": 1.5}), r"files\['model.json'\].size: expected an integer >= 0; got 1.5"),
    (_file_entry({"sha256": "0" * 64, "size": 10**30}), r"files\['model.json'\].size: 'model.json' is .*; this crmml reads JSON files of at most 16 MiB"),
    (_file_entry({"sha256": "0" * 64}), r"files\['model.json'\]: missing key 'size'"),
    (_file_entry({"sha256": "0" * 64, "size": 1, "mode": 420}), r"files\['model.json'\]: unknown key 'mode'"),
]


@pytest.mark.parametrize(("mutate", "match"), MALFORMED)
def test_malformed_manifest_is_incompatible_and_names_the_field(tmp_path, mutate, match):
    path = _write(tmp_path)
    m = _manifest(path)
    mutate(m)
    _put_manifest(path, m)
    with pytest.raises(IncompatibleArtifactError, match=match):
        read_artifact(path)


@pytest.mark.parametrize(("text", "match"), [
    ("{", r"crmml-model.json: not valid JSON"),
    ("[]", r"crmml-model.json: expected a JSON object at the top level"),
    ('{"format": "crmml-model", "format_version": NaN}', r"crmml-model.json: format_version: NaN is not a JSON number"),
    ('{"format": "crmml-model", "format_version": Infinity}', r"format_version: Infinity is not a JSON number"),
    ('{"format": "crmml-model", "format_version": 1e400}', r"format_version: the number is inf"),
    ('{"format": "crmml-model", "x": ' + "[" * 5000 + "]" * 5000 + "}", r"crmml-model.json: nested more than 64"),
    ('{"format": "crmml-model", "format_version": 2, "format_version": 1}', r"the key 'format_version' appears more"),
])
def test_malformed_manifest_text_is_incompatible(tmp_path, text, match):
    path = _write(tmp_path)
    (path / MANIFEST).write_text(text)
    with pytest.raises(IncompatibleArtifactError, match=match):
        read_artifact(path)


def test_manifest_that_is_not_utf8_is_incompatible(tmp_path):
    path = _write(tmp_path)
    (path / MANIFEST).write_bytes(b'{"format": "\xff"}')
    with pytest.raises(IncompatibleArtifactError, match=r"crmml-model.json: not UTF-8 text"):
        read_artifact(path)


# ---------------------------------------------------------------- random mutations
JSON_VALUES = json_values(extra=["../x", "/etc/hostname", "model.json", "0" * 64, "crmml-model", "clv",
                                 0, 1, 2, 3, -1, 2**31, 10**300], text_size=12, max_leaves=8)


@pytest.fixture(scope="module")
def valid_artifact(tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("mut"))
    return path, _manifest(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_randomly_mutated_manifest_loads_or_raises_an_artifact_error(valid_artifact, data):
    path, valid = valid_artifact
    mutated = mutate_json(data.draw, valid, JSON_VALUES)
    (path / MANIFEST).write_text(json.dumps(mutated))  # NaN/Infinity are written as literals here
    try:
        manifest, files = read_artifact(path)
    except ArtifactError:
        return
    assert set(files) <= {"model.json", "booster.txt"}
    assert isinstance(manifest.kind, str) and isinstance(manifest.metadata, dict)


# ---------------------------------------------------------------- writing
def test_refuses_to_overwrite_foreign_directory(tmp_path):
    from crmml.exceptions import OutputError

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty and is not a crmml model artifact"):
        write_artifact(tmp_path / "x", kind="clv", entity="customer_id", files={"model.json": {}})
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_write_refuses_non_finite_values_naming_the_field_and_writes_nothing(tmp_path):
    with pytest.raises(ArtifactError, match=r"Cannot store model.json: margin = -inf in a crmml artifact"):
        write_artifact(tmp_path / "m", kind="clv", entity="customer_id", files={"model.json": {"margin": float("-inf")}})
    with pytest.raises(ArtifactError, match=r"Cannot store crmml-model.json: metadata.score = nan"):
        write_artifact(tmp_path / "m", kind="clv", entity="customer_id", files={"model.json": {}},
                       metadata={"score": float("nan")})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../x.json", "/tmp/x", "a/b", ".hidden", MANIFEST, ""])
def test_write_refuses_bad_file_names(tmp_path, name):
    with pytest.raises(ArtifactError, match=r"Invalid artifact file name"):
        write_artifact(tmp_path / "m", kind="clv", entity="customer_id", files={name: {}})
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_json_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(artifact, "MAX_JSON_BYTES", 100)
    with pytest.raises(ArtifactError, match=r"Cannot write 'model.json': it is .*; crmml artifacts hold JSON files of at most 100 bytes"):
        write_artifact(tmp_path / "m", kind="clv", entity="customer_id", files={"model.json": {"x": "y" * 200}})
