"""Hostile and careless input, generated (hypothesis), against a live placedock: never a 5xx,
never a dead worker, never a traceback or SQL in a body.

Each example is one raw HTTP request on its own connection: a method (placement's, or any
token), a path from placement's own route table with each parameter replaced by something a
client might send (a uuid, a name, garbage, percent-encoded bytes, very long), a query string
(placement's parameters and others, with values right and wrong), headers (microversions real
and not, content types), and a body (JSON shaped like placement's payloads with values of any
type, any JSON, or bytes). The framing itself is left well-formed; malformed framing has cases of
its own below.
"""

from __future__ import annotations

import collections
import json
import socket
import string
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from placement import handler

from tests.support.containers import QUICK_START_OPTIONS, Containers, wait_http
from tests.support.containers import logs as container_logs
from tests.support.docker_engine import docker
from tests.support.network import free_port
from tests.support.server import QUICK_START, Server

EXAMPLES = 2_000
LEAKS = ("Traceback", "SELECT ", "INSERT INTO", "UPDATE ", "sqlalchemy", "sqlite3.",
         "psycopg2", "pymysql", 'File "/')
ROUTES = sorted(handler.ROUTE_DECLARATIONS)
PARAMETERS = ("resources", "required", "member_of", "in_tree", "limit", "group_policy",
              "root_required", "same_subtree", "name", "uuid", "consumer_type", "project_id",
              "user_id", "resources1", "required1", "member_of1", "in_tree1", "associated",
              "name_in", "sort", "marker")
# Characters a path segment or a query value may carry after percent-encoding.
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@dataclass
class Target:
    """A live placedock: its port, its uwsgi workers' PIDs now, its log so far."""

    port: int
    worker_pids: Callable[[], list[int]]
    log: Callable[[], str]
    first_workers: list[int] = field(default_factory=list)


@pytest.fixture(scope="module", params=["native", "container"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """startup.sh natively, then the image (the README's quick start `docker run`)."""
    if request.param == "native":
        workdir: Path = tmp_path_factory.mktemp("hostile")
        running = Server(workdir, free_port(), {**QUICK_START,
                                                "PLACEDOCK_DATA_DIR": str(workdir / "data")})
        running.start().wait_ready()
        try:
            yield started(Target(running.port, running.worker_pids, running.log))
        finally:
            running.stop()
        return
    image: str = request.getfixturevalue("image")
    containers = Containers()
    port = free_port()
    try:
        container = containers.run("-p", f"127.0.0.1:{port}:80", *QUICK_START_OPTIONS, image)
        wait_http(f"http://127.0.0.1:{port}/health/ready", container=container)
        yield started(Target(port, lambda: container_workers(container),
                             lambda: container_logs(container)))
    finally:
        containers.remove_all()


def started(target: Target) -> Target:
    target.first_workers = target.worker_pids()
    return target


def container_workers(container: str) -> list[int]:
    """The uwsgi workers, as the container's own master lists them."""
    result = docker("exec", container, "python3", "-c",
                    "import json, os; from placedock import health; "
                    "print(json.dumps([w['pid'] for w in health.uwsgi_stats(os.environ)"
                    "['workers']]))")
    assert result.returncode == 0, result.stderr
    return [int(pid) for pid in json.loads(result.stdout)]


def segments() -> st.SearchStrategy[str]:
    return st.one_of(
        st.uuids().map(str),
        st.sampled_from(["VCPU", "MEMORY_MB", "CUSTOM_X", "HW_CPU_X86_AVX2", "", "..", ".",
                         "null", "0", "-1", "9" * 40, "%00", "%ff%fe", "a" * 300]),
        ANY_TEXT.map(lambda text: urllib.parse.quote(text, safe="")),
    )


@st.composite
def routes(draw: st.DrawFn) -> tuple[str, str]:
    """(method, path): mostly a method the route has, its parameters filled with anything."""
    template = draw(st.sampled_from(ROUTES))
    method = draw(st.one_of(
        st.sampled_from(sorted(handler.ROUTE_DECLARATIONS[template])),
        st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
        st.text(string.ascii_uppercase + "!#$%&'*+-.^_`|~", min_size=1, max_size=10)))
    path = template
    while "{" in path:
        path = path[:path.index("{")] + draw(segments()) + path[path.index("}") + 1:]
    prefix = draw(st.sampled_from(["", "", "", "/placement"]))
    extra = draw(st.sampled_from(["", "", "", "", "/", "/x", "//", "/.."]))
    return method, prefix + (path or "/") + extra


def values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["VCPU:1", "VCPU:1,MEMORY_MB:512", "VCPU:-1", "VCPU:0", "VCPU:1:2",
                         "VCPU", ":1", "HW_CPU_X86_AVX2", "!HW_CPU_X86_AVX2", "in:", "none",
                         "isolate", "1", "0", "-1", "99999999999999999999", "1e9", "true", "",
                         ",", "in:!,", "!in:a,b"]),
        st.uuids().map(lambda value: f"in:{value},{value}"),
        ANY_TEXT,
    )


def queries() -> st.SearchStrategy[str]:
    pair = st.tuples(st.one_of(st.sampled_from(PARAMETERS), ANY_TEXT), values())
    return st.lists(pair, max_size=5).map(urllib.parse.urlencode)


def bodies() -> st.SearchStrategy[bytes | None]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=False), ANY_TEXT, st.uuids().map(str))
    anything = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)), max_leaves=12)
    shaped = st.fixed_dictionaries({}, optional={
        "name": anything, "uuid": anything, "parent_provider_uuid": anything,
        "resource_provider_generation": anything, "inventories": anything,
        "allocations": anything, "traits": anything, "aggregates": anything,
        "consumer_generation": anything, "project_id": anything, "user_id": anything,
        "consumer_type": anything, "total": anything, "mappings": anything})
    return st.one_of(st.none(), shaped.map(lambda doc: json.dumps(doc).encode()),
                     anything.map(lambda doc: json.dumps(doc).encode()),
                     st.binary(max_size=200))


def headers() -> st.SearchStrategy[dict[str, str]]:
    version = st.one_of(
        st.integers(0, 60).map(lambda minor: f"placement 1.{minor}"),
        st.sampled_from(["placement latest", "placement 2.0", "placement 1", "placement",
                         "compute 2.1", "placement 1.0.0", "placement -1.5"]),
        st.text(string.printable.strip(), max_size=30))
    content_type = st.sampled_from(["application/json", "text/plain", "application/json; x=",
                                    "", "*/*"])
    return st.fixed_dictionaries(
        {"x-auth-token": st.sampled_from(["admin", "admin", "admin", "user", "admin:project"])},
        optional={"openstack-api-version": version, "content-type": content_type,
                  "accept": st.sampled_from(["application/json", "text/html", "*/*", "x"]),
                  "x-roles": st.sampled_from(["admin,service", "reader", ""])})


def exchange(port: int, raw: bytes, timeout: float = 30) -> bytes:
    """Send ``raw``; everything the server answered until it closed (b"" if nothing; a reset,
    for a request the server would not read to its end, ends the answer too)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        try:
            connection.sendall(raw)
            connection.shutdown(socket.SHUT_WR)
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            raise  # no answer, and no close: a hang
        except OSError:  # reset, broken pipe, not connected: the server closed on us
            pass
    return b"".join(chunks)


STATUSES: collections.Counter[str] = collections.Counter()  # every answer's, for the figures


def check(answer: bytes, sent: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/") else b""
    STATUSES[status.decode() or "closed"] += 1
    assert status[:1] != b"5", f"{status!r} for {sent[:300]!r}: {body[:300]!r}"
    text = body.decode(errors="replace")
    assert not [leak for leak in LEAKS if leak in text], (sent[:300], text[:500])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(route=routes(), query=queries(), sent_headers=headers(), body=bodies())
def test_generated_requests_get_no_5xx_and_leak_nothing(
        server: Target, route: tuple[str, str], query: str, sent_headers: dict[str, str],
        body: bytes | None) -> None:
    method, path = route
    target = path + ("?" + query if query else "")
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in sent_headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
    check(exchange(server.port, raw), raw)


MALFORMED = [
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /resource_providers\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /resource_providers HTTP/1.1\r\nx-auth-token: admin\r\nContent-Length: 10\r\n\r\n{}",
    b"POST /resource_providers HTTP/1.1\r\nx-auth-token: admin\r\n"
    b"Transfer-Encoding: chunked\r\ncontent-type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(2_000)) + b"\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),  # a TLS hello
    bytes(range(256)) * 4,
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_framing_is_refused_or_closed_never_a_5xx(server: Target, raw: bytes) -> None:
    check(exchange(server.port, raw), raw)


def test_after_all_of_it_every_worker_is_the_one_that_started(server: Target) -> None:
    # Module order: this runs after the generated and malformed requests above, per target.
    print(f"hostile input: {sum(STATUSES.values())} requests, answers "
          f"{dict(sorted(STATUSES.items()))}")
    assert sum(STATUSES.values()) >= EXAMPLES
    STATUSES.clear()  # the next target counts afresh
    assert server.worker_pids() == server.first_workers
    assert "500 for" not in server.log()
    assert "Traceback" not in server.log(), server.log()[-3000:]
    assert "respawned" not in server.log(), "a worker died and was replaced"
