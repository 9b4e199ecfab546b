"""ARCHITECTURE.md stays true: every file and module it names exists, every module is named, and
the import rules it states hold (read from the code's own imports, function-level ones included,
with the standard library's ast only)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.server import REPO

ARCHITECTURE = (REPO / "ARCHITECTURE.md").read_text()
PACKAGES = ("placedock", "benchmark", "tests")
MAPPED = ("placedock", "benchmark", "tests/support")  # every module of these, packages included
BENCHMARK_SUPPORT = "benchmark.support"
# A path ARCHITECTURE.md names in backquotes: under a folder of the repository, or a file by its
# ending; `/placement` (a route) and `exec "$@"` are not paths.
PATH = re.compile(r"`((?:\.ci|benchmark|compose|devstack|docs|kubernetes|placedock|shared|tests)"
                  r"(?:/[\w.-]+)*/?|[\w.-]+\.(?:py|sh|ini|txt|md|png|yaml)|Dockerfile)`")
MODULE = re.compile(r"`(?:python3? -m )?((?:placedock|benchmark|tests)(?:\.\w+)+)(?::\w+)?`")
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
    """Every Python module of the packages (tests/nova's and tests/osc's scripts run in other
    venvs: not modules)."""
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if path.relative_to(REPO).parts[1:2] in (("nova",), ("osc",)) and package == "tests":
                continue
            found[module_name(path)] = path
    return found


def absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module a ``from ... import`` names, a relative one made absolute."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, wherever in it (in a function too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            module = absolute(node, path)
            if module in known:
                found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names
                         if f"{module}.{alias.name}" in known)
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


def named_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def unnamed(named: set[str]) -> list[str]:
    """The modules of MAPPED that ``named`` leaves out; a package's ``__init__.py`` is named by
    its file or by its folder (`benchmark/scale/`)."""
    missing = []
    for package in MAPPED:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO)
            if str(relative) in named:
                continue
            if path.name == "__init__.py" and f"{relative.parent}/" in named:
                continue
            missing.append(str(relative))
    return missing


def module_file(dotted: str) -> Path | None:
    base = REPO.joinpath(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def defines(path: Path, name: str) -> bool:
    """Whether the module at ``path`` defines ``name`` at its top level."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                return True
    return False


def is_module(name: str) -> bool:
    """A module or package of the repository, or a name defined in one (``module.attribute``)."""
    if module_file(name):
        return True
    parent, _, attribute = name.rpartition(".")
    path = module_file(parent) if parent else None
    return path is not None and defines(path, attribute)


def test_every_module_is_named() -> None:
    assert unnamed(named_paths(ARCHITECTURE)) == [], "modules ARCHITECTURE.md does not name"


def test_every_file_and_module_named_exists() -> None:
    assert sorted(path for path in named_paths(ARCHITECTURE) if not (REPO / path).exists()) \
        == [], "ARCHITECTURE.md names files that do not exist"
    assert sorted(name for name in MODULE.findall(ARCHITECTURE) if not is_module(name)) == [], \
        "ARCHITECTURE.md names modules that do not exist"


def test_the_map_checks_catch_a_missing_file_and_an_unnamed_module() -> None:
    text = "`placedock/gone.py`, `benchmark/` and `python -m benchmark.gone.run`"
    assert "placedock/gone.py" in named_paths(text)
    assert not (REPO / "placedock/gone.py").exists()
    assert not is_module("benchmark.gone.run")
    assert "placedock/wsgi.py" in unnamed(named_paths(text))
    assert not is_module("benchmark.front_cost")  # a module gone, not a name of benchmark's
    assert is_module("benchmark.throughput.run") and is_module("placedock.metrics.serve")


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


def package_of(name: str) -> str:
    """The benchmark package a module belongs to (benchmark.scale.load: benchmark.scale)."""
    return ".".join(name.split(".")[:2])


def test_benchmark_packages_import_support_and_not_each_other() -> None:
    edges = graph()
    offenders = {name: sorted(target for target in targets
                              if target.startswith("benchmark.") and package_of(target)
                              not in (package_of(name), BENCHMARK_SUPPORT))
                 for name, targets in edges.items() if name.startswith("benchmark.")}
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_benchmark_tests_mirror_the_benchmark_packages() -> None:
    tested = {path.name for path in (REPO / "tests" / "benchmark").iterdir() if path.is_dir()
              and path.name != "__pycache__"}
    assert sorted(name for name in tested if not (REPO / "benchmark" / name).is_dir()) == []


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
