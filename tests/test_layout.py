"""The package layout: no import cycles between the modules of voiceemo_jax, data_pipelines
and export, every one of them imports in a fresh interpreter, and the top of voiceemo_jax/
keeps only the package's shared vocabulary (at most 8 modules; the rest lives in subpackages).

Cycles are found from the source (`ast`), not by importing: every `import` counts, at module
level or inside a function (a deferred import only hides a cycle until the call that closes
it), and importing `a.b.c` also runs the packages `a.b` and `a` on the way.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from subprocesses import ROOT, subprocess_env

PACKAGES = ("voiceemo_jax", "data_pipelines", "export")
# Runs inside Blender (`export.blender_backend` starts it with Blender's Python): imports bpy.
BLENDER_ONLY = {"export.blender_render"}
MAX_TOP_LEVEL_MODULES = 8


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of PACKAGES (a package is its __init__)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The known modules an Import / ImportFrom node names (`from p import m` names p.m when
    m is a module, else p)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:  # relative: from the module's own package, `level - 1` packages up
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - (node.level - 1)] + ([node.module] if node.module else []))
    else:
        base = node.module
    names = set()
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        names.add(candidate if candidate in known else base)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the modules it imports (and their parent packages), within PACKAGES."""
    modules = _modules()
    known = set(modules)
    graph = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(node, module, is_package, known):
                parts = target.split(".")
                # Importing a.b.c runs a and a.b first (except the packages this module is inside).
                for i in range(1, len(parts) + 1):
                    name = ".".join(parts[:i])
                    if name in known and name not in own_packages:
                        edges.add(name)
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return cycles


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50 and "voiceemo_jax.evaluation.evaluate" in graph  # the walk found the tree
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_cycles_through_deferred_imports_and_parent_packages():
    graph = import_graph()
    # The old circle: evaluation's report -> face-emotion metric -> evaluation (deferred imports).
    graph["voiceemo_jax.evaluation.metrics"] = graph["voiceemo_jax.evaluation.metrics"] | {
        "voiceemo_jax.face_emotion.metric"
    }
    assert ["voiceemo_jax.evaluation.metrics", "voiceemo_jax.face_emotion.metric"] in import_cycles(graph)
    source = "def f():\n    from voiceemo_jax.evaluation.metrics import accuracy\n"
    (node,) = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)]
    known = set(graph)
    assert _imported(node, "voiceemo_jax.face_emotion.metric", False, known) == {"voiceemo_jax.evaluation.metrics"}
    relative = ast.parse("from ..evaluation import metrics").body[0]
    assert _imported(relative, "voiceemo_jax.face_emotion.metric", False, known) == {"voiceemo_jax.evaluation.metrics"}
    assert "voiceemo_jax.evaluation" in import_graph()["voiceemo_jax.face_emotion.metric"]  # the parent package


def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(set(_modules()) - BLENDER_ONLY)
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint('ok')\n"
    result = subprocess.run([sys.executable, "-c", script, *names], cwd=ROOT, env=subprocess_env(),
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_the_top_of_voiceemo_jax_keeps_at_most_8_modules():
    top = sorted(path.name for path in (ROOT / "voiceemo_jax").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"{len(top)} modules at the top of voiceemo_jax/: {top}"
