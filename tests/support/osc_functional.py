"""osc-placement's own functional suite against a live placedock: the client at the versions
docs/devstack.md's venv installs, with what its suite imports (the release of placement
placedock pins, whose test fixtures it uses; oslotest; wsgi-intercept), in a virtualenv of its
own (``${TESTS_CACHE_DIR:-$HOME/.cache/placedock}/osc-functional-venv``, made on first use).
``tests/osc/functional.py`` runs in it and points the suite at the server (how, it says)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.support.cache import ensure_venv
from tests.support.processes import SYSTEM_PATH, clean_environment
from tests.support.server import REPO

CLIENT = ("python-openstackclient==10.5.0", "osc-placement==4.9.1")
SUITE = ("oslotest==6.1.1", "wsgi-intercept==1.13.1")
SCRIPT = REPO / "tests" / "osc" / "functional.py"


def placement_pin() -> str:
    """``openstack-placement==X`` as placement-requirements.txt pins it."""
    text = (REPO / "placement-requirements.txt").read_text()
    found = re.search(r"^openstack-placement==\S+", text, re.MULTILINE)
    assert found, "placement-requirements.txt pins no openstack-placement"
    return found.group(0)


def ensure_osc_functional_venv() -> Path:
    return ensure_venv("osc-functional-venv", [*CLIENT, placement_pin(), *SUITE])


def run(url: str, home: Path, timeout: float = 900) -> dict[str, Any]:
    """The whole suite against ``url`` (noauth2: token "admin"); its JSON summary (tests run,
    passed, skipped, and each failed test's id with its error's last line)."""
    venv = ensure_osc_functional_venv()
    home.mkdir(parents=True, exist_ok=True)
    # The venv's bin first: the suite's test_plugin runs `openstack --help`. HOME a folder of
    # the test's own: no clouds.yaml or OS_* of the machine's reaches the client.
    environment = clean_environment({"HOME": str(home)}, path=f"{venv / 'bin'}:{SYSTEM_PATH}")
    result = subprocess.run([str(venv / "bin" / "python"), str(SCRIPT), "--url", url],
                            env=environment, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the osc-placement suite did not run ({result.returncode}):\n"
                           f"{result.stderr[-3000:]}")
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output
