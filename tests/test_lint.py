"""Static checks: ruff on the Python, shellcheck on the shell, hadolint on the Dockerfiles."""

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


def test_hadolint() -> None:
    check([str(BIN / "hadolint"), "Dockerfile", *tracked("compose/*/Dockerfile")])
