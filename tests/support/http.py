"""HTTP as the tests and the benchmark use it: one request, one GET, its status, and waiting
until a URL answers the status wanted. HTTPS URLs are checked against the system's CAs and every
CA a test made and passed to trust() (the Compose stack's, say): never unchecked."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Callable

from tests.support.processes import Process, wait_until

TOKEN = "admin"  # what placement's noauth2 takes as a token (it still wants one)
_TLS = ssl.create_default_context()


def trust(ca_file: str) -> None:
    """Check HTTPS servers against this CA too, from now on (in this test process)."""
    _TLS.load_verify_locations(ca_file)


def tls_context() -> ssl.SSLContext:
    """The context HTTPS requests here are made with (tests/support/load.py's too)."""
    return _TLS


def request(url: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None, token: str | None = TOKEN,
            timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one request; an error status is an
    answer too. A body is sent as JSON. OSError when no answer came."""
    sent = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if token:
        sent.add_header("x-auth-token", token)
    if body is not None:
        sent.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(sent, timeout=timeout, context=_TLS) as response:
            return response.status, _lower(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers.items()), error.read()


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def get(url: str, token: str | None = TOKEN, timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of a GET; an error status is an answer too. OSError when none came."""
    status, _, body = request(url, token=token, timeout=timeout)
    return status, body


def status(url: str, token: str | None = TOKEN, timeout: float = 5) -> int:
    """The status of a GET; 0 when no response came (refused, reset, timed out)."""
    try:
        return get(url, token, timeout)[0]
    except OSError:
        return 0


def wait_for(url: str, wanted: int = 200, timeout: float = 60, token: str | None = TOKEN,
             process: Process | None = None, log: Callable[[], str] | None = None,
             since: float | None = None, interval: float = 0.05) -> float:
    """Seconds from ``since`` (monotonic; default: now) until a GET of ``url`` answers
    ``wanted``. NotReady after ``timeout``, or once ``process`` (the server) has exited, with
    its log tail (or ``log()``: a container's, say) in the message."""
    return wait_until(lambda: status(url, token, timeout=2) == wanted, timeout, interval,
                      what=f"{wanted} from {url}", process=process, since=since, log=log)
