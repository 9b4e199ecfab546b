"""placedock.drain on real loopback sockets: the queue is counted, new SYNs are dropped while the
queued connections are still accepted, and after the drain new connections are refused."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from placedock import drain
from tests.support.network import free_port


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen(16)
        yield sock


def connect(port: int, timeout: float = 0.5) -> socket.socket:
    client = socket.socket()
    client.settimeout(timeout)
    client.connect(("127.0.0.1", port))
    return client


def test_queued_counts_connections_no_one_accepted(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    clients = [connect(port) for _ in range(3)]
    assert drain.queued(listener) == 3
    listener.accept()[0].close()
    assert drain.queued(listener) == 2
    for client in clients:
        client.close()


def test_new_syns_are_dropped_but_the_queue_is_still_served(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    queued = connect(port)
    queued.sendall(b"request")
    drain.refuse_new_syns(listener)
    with pytest.raises(TimeoutError):
        connect(port, timeout=0.3)  # no SYN-ACK: the SYN never reached the listener
    accepted, _ = listener.accept()
    assert accepted.recv(16) == b"request"  # what was queued before is served
    accepted.close()
    queued.close()


def test_drain_ends_with_every_new_connection_refused(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    lines: list[str] = []
    drain.drain(listener, lines)
    assert lines and lines[0].startswith("stopped listening after ")
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    with pytest.raises(OSError) as raised:
        listener.accept()
    assert raised.value.errno == errno.EINVAL  # no longer listening


def test_without_a_socket_filter_the_queue_is_still_served_first(
        listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel refuses the filter (EPERM in containers here), the drain waits for the
    queue to empty before it stops listening: a queued connection is not reset."""
    def refused(_: socket.socket) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(drain, "refuse_new_syns", refused)
    port = listener.getsockname()[1]
    queued = connect(port)
    queued.sendall(b"request")
    accepted: list[bytes] = []

    def worker() -> None:  # what a uwsgi worker does meanwhile: accept and answer
        time.sleep(0.3)
        connection, _ = listener.accept()
        accepted.append(connection.recv(16))
        connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    lines: list[str] = []
    drain.drain(listener, lines)
    thread.join()
    assert accepted == [b"request"]
    assert "no socket filter (Operation not permitted)" in lines[0], lines
    with pytest.raises(ConnectionRefusedError):
        connect(port)


def test_drain_on_an_ipv6_socket() -> None:
    """The filter reads the TCP header, which starts the packet for IPv6 as for IPv4."""
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", free_port()))
        listener.listen(16)
        port = listener.getsockname()[1]
        queued = socket.create_connection(("::1", port), timeout=0.5)
        assert drain.queued(listener) == 1
        drain.refuse_new_syns(listener)
        with pytest.raises(TimeoutError):
            socket.create_connection(("::1", port), timeout=0.3)
        listener.accept()[0].close()
        lines: list[str] = []
        drain.drain(listener, lines)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("::1", port), timeout=0.5)
        queued.close()
