"""The designs package: public API, docstring examples, and its import boundary."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import relapse_model.designs as designs

MODULES = ["binomial", "simon", "monitoring", "calibration", "multiarm", "borrowing"]


def test_public_api_resolves():
    from relapse_model.designs import SimonDesign, simon_two_stage  # noqa: F401
    for name in designs.__all__:
        assert getattr(designs, name) is not None


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"relapse_model.designs.{name}"))
    assert result.failed == 0


def test_imports_only_numpy_scipy_and_errors():
    allowed_internal = {"relapse_model.errors"}
    for path in Path(designs.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for mod in mods:
                if mod.startswith("relapse_model") and not mod.startswith("relapse_model.designs"):
                    assert mod in allowed_internal, (path.name, mod)
                top = mod.split(".")[0]
                assert top in {"relapse_model", "numpy", "scipy", "pandas", "__future__",
                               "dataclasses", "collections", "math", "typing"}, (path.name, mod)
