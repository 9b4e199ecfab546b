"""Stop without losing a request: refuse new connections, answer every accepted one, then exit.

uwsgi's own graceful stop keeps the listening socket open until the process exits: connections
that arrive meanwhile wait in the kernel's accept queue and are reset at exit, after the client
has sent its request. A balancer cannot retry those safely; a refused connection it can.

So SIGTERM does not stop uwsgi directly. The ini routes it to uwsgi signal ``SIGNAL`` (the
master's ``unix_signal`` hook calls ``uwsgi_route_signal``), which one worker handles here:
1. a socket filter on the listening socket drops new SYNs, so the accept queue stops growing
   (a client's SYN is retried by its kernel after about a second, and by then it is refused);
   where the kernel refuses the filter, the next steps run without it;
2. the workers go on accepting and answering what is queued until the queue is empty;
3. at that moment ``shutdown()`` takes the socket out of the LISTEN state: every new connection
   is refused;
4. ``q`` on the master FIFO starts uwsgi's graceful stop: requests in flight are answered, the
   workers exit, the master exits.
A worker that dies or is recycled on its own never touches the shared socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import sys
import threading
import time

from placedock import logs

SIGNAL = 15  # uwsgi's signal numbers are its own; this one mirrors SIGTERM for the reader
SO_ATTACH_FILTER = 26
TCP_INFO_UNACKED = 24  # offset of tcpi_unacked: for a listening socket, the accept queue length
SETTLE_S = 0.1  # handshakes already answered with a SYN-ACK complete within this on a LAN
DRAIN_LIMIT_S = 2.0  # never wait longer than this for the queue (workers stuck in requests)
POLL_S = 0.0002  # how often the queue is looked at: a busy loop, for 2 s at most
NO_FORCED_SWITCH_S = 10.0  # longer than the drain can last


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


# Classic BPF over the TCP header: pass anything with ACK set (handshakes under way, data),
# drop a bare SYN (a new connection).
_DROP_NEW_CONNECTIONS = (
    (0x30, 0, 0, 13),  # ldb [13]: the flags byte
    (0x45, 2, 0, 0x10),  # jset ACK -> pass
    (0x45, 0, 1, 0x02),  # jset SYN -> drop, else pass
    (0x06, 0, 0, 0),  # ret 0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret all: pass
)


def refuse_new_syns(listener: socket.socket) -> None:
    program = (_SockFilter * len(_DROP_NEW_CONNECTIONS))(*_DROP_NEW_CONNECTIONS)
    pointer = ctypes.cast(program, ctypes.c_void_p).value or 0
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("HP", len(_DROP_NEW_CONNECTIONS), pointer)  # native alignment pads
    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def queued(listener: socket.socket) -> int:
    """Connections the kernel has accepted that no worker has taken yet."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_UNACKED + 4)
    return int(struct.unpack_from("I", info, TCP_INFO_UNACKED)[0])


def drain(listener: socket.socket, log: list[str]) -> None:
    """Steps 1 to 3 above, for one listening socket (the workers keep accepting meanwhile)."""
    started = time.monotonic()
    try:
        refuse_new_syns(listener)
        time.sleep(SETTLE_S)
        how = "new connections dropped, then"
    except OSError as error:
        # Some sandboxes refuse socket filters on TCP sockets (EPERM in containers here). Then
        # the socket closes the moment its accept queue is empty; a connection still in its
        # handshake then (the SYN queue, which TCP_INFO does not count) is reset: 6 of 15
        # container stops under 6 looping clients reset one (README, "Stopping, upgrading").
        how = f"no socket filter ({error.strerror}), so"
    # Between reading an empty queue and shutdown() no other thread may take the GIL, or the
    # gap grows from microseconds to a switch interval (5 ms): a connection that completed its
    # handshake then would be reset. So threads are not switched by force meanwhile (this
    # thread still lets go of the GIL in sleep()); the interval is restored after.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(NO_FORCED_SWITCH_S)
    try:
        while True:
            left = queued(listener)
            if not left or time.monotonic() - started > DRAIN_LIMIT_S:
                with contextlib.suppress(OSError):  # another worker was first
                    listener.shutdown(socket.SHUT_RDWR)
                break
            time.sleep(POLL_S)
    finally:
        sys.setswitchinterval(switch_interval)
    log.append(f"stopped listening after {time.monotonic() - started:.2f} s: {how} "
               f"{left} connections still queued")


def _stop(fds: list[int], fifo: str) -> None:
    lines: list[str] = []
    try:
        for fd in fds:
            listener = socket.socket(fileno=os.dup(fd))
            try:
                drain(listener, lines)
            finally:
                listener.close()  # the duplicate only: uwsgi's own descriptor stays
    finally:
        for line in lines:
            print(logs.placedock_line(line), flush=True)
        # Whatever happened above, uwsgi's graceful stop must follow.
        with open(fifo, "w") as master:
            master.write("q")


def install() -> None:
    """In the uwsgi master, before the workers fork: one worker will run the stop."""
    import uwsgi  # only inside uwsgi

    fifo = uwsgi.opt["master-fifo"]
    fifo = fifo.decode() if isinstance(fifo, bytes) else fifo

    def on_stop(signum: int) -> None:
        # A thread, so this worker's request threads go on draining the queue meanwhile.
        threading.Thread(target=_stop, args=(list(uwsgi.sockets), fifo), daemon=True).start()

    uwsgi.register_signal(SIGNAL, "worker", on_stop)
