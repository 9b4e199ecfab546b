"""placedock.health probes against the real thing are in tests/test_startup.py; here, the
answers to what a probe can meet: nothing listening, a stats socket without workers."""

from __future__ import annotations

import json
import socket
import threading
import wsgiref.simple_server
from pathlib import Path

import pytest

from placedock import health, middleware


def serve_once(path: Path, payload: dict) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        connection, _ = server.accept()
        connection.sendall(json.dumps(payload).encode())
        connection.close()
        server.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_stats_socket_default_follows_the_port() -> None:
    assert health.stats_socket_path({"PLACEDOCK_PORT": "8080"}).endswith("placedock-8080.stats")
    assert health.stats_socket_path({"PLACEDOCK_STATS_SOCKET": "/run/s"}) == "/run/s"


def test_live_fails_without_a_master(tmp_path: Path) -> None:
    problem = health.live({"PLACEDOCK_STATS_SOCKET": str(tmp_path / "none")})
    assert problem and "does not answer" in problem


def test_live_fails_without_workers(tmp_path: Path) -> None:
    path = tmp_path / "stats"
    serve_once(path, {"workers": [{"pid": 0, "status": "cheap"}]})
    assert health.live({"PLACEDOCK_STATS_SOCKET": str(path)}) == "uwsgi has no running worker"


def test_live_counts_busy_workers_as_alive(tmp_path: Path) -> None:
    path = tmp_path / "stats"
    serve_once(path, {"workers": [{"pid": 42, "status": "busy"}]})
    assert health.live({"PLACEDOCK_STATS_SOCKET": str(path)}) is None


def test_ready_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    problem = health.ready({"PLACEDOCK_PORT": str(port)})
    assert problem and "no answer" in problem


@pytest.mark.parametrize(("address", "url"), [
    (None, "http://127.0.0.1:80/health/ready"),
    ("0.0.0.0", "http://127.0.0.1:80/health/ready"),
    ("::", "http://[::1]:80/health/ready"),
    ("::1", "http://[::1]:80/health/ready"),
    ("192.0.2.7", "http://192.0.2.7:80/health/ready"),
    ("fd00::7", "http://[fd00::7]:80/health/ready"),
])
def test_readiness_asks_where_the_server_listens(address: str | None, url: str) -> None:
    environ = {} if address is None else {"PLACEDOCK_ADDRESS": address}
    assert health.ready_url(environ) == url


def test_ready_reports_the_readiness_endpoints_reason() -> None:
    # The real middleware behind a real (standard library) HTTP server.
    app = middleware.Readiness(lambda environ, start_response: [],
                               lambda: "database check failed: refused")
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app,
                                               handler_class=QuietHandler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        problem = health.ready({"PLACEDOCK_ADDRESS": "127.0.0.1",
                                "PLACEDOCK_PORT": str(server.server_port)})
    finally:
        thread.join(10)
        server.server_close()
    assert problem == "not ready: database check failed: refused"


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
