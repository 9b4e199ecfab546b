"""tests/support/cache.py: where the cache is, and a lock another process must wait for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cache import cache_dir, locked

TRY_LOCK = ("import fcntl, sys; f = open(sys.argv[1], 'a'); "
            "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)")


def test_cache_dir_follows_tests_cache_dir(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("TESTS_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("TESTS_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "placedock"


def test_locked_excludes_another_process_until_released(tmp_path: Path) -> None:
    lock = tmp_path / "made" / "by-locked.lock"

    def other_gets_it() -> bool:
        return subprocess.run([sys.executable, "-c", TRY_LOCK, str(lock)], capture_output=True,
                              timeout=30, check=False).returncode == 0

    with locked(lock):
        assert lock.exists()
        assert not other_gets_it()
    assert other_gets_it()
