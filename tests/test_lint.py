"""Static checks: ruff on the Python, shellcheck and shfmt on the shell, hadolint on the
Dockerfiles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.server import REPO
from tests.support.skips import require

BIN = Path(sys.executable).parent


def tracked(*patterns: str) -> list[str]:
    result = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             *patterns], cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout.split()


def check(command: list[str]) -> None:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    check([str(BIN / "ruff"), "check", "placedock", "tests", "benchmark"])


def test_shellcheck() -> None:
    require(shutil.which("shellcheck") is not None, "shellcheck (Debian package shellcheck)")
    scripts = tracked("*.sh", ".ci/run")
    assert "startup.sh" in scripts
    check(["shellcheck", "-S", "warning", *scripts])


def test_shell_scripts_share_one_style() -> None:
    """shfmt's own style with .editorconfig's settings (tabs, indented cases): what it would
    change, it prints as a diff."""
    scripts = tracked("*.sh", ".ci/run")
    assert "kubernetes/lib.sh" in scripts
    check([str(BIN / "shfmt"), "-d", *scripts])


def test_every_module_has_its_unit_tests() -> None:
    """The README says tests/placedock/ unit-tests each module: a new module brings its file."""
    modules = {path.stem for path in (REPO / "placedock").glob("*.py")} - {"__init__"}
    tested = {path.stem.removeprefix("test_")
              for path in (REPO / "tests" / "placedock").glob("test_*.py")}
    assert modules and sorted(modules - tested) == []


def test_hadolint() -> None:
    check([str(BIN / "hadolint"), "Dockerfile", *tracked("compose/*/Dockerfile"),
           *tracked("tests/support/*/Dockerfile")])
