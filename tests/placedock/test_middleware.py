"""placedock.middleware around a small WSGI app that records what it was given."""

from __future__ import annotations

import json
from typing import Any

from placedock import middleware


def call(app: middleware.App, path: str) -> tuple[str, dict[str, str], bytes, dict[str, Any]]:
    environ: dict[str, Any] = {"PATH_INFO": path, "SCRIPT_NAME": "", "REQUEST_METHOD": "GET"}
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body, environ


class Outages:
    """An OutageWatch stand-in whose answer the test sets; begin_request is counted."""

    def __init__(self, unreachable: bool = False) -> None:
        self.unreachable = unreachable
        self.requests = 0

    def begin_request(self) -> None:
        self.requests += 1


def recording_app(status: str = "200 OK", body: bytes = b"ok") -> middleware.App:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(status, [("x-openstack-request-id", "req-1"), ("Content-Type", "text/plain")])
        return [body]

    return app


def test_prefix_moves_to_script_name() -> None:
    _, _, _, environ = call(middleware.ServePrefix(recording_app()), "/placement/resource_providers")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/placement", "/resource_providers")


def test_bare_prefix_is_the_root() -> None:
    _, _, _, environ = call(middleware.ServePrefix(recording_app()), "/placement")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/placement", "/")


def test_lookalike_path_is_not_the_prefix() -> None:
    _, _, _, environ = call(middleware.ServePrefix(recording_app()), "/placementx/foo")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("", "/placementx/foo")


def test_ready_when_check_passes() -> None:
    status, _, body, _ = call(middleware.Readiness(recording_app(), lambda: None), "/health/ready")
    assert status == "200 OK" and json.loads(body) == {"status": "ready"}


def test_not_ready_says_why() -> None:
    app = middleware.Readiness(recording_app(), lambda: "database check failed: refused")
    status, headers, body, _ = call(app, "/health/ready")
    assert status.startswith("503") and headers["Retry-After"] == str(middleware.RETRY_AFTER_S)
    assert json.loads(body)["reason"] == "database check failed: refused"


def test_other_paths_pass_through_readiness() -> None:
    status, _, body, _ = call(middleware.Readiness(recording_app(), lambda: "down"), "/")
    assert (status, body) == ("200 OK", b"ok")


def test_500_body_is_replaced_and_request_id_kept() -> None:
    sql = b'{"errors": [{"detail": "(pymysql.err.DataError) INSERT INTO resource_providers ..."}]}'
    app = middleware.HideServerErrors(recording_app("500 Internal Server Error", sql), Outages())
    status, headers, body, _ = call(app, "/resource_providers")
    assert status.startswith("500")
    assert b"INSERT" not in body and b"pymysql" not in body
    assert json.loads(body)["errors"][0]["request_id"] == "req-1"
    assert headers["x-openstack-request-id"] == "req-1"


def test_other_errors_pass_untouched() -> None:
    app = middleware.HideServerErrors(recording_app("409 Conflict", b"conflict detail"), Outages())
    status, _, body, _ = call(app, "/resource_providers")
    assert (status, body) == ("409 Conflict", b"conflict detail")


def test_500_from_an_unreachable_database_is_a_503_with_retry_after() -> None:
    outages = Outages(unreachable=True)
    sql = b'{"errors": [{"detail": "(psycopg2.OperationalError) server closed the connection"}]}'
    app = middleware.HideServerErrors(recording_app("500 Internal Server Error", sql), outages)
    status, headers, body, _ = call(app, "/resource_providers")
    assert status == "503 Service Unavailable" and outages.requests == 1
    assert headers["Retry-After"] == str(middleware.RETRY_AFTER_S)
    error = json.loads(body)["errors"][0]
    assert (error["status"], error["request_id"]) == (503, "req-1")
    assert b"psycopg2" not in body

