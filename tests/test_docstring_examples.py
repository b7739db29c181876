"""The Examples sections of temseg's docstrings run and print what they show."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import temseg


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(temseg.__path__, "temseg."):
        if ".cli" in info.name or info.name.endswith("__main__"):
            continue  # commands: their help is checked by the CLI tests
        spec = importlib.util.find_spec(info.name)
        if spec and spec.origin and ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_examples_are_found():
    assert "temseg.analyze.columns" in MODULES and len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
