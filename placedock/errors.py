"""The error responses placedock writes itself, in placement's own shape.

placement writes ``{"errors": [{"status", "title", "detail", "request_id", "code"}]}``
(placement.util.json_error_formatter; ``code`` since microversion 1.23). Clients read those
fields: nova's report client reads ``errors[0]["code"]`` after every failed claim, and a body
without it crashed the scheduler (KeyError) where placement's own body would have sent it on to
the next host. So placedock's bodies always carry every field, at any microversion, with
placement's codes where one fits and codes of the same shape where none does.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Sequence
from typing import Any

import microversion_parse
from placement import exception, microversion

# placement's own codes: an unexpected error (placement.errors.DEFAULT); a write that met
# another's (placement.errors.CONCURRENT_UPDATE).
UNDEFINED = "placement.undefined_code"
CONCURRENT_UPDATE = "placement.concurrent_update"
# placedock's: the database could not be reached (503, Retry-After), or is not ready to serve;
# a request that cannot be parsed (400); the front's (placedock.front): a request larger than
# it accepts (413, 414, 431), or slower to answer than it waits (504).
DATABASE_UNAVAILABLE = "placement.database.unavailable"
SERVICE_NOT_READY = "placement.service.not_ready"
MALFORMED_REQUEST = "placement.request.malformed"
REQUEST_TOO_LARGE = "placement.request.too_large"
REQUEST_TIMEOUT = "placement.request.timeout"
# With client certificates (placedock.tls): a client without a valid one (403).
CLIENT_CERTIFICATE = "placement.request.client_certificate"
# Every code placedock writes, for the docs and the tests.
CODES = (UNDEFINED, CONCURRENT_UPDATE, DATABASE_UNAVAILABLE, SERVICE_NOT_READY, MALFORMED_REQUEST,
         REQUEST_TOO_LARGE, REQUEST_TIMEOUT, CLIENT_CERTIFICATE)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def body(status: int, detail: str, code: str, request_id: str = "") -> dict[str, Any]:
    """One error, as placement would write it."""
    return {"errors": [{"status": status, "title": http.HTTPStatus(status).phrase,
                        "detail": detail, "code": code, "request_id": request_id}]}


def json_response(start_response: StartResponse, status: int, document: dict[str, Any],
                  headers: Sequence[tuple[str, str]] = ()) -> list[bytes]:
    """Send ``document`` as JSON with ``status``; a Content-Type or Content-Length in
    ``headers`` gives way to this body's."""
    payload = json.dumps(document).encode()
    start_response(f"{status} {http.HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                    *[(name, value) for name, value in headers
                      if name.lower() not in {"content-type", "content-length"}]])
    return [payload]


def respond(start_response: StartResponse, environ: Environ, status: int, detail: str,
            code: str, request_id: str = "",
            headers: Sequence[tuple[str, str]] = ()) -> list[bytes]:
    """Send the error with the headers placement's responses carry: JSON, and the microversion
    the request was served at (``openstack-api-version``, with ``Vary`` on it), unless
    ``headers`` has them already."""
    given = {name.lower() for name, _ in headers}
    extra = []
    if "openstack-api-version" not in given:
        extra.append(("openstack-api-version", f"placement {served_version(environ)}"))
    if "vary" not in given:
        extra.append(("Vary", "openstack-api-version"))
    return json_response(start_response, status, body(status, detail, code, request_id),
                         [*extra, *headers])


def served_version(environ: Environ) -> str:
    """The microversion placement served the request at; for a request it never parsed, the one
    the client asked for if placement has it, else the minimum (what placement assumes when
    none is asked for)."""
    parsed = environ.get(microversion.MICROVERSION_ENVIRON)
    if parsed is not None:
        return str(parsed)
    try:
        return str(microversion_parse.extract_version(
            microversion_parse.headers_from_wsgi_environ(environ), microversion.SERVICE_TYPE,
            microversion.VERSIONS))
    except (ValueError, TypeError):  # unknown, malformed or out of range: the minimum
        return microversion.min_version_string()


def first_error(payload: bytes) -> dict[str, Any]:
    """The first error of placement's own error body; empty if the body is not one."""
    try:
        error = json.loads(payload)["errors"][0]
    except (ValueError, LookupError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}


def code_of(error: dict[str, Any]) -> str:
    """The code of placement's error (first_error), or placement's code for an unexpected one."""
    code = error.get("code")
    return code if isinstance(code, str) and code else UNDEFINED


def concurrent_update(error: dict[str, Any]) -> bool:
    """Whether placement's 500 (its first_error) was a write that met another's: its
    ConcurrentUpdateDetected, which every handler answers 409 with CONCURRENT_UPDATE, except PUT
    and DELETE of a provider's traits (placement 16.0.0): there the generation is compared when
    read, and the write's own compare-and-swap, losing a race, escapes as a 500. Clients retry
    a 409 with the new generation (nova does); a 500 they report as a failure. The exception's
    message is all that reaches the body (placement's FaultWrapper writes str(exception))."""
    detail = error.get("detail")
    return isinstance(detail, str) and any(
        kind.msg_fmt in detail for kind in (exception.ResourceProviderConcurrentUpdateDetected,
                                            exception.ConcurrentUpdateDetected))
