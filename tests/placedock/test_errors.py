"""placedock.errors: placement's error shape for every error placedock writes itself."""

from __future__ import annotations

import json
from typing import Any

import microversion_parse
import pytest
from placement import exception, microversion

from placedock import errors
from tests.support.error_schema import checked_error


def sent(environ: dict[str, Any], status: int, code: str,
         headers: list[tuple[str, str]] | None = None) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status_line: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status_line, response_headers

    body = b"".join(errors.respond(start_response, environ, status, "what happened", code,
                                   "req-7", headers or []))
    names = [name.lower() for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), seen["headers"]  # no header twice
    return seen["status"], dict(seen["headers"]), body


@pytest.mark.parametrize("code", errors.CODES)
@pytest.mark.parametrize("status", [500, 503])
def test_every_code_makes_a_body_in_placements_shape(status: int, code: str) -> None:
    status_line, headers, body = sent({}, status, code)
    assert status_line.startswith(f"{status} ")
    error = checked_error(body, status)
    assert (error["code"], error["request_id"], error["detail"]) == (code, "req-7",
                                                                     "what happened")
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))


def test_headers_given_are_kept_and_not_doubled() -> None:
    _, headers, _ = sent({}, 503, errors.DATABASE_UNAVAILABLE,
                         [("Retry-After", "2"), ("openstack-api-version", "placement 1.36"),
                          ("Content-Type", "text/html")])
    assert headers["Retry-After"] == "2"
    assert headers["openstack-api-version"] == "placement 1.36"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(("environ", "version"), [
    ({"placement.microversion": microversion_parse.Version(1, 36)}, "1.36"),  # placement's
    ({"HTTP_OPENSTACK_API_VERSION": "placement 1.29"}, "1.29"),  # asked, never parsed
    ({"HTTP_OPENSTACK_API_VERSION": "placement latest"}, microversion.max_version_string()),
    ({"HTTP_OPENSTACK_API_VERSION": "placement 9.99"}, "1.0"),  # none placement has
    ({"HTTP_OPENSTACK_API_VERSION": "placement x"}, "1.0"),
    ({}, "1.0"),
])
def test_an_error_says_the_microversion_it_was_served_at(environ: dict[str, Any],
                                                         version: str) -> None:
    _, headers, _ = sent(environ, 503, errors.DATABASE_UNAVAILABLE)
    assert headers["openstack-api-version"] == f"placement {version}"
    assert headers["Vary"] == "openstack-api-version"


@pytest.mark.parametrize(("payload", "code"), [
    (b'{"errors": [{"code": "placement.concurrent_update"}]}', "placement.concurrent_update"),
    (b'{"errors": [{"detail": "no code below microversion 1.23"}]}', errors.UNDEFINED),
    (b"<html>not JSON</html>", errors.UNDEFINED),
    (b'{"errors": []}', errors.UNDEFINED),
    (b'{"errors": [{"code": 7}]}', errors.UNDEFINED),
])
def test_the_code_of_placements_own_body(payload: bytes, code: str) -> None:
    assert errors.code_of(errors.first_error(payload)) == code


def test_the_schema_refuses_a_body_without_a_code() -> None:
    # The body placedock wrote before: nova's report client raised KeyError on it.
    old = {"errors": [{"status": 500, "title": "Internal Server Error", "detail": "d",
                       "request_id": "req-1"}]}
    with pytest.raises(Exception, match="'code' is a required property"):
        checked_error(json.dumps(old).encode(), 500)


@pytest.mark.parametrize(("payload", "conflict"), [
    # What placement's FaultWrapper writes for the traits handler's escaped exception.
    (json.dumps({"errors": [{"detail": "The server has either erred or is incapable of "
                             "performing the requested operation.\n\n "
                             f"{exception.ResourceProviderConcurrentUpdateDetected.msg_fmt}  "}]}
                ).encode(), True),
    (json.dumps({"errors": [{"detail": exception.ConcurrentUpdateDetected.msg_fmt}]}).encode(),
     True),
    (b'{"errors": [{"detail": "(sqlite3.OperationalError) no such table: traits"}]}', False),
    (b"not JSON", False),
])
def test_a_concurrent_update_is_told_from_other_500s(payload: bytes, conflict: bool) -> None:
    assert errors.concurrent_update(errors.first_error(payload)) is conflict
