"""The Compose stack's MariaDB front (compose/haproxy/haproxy.cfg's `listen mariadb`, verbatim)
when the node it sends connections to dies: a connection HAProxy is still making to that node
must be closed within seconds, so that placedock reconnects (to the next node) instead of
waiting on it.

HAProxy 2.6 (Debian bookworm, the stack's base) closes them after its connect retries. HAProxy
3.0.11 (Debian trixie) leaves them open for as long as the client waits once
`on-marked-down shutdown-sessions` meets them: that is why the stack stays on bookworm
(docs/compose.md). The trixie test proves the bug is still there; when it fails, Debian fixed it:
move STACK_BASE_IMAGE's default to trixie and drop that test.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.docker_engine import DockerEngine, build_image, docker, ensure_base_image
from tests.support.processes import wait_until
from tests.support.server import REPO
from tests.test_compose import COMPOSE_BASE, STACK_IMAGE, build_images

HAPROXY_CONFIG = (REPO / "compose" / "haproxy" / "haproxy.cfg").read_text()
TRIXIE = "debian:trixie-slim"
TRIXIE_HAPROXY = "placedock-haproxy-test:trixie"
CLIENT_WAIT_S = 20  # how long a client waits for a node's greeting
OPEN_EVERY_S = 0.05
# A node: its name as a greeting on 3306, and 200 on its check port (9200), as Galera's do.
NODE = """
import socket, threading
def serve(port, answer):
    listener = socket.create_server(("", port), backlog=512, reuse_port=True)
    while True:
        connection, _ = listener.accept()
        if port == 9200:
            connection.recv(4096)
        connection.sendall(answer)
        threading.Timer(30, connection.close).start()
name = socket.gethostname().encode()
threading.Thread(target=serve, args=(3306, name + b"\\n"), daemon=True).start()
serve(9200, b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
"""


def mariadb_front() -> str:
    """haproxy.cfg without the API's fronts (whose certificates only the stack has)."""
    return HAPROXY_CONFIG[:HAPROXY_CONFIG.index("frontend placement\n")] + \
        HAPROXY_CONFIG[HAPROXY_CONFIG.index("listen mariadb\n"):]


@dataclass
class Attempt:
    opened: float  # seconds from the kill
    outcome: str  # the greeting's node, "closed", or "waiting" (nothing after CLIENT_WAIT_S)
    took: float


def greeting(address: str) -> str:
    try:
        with socket.create_connection((address, 3306), timeout=CLIENT_WAIT_S) as connection:
            said = connection.recv(64).decode().strip()
    except TimeoutError:
        return "waiting"
    except OSError:
        return "closed"
    return said or "closed"


@dataclass
class Cluster:
    """Two nodes (galera-1, galera-2 as a backup) behind one HAProxy, on a network of their own."""
    haproxy_image: str
    folder: Path
    network: str = field(default_factory=lambda: f"placedock-haproxy-{uuid.uuid4().hex[:8]}")

    def name(self, service: str) -> str:
        return f"{self.network}-{service}"

    def start(self) -> str:
        """The HAProxy's address, once it sends connections to galera-1."""
        config = self.folder / "haproxy.cfg"
        config.write_text(mariadb_front())
        assert docker("network", "create", self.network).returncode == 0
        for node in ("galera-1", "galera-2"):
            started = docker("run", "-d", "--name", self.name(node), "--network", self.network,
                             "--network-alias", node, "--hostname", node, "--entrypoint",
                             "python3", STACK_IMAGE, "-c", NODE)
            assert started.returncode == 0, started.stderr
        started = docker("run", "-d", "--name", self.name("haproxy"), "--network", self.network,
                         "-v", f"{config}:/etc/haproxy/haproxy.cfg:ro", self.haproxy_image)
        assert started.returncode == 0, started.stderr
        address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}"
                         "{{end}}", self.name("haproxy")).stdout.strip()
        wait_until(lambda: greeting(address) == "galera-1", 30, interval=0.5,
                   what="HAProxy sending connections to galera-1")
        return address

    def stop(self) -> None:
        for service in ("haproxy", "galera-1", "galera-2"):
            docker("rm", "-f", self.name(service))
        docker("network", "rm", self.network)


def attempts_around_a_kill(cluster: Cluster, address: str) -> list[Attempt]:
    """A new connection every OPEN_EVERY_S, from 3 s before galera-1 is killed to 6 s after."""
    attempts: list[Attempt] = []
    killed = time.monotonic() + 3

    def attempt() -> None:
        began = time.monotonic()
        outcome = greeting(address)
        attempts.append(Attempt(began - killed, outcome, time.monotonic() - began))

    threads = []
    alive = True
    while time.monotonic() < killed + 6:
        if alive and killed <= time.monotonic():
            assert docker("kill", cluster.name("galera-1")).returncode == 0
            alive = False
        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        threads.append(thread)
        time.sleep(OPEN_EVERY_S)
    for thread in threads:
        thread.join(CLIENT_WAIT_S + 5)
    return attempts


def summary(attempts: list[Attempt]) -> str:
    counts = Counter(a.outcome for a in attempts)
    longest = max((a.took for a in attempts if not a.outcome.startswith("galera")), default=0.0)
    return f"{len(attempts)} connections {dict(counts)}; longest without a greeting {longest:.1f} s"


@pytest.fixture
def images(docker_engine: DockerEngine, base_image: str) -> None:
    build_images(base_image)  # the stack's HAProxy, and STACK_IMAGE for the nodes' Python


def run_case(haproxy_image: str, folder: Path, label: str) -> list[Attempt]:
    """galera-1 killed under new connections, with ``haproxy_image`` before the two nodes."""
    cluster = Cluster(haproxy_image, folder)
    try:
        attempts = attempts_around_a_kill(cluster, cluster.start())
        said = docker("logs", cluster.name("haproxy"))
    finally:
        cluster.stop()
    print(f"haproxy ({label}): galera-1 killed: {summary(attempts)}")
    assert "galera-1 is DOWN" in said.stdout + said.stderr, said.stderr[-2000:]
    return attempts


@pytest.mark.usefixtures("images")
def test_the_stacks_haproxy_closes_what_it_was_connecting_to_a_dead_node(tmp_path: Path) -> None:
    attempts = run_case("placedock-haproxy", tmp_path, f"the stack's, {COMPOSE_BASE}")
    after = [a for a in attempts if a.opened >= 0]
    assert any(a.outcome == "galera-2" for a in after), "never sent to galera-2 after the kill"
    assert [a for a in attempts if a.outcome == "waiting"] == []
    assert max(a.took for a in attempts) < 6, summary(attempts)


@pytest.mark.usefixtures("images")
def test_trixies_haproxy_still_leaves_them_waiting(tmp_path: Path) -> None:
    ensure_base_image(TRIXIE)
    build_image(REPO / "compose" / "haproxy", TRIXIE_HAPROXY, {"BASE_IMAGE": TRIXIE})
    attempts = run_case(TRIXIE_HAPROXY, tmp_path, TRIXIE)
    waiting = [a for a in attempts if a.outcome == "waiting"]
    assert waiting, f"trixie's HAProxy no longer hangs them: move to trixie? {summary(attempts)}"
