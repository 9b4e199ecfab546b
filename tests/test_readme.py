"""The README and the guides in docs/ are the user's manual: every command they show is run by
some test, verbatim."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support import http
from tests.support.network import free_port
from tests.support.processes import Process
from tests.support.server import REPO, base_environment

README = (REPO / "README.md").read_text()
DOCS = [README, *(path.read_text() for path in sorted((REPO / "docs").glob("*.md")))]
FENCE = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_commands() -> list[str]:
    return [line for text in DOCS for block in FENCE.findall(text) for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


def test_every_readme_command_appears_in_a_test() -> None:
    sources = "\n".join(p.read_text() for p in (REPO / "tests").rglob("*.py"))
    sources += "\n".join(p.read_text() for p in (REPO / "tests").rglob("*.sh"))
    sources += (REPO / ".ci" / "run").read_text()
    untested = [command for command in readme_commands() if command not in sources]
    assert readme_commands(), "no commands found: the README's fences changed?"
    assert untested == [], f"README commands no test runs: {untested}"


def serve_in_background(command: str, port: int, cwd: Path, timeout: float = 300,
                        env: dict[str, str] | None = None, path: str = "/resource_providers",
                        ) -> None:
    """Run a README command that serves in the foreground; check it answers; stop it."""
    with tempfile.TemporaryDirectory(prefix="placedock-readme-") as logs:
        # bash execs the server: the PID stop() signals (SIGTERM) is the server's
        process = Process(Path(logs) / "command.log", kind=command).spawn(
            ["bash", "-c", command], {**base_environment(), **(env or {})}, cwd=cwd)
        try:
            http.wait_for(f"http://127.0.0.1:{port}{path}", timeout=timeout, process=process,
                          interval=0.2)
        finally:
            process.stop(timeout=20)


def test_quickstart_local_serves_on_8081() -> None:
    serve_in_background("./quickstart.sh --local", 8081, REPO)


def test_quickstart_local_serves_on_the_port_asked_for() -> None:
    port = free_port()
    # run-tests.sh installed placement-requirements.txt into .venv: the quick start's pip finds
    # it all there, and must not reach for an index.
    serve_in_background("./quickstart.sh --local", port, REPO, path="/",
                        env={"QUICKSTART_PORT": str(port), "PIP_NO_INDEX": "1"})


def test_running_without_a_container() -> None:
    guide = (REPO / "docs" / "development.md").read_text()
    commands = ["python3 -m venv .venv", ".venv/bin/pip install -r placement-requirements.txt"]
    for command in commands:
        assert command in guide
    # The virtualenv steps are what run-tests.sh already did to .venv; run them for real anyway
    # (pip finds everything installed), then the server line verbatim.
    for command in commands:
        subprocess.run(["bash", "-c", command], cwd=REPO, check=True, capture_output=True,
                       timeout=600)
    line = 'PATH="$PWD/.venv/bin:$PATH" OS_API__AUTH_STRATEGY=noauth2 DB_SYNC=True PLACEDOCK_ADDRESS=127.0.0.1 PLACEDOCK_PORT=8082 PLACEDOCK_DATA_DIR="$PWD/data" ./startup.sh'  # noqa: E501 (docs/development.md's command, verbatim)
    assert line in guide
    data = REPO / "data"
    assert not data.exists(), "a data/ folder is in the way"
    try:
        serve_in_background(line, 8082, REPO)
    finally:
        shutil.rmtree(data, ignore_errors=True)
