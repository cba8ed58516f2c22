"""load_scorer: local paths, MLflow model folders, unknown kinds — without MLflow import.

Artifacts are untrusted: only crmml's registry picks code, and a model that cannot be rebuilt
from its files is an IncompatibleArtifactError, never a KeyError or TypeError.
"""

import hashlib
import importlib
import json
import subprocess
import sys

import pytest
from artifact_mutation import mutate_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmml._artifact import MANIFEST, write_artifact
from crmml.exceptions import ArtifactError, IncompatibleArtifactError
from crmml.scoring import find_artifact_dir, load_scorer


def test_unknown_kind_names_known_kinds(tmp_path):
    write_artifact(tmp_path / "m", kind="teleport", entity="x", files={"model.json": {}})
    with pytest.raises(IncompatibleArtifactError, match="Unknown model kind 'teleport'.*this crmml knows churn, clv"):
        load_scorer(tmp_path / "m")


def test_finds_artifact_inside_mlflow_model_folder(tmp_path):
    write_artifact(tmp_path / "model" / "data" / "crmml_model", kind="clv", entity="customer_id",
                   files={"model.json": {}})
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    assert find_artifact_dir(tmp_path / "model") == tmp_path / "model" / "data" / "crmml_model"


def test_missing_path_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model at .*models:/crmml-clv@champion"):
        load_scorer(tmp_path / "nope")


def test_import_crmml_and_local_loading_do_not_import_mlflow():
    code = ("import sys, crmml; crmml.load_scorer; import crmml.scoring;"
            "print('mlflow' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- untrusted artifacts
@pytest.mark.parametrize("kind", ["os", "crmml.clv:CLVModel", "builtins.eval", "__import__", "../clv", "CLV", ""])
def test_kind_is_looked_up_in_crmmls_registry_and_nothing_is_imported(tmp_path, monkeypatch, kind):
    write_artifact(tmp_path / "m", kind=kind, entity="x", files={"model.json": {}})
    imported = []
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: imported.append(name) or real(name, *a))
    with pytest.raises(IncompatibleArtifactError, match=r"Unknown model kind .*; this crmml knows churn, clv"):
        load_scorer(tmp_path / "m")
    assert imported == []


def test_a_known_kind_imports_only_its_registered_module(tmp_path, monkeypatch, fitted_clv):
    model, _ = fitted_clv
    model.save(tmp_path / "m")
    imported = []
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: imported.append(name) or real(name, *a))
    assert load_scorer(tmp_path / "m").kind == "clv"
    assert imported == ["crmml.clv"]


def test_mlflow_folder_search_does_not_follow_symlinks(tmp_path):
    write_artifact(tmp_path / "elsewhere" / "crmml_model", kind="clv", entity="customer_id", files={"model.json": {}})
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "data").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(IncompatibleArtifactError, match=r"is not a crmml model artifact: no crmml-model.json found"):
        find_artifact_dir(tmp_path / "model")


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d.pop("transaction_model"), r"model.json: missing key 'transaction_model'; expected the keys"),
    (lambda d: d.__setitem__("config", {**d["config"], "freq": "M"}),
     r"model.json: config.freq: expected one of \{'D', 'W'\}; got 'M'"),
    (lambda d: d.__setitem__("n_customers", [1]), r"model.json: n_customers: expected an integer >= 0; got an array"),
    (lambda d: d["transaction_model"]["params"].__setitem__("r", -1),
     r"model.json: transaction_model.params.r: expected a finite number > 0; got -1"),
    (lambda d: d.__setitem__("margin", None), r"model.json: margin: expected a finite number <= 1; got null"),
    (lambda d: d.__setitem__("champion_threshold", "inf"), r"model.json: champion_threshold: expected a finite"),
    (lambda d: d.__setitem__("as_of", "yesterday"), r"model.json: as_of: expected a naive ISO 8601 timestamp"),
    (lambda d: d["exclusions"].append({"table": "x", "rule": "y", "n_rows": -1}),
     r"model.json: exclusions\[\d+\].n_rows: expected an integer >= 0; got -1"),
    (lambda d: d.__setitem__("spend_model", None), r"model.json: spend_model: expected an object; got null"),
])
def test_a_model_that_fails_to_rebuild_is_an_incompatible_artifact(tmp_path, fitted_clv, edit, match):
    model, _ = fitted_clv
    d = json.loads(json.dumps(model.to_dict()))
    edit(d)
    write_artifact(tmp_path / "m", kind="clv", entity="customer_id", files={"model.json": d})
    with pytest.raises(IncompatibleArtifactError, match=match):
        load_scorer(tmp_path / "m")


def test_a_format_1_clv_artifact_loads(tmp_path, fitted_clv, b2c_world):
    """crmml wrote manifest format 1 before format 2 (files: {name: sha256}); those models stay loadable."""
    model, as_of = fitted_clv
    body = json.dumps(model.to_dict(), indent=2, sort_keys=True).encode()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_bytes(body)
    (tmp_path / "m" / MANIFEST).write_text(json.dumps({
        "format": "crmml-model", "format_version": 1, "crmml_version": "0.1.0", "kind": "clv",
        "entity": "customer_id", "created_at": "2025-11-02T10:00:00+00:00",
        "files": {"model.json": hashlib.sha256(body).hexdigest()}, "metadata": {"business": "noncontractual"}}))
    loaded = load_scorer(tmp_path / "m")
    sample = b2c_world.tables
    assert loaded.score(sample, as_of)["clv"].equals(model.score(sample, as_of)["clv"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_randomly_mutated_clv_model_json_loads_or_raises_an_artifact_error(tmp_path_factory, fitted_clv, data):
    model, _ = fitted_clv
    doc = mutate_json(data.draw, json.loads(json.dumps(model.to_dict())))
    raw = json.dumps(doc).encode()  # NaN/Infinity floats are written as literals
    folder = tmp_path_factory.mktemp("clv") / "m"
    write_artifact(folder, kind="clv", entity="customer_id", files={"model.json": raw})
    try:
        load_scorer(folder)
    except ArtifactError:
        pass
