"""tests/support/http.py against a real HTTP server child (python's http.server, plus a small
handler that echoes the token it was sent)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import http
from tests.support.network import free_port
from tests.support.processes import NotReady, Process, wait_until

ECHO_TOKEN = """\
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.headers.get("x-auth-token") or "(none)").encode()
        self.send_response(200 if self.path == "/token" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[str]:
    """The URL of a token-echoing server, once it answers."""
    script = tmp_path / "echo.py"
    script.write_text(ECHO_TOKEN)
    port = free_port()
    server = Process(tmp_path / "echo.log", kind="echo").spawn(
        [sys.executable, str(script), str(port)], None)
    try:
        http.wait_for(f"http://127.0.0.1:{port}/token", process=server, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_get_sends_the_token_and_returns_error_statuses(echo: str) -> None:
    assert http.get(echo + "/token") == (200, http.TOKEN.encode())
    assert http.get(echo + "/token", token="other") == (200, b"other")
    assert http.get(echo + "/token", token=None) == (200, b"(none)")
    assert http.get(echo + "/missing") == (404, http.TOKEN.encode())
    assert http.status(echo + "/missing") == 404


def test_status_is_0_when_nothing_answers() -> None:
    assert http.status(f"http://127.0.0.1:{free_port()}/") == 0
    with pytest.raises(OSError):
        http.get(f"http://127.0.0.1:{free_port()}/")


def test_wait_for_a_status_other_than_200(echo: str) -> None:
    assert http.wait_for(echo + "/missing", wanted=404, timeout=10) < 10


def test_wait_for_waits_until_the_server_serves(tmp_path: Path) -> None:
    """http.server started half a second late: the wait spans it and counts from ``since``."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "page").write_text("served")
    port = free_port()
    started = time.monotonic()
    server = Process(tmp_path / "server.log", kind="http.server").spawn(
        [sys.executable, "-c", "import runpy, sys, time; time.sleep(0.5); "
         "sys.argv = ['http.server', *sys.argv[1:]]; runpy.run_module('http.server', "
         "run_name='__main__')", str(port), "--bind", "127.0.0.1", "--directory",
         str(tmp_path / "site")], None)
    try:
        took = http.wait_for(f"http://127.0.0.1:{port}/page", process=server, since=started,
                             timeout=30, interval=0.01)
        assert 0.5 <= took < 30
        assert http.get(f"http://127.0.0.1:{port}/page", token=None) == (200, b"served")
        wait_until(lambda: '"GET /page HTTP/1.1" 200' in server.log(), timeout=10)
    finally:
        server.stop()


def test_wait_for_fails_with_the_log_when_the_server_exits(tmp_path: Path, echo: str) -> None:
    """A second http.server on a port already served exits: the wait ends with its log."""
    port = echo.rsplit(":", 1)[1]
    second = Process(tmp_path / "second.log", kind="second http.server").spawn(
        [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1"], None)
    with pytest.raises(NotReady, match=r"second http.server exited with 1(.|\n)*in use"):
        http.wait_for(f"{echo}/never", timeout=60, process=second)


def test_wait_for_times_out_naming_the_url_and_the_log(echo: str) -> None:
    started = time.monotonic()
    with pytest.raises(NotReady, match=r"0.3 s waiting for 200 from .*/missing\nlog line"):
        http.wait_for(echo + "/missing", timeout=0.3, log=lambda: "log line")
    assert time.monotonic() - started < 5
