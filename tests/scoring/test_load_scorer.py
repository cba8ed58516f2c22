"""load_scorer: local paths, MLflow model folders, unknown kinds — without MLflow import."""

import json
import subprocess
import sys

import pytest

from crmml._artifact import MANIFEST, write_artifact
from crmml.exceptions import IncompatibleArtifactError
from crmml.scoring import find_artifact_dir, load_scorer


def test_unknown_kind_names_known_kinds(tmp_path):
    write_artifact(tmp_path / "m", kind="teleport", entity="x", files={"model.json": {}})
    with pytest.raises(IncompatibleArtifactError, match="Unknown model kind 'teleport'.*this crmml knows clv"):
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
