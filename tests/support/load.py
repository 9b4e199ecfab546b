"""Bounded HTTP loads on a loopback URL, recording how each request ended.

Every request is classified one way (``send``): its status code ("200", "500", ...) when a
response came back; "refused" when no connection could be made (the server is not listening);
"timeout" when the connection or the response took longer than the client's timeout; "failed"
when a connection was made but no complete response came back (reset, closed early). A 503
without a Retry-After header is "503 without Retry-After": a client cannot know when to retry.
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Self

from tests.support.http import tls_context

REFUSED = "refused"
TIMEOUT = "timeout"
FAILED = "failed"
# A stop under load may reset, unread, a connection the kernel completed in the instant the front
# (nginx) closed its listening socket: at most this many a stop (1 in 1 of 3 CI stops so far;
# uwsgi's own queue left 3-4 a stop before the front).
MAX_UNREAD_RESETS = 2
BALANCER_RESET = "502"  # what Apache answers for such a reset (it has sent the request)
# WriterLoad's pause after a cycle that failed, before the next.
FAILED_CYCLE_PAUSE_S = 0.1


@dataclass
class Reply:
    """How one request ended: ``outcome`` as above; ``status`` and ``body`` for a response."""

    outcome: str
    status: int | None = None
    body: bytes = b""
    detail: str = ""  # for a request with no response: the error

    def first_line(self, limit: int = 300) -> str:
        lines = self.body.decode(errors="replace").strip().splitlines()
        return lines[0][:limit] if lines else ""


def send(url: urllib.parse.SplitResult, method: str, target: str, headers: dict[str, str],
         body: bytes | None = None, timeout: float = 30) -> Reply:
    """One request on its own connection (placedock closes each after its response)."""
    connection = (http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                              context=tls_context())
                  if url.scheme == "https" else
                  http.client.HTTPConnection(url.hostname, url.port, timeout=timeout))
    try:
        try:
            connection.connect()
        except ConnectionRefusedError:
            return Reply(REFUSED)
        except TimeoutError as error:
            return Reply(TIMEOUT, detail=f"connect: {error!r}")
        except OSError as error:
            return Reply(FAILED, detail=f"connect: {error!r}")
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except TimeoutError as error:
            return Reply(TIMEOUT, detail=f"after connect: {error!r}")
        except (OSError, http.client.HTTPException) as error:
            return Reply(FAILED, detail=f"after connect: {error!r}")
        outcome = str(response.status)
        if response.status == 503 and not response.getheader("Retry-After"):
            outcome = "503 without Retry-After"
        return Reply(outcome, response.status, data)
    finally:
        connection.close()


class Load:
    """``clients`` threads, each sending one GET per connection until stopped.

    Each request carries a unique marker in its query string, so a test can tell a failed
    request the server had started (its log names the marker: it was in flight) from one that
    only sat in the kernel's listen queue when the server closed it. Every request is also kept
    in ``events`` as (monotonic end time, outcome, seconds taken), for tests that look at what
    happened in a window (an outage, a restore).
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

    def _record(self, reply: Reply, marker: str, started: float) -> None:
        now = time.monotonic()
        with self._lock:
            self.outcomes[reply.outcome] += 1
            self.events.append((now, reply.outcome, now - started))
            if reply.detail:
                self.failures.append(reply.detail)
            if (reply.status is None and reply.detail.startswith("after connect")) \
                    or reply.outcome == BALANCER_RESET:
                self.failed_markers.append(marker)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        path = self.url.path or "/"
        separator = "&" if self.url.query else "?"
        base = f"{path}?{self.url.query}" if self.url.query else path
        while not self._stop.is_set() and time.monotonic() < deadline:
            marker = f"load-{uuid.uuid4().hex}"
            started = time.monotonic()
            reply = send(self.url, "GET", f"{base}{separator}name={marker}", self.headers,
                         timeout=self.timeout)
            self._record(reply, marker, started)
            if reply.outcome == REFUSED:
                time.sleep(0.05)

    def unread_resets(self) -> list[str]:
        """Connections reset before any answer (ConnectionResetError after connecting)."""
        with self._lock:
            return [failure for failure in self.failures
                    if failure.startswith("after connect") and "ConnectionResetError" in failure]

    def stopped_cleanly(self, server_log: str, stops: int = 1,
                        balanced: bool = False) -> str | None:
        """Why ``stops`` server stops under this load lost something, or None. Every request
        ended in a 2xx or a refused connection, but for at most MAX_UNREAD_RESETS a stop of
        connections reset before the server read them (the kernel completed them in the instant
        the front closed its socket: drain.py); through a balancer (``balanced``, Apache) such a
        reset is its 502, and a refused connection is retried on another member. None of them
        was a request the server had started (``server_log``: every server's)."""
        resets = self.unread_resets()
        lost = self.outcomes[BALANCER_RESET] if balanced else len(resets)
        allowed = {"200", BALANCER_RESET} if balanced else {"200", REFUSED, FAILED}
        if not set(self.outcomes) <= allowed:
            return f"outcomes {dict(self.outcomes)}"
        if not balanced and len(resets) != self.outcomes[FAILED]:
            return f"{self.outcomes[FAILED]} failed, {len(resets)} reset: {self.failures[:5]}"
        if lost > MAX_UNREAD_RESETS * stops:
            return (f"{lost} reset unread in {stops} stops (at most {MAX_UNREAD_RESETS} a stop): "
                    f"{dict(self.outcomes)}, {self.failures[:5]}")
        if self.lost_in_flight(server_log):
            return f"requests the server had started failed: {self.lost_in_flight(server_log)}"
        return None

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


WRITER_HEADERS = {
    "x-auth-token": "admin",
    "OpenStack-API-Version": "placement 1.39",
    "content-type": "application/json",
    "accept": "application/json",
}


class WriterLoad:
    """``clients`` threads, each looping placement's write cycle until ``max_seconds`` have
    passed or ``max_cycles`` cycles (all clients together) have been started:

    1. POST /resource_providers (a new provider), expecting 200;
    2. PUT /resource_providers/{uuid}/inventories (VCPU and MEMORY_MB), expecting 200;
    3. PUT /allocations/{consumer} for a new consumer, expecting 204.

    A step with any other outcome is an error (a status's detail is the body's first line) and
    ends that cycle. ``outcomes`` counts every request by outcome; ``cycles`` the completed ones.
    """

    STEPS = ("provider", "inventory", "allocation")

    def __init__(self, url: str, clients: int = 8, max_seconds: float = 10,
                 max_cycles: int = 1_000_000, timeout: float = 30,
                 headers: dict[str, str] | None = None) -> None:
        self.url = urllib.parse.urlsplit(url.rstrip("/"))
        self.clients = clients
        self.max_seconds = max_seconds
        self.max_cycles = max_cycles
        self.timeout = timeout
        self.headers = headers or WRITER_HEADERS
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.cycles = 0
        self.started_cycles = 0
        self.errors: list[str] = []  # "step: outcome: first line of the body or the error"
        # What placement acknowledged (a 2xx): providers made, and consumers' allocations.
        self.providers: list[str] = []
        self.consumers: list[str] = []
        self.seconds = 0.0
        self._started = 0.0  # monotonic, when start() or run() began
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def start(self) -> Self:
        """Run the clients in the background until stop() (or max_seconds)."""
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Self:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3 * self.timeout + 10)
        self.seconds = time.monotonic() - self._started
        return self

    def run(self) -> Self:
        """Run every client to the end; return self with the counts."""
        self.start()
        for thread in self._threads:
            thread.join(timeout=self.max_seconds + 3 * self.timeout + 10)
        self.seconds = time.monotonic() - self._started
        return self

    def missing(self, url: str | None = None) -> list[str]:
        """Every provider and consumer's allocation placement acknowledged, read back from
        ``url`` (default: the one written to): those not there."""
        target = urllib.parse.urlsplit(url.rstrip("/")) if url else self.url
        prefix = target.path or ""
        reply = send(target, "GET", prefix + "/resource_providers", self.headers, timeout=60)
        assert reply.status == 200, reply
        present = {provider["uuid"] for provider in json.loads(reply.body)["resource_providers"]}
        missing = [f"provider {uuid_}" for uuid_ in self.providers if uuid_ not in present]
        for consumer in self.consumers:
            reply = send(target, "GET", f"{prefix}/allocations/{consumer}", self.headers)
            if reply.status != 200 or not json.loads(reply.body)["allocations"]:
                missing.append(f"allocations of {consumer}")
        return missing

    def summary(self) -> dict[str, int | float]:
        with self._lock:
            counted: dict[str, int | float] = {"cycles": self.cycles}
            counted.update(sorted(self.outcomes.items()))
            counted["errors"] = len(self.errors)
            counted["cycles_per_s"] = round(self.cycles / self.seconds, 1) if self.seconds else 0
        return counted

    def _take_cycle(self) -> bool:
        with self._lock:
            if self.started_cycles >= self.max_cycles:
                return False
            self.started_cycles += 1
            return True

    def _step(self, step: str, method: str, path: str, payload: dict, expected: int) -> Reply:
        target = (self.url.path or "") + path
        reply = send(self.url, method, target, self.headers, json.dumps(payload).encode(),
                     self.timeout)
        with self._lock:
            self.outcomes[reply.outcome] += 1
            if reply.status != expected:
                why = reply.first_line() if reply.status is not None else reply.detail
                self.errors.append(f"{step}: {reply.outcome}: {why}")
        return reply

    def _cycle(self) -> bool:
        name = f"writer-{uuid.uuid4().hex}"
        reply = self._step("provider", "POST", "/resource_providers", {"name": name}, 200)
        if reply.status != 200:
            return False
        provider = json.loads(reply.body)
        with self._lock:
            self.providers.append(provider["uuid"])
        inventories = {
            "resource_provider_generation": provider["generation"],
            "inventories": {"VCPU": {"total": 64}, "MEMORY_MB": {"total": 65536}},
        }
        reply = self._step("inventory", "PUT",
                           f"/resource_providers/{provider['uuid']}/inventories",
                           inventories, 200)
        if reply.status != 200:
            return False
        allocation = {
            "allocations": {provider["uuid"]: {"resources": {"VCPU": 1, "MEMORY_MB": 512}}},
            "consumer_generation": None,
            "project_id": str(uuid.uuid4()),
            "user_id": str(uuid.uuid4()),
            "consumer_type": "INSTANCE",  # required from microversion 1.38
        }
        consumer = str(uuid.uuid4())
        reply = self._step("allocation", "PUT", f"/allocations/{consumer}", allocation, 204)
        if reply.status == 204:
            with self._lock:
                self.consumers.append(consumer)
        return reply.status == 204

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while time.monotonic() < deadline and not self._stop.is_set() and self._take_cycle():
            if self._cycle():
                with self._lock:
                    self.cycles += 1
            else:
                # A refused connection fails in microseconds: without a pause two clients of a
                # stack that is down would take a core from the servers starting again.
                self._stop.wait(FAILED_CYCLE_PAUSE_S)


class SharedProviderWrites:
    """``clients`` threads writing, for ``seconds``, on the same two resource providers: each
    turn one of KINDS, chosen in turn, with the generation it read just before (so clients
    conflict, and placement answers 409 or retries itself). Every request's outcome is counted;
    a status other than 200, 204 or 409 is a failure, and so is no response."""

    KINDS = ("inventories", "traits", "aggregates", "allocations", "reshaper", "delete")
    VCPU, MEMORY_MB = 100_000, 10_000_000
    # The reshaper is for services only (nova-compute): noauth2 takes the roles from X-Roles.
    HEADERS = {**WRITER_HEADERS, "X-Roles": "admin,service"}

    def __init__(self, url: str, clients: int, seconds: float, timeout: float = 60) -> None:
        self.url = urllib.parse.urlsplit(url.rstrip("/"))
        self.clients, self.seconds, self.timeout = clients, seconds, timeout
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.outcomes_by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        self.failures: list[str] = []
        self.slowest = 0.0
        self.acknowledged: dict[str, str] = {}  # consumer -> provider, allocated and kept
        self.providers: list[str] = []
        self._lock = threading.Lock()

    def _call(self, kind: str, method: str, path: str, payload: object | None) -> Reply:
        started = time.monotonic()
        body = None if payload is None else json.dumps(payload).encode()
        reply = send(self.url, method, (self.url.path or "") + path, self.HEADERS, body,
                     self.timeout)
        took = time.monotonic() - started
        with self._lock:
            self.slowest = max(self.slowest, took)
            self.outcomes[reply.outcome] += 1
            ok = reply.status is not None and 200 <= reply.status < 300
            self.outcomes_by_kind[kind]["2xx" if ok else reply.outcome] += 1
            if reply.outcome not in {"200", "204", "409"}:
                self.failures.append(f"{kind} {method} {path}: {reply.outcome} "
                                     f"{reply.first_line() or reply.detail}")
        return reply

    def _generation(self, provider: str) -> int:
        reply = self._call("read", "GET", f"/resource_providers/{provider}", None)
        return int(json.loads(reply.body)["generation"]) if reply.status == 200 else 0

    def _inventories(self) -> dict[str, dict[str, int]]:
        return {"VCPU": {"total": self.VCPU}, "MEMORY_MB": {"total": self.MEMORY_MB}}

    def _allocation(self, provider: str) -> dict[str, object]:
        return {"allocations": {provider: {"resources": {"VCPU": 1, "MEMORY_MB": 64}}},
                "consumer_generation": None, "consumer_type": "INSTANCE",
                "project_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())}

    def _turn(self, kind: str, provider: str) -> None:
        base = f"/resource_providers/{provider}"
        if kind == "allocations":  # POST /allocations: two consumers at once
            consumers = {str(uuid.uuid4()): self._allocation(provider) for _ in range(2)}
            if self._call(kind, "POST", "/allocations", consumers).status == 204:
                with self._lock:
                    self.acknowledged.update(dict.fromkeys(consumers, provider))
            return
        if kind == "delete":
            with self._lock:
                consumer = next(iter(self.acknowledged), None)
                if consumer:
                    del self.acknowledged[consumer]
            if consumer and self._call(kind, "DELETE", f"/allocations/{consumer}",
                                       None).status != 204:
                with self._lock:
                    self.acknowledged[consumer] = provider  # not deleted: still there
            return
        generation = self._generation(provider)
        if kind == "inventories":
            self._call(kind, "PUT", f"{base}/inventories", {
                "resource_provider_generation": generation, "inventories": self._inventories()})
        elif kind == "traits":
            self._call(kind, "PUT", f"{base}/traits", {
                "resource_provider_generation": generation,
                "traits": random.sample(["HW_CPU_X86_AVX2", "HW_CPU_X86_SSE42",
                                         "COMPUTE_VOLUME_EXTEND", "STORAGE_DISK_SSD"], 2)})
        elif kind == "aggregates":
            self._call(kind, "PUT", f"{base}/aggregates", {
                "resource_provider_generation": generation,
                "aggregates": [str(uuid.uuid4())]})
        elif kind == "reshaper":  # the same inventory, and one new consumer's allocation
            consumer = str(uuid.uuid4())
            allocation = self._allocation(provider)
            reply = self._call(kind, "POST", "/reshaper", {
                "inventories": {provider: {"resource_provider_generation": generation,
                                           "inventories": self._inventories()}},
                "allocations": {consumer: allocation}})
            if reply.status == 204:
                with self._lock:
                    self.acknowledged[consumer] = provider

    def _run(self, index: int, deadline: float) -> None:
        turn = index
        while time.monotonic() < deadline:
            self._turn(self.KINDS[turn % len(self.KINDS)], self.providers[turn % 2])
            turn += 1

    def run(self) -> Self:
        for _ in range(2):
            provider = str(uuid.uuid4())
            self._call("setup", "POST", "/resource_providers",
                       {"name": f"shared-{provider}", "uuid": provider})
            self._call("setup", "PUT", f"/resource_providers/{provider}/inventories",
                       {"resource_provider_generation": 0, "inventories": self._inventories()})
            self.providers.append(provider)
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self._run, args=(index, deadline), daemon=True)
                   for index in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.seconds + 2 * self.timeout)
        return self

    def allocations_kept(self) -> int:
        """How many acknowledged allocations placement holds, as they were written."""
        kept = 0
        for consumer, provider in self.acknowledged.items():
            reply = send(self.url, "GET", f"{self.url.path or ''}/allocations/{consumer}",
                         WRITER_HEADERS, timeout=self.timeout)
            held = json.loads(reply.body).get("allocations", {}) if reply.status == 200 else {}
            kept += held.get(provider, {}).get("resources") == {"VCPU": 1, "MEMORY_MB": 64}
        return kept
