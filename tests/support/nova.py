"""nova's own placement client, from PyPI (NOVA_REQUIREMENTS), in a virtualenv of its own
(``${TESTS_CACHE_DIR:-$HOME/.cache/placedock}/nova-venv``, made on first use): its pins differ
from placement's. The scripts it runs are tests/nova/*.py; each prints one JSON object."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.cache import ensure_venv
from tests.support.processes import SYSTEM_PATH, clean_environment

NOVA_REQUIREMENTS = ("nova==34.0.0",)
SCRIPTS = Path(__file__).resolve().parents[1] / "nova"
ENVIRONMENT = clean_environment(path=SYSTEM_PATH)  # nothing of placedock's venv or OS_* in it


def ensure_nova_venv() -> Path:
    return ensure_venv("nova-venv", NOVA_REQUIREMENTS)


def command(script: str, arguments: list[str]) -> list[str]:
    """``tests/nova/SCRIPT`` on nova's interpreter, for a caller that reads it as it runs."""
    return [str(ensure_nova_venv() / "bin" / "python"), str(SCRIPTS / script), *arguments]


def run(script: str, arguments: list[str], timeout: float) -> dict[str, Any]:
    """``tests/nova/SCRIPT`` to its end; its JSON result (its last line)."""
    result = subprocess.run(command(script, arguments), env=ENVIRONMENT, capture_output=True,
                            text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


def boots_arguments(url: str, *, computes: int, schedulers: int,
                    boots_per_minute: str | float, seconds: float, lifetime: float = 5,
                    register_threads: int = 1) -> list[str]:
    """tests/nova/boots.py's arguments; ``boots_per_minute`` may be rates joined by commas."""
    return ["--url", url, "--computes", str(computes), "--schedulers", str(schedulers),
            "--boots-per-minute", str(boots_per_minute), "--seconds", str(seconds),
            "--lifetime", str(lifetime), "--register-threads", str(register_threads)]


def boots(url: str, *, computes: int, schedulers: int, boots_per_minute: float,
          seconds: float, lifetime: float = 5, timeout: float = 300) -> dict[str, Any]:
    """tests/nova/boots.py: computes updating, schedulers booting, deletes; what happened."""
    return run("boots.py", boots_arguments(url, computes=computes, schedulers=schedulers,
                                           boots_per_minute=boots_per_minute, seconds=seconds,
                                           lifetime=lifetime), timeout)


def calls(url: str, host: str, timeout: float = 120) -> dict[str, Any]:
    """tests/nova/calls.py: each of nova's calls once, and how nova took the answer."""
    return run("calls.py", ["--url", url, "--host", host], timeout)
