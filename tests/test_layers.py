"""The package's import structure (docs/architecture.md, "Layer order").

Parses every module's imports (``ast``: module level and inside functions alike, so a lazy
import cannot hide a circle) and checks that

* imports only go down the layer order below (a module may import its own package and any
  package before it, never one after it);
* inside a package the modules import each other without circles;
* no module imports a private (``_name``) name from another hwsim module;
* every module declares ``__all__``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PKG = Path(__file__).resolve().parent.parent / "hwsim"
#: bottom to top; the top-level modules ``api`` and ``__init__``/``__main__`` sit where named
LAYERS = ("base", "workload", "hardware", "mapping", "models", "report", "sim", "api",
          "explore", "cli")


def _modules() -> dict:
    """dotted module name -> path, for every .py file of the package."""
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):   # hwsim/__init__.py, hwsim/__main__.py
        return LAYERS.index("cli") if parts[-1] == "__main__" else LAYERS.index("api")
    return LAYERS.index(parts[1])


def _imports(module: str) -> list:
    """(imported hwsim module, [names]) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "hwsim"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "hwsim":
                continue
            names = [a.name for a in node.names]
            # ``from . import x`` imports the module x
            subs = [n for n in names if f"{target}.{n}" in MODULES]
            out += [(f"{target}.{n}", []) for n in subs]
            rest = [n for n in names if n not in subs]
            if rest or not subs:
                out.append((target, rest))
    return out


def _resolve(target: str) -> str:
    while target not in MODULES and "." in target:
        target = target.rpartition(".")[0]
    return target


def test_layer_order_lists_every_package():
    pkgs = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert pkgs | {"api"} == set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down(module):
    here = _layer(module)
    for target, _ in _imports(module):
        target = _resolve(target)
        if target == "hwsim":   # the package root re-exports the API: only cli/__main__ use it
            assert _layer(module) >= LAYERS.index("api"), f"{module} imports the package root"
            continue
        assert _layer(target) <= here, (
            f"{module} ({LAYERS[here]}) imports {target} ({LAYERS[_layer(target)]}): "
            f"imports go down {' < '.join(LAYERS)}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_names_across_modules(module):
    for target, names in _imports(module):
        target = _resolve(target)
        if target == module:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{module} imports private {private} from {target}"


def test_no_circles_inside_a_package():
    g = nx.DiGraph()
    for m in MODULES:
        for target, _ in _imports(m):
            t = _resolve(target)
            same = t.split(".")[:2] == m.split(".")[:2] and t != m
            # a package's __init__ importing its own modules is how it exposes them, not a circle
            if same and MODULES[m].name != "__init__.py" and MODULES[t].name != "__init__.py":
                g.add_edge(m, t)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import circles: {cycles}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if MODULES[m].stat().st_size))
def test_every_module_declares_all(module):
    tree = ast.parse(MODULES[module].read_text())
    names = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
             for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
             if isinstance(t, ast.Name)}
    assert "__all__" in names, f"{module} has no __all__"


def test_architecture_doc_maps_every_module_and_the_layer_order():
    """docs/architecture.md names every module of every package and states this file's order."""
    doc = (PKG.parent / "docs" / "architecture.md").read_text()
    missing = [f"{p.parent.name}/{p.name}" for p in sorted(PKG.glob("*/*.py"))
               if p.name not in ("__init__.py", "__main__.py")
               and f"{p.parent.name}/{p.name}" not in doc]
    assert not missing, f"docs/architecture.md does not map {missing}"
    assert " < ".join(LAYERS) in doc
