"""WSGI middleware placedock puts around placement: the /placement prefix, health, safe 500s."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from placedock import errors

PREFIX = "/placement"
READY_PATH = "/health/ready"
RETRY_AFTER_S = 2  # the database came back within a second of being restored in the tests
LOG = logging.getLogger("placedock")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


class ServePrefix:
    """Serve the API under /placement as well as /, as devstack's Apache balancer expects; a
    request with no path at all gets a 400.

    The prefix moves to SCRIPT_NAME, so the links placement writes keep it. No uwsgi routing
    (and so no pcre) is needed.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if "PATH_INFO" not in environ:
            # uwsgi passes a request line without a path ("GET", or no version) on without one;
            # placement's own middleware would fail on it with a KeyError, and the client would
            # get no answer at all.
            return errors.respond(start_response, environ, 400,
                                  "The request line has no path.", errors.MALFORMED_REQUEST)
        path = environ["PATH_INFO"]
        if path == PREFIX or path.startswith(PREFIX + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX
            environ["PATH_INFO"] = path[len(PREFIX):] or "/"
        return self.app(environ, start_response)


class Readiness:
    """GET /health/ready: 200 when the database answers and its schema is at head, else 503.

    Answered before authentication: it reveals only ready or not, and why in general words.
    """

    def __init__(self, app: App, check: Callable[[], str | None]) -> None:
        self.app = app
        self.check = check

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != READY_PATH:
            return self.app(environ, start_response)
        problem = self.check()
        if problem is None:
            return errors.json_response(start_response, 200, {"status": "ready"})
        LOG.warning("not ready: %s", problem)
        return errors.respond(start_response, environ, 503, f"not ready: {problem}",
                              errors.SERVICE_NOT_READY,
                              headers=[("Retry-After", str(RETRY_AFTER_S))])


class Outages(Protocol):
    """What HideServerErrors asks of placedock.database.OutageWatch."""

    def begin_request(self) -> None: ...

    @property
    def unreachable(self) -> bool: ...


class HideServerErrors:
    """Replace the body of every 500 with a generic one carrying the request id; a 500 caused by
    an unreachable database becomes a 503 with Retry-After, and one that was a concurrent update
    placement failed to catch, the 409 placement gives it elsewhere (errors.concurrent_update).

    placement's fault wrapper puts the exception text in the body; from the database layer that
    text is the SQL statement with its parameters. The original goes to the log instead.
    """

    def __init__(self, app: App, outages: Outages) -> None:
        self.app = app
        self.outages = outages

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        captured: dict[str, Any] = {}
        self.outages.begin_request()

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            if not status.startswith("500"):
                return start_response(status, headers, exc_info)
            return lambda data: None  # the legacy write() of a 500 is dropped with its body

        body = self.app(environ, capture)
        if not captured.get("status", "").startswith("500"):
            return body
        try:
            original = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        headers = captured["headers"]
        request_id = next(
            (value for name, value in headers if name.lower() == "x-openstack-request-id"), ""
        )
        kept = [(name, value) for name, value in headers
                if name.lower() in {"x-openstack-request-id", "openstack-api-version", "vary"}]
        if self.outages.unreachable:
            LOG.warning("503 for %s %s (request %s): the database is unreachable",
                        environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), request_id)
            return errors.respond(start_response, environ, 503,
                                  "The database is unreachable; retry shortly.",
                                  errors.DATABASE_UNAVAILABLE, request_id,
                                  [*kept, ("Retry-After", str(RETRY_AFTER_S))])
        error = errors.first_error(original)
        if errors.concurrent_update(error):
            LOG.warning("409 for %s %s (request %s): placement answered a concurrent update "
                        "with a 500", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        request_id)
            return errors.respond(start_response, environ, 409,
                                  "Another request updated the resource provider at the same "
                                  "time; read its generation again and retry.",
                                  errors.CONCURRENT_UPDATE, request_id, kept)
        LOG.error("500 for %s %s (request %s): %s", environ.get("REQUEST_METHOD"),
                  environ.get("PATH_INFO"), request_id, original.decode("utf-8", "replace"))
        return errors.respond(start_response, environ, 500,
                              "The server failed to handle the request; the log holds the "
                              f"details under request id {request_id or '(none)'}.",
                              errors.code_of(error), request_id, kept)


class Recorder(Protocol):
    """What Observe tells: placedock.metrics.RequestMetrics, placedock.logs.RequestLines."""

    def started(self) -> None: ...

    def finished(self, method: str, route: str, status: str, seconds: float,
                 request_id: str) -> None: ...


class Observe:
    """Time each request, to its last byte, and tell the recorders its method, route template,
    status and request id. Outermost, so that it sees the path as the client sent it."""

    def __init__(self, app: App, route_name: Callable[[str], str],
                 recorders: Sequence[Recorder]) -> None:
        self.app = app
        self.route_name = route_name
        self.recorders = recorders

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")
        route = self.route_name(environ.get("PATH_INFO", ""))
        response: list[Any] = ["500", []]  # what an exception before start_response means

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            response[:] = status[:3], headers
            return start_response(status, headers, exc_info)

        def finish() -> None:
            request_id = next((value for name, value in response[1]
                               if name.lower() == "x-openstack-request-id"), "")
            seconds = time.perf_counter() - started
            for recorder in self.recorders:
                recorder.finished(method, route, response[0], seconds, request_id)

        for recorder in self.recorders:
            recorder.started()
        try:
            body = self.app(environ, capture)
        except BaseException:
            finish()
            raise
        if isinstance(body, list):  # placement's bodies are: complete already
            finish()
            return body
        return _Closing(body, finish)


class _Closing:
    """A streamed body that calls ``finish`` once the server has sent it (WSGI close())."""

    def __init__(self, body: Iterable[bytes], finish: Callable[[], None]) -> None:
        self.body = body
        self.finish = finish

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.finish()


def wrap(app: App, readiness: Callable[[], str | None], outages: Outages,
         route_name: Callable[[str], str], recorders: Sequence[Recorder] = ()) -> App:
    """Outermost first: observation (when anything records), prefix, then health
    (unauthenticated), then the 500 guard."""
    served = ServePrefix(Readiness(HideServerErrors(app, outages), readiness))
    return Observe(served, route_name, recorders) if recorders else served
