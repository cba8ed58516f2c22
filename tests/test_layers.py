"""The architecture as a test: no module imports from a layer above its own.

Layers, bottom to top: exceptions/_validation/_artifact → data, synthetic →
features → model packages (clv, churn, leadscore, forecast; never each other)
→ scoring, tracking, plotting, training (which finds model classes through
the kind registry, never by import) → cli. Model code never imports MLflow or
matplotlib (imports inside functions included).
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "crmml"

LAYER = {
    "crmml._version": 0, "crmml.exceptions": 0, "crmml._validation": 0, "crmml._artifact": 0,
    "crmml._payload": 0, "crmml._time": 0, "crmml._atomic": 0, "crmml._base": 0,
    "crmml.data": 1, "crmml.synthetic": 1,
    "crmml.features": 2, "crmml.drift": 2,
    "crmml.supervised": 2.5,
    "crmml.clv": 3, "crmml.churn": 3, "crmml.leadscore": 3, "crmml.forecast": 3,
    "crmml.scoring": 4, "crmml.tracking": 4, "crmml.plotting": 4, "crmml.training": 4, "crmml.retrain": 4,
    "crmml.batch": 4,
    "crmml.spark": 4,
    "crmml.cli": 5,
}
MODEL_PACKAGES = {"crmml.clv", "crmml.churn", "crmml.leadscore", "crmml.forecast"}


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        if name != "crmml":
            yield name, path


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "crmml" and node.level == 0:
            yield from (f"crmml.{a.name}" for a in node.names)  # from crmml import synthetic
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_no_upward_imports(name, path):
    unit = _unit(name)
    assert unit in LAYER, f"{name}: add its package to LAYER in tests/test_layers.py"
    for imported in _imports(path):
        if imported.split(".")[0] in ("mlflow", "matplotlib") and LAYER[unit] <= 3:
            pytest.fail(f"{name} imports {imported}: model code and below must not use MLflow or matplotlib")
        if not imported.startswith("crmml.") and imported != "crmml":
            continue
        target = _unit(imported) if imported != "crmml" else "crmml"
        if target == "crmml" or target == "crmml.__version__":
            assert LAYER[unit] == 5 or target == "crmml.__version__", (
                f"{name} imports the top-level crmml package; import the module it needs")
            continue
        assert LAYER[target] <= LAYER[unit], f"{name} (layer {LAYER[unit]}) imports {imported} (layer {LAYER[target]})"
        if unit in MODEL_PACKAGES and target in MODEL_PACKAGES:
            assert target == unit, f"model package {unit} imports another model package: {imported}"
        if unit in ("crmml.training", "crmml.retrain", "crmml.plotting"):
            assert target not in MODEL_PACKAGES, (
                f"{name} imports {imported}: find model classes through the kind registry (crmml.scoring.KINDS)")
        if unit == "crmml.data":
            assert target != "crmml.synthetic", f"{name}: the data layer must not depend on synthetic"
