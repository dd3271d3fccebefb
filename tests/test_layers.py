"""Imports point down the layers of docs/architecture.md: the faces (cli, web, ssh)
over the engine (worker, scheduler, git, runtime) over the domain over the store."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "homeport"
RANK = {
    "store": 0,
    "settings": 0,
    "logformat": 0,
    "heap": 0,
    "domain": 1,
    "runtime": 2,
    "git": 2,
    "scheduler": 2,
    "worker": 3,
    "clidist": 3,
    "web": 4,
    "ssh": 4,
    "server": 5,
    "doctor": 5,
    "main": 5,
}


def homeport_imports(path: Path) -> set[str]:
    """The `homeport.<part>` packages a module imports (at any place in it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "homeport" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_point_down() -> None:
    wrong: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        part = path.relative_to(SRC).parts[0].removesuffix(".py")
        if part in ("__init__", "cli"):
            continue
        for target in homeport_imports(path) - {part, "__init__"}:
            if target == "cli" or RANK.get(target, 99) > RANK.get(part, -1):
                wrong.append(f"{path.relative_to(SRC)} imports homeport.{target}")
    assert not wrong, "\n".join(wrong)


def test_the_client_imports_only_itself() -> None:
    for path in sorted((SRC / "cli").rglob("*.py")):
        assert homeport_imports(path) <= {"cli"}, path


def module_graph() -> dict[str, set[str]]:
    """Module → the homeport modules it imports (by `from x import y`, y a module or
    a name in x)."""
    root = SRC.parent
    modules = {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
        for p in SRC.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_no_import_cycles() -> None:
    graph = module_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*path[path.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "\n".join(cycles)
