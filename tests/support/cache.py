"""What the tests keep between runs (tools too slow to fetch every time), and a lock so that
parallel sessions fill it once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
