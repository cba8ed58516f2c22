"""Every docstring example in crmml runs (a wrong example is a bug)."""

import doctest
import importlib
import pkgutil

import pytest

import crmml

MODULES = sorted(m.name for m in pkgutil.walk_packages(crmml.__path__, "crmml."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name} (run python -m doctest -v)"
