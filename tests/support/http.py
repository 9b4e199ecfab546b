"""HTTP as the tests and the benchmark use it: one GET, its status, and waiting until a URL
answers the status wanted."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

from tests.support.processes import Process, wait_until

TOKEN = "admin"  # what placement's noauth2 takes as a token (it still wants one)


def get(url: str, token: str | None = TOKEN, timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of a GET; an error status is an answer too. OSError when none came."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("x-auth-token", token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


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
