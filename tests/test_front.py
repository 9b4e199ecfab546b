"""The front (nginx, placedock/front.py) in front of the real server, started by startup.sh: a
body over the limit is refused before it is read, a request past the timeout is cut and its
worker replaced and counted, slow and idle clients hold no worker, keep-alive works, and the
largest legitimate request measured passes the default limit."""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from placedock import defaults, environment, health
from tests.support.error_schema import checked_error
from tests.support.http import TOKEN, request
from tests.support.network import free_port
from tests.support.processes import wait_until
from tests.support.server import QUICK_START, Server

LIMIT = 64 << 10
TIMEOUT_S = 6  # the shortest allowed: longer than the health probe's 5 s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("front")
    running = Server(workdir, free_port(), {
        **QUICK_START, "PLACEDOCK_DATA_DIR": str(workdir / "data"),
        "PLACEDOCK_MAX_BODY_SIZE": str(LIMIT), "PLACEDOCK_REQUEST_TIMEOUT": str(TIMEOUT_S)})
    running.start().wait_ready()
    yield running
    running.stop()


def requests_served(server: Server) -> int:
    stats = health.uwsgi_stats(server.env)
    assert isinstance(stats, dict), stats
    return sum(worker["requests"] for worker in stats["workers"])


def raw(server: Server, data: bytes, timeout: float = 10) -> tuple[bytes, float]:
    """Send ``data`` on one connection; everything the server answers until it closes, and the
    seconds until the answer's first byte."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as client:
        started = time.monotonic()
        client.sendall(data)
        answer = client.recv(65536)
        took = time.monotonic() - started
        try:
            while chunk := client.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # nginx resets a connection whose unread request it refused, after answering
    return answer, took


def test_a_body_over_the_limit_is_413_before_it_is_read(server: Server) -> None:
    before = requests_served(server)
    # Headers announce 100 MiB; no byte of the body is sent: the answer cannot wait for it.
    answer, took = raw(server, b"POST /resource_providers HTTP/1.1\r\nHost: x\r\n"
                               b"x-auth-token: admin\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 104857600\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    print(f"413 for a 100 MiB announced body, none of it sent, in {took:.3f} s")
    assert took < 1
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert checked_error(body, 413)["code"] == "placement.request.too_large"
    assert requests_served(server) == before  # no worker saw it


def test_a_body_at_the_limit_reaches_placement(server: Server) -> None:
    name = "x" * (LIMIT - 100)  # placement refuses a name this long: but it read it (400)
    status, _, body = request(server.url + "/resource_providers", "POST",
                              json.dumps({"name": name}).encode())
    assert status == 400 and b"JSON" in body or b"name" in body, (status, body[:300])


def hold_the_write_lock(database: Path, seconds: float) -> threading.Thread:
    """Another process's transaction on the sqlite file: placement's writes wait for it."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(10)
    return holder


def metric(server: Server, name: str) -> float:
    """One unlabelled metric, as the metrics port serves it now."""
    status, _, body = request(f"http://127.0.0.1:{server.env['PLACEDOCK_METRICS_PORT']}/metrics",
                              token=None)
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no {name}")


def timeouts_counted(server: Server) -> float:
    return metric(server, "placedock_request_timeouts_total")


@pytest.mark.parametrize("trial", range(2))
def test_a_request_past_the_timeout_is_504_and_its_worker_replaced(server: Server,
                                                                   trial: int) -> None:
    counted = timeouts_counted(server)
    workers = set(server.worker_pids())
    holder = hold_the_write_lock(Path(server.env["PLACEDOCK_DATA_DIR"]) / "placement.sqlite",
                                 TIMEOUT_S + 6)
    started = time.monotonic()
    status, headers, body = request(server.url + "/resource_providers", "POST",
                                    json.dumps({"name": f"slow-{uuid.uuid4()}"}).encode(),
                                    timeout=30)
    took = time.monotonic() - started
    print(f"trial {trial}: {status} after {took:.1f} s")
    assert status == 504, body[:300]
    assert checked_error(body, 504)["code"] == "placement.request.timeout"
    assert headers["content-type"] == "application/json"
    assert TIMEOUT_S - 0.5 < took < TIMEOUT_S + 2
    # The worker still waiting on the lock is replaced (uwsgi's harakiri), and counted.
    wait_until(lambda: len(workers - set(server.worker_pids())) == 1, timeout=10,
               interval=0.2, what="the stuck worker replaced")
    wait_until(lambda: timeouts_counted(server) == counted + 1, timeout=10, interval=0.2,
               what="the timeout counted")
    holder.join()
    assert request(server.url + "/resource_providers")[0] == 200


def test_requests_waiting_for_a_worker_are_counted_in_the_listen_queue(server: Server) -> None:
    """Both workers held by a write waiting on a lock, 5 more requests wait for a worker in the
    workers' unix socket's queue, where uwsgi's own stats see none: the metric counts them
    (placedock.socket_queue), then every request is answered once the lock goes."""
    holder = hold_the_write_lock(Path(server.env["PLACEDOCK_DATA_DIR"]) / "placement.sqlite", 3)
    held = 2  # PLACEDOCK_PROCESSES' default: a worker for each of the first two requests
    queued = 5
    answers: list[int] = []

    def write() -> None:
        answers.append(request(server.url + "/resource_providers", "POST",
                               json.dumps({"name": f"queued-{uuid.uuid4()}"}).encode(),
                               timeout=30)[0])

    writers = [threading.Thread(target=write) for _ in range(held + queued)]
    for writer in writers:
        writer.start()
    wait_until(lambda: metric(server, "placedock_uwsgi_listen_queue") == queued, timeout=2.5,
               interval=0.1, what=f"{queued} requests in the listen queue")
    stats = health.uwsgi_stats(server.env)
    assert isinstance(stats, dict) and stats["listen_queue"] == 0  # what uwsgi alone would say
    print(f"{queued} requests waiting behind {held} busy workers: "
          f"placedock_uwsgi_listen_queue {queued}, uwsgi's stats 0")
    holder.join()
    for writer in writers:
        writer.join(30)
    assert answers == [201] * (held + queued)
    assert metric(server, "placedock_uwsgi_listen_queue") == 0


class SlowClient(threading.Thread):
    """A connection that sends ``data`` a byte per ``pause``; it records how it ended."""

    def __init__(self, port: int, data: bytes, pause: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.port, self.data, self.pause, self.seconds = port, data, pause, seconds
        self.ended = ""

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as client:
                for byte in self.data:
                    if time.monotonic() > deadline:
                        self.ended = "still open"
                        return
                    client.sendall(bytes([byte]))
                    time.sleep(self.pause)
                self.ended = "sent all"
        except OSError as error:
            self.ended = f"closed by the server ({type(error).__name__})"


def test_slow_and_idle_clients_hold_no_worker(server: Server) -> None:
    """8 connections sending headers a byte every 0.5 s, 8 sending a body so, and 300 silent
    ones: with 2 workers, every one of a well-behaved client's requests meanwhile is answered
    within 1 s (uwsgi's own http-socket answered none with 2 slow-header connections)."""
    seconds = 6
    header = b"GET /resource_providers HTTP/1.1\r\nHost: x\r\nx-auth-token: admin\r\n"
    body_head = (b"POST /resource_providers HTTP/1.1\r\nHost: x\r\nx-auth-token: admin\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n")
    slow = [SlowClient(server.port, header * 50, 0.5, seconds) for _ in range(8)]
    slow += [SlowClient(server.port, body_head + b"{" * 4000, 0.5, seconds) for _ in range(8)]
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    try:
        for client in slow:
            client.start()
        time.sleep(1)  # the slow ones have begun
        outcomes: Counter[str] = Counter()
        deadline = time.monotonic() + seconds - 2
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status = request(server.url + "/", timeout=1)[0]
                outcomes[str(status) if time.monotonic() - started < 1 else "late"] += 1
            except OSError as error:
                outcomes[type(error).__name__] += 1
            time.sleep(0.05)
    finally:
        for connection in idle:
            connection.close()
    for client in slow:
        client.join()
    print(f"slow and idle clients: probe outcomes {dict(outcomes)}; "
          f"slow clients {Counter(client.ended for client in slow)}")
    assert set(outcomes) == {"200"} and outcomes["200"] >= 20, dict(outcomes)


def test_a_client_slower_than_the_header_timeout_is_cut(server: Server) -> None:
    from placedock import front

    client = SlowClient(server.port, b"GET / HTTP/1.1\r\n" + b"X-a: b\r\n" * 100, 1.0,
                        front.CLIENT_TIMEOUT_S + 10)
    started = time.monotonic()
    client.run()
    took = time.monotonic() - started
    print(f"slow headers cut after {took:.1f} s: {client.ended}")
    assert client.ended.startswith("closed by the server"), client.ended
    assert took < front.CLIENT_TIMEOUT_S + 3


def test_a_keep_alive_connection_serves_many_requests(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    statuses = []
    for _ in range(20):
        connection.request("GET", "/resource_providers", headers={"x-auth-token": TOKEN})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    local = connection.sock.getsockname()
    connection.close()
    assert statuses == [200] * 20
    assert local  # one socket served all twenty


def largest_legitimate_request() -> tuple[list[tuple[str, str, dict]], dict]:
    """What nova and an operator send at most in one request, as far as this project knows: a
    compute node of 8 NUMA nodes with 4 GPUs each (a nested tree of 41 providers) and 1,000
    consumers each holding disk on the root, CPU and memory on a NUMA node and a vGPU on a GPU,
    all moved in one POST /allocations (microversion 1.28). Returns the setup calls and the
    body."""
    calls: list[tuple[str, str, dict]] = []
    root = str(uuid.uuid4())
    calls.append(("POST", "/resource_providers", {"name": f"node-{root}", "uuid": root}))
    calls.append(("PUT", f"/resource_providers/{root}/inventories", {
        "resource_provider_generation": 0,
        "inventories": {"DISK_GB": {"total": 100_000}}}))
    numas, gpus = [], []
    for numa_index in range(8):
        numa = str(uuid.uuid4())
        numas.append(numa)
        calls.append(("POST", "/resource_providers", {"name": f"numa-{numa}", "uuid": numa,
                                                      "parent_provider_uuid": root}))
        calls.append(("PUT", f"/resource_providers/{numa}/inventories", {
            "resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": 1000}, "MEMORY_MB": {"total": 2_000_000}}}))
        for gpu_index in range(4):
            gpu = str(uuid.uuid4())
            gpus.append(gpu)
            calls.append(("POST", "/resource_providers", {
                "name": f"gpu-{numa_index}-{gpu_index}-{gpu}", "uuid": gpu,
                "parent_provider_uuid": numa}))
            calls.append(("PUT", f"/resource_providers/{gpu}/inventories", {
                "resource_provider_generation": 0, "inventories": {"VGPU": {"total": 100}}}))
    project, user = str(uuid.uuid4()), str(uuid.uuid4())
    body = {str(uuid.uuid4()): {
        "allocations": {root: {"resources": {"DISK_GB": 20}},
                        numas[index % 8]: {"resources": {"VCPU": 4, "MEMORY_MB": 8192}},
                        gpus[index % 32]: {"resources": {"VGPU": 1}}},
        "project_id": project, "user_id": user, "consumer_generation": None,
    } for index in range(1000)}
    return calls, body


def test_the_largest_legitimate_request_fits_the_default_limit_4_times(tmp_path: Path) -> None:
    """Against a server with the default limit: the request is served, and the default is at
    least 4 times its size (the margin docs/performance.md states)."""
    running = Server(tmp_path, free_port(), {**QUICK_START,
                                             "PLACEDOCK_DATA_DIR": str(tmp_path / "data")})
    default = environment.read({**QUICK_START, "PLACEDOCK_DATA_DIR": str(tmp_path)}
                               ).settings.max_body_size
    calls, body = largest_legitimate_request()
    payload = json.dumps(body).encode()
    print(f"largest legitimate request: POST /allocations of 1,000 consumers on a 41-provider "
          f"tree, {len(payload):,} bytes; the default limit {defaults.MAX_BODY_SIZE} = "
          f"{default:,} bytes, {default / len(payload):.1f} times it")
    assert default >= 4 * len(payload)
    try:
        running.start().wait_ready()
        version = {"OpenStack-API-Version": "placement 1.28"}
        for method, path, document in calls:
            status, _, answer = request(running.url + path, method, json.dumps(document).encode(),
                                        headers=version)
            assert status in (200, 201), (path, status, answer[:300])
        status, _, answer = request(running.url + "/allocations", "POST", payload,
                                    headers=version, timeout=120)
        assert status == 204, answer[:500]
    finally:
        running.stop()
