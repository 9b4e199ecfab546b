"""What every server the tests start has in common: stopping it by its PID, reading its log."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


def stop(process: subprocess.Popen[bytes] | None, signum: int = signal.SIGTERM,
         timeout: float = 30) -> None:
    """Signal a process we started and wait for it; SIGKILL it if it will not go."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
