"""What the tests keep between runs (tools too slow to fetch every time), and a lock so that
parallel sessions fill it once."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

READY_MARKER = ".placedock-ready"


def cache_dir() -> Path:
    """``$TESTS_CACHE_DIR``, else ``~/.cache/placedock``."""
    configured = os.environ.get("TESTS_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "placedock"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``path`` (made if missing) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(name: str, requirements: Sequence[str], timeout: float = 900) -> Path:
    """The virtualenv ``cache_dir()/name`` holding ``requirements`` (a server or client whose
    pins differ from placement's), installed if missing or made for other requirements."""
    venv = cache_dir() / name
    wanted = "\n".join(requirements) + "\n"
    marker = venv / READY_MARKER
    with locked(cache_dir() / f"{name}.lock"):
        if marker.exists() and marker.read_text() == wanted:
            return venv
        if venv.exists():
            shutil.rmtree(venv)  # a half-made venv, or one for other versions: ours to replace
        log = cache_dir() / f"{name}-install.log"
        with open(log, "wb") as output:
            for command in (
                [sys.executable, "-m", "venv", str(venv)],
                [str(venv / "bin" / "pip"), "install", "--quiet", *requirements],
            ):
                result = subprocess.run(
                    command, stdout=output, stderr=subprocess.STDOUT, timeout=timeout, check=False
                )
                if result.returncode != 0:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"installing {name} failed ({result.returncode}):\n{tail}")
        marker.write_text(wanted)
    return venv
