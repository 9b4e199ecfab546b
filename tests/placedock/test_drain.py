"""placedock.drain with real processes: the stop reaches the front's process as SIGQUIT (nginx's
graceful stop), and with no front to stop, uwsgi's master gets its own graceful stop on its
FIFO instead."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from placedock import drain, front

# A stand-in for nginx's master: it says which signal ended it.
RECORDER = ("import signal, sys, time\n"
            "signal.signal(signal.SIGQUIT, lambda *_: (print('SIGQUIT', flush=True), "
            "sys.exit(0)))\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n")


def test_the_stop_is_sigquit_to_the_front(tmp_path: Path) -> None:
    stats = str(tmp_path / "placedock.stats")
    front.folder(stats).mkdir()
    process = subprocess.Popen([sys.executable, "-c", RECORDER], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        front.pid_file(stats).write_text(f"{process.pid}\n")
        message = drain.stop_front(stats)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == "SIGQUIT\n"
    finally:
        process.kill()
        process.wait()
    assert f"nginx, pid {process.pid}" in message


def test_without_a_front_uwsgi_is_asked_to_stop_on_its_fifo(tmp_path: Path) -> None:
    stats = str(tmp_path / "placedock.stats")
    os.mkfifo(f"{stats}.fifo")
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(Path(f"{stats}.fifo").read_text()))
    reader.start()
    message = drain.stop_front(stats)  # no pid file: the front never started, or is gone
    reader.join(timeout=10)
    assert received == ["q"]
    assert message.startswith("no front to stop (")
