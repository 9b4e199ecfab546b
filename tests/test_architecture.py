"""ARCHITECTURE.md stays true: every module it names exists, every module is named, and the
import rules it states hold (read from the code's own imports, function-level ones included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.server import REPO

ARCHITECTURE = (REPO / "ARCHITECTURE.md").read_text()
PACKAGES = ("placedock", "benchmark", "tests")
MAPPED = ("placedock", "benchmark", "tests/support")  # every module of these is named
ENTRY_POINTS = {"placedock.serve", "placedock.wsgi", "placedock.bytecode",
                "placedock.conf_to_env", "placedock.db_init", "placedock.ks_register",
                "placedock.db_backup", "placedock.db_restore", "placedock.db_copy",
                "placedock.db_migrate_data"}
LEAVES = {"placedock.defaults", "placedock.addresses", "placedock.options", "placedock.errors",
          "placedock.logs", "placedock.early_stop", "placedock.database"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every Python module of the packages (tests/nova's scripts run elsewhere: not modules)."""
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "nova" in path.relative_to(REPO).parts[1:2] and package == "tests":
                continue
            found[module_name(path)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, wherever in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in known)
    return found - {module_name(path)}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, set(known)) for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_named_and_every_named_module_exists() -> None:
    named = set(re.findall(r"`((?:placedock|benchmark|tests)/[\w/]+\.py)`", ARCHITECTURE))
    present = {str(path.relative_to(REPO)) for package in MAPPED
               for path in (REPO / package).glob("*.py")}
    assert sorted(present - named) == [], "modules ARCHITECTURE.md does not name"
    assert sorted(path for path in named if not (REPO / path).exists()) == [], \
        "ARCHITECTURE.md names modules that do not exist"


def test_no_import_circles_anywhere() -> None:
    assert circles(graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_placedock_imports_an_entry_point() -> None:
    edges = graph()
    offenders = {name: sorted(targets & ENTRY_POINTS) for name, targets in edges.items()
                 if name.startswith("placedock") and targets & ENTRY_POINTS}
    assert offenders == {}


def test_the_leaves_import_nothing_of_placedock_but_its_error() -> None:
    edges = graph()
    assert {name: sorted(edges[name] - {"placedock"}) for name in LEAVES
            if edges[name] - {"placedock"}} == {}


def test_placedock_imports_neither_benchmark_nor_tests_and_benchmark_only_test_support(
) -> None:
    edges = graph()

    def wrong(name: str, target: str) -> bool:
        if name.startswith("placedock"):
            return target.startswith(("benchmark", "tests"))
        if name.startswith("benchmark"):
            return target.startswith("tests") and not target.startswith("tests.support")
        return False

    offenders = {name: sorted(target for target in targets if wrong(name, target))
                 for name, targets in edges.items()}
    assert {name: targets for name, targets in offenders.items() if targets} == {}
