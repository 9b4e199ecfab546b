"""A small bounded HTTP load on a loopback URL, recording how each request ended."""

from __future__ import annotations

import collections
import http.client
import threading
import time
import urllib.parse
import uuid
from typing import Self


class Load:
    """``clients`` threads, each sending one request per connection until stopped.

    Outcomes: "200" etc. for a response; "refused" when no connection could be made (the server
    is not listening); "timeout" when no answer came within ``timeout`` seconds; "failed" when a
    connection was made and the request sent but no complete response came back (a reset).
    Every request is also kept in ``events`` as (monotonic end time, outcome, seconds taken); a
    503 without a Retry-After header counts as "503 without Retry-After". Each request carries a unique marker in its query string, so a test can
    tell a failed request the server had started (its log names the marker: it was in flight)
    from one that only sat in the kernel's listen queue when the server closed it.
    """

    def __init__(self, url: str, clients: int = 4, max_seconds: float = 60,
                 headers: dict[str, str] | None = None, timeout: float = 30) -> None:
        self.url = urllib.parse.urlsplit(url)
        self.clients = clients
        self.max_seconds = max_seconds
        self.headers = headers or {"x-auth-token": "admin"}
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.failed_markers: list[str] = []
        self.events: list[tuple[float, str, float]] = []
        self.timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _record(self, outcome: str, detail: str = "", marker: str = "",
                started: float | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            self.outcomes[outcome] += 1
            self.events.append((now, outcome, now - (started or now)))
            if detail:
                self.failures.append(detail)
            if marker:
                self.failed_markers.append(marker)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        path = self.url.path or "/"
        separator = "&" if self.url.query else "?"
        base = f"{path}?{self.url.query}" if self.url.query else path
        while not self._stop.is_set() and time.monotonic() < deadline:
            connection = http.client.HTTPConnection(self.url.hostname, self.url.port,
                                                    timeout=self.timeout)
            started = time.monotonic()
            try:
                connection.connect()
            except ConnectionRefusedError:
                self._record("refused", started=started)
                time.sleep(0.05)
                continue
            except TimeoutError:
                self._record("timeout", "connect: timed out", started=started)
                continue
            except OSError as error:
                self._record("failed", f"connect: {error!r}", started=started)
                continue
            marker = f"load-{uuid.uuid4().hex}"
            try:
                connection.request("GET", f"{base}{separator}name={marker}", headers=self.headers)
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
                if response.status == 503 and not response.getheader("Retry-After"):
                    outcome = "503 without Retry-After"
                self._record(outcome, started=started)
            except TimeoutError:
                self._record("timeout", "no answer in time", marker, started)
            except (OSError, http.client.HTTPException) as error:
                self._record("failed", f"after connect: {error!r}", marker, started)
            finally:
                connection.close()

    def lost_in_flight(self, server_log: str) -> list[str]:
        """Failed requests the server had started handling (it logged them)."""
        return [marker for marker in self.failed_markers if marker in server_log]

    def count(self, outcome: str) -> int:
        with self._lock:
            return self.outcomes[outcome]

    def wait_for(self, outcome: str, at_least: int, timeout: float = 30) -> None:
        started = time.monotonic()
        while self.count(outcome) < at_least:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"only {dict(self.outcomes)} after {timeout} s")
            time.sleep(0.02)
