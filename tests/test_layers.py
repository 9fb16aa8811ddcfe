"""The package's imports run one way: each layer imports only itself and the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "relapse_model"

#: Bottom to top. ``errors`` and ``common`` sit under everything; ``designs`` (pure binomial and
#: normal design mathematics) sits under the simulation engine that uses it.
LAYERS = ("errors", "common", "cohort", "scores", "priors", "models", "reference", "checks", "designs",
          "simulate", "report", "cli")
#: Modules outside the layering: the lazy public facade and the test helpers.
EXEMPT = {"__init__", "testing", "__main__"}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "relapse_model" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``relapse_model`` module imported by a file, with the line, including imports inside
    functions (deferred imports count as much as top-level ones)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names
                      if node.module == "relapse_model"]
    return [(line, m) for line, m in found if m.startswith("relapse_model")]


def upward_imports(package: Path = PACKAGE) -> list[str]:
    """``file:line imports module`` for every import of a higher layer."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        own = rel.parts[0].removesuffix(".py")
        if own in EXEMPT or own not in LAYERS:
            continue
        for line, module in _imports(path):
            target = _layer(module)
            if target is not None and LAYERS.index(target) > LAYERS.index(own):
                bad.append(f"{rel}:{line} imports {module}")
    return bad


def test_every_package_is_a_layer():
    packages = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert packages - EXEMPT - set(LAYERS) == set(), "new package: give it a place in LAYERS"


def test_no_import_runs_back_up():
    assert upward_imports() == []


def test_the_check_catches_an_upward_import(tmp_path):
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "x.py").write_text("def f():\n    from relapse_model.report.html import Table\n")
    assert upward_imports(tmp_path) == ["cohort/x.py:2 imports relapse_model.report.html"]
