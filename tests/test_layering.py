"""Layers depend one way: which ``codesign`` packages each package may import (module-level
and function-level imports alike, read from the source), and no cycle among them."""

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"codesign": ROOT / "codesign", "hw": ROOT / "hw", "sim": ROOT / "sim"}

# bottom to top: the pipeline's stages, the accelerator contract below both the explorer and the
# generators, the generators below their verification, the command line on top
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    # the limits and input checks every command applies (sizes, files read, paths written)
    "validation": {"errors"},
    "workload": {"errors"},
    "arch": {"errors", "workload"},
    "mapping": {"errors", "workload", "arch"},
    # spec importers (Timeloop, ZigZag): other tools' files as workload, arch and mapping
    "interop": {"errors", "workload", "arch", "mapping"},
    # the map command reads Timeloop runs (codesign.cost.command)
    "cost": {"errors", "workload", "arch", "mapping", "interop"},
    "quant": {"errors", "workload", "arch"},
    "report": {"errors"},
    "accel": {"errors", "workload", "arch", "mapping", "cost", "quant"},
    "explore": {"errors", "workload", "arch", "mapping", "cost", "quant", "report", "accel"},
    "hw": {"errors", "arch", "cost", "accel"},
    "sim": {"errors", "workload", "cost", "quant", "accel", "hw"},
    "synth": {"errors"},
    "synth_command": {"errors", "synth"},
    # the demo's report.html is the study report of codesign.report with the run's tables
    "demo": {"errors", "accel", "quant", "cli", "report"},
    "cli": {"errors"},
    "__init__": {"errors"},
}

# every layer above validation may use it
for _name, _below in ALLOWED.items():
    if _name not in ("errors", "validation"):
        _below.add("validation")


def _package_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for top, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder)
            pkg = top if top != "codesign" else rel.with_suffix("").parts[0]
            targets = edges.setdefault(pkg, set())
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    if parts[0] == "codesign" and len(parts) > 1 and parts[1] != pkg:
                        targets.add(parts[1])
    return edges


EDGES = _package_imports()


@pytest.mark.parametrize("package", sorted(EDGES))
def test_package_imports_only_the_layers_below(package):
    assert package in ALLOWED, f"new package {package!r}: add it to ALLOWED with its layer"
    extra = EDGES[package] - ALLOWED[package]
    assert not extra, f"codesign.{package} imports {sorted(extra)}, above its layer"


def test_the_package_graph_has_no_cycle():
    graph = nx.DiGraph([(a, b) for a, targets in EDGES.items() for b in targets])
    assert nx.is_directed_acyclic_graph(graph), nx.find_cycle(graph)
    allowed = nx.DiGraph([(a, b) for a, targets in ALLOWED.items() for b in targets])
    assert nx.is_directed_acyclic_graph(allowed)


def test_hw_and_sim_never_import_the_explorer():
    assert "explore" not in EDGES["hw"] and "explore" not in EDGES["sim"]
    assert "sim" not in set().union(*(t for p, t in EDGES.items() if p != "cli"))
