"""placedock.bytecode: what the image build compiles is what placedock's entry points import, and
the requests it sends placement all succeed (a failing one would leave its modules uncompiled)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from placedock import bytecode
from tests.support.server import REPO, base_environment

PACKAGE = REPO / "placedock"


def test_every_command_module_is_an_entry_module() -> None:
    commands = {f"placedock.{path.stem}" for path in PACKAGE.glob("*.py")
                if '__name__ == "__main__"' in path.read_text() and path.stem != "bytecode"}
    assert commands - set(bytecode.ENTRY_MODULES) == set()


def test_the_requests_sent_at_build_all_succeed(tmp_path: Path) -> None:
    """In a process of its own: write() changes the environment and imports placement."""
    script = ("import json, sys; from pathlib import Path; from placedock import bytecode; "
              "print(json.dumps(bytecode.write(Path(sys.argv[1]))))")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO,
                            env={**base_environment(), "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    answered = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"bytecode: {len(answered)} requests: {[status for _, _, status in answered]}")
    assert len(answered) == len(bytecode.requests())
    assert [f"{method} {path}: {status}" for method, path, status in answered
            if status >= 400] == []
