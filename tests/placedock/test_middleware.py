"""placedock.middleware around a small WSGI app that records what it was given."""

from __future__ import annotations

import json
from typing import Any

from placedock import errors, middleware
from tests.support.error_schema import checked_error


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
        start_response(status, [("x-openstack-request-id", "req-1"),
                                ("Content-Type", "text/plain")])
        return [body]

    return app


def test_prefix_moves_to_script_name() -> None:
    _, _, _, environ = call(middleware.ServePrefix(recording_app()),
                            "/placement/resource_providers")
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


def test_not_ready_says_why_in_placements_error_shape() -> None:
    app = middleware.Readiness(recording_app(), lambda: "database check failed: refused")
    status, headers, body, _ = call(app, "/health/ready")
    assert status.startswith("503") and headers["Retry-After"] == str(middleware.RETRY_AFTER_S)
    error = checked_error(body, 503)
    assert error["detail"] == "not ready: database check failed: refused"
    assert error["code"] == errors.SERVICE_NOT_READY


def test_other_paths_pass_through_readiness() -> None:
    status, _, body, _ = call(middleware.Readiness(recording_app(), lambda: "down"), "/")
    assert (status, body) == ("200 OK", b"ok")


def test_500_body_is_replaced_and_request_id_kept() -> None:
    sql = b'{"errors": [{"detail": "(pymysql.err.DataError) INSERT INTO resource_providers ..."}]}'
    app = middleware.HideServerErrors(recording_app("500 Internal Server Error", sql), Outages())
    status, headers, body, _ = call(app, "/resource_providers")
    assert status.startswith("500")
    assert b"INSERT" not in body and b"pymysql" not in body
    error = checked_error(body, 500)
    assert (error["request_id"], error["code"]) == ("req-1", errors.UNDEFINED)
    assert headers["x-openstack-request-id"] == "req-1"
    assert headers["Content-Type"] == "application/json"


def test_500_keeps_the_code_placement_gave_it() -> None:
    given = b'{"errors": [{"detail": "SELECT ...", "code": "placement.concurrent_update"}]}'
    app = middleware.HideServerErrors(recording_app("500 Internal Server Error", given), Outages())
    _, _, body, _ = call(app, "/allocations/x")
    assert checked_error(body, 500)["code"] == "placement.concurrent_update"


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
    error = checked_error(body, 503)
    assert (error["request_id"], error["code"]) == ("req-1", errors.DATABASE_UNAVAILABLE)
    assert b"psycopg2" not in body


class Recorded:
    """A recorder keeping what Observe told it."""

    def __init__(self) -> None:
        self.started = 0
        self.finished_requests: list[tuple[str, str, str, float, str]] = []

    def start(self) -> None:
        self.started += 1

    def finished(self, method: str, route: str, status: str, seconds: float,
                 request_id: str) -> None:
        self.finished_requests.append((method, route, status, seconds, request_id))


def observed(app: middleware.App) -> tuple[middleware.App, Recorded]:
    recorded = Recorded()
    recorder = type("R", (), {"started": lambda self: recorded.start(),
                              "finished": lambda self, *a: recorded.finished(*a)})()
    return middleware.Observe(app, lambda path: f"route of {path}", [recorder]), recorded


def test_observe_tells_method_route_status_and_request_id() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["PATH_INFO"] = "/changed/by/an/inner/middleware"
        start_response("404 Not Found", [("x-openstack-request-id", "req-1")])
        return [b"no"]

    app_observed, recorded = observed(app)
    status, _, body, _ = call(app_observed, "/resource_providers/abc")
    assert (status, body) == ("404 Not Found", b"no")
    [(method, route, code, seconds, request_id)] = recorded.finished_requests
    assert (method, route, code, request_id) == (
        "GET", "route of /resource_providers/abc", "404", "req-1")
    assert 0 <= seconds < 5 and recorded.started == 1


def test_observe_times_a_streamed_body_until_it_is_closed() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"a", b"b"])

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [])
        return Body()

    app_observed, recorded = observed(app)
    body = app_observed({"PATH_INFO": "/", "REQUEST_METHOD": "GET"}, lambda *a: None)
    assert list(body) == [b"a", b"b"] and not recorded.finished_requests
    body.close()  # type: ignore[attr-defined]
    assert closed == [True] and [r[2] for r in recorded.finished_requests] == ["200"]


def test_observe_counts_an_exception_as_a_500_and_lets_it_through() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    app_observed, recorded = observed(app)
    try:
        app_observed({"PATH_INFO": "/", "REQUEST_METHOD": "GET"}, lambda *a: None)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the exception was swallowed")
    assert [r[2] for r in recorded.finished_requests] == ["500"]


def test_nothing_is_observed_when_nothing_records() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    wrapped = middleware.wrap(app, lambda: None, Outages(), str, [])
    assert isinstance(wrapped, middleware.ServePrefix)
    assert isinstance(middleware.wrap(app, lambda: None, Outages(), str, [Recorded()]),
                      middleware.Observe)


def test_a_concurrent_update_placement_let_escape_is_its_409() -> None:
    escaped = json.dumps({"errors": [{"detail": "erred.\n\n Another thread concurrently updated "
                                      "the resource provider data. Please retry your update  "}]})
    app = middleware.HideServerErrors(
        recording_app("500 Internal Server Error", escaped.encode()), Outages())
    status, headers, body, _ = call(app, "/resource_providers/x/traits")
    assert status == "409 Conflict"
    error = checked_error(body, 409)
    assert (error["code"], error["request_id"]) == (errors.CONCURRENT_UPDATE, "req-1")


def test_a_request_without_a_path_is_a_400_not_an_exception() -> None:
    seen: dict[str, Any] = {}
    app = middleware.ServePrefix(recording_app())
    body = b"".join(app({"REQUEST_METHOD": "GET"},
                        lambda status, headers: seen.update(status=status)))
    assert seen["status"] == "400 Bad Request"
    assert checked_error(body, 400)["code"] == errors.MALFORMED_REQUEST
