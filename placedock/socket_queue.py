"""How many connections wait in a listening unix socket's queue, asked of the kernel.

The workers listen on a unix socket that only the front connects to (placedock.front), and
uwsgi measures the queue of TCP sockets only: its stats say 0 for this one however many
requests wait, which left the listen-queue metric and its alerts blind once the front came.
Linux tells it through sock_diag (netlink), as ``ss -xl`` shows it: for a listening unix socket,
the connections not yet accepted and the queue's length.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLMSG_ERROR, NLMSG_DONE = 2, 3
UDIAG_SHOW_RQLEN = 0x10
UNIX_DIAG_RQLEN = 4
NO_COOKIE = 0xFFFFFFFF
ACCEPTING = 0x10000  # /proc/net/unix's Flags: __SO_ACCEPTCON, a socket that listens

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_REQUEST = struct.Struct("=BBHIIIII")  # unix_diag_req
_ANSWER = struct.Struct("=BBBBIII")  # unix_diag_msg
_ATTRIBUTE = struct.Struct("=HH")  # nlattr: length, type


def listening_inode(path: str, table: Path = Path("/proc/net/unix")) -> int | None:
    """The inode of the socket listening at ``path`` in this network namespace, if any."""
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # Num RefCount Protocol Flags Type St Inode Path
        if len(fields) == 8 and fields[7] == path and int(fields[3], 16) & ACCEPTING:
            return int(fields[6])
    return None


def waiting(path: str) -> tuple[int, int] | None:
    """(connections waiting to be accepted, the queue's length) of the unix socket listening at
    ``path``; None when there is none, or the kernel will not say (no sock_diag for unix)."""
    inode = listening_inode(path)
    if inode is None:
        return None
    request = _REQUEST.pack(socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, UDIAG_SHOW_RQLEN,
                            NO_COOKIE, NO_COOKIE)
    message = _HEADER.pack(_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1,
                           0) + request
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as netlink:
            netlink.settimeout(2)
            netlink.sendto(message, (0, 0))
            answer = netlink.recv(8192)
    except OSError:
        return None
    return _rqlen(answer, inode)


def _rqlen(answer: bytes, inode: int) -> tuple[int, int] | None:
    """UNIX_DIAG_RQLEN of the answer about ``inode``: for a listening socket, the connections
    waiting and the queue's length (the kernel's sk_ack_backlog, sk_max_ack_backlog)."""
    offset = 0
    while offset + _HEADER.size <= len(answer):
        length, kind, _, _, _ = _HEADER.unpack_from(answer, offset)
        end = offset + length
        if kind in (NLMSG_ERROR, NLMSG_DONE) or length < _HEADER.size or end > len(answer):
            return None
        body = offset + _HEADER.size
        if (kind == SOCK_DIAG_BY_FAMILY and body + _ANSWER.size <= end
                and _ANSWER.unpack_from(answer, body)[4] == inode):
            at = body + _ANSWER.size
            while at + _ATTRIBUTE.size <= end:
                size, attribute = _ATTRIBUTE.unpack_from(answer, at)
                if size < _ATTRIBUTE.size or at + size > end:
                    break
                if attribute == UNIX_DIAG_RQLEN and size >= _ATTRIBUTE.size + 8:
                    queued, limit = struct.unpack_from("=II", answer, at + _ATTRIBUTE.size)
                    return queued, limit
                at += (size + 3) & ~3
        offset += (length + 3) & ~3
    return None

