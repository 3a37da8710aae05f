"""The shape of the package: data flows one way, no import cycles, no pyplot, ``__all__``.

The layers below are the house's plan (docs: API reference): a module may import only modules of
its own or a lower layer.  ``analysis`` composes the stages; ``dynamics`` sits beside ``bath``
and uses ``spectrum``/``bath``, never the pipeline; ``figures`` and ``report`` read tables; the
command line is a thin door on top.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import mbl_avalanche

SRC = Path(mbl_avalanche.__file__).resolve().parent

#: Layer of each module (prefix match, longest first); lower layers never import higher ones.
LAYERS: dict[str, int] = {
    "mbl_avalanche.errors": 0,
    "mbl_avalanche._repr": 0,
    "mbl_avalanche._version": 0,
    "mbl_avalanche.record": 0,
    "mbl_avalanche.basis": 0,
    "mbl_avalanche.backend": 1,
    "mbl_avalanche.resources": 1,
    "mbl_avalanche.models": 2,
    "mbl_avalanche.spectrum": 3,
    "mbl_avalanche.bath": 4,
    "mbl_avalanche.resonance": 5,
    "mbl_avalanche.dynamics": 5,
    "mbl_avalanche.analysis": 6,
    "mbl_avalanche.ensemble": 7,
    "mbl_avalanche.table": 8,
    "mbl_avalanche.stats": 9,
    "mbl_avalanche.report": 10,
    "mbl_avalanche.landmark": 10,
    "mbl_avalanche.figures": 10,
    "mbl_avalanche.reproduce": 11,
    "mbl_avalanche.cli": 12,
    "mbl_avalanche.__main__": 12,
    "mbl_avalanche": 12,  # the package's __init__ re-exports the public API
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for p in sorted(SRC.rglob("*.py")):
        rel = p.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), p))
    return out


def _layer(name: str) -> int:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"module {name} has no layer in tests/test_house.py")


def _imports(name: str, path: Path) -> set[str]:
    """Package modules imported by ``name`` (at any depth of its source, lazy imports included)."""
    tree = ast.parse(path.read_text())
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("mbl_avalanche")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("mbl_avalanche"):
                continue
            for a in node.names:  # "from . import bath" imports the module bath
                sub = f"{mod}.{a.name}"
                out.add(
                    sub
                    if (SRC.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                    or (SRC.parent / sub.replace(".", "/")).is_dir()
                    else mod
                )
    return out


MODULES = _modules()


def test_every_module_has_a_layer():
    for name, _ in MODULES:
        _layer(name)


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_imports_only_go_down(name, path):
    mine = _layer(name)
    for dep in _imports(name, path):
        if dep != "mbl_avalanche" and (
            dep == name or dep.startswith(name + ".") or name.startswith(dep + ".")
        ):
            continue  # a subpackage and its own modules (the top-level package is no exception)
        assert _layer(dep) <= mine, f"{name} (layer {mine}) imports {dep} (layer {_layer(dep)})"


def test_no_import_cycles():
    graph = {name: _imports(name, path) for name, path in MODULES}
    seen: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        if seen.get(n) == 1:
            raise AssertionError("import cycle: " + " -> ".join([*stack, n]))
        if seen.get(n) == 2:
            return
        seen[n] = 1
        for d in graph.get(n, ()):
            if d in graph and not (d == n or n.startswith(d + ".")):
                visit(d, [*stack, n])
        seen[n] = 2

    for n in graph:
        visit(n, [])


def test_dynamics_does_not_import_the_pipeline():
    deps = _imports("mbl_avalanche.dynamics", SRC / "dynamics.py")
    assert "mbl_avalanche.analysis" not in deps
    assert {"mbl_avalanche.spectrum", "mbl_avalanche.bath"} <= deps


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_pyplot_and_no_backend_switch(name, path):
    """Library code builds Figure objects; it never imports pyplot nor switches the backend."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            mods = []
        assert not any(m.startswith("matplotlib.pyplot") for m in mods), f"{name} imports pyplot"
        if any(m.startswith("matplotlib") for m in mods):
            assert name.startswith("mbl_avalanche.figures"), f"{name}: matplotlib outside figures/"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            assert not (
                f.attr == "use"
                and isinstance(f.value, ast.Name)
                and f.value.id in ("matplotlib", "mpl")
            ), f"{name} switches the backend"


def test_every_module_declares_all_and_it_is_true():
    for m in pkgutil.walk_packages(mbl_avalanche.__path__, "mbl_avalanche."):
        if m.name.endswith("__main__"):
            continue
        mod = importlib.import_module(m.name)
        assert hasattr(mod, "__all__"), f"{m.name} has no __all__"
        assert len(set(mod.__all__)) == len(mod.__all__), f"{m.name}: duplicate __all__ entries"
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"{m.name}.__all__ names {missing}, which it does not define"


def test_docstrings_cite_the_conventions_of_the_repository():
    """Docstrings cite "conventions, section N" (docs/conventions.md), not an outside file."""
    conventions = (SRC.parents[1] / "docs" / "conventions.md").read_text()
    for name, path in MODULES:
        text = path.read_text()
        assert "SPEC section" not in text and "SPEC.md" not in text, name
    for label in ("conv-1", "conv-1b", "conv-2", "conv-2b", "conv-3", "conv-4"):
        assert f"({label})=" in conventions
