"""tests/support/processes.py with real child processes: spawned, waited for, read, stopped."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import (
    NotReady,
    Process,
    ServerProcess,
    clean_environment,
    wait_until,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def gone(pid: int) -> bool:
    """No such process, or only its zombie left."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_spawn_logs_output_and_exit_status(tmp_path: Path) -> None:
    child = Process(tmp_path / "child.log").spawn(
        python("import sys; print('out', flush=True); print('err', file=sys.stderr); "
               "sys.exit(3)"), clean_environment())
    assert child.wait(timeout=30) == 3
    assert not child.running and child.returncode == 3
    assert child.log().splitlines() == ["out", "err"]
    assert child.log_tail(1) == "err"
    assert os.getsid(os.getpid()) != child.pid  # a session of its own: its group is its PID


def test_wait_until_ready_fails_with_the_log_when_the_process_exits(tmp_path: Path) -> None:
    child = Process(tmp_path / "child.log", kind="failing").spawn(
        python("import sys; print('cannot start: reason given'); sys.exit(4)"), None)
    started = time.monotonic()
    with pytest.raises(NotReady, match=r"failing exited with 4(.|\n)*cannot start: reason given"):
        child.wait_until_ready(lambda: False, timeout=60)
    assert time.monotonic() - started < 30, "did not notice the exit"


def test_wait_until_ready_times_out_and_stops_the_process(tmp_path: Path) -> None:
    child = Process(tmp_path / "child.log", kind="slow").spawn(
        python("import time; print('still starting', flush=True); time.sleep(60)"), None)
    with pytest.raises(NotReady, match=r"timed out after 0.5 s waiting for slow to be ready"
                                       r"(.|\n)*still starting"):
        child.wait_until_ready(lambda: False, timeout=0.5)
    assert not child.running and gone(child.pid)


def test_wait_until_ready_returns_once_ready(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    child = Process(tmp_path / "child.log").spawn(
        python(f"import pathlib, time; time.sleep(0.3); pathlib.Path({str(marker)!r}).touch(); "
               "time.sleep(60)"), None)
    try:
        took = child.wait_until_ready(marker.exists, timeout=30)
        assert 0.2 < took < 30
    finally:
        child.stop()
    assert child.returncode == -signal.SIGTERM


def test_stop_kills_the_group_of_a_process_that_ignores_its_signal(tmp_path: Path) -> None:
    """SIGTERM ignored: after the timeout the whole group we made goes (here: a grandchild)."""
    child = Process(tmp_path / "child.log").spawn(python(
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"p = subprocess.Popen([{sys.executable!r}, '-c', 'import time; time.sleep(120)']); "
        "print(p.pid, flush=True); time.sleep(120)"), None)
    wait_until(lambda: child.log().strip() != "", timeout=30)
    grandchild = int(child.log().split()[0])
    started = time.monotonic()
    child.stop(timeout=1)
    assert 1 <= time.monotonic() - started < 15
    assert child.returncode == -signal.SIGKILL
    wait_until(lambda: gone(grandchild), timeout=10, what="the grandchild to be killed")


def test_stop_of_a_process_that_has_exited_or_never_started(tmp_path: Path) -> None:
    never = Process(tmp_path / "never.log")
    never.stop()
    assert not never.running and never.returncode is None and never.log() == ""
    assert never.log_tail() == "(no log)"
    done = Process(tmp_path / "done.log").spawn(python("pass"), None)
    done.wait(timeout=30)
    done.stop()
    assert done.returncode == 0


def test_wait_until_counts_from_since_and_names_what_it_waited_for() -> None:
    since = time.monotonic() - 5
    assert wait_until(lambda: True, since=since) >= 5
    with pytest.raises(NotReady, match=r"waiting for the sky(.|\n)*the log says why"):
        wait_until(lambda: False, timeout=0.2, what="the sky", log=lambda: "the log says why")


def test_clean_environment_passes_nothing_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_API__AUTH_STRATEGY", "keystone")
    env = clean_environment({"EXTRA": "1"}, path="/opt/bin")
    assert env["PATH"] == "/opt/bin" and env["EXTRA"] == "1" and env["LANG"] == "C.UTF-8"
    assert not any(name.startswith("OS_") for name in env)


def test_server_process_has_a_port_and_its_log_in_its_workdir(tmp_path: Path) -> None:
    class Sleeper(ServerProcess):
        kind = "sleeper"

    first, second = Sleeper(tmp_path / "a"), Sleeper(tmp_path / "b")
    assert first.port != second.port
    assert first.log_path == tmp_path / "a" / "sleeper.log"
    first.spawn(python("print('up', flush=True); import time; time.sleep(60)"), None,
                cwd=tmp_path)
    try:
        wait_until(lambda: first.log() == "up\n", timeout=30)
        assert first.running
    finally:
        first.stop()
    assert not first.running


def test_waiting_on_a_process_never_started_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotReady, match="never is not running"):
        Process(tmp_path / "never.log", kind="never").wait_until_ready(lambda: False)
