"""placedock.socket_queue against the real kernel: a listening unix socket's queue as
connections arrive and are accepted, the socket found by its path, and no answer where there
is no such socket or the answer is not one."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from placedock import socket_queue

BACKLOG = 7


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "workers.uwsgi")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen(BACKLOG)
        yield path, server


def test_the_queue_counts_connections_not_yet_accepted(
        listening: tuple[str, socket.socket]) -> None:
    path, server = listening
    assert socket_queue.waiting(path) == (0, BACKLOG)
    clients = [socket.socket(socket.AF_UNIX) for _ in range(3)]
    try:
        for client in clients:
            client.connect(path)
        assert socket_queue.waiting(path) == (3, BACKLOG)
        accepted, _ = server.accept()
        accepted.close()
        assert socket_queue.waiting(path) == (2, BACKLOG)
    finally:
        for client in clients:
            client.close()


def test_the_socket_is_found_by_its_path_only_while_it_listens(
        listening: tuple[str, socket.socket], tmp_path: Path) -> None:
    path, server = listening
    inode = socket_queue.listening_inode(path)
    assert inode is not None and inode > 0
    assert socket_queue.listening_inode(str(tmp_path / "elsewhere")) is None
    assert socket_queue.waiting(str(tmp_path / "elsewhere")) is None
    server.close()
    assert socket_queue.listening_inode(path) is None


def test_an_unreadable_table_is_no_answer(tmp_path: Path) -> None:
    assert socket_queue.listening_inode("/any", tmp_path / "missing") is None


def answer(inode: int, waiting: int, length: int) -> bytes:
    """The kernel's answer about one listening unix socket, as sock_diag writes it."""
    about = struct.pack("=BBBBIII", socket.AF_UNIX, socket.SOCK_STREAM, 10, 0, inode, 0, 0)
    rqlen = struct.pack("=HHII", 12, socket_queue.UNIX_DIAG_RQLEN, waiting, length)
    header = struct.pack("=IHHII", 16 + len(about) + len(rqlen),
                         socket_queue.SOCK_DIAG_BY_FAMILY, 0, 1, 0)
    return header + about + rqlen


def test_an_answer_is_read_for_its_socket_only() -> None:
    assert socket_queue._rqlen(answer(1234, 3, BACKLOG), 1234) == (3, BACKLOG)
    assert socket_queue._rqlen(answer(999, 3, BACKLOG), 1234) is None


def test_an_error_or_a_short_answer_is_no_answer() -> None:
    error = struct.pack("=IHHIIi", 20, socket_queue.NLMSG_ERROR, 0, 1, 0, -2)
    assert socket_queue._rqlen(error, 1234) is None
    whole = answer(1234, 3, BACKLOG)
    for cut in (0, 10, 20, len(whole) - 4):  # no exception, whatever the length
        assert socket_queue._rqlen(whole[:cut], 1234) is None, cut
